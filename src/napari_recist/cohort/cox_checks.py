"""A univariable Cox screen of the clinical covariates, and the proportional-hazards check.

Screen: one Cox model (lifelines, Efron ties) per endpoint and clinical covariate, numeric
covariates as they are and text covariates as indicators against their first level in sorted
order (`survival.covariate_frame`), complete cases; each term's hazard ratio with its 95 %
Wald interval and p, and the likelihood-ratio p of the covariate as a whole (one test for a
covariate of several levels). It is a screen, exploratory: the page says so.

Proportional hazards: the Grambsch & Therneau (Biometrika 1994) test on the scaled Schoenfeld
residuals against the Kaplan-Meier transform of time, R ``cox.zph``'s default transform
(lifelines ``proportional_hazard_test``, ``time_transform="km"``), for every Cox model of a
grouping written in survival.csv from the time origin (univariable, and adjusted with
``--adjust``). A p below 0.05 flags the term: its hazard ratio is an average over a ratio
that changes with time.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import pandas as pd

from napari_recist.cohort.clinical import SurvivalTime
from napari_recist.cohort.survival import CONFIDENCE, covariate_frame, fit_quietly

SCREEN_COLUMNS: tuple[str, ...] = (
    "endpoint", "covariate", "term", "n", "events", "hr", "hr_ci_low", "hr_ci_high",
    "p_wald", "p_likelihood_ratio", "model", "time_origin",
)  # fmt: skip
PH_COLUMNS: tuple[str, ...] = (
    "endpoint", "grouping", "model", "term", "n", "events", "test_statistic", "p_value",
    "time_transform", "verdict", "time_origin",
)  # fmt: skip
PH_ALPHA = 0.05
SKIPPED_COVARIATES = frozenset({"treatment_start"})


def _g(value: float) -> str:
    return f"{value:.6g}"


def cox_screen(
    endpoint: str,
    times: Mapping[str, SurvivalTime],
    covariates: Mapping[str, Mapping[str, str]],
    names: Sequence[str],
    origin: str,
) -> list[dict[str, str]]:
    """Univariable Cox model of each covariate (module docstring).

    Parameters
    ----------
    endpoint
        Label of the rows.
    times
        Survival time by patient id.
    covariates
        Clinical covariates by patient id.
    names
        The covariates screened.
    origin
        Time origin, in words.

    Returns
    -------
    list of dict
        One row per model term (`SCREEN_COLUMNS`); a covariate with one value, no event or a
        model that does not converge gives one row saying so.
    """
    from lifelines import CoxPHFitter

    rows: list[dict[str, str]] = []
    ids = sorted(times)
    base = pd.DataFrame(
        {"days": [times[i].days for i in ids], "event": [float(times[i].event) for i in ids]},
        index=ids,
    )
    for name in names:
        if name in SKIPPED_COVARIATES:
            continue
        extra, _missing = covariate_frame(covariates, (name,), ids)
        data = base.join(extra, how="inner")
        head = {"endpoint": endpoint, "covariate": name, "n": str(len(data)),
                "events": str(int(data["event"].sum())), "time_origin": origin}  # fmt: skip
        model = "Cox PH univariable (Efron ties), complete cases; exploratory screen"
        if extra.shape[1] == 0 or data["event"].sum() == 0 or len(data) < 2:
            rows.append(head | {"model": model + "; not estimable (one value or no event)"})
            continue
        fitter = CoxPHFitter(alpha=1 - CONFIDENCE)
        if not fit_quietly(fitter, data, duration_col="days", event_col="event"):
            rows.append(head | {"model": model + "; did not converge"})
            continue
        lrt = float(fitter.log_likelihood_ratio_test().p_value)
        summary = fitter.summary
        for term in summary.index:
            row = summary.loc[term]
            rows.append(
                head
                | {
                    "term": str(term),
                    "hr": _g(float(row["exp(coef)"])),
                    "hr_ci_low": _g(float(row[f"exp(coef) lower {CONFIDENCE:.0%}"])),
                    "hr_ci_high": _g(float(row[f"exp(coef) upper {CONFIDENCE:.0%}"])),
                    "p_wald": _g(float(row["p"])),
                    "p_likelihood_ratio": _g(lrt),
                    "model": model,
                }
            )
    return rows


def ph_check(
    endpoint: str, grouping: str, model: str, data: pd.DataFrame, origin: str = ""
) -> list[dict[str, str]]:
    """Schoenfeld-residual test of every term of one Cox model (module docstring).

    Parameters
    ----------
    endpoint, grouping, model
        Labels of the rows.
    data
        The model's data: ``days``, ``event`` and one column per term
        (`survival.cox_design`).
    origin
        The time origin of ``days``, in words.

    Returns
    -------
    list of dict
        One row per term (`PH_COLUMNS`); empty when the model cannot be fitted.
    """
    from lifelines import CoxPHFitter
    from lifelines.statistics import proportional_hazard_test

    if data["event"].sum() < 2:
        return []
    fitter = CoxPHFitter(alpha=1 - CONFIDENCE)
    if not fit_quietly(fitter, data, duration_col="days", event_col="event"):
        return []
    try:
        test = proportional_hazard_test(fitter, data, time_transform="km")
    except (ValueError, ZeroDivisionError, FloatingPointError):
        return []
    rows = []
    for term, result in test.summary.iterrows():
        p_value = float(result["p"])
        rows.append(
            {
                "endpoint": endpoint,
                "grouping": grouping,
                "model": model,
                "term": str(term),
                "n": str(len(data)),
                "events": str(int(data["event"].sum())),
                "test_statistic": _g(float(result["test_statistic"])),
                "p_value": _g(p_value),
                "time_transform": "km (R cox.zph default)",
                "time_origin": origin,
                "verdict": "proportional hazards doubtful (p < 0.05)"
                if p_value < PH_ALPHA
                else "no evidence against proportional hazards",
            }
        )
    return rows
