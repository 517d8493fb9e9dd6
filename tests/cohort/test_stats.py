"""Fisher's exact test and the characteristics table against hand-computed and published values."""

import pytest

from napari_recist.cohort.characteristics import characteristic
from napari_recist.cohort.stats import fisher_test


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


@pytest.mark.parametrize(
    ("dr_yes", "pd_yes", "published"),
    [
        (6, 39, 0.155),  # seed 000 Table 1: smoking current/former, DR 6/11 vs true PD 39/51
        (7, 25, 0.511),  # line of treatment: 2nd line 7/11 vs 25/51
        (7, 33, 1.000),  # male 7/11 vs 33/51
        (8, 38, 1.000),  # PS 0-1 8/11 vs 38/51
    ],
)
def test_fisher_reproduces_seed000_table1(dr_yes: int, pd_yes: int, published: float) -> None:
    groups = {f"D{i}": "DR" for i in range(11)} | {f"P{i}": "true PD" for i in range(51)}
    covariates = {f"D{i}": {"x": "yes" if i < dr_yes else "no"} for i in range(11)}
    covariates |= {f"P{i}": {"x": "yes" if i < pd_yes else "no"} for i in range(51)}
    result = fisher_test(covariates, groups, "x", ("DR", "true PD"))
    assert result is not None
    assert round(result.p_value, 3) == published


def test_numeric_covariate_is_summarised_not_split_into_levels() -> None:
    from scipy.stats import kruskal, mannwhitneyu

    groups = {f"P{i}": ("DR" if i % 3 == 0 else "true PD" if i % 3 == 1 else "true SD")
              for i in range(30)}  # fmt: skip
    ages = {pid: {"age": str(40 + (i * 7) % 35), "ldh": f"{200 + i * 3.5}"}
            for i, pid in enumerate(groups)}  # fmt: skip
    two = characteristic(ages, groups, "age", ("true PD", "DR"))
    assert two is not None and two.kind == "numeric" and two.test == "Mann-Whitney U"
    dr = [float(ages[p]["age"]) for p, g in groups.items() if g == "DR"]
    pd_ = [float(ages[p]["age"]) for p, g in groups.items() if g == "true PD"]
    assert two.p_value == pytest.approx(mannwhitneyu(pd_, dr, alternative="two-sided").pvalue)
    three = characteristic(ages, groups, "ldh", ("true PD", "DR", "true SD"))
    assert three is not None and three.test == "Kruskal-Wallis"
    samples = [[float(ages[p]["ldh"]) for p, g in groups.items() if g == level]
               for level in ("true PD", "DR", "true SD")]  # fmt: skip
    assert three.p_value == pytest.approx(kruskal(*samples).pvalue)
