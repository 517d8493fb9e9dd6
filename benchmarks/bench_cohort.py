"""Cohort classification from DICOM SR files with 1 and 2 Dask workers; peak memory vs size.

Generates (once, cached under out/bench_cohort/) a synthetic cohort written as patient folders of
DICOM: per scan a one-slice CT and a TID 1500 SR from the project's SR writer. Then times:

- discovery: `find_cohort` (which sub-folders hold DICOM; threads);
- the batch of `napari-recist cohort ROOT --workers N` (`stream_sources`): in each patient
  folder find the CT and SR files, read every SR, build and check the record, classify, write the
  patient's JSON line; merge the lines into patients.jsonl. N = 1 (in this process) and N = 2
  (Dask processes, worker start-up included), interleaved round by round (``--runs``), medians;
- inside the 1-worker run, the time spent in `read_sr` and in parsing SRs
  (`sr_raw.read_dataset`, which the folder scan now calls once per SR, so that `read_sr` is
  given the parsed file): SR reading's share of a patient;
- ``--reference``: the 1-worker batch again through the reference path (every header read
  whole, each SR read again by `read_sr`: `open_patient(..., full_headers=True)`, what the
  batch did before the partial headers), interleaved, its patients.jsonl byte for byte the
  batch's;
- ``--interpreted-parser``: the 1-worker batch in a fresh process, twice per round: as
  installed (the SR parser compiled by mypyc) and from a copy of the package without the
  parser's compiled module (`sr_raw` interpreted, everything else as installed), both
  patients.jsonl byte for byte the same;
- the whole command once (tables, plots, statistics, HTML) with 2 workers.

``--memory`` also runs, each in a fresh process, the 2-worker batch on 1,000 and 10,000
patients, streamed (what the command does) and in memory (`classify_sources`, every patient's
JSON kept in the client), and prints each peak resident memory: of the client process, its
growth during the batch (peak minus the resident memory after `find_cohort`), and the largest
worker's (VmHWM polled while the workers run). ``--memory-source tables`` (default: cheap)
reads the patients from a synthetic lesion table, whose records the client holds from the
start (that is the table input, read up front); ``folders`` uses the DICOM folders (the 1,000
and ten hard-linked copies of them under other names), where the client holds only the folder
names but the batch takes minutes.

    .venv/bin/python benchmarks/bench_cohort.py [--patients 1000] [--data out/bench_cohort]
        [--runs 3] [--memory] [--reference] [--interpreted-parser]
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

from tqdm import tqdm

import napari_recist.io.patient as patient_io
import napari_recist.io.sr_raw as sr_raw_io
from napari_recist.cli import main as cli_main
from napari_recist.cohort.batch import classify_sources, find_cohort, stream_sources
from napari_recist.cohort.stream import iter_patients
from napari_recist.cohort.synthetic import clinical_csv, synthetic_cohort, write_patient_folder
from napari_recist.criteria.settings import Criteria
from napari_recist.io.table import write_table
from napari_recist.model import PatientRecord

SEED = 2024


def _write_one(args: tuple[PatientRecord, str]) -> str:
    record, root = args
    return str(write_patient_folder(record, Path(root) / record.patient_id))


def generate(root: Path, patients: int, workers: int) -> float:
    """Write the cohort's patient folders (skipped when already complete); seconds spent."""
    marker = root / "complete.json"
    if marker.exists() and json.loads(marker.read_text())["patients"] == patients:
        return 0.0
    if root.exists():
        shutil.rmtree(root)
    root.mkdir(parents=True)
    records, clinical = synthetic_cohort(patients, seed=SEED)
    (root.parent / "clinical.csv").write_text(clinical_csv(clinical), encoding="utf-8")
    start = time.perf_counter()
    with ProcessPoolExecutor(max_workers=workers) as pool:
        jobs = [(record, str(root)) for record in records]
        for _ in tqdm(
            pool.map(_write_one, jobs, chunksize=10),
            total=patients,
            desc="writing SR patient folders",
            unit="patient",
        ):
            pass
    marker.write_text(json.dumps({"patients": patients, "seed": SEED}))
    return time.perf_counter() - start


def link_copies(root: Path, target: Path, copies: int) -> int:
    """`copies` hard-linked copies of every patient folder of `root` (cached); folder count."""
    marker = target / "complete.json"
    folders = sorted(p for p in root.iterdir() if p.is_dir())
    if marker.exists() and json.loads(marker.read_text())["copies"] == copies:
        return len(folders) * copies
    if target.exists():
        shutil.rmtree(target)
    target.mkdir(parents=True)
    for k in range(copies):
        for folder in folders:
            destination = target / f"{folder.name}_copy{k}"
            shutil.copytree(folder, destination, copy_function=os.link)
    marker.write_text(json.dumps({"copies": copies}))
    return len(folders) * copies


class _Timed:
    """Wrap a function, adding up the wall time spent in it."""

    def __init__(self, function):  # type: ignore[no-untyped-def]
        self.function, self.seconds, self.calls = function, 0.0, 0

    def __call__(self, *args, **kwargs):  # type: ignore[no-untyped-def]
        start = time.perf_counter()
        try:
            return self.function(*args, **kwargs)
        finally:
            self.seconds += time.perf_counter() - start
            self.calls += 1


def _streamed(sources, criteria, workers, reference=False):  # type: ignore[no-untyped-def]
    open_patient = patient_io.open_patient

    def whole_headers(paths, **kwargs):  # type: ignore[no-untyped-def]
        return open_patient(paths, **{**kwargs, "full_headers": True})

    with tempfile.TemporaryDirectory(prefix="bench_cohort_") as out:
        if reference:
            patient_io.open_patient = whole_headers  # type: ignore[assignment]
        try:
            start = time.perf_counter()
            result = stream_sources(sources, criteria, out, workers=workers, progress=False)
            seconds = time.perf_counter() - start
        finally:
            patient_io.open_patient = open_patient  # type: ignore[assignment]
        assert not result.summary.failures, result.summary.failures[:3]
        return seconds, list(iter_patients(result.results)), result.results.read_bytes()


def batch_child(root: Path) -> dict[str, object]:
    """In a fresh process: the 1-worker batch on `root`; seconds and patients.jsonl's digest."""
    cohort = find_cohort(root)
    with tempfile.TemporaryDirectory(prefix="bench_cohort_child_") as out:
        start = time.perf_counter()
        result = stream_sources(cohort.sources, Criteria(), out, workers=1, progress=False)
        seconds = time.perf_counter() - start
        assert not result.summary.failures, result.summary.failures[:3]
        digest = hashlib.sha256(result.results.read_bytes()).hexdigest()
    return {"seconds": seconds, "parser": sr_raw_io.__file__, "digest": digest}


def interpreted_parser_copy(target: Path) -> Path:
    """The installed package copied under `target` without the SR parser's compiled module."""
    package = Path(sr_raw_io.__file__).resolve().parents[1]
    shutil.copytree(package, target / "napari_recist", ignore=shutil.ignore_patterns(
        "__pycache__", "sr_raw.*.so", "sr_raw.*.pyd"))
    for group in package.parent.glob("napari_recist_engine__mypyc*"):  # the engine's runtime
        shutil.copy2(group, target / group.name)
    return target


def _batch_in_child(root: Path, pythonpath: Path | None) -> dict[str, object]:
    env = dict(os.environ)
    if pythonpath is not None:
        env["PYTHONPATH"] = str(pythonpath)
    output = subprocess.run([sys.executable, __file__, "--batch-child", str(root)], env=env,
                            check=True, capture_output=True, text=True).stdout
    return json.loads(output.strip().splitlines()[-1])


def run(patients: int, data: Path, generate_workers: int, runs: int,
        reference_path: bool = False, interpreted_parser: bool = False) -> dict[str, float]:
    """Generate if needed, then time discovery and the batch with 1 and 2 workers."""
    root = data / "patients"
    seconds_generate = generate(root, patients, generate_workers)
    start = time.perf_counter()
    cohort = find_cohort(root)
    seconds_find = time.perf_counter() - start
    assert len(cohort.sources) == patients, (len(cohort.sources), patients)
    criteria = Criteria()
    timings: dict[str, float] = {
        "patients": float(patients), "generate_s": seconds_generate, "find_cohort_s": seconds_find,
    }  # fmt: skip
    rounds: dict[int, list[float]] = {1: [], 2: []}
    reference_rounds: list[float] = []
    sr_share: list[float] = []
    parse_share: list[float] = []
    reference = None
    parser_rounds: dict[str, list[float]] = {"compiled": [], "interpreted": []}
    digests: set[str] = set()
    copies = tempfile.TemporaryDirectory(prefix="bench_cohort_parser_")
    copy = interpreted_parser_copy(Path(copies.name)) if interpreted_parser else None
    for _ in range(runs):
        for workers in (1, 2):
            timed = parse = None
            if workers == 1:
                timed = _Timed(patient_io.read_sr)
                parse = _Timed(sr_raw_io.read_dataset)
                patient_io.read_sr = timed  # type: ignore[assignment]
                sr_raw_io.read_dataset = parse  # type: ignore[assignment]
            try:
                seconds, result, lines = _streamed(cohort.sources, criteria, workers)
            finally:
                if timed is not None and parse is not None:
                    patient_io.read_sr = timed.function  # type: ignore[assignment]
                    sr_raw_io.read_dataset = parse.function  # type: ignore[assignment]
            rounds[workers].append(seconds)
            if timed is not None and parse is not None:
                sr_share.append(timed.seconds / seconds)
                parse_share.append(parse.seconds / seconds)
                timings["sr_files"] = float(timed.calls)
            if reference is None:
                reference = result
            assert result == reference, "1 and 2 workers disagree"
        if interpreted_parser:
            for name, path in (("compiled", None), ("interpreted", copy)):
                child = _batch_in_child(root, path)
                assert child["parser"].endswith(".py") == (name == "interpreted"), child
                parser_rounds[name].append(child["seconds"])  # type: ignore[arg-type]
                digests.add(child["digest"])  # type: ignore[arg-type]
            assert digests == {hashlib.sha256(lines).hexdigest()}, "the two parsers disagree"
        if reference_path:
            seconds, _, reference_lines = _streamed(cohort.sources, criteria, 1, reference=True)
            assert reference_lines == lines, "patients.jsonl differs from the reference path's"
            reference_rounds.append(seconds)
    # The in-memory batch (the library call) gives the same patients.
    in_memory = classify_sources(cohort.sources, criteria, workers=2, progress=False)
    assert [o.patient for o in in_memory] == reference, "streamed and in-memory disagree"
    for workers in (1, 2):
        timings[f"classify_{workers}_workers_s"] = statistics.median(rounds[workers])
        timings[f"classify_{workers}_workers_all_s"] = rounds[workers]  # type: ignore[assignment]
    timings["scaling_ratio"] = statistics.median(
        a / b for a, b in zip(rounds[1], rounds[2], strict=True)
    )
    timings["read_sr_share_1_worker"] = statistics.median(sr_share)
    timings["sr_parse_share_1_worker"] = statistics.median(parse_share)
    if reference_rounds:
        timings["reference_1_worker_s"] = statistics.median(reference_rounds)
    copies.cleanup()
    for name, seconds in parser_rounds.items():
        if seconds:
            timings[f"parser_{name}_1_worker_s"] = statistics.median(seconds)
    out = data / "report"
    start = time.perf_counter()
    code = cli_main(
        [
            "cohort",
            str(root),
            "--clinical",
            str(data / "clinical.csv"),
            "--out",
            str(out),
            "--workers",
            "2",
            "--quiet",
        ]
    )
    timings["cli_cohort_2_workers_s"] = time.perf_counter() - start
    assert code == 0
    return timings


def _resident_mb() -> float:
    with open("/proc/self/statm") as handle:
        return int(handle.read().split()[1]) * os.sysconf("SC_PAGE_SIZE") / 2**20


class _ChildPeak:
    """Poll the peak resident memory (VmHWM) of this process's children while they run.

    ``RUSAGE_CHILDREN``'s ru_maxrss would count each spawned worker's forked copy of this
    process before its exec: the client's size, not the worker's.
    """

    def __init__(self) -> None:
        import threading

        self.peak_kb, self._stop = 0, threading.Event()
        self._thread = threading.Thread(target=self._poll, daemon=True)
        self._thread.start()

    def _children(self) -> list[str]:
        pids: list[str] = []
        for task in os.listdir("/proc/self/task"):
            try:
                with open(f"/proc/self/task/{task}/children") as handle:
                    pids += handle.read().split()
            except OSError:
                continue
        return pids

    def _poll(self) -> None:
        while not self._stop.wait(0.2):
            for pid in self._children():
                try:
                    with open(f"/proc/{pid}/status") as handle:
                        for line in handle:
                            if line.startswith("VmHWM:"):
                                self.peak_kb = max(self.peak_kb, int(line.split()[1]))
                except OSError:
                    continue

    def stop(self) -> float:
        """Stop polling; the largest child's peak in MB."""
        self._stop.set()
        self._thread.join()
        return self.peak_kb / 1024


def memory_child(root: Path, mode: str, workers: int) -> dict[str, float]:
    """In a fresh process: the batch on `root`; peak resident memory (MB) of it and its workers."""
    cohort = find_cohort(root)
    criteria = Criteria()
    before = _resident_mb()
    children = _ChildPeak()
    start = time.perf_counter()
    if mode == "streamed":
        with tempfile.TemporaryDirectory(prefix="bench_cohort_mem_") as out:
            result = stream_sources(cohort.sources, criteria, out, workers=workers, progress=False)
            classified = result.summary.classified
    else:
        outcomes = classify_sources(cohort.sources, criteria, workers=workers, progress=False)
        classified = sum(o.patient is not None for o in outcomes)
    seconds = time.perf_counter() - start
    worker_peak = children.stop()
    # ru_maxrss is in KiB on Linux.
    return {
        "patients": float(len(cohort.sources)), "classified": float(classified),
        "seconds": seconds,
        "client_peak_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
        "client_growth_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024 - before,
        "worker_peak_mb": worker_peak,
    }  # fmt: skip


def memory(data: Path, modes: list[str], workers: int, source: str) -> list[dict[str, object]]:
    """Peak memory of the batch on 1,000 and 10,000 patients, each in a fresh process."""
    if source == "folders":
        print("linking 10 copies of the patient folders ...", flush=True)
        link_copies(data / "patients", data / "patients_x10", 10)
        roots = [data / "patients", data / "patients_x10"]
    else:
        roots = []
        for count in (1000, 10000):
            table = data / f"lesions_{count}.csv"
            if not table.exists():
                records, _ = synthetic_cohort(count, seed=SEED)
                write_table(records, table)
            roots.append(table)
    rows: list[dict[str, object]] = []
    for mode in modes:
        for root in roots:
            output = subprocess.run(
                [sys.executable, __file__, "--memory-child", str(root), "--mode", mode,
                 "--workers", str(workers)],
                check=True, capture_output=True, text=True,
            ).stdout  # fmt: skip
            row = {"mode": mode, "source": source, **json.loads(output.strip().splitlines()[-1])}
            print(f"  {mode:9s} {int(row['patients']):6d} patients: client peak "
                  f"{row['client_peak_mb']:6.0f} MB (batch +{row['client_growth_mb']:5.0f} MB), "
                  f"largest worker {row['worker_peak_mb']:4.0f} MB, {row['seconds']:.0f} s",
                  flush=True)  # fmt: skip
            rows.append(row)
    return rows


def main() -> int:
    """Run the benchmark and print its numbers."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--patients", type=int, default=1000)
    parser.add_argument("--data", type=Path, default=Path("out/bench_cohort"))
    parser.add_argument("--generate-workers", type=int, default=min(2, os.cpu_count() or 1))
    parser.add_argument("--runs", type=int, default=1, help="interleaved rounds (median)")
    parser.add_argument("--memory", action="store_true", help="peak memory at 1x and 10x")
    parser.add_argument("--reference", action="store_true",
                        help="also time the 1-worker batch through the whole-header path")
    parser.add_argument("--memory-modes", default="streamed,in-memory")
    parser.add_argument("--memory-source", choices=("tables", "folders"), default="tables")
    parser.add_argument("--skip-timing", action="store_true")
    parser.add_argument("--interpreted-parser", action="store_true",
                        help="also time the 1-worker batch with the SR parser interpreted")
    parser.add_argument("--memory-child", type=Path, help=argparse.SUPPRESS)
    parser.add_argument("--batch-child", type=Path, help=argparse.SUPPRESS)
    parser.add_argument("--mode", default="streamed", help=argparse.SUPPRESS)
    parser.add_argument("--workers", type=int, default=2, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.batch_child is not None:
        print(json.dumps(batch_child(args.batch_child)))
        return 0
    if args.memory_child is not None:
        print(json.dumps(memory_child(args.memory_child, args.mode, args.workers)))
        return 0
    load_before = os.getloadavg()[0]
    n = args.patients
    timings: dict[str, object] = {}
    if not args.skip_timing:
        timings = run(n, args.data, args.generate_workers, args.runs,  # type: ignore[assignment]
                      args.reference, args.interpreted_parser)
        print(
            f"cohort of {n} patients from DICOM SR, {os.cpu_count()} CPUs, 1-minute load "
            f"average {load_before:.1f} before, {os.getloadavg()[0]:.1f} after (other processes "
            "on the machine take CPU from the 2-worker run)"
        )
        if timings["generate_s"]:
            print(f"  generated SR folders once in {timings['generate_s']:.1f} s (cached)")
        print(f"  discovery (find_cohort, {n} folders): {timings['find_cohort_s']:.2f} s")
        print(f"  batch (stream_sources: find files, read SRs, classify, write JSON lines), "
              f"median of {args.runs} interleaved round(s):")  # fmt: skip
        for workers in (1, 2):
            seconds = timings[f"classify_{workers}_workers_s"]
            print(f"    {workers} worker(s): {seconds:.1f} s ({n / seconds:.0f} patients/s)"
                  + ("   target <= 12 s" if workers == 1 else ""))  # fmt: skip
        print(f"  scaling ratio 1 -> 2 workers: {timings['scaling_ratio']:.2f}x")
        print(f"  read_sr share of the 1-worker batch: {timings['read_sr_share_1_worker']:.0%} "
              f"({int(timings['sr_files'])} SR files), parsing the SRs (sr_raw, in the folder "
              f"scan) {timings['sr_parse_share_1_worker']:.0%}")  # fmt: skip
        if "reference_1_worker_s" in timings:
            ref = timings["reference_1_worker_s"]
            print(f"  reference path (every header whole, SRs read again by read_sr), 1 worker: "
                  f"{ref:.1f} s: the batch is {ref / timings['classify_1_workers_s']:.2f}x "
                  "faster, patients.jsonl byte for byte the same")  # fmt: skip
        if "parser_compiled_1_worker_s" in timings:
            ours = timings["parser_compiled_1_worker_s"]
            theirs = timings["parser_interpreted_1_worker_s"]
            print(f"  1 worker in a fresh process, SR parser compiled: {ours:.1f} s; "
                  f"interpreted: {theirs:.1f} s (compiled {ours / theirs:.2f}x), "
                  "patients.jsonl byte for byte the same")  # fmt: skip
        print(
            f"  whole `napari-recist cohort` (tables, plots, statistics, HTML), 2 workers: "
            f"{timings['cli_cohort_2_workers_s']:.1f} s"
        )
    if args.memory:
        print(f"peak memory of the 2-worker batch ({args.memory_source}), each run in a fresh "
              "process:")  # fmt: skip
        timings["memory"] = memory(  # type: ignore[assignment]
            args.data, args.memory_modes.split(","), 2, args.memory_source
        )
    args.data.mkdir(parents=True, exist_ok=True)
    (args.data / "timings.json").write_text(json.dumps(timings, indent=2), encoding="utf-8")
    return 0


if __name__ == "__main__":
    sys.exit(main())
