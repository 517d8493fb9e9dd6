"""Survival endpoints of a cohort, each from one stated time origin, with every PFS decision kept.

Time origin: the treatment start when the classification (``treatment_start``) or the clinical
table (a ``treatment_start`` column, ISO date) gives it, otherwise the baseline scan. The
clinical table's ``os_days``/``pfs_days`` count from the baseline scan (clinical.py); they are
shifted by the days between treatment start and baseline scan when the origin is the treatment
start.

PFS, when the clinical table does not give it for a patient, is derived from the scans with the
FDA (Guidance for Industry, Clinical Trial Endpoints for the Approval of Cancer Drugs, 2018,
Table A) and EMA (Guideline on the evaluation of anticancer medicinal products, Appendix 1)
conventions: the event is the first progression or death, whichever comes first; a patient
without one is censored at the last *evaluable* scan (overall response not NE); a progression
or death after more than two missed scans (scheduled every `scan interval` days after the last
evaluable scan) is censored at that last evaluable scan; a patient with no evaluable follow-up
is censored at day 0. Every decision is one row of ``pfs_censoring.csv``.

The endpoints after an event have their own origin, stated in each row of the CSV:
- ``DoR``, duration of response (RECIST 1.1 section 4.4.3 "duration of overall response"):
  over the responders of the ORR (best overall response CR or PR, unconfirmed, as on the page),
  from the first follow-up with an overall CR or PR to progression or death, with the PFS
  conventions above (last evaluable scan, missed scans); a responder whose PFS the clinical
  table gives takes that PFS's date and event.
- ``PPS``, survival after progression (post-progression survival): over the patients with a
  RECIST 1.1 progression and an overall survival time, from the progression date to death or
  the OS censoring.
- ``TTF``, time to treatment failure (FDA 2018: time from the start of treatment to its
  discontinuation for any reason, progression, toxicity or death): the clinical table's
  ``ttf_days``/``ttf_event`` (clinical.py), from the common time origin; never derived, since
  the scans cannot tell when treatment stopped.
"""

from __future__ import annotations

import datetime as dt
import statistics
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from napari_recist.cohort.clinical import ClinicalRecord, SurvivalTime

Patient = Mapping[str, Any]

MAX_MISSED_SCANS = 2  # FDA 2018 / EMA: an event after more than two missed scans is censored
ENDPOINT_NAMES: dict[str, str] = {
    "OS": "Overall survival",
    "PFS": "Progression-free survival (RECIST 1.1)",
    "PFS_iRECIST": "Progression-free survival (iRECIST, confirmed progression)",
    "DoR": "Duration of response (RECIST 1.1, responders)",
    "PPS": "Survival after progression (RECIST 1.1 progression to death)",
    "TTF": "Time to treatment failure (clinical table)",
}
RESPONSES = ("CR", "PR")
CENSORING_COLUMNS: tuple[str, ...] = (
    "endpoint",
    "patient_id",
    "origin",
    "origin_date",
    "source",
    "days",
    "event",
    "last_evaluable_scan_day",
    "progression_day",
    "death_day",
    "scan_interval_days",
    "missed_scans",
    "decision",
)


@dataclass
class Endpoint:
    """One endpoint's times and how they were obtained.

    Parameters
    ----------
    key
        ``OS``, ``PFS``, ``PFS_iRECIST``, ``DoR``, ``PPS`` or ``TTF`` (the ``endpoint``
        column of survival.csv).
    source
        Where the times come from, in words.
    origin
        The time origin, in words.
    times
        Survival time (days from each patient's origin) by patient id.
    decisions
        One row per patient (`CENSORING_COLUMNS`).
    left_out
        Patients without a time, with the reason.
    """

    key: str
    source: str
    origin: str
    times: dict[str, SurvivalTime] = field(default_factory=dict)
    decisions: list[dict[str, str]] = field(default_factory=list)
    left_out: list[tuple[str, str]] = field(default_factory=list)

    @property
    def name(self) -> str:
        """Readable name of the endpoint."""
        return ENDPOINT_NAMES[self.key]

    @property
    def from_common_origin(self) -> bool:
        """Whether times count from the cohort's time origin (not DoR's or PPS's own)."""
        return self.key not in ("DoR", "PPS")


def _date(text: Any) -> dt.date | None:
    if not text:
        return None
    try:
        return dt.date.fromisoformat(str(text))
    except ValueError:
        return None


def _scans(patient: Patient) -> list[tuple[int, dt.date, str]]:
    return sorted(
        (int(tp["timepoint"]), dt.date.fromisoformat(tp["date"]), str(tp.get("overall", "NA")))
        for tp in patient.get("timepoints", [])
        if int(tp["timepoint"]) >= 0 and tp.get("date")
    )


def time_origin(
    patient: Patient, clinical: Mapping[str, ClinicalRecord] | None
) -> tuple[dt.date | None, str]:
    """The patient's time origin and its name (treatment start, else baseline scan)."""
    start = _date(patient.get("treatment_start"))
    if start is None:
        record = (clinical or {}).get(str(patient["patient_id"]))
        if record is not None:
            start = _date(record.covariates.get("treatment_start"))
    if start is not None:
        return start, "treatment start"
    scans = _scans(patient)
    baseline = next((date for tp, date, _ in scans if tp == 0), None)
    return baseline, "baseline scan"


def _baseline_shift(patient: Patient, origin: dt.date) -> float:
    """Days from the origin to the baseline scan (clinical days count from the scan)."""
    baseline = next((date for tp, date, _ in _scans(patient) if tp == 0), origin)
    return float((baseline - origin).days)


def _missed(last: float, event: float, interval: float) -> int:
    """Scheduled scans (last + k x interval, k >= 1) strictly before the event."""
    count = 0
    while last + (count + 1) * interval < event:
        count += 1
    return count


def scan_interval(patient: Patient, fixed: float | None) -> float | None:
    """The scan interval: `fixed` if given, else the median gap between the patient's scans."""
    if fixed is not None:
        return fixed
    dates = [date for _, date, _ in _scans(patient)]
    gaps = [(b - a).days for a, b in zip(dates, dates[1:], strict=False) if (b - a).days > 0]
    return float(statistics.median(gaps)) if gaps else None


def derive_pfs(
    patient: Patient,
    origin: dt.date,
    death_day: float | None,
    progression: dt.date | None,
    interval: float | None,
) -> tuple[SurvivalTime, dict[str, str]]:
    """PFS of one patient from the scans (module docstring), and the decision made.

    Parameters
    ----------
    patient
        One patient of the classification JSON.
    origin
        Time origin.
    death_day
        Day of death from the origin, if the patient died (clinical table).
    progression
        Date of progression (RECIST or iRECIST), if any.
    interval
        Scan interval in days (None: a single scan, no missed-scan rule can apply).

    Returns
    -------
    tuple
        The time, and the decision's columns (part of `CENSORING_COLUMNS`).
    """
    evaluable = [
        float((date - origin).days)
        for tp, date, overall in _scans(patient)
        if tp > 0 and overall not in ("NE", "NA") and (progression is None or date < progression)
    ]
    last = max(evaluable) if evaluable else 0.0
    progression_day = float((progression - origin).days) if progression else None
    candidates = [
        (day, what)
        for day, what in ((progression_day, "progression"), (death_day, "death"))
        if day is not None
    ]
    info = {
        "last_evaluable_scan_day": f"{last:g}" if evaluable else "",
        "progression_day": "" if progression_day is None else f"{progression_day:g}",
        "death_day": "" if death_day is None else f"{death_day:g}",
        "scan_interval_days": "" if interval is None else f"{interval:g}",
        "missed_scans": "",
    }
    if not candidates:
        where = "the last evaluable scan" if evaluable else "day 0 (no evaluable follow-up)"
        return SurvivalTime(last, False), info | {"decision": f"no event: censored at {where}"}
    day, what = min(candidates)
    if interval is not None:
        missed = _missed(last, day, interval)
        info["missed_scans"] = str(missed)
        if missed > MAX_MISSED_SCANS:
            decision = (
                f"{what} on day {day:g} after {missed} missed scans (> {MAX_MISSED_SCANS}): "
                "censored at the last evaluable scan"
            )
            return SurvivalTime(last, False), info | {"decision": decision}
    return SurvivalTime(day, True), info | {"decision": f"event: {what} on day {day:g}"}


def survival_endpoints(
    patients: Sequence[Patient],
    clinical: Mapping[str, ClinicalRecord] | None,
    fixed_interval: float | None = None,
) -> list[Endpoint]:
    """OS (clinical table), PFS and iRECIST PFS of every patient, from the stated origin.

    Parameters
    ----------
    patients
        Patients of the classification JSON.
    clinical
        Clinical table by patient id, or None.
    fixed_interval
        Scheduled scan interval in days for the missed-scan rule; default: each patient's
        median gap between scans.

    Returns
    -------
    list of Endpoint
        OS when the clinical table gives it for some patient, then PFS and PFS_iRECIST, then
        DoR, PPS and TTF when some patient has one (module docstring).
    """
    clinical = clinical or {}
    origins = {str(p["patient_id"]): time_origin(p, clinical) for p in patients}
    names = sorted({name for _, name in origins.values()})
    origin_text = " or ".join(names) + (" (treatment start when known)" if len(names) > 1 else "")
    result: list[Endpoint] = []
    os_endpoint = Endpoint("OS", "clinical table (os_days, os_event)", origin_text)
    deaths: dict[str, float] = {}
    for patient in patients:
        pid = str(patient["patient_id"])
        origin, name = origins[pid]
        record = clinical.get(pid)
        if record is None or record.os is None:
            if clinical:
                os_endpoint.left_out.append((pid, "no OS in the clinical table"))
            continue
        if origin is None:
            os_endpoint.left_out.append((pid, "no baseline scan date"))
            continue
        days = record.os.days + _baseline_shift(patient, origin)
        os_endpoint.times[pid] = SurvivalTime(days, record.os.event)
        if record.os.event:
            deaths[pid] = days
    if os_endpoint.times:
        result.append(os_endpoint)
    for key, date_key in (("PFS", "progression_date"), ("PFS_iRECIST", "irecist_progression_date")):
        endpoint = Endpoint(
            key,
            "clinical table where given (pfs_days), else derived from the scans "
            "(FDA/EMA conventions, see pfs_censoring.csv)"
            if key == "PFS"
            else "derived from the scans: iRECIST confirmed progression (iCPD) or death",
            origin_text,
        )
        for patient in patients:
            pid = str(patient["patient_id"])
            origin, name = origins[pid]
            row = {"endpoint": key, "patient_id": pid, "origin": name}
            if origin is None:
                endpoint.left_out.append((pid, "no baseline scan date"))
                continue
            row["origin_date"] = origin.isoformat()
            record = clinical.get(pid)
            if key == "PFS" and record is not None and record.pfs is not None:
                time = SurvivalTime(
                    record.pfs.days + _baseline_shift(patient, origin), record.pfs.event
                )
                row |= {"source": "clinical table", "decision": "as given by the clinical table"}
            else:
                if not any(tp > 0 for tp, _, _ in _scans(patient)):
                    endpoint.left_out.append((pid, "no follow-up scan"))
                    continue
                time, info = derive_pfs(
                    patient,
                    origin,
                    deaths.get(pid),
                    _date(patient.get(date_key)),
                    scan_interval(patient, fixed_interval),
                )
                row |= info | {"source": "derived"}
            row |= {"days": f"{time.days:g}", "event": "1" if time.event else "0"}
            endpoint.times[pid] = time
            endpoint.decisions.append(row)
        if endpoint.times:
            result.append(endpoint)
    by_key = {e.key: e for e in result}
    for extra in (
        duration_of_response(patients, clinical, origins, deaths, fixed_interval),
        post_progression_survival(patients, origins, by_key.get("OS")),
        time_to_treatment_failure(patients, clinical, origins, origin_text),
    ):
        if extra.times:
            result.append(extra)
    return result


def first_response_date(patient: Patient) -> dt.date | None:
    """Date of the first follow-up with an overall CR or PR (RECIST 1.1), if any."""
    for tp, date, overall in _scans(patient):
        if tp > 0 and overall in RESPONSES:
            return date
    return None


def duration_of_response(
    patients: Sequence[Patient],
    clinical: Mapping[str, ClinicalRecord],
    origins: Mapping[str, tuple[dt.date | None, str]],
    deaths: Mapping[str, float],
    fixed_interval: float | None,
) -> Endpoint:
    """DoR of the responders (module docstring); days from the first documented response."""
    endpoint = Endpoint(
        "DoR",
        "responders (best overall response CR or PR, unconfirmed): progression or death from "
        "the scans (PFS conventions), or the clinical table's PFS where given",
        "first follow-up with an overall CR or PR",
    )
    for patient in patients:
        pid = str(patient["patient_id"])
        if patient.get("best_overall_response") not in RESPONSES:
            continue
        response = first_response_date(patient)
        origin, _ = origins[pid]
        if response is None or origin is None:
            endpoint.left_out.append((pid, "no dated follow-up with CR or PR"))
            continue
        shift = float((response - origin).days)
        row = {"endpoint": "DoR", "patient_id": pid, "origin": "first response",
               "origin_date": response.isoformat()}  # fmt: skip
        record = clinical.get(pid)
        if record is not None and record.pfs is not None:
            days = record.pfs.days + _baseline_shift(patient, origin) - shift
            if days < 0:
                endpoint.left_out.append((pid, "clinical PFS ends before the first response"))
                continue
            time = SurvivalTime(days, record.pfs.event)
            row |= {"source": "clinical table (pfs_days from the first response)",
                    "decision": "as given by the clinical table"}  # fmt: skip
        else:
            death = deaths.get(pid)
            time, info = derive_pfs(
                patient,
                response,
                None if death is None else death - shift,
                _date(patient.get("progression_date")),
                scan_interval(patient, fixed_interval),
            )
            row |= info | {"source": "derived"}
        row |= {"days": f"{time.days:g}", "event": "1" if time.event else "0"}
        endpoint.times[pid] = time
        endpoint.decisions.append(row)
    return endpoint


def post_progression_survival(
    patients: Sequence[Patient],
    origins: Mapping[str, tuple[dt.date | None, str]],
    overall: Endpoint | None,
) -> Endpoint:
    """PPS: from the RECIST 1.1 progression date to death or the OS censoring."""
    endpoint = Endpoint(
        "PPS",
        "patients with a RECIST 1.1 progression and an overall survival time (clinical table)",
        "RECIST 1.1 progression date",
    )
    if overall is None:
        return endpoint
    for patient in patients:
        pid = str(patient["patient_id"])
        progression = _date(patient.get("progression_date"))
        origin, _ = origins[pid]
        if progression is None or origin is None:
            continue
        os_time = overall.times.get(pid)
        if os_time is None:
            endpoint.left_out.append((pid, "progression but no overall survival time"))
            continue
        days = os_time.days - float((progression - origin).days)
        if days < 0:
            endpoint.left_out.append(
                (pid, "overall survival ends before the progression date (check the tables)")
            )
            continue
        endpoint.times[pid] = SurvivalTime(days, os_time.event)
        endpoint.decisions.append(
            {"endpoint": "PPS", "patient_id": pid, "origin": "progression",
             "origin_date": progression.isoformat(), "source": "clinical table (OS)",
             "days": f"{days:g}", "event": "1" if os_time.event else "0",
             "decision": "death" if os_time.event else "censored at the OS censoring"}
        )  # fmt: skip
    return endpoint


def time_to_treatment_failure(
    patients: Sequence[Patient],
    clinical: Mapping[str, ClinicalRecord],
    origins: Mapping[str, tuple[dt.date | None, str]],
    origin_text: str,
) -> Endpoint:
    """TTF from the clinical table's ``ttf_days``/``ttf_event``, from the common origin."""
    endpoint = Endpoint(
        "TTF",
        "clinical table (ttf_days, ttf_event: treatment stopped for any reason)",
        origin_text,
    )
    if not any(record.ttf is not None for record in clinical.values()):
        return endpoint
    for patient in patients:
        pid = str(patient["patient_id"])
        origin, _ = origins[pid]
        record = clinical.get(pid)
        if record is None or record.ttf is None:
            endpoint.left_out.append((pid, "no ttf_days in the clinical table"))
            continue
        if origin is None:
            endpoint.left_out.append((pid, "no baseline scan date"))
            continue
        endpoint.times[pid] = SurvivalTime(
            record.ttf.days + _baseline_shift(patient, origin), record.ttf.event
        )
    return endpoint
