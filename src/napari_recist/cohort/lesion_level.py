"""Lesion-level response of the target lesions (seed 001), compared with a GEE clustered by patient.

Seed 001 (Vuagnat et al.) reports the best response of each target lesion (TL) and the response
at each TL measurement, by organ, by prior radiotherapy and by prior biopsy of the TL, and notes
that "multiple measurements of the same TL" within a patient are not independent. So the
comparison here is a GEE (statsmodels; Liang & Zeger 1986): logistic link, exchangeable working
correlation within a patient, robust (sandwich) standard errors, one cluster per patient,
never a pooled chi-square over lesions as if they were independent.

Units and denominators (stated in every row):
- ``target lesion``: every baseline target lesion (non-targets and new lesions are not in
  seed 001's 272 TLs; a fragment is counted through the lesion it split from), its best
  lesion-level response over the follow-ups (CR > PR > SD > PD; NE assessments skipped; a TL
  never evaluated is left out and counted);
- ``target lesion measurement``: every follow-up at which a TL has a lesion-level response
  other than NE.
Outcome: response = CR or PR. Factors: ``site`` (the lesion table's organ; reference the most
frequent organ), ``lymph_node`` (nodal TL or not: seed 001's "lymph nodes vs other sites") and
lesion-table columns given with ``--lesion-factors`` (default
``prior_radiotherapy`` and ``prior_biopsy`` when the table has them; yes/no values, reference
``no``). The value is read from the lesion's baseline row, else its first row that has it.
"""

from __future__ import annotations

import warnings
from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from napari_recist.model import PatientRecord, Role

DEFAULT_FACTORS: tuple[str, ...] = ("prior_radiotherapy", "prior_biopsy")
LESION_COLUMNS: tuple[str, ...] = (
    "patient_id", "lesion_id", "site", "nodal", "factors", "best_response", "responding",
    "assessments", "responding_assessments",
)  # fmt: skip
GEE_COLUMNS: tuple[str, ...] = (
    "unit", "factor", "level", "reference_level", "n", "responding", "percent", "patients",
    "odds_ratio", "or_ci_low", "or_ci_high", "p_value", "factor_p_value", "model", "denominator",
)  # fmt: skip
_RANK = {"CR": 4, "PR": 3, "SD": 2, "PD": 1}
_RESPONDING = ("CR", "PR")
_YES = {"1", "true", "yes", "y"}
_NO = {"0", "false", "no", "n"}
UNITS = ("target lesion", "target lesion measurement")
TABLE2_COLUMNS: tuple[str, ...] = ("unit", "response", "count", "percent", "denominator")


@dataclass(frozen=True)
class TargetLesion:
    """One baseline target lesion with its responses and factor values."""

    patient_id: str
    lesion_id: str
    site: str
    nodal: bool
    factors: dict[str, str]
    responses: tuple[str, ...]

    @property
    def best(self) -> str:
        """Best lesion-level response (``NE`` when never evaluated)."""
        ranked = [r for r in self.responses if r in _RANK]
        return max(ranked, key=_RANK.__getitem__) if ranked else "NE"


def _normalised(value: str) -> str:
    word = value.strip().lower()
    if word in _YES:
        return "yes"
    if word in _NO:
        return "no"
    return value.strip()


def _factor_value(record: PatientRecord, lesion_id: str, name: str) -> str:
    for assessment in record.assessments:
        if assessment.timepoint < 0:
            continue
        measurement = assessment.measurements.get(lesion_id)
        if measurement is not None and measurement.extra.get(name):
            return _normalised(measurement.extra[name])
    return ""


def present_factors(records: Mapping[str, PatientRecord], asked: Sequence[str] | None) -> list[str]:
    """The factor columns analysed: `asked`, or the defaults the lesion table has."""
    if asked is not None:
        return list(asked)
    seen = {
        name
        for record in records.values()
        for a in record.assessments
        for m in a.measurements.values()
        for name in m.extra
    }
    return [name for name in DEFAULT_FACTORS if name in seen]


def target_lesions(
    records: Mapping[str, PatientRecord],
    patients: Mapping[str, Mapping[str, Any]],
    factors: Sequence[str],
) -> list[TargetLesion]:
    """Every baseline target lesion of the classified patients (module docstring)."""
    lesions = []
    for pid, patient in patients.items():
        record = records.get(pid)
        if record is None:
            continue
        follow_ups = sorted(
            (tp for tp in patient.get("timepoints", []) if int(tp["timepoint"]) > 0),
            key=lambda tp: int(tp["timepoint"]),
        )
        for lesion in record.lesions.values():
            if lesion.role is not Role.TARGET or lesion.part_of is not None:
                continue
            responses = tuple(
                str((tp.get("lesions") or {}).get(lesion.lesion_id, "NE")) for tp in follow_ups
            )
            lesions.append(
                TargetLesion(
                    pid, lesion.lesion_id, lesion.site, lesion.nodal,
                    {name: _factor_value(record, lesion.lesion_id, name) for name in factors},
                    responses,
                )
            )  # fmt: skip
    return lesions


def lesion_rows(lesions: Sequence[TargetLesion]) -> list[dict[str, str]]:
    """One row per target lesion (`LESION_COLUMNS`)."""
    return [
        {
            "patient_id": t.patient_id,
            "lesion_id": t.lesion_id,
            "site": t.site,
            "nodal": "true" if t.nodal else "false",
            "factors": ";".join(f"{k}={v}" for k, v in t.factors.items() if v),
            "best_response": t.best,
            "responding": "1" if t.best in _RESPONDING else "0",
            "assessments": str(sum(1 for r in t.responses if r in _RANK)),
            "responding_assessments": str(sum(1 for r in t.responses if r in _RESPONDING)),
        }
        for t in lesions
    ]


def unit_frame(lesions: Sequence[TargetLesion], unit: str) -> pd.DataFrame:
    """The observations of one unit: patient, response (0/1), site and factors."""
    rows = []
    for t in lesions:
        base = {"patient_id": t.patient_id, "site": t.site,
                "lymph_node": "yes" if t.nodal else "no", **t.factors}  # fmt: skip
        if unit == UNITS[0]:
            if t.best in _RANK:
                rows.append(base | {"response": float(t.best in _RESPONDING)})
        else:
            rows += [base | {"response": float(r in _RESPONDING)} for r in t.responses
                     if r in _RANK]  # fmt: skip
    return pd.DataFrame(rows)


def _reference(values: pd.Series, factor: str) -> str:
    levels = set(values)
    if factor != "site" and "no" in levels:
        return "no"
    counts = Counter(values)
    return sorted(levels, key=lambda v: (-counts[v], v))[0]


def gee_fit(
    response: np.ndarray, design: pd.DataFrame, clusters: Sequence[str]
) -> Any | None:
    """Logistic GEE, exchangeable correlation, robust errors (None when it cannot be fitted)."""
    import statsmodels.api as sm

    exog = sm.add_constant(design.astype(float), has_constant="add")
    codes = pd.factorize(pd.Series(list(clusters)))[0]
    model = sm.GEE(
        response, exog, groups=codes, family=sm.families.Binomial(),
        cov_struct=sm.cov_struct.Exchangeable(),
    )  # fmt: skip
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            result = model.fit(maxiter=100)
    except (np.linalg.LinAlgError, ValueError, ZeroDivisionError):
        return None
    if not np.all(np.isfinite(result.bse)):
        return None
    return result


def gee_rows(lesions: Sequence[TargetLesion], factors: Sequence[str]) -> list[dict[str, str]]:
    """Response rate by level and the GEE odds ratio against the reference, per unit and factor."""
    from scipy.stats import chi2

    out: list[dict[str, str]] = []
    for unit in UNITS:
        frame = unit_frame(lesions, unit)
        if frame.empty:
            continue
        for factor in ("site", "lymph_node", *factors):
            if factor not in frame:
                continue
            data = frame[frame[factor].astype(str) != ""]
            left = len(frame) - len(data)
            levels = sorted(set(data[factor]))
            denominator = (
                f"{unit}s with a best response" if unit == UNITS[0] else
                f"{unit}s (follow-ups with a lesion response other than NE)"
            ) + (f"; {left} without {factor} left out" if left else "")  # fmt: skip
            if len(levels) < 2:
                continue
            reference = _reference(data[factor], factor)
            others = [lv for lv in levels if lv != reference]
            design = pd.DataFrame(
                {f"{factor}={lv}": (data[factor] == lv).astype(float) for lv in others},
                index=data.index,
            )
            result = gee_fit(data["response"].to_numpy(), design, data["patient_id"].tolist())
            model = ("GEE logistic, exchangeable working correlation, robust SE, clustered "
                     f"by patient ({data['patient_id'].nunique()} patients)")  # fmt: skip
            factor_p = ""
            if result is not None and len(others) > 1:
                names = list(design.columns)
                beta = result.params[names].to_numpy()
                cov = result.cov_params().loc[names, names].to_numpy()
                try:
                    stat = float(beta @ np.linalg.solve(cov, beta))
                    factor_p = f"{float(chi2.sf(stat, len(names))):.6g}"
                except np.linalg.LinAlgError:
                    factor_p = ""
            elif result is not None:
                factor_p = f"{float(result.pvalues[design.columns[0]]):.6g}"
            for level in [reference, *others]:
                subset = data[data[factor] == level]
                row = {
                    "unit": unit, "factor": factor, "level": level,
                    "reference_level": "" if level == reference else reference,
                    "n": str(len(subset)), "responding": str(int(subset["response"].sum())),
                    "percent": f"{100 * subset['response'].mean():.1f}",
                    "patients": str(subset["patient_id"].nunique()),
                    "factor_p_value": factor_p, "denominator": denominator,
                    "model": model if result is not None else model + "; not estimable",
                }  # fmt: skip
                if level != reference and result is not None:
                    term = f"{factor}={level}"
                    low, high = result.conf_int().loc[term]
                    ratio, ci = float(np.exp(result.params[term])), (np.exp(low), np.exp(high))
                    if np.isfinite(ratio) and ci[1] / max(ci[0], 1e-300) <= 1e6:
                        row |= {"odds_ratio": f"{ratio:.6g}", "or_ci_low": f"{ci[0]:.6g}",
                                "or_ci_high": f"{ci[1]:.6g}",
                                "p_value": f"{float(result.pvalues[term]):.6g}"}  # fmt: skip
                    else:
                        row["model"] += "; not estimable (separation)"
                out.append(row)
    return out


def table2_rows(lesions: Sequence[TargetLesion]) -> list[dict[str, str]]:
    """Seed 001 Table 2: best response per TL and response per TL measurement, counted.

    Per TL over every baseline target lesion (``NE``: never evaluated, kept in the count so
    that the denominator is every TL); per measurement over the follow-up assessments of the
    TLs with a lesion-level response (NE kept, as a row of its own).
    """
    rows: list[dict[str, str]] = []
    order = ("CR", "PR", "SD", "PD", "NE")
    per_lesion = Counter(t.best for t in lesions)
    per_measurement = Counter(
        r if r in _RANK else "NE" for t in lesions for r in t.responses if r not in ("NA", "")
    )
    for unit, counts in ((UNITS[0], per_lesion), (UNITS[1], per_measurement)):
        total = sum(counts.values())
        if not total:
            continue
        denominator = f"{total} {unit}s" + (
            f" of {len({t.patient_id for t in lesions})} patients" if unit == UNITS[0] else ""
        )
        for response in order:
            count = counts.get(response, 0)
            rows.append({"unit": unit, "response": response, "count": str(count),
                         "percent": f"{100 * count / total:.1f}",
                         "denominator": denominator})  # fmt: skip
        responding = counts.get("CR", 0) + counts.get("PR", 0)
        rows.append({"unit": unit, "response": "CR or PR (response rate)",
                     "count": str(responding), "percent": f"{100 * responding / total:.1f}",
                     "denominator": denominator})  # fmt: skip
    return rows


def patient_covariates(
    lesions: Sequence[TargetLesion], factors: Sequence[str]
) -> dict[str, dict[str, str]]:
    """Per patient, whether any target lesion is a lymph node / has each factor ``yes``.

    Seed 001 relates the occurrence of a DR to "the presence of lymph node TLs", prior
    radiotherapy of a TL and prior biopsy of a TL at the patient level; these covariates
    (``target_lymph_node``, ``target_<factor>``: ``yes``/``no``) enter the logistic models.
    """
    out: dict[str, dict[str, str]] = {}
    for t in lesions:
        row = out.setdefault(t.patient_id, {"target_lymph_node": "no"} | {
            f"target_{f}": "no" for f in factors})  # fmt: skip
        if t.nodal:
            row["target_lymph_node"] = "yes"
        for f in factors:
            if t.factors.get(f) == "yes":
                row[f"target_{f}"] = "yes"
    return out
