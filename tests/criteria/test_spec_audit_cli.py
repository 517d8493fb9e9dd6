"""Clinical audit of the engine against shared/spec/criteria.md and lesion-table.md.

Every case goes through the path a user takes: a lesion table CSV, ``napari-recist classify
--json``, and the JSON fields lesion-table.md names. The expected values are computed by hand in
the comments (days are calendar days between the ISO dates).
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from napari_recist.cli import main

COLUMNS = (
    "patient_id,timepoint,date,lesion_id,role,site,long_axis_mm,short_axis_mm,state,part_of,"
    "coalesced_into,treatment_start"
)


def table(tmp_path: Path, rows: str) -> Path:
    """Write a lesion table; `rows` are CSV lines after the header (leading spaces ignored)."""
    path = tmp_path / "lesions.csv"
    lines = [line.strip() for line in rows.strip().splitlines()]
    path.write_text(COLUMNS + "\n" + "\n".join(lines) + "\n", encoding="utf-8")
    return path


def classify(tmp_path: Path, rows: str, *options: str) -> dict:
    """Classify a table through the command line; return the single patient's JSON object."""
    path = table(tmp_path, rows)
    out = tmp_path / "out.json"
    assert main(["classify", str(path), "--json", str(out), *options]) == 0
    (patient,) = json.loads(out.read_text(encoding="utf-8"))["patients"]
    return patient


def follow_ups(patient: dict, key: str) -> list:
    """A time-point field at each follow-up (pre-baseline scans and baseline left out)."""
    return [tp[key] for tp in patient["timepoints"] if tp["timepoint"] > 0]


# -- tolerance (criteria.md, amended 2026-12) ---------------------------------------------


def test_pd_met_exactly_at_20_percent_with_decimal_sizes(tmp_path):
    # Nadir 10.2 + 15.3 = 25.5; 12.24 + 18.36 = 30.6 = 1.2 x 25.5 and +5.1 mm: PD, although
    # (30.6 - 25.5) / 25.5 in floats is not exactly 0.2.
    patient = classify(tmp_path, """
        P,0,2024-01-01,T1,target,lung,10.2,,,,,
        P,0,2024-01-01,T2,target,liver,15.3,,,,,
        P,1,2024-03-01,T1,target,lung,12.24,,,,,
        P,1,2024-03-01,T2,target,liver,18.36,,,,,
    """)
    assert follow_ups(patient, "sum_mm") == [30.6]
    assert follow_ups(patient, "change_from_nadir_pct") == [20.0]
    assert follow_ups(patient, "target") == ["PD"]
    assert patient["progression_date"] == "2024-03-01"
    # imRECIST: the same sum, the same boundary.
    assert follow_ups(patient, "imrecist") == ["PD"]
    # Seed 004: +20 % over 60 days = 20 / (60 / 30.4375) = 10.1 % per month.
    assert patient["kinetics"]["change_per_month_at_pd_pct"] == 10.1


def test_pr_met_exactly_at_minus_30_percent_with_decimal_sizes(tmp_path):
    # Baseline 10.1 + 20.2 = 30.3; 7.07 + 14.14 = 21.21 = 0.7 x 30.3: PR; each lesion -30 % too.
    patient = classify(tmp_path, """
        P,0,2024-01-01,T1,target,lung,10.1,,,,,
        P,0,2024-01-01,T2,target,liver,20.2,,,,,
        P,1,2024-03-01,T1,target,lung,7.07,,,,,
        P,1,2024-03-01,T2,target,liver,14.14,,,,,
    """)
    assert follow_ups(patient, "change_from_baseline_pct") == [-30.0]
    assert follow_ups(patient, "target") == ["PR"]
    assert follow_ups(patient, "lesions") == [{"T1": "PR", "T2": "PR"}]
    assert follow_ups(patient, "imrecist") == ["PR"]
    assert follow_ups(patient, "imrecist_sum_mm") == [21.2]  # 1 decimal (lesion-table.md)
    # Bernard-Tessier needs a decrease of MORE than 30 %: exactly 30 % is not met.
    assert follow_ups(patient, "dissociated") == [{"vuagnat": "none", "bernard_tessier": False}]
    # A single PR, not confirmed: the confirmed BOR is SD (day 60 >= 42).
    assert patient["best_overall_response"] == "PR"
    assert patient["confirmed_best_overall_response"] == "SD"


# -- target without a size at baseline (criteria.md section 1, amended 2026-12) ------------

WITHOUT_SIZE = """
    P,0,2024-01-01,T1,target,lung,40,30,,,,
    P,0,2024-01-01,T2,target,liver,,,not-evaluated,,,
    P,1,2024-03-01,T1,target,lung,20,15,,,,
    P,1,2024-03-01,T2,target,liver,10,8,,,,
    P,2,2024-04-01,T1,target,lung,20,15,,,,
    P,2,2024-04-01,T2,target,liver,8,6,,,,
"""


def test_target_without_size_strict_refuses_naming_file_row_and_column(tmp_path, capsys):
    path = table(tmp_path, WITHOUT_SIZE)
    assert main(["classify", str(path), "--json", str(tmp_path / "o.json")]) == 2
    err = capsys.readouterr().err
    assert f"{path}, row 3" in err
    assert not (tmp_path / "o.json").exists()


def test_target_without_size_lenient_keeps_the_baseline_unknown(tmp_path):
    patient = classify(tmp_path, WITHOUT_SIZE, "--lenient")
    assert patient["warning_codes"] == ["target-without-size"]
    baseline = patient["timepoints"][0]
    assert baseline["sum_mm"] is None and baseline["imrecist_sum_mm"] is None
    # TP1: SOD 30 with no baseline (no PR, change null) and no nadir; TP2: nadir 30 (TP1, all
    # targets evaluated), 28 mm is -6.7 %: SD.
    assert follow_ups(patient, "sum_mm") == [30.0, 28.0]
    assert follow_ups(patient, "nadir_mm") == [None, 30.0]
    assert follow_ups(patient, "change_from_baseline_pct") == [None, None]
    assert follow_ups(patient, "target") == ["SD", "SD"]
    assert follow_ups(patient, "imrecist") == ["SD", "SD"]
    # T1 40 -> 20 is PR by itself; T2 has no baseline, so never PR.
    assert follow_ups(patient, "lesions") == [{"T1": "PR", "T2": "SD"}, {"T1": "PR", "T2": "SD"}]
    assert patient["irrc_best_overall_response"] == "NA"
    assert follow_ups(patient, "irrc") == ["NA", "NA"]
    assert patient["depth_of_response_pct"] is None  # no % change from an unknown baseline
    # Time to nadir: days from the baseline scan to the smallest known SOD (28 mm at TP2, 91
    # days); before the audit it was null whenever the baseline sum was unknown.
    assert patient["time_to_nadir_days"] == 91


# -- pre-baseline scans and kinetics (criteria.md sections 1 and 5) ------------------------


def test_pre_baseline_scan_never_enters_the_nadir(tmp_path):
    patient = classify(tmp_path, """
        P,-1,2023-12-01,T1,target,lung,20,,,,,
        P,0,2024-01-01,T1,target,lung,30,,,,,
        P,1,2024-03-01,T1,target,lung,26,,,,,
    """)
    pre, baseline, tp1 = patient["timepoints"]
    assert (pre["timepoint"], pre["sum_mm"], pre["overall"]) == (-1, 20.0, "NA")
    assert pre["imrecist_sum_mm"] is None and pre["irrc_tumor_burden_mm2"] is None
    assert baseline["imrecist_sum_mm"] == 30.0
    # Nadir 30 (baseline), not 20 (pre-baseline): 26 is SD, not PD (+30 % and +6 mm from 20).
    assert tp1["nadir_mm"] == 30.0 and tp1["target"] == "SD"
    # TGR_ref = 100 (exp(3 ln(30/20) / (31 / 30.4375)) - 1) = 230.1;
    # TGR_exp = 100 (exp(3 ln(26/30) / (60 / 30.4375)) - 1) = -19.6.
    assert patient["kinetics"]["tgr_ref_pct_per_month"] == 230.1
    assert patient["kinetics"]["tgr_exp_pct_per_month"] == -19.6
    assert patient["kinetics"]["first_follow_up_sd"] == "with shrinkage"


# -- baseline timing (criteria.md section 1, amended 2026-12) ------------------------------


@pytest.mark.parametrize(
    ("start", "codes"),
    [
        ("2024-01-29", []),  # 28 days exactly: no warning
        ("2024-01-30", ["baseline-too-early"]),  # 29 days
        ("2024-01-01", []),  # the same day
        ("2023-12-31", ["baseline-after-treatment-start"]),
    ],
)
def test_baseline_timing_boundaries(tmp_path, start, codes):
    patient = classify(tmp_path, f"""
        P,0,2024-01-01,T1,target,lung,30,,,,,{start}
        P,1,2024-03-01,T1,target,lung,26,,,,,{start}
    """)
    assert patient["treatment_start"] == start
    assert patient["warning_codes"] == codes
    assert len(patient["warnings"]) == len(codes)


# -- time origin (criteria.md, amended 2026-12) --------------------------------------------


def test_sd_duration_and_pfs_from_treatment_start(tmp_path):
    # Follow-up 35 days after the baseline but 44 after treatment start: SD counts (>= 42)
    # for RECIST, iRECIST, imRECIST and irRC; PFS censored at 44 days.
    patient = classify(tmp_path, """
        P,0,2024-01-10,T1,target,lung,20,15,,,,2024-01-01
        P,1,2024-02-14,T1,target,lung,18,14,,,,2024-01-01
    """)
    assert patient["best_overall_response"] == "SD"
    assert patient["confirmed_best_overall_response"] == "SD"
    assert patient["irecist_best_overall_response"] == "iSD"
    assert patient["imrecist_best_overall_response"] == "SD"
    assert patient["irrc_best_overall_response"] == "irSD"
    assert (patient["pfs_days"], patient["pfs_event"]) == (44, False)
    assert patient["warning_codes"] == ["baseline-after-treatment-start"]
    # irRC burden: 20 x 15 = 300 mm² at baseline, 18 x 14 = 252 mm².
    assert [tp["irrc_tumor_burden_mm2"] for tp in patient["timepoints"]] == [300.0, 252.0]


def test_progression_before_treatment_start_gives_negative_pfs(tmp_path):
    patient = classify(tmp_path, """
        P,0,2023-12-01,T1,target,lung,20,15,,,,2024-01-20
        P,1,2024-01-10,T1,target,lung,30,20,,,,2024-01-20
        P,2,2024-03-10,T1,target,lung,30,20,,,,2024-01-20
    """)
    assert follow_ups(patient, "overall") == ["PD", "PD"]
    assert patient["progression_date"] == "2024-01-10"
    assert (patient["pfs_days"], patient["pfs_event"]) == (-10, True)
    assert patient["warning_codes"] == ["baseline-too-early"]  # 50 days before the start
    # Nadir, time to nadir and TGR stay measured from the baseline scan (40 days).
    assert patient["time_to_nadir_days"] == 0
    assert patient["resistance"] == "primary"
    # iRECIST: the PD stays unconfirmed (no further 5 mm), so iUPD is the iBOR.
    assert follow_ups(patient, "irecist") == ["iUPD", "iUPD"]
    assert patient["irecist_best_overall_response"] == "iUPD"


def test_sitc_180_days_from_treatment_start(tmp_path):
    # Last SD at 2024-07-03: 184 days after treatment start (175 after the baseline).
    patient = classify(tmp_path, """
        P,0,2024-01-10,T1,target,lung,20,15,,,,2024-01-01
        P,1,2024-07-03,T1,target,lung,20,15,,,,2024-01-01
        P,2,2024-09-03,T1,target,lung,30,15,,,,2024-01-01
    """)
    assert patient["resistance"] == "secondary"
    assert patient["pfs_days"] == 246
    assert patient["progression_pattern"]["site_group"] == "thoracic"


# -- reappearance after CR, nadir 0 (criteria.md sections 1, 7, 8) -------------------------


def test_reappearance_after_cr_from_a_nadir_of_zero(tmp_path):
    patient = classify(tmp_path, """
        P,0,2024-01-01,T1,target,lung,20,15,,,,
        P,1,2024-03-01,T1,target,lung,,,absent,,,
        P,2,2024-05-01,T1,target,lung,,,absent,,,
        P,3,2024-07-01,T1,target,lung,4,3,,,,
    """)
    assert follow_ups(patient, "target") == ["CR", "CR", "PD"]  # reappeared after CR
    assert follow_ups(patient, "nadir_mm") == [20.0, 0.0, 0.0]
    # A percentage against a reference of 0 is null.
    assert follow_ups(patient, "change_from_nadir_pct") == [-100.0, None, None]
    assert follow_ups(patient, "change_from_previous_pct") == [-100.0, None, None]
    assert patient["best_overall_response"] == "CR"
    assert patient["confirmed_best_overall_response"] == "CR"  # 61 days apart
    assert patient["progression_date"] == "2024-07-01"
    # Lesion level: 4 mm is +4 mm from its nadir 0 (< 5 mm: not PD), -80 % from 20: PR.
    assert follow_ups(patient, "lesions")[-1] == {"T1": "PR"}
    # imRECIST: the sum 4 is +4 mm from its nadir 0 (short of 5 mm), -80 %: PR.
    assert follow_ups(patient, "imrecist") == ["CR", "CR", "PR"]
    # irRC: 4 x 3 = 12 mm² above a nadir of 0: irPD; irCR confirmed at TP1 -> TP2.
    assert follow_ups(patient, "irrc") == ["irCR", "irCR", "irPD"]
    assert follow_ups(patient, "irrc_tumor_burden_mm2") == [0.0, 0.0, 12.0]
    assert patient["irrc_best_overall_response"] == "irCR"
    assert patient["irrc_progression_date"] == "2024-07-01"
    assert patient["resistance"] == "secondary"


# -- confirmed BOR (criteria.md section 1, amended 2026-12) --------------------------------


def test_two_ne_between_breaks_the_confirmation(tmp_path):
    # CR day 56, NE day 70, NE day 84, CR day 112: two NE between (confirm_max_ne 1).
    patient = classify(tmp_path, """
        P,0,2024-01-01,T1,target,lung,20,15,,,,
        P,1,2024-02-26,T1,target,lung,,,absent,,,
        P,2,2024-03-11,T1,target,lung,,,not-evaluated,,,
        P,3,2024-03-25,T1,target,lung,,,not-evaluated,,,
        P,4,2024-04-22,T1,target,lung,,,absent,,,
    """)
    assert follow_ups(patient, "overall") == ["CR", "NE", "NE", "CR"]
    assert patient["best_overall_response"] == "CR"
    assert patient["confirmed_best_overall_response"] == "SD"
    assert patient["irrc_best_overall_response"] == "irSD"  # the same rule on irRC
    assert (patient["pfs_days"], patient["pfs_event"]) == (112, False)


def test_one_ne_within_28_days_counts_but_one_is_allowed(tmp_path):
    # CR day 56, NE day 60 (< 28 days after i, still counted), CR day 90: confirmed.
    patient = classify(tmp_path, """
        P,0,2024-01-01,T1,target,lung,20,15,,,,
        P,1,2024-02-26,T1,target,lung,,,absent,,,
        P,2,2024-03-01,T1,target,lung,,,not-evaluated,,,
        P,3,2024-03-31,T1,target,lung,,,absent,,,
    """)
    assert patient["confirmed_best_overall_response"] == "CR"
    assert patient["irrc_best_overall_response"] == "irCR"


# -- non-target disease only (criteria.md sections 1, 2, 4, 7, 8) --------------------------


def test_non_target_disease_only_fields(tmp_path):
    patient = classify(tmp_path, """
        P,0,2024-01-01,N1,non-target,bone,,,present,,,
        P,1,2024-02-01,N1,non-target,bone,,,present,,,
        P,2,2024-03-01,N1,non-target,bone,,,present,,,
    """)
    assert follow_ups(patient, "target") == ["NA", "NA"]
    assert follow_ups(patient, "overall") == ["NON-CR/NON-PD", "NON-CR/NON-PD"]
    assert follow_ups(patient, "irecist") == ["NON-iCR/NON-iUPD", "NON-iCR/NON-iUPD"]
    # Day 31 is too early for the SD duration, day 60 is not.
    assert patient["best_overall_response"] == "NON-CR/NON-PD"
    assert patient["confirmed_best_overall_response"] == "NON-CR/NON-PD"
    assert patient["irecist_best_overall_response"] == "NON-iCR/NON-iUPD"
    assert patient["imrecist_best_overall_response"] == "NA"
    assert patient["irrc_best_overall_response"] == "NA"
    assert patient["category"] == "NON-CR/NON-PD"
    assert patient["response_group"] == "NA"
    assert patient["dissociated_response"] == {
        "vuagnat": "NA", "bernard_tessier": False, "tozuka": "NA"
    }
    assert patient["vuagnat_dr_rate"] is None
    assert follow_ups(patient, "sum_mm") == [None, None]


def test_non_target_only_cr_then_back_confirms_nothing(tmp_path):
    patient = classify(tmp_path, """
        P,0,2024-01-01,N1,non-target,bone,,,present,,,
        P,1,2024-03-01,N1,non-target,bone,,,absent,,,
        P,2,2024-05-01,N1,non-target,bone,,,present,,,
    """)
    assert follow_ups(patient, "non_target") == ["CR", "PD"]  # non-nodal, seen again
    assert patient["best_overall_response"] == "CR"
    # A raw CR at day 60 counts as NON-CR/NON-PD for non-target disease only, never SD.
    assert patient["confirmed_best_overall_response"] == "NON-CR/NON-PD"
    assert patient["progression_date"] == "2024-05-01"


# -- new lymph nodes (criteria.md section 1, amended 2026-12) ------------------------------


def test_new_node_counts_at_16_mm_and_then_below_10_is_absent_everywhere(tmp_path):
    patient = classify(tmp_path, """
        P,0,2024-01-01,T1,target,lung,30,20,,,,
        P,1,2024-03-01,T1,target,lung,,,absent,,,
        P,1,2024-03-01,X,new,lymph node,12,8,,,,
        P,2,2024-05-01,T1,target,lung,,,absent,,,
        P,2,2024-05-01,X,new,lymph node,20,16,,,,
        P,3,2024-07-01,T1,target,lung,,,absent,,,
        P,3,2024-07-01,X,new,lymph node,12,8,,,,
        P,4,2024-09-01,T1,target,lung,,,absent,,,
        P,4,2024-09-01,X,new,lymph node,12,8,,,,
    """)
    assert follow_ups(patient, "lesions") == [
        {"T1": "CR", "X": "NA"}, {"T1": "CR", "X": "NEW"}, {"T1": "CR", "X": "NEW"},
        {"T1": "CR", "X": "NEW"},
    ]
    assert follow_ups(patient, "new_lesions") == [False, True, False, False]
    assert follow_ups(patient, "overall") == ["CR", "PD", "CR", "CR"]
    assert patient["warning_codes"] == []  # 16 mm is measurable: no recheck
    # imRECIST: X is a new measurable lesion (16 mm short axis >= 15): sum 16 at TP2 from a
    # nadir of 0 is PD, negated by CR at TP3 (61 days later); 8 mm afterwards counts 0.
    assert follow_ups(patient, "imrecist") == ["CR", "PD", "CR", "CR"]
    assert follow_ups(patient, "imrecist_sum_mm") == [0.0, 16.0, 0.0, 0.0]
    assert patient["imrecist_progression_date"] is None
    assert patient["imrecist_best_overall_response"] == "CR"
    # irRC: 20 x 16 = 320 mm² (both axes >= 5 at its first counted assessment).
    assert follow_ups(patient, "irrc_tumor_burden_mm2") == [0.0, 320.0, 0.0, 0.0]
    # The irCR of TP1 is broken by the negated irPD; TP3 -> TP4 (62 days) confirms irCR.
    assert patient["irrc_best_overall_response"] == "irCR"
    # iRECIST: iUPD at TP2, then iCR: reset (a pseudoprogression).
    assert follow_ups(patient, "irecist") == ["iCR", "iUPD", "iCR", "iCR"]
    assert patient["pseudoprogression"] is True
    assert patient["response_group"] == "atypical response"
    # RECIST: the CR of TP1 is not confirmed (PD next), CR at day 60 counts as SD.
    assert patient["best_overall_response"] == "CR"
    assert patient["confirmed_best_overall_response"] == "SD"
    assert patient["progression_date"] == "2024-05-01"
    # Bernard-Tessier: T1 -100 % and a new lesion at TP2: DR, so the patient category is DR.
    assert patient["category"] == "DR"


# -- iRECIST regressions found by this audit -----------------------------------------------


def test_unchanged_new_lesion_target_after_a_reset_is_no_new_iupd(tmp_path):
    # Before the audit the NLT sum was 0 mm at TP1 (no new lesion yet), so after the reset at
    # TP3 the unchanged 15 mm NLT was "+15 mm from its smallest 0" and gave iUPD at TP4.
    # There is no NLT sum before an NLT exists: its smallest value is 15, TP4 is iSD.
    patient = classify(tmp_path, """
        P,0,2024-01-01,T1,target,lung,50,,,,,
        P,1,2024-02-15,T1,target,lung,50,,,,,
        P,2,2024-04-01,T1,target,lung,50,,,,,
        P,2,2024-04-01,X,new,liver,15,,,,,
        P,3,2024-05-15,T1,target,lung,40,,,,,
        P,3,2024-05-15,X,new,liver,15,,,,,
        P,4,2024-07-01,T1,target,lung,40,,,,,
        P,4,2024-07-01,X,new,liver,15,,,,,
    """)
    assert follow_ups(patient, "irecist") == ["iSD", "iUPD", "iSD", "iSD"]
    assert patient["pseudoprogression"] is True
    assert patient["irecist_progression_date"] is None
    # imRECIST: 50 + 15 = 65 is +30 % and +15 mm from 50: PD, negated by SD (55) at TP3.
    assert follow_ups(patient, "imrecist_sum_mm") == [50.0, 65.0, 55.0, 55.0]
    assert follow_ups(patient, "imrecist") == ["SD", "PD", "SD", "SD"]


def test_nlt_that_grows_after_a_reset_from_its_own_smallest_value(tmp_path):
    # The fix keeps the rule: NLT 15 at TP2, 15 at TP3 (reset), 21 at TP4: +40 % and +6 mm
    # above its smallest 15: a new iUPD.
    patient = classify(tmp_path, """
        P,0,2024-01-01,T1,target,lung,50,,,,,
        P,1,2024-02-15,T1,target,lung,50,,,,,
        P,2,2024-04-01,T1,target,lung,50,,,,,
        P,2,2024-04-01,X,new,liver,15,,,,,
        P,3,2024-05-15,T1,target,lung,40,,,,,
        P,3,2024-05-15,X,new,liver,15,,,,,
        P,4,2024-07-01,T1,target,lung,40,,,,,
        P,4,2024-07-01,X,new,liver,21,,,,,
    """)
    assert follow_ups(patient, "irecist") == ["iSD", "iUPD", "iSD", "iUPD"]


def test_non_target_increase_at_the_iupd_turning_progression_confirms(tmp_path):
    # iUPD at TP1 from N1 `progression`; N2 was `increase` then, `progression` at TP2 (61
    # days later): "another non-target turning progression" is a further increase: iCPD.
    # Before the audit an `increase` at the iUPD was taken as `progression` there: iUPD.
    patient = classify(tmp_path, """
        P,0,2024-01-01,T1,target,lung,30,,,,,
        P,0,2024-01-01,N1,non-target,bone,,,present,,,
        P,0,2024-01-01,N2,non-target,liver,,,present,,,
        P,1,2024-03-01,T1,target,lung,30,,,,,
        P,1,2024-03-01,N1,non-target,bone,,,progression,,,
        P,1,2024-03-01,N2,non-target,liver,,,increase,,,
        P,2,2024-05-01,T1,target,lung,30,,,,,
        P,2,2024-05-01,N1,non-target,bone,,,progression,,,
        P,2,2024-05-01,N2,non-target,liver,,,progression,,,
    """)
    assert follow_ups(patient, "irecist") == ["iUPD", "iCPD"]
    assert patient["irecist_best_overall_response"] == "iCPD"
    assert patient["irecist_progression_date"] == "2024-03-01"
    # imRECIST ignores non-target progression: SD, SD (day 60 >= 42).
    assert follow_ups(patient, "imrecist") == ["SD", "SD"]


def test_non_target_still_progression_is_not_a_further_increase(tmp_path):
    patient = classify(tmp_path, """
        P,0,2024-01-01,T1,target,lung,30,,,,,
        P,0,2024-01-01,N1,non-target,bone,,,present,,,
        P,1,2024-03-01,T1,target,lung,30,,,,,
        P,1,2024-03-01,N1,non-target,bone,,,progression,,,
        P,2,2024-05-01,T1,target,lung,30,,,,,
        P,2,2024-05-01,N1,non-target,bone,,,progression,,,
    """)
    assert follow_ups(patient, "irecist") == ["iUPD", "iUPD"]


# -- JSON contract (lesion-table.md) -------------------------------------------------------

TIMEPOINT_REASON_KEYS = {
    "target", "non_target", "new_lesions", "overall", "irecist", "imrecist", "irrc", "lesions",
}
PATIENT_REASON_KEYS = {
    "best_overall_response", "confirmed_best_overall_response", "irecist_best_overall_response",
    "imrecist_best_overall_response", "imrecist_progression_date", "irrc_best_overall_response",
    "irrc_progression_date", "progression_date", "pfs_days",
}


def test_every_time_point_has_the_contract_reasons_pre_baseline_and_baseline_too(tmp_path):
    # Before the audit the baseline and pre-baseline `reasons` lacked target, non_target,
    # new_lesions and irecist.
    patient = classify(tmp_path, """
        P,-1,2023-12-01,T1,target,lung,20,15,,,,
        P,0,2024-01-01,T1,target,lung,30,20,,,,
        P,0,2024-01-01,N1,non-target,bone,,,present,,,
        P,1,2024-03-01,T1,target,lung,26,18,,,,
        P,1,2024-03-01,N1,non-target,bone,,,present,,,
    """)
    assert PATIENT_REASON_KEYS <= set(patient["reasons"])
    # One sentence per verdict key: the seed 002 category and group too (added by the audit).
    assert {"category", "response_group"} <= set(patient["reasons"])
    assert all("category" in tp["reasons"] for tp in patient["timepoints"] if tp["timepoint"] > 0)
    for tp in patient["timepoints"]:
        assert TIMEPOINT_REASON_KEYS <= set(tp["reasons"]), tp["timepoint"]
        assert all(isinstance(tp["reasons"][k], str) for k in TIMEPOINT_REASON_KEYS - {"lesions"})
        assert tp["reason"] == tp["reasons"]["overall"]
        assert set(tp["reasons"]["lesions"]) == set(tp["lesions"])


# -- bad input is a Problem naming file and row (lesion-table.md) -------------------------

BASE = """
    P,0,2024-01-01,T1,target,lung,30,,,,,
    P,0,2024-01-01,T2,target,liver,20,,,,,
"""


@pytest.mark.parametrize(
    ("rows", "row", "column"),
    [
        ("P,1,2024-03-01,T1,target,lung,-3,,,,,", 4, "long_axis_mm"),
        ("P,1,2024-03-01,T1,target,lung,nan,,,,,", 4, "long_axis_mm"),
        ("P,1,2024-03-01,T1,target,lung,10,,absent,,,", 4, "state"),
        ("P,1,2023-12-01,T1,target,lung,10,,,,,", 4, "date"),
        ("P,1,2024-03-01,T1,non-target,lung,,,present,,,", 4, "role"),
        ("P,1,2024-03-01,T3,target,lung,10,,,,,", 4, "timepoint"),
        ("P,1,2024-03-01,T1.1,target,lung,10,,,T9,,", 4, "part_of"),
        ("P,1,2024-03-01,T1.1,target,liver,10,,,T1,,", 4, "part_of"),
        ("P,1,2024-03-01,T2,target,liver,,,,,T1,", 4, "coalesced_into"),
        ("P,1,2024-03-01,T1,target,lung,30,,,,,\nP,1,2024-03-01,T2,target,liver,5,,,,T1,",
         5, "coalesced_into"),
        ("P,1,2024-03-01,T1,target,lung,30,,,,,2024-13-01", 4, "treatment_start"),
    ],
)
def test_bad_rows_are_refused_strict_and_skipped_lenient(tmp_path, capsys, rows, row, column):
    path = table(tmp_path, BASE + rows)
    out = tmp_path / "o.json"
    assert main(["classify", str(path), "--json", str(out)]) == 2
    err = capsys.readouterr().err
    assert f"{path}, row {row}, {column}" in err
    assert not out.exists()
    # --lenient goes on without the bad row and lists it.
    assert main(["classify", str(path), "--json", str(out), "--lenient"]) == 0
    assert f"{path}, row {row}, {column}" in capsys.readouterr().err
    assert json.loads(out.read_text(encoding="utf-8"))["patients"][0]["patient_id"] == "P"


# -- settings added 2026-12 are range-checked like the others ------------------------------


@pytest.mark.parametrize(
    "setting",
    [
        "irrc_pr_pct = 50",  # a PR on a 50 % growth
        "irrc_pd_pct = -10",
        "confirm_max_ne = -1",
        "irecist_any_increase_mm = -1.0",  # every new non-target would have "increased"
        "imrecist_confirm_min_days = -28",
        "irrc_confirm_min_days = -1",
        "irrc_new_measurable_min_mm = -5.0",
        "irrc_max_new_per_organ = -1",
        "baseline_max_days_before_treatment = -1",
    ],
)
def test_out_of_range_new_settings_are_refused(tmp_path, capsys, setting):
    # Before the audit these were accepted and classified silently.
    path = table(tmp_path, "P,0,2024-01-01,T1,target,lung,20,15,,,,")
    settings = tmp_path / "criteria.toml"
    settings.write_text(setting + "\n", encoding="utf-8")
    out = tmp_path / "o.json"
    assert main(["classify", str(path), "--json", str(out), "--criteria", str(settings)]) == 2
    err = capsys.readouterr().err
    assert str(settings) in err and setting.split()[0] in err
    assert not out.exists()


# -- an equivocal new node before it counts (criteria.md sections 1 and 3, amended 2026-12) --


def test_equivocal_new_node_is_na_until_it_counts_and_dates_the_pd_back(tmp_path):
    # X equivocal at TP1 (before the audit its lesion response was NEW), 8 mm at TP2 (ignored:
    # NA), 11 mm at TP3: counts, PD there, dated back to TP1; 11 < 15 asks for a recheck.
    patient = classify(tmp_path, """
        P,0,2024-01-01,T1,target,lung,30,20,,,,
        P,1,2024-03-01,T1,target,lung,30,20,,,,
        P,1,2024-03-01,X,new,lymph node,,,equivocal,,,
        P,2,2024-05-01,T1,target,lung,30,20,,,,
        P,2,2024-05-01,X,new,lymph node,12,8,,,,
        P,3,2024-07-01,T1,target,lung,30,20,,,,
        P,3,2024-07-01,X,new,lymph node,14,11,,,,
    """)
    assert follow_ups(patient, "lesions") == [
        {"T1": "SD", "X": "NA"}, {"T1": "SD", "X": "NA"}, {"T1": "SD", "X": "NEW"}
    ]
    assert follow_ups(patient, "new_lesions") == [False, False, True]
    assert follow_ups(patient, "overall") == ["SD", "SD", "PD"]
    assert patient["progression_date"] == "2024-03-01"
    assert (patient["pfs_days"], patient["pfs_event"]) == (60, True)
    assert patient["best_overall_response"] == "SD"  # TP1 SD at day 60, before the first PD
    assert patient["warning_codes"] == ["new-node-recheck"]
    # irRC: 14 x 11 = 154 mm² (both axes >= 5): 754 is +25.7 % from 600: irPD.
    assert follow_ups(patient, "irrc_tumor_burden_mm2") == [600.0, 600.0, 754.0]
    assert follow_ups(patient, "irrc") == ["irSD", "irSD", "irPD"]
    # imRECIST: 11 mm short axis is not measurable (< 15): never in the sum.
    assert follow_ups(patient, "imrecist_sum_mm") == [30.0, 30.0, 30.0]


# -- readings chosen where the spec lists rules without an order ---------------------------


def test_lesion_pd_from_its_nadir_beats_pr_from_its_baseline(tmp_path):
    # Section 3 lists PR before PD; RECIST applied to one lesion makes PD win (as for the
    # target response): 30 -> too-small (5) -> 12 is -60 % from baseline and +140 %, +7 mm
    # from its nadir 5: PD.
    patient = classify(tmp_path, """
        P,0,2024-01-01,T1,target,lung,30,,,,,
        P,1,2024-03-01,T1,target,lung,,,too-small,,,
        P,2,2024-05-01,T1,target,lung,12,,,,,
    """)
    assert follow_ups(patient, "lesions") == [{"T1": "PR"}, {"T1": "PD"}]
    assert follow_ups(patient, "target") == ["PR", "PD"]
    assert follow_ups(patient, "nadir_mm") == [30.0, 5.0]
    assert patient["best_overall_response"] == "PR"


def test_nodal_targets_all_below_10_stay_cr_while_their_sum_grows(tmp_path):
    # Three nodes 20 -> 5 -> 9.5 mm short axis: the sum 28.5 is +90 % and +13.5 mm from 15,
    # but every node is < 10 mm: CR (RECIST 1.1 4.3.1; a node has "reappeared" only from 10 mm,
    # RWG FAQ "Abnormal lymph node").
    patient = classify(tmp_path, """
        P,0,2024-01-01,N1,target,lymph node,25,20,,,,
        P,0,2024-01-01,N2,target,lymph node,25,20,,,,
        P,0,2024-01-01,N3,target,lymph node,25,20,,,,
        P,1,2024-03-01,N1,target,lymph node,8,5,,,,
        P,1,2024-03-01,N2,target,lymph node,8,5,,,,
        P,1,2024-03-01,N3,target,lymph node,8,5,,,,
        P,2,2024-05-01,N1,target,lymph node,12,9.5,,,,
        P,2,2024-05-01,N2,target,lymph node,12,9.5,,,,
        P,2,2024-05-01,N3,target,lymph node,12,9.5,,,,
    """)
    assert follow_ups(patient, "sum_mm") == [15.0, 28.5]
    assert follow_ups(patient, "target") == ["CR", "CR"]
    assert follow_ups(patient, "overall") == ["CR", "CR"]
    assert patient["confirmed_best_overall_response"] == "CR"
    # Three nodes are three targets in one organ (all lymph nodes): a warning, not a refusal.
    assert patient["warning_codes"] == ["too-many-targets-in-organ"]


# -- new-lesion selection caps (criteria.md sections 2, 7 and 8, amended 2026-12) ----------


def test_irrc_visceral_and_cutaneous_caps_and_imrecist_two_per_organ(tmp_path):
    # TP1: 5 liver and 5 lung lesions 10 x 10 (100 mm² each), 1 bone 6 x 6 (36 mm²) and
    # 6 skin 8 x 8 (64 mm²). irRC: the 10 largest visceral ones (the bone lesion is the 11th,
    # visceral cap 10) and 5 skin (S1..S5 by id; cutaneous cap 5):
    # 20 x 10 + 10 x 100 + 5 x 64 = 1520 mm².
    # imRECIST / iRECIST NLT: measurable (>= 10 mm) at most 2 per organ: L1, L2, P1, P2:
    # 20 + 4 x 10 = 60 mm.
    rows = ["P,0,2024-01-01,T1,target,lung,20,10,,,,", "P,1,2024-03-01,T1,target,lung,20,10,,,,"]
    rows += [f"P,1,2024-03-01,L{k},new,liver,10,10,,,," for k in range(1, 6)]
    rows += [f"P,1,2024-03-01,P{k},new,lung,10,10,,,," for k in range(1, 6)]
    rows += ["P,1,2024-03-01,B1,new,bone,6,6,,,,"]
    rows += [f"P,1,2024-03-01,S{k},new,skin,8,8,,,," for k in range(1, 7)]
    patient = classify(tmp_path, "\n".join(rows))
    assert follow_ups(patient, "irrc_tumor_burden_mm2") == [1520.0]
    assert follow_ups(patient, "irrc") == ["irPD"]
    assert follow_ups(patient, "imrecist_sum_mm") == [60.0]
    assert follow_ups(patient, "imrecist") == ["PD"]  # +200 % and +40 mm from 20
