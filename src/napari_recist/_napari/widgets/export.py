"""Export widget: the session's lesion table as CSV and one TID 1500 SR per scan.

The form (magicgui) proposes a folder beside the patient folder and refuses to write SRs
inside it (issue 17: reopening the folder without its session file mixed old and new SRs).
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

from magicgui.widgets import Container, FileEdit, PushButton
from napari.utils.notifications import show_error, show_info
from qtpy.QtWidgets import QLabel, QSizePolicy, QVBoxLayout

from napari_recist._napari.session import PatientSession
from napari_recist._napari.widgets.base import SessionDock
from napari_recist.errors import InputError

if TYPE_CHECKING:
    import napari


def export_structured_reports(session: PatientSession, folder: Path) -> list[Path]:
    """Write one Comprehensive 3D SR (TID 1500) per measured scan that has its CT.

    Parameters
    ----------
    session
        The open patient.
    folder
        Output folder (created if needed).

    Returns
    -------
    list of Path
        The files written.

    Raises
    ------
    InputError
        When the SR writer refuses a scan (no images, images of another patient...), or
        when no scan has both measurements and images.
    """
    from napari_recist.io.sr_export import write_patient_srs

    images = {view.timepoint: view.series_files for view in session.timepoints}
    responses = {view.timepoint: session.lesion_responses(view.timepoint)
                 for view in session.timepoints}
    return write_patient_srs(session.record, images, folder, responses=responses,
                             where="the scans open in the viewer")


EXPORT_SUFFIX = "napari-recist-export"


def proposed_export_folder(session: PatientSession) -> Path:
    """The folder Export proposes: beside the patient folder, never inside it.

    SRs written into the patient folder are read back with the old ones when the folder is
    opened again without its session file: a re-measured lesion then went back to its old
    size (issue 17). So the proposal is ``<patient folder>-napari-recist-export`` next to
    it (or in the current folder for a patient without a folder).
    """
    folder = session.folder
    if folder is None:
        return Path.cwd() / f"{session.record.patient_id}-{EXPORT_SUFFIX}"
    folder = Path(folder).resolve()
    return folder.parent / f"{folder.name}-{EXPORT_SUFFIX}"


def inside_patient_folder(session: PatientSession, target: Path) -> bool:
    """Whether a folder is the patient folder or inside it."""
    if session.folder is None:
        return False
    return Path(target).resolve().is_relative_to(Path(session.folder).resolve())


class ExportWidget(SessionDock):
    """Export the open patient's lesion table (CSV) and SRs to a folder outside the patient's.

    A magicgui form: the folder (proposed beside the patient folder), then the actions.

    Parameters
    ----------
    napari_viewer
        The viewer (given by napari when the widget is docked).
    """

    def __init__(self, napari_viewer: napari.Viewer) -> None:
        super().__init__(napari_viewer)
        self.folder_box = FileEdit(label="Folder", mode="d",
                                   tooltip="Where the SRs and the CSV go: outside the patient "
                                   "folder, so that reopening it does not read them back")
        self.csv_button = PushButton(text="Export lesion table (CSV)")
        self.sr_button = PushButton(text="Export DICOM SR (TID 1500)")
        self.pacs_button = PushButton(text="Send SRs to PACS...")
        self.csv_button.changed.connect(lambda *_: self._export_csv_to_folder())
        self.sr_button.changed.connect(lambda *_: self._export_sr_to_folder())
        self.pacs_button.changed.connect(lambda *_: self._send_to_pacs())
        self.form = Container(widgets=[self.folder_box, self.csv_button, self.sr_button,
                                       self.pacs_button])
        self.status = QLabel("")
        self.status.setWordWrap(True)
        layout = QVBoxLayout(self)
        layout.addWidget(self.form.native)
        self.sr_files: list[Path] = []
        layout.addWidget(self.status)
        # A form takes the height it needs: the room left goes to the lesion table and the
        # response panel when several docks share the side (issue 17).
        self.setSizePolicy(QSizePolicy.Policy.Preferred, QSizePolicy.Policy.Maximum)
        self.follow_session()

    def on_session_changed(self) -> None:
        """Another patient: propose its export folder."""
        if self.session is not None:
            self.folder_box.value = proposed_export_folder(self.session)
        self.sr_files = []

    def folder(self) -> Path:
        """The folder of the form."""
        return Path(self.folder_box.value)

    def export_csv(self, path: Path) -> Path | None:
        """Write the lesion table; report the outcome in the widget and a notification."""
        session = self._require_session()
        if session is None:
            return None
        try:
            Path(path).parent.mkdir(parents=True, exist_ok=True)
            written = session.export_csv(Path(path))
        except (OSError, InputError) as error:
            self._fail(f"Lesion table not written: {error}")
            return None
        self._done(f"Lesion table written to {written}")
        return written

    def export_sr(self, folder: Path) -> list[Path]:
        """Write the SRs into a folder outside the patient folder; report the outcome."""
        session = self._require_session()
        if session is None:
            return []
        if inside_patient_folder(session, Path(folder)):
            self._fail(f"SR not written: {folder} is inside the patient folder "
                       f"{session.folder}; reopening the folder would read these SRs with "
                       f"the old ones. Choose a folder outside it (proposed: "
                       f"{proposed_export_folder(session)}).")
            return []
        try:
            written = export_structured_reports(session, Path(folder))
        except (OSError, InputError) as error:
            self._fail(f"SR not written: {error}")
            return []
        self._done(f"{len(written)} SR file(s) written to {folder}")
        self.sr_files = written
        return written

    def _export_csv_to_folder(self) -> None:
        session = self._require_session()
        if session is not None:
            self.export_csv(self.folder() / f"{session.record.patient_id}_lesions.csv")

    def _export_sr_to_folder(self) -> None:
        if self._require_session() is not None:
            self.export_sr(self.folder())

    def _send_to_pacs(self) -> None:
        from napari_recist._napari.widgets.pacs import send_files_to_pacs

        if not self.sr_files:
            self._fail("Export the DICOM SRs first; those files are sent.")
            return
        outcome = send_files_to_pacs(self, self.sr_files)
        if outcome is not None:
            (self._done if outcome[0] else self._fail)(outcome[1])

    def _require_session(self) -> PatientSession | None:
        session = self.session
        if session is None:
            self._fail("Open a patient folder first.")
        return session

    def _fail(self, message: str) -> None:
        self.status.setText(message)
        show_error(message)

    def _done(self, message: str) -> None:
        self.status.setText(message)
        show_info(message)
