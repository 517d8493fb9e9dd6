"""A synthetic immunotherapy cohort (lesion records and clinical table) for demos and benchmarks.

Patients follow one of five courses seen in the seeds: response (every lesion shrinks),
stable disease, progression (lesions grow and a new lesion may appear), dissociated response
(some lesions shrink while others grow or a new lesion appears, seeds 000-002) and
pseudoprogression (growth, then shrinkage). Assessments every 8 weeks until progression plus one
confirmation scan. Survival is exponential with a hazard set by the course (responders live
longest, true progressors shortest, DR in between, as in seeds 000 and 002), censored
administratively. Deterministic for a given seed. Not real data: it exercises the pipeline.
"""

from __future__ import annotations

import datetime as dt
import math
import random
from dataclasses import dataclass

from napari_recist.model import (
    Assessment,
    Lesion,
    LesionState,
    Measurement,
    PatientRecord,
    Role,
    build_record,
)

SITES = ("lung", "liver", "lymph node", "adrenal", "bone", "peritoneum", "soft tissue")
# Course: (weight in the cohort, per-visit relative size change of (shrinking, growing) lesions,
# median OS in days). The OS medians echo seed 002 (true response longest, true PD ~5 months).
COURSES: dict[str, tuple[float, tuple[float, float], float]] = {
    "response": (0.25, (-0.22, -0.15), 900.0),
    "stable": (0.30, (-0.05, 0.04), 480.0),
    "progression": (0.25, (0.12, 0.25), 170.0),
    "dissociated": (0.12, (-0.25, 0.30), 700.0),
    "pseudoprogression": (0.08, (0.30, -0.30), 650.0),
}
VISIT_DAYS = 56
ADMINISTRATIVE_CENSOR_DAYS = 1100.0


@dataclass(frozen=True)
class SyntheticClinical:
    """The clinical table row of one synthetic patient."""

    patient_id: str
    os_days: int
    os_event: bool
    sex: str
    ecog: str


def _course(rng: random.Random) -> str:
    draw = rng.random()
    total = 0.0
    for name, (weight, _, _) in COURSES.items():
        total += weight
        if draw <= total:
            return name
    return "stable"


def synthetic_patient(
    index: int, rng: random.Random, start: dt.date
) -> tuple[PatientRecord, SyntheticClinical]:
    """One synthetic patient and their clinical row.

    Parameters
    ----------
    index
        Patient number, used in the id (``SYN0001``).
    rng
        Random source.
    start
        Baseline date of the first patient; later patients start later.

    Returns
    -------
    tuple
        The patient record and the clinical row.
    """
    patient_id = f"SYN{index:04d}"
    course = _course(rng)
    _, (shrink, grow), median_os = COURSES[course]
    baseline = start + dt.timedelta(days=rng.randrange(0, 365))
    n_targets = rng.randint(2, 4)
    sites = rng.sample(SITES, n_targets)
    targets = [
        Lesion(f"T{k + 1}", Role.TARGET, site, nodal=(site == "lymph node"))
        for k, site in enumerate(sites)
    ]
    lesions = list(targets)
    sizes = [rng.uniform(16.0, 55.0) for _ in targets]
    # Which lesions shrink: all for response, some for DR, per visit phase for pseudoprogression.
    if course == "dissociated":
        shrinking = [k % 2 == 0 for k in range(n_targets)]
    else:
        shrinking = [course in ("response", "stable")] * n_targets
    # Progressors are scanned until progression is confirmed; others for 3-6 visits.
    visits = rng.randint(2, 3) if course == "progression" else rng.randint(3, 6)
    assessments: list[Assessment] = []
    new_lesion_visit = (
        rng.randint(1, 2)
        if course == "progression" and rng.random() < 0.5
        else (2 if course == "dissociated" and rng.random() < 0.5 else None)
    )
    for visit in range(visits + 1):
        date = baseline + dt.timedelta(
            days=visit * VISIT_DAYS + (rng.randint(-4, 4) if visit else 0)
        )
        measurements: dict[str, Measurement] = {}
        for k, lesion in enumerate(targets):
            if visit:
                if course == "pseudoprogression":
                    rate = shrink if visit == 1 else grow  # grows once, then shrinks
                else:
                    rate = shrink if shrinking[k] else grow
                sizes[k] = max(0.0, sizes[k] * (1 + rate + rng.uniform(-0.03, 0.03)))
            size = round(sizes[k], 1)
            if lesion.nodal:
                measurements[lesion.lesion_id] = Measurement(
                    lesion.lesion_id, LesionState.MEASURED, round(size * 1.3, 1), size
                )
            elif size < 5.0:
                measurements[lesion.lesion_id] = Measurement(lesion.lesion_id, LesionState.ABSENT)
            else:
                measurements[lesion.lesion_id] = Measurement(
                    lesion.lesion_id, LesionState.MEASURED, size, round(size * 0.7, 1)
                )
        if new_lesion_visit is not None and visit >= new_lesion_visit:
            if visit == new_lesion_visit:
                lesions.append(Lesion("N1", Role.NEW, rng.choice(("liver", "bone", "brain"))))
            measurements["N1"] = Measurement("N1", LesionState.PRESENT)
        assessments.append(Assessment(visit, date, measurements))
    record = build_record(patient_id, lesions, assessments)
    os_days = rng.expovariate(math.log(2) / median_os)
    event = os_days < ADMINISTRATIVE_CENSOR_DAYS
    last_scan = (assessments[-1].date - baseline).days
    os_days = max(os_days if event else ADMINISTRATIVE_CENSOR_DAYS, last_scan + 1.0)
    clinical = SyntheticClinical(
        patient_id=patient_id,
        os_days=int(round(os_days)),
        os_event=event,
        sex=rng.choice(("male", "female")),
        ecog=rng.choice(("0-1", "0-1", "0-1", "2-4")),
    )
    return record, clinical


def synthetic_cohort(
    size: int, seed: int = 0, start: dt.date = dt.date(2023, 1, 9)
) -> tuple[list[PatientRecord], list[SyntheticClinical]]:
    """A deterministic synthetic cohort.

    Parameters
    ----------
    size
        Number of patients.
    seed
        Random seed.
    start
        Earliest baseline date.

    Returns
    -------
    tuple
        Patient records and clinical rows, in the same order.
    """
    rng = random.Random(seed)
    pairs = [synthetic_patient(i + 1, rng, start) for i in range(size)]
    return [r for r, _ in pairs], [c for _, c in pairs]


def clinical_csv(rows: list[SyntheticClinical]) -> str:
    """The clinical table of synthetic patients as CSV text."""
    lines = ["patient_id,os_days,os_event,sex,ecog"]
    lines += [f"{r.patient_id},{r.os_days},{int(r.os_event)},{r.sex},{r.ecog}" for r in rows]
    return "\n".join(lines) + "\n"
