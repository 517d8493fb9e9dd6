"""`napari-recist classify` on a 10,000-patient lesion table (6 time points, 8 lesions each).

What is timed (issue 12), all in one run, medians of interleaved repetitions:

1. The whole command line, each run in a fresh process started by a small parent:
   ``napari-recist classify TABLE.csv --json OUT.json -v`` with the terminal summary going to
   a file. Reading and checking the table, classifying, writing the JSON (every reason) and
   the summary: wall time and the process's peak RSS (``wait4``), and the phases the command
   logs with ``-v`` (read, engine, JSON, summary). The command classifies on one process per
   core (``--workers``); its memory is the peak of the PSS summed over the command and its
   workers, sampled every 10 ms from /proc (shared pages counted once), beside the largest
   single-process peak RSS the kernel reports (``wait4``). The sampler itself takes about a
   second of CPU a run (reading smaps_rollup of every process 100 times a second), which on a
   machine with few cores slows the command it watches: the wall time and the phases are
   those of runs without it, the memory that of a second run with it (interleaved; its wall
   time is shown too). Targets: <= 3 s wall and <= 400 MB.
   With ``--compare SRC`` the same command from another source tree (e.g.
   ``/work/main/src``, the code before) runs interleaved.
2. The engine, in a fresh process per repetition: records -> every patient's JSON object with
   every reason (`classify_patient(...).to_json()`, what the command does per patient): its
   CPU time and wall time on one process, and its wall time on one process per core as the
   command runs it (`napari_recist.commands._parallel`, forked workers on contiguous slices;
   CPU seconds summed over the workers). Against a vectorised numpy floor, which runs on one
   core: the same RECIST 1.1 numbers and verdicts (sum of
   diameters, nadir, changes from baseline and nadir, target / non-target / new-lesion /
   overall response per assessment, best overall response) computed over the whole cohort at
   once from arrays laid out beforehand; also with laying out the arrays from the same
   records included (the engine's input). The floor is checked equal to the engine on every
   patient before it is timed. Target: engine <= 40x the floor (stretch 20x); the ratios are
   given for the one-process CPU time (like for like with the single-core floor) and for the
   wall time on every core.

3. The compiled engine against the same sources interpreted (``--interpreted``, on by default
   when the engine is compiled): a copy of the package's .py files (no extension modules)
   runs the same CLI and the same engine measurements, interleaved.

Beside the floor, the benchmark times building the engine's output objects alone
(``orjson.loads`` of each patient's own JSON: the same dicts, lists and strings, made in C
with no rule computed), a bound under any engine that returns the contract's objects, and
encoding them as the command writes them (orjson, indented), a bound under any engine that
writes the contract's JSON.

The floor knows only what this cohort needs (measured or absent targets, present / absent /
progression non-targets, one new lesion); the engine does every criterion of
shared/spec/criteria.md with reasons, so the ratio is the price of everything else.

    .venv/bin/python benchmarks/bench_classify.py [--patients N] [--repeat R] [--compare SRC]
        [--no-interpreted]
"""

from __future__ import annotations

import argparse
import datetime as dt
import gc
import json
import os
import random
import re
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

import numpy as np

from napari_recist import engine_is_compiled
from napari_recist.commands._json_stream import BATCH, encode_patients
from napari_recist.commands._parallel import map_slices, worker_count
from napari_recist.criteria.report import classify_patient
from napari_recist.criteria.settings import EPSILON, Criteria
from napari_recist.model import Assessment, Lesion, LesionState, Measurement, PatientRecord, Role

SITES = ("lung", "liver", "lymph node", "adrenal", "bone", "pleura", "kidney", "spleen")
SEED = 20261121


def generate_patient(rng: random.Random, number: int) -> PatientRecord:
    """One patient: 5 targets, 2 non-targets, 1 new lesion, baseline + 5 follow-ups."""
    lesions = []
    for k in range(5):
        site = SITES[k]
        lesions.append(Lesion(f"T{k + 1}", Role.TARGET, site, nodal=site == "lymph node"))
    lesions.append(Lesion("N1", Role.NON_TARGET, "bone"))
    lesions.append(Lesion("N2", Role.NON_TARGET, "pleura"))
    lesions.append(Lesion("X1", Role.NEW, rng.choice(SITES)))
    new_at = rng.randint(1, 7)  # 6 or 7: never appears
    trends = {lesion.lesion_id: rng.uniform(-0.25, 0.2) for lesion in lesions}
    sizes = {lesion.lesion_id: rng.uniform(12, 60) for lesion in lesions}
    start = dt.date(2024, 1, 1)
    assessments = []
    for tp in range(6):
        measurements = {}
        for lesion in lesions:
            lid = lesion.lesion_id
            if lesion.role is Role.NEW and tp < new_at:
                continue
            if lesion.role is Role.NON_TARGET:
                state = rng.choice((LesionState.PRESENT, LesionState.PRESENT, LesionState.ABSENT))
                if tp and rng.random() < 0.05:
                    state = LesionState.PROGRESSION
                measurements[lid] = Measurement(lid, state)
                continue
            if tp:
                sizes[lid] = max(0.0, sizes[lid] * (1 + trends[lid] + rng.uniform(-0.05, 0.05)))
            size = round(sizes[lid], 1)
            if lesion.nodal:
                measurements[lid] = Measurement(lid, LesionState.MEASURED, size + 4, size)
            elif size < 3:
                measurements[lid] = Measurement(lid, LesionState.ABSENT)
            else:
                measurements[lid] = Measurement(lid, LesionState.MEASURED, size, None)
        assessments.append(Assessment(tp, start + dt.timedelta(days=56 * tp), measurements))
    return PatientRecord(f"P{number:05d}", {les.lesion_id: les for les in lesions}, assessments)


def generate_cohort(patients: int) -> list[PatientRecord]:
    rng = random.Random(SEED)
    return [generate_patient(rng, n) for n in range(patients)]


# -- the vectorised floor -------------------------------------------------------------------
CODES = ("NA", "CR", "PR", "SD", "NON-CR/NON-PD", "PD", "NE")
NA_, CR_, PR_, SD_, NN_, PD_, NE_ = range(7)
BOR_RANK = np.array([-1, 5, 4, 3, 2, -1, -1])  # CR > PR > SD > NON-CR/NON-PD (counted ones)


def layout(cohort: list[PatientRecord], criteria: Criteria) -> dict[str, np.ndarray]:
    """Arrays of the cohort: target diameters, non-target states, new lesion present, days."""
    targets = [lid for lid, lesion in cohort[0].lesions.items() if lesion.role is Role.TARGET]
    non_targets = [
        lid for lid, lesion in cohort[0].lesions.items() if lesion.role is Role.NON_TARGET
    ]
    n, t = len(cohort), len(cohort[0].assessments)
    diameters = np.zeros((n, t, len(targets)))
    nodal = np.array([cohort[0].lesions[lid].nodal for lid in targets])
    progression = np.zeros((n, t, len(non_targets)), bool)
    present = np.zeros((n, t, len(non_targets)), bool)
    new = np.zeros((n, t), bool)
    days = np.zeros((n, t))
    for p, record in enumerate(cohort):
        start = record.assessments[0].date
        for i, assessment in enumerate(record.assessments):
            days[p, i] = (assessment.date - start).days
            for k, lid in enumerate(targets):
                m = assessment.measurements[lid]
                diameters[p, i, k] = m.diameter_mm(bool(nodal[k]), criteria.too_small_mm)
            for k, lid in enumerate(non_targets):
                state = assessment.measurements[lid].state
                progression[p, i, k] = state is LesionState.PROGRESSION
                present[p, i, k] = state is not LesionState.ABSENT
            x = assessment.measurements.get("X1")
            new[p, i] = x is not None and x.state is LesionState.MEASURED and bool(x.long_axis_mm)
    return {"d": diameters, "nodal": nodal, "prog": progression, "present": present,
            "new": new, "days": days}


def floor(a: dict[str, np.ndarray], c: Criteria) -> dict[str, np.ndarray]:
    """RECIST 1.1 numbers and verdicts of every patient at once (the obvious numpy version)."""
    d, nodal = a["d"], a["nodal"]
    n, t, _ = d.shape
    sod = d.sum(axis=2)
    nadir = np.minimum.accumulate(sod, axis=1)
    nadir = np.concatenate([np.full((n, 1), np.nan), nadir[:, :-1]], axis=1)
    base = sod[:, :1]
    with np.errstate(divide="ignore", invalid="ignore"):
        from_base = (sod - base) / base * 100
        from_nadir = np.where(nadir == 0, np.nan, (sod - nadir) / nadir * 100)
    resolved = np.where(nodal, d < c.node_normal_mm - EPSILON, d <= 0).all(axis=2)
    grew = sod - nadir >= c.pd_min_increase_mm - EPSILON
    pd = grew & np.where(nadir == 0, sod > EPSILON, from_nadir >= c.pd_pct - EPSILON)
    pr = from_base <= c.pr_pct + EPSILON
    back_target = np.where(nodal, d >= c.node_normal_mm - EPSILON, d > 0).any(axis=2)
    back_non_target = a["present"].any(axis=2)
    progressed = a["prog"].any(axis=2)
    nt_cr = ~a["present"].any(axis=2)
    target = np.full((n, t), NA_)
    non_target = np.full((n, t), NA_)
    overall = np.full((n, t), NA_)
    pr_reached = np.zeros(n, bool)
    for i in range(1, t):
        after_cr = overall[:, i - 1] == CR_  # RWG FAQ: the previous follow-up was CR
        tr = np.select(
            [after_cr & back_target[:, i], resolved[:, i], pd[:, i], pr[:, i] | pr_reached],
            [PD_, CR_, PD_, PR_], SD_)
        nt = np.select([progressed[:, i], after_cr & back_non_target[:, i], nt_cr[:, i]],
                       [PD_, PD_, CR_], NN_)
        ov = np.select([(tr == PD_) | (nt == PD_) | a["new"][:, i], tr == CR_],
                       [PD_, np.where(nt == CR_, CR_, PR_)], tr)
        target[:, i], non_target[:, i], overall[:, i] = tr, nt, ov
        pr_reached = np.where(tr == PD_, False, pr_reached | (tr == CR_) | (tr == PR_))
    follow = overall[:, 1:]
    is_pd = follow == PD_
    first_pd = np.where(is_pd.any(axis=1), is_pd.argmax(axis=1), t)  # index in follow
    before = np.arange(t - 1)[None, :] <= first_pd[:, None]
    rank = np.where(before & (a["days"][:, 1:] >= c.min_sd_days), BOR_RANK[follow], -1)
    best = np.array([CR_, PR_, SD_, NN_])[np.argmax(np.stack(
        [(rank == r).any(axis=1) for r in (5, 4, 3, 2)]), axis=0)]
    bor = np.where(rank.max(axis=1) >= 0, best, np.where(first_pd < t, PD_, NE_))
    return {"sum_mm": sod, "nadir_mm": nadir, "from_base": from_base, "from_nadir": from_nadir,
            "target": target, "non_target": non_target, "overall": overall, "bor": bor}


def check_floor(result: dict[str, np.ndarray], patients: list[dict]) -> None:
    """The floor gives the engine's numbers and verdicts on every patient (else it is no floor)."""
    def close(ours: float | None, theirs: float, decimals: int) -> bool:
        if ours is None:
            return bool(np.isnan(theirs))
        return ours == float(round(theirs, decimals)) or abs(ours - theirs) < 0.051

    for p, patient in enumerate(patients):
        assert CODES[result["bor"][p]] == patient["best_overall_response"], patient["patient_id"]
        for i, tp in enumerate(patient["timepoints"]):
            for key in ("target", "non_target", "overall"):
                assert CODES[result[key][p, i]] == tp[key], (patient["patient_id"], i, key)
            assert close(tp["sum_mm"], result["sum_mm"][p, i], 2)
            if i:
                assert close(tp["nadir_mm"], result["nadir_mm"][p, i], 2)
                assert close(tp["change_from_baseline_pct"], result["from_base"][p, i], 1)
                assert close(tp["change_from_nadir_pct"], result["from_nadir"][p, i], 1)


# -- timing ---------------------------------------------------------------------------------
PHASES = re.compile(r"read ([\d.]+) s, engine ([\d.]+) s, json ([\d.]+) s, csv [\d.]+ s, "
                    r"summary ([\d.]+) s")
WORKERS = re.compile(r"(\d+) worker processes")


def _tree_pss_kb(pid: int) -> int:
    """PSS of a process and its descendants (kB), 0 for those already gone."""
    total, pending = 0, [pid]
    while pending:
        current = pending.pop()
        try:
            for line in Path(f"/proc/{current}/smaps_rollup").read_text().splitlines():
                if line.startswith("Pss:"):
                    total += int(line.split()[1])
                    break
            for task in Path(f"/proc/{current}/task").iterdir():
                pending += [int(child) for child in (task / "children").read_text().split()]
        except (FileNotFoundError, ProcessLookupError, PermissionError, ValueError):
            continue
    return total


class _PeakSampler(threading.Thread):
    """Peak of the PSS summed over a process tree, sampled every 10 ms."""

    def __init__(self, pid: int) -> None:
        super().__init__(daemon=True)
        self.pid, self.peak_kb, self.done = pid, 0, threading.Event()

    def run(self) -> None:
        while not self.done.is_set():
            self.peak_kb = max(self.peak_kb, _tree_pss_kb(self.pid))
            self.done.wait(0.01)


def run_cli(table: Path, out: Path, src: str | None, *, sample: bool) -> dict[str, float]:
    """One `napari-recist classify` in a fresh process: wall, logged phases, the largest
    process's peak RSS, and with `sample` the peak PSS of the process tree."""
    env = dict(os.environ)
    if src:
        env["PYTHONPATH"] = src
    command = [sys.executable, "-m", "napari_recist.cli", "classify", str(table),
               "--json", str(out), "-v"]
    with open(out.with_suffix(".txt"), "wb") as summary, tempfile.TemporaryFile() as log:
        start = time.perf_counter()
        process = subprocess.Popen(command, stdout=summary, stderr=log, env=env)
        sampler = _PeakSampler(process.pid)
        if sample:
            sampler.start()
        _, status, usage = os.wait4(process.pid, 0)
        wall = time.perf_counter() - start
        if sample:
            sampler.done.set()
            sampler.join()
        process.returncode = os.waitstatus_to_exitcode(status)
        log.seek(0)
        text = log.read().decode()
    if process.returncode:
        raise SystemExit(f"classify failed ({process.returncode}):\n{text}")
    found = PHASES.search(text)
    phases = dict(zip(("read", "engine", "json", "summary"),
                      map(float, found.groups()), strict=True)) if found else {}
    workers = WORKERS.search(text)
    memory = {"peak_mb": sampler.peak_kb / 1024} if sample else {}
    return {"wall": wall, **memory, "rss_mb": usage.ru_maxrss / 1024,
            "workers": float(workers.group(1)) if workers else 1.0, **phases}


def timed_and_sampled(table: Path, out: Path, src: str | None) -> dict[str, float]:
    """A run without the memory sampler (wall, phases) and one with it (peak memory)."""
    timed = run_cli(table, out, src, sample=False)
    sampled = run_cli(table, out, src, sample=True)
    return {**timed, "peak_mb": sampled["peak_mb"], "rss_mb": sampled["rss_mb"],
            "sampled_wall": sampled["wall"]}


def time_engine(
    cohort: list[PatientRecord], criteria: Criteria
) -> tuple[float, float, list[dict]]:
    """The engine on one process: wall seconds, CPU seconds, the patient objects."""
    gc.disable()
    try:
        start, cpu = time.perf_counter(), time.process_time()
        patients = [classify_patient(record, criteria).to_json() for record in cohort]
        return time.perf_counter() - start, time.process_time() - cpu, patients
    finally:
        gc.enable()


def time_engine_parallel(
    cohort: list[PatientRecord], criteria: Criteria
) -> tuple[float, float, int]:
    """The engine as the command runs it on every core: wall seconds, CPU seconds summed
    over the workers, the number of workers. Each worker classifies its slices and returns
    the patients' orjson bytes (what the command's workers send back)."""
    def work(start: int, stop: int) -> tuple[float, int]:
        cpu = time.process_time()
        patients = [classify_patient(record, criteria).to_json() for record in cohort[start:stop]]
        bytes(encode_patients(patients))
        return time.process_time() - cpu, len(patients)

    workers = worker_count(len(cohort))
    gc.disable()
    try:
        start = time.perf_counter()
        parts = list(map_slices(len(cohort), work, workers))
        wall = time.perf_counter() - start
    finally:
        gc.enable()
    assert sum(count for _, count in parts) == len(cohort)
    return wall, sum(cpu for cpu, _ in parts), workers


def time_floor(arrays: dict[str, np.ndarray], criteria: Criteria) -> tuple[float, dict]:
    start = time.perf_counter()
    result = floor(arrays, criteria)
    return time.perf_counter() - start, result


def time_objects(patients: list[dict]) -> float:
    """CPU seconds to build the engine's output objects alone, from their JSON, in C.

    ``orjson.loads`` of each patient's own encoding makes the same dicts, lists, strings and
    numbers the engine returns, with no rule computed: a bound below which no engine that
    returns the contract's objects can go in CPython (best of 3)."""
    import orjson

    encoded = [orjson.dumps(patient) for patient in patients]
    best = float("inf")
    gc.disable()
    try:
        for _ in range(3):
            cpu = time.process_time()
            rebuilt = [orjson.loads(text) for text in encoded]
            best = min(best, time.process_time() - cpu)
            del rebuilt
    finally:
        gc.enable()
    return best


def time_encoding(patients: list[dict]) -> float:
    """CPU seconds to encode the engine's output objects as the command writes them.

    `encode_patients` (orjson, C, indented) over batches of `BATCH` patients, as the
    command's workers do; no rule computed, nothing written (best of 3)."""
    best = float("inf")
    gc.disable()
    try:
        for _ in range(3):
            cpu = time.process_time()
            for start in range(0, len(patients), BATCH):
                encode_patients(patients[start : start + BATCH])
            best = min(best, time.process_time() - cpu)
    finally:
        gc.enable()
    return best


def time_layout(cohort: list[PatientRecord], criteria: Criteria) -> float:
    start = time.perf_counter()
    layout(cohort, criteria)
    return time.perf_counter() - start


def median(runs: list[dict[str, float]], key: str) -> float:
    values = [run[key] for run in runs if key in run]
    return statistics.median(values) if values else float("nan")


def engine_run(patients: int) -> dict[str, float]:
    """One engine measurement (in its own process): engine, floor, layout, in seconds."""
    criteria = Criteria()
    cohort = generate_cohort(patients)
    seconds, cpu, outputs = time_engine(cohort, criteria)
    arrays = layout(cohort, criteria)
    check_floor(floor(arrays, criteria), outputs)  # the same numbers and verdicts, or no floor
    objects = time_objects(outputs)
    encoding = time_encoding(outputs)
    del outputs
    parallel_wall, parallel_cpu, workers = time_engine_parallel(cohort, criteria)
    return {
        "engine": seconds,
        "engine_cpu": cpu,
        "parallel_wall": parallel_wall,
        "parallel_cpu": parallel_cpu,
        "workers": workers,
        "floor": min(time_floor(arrays, criteria)[0] for _ in range(5)),
        "layout": time_layout(cohort, criteria),
        "objects": objects,
        "encoding": encoding,
    }


def in_child(*options: str, src: str | None = None) -> str:
    """Run this script in a fresh process (the parent stays small: a child's peak RSS as the
    kernel reports it includes what its parent held when it was started); `src` first on the
    import path."""
    env = {**os.environ, "PYTHONPATH": src} if src else None
    done = subprocess.run([sys.executable, __file__, *options], capture_output=True, text=True,
                          env=env)
    if done.returncode:
        raise SystemExit(f"{' '.join(options)} failed:\n{done.stderr}")
    return done.stdout


def interpreted_copy(folder: Path) -> str:
    """The package's sources without extension modules, as a folder to put on PYTHONPATH."""
    import shutil

    import napari_recist

    target = folder / "interpreted"
    shutil.rmtree(target, ignore_errors=True)
    shutil.copytree(Path(napari_recist.__file__).parent, target / "napari_recist",
                    ignore=shutil.ignore_patterns("*.so", "*.pyd", "__pycache__"))
    return str(target)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--patients", type=int, default=10_000)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--compare", metavar="SRC", help="also run the CLI from this src folder")
    parser.add_argument("--no-interpreted", action="store_true",
                        help="skip the interpreted build of the same sources")
    parser.add_argument("--write-table", metavar="CSV", help=argparse.SUPPRESS)
    parser.add_argument("--engine-run", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.write_table:
        from napari_recist.io.table import write_table

        write_table(generate_cohort(args.patients), args.write_table)
        return 0
    if args.engine_run:
        print(json.dumps(engine_run(args.patients)))
        return 0
    folder = Path(tempfile.gettempdir()) / "napari-recist-bench-classify"
    folder.mkdir(exist_ok=True)
    table = folder / f"table-{args.patients}.csv"
    if not table.exists():
        in_child("--patients", str(args.patients), "--write-table", str(table))

    interpreted = None
    if engine_is_compiled() and not args.no_interpreted:
        interpreted = interpreted_copy(folder)
    ours: list[dict[str, float]] = []
    before: list[dict[str, float]] = []
    pure_cli: list[dict[str, float]] = []
    runs: list[dict[str, float]] = []
    pure_runs: list[dict[str, float]] = []
    for _ in range(args.repeat):  # interleaved: every measurement sees the same machine load
        ours.append(timed_and_sampled(table, folder / "ours.json", None))
        if args.compare:
            before.append(timed_and_sampled(table, folder / "before.json", args.compare))
        if interpreted:
            pure_cli.append(timed_and_sampled(table, folder / "interpreted.json", interpreted))
        runs.append(json.loads(in_child("--patients", str(args.patients), "--engine-run")))
        if interpreted:
            pure_runs.append(json.loads(in_child("--patients", str(args.patients),
                                                 "--engine-run", src=interpreted)))
    if interpreted and (folder / "ours.json").read_bytes() != (
        folder / "interpreted.json"
    ).read_bytes():
        raise SystemExit("the compiled and the interpreted engine wrote different JSON")
    load = os.getloadavg()[0]
    print(f"{args.patients} patients x 6 time points x 8 lesions; table {table} "
          f"({table.stat().st_size / 1e6:.0f} MB); medians of {args.repeat} interleaved runs; "
          f"load average {load:.1f} on {os.cpu_count()} cores")
    print("whole CLI (napari-recist classify TABLE --json OUT, summary to a file; wall and phases "
          "from runs without the memory sampler, memory from a run with it after each):")
    print(f"  engine: {'compiled (mypyc)' if engine_is_compiled() else 'interpreted'}")
    for name, cli_runs in (("this code", ours), (f"--compare {args.compare}", before),
                           ("the same sources interpreted", pure_cli)):
        if not cli_runs:
            continue
        phases = (
            f"; phases read {median(cli_runs, 'read'):.2f} s, engine "
            f"{median(cli_runs, 'engine'):.2f} s, JSON {median(cli_runs, 'json'):.2f} s, "
            f"summary {median(cli_runs, 'summary'):.2f} s"
            if "read" in cli_runs[0]
            else " (this code logs no phases)"
        )
        workers = median(cli_runs, "workers")
        where = "in one process" if workers == 1 else f"on {workers:.0f} worker processes"
        walls = [run["wall"] for run in cli_runs]
        print(f"  {name}: wall {median(cli_runs, 'wall'):.2f} s (runs {min(walls):.2f}-"
              f"{max(walls):.2f} s) classifying {where}; peak memory "
              f"{median(cli_runs, 'peak_mb'):.0f} MB (PSS summed over the processes; largest "
              f"single-process RSS {median(cli_runs, 'rss_mb'):.0f} MB; wall "
              f"{median(cli_runs, 'sampled_wall'):.2f} s in those runs, with the sampler)"
              f"{phases}")
    for label, other in (("--compare", before), ("interpreted", pure_cli)):
        if other:
            print(f"  this code / {label}: {median(ours, 'wall') / median(other, 'wall'):.2f}x"
                  f" the wall time, {median(ours, 'peak_mb') / median(other, 'peak_mb'):.2f}x "
                  "the peak memory")
    if pure_cli:
        print("  (the compiled and the interpreted engine wrote byte-identical JSON)")
    wall, peak = median(ours, "wall"), median(ours, "peak_mb")
    if args.patients != 10_000:
        print("  (the targets are for 10,000 patients)")
    print(f"  target <= 3 s wall: {'met' if wall <= 3 else 'NOT met'}; "
          f"<= 400 MB: {'met' if peak <= 400 else 'NOT met'}")
    floor_s, layout_s = median(runs, "floor"), median(runs, "layout")
    print(f"engine (records -> patient JSON objects, every reason); the vectorised RECIST floor "
          f"runs on one core: {floor_s * 1000:.1f} ms on arrays laid out beforehand, "
          f"{(floor_s + layout_s):.2f} s with laying out the arrays from the records")

    def verdict(ratio: float) -> str:
        return (f"target <= 40x {'met' if ratio <= 40 else 'NOT met'}, stretch 20x "
                f"{'met' if ratio <= 20 else 'not met'}")

    for label, key in (("one process, CPU time", "engine_cpu"),
                       ("one process, wall time", "engine"),
                       (f"{median(runs, 'workers'):.0f} processes, wall time", "parallel_wall")):
        seconds = median(runs, key)
        pre = statistics.median(run[key] / run["floor"] for run in runs)
        rec = statistics.median(run[key] / (run["floor"] + run["layout"]) for run in runs)
        print(f"  {label}: {seconds:.2f} s; ratio {pre:.0f}x the floor on laid-out arrays "
              f"({verdict(pre)}), {rec:.1f}x the floor from the records ({verdict(rec)})")
    print(f"  ({median(runs, 'workers'):.0f} processes: CPU seconds summed over the workers "
          f"{median(runs, 'parallel_cpu'):.2f} s)")
    objects = median(runs, "objects")
    print(f"  building the output objects alone (orjson.loads of each patient's own JSON, C, no "
          f"rule computed, one core): {objects:.2f} s = "
          f"{statistics.median(r['objects'] / r['floor'] for r in runs):.0f}x the laid-out "
          f"floor, against {40 * floor_s:.2f} s that the 40x target leaves the whole engine; "
          f"the engine is {median(runs, 'engine_cpu') / objects:.1f}x this bound")
    encoding = median(runs, "encoding")
    print(f"  encoding those objects alone as the command writes them (orjson, C, indented, "
          f"one core): {encoding:.2f} s = "
          f"{statistics.median(r['encoding'] / r['floor'] for r in runs):.0f}x the laid-out "
          f"floor (the command's JSON is about 20 KB a patient)")
    if pure_runs:
        for label, key in (("one process, CPU time", "engine_cpu"),
                           (f"{median(pure_runs, 'workers'):.0f} processes, wall time",
                            "parallel_wall")):
            print(f"  the same sources interpreted, {label}: {median(pure_runs, key):.2f} s; "
                  f"compiled / interpreted "
                  f"{statistics.median(r[key] for r in runs) / median(pure_runs, key):.2f}x; "
                  f"interpreted {median(pure_runs, key) / median(runs, 'floor'):.0f}x the floor")
    return 0


if __name__ == "__main__":
    sys.exit(main())
