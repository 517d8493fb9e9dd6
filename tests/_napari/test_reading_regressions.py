"""Issue 17 regressions in the guided read, each with real key and mouse events under Xvfb.

Defects met on the way: "Jump to lesion" refused a lesion not yet measured on the scan;
"Link line to lesion" overwrote another lesion's measurement without asking; site "lymph
node" did not set nodal; lung/bone windows had to be typed per scan; plain wheel zoomed
instead of scrolling slices; Ctrl+Z did nothing. And what the read adds: the bidirectional
tool asks before replacing, its short axis stays perpendicular when dragged, role and state
keys that do not clash with napari's, the help overlay, HU under the cursor, the registered
position from lesion propagation, and the read giving napari its own behaviour back.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from _reading_helpers import (
    UserActions,
    answer_question,
    canvas_position,
    drag_world,
    hover,
    open_reading,
    settle,
    true_long_axis_world,
    wait_loaded,
    week16_unread,
)
from qtpy.QtCore import QPoint, QPointF, Qt
from qtpy.QtGui import QWheelEvent
from qtpy.QtWidgets import QApplication

from napari_recist._napari import bidirectional
from napari_recist._napari.binding import IMAGE, LESIONS, camera, find_session, session_layer
from napari_recist._napari.keys import READING_KEYS, TAKEN_FROM_NAPARI, napari_conflicts
from napari_recist._napari.layers import window_limits
from napari_recist.model import LesionState, Role

pytestmark = pytest.mark.viewer
WEEK16 = 2


def _wheel(canvas, steps: int, ctrl: bool) -> None:
    centre = QPointF(canvas.width() * 0.75, canvas.height() / 2)
    modifiers = (Qt.KeyboardModifier.ControlModifier if ctrl
                 else Qt.KeyboardModifier.NoModifier)
    for _ in range(abs(steps)):
        event = QWheelEvent(centre, QPointF(canvas.mapToGlobal(centre.toPoint())),
                            QPoint(0, 0), QPoint(0, 120 if steps > 0 else -120),
                            Qt.MouseButton.NoButton, modifiers, Qt.ScrollPhase.NoScrollPhase,
                            False)
        QApplication.sendEvent(canvas, event)
        settle(0.02)


# -- lesion table defects -------------------------------------------------------------------
def test_jump_to_a_lesion_not_yet_measured_on_this_scan(make_napari_viewer, tmp_path: Path,
                                                        qtbot):
    from napari_recist._napari.widgets.lesion_table import LesionTableWidget

    viewer = make_napari_viewer(show=True)
    viewer.open(str(week16_unread(tmp_path)), plugin="napari-recist")
    session = find_session(viewer)
    wait_loaded(session, qtbot)
    table = LesionTableWidget(viewer)
    viewer.window.add_dock_widget(table)
    assert table.current_timepoint() == WEEK16 and session.measurement(WEEK16, "L2") is None
    viewer.dims.set_point(0, 0.0)
    row = table.lesion_row("L2") if hasattr(table, "lesion_row") else 1
    rect = table.table.visualRect(table.table.model().index(row, 0))
    qtbot.mouseClick(table.table.viewport(), Qt.MouseButton.LeftButton, pos=rect.center())
    assert table.selected_lesion() == "L2"
    qtbot.mouseClick(table.buttons["Jump to lesion"], Qt.MouseButton.LeftButton)
    # Its last known position: the week-8 lines, same patient coordinates.
    z = true_long_axis_world("L2", WEEK16)[0][0]
    assert viewer.dims.point[0] == pytest.approx(z, abs=0.01)
    centre = np.mean(true_long_axis_world("L2", 1), axis=0)
    np.testing.assert_allclose(viewer.scene.camera.center[-2:], centre[1:], atol=1.6)


def test_link_line_asks_before_replacing_another_lesions_measurement(
        make_napari_viewer, patient_folder: Path, qtbot):
    from napari_recist._napari.widgets.lesion_table import LesionTableWidget

    viewer = make_napari_viewer(show=True)
    viewer.open(str(patient_folder), plugin="napari-recist")
    session = find_session(viewer)
    table = LesionTableWidget(viewer)
    from napari_recist._napari.binding import show_timepoint

    for lesion_id, (x0, x1) in (("L1", (10, 30)), ("L2", (12, 28))):
        show_timepoint(viewer, session, 1)
        layer = session_layer(viewer, session, 1, LESIONS)
        layer.add_lines(np.array([(2, 15, x0), (2, 15, x1)], dtype=float))
        assert table.create_lesion() == lesion_id
        qtbot.mouseClick(table.buttons["Line = long axis"], Qt.MouseButton.LeftButton)
    l1_before = session.measurement(1, "L1").long_axis_mm
    layer = session_layer(viewer, session, 1, LESIONS)
    layer.selected_data = {layer.features["lesion_id"].tolist().index("L2")}
    table.select_lesion("L1")
    asked = answer_question(qtbot, yes=False)
    qtbot.mouseClick(table.buttons["Link line to lesion"], Qt.MouseButton.LeftButton)
    assert asked and "L1 already has a measurement" in asked[0]
    assert session.measurement(1, "L1").long_axis_mm == l1_before  # kept
    assert session.measurement(1, "L2").long_axis_mm == pytest.approx(16 * 0.75)
    layer.selected_data = {layer.features["lesion_id"].tolist().index("L2")}
    asked = answer_question(qtbot, yes=True)
    qtbot.mouseClick(table.buttons["Link line to lesion"], Qt.MouseButton.LeftButton)
    assert asked
    assert session.measurement(1, "L1").long_axis_mm == pytest.approx(16 * 0.75)
    assert "L2" not in session.record.lesions


def test_site_lymph_node_sets_nodal_in_the_lesion_table(make_napari_viewer,
                                                        patient_folder: Path, qtbot):
    from napari_recist._napari.widgets.lesion_table import LesionTableWidget

    viewer = make_napari_viewer(show=True)
    viewer.open(str(patient_folder), plugin="napari-recist")
    session = find_session(viewer)
    table = LesionTableWidget(viewer)
    assert not table.nodal_box.value
    qtbot.keyClicks(table.other_site_box.native, "lymph node")
    assert table.nodal_box.value
    qtbot.mouseClick(table.buttons["New lesion"], Qt.MouseButton.LeftButton)
    assert session.record.lesions["L1"].nodal and session.record.lesions["L1"].site == \
        "lymph node"


# -- the bidirectional tool -------------------------------------------------------------
def test_drawing_over_a_measurement_asks_and_no_keeps_it(make_napari_viewer, tmp_path: Path,
                                                         qtbot):
    viewer, session, dock, canvas = open_reading(make_napari_viewer, tmp_path, qtbot)
    actions = UserActions(qtbot)
    start, end = true_long_axis_world("L1", WEEK16)
    drag_world(actions, viewer, canvas, start, end, "L1")
    first = session.measurement(WEEK16, "L1")
    assert first.long_axis_mm == pytest.approx(14, abs=1)
    # Live length label: the overlay says what was measured.
    assert "L1" in dock.last_message and "mm" in dock.last_message
    shorter = start + (end - start) * 0.25
    # The canvas is narrow (the lesion table docked): 8 px reach a quarter of the line, but a
    # press a quarter along it draws a new line (the reach is at most 15 % of the axis).
    zoom = camera(viewer).zoom
    assert np.linalg.norm((shorter - start)[1:]) * zoom < bidirectional.GRAB_PX
    asked = answer_question(qtbot, yes=False)
    drag_world(actions, viewer, canvas, shorter, end, "L1 again")
    assert asked and "L1 already has a measurement" in asked[0]
    assert session.measurement(WEEK16, "L1") == first
    asked = answer_question(qtbot, yes=True)
    drag_world(actions, viewer, canvas, shorter, end, "L1 again, replace")
    assert asked
    assert session.measurement(WEEK16, "L1").long_axis_mm == pytest.approx(10.5, abs=1)
    # One undo step per drag (Ctrl+Z), and Ctrl+Shift+Z brings it back.
    actions.key(canvas, Qt.Key.Key_Z, "undo", Qt.KeyboardModifier.ControlModifier)
    assert session.measurement(WEEK16, "L1") == first
    actions.key(canvas, Qt.Key.Key_Z, "redo", Qt.KeyboardModifier.ControlModifier
                | Qt.KeyboardModifier.ShiftModifier)
    assert session.measurement(WEEK16, "L1").long_axis_mm == pytest.approx(10.5, abs=1)


def test_short_axis_end_dragged_stays_perpendicular(make_napari_viewer, tmp_path: Path, qtbot):
    viewer, session, dock, canvas = open_reading(make_napari_viewer, tmp_path, qtbot)
    actions = UserActions(qtbot)
    start, end = true_long_axis_world("L2", WEEK16)
    actions.key(canvas, Qt.Key.Key_N, "L2")
    drag_world(actions, viewer, canvas, start, end, "L2")
    measured = session.measurement(WEEK16, "L2")
    short = np.asarray(measured.short_axis.points)
    # Drag the short axis's first end 5 mm further out along it, and a little aside.
    direction = (short[0] - short[1]) / np.linalg.norm(short[0] - short[1])
    grab = np.array([short[0][2], short[0][1], short[0][0]])  # world (z, y, x)
    target = short[0] + 5 * direction + np.array([2.0, -1.0, 0.0])
    drag_world(actions, viewer, canvas, grab, np.array([target[2], target[1], target[0]]),
               "short axis end")
    moved = session.measurement(WEEK16, "L2")
    new_short = np.asarray(moved.short_axis.points)
    long_dir = np.diff(np.asarray(moved.long_axis.points), axis=0)[0]
    assert abs(np.dot(np.diff(new_short, axis=0)[0], long_dir)) < 0.05 * np.linalg.norm(
        long_dir) * np.linalg.norm(np.diff(new_short, axis=0)[0])
    assert moved.short_axis_mm == pytest.approx(measured.short_axis_mm + 5, abs=1.0)
    assert moved.long_axis == measured.long_axis


def test_a_new_lymph_node_is_nodal_and_its_short_axis_counts(make_napari_viewer,
                                                             tmp_path: Path, qtbot):
    viewer, session, dock, canvas = open_reading(make_napari_viewer, tmp_path, qtbot)
    actions = UserActions(qtbot)
    for _ in range(2):
        actions.key(canvas, Qt.Key.Key_N, "to L3, the node")
    assert dock.selected == "L3"
    actions.key(canvas, Qt.Key.Key_Escape, "nothing selected: the drag makes a new lesion")
    assert dock.selected is None
    start, end = true_long_axis_world("L3", WEEK16)
    drag_world(actions, viewer, canvas, start, end, "new lesion over a node")
    new_id = dock.selected
    assert new_id not in ("L1", "L2", "L3", "L4")
    assert session.record.lesions[new_id].role is Role.NEW
    actions.type_text(dock.site_edit, "ly", "site")
    actions.key(dock.site_edit, Qt.Key.Key_Return, "enter")
    lesion = session.record.lesions[new_id]
    assert lesion.site == "lymph node" and lesion.nodal
    measurement = session.measurement(WEEK16, new_id)
    assert measurement.diameter_mm(lesion.nodal, 5.0) == measurement.short_axis_mm
    assert measurement.short_axis_mm == pytest.approx(8, abs=1.6)


# -- keys --------------------------------------------------------------------------------
def test_role_and_state_keys_do_not_clash_with_napari():
    clashes = napari_conflicts()
    assert set(clashes) <= TAKEN_FROM_NAPARI, clashes
    role_state = [key.sequence for key in READING_KEYS
                  if key.action.startswith(("role:", "state:"))]
    assert role_state and not set(role_state) & set(clashes)
    sequences = [key.sequence for key in READING_KEYS]
    assert len(sequences) == len(set(sequences))


def test_role_and_state_keys_edit_the_selected_lesion(make_napari_viewer, tmp_path: Path,
                                                      qtbot):
    viewer, session, dock, canvas = open_reading(make_napari_viewer, tmp_path, qtbot)
    actions = UserActions(qtbot)
    assert dock.selected == "L1"
    shift = Qt.KeyboardModifier.ShiftModifier
    actions.key(canvas, Qt.Key.Key_N, "to non-target", shift)
    assert session.record.lesions["L1"].role is Role.NON_TARGET
    actions.key(canvas, Qt.Key.Key_T, "back to target", shift)
    assert session.record.lesions["L1"].role is Role.TARGET
    for key, state in ((Qt.Key.Key_G, LesionState.ABSENT), (Qt.Key.Key_X,
                       LesionState.NOT_EVALUATED), (Qt.Key.Key_S, LesionState.TOO_SMALL)):
        actions.key(canvas, key, state.value, shift)
        assert session.measurement(WEEK16, "L1").state is state
    # The shapes layer kept its mode: napari did not see the keys.
    assert session_layer(viewer, session, WEEK16, LESIONS).mode == "pan_zoom"


def test_window_presets_on_1_to_5_apply_to_every_scan(make_napari_viewer, tmp_path: Path,
                                                      qtbot):
    viewer, session, dock, canvas = open_reading(make_napari_viewer, tmp_path, qtbot)
    actions = UserActions(qtbot)
    images = [session_layer(viewer, session, view.timepoint, IMAGE)
              for view in session.timepoints]
    for key, name in ((Qt.Key.Key_2, "lung"), (Qt.Key.Key_3, "bone"), (Qt.Key.Key_4, "liver"),
                      (Qt.Key.Key_5, "brain"), (Qt.Key.Key_1, "soft tissue")):
        actions.key(canvas, key, name)
        for layer in images:
            assert tuple(layer.contrast_limits) == pytest.approx(window_limits(name)), name
    assert window_limits("lung") == (-1350.0, 150.0)  # the values the issue typed by hand
    assert session_layer(viewer, session, WEEK16, LESIONS).mode == "pan_zoom"


def test_wheel_scrolls_slices_and_ctrl_wheel_zooms(make_napari_viewer, tmp_path: Path, qtbot):
    viewer, session, dock, canvas = open_reading(make_napari_viewer, tmp_path, qtbot)
    z, zoom = viewer.dims.point[0], viewer.scene.camera.zoom
    _wheel(canvas, 3, ctrl=False)
    assert viewer.dims.point[0] != pytest.approx(z)
    assert abs(viewer.dims.point[0] - z) == pytest.approx(3 * 5.0)  # three 5 mm slices
    assert viewer.scene.camera.zoom == pytest.approx(zoom)
    z = viewer.dims.point[0]
    _wheel(canvas, 2, ctrl=True)
    assert viewer.scene.camera.zoom != pytest.approx(zoom)
    assert viewer.dims.point[0] == pytest.approx(z)
    # Stopping the read gives napari its wheel back: plain wheel zooms again.
    dock.stop()
    zoom = viewer.scene.camera.zoom
    _wheel(canvas, 1, ctrl=False)
    assert viewer.scene.camera.zoom != pytest.approx(zoom)
    assert viewer.dims.point[0] == pytest.approx(z)
    assert not viewer.canvas.grid.enabled
    assert not any("prior lines" in layer.name for layer in viewer.layers)


def test_help_overlay_lists_every_key(make_napari_viewer, tmp_path: Path, qtbot):
    viewer, session, dock, canvas = open_reading(make_napari_viewer, tmp_path, qtbot)
    actions = UserActions(qtbot)
    assert not dock.help_overlay.isVisible()
    actions.key(canvas, Qt.Key.Key_H, "help")
    assert dock.help_overlay.isVisible()
    text = dock.help_overlay.text()
    for key in READING_KEYS:
        assert key.sequence in text and key.help in text
    assert "Ctrl+wheel" in text
    actions.key(canvas, Qt.Key.Key_H, "hide help")
    assert not dock.help_overlay.isVisible()


def test_hu_under_the_cursor(make_napari_viewer, tmp_path: Path, qtbot):
    viewer, session, dock, canvas = open_reading(make_napari_viewer, tmp_path, qtbot)
    canvas.update()
    settle(0.3)
    centre = np.mean(true_long_axis_world("L1", WEEK16), axis=0)
    point = canvas_position(viewer, centre, 1)
    hover(canvas, point)
    settle(0.2)
    layer = session_layer(viewer, session, WEEK16, IMAGE)
    voxel = np.round(layer.world_to_data(viewer.cursor.position)).astype(int)
    expected = float(np.asarray(layer.data)[tuple(voxel)])
    assert dock.hu_text == f"{expected:.0f} HU ({session.view(WEEK16).name})"
    assert dock.hu_text in viewer.canvas.overlays["text"].text
    assert -100 < expected < 100  # the lesion (30 HU), not the lung around it


def test_registered_position_from_lesion_propagation(make_napari_viewer, tmp_path: Path,
                                                     qtbot):
    """With propagation's proposals, N goes to the registered position and aligns the prior."""
    from napari_recist._napari.proposals import (
        FollowUpProposals,
        baseline_signature,
        publish_proposals,
    )
    from napari_recist.imaging.propagation import LesionProposal
    from napari_recist.model import AxisGeometry

    viewer, session, dock, canvas = open_reading(make_napari_viewer, tmp_path, qtbot)
    actions = UserActions(qtbot)
    lesion = session.record.lesions["L2"]
    prior = session.measurement(1, "L2").long_axis
    moved = AxisGeometry(tuple((x + 6.0, y - 3.0, z + 5.0) for x, y, z in prior.points))
    centre = tuple(np.mean(np.asarray(moved.points), axis=0))
    found = FollowUpProposals(WEEK16, None, [LesionProposal(lesion, centre, 0, moved, None,
                                                            0.9, "ok")],
                              None, baseline_signature(session))
    publish_proposals(session, found)
    prior_image = session_layer(viewer, session, 1, IMAGE)
    before = tuple(prior_image.translate)
    actions.key(canvas, Qt.Key.Key_N, "to L2")
    assert dock.selected == "L2" and "registered" in dock.step_label.text()
    assert viewer.dims.point[0] == pytest.approx(centre[2], abs=2.6)
    shift = np.asarray(prior_image.translate) - np.asarray(before)
    np.testing.assert_allclose(shift[1:], (-3.0, 6.0), atol=0.8)  # (y, x) world
    dock.stop()
    assert tuple(prior_image.translate) == pytest.approx(before)


def test_space_held_pans_instead_of_measuring(make_napari_viewer, tmp_path: Path, qtbot):
    viewer, session, dock, canvas = open_reading(make_napari_viewer, tmp_path, qtbot)
    actions = UserActions(qtbot)
    lesions_before = dict(session.record.lesions)
    centre = tuple(viewer.scene.camera.center)
    start, end = true_long_axis_world("L1", WEEK16)
    qtbot.keyPress(canvas, Qt.Key.Key_Space)
    drag_world(actions, viewer, canvas, start, end + np.array([0, 10.0, 10.0]), "pan")
    qtbot.keyRelease(canvas, Qt.Key.Key_Space)
    settle(0.1)
    assert tuple(viewer.scene.camera.center) != pytest.approx(centre)
    assert session.record.lesions == lesions_before
    assert session.measurement(WEEK16, "L1") is None
    assert not viewer.scene.camera.mouse_pan  # the drag measures again


def test_a_lesion_drawn_on_the_baseline_is_a_target(make_napari_viewer, tmp_path: Path, qtbot):
    viewer, session, dock, canvas = open_reading(make_napari_viewer, tmp_path, qtbot)
    actions = UserActions(qtbot)
    assert dock.start(current=0, prior=-1)  # read the baseline alone
    assert not viewer.canvas.grid.enabled
    assert "Baseline" in dock.step_label.text()
    actions.key(canvas, Qt.Key.Key_Escape, "nothing selected")
    start, end = true_long_axis_world("N1", WEEK16)  # somewhere in the liver
    viewer.dims.set_point(0, float(start[0]))
    drag_world(actions, viewer, canvas, start, end, "a lesion", cell=None)
    lesion = session.record.lesions[dock.selected]
    assert lesion.role is Role.TARGET


def test_ctrl_z_undoes_without_the_guided_read(make_napari_viewer, patient_folder: Path, qtbot):
    from napari_recist.model import Role as LesionRole

    viewer = make_napari_viewer(show=True)
    viewer.open(str(patient_folder), plugin="napari-recist")
    session = find_session(viewer)
    canvas = viewer.window._qt_viewer.canvas.native
    session.set_state(0, session.new_lesion(LesionRole.NON_TARGET, "bone"), LesionState.PRESENT)
    assert session.measurement(0, "L1") is not None
    qtbot.keyClick(canvas, Qt.Key.Key_Z, Qt.KeyboardModifier.ControlModifier)
    assert session.measurement(0, "L1") is None
    qtbot.keyClick(canvas, Qt.Key.Key_Z, Qt.KeyboardModifier.ControlModifier
                   | Qt.KeyboardModifier.ShiftModifier)
    assert session.measurement(0, "L1").state is LesionState.PRESENT


def test_lesion_table_follows_the_guided_read(make_napari_viewer, tmp_path: Path, qtbot):
    # The lesion table's editor showed another lesion's role and site while N walked the read.
    from napari_recist._napari.widgets.lesion_table import LesionTableWidget

    viewer, session, dock, canvas = open_reading(make_napari_viewer, tmp_path, qtbot)
    tables = viewer.window._qt_window.findChildren(LesionTableWidget)
    assert tables, "the lesion table docks itself when a patient opens"
    table = tables[0]
    actions = UserActions(qtbot)
    start, end = true_long_axis_world("L1", WEEK16)
    drag_world(actions, viewer, canvas, start, end, "L1")
    actions.key(canvas, Qt.Key.Key_N, "to L2")
    assert dock.selected == "L2"
    assert table.selected_lesion() == "L2"
    lesion = session.record.lesions["L2"]
    assert table.site_value() == lesion.site and table.role_box.value == lesion.role
    # A non-target's state on this scan is what the editor's state box shows.
    session.set_state(WEEK16, "L4", LesionState.PROGRESSION)
    table.select_lesion("L4")
    assert table.state_box.value is LesionState.PROGRESSION
