"""The lesion table as a Qt model over the session: lesions x scans, kept in step cell by cell.

`lesion_rows` (no Qt) says what every cell shows; `LesionTableModel` holds the last rows and,
after an edit, tells its views only what changed: ``dataChanged`` for the cells whose text or
colour changed, row insertions and removals for new and deleted lesions, a reset only when
the scans themselves change (another patient). The view keeps its selection and scroll
position through edits (issue 17: the table used to be refilled on every edit).

A measurement cell carries the lesion's response at that scan; its background is the
response's Okabe-Ito colour (the lines' hue) and its text black or white, whichever reaches
WCAG AA contrast (`palette.text_colour_on`).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from qtpy.QtCore import QAbstractTableModel, QModelIndex, Qt
from qtpy.QtGui import QBrush, QColor

from napari_recist._napari.session import PatientSession
from napari_recist.model import LesionState, Measurement
from napari_recist.palette import response_colour, text_colour_on
from napari_recist.vocabulary import Response

FIXED_COLUMNS = ("Lesion", "Role", "Site", "Nodal")
LESION_ID_ROLE = int(Qt.ItemDataRole.UserRole)
RESPONSE_ROLE = int(Qt.ItemDataRole.UserRole) + 1


@dataclass(frozen=True)
class Cell:
    """What one cell shows: its text, the response it is coloured by, its tooltip."""

    text: str
    response: str | None = None
    tooltip: str = ""


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


def table_headers(session: PatientSession | None) -> list[str]:
    """The column headers: the lesion's fields, then one column per scan."""
    if session is None:
        return []
    return list(FIXED_COLUMNS) + [
        view.name if view.has_image else f"{view.name} (no CT)" for view in session.timepoints
    ]


def lesion_rows(session: PatientSession | None) -> list[tuple[str, tuple[Cell, ...]]]:
    """Every lesion's row: its id and the cells, in the session's lesion order."""
    if session is None:
        return []
    rows = []
    for lesion_id in session.lesion_ids():
        lesion = session.record.lesions[lesion_id]
        cells = [Cell(lesion_id), Cell(lesion.role.value), Cell(lesion.site),
                 Cell("yes" if lesion.nodal else "")]
        for view in session.timepoints:
            measurement = session.measurement(view.timepoint, lesion_id)
            response = session.lesion_responses(view.timepoint).get(lesion_id)
            if response == Response.NA:  # e.g. at baseline: nothing to compare with yet
                response = None
            text = measurement_text(measurement)
            if measurement is None or not text or not response:
                cells.append(Cell(text))
            else:
                cells.append(Cell(f"{text} {response}", str(response),
                                  f"lesion response {response}"))
        rows.append((lesion_id, tuple(cells)))
    return rows


class LesionTableModel(QAbstractTableModel):
    """Lesions x scans of one session, for a ``QTableView``."""

    def __init__(self) -> None:
        super().__init__()
        self._headers: list[str] = []
        self._rows: list[tuple[str, tuple[Cell, ...]]] = []

    # -- Qt's model interface ----------------------------------------------------------------
    def rowCount(self, parent: QModelIndex | None = None) -> int:  # noqa: N802 - Qt's name
        """Lesions (no children)."""
        return 0 if parent is not None and parent.isValid() else len(self._rows)

    def columnCount(self, parent: QModelIndex | None = None) -> int:  # noqa: N802
        """Fixed columns plus one per scan."""
        return 0 if parent is not None and parent.isValid() else len(self._headers)

    def data(self, index: QModelIndex, role: int = int(Qt.ItemDataRole.DisplayRole)) -> Any:
        """Text, colours, tooltip, alignment and the lesion id of a cell."""
        if not index.isValid() or not 0 <= index.row() < len(self._rows):
            return None
        lesion_id, cells = self._rows[index.row()]
        if not 0 <= index.column() < len(cells):
            return None
        cell = cells[index.column()]
        role = int(role)
        if role == int(Qt.ItemDataRole.DisplayRole):
            return cell.text
        if role == LESION_ID_ROLE:
            return lesion_id
        if role == RESPONSE_ROLE:
            return cell.response
        if role == int(Qt.ItemDataRole.ToolTipRole):
            return cell.tooltip or None
        if role == int(Qt.ItemDataRole.TextAlignmentRole) and index.column() >= len(
            FIXED_COLUMNS
        ):
            return int(Qt.AlignmentFlag.AlignCenter)
        if cell.response is not None:
            background = response_colour(cell.response)
            if role == int(Qt.ItemDataRole.BackgroundRole):
                return QBrush(QColor(background))
            if role == int(Qt.ItemDataRole.ForegroundRole):
                return QBrush(QColor(text_colour_on(background)))
        return None

    def headerData(  # noqa: N802 - Qt's name
        self, section: int, orientation: Qt.Orientation,
        role: int = int(Qt.ItemDataRole.DisplayRole),
    ) -> Any:
        """The column names (scans by date and time point)."""
        if (int(role) == int(Qt.ItemDataRole.DisplayRole)
                and orientation == Qt.Orientation.Horizontal
                and 0 <= section < len(self._headers)):
            return self._headers[section]
        return None

    # -- ours --------------------------------------------------------------------------------
    def lesion_id(self, row: int) -> str | None:
        """The lesion of a row, or None."""
        return self._rows[row][0] if 0 <= row < len(self._rows) else None

    def row_of(self, lesion_id: str) -> int | None:
        """The row of a lesion, or None."""
        for row, (other, _) in enumerate(self._rows):
            if other == lesion_id:
                return row
        return None

    def cell_text(self, row: int, column: int) -> str:
        """The text of a cell ("" outside the table)."""
        index = self.index(row, column)
        value = self.data(index)
        return "" if value is None else str(value)

    def update_from(self, session: PatientSession | None) -> None:
        """Bring the model in step with the session, telling the views only what changed."""
        headers = table_headers(session)
        rows = lesion_rows(session)
        if headers != self._headers:
            self.beginResetModel()
            self._headers, self._rows = headers, rows
            self.endResetModel()
            return
        self._remove_rows({lesion_id for lesion_id, _ in rows})
        self._insert_rows(rows)
        for row, (lesion_id, cells) in enumerate(rows):
            old_id, old_cells = self._rows[row]
            assert old_id == lesion_id  # the removals and insertions lined the ids up
            changed = [column for column, (old, new) in enumerate(zip(old_cells, cells,
                                                                      strict=True))
                       if old != new]
            if changed:
                self._rows[row] = (lesion_id, cells)
                self.dataChanged.emit(self.index(row, min(changed)),
                                      self.index(row, max(changed)))

    def _remove_rows(self, keep: set[str]) -> None:
        for row in reversed(range(len(self._rows))):
            if self._rows[row][0] not in keep:
                self.beginRemoveRows(QModelIndex(), row, row)
                del self._rows[row]
                self.endRemoveRows()

    def _insert_rows(self, rows: list[tuple[str, tuple[Cell, ...]]]) -> None:
        present = {lesion_id for lesion_id, _ in self._rows}
        for target, (lesion_id, cells) in enumerate(rows):
            if lesion_id in present:
                continue
            # Rows before `target` already match `rows` (sorted the same way, survivors first
            # removed or kept in order), so the new lesion goes exactly there.
            self.beginInsertRows(QModelIndex(), target, target)
            self._rows.insert(target, (lesion_id, cells))
            self.endInsertRows()
