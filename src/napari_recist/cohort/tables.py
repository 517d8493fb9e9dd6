"""Cohort tables from the classification JSON: one row per patient, category frequencies.

Seeds 000-002 report how often each category occurs per patient and per radiological
evaluation (seed 001, Table 2: per patient, per target lesion, per measurement); these tables
are computed here, from the patients' JSON only.
"""

from __future__ import annotations

import csv
from collections import Counter
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from napari_recist.cohort.fields import category_pspd
from napari_recist.io.atomic import atomic_open
from napari_recist.io.spreadsheet import neutralise

Patient = Mapping[str, Any]

PATIENT_COLUMNS: tuple[str, ...] = (
    "patient_id",
    "baseline_date",
    "last_assessment_date",
    "follow_ups",
    "best_overall_response",
    "confirmed_best_overall_response",
    "irecist_best_overall_response",
    "category",
    "category_pspd",
    "response_group",
    "vuagnat",
    "bernard_tessier",
    "tozuka",
    "pseudoprogression",
    "hyperprogression_champiat",
    "hyperprogression_ferrara",
    "resistance",
    "progression_date",
    "progression_pattern",
    "progression_organs",
    "best_change_pct",
    "depth_of_response_pct",
    "time_to_nadir_days",
)


def _text(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, bool):
        return str(value).lower()
    return str(value)


def _follow_ups(patient: Patient) -> list[Mapping[str, Any]]:
    return [tp for tp in patient.get("timepoints", []) if int(tp["timepoint"]) > 0]


def patient_row(patient: Patient) -> dict[str, str]:
    """Flatten one patient of the classification JSON to the columns of `PATIENT_COLUMNS`."""
    timepoints = [tp for tp in patient.get("timepoints", []) if int(tp["timepoint"]) >= 0]
    follow_ups = _follow_ups(patient)
    changes = [
        tp["change_from_baseline_pct"]
        for tp in follow_ups
        if tp.get("change_from_baseline_pct") is not None
    ]
    dissociated = patient.get("dissociated_response") or {}
    hyper = patient.get("hyperprogression") or {}
    pattern = patient.get("progression_pattern") or {}
    values: dict[str, Any] = {
        "patient_id": patient.get("patient_id"),
        "baseline_date": timepoints[0]["date"] if timepoints else None,
        "last_assessment_date": timepoints[-1]["date"] if timepoints else None,
        "follow_ups": len(follow_ups),
        "best_overall_response": patient.get("best_overall_response"),
        "confirmed_best_overall_response": patient.get("confirmed_best_overall_response"),
        "irecist_best_overall_response": patient.get("irecist_best_overall_response"),
        "category": patient.get("category"),
        "category_pspd": category_pspd(patient),
        "response_group": patient.get("response_group"),
        "vuagnat": dissociated.get("vuagnat"),
        "bernard_tessier": dissociated.get("bernard_tessier"),
        "tozuka": dissociated.get("tozuka"),
        "pseudoprogression": patient.get("pseudoprogression"),
        "hyperprogression_champiat": hyper.get("champiat"),
        "hyperprogression_ferrara": hyper.get("ferrara"),
        "resistance": patient.get("resistance"),
        "progression_date": patient.get("progression_date"),
        "progression_pattern": pattern.get("type"),
        "progression_organs": ";".join(pattern.get("organs") or []),
        "best_change_pct": min(changes) if changes else None,
        "depth_of_response_pct": patient.get("depth_of_response_pct"),
        "time_to_nadir_days": patient.get("time_to_nadir_days"),
    }
    return {column: _text(values[column]) for column in PATIENT_COLUMNS}


def _cell(value: object) -> str:
    return "" if value is None else str(value)


def write_csv(
    path: str | Path,
    columns: Sequence[str],
    rows: Iterable[Mapping[str, str]],
    excel: bool = False,
) -> None:
    """Write rows to a CSV file atomically, every cell spreadsheet-safe (`io.spreadsheet`).

    Parameters
    ----------
    path
        The file.
    columns
        Header, in order; a row's missing columns are empty.
    rows
        Cells by column.
    excel
        Start with a UTF-8 byte-order mark, so that Excel reads accents and the micro sign.
    """
    with atomic_open(path, "w", newline="", encoding="utf-8-sig" if excel else "utf-8") as handle:
        writer = csv.DictWriter(handle, fieldnames=list(columns))
        writer.writeheader()
        for row in rows:
            writer.writerow({column: neutralise(_cell(row.get(column))) for column in columns})


@dataclass(frozen=True)
class Frequency:
    """How often each value of one field occurs.

    Parameters
    ----------
    name
        What is counted (e.g. ``"Category (seed 002) per patient"``).
    unit
        What one count is: ``patients``, ``assessments`` or ``lesion assessments``.
    counts
        Value and count, most meaningful order first.
    """

    name: str
    unit: str
    counts: tuple[tuple[str, int], ...]

    @property
    def total(self) -> int:
        """Number of items counted."""
        return sum(n for _, n in self.counts)

    def percent(self, count: int) -> float:
        """A count as a percentage of the total."""
        return 100.0 * count / self.total if self.total else 0.0


_ORDER = (
    "CR", "PR", "SD", "PD", "NON-CR/NON-PD", "NEW", "NE",
    "iCR", "iPR", "iSD", "iUPD", "iCPD", "NON-iCR/NON-iUPD",
    "true PR", "true SD", "true PD", "DR", "PsPD",
    "DR1", "DR2", "DR3", "none",
    "true response", "atypical response", "non-response",
    "primary", "secondary",
    "enlargement only", "new lesions only", "both",
    "true", "false", "NA",
)  # fmt: skip


def _count(name: str, unit: str, values: Iterable[Any]) -> Frequency:
    counter = Counter(_text(v) or "NA" for v in values)
    ordered = sorted(
        counter.items(),
        key=lambda kv: (_ORDER.index(kv[0]) if kv[0] in _ORDER else len(_ORDER), kv[0]),
    )
    return Frequency(name, unit, tuple(ordered))


# Per-patient fields counted: (title, function of the patient).
PATIENT_FIELDS: tuple[tuple[str, Callable[[Patient], Any]], ...] = (
    ("RECIST 1.1 best overall response", lambda p: p.get("best_overall_response")),
    ("Confirmed best overall response", lambda p: p.get("confirmed_best_overall_response")),
    ("iRECIST best overall response", lambda p: p.get("irecist_best_overall_response")),
    ("Category (seed 002)", lambda p: p.get("category")),
    ("Category (seed 002) with PsPD apart", category_pspd),
    ("Response group (seed 002)", lambda p: p.get("response_group")),
    ("Dissociated response, Vuagnat (seed 001)",
     lambda p: (p.get("dissociated_response") or {}).get("vuagnat")),
    ("Dissociated response, Bernard-Tessier (seed 002)",
     lambda p: (p.get("dissociated_response") or {}).get("bernard_tessier")),
    ("Dissociated response at first PD, Tozuka (seed 000)",
     lambda p: (p.get("dissociated_response") or {}).get("tozuka")),
    ("Pseudoprogression (iRECIST)", lambda p: p.get("pseudoprogression")),
    ("Resistance (SITC)", lambda p: p.get("resistance")),
    ("Progression pattern", lambda p: (p.get("progression_pattern") or {}).get("type")),
)  # fmt: skip

# Per-assessment fields counted, over follow-ups.
ASSESSMENT_FIELDS: tuple[tuple[str, Callable[[Mapping[str, Any]], Any]], ...] = (
    ("RECIST 1.1 overall response", lambda tp: tp.get("overall")),
    ("iRECIST response", lambda tp: tp.get("irecist")),
    ("Category (seed 002)", lambda tp: tp.get("category")),
    ("Dissociated response, Vuagnat (seed 001)",
     lambda tp: (tp.get("dissociated") or {}).get("vuagnat")),
    ("Dissociated response, Bernard-Tessier (seed 002)",
     lambda tp: (tp.get("dissociated") or {}).get("bernard_tessier")),
)  # fmt: skip


def frequencies(patients: Sequence[Patient]) -> list[Frequency]:
    """Count each category per patient, per assessment and per lesion assessment.

    Parameters
    ----------
    patients
        Patients of the classification JSON.

    Returns
    -------
    list of Frequency
        Per-patient fields, then per-assessment fields (follow-ups only), then the lesion-level
        responses over every follow-up (seed 001 Table 2 "per TL measurement").
    """
    result = [
        _count(f"{title} per patient", "patients", (get(p) for p in patients))
        for title, get in PATIENT_FIELDS
    ]
    follow_ups = [tp for p in patients for tp in _follow_ups(p)]
    result += [
        _count(f"{title} per assessment", "assessments", (get(tp) for tp in follow_ups))
        for title, get in ASSESSMENT_FIELDS
    ]
    result += _dissociated_response_tables(patients)
    result.append(
        _count(
            "Lesion-level response per lesion assessment",
            "lesion assessments",
            (response for tp in follow_ups for response in (tp.get("lesions") or {}).values()),
        )
    )
    return result


def _first_follow_up(patient: Patient) -> Mapping[str, Any] | None:
    follow_ups = _follow_ups(patient)
    return min(follow_ups, key=lambda tp: int(tp["timepoint"])) if follow_ups else None


def _dissociated_response_tables(patients: Sequence[Patient]) -> list[Frequency]:
    """Seed 002 Fig. 1c and 1f: DR by the RECIST response at the first follow-up.

    Also the time point at which each DR patient first meets the definition.
    """
    by_first_response = []
    first_dr = []
    for patient in patients:
        first = _first_follow_up(patient)
        is_dr = bool((patient.get("dissociated_response") or {}).get("bernard_tessier"))
        if first is not None:
            by_first_response.append(f"{first.get('overall', 'NA')}: {'DR' if is_dr else 'no DR'}")
        for tp in _follow_ups(patient):
            if (tp.get("dissociated") or {}).get("bernard_tessier"):
                first_dr.append(f"TP{tp['timepoint']}")
                break
    return [
        _count(
            "Bernard-Tessier DR by RECIST 1.1 response at the first follow-up (seed 002 Fig. 1c)",
            "patients",
            by_first_response,
        ),
        _count("Time point of the first DR (seed 002 Fig. 1f)", "DR patients", first_dr),
    ]


def frequency_rows(items: Sequence[Frequency]) -> list[dict[str, str]]:
    """Flatten frequencies for a CSV: one row per (field, value)."""
    return [
        {
            "field": item.name,
            "unit": item.unit,
            "value": value,
            "count": str(count),
            "percent": f"{item.percent(count):.1f}",
        }
        for item in items
        for value, count in item.counts
    ]
