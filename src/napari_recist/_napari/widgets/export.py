"""Export widget: the session's lesion table as CSV and one TID 1500 SR per scan."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

from napari.utils.notifications import show_error, show_info
from qtpy.QtWidgets import QFileDialog, QLabel, QPushButton, QVBoxLayout

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


class ExportWidget(SessionDock):
    """Buttons that export the open patient's lesion table (CSV) and SRs.

    Parameters
    ----------
    napari_viewer
        The viewer (given by napari when the widget is docked).
    """

    def __init__(self, napari_viewer: napari.Viewer) -> None:
        super().__init__(napari_viewer)
        csv_button = QPushButton("Export lesion table (CSV)...")
        sr_button = QPushButton("Export DICOM SR (TID 1500)...")
        csv_button.clicked.connect(self._choose_csv)
        sr_button.clicked.connect(self._choose_sr_folder)
        self.status = QLabel("")
        self.status.setWordWrap(True)
        layout = QVBoxLayout(self)
        layout.addWidget(csv_button)
        layout.addWidget(sr_button)
        pacs_button = QPushButton("Send SRs to PACS...")
        pacs_button.clicked.connect(self._send_to_pacs)
        layout.addWidget(pacs_button)
        self.sr_files: list[Path] = []
        layout.addWidget(self.status)
        layout.addStretch(1)
        self.follow_session()

    def export_csv(self, path: Path) -> Path | None:
        """Write the lesion table; report the outcome in the widget and a notification."""
        session = self._require_session()
        if session is None:
            return None
        try:
            written = session.export_csv(Path(path))
        except (OSError, InputError) as error:
            self._fail(f"Lesion table not written: {error}")
            return None
        self._done(f"Lesion table written to {written}")
        return written

    def export_sr(self, folder: Path) -> list[Path]:
        """Write the SRs into a folder; report the outcome in the widget and a notification."""
        session = self._require_session()
        if session is None:
            return []
        try:
            written = export_structured_reports(session, Path(folder))
        except (OSError, InputError) as error:
            self._fail(f"SR not written: {error}")
            return []
        self._done(f"{len(written)} SR file(s) written to {folder}")
        self.sr_files = written
        return written

    def _send_to_pacs(self) -> None:
        from napari_recist._napari.widgets.pacs import send_files_to_pacs

        if not self.sr_files:
            self._fail("Export the DICOM SRs first; those files are sent.")
            return
        outcome = send_files_to_pacs(self, self.sr_files)
        if outcome is not None:
            (self._done if outcome[0] else self._fail)(outcome[1])

    def _choose_csv(self) -> None:
        session = self._require_session()
        if session is None:
            return
        start = str((session.folder or Path.cwd()) / f"{session.record.patient_id}_lesions.csv")
        path, _ = QFileDialog.getSaveFileName(self, "Export lesion table", start, "CSV (*.csv)")
        if path:
            self.export_csv(Path(path))

    def _choose_sr_folder(self) -> None:
        session = self._require_session()
        if session is None:
            return
        start = str(session.folder or Path.cwd())
        folder = QFileDialog.getExistingDirectory(self, "Folder for the SR files", start)
        if folder:
            self.export_sr(Path(folder))

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
