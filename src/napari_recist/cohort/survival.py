"""Survival comparisons between groups: Kaplan-Meier, log-rank, Cox (fixed and time-dependent).

Each function takes survival times and group labels keyed by patient id and returns rows of
``survival.csv`` (`SurvivalRow`), so every number written says its endpoint, grouping, group,
reference, patients, events, landmark and model. Medians and their intervals: `km` (R survival's
rule). Log-rank and Cox: lifelines. The first of the compared groups is the reference.
"""

from __future__ import annotations

import math
import warnings
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from itertools import combinations

import numpy as np
import pandas as pd

from napari_recist.cohort.clinical import SurvivalTime
from napari_recist.cohort.km import kaplan_meier, median_with_ci

CONFIDENCE = 0.95
SURVIVAL_COLUMNS: tuple[str, ...] = (
    "endpoint",
    "grouping",
    "group",
    "reference_group",
    "n",
    "events",
    "median_days",
    "median_ci_low",
    "median_ci_high",
    "hr",
    "hr_ci_low",
    "hr_ci_high",
    "p_value",
    "landmark_days",
    "model",
)
MAX_HR_CI_RATIO = 1e6  # a wider interval means separation: the ratio is not estimable


@dataclass(frozen=True)
class SurvivalRow:
    """One row of survival.csv (`SURVIVAL_COLUMNS`); None where not applicable."""

    endpoint: str
    grouping: str
    group: str
    model: str
    reference_group: str | None = None
    n: int | None = None
    events: int | None = None
    median_days: float | None = None
    median_ci_low: float | None = None
    median_ci_high: float | None = None
    hr: float | None = None
    hr_ci_low: float | None = None
    hr_ci_high: float | None = None
    p_value: float | None = None
    landmark_days: float | None = None

    def cells(self) -> dict[str, str]:
        """The row as CSV cells (numbers with 6 significant digits, empty for None)."""
        out: dict[str, str] = {}
        for column in SURVIVAL_COLUMNS:
            value = getattr(self, column)
            if value is None:
                out[column] = ""
            elif isinstance(value, float):
                out[column] = f"{value:.6g}"
            else:
                out[column] = str(value)
        return out


def _frame(
    times: Mapping[str, SurvivalTime], groups: Mapping[str, str], levels: Sequence[str]
) -> pd.DataFrame:
    rows = [
        {"patient_id": pid, "days": float(t.days), "event": int(t.event), "group": groups[pid]}
        for pid, t in times.items()
        if groups.get(pid) in levels
    ]
    return pd.DataFrame(rows, columns=["patient_id", "days", "event", "group"])


def kaplan_meier_rows(
    endpoint: str,
    grouping: str,
    times: Mapping[str, SurvivalTime],
    groups: Mapping[str, str],
    levels: Sequence[str],
    conf_type: str = "log-log",
    landmark_days: float | None = None,
) -> list[SurvivalRow]:
    """Median survival per group, and log-rank tests against the first and across groups.

    Parameters
    ----------
    endpoint, grouping
        Labels of the rows.
    times
        Survival time by patient id.
    groups
        Group label by patient id; patients in none of `levels` are left out.
    levels
        The groups compared, the reference first.
    conf_type
        Scale of the confidence curves the median's interval is read from (`km`).
    landmark_days
        Written in the rows of a landmark analysis.

    Returns
    -------
    list of SurvivalRow
        One per group with a patient (model ``Kaplan-Meier``; p: log-rank against the
        reference), then one row ``A;B;...`` for the log-rank test across the groups.
    """
    from lifelines.statistics import logrank_test, multivariate_logrank_test

    frame = _frame(times, groups, levels)
    present = [level for level in levels if (frame["group"] == level).any()]
    reference = present[0] if present else None
    rows: list[SurvivalRow] = []
    model = f"Kaplan-Meier ({conf_type} CI, R survival median rule); p: log-rank vs reference"
    for level in present:
        subset = frame[frame["group"] == level]
        median, low, high = median_with_ci(
            kaplan_meier(subset["days"], subset["event"], CONFIDENCE, conf_type)
        )
        p_value = None
        if level != reference:
            pair = frame[frame["group"].isin([level, reference])]
            if pair["event"].sum() > 0:
                ref = pair["group"] == reference
                p_value = float(
                    logrank_test(
                        pair["days"][~ref],
                        pair["days"][ref],
                        pair["event"][~ref],
                        pair["event"][ref],
                    ).p_value
                )
        rows.append(
            SurvivalRow(
                endpoint=endpoint,
                grouping=grouping,
                group=level,
                reference_group=None if level == reference else reference,
                model=model,
                n=len(subset),
                events=int(subset["event"].sum()),
                median_days=median,
                median_ci_low=low,
                median_ci_high=high,
                p_value=p_value,
                landmark_days=landmark_days,
            )
        )
    if len(present) >= 2 and frame["event"].sum() > 0:
        test = multivariate_logrank_test(frame["days"], frame["group"], frame["event"])
        rows.append(
            SurvivalRow(
                endpoint=endpoint,
                grouping=grouping,
                group=";".join(present),
                model=f"log-rank across {len(present)} groups "
                f"(chi-square {test.test_statistic:.3f}, {len(present) - 1} df)",
                n=len(frame),
                events=int(frame["event"].sum()),
                p_value=float(test.p_value),
                landmark_days=landmark_days,
            )
        )
    return rows


def pairwise_logrank_rows(
    endpoint: str,
    grouping: str,
    times: Mapping[str, SurvivalTime],
    groups: Mapping[str, str],
    levels: Sequence[str],
    landmark_days: float | None = None,
) -> list[SurvivalRow]:
    """The log-rank test of every pair of groups (exploratory; see `holm`)."""
    from lifelines.statistics import logrank_test

    frame = _frame(times, groups, levels)
    present = [level for level in levels if (frame["group"] == level).any()]
    rows = []
    for reference, level in combinations(present, 2):
        pair = frame[frame["group"].isin([level, reference])]
        if pair["event"].sum() == 0:
            continue
        ref = pair["group"] == reference
        test = logrank_test(
            pair["days"][~ref], pair["days"][ref], pair["event"][~ref], pair["event"][ref]
        )
        rows.append(
            SurvivalRow(
                endpoint=endpoint,
                grouping=grouping,
                group=level,
                reference_group=reference,
                model="log-rank, pairwise",
                n=len(pair),
                events=int(pair["event"].sum()),
                p_value=float(test.p_value),
                landmark_days=landmark_days,
            )
        )
    return rows


def _dummies(values: pd.Series, name: str) -> pd.DataFrame:
    """Indicator columns of a categorical covariate, the first level (sorted) as reference."""
    levels = sorted(values.unique())
    return pd.DataFrame(
        {f"{name}={level}": (values == level).astype(float) for level in levels[1:]},
        index=values.index,
    )


def covariate_frame(
    covariates: Mapping[str, Mapping[str, str]], names: Sequence[str], ids: Sequence[str]
) -> tuple[pd.DataFrame, list[str]]:
    """Model columns of clinical covariates: numbers as they are, text as indicators.

    A covariate is numeric when every non-empty value parses as a number. Patients missing any
    named covariate are left out (complete cases).

    Returns
    -------
    tuple
        The frame (index: patient id) and the ids left out.
    """
    data = pd.DataFrame(
        {name: [covariates.get(pid, {}).get(name, "") for pid in ids] for name in names},
        index=list(ids),
    )
    missing = data.index[(data == "").any(axis=1)].tolist()
    data = data.drop(index=missing)
    columns = []
    for name in names:
        numbers = pd.to_numeric(data[name], errors="coerce")
        if numbers.notna().all():
            columns.append(numbers.rename(name).to_frame())
        else:
            columns.append(_dummies(data[name], name))
    frame = pd.concat(columns, axis=1) if columns else pd.DataFrame(index=data.index)
    return frame, missing


def _cox_rows(
    summary: pd.DataFrame,
    endpoint: str,
    grouping: str,
    levels: Sequence[str],
    model: str,
    n: int,
    events: int,
    landmark_days: float | None,
) -> list[SurvivalRow]:
    rows = []
    for level in levels[1:]:
        column = f"group={level}"
        if column not in summary.index:
            continue
        row = summary.loc[column]
        ratio = float(row["exp(coef)"])
        low = float(row[f"exp(coef) lower {CONFIDENCE:.0%}"])
        high = float(row[f"exp(coef) upper {CONFIDENCE:.0%}"])
        estimable = all(math.isfinite(v) for v in (ratio, low, high)) and (
            high / max(low, 1e-300) <= MAX_HR_CI_RATIO
        )
        rows.append(
            SurvivalRow(
                endpoint=endpoint,
                grouping=grouping,
                group=level,
                reference_group=levels[0],
                model=model if estimable else model + "; not estimable (separation)",
                n=n,
                events=events,
                hr=ratio if estimable else None,
                hr_ci_low=low if estimable else None,
                hr_ci_high=high if estimable else None,
                p_value=float(row["p"]) if estimable else None,
                landmark_days=landmark_days,
            )
        )
    return rows


def fit_quietly(fitter: object, *args: object, **kwargs: object) -> bool:
    """Fit a lifelines model without its warnings; False when it does not converge."""
    from lifelines.exceptions import ConvergenceError

    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            fitter.fit(*args, **kwargs)  # type: ignore[attr-defined]
    except (ConvergenceError, np.linalg.LinAlgError, ValueError):
        return False
    return True


def cox_design(
    times: Mapping[str, SurvivalTime],
    groups: Mapping[str, str],
    levels: Sequence[str],
    covariates: Mapping[str, Mapping[str, str]] | None = None,
    adjust: Sequence[str] = (),
) -> tuple[pd.DataFrame, list[str]] | None:
    """The data of a Cox model of the groups (and `adjust`): days, event, indicators.

    Returns
    -------
    tuple or None
        The frame (index: patient id; ``group=LEVEL`` indicator columns, the first present
        level as reference, then the covariates' columns, complete cases) and the levels
        present; None when fewer than two groups have patients or no event happened.
    """
    frame = _frame(times, groups, levels)
    present = [level for level in levels if (frame["group"] == level).any()]
    if len(present) < 2 or frame["event"].sum() == 0:
        return None
    data = frame.set_index("patient_id")[["days", "event"]]
    for level in present[1:]:
        data[f"group={level}"] = (frame.set_index("patient_id")["group"] == level).astype(float)
    if adjust:
        extra, _missing = covariate_frame(covariates or {}, adjust, list(data.index))
        data = data.join(extra, how="inner")
    return data, present


def cox_rows(
    endpoint: str,
    grouping: str,
    times: Mapping[str, SurvivalTime],
    groups: Mapping[str, str],
    levels: Sequence[str],
    covariates: Mapping[str, Mapping[str, str]] | None = None,
    adjust: Sequence[str] = (),
    landmark_days: float | None = None,
    model_note: str = "",
) -> list[SurvivalRow]:
    """Cox proportional-hazards ratio of each group against the first (Efron ties).

    Parameters
    ----------
    endpoint, grouping, times, groups, levels
        As in `kaplan_meier_rows`; one model over the patients of every level.
    covariates, adjust
        Clinical covariates by patient id and those to adjust for (multivariable model;
        numeric or categorical, see `covariate_frame`).
    landmark_days
        Written in the rows of a landmark analysis.
    model_note
        Appended to the ``model`` column (e.g. a warning on the grouping).

    Returns
    -------
    list of SurvivalRow
        One per non-reference group; empty when fewer than two groups have patients or no
        event happened; a row without HR when the model does not converge or separates.
    """
    from lifelines import CoxPHFitter

    design = cox_design(times, groups, levels, covariates, adjust)
    if design is None:
        return []
    data, present = design
    model = "Cox PH (univariable)"
    if adjust:
        model = "Cox PH adjusted for " + ", ".join(adjust) + " (complete cases)"
    model += model_note
    fitter = CoxPHFitter(alpha=1 - CONFIDENCE)
    if data["event"].sum() == 0 or not fit_quietly(
        fitter, data, duration_col="days", event_col="event"
    ):
        return [
            SurvivalRow(endpoint, grouping, level, model + "; did not converge", present[0])
            for level in present[1:]
        ]
    return _cox_rows(
        fitter.summary, endpoint, grouping, present, model, len(data),
        int(data["event"].sum()), landmark_days,
    )  # fmt: skip


def landmark_subset(
    times: Mapping[str, SurvivalTime], landmark_days: float
) -> dict[str, SurvivalTime]:
    """Patients still followed after the landmark (alive and uncensored at it), times from it.

    Anderson, Cain & Gelber, J Clin Oncol 1983: only patients with follow-up beyond the
    landmark enter; their time restarts there.
    """
    return {
        pid: SurvivalTime(t.days - landmark_days, t.event)
        for pid, t in times.items()
        if t.days > landmark_days
    }


def time_dependent_cox_rows(
    endpoint: str,
    grouping: str,
    times: Mapping[str, SurvivalTime],
    states: Mapping[str, Sequence[tuple[float, str]]],
    levels: Sequence[str],
    covariates: Mapping[str, Mapping[str, str]] | None = None,
    adjust: Sequence[str] = (),
) -> list[SurvivalRow]:
    """Cox model with the group as a time-dependent covariate (lifelines CoxTimeVaryingFitter).

    Parameters
    ----------
    endpoint, grouping, levels
        As in `cox_rows`; the first level is the reference.
    times
        Survival time by patient id.
    states
        Per patient, ``(day, group)`` from which the patient is in that group (as known on
        that day), in day order. A patient counts with the reference while in no other of
        `levels` (before their group is known: Mantel & Byar 1974).
    covariates, adjust
        Baseline covariates to adjust for.

    Returns
    -------
    list of SurvivalRow
        One per non-reference group (model ``Cox time-dependent``).
    """
    from lifelines import CoxTimeVaryingFitter

    rows = []
    for pid, time in times.items():
        changes = [(day, group) for day, group in states.get(pid, ()) if day < time.days]
        if not changes or changes[0][0] > 0:
            changes = [(0.0, levels[0]), *changes]
        for index, (start, group) in enumerate(changes):
            stop = changes[index + 1][0] if index + 1 < len(changes) else time.days
            if stop <= start:
                continue
            rows.append(
                {
                    "id": pid,
                    "start": float(start),
                    "stop": float(stop),
                    "event": int(time.event and index == len(changes) - 1),
                    **{f"group={level}": float(group == level) for level in levels[1:]},
                }
            )
    data = pd.DataFrame(rows)
    if data.empty or data["event"].sum() == 0:
        return []
    present = [levels[0]] + [level for level in levels[1:] if data[f"group={level}"].any()]
    data = data.drop(columns=[f"group={lv}" for lv in levels[1:] if lv not in present])
    if len(present) < 2:
        return []
    model = "Cox time-dependent (group from the day it is known)"
    if adjust:
        extra, _missing = covariate_frame(covariates or {}, adjust, sorted(set(data["id"])))
        data = data.merge(extra, left_on="id", right_index=True, how="inner")
        model += "; adjusted for " + ", ".join(adjust)
    fitter = CoxTimeVaryingFitter(alpha=1 - CONFIDENCE)
    if not fit_quietly(
        fitter, data, id_col="id", event_col="event", start_col="start", stop_col="stop"
    ):
        return [
            SurvivalRow(endpoint, grouping, level, model + "; did not converge", present[0])
            for level in present[1:]
        ]
    patients = data["id"].nunique()
    events = int(data["event"].sum())
    return _cox_rows(fitter.summary, endpoint, grouping, present, model, patients, events, None)


def with_landmark(rows: Sequence[SurvivalRow], landmark_days: float) -> list[SurvivalRow]:
    """The same rows marked as a landmark analysis."""
    return [replace(row, landmark_days=landmark_days) for row in rows]


def holm(p_values: Sequence[float]) -> list[float]:
    """Holm's step-down adjusted p-values (Holm, Scand J Statist 1979), in the input order."""
    order = sorted(range(len(p_values)), key=lambda i: p_values[i])
    adjusted = [0.0] * len(p_values)
    running = 0.0
    m = len(p_values)
    for rank, index in enumerate(order):
        running = max(running, min(1.0, (m - rank) * p_values[index]))
        adjusted[index] = running
    return adjusted
