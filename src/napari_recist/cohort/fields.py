"""Patient fields to group a cohort by, and what each field was as known on a given day.

A field is a dotted path into a patient of the classification JSON (``category``,
``dissociated_response.tozuka``, ``progression_pattern.site_group``), a column of the clinical
table, or ``category_pspd``: seed 002's categories with pseudoprogression as its own level
(``PsPD``; seed 002 Table 1 counts DR, PsPD, CR/PR, SD and PD patients apart). Values are the
text of the JSON (``DR``, ``true PD``; booleans ``true``/``false``; null ``NA``).

A landmark analysis or a time-dependent model needs the value *as known on a day*: the
response categories are only known after baseline. `value_known_on` rebuilds them from the
patient's assessments up to that day, with the rules of shared/spec/criteria.md (sections 1, 4,
5), and checks the rebuilt value at the last assessment against the classification; a patient
for whom they differ is reported and left out of day-dependent analyses.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping, Sequence
from typing import Any

from napari_recist.cohort.clinical import ClinicalRecord

Patient = Mapping[str, Any]

PSPD = "PsPD"
DERIVED_FIELDS: dict[str, str] = {
    "category_pspd": "seed 002 category with pseudoprogression as its own level (PsPD)",
}
# Fields fixed at baseline: known on day 0.
BASELINE_FIELDS: frozenset[str] = frozenset({"patient_id", "treatment_start"})
# Post-baseline fields whose value on a day can be rebuilt from the assessments.
REBUILT_FIELDS: frozenset[str] = frozenset(
    {
        "category",
        "category_pspd",
        "response_group",
        "best_overall_response",
        "dissociated_response.bernard_tessier",
        "dissociated_response.vuagnat",
        "dissociated_response.tozuka",
        "pseudoprogression",
        "resistance",
    }
)
_PROGRESSION_PREFIX = "progression_pattern."

# RECIST 1.1 section 4.4 / criteria.md section 1: best response order up to the first PD.
_BOR_RANK = {"CR": 4, "PR": 3, "SD": 2, "NON-CR/NON-PD": 1}
# criteria.md section 4: the seed 002 category of a best overall response.
_CATEGORY_OF_BOR = {
    "CR": "CR",
    "PR": "true PR",
    "SD": "true SD",
    "PD": "true PD",
    "NON-CR/NON-PD": "NON-CR/NON-PD",
    "NE": "NE",
}
_RESPONSE_GROUP = {
    "DR": "atypical response",
    PSPD: "atypical response",
    "CR": "true response",
    "true PR": "true response",
    "true SD": "non-response",
    "true PD": "non-response",
}
_VUAGNAT_RANK = {"none": 0, "DR3": 1, "DR2": 2, "DR1": 3}


def as_text(value: Any) -> str:
    """A JSON value as the text a group is named by (``true``, ``NA`` for null)."""
    if value is None or value == "":
        return "NA"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, list):
        return ";".join(as_text(v) for v in value) or "NA"
    return str(value)


def _lookup(patient: Patient, path: str) -> tuple[bool, Any]:
    node: Any = patient
    for part in path.split("."):
        if not isinstance(node, Mapping) or part not in node:
            return False, None
        node = node[part]
    return True, node


def is_patient_field(patients: Sequence[Patient], path: str) -> bool:
    """Whether `path` is a field of the classification JSON (or a derived field)."""
    return path in DERIVED_FIELDS or any(_lookup(p, path)[0] for p in patients)


def field_value(
    patient: Patient, path: str, clinical: Mapping[str, ClinicalRecord] | None = None
) -> str:
    """The final value of a field for one patient (JSON first, then the clinical table)."""
    if path == "category_pspd":
        return category_pspd(patient)
    found, value = _lookup(patient, path)
    if found:
        return as_text(value)
    record = (clinical or {}).get(str(patient["patient_id"]))
    if record is not None and path in record.covariates:
        return record.covariates[path]
    return "NA"


def category_pspd(patient: Patient) -> str:
    """Seed 002 category with PsPD as its own level.

    DR keeps precedence (it is the JSON's ``category``); a pseudoprogression (criteria.md
    section 5: an unconfirmed iUPD followed by iSD/iPR/iCR) is ``PsPD`` whatever its RECIST
    category, so that pseudoprogressors are no longer counted as true PR, true SD or true PD.
    """
    category = as_text(patient.get("category"))
    if category != "DR" and patient.get("pseudoprogression") is True:
        return PSPD
    return category


def groups_by_field(
    patients: Sequence[Patient],
    path: str,
    clinical: Mapping[str, ClinicalRecord] | None = None,
) -> dict[str, str]:
    """Value of `path` by patient id."""
    return {str(p["patient_id"]): field_value(p, path, clinical) for p in patients}


def is_post_baseline(path: str, patients: Sequence[Patient]) -> bool:
    """Whether the field is only known after baseline (every JSON verdict is)."""
    if path in BASELINE_FIELDS:
        return False
    return is_patient_field(patients, path)


def knowable_on_a_day(path: str, patients: Sequence[Patient]) -> bool:
    """Whether `value_known_on` can tell this field's value on a given day."""
    return (
        not is_post_baseline(path, patients)
        or path in REBUILT_FIELDS
        or path.startswith(_PROGRESSION_PREFIX)
    )


def _follow_ups_until(patient: Patient, day: dt.date | None) -> list[Mapping[str, Any]]:
    return [
        tp
        for tp in patient.get("timepoints", [])
        if int(tp["timepoint"]) > 0
        and tp.get("date")
        and (day is None or dt.date.fromisoformat(tp["date"]) <= day)
    ]


def _baseline_date(patient: Patient) -> dt.date | None:
    for tp in patient.get("timepoints", []):
        if int(tp["timepoint"]) == 0 and tp.get("date"):
            return dt.date.fromisoformat(tp["date"])
    return None


def _best_overall_response(
    patient: Patient, follow_ups: Sequence[Mapping[str, Any]], min_sd_days: int
) -> str:
    """Unconfirmed BOR over these follow-ups (criteria.md section 1, RECIST 1.1 4.4.1)."""
    baseline = _baseline_date(patient)
    best: str | None = None
    saw_pd = False
    for tp in follow_ups:
        response = tp.get("overall")
        if response == "PD":
            saw_pd = True
            break
        if response in ("SD", "NON-CR/NON-PD") and baseline is not None:
            if (dt.date.fromisoformat(tp["date"]) - baseline).days < min_sd_days:
                continue  # SD counts only at >= min_sd_days after baseline
        if response in _BOR_RANK and (best is None or _BOR_RANK[response] > _BOR_RANK[best]):
            best = response
    if best is not None:
        return best
    return "PD" if saw_pd else "NE"


def _pseudoprogression_known(patient: Patient, follow_ups: Sequence[Mapping[str, Any]]) -> bool:
    if patient.get("pseudoprogression") is not True:
        return False
    seen_iupd = False
    for tp in follow_ups:
        if tp.get("irecist") == "iUPD":
            seen_iupd = True
        elif seen_iupd and tp.get("irecist") in ("iSD", "iPR", "iCR"):
            return True
    return False


def _category_on(patient: Patient, follow_ups: Sequence[Mapping[str, Any]], min_sd: int) -> str:
    if any(tp.get("category") == "DR" for tp in follow_ups):
        return "DR"
    return _CATEGORY_OF_BOR[_best_overall_response(patient, follow_ups, min_sd)]


def _rebuilt(patient: Patient, path: str, day: dt.date | None, criteria: Mapping[str, Any]) -> str:
    follow_ups = _follow_ups_until(patient, day)
    min_sd = int(criteria.get("min_sd_days", 42))
    if path in ("category", "category_pspd", "response_group"):
        category = _category_on(patient, follow_ups, min_sd)
        if (
            path != "category"
            and category != "DR"
            and _pseudoprogression_known(patient, follow_ups)
        ):
            category = PSPD
        if path == "response_group":
            return _RESPONSE_GROUP.get(category, "NA")
        return category
    if path == "best_overall_response":
        return _best_overall_response(patient, follow_ups, min_sd) if follow_ups else "NE"
    if path == "pseudoprogression":
        return as_text(_pseudoprogression_known(patient, follow_ups))
    if path == "dissociated_response.bernard_tessier":
        return as_text(
            any((tp.get("dissociated") or {}).get("bernard_tessier") for tp in follow_ups)
        )
    if path == "dissociated_response.vuagnat":
        final = as_text((patient.get("dissociated_response") or {}).get("vuagnat"))
        if final == "NA":
            return "NA"
        levels = [as_text((tp.get("dissociated") or {}).get("vuagnat")) for tp in follow_ups]
        ranked = [level for level in levels if level in _VUAGNAT_RANK]
        return max(ranked, key=_VUAGNAT_RANK.__getitem__) if ranked else "none"
    if path == "dissociated_response.tozuka":
        # criteria.md section 4: decided at the first follow-up when it is PD (default), or
        # at the last PD with tozuka_every_pd; "NA" before that assessment.
        final = as_text((patient.get("dissociated_response") or {}).get("tozuka"))
        all_follow_ups = _follow_ups_until(patient, None)
        pds = [tp for tp in all_follow_ups if tp.get("overall") == "PD"]
        if final == "NA" or not pds:
            return "NA"
        decisive = pds[-1] if criteria.get("tozuka_every_pd") else all_follow_ups[0]
        return final if decisive in follow_ups else "NA"
    # resistance and the progression pattern are set at the first RECIST PD.
    found, value = _lookup(patient, path)
    final = as_text(value) if found else "NA"
    progression = patient.get("progression_date")
    if progression and (day is None or dt.date.fromisoformat(progression) <= day):
        return final
    return "NA"


def value_known_on(
    patient: Patient,
    path: str,
    day: dt.date,
    criteria: Mapping[str, Any],
    clinical: Mapping[str, ClinicalRecord] | None = None,
) -> str | None:
    """The value of a field as it was known on `day`.

    Parameters
    ----------
    patient
        One patient of the classification JSON.
    path
        The field (see `knowable_on_a_day`).
    day
        Calendar date.
    criteria
        The settings of the classification (``min_sd_days``, ``tozuka_every_pd``).
    clinical
        Clinical table (baseline covariates are known on every day).

    Returns
    -------
    str or None
        None when the value cannot be told for this patient: rebuilding it from every
        assessment does not give the classification's value (see `rebuild_mismatches`).

    Raises
    ------
    ValueError
        For a post-baseline field whose day of knowledge the tool does not know.
    """
    if not is_post_baseline(path, [patient]) and path not in DERIVED_FIELDS:
        return field_value(patient, path, clinical)
    if not knowable_on_a_day(path, [patient]) and path not in DERIVED_FIELDS:
        raise ValueError(f"the day on which '{path}' becomes known is not defined")
    if _rebuilt(patient, path, None, criteria) != field_value(patient, path, clinical):
        return None
    return _rebuilt(patient, path, day, criteria)


def rebuild_mismatches(
    patients: Sequence[Patient], path: str, criteria: Mapping[str, Any]
) -> list[str]:
    """Patients whose value rebuilt from all their assessments differs from the JSON's."""
    if path not in REBUILT_FIELDS and not path.startswith(_PROGRESSION_PREFIX):
        return []
    return [
        str(p["patient_id"])
        for p in patients
        if _rebuilt(p, path, None, criteria) != field_value(p, path)
    ]


def change_days(patient: Patient) -> list[dt.date]:
    """The dates on which a post-baseline value can change: the follow-up scans."""
    return [dt.date.fromisoformat(tp["date"]) for tp in _follow_ups_until(patient, None)]
