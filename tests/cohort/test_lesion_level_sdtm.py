"""Lesion-level GEE (seed 001), DR tables (seeds 000, 002), SDTM TU/TR/RS, DoR / PPS / TTF."""

import csv
import datetime as dt
import math
import random
from pathlib import Path

import pytest
import statsmodels.api as sm
from seed000 import TABLE_3, seed000_cohort

from napari_recist.cohort.clinical import ClinicalRecord, SurvivalTime
from napari_recist.cohort.dr_tables import dr_irecist_rows, dr_site_rows
from napari_recist.cohort.endpoints import survival_endpoints
from napari_recist.cohort.lesion_level import gee_rows, table2_rows, target_lesions, unit_frame
from napari_recist.cohort.sdtm import rs_rows, sdtm_tables, tr_rows, tu_rows
from napari_recist.cohort.tables import write_csv
from napari_recist.criteria.report import classify_patient
from napari_recist.criteria.settings import Criteria
from napari_recist.model import Assessment, Lesion, LesionState, Measurement, Role, build_record

BASE = dt.date(2024, 1, 1)


def _record(pid: str, rng: random.Random, targets: int = 3) -> object:
    """Targets shrinking more when not irradiated, one non-target, three follow-ups."""
    lesions = [Lesion(f"T{k}", Role.TARGET, ("lung", "liver", "lymph node")[k % 3],
                      nodal=k % 3 == 2) for k in range(targets)]  # fmt: skip
    lesions.append(Lesion("NT1", Role.NON_TARGET, "bone"))
    assessments = []
    for tp in range(4):
        measurements = {"NT1": Measurement("NT1", LesionState.PRESENT)}
        for k, lesion in enumerate(lesions[:targets]):
            irradiated = (k + int(pid[1:])) % 2 == 0
            factor = 1.0 - tp * rng.uniform(0.05, 0.2 if irradiated else 0.3)
            size = 30.0 * max(factor, 0.2)
            extra = {"prior_radiotherapy": "yes" if irradiated else "no"}
            measurements[lesion.lesion_id] = Measurement(
                lesion.lesion_id, LesionState.MEASURED, size, size * 0.7 if not lesion.nodal
                else 12.0 + size * 0.3, extra=extra,
            )  # fmt: skip
        assessments.append(Assessment(tp, BASE + dt.timedelta(weeks=8 * tp), measurements))
    return build_record(pid, lesions, assessments)


@pytest.fixture
def lesion_cohort() -> tuple[dict, dict]:
    rng = random.Random(11)
    records = {f"P{i:02d}": _record(f"P{i:02d}", rng) for i in range(40)}
    patients = {pid: classify_patient(r, Criteria()).to_json() for pid, r in records.items()}
    return records, patients


def test_target_lesions_only_and_best_response(lesion_cohort: tuple[dict, dict]) -> None:
    records, patients = lesion_cohort
    lesions = target_lesions(records, patients, ["prior_radiotherapy"])
    assert len(lesions) == 40 * 3  # the non-target of each patient is not a TL (seed 001)
    assert {t.factors["prior_radiotherapy"] for t in lesions} == {"yes", "no"}
    for t in lesions:
        ranked = [r for r in t.responses if r in ("CR", "PR", "SD", "PD")]
        order = ["PD", "SD", "PR", "CR"]
        assert t.best == max(ranked, key=order.index)
    table2 = table2_rows(lesions)
    per_tl = [r for r in table2 if r["unit"] == "target lesion" and r["response"] in
              ("CR", "PR", "SD", "PD", "NE")]  # fmt: skip
    assert sum(int(r["count"]) for r in per_tl) == 120
    assert per_tl[0]["denominator"] == "120 target lesions of 40 patients"
    rate = next(r for r in table2 if r["unit"] == "target lesion" and r["response"].startswith(
        "CR or PR"))  # fmt: skip
    responding = sum(1 for t in lesions if t.best in ("CR", "PR"))
    assert rate["count"] == str(responding)
    per_measurement = [r for r in table2 if r["unit"] == "target lesion measurement"
                       and r["response"] in ("CR", "PR", "SD", "PD", "NE")]  # fmt: skip
    assert sum(int(r["count"]) for r in per_measurement) == 120 * 3


def test_gee_matches_statsmodels_run_directly(lesion_cohort: tuple[dict, dict]) -> None:
    records, patients = lesion_cohort
    lesions = target_lesions(records, patients, ["prior_radiotherapy"])
    rows = gee_rows(lesions, ["prior_radiotherapy"])
    for unit in ("target lesion", "target lesion measurement"):
        frame = unit_frame(lesions, unit)
        exog = sm.add_constant(
            (frame["prior_radiotherapy"] == "yes").astype(float).rename("rt").to_frame()
        )
        direct = sm.GEE(frame["response"], exog, groups=frame["patient_id"],
                        family=sm.families.Binomial(),
                        cov_struct=sm.cov_struct.Exchangeable()).fit()  # fmt: skip
        (row,) = [r for r in rows if r["unit"] == unit and r["factor"] == "prior_radiotherapy"
                  and r["level"] == "yes"]  # fmt: skip
        assert row["reference_level"] == "no"
        assert float(row["odds_ratio"]) == pytest.approx(math.exp(direct.params["rt"]), rel=1e-4)
        assert float(row["p_value"]) == pytest.approx(direct.pvalues["rt"], rel=1e-3)
        assert row["patients"] == "40"
        yes = frame[frame["prior_radiotherapy"] == "yes"]
        assert row["n"] == str(len(yes)) and row["responding"] == str(int(yes.response.sum()))
    measurement_rows = [r for r in rows if r["unit"] == "target lesion measurement"]
    assert sum(int(r["n"]) for r in measurement_rows if r["factor"] == "site") == 40 * 3 * 3


def test_gee_with_one_lesion_per_patient_equals_logistic_regression() -> None:
    rng = random.Random(5)
    records = {f"Q{i:02d}": _record(f"Q{i:02d}", rng, targets=1) for i in range(60)}
    patients = {pid: classify_patient(r, Criteria()).to_json() for pid, r in records.items()}
    lesions = target_lesions(records, patients, ["prior_radiotherapy"])
    frame = unit_frame(lesions, "target lesion")
    x = sm.add_constant((frame["prior_radiotherapy"] == "yes").astype(float).rename("rt"))
    logit = sm.Logit(frame["response"], x).fit(disp=0)
    (row,) = [r for r in gee_rows(lesions, ["prior_radiotherapy"])
              if r["unit"] == "target lesion" and r["level"] == "yes"]  # fmt: skip
    # Clusters of one: the GEE estimating equations are the logistic score equations.
    assert float(row["odds_ratio"]) == pytest.approx(math.exp(logit.params["rt"]), rel=1e-5)


def test_seed000_table3_sites_and_dr_irecist_table() -> None:
    records, _ = seed000_cohort()
    patients = [classify_patient(r, Criteria()).to_json() for r in records]
    rows, missing = dr_site_rows({r.patient_id: r for r in records}, patients,
                                 Criteria().to_dict())  # fmt: skip
    assert missing == [] and len(rows) == 11  # Table 3: eleven DR patients
    how = {"target": "target lesion", "non-target": "non-target lesion", "new": "new lesion"}
    for row, (_, _, responding, progressing) in zip(rows, TABLE_3, strict=True):
        expected = {f"{site}; {how[kind]}" for site, kind in progressing}
        assert set(row["progression_sites"].split(" | ")) == expected
        # The builder measures the first two responding sites (targets); the others are
        # unmeasured non-targets, which cannot be seen to shrink.
        assert set(row["response_sites"].split("; ")) == set(responding[:2])
        assert row["recist"] == "PD" and row["timepoint"] == "1"
    cross = dr_irecist_rows(patients)
    per_patient = [r for r in cross if r["table"].startswith("Patients")]
    assert sum(int(r["count"]) for r in per_patient) == 62


def _sdtm_record() -> object:
    lesions = [Lesion("T1", Role.TARGET, "lung"), Lesion("T2", Role.TARGET, "lymph node", True),
               Lesion("NT1", Role.NON_TARGET, "=HYPERLINK(\"x\")"),
               Lesion("N1", Role.NEW, "liver")]  # fmt: skip
    assessments = [
        Assessment(0, BASE, {"T1": Measurement("T1", LesionState.MEASURED, 40.0, 30.0),
                             "T2": Measurement("T2", LesionState.MEASURED, 25.0, 18.0),
                             "NT1": Measurement("NT1", LesionState.PRESENT)}),
        Assessment(1, BASE + dt.timedelta(weeks=8),
                   {"T1": Measurement("T1", LesionState.TOO_SMALL),
                    "T2": Measurement("T2", LesionState.NOT_EVALUATED),
                    "NT1": Measurement("NT1", LesionState.INCREASE),
                    "N1": Measurement("N1", LesionState.MEASURED, 12.0, 8.0)}),
    ]  # fmt: skip
    return build_record("S1", lesions, assessments)


def test_sdtm_variables_test_codes_and_safe_cells(tmp_path: Path) -> None:
    record = _sdtm_record()
    patient = classify_patient(record, Criteria()).to_json()
    tu = tu_rows("ST", record)
    assert {r["TUTESTCD"] for r in tu} == {"TUMIDENT"}
    assert {r["TULNKID"]: r["TUORRES"] for r in tu} == {
        "T1": "TARGET", "T2": "TARGET", "NT1": "NON-TARGET", "N1": "NEW"}  # fmt: skip
    new = next(r for r in tu if r["TULNKID"] == "N1")
    assert (new["VISITNUM"], new["VISIT"], new["TUDTC"]) == ("1", "FOLLOW-UP 1", "2024-02-26")
    assert all(r["USUBJID"] == "ST-S1" and r["DOMAIN"] == "TU" for r in tu)
    tr = tr_rows("ST", record, patient, 5.0)
    by = {(r.get("TRLNKID", ""), r["VISITNUM"], r["TRTESTCD"]): r for r in tr}
    assert by[("T1", "0", "LDIAM")]["TRSTRESN"] == "40"
    assert by[("T2", "0", "LPERP")]["TRSTRESN"] == "18"  # a node: its short axis
    assert by[("T1", "0", "LDIAM")]["TRLOBXFL"] == "Y"
    small = by[("T1", "1", "LDIAM")]
    assert (small["TRORRES"], small["TRSTRESN"]) == ("TOO SMALL TO MEASURE", "5")
    assert (by[("T2", "1", "LPERP")]["TRSTAT"], by[("T2", "1", "LPERP")]["TRREASND"]) == (
        "NOT DONE", "NOT EVALUABLE")  # fmt: skip
    assert by[("NT1", "1", "TUMSTATE")]["TRSTRESC"] == "UNEQUIVOCAL PROGRESSION"
    assert by[("N1", "1", "LDIAM")]["TRSTRESN"] == "12"  # a measured new lesion: its size
    assert by[("NT1", "0", "TUMSTATE")]["TRORRES"] == "PRESENT"
    assert by[("", "0", "SUMDIAM")]["TRSTRESN"] == "58"
    assert [r["TRSEQ"] for r in tr] == [str(i) for i in range(1, len(tr) + 1)]
    rs = rs_rows("ST", record, patient)
    tests = {(r["RSTESTCD"], r["RSCAT"]): r for r in rs}
    assert tests[("OVRLRESP", "RECIST 1.1")]["RSORRES"] == "PD"
    assert tests[("OVRLRESP", "RECIST 1.1")]["RSLNKGRP"] == "A1"
    assert tests[("NEWLPROG", "RECIST 1.1")]["RSORRES"] == "UNEQUIVOCAL"
    assert tests[("BESTRESP", "RECIST 1.1")]["RSORRES"] == "PD"
    for name, columns, rows in sdtm_tables("ST", {"S1": record}, [patient], 5.0):
        write_csv(tmp_path / name, columns, rows)
    with (tmp_path / "sdtm_tu.csv").open(encoding="utf-8", newline="") as handle:
        cells = [row["TULOC"] for row in csv.DictReader(handle)]
    assert "'=HYPERLINK(\"X\")" in cells  # formula neutralised, never run by a spreadsheet


def test_dor_pps_ttf_by_hand(patient_factory: object) -> None:
    responder = patient_factory("R1", [-40.0, -50.0, 10.0, 30.0], ["PR", "PR", "SD", "PD"],
                                "true PR", progression_week=32)  # fmt: skip
    stable = patient_factory("S1", [5.0, 25.0], ["SD", "PD"], "true PD", progression_week=16)
    clinical = {
        "R1": ClinicalRecord("R1", os=SurvivalTime(400, True), ttf=SurvivalTime(230, True)),
        "S1": ClinicalRecord("S1", os=SurvivalTime(150, False)),
    }
    endpoints = {e.key: e for e in survival_endpoints([responder, stable], clinical)}
    # DoR: response first seen at week 8 (day 56), progression at week 32 (day 224).
    assert endpoints["DoR"].times == {"R1": SurvivalTime(168, True)}
    assert endpoints["DoR"].origin.startswith("first follow-up with an overall CR or PR")
    # PPS: from progression to death / OS censoring.
    assert endpoints["PPS"].times == {"R1": SurvivalTime(176, True),
                                      "S1": SurvivalTime(38, False)}  # fmt: skip
    # TTF from the clinical table only; S1 has none and is listed, not dropped silently.
    assert endpoints["TTF"].times == {"R1": SurvivalTime(230, True)}
    assert endpoints["TTF"].left_out == [("S1", "no ttf_days in the clinical table")]
    decisions = [d for d in endpoints["DoR"].decisions if d["patient_id"] == "R1"]
    assert decisions[0]["decision"].startswith("event: progression")


def test_sdtm_test_code_follows_what_the_row_gives() -> None:
    from napari_recist.cohort.sdtm import _lesion_result

    target = Lesion("T1", Role.TARGET, "lung")
    node = Lesion("T2", Role.TARGET, "lymph node", nodal=True)
    grown = _lesion_result(target, Measurement("T1", LesionState.PROGRESSION), 5.0)
    assert (grown["TRTESTCD"], grown["TRSTRESC"]) == ("TUMSTATE", "UNEQUIVOCAL PROGRESSION")
    gone = _lesion_result(node, Measurement("T2", LesionState.ABSENT), 5.0)
    assert (gone["TRTESTCD"], gone["TRSTRESN"]) == ("LPERP", "0")
    merged = _lesion_result(target, Measurement.coalesced("T1", "T3"), 5.0)
    assert (merged["TRTESTCD"], merged["TRREASND"]) == ("LDIAM", "TUMOR MERGED")
