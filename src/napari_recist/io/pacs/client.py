"""`PacsClient`: one interface over DICOMweb and DIMSE for find, retrieve to the cache, store."""

from __future__ import annotations

import datetime as dt
import os
import threading
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Protocol

from napari_recist.errors import InputError, Problem
from napari_recist.io.pacs.cache import PatientCache
from napari_recist.io.pacs.common import (
    CancelToken,
    InstanceRef,
    ProgressCallback,
    StudyInfo,
)
from napari_recist.io.pacs.servers import Server

_DICOM_MAGIC_OFFSET = 128


class Transport(Protocol):
    """What `DicomWebTransport` and `DimseTransport` both do."""

    server: Server

    def echo(self) -> None: ...  # noqa: D102

    def find_studies(  # noqa: D102
        self, patient_id: str, date_from: dt.date | None = None, date_to: dt.date | None = None
    ) -> list[StudyInfo]: ...

    def find_instances(self, study_uid: str) -> list[InstanceRef]: ...  # noqa: D102

    def fetch(  # noqa: D102
        self, refs: list[InstanceRef], whole: set[str], cache: PatientCache,
        on_instance: object, cancel: CancelToken,
    ) -> list[Problem]: ...

    def store(  # noqa: D102
        self, files: list[Path], on_instance: object, cancel: CancelToken
    ) -> list[Problem]: ...


@dataclass
class RetrieveResult:
    """What a retrieve did.

    Parameters
    ----------
    folder
        The patient's folder in the cache (open it with the patient reader).
    study_folders
        The folder of each retrieved study.
    fetched
        Instances transferred now.
    already
        Instances that were in the cache already (not transferred again).
    problems
        Instances refused (wrong patient, malformed UIDs) or listed but not sent.
    """

    folder: Path
    study_folders: list[Path] = field(default_factory=list)
    fetched: int = 0
    already: int = 0
    problems: list[Problem] = field(default_factory=list)


def _missing_transport(name: str) -> InputError:
    return InputError(
        [f"PACS support needs the [pacs] extra ({name} is not installed): "
         "pip install 'napari-recist[pacs]'"]
    )


def open_transport(server: Server) -> Transport:
    """The transport of a server (DICOMweb or DIMSE)."""
    if server.kind == "dicomweb":
        try:
            from napari_recist.io.pacs.dicomweb import DicomWebTransport
        except ImportError:
            raise _missing_transport("dicomweb-client") from None
        return DicomWebTransport(server)
    try:
        import pynetdicom  # noqa: F401

        from napari_recist.io.pacs.dimse import DimseTransport
    except ImportError:
        raise _missing_transport("pynetdicom") from None
    return DimseTransport(server)


class PacsClient:
    """Find, retrieve into a local cache, and store, over either transport.

    Parameters
    ----------
    server
        The server to talk to.
    """

    def __init__(self, server: Server) -> None:
        self.server = server
        self.transport = open_transport(server)

    def echo(self) -> None:
        """Check the server answers (C-ECHO, or a QIDO-RS search)."""
        self.transport.echo()

    def find_studies(
        self, patient_id: str, date_from: dt.date | None = None, date_to: dt.date | None = None
    ) -> list[StudyInfo]:
        """The patient's studies by date (undated last), then by UID."""
        studies = self.transport.find_studies(patient_id, date_from, date_to)
        return sorted(studies, key=lambda s: (s.study_date or dt.date.max, s.study_instance_uid))

    def retrieve(
        self,
        patient_id: str,
        cache_root: Path,
        study_uids: Sequence[str] | None = None,
        progress: ProgressCallback | None = None,
        cancel: CancelToken | None = None,
    ) -> RetrieveResult:
        """Retrieve a patient's studies into the cache; only missing instances travel.

        Parameters
        ----------
        patient_id
            The patient.
        cache_root
            The cache root; the patient's folder is created inside it.
        study_uids
            The studies to retrieve (default: all of the patient's).
        progress
            Called as ``progress(done, total)`` with instances counted over the whole retrieve
            (cached ones count as done at once).
        cancel
            Checked between instances; `Cancelled` is raised when set.

        Returns
        -------
        RetrieveResult

        Raises
        ------
        InputError
            Nothing found, or the server failed (a `Problem` naming it and the request).
        Cancelled
            When `cancel` was set.
        """
        cancel = cancel or CancelToken()
        if study_uids is None:
            study_uids = [s.study_instance_uid for s in self.find_studies(patient_id)]
            if not study_uids:
                raise InputError(
                    [self.server.problem(f"find studies PatientID={patient_id}",
                                         "no study of this patient")]
                )
        cache = PatientCache(cache_root, patient_id)
        result = RetrieveResult(cache.folder)
        listed: list[InstanceRef] = []
        for uid in study_uids:
            cancel.check()
            refs = self.transport.find_instances(uid)
            if not refs:
                raise InputError(
                    [self.server.problem(f"find instances of study {uid}",
                                         "the server lists no instance for this study")]
                )
            listed += refs
            result.study_folders.append(cache.folder / uid)
        missing = [ref for ref in listed if not cache.has(ref)]
        result.already = len(listed) - len(missing)
        total = len(listed)
        done = [result.already]
        lock = threading.Lock()

        def on_instance() -> None:  # called from writer threads: counted under a lock
            with lock:
                done[0] += 1
                if progress is not None:
                    progress(min(done[0], total), total)

        if progress is not None:
            progress(result.already, total)
        # Studies and series with nothing cached travel in one request each.
        cached = [ref for ref in listed if cache.has(ref)]
        whole = {ref.study_instance_uid for ref in missing} - {
            ref.study_instance_uid for ref in cached}
        whole |= {ref.series_instance_uid for ref in missing} - {
            ref.series_instance_uid for ref in cached}
        result.problems += self.transport.fetch(missing, whole, cache, on_instance, cancel)
        cancel.check()  # cancelled while the last instances were being written
        still = [ref for ref in missing if not cache.has(ref)]
        result.fetched = len(missing) - len(still)
        refused = len(result.problems)
        if len(still) > refused:
            result.problems.append(
                self.server.problem(
                    "retrieve",
                    f"{len(still)} of {len(missing)} listed instances did not arrive (first: "
                    f"{still[0].sop_instance_uid} of series {still[0].series_instance_uid})",
                )
            )
        return result

    def store(
        self,
        paths: Iterable[Path],
        progress: ProgressCallback | None = None,
        cancel: CancelToken | None = None,
    ) -> tuple[int, list[Problem]]:
        """Send DICOM files (folders are searched recursively for DICOM files).

        Parameters
        ----------
        paths
            Files and folders.
        progress
            ``progress(done, total)`` after each instance.
        cancel
            Checked between instances.

        Returns
        -------
        tuple
            Instances sent and the problems (files the server refused).

        Raises
        ------
        InputError
            A path that does not exist or a named file that is not DICOM; nothing is sent.
        """
        files, problems = dicom_files(paths)
        if problems:
            raise InputError(problems)
        if not files:
            raise InputError(["no DICOM file to send"])
        done = [0]

        def on_instance() -> None:
            done[0] += 1
            if progress is not None:
                progress(done[0], len(files))

        refused = self.transport.store(files, on_instance, cancel or CancelToken())
        return len(files) - len(refused), refused


def is_dicom_file(path: Path) -> bool:
    """The DICM magic after the 128-byte preamble (PS3.10 7.1)."""
    try:
        with path.open("rb") as stream:
            stream.seek(_DICOM_MAGIC_OFFSET)
            return stream.read(4) == b"DICM"
    except OSError:
        return False


def dicom_files(paths: Iterable[Path]) -> tuple[list[Path], list[Problem]]:
    """DICOM files named or found in folders; named files that are not DICOM are problems.

    Files inside folders that are not DICOM (a lesion table beside the images, say) are not
    DICOM instances and are not sent; hidden files (temporary files) are ignored.
    """
    files: list[Path] = []
    problems: list[Problem] = []
    for path in map(Path, paths):
        if path.is_dir():
            for root, dirs, names in os.walk(path):
                dirs[:] = sorted(d for d in dirs if not d.startswith("."))
                for name in sorted(names):
                    candidate = Path(root) / name
                    if not name.startswith(".") and is_dicom_file(candidate):
                        files.append(candidate)
        elif path.is_file():
            if is_dicom_file(path):
                files.append(path)
            else:
                problems.append(Problem(str(path), "not a DICOM file (no DICM preamble)"))
        else:
            problems.append(Problem(str(path), "no such file or folder"))
    return files, problems
