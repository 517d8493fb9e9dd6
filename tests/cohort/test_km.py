"""Kaplan-Meier medians and intervals against R survival's published output and lifelines."""

import numpy as np
import pytest
from lifelines import KaplanMeierFitter
from lifelines.datasets import load_lung

from napari_recist.cohort.km import kaplan_meier, median_with_ci, survival_at


@pytest.mark.parametrize(
    ("sexes", "expected"),
    [
        # R: survfit(Surv(time, status) ~ 1, data = lung) -> median 310, 0.95LCL 285, UCL 363
        ((1, 2), (310.0, 285.0, 363.0)),
        # R: survfit(Surv(time, status) ~ sex, data = lung): sex=1 270 (212, 310),
        # sex=2 426 (348, 550); conf.type = "log", R's default.
        ((1,), (270.0, 212.0, 310.0)),
        ((2,), (426.0, 348.0, 550.0)),
    ],
)
def test_lung_medians_match_r_survfit(sexes: tuple[int, ...], expected: tuple) -> None:
    lung = load_lung()
    subset = lung[lung["sex"].isin(sexes)]
    curve = kaplan_meier(subset["time"], subset["status"], conf_type="log")
    assert median_with_ci(curve) == expected
    # lifelines run directly: the same median.
    fitter = KaplanMeierFitter().fit(subset["time"], subset["status"])
    assert fitter.median_survival_time_ == expected[0]


def test_log_log_band_equals_lifelines_exponential_greenwood() -> None:
    lung = load_lung()
    curve = kaplan_meier(lung["time"], lung["status"])
    fitter = KaplanMeierFitter().fit(lung["time"], lung["status"])
    band = fitter.confidence_interval_.loc[curve.times]
    assert np.allclose(
        fitter.survival_function_.loc[curve.times].to_numpy().ravel(), curve.survival
    )
    assert np.allclose(band.iloc[:, 0].to_numpy(), curve.lower, equal_nan=True)
    assert np.allclose(band.iloc[:, 1].to_numpy(), curve.upper, equal_nan=True)


def test_flat_segment_at_one_half_gives_the_midpoint() -> None:
    # 4 patients, deaths at 10 and 20, then censored at 30 and 40: S = 0.75, 0.5 from day 20
    # until the end: R's rule gives (20 + last follow-up 40) / 2 = 30; lifelines gives 20.
    curve = kaplan_meier([10, 20, 30, 40], [1, 1, 0, 0])
    assert median_with_ci(curve)[0] == 30.0
    # Deaths at 10, 20, 30, 40: S = 0.5 on [20, 30): median (20 + 30) / 2 = 25.
    assert median_with_ci(kaplan_meier([10, 20, 30, 40], [1, 1, 1, 1]))[0] == 25.0
    # Odd n: S crosses 0.5 at the 3rd of 5 deaths, no flat at 0.5.
    assert median_with_ci(kaplan_meier([10, 20, 30, 40, 50], [1] * 5))[0] == 30.0


def test_median_not_reached_and_survival_at_a_day() -> None:
    curve = kaplan_meier([100, 200, 300], [1, 0, 0])
    assert median_with_ci(curve)[0] is None
    assert survival_at(curve, 150)[0] == pytest.approx(2 / 3)
    with pytest.raises(ValueError, match="after the last follow-up"):
        survival_at(curve, 400)
