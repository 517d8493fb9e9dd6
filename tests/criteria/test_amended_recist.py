"""RECIST 1.1 rules of the 2026-12 amendment (shared/spec/criteria.md section 1), hand-computed.

Reappearance after CR, the raw confirmed BOR, the time origin, PFS, new lymph nodes and the
warning codes.
"""

from __future__ import annotations

import pytest
from tests.criteria.builders import classify, days, overall, targets

B = "2024-01-01"
D = [days(B, 56 * k) for k in range(8)]  # baseline, then every 8 weeks


# --- reappearance after CR (RWG FAQ "Abnormal lymph node", "Does a new lesion ...") ---------


def test_cr_ne_then_lesion_back_is_pd_but_cr_pr_then_back_is_not_reappearance():
    lesions = {"T1": "target lung", "N1": "non-target bone"}
    # CR, NE, lesion back: the rule applies (the last non-NE follow-up was CR).
    result = classify(lesions, [
        (D[0], {"T1": 20, "N1": "present"}),
        (D[1], {"T1": "absent", "N1": "absent"}),
        (D[2], {"T1": "not-evaluated", "N1": "absent"}),
        (D[3], {"T1": 4, "N1": "absent"}),
    ])
    assert overall(result) == ["CR", "NE", "PD"]
    assert "reappeared after CR" in result.recist.timepoints[3].target_reason
    # CR, PR, lesion back: it does not (PR sits between; a non-target node seen again is
    # NON-CR/NON-PD, so target CR gives PR).
    lesions = {"T1": "target lung", "NN": "non-target lymph node"}
    result = classify(lesions, [
        (D[0], {"T1": 20, "NN": 14}),
        (D[1], {"T1": "absent", "NN": 6}),
        (D[2], {"T1": "absent", "NN": 12}),
        (D[3], {"T1": 4, "NN": 12}),
    ])
    assert overall(result)[:2] == ["CR", "PR"]
    assert "reappeared" not in result.recist.timepoints[3].target_reason


@pytest.mark.parametrize(("short_axis", "expected"), [(10.0, "PD"), (9.9, "CR")])
def test_nodal_target_back_after_cr_only_from_10_mm(short_axis, expected):
    result = classify({"LN": "target lymph node"}, [
        (D[0], {"LN": 20}), (D[1], {"LN": 8}), (D[2], {"LN": short_axis}),
    ])
    assert targets(result) == ["CR", expected]


def test_nodal_non_target_back_after_cr_is_not_pd_and_asks_for_reimaging():
    # RWG FAQ: a non-target node has reappeared only when it has unequivocally progressed.
    lesions = {"T1": "target lung", "NN": "non-target lymph node"}
    result = classify(lesions, [
        (D[0], {"T1": 20, "NN": 14}),
        (D[1], {"T1": "absent", "NN": 6}),
        (D[2], {"T1": "absent", "NN": 12}),
        (D[3], {"T1": "absent", "NN": "progression"}),
    ])
    tp2 = result.recist.timepoints[2]
    assert (tp2.non_target, tp2.overall) == ("NON-CR/NON-PD", "PR")  # Table 1: CR + NON-CR
    assert "re-image" in tp2.non_target_reason
    assert result.recist.timepoints[3].non_target == "PD"


def test_non_nodal_non_target_seen_again_after_cr_is_pd():
    lesions = {"T1": "target lung", "N1": "non-target bone"}
    result = classify(lesions, [
        (D[0], {"T1": 20, "N1": "present"}),
        (D[1], {"T1": "absent", "N1": "absent"}),
        (D[2], {"T1": "absent", "N1": "present"}),
    ])
    assert overall(result) == ["CR", "PD"]
    assert "reappeared after CR" in result.recist.timepoints[2].non_target_reason


def test_equivocal_keeps_the_rule_open_and_dates_pd_back():
    lesions = {"T1": "target lung", "N1": "non-target bone"}
    result = classify(lesions, [
        (D[0], {"T1": 20, "N1": "present"}),
        (D[1], {"T1": "absent", "N1": "absent"}),
        (D[2], {"T1": "absent", "N1": "equivocal"}),  # not PD: NON-CR/NON-PD -> PR
        (D[3], {"T1": "absent", "N1": "present"}),
    ])
    assert overall(result) == ["CR", "PR", "PD"]
    assert result.recist.progression_date.isoformat() == D[2]


# --- continued PR and the raw confirmed BOR ----------------------------------------------


def test_continued_pr_on_time_points_but_not_in_the_confirmed_bor():
    # SOD 100, 70, 80: PR, PR (RWG FAQ); raw PR, SD: not confirmed -> SD.
    result = classify({"T1": "target lung"}, [
        (D[0], {"T1": 100}), (D[1], {"T1": 70}), (D[2], {"T1": 80}),
    ])
    assert overall(result) == ["PR", "PR"]
    assert [tp.overall for tp in result.recist.raw_timepoints[1:]] == ["PR", "SD"]
    assert result.recist.confirmed_best_overall_response == "SD"


@pytest.mark.parametrize(("gap", "expected"), [(28, "PR"), (27, "SD")])
def test_confirmation_at_exactly_28_days(gap, expected):
    first = days(B, 56)
    result = classify({"T1": "target lung"}, [
        (B, {"T1": 100}), (first, {"T1": 60}), (days(first, gap), {"T1": 60}),
    ])
    assert result.recist.confirmed_best_overall_response == expected


@pytest.mark.parametrize(("between", "expected"), [(1, "PR"), (2, "SD")])
def test_at_most_one_ne_between(between, expected):
    visits = [(D[0], {"T1": 100}), (D[1], {"T1": 60})]
    visits += [(D[2 + k], {"T1": "not-evaluated"}) for k in range(between)]
    visits.append((D[2 + between], {"T1": 60}))
    result = classify({"T1": "target lung"}, visits)
    assert result.recist.confirmed_best_overall_response == expected


def test_cr_then_pr_confirms_pr():
    lesions = {"T1": "target lung", "NN": "non-target lymph node"}
    result = classify(lesions, [
        (D[0], {"T1": 30, "NN": 14}),
        (D[1], {"T1": "absent", "NN": 6}),
        (D[2], {"T1": "absent", "NN": 12}),
    ])
    assert overall(result) == ["CR", "PR"]
    assert result.recist.confirmed_best_overall_response == "PR"


def test_ne_then_pd_is_pd():
    result = classify({"T1": "target lung"}, [
        (B, {"T1": 30}), (days(B, 30), {"T1": "not-evaluated"}), (days(B, 100), {"T1": 40}),
    ])
    assert result.recist.confirmed_best_overall_response == "PD"


# --- time origin, baseline timing, PFS ----------------------------------------------------


@pytest.mark.parametrize(("start", "bor"), [("2024-01-01", "SD"), ("2024-01-02", "NE")])
def test_sd_window_counts_from_treatment_start(start, bor):
    # Follow-up 42 days after baseline: SD counts from a same-day start, not one day later.
    result = classify(
        {"T1": "target lung"}, [(B, {"T1": 30}), (days(B, 42), {"T1": 28})], treatment_start=start
    )
    assert result.recist.best_overall_response == bor


@pytest.mark.parametrize(
    ("start", "codes"),
    [
        (days(B, 28), []),  # 28 days exactly: no warning
        (days(B, 29), ["baseline-too-early"]),
        (days(B, -1), ["baseline-after-treatment-start"]),
        (B, []),
    ],
)
def test_baseline_timing_warnings(start, codes):
    result = classify(
        {"T1": "target lung"}, [(B, {"T1": 30}), (D[2], {"T1": 30})], treatment_start=start
    )
    assert result.warning_codes == codes
    assert result.recist.best_overall_response == "SD"  # warnings reclassify nothing


def test_pfs_from_treatment_start_event_and_censoring():
    lesions = {"T1": "target lung"}
    start = days(B, 10)
    progressed = classify(
        lesions, [(B, {"T1": 30}), (D[1], {"T1": 30}), (D[2], {"T1": 40})], treatment_start=start
    )
    assert (progressed.recist.pfs_days, progressed.recist.pfs_event) == (112 - 10, True)
    censored = classify(
        lesions,
        [(B, {"T1": 30}), (D[1], {"T1": 30}), (D[2], {"T1": "not-evaluated"})],
        treatment_start=start,
    )
    # Censored at the last follow-up whose overall response is not NE.
    assert (censored.recist.pfs_days, censored.recist.pfs_event) == (56 - 10, False)
    none = classify(lesions, [(B, {"T1": 30})])
    assert (none.recist.pfs_days, none.recist.pfs_event) == (None, False)


def test_follow_up_before_treatment_start_counts_negative_days():
    result = classify(
        {"T1": "target lung"},
        [(B, {"T1": 30}), (days(B, 5), {"T1": 40})],
        treatment_start=days(B, 20),
    )
    assert result.recist.pfs_days == -15 and result.recist.pfs_event
    assert result.warning_codes == []


def test_sitc_cut_from_treatment_start():
    # Last SD at day 190 from baseline is day 179 from a start 11 days later: primary.
    visits = [(B, {"T1": 30}), (days(B, 190), {"T1": 30}), (days(B, 250), {"T1": 40})]
    assert classify({"T1": "target lung"}, visits).resistance[0] == "secondary"
    late = classify({"T1": "target lung"}, visits, treatment_start=days(B, 11))
    assert late.resistance[0] == "primary"


# --- new lymph nodes (RWG FAQ "New lymph node lesions") ----------------------------------


@pytest.mark.parametrize(
    ("short_axis", "overall_response", "codes"),
    [
        (9.9, "SD", []),
        (10.0, "PD", ["new-node-recheck"]),
        (14.9, "PD", ["new-node-recheck"]),
        (15.0, "PD", []),
    ],
)
def test_new_node_counts_from_10_mm_and_rechecks_below_15(short_axis, overall_response, codes):
    result = classify(
        {"T1": "target lung", "X1": "new lymph node"},
        [(B, {"T1": 30}), (D[1], {"T1": 30, "X1": short_axis})],
    )
    assert overall(result) == [overall_response]
    assert result.warning_codes == codes
    lesion = result.lesions[1]["X1"].response
    assert lesion == ("NA" if short_axis < 10 else "NEW")


def test_new_node_first_counts_later_and_afterwards_small_is_absent():
    result = classify(
        {"T1": "target lung", "X1": "new lymph node"},
        [
            (D[0], {"T1": 30}),
            (D[1], {"T1": 30, "X1": 8}),  # not a new lesion yet
            (D[2], {"T1": 30}),  # missing row: still not covered
            (D[3], {"T1": 30, "X1": 16}),  # counts from here: PD
            (D[4], {"T1": 30, "X1": 8}),  # afterwards < 10 mm counts as absent
        ],
    )
    assert overall(result) == ["SD", "SD", "PD", "SD"]
    assert result.recist.progression_date.isoformat() == D[3]
    assert result.timeline.states["X1"][4].value == "absent"


def test_equivocal_new_node_row_moves_the_progression_date_back():
    result = classify(
        {"T1": "target lung", "X1": "new lymph node"},
        [(D[0], {"T1": 30}), (D[1], {"T1": 30, "X1": "equivocal"}), (D[2], {"T1": 30, "X1": 12})],
    )
    assert overall(result) == ["SD", "PD"]
    assert result.recist.progression_date.isoformat() == D[1]


# --- warnings and their order (criteria.md section 9) -------------------------------------


def test_warning_order_and_codes():
    lesions = {
        "T1": "target lung", "T2": "target lung", "T3": "target lung", "T4": "target liver",
        "X1": "new lymph node",
    }
    result = classify(
        lesions,
        [(B, {"T1": 30, "T2": 8, "T3": 20, "T4": "not-evaluated"}),
         (D[1], {"T1": 30, "T2": 8, "T3": 20, "T4": 20, "X1": 12})],
        treatment_start=days(B, 40),
    )
    assert result.warning_codes == sorted([
        "baseline-too-early", "target-not-measurable", "target-without-size",
        "too-many-targets-in-organ", "new-node-recheck",
    ])
    order = [w.code for w in result.warning_items]
    # Baseline first (by code), then TP1.
    assert order == [
        "baseline-too-early", "target-not-measurable", "target-without-size",
        "too-many-targets-in-organ", "new-node-recheck",
    ]
    json = result.to_json()
    assert json["warning_codes"] == result.warning_codes
    assert len(json["warnings"]) == 5


def test_target_without_size_leaves_baseline_unknown():
    result = classify(
        {"T1": "target lung", "T2": "target liver"},
        [(B, {"T1": 30, "T2": "not-evaluated"}), (D[1], {"T1": 10, "T2": 10})],
    )
    tp = result.to_json()["timepoints"][1]
    assert tp["change_from_baseline_pct"] is None
    assert tp["target"] == "SD"  # no PR from an unknown baseline
    assert result.to_json()["irrc_best_overall_response"] == "NA"
    assert "target-without-size" in result.warning_codes
