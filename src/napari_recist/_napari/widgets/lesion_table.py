"""Lesion table dock widget: every lesion, its size at every scan, and the edits on it.

The widget is a thin view: each button calls one `PatientSession` method; the session
re-classifies, autosaves and tells every view to redraw.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np
from napari.utils.notifications import show_info, show_warning
from qtpy.QtCore import Qt
from qtpy.QtWidgets import (
    QAbstractItemView,
    QCheckBox,
    QComboBox,
    QGridLayout,
    QHBoxLayout,
    QLabel,
    QPushButton,
    QTableWidget,
    QTableWidgetItem,
    QVBoxLayout,
)

from napari_recist._napari.binding import (
    LESIONS,
    centre_on_lesion,
    current_timepoint,
    layer_link,
    session_layer,
    show_timepoint,
)
from napari_recist._napari.confirm import ask_to_replace
from napari_recist._napari.layers import drawn_axis_geometry, line_length_mm, unassigned_shapes
from napari_recist._napari.session import WouldReplaceError, nodal_for_site
from napari_recist._napari.widgets.base import SessionDock
from napari_recist._napari.widgets.legend import ResponseLegend
from napari_recist.model import KNOWN_SITES, LesionState, Measurement, Role
from napari_recist.palette import response_colour
from napari_recist.vocabulary import Response

if TYPE_CHECKING:
    import napari

# States a user can set without drawing (a measured size comes from a drawn axis).
SETTABLE_STATES = (
    LesionState.ABSENT,
    LesionState.TOO_SMALL,
    LesionState.PRESENT,
    LesionState.PROGRESSION,
    LesionState.INCREASE,
    LesionState.EQUIVOCAL,
    LesionState.NOT_EVALUATED,
)
FIXED_COLUMNS = ("Lesion", "Role", "Site", "Nodal")


def measurement_text(measurement: Measurement | None) -> str:
    """Return a table cell: ``long x short mm`` when measured, else the state word."""
    if measurement is None:
        return ""
    if measurement.coalesced_into is not None:
        return f"into {measurement.coalesced_into}"
    if measurement.state is not LesionState.MEASURED:
        return measurement.state.value
    sizes = [f"{size:g}" for size in (measurement.long_axis_mm, measurement.short_axis_mm)
             if size is not None]
    return " x ".join(sizes) + " mm"


class LesionTableWidget(SessionDock):
    """Lesions x scans, with role/site/nodal editing and drawn-line measurements.

    Parameters
    ----------
    napari_viewer
        The viewer (given by napari when the widget is docked).
    """

    def __init__(self, napari_viewer: napari.Viewer) -> None:
        super().__init__(napari_viewer)

        self.patient_label = QLabel("Open a patient folder (File > Open Folder...)")
        self.timepoint_combo = QComboBox()
        self.timepoint_combo.setToolTip("Scan to show and to measure on")
        self.timepoint_combo.activated.connect(self._on_timepoint_chosen)

        self.table = QTableWidget(0, len(FIXED_COLUMNS))
        self.table.setSelectionBehavior(QAbstractItemView.SelectRows)
        self.table.setSelectionMode(QAbstractItemView.SingleSelection)
        self.table.setEditTriggers(QAbstractItemView.NoEditTriggers)
        self.table.itemSelectionChanged.connect(self._on_row_selected)
        self.table.cellDoubleClicked.connect(lambda *_: self.jump_to_selected())
        self.table.verticalHeader().setVisible(False)

        self.role_combo = QComboBox()
        self.role_combo.addItems([role.value for role in Role])
        self.site_combo = QComboBox()
        self.site_combo.setEditable(True)
        self.site_combo.addItems(list(KNOWN_SITES))
        self.nodal_check = QCheckBox("nodal")
        # lesion-table.md `nodal`: defaults to true when the site is a lymph node.
        self.site_combo.currentTextChanged.connect(
            lambda site: self.nodal_check.setChecked(True) if nodal_for_site(site, None)
            else None)
        self.state_combo = QComboBox()
        self.state_combo.addItems([state.value for state in SETTABLE_STATES])

        buttons = {
            "New lesion": self.create_lesion,
            "Apply role/site": self.apply_lesion_edits,
            "Line = long axis": lambda: self.add_drawn_line("long"),
            "Line = short axis": lambda: self.add_drawn_line("short"),
            "Link line to lesion": self.link_selected_line,
            "Set state": self.set_state_of_selected,
            "Jump to lesion": self.jump_to_selected,
            "Delete lesion": self.delete_selected,
            "Delete at this scan": self.delete_selected_measurement,
            "Undo": self.undo,
        }
        self.buttons: dict[str, QPushButton] = {}
        for text, slot in buttons.items():
            button = QPushButton(text)
            button.clicked.connect(lambda _=False, slot=slot: slot())
            self.buttons[text] = button

        top = QHBoxLayout()
        top.addWidget(QLabel("Scan:"))
        top.addWidget(self.timepoint_combo, 1)
        editor = QGridLayout()
        editor.addWidget(QLabel("Role"), 0, 0)
        editor.addWidget(self.role_combo, 0, 1)
        editor.addWidget(QLabel("Site"), 0, 2)
        editor.addWidget(self.site_combo, 0, 3)
        editor.addWidget(self.nodal_check, 0, 4)
        editor.addWidget(self.buttons["New lesion"], 1, 0, 1, 2)
        editor.addWidget(self.buttons["Apply role/site"], 1, 2, 1, 3)
        editor.addWidget(self.buttons["Line = long axis"], 2, 0, 1, 2)
        editor.addWidget(self.buttons["Line = short axis"], 2, 2, 1, 2)
        editor.addWidget(self.buttons["Link line to lesion"], 2, 4)
        editor.addWidget(self.state_combo, 3, 0, 1, 2)
        editor.addWidget(self.buttons["Set state"], 3, 2, 1, 3)
        actions = QHBoxLayout()
        for text in ("Jump to lesion", "Delete lesion", "Delete at this scan", "Undo"):
            actions.addWidget(self.buttons[text])

        layout = QVBoxLayout(self)
        layout.addWidget(self.patient_label)
        layout.addLayout(top)
        layout.addWidget(self.table, 1)
        layout.addLayout(editor)
        layout.addLayout(actions)
        layout.addLayout(self._split_merge_row())
        layout.addWidget(ResponseLegend())

        self.viewer.layers.selection.events.active.connect(self._follow_active_layer)
        self.follow_session()

    # -- public actions (one session call each) ---------------------------------------------
    def selected_lesion(self) -> str | None:
        """Return the id of the lesion selected in the table, or None."""
        rows = self.table.selectionModel().selectedRows() if self.table.selectionModel() else []
        if not rows:
            return None
        item = self.table.item(rows[0].row(), 0)
        return item.text() if item is not None else None

    def select_lesion(self, lesion_id: str) -> None:
        """Select a lesion's row."""
        for row in range(self.table.rowCount()):
            item = self.table.item(row, 0)
            if item is not None and item.text() == lesion_id:
                self.table.selectRow(row)
                return

    def current_timepoint(self) -> int | None:
        """Return the scan being measured (the selected or top-most visible time point)."""
        if self.session is None:
            return None
        return current_timepoint(self.viewer, self.session)

    def create_lesion(self) -> str | None:
        """Create a lesion with the role, site and nodal flag of the editor; select it."""
        if self.session is None:
            return None
        lesion_id = self.session.new_lesion(
            Role(self.role_combo.currentText()),
            self.site_combo.currentText(),
            self.nodal_check.isChecked(),
        )
        self.select_lesion(lesion_id)
        return lesion_id

    def apply_lesion_edits(self) -> None:
        """Give the selected lesion the editor's role, site and nodal flag."""
        lesion_id = self._require_lesion()
        if self.session is None or lesion_id is None:
            return
        self._call(
            self.session.set_lesion,
            lesion_id,
            role=Role(self.role_combo.currentText()),
            site=self.site_combo.currentText(),
            nodal=self.nodal_check.isChecked(),
        )
        self.select_lesion(lesion_id)

    def add_drawn_line(self, axis: str) -> bool:
        """Measure the selected lesion with the line drawn on the current scan.

        The line is the selected shape of the scan's lesion layer, or else the last line
        drawn that belongs to no lesion. Its length comes from the layer's physical scale.

        Parameters
        ----------
        axis
            ``"long"`` or ``"short"``.

        Returns
        -------
        bool
            True when the measurement was recorded.
        """
        lesion_id = self._require_lesion()
        found = self._drawn_line()
        if self.session is None or lesion_id is None or found is None:
            return False
        timepoint, layer, index = found
        view = self.session.view(timepoint)
        assert view is not None
        geometry = drawn_axis_geometry(
            layer, index, view.geometry, view.slice_uids, view.frame_of_reference_uid
        )
        length = line_length_mm(layer, index)
        drawn = (np.asarray(layer.data[index]).copy(), layer.shape_type[index])
        # The model redraws the line as the lesion's; the user's copy goes.
        layer.selected_data = {index}
        layer.remove_selected()
        ok = self._call(self.session.set_axis, timepoint, lesion_id, axis, geometry, length)
        if not ok:  # give the line back so nothing drawn is lost
            layer.add([drawn[0]], shape_type=[drawn[1]])
        self.select_lesion(lesion_id)
        return ok

    def link_selected_line(self) -> bool:
        """Give the selected lesion line (at the current scan) to the selected lesion."""
        lesion_id = self._require_lesion()
        timepoint = self.current_timepoint()
        if self.session is None or lesion_id is None or timepoint is None:
            return False
        layer = session_layer(self.viewer, self.session, timepoint, LESIONS)
        selected = sorted(layer.selected_data) if layer is not None else []
        owners = {str(layer.features["lesion_id"].iloc[i]) for i in selected} if selected else set()
        owners.discard("")
        if len(owners) != 1:
            show_warning("Select one lesion's line in the layer, then the lesion to link it to.")
            return False
        owner = owners.pop()
        try:
            self.session.link(timepoint, owner, lesion_id)
            ok = True
        except WouldReplaceError as asked:
            ok = ask_to_replace(self, str(asked)) and self._call(
                self.session.link, timepoint, owner, lesion_id, replace_existing=True)
        except ValueError as error:
            show_warning(str(error))
            ok = False
        self.select_lesion(lesion_id)
        return ok

    def set_state_of_selected(self) -> bool:
        """Record the editor's state (absent, present, ...) for the lesion at this scan."""
        lesion_id = self._require_lesion()
        timepoint = self.current_timepoint()
        if self.session is None or lesion_id is None or timepoint is None:
            return False
        state = LesionState(self.state_combo.currentText())
        ok = self._call(self.session.set_state, timepoint, lesion_id, state)
        self.select_lesion(lesion_id)
        return ok

    def jump_to_selected(self) -> bool:
        """Centre the view on the selected lesion at the current scan."""
        lesion_id = self._require_lesion()
        timepoint = self.current_timepoint()
        if self.session is None or lesion_id is None or timepoint is None:
            return False
        if not centre_on_lesion(self.viewer, self.session, timepoint, lesion_id):
            show_info(f"{lesion_id} has no drawn axis on any scan: no position to go to.")
            return False
        return True

    def delete_selected(self) -> bool:
        """Delete the selected lesion with all its measurements (Undo restores it)."""
        lesion_id = self._require_lesion()
        if self.session is None or lesion_id is None:
            return False
        return self._call(self.session.delete_lesion, lesion_id)

    def delete_selected_measurement(self) -> bool:
        """Delete the selected lesion's measurement at the current scan (Undo restores it)."""
        lesion_id = self._require_lesion()
        timepoint = self.current_timepoint()
        if self.session is None or lesion_id is None or timepoint is None:
            return False
        return self._call(self.session.delete_measurement, timepoint, lesion_id)

    def split_selected(self) -> list[str]:
        """Split the selected lesion at the current scan into one fragment per drawn line.

        Draw each fragment's long axis with the line tool on the scan's lesion layer, select
        the lesion, then Split lesion (RECIST 1.1 section 4.3.4; lesion-table.md `part_of`).
        """
        lesion_id = self._require_lesion()
        timepoint = self.current_timepoint()
        if self.session is None or lesion_id is None or timepoint is None:
            return []
        layer = session_layer(self.viewer, self.session, timepoint, LESIONS)
        view = self.session.view(timepoint)
        lines = (
            [i for i in unassigned_shapes(layer) if layer.shape_type[i] in ("line", "path")]
            if layer is not None
            else []
        )
        if layer is None or view is None or len(lines) < 2:
            show_warning("Draw one line per fragment (at least two) on this scan's lesion "
                         "layer, then Split lesion.")
            return []
        fragments = [
            (
                drawn_axis_geometry(
                    layer, i, view.geometry, view.slice_uids, view.frame_of_reference_uid
                ),
                line_length_mm(layer, i),
            )
            for i in lines
        ]
        drawn = [(np.asarray(layer.data[i]).copy(), layer.shape_type[i]) for i in lines]
        layer.selected_data = set(lines)
        layer.remove_selected()  # the model redraws them as the fragments' lines
        try:
            ids = self.session.split_lesion(timepoint, lesion_id, fragments)
        except ValueError as error:
            layer.add([d[0] for d in drawn], shape_type=[d[1] for d in drawn])
            show_warning(str(error))
            return []
        self.select_lesion(ids[0])
        return ids

    def merge_selected(self) -> bool:
        """At the current scan, coalesce the selected lesion into the one chosen in "into".

        The chosen lesion's row measures the whole mass (RECIST 1.1 section 4.3.4;
        lesion-table.md `coalesced_into`).
        """
        lesion_id = self._require_lesion()
        timepoint = self.current_timepoint()
        carrier = self.merge_combo.currentText()
        if self.session is None or lesion_id is None or timepoint is None:
            return False
        if not carrier or carrier == lesion_id:
            show_warning("Choose in 'into' the lesion whose measurement covers the merged mass.")
            return False
        ok = self._call(self.session.merge_lesions, timepoint, carrier, [lesion_id])
        self.select_lesion(carrier)
        return ok

    def _split_merge_row(self) -> QHBoxLayout:
        """The Split lesion and Merge lesions actions (shared/spec/lesion-table.md, 2026-12)."""
        self.merge_combo = QComboBox()
        self.merge_combo.setToolTip("The lesion whose measurement covers the merged mass")
        row = QHBoxLayout()
        for text, slot in (("Split lesion", self.split_selected),
                           ("Merge lesions", self.merge_selected)):
            button = QPushButton(text)
            button.clicked.connect(lambda _=False, slot=slot: slot())
            self.buttons[text] = button
        self.buttons["Split lesion"].setToolTip(
            "Draw one line per fragment on this scan, select the lesion, then split")
        self.buttons["Merge lesions"].setToolTip(
            "The selected lesion has coalesced into the lesion chosen in 'into' at this scan")
        row.addWidget(self.buttons["Split lesion"])
        row.addWidget(self.buttons["Merge lesions"])
        row.addWidget(QLabel("into"))
        row.addWidget(self.merge_combo, 1)
        return row

    def _fill_merge_targets(self, lesion_ids: list[str]) -> None:
        current = self.merge_combo.currentText()
        self.merge_combo.clear()
        self.merge_combo.addItems(lesion_ids)
        if current in lesion_ids:
            self.merge_combo.setCurrentText(current)

    def undo(self) -> bool:
        """Undo the last edit."""
        if self.session is None or not self.session.undo():
            show_info("Nothing to undo.")
            return False
        return True

    # -- view --------------------------------------------------------------------------------
    def refresh(self) -> None:
        """Redraw the table from the session."""
        session = self.session
        selected = self.selected_lesion()
        self.table.blockSignals(True)
        self.table.clearContents()
        if session is None:
            self.table.setRowCount(0)
            self.table.blockSignals(False)
            return
        self.patient_label.setText(f"Patient {session.record.patient_id}")
        headers = list(FIXED_COLUMNS) + [view.name for view in session.timepoints]
        self.table.setColumnCount(len(headers))
        self.table.setHorizontalHeaderLabels(headers)
        lesion_ids = session.lesion_ids()
        self._fill_merge_targets(lesion_ids)
        self.table.setRowCount(len(lesion_ids))
        for row, lesion_id in enumerate(lesion_ids):
            lesion = session.record.lesions[lesion_id]
            cells = [lesion_id, lesion.role.value, lesion.site, "yes" if lesion.nodal else ""]
            for column, text in enumerate(cells):
                self.table.setItem(row, column, QTableWidgetItem(text))
            for offset, view in enumerate(session.timepoints):
                measurement = session.measurement(view.timepoint, lesion_id)
                response = session.lesion_responses(view.timepoint).get(lesion_id)
                if response == Response.NA:  # e.g. at baseline: nothing to compare with yet
                    response = None
                text = measurement_text(measurement)
                item = QTableWidgetItem(f"{text} {response}" if text and response else text)
                if measurement is not None and response:
                    item.setForeground(_brush(response_colour(response)))
                    item.setToolTip(f"lesion response {response}")
                item.setTextAlignment(int(Qt.AlignCenter))
                self.table.setItem(row, len(FIXED_COLUMNS) + offset, item)
        self.table.resizeColumnsToContents()
        self.table.blockSignals(False)
        if selected is not None:
            self.select_lesion(selected)
        self.buttons["Undo"].setEnabled(session.can_undo)

    # -- internals ---------------------------------------------------------------------------
    def on_session_edited(self) -> None:
        """Redraw the table after an edit."""
        self.refresh()

    def on_session_changed(self) -> None:
        """Another patient: the scan chooser, then the table."""
        session = self.session
        self.timepoint_combo.clear()
        if session is not None:
            for view in session.timepoints:
                self.timepoint_combo.addItem(view.name, view.timepoint)
            current = current_timepoint(self.viewer, session)
            index = self.timepoint_combo.findData(current)
            if index >= 0:
                self.timepoint_combo.setCurrentIndex(index)
        self.refresh()

    def _follow_active_layer(self, *_: object) -> None:
        """Show the selected layer's scan in the scan chooser."""
        if self.session is None:
            return
        timepoint = current_timepoint(self.viewer, self.session)
        index = self.timepoint_combo.findData(timepoint)
        if index >= 0 and index != self.timepoint_combo.currentIndex():
            self.timepoint_combo.setCurrentIndex(index)

    def _on_timepoint_chosen(self, index: int) -> None:
        if self.session is None or index < 0:
            return
        show_timepoint(self.viewer, self.session, int(self.timepoint_combo.itemData(index)))

    def _on_row_selected(self) -> None:
        lesion_id = self.selected_lesion()
        if self.session is None or lesion_id is None:
            return
        lesion = self.session.record.lesions.get(lesion_id)
        if lesion is None:
            return
        self.role_combo.setCurrentText(lesion.role.value)
        self.site_combo.setCurrentText(lesion.site)
        self.nodal_check.setChecked(lesion.nodal)

    def _require_lesion(self) -> str | None:
        lesion_id = self.selected_lesion()
        if lesion_id is None and self.session is not None:
            show_warning("Select a lesion in the table first (or create one with New lesion).")
        return lesion_id

    def _drawn_line(self) -> tuple[int, object, int] | None:
        """Find the line to use: (time point, its lesion layer, shape index)."""
        if self.session is None:
            return None
        timepoint = self.current_timepoint()
        layer = (
            session_layer(self.viewer, self.session, timepoint, LESIONS)
            if timepoint is not None
            else None
        )
        active = self.viewer.layers.selection.active
        if active is not None and (link := layer_link(active)) and link["kind"] == LESIONS:
            layer, timepoint = active, int(link["timepoint"])
        if layer is None or timepoint is None:
            show_warning("Open a patient first.")
            return None
        unassigned = unassigned_shapes(layer)
        selected = [i for i in sorted(layer.selected_data) if i in unassigned]
        candidates = selected or unassigned
        lines = [i for i in candidates if layer.shape_type[i] in ("line", "path")]
        if not lines:
            show_warning(
                f"Draw a line on the {layer.name!r} layer (line tool), then choose the axis."
            )
            return None
        return timepoint, layer, lines[-1]

    def _call(self, method: object, *args: object, **kwargs: object) -> bool:
        try:
            method(*args, **kwargs)  # type: ignore[operator]
        except ValueError as error:
            show_warning(str(error))
            return False
        return True


def _brush(colour: str) -> object:
    from qtpy.QtGui import QBrush, QColor

    return QBrush(QColor(colour))
