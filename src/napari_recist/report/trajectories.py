"""Per-lesion diameters over time, for the per-lesion trajectory and spider plots.

The classification JSON gives each lesion's response per time point but not its size; the sizes
come from the patient record, laid out by the criteria's own timeline so that a lesion's
diameter here is the one the criteria used (short axis for nodes, the `too-small` default).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from napari_recist.criteria.settings import Criteria
from napari_recist.criteria.timeline import build_timeline
from napari_recist.model import Lesion, PatientRecord


@dataclass(frozen=True)
class LesionSeries:
    """One lesion's diameter at each assessment from baseline on.

    Parameters
    ----------
    lesion_id, role, site
        The lesion.
    timepoints
        Time point numbers (0 = baseline).
    days
        Days from the baseline scan, one per time point.
    diameters_mm
        RECIST diameter per time point; None where the lesion was not measured.
    """

    lesion_id: str
    role: str
    site: str
    timepoints: tuple[int, ...]
    days: tuple[int, ...]
    diameters_mm: tuple[float | None, ...]

    def change_from_first_pct(self) -> tuple[float | None, ...]:
        """Percent change of each diameter from the lesion's first non-zero diameter."""
        reference = next((d for d in self.diameters_mm if d), None)
        if reference is None:
            return tuple(None for _ in self.diameters_mm)
        return tuple(
            None if d is None else 100.0 * (d - reference) / reference for d in self.diameters_mm
        )


def lesion_series(record: PatientRecord, criteria: Criteria) -> list[LesionSeries]:
    """Return the diameters of every lesion that has at least one size, in timeline order.

    Parameters
    ----------
    record
        The patient, with a baseline assessment.
    criteria
        Settings (nodal short axis, size of a `too-small` lesion).

    Returns
    -------
    list of LesionSeries
        Targets first, then non-targets and new lesions with a size.

    Raises
    ------
    ValueError
        When the record has no baseline.
    """
    timeline = build_timeline(record, criteria)
    timepoints = tuple(a.timepoint for a in timeline.assessments)
    days = tuple(timeline.days)
    series: list[LesionSeries] = []
    for lesion in (*timeline.targets, *timeline.non_targets, *timeline.new_lesions):
        diameters = tuple(timeline.diameters[lesion.lesion_id])
        if not any(d is not None for d in diameters):
            continue
        series.append(
            LesionSeries(
                lesion_id=lesion.lesion_id,
                role=str(lesion.role),
                site=lesion.site,
                timepoints=timepoints,
                days=days,
                diameters_mm=diameters,
            )
        )
    return series


def lesion_series_from_json(
    patient: Mapping[str, Any], lesions: Mapping[str, Lesion] | None = None
) -> list[LesionSeries]:
    """Per-lesion diameters from the classification JSON (``lesion_diameters_mm`` per time point).

    Parameters
    ----------
    patient
        One patient of the classification JSON.
    lesions
        The patient's lesions (role and site), when known; otherwise a lesion whose response
        is ``NEW`` somewhere is a new lesion and the others have an unknown role.

    Returns
    -------
    list of LesionSeries
        One per lesion with at least one diameter, in first-seen order; empty when the JSON
        has no per-lesion diameters.
    """
    timepoints = [tp for tp in patient.get("timepoints", []) if int(tp["timepoint"]) >= 0]
    if not timepoints or not any("lesion_diameters_mm" in tp for tp in timepoints):
        return []
    start = dt.date.fromisoformat(timepoints[0]["date"])
    numbers = tuple(int(tp["timepoint"]) for tp in timepoints)
    days = tuple((dt.date.fromisoformat(tp["date"]) - start).days for tp in timepoints)
    order: list[str] = []
    for tp in timepoints:
        order += [lid for lid in (tp.get("lesion_diameters_mm") or {}) if lid not in order]
    series: list[LesionSeries] = []
    for lesion_id in order:
        diameters = tuple(
            _number((tp.get("lesion_diameters_mm") or {}).get(lesion_id)) for tp in timepoints
        )
        if not any(d is not None for d in diameters):
            continue
        lesion = (lesions or {}).get(lesion_id)
        if lesion is not None:
            role, site = str(lesion.role), lesion.site
        else:
            is_new = any((tp.get("lesions") or {}).get(lesion_id) == "NEW" for tp in timepoints)
            role, site = ("new" if is_new else ""), ""
        series.append(LesionSeries(lesion_id, role, site, numbers, days, diameters))
    return series


def _number(value: Any) -> float | None:
    return None if value is None else float(value)
