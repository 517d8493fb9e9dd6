"""Build patients for the criteria tests in a few readable lines.

    make({"T1": "target lung", "N1": "non-target bone", "X1": "new liver",
          "LN": "target lymph node"},
         [("2024-01-01", {"T1": 40, "LN": 20, "N1": "present"}),
          ("2024-03-01", {"T1": 20, "LN": 8, "N1": "absent", "X1": 12})])

A number is the lesion's diameter (the short axis for a node, the long axis otherwise); a
string is its state; a pair of numbers is (long axis, short axis); ``("into", "A")`` is a row
coalesced into lesion A. Visits are time points 0 (baseline), 1, 2...; `pre` adds pre-baseline
scans; `part_of` maps a fragment to the lesion it split from; `treatment_start` is a date.
"""

from __future__ import annotations

import datetime as dt

from napari_recist.criteria.report import PatientResult, classify_patient
from napari_recist.criteria.settings import Criteria
from napari_recist.model import Assessment, Lesion, LesionState, Measurement, Role, build_record

Visit = tuple[str, dict[str, float | str]]


def _lesion(lesion_id: str, spec: str, part_of: str | None = None) -> Lesion:
    for role in (Role.NON_TARGET, Role.TARGET, Role.NEW):
        if spec.startswith(role.value + " "):
            site = spec[len(role.value) + 1 :]
            thoracic = None
            if site.endswith(" thoracic"):
                site, thoracic = site.removesuffix(" thoracic"), True
            return Lesion(
                lesion_id, role, site, nodal=site == "lymph node", thoracic=thoracic,
                part_of=part_of,
            )
    raise ValueError(spec)


def _measurement(lesion: Lesion, value: float | str | tuple) -> Measurement:
    if isinstance(value, tuple):
        if value[0] == "into":
            return Measurement.coalesced(lesion.lesion_id, value[1])
        long_mm, short_mm = value
        return Measurement(
            lesion.lesion_id, LesionState.MEASURED,
            None if long_mm is None else float(long_mm),
            None if short_mm is None else float(short_mm),
        )
    if isinstance(value, str):
        return Measurement(lesion.lesion_id, LesionState(value))
    if lesion.nodal:
        return Measurement(lesion.lesion_id, LesionState.MEASURED, value + 5.0, float(value))
    return Measurement(lesion.lesion_id, LesionState.MEASURED, float(value), None)


def make(
    lesions: dict[str, str],
    visits: list[Visit],
    pre: list[Visit] | None = None,
    patient_id: str = "P",
    part_of: dict[str, str] | None = None,
    treatment_start: str | None = None,
):
    """Return a PatientRecord."""
    links = part_of or {}
    by_id = {lid: _lesion(lid, spec, links.get(lid)) for lid, spec in lesions.items()}
    assessments = []
    for offset, group in ((0, visits), (-len(pre or []), pre or [])):
        for k, (date, values) in enumerate(group):
            assessments.append(
                Assessment(
                    timepoint=offset + k,
                    date=dt.date.fromisoformat(date),
                    measurements={lid: _measurement(by_id[lid], v) for lid, v in values.items()},
                )
            )
    start = dt.date.fromisoformat(treatment_start) if treatment_start else None
    return build_record(patient_id, by_id.values(), assessments, treatment_start=start)


def classify(
    lesions: dict[str, str],
    visits: list[Visit],
    pre: list[Visit] | None = None,
    part_of: dict[str, str] | None = None,
    treatment_start: str | None = None,
    **settings: object,
) -> PatientResult:
    """Classify a patient built by `make` with optional setting overrides."""
    record = make(lesions, visits, pre, part_of=part_of, treatment_start=treatment_start)
    return classify_patient(record, Criteria.from_dict(dict(settings)))


def days(start: str, n: int) -> str:
    """The ISO date n days after start."""
    return (dt.date.fromisoformat(start) + dt.timedelta(days=n)).isoformat()


def overall(result: PatientResult) -> list[str]:
    """RECIST overall response at each follow-up."""
    return [tp.overall for tp in result.recist.timepoints[1:]]


def targets(result: PatientResult) -> list[str]:
    """RECIST target response at each follow-up."""
    return [tp.target for tp in result.recist.timepoints[1:]]


def irecist(result: PatientResult) -> list[str]:
    """iRECIST response at each follow-up."""
    return [tp.response for tp in result.irecist.timepoints[1:]]


def imrecist(result: PatientResult) -> list[str]:
    """imRECIST response at each follow-up."""
    return [tp.response for tp in result.imrecist.timepoints[1:]]


def irrc(result: PatientResult) -> list[str]:
    """irRC response at each follow-up."""
    return [tp.response for tp in result.irrc.timepoints[1:]]
