"""Baseline lesions -> proposed positions and semi-automatic sizes on a follow-up.

`propagate_lesions` maps every baseline lesion that has a position (its axis end points in
LPS) through the follow-up's `Registration`, lays the mapped lines into the nearest axial
slice, gives each a confidence (`registration.local_similarity` around the lesion; 0 when
the registration was not trusted) and, unless asked not to, runs the semi-automatic
measurement (`measure.measure_lesion`) at the proposed centre. A proposal is a draft: its
measurement carries ``method = semi-automatic`` until a reader accepts or adjusts it.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np

from napari_recist.imaging.measure import MeasureSettings, SemiAutomaticResult, measure_lesion
from napari_recist.imaging.registration import (
    Registration,
    local_similarity,
    refine_locally,
)
from napari_recist.io.volume import Volume
from napari_recist.model import (
    Assessment,
    AxisGeometry,
    Lesion,
    LesionState,
    Measurement,
    MeasurementMethod,
    natural_key,
)

# Margin around a lesion of the box whose similarity is its confidence (mm).
_CONTEXT_MM = 20.0


@dataclass(frozen=True)
class LesionProposal:
    """Where a baseline lesion is expected on a follow-up, and what was measured there.

    Attributes
    ----------
    lesion
        The lesion.
    centre_lps
        Proposed centre on the follow-up (LPS mm), or None when the baseline gives no
        position.
    slice_index
        Follow-up slice of the proposed centre, or None.
    prior_long_axis, prior_short_axis
        The baseline lines mapped onto that slice (the ghost a viewer draws).
    confidence
        0..1: local similarity of baseline and follow-up around the lesion through the map;
        0 when the registration was not trusted (same patient coordinates used).
    registration_status
        ``ok``, ``poor`` or ``failed`` (see `Registration`).
    measurement
        The semi-automatic measurement at the proposed centre, or None when not run.
    notes
        What a reader should know about this proposal.
    """

    lesion: Lesion
    centre_lps: tuple[float, float, float] | None
    slice_index: int | None
    prior_long_axis: AxisGeometry | None
    prior_short_axis: AxisGeometry | None
    confidence: float
    registration_status: str
    measurement: SemiAutomaticResult | None = None
    notes: tuple[str, ...] = field(default=())

    def to_measurement(self) -> Measurement:
        """The proposal as a draft measurement (``method = semi-automatic``).

        Its ``extra`` holds the confidence, the registration status, the proposed centre,
        the lines' end points (the session table's axis columns) and the notes.
        """
        result = self.measurement
        base = (result.to_measurement(self.lesion.lesion_id, MeasurementMethod.SEMI_AUTOMATIC)
                if result is not None else Measurement(self.lesion.lesion_id,
                                                       LesionState.NOT_EVALUATED))
        extra = dict(base.extra)
        extra["method"] = MeasurementMethod.SEMI_AUTOMATIC.value
        extra["confidence"] = f"{self.confidence:.2f}"
        extra["registration"] = self.registration_status
        if self.centre_lps is not None:
            extra["proposed_centre_lps"] = _points_text([self.centre_lps])
        for axis, line in (("long", base.long_axis), ("short", base.short_axis)):
            if line is not None:
                extra[f"{axis}_axis_lps"] = _points_text(line.points)
                if line.referenced_sop_uid:
                    extra[f"{axis}_axis_sop_uid"] = line.referenced_sop_uid
                if line.frame_of_reference_uid:
                    extra["frame_of_reference_uid"] = line.frame_of_reference_uid
        notes = list(self.notes) + ([str(result.problem)] if result and result.problem else [])
        notes += list(result.notes) if result else []
        if notes:
            extra["note"] = "; ".join(notes)
        return Measurement(base.lesion_id, base.state, base.long_axis_mm, base.short_axis_mm,
                           base.long_axis, base.short_axis, extra)


def _points_text(points: Sequence[Sequence[float]]) -> str:
    """``x y z; x y z`` in mm, as the session table writes axis end points."""
    return "; ".join(" ".join(f"{v:.2f}" for v in p) for p in points)


def lesion_centre(measurement: Measurement) -> np.ndarray | None:
    """Centre of a measured lesion: the middle of its long axis (and short axis) end points."""
    middles = [np.mean(np.asarray(line.points, dtype=float), axis=0)
               for line in (measurement.long_axis, measurement.short_axis)
               if line is not None and len(line.points) >= 2]
    return np.mean(middles, axis=0) if middles else None


def _lesion_half_size(measurement: Measurement) -> np.ndarray:
    """Half-size (x, y, z mm) of the box whose similarity gives a lesion's confidence."""
    size = max(measurement.long_axis_mm or 0.0, measurement.short_axis_mm or 0.0, 10.0)
    return np.array([size / 2 + _CONTEXT_MM, size / 2 + _CONTEXT_MM, size / 2 + 10.0])


def _on_slice(volume: Volume, points: np.ndarray, k: int) -> tuple[tuple[float, ...], ...]:
    """LPS points laid into axial slice `k` (their slice index replaced by `k`)."""
    index = volume.lps_to_index(points)
    index[:, 0] = k
    return tuple(tuple(float(v) for v in p) for p in volume.index_to_lps(index))


def propagate_lesion(
    lesion: Lesion,
    baseline_measurement: Measurement,
    baseline: Volume,
    follow_up: Volume,
    registration: Registration,
    *,
    measure: bool = True,
    refine: bool = False,
    settings: MeasureSettings | None = None,
) -> LesionProposal:
    """Propose one baseline lesion's position on a follow-up and measure it there.

    Parameters
    ----------
    lesion, baseline_measurement
        The lesion and its baseline measurement (its lines give the position).
    baseline, follow_up
        The two CTs.
    registration
        ``follow_up`` registered to ``baseline``.
    measure
        Run the semi-automatic measurement at the proposed centre.
    refine
        Refine the map around the lesion with a B-spline (`registration.refine_locally`).
    settings
        Measurement settings.

    Returns
    -------
    LesionProposal
        With notes when the baseline gives no position or the proposal leaves the scan.
    """
    status = registration.status
    centre = lesion_centre(baseline_measurement)
    if centre is None:
        return LesionProposal(lesion, None, None, None, None, 0.0, status, notes=(
            "the baseline gives no position for this lesion (no lines): find it by hand",))
    notes: list[str] = [] if registration.trusted else [registration.message]
    transform = registration.sitk_transform()
    half = _lesion_half_size(baseline_measurement)
    if refine and registration.trusted:
        transform, confidence, note = refine_locally(baseline, follow_up, centre,
                                                     registration, half)
        notes.append(note)
    else:
        confidence = local_similarity(baseline, follow_up, centre, transform, half)
    confidence = max(0.0, float(confidence)) if registration.trusted else 0.0

    def mapped(points: np.ndarray) -> np.ndarray:
        return np.array([transform.TransformPoint(tuple(float(v) for v in p)) for p in points])

    proposed = mapped(centre[None, :])[0]
    index = follow_up.lps_to_index(proposed)
    if not all(-0.5 <= v <= n - 0.5 for v, n in zip(index, follow_up.shape, strict=True)):
        notes.append("the proposed position lies outside the follow-up scan")
        return LesionProposal(lesion, tuple(float(v) for v in proposed), None, None, None,
                              confidence, status, notes=tuple(notes))
    k = int(round(index[0]))
    sop = follow_up.sop_instance_uids[k] if k < len(follow_up.sop_instance_uids) else None
    priors = []
    for line in (baseline_measurement.long_axis, baseline_measurement.short_axis):
        if line is None or len(line.points) < 2:
            priors.append(None)
            continue
        priors.append(AxisGeometry(_on_slice(follow_up, mapped(np.asarray(line.points)), k),
                                   sop, follow_up.frame_of_reference_uid))
    result = None
    if measure:
        result = measure_lesion(follow_up, proposed, nodal=lesion.nodal, on_largest_slice=True,
                                settings=settings)
    return LesionProposal(lesion, tuple(float(v) for v in proposed), k, priors[0], priors[1],
                          confidence, status, result, tuple(notes))


def propagate_lesions(
    lesions: dict[str, Lesion],
    baseline_assessment: Assessment,
    baseline: Volume,
    follow_up: Volume,
    registration: Registration,
    *,
    measure: bool = True,
    refine: bool = False,
    settings: MeasureSettings | None = None,
) -> list[LesionProposal]:
    """Propose every baseline lesion on a follow-up (`propagate_lesion` for each, by id).

    Lesions recorded at baseline without any measurement row are left out (there is
    nothing to follow); lesions with a row but no lines get a proposal saying so.
    """
    proposals = []
    for lesion_id in sorted(baseline_assessment.measurements, key=natural_key):
        lesion = lesions.get(lesion_id)
        if lesion is None:
            continue
        proposals.append(propagate_lesion(
            lesion, baseline_assessment.measurements[lesion_id], baseline, follow_up,
            registration, measure=measure, refine=refine, settings=settings))
    return proposals
