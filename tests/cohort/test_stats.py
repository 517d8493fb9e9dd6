"""Survival statistics against hand-checkable cases and published reference values."""

import math

import pytest

from napari_recist.cohort.clinical import SurvivalTime
from napari_recist.cohort.stats import (
    fisher_test,
    hazard_ratio,
    kaplan_meier_by_group,
    logrank,
)

# Freireich et al. 1963 leukaemia remission times (weeks), 6-MP vs placebo: the classic
# worked example of survival textbooks (Kleinbaum & Klein) and of R's survival package.
SIX_MP = [6, 6, 6, 6, 7, 9, 10, 10, 11, 13, 16, 17, 19, 20, 22, 23, 25, 32, 32, 34, 35]
SIX_MP_EVENT = [1, 1, 1, 0, 1, 0, 1, 0, 0, 1, 1, 0, 0, 0, 1, 1, 0, 0, 0, 0, 0]
PLACEBO = [1, 1, 2, 2, 3, 4, 4, 5, 5, 8, 8, 8, 8, 11, 11, 12, 12, 15, 17, 22, 23]


def _freireich() -> tuple[dict[str, SurvivalTime], dict[str, str]]:
    times: dict[str, SurvivalTime] = {}
    groups: dict[str, str] = {}
    for i, (weeks, event) in enumerate(zip(SIX_MP, SIX_MP_EVENT, strict=True)):
        times[f"T{i}"] = SurvivalTime(weeks, bool(event))
        groups[f"T{i}"] = "6-MP"
    for i, weeks in enumerate(PLACEBO):
        times[f"C{i}"] = SurvivalTime(weeks, True)
        groups[f"C{i}"] = "placebo"
    return times, groups


def test_median_of_uncensored_group_is_the_middle_value() -> None:
    times = {f"P{i}": SurvivalTime(days, True) for i, days in enumerate([10, 20, 30, 40, 50])}
    groups = dict.fromkeys(times, "DR")
    (summary,) = kaplan_meier_by_group(times, groups)
    # S(t) = 4/5, 3/5, 2/5 ...: first time S <= 0.5 is the third death, day 30.
    assert summary.median_days == 30
    assert (summary.n, summary.events) == (5, 5)


def test_median_not_reached_is_none() -> None:
    times = {
        "A": SurvivalTime(100, True),
        "B": SurvivalTime(200, False),
        "C": SurvivalTime(300, False),
    }
    (summary,) = kaplan_meier_by_group(times, dict.fromkeys(times, "CR"))
    assert summary.median_days is None
    assert summary.ci_high_days is None


def test_freireich_medians_logrank_and_hazard_ratio() -> None:
    times, groups = _freireich()
    by_group = {s.group: s for s in kaplan_meier_by_group(times, groups)}
    # Textbook KM medians: 23 weeks on 6-MP, 8 weeks on placebo.
    assert by_group["6-MP"].median_days == 23
    assert by_group["placebo"].median_days == 8
    assert by_group["6-MP"].ci_low_days <= 23 <= (by_group["6-MP"].ci_high_days or math.inf)
    # Log-rank chi-square 16.79, p 4.17e-5 (R survdiff; fastlogranktest documentation).
    test = logrank(times, groups)
    assert test is not None
    assert test.statistic == pytest.approx(16.79, abs=0.01)
    assert test.p_value == pytest.approx(4.17e-5, rel=0.01)
    # Cox (Efron ties): coef for placebo 1.572 (SE 0.412) => HR 6-MP vs placebo 0.208,
    # 95 % CI 0.093-0.466: lower hazard on treatment, the CI excludes 1.
    ratio = hazard_ratio(times, groups, group="6-MP", reference="placebo")
    assert ratio is not None
    assert ratio.hazard_ratio == pytest.approx(math.exp(-1.572), rel=0.01)
    assert ratio.ci_low == pytest.approx(0.0925, rel=0.02)
    assert ratio.ci_high == pytest.approx(0.466, rel=0.02)
    reverse = hazard_ratio(times, groups, group="placebo", reference="6-MP")
    assert reverse is not None
    assert reverse.hazard_ratio == pytest.approx(1 / ratio.hazard_ratio, rel=1e-4)


def test_lifelines_waltons_logrank_matches_documentation() -> None:
    # lifelines docs (Survival analysis with lifelines, "Statistical tests"): waltons data,
    # miR-137 vs control, log-rank test statistic 122.25, p < 0.005.
    from lifelines.datasets import load_waltons

    waltons = load_waltons()
    times = {str(i): SurvivalTime(row["T"], bool(row["E"])) for i, row in waltons.iterrows()}
    groups = {str(i): row["group"] for i, row in waltons.iterrows()}
    test = logrank(times, groups)
    assert test is not None
    assert test.statistic == pytest.approx(122.25, abs=0.01)
    assert test.p_value < 0.005


def test_hazard_ratio_none_when_group_missing_or_no_event() -> None:
    times = {"A": SurvivalTime(10, False), "B": SurvivalTime(20, False)}
    groups = {"A": "DR", "B": "true PD"}
    assert hazard_ratio(times, groups, "DR", "true PD") is None
    assert hazard_ratio(times, {"A": "DR", "B": "DR"}, "DR", "true PD") is None
    assert logrank(times, groups) is None


def test_fisher_two_by_two_hand_computed() -> None:
    # DR: 3 male / 1 female; true PD: 1 male / 3 female. Hypergeometric tables with 4 males
    # among 8, 4 in DR: P(k) = C(4,k)C(4,4-k)/70 -> 1,16,36,16,1 /70; two-sided p for k=3
    # sums the tables as or less likely: (1+16+16+1)/70.
    groups = {f"D{i}": "DR" for i in range(4)} | {f"P{i}": "true PD" for i in range(4)}
    sexes = ["male", "male", "male", "female", "male", "female", "female", "female"]
    covariates = {pid: {"sex": sex} for pid, sex in zip(groups, sexes, strict=True)}
    result = fisher_test(covariates, groups, "sex", ("DR", "true PD"))
    assert result is not None
    assert result.p_value == pytest.approx(34 / 70)
    assert result.method == "exact"
    assert result.levels == ("female", "male")
    assert result.counts == ((1, 3), (3, 1))


def test_fisher_larger_table_is_reproducible() -> None:
    groups = {f"P{i}": ("DR" if i % 2 else "true PD") for i in range(30)}
    covariates = {pid: {"pdl1": ["<1", "1-49", ">=50"][i % 3]} for i, pid in enumerate(groups)}
    first = fisher_test(covariates, groups, "pdl1", ("DR", "true PD"))
    second = fisher_test(covariates, groups, "pdl1", ("DR", "true PD"))
    assert first is not None and second is not None
    assert first.p_value == second.p_value
    assert first.method.startswith("Monte Carlo")
    assert 0 < first.p_value <= 1


def test_fisher_none_with_a_single_level() -> None:
    groups = {"A": "DR", "B": "true PD"}
    covariates = {"A": {"sex": "male"}, "B": {"sex": "male"}}
    assert fisher_test(covariates, groups, "sex", ("DR", "true PD")) is None
