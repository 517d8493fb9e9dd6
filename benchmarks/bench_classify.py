"""Classify a generated cohort: 10,000 patients, 6 time points, 8 lesions each.

Target (issue 2): the whole cohort in under 2 s on one core. Prints patients per second for the
verdicts alone (`classify_patient`) and for verdicts plus the JSON document (`to_json`).

    .venv/bin/python benchmarks/bench_classify.py [--patients N]
"""

from __future__ import annotations

import argparse
import datetime as dt
import random
import time

from napari_recist.criteria.report import classify_cohort, classify_patient
from napari_recist.criteria.settings import Criteria
from napari_recist.model import Assessment, Lesion, LesionState, Measurement, PatientRecord, Role

SITES = ("lung", "liver", "lymph node", "adrenal", "bone", "pleura", "kidney", "spleen")


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


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--patients", type=int, default=10_000)
    args = parser.parse_args()
    rng = random.Random(20261121)
    cohort = [generate_patient(rng, n) for n in range(args.patients)]
    criteria = Criteria()

    # CPU time of this process (one core), robust to other work on the machine; wall too.
    # The pipeline is what `napari-recist classify` and `classify_cohort` do: each patient is
    # classified and written to its JSON object, one after the other.
    wall, cpu = time.perf_counter(), time.process_time()
    document = classify_cohort(cohort, criteria)
    pipeline_wall, pipeline_cpu = time.perf_counter() - wall, time.process_time() - cpu

    wall, cpu = time.perf_counter(), time.process_time()
    for record in cohort:
        classify_patient(record, criteria)
    verdicts_wall, verdicts_cpu = time.perf_counter() - wall, time.process_time() - cpu

    n = len(document["patients"])
    print(f"patients: {n} x 6 time points x 8 lesions (CPU seconds, wall in brackets)")
    print(
        f"verdicts only:             {verdicts_cpu:6.2f} s [{verdicts_wall:6.2f}]  "
        f"{n / verdicts_cpu:7.0f}/s"
    )
    print(
        f"verdicts + JSON (the CLI): {pipeline_cpu:6.2f} s [{pipeline_wall:6.2f}]  "
        f"{n / pipeline_cpu:7.0f}/s"
    )
    seconds_for_10k = pipeline_cpu * 10_000 / n
    verdict = "met" if seconds_for_10k < 2 else "NOT met"
    print(f"10,000 patients: {seconds_for_10k:.1f} s; target < 2 s on one core: {verdict}")


if __name__ == "__main__":
    main()
