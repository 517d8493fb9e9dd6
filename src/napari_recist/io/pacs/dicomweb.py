"""DICOMweb transport (dicomweb-client): QIDO-RS search, WADO-RS retrieve, STOW-RS store.

TLS certificates are always verified (a saved server may name its own CA bundle);
credentials travel in the session's headers, which no message of ours prints.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import threading
from collections.abc import Callable, Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from contextlib import closing
from io import BytesIO
from pathlib import Path
from typing import Any

import pydicom

from napari_recist.errors import InputError, Problem
from napari_recist.io.pacs.cache import PatientCache, read_identity
from napari_recist.io.pacs.common import (
    CancelToken,
    InstanceRef,
    StudyInfo,
    date_range,
    parse_date,
    split_modalities,
)
from napari_recist.io.pacs.servers import Server

# Keep the stored transfer syntax (RLE, JPEG...): without "*" servers transcode to Explicit
# VR Little Endian, or refuse.
_ACCEPT_ANY_DICOM = 'multipart/related; type="application/dicom"; transfer-syntax=*'

# Threads writing retrieved instances to the cache.
WRITERS = 4
# Instances received but not yet written, at most: the receiving loop waits for a writer
# beyond this, so memory stays bounded on a large study and a cancel stops the retrieve
# within this many instances (received instances are still written: they are kept).
PENDING_WRITES = 2 * WRITERS
# Instances per STOW-RS request (one request per instance costs a round trip each).
STOW_BATCH = 32
_STUDY_FIELDS = ["StudyDescription", "ModalitiesInStudy", "NumberOfStudyRelatedSeries",
                 "PatientID"]


def _value(item: dict[str, Any], tag: str) -> Any:
    """The first value of a DICOM JSON attribute (PS3.18 F.2), None when absent."""
    values = item.get(tag, {}).get("Value")
    if not values:
        return None
    return values[0]


def _values(item: dict[str, Any], tag: str) -> list[Any]:
    return list(item.get(tag, {}).get("Value") or [])


class DicomWebTransport:
    """A DICOMweb server.

    Parameters
    ----------
    server
        A ``dicomweb`` `Server`.
    """

    def __init__(self, server: Server) -> None:
        import requests
        from dicomweb_client.api import DICOMwebClient

        self.server = server
        session = requests.Session()
        session.verify = server.ca_bundle or True
        session.headers.update(server.auth_headers())
        self.session = session
        self.client = DICOMwebClient(server.url, session=session, timeout=server.timeout)
        # No hidden retries with back-off: a failing server is reported at once.
        self.client.set_http_retry_params(retry=False)

    @contextlib.contextmanager
    def _request(self, request: str) -> Iterator[None]:
        """Turn transport errors into a `Problem` naming the server and the request."""
        import requests

        try:
            yield
        except requests.exceptions.SSLError:
            message = "TLS certificate verification failed (give a ca_bundle for a private CA)"
            raise InputError([self.server.problem(request, message)]) from None
        except requests.exceptions.Timeout:
            message = f"no answer within {self.server.timeout:g} s (timeout)"
            raise InputError([self.server.problem(request, message)]) from None
        except requests.exceptions.ConnectionError:
            message = (
                f"cannot connect to {self.server.host}:{self.server.port}: is the server "
                "running and the URL right?"
            )
            raise InputError([self.server.problem(request, message)]) from None
        except requests.exceptions.HTTPError as error:
            raise InputError([self.server.problem(request, _http_message(error))]) from None
        except (requests.exceptions.RequestException, ValueError) as error:
            message = f"unexpected answer: {type(error).__name__}"
            raise InputError([self.server.problem(request, message)]) from None

    def echo(self) -> None:
        """Check that the server answers a QIDO-RS study search."""
        with self._request("QIDO-RS search studies (limit 1)"):
            self.client.search_for_studies(limit=1)

    def find_studies(
        self, patient_id: str, date_from: dt.date | None = None, date_to: dt.date | None = None
    ) -> list[StudyInfo]:
        """Studies of a patient, optionally within a date range (QIDO-RS)."""
        filters: dict[str, Any] = {"PatientID": patient_id}
        dates = date_range(date_from, date_to)
        if dates:
            filters["StudyDate"] = dates
        with self._request(f"QIDO-RS search studies PatientID={patient_id}"):
            found = self.client.search_for_studies(
                fields=_STUDY_FIELDS, search_filters=filters, get_remaining=True
            )
        studies = []
        for item in found:
            count = _value(item, "00201206")
            studies.append(
                StudyInfo(
                    study_instance_uid=str(_value(item, "0020000D")),
                    study_date=parse_date(_value(item, "00080020")),
                    description=str(_value(item, "00081030") or ""),
                    modalities=split_modalities(_values(item, "00080061")),
                    series_count=int(count) if count is not None else None,
                    patient_id=str(_value(item, "00100020") or patient_id),
                )
            )
        return studies

    def find_instances(self, study_uid: str) -> list[InstanceRef]:
        """Every instance of a study (QIDO-RS instance search)."""
        with self._request(f"QIDO-RS search instances of study {study_uid}"):
            found = self.client.search_for_instances(
                study_instance_uid=study_uid,
                fields=["SeriesInstanceUID", "SOPClassUID"],
                get_remaining=True,
            )
        return [
            InstanceRef(
                study_uid,
                str(_value(item, "0020000E")),
                str(_value(item, "00080018")),
                str(_value(item, "00080016")),
            )
            for item in found
        ]

    def fetch(
        self,
        refs: list[InstanceRef],
        whole: set[str],
        cache: PatientCache,
        on_instance: Callable[[], None],
        cancel: CancelToken,
    ) -> list[Problem]:
        """Retrieve instances into the cache (WADO-RS), keeping their transfer syntax.

        Parameters
        ----------
        refs
            The missing instances.
        whole
            Study and series UIDs of which every instance is missing: each fetched in one
            request.
        cache
            Where to write.
        on_instance
            Called after each instance written.
        cancel
            Checked between instances.

        Returns
        -------
        list of Problem
            Instances refused by the cache (wrong patient, malformed UIDs).
        """
        problems: list[Problem] = []
        by_series: dict[tuple[str, str], list[InstanceRef]] = {}
        for ref in refs:
            by_series.setdefault((ref.study_instance_uid, ref.series_instance_uid), []).append(ref)
        # Writes (each ends with an fsync) overlap with receiving the next instances.
        with ThreadPoolExecutor(max_workers=WRITERS, thread_name_prefix="pacs-write") as pool:
            pending: list[Future[None]] = []
            room = threading.BoundedSemaphore(PENDING_WRITES)

            def written(_: Future[None]) -> None:
                room.release()
                on_instance()

            def write(part: bytes, request: str) -> None:
                job = self._check(part, cache, request, problems)
                if job is not None:
                    room.acquire()  # a writer is free: receive no further ahead of the disk
                    future = pool.submit(cache.write, *job)
                    future.add_done_callback(written)
                    pending.append(future)

            try:
                studies_done: set[str] = set()
                for (study, series), members in by_series.items():
                    cancel.check()
                    if study in whole:
                        if study not in studies_done:
                            studies_done.add(study)
                            request = f"WADO-RS retrieve study {study}"
                            with self._request(request), closing(
                                self._parts(f"/studies/{study}")
                            ) as parts:
                                for part in parts:
                                    write(part, request)
                                    cancel.check()
                        continue
                    series_path = f"/studies/{study}/series/{series}"
                    if series in whole:
                        request = f"WADO-RS retrieve series {series}"
                        with self._request(request), closing(self._parts(series_path)) as parts:
                            for part in parts:
                                write(part, request)
                                cancel.check()
                        continue
                    for ref in members:
                        cancel.check()
                        request = f"WADO-RS retrieve instance {ref.sop_instance_uid}"
                        path = f"{series_path}/instances/{ref.sop_instance_uid}"
                        with self._request(request), closing(self._parts(path)) as parts:
                            for part in parts:
                                write(part, request)
            finally:
                for future in pending:
                    future.result()  # an OSError of a write is raised here
        return problems

    def _parts(self, path: str) -> Iterator[bytes]:
        """The DICOM files of a WADO-RS multipart answer, as the server sent them.

        The bytes are kept as sent (no decoding and re-encoding: faster, and the stored
        transfer syntax and every element stay as they are); dicomweb-client's multipart
        decoder splits the stream.
        """
        response = self.session.get(
            self.server.url + path, headers={"Accept": _ACCEPT_ANY_DICOM}, stream=True,
            timeout=self.server.timeout,
        )
        try:
            response.raise_for_status()
            if response.headers.get("Content-Type", "").startswith("application/dicom"):
                yield response.content  # a single part sent without multipart framing
                return
            yield from self.client._decode_multipart_message(response, stream=True)
        finally:
            response.close()  # also when cancelled mid-stream: the connection is not left open

    def _check(
        self, part: bytes, cache: PatientCache, request: str, problems: list[Problem]
    ) -> tuple[InstanceRef, bytes] | None:
        """The instance's UIDs and file bytes, or None (and a problem) when refused."""
        source = f"{self.server.label} {request}"
        try:
            ref, patient_id = read_identity(part)
        except Exception as error:  # pydicom raises many kinds on a damaged file
            problems.append(Problem(source, f"unreadable DICOM part ({type(error).__name__})"))
            return None
        problem = cache.check(ref, patient_id, source)
        if problem is not None:
            problems.append(problem)
            return None
        if part[128:132] != b"DICM":  # PS3.18 8.7.3.1: a PS3.10 file; mend one that is not
            buffer = BytesIO()
            pydicom.dcmwrite(buffer, pydicom.dcmread(BytesIO(part), force=True),
                             enforce_file_format=True)
            part = buffer.getvalue()
        return ref, part

    def store(
        self, files: list[Path], on_instance: Callable[[], None], cancel: CancelToken
    ) -> list[Problem]:
        """Send DICOM files (STOW-RS), in batches; return the instances the server refused."""
        problems: list[Problem] = []
        for start in range(0, len(files), STOW_BATCH):
            cancel.check()
            batch = files[start : start + STOW_BATCH]
            datasets = [pydicom.dcmread(path) for path in batch]
            request = f"STOW-RS store {len(batch)} instance(s) starting with {batch[0].name}"
            with self._request(request):
                answer = self.client.store_instances(datasets)
            by_uid = {
                str(ds.SOPInstanceUID): path for ds, path in zip(datasets, batch, strict=True)
            }
            for failed in answer.get("FailedSOPSequence", []):
                uid = str(failed.get("ReferencedSOPInstanceUID", ""))
                reason = failed.get("FailureReason")
                problems.append(
                    self.server.problem(
                        f"STOW-RS store {by_uid.get(uid, uid)}",
                        f"refused by the server (failure reason {reason})",
                    )
                )
            for _ in batch:
                on_instance()
        return problems


def _http_message(error: Exception) -> str:
    response = getattr(error, "response", None)
    code = getattr(response, "status_code", None)
    reason = getattr(response, "reason", "") or ""
    if code in (401, 403):
        return (
            f"not authorised (HTTP {code} {reason}): check the token or user/password "
            "environment variables"
        )
    if code == 404:
        return (
            "not found (HTTP 404): check the URL's path (e.g. .../dicom-web) and that the "
            "study or series exists"
        )
    return f"the server answered HTTP {code} {reason}".rstrip()
