"""npe2 sample data: the synthetic sample patient (3 CT scans, TID 1500 SR per scan)."""

from __future__ import annotations

import os
from pathlib import Path

from napari_recist._napari.reader import LayerData, read_patient

SAMPLE_MARKER = "lesions.csv"  # the last file `write_sample` writes


def sample_folder() -> Path:
    """Return where the sample patient is kept: a user cache folder, written on first use.

    The viewer autosaves edits next to the data, so the sample is opened from a writable
    copy, never from the installed package or the repository's ``sample_dicom/``.
    """
    cache = Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache")
    return cache / "napari-recist" / "sample-patient"


def _write_sample_responsively(folder: Path) -> None:
    """Write the sample in a worker thread with napari's progress bar; the UI keeps running.

    napari needs the layers when the sample command returns, so the command waits for the
    worker in a local Qt event loop (as a modal dialog would) instead of blocking the
    window for the few seconds the 180 slices take.
    """
    from napari.qt.threading import thread_worker
    from qtpy.QtCore import QEventLoop
    from qtpy.QtWidgets import QApplication

    from napari_recist.sample import write_sample

    if QApplication.instance() is None:
        write_sample(folder)
        return
    errors: list[BaseException] = []
    worker = thread_worker(write_sample, progress={"desc": "Writing the sample patient"})(folder)
    loop = QEventLoop()
    worker.errored.connect(errors.append)
    worker.finished.connect(loop.quit)
    worker.start()
    loop.exec_()
    if errors:
        raise errors[0]


def sample_patient() -> list[LayerData]:
    """Write the sample patient if needed and open it (the npe2 sample data command).

    Returns
    -------
    list of LayerData
        The layers of `read_patient`.
    """
    folder = sample_folder()
    if not (folder / SAMPLE_MARKER).is_file():
        _write_sample_responsively(folder)
    return read_patient(str(folder))
