"""DIMSE transport (pynetdicom): C-ECHO, C-FIND (study root), C-GET, C-MOVE and C-STORE.

Every association sets TCP_NODELAY on its socket (without it each DIMSE message waits ~45 ms
for the peer's delayed ACK). Contexts offer one transfer syntax each, so the server sends an
instance in the syntax it is stored in (RLE, JPEG...) instead of refusing or transcoding. Our
storage SCP for C-MOVE listens on 127.0.0.1 unless told otherwise and accepts only the AE
titles it is given.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import socket
import threading
import time
from collections.abc import Callable, Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from pathlib import Path
from typing import Any

from pydicom import Dataset, dcmread
from pydicom.uid import (
    JPEG2000,
    DeflatedExplicitVRLittleEndian,
    ExplicitVRBigEndian,
    ExplicitVRLittleEndian,
    ImplicitVRLittleEndian,
    JPEG2000Lossless,
    JPEGBaseline8Bit,
    JPEGExtended12Bit,
    JPEGLosslessSV1,
    JPEGLSLossless,
    JPEGLSNearLossless,
    RLELossless,
)

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

TRANSFER_SYNTAXES = (
    ExplicitVRLittleEndian, ImplicitVRLittleEndian, DeflatedExplicitVRLittleEndian,
    ExplicitVRBigEndian, RLELossless, JPEGBaseline8Bit, JPEGExtended12Bit, JPEGLosslessSV1,
    JPEGLSLossless, JPEGLSNearLossless, JPEG2000Lossless, JPEG2000,
)
# Threads writing retrieved instances to the cache.
WRITERS = 4
# PS3.8 9.3.2: at most 128 presentation contexts per association (odd IDs 1..255).
MAX_CONTEXTS = 128
_STUDY_ROOT_FIND = "1.2.840.10008.5.1.4.1.2.2.1"
_STUDY_ROOT_MOVE = "1.2.840.10008.5.1.4.1.2.2.2"
_STUDY_ROOT_GET = "1.2.840.10008.5.1.4.1.2.2.3"
_VERIFICATION = "1.2.840.10008.1.1"
# PS3.4 C.4.2.1.5 / C.4.3.1.4: C-MOVE / C-GET response statuses worth a sentence.
_RETRIEVE_STATUS = {
    0xA701: "the server is out of resources (cannot compute the number of matches)",
    0xA702: "the server is out of resources (cannot perform the sub-operations)",
    0xA801: "the server does not know the C-MOVE destination AE title {aet}: register {aet} "
            "at 127.0.0.1 port {port} on the server",
    0xA900: "the identifier does not match the SOP class",
    0xB000: "some sub-operations failed",
    0xFE00: "cancelled",
}


def _no_delay(event: Any) -> None:
    """EVT_CONN_OPEN handler: TCP_NODELAY on the association's socket."""
    with contextlib.suppress(AttributeError, OSError):
        event.assoc.dul.socket.socket.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)


def _status_text(status: int, server: Server) -> str:
    template = _RETRIEVE_STATUS.get(status)
    if template is None:
        return f"failed with status 0x{status:04X}"
    return template.format(aet=server.calling_aet, port=server.move_port)


class DimseTransport:
    """A DIMSE server (``dimse://CALLED_AET@host:port``).

    Parameters
    ----------
    server
        A ``dimse`` `Server`.
    """

    def __init__(self, server: Server) -> None:
        self.server = server

    def _ae(self) -> Any:
        from pynetdicom import AE

        ae = AE(ae_title=self.server.calling_aet)
        timeout = self.server.timeout
        ae.connection_timeout = timeout
        ae.acse_timeout = timeout
        ae.dimse_timeout = timeout
        ae.network_timeout = timeout
        return ae

    @contextlib.contextmanager
    def _association(
        self, ae: Any, request: str, handlers: list[Any] | None = None, **kwargs: Any
    ) -> Iterator[Any]:
        """An established association, or an `InputError` saying why there is none."""
        from pynetdicom import evt

        server = self.server
        where = f"{server.host}:{server.port}"
        try:
            with socket.create_connection((server.host, server.port), timeout=server.timeout):
                pass
        except TimeoutError:
            raise InputError(
                [server.problem(request, f"no connection to {where} within {server.timeout:g} s")]
            ) from None
        except OSError as error:
            reason = error.strerror or type(error).__name__
            raise InputError(
                [server.problem(request, f"cannot connect to {where} ({reason}): is the server "
                                         "running and the URL right?")]
            ) from None
        rejection: list[str] = []

        def on_acse(event: Any) -> None:
            primitive = event.primitive
            if getattr(primitive, "result", None) in (0x01, 0x02):
                rejection.append(primitive.reason_str)

        bound = [(evt.EVT_CONN_OPEN, _no_delay), (evt.EVT_ACSE_RECV, on_acse), *(handlers or [])]
        assoc = ae.associate(
            server.host, server.port, ae_title=server.called_aet, evt_handlers=bound, **kwargs
        )
        if not assoc.is_established:
            if rejection:
                message = (
                    f"association rejected: {rejection[0]} (our AE title "
                    f"{server.calling_aet!r}, called {server.called_aet!r})"
                )
            elif assoc.is_rejected:
                message = "association rejected"
            else:
                message = (
                    f"no association within {server.timeout:g} s (timeout, or no presentation "
                    "context accepted)"
                )
            raise InputError([server.problem(request, message)])
        try:
            yield assoc
        finally:
            if assoc.is_established:
                assoc.release()

    def _dimse_failed(self, request: str, what: str) -> InputError:
        return InputError([self.server.problem(request, what)])

    def _no_answer(self, request: str, started: float) -> InputError:
        """A request that got no response: the peer ended the association, or a timeout."""
        if time.monotonic() - started < 0.9 * self.server.timeout:
            what = (
                "the server aborted the association: it may not accept our AE title "
                f"{self.server.calling_aet!r} for this request (register it on the server)"
            )
        else:
            what = f"no answer within {self.server.timeout:g} s (timeout)"
        return self._dimse_failed(request, what)

    def echo(self) -> None:
        """C-ECHO."""
        ae = self._ae()
        ae.add_requested_context(_VERIFICATION)
        with self._association(ae, "C-ECHO") as assoc:
            started = time.monotonic()
            status = assoc.send_c_echo()
            if not status:
                raise self._no_answer("C-ECHO", started)
            if status.Status != 0x0000:
                raise self._dimse_failed("C-ECHO", f"failed with status 0x{status.Status:04X}")

    @contextlib.contextmanager
    def _find_association(self, request: str) -> Iterator[Any]:
        ae = self._ae()
        ae.add_requested_context(_STUDY_ROOT_FIND)
        with self._association(ae, request) as assoc:
            yield assoc

    def _find(self, identifier: Dataset, request: str, assoc: Any = None) -> list[Dataset]:
        """C-FIND matches, on the given association or on a new one."""
        if assoc is None:
            with self._find_association(request) as assoc:
                return self._find(identifier, request, assoc)
        matches = []
        started = time.monotonic()
        for status, found in assoc.send_c_find(identifier, _STUDY_ROOT_FIND):
            if not status:
                raise self._no_answer(request, started)
            if status.Status in (0xFF00, 0xFF01):
                matches.append(found)
            elif status.Status != 0x0000:
                raise self._dimse_failed(request, _status_text(status.Status, self.server))
        return matches

    def find_studies(
        self, patient_id: str, date_from: dt.date | None = None, date_to: dt.date | None = None
    ) -> list[StudyInfo]:
        """Studies of a patient, optionally within a date range (C-FIND, study root)."""
        query = Dataset()
        query.QueryRetrieveLevel = "STUDY"
        query.PatientID = patient_id
        query.StudyInstanceUID = ""
        query.StudyDate = date_range(date_from, date_to) or ""
        query.StudyDescription = ""
        query.ModalitiesInStudy = ""
        query.NumberOfStudyRelatedSeries = ""
        found = self._find(query, f"C-FIND studies PatientID={patient_id}")
        studies = []
        for item in found:
            count = item.get("NumberOfStudyRelatedSeries")
            studies.append(
                StudyInfo(
                    study_instance_uid=str(item.StudyInstanceUID),
                    study_date=parse_date(item.get("StudyDate")),
                    description=str(item.get("StudyDescription", "") or ""),
                    modalities=split_modalities(item.get("ModalitiesInStudy")),
                    series_count=int(count) if count not in (None, "") else None,
                    patient_id=str(item.get("PatientID", patient_id)),
                )
            )
        return studies

    def find_instances(self, study_uid: str) -> list[InstanceRef]:
        """Every instance of a study (C-FIND series, then images of each series)."""
        request = f"C-FIND series of study {study_uid}"
        refs = []
        with self._find_association(request) as assoc:
            query = Dataset()
            query.QueryRetrieveLevel = "SERIES"
            query.StudyInstanceUID = study_uid
            query.SeriesInstanceUID = ""
            query.NumberOfSeriesRelatedInstances = ""
            series = {
                str(item.SeriesInstanceUID): item.get("NumberOfSeriesRelatedInstances")
                for item in self._find(query, request, assoc)
            }
            for series_uid, expected in series.items():
                query = Dataset()
                query.QueryRetrieveLevel = "IMAGE"
                query.StudyInstanceUID = study_uid
                query.SeriesInstanceUID = series_uid
                query.SOPInstanceUID = ""
                query.SOPClassUID = ""
                found = self._find(query, f"C-FIND instances of series {series_uid}", assoc)
                # A listing shorter than the series' own count would retrieve too little
                # without a word: refuse it.
                if expected not in (None, "") and int(expected) != len(found):
                    raise self._dimse_failed(
                        f"C-FIND instances of series {series_uid}",
                        f"{len(found)} instances listed, but the series counts {expected}",
                    )
                refs += [
                    InstanceRef(study_uid, series_uid, str(item.SOPInstanceUID),
                                str(item.get("SOPClassUID", "")))
                    for item in found
                ]
        return refs

    def fetch(
        self,
        refs: list[InstanceRef],
        whole: set[str],
        cache: PatientCache,
        on_instance: Callable[[], None],
        cancel: CancelToken,
    ) -> list[Problem]:
        """Retrieve instances into the cache: C-GET, or C-MOVE when the server has a move port.

        Parameters and return value as `DicomWebTransport.fetch`.
        """
        if not refs:
            return []
        problems: list[Problem] = []
        lock = threading.Lock()
        source = f"{self.server.label} C-STORE sub-operation"
        # Writes (each ends with an fsync) overlap with receiving the next instances.
        pool = ThreadPoolExecutor(max_workers=WRITERS, thread_name_prefix="pacs-write")
        pending: list[Future[Any]] = []

        def on_store(event: Any) -> int:
            data = event.encoded_dataset()
            try:
                ref, patient_id = read_identity(data)
                problem = cache.check(ref, patient_id, source)
            except Exception as error:  # pydicom raises many kinds on a damaged file
                problem = Problem(source, f"unreadable instance ({type(error).__name__})")
            if problem is not None:
                with lock:
                    problems.append(problem)
                return 0xC000  # PS3.4 B.2.3: failure, cannot understand
            future = pool.submit(cache.write, ref, data)
            future.add_done_callback(lambda _: on_instance())
            with lock:
                pending.append(future)
            return 0x0000

        identifiers = _identifiers(refs, whole)
        try:
            if self.server.move_port is None:
                self._get(refs, identifiers, on_store, cancel)
            else:
                self._move(identifiers, on_store, cancel)
        finally:
            pool.shutdown(wait=True)
            for future in pending:
                future.result()  # an OSError of a write is raised here
        return problems

    def _get(
        self,
        refs: list[InstanceRef],
        identifiers: list[tuple[str, Dataset]],
        on_store: Callable[[Any], int],
        cancel: CancelToken,
    ) -> None:
        from pynetdicom import build_role, evt

        sop_classes = sorted({ref.sop_class_uid for ref in refs if ref.sop_class_uid})
        per_class = len(TRANSFER_SYNTAXES)
        if 1 + len(sop_classes) * per_class > MAX_CONTEXTS:
            room = (MAX_CONTEXTS - 1) // per_class
            raise self._dimse_failed(
                "C-GET",
                f"{len(sop_classes)} SOP classes need more than {MAX_CONTEXTS} presentation "
                f"contexts; retrieve fewer studies at once (at most {room} SOP classes)",
            )
        ae = self._ae()
        ae.add_requested_context(_STUDY_ROOT_GET)
        for sop_class in sop_classes:
            for syntax in TRANSFER_SYNTAXES:
                ae.add_requested_context(sop_class, [syntax])
        roles = [build_role(sop_class, scp_role=True) for sop_class in sop_classes]
        handlers = [(evt.EVT_C_STORE, on_store)]
        with self._association(ae, "C-GET", handlers, ext_neg=roles) as assoc:
            for request, identifier in identifiers:
                self._retrieve(assoc.send_c_get(identifier, _STUDY_ROOT_GET), f"C-GET {request}",
                               assoc, cancel)

    def _move(
        self, identifiers: list[tuple[str, Dataset]], on_store: Callable[[Any], int],
        cancel: CancelToken,
    ) -> None:
        port = self.server.move_port
        assert port is not None
        peers = self.server.move_peers or (str(self.server.called_aet),)
        scp = StorageSCP(self.server.calling_aet, port, peers, on_store)
        with scp.running(self.server):
            ae = self._ae()
            ae.add_requested_context(_STUDY_ROOT_MOVE)
            with self._association(ae, "C-MOVE") as assoc:
                for request, identifier in identifiers:
                    responses = assoc.send_c_move(identifier, self.server.calling_aet,
                                                  _STUDY_ROOT_MOVE)
                    self._retrieve(responses, f"C-MOVE {request} to {self.server.calling_aet}",
                                   assoc, cancel)

    def _retrieve(self, responses: Any, request: str, assoc: Any, cancel: CancelToken) -> None:
        started = time.monotonic()
        for status, _identifier in responses:
            if cancel.cancelled:
                assoc.abort()
                cancel.check()
            if not status:
                raise self._no_answer(request, started)
            code = status.Status
            if code in (0xFF00, 0xFF01):
                continue
            if code == 0x0000:
                return
            failed = status.get("NumberOfFailedSuboperations", 0)
            detail = _status_text(code, self.server)
            if code == 0xB000 or failed:
                detail += f" ({failed} failed)"
            raise self._dimse_failed(request, detail)

    def store(
        self, files: list[Path], on_instance: Callable[[], None], cancel: CancelToken
    ) -> list[Problem]:
        """Send DICOM files (C-STORE), each in its own transfer syntax."""
        problems: list[Problem] = []
        headers = {}
        for path in files:
            meta = dcmread(path, stop_before_pixels=True, specific_tags=["SOPClassUID"])
            headers[path] = (str(meta.file_meta.MediaStorageSOPClassUID),
                             str(meta.file_meta.TransferSyntaxUID))
        contexts = sorted(set(headers.values()))
        if len(contexts) > MAX_CONTEXTS:
            raise self._dimse_failed("C-STORE", f"{len(contexts)} kinds of instances: send fewer "
                                                "files at once")
        ae = self._ae()
        for sop_class, syntax in contexts:
            ae.add_requested_context(sop_class, [syntax])
        with self._association(ae, "C-STORE") as assoc:
            for path in files:
                cancel.check()
                started = time.monotonic()
                status = assoc.send_c_store(path)
                if not status:
                    raise self._no_answer(f"C-STORE {path}", started)
                if status.Status not in (0x0000, 0xB000, 0xB007, 0xB006):
                    problems.append(self.server.problem(
                        f"C-STORE {path}", f"refused with status 0x{status.Status:04X}"))
                on_instance()
        return problems


def _identifiers(refs: list[InstanceRef], whole: set[str]) -> list[tuple[str, Dataset]]:
    """C-GET/C-MOVE identifiers: one per whole study or series, one per remaining instance."""
    result = []
    done: set[str] = set()
    for ref in refs:
        identifier = Dataset()
        identifier.StudyInstanceUID = ref.study_instance_uid
        if ref.study_instance_uid in whole:
            if ref.study_instance_uid not in done:
                done.add(ref.study_instance_uid)
                identifier.QueryRetrieveLevel = "STUDY"
                result.append((f"study {ref.study_instance_uid}", identifier))
            continue
        identifier.SeriesInstanceUID = ref.series_instance_uid
        if ref.series_instance_uid in whole:
            if ref.series_instance_uid not in done:
                done.add(ref.series_instance_uid)
                identifier.QueryRetrieveLevel = "SERIES"
                result.append((f"series {ref.series_instance_uid}", identifier))
            continue
        identifier.QueryRetrieveLevel = "IMAGE"
        identifier.SOPInstanceUID = ref.sop_instance_uid
        result.append((f"instance {ref.sop_instance_uid}", identifier))
    return result


class StorageSCP:
    """Our storage SCP for C-MOVE: receives instances while a move runs.

    Parameters
    ----------
    ae_title
        Our AE title (the C-MOVE destination); calls to another title are rejected.
    port
        Port to listen on.
    allowed_peers
        The only calling AE titles accepted.
    on_store
        EVT_C_STORE handler.
    host
        Interface to listen on (default 127.0.0.1: this machine only).
    """

    def __init__(
        self, ae_title: str, port: int, allowed_peers: tuple[str, ...],
        on_store: Callable[[Any], int], host: str = "127.0.0.1",
    ) -> None:
        self.ae_title = ae_title
        self.port = port
        self.allowed_peers = list(allowed_peers)
        self.on_store = on_store
        self.host = host

    @contextlib.contextmanager
    def running(self, server: Server) -> Iterator[None]:
        """Listen for the duration of the block."""
        from pynetdicom import AE, AllStoragePresentationContexts, evt

        ae = AE(ae_title=self.ae_title)
        ae.require_called_aet = True
        ae.require_calling_aet = self.allowed_peers
        ae.network_timeout = server.timeout
        ae.acse_timeout = server.timeout
        ae.dimse_timeout = server.timeout
        for context in AllStoragePresentationContexts:
            ae.add_supported_context(context.abstract_syntax, list(TRANSFER_SYNTAXES))
        handlers = [(evt.EVT_C_STORE, self.on_store), (evt.EVT_CONN_OPEN, _no_delay)]
        try:
            scp = ae.start_server((self.host, self.port), block=False, evt_handlers=handlers)
        except OSError as error:
            raise InputError(
                [server.problem("C-MOVE", f"cannot listen on {self.host}:{self.port} for the "
                                          f"C-MOVE ({error.strerror or error})")]
            ) from None
        try:
            yield
        finally:
            scp.shutdown()
