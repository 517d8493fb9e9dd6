"""What a path the user opens holds, decided cheaply before anything is read (issue 17).

napari offers a reader every folder it opens when the reader accepts directories. Declining a
folder that holds no DICOM lets napari try another reader, which is right when another reader
wants its files (a folder of TIFFs, a zarr store); declining a folder nobody wants (an empty
folder, a folder of notes) made ``napari --plugin napari-recist FOLDER`` exit with a
traceback ("refused the file"). So the probe tells three cases apart: DICOM (read it), another
reader's files (decline), and nothing anybody reads (accept, and say clearly what is wrong).

Pure: no napari, no Qt; whether another reader claims a file is asked through a callable.
"""

from __future__ import annotations

import enum
import os
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path

# How many files are looked at before deciding a folder holds no DICOM.
PROBE_FILES = 64
_DICOM_MAGIC_OFFSET = 128
# Folders napari's zarr reader owns: a store's name or its metadata files (zarr v2 and v3).
ZARR_SUFFIX = ".zarr"
ZARR_METADATA = frozenset({".zarray", ".zgroup", ".zattrs", "zarr.json"})


class Holds(enum.Enum):
    """What a probed path holds."""

    DICOM = "dicom"  # at least one DICOM file: the napari-recist reader reads it
    OTHER_READER = "other reader"  # files another installed reader claims: decline
    NOTHING_READABLE = "nothing readable"  # empty, missing or unreadable: accept and explain


@dataclass(frozen=True)
class Probe:
    """The outcome of `probe_paths`.

    Attributes
    ----------
    holds
        The verdict.
    where
        The path named in the message (the first path looked at).
    looked_at
        Files looked at.
    examples
        A few of the file names looked at (for the message).
    missing
        Paths that do not exist.
    """

    holds: Holds
    where: str
    looked_at: int = 0
    examples: tuple[str, ...] = ()
    missing: tuple[str, ...] = field(default_factory=tuple)

    def message(self) -> str:
        """A sentence for the user: what was looked at and what to open instead."""
        if self.missing:
            return f"napari-recist cannot open {self.missing[0]}: it does not exist."
        if self.looked_at == 0:
            return (f"napari-recist cannot open {self.where}: the folder is empty (no file "
                    "in it or its subfolders). Open a patient folder holding CT series and "
                    "TID 1500 SRs (DICOM files).")
        shown = ", ".join(self.examples)
        more = ", ..." if self.looked_at > len(self.examples) else ""
        limit = f"the first {self.looked_at}" if self.looked_at >= PROBE_FILES else (
            f"all {self.looked_at}" if self.looked_at > 1 else "the one")
        return (f"napari-recist cannot open {self.where}: no DICOM file among {limit} "
                f"file(s) looked at ({shown}{more}). A DICOM file has 'DICM' after a 128-byte "
                "preamble; open a patient folder holding CT series and TID 1500 SRs.")


def is_dicom_file(path: Path) -> bool:
    """Cheap test: the DICM magic after the 128-byte preamble (PS3.10 section 7.1)."""
    try:
        with path.open("rb") as stream:
            stream.seek(_DICOM_MAGIC_OFFSET)
            return stream.read(4) == b"DICM"
    except OSError:
        return False


def _files(folder: Path) -> Iterable[Path]:
    """The files of a folder tree in a stable order, hidden ones left out."""
    for root, dirs, files in os.walk(folder):
        dirs[:] = sorted(d for d in dirs if not d.startswith("."))
        for name in sorted(files):
            if not name.startswith("."):
                yield Path(root) / name


def is_zarr_store(folder: Path) -> bool:
    """A zarr store (napari's own reader opens those): by name or by its metadata file."""
    if folder.name.lower().endswith(ZARR_SUFFIX):
        return True
    try:
        return any((folder / name).is_file() for name in ZARR_METADATA)
    except OSError:
        return False


def probe_paths(
    paths: Iterable[Path], claimed_elsewhere: Callable[[Path], bool] | None = None
) -> Probe:
    """Decide whether the napari-recist reader should take these paths.

    Parameters
    ----------
    paths
        Folders and files the user opened.
    claimed_elsewhere
        Whether another installed reader claims a (non-DICOM) file, by its name; None:
        nobody else does.

    Returns
    -------
    Probe
        DICOM as soon as one DICOM file is seen (within `PROBE_FILES` files of each folder);
        else OTHER_READER when a path is a zarr store or holds a file another reader claims;
        else NOTHING_READABLE, with what was looked at.
    """
    items = list(paths)
    where = os.fspath(items[0]) if items else ""
    looked_at = 0
    examples: list[str] = []
    missing: list[str] = []
    claimed = False
    for item in items:
        if item.is_dir():
            if is_zarr_store(item):
                return Probe(Holds.OTHER_READER, where)
            candidates: Iterable[Path] = _files(item)
        elif item.exists():
            candidates = [item]
        else:
            missing.append(os.fspath(item))
            continue
        for count, path in enumerate(candidates):
            if count >= PROBE_FILES:
                break
            if is_dicom_file(path):
                return Probe(Holds.DICOM, where)
            looked_at += 1
            if len(examples) < 3:
                examples.append(path.name)
            # A patient folder may hold a CSV beside its DICOM: keep looking for DICOM.
            claimed = claimed or (claimed_elsewhere is not None and claimed_elsewhere(path))
    if claimed:
        return Probe(Holds.OTHER_READER, where, looked_at, tuple(examples))
    return Probe(Holds.NOTHING_READABLE, where, looked_at, tuple(examples), tuple(missing))
