"""PACS dock widget: choose a server, find a patient's studies, retrieve the ticked ones, open.

Searching and retrieving run in worker threads (`napari.qt.threading.thread_worker`); the
retrieve shows napari's progress bar and can be cancelled. Retrieved instances go to the user
cache folder of the server (`napari_recist.io.pacs.default_cache_root`); the patient's folder
there is then opened with the napari-recist reader.
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import TYPE_CHECKING, Any

from magicgui.widgets import ComboBox, Container, LineEdit, PushButton
from napari.utils.notifications import show_error, show_info
from qtpy.QtCore import QObject, Qt, Signal
from qtpy.QtWidgets import (
    QAbstractItemView,
    QInputDialog,
    QLabel,
    QTableWidget,
    QTableWidgetItem,
    QVBoxLayout,
    QWidget,
)

from napari_recist.errors import InputError

if TYPE_CHECKING:
    import napari

    from napari_recist.io.pacs import RetrieveResult, Server, StudyInfo

COLUMNS = ("Retrieve", "Date", "Description", "Modalities", "Series", "SR")
NO_SAVED_SERVER = "(none saved: type a URL)"


class _ProgressSignals(QObject):
    """Carries progress from the worker (or pynetdicom's) thread to the Qt main thread."""

    progressed = Signal(int, int)


def _saved_server_names() -> list[str]:
    from napari_recist.io.pacs import saved_servers

    try:
        return sorted(saved_servers())
    except InputError as error:
        show_error(f"Saved PACS servers not read: {error}")
        return []


def _parse_date(text: str, what: str) -> dt.date | None:
    text = text.strip()
    if not text:
        return None
    try:
        return dt.date.fromisoformat(text)
    except ValueError:
        raise InputError([f"{what}: {text!r} is not a date YYYY-MM-DD"]) from None


def server_from_choice(saved_name: str, url: str, calling_aet: str) -> Server:
    """The server the form names: a typed URL wins over the saved server chosen.

    Raises
    ------
    InputError
        No server given, a bad URL, an unreadable saved servers file.
    """
    from napari_recist.io.pacs import resolve_server

    text = url.strip() or (saved_name if saved_name != NO_SAVED_SERVER else "")
    if not text:
        raise InputError(["Choose a saved server or type a server URL."])
    return resolve_server(text, calling_aet=calling_aet.strip() or None)


class PacsWidget(QWidget):
    """Find a patient on a PACS, retrieve the ticked studies and open them.

    Parameters
    ----------
    napari_viewer
        The viewer (given by napari when the widget is docked).
    """

    def __init__(self, napari_viewer: napari.Viewer) -> None:
        super().__init__()
        self.viewer = napari_viewer
        names = _saved_server_names()
        self.server = ComboBox(label="Server", choices=names or [NO_SAVED_SERVER])
        self.url = LineEdit(label="or URL", tooltip="http(s)://host:port/dicom-web or "
                            "dimse://CALLED_AET@host:port; credentials come from environment "
                            "variables, never from this form")
        self.calling_aet = LineEdit(label="Our AE title", tooltip="DIMSE only (default: the "
                                    "saved one or RECIST)")
        self.patient_id = LineEdit(label="Patient ID")
        self.date_from = LineEdit(label="From", tooltip="YYYY-MM-DD (optional)")
        self.date_to = LineEdit(label="To", tooltip="YYYY-MM-DD (optional)")
        self.search_button = PushButton(text="Search")
        self.form = Container(
            widgets=[self.server, self.url, self.calling_aet, self.patient_id, self.date_from,
                     self.date_to, self.search_button]
        )
        self.table = QTableWidget(0, len(COLUMNS))
        self.table.setHorizontalHeaderLabels(COLUMNS)
        self.table.setEditTriggers(QAbstractItemView.NoEditTriggers)
        self.table.setSelectionMode(QAbstractItemView.NoSelection)
        self.retrieve_button = PushButton(text="Retrieve ticked studies and open")
        self.cancel_button = PushButton(text="Cancel", enabled=False)
        self.buttons = Container(widgets=[self.retrieve_button, self.cancel_button],
                                 layout="horizontal", labels=False)
        self.status = QLabel("")
        self.status.setWordWrap(True)
        layout = QVBoxLayout(self)
        layout.addWidget(self.form.native)
        layout.addWidget(self.table, 1)
        layout.addWidget(self.buttons.native)
        layout.addWidget(self.status)

        self.studies: list[StudyInfo] = []
        self.searched_server: Server | None = None
        self.searched_patient = ""
        self.worker: Any = None
        self.cancel_token: Any = None
        self.progress_bar: Any = None
        self.progress_seen: list[tuple[int, int]] = []
        self.progress_final: tuple[int, int] | None = None
        self.last_result: RetrieveResult | None = None
        self.retrieve_outcome: tuple[bool, Any] | None = None
        self._signals = _ProgressSignals()
        self._signals.progressed.connect(self._on_progress)
        self.search_button.changed.connect(self.search)
        self.retrieve_button.changed.connect(self.retrieve)
        self.cancel_button.changed.connect(self.cancel)

    # -- searching ---------------------------------------------------------------------------

    def search(self) -> None:
        """Find the patient's studies in a worker; fill the table when they come."""
        from napari.qt.threading import thread_worker

        from napari_recist.io.pacs import PacsClient

        try:
            server = server_from_choice(self.server.value, self.url.value, self.calling_aet.value)
            patient_id = self.patient_id.value.strip()
            if not patient_id:
                raise InputError(["Type a patient ID."])
            date_from = _parse_date(self.date_from.value, "From")
            date_to = _parse_date(self.date_to.value, "To")
        except InputError as error:
            self._fail(str(error))
            return

        def find() -> tuple[bool, Any]:
            try:
                return True, PacsClient(server).find_studies(patient_id, date_from, date_to)
            except InputError as error:
                return False, error

        self._set_busy(True, f"Searching {server.label} for {patient_id}...")
        self.worker = thread_worker(find)()
        self.worker.returned.connect(
            lambda outcome: self._on_found(outcome, server, patient_id)
        )
        self.worker.finished.connect(lambda: self._set_busy(False))
        self.worker.start()

    def _on_found(self, outcome: tuple[bool, Any], server: Server, patient_id: str) -> None:
        ok, value = outcome
        if not ok:
            self._fail(f"Search failed: {value}")
            return
        self.studies = list(value)
        self.searched_server = server
        self.searched_patient = patient_id
        self.table.setRowCount(len(self.studies))
        for row, study in enumerate(self.studies):
            tick = QTableWidgetItem()
            tick.setFlags(Qt.ItemIsUserCheckable | Qt.ItemIsEnabled)
            tick.setCheckState(Qt.Checked)
            self.table.setItem(row, 0, tick)
            cells = (
                study.study_date.isoformat() if study.study_date else "no date",
                study.description,
                ",".join(study.modalities),
                "" if study.series_count is None else str(study.series_count),
                "SR" if study.has_sr else "",
            )
            for column, text in enumerate(cells, start=1):
                item = QTableWidgetItem(text)
                item.setToolTip(study.study_instance_uid)
                self.table.setItem(row, column, item)
        self.table.resizeColumnsToContents()
        with_sr = sum(study.has_sr for study in self.studies)
        self._done(f"{len(self.studies)} studies of {patient_id} ({with_sr} with an SR)"
                   if self.studies else f"No study of patient {patient_id} on {server.label}")

    def ticked_studies(self) -> list[str]:
        """Study Instance UIDs of the ticked rows."""
        return [
            study.study_instance_uid
            for row, study in enumerate(self.studies)
            if self.table.item(row, 0).checkState() == Qt.Checked
        ]

    # -- retrieving --------------------------------------------------------------------------

    def retrieve(self) -> None:
        """Retrieve the ticked studies in a worker with a progress bar, then open them."""
        from napari.qt.threading import thread_worker
        from napari.utils import progress

        from napari_recist.io.pacs import CancelToken, PacsClient, default_cache_root

        server = self.searched_server
        uids = self.ticked_studies()
        if server is None or not uids:
            self._fail("Search a patient and tick the studies to retrieve first.")
            return
        patient_id = self.searched_patient
        root = default_cache_root(server.name)
        self.cancel_token = token = CancelToken()
        self.progress_seen = []
        self.progress_bar = progress(total=0, desc=f"Retrieving {patient_id}")
        signals = self._signals

        def fetch() -> tuple[bool, Any]:
            try:
                client = PacsClient(server)
                result = client.retrieve(
                    patient_id, root, uids, progress=signals.progressed.emit, cancel=token
                )
                return True, result
            except Exception as error:  # shown in the widget, never raised into Qt
                return False, error

        self._set_busy(True, f"Retrieving {len(uids)} studies of {patient_id}...")
        self.cancel_button.enabled = True
        self.worker = thread_worker(fetch)()
        self.worker.returned.connect(self._on_retrieved)
        self.worker.finished.connect(self._retrieve_finished)
        self.worker.start()

    def cancel(self) -> None:
        """Stop the running retrieve after the instance in flight (what arrived stays)."""
        if self.cancel_token is not None:
            self.cancel_token.cancel()
            self.status.setText("Cancelling...")

    def _on_progress(self, done: int, total: int) -> None:
        self.progress_seen.append((done, total))
        bar = self.progress_bar
        if bar is None:
            return
        if bar.total != total:
            bar.total = total
        bar.update(done - bar.n)

    def _retrieve_finished(self) -> None:
        if self.progress_bar is not None:
            self.progress_final = (self.progress_bar.n, self.progress_bar.total)
            self.progress_bar.close()
            self.progress_bar = None
        self.cancel_button.enabled = False
        self._set_busy(False)

    def _on_retrieved(self, outcome: tuple[bool, Any]) -> None:
        from napari_recist.io.pacs import Cancelled

        ok, value = outcome
        self.retrieve_outcome = outcome
        if not ok:
            if isinstance(value, Cancelled):
                self._done("Retrieve cancelled; what arrived is kept and will not travel again.")
            elif isinstance(value, InputError):
                self._fail(f"Retrieve failed: {value}")
            else:
                self._fail(f"Retrieve failed: {type(value).__name__}: {value}")
            return
        result: RetrieveResult = value
        self.last_result = result
        summary = (f"{result.fetched} instances retrieved, {result.already} already in the "
                   f"cache: opening {result.folder}")
        if result.problems:
            self._fail(summary + "; " + "; ".join(str(p) for p in result.problems))
        else:
            self._done(summary)
        self.open_folder(result.folder)

    def open_folder(self, folder: Path) -> None:
        """Open a retrieved patient folder with the napari-recist reader."""
        self.viewer.open(str(folder), plugin="napari-recist")

    # -- status ------------------------------------------------------------------------------

    def _set_busy(self, busy: bool, message: str | None = None) -> None:
        self.search_button.enabled = not busy
        self.retrieve_button.enabled = not busy
        if message:
            self.status.setText(message)

    def _fail(self, message: str) -> None:
        self.status.setText(message)
        show_error(message)

    def _done(self, message: str) -> None:
        self.status.setText(message)
        show_info(message)


def store_files(server_text: str, files: list[Path]) -> tuple[bool, str]:
    """Store `files` on a server (saved name or URL); return success and what to tell the user.

    Raises nothing: failures come back as the message to show.
    """
    from napari_recist.io.pacs import PacsClient

    try:
        server = server_from_choice("", server_text, "")
        sent, refused = PacsClient(server).store(files)
    except InputError as error:
        return False, f"SRs not sent: {error}"
    if refused:
        return False, (f"{sent} SR(s) stored on {server.label}; refused: "
                       + "; ".join(map(str, refused)))
    return True, f"{sent} SR(s) stored on {server.label}"


def send_files_to_pacs(parent: QWidget, files: list[Path]) -> tuple[bool, str] | None:
    """Ask which server (saved name or URL), then `store_files`; None when the user declines.

    Used by the Export widget's "Send SRs to PACS".
    """
    names = _saved_server_names()
    choice, ok = QInputDialog.getItem(
        parent, "Send SRs to PACS", "Saved server or URL:", names, 0, True
    )
    if not ok or not choice.strip():
        return None
    return store_files(choice, files)
