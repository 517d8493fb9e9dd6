"""Reading SRs and opening cohort patients: `read_sr` against pydicom, before and after sr_raw.

Three measurements, each as interleaved rounds (every variant once per round, so machine load
hits all alike), medians reported as CPU time of this process (``time.process_time``: on the
shared 2-core machine wall time mostly measures the other processes) and wall time:

1. ``read_sr`` per file against ``pydicom.dcmread(path)`` of the same file (both read the
   whole file; the page cache is warm): the ratio is what issue 12 targets (<= 10x). Files: the
   SRs the project writes, i.e. the three of sample_dicom/ and the SRs of a synthetic cohort
   patient (`napari_recist.cohort.synthetic.write_patient_folder`, written once to the cache
   folder).
2. ``read_sr`` with the raw parser (`napari_recist.io.sr_raw`, as shipped) against
   ``read_sr`` with pydicom alone (the path before issue 12, obtained by switching the parser
   off: `sr_raw.read_dataset` returning None), same files.
3. A cohort patient with real CT: what one cohort task does for a patient folder
   (`napari_recist.cohort.batch.classify_source`: one scan of the folder reading of each CT
   file only the elements that sort it into its series (`dicom_scan.GROUPING_TAGS`) and each
   SR once, the whole header only of the images SR lines are drawn on, the checker, the
   classification, the patient JSON). Patients:
   - sample_dicom/: 3 scans of 60 CT slices (RLE, Explicit VR Little Endian) and 3 SRs whose
     lines are drawn on the slices;
   - the same re-encoded as Implicit VR Little Endian (the default transfer syntax, common in
     archives), written once to the cache folder;
   - a large patient: 3 scans of 280, 250 and 300 slices and 3 SRs (the patient of
     bench_open_patient.py, with 64x64 pixels instead of 512x512: pixels are not read when a
     patient is classified, so only the headers count), written once to the cache folder.
   Each as now (``now``); with every header read whole and each SR read again by
   ``read_sr`` (``whole``: `open_patient(..., full_headers=True)`, the reference path, what
   the task did before the partial headers); as before issue 12 (``before``: that, with SRs
   read by pydicom alone and implicit VR CT headers by ``pydicom.dcmread``); and the obvious
   alternative, ``pydicom.dcmread(path, stop_before_pixels=True)`` of every file of the
   folder doing nothing with them (``dcmread``).

Run: ``.venv/bin/python benchmarks/bench_sr.py [--rounds N] [--cache DIR]
[--only files|patients]``
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from contextlib import contextmanager
from pathlib import Path
from unittest import mock

import pydicom
from pydicom.uid import ImplicitVRLittleEndian

from napari_recist.cohort.batch import PatientSource, classify_source
from napari_recist.cohort.synthetic import synthetic_cohort, write_patient_folder
from napari_recist.criteria.settings import Criteria
from napari_recist.io import dicom_scan, sr_raw
from napari_recist.io import patient as patient_io
from napari_recist.io.fast_header import read_header as fast_header
from napari_recist.io.sr_read import read_sr

ROOT = Path(__file__).resolve().parents[1]
SAMPLE = ROOT / "sample_dicom"


@contextmanager
def whole_headers():
    """Every header read whole, each SR read by read_sr itself (the reference path)."""
    open_patient = patient_io.open_patient

    def reference(paths, **kwargs):  # type: ignore[no-untyped-def]
        return open_patient(paths, **{**kwargs, "full_headers": True})

    with mock.patch.object(patient_io, "open_patient", reference):
        yield


@contextmanager
def before_issue_12():
    """SRs read by pydicom alone; implicit VR headers by dcmread (fast_header: explicit only)."""
    def explicit_only(path: Path):
        header = fast_header(path)
        return None if header is not None and header.original_encoding[0] else header

    with mock.patch.object(sr_raw, "read_dataset", lambda data: None), \
            mock.patch.object(dicom_scan, "read_fast_header", explicit_only), whole_headers():
        yield


def _cohort_patient(cache: Path) -> Path:
    folder = cache / "cohort-patient"
    if not (folder / ".complete").exists():
        shutil.rmtree(folder, ignore_errors=True)
        records, _ = synthetic_cohort(1, seed=2024)
        write_patient_folder(records[0], folder)
        (folder / ".complete").write_text("ok\n")
    return folder


def _implicit_sample(cache: Path) -> Path:
    folder = cache / "sample-implicit"
    if not (folder / ".complete").exists():
        shutil.rmtree(folder, ignore_errors=True)
        for path in sorted(SAMPLE.rglob("*.dcm")):
            target = folder / path.relative_to(SAMPLE)
            target.parent.mkdir(parents=True, exist_ok=True)
            ds = pydicom.dcmread(path)
            if ds.Modality == "CT":
                ds.decompress()  # implicit VR is uncompressed by definition
                ds.file_meta.TransferSyntaxUID = ImplicitVRLittleEndian
                ds.save_as(target)
            else:
                shutil.copyfile(path, target)
        (folder / ".complete").write_text("ok\n")
    return folder


def _large_patient(cache: Path) -> Path:
    sys.path.insert(0, str(Path(__file__).parent))
    import bench_open_patient

    folder = cache / "large-patient"
    bench_open_patient.SIZE = 64  # pixels are not read when classifying; headers are the same
    bench_open_patient.write_patient(folder)
    return folder


def interleaved(functions: dict[str, Callable[[], object]], rounds: int) -> dict[str, tuple[
        float, float]]:
    """Median (CPU s, wall s) of each function over interleaved rounds, after one warm-up."""
    cpu: dict[str, list[float]] = {name: [] for name in functions}
    wall: dict[str, list[float]] = {name: [] for name in functions}
    for function in functions.values():
        function()
    for _ in range(rounds):
        for name, function in functions.items():
            start_cpu, start_wall = time.process_time(), time.perf_counter()
            function()
            cpu[name].append(time.process_time() - start_cpu)
            wall[name].append(time.perf_counter() - start_wall)
    return {name: (statistics.median(cpu[name]), statistics.median(wall[name]))
            for name in functions}


def _old_read_sr(path: Path) -> object:
    with before_issue_12():
        return read_sr(path)


def bench_files(files: list[Path], rounds: int) -> None:
    print(f"1-2. read_sr per SR file, {rounds} interleaved rounds, medians, CPU ms (wall ms):")
    print(f"  {'file':44s} {'dcmread':>14s} {'read_sr':>14s} {'before':>14s} "
          f"{'/dcmread':>9s} {'speed-up':>9s}")
    ratios, speedups = [], []
    for path in files:
        assert read_sr(path) == _old_read_sr(path), f"{path}: the two readings differ"
        assert read_sr(path) == read_sr(path, document=sr_raw.read_dataset(path.read_bytes()))
        assert sr_raw.read_dataset(path.read_bytes()) is not None, f"{path}: not parsed"
        result = interleaved({
            "dcmread": lambda p=path: pydicom.dcmread(p),
            "read_sr": lambda p=path: read_sr(p),
            "before": lambda p=path: _old_read_sr(p),
        }, rounds)
        ratio = result["read_sr"][0] / result["dcmread"][0]
        speedup = result["before"][0] / result["read_sr"][0]
        ratios.append(ratio)
        speedups.append(speedup)
        name = str(path.relative_to(path.parents[2]))[-44:]
        cells = " ".join(f"{result[k][0] * 1e3:6.2f} ({result[k][1] * 1e3:5.2f})"
                         for k in ("dcmread", "read_sr", "before"))
        print(f"  {name:44s} {cells} {ratio:8.1f}x {speedup:8.1f}x")
    print(f"  median over files: read_sr = {statistics.median(ratios):.1f}x dcmread "
          f"(target <= 10x; 47x before), {statistics.median(speedups):.1f}x faster than before")


def bench_patients(patients: dict[str, Path], rounds: int) -> None:
    criteria = Criteria()

    def task(folder: Path) -> None:
        outcome = classify_source(PatientSource(label=str(folder), folder=folder, lenient=True),
                                  criteria)
        assert outcome.patient is not None, outcome.problems

    def task_whole(folder: Path) -> None:
        with whole_headers():
            task(folder)

    def task_before(folder: Path) -> None:
        with before_issue_12():
            task(folder)

    def dcmread_all(files: list[Path]) -> None:
        for path in files:
            pydicom.dcmread(path, stop_before_pixels=True)

    print(f"3. one cohort task per patient folder (scan, SRs, check, classify, JSON), "
          f"{rounds} interleaved rounds, medians, CPU s (wall s); target <= 0.1 s:")
    for name, folder in patients.items():
        files = sorted(folder.rglob("*.dcm"))
        result = interleaved({"now": lambda f=folder: task(f),
                              "whole": lambda f=folder: task_whole(f),
                              "before": lambda f=folder: task_before(f),
                              "dcmread": lambda f=files: dcmread_all(f)}, rounds)
        now, whole, before, dcmread = (result[k] for k in ("now", "whole", "before", "dcmread"))
        print(f"  {name:44s} {len(files):4d} files: now {now[0]:.3f} ({now[1]:.3f}), "
              f"whole headers {whole[0]:.3f} ({whole[1]:.3f}), before issue 12 "
              f"{before[0]:.3f} ({before[1]:.3f}), dcmread of every file {dcmread[0]:.3f} "
              f"({dcmread[1]:.3f}): {whole[0] / now[0]:.1f}x faster than whole headers, "
              f"{now[0] / dcmread[0]:.2f}x dcmread")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=15)
    parser.add_argument("--only", choices=("files", "patients"),
                        help="run only measurements 1-2 (files) or 3 (patients)")
    parser.add_argument("--cache", type=Path,
                        default=Path(tempfile.gettempdir()) / "napari-recist-bench-sr")
    args = parser.parse_args(argv)
    args.cache.mkdir(parents=True, exist_ok=True)
    cohort = _cohort_patient(args.cache)
    files = sorted(SAMPLE.glob("*/SR/*.dcm")) + sorted(cohort.glob("*/SR/*.dcm"))[:3]
    load = os.getloadavg()[0] if hasattr(os, "getloadavg") else float("nan")
    print(f"{os.cpu_count()} CPUs, 1-minute load average {load:.1f} (other processes share "
          "the machine: CPU times are the figures to compare)")
    if args.only != "patients":
        bench_files(files, args.rounds)
    if args.only == "files":
        return 0
    patients = {
        "sample_dicom (3 x 60 CT, RLE)": SAMPLE,
        "sample_dicom as implicit VR": _implicit_sample(args.cache),
        "synthetic cohort patient (1-slice CT/scan)": cohort,
        "large patient (280+250+300 CT)": _large_patient(args.cache),
    }
    bench_patients(patients, max(5, args.rounds // 2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
