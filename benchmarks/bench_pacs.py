"""Retrieve the sample patient (183 instances: 180 RLE CT slices, 3 SRs) from a real Orthanc.

Starts Orthanc (Debian `orthanc` + `orthanc-dicomweb`) on free loopback ports, uploads
`sample_dicom/` through its REST API, then times, interleaved round by round, the retrieve of
the whole patient into an empty folder:

- ours over DICOMweb (`PacsClient.retrieve`: QIDO instance listing, WADO-RS per series,
  patient and UID checks, atomic writes into patient/study/series);
- ours over DIMSE, C-GET and C-MOVE (C-FIND listing, same checks and writes);
- the obvious alternatives, in the same run: a plain dicomweb-client loop (QIDO series, then
  `iter_series` and `dcmwrite` into one folder), and a plain pynetdicom C-GET per study with a
  handler writing `event.encoded_dataset()` (pynetdicom defaults, and with TCP_NODELAY set as
  we do);
- ours again with everything cached (the second retrieve: listing only, nothing travels).

Prints the median seconds per 100 instances and the ratio ours / plain (below 1: ours faster).

Run: ``.venv/bin/python benchmarks/bench_pacs.py [--runs N]``
"""

from __future__ import annotations

import argparse
import socket
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import replace
from pathlib import Path

import pydicom

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tests" / "pacs"))

from _orthanc import CLIENT_AET, Orthanc, orthanc_missing, start_orthanc  # noqa: E402

from napari_recist.io.pacs import PacsClient, parse_server_url  # noqa: E402

PATIENT = "NRS-SAMPLE-001"
INSTANCES = 183


def plain_dicomweb(orthanc: Orthanc, out: Path) -> int:
    from dicomweb_client.api import DICOMwebClient

    client = DICOMwebClient(orthanc.dicomweb_url)
    count = 0
    for series in client.search_for_series(search_filters={"PatientID": PATIENT}):
        study_uid = series["0020000D"]["Value"][0]
        series_uid = series["0020000E"]["Value"][0]
        for dataset in client.iter_series(study_uid, series_uid,
                                          media_types=(("application/dicom", "*"),)):
            pydicom.dcmwrite(out / f"{dataset.SOPInstanceUID}.dcm", dataset,
                             enforce_file_format=True)
            count += 1
    return count


def plain_cget(orthanc: Orthanc, out: Path, no_delay: bool) -> int:
    from pydicom import Dataset
    from pydicom.uid import ExplicitVRLittleEndian, RLELossless
    from pynetdicom import AE, build_role, evt
    from pynetdicom.sop_class import (
        ComprehensiveSRStorage,
        CTImageStorage,
        StudyRootQueryRetrieveInformationModelFind,
        StudyRootQueryRetrieveInformationModelGet,
    )

    comprehensive_3d = "1.2.840.10008.5.1.4.1.1.88.34"
    count = [0]

    def on_store(event: evt.Event) -> int:
        (out / f"{event.request.AffectedSOPInstanceUID}.dcm").write_bytes(
            event.encoded_dataset()
        )
        count[0] += 1
        return 0x0000

    def on_open(event: evt.Event) -> None:
        event.assoc.dul.socket.socket.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)

    handlers = [(evt.EVT_C_STORE, on_store)] + ([(evt.EVT_CONN_OPEN, on_open)] if no_delay else [])
    ae = AE(ae_title=CLIENT_AET)
    ae.add_requested_context(StudyRootQueryRetrieveInformationModelFind)
    ae.add_requested_context(StudyRootQueryRetrieveInformationModelGet)
    sop_classes = (CTImageStorage, comprehensive_3d, ComprehensiveSRStorage)
    for sop_class in sop_classes:
        for syntax in (ExplicitVRLittleEndian, RLELossless):
            ae.add_requested_context(sop_class, [syntax])
    roles = [build_role(sop_class, scp_role=True) for sop_class in sop_classes]
    assoc = ae.associate("127.0.0.1", orthanc.dicom_port, ae_title="ORTHANC", ext_neg=roles,
                         evt_handlers=handlers)
    assert assoc.is_established
    query = Dataset()
    query.QueryRetrieveLevel = "STUDY"
    query.PatientID = PATIENT
    query.StudyInstanceUID = ""
    studies = [found.StudyInstanceUID for status, found in
               assoc.send_c_find(query, StudyRootQueryRetrieveInformationModelFind)
               if status and status.Status in (0xFF00, 0xFF01)]
    for uid in studies:
        identifier = Dataset()
        identifier.QueryRetrieveLevel = "STUDY"
        identifier.StudyInstanceUID = uid
        for _status, _ in assoc.send_c_get(identifier, StudyRootQueryRetrieveInformationModelGet):
            pass
    assoc.release()
    return count[0]


def ours(client: PacsClient) -> Callable[[Path], int]:
    def run(out: Path) -> int:
        result = client.retrieve(PATIENT, out)
        assert not result.problems, result.problems
        return result.fetched
    return run


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=5)
    args = parser.parse_args()
    reason = orthanc_missing()
    if reason:
        print(f"skipped: {reason}")
        return 0
    with tempfile.TemporaryDirectory() as folder:
        orthanc = start_orthanc(Path(folder) / "orthanc")
        try:
            assert orthanc.upload(ROOT / "sample_dicom") == INSTANCES
            web = PacsClient(parse_server_url(orthanc.dicomweb_url))
            dimse_server = parse_server_url(orthanc.dimse_url, calling_aet=CLIENT_AET)
            cget = PacsClient(dimse_server)
            cmove = PacsClient(replace(dimse_server, move_port=orthanc.move_port))
            cached_root = Path(folder) / "cached"
            web.retrieve(PATIENT, cached_root)
            contenders: dict[str, Callable[[Path], int]] = {
                "ours DICOMweb": ours(web),
                "plain dicomweb-client": lambda out: plain_dicomweb(orthanc, out),
                "ours DIMSE C-GET": ours(cget),
                "ours DIMSE C-MOVE": ours(cmove),
                "plain pynetdicom C-GET": lambda out: plain_cget(orthanc, out, no_delay=False),
                "plain pynetdicom C-GET + TCP_NODELAY":
                    lambda out: plain_cget(orthanc, out, no_delay=True),
            }
            times: dict[str, list[float]] = {name: [] for name in contenders}
            times["ours DICOMweb, all cached (2nd retrieve)"] = []
            for round_number in range(args.runs + 1):  # round 0 is a warm-up
                for name, run in contenders.items():
                    out = Path(tempfile.mkdtemp(dir=folder))
                    start = time.perf_counter()
                    count = run(out)
                    elapsed = time.perf_counter() - start
                    assert count == INSTANCES, (name, count)
                    if round_number:
                        times[name].append(elapsed)
                start = time.perf_counter()
                assert web.retrieve(PATIENT, cached_root).fetched == 0
                if round_number:
                    times["ours DICOMweb, all cached (2nd retrieve)"].append(
                        time.perf_counter() - start)
        finally:
            orthanc.stop()
    per_100 = {name: statistics.median(values) / INSTANCES * 100 for name, values in times.items()}
    print(f"Retrieve of {INSTANCES} instances from Orthanc on loopback, median of {args.runs} "
          "runs, seconds per 100 instances:")
    for name, value in per_100.items():
        print(f"  {name:42s} {value:7.3f} s")
    print("Ratios (ours / plain; < 1 means ours is faster):")
    print(f"  DICOMweb:          {per_100['ours DICOMweb'] / per_100['plain dicomweb-client']:.2f}")
    for mode in ("C-GET", "C-MOVE"):
        ours_value = per_100[f"ours DIMSE {mode}"]
        print(f"  DIMSE {mode:6s} vs plain C-GET: "
              f"{ours_value / per_100['plain pynetdicom C-GET']:.2f}, vs plain C-GET + "
              f"TCP_NODELAY: {ours_value / per_100['plain pynetdicom C-GET + TCP_NODELAY']:.2f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
