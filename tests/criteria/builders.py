"""Build patients for the criteria tests in a few readable lines.

    make({"T1": "target lung", "N1": "non-target bone", "X1": "new liver",
          "LN": "target lymph node"},
         [("2024-01-01", {"T1": 40, "LN": 20, "N1": "present"}),
          ("2024-03-01", {"T1": 20, "LN": 8, "N1": "absent", "X1": 12})])

A number is the lesion's diameter (the short axis for a node, the long axis otherwise); a
string is its state. Visits are time points 0 (baseline), 1, 2...; `pre` adds pre-baseline scans.
"""

from __future__ import annotations

import datetime as dt

from napari_recist.criteria.report import PatientResult, classify_patient
from napari_recist.criteria.settings import Criteria
from napari_recist.model import Assessment, Lesion, LesionState, Measurement, Role, build_record

Visit = tuple[str, dict[str, float | str]]


def _lesion(lesion_id: str, spec: str) -> Lesion:
    for role in (Role.NON_TARGET, Role.TARGET, Role.NEW):
        if spec.startswith(role.value + " "):
            site = spec[len(role.value) + 1 :]
            thoracic = None
            if site.endswith(" thoracic"):
                site, thoracic = site.removesuffix(" thoracic"), True
            return Lesion(lesion_id, role, site, nodal=site == "lymph node", thoracic=thoracic)
    raise ValueError(spec)


def _measurement(lesion: Lesion, value: float | str) -> Measurement:
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
):
    """Return a PatientRecord."""
    by_id = {lid: _lesion(lid, spec) for lid, spec in lesions.items()}
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
    return build_record(patient_id, by_id.values(), assessments)


def classify(
    lesions: dict[str, str],
    visits: list[Visit],
    pre: list[Visit] | None = None,
    **settings: object,
) -> PatientResult:
    """Classify a patient built by `make` with optional setting overrides."""
    return classify_patient(make(lesions, visits, pre), Criteria.from_dict(dict(settings)))


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
