"""Logistic regression for the predictors of a category (statsmodels ``Logit``).

``--logistic FIELD=LEVEL`` (e.g. ``category=DR``, ``response_group=atypical response``,
``dissociated_response.tozuka=DR``): the outcome is 1 for patients whose field has that value
and 0 for those with another known value; patients whose value is ``NA`` are outside the
denominator (seed 000's Tozuka DR is ``NA`` without a PD at the first CT). Predictors are the
clinical covariates and, when the lesion table is at hand, seed 001's target-lesion covariates
(`lesion_level.patient_covariates`: a lymph-node TL, an irradiated or biopsied TL): one
univariable model each, then one multivariable model of the ``--adjust`` covariates (complete
cases). Odds ratios with 95 % Wald intervals and Wald p; the
likelihood-ratio p of each univariable model. A model that separates the outcome perfectly
(an odds ratio of 0 or infinity) is written as not estimable, not with a made-up number.
"""

from __future__ import annotations

import math
import warnings
from collections.abc import Mapping, Sequence

import numpy as np
import pandas as pd

from napari_recist.cohort.survival import covariate_frame

LOGISTIC_COLUMNS: tuple[str, ...] = (
    "outcome", "predictor", "term", "n", "events", "odds_ratio", "or_ci_low", "or_ci_high",
    "p_wald", "p_likelihood_ratio", "model", "denominator",
)  # fmt: skip
MAX_OR_CI_RATIO = 1e6  # wider: separation, the ratio is not estimable
SKIPPED = frozenset({"treatment_start"})


def parse_outcome(text: str) -> tuple[str, str] | None:
    """``FIELD=LEVEL`` as (field, level); None when malformed."""
    field, sep, level = text.partition("=")
    if not sep or not field.strip() or not level.strip():
        return None
    return field.strip(), level.strip()


def _g(value: float) -> str:
    return f"{value:.6g}"


def _fit(y: pd.Series, x: pd.DataFrame) -> object | None:
    import statsmodels.api as sm
    from statsmodels.tools.sm_exceptions import PerfectSeparationError

    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            result = sm.Logit(y, sm.add_constant(x, has_constant="add")).fit(
                disp=0, maxiter=200
            )
    except (PerfectSeparationError, np.linalg.LinAlgError, ValueError):
        return None
    if not result.mle_retvals.get("converged", False):
        return None
    return result


def _rows_of(
    result: object, outcome: str, predictor: str, n: int, events: int, model: str, denominator: str
) -> list[dict[str, str]]:
    params = result.params  # type: ignore[attr-defined]
    bounds = result.conf_int(alpha=0.05)  # type: ignore[attr-defined]
    pvalues = result.pvalues  # type: ignore[attr-defined]
    lrt = float(result.llr_pvalue)  # type: ignore[attr-defined]
    rows = []
    for term in params.index:
        if term == "const":
            continue
        ratio = math.exp(float(params[term]))
        low, high = (math.exp(float(v)) for v in bounds.loc[term])
        estimable = all(math.isfinite(v) for v in (ratio, low, high)) and (
            high / max(low, 1e-300) <= MAX_OR_CI_RATIO
        )
        row = {"outcome": outcome, "predictor": predictor, "term": str(term), "n": str(n),
               "events": str(events), "denominator": denominator,
               "p_likelihood_ratio": _g(lrt) if estimable else "",
               "model": model if estimable else model + "; not estimable (separation)"}  # fmt: skip
        if estimable:
            row |= {"odds_ratio": _g(ratio), "or_ci_low": _g(low), "or_ci_high": _g(high),
                    "p_wald": _g(float(pvalues[term]))}  # fmt: skip
        rows.append(row)
    return rows


def logistic_rows(
    outcome_field: str,
    level: str,
    values: Mapping[str, str],
    covariates: Mapping[str, Mapping[str, str]],
    names: Sequence[str],
    adjust: Sequence[str] = (),
) -> list[dict[str, str]]:
    """Univariable models of each covariate, then the multivariable model of `adjust`.

    Parameters
    ----------
    outcome_field, level
        The outcome: ``outcome_field == level``.
    values
        The field's value by patient id (``NA`` left out).
    covariates
        Clinical covariates by patient id.
    names
        Covariates of the univariable models.
    adjust
        Covariates of the multivariable model (none: no such model).

    Returns
    -------
    list of dict
        Rows of `LOGISTIC_COLUMNS`.
    """
    outcome = f"{outcome_field} = {level}"
    known = sorted(pid for pid, value in values.items() if value != "NA")
    left = len(values) - len(known)
    denominator = f"patients with a known {outcome_field}" + (
        f" ({left} with NA left out)" if left else ""
    )
    y_all = pd.Series([float(values[pid] == level) for pid in known], index=known)
    rows: list[dict[str, str]] = []
    models = [((name,), "univariable") for name in names if name not in SKIPPED]
    if adjust:
        models.append((tuple(adjust), "multivariable"))
    for predictors, kind in models:
        x, _missing = covariate_frame(covariates, predictors, known)
        y = y_all.loc[x.index]
        label = ", ".join(predictors)
        model = f"logistic regression ({kind}, complete cases), Wald CI"
        head = {"outcome": outcome, "predictor": label, "n": str(len(y)),
                "events": str(int(y.sum())), "denominator": denominator}  # fmt: skip
        if x.shape[1] == 0 or y.nunique() < 2 or len(y) <= x.shape[1] + 1:
            rows.append(head | {"model": model + "; not estimable (one value, or no "
                                "patient with or without the outcome)"})  # fmt: skip
            continue
        result = _fit(y, x)
        if result is None:
            rows.append(head | {"model": model + "; not estimable (separation or no "
                                "convergence)"})  # fmt: skip
            continue
        rows += _rows_of(result, outcome, label, len(y), int(y.sum()), model, denominator)
    return rows
