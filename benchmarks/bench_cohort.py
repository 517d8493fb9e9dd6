"""Cohort classification from DICOM SR files with 1 and 2 Dask workers, and the scaling ratio.

Generates (once, cached under out/bench_cohort/) a synthetic cohort written as patient folders of
DICOM: per scan a one-slice CT and a TID 1500 SR from the project's SR writer. Then times what
`napari-recist cohort ROOT_DIR --workers N` does in parallel (read every SR with highdicom, build
the patient record, classify) with N = 1 (in-process) and N = 2 (Dask processes), and the whole
command once (tables, plots, statistics, HTML) with 2 workers.

    .venv/bin/python benchmarks/bench_cohort.py [--patients 1000] [--data out/bench_cohort]
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import sys
import time
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

from tqdm import tqdm

from napari_recist.cli import main as cli_main
from napari_recist.cohort.batch import classify_sources, find_cohort
from napari_recist.cohort.synthetic import clinical_csv, synthetic_cohort, write_patient_folder
from napari_recist.criteria.settings import Criteria
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


def run(patients: int, data: Path, generate_workers: int) -> dict[str, float]:
    """Generate if needed, then time the classification with 1 and 2 workers."""
    root = data / "patients"
    seconds_generate = generate(root, patients, generate_workers)
    cohort = find_cohort(root)
    assert len(cohort.sources) == patients, (len(cohort.sources), patients)
    criteria = Criteria()
    timings: dict[str, float] = {"patients": float(patients), "generate_s": seconds_generate}
    results = {}
    for workers in (1, 2):
        start = time.perf_counter()
        outcomes = classify_sources(cohort.sources, criteria, workers=workers, progress=False)
        timings[f"classify_{workers}_workers_s"] = time.perf_counter() - start
        failures = [o for o in outcomes if o.patient is None]
        assert not failures, failures[:3]
        results[workers] = [o.patient for o in outcomes]
    assert results[1] == results[2], "1 and 2 workers disagree"
    timings["scaling_ratio"] = timings["classify_1_workers_s"] / timings["classify_2_workers_s"]
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


def main() -> int:
    """Run the benchmark and print its numbers."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--patients", type=int, default=1000)
    parser.add_argument("--data", type=Path, default=Path("out/bench_cohort"))
    parser.add_argument("--generate-workers", type=int, default=min(2, os.cpu_count() or 1))
    args = parser.parse_args()
    load_before = os.getloadavg()[0]
    timings = run(args.patients, args.data, args.generate_workers)
    timings["load_average_before"], timings["load_average_after"] = load_before, os.getloadavg()[0]
    n = args.patients
    print(
        f"cohort of {n} patients from DICOM SR (read SRs + classify), {os.cpu_count()} CPUs, "
        f"1-minute load average {load_before:.1f} before, {os.getloadavg()[0]:.1f} after "
        "(other processes on the machine take CPU from the 2-worker run)"
    )
    if timings["generate_s"]:
        print(f"  generated SR folders once in {timings['generate_s']:.1f} s (cached)")
    for workers in (1, 2):
        seconds = timings[f"classify_{workers}_workers_s"]
        print(f"  {workers} worker(s): {seconds:.1f} s ({n / seconds:.0f} patients/s)")
    print(f"  scaling ratio 1 -> 2 workers: {timings['scaling_ratio']:.2f}x")
    print(
        f"  whole `napari-recist cohort` (tables, plots, statistics, HTML), 2 workers: "
        f"{timings['cli_cohort_2_workers_s']:.1f} s"
    )
    (args.data / "timings.json").write_text(json.dumps(timings, indent=2), encoding="utf-8")
    return 0


if __name__ == "__main__":
    sys.exit(main())
