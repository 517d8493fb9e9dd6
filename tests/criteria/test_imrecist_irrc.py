"""imRECIST (criteria.md section 7) and irRC (section 8), hand-computed at every boundary."""

from __future__ import annotations

import pytest
from tests.criteria.builders import classify, days, imrecist, irrc, overall

B = "2024-01-01"
D = [days(B, 56 * k) for k in range(8)]
ONE = {"T1": "target lung"}


# --- imRECIST -----------------------------------------------------------------------------


def test_imrecist_na_without_targets():
    result = classify(
        {"N1": "non-target bone"}, [(D[0], {"N1": "present"}), (D[1], {"N1": "present"})]
    )
    assert result.imrecist.best_overall_response == "NA"
    assert imrecist(result) == ["NA"]
    assert result.to_json()["imrecist_progression_date"] is None


def test_imrecist_new_measurable_lesion_enters_the_sum_and_pd_is_negated():
    # 30; then 30 + new 10 = 40: +33 %, +10 mm from nadir 30: PD; then 20 + 10 = 30: not PD
    # >= 28 days later, so the PD is negated and the BOR is taken after it.
    result = classify(
        {"T1": "target lung", "X": "new liver"},
        [(D[0], {"T1": 30}), (D[1], {"T1": 30, "X": 10}), (D[2], {"T1": 20, "X": 10})],
    )
    assert overall(result) == ["PD", "PD"]
    assert imrecist(result) == ["PD", "SD"]
    assert [tp.sum_mm for tp in result.imrecist.timepoints] == [30, 40, 30]
    assert result.imrecist.progression_date is None
    assert result.imrecist.best_overall_response == "SD"
    tp = result.to_json()["timepoints"][2]
    assert (tp["imrecist"], tp["imrecist_sum_mm"]) == ("SD", 30.0)


@pytest.mark.parametrize(("gap", "stands"), [(28, False), (27, True)])
def test_imrecist_negation_needs_a_scan_at_least_28_days_later(gap, stands):
    pd_day = days(B, 56)
    result = classify(
        ONE,
        [(B, {"T1": 30}), (pd_day, {"T1": 40}), (days(pd_day, gap), {"T1": 30}),
         (days(pd_day, 60), {"T1": 40})],
    )
    assert imrecist(result)[:2] == ["PD", "SD"]
    # A scan 27 days later neither negates nor confirms: the next one (PD) decides.
    first_stands = result.imrecist.progression_date.isoformat() == pd_day
    assert first_stands is stands
    if not stands:  # negated; the later PD (40 from nadir 30) stands on its own
        assert result.imrecist.progression_date.isoformat() == days(pd_day, 60)


def test_imrecist_non_measurable_new_lesions_and_non_target_progression_never_make_pd():
    result = classify(
        {"T1": "target lung", "N1": "non-target bone", "X": "new liver"},
        [(D[0], {"T1": 30, "N1": "present"}), (D[1], {"T1": 30, "N1": "progression", "X": 8})],
    )
    assert overall(result) == ["PD"]
    assert imrecist(result) == ["SD"]


def test_imrecist_continued_pr_until_a_pd_time_point():
    result = classify(
        ONE,
        [(D[0], {"T1": 100}), (D[1], {"T1": 60}), (D[2], {"T1": 70}), (D[3], {"T1": 100}),
         (D[4], {"T1": 71})],
    )
    # 60 PR; 70 SD by the numbers stays PR; 100 is +67 % from 60: PD; 71 (-29 % from
    # baseline, +18.3 % from the nadir 60): SD, as PR needs <= -30 % again after a PD.
    assert imrecist(result) == ["PR", "PR", "PD", "SD"]


def test_imrecist_cr_blocked_by_an_equivocal_new_lesion():
    result = classify(
        {"T1": "target lung", "X": "new liver"},
        [(D[0], {"T1": 30}), (D[1], {"T1": "absent", "X": "equivocal"}), (D[2], {"T1": "absent"})],
    )
    assert imrecist(result)[0] == "PR"  # 0 from 30: -100 %, not CR with an equivocal lesion
    assert imrecist(result)[1] == "PR"  # not evaluated new lesion still blocks CR


def test_imrecist_unknown_sum_is_ne_unless_the_known_part_meets_pd():
    result = classify(
        {"T1": "target lung", "T2": "target liver"},
        [(D[0], {"T1": 30, "T2": 20}), (D[1], {"T1": "not-evaluated", "T2": 20}),
         (D[2], {"T1": "not-evaluated", "T2": 70})],
    )
    assert imrecist(result) == ["NE", "PD"]
    assert result.imrecist.timepoints[1].sum_mm is None


# --- irRC ---------------------------------------------------------------------------------


def test_irrc_products_of_fragments_are_added_row_by_row():
    # Fragments 10 x 10 and 10 x 8 give 180 mm², not 20 x 18: exactly -50 % from 360.
    result = classify(
        {"T4": "target lung", "T4.1": "target lung", "T4.2": "target lung"},
        [(D[0], {"T4": (20, 18)}), (D[1], {"T4.1": (10, 10), "T4.2": (10, 8)})],
        part_of={"T4.1": "T4", "T4.2": "T4"},
    )
    assert [tp.burden_mm2 for tp in result.irrc.timepoints] == [360, 180]
    assert irrc(result) == ["irPR"]


@pytest.mark.parametrize(("short", "expected"), [(10.0, "irPR"), (10.005, "irSD")])
def test_irrc_partial_response_boundary_minus_50(short, expected):
    result = classify(ONE, [(D[0], {"T1": (20, 20)}), (D[1], {"T1": (20, short)})])
    assert irrc(result) == [expected]  # 200 from 400 is -50 %; 200.1 is not


@pytest.mark.parametrize(("short", "expected"), [(25.0, "irPD"), (24.99, "irSD")])
def test_irrc_progression_boundary_plus_25(short, expected):
    result = classify(ONE, [(D[0], {"T1": (20, 20)}), (D[1], {"T1": (20, short)})])
    assert irrc(result) == [expected]  # 500 from nadir 400 is +25 %; 499.8 is not


@pytest.mark.parametrize(("size", "burden"), [((5, 5), 425), ((5, 4.9), 400), ((4.9, 5), 400)])
def test_irrc_new_lesion_measurable_from_5_by_5(size, burden):
    result = classify(
        {"T1": "target lung", "X": "new liver"},
        [(D[0], {"T1": (20, 20)}), (D[1], {"T1": (20, 20), "X": size})],
    )
    assert result.irrc.timepoints[1].burden_mm2 == burden
    assert irrc(result) == ["irSD"]  # new lesions alone never make irPD
    assert overall(result) == ["PD"]


def test_irrc_na_when_an_index_lesion_has_no_short_axis_at_baseline():
    result = classify(
        {"T1": "target lung", "T2": "target liver"},
        [(D[0], {"T1": (20, 20), "T2": 30}), (D[1], {"T1": (20, 20), "T2": 30})],
    )
    assert result.irrc.best_overall_response == "NA"
    assert "T2" in result.irrc.best_overall_reason and "product" in result.irrc.best_overall_reason
    assert irrc(result) == ["NA"]
    assert result.to_json()["timepoints"][1]["irrc_tumor_burden_mm2"] is None


def test_irrc_confirmed_responses_and_negated_progression():
    confirmed = classify(
        ONE, [(D[0], {"T1": (20, 20)}), (D[1], {"T1": (10, 10)}), (D[2], {"T1": (10, 10)})]
    )
    assert confirmed.irrc.best_overall_response == "irPR"
    broken = classify(
        ONE,
        [(D[0], {"T1": (20, 20)}), (D[1], {"T1": (10, 10)}), (D[2], {"T1": (15, 15)}),
         (D[3], {"T1": (10, 10)})],
    )
    assert irrc(broken) == ["irPR", "irPD", "irPR"]  # 225 from nadir 100: +125 %
    # The irPD is negated (irPR 56 days later) but breaks the confirmation: irSD.
    assert broken.irrc.best_overall_response == "irSD"
    assert broken.irrc.progression_date is None


def test_irrc_complete_response_needs_every_lesion_gone():
    result = classify(
        {"T1": "target lung", "N1": "non-target bone", "X": "new liver"},
        [(D[0], {"T1": (20, 20), "N1": "present"}),
         (D[1], {"T1": "absent", "N1": "absent", "X": "equivocal"}),
         (D[2], {"T1": "absent", "N1": "absent", "X": "absent"}),
         (D[3], {"T1": "absent", "N1": "absent", "X": "absent"})],
    )
    assert irrc(result) == ["irPR", "irCR", "irCR"]
    assert result.irrc.best_overall_response == "irCR"


def test_irrc_at_most_five_new_lesions_per_organ_largest_first():
    lesions = {"T1": "target lung"}
    lesions.update({f"X{k}": "new liver" for k in range(6)})
    follow_up = {"T1": (20, 20)}
    follow_up.update({f"X{k}": (10, 10 - k * 0.5) for k in range(6)})
    result = classify(lesions, [(D[0], {"T1": (20, 20)}), (D[1], follow_up)])
    # The five largest: 100 + 95 + 90 + 85 + 80 = 450; X5 (75) is nonmeasurable.
    assert result.irrc.timepoints[1].burden_mm2 == 400 + 450
