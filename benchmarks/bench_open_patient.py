"""Open a realistic patient without a GUI: napari-recist's one loader vs reading with pydicom.

The patient: 3 CT scans of 280, 250 and 300 slices of 512x512 (uncompressed, as a PACS
exports them) and one TID 1500 SR per scan with 5 lesions whose lines lie on real slices. It
is written once to a cache folder (``--folder``, default under the temp folder).

Timed, page cache warm, interleaved rounds, medians:
- ``ours``: `napari_recist._napari.reader.load_patient_for_viewer` (what the napari reader
  does before the window gets its layers: one scan of the folder, SRs read with the CT
  headers in hand, each scan's volume prepared lazily with its display geometry).
- ``pydicom``: the obvious alternative: ``pydicom.dcmread(stop_before_pixels=True)`` of every
  CT file (the headers any loader needs to sort slices and place lines) plus ``dcmread`` of
  every SR, doing nothing with them.
Target (issue 8): ours <= 0.35 s on the 2-core test machine (0.79 s before the one-pipeline
refactor, measured with the same patient).

Run: ``.venv/bin/python benchmarks/bench_open_patient.py [--runs N] [--folder DIR]``
"""

from __future__ import annotations

import argparse
import datetime as dt
import os
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pydicom

from napari_recist.io.sr import write_timepoint_sr
from napari_recist.model import (
    Assessment,
    AxisGeometry,
    Lesion,
    LesionState,
    Measurement,
    PatientRecord,
    Role,
)
from napari_recist.sample import CTSeriesIdentity, write_ct_series

SIZE = 512
PIXEL_MM = 0.78
SLICE_MM = 1.25
SCANS = ((dt.date(2024, 1, 8), 280), (dt.date(2024, 3, 4), 250), (dt.date(2024, 4, 29), 300))
ORIGIN = (-200.0, -200.0, -350.0)
LESIONS = (("L1", "lung", 40, 30.0), ("L2", "liver", 120, 42.0), ("L3", "lymph node", 80, 18.0),
           ("L4", "liver", 150, 25.0), ("L5", "bone", 200, 20.0))


def _identity(date: dt.date, name: str) -> CTSeriesIdentity:
    uid = pydicom.uid.generate_uid
    return CTSeriesIdentity(
        patient={"PatientName": "Bench^Open", "PatientID": "BENCH-OPEN",
                 "PatientBirthDate": "19600101", "PatientSex": "F"},
        study_uid=uid(entropy_srcs=[name, "study"]), study_date=date, study_id="1",
        accession_number=name, study_description="benchmark",
        series_uid=uid(entropy_srcs=[name, "series"]), series_number=1,
        series_description="benchmark CT", frame_of_reference_uid=uid(entropy_srcs=["frame"]),
    )


def write_patient(root: Path) -> None:
    """Write the three scans and their SRs (once; reused while the folder exists)."""
    marker = root / ".complete"
    if marker.exists():
        return
    rng = np.random.default_rng(3)
    y, x = np.mgrid[:SIZE, :SIZE]
    body = ((x - SIZE / 2) / 220) ** 2 + ((y - SIZE / 2) / 170) ** 2 <= 1
    plane = np.where(body, 40, -1000).astype(np.int16)
    lesions = {lid: Lesion(lid, Role.TARGET, site, site == "lymph node")
               for lid, site, _, _ in LESIONS}
    record = PatientRecord("BENCH-OPEN", lesions, [])
    files_by_scan = []
    for index, (date, slices) in enumerate(SCANS):
        hu = np.repeat(plane[None], slices, axis=0)
        hu += rng.normal(0, 10, hu.shape).astype(np.int16)
        np.clip(hu, -1024, 3071, out=hu)
        folder = root / f"{date.isoformat()}" / "CT"
        files = write_ct_series(hu, folder, _identity(date, f"scan{index}"),
                                first_voxel_lps=ORIGIN, pixel_mm=PIXEL_MM,
                                slice_mm=SLICE_MM, compress=False)
        files_by_scan.append(files)
        measurements = {}
        for lid, _, z, size in LESIONS:
            header = pydicom.dcmread(files[z], stop_before_pixels=True)
            zmm = float(header.ImagePositionPatient[2])
            length = size * (1 + 0.1 * index)
            axis = AxisGeometry(((0.0, 0.0, zmm), (length, 0.0, zmm)),
                                str(header.SOPInstanceUID))
            nodal = lid == "L3"
            measurements[lid] = Measurement(
                lid, LesionState.MEASURED, long_axis_mm=length,
                short_axis_mm=length if nodal else None,
                long_axis=axis, short_axis=axis if nodal else None,
            )
        record.assessments.append(Assessment(index, date, measurements))
    for index, files in enumerate(files_by_scan):
        write_timepoint_sr(record, index, files, root / SCANS[index][0].isoformat() / "SR.dcm")
    marker.write_text("ok\n")


def ours(root: Path) -> int:
    from napari_recist._napari.reader import load_patient_for_viewer

    loaded = load_patient_for_viewer([root])
    return sum(a.measurements.__len__() for a in loaded.record.assessments)


def with_pydicom(root: Path) -> int:
    count = 0
    for path in sorted(p for p in root.rglob("*.dcm")):
        if path.name == "SR.dcm":
            count += len(pydicom.dcmread(path).ContentSequence)
        else:
            pydicom.dcmread(path, stop_before_pixels=True)
    return count


def median_times(functions: dict[str, Callable[[], object]], runs: int) -> dict[str, float]:
    times: dict[str, list[float]] = {name: [] for name in functions}
    for function in functions.values():  # warm-up: page cache, imports
        function()
    for _ in range(runs):
        for name, function in functions.items():
            start = time.perf_counter()
            function()
            times[name].append(time.perf_counter() - start)
    return {name: statistics.median(values) for name, values in times.items()}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--folder", type=Path,
                        default=Path(tempfile.gettempdir()) / "napari-recist-bench-open-patient")
    args = parser.parse_args(argv)
    root = args.folder
    start = time.perf_counter()
    write_patient(root)
    files = sum(1 for _ in root.rglob("*.dcm"))
    print(f"patient: {files} DICOM files in {root} (ready in {time.perf_counter() - start:.1f} s)")
    assert ours(root) == 15, "the loader did not find the 15 measurements"
    result = median_times({"ours": lambda: ours(root), "pydicom": lambda: with_pydicom(root)},
                          args.runs)
    load = os.getloadavg()[0] if hasattr(os, "getloadavg") else float("nan")
    print(f"open a patient (3 x 250-300 slices 512x512 + 3 SRs), median of {args.runs}, "
          f"load average {load:.1f}:")
    print(f"  napari-recist load_patient_for_viewer: {result['ours']:.3f} s "
          f"(target <= 0.35 s; 0.79 s before issue 8)")
    print(f"  pydicom headers of every file + SRs:    {result['pydicom']:.3f} s "
          f"({result['pydicom'] / result['ours']:.1f}x ours)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
