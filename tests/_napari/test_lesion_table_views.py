"""Issue 17, the docks: the lesion table model, its colours, the forms and the layouts."""

from __future__ import annotations

from pathlib import Path

import pytest
from _viewer_patient import write_patient_with_sr
from qtpy.QtCore import Qt
from qtpy.QtGui import QTextCursor

from napari_recist._napari.binding import find_session, session_layer
from napari_recist._napari.widgets.lesion_model import RESPONSE_ROLE
from napari_recist._napari.widgets.lesion_table import MIN_VISIBLE_ROWS, SETTABLE_STATES
from napari_recist.model import LesionState, Role
from napari_recist.palette import RESPONSE_COLOURS, hex_to_rgba
from napari_recist.vocabulary import Response

pytestmark = pytest.mark.viewer


def _wcag_contrast(first: tuple[float, ...], second: tuple[float, ...]) -> float:
    """WCAG 2.1 contrast ratio, written out here from the definition (not the palette's)."""

    def luminance(rgb: tuple[float, ...]) -> float:
        linear = [c / 12.92 if c <= 0.04045 else ((c + 0.055) / 1.055) ** 2.4 for c in rgb[:3]]
        return 0.2126 * linear[0] + 0.7152 * linear[1] + 0.0722 * linear[2]

    high, low = sorted((luminance(first), luminance(second)), reverse=True)
    return (high + 0.05) / (low + 0.05)


def test_wcag_formula_on_known_pairs():
    assert _wcag_contrast((0, 0, 0), (1, 1, 1)) == pytest.approx(21.0)
    assert _wcag_contrast((1, 1, 1), (1, 1, 1)) == pytest.approx(1.0)
    # #777777 on white: 4.48:1, the classic "just below AA" grey.
    grey = tuple(0x77 / 255 for _ in range(3))
    assert _wcag_contrast(grey, (1, 1, 1)) == pytest.approx(4.48, abs=0.01)


def _open(viewer, tmp_path: Path):
    folder = write_patient_with_sr(tmp_path / "patient")
    viewer.open(str(folder), plugin="napari-recist")
    _, table = viewer.window.add_plugin_dock_widget("napari-recist", "Lesion table")
    return find_session(viewer), table


def test_response_cells_reach_wcag_aa_and_lines_keep_okabe_ito(make_napari_viewer, tmp_path):
    viewer = make_napari_viewer()
    session, table = _open(viewer, tmp_path)
    model = table.model
    # Every response the palette knows, as the table would colour it.
    from napari_recist._napari.widgets.lesion_model import Cell

    for response, hue in RESPONSE_COLOURS.items():
        model._rows = [("L1", (*model._rows[0][1][:4], Cell(f"1 mm {response}", response),
                                *model._rows[0][1][5:]))]
        index = model.index(0, 4)
        background = model.data(index, Qt.ItemDataRole.BackgroundRole).color()
        foreground = model.data(index, Qt.ItemDataRole.ForegroundRole).color()
        assert background.name().upper() == hue.upper()  # the lines' hue
        ratio = _wcag_contrast(foreground.getRgbF(), background.getRgbF())
        assert ratio >= 4.5, f"{response}: {ratio:.2f}:1"
    model.update_from(session)
    # The real cells of the patient: L1 PR at TP1, PD at TP2 (sizes 20, 12, 28 px).
    assert [model.data(model.index(0, c), RESPONSE_ROLE) for c in (4, 5, 6)] == [None, "PR",
                                                                                "PD"]
    layer = session_layer(viewer, session, 2, "lesions")
    assert tuple(layer.edge_color[0]) == pytest.approx(hex_to_rgba(RESPONSE_COLOURS[Response.PD]))


def test_an_edit_updates_cells_not_the_whole_table(make_napari_viewer, qtbot, tmp_path):
    viewer = make_napari_viewer(show=True)
    session, table = _open(viewer, tmp_path)
    model = table.model
    resets, changed, inserted = [], [], []
    model.modelReset.connect(lambda: resets.append(1))
    model.dataChanged.connect(lambda top, bottom, *_: changed.append((top.row(), top.column(),
                                                                     bottom.column())))
    model.rowsInserted.connect(lambda _, first, last: inserted.append((first, last)))
    # Select L1 with the mouse, choose "absent" in the magicgui state box, click Set state.
    rect = table.table.visualRect(model.index(0, 0))
    qtbot.mouseClick(table.table.viewport(), Qt.MouseButton.LeftButton, pos=rect.center())
    assert table.selected_lesion() == "L1"
    table.state_box.value = LesionState.ABSENT
    qtbot.mouseClick(table.buttons["Set state"], Qt.MouseButton.LeftButton)
    assert session.measurement(2, "L1").state is LesionState.ABSENT
    assert not resets
    assert changed and all(row == 0 for row, _, _ in changed)
    assert model.cell_text(0, 6).startswith("absent")
    assert table.selected_lesion() == "L1"  # the selection survived the edit
    # A new lesion is a row inserted, not a reset.
    table.role_box.value = Role.NON_TARGET
    table.site_box.value = "liver"
    qtbot.mouseClick(table.buttons["New lesion"], Qt.MouseButton.LeftButton)
    assert inserted == [(1, 1)] and not resets
    assert model.cell_text(1, 0) == "L2"
    qtbot.mouseClick(table.buttons["Undo"], Qt.MouseButton.LeftButton)
    assert model.rowCount() == 1 and not resets


def test_the_forms_are_magicgui_containers_typed_by_the_enums(make_napari_viewer, tmp_path):
    from magicgui.widgets import Container

    viewer = make_napari_viewer()
    session, table = _open(viewer, tmp_path)
    assert isinstance(table.editor, Container)
    assert list(table.role_box.choices) == list(Role)
    assert list(table.state_box.choices) == list(SETTABLE_STATES)
    assert all(isinstance(choice, LesionState) for choice in table.state_box.choices)
    # Choosing a lymph node ticks nodal (RECIST 1.1: nodes are measured by the short axis).
    table.nodal_box.value = False
    table.site_box.value = "lymph node"
    assert table.nodal_box.value is True
    _, compare = viewer.window.add_plugin_dock_widget("napari-recist", "Compare two scans")
    assert isinstance(compare.form, Container)
    assert list(compare.left_box.choices) == [0, 1, 2]
    assert (compare.left_box.value, compare.right_box.value) == (0, 2)
    assert list(compare.lesion_box.choices) == ["", "L1"]
    _, export = viewer.window.add_plugin_dock_widget("napari-recist", "Export")
    assert isinstance(export.form, Container)
    _, pacs = viewer.window.add_plugin_dock_widget("napari-recist", "PACS")
    assert isinstance(pacs.form, Container)


def _header_lines(browser) -> dict[str, int]:
    """Lines each header cell of the response table takes, as Qt laid it out."""
    document = browser.document()
    cursor = QTextCursor(document)
    found: dict[str, int] = {}
    while not cursor.atEnd():
        table = cursor.currentTable()
        if table is not None:
            for column in range(table.columns()):
                cell = table.cellAt(0, column)
                block = cell.firstCursorPosition().block()
                found[block.text()] = block.layout().lineCount()
            break
        cursor.movePosition(QTextCursor.MoveOperation.NextBlock)
    return found


def test_response_panel_headers_never_break_into_fragments(make_napari_viewer, qtbot,
                                                           tmp_path):
    viewer = make_napari_viewer(show=True)
    _open(viewer, tmp_path)
    dock, panel = viewer.window.add_plugin_dock_widget("napari-recist", "Response panel")
    dock.setFloating(True)
    dock.resize(320, 500)  # much narrower than the table
    qtbot.waitUntil(lambda: panel.browser.viewport().width() < 330, timeout=5000)
    qtbot.wait(50)
    lines = {text.replace("\xa0", " "): count
             for text, count in _header_lines(panel.browser).items()}
    assert {"RECIST", "iRECIST", "imRECIST (sum mm)", "Category"} <= set(lines)
    assert all(count == 1 for count in lines.values()), lines
    assert panel.browser.horizontalScrollBar().maximum() > 0  # it scrolls instead


def test_docking_more_widgets_keeps_the_lesion_table_usable(make_napari_viewer, qtbot,
                                                            tmp_path):
    viewer = make_napari_viewer(show=True)
    viewer.window._qt_window.resize(1400, 900)
    _, table = _open(viewer, tmp_path)
    for name in ("Response panel", "Compare two scans", "Export", "Patient plots"):
        viewer.window.add_plugin_dock_widget("napari-recist", name)
    qtbot.wait(100)
    row = table.table.verticalHeader().defaultSectionSize()
    header = table.table.horizontalHeader().height()
    visible_rows = table.table.viewport().height() // row  # the viewport is below the header
    assert visible_rows >= MIN_VISIBLE_ROWS, (table.table.height(), header, row)
