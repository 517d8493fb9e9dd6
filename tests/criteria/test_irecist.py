"""iRECIST: confirmation, reset, new-lesion targets, iBOR (Seymour 2017 Tables 2-3, RWG FAQ)."""

from __future__ import annotations

import pytest
from tests.criteria.builders import classify, days, irecist

B = "2024-01-01"
D = [days(B, 56 * k) for k in range(7)]
LESIONS = {
    "T1": "target lung",
    "T2": "target liver",
    "N1": "non-target bone",
    "X1": "new liver",
    "X2": "new lung",
}


def run(*follow_ups, baseline=None, dates=None):
    baseline = baseline or {"T1": 40, "T2": 40, "N1": "present"}
    dates = dates or D
    visits = [(dates[0], baseline)] + [(dates[k + 1], f) for k, f in enumerate(follow_ups)]
    return classify(LESIONS, visits)


def fu(t1, t2, n1="present", **new):
    return {"T1": t1, "T2": t2, "N1": n1, **new}


# --- Table 2 without a prior iUPD ------------------------------------------------------------


@pytest.mark.parametrize(
    ("follow_up", "expected"),
    [
        (fu("absent", "absent", "absent"), "iCR"),
        (fu("absent", "absent", "present"), "iPR"),
        (fu(20, 20), "iPR"),
        (fu(35, 35), "iSD"),
        (fu(35, 35, "not-evaluated"), "iSD"),
        (fu("not-evaluated", 35), "NE"),
        (fu(50, 50), "iUPD"),
        (fu(35, 35, "progression"), "iUPD"),
        (fu(35, 35, X1=12), "iUPD"),
        (fu(35, 35, X1="equivocal"), "iSD"),
    ],
)
def test_time_point_without_prior_iupd(follow_up, expected):
    assert irecist(run(follow_up)) == [expected]


def test_non_target_disease_only():
    result = classify(
        {"N1": "non-target bone"}, [(D[0], {"N1": "present"}), (D[1], {"N1": "present"})]
    )
    assert irecist(result) == ["NON-iCR/NON-iUPD"]


# --- confirmation ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("second", "expected"),
    [
        (fu(52.5, 52.5), "iCPD"),  # SOD 105: a further +5 mm since the iUPD (100)
        (fu(52.45, 52.45), "iUPD"),  # +4.9 mm
        (fu(50, 50, "progression"), "iCPD"),  # another category now meets PD
        (fu(50, 50, X1=8), "iCPD"),  # a new lesion
    ],
)
def test_target_iupd_confirmation(second, expected):
    result = run(fu(50, 50), second)
    assert irecist(result) == ["iUPD", expected]


def test_target_increase_is_cumulative_since_the_iupd():
    # 100 (iUPD) -> 103 -> 106: +3 then +3, a further 6 mm since the iUPD.
    result = run(fu(50, 50), fu(51.5, 51.5), fu(53, 53))
    assert irecist(result) == ["iUPD", "iUPD", "iCPD"]
    assert result.irecist.progression_date.isoformat() == D[1]


def test_non_target_iupd_confirmed_by_any_further_growth():
    result = run(fu(35, 35, "progression"), fu(35, 35, "increase"))
    assert irecist(result) == ["iUPD", "iCPD"]


def test_non_target_progression_that_only_persists_stays_iupd():
    result = run(fu(35, 35, "progression"), fu(35, 35, "progression"))
    assert irecist(result) == ["iUPD", "iUPD"]


def test_new_lesion_iupd_confirmed_by_more_new_lesions():
    result = run(fu(35, 35, X1=12), fu(35, 35, X1=12, X2=11))
    assert irecist(result) == ["iUPD", "iCPD"]


def test_new_lesion_target_sum_grows_5_mm():
    result = run(fu(35, 35, X1=12), fu(35, 35, X1=17))
    assert irecist(result) == ["iUPD", "iCPD"]


def test_new_non_target_increase_confirms():
    result = run(fu(35, 35, X1="present"), fu(35, 35, X1="increase"))
    assert irecist(result) == ["iUPD", "iCPD"]


def test_assessment_within_28_days_confirms_only_through_new_lesions():
    dates = [D[0], D[1], days(D[1], 21), days(D[1], 42)]
    grown = run(fu(50, 50), fu(60, 60), dates=dates)  # +20 mm but 21 days later
    assert irecist(grown) == ["iUPD", "iUPD"]
    new = run(fu(50, 50), fu(50, 50, X1=12), dates=dates)
    assert irecist(new) == ["iUPD", "iCPD"]


def test_confirmed_progression_is_final():
    result = run(fu(50, 50), fu(55, 55), fu(30, 30))
    assert irecist(result) == ["iUPD", "iCPD", "iCPD"]


# --- reset and pseudoprogression ---------------------------------------------------------------


def test_reset_to_stable_disease_is_pseudoprogression():
    # 80 -> 100 (iUPD) -> 90: +12.5 % from nadir 80, no longer PD -> iSD
    result = run(fu(50, 50), fu(45, 45))
    assert irecist(result) == ["iUPD", "iSD"]
    assert result.irecist.pseudoprogression
    assert result.irecist.best_overall_response == "iSD"
    assert result.recist.best_overall_response == "PD"


def test_new_lesions_persist_and_the_sum_fell_resets():
    # RWG iRECIST FAQ scenario: the new lesion is unchanged, the targets shrank since the iUPD.
    result = run(fu(35, 35, X1=12), fu(30, 30, X1=12))
    assert irecist(result) == ["iUPD", "iSD"]


def test_new_lesions_persist_and_nothing_improved_stays_iupd():
    result = run(fu(35, 35, X1=12), fu(35, 35, X1=12))
    assert irecist(result) == ["iUPD", "iUPD"]
    assert not result.irecist.pseudoprogression


def test_complete_response_needs_new_lesions_resolved_too():
    result = run(fu(35, 35, "absent", X1=12), fu("absent", "absent", "absent", X1=12))
    assert irecist(result) == ["iUPD", "iPR"]
    resolved = run(fu(35, 35, "absent", X1=12), fu("absent", "absent", "absent", X1="absent"))
    assert irecist(resolved) == ["iUPD", "iCR"]


def test_after_reset_old_new_lesions_do_not_retrigger_but_a_further_one_does():
    result = run(
        fu(35, 35, X1=12),
        fu(30, 30, X1=12),  # reset to iSD
        fu(30, 30, X1=12),  # old new lesion still there: iSD
        fu(30, 30, X1=12, X2=11),  # a further new lesion: iUPD again, not iCPD
    )
    assert irecist(result) == ["iUPD", "iSD", "iSD", "iUPD"]


def test_after_reset_new_lesion_target_sum_20_percent_and_5_mm_above_its_smallest():
    result = run(fu(35, 35, X1=12), fu(30, 30, X1=12), fu(30, 30, X1=16.9), fu(30, 30, X1=17))
    # 16.9 is +40.8 % but +4.9 mm from the smallest 12; 17 is +41.7 % and +5 mm
    assert irecist(result) == ["iUPD", "iSD", "iSD", "iUPD"]


def test_after_reset_progression_needs_its_own_confirmation():
    result = run(fu(50, 50), fu(45, 45), fu(50, 50), fu(53, 53))
    # iUPD, reset (iSD), iUPD again (100 vs nadir 80), then +6 mm: iCPD dated at the 2nd iUPD
    assert irecist(result) == ["iUPD", "iSD", "iUPD", "iCPD"]
    assert result.irecist.progression_date.isoformat() == D[3]
    assert result.irecist.pseudoprogression


def test_new_lesion_targets_are_at_most_two_per_organ_and_five():
    lesions = {"T1": "target lung", **{f"X{k}": "new liver" for k in range(1, 4)}}
    result = classify(
        lesions,
        [(D[0], {"T1": 40}), (D[1], {"T1": 40, "X1": 20, "X2": 15, "X3": 12})],
    )
    from napari_recist.criteria.irecist import new_lesion_targets

    assert new_lesion_targets(result.timeline) == {"X1", "X2"}


def test_not_evaluated_after_iupd_keeps_it():
    result = run(fu(50, 50), fu("not-evaluated", 50))
    assert irecist(result) == ["iUPD", "NE"]
    assert result.irecist.best_overall_response == "iUPD"


# --- Table 3: iBOR ----------------------------------------------------------------------------


def test_ibor_iupd_then_isd():
    assert run(fu(50, 50), fu(45, 45)).irecist.best_overall_response == "iSD"


def test_ibor_iupd_then_icpd():
    assert run(fu(50, 50), fu(55, 55)).irecist.best_overall_response == "iCPD"


def test_ibor_iupd_then_only_ne():
    result = run(fu(50, 50), fu("not-evaluated", 50), fu("not-evaluated", 50))
    assert result.irecist.best_overall_response == "iUPD"


def test_ibor_complete_response_before_confirmed_progression():
    result = run(
        fu("absent", "absent", "absent"), fu(20, "absent", "absent"), fu(30, "absent", "absent")
    )
    assert irecist(result) == ["iCR", "iUPD", "iCPD"]
    assert result.irecist.best_overall_response == "iCR"


def test_ibor_partial_response_then_iupd_then_reset():
    result = run(fu(20, 20), fu(30, 30), fu(25, 25))
    # 80 -> 40 (iPR) -> 60 (+50 %, +20 mm: iUPD) -> 50 (+25 %, +10 mm from 40: still iUPD)
    assert irecist(result) == ["iPR", "iUPD", "iUPD"]
    assert result.irecist.best_overall_response == "iPR"


def test_ibor_early_stable_disease_does_not_count():
    dates = [D[0], days(B, 30), days(B, 60)]
    result = run(fu(35, 35), fu(50, 50), dates=dates)
    assert irecist(result) == ["iSD", "iUPD"]
    assert result.irecist.best_overall_response == "iUPD"


# --- new lesions that are not evaluated or only equivocal (review findings) -------------------

NEW_LESIONS = {"T1": "target lung", "T2": "target liver", "X1": "new bone"}


def test_unevaluated_new_lesion_target_is_not_0_mm_after_a_reset():
    result = classify(
        NEW_LESIONS,
        [
            ("2024-01-01", {"T1": 50, "T2": 50}),
            ("2024-02-15", {"T1": 50, "T2": 50, "X1": 20}),
            ("2024-04-01", {"T1": 40, "T2": 40, "X1": 20}),
            ("2024-05-15", {"T1": 40, "T2": 40, "X1": "not-evaluated"}),
            ("2024-07-01", {"T1": 40, "T2": 40, "X1": 20}),
        ],
    )
    assert irecist(result) == ["iUPD", "iSD", "iSD", "iSD"]  # X1 never changed


@pytest.mark.parametrize("state", ["not-evaluated", "equivocal"])
def test_new_lesion_not_known_to_be_gone_prevents_complete_response(state):
    result = classify(
        {"T1": "target lung", "X1": "new bone"},
        [
            ("2024-01-01", {"T1": 50}),
            ("2024-02-15", {"T1": 30, "X1": 20}),
            ("2024-04-01", {"T1": "absent", "X1": state}),
        ],
    )
    assert irecist(result)[1] != "iCR"
    if state == "not-evaluated":
        assert irecist(result) == ["iUPD", "NE"]
        assert result.irecist.best_overall_response == "iUPD"
        assert not result.irecist.pseudoprogression


def test_unevaluated_new_lesion_after_iupd_is_no_reset():
    result = classify(
        {"T1": "target lung", "X1": "new bone"},
        [
            ("2024-01-01", {"T1": 50}),
            ("2024-02-15", {"T1": 50, "X1": 20}),
            ("2024-04-01", {"T1": 50, "X1": "not-evaluated"}),
        ],
    )
    assert irecist(result) == ["iUPD", "NE"]
    assert not result.irecist.pseudoprogression


def test_new_lesion_target_sum_smallest_value_is_over_its_whole_history():
    # NLT 10 at the iUPD, 14 at the reset, 16: +60 % and +6 mm above its smallest (10)
    result = classify(
        NEW_LESIONS,
        [
            ("2024-01-01", {"T1": 50, "T2": 50}),
            ("2024-02-15", {"T1": 50, "T2": 50, "X1": 10}),
            ("2024-04-01", {"T1": 40, "T2": 40, "X1": 14}),
            ("2024-05-15", {"T1": 40, "T2": 40, "X1": 16}),
        ],
    )
    assert irecist(result) == ["iUPD", "iSD", "iUPD"]
