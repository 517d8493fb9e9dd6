"""A cohort rebuilt from seed 000 (Tozuka et al., BMC Cancer 2020), Tables 1 and 3.

62 NSCLC patients, all RECIST PD at the first CT: the 11 DR patients of Table 3 (response and
progression sites, sex, age band) and 51 true PD patients, with the Table 1 characteristics in
each group (age >= 75, sex, PS, smoking, histology, driver mutation, line). The lesion sizes are
made up so that each patient meets the paper's definition: DR = some lesions shrink while others
grow or new ones appear; true PD = every lesion grows. Survival times are not published per
patient: the OS here is made up (exponential, DR medians about 14 vs 6.6 months) and serves only
to exercise the pipeline, never to check a published number.
"""

from __future__ import annotations

import datetime as dt
import random

from napari_recist.model import Assessment, Lesion, LesionState, Measurement, Role, build_record

BASE = dt.date(2017, 1, 9)
FIRST_CT_DAYS = 44  # Results: median interval to the first CT 44 days

# Table 3: (sex, age band, response sites, progression sites as (site, how)).
TABLE_3 = (
    ("M", "71-75", ("lung",), (("bone", "new"),)),
    ("M", "26-30", ("lung", "lymph node", "kidney", "adrenal"), (("lung", "non-target"),
                                                                   ("adrenal", "new"))),
    ("M", "46-50", ("lung",), (("lung", "target"),)),
    ("M", "71-75", ("lung",), (("lung", "target"), ("lymph node", "non-target"),
                               ("liver", "non-target"))),
    ("M", "66-70", ("lung", "lymph node"), (("adrenal", "new"),)),
    ("M", "76-80", ("lymph node",), (("lung", "new"),)),
    ("F", "46-50", ("lymph node",), (("lung", "target"), ("lymph node", "non-target"),
                                     ("soft tissue", "non-target"))),
    ("F", "51-55", ("lung",), (("lung", "target"), ("lung", "new"))),
    ("F", "41-45", ("lymph node", "lung"), (("brain", "new"), ("lung", "new"),
                                            ("bone", "non-target"))),
    ("M", "76-80", ("lung",), (("lymph node", "non-target"),)),
    ("F", "66-70", ("liver",), (("lung", "target"), ("lymph node", "non-target"),
                                ("liver", "new"))),
)  # fmt: skip

# Table 1: patients with each characteristic, (DR of 11, true PD of 51).
TABLE_1 = {
    "age_75_or_more": (2, 9),
    "male": (7, 33),
    "ps_0_1": (8, 38),
    "smoker": (6, 39),
    "squamous": (2, 10),
    "driver_positive": (3, 12),
    "second_line": (7, 25),
}


def _lesions_dr(index: int, rng: random.Random) -> tuple[list[Lesion], list[Assessment]]:
    _, _, responding, progressing = TABLE_3[index]
    lesions: list[Lesion] = []
    base: dict[str, Measurement] = {}
    follow: dict[str, Measurement] = {}
    growing_targets = [site for site, how in progressing if how == "target"]
    for k, site in enumerate(responding[:2]):  # RECIST 1.1: at most 2 targets per organ...
        lesion_id = f"T{k + 1}"
        lesions.append(Lesion(lesion_id, Role.TARGET, site, nodal=site == "lymph node"))
        size = 30.0
        base[lesion_id] = Measurement(lesion_id, LesionState.MEASURED, size, size * 0.7)
        shrunk = size * 0.8
        follow[lesion_id] = Measurement(lesion_id, LesionState.MEASURED, shrunk, shrunk * 0.7)
    for k, site in enumerate(responding[2:]):
        lesion_id = f"NT{k + 1}"
        lesions.append(Lesion(lesion_id, Role.NON_TARGET, site))
        base[lesion_id] = follow[lesion_id] = Measurement(lesion_id, LesionState.PRESENT)
    shrinking_sum = sum(m.long_axis_mm or 0.0 for m in base.values())
    for k, site in enumerate(growing_targets):
        lesion_id = f"G{k + 1}"
        lesions.append(Lesion(lesion_id, Role.TARGET, site))
        base[lesion_id] = Measurement(lesion_id, LesionState.MEASURED, 20.0, 14.0)
        # Enough growth for the sum of targets to rise by >= 20 % and >= 5 mm (RECIST PD).
        grown = 20.0 + 0.5 * shrinking_sum + 12.0
        follow[lesion_id] = Measurement(lesion_id, LesionState.MEASURED, grown, grown * 0.7)
    for k, (site, how) in enumerate(progressing):
        if how == "non-target":
            lesion_id = f"P{k + 1}"
            lesions.append(Lesion(lesion_id, Role.NON_TARGET, site))
            base[lesion_id] = Measurement(lesion_id, LesionState.PRESENT)
            follow[lesion_id] = Measurement(lesion_id, LesionState.PROGRESSION)
        elif how == "new":
            lesion_id = f"N{k + 1}"
            lesions.append(Lesion(lesion_id, Role.NEW, site))
            follow[lesion_id] = Measurement(lesion_id, LesionState.PRESENT)
    del rng
    return lesions, [
        Assessment(0, BASE, base),
        Assessment(1, BASE + dt.timedelta(days=FIRST_CT_DAYS), follow),
    ]


def _lesions_true_pd(rng: random.Random) -> tuple[list[Lesion], list[Assessment]]:
    lesions = [Lesion("T1", Role.TARGET, "lung"), Lesion("T2", Role.TARGET, "liver")]
    base, follow = {}, {}
    for lesion in lesions:
        size = rng.uniform(15.0, 40.0)
        grown = size * rng.uniform(1.3, 1.6)
        base[lesion.lesion_id] = Measurement(
            lesion.lesion_id, LesionState.MEASURED, size, size * 0.7
        )
        follow[lesion.lesion_id] = Measurement(
            lesion.lesion_id, LesionState.MEASURED, round(grown, 1), round(grown * 0.7, 1)
        )
    return lesions, [
        Assessment(0, BASE, base),
        Assessment(1, BASE + dt.timedelta(days=FIRST_CT_DAYS), follow),
    ]


def seed000_cohort(seed: int = 2020) -> tuple[list, str]:
    """The 62 patients (records) and their clinical table (CSV text)."""
    rng = random.Random(seed)
    records = []
    lines = ["patient_id,os_days,os_event,sex,age_75_or_more,ps,smoking,histology,driver,line"]
    for group, size, months in (("DR", 11, 14.0), ("PD", 51, 6.6)):
        counts = {name: pair[0 if group == "DR" else 1] for name, pair in TABLE_1.items()}
        for i in range(size):
            patient_id = f"{group}{i + 1:02d}"
            if group == "DR":
                lesions, assessments = _lesions_dr(i, rng)
                sex = TABLE_3[i][0]
            else:
                lesions, assessments = _lesions_true_pd(rng)
                sex = "M" if i < counts["male"] else "F"
            records.append(build_record(patient_id, lesions, assessments))
            days = max(FIRST_CT_DAYS + 1, round(rng.expovariate(0.693 / (months * 30.44))))
            flags = {name: i < counts[name] for name in counts}
            if group == "DR":  # Table 3 gives the two DR patients aged >= 75 (76-80)
                flags["age_75_or_more"] = TABLE_3[i][1] == "76-80"
            lines.append(
                f"{patient_id},{days},1,{'male' if sex == 'M' else 'female'},"
                f"{'>=75' if flags['age_75_or_more'] else '<75'},"
                f"{'0-1' if flags['ps_0_1'] else '2-4'},"
                f"{'current/former' if flags['smoker'] else 'never'},"
                f"{'squamous' if flags['squamous'] else 'non-squamous'},"
                f"{'positive' if flags['driver_positive'] else 'negative'},"
                f"{'2nd' if flags['second_line'] else '3rd or later'}"
            )
    return records, "\n".join(lines) + "\n"
