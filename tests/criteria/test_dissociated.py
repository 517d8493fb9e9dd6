"""Dissociated response: Vuagnat (seed 001), Bernard-Tessier (seed 002), Tozuka (seed 000)."""

from __future__ import annotations

import pytest
from tests.criteria.builders import classify, days

B = "2024-01-01"
D = [days(B, 56 * k) for k in range(7)]
THREE = {
    "T1": "target lung",
    "T2": "target liver",
    "T3": "target adrenal",
    "X1": "new bone",
    "N1": "non-target bone",
}


def three(*follow_ups, **settings):
    visits = [(D[0], {"T1": 20, "T2": 20, "T3": 20, "N1": "present"})]
    for k, (a, b, c, *rest) in enumerate(follow_ups):
        values = {"T1": a, "T2": b, "T3": c, "N1": rest[0] if rest else "present"}
        if len(rest) > 1:
            values["X1"] = rest[1]
        visits.append((D[k + 1], values))
    return classify(THREE, visits, **settings)


# --- Vuagnat -----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("sizes", "expected"),
    [
        ((10, 30, 20), "DR1"),  # PR + PD (+ SD): DR1 beats the others
        ((20, 30, 20), "DR2"),  # SD + PD
        ((10, 20, 20), "DR3"),  # PR + SD
        (("absent", 20, 20), "DR3"),  # CR + SD
        ((20, 20, 20), "none"),
        ((10, 10, 10), "none"),
        ((30, 30, 30), "none"),
    ],
)
def test_vuagnat_per_assessment(sizes, expected):
    result = three(sizes)
    assert result.vuagnat[1].value == expected


def test_vuagnat_patient_takes_the_best_category_and_reports_the_rate():
    # TP1: T1 PR, T2/T3 SD -> DR3. TP2: T1 20 is +100 % from its nadir 10 -> PD -> DR2.
    # TP3: T1 10 is -50 % -> PR, T2 30 is +50 % from 20 -> PD -> DR1. TP4 as TP2 -> DR2.
    result = three((10, 20, 20), (20, 20, 20), (10, 30, 20), (20, 20, 20), (20, 20, 20))
    values = [v.value for v in result.vuagnat[1:]]
    assert values[:4] == ["DR3", "DR2", "DR1", "DR2"]
    assert result.vuagnat_patient.value == "DR1"
    # TP5: T1 20 from nadir 10 is still PD, T2 20 from nadir 20 SD -> DR2: 5 of 5 follow-ups
    assert result.vuagnat_rate == pytest.approx(1.0)


def test_vuagnat_rate_counts_follow_ups_without_dr():
    result = three((10, 20, 20), (10, 10, 10))  # DR3, then all PR -> none
    assert [v.value for v in result.vuagnat[1:]] == ["DR3", "none"]
    assert result.vuagnat_rate == pytest.approx(0.5)


def test_vuagnat_needs_two_targets():
    result = classify({"T1": "target lung"}, [(D[0], {"T1": 20}), (D[1], {"T1": 10})])
    assert result.vuagnat_patient.value == "NA"
    assert result.vuagnat[1].value == "NA"


# --- Bernard-Tessier ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("sizes", "expected"),
    [
        ((13, 26, 20), True),  # -35 % and +30 % (+6 mm)
        ((14, 26, 20), False),  # exactly -30 % is not a decrease > 30 %
        ((13, 24, 20), False),  # +20 % exactly is not > 20 %
        ((13, 24.9, 20), False),  # +24.5 % but only +4.9 mm
        ((13, 22.6, 22.6), False),  # +13 % each: not > 20 %, the 5.2 mm do not count
    ],
)
def test_bernard_tessier_thresholds(sizes, expected):
    assert (three(sizes).bernard_tessier[1].value == "true") is expected


def test_bernard_tessier_increases_sum_to_5_mm():
    # T2 and T3 each +3 mm from 12 (+25 %): increases sum to 6 mm
    visits = [
        (D[0], {"T1": 20, "T2": 12, "T3": 12, "N1": "present"}),
        (D[1], {"T1": 13, "T2": 15, "T3": 15, "N1": "present"}),
    ]
    assert classify(THREE, visits).bernard_tessier[1].value == "true"


def test_bernard_tessier_with_new_lesion_or_non_target_growth():
    assert three((13, 20, 20, "present", 8)).bernard_tessier[1].value == "true"
    assert three((13, 20, 20, "increase")).bernard_tessier[1].value == "true"
    assert three((13, 20, 20, "progression")).bernard_tessier[1].value == "true"
    assert three((13, 20, 20, "present", "equivocal")).bernard_tessier[1].value == "false"


@pytest.mark.parametrize(
    ("sizes", "category"),
    [
        ((13, 26, 20), "DR"),  # whatever the overall response (SD here)
        ((10, 10, 10), "true PR"),
        ((20, 20, 20), "true SD"),
        ((30, 30, 30), "true PD"),
        (("absent", "absent", "absent", "absent"), "CR"),
        ((20, 20, "not-evaluated"), "NE"),
    ],
)
def test_seed_002_category(sizes, category):
    result = three(sizes)
    assert result.categories[1] == category


def test_patient_category_and_response_group():
    dr = three((13, 26, 20))
    assert (dr.category, dr.response_group) == ("DR", "atypical response")
    pr = three((10, 10, 10))
    assert (pr.category, pr.response_group) == ("true PR", "true response")
    pd = three((30, 30, 30))
    assert (pd.category, pd.response_group) == ("true PD", "non-response")


# --- Tozuka ------------------------------------------------------------------------------------


def test_tozuka_dr_at_first_follow_up_pd():
    # PD by a new lesion while T1 shrank
    assert three((15, 20, 20, "present", 10)).tozuka.value == "DR"


def test_tozuka_true_pd_when_nothing_shrank():
    assert three((30, 30, 30)).tozuka.value == "true PD"


def test_tozuka_na_without_pd_at_first_follow_up():
    result = three((15, 20, 20), (15, 20, 20, "present", 10))
    assert result.tozuka.value == "NA"
    every = three((15, 20, 20), (15, 20, 20, "present", 10), tozuka_every_pd=True)
    assert every.tozuka.value == "DR"


def test_tozuka_growth_in_non_target_counts():
    assert three((15, 30, 30, "progression")).tozuka.value == "DR"


# --- one lesion cannot be on both sides (some shrink while OTHERS grow) -----------------------


def test_a_lesion_that_shrank_then_regrew_is_not_dissociated_by_itself():
    # T1 40 -> 10 -> 20: -50 % from baseline and +100 % (+10 mm) from its nadir; T2 steady
    lesions = {"T1": "target lung", "T2": "target liver"}
    visits = [
        (D[0], {"T1": 40, "T2": 20}),
        (D[1], {"T1": 10, "T2": 20}),
        (D[2], {"T1": 20, "T2": 20}),
    ]
    result = classify(lesions, visits)
    assert result.bernard_tessier[2].value == "false"


def test_tozuka_shrinking_and_growing_lesions_must_differ():
    lesions = {"T1": "target lung", "T2": "target liver"}
    # TP2: T1 39 is below its baseline 40, T2 doubled: SOD 79 vs nadir 58 is PD -> DR
    two = classify(
        lesions,
        [(D[0], {"T1": 40, "T2": 20}), (D[1], {"T1": 38, "T2": 20}), (D[2], {"T1": 39, "T2": 40})],
        tozuka_every_pd=True,
    )
    assert two.tozuka.value == "DR"
    # TP2: T1 30 is -25 % from baseline and +50 % (+10 mm) from its nadir 20, T2 unchanged:
    # PD by T1 alone, which cannot be both the shrinking and the growing lesion -> true PD
    alone = classify(
        lesions,
        [(D[0], {"T1": 40, "T2": 20}), (D[1], {"T1": 20, "T2": 20}), (D[2], {"T1": 30, "T2": 20})],
        tozuka_every_pd=True,
    )
    assert alone.recist.timepoints[2].overall == "PD"
    assert alone.tozuka.value == "true PD"
