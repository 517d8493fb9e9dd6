"""Kaplan-Meier estimate, its confidence band and its median, computed as R's survival does.

The product-limit estimate and Greenwood's variance are the textbook ones (lifelines gives the
same curve). The median and its confidence interval follow R survival's ``quantile.survfit``
(Therneau): the median is the first time the curve is at or below 0.5, except that when the
curve sits exactly at 0.5 over an interval, the median is the midpoint of that interval (at the
end of the curve: midpoint between the start of the flat and the last follow-up time); the
bounds of its interval are the same rule applied to the lower and upper confidence curves. SAS
PROC LIFETEST does the same for the median. The confidence curves are on the log-log scale by
default (SAS's default, lifelines' "exponential Greenwood"); ``log`` gives R survfit's default.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
from scipy.stats import norm

CONF_TYPES: tuple[str, ...] = ("log-log", "log", "plain")
# R survival's quantile.survfit tolerance: a curve within it of 0.5 "sits exactly at 0.5".
_TOLERANCE = math.sqrt(np.finfo(float).eps)


@dataclass(frozen=True)
class KaplanMeier:
    """A Kaplan-Meier curve at every distinct time (events and censorings).

    Parameters
    ----------
    times
        Distinct times, increasing.
    at_risk, events
        Patients at risk just before each time, and events at it.
    survival
        S(t) just after each time.
    lower, upper
        Pointwise confidence limits (NaN where undefined, e.g. S = 0 on the log scales).
    last_time
        Largest follow-up time (event or censoring).
    """

    times: np.ndarray
    at_risk: np.ndarray
    events: np.ndarray
    survival: np.ndarray
    lower: np.ndarray
    upper: np.ndarray
    last_time: float


def kaplan_meier(
    durations: Sequence[float],
    events: Sequence[bool | int],
    confidence: float = 0.95,
    conf_type: str = "log-log",
) -> KaplanMeier:
    """Product-limit estimate with Greenwood confidence limits.

    Parameters
    ----------
    durations
        Follow-up times (>= 0).
    events
        1/True for an event at that time, 0/False for censoring.
    confidence
        Confidence level of the pointwise limits.
    conf_type
        ``log-log`` (default), ``log`` (R survfit's default) or ``plain``.

    Returns
    -------
    KaplanMeier
    """
    if conf_type not in CONF_TYPES:
        raise ValueError(f"conf_type must be one of {', '.join(CONF_TYPES)}, not {conf_type!r}")
    time = np.asarray(durations, dtype=float)
    event = np.asarray(events, dtype=int)
    if time.size == 0:
        raise ValueError("no patient")
    distinct = np.unique(time)
    at_risk = np.array([(time >= t).sum() for t in distinct], dtype=float)
    deaths = np.array([((time == t) & (event == 1)).sum() for t in distinct], dtype=float)
    survival = np.cumprod(1.0 - deaths / at_risk)
    with np.errstate(divide="ignore", invalid="ignore"):
        terms = np.where(deaths > 0, deaths / (at_risk * (at_risk - deaths)), 0.0)
        se_log = np.sqrt(np.cumsum(terms))  # Greenwood: standard error of log S(t)
        z = float(norm.ppf(1 - (1 - confidence) / 2))
        if conf_type == "log":
            lower = survival * np.exp(-z * se_log)
            upper = np.minimum(1.0, survival * np.exp(z * se_log))
        elif conf_type == "plain":
            lower = np.maximum(0.0, survival - z * se_log * survival)
            upper = np.minimum(1.0, survival + z * se_log * survival)
        else:
            log_s = np.log(survival)
            shift = z * se_log / np.abs(log_s)
            lower = np.exp(-np.exp(np.log(-log_s) + shift))
            upper = np.exp(-np.exp(np.log(-log_s) - shift))
            flat = survival == 1.0  # before the first event: no variance
            lower[flat], upper[flat] = 1.0, 1.0
        undefined = ~np.isfinite(se_log) | (survival == 0.0)
        if conf_type != "plain":
            lower[undefined], upper[undefined] = np.nan, np.nan
    return KaplanMeier(
        times=distinct,
        at_risk=at_risk,
        events=deaths,
        survival=survival,
        lower=lower,
        upper=upper,
        last_time=float(time.max()),
    )


def curve_quantile(
    times: np.ndarray, survival: np.ndarray, last_time: float, p: float = 0.5
) -> float | None:
    """Time at which a step curve falls to ``1 - p`` (R survival's midpoint rule).

    Parameters
    ----------
    times, survival
        The curve's times and S(t) after each; NaN values of S are ignored (as R's
        ``approx`` drops them).
    last_time
        Last follow-up time (end of a flat at the end of the curve).
    p
        0.5 for the median.

    Returns
    -------
    float or None
        None when the curve never falls that low (not reached).
    """
    keep = np.isfinite(survival)
    x = np.concatenate(([0.0], times[keep]))
    y = np.concatenate(([0.0], 1.0 - survival[keep]))  # cumulative incidence, increasing
    # Drop repeated levels (censorings), keeping the first time of each level.
    first = np.concatenate(([True], np.diff(y) != 0))
    x, y = x[first], y[first]
    reached = np.nonzero(y + _TOLERANCE >= p)[0]
    if reached.size == 0:
        return None
    start = int(reached[0])
    if abs(y[start] - p) >= _TOLERANCE:
        return float(x[start])  # the curve jumps across 1 - p at x[start]
    beyond = np.nonzero(y - _TOLERANCE >= p)[0]
    end = float(x[int(beyond[0])]) if beyond.size else last_time  # the flat ends here
    return (float(x[start]) + end) / 2.0


def median_with_ci(curve: KaplanMeier) -> tuple[float | None, float | None, float | None]:
    """Median and its confidence interval (None: not reached), R survival's rule.

    The lower bound of the median is where the lower confidence curve reaches 0.5, the upper
    bound where the upper curve does.
    """
    median = curve_quantile(curve.times, curve.survival, curve.last_time)
    low = curve_quantile(curve.times, curve.lower, curve.last_time)
    high = curve_quantile(curve.times, curve.upper, curve.last_time)
    return median, low, high


def survival_at(curve: KaplanMeier, day: float) -> tuple[float, float, float]:
    """S(day) with its confidence limits (the step function, right-continuous).

    Raises
    ------
    ValueError
        When `day` is after the last follow-up time (the curve is not defined there).
    """
    if day > curve.last_time:
        raise ValueError(f"day {day:g} is after the last follow-up ({curve.last_time:g})")
    index = int(np.searchsorted(curve.times, day, side="right")) - 1
    if index < 0:
        return 1.0, 1.0, 1.0
    return float(curve.survival[index]), float(curve.lower[index]), float(curve.upper[index])
