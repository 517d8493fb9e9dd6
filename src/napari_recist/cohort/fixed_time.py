"""Fixed-time survival rates (e.g. 6-month PFS) and median follow-up by the reverse Kaplan-Meier.

A fixed-time rate is the Kaplan-Meier estimate S(t) at the asked day with its pointwise 95 %
interval (Greenwood variance; the scale of ``--km-ci``: log-log by default, ``log`` is R
survfit's default), as R's ``summary(survfit(...), times = t)`` reports it; the number at
risk is the patients with a time >= t (R: at risk at t - 0). A day after a group's last
follow-up gives no estimate (the curve is not defined there), written as such, never
extrapolated, unless the curve has reached 0 (every patient had the event): S stays 0.

Median follow-up: the reverse Kaplan-Meier (Schemper & Smith, Control Clin Trials 1996), the
Kaplan-Meier estimate of the censoring distribution (censorings as events, events as
censorings, R ``survfit(Surv(time, 1 - status) ~ 1)``), its median and interval by the same
rule as the medians of survival (`km`).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from napari_recist.cohort.clinical import SurvivalTime
from napari_recist.cohort.km import kaplan_meier, median_with_ci, survival_at

CONFIDENCE = 0.95
FIXED_TIME_COLUMNS: tuple[str, ...] = (
    "endpoint", "grouping", "group", "day", "n", "events_by_day", "censored_by_day", "at_risk",
    "survival_pct",
    "ci_low_pct", "ci_high_pct", "ci_scale", "time_origin", "note",
)  # fmt: skip
FOLLOW_UP_COLUMNS: tuple[str, ...] = (
    "endpoint", "n", "events", "censored", "median_follow_up_days", "ci_low", "ci_high",
    "method", "time_origin",
)  # fmt: skip
ALL = "all patients"


def _pct(value: float) -> str:
    return "" if value != value else f"{100 * value:.1f}"  # NaN (undefined bound): empty


def fixed_time_rows(
    endpoint: str,
    grouping: str,
    times: Mapping[str, SurvivalTime],
    groups: Mapping[str, str] | None,
    levels: Sequence[str],
    days: Sequence[float],
    conf_type: str,
    origin: str,
    caution: str = "",
) -> list[dict[str, str]]:
    """S(day) with its interval per group (or for every patient when `groups` is None).

    Parameters
    ----------
    endpoint, grouping
        Labels of the rows (`grouping` empty for the whole cohort).
    times
        Survival time by patient id.
    groups, levels
        Group by patient id and the groups reported; None: one row set for all patients.
    days
        The days asked (``--at-days``).
    conf_type
        Scale of the confidence limits (`km.kaplan_meier`).
    origin
        The time origin, in words.
    caution
        Appended to the note of every row (e.g. a grouping known only after baseline).

    Returns
    -------
    list of dict
        One row per group and day (`FIXED_TIME_COLUMNS`).
    """
    sets: list[tuple[str, list[SurvivalTime]]]
    if groups is None:
        sets = [(ALL, list(times.values()))]
    else:
        sets = [
            (level, [t for pid, t in times.items() if groups.get(pid) == level])
            for level in levels
        ]
    rows = []
    for label, members in sets:
        if not members:
            continue
        curve = kaplan_meier(
            [t.days for t in members], [t.event for t in members], CONFIDENCE, conf_type
        )
        for day in days:
            row = {
                "endpoint": endpoint, "grouping": grouping, "group": label, "day": f"{day:g}",
                "n": str(len(members)),
                "events_by_day": str(sum(1 for t in members if t.event and t.days <= day)),
                "censored_by_day": str(sum(1 for t in members if not t.event and t.days < day)),
                "at_risk": str(sum(1 for t in members if t.days >= day)),
                "ci_scale": conf_type, "time_origin": origin,
            }  # fmt: skip
            try:
                value, low, high = survival_at(curve, day)
            except ValueError:
                if float(curve.survival[-1]) == 0.0:
                    # Every patient had the event by the last time: S stays 0 after it.
                    row |= {"survival_pct": "0.0", "note": "the curve reached 0 on day "
                            f"{curve.last_time:g}; no interval" + caution}  # fmt: skip
                else:
                    row["note"] = (
                        f"not estimable: day {day:g} is after the last follow-up "
                        f"({curve.last_time:g})" + caution
                    )
                rows.append(row)
                continue
            row |= {"survival_pct": _pct(value), "ci_low_pct": _pct(low),
                    "ci_high_pct": _pct(high), "note": caution.lstrip("; ")}  # fmt: skip
            rows.append(row)
    return rows


def reverse_km_follow_up(
    endpoint: str, times: Mapping[str, SurvivalTime], origin: str, conf_type: str = "log-log"
) -> dict[str, str] | None:
    """Median follow-up by the reverse Kaplan-Meier (None without patients).

    The median is "not reached" (empty) when fewer than half the patients are censored by the
    end of follow-up, e.g. when nearly everyone had the event.
    """
    if not times:
        return None
    values = list(times.values())
    curve = kaplan_meier(
        [t.days for t in values], [not t.event for t in values], CONFIDENCE, conf_type
    )
    median, low, high = median_with_ci(curve)

    def cell(value: float | None) -> str:
        return "" if value is None else f"{value:g}"

    events = sum(1 for t in values if t.event)
    return {
        "endpoint": endpoint,
        "n": str(len(values)),
        "events": str(events),
        "censored": str(len(values) - events),
        "median_follow_up_days": cell(median),
        "ci_low": cell(low),
        "ci_high": cell(high),
        "method": f"reverse Kaplan-Meier (Schemper & Smith 1996), {conf_type} CI; empty "
        "median: fewer than half the patients censored",
        "time_origin": origin,
    }
