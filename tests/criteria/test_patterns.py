"""Atypical patterns and kinetics: TGR, hyperprogression, progression pattern, resistance."""

from __future__ import annotations

import pytest
from tests.criteria.builders import classify, days

from napari_recist.criteria.patterns import tumour_growth_rate

B = "2024-01-01"
D = [days(B, 56 * k) for k in range(6)]


def test_tgr_formula_hand_computed():
    # Two months (60.875 days), sum 50 -> 60: 100 * (1.2 ** (3 / 2) - 1) = 31.4534 %
    assert tumour_growth_rate(50, 60, 60.875, 30.4375) == pytest.approx(31.4534, abs=1e-3)
    assert tumour_growth_rate(50, 50, 61, 30.4375) == pytest.approx(0.0)
    assert tumour_growth_rate(50, 0, 61, 30.4375) == -100.0
    assert tumour_growth_rate(0, 10, 61, 30.4375) is None
    assert tumour_growth_rate(None, 10, 61, 30.4375) is None


# Pre-baseline 2023-11-01, baseline 2024-01-01, TP1 2024-03-02: 61 days each, 2.00411 months.
def hyper(pre_sum, baseline_sum, tp1_sum):
    lesions = {"T1": "target lung"}
    return classify(
        lesions,
        [("2024-01-01", {"T1": baseline_sum}), ("2024-03-02", {"T1": tp1_sum})],
        pre=[("2023-11-01", {"T1": pre_sum})] if pre_sum is not None else None,
    )


@pytest.mark.parametrize(
    ("pre", "base", "tp1", "tgr_ref", "tgr_exp", "champiat", "ferrara"),
    [
        (40, 50, 80, 39.66, 102.10, True, True),  # 102.1 >= 2 x 39.7 and +62.4
        (45, 50, 62, 17.08, 37.99, True, False),  # 38.0 >= 34.2, +20.9
        (55, 50, 62, -13.30, 37.99, True, True),  # TGR_ref <= 0; +51.3 > 50
        (30, 50, 62, 114.83, 37.99, False, False),  # slower than before
        (40, 50, 55, 39.66, None, False, False),  # not PD at TP1 (+10 %)
        (None, 50, 80, None, 102.10, False, False),  # no pre-baseline scan
    ],
)
def test_hyperprogression(pre, base, tp1, tgr_ref, tgr_exp, champiat, ferrara):
    result = hyper(pre, base, tp1)
    k = result.kinetics
    if tgr_ref is not None:
        assert k.tgr_ref == pytest.approx(tgr_ref, abs=0.05)
    if tgr_exp is not None:
        assert k.tgr_exp == pytest.approx(tgr_exp, abs=0.05)
    assert (result.hyperprogression.champiat, result.hyperprogression.ferrara) == (
        champiat,
        ferrara,
    )


LESIONS = {
    "T1": "target lung",
    "T2": "target liver",
    "LN": "target lymph node",
    "N1": "non-target bone",
    "X1": "new bone",
    "X2": "new adrenal",
}
BASE = {"T1": 20, "T2": 20, "LN": 20, "N1": "present"}


def pattern(follow_up):
    result = classify(LESIONS, [(D[0], BASE), (D[1], {**BASE, **follow_up})])
    return result.pattern.to_json()


def test_new_lesions_only():
    assert pattern({"T1": 10, "X1": 8}) == {
        "type": "new lesions only",
        "organs": ["bone"],
        "organ_count": 1,
        "oligo": True,
        "lymph_node_only": False,
        "site_group": "extrathoracic",
    }


def test_enlargement_only_in_the_liver():
    p = pattern({"T2": 40})
    assert (p["type"], p["organs"], p["site_group"]) == ("enlargement only", ["liver"], "liver")


def test_both_and_thoracic_group():
    p = pattern({"T1": 40, "X1": 8})
    assert (p["type"], p["organs"], p["organ_count"], p["site_group"]) == (
        "both",
        ["bone", "lung"],
        2,
        "thoracic",
    )
    assert p["oligo"] is True


def test_three_organs_is_not_oligo():
    p = pattern({"T1": 40, "X1": 8, "X2": 9})
    assert (p["organ_count"], p["oligo"]) == (3, False)


def test_lymph_node_only_and_thoracic_column():
    p = pattern({"LN": 40})
    assert (p["lymph_node_only"], p["site_group"]) == (True, "extrathoracic")
    lesions = {**LESIONS, "LN": "target lymph node thoracic"}
    result = classify(lesions, [(D[0], BASE), (D[1], {**BASE, "LN": 40})])
    assert result.pattern.site_group == "thoracic"


def test_target_pd_without_lesion_level_pd_takes_the_targets_that_grew():
    # 60 -> 72: +20 %, +12 mm target PD; each lesion only +4 mm: no lesion-level PD
    p = pattern({"T1": 24, "T2": 24, "LN": 24})
    assert (p["type"], p["organs"]) == ("enlargement only", ["liver", "lung", "lymph node"])


def test_non_target_progression_is_enlargement():
    p = pattern({"N1": "progression"})
    assert (p["type"], p["organs"]) == ("enlargement only", ["bone"])


def test_no_progression_pattern_without_pd():
    assert pattern({"T1": 15}) == {
        "type": "NA",
        "organs": [],
        "organ_count": None,
        "oligo": None,
        "lymph_node_only": None,
        "site_group": "NA",
    }


# --- resistance (SITC, simplified as in seed 004) ---------------------------------------------


def resistance(*visits):
    lesions = {"T1": "target lung"}
    return classify(lesions, [(day_of(d), {"T1": s}) for d, s in visits]).resistance[0]


def day_of(n):
    return days(B, n)


@pytest.mark.parametrize(
    ("visits", "expected"),
    [
        (((0, 50), (56, 70)), "primary"),  # BOR PD
        (((0, 50), (56, 50), (112, 70)), "primary"),  # SD at day 56 < 180, then PD
        (((0, 50), (179, 50), (230, 70)), "primary"),
        (((0, 50), (180, 50), (230, 70)), "secondary"),  # SD still at day 180
        (((0, 50), (56, 30), (112, 50)), "secondary"),  # PR reached
        (((0, 50), (56, 50)), "NA"),  # no PD
    ],
)
def test_resistance(visits, expected):
    assert resistance(*visits) == expected


# --- kinetics (seed 004) ----------------------------------------------------------------------


def sums(*values):
    return classify({"T1": "target lung"}, [(D[k], {"T1": v}) for k, v in enumerate(values)])


def test_depth_of_response_and_time_to_nadir():
    k = sums(100, 80, 60, 90).kinetics
    assert k.depth_of_response_pct == pytest.approx(-40.0)
    assert k.time_to_nadir_days == 112


def test_depth_is_positive_when_all_grew_and_nadir_is_baseline():
    k = sums(100, 110, 115).kinetics
    assert k.depth_of_response_pct == pytest.approx(10.0)
    assert k.time_to_nadir_days == 0


@pytest.mark.parametrize(
    ("values", "expected"),
    [
        ((100, 90), "with shrinkage"),
        ((100, 110), "without shrinkage"),
        ((100, 100), "without shrinkage"),
        ((100, 60), "NA"),
    ],
)
def test_stable_disease_with_or_without_shrinkage(values, expected):
    assert sums(*values).kinetics.first_follow_up_sd == expected


def test_change_per_month_at_progression():
    # 100 -> 80 -> 100: +25 % from the last evaluation over 56 days (1.8398 months)
    k = sums(100, 80, 100).kinetics
    assert k.change_per_month_at_pd_pct == pytest.approx(25 / (56 / 30.4375), abs=1e-6)


def test_pseudoprogression_flag():
    assert sums(50, 70, 55).irecist.pseudoprogression  # iUPD (+40 %), then 55: +10 % -> iSD
    assert not sums(50, 70, 80).irecist.pseudoprogression  # confirmed
