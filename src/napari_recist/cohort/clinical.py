"""The clinical table (CSV): survival times and covariates per patient, read with row-level errors.

Columns: ``patient_id`` (required); ``os_days`` with ``os_event`` and/or ``pfs_days`` with
``pfs_event`` (days from the baseline scan; event 1 = death / progression or death, 0 =
censored); optionally ``ttf_days`` with ``ttf_event`` for time to treatment failure (days from
the baseline scan to the discontinuation of treatment for any reason, progression, toxicity,
death or the patient's or physician's decision: FDA, Clinical Trial Endpoints for the Approval
of Cancer Drugs and Biologics, 2018; event 1 = treatment stopped, 0 = still on treatment at
the last contact); any other column is a covariate, kept as text. Rows are numbered as lines of the
file (the header is row 1), the way a spreadsheet shows them.
"""

from __future__ import annotations

import csv
import datetime as dt
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from napari_recist.errors import InputError, Problem

ENDPOINTS: tuple[str, ...] = ("os", "pfs", "ttf")
_TRUE = {"1", "true", "yes", "y", "dead", "event"}
_FALSE = {"0", "false", "no", "n", "alive", "censored"}


@dataclass(frozen=True)
class SurvivalTime:
    """Time to an event or to censoring.

    Parameters
    ----------
    days
        Days from the baseline scan.
    event
        True when the event happened at `days`; False when the patient was censored then.
    """

    days: float
    event: bool


@dataclass
class ClinicalRecord:
    """One patient's row of the clinical table.

    Parameters
    ----------
    patient_id
        Matches the lesion table / DICOM PatientID.
    os, pfs, ttf
        Overall survival, progression-free survival and time to treatment failure, when the
        table gives them.
    covariates
        Every other column, as text (empty cells left out).
    """

    patient_id: str
    os: SurvivalTime | None = None
    pfs: SurvivalTime | None = None
    ttf: SurvivalTime | None = None
    covariates: dict[str, str] = field(default_factory=dict)


def read_clinical_table(path: str | Path) -> dict[str, ClinicalRecord]:
    """Read a clinical table, reporting every bad cell at once.

    Parameters
    ----------
    path
        CSV file with a header row.

    Returns
    -------
    dict of str to ClinicalRecord
        By patient id, in file order.

    Raises
    ------
    InputError
        When the file cannot be read, lacks ``patient_id`` or any survival column pair, or has
        bad cells (non-numeric or negative days, an event that is not 0/1, a days column without
        its event column, a duplicate patient); each problem names the file, row and column.
    """
    path = Path(path)
    source = str(path)
    try:
        text = path.read_text(encoding="utf-8-sig")
    except OSError as error:
        message = f"cannot read the clinical table ({error.strerror})"
        raise InputError([Problem(source, message)]) from None
    except UnicodeDecodeError:
        raise InputError([Problem(source, "not a UTF-8 text file")]) from None
    rows = list(csv.reader(text.splitlines()))
    if not rows or not any(cell.strip() for cell in rows[0]):
        raise InputError([Problem(source, "the clinical table is empty (no header row)")])
    header = [name.strip() for name in rows[0]]
    problems = _check_header(source, header)
    if problems:
        raise InputError(problems)
    records: dict[str, ClinicalRecord] = {}
    for line_number, cells in enumerate(rows[1:], start=2):
        if not any(cell.strip() for cell in cells):
            continue
        if len(cells) != len(header):
            problems.append(
                Problem(
                    source,
                    f"has {len(cells)} cells, the header has {len(header)} columns",
                    row=line_number,
                )
            )
            continue
        values = {name: cell.strip() for name, cell in zip(header, cells, strict=True)}
        record = _parse_row(source, line_number, values, problems)
        if record is None:
            continue
        if record.patient_id in records:
            problems.append(
                Problem(
                    source,
                    f"patient '{record.patient_id}' appears twice",
                    row=line_number,
                    column="patient_id",
                )
            )
            continue
        records[record.patient_id] = record
    if problems:
        raise InputError(problems)
    if not records:
        raise InputError([Problem(source, "the clinical table has a header but no patients")])
    return records


def _check_header(source: str, header: Sequence[str]) -> list[Problem]:
    problems: list[Problem] = []
    seen: set[str] = set()
    for name in header:
        if name in seen:
            problems.append(Problem(source, f"column '{name}' appears twice", row=1, column=name))
        seen.add(name)
    if "patient_id" not in seen:
        problems.append(Problem(source, "missing required column 'patient_id'", row=1))
    for endpoint in ENDPOINTS:
        days, event = f"{endpoint}_days", f"{endpoint}_event"
        if (days in seen) != (event in seen):
            missing = event if days in seen else days
            present = days if days in seen else event
            problems.append(
                Problem(source, f"column '{present}' needs a '{missing}' column", row=1)
            )
    if not any(f"{endpoint}_days" in seen for endpoint in ("os", "pfs")):
        problems.append(
            Problem(
                source,
                "no survival columns: give os_days and os_event and/or pfs_days and pfs_event",
                row=1,
            )
        )
    return problems


def _parse_row(
    source: str, line_number: int, values: Mapping[str, str], problems: list[Problem]
) -> ClinicalRecord | None:
    patient_id = values["patient_id"]
    if not patient_id:
        problems.append(Problem(source, "empty patient_id", row=line_number, column="patient_id"))
        return None
    record = ClinicalRecord(patient_id=patient_id)
    for endpoint in ENDPOINTS:
        days_column, event_column = f"{endpoint}_days", f"{endpoint}_event"
        if days_column not in values:
            continue
        days_text, event_text = values[days_column], values[event_column]
        if not days_text and not event_text:
            continue  # unknown for this patient
        days = _parse_days(source, line_number, days_column, days_text, problems)
        event = _parse_event(source, line_number, event_column, event_text, problems)
        if days is not None and event is not None:
            setattr(record, endpoint, SurvivalTime(days=days, event=event))
    endpoint_columns = {f"{e}_{part}" for e in ENDPOINTS for part in ("days", "event")}
    record.covariates = {
        name: value
        for name, value in values.items()
        if name != "patient_id" and name not in endpoint_columns and value
    }
    return record


def _parse_days(
    source: str, line_number: int, column: str, text: str, problems: list[Problem]
) -> float | None:
    if not text:
        problems.append(Problem(source, "missing (its event is given)", line_number, column))
        return None
    try:
        days = float(text)
    except ValueError:
        problems.append(Problem(source, f"'{text}' is not a number of days", line_number, column))
        return None
    if not math.isfinite(days) or days < 0:
        problems.append(Problem(source, f"{text} days: must be zero or more", line_number, column))
        return None
    return days


def _parse_event(
    source: str, line_number: int, column: str, text: str, problems: list[Problem]
) -> bool | None:
    word = text.lower()
    if word in _TRUE:
        return True
    if word in _FALSE:
        return False
    if not text:
        problems.append(Problem(source, "missing (its days are given)", line_number, column))
    else:
        problems.append(
            Problem(
                source,
                f"'{text}' is not an event: use 1 (event) or 0 (censored)",
                line_number,
                column,
            )
        )
    return None


def progression_free_survival(
    patient: Mapping[str, Any], death: SurvivalTime | None = None
) -> SurvivalTime | None:
    """Derive PFS from a patient's classification when the clinical table lacks it.

    PFS runs from the baseline scan (time point 0) to the first RECIST progression
    (``progression_date`` of the classification JSON); without progression the patient is
    censored at the last assessment. When overall survival is known, a death before that date
    ends PFS as an event (RECIST 1.1 / seed 001: "progression or death, whatever occurred
    first"), including a death without progression, which counts at the date of death.

    Parameters
    ----------
    patient
        One patient of the classification JSON (needs ``timepoints`` with dates, including
        time point 0).
    death
        Overall survival of the patient, if known.

    Returns
    -------
    SurvivalTime or None
        None when the patient has no baseline or no follow-up assessment.
    """
    dates = {
        int(tp["timepoint"]): dt.date.fromisoformat(tp["date"])
        for tp in patient.get("timepoints", [])
        if tp.get("date")
    }
    if 0 not in dates:
        return None
    baseline = dates[0]
    follow_ups = [date for timepoint, date in dates.items() if timepoint > 0]
    if not follow_ups:
        return None
    progression = patient.get("progression_date")
    died = death is not None and death.event
    if progression:
        days = float((dt.date.fromisoformat(progression) - baseline).days)
        if died and death is not None and death.days < days:
            days = death.days
        return SurvivalTime(days=days, event=True)
    if died and death is not None:
        return SurvivalTime(days=death.days, event=True)
    return SurvivalTime(days=float((max(follow_ups) - baseline).days), event=False)
