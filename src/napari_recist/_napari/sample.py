"""npe2 sample data: the synthetic sample patient (3 CT scans, TID 1500 SR per scan)."""

from __future__ import annotations

import os
from pathlib import Path

from napari_recist._napari.reader import LayerData, read_patient
from napari_recist._napari.responsive import run_in_worker

SAMPLE_MARKER = "lesions.csv"  # the last file `write_sample` writes


def sample_folder() -> Path:
    """Return where the sample patient is kept: a user cache folder, written on first use.

    The viewer autosaves edits next to the data, so the sample is opened from a writable
    copy, never from the installed package or the repository's ``sample_dicom/``.
    """
    cache = Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache")
    return cache / "napari-recist" / "sample-patient"


def sample_patient() -> list[LayerData]:
    """Write the sample patient if needed and open it (the npe2 sample data command).

    Returns
    -------
    list of LayerData
        The layers of `read_patient`.
    """
    from napari_recist.sample import write_sample

    folder = sample_folder()
    if not (folder / SAMPLE_MARKER).is_file():
        run_in_worker(write_sample, folder, description="Writing the sample patient")
    return read_patient(str(folder))
