"""Survival statistics by response category (lifelines) and Fisher's exact test (scipy).

The seeds compare overall and progression-free survival between categories with Kaplan-Meier
medians, the log-rank test and a Cox hazard ratio (seed 000: DR vs true PD, HR 0.40), and
patient characteristics between categories with Fisher's exact test (seeds 000, 002).
Every function takes survival times and groups keyed by patient id, so it works the same for
OS and PFS and for any grouping (category, response group, BOR).
"""

from __future__ import annotations

import math
import warnings
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd

from napari_recist.cohort.clinical import SurvivalTime

CONFIDENCE = 0.95
MONTE_CARLO_TABLES = 100_000


@dataclass(frozen=True)
class GroupSurvival:
    """Kaplan-Meier summary of one group.

    Parameters
    ----------
    group
        The group label.
    n, events
        Patients and observed events.
    median_days
        Median survival in days; None when the curve never falls to 0.5 (not reached).
    ci_low_days, ci_high_days
        95 % confidence interval of the median (lifelines' exponential Greenwood interval on
        the survival function); None for a bound that is not reached.
    """

    group: str
    n: int
    events: int
    median_days: float | None
    ci_low_days: float | None
    ci_high_days: float | None


@dataclass(frozen=True)
class LogRankResult:
    """Log-rank test between groups (chi-square with groups - 1 degrees of freedom)."""

    groups: tuple[str, ...]
    statistic: float
    p_value: float


@dataclass(frozen=True)
class HazardRatio:
    """Cox proportional-hazards ratio of one group against a reference group.

    Parameters
    ----------
    group, reference
        HR < 1 means `group` has the lower hazard (longer survival) than `reference`.
    hazard_ratio, ci_low, ci_high
        exp(coefficient) and its 95 % Wald interval.
    p_value
        Wald test of the coefficient.
    n, events
        Patients and events in the two groups.
    """

    group: str
    reference: str
    hazard_ratio: float
    ci_low: float
    ci_high: float
    p_value: float
    n: int
    events: int


@dataclass(frozen=True)
class FisherResult:
    """Fisher's exact test of one covariate between groups.

    Parameters
    ----------
    covariate
        Column of the clinical table.
    groups
        The groups compared (columns of `counts`).
    levels
        Values of the covariate (rows of `counts`).
    counts
        Contingency table, ``counts[i][j]`` patients with level i in group j.
    p_value
        Two-sided p-value.
    method
        ``exact`` for a 2 x 2 table; for a larger table scipy estimates the exact test's
        p-value from `MONTE_CARLO_TABLES` random tables with the same margins (seeded, so the
        same data give the same p-value).
    """

    covariate: str
    groups: tuple[str, ...]
    levels: tuple[str, ...]
    counts: tuple[tuple[int, ...], ...]
    p_value: float
    method: str


def survival_frame(times: Mapping[str, SurvivalTime], groups: Mapping[str, str]) -> pd.DataFrame:
    """Join survival times and groups into one frame (patients in both only).

    Parameters
    ----------
    times
        Survival time by patient id.
    groups
        Group label by patient id.

    Returns
    -------
    pandas.DataFrame
        Columns ``patient_id``, ``days``, ``event`` (0/1), ``group``.
    """
    rows = [
        {
            "patient_id": patient_id,
            "days": float(time.days),
            "event": int(time.event),
            "group": groups[patient_id],
        }
        for patient_id, time in times.items()
        if patient_id in groups
    ]
    return pd.DataFrame(rows, columns=["patient_id", "days", "event", "group"])


def _finite_or_none(value: float) -> float | None:
    value = float(value)
    return value if math.isfinite(value) else None


def kaplan_meier_by_group(
    times: Mapping[str, SurvivalTime],
    groups: Mapping[str, str],
    order: Sequence[str] | None = None,
) -> list[GroupSurvival]:
    """Kaplan-Meier median survival with its 95 % confidence interval per group.

    Parameters
    ----------
    times
        Survival time by patient id.
    groups
        Group label by patient id; patients without a time are left out.
    order
        Groups to report, in this order; default: every group, sorted.

    Returns
    -------
    list of GroupSurvival
        One per group that has at least one patient.
    """
    from lifelines import KaplanMeierFitter
    from lifelines.utils import median_survival_times

    frame = survival_frame(times, groups)
    labels = list(order) if order is not None else sorted(frame["group"].unique())
    summaries: list[GroupSurvival] = []
    for label in labels:
        subset = frame[frame["group"] == label]
        if subset.empty:
            continue
        fitter = KaplanMeierFitter(alpha=1 - CONFIDENCE)
        fitter.fit(subset["days"], subset["event"], label=str(label))
        interval = median_survival_times(fitter.confidence_interval_)
        summaries.append(
            GroupSurvival(
                group=str(label),
                n=len(subset),
                events=int(subset["event"].sum()),
                median_days=_finite_or_none(fitter.median_survival_time_),
                ci_low_days=_finite_or_none(interval.iloc[0, 0]),
                ci_high_days=_finite_or_none(interval.iloc[0, 1]),
            )
        )
    return summaries


def logrank(
    times: Mapping[str, SurvivalTime],
    groups: Mapping[str, str],
    only: Sequence[str] | None = None,
) -> LogRankResult | None:
    """Log-rank test of equal survival between groups.

    Parameters
    ----------
    times
        Survival time by patient id.
    groups
        Group label by patient id.
    only
        Compare only these groups (e.g. ``("DR", "true PD")``); default: every group.

    Returns
    -------
    LogRankResult or None
        None when fewer than two groups have patients or there is no event at all.
    """
    from lifelines.statistics import multivariate_logrank_test

    frame = survival_frame(times, groups)
    if only is not None:
        frame = frame[frame["group"].isin(list(only))]
    present = tuple(sorted(frame["group"].unique()))
    if len(present) < 2 or frame["event"].sum() == 0:
        return None
    result = multivariate_logrank_test(frame["days"], frame["group"], frame["event"])
    return LogRankResult(
        groups=present, statistic=float(result.test_statistic), p_value=float(result.p_value)
    )


def hazard_ratio(
    times: Mapping[str, SurvivalTime],
    groups: Mapping[str, str],
    group: str,
    reference: str,
) -> HazardRatio | None:
    """Cox proportional-hazards ratio of `group` against `reference` (univariable).

    Parameters
    ----------
    times
        Survival time by patient id.
    groups
        Group label by patient id.
    group, reference
        The two groups compared; other patients are left out.

    Returns
    -------
    HazardRatio or None
        None when either group is empty, there is no event, or the model does not converge
        (e.g. every event in one group: the ratio is not estimable).
    """
    from lifelines import CoxPHFitter
    from lifelines.exceptions import ConvergenceError

    frame = survival_frame(times, groups)
    frame = frame[frame["group"].isin([group, reference])]
    if (
        frame.empty
        or (frame["group"] == group).sum() == 0
        or (frame["group"] == reference).sum() == 0
        or frame["event"].sum() == 0
    ):
        return None
    data = pd.DataFrame(
        {
            "days": frame["days"].to_numpy(),
            "event": frame["event"].to_numpy(),
            "in_group": (frame["group"] == group).astype(int).to_numpy(),
        }
    )
    fitter = CoxPHFitter(alpha=1 - CONFIDENCE)
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            fitter.fit(data, duration_col="days", event_col="event")
    except (ConvergenceError, np.linalg.LinAlgError):
        return None
    row = fitter.summary.loc["in_group"]
    ratio = float(row["exp(coef)"])
    low = float(row[f"exp(coef) lower {CONFIDENCE:.0%}"])
    high = float(row[f"exp(coef) upper {CONFIDENCE:.0%}"])
    if not all(math.isfinite(v) for v in (ratio, low, high)) or high / max(low, 1e-300) > 1e6:
        return None  # separation: the estimate ran off to infinity
    return HazardRatio(
        group=group,
        reference=reference,
        hazard_ratio=ratio,
        ci_low=low,
        ci_high=high,
        p_value=float(row["p"]),
        n=len(data),
        events=int(data["event"].sum()),
    )


def fisher_test(
    covariates: Mapping[str, Mapping[str, str]],
    groups: Mapping[str, str],
    covariate: str,
    compared: Sequence[str],
) -> FisherResult | None:
    """Fisher's exact test of one covariate between groups.

    Parameters
    ----------
    covariates
        Covariate values by patient id (``{"P1": {"sex": "male"}}``); a missing or empty value
        leaves the patient out of this test.
    groups
        Group label by patient id.
    covariate
        The covariate tested.
    compared
        The groups compared (seed 000: DR vs true PD).

    Returns
    -------
    FisherResult or None
        None when fewer than two levels or two groups have patients.
    """
    from scipy.stats import MonteCarloMethod, fisher_exact

    pairs = [
        (values[covariate], groups[patient_id])
        for patient_id, values in covariates.items()
        if values.get(covariate) and groups.get(patient_id) in compared
    ]
    levels = tuple(sorted({level for level, _ in pairs}))
    present = tuple(g for g in compared if any(group == g for _, group in pairs))
    if len(levels) < 2 or len(present) < 2:
        return None
    counts = np.zeros((len(levels), len(present)), dtype=int)
    for level, group in pairs:
        counts[levels.index(level), present.index(group)] += 1
    if counts.shape == (2, 2):
        p_value, method = float(fisher_exact(counts).pvalue), "exact"
    else:
        sampler = MonteCarloMethod(
            n_resamples=MONTE_CARLO_TABLES, rng=np.random.default_rng(20171101)
        )
        p_value = float(fisher_exact(counts, method=sampler).pvalue)
        method = f"Monte Carlo, {MONTE_CARLO_TABLES} tables"
    return FisherResult(
        covariate=covariate,
        groups=present,
        levels=levels,
        counts=tuple(tuple(int(c) for c in row) for row in counts),
        p_value=p_value,
        method=method,
    )
