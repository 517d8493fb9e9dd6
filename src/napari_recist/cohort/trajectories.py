"""Per-lesion diameters over time, for the per-lesion trajectory and spider plots.

The classification JSON gives each lesion's response per time point but not its size; the sizes
come from the patient record, laid out by the criteria's own timeline so that a lesion's
diameter here is the one the criteria used (short axis for nodes, the `too-small` default).
"""

from __future__ import annotations

from dataclasses import dataclass

from napari_recist.criteria.settings import Criteria
from napari_recist.criteria.timeline import build_timeline
from napari_recist.model import PatientRecord


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
