"""Lesion table dock widget: every lesion, its size at every scan, and the edits on it.

The widget is a thin view: each button calls one `PatientSession` method; the session
re-classifies, autosaves and tells every view to redraw. The table is a Qt model over the
session (`lesion_model.LesionTableModel`, updated cell by cell); the lesion editor is a
magicgui form whose choices are the model's enums (`Role`, `LesionState`). Below the table:
the problems met while opening the patient, kept until it is closed, and "Close patient".
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np
from magicgui.widgets import CheckBox, ComboBox, Container, LineEdit
from napari.utils.notifications import show_info, show_warning
from qtpy.QtWidgets import (
    QAbstractItemView,
    QComboBox,
    QGridLayout,
    QHBoxLayout,
    QLabel,
    QListWidget,
    QPushButton,
    QScrollArea,
    QSizePolicy,
    QTableView,
    QVBoxLayout,
    QWidget,
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
from napari_recist._napari.patients import (
    close_patients,
    missing_images_text,
    show_missing_images,
)
from napari_recist._napari.problems import problem_log
from napari_recist._napari.session import PatientSession, WouldReplaceError, nodal_for_site
from napari_recist._napari.widgets.base import SessionDock
from napari_recist._napari.widgets.legend import ResponseLegend
from napari_recist._napari.widgets.lesion_model import (
    FIXED_COLUMNS,
    LesionTableModel,
    measurement_text,
)
from napari_recist.model import KNOWN_SITES, LesionState, Role

if TYPE_CHECKING:
    import napari

__all__ = ["FIXED_COLUMNS", "SETTABLE_STATES", "LesionTableWidget", "measurement_text"]

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
# The table keeps at least this many lesion rows in view however many docks share the side.
MIN_VISIBLE_ROWS = 6
PROBLEMS_VISIBLE_ROWS = 4


def _enum_choices(members: tuple[object, ...] | type) -> list[tuple[str, object]]:
    """Choices for a magicgui ComboBox: each member's text shown, the member as value."""
    return [(str(member.value), member) for member in members]  # type: ignore[attr-defined]


class LesionTableWidget(SessionDock):
    """Lesions x scans, with role/site/nodal editing and drawn-line measurements.

    Parameters
    ----------
    napari_viewer
        The viewer (given by napari when the widget is docked).
    """

    def __init__(self, napari_viewer: napari.Viewer) -> None:
        super().__init__(napari_viewer)
        self._problems_of: PatientSession | None = None

        self.patient_label = QLabel("Open a patient folder (File > Open Folder...)")
        self.timepoint_combo = QComboBox()
        self.timepoint_combo.setToolTip("Scan to show and to measure on")
        self.timepoint_combo.activated.connect(self._on_timepoint_chosen)
        self.close_button = QPushButton("Close patient")
        self.close_button.setToolTip("Remove the patient's layers (asks first if edits are "
                                     "not saved); opening another patient does the same")
        self.close_button.clicked.connect(lambda _=False: self.close_patient())

        self.model = LesionTableModel()
        self.table = QTableView()
        self.table.setModel(self.model)
        self.table.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
        self.table.setSelectionMode(QAbstractItemView.SelectionMode.SingleSelection)
        self.table.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
        self.table.selectionModel().selectionChanged.connect(lambda *_: self._on_row_selected())
        self.table.doubleClicked.connect(lambda *_: self.jump_to_selected())
        self.table.verticalHeader().setVisible(False)
        self.table.setMinimumHeight(self._rows_height(MIN_VISIBLE_ROWS))
        self.table.setSizePolicy(QSizePolicy.Policy.Expanding, QSizePolicy.Policy.Expanding)

        # The lesion editor: a magicgui form, typed by the model's enums.
        self.role_box = ComboBox(label="Role", choices=_enum_choices(Role), value=Role.TARGET)
        self.site_box = ComboBox(label="Site", choices=self._site_choices)
        self.other_site_box = LineEdit(label="or other site",
                                       tooltip="Free text; wins over the list when filled")
        self.nodal_box = CheckBox(text="nodal (short axis measured)")
        self.state_box = ComboBox(label="State", choices=_enum_choices(SETTABLE_STATES))
        self.site_box.changed.connect(self._site_implies_nodal)
        self.other_site_box.changed.connect(self._site_implies_nodal)
        self.editor = Container(widgets=[self.role_box, self.site_box, self.other_site_box,
                                         self.nodal_box, self.state_box])
        self.editor.native.setObjectName("napari-recist-lesion-editor")

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
        top.addWidget(self.close_button)
        grid = QGridLayout()
        order = (("New lesion", "Apply role/site", "Set state"),
                 ("Line = long axis", "Line = short axis", "Link line to lesion"),
                 ("Jump to lesion", "Delete lesion", "Delete at this scan"))
        for row, names in enumerate(order):
            for column, name in enumerate(names):
                grid.addWidget(self.buttons[name], row, column)
        grid.addWidget(self.buttons["Undo"], len(order), 0)

        self.problems_label = QLabel("")
        self.problems = QListWidget()
        self.problems.setObjectName("napari-recist-problems")
        self.problems.setWordWrap(True)
        self.problems.setMaximumHeight(self._rows_height(PROBLEMS_VISIBLE_ROWS))
        self.problems.setToolTip("What opening the patient and the checker found; kept until "
                                 "the patient is closed")

        # Everything below the table scrolls, so docking more widgets beside this one takes
        # room from the controls, never from the table's rows.
        controls = QWidget()
        controls_layout = QVBoxLayout(controls)
        controls_layout.setContentsMargins(0, 0, 0, 0)
        controls_layout.addWidget(self.editor.native)
        controls_layout.addLayout(grid)
        controls_layout.addLayout(self._split_merge_row())
        controls_layout.addWidget(self.problems_label)
        controls_layout.addWidget(self.problems)
        controls_layout.addWidget(ResponseLegend())
        controls_layout.addStretch(1)
        self.controls = QScrollArea()
        self.controls.setWidget(controls)
        self.controls.setWidgetResizable(True)
        self.controls.setMinimumHeight(self._rows_height(2))

        layout = QVBoxLayout(self)
        layout.addWidget(self.patient_label)
        layout.addLayout(top)
        layout.addWidget(self.table, 3)
        layout.addWidget(self.controls, 2)

        self.viewer.layers.selection.events.active.connect(self._follow_active_layer)
        self.follow_session()

    # -- public actions (one session call each) ---------------------------------------------
    def selected_lesion(self) -> str | None:
        """Return the id of the lesion selected in the table, or None."""
        selection = self.table.selectionModel()
        rows = selection.selectedRows() if selection is not None else []
        return self.model.lesion_id(rows[0].row()) if rows else None

    def select_lesion(self, lesion_id: str) -> None:
        """Select a lesion's row (and scroll to it)."""
        row = self.model.row_of(lesion_id)
        if row is not None:
            self.table.selectRow(row)
            self.table.scrollTo(self.model.index(row, 0))

    def site_value(self) -> str:
        """The site the editor names: the free text when given, else the list's choice."""
        return str(self.other_site_box.value).strip() or str(self.site_box.value or "")

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
            Role(self.role_box.value),
            self.site_value(),
            bool(self.nodal_box.value),
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
            role=Role(self.role_box.value),
            site=self.site_value(),
            nodal=bool(self.nodal_box.value),
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
        state = LesionState(self.state_box.value)
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
        carrier = str(self.merge_box.value or "")
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
        self.merge_box = ComboBox(choices=self._merge_choices,
                                  tooltip="The lesion whose measurement covers the merged mass")
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
        row.addWidget(self.merge_box.native, 1)
        return row

    def _merge_choices(self, *_: object) -> list[str]:
        return self.session.lesion_ids() if self.session is not None else []

    def _site_choices(self, *_: object) -> list[str]:
        """The known sites, then any other site a lesion of this patient has."""
        sites = list(KNOWN_SITES)
        if self.session is not None:
            sites += sorted({lesion.site for lesion in self.session.record.lesions.values()
                             if lesion.site and lesion.site not in sites})
        return sites

    def _site_implies_nodal(self, *_: object) -> None:
        # RECIST 1.1 section 3.1.1 / lesion-table.md `nodal`: a lymph node is measured as a node.
        if nodal_for_site(self.site_value(), None):
            self.nodal_box.value = True

    def _rows_height(self, rows: int) -> int:
        """Pixels for the header, `rows` table rows and a scroll bar, as the style draws them."""
        line = max(self.table.verticalHeader().defaultSectionSize(),
                   self.fontMetrics().height() + 8)
        header = self.table.horizontalHeader().sizeHint().height()
        scrollbar = self.style().pixelMetric(self.style().PixelMetric.PM_ScrollBarExtent)
        return header + line * rows + scrollbar + 2 * self.table.frameWidth() + 2

    def showEvent(self, event: object) -> None:  # noqa: N802 - Qt's name
        """Size the table for `MIN_VISIBLE_ROWS` rows in the style it is shown with."""
        self.table.setMinimumHeight(self._rows_height(MIN_VISIBLE_ROWS))
        super().showEvent(event)

    def undo(self) -> bool:
        """Undo the last edit."""
        if self.session is None or not self.session.undo():
            show_info("Nothing to undo.")
            return False
        return True

    # -- view --------------------------------------------------------------------------------
    def refresh(self) -> None:
        """Bring the table, the choices and the problems in step with the session."""
        session = self.session
        self.model.update_from(session)
        self.table.resizeColumnsToContents()
        self.site_box.reset_choices()
        self.merge_box.reset_choices()
        self._show_problems()
        if session is None:
            self.patient_label.setText("Open a patient folder (File > Open Folder...)")
            self.buttons["Undo"].setEnabled(False)
            self.close_button.setEnabled(False)
            return
        self.patient_label.setText(f"Patient {session.record.patient_id}")
        self.buttons["Undo"].setEnabled(session.can_undo)
        self.close_button.setEnabled(True)

    def problems_text(self) -> list[str]:
        """The entries of the problems list."""
        return [self.problems.item(row).text() for row in range(self.problems.count())]

    def close_patient(self) -> bool:
        """Close the open patient (asking first when edits are not saved)."""
        if self.session is None:
            show_info("No patient is open.")
            return False
        return close_patients(self.viewer)

    def _show_problems(self) -> None:
        session = self.session
        entries: list[str] = []
        if session is not None:
            entries += problem_log(session).entries
            entries += [f"checker: {text}" for text in session.classification_warnings]
            if session.last_save_error:
                entries.append(session.last_save_error)
        self.problems.clear()
        self.problems.addItems(entries)
        self.problems_label.setText(f"Problems ({len(entries)}):" if entries else
                                    "Problems: none")
        self.problems.setVisible(bool(entries))

    # -- internals ---------------------------------------------------------------------------
    def on_session_edited(self) -> None:
        """Redraw the table after an edit."""
        self.refresh()

    def on_session_changed(self) -> None:
        """Another patient: the scan chooser, its problems, then the table."""
        session = self.session
        if self._problems_of is not None:
            problem_log(self._problems_of).changed.disconnect(self._show_problems)
            self._problems_of.lesion_focused.disconnect(self.select_lesion)
            self._problems_of = None
        if session is not None:
            problem_log(session).changed.connect(self._show_problems)
            session.lesion_focused.connect(self.select_lesion)
            self._problems_of = session
        self.timepoint_combo.clear()
        if session is not None:
            for view in session.timepoints:
                name = view.name if view.has_image else f"{view.name} (no CT)"
                self.timepoint_combo.addItem(name, view.timepoint)
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
        timepoint = int(self.timepoint_combo.itemData(index))
        missing = missing_images_text(self.session, timepoint)
        show_missing_images(self.viewer, missing)
        if missing is None:
            show_timepoint(self.viewer, self.session, timepoint)

    def _on_row_selected(self) -> None:
        lesion_id = self.selected_lesion()
        if self.session is None or lesion_id is None:
            return
        lesion = self.session.record.lesions.get(lesion_id)
        if lesion is None:
            return
        self.role_box.value = lesion.role
        self.site_box.reset_choices()
        if lesion.site in self.site_box.choices:
            self.site_box.value = lesion.site
            self.other_site_box.value = ""
        else:
            self.other_site_box.value = lesion.site
        self.nodal_box.value = lesion.nodal
        # The state it has on this scan, when it is one the editor can set.
        timepoint = self.current_timepoint()
        measurement = (self.session.measurement(timepoint, lesion_id)
                       if timepoint is not None else None)
        if measurement is not None and measurement.state in SETTABLE_STATES:
            self.state_box.value = measurement.state

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

