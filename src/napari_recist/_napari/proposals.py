"""Lesion proposals in the viewer: the scans as volumes, the work of the worker, the ghosts.

The propagation dock (`widgets.propagation`) shows every baseline lesion not yet measured on
a follow-up at its propagated position. This module holds what it needs that is not a
widget:

- `displayed_volume`: the CT a time point shows, as an `io.volume.Volume` whose voxel
  indices are those of the displayed array (so a measured line lands on the slice shown);
- `propose_on_follow_up`: the worker's job: register the follow-up to the baseline (cached
  per pair of Series Instance UIDs, `imaging.registration.RegistrationCache`), propagate
  every baseline lesion and measure it semi-automatically (`imaging.propagation`);
- `ghost_shapes`: the content of the proposals layer: a ring at each proposed centre and the
  baseline lines mapped onto the follow-up, in a colour no measured line has.
"""

from __future__ import annotations

import copy
import hashlib
import weakref
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from napari_recist._napari.session import PatientSession, TimepointView
from napari_recist.imaging.propagation import LesionProposal
from napari_recist.imaging.registration import (
    Registration,
    RegistrationCache,
    default_cache_folder,
)
from napari_recist.io.display_geometry import DisplayGeometry
from napari_recist.io.volume import Volume
from napari_recist.model import Assessment, AxisGeometry, Lesion, LesionState

# Ghosts are cyan: no response colour (Okabe-Ito, palette.py) and not the white of a line
# drawn but not yet given to a lesion; the current one is drawn thicker.
GHOST_COLOUR = "#00FFFF"
GHOST_EDGE_WIDTH = 0.8  # data units (voxels): thinner than a measured line (1.5)
CURRENT_GHOST_EDGE_WIDTH = 2.0
# The ring around a proposed centre reaches this far beyond half the baseline long axis.
RING_MARGIN_MM = 6.0

_CACHES: dict[Path, RegistrationCache] = {}


def registration_cache(folder: Path | None = None) -> RegistrationCache:
    """The registration cache of this process for a folder (default: the user cache).

    One cache per folder, so every dock and every reopening of a patient reuse what was
    computed (in memory, and on disk as the command line's ``propagate`` does).
    """
    folder = Path(folder) if folder is not None else default_cache_folder()
    cache = _CACHES.get(folder)
    if cache is None:
        cache = _CACHES[folder] = RegistrationCache(folder)
    return cache


def series_uid_of(view: TimepointView) -> str:
    """Series Instance UID of the CT a time point shows (the registration cache's key).

    Read from the header of its first file; without files (images made in memory) a digest
    of the slices' SOP Instance UIDs stands in for it.
    """
    if view.series_files:
        import pydicom

        try:
            header = pydicom.dcmread(view.series_files[0], stop_before_pixels=True,
                                     specific_tags=["SeriesInstanceUID"])
            uid = str(getattr(header, "SeriesInstanceUID", "") or "")
            if uid:
                return uid
        except (OSError, pydicom.errors.InvalidDicomError):
            pass
    digest = hashlib.sha1("|".join(view.slice_uids).encode()).hexdigest()[:24]
    return f"slices-{digest}"


def displayed_volume(view: TimepointView, array: Any, series_uid: str) -> Volume:
    """The CT of a time point as a `Volume` indexed like the displayed array.

    Parameters
    ----------
    view
        The time point (its display geometry maps displayed indices to LPS).
    array
        The displayed voxels ``(z, y, x)`` (numpy or dask; read into memory here).
    series_uid
        Its Series Instance UID.

    Returns
    -------
    Volume
        Axes flipped for display are already flipped in ``array``: the affine is the
        display geometry's, so LPS points and SOP Instance UIDs stay those of the scan.
    """
    matrix = np.asarray(view.geometry.index_to_lps, dtype=float)
    spacing = view.geometry.spacing
    direction = matrix[:3, :3] / np.asarray(spacing)[None, :]
    voxels = np.asarray(array)
    return Volume(
        voxels, spacing, tuple(float(v) for v in matrix[:3, 3]), direction, matrix,
        "", view.date, "", series_uid, view.frame_of_reference_uid, "",
        tuple(view.slice_uids) if len(view.slice_uids) == voxels.shape[0]
        else tuple(None for _ in range(voxels.shape[0])),
        tuple(None for _ in range(voxels.shape[0])), None, None,
    )


@dataclass
class ProposalInputs:
    """What the worker needs, copied on the main thread (the session keeps being edited)."""

    timepoint: int
    baseline_view: TimepointView
    follow_up_view: TimepointView
    baseline_array: Any
    follow_up_array: Any
    lesions: dict[str, Lesion]
    baseline: Assessment
    signature: str

    @classmethod
    def gather(cls, session: PatientSession, timepoint: int, baseline_array: Any,
               follow_up_array: Any) -> ProposalInputs:
        """Copy the baseline lesions and the two scans' arrays for one follow-up."""
        baseline = session.record.baseline
        if baseline is None:
            raise ValueError("no baseline assessment")
        baseline_view = session.view(baseline.timepoint)
        follow_up_view = session.view(timepoint)
        if baseline_view is None or follow_up_view is None:
            raise ValueError("the baseline or the follow-up has no scan")
        return cls(timepoint, baseline_view, follow_up_view, baseline_array, follow_up_array,
                   copy.deepcopy(session.record.lesions), copy.deepcopy(baseline),
                   baseline_signature(session))


def baseline_signature(session: PatientSession) -> str:
    """A digest of the baseline lesions' lines: proposals are redone when it changes."""
    baseline = session.record.baseline
    if baseline is None:
        return ""
    parts = []
    for lesion_id in sorted(baseline.measurements):
        measurement = baseline.measurements[lesion_id]
        lesion = session.record.lesions.get(lesion_id)
        lines = [line.points for line in (measurement.long_axis, measurement.short_axis)
                 if line is not None]
        parts.append(f"{lesion_id}:{lesion.nodal if lesion else ''}:{lines}")
    return hashlib.sha1("|".join(parts).encode()).hexdigest()


@dataclass
class FollowUpProposals:
    """The proposals of one follow-up: registration, every baseline lesion, the scan.

    Attributes
    ----------
    timepoint
        The follow-up.
    registration
        The follow-up registered to the baseline (``ok``, ``poor`` or ``failed``).
    proposals
        One per baseline lesion, in lesion order.
    follow_up
        The follow-up CT as a volume (for click-to-measure).
    signature
        `baseline_signature` of the baseline they were made from.
    seconds
        Time the worker took.
    """

    timepoint: int
    registration: Registration
    proposals: list[LesionProposal]
    follow_up: Volume
    signature: str
    seconds: float = 0.0
    skipped: list[str] = field(default_factory=list)


def propose_on_follow_up(inputs: ProposalInputs, cache: RegistrationCache) -> FollowUpProposals:
    """Register, propagate and measure (the worker's job; touches no Qt object).

    Raises
    ------
    InputError
        SimpleITK is missing (the message says what to install).
    """
    import time

    from napari_recist.imaging._sitk import require_sitk
    from napari_recist.imaging.propagation import propagate_lesions

    require_sitk()
    started = time.perf_counter()
    baseline = displayed_volume(inputs.baseline_view, inputs.baseline_array,
                                series_uid_of(inputs.baseline_view))
    follow_up = displayed_volume(inputs.follow_up_view, inputs.follow_up_array,
                                 series_uid_of(inputs.follow_up_view))
    registration = cache.get(baseline, follow_up)
    proposals = propagate_lesions(inputs.lesions, inputs.baseline, baseline, follow_up,
                                  registration, measure=True)
    return FollowUpProposals(inputs.timepoint, registration, proposals, follow_up,
                             inputs.signature, time.perf_counter() - started)


def pending_proposals(session: PatientSession, found: FollowUpProposals) -> list[LesionProposal]:
    """The proposals of lesions that still have no row at that follow-up (and still exist)."""
    return [proposal for proposal in found.proposals
            if proposal.lesion.lesion_id in session.record.lesions
            and session.measurement(found.timepoint, proposal.lesion.lesion_id) is None]


def ring_radius_mm(proposal: LesionProposal) -> float:
    """Radius of a proposal's ring: half its baseline long axis plus a margin."""
    lines = [line for line in (proposal.prior_long_axis, proposal.prior_short_axis)
             if line is not None]
    half = max((_length(line) / 2 for line in lines), default=5.0)
    return max(half, 5.0) + RING_MARGIN_MM


def _length(line: AxisGeometry) -> float:
    points = np.asarray(line.points, dtype=float)
    return float(np.sum(np.linalg.norm(np.diff(points, axis=0), axis=1)))


@dataclass
class GhostShapes:
    """Content of the proposals layer: rings and prior lines with their features."""

    data: list[np.ndarray] = field(default_factory=list)
    shape_types: list[str] = field(default_factory=list)
    edge_widths: list[float] = field(default_factory=list)
    lesion_ids: list[str] = field(default_factory=list)
    labels: list[str] = field(default_factory=list)


def ghost_shapes(proposals: Sequence[LesionProposal], geometry: DisplayGeometry,
                 current: str | None) -> GhostShapes:
    """A ring at each proposed centre and its baseline lines, on the proposed slice.

    Parameters
    ----------
    proposals
        The pending proposals; those without a slice (outside the scan, no baseline lines)
        get no ghost.
    geometry
        The follow-up's display geometry.
    current
        Lesion id of the current proposal (drawn thicker).
    """
    ghosts = GhostShapes()
    spacing = np.asarray(geometry.spacing)
    for proposal in proposals:
        if proposal.centre_lps is None or proposal.slice_index is None:
            continue
        lesion_id = proposal.lesion.lesion_id
        width = CURRENT_GHOST_EDGE_WIDTH if lesion_id == current else GHOST_EDGE_WIDTH
        centre = geometry.lps_to_data(np.array([proposal.centre_lps]))[0]
        k = float(np.round(centre[0]))
        radius = ring_radius_mm(proposal) / spacing[1:]
        ring = np.array([[k, centre[1] - radius[0], centre[2] - radius[1]],
                         [k, centre[1] - radius[0], centre[2] + radius[1]],
                         [k, centre[1] + radius[0], centre[2] + radius[1]],
                         [k, centre[1] + radius[0], centre[2] - radius[1]]])
        prior = proposal.prior_long_axis
        size = f" {_length(prior):.0f} mm at baseline" if prior is not None else ""
        ghosts.data.append(ring)
        ghosts.shape_types.append("ellipse")
        ghosts.edge_widths.append(width)
        ghosts.lesion_ids.append(lesion_id)
        ghosts.labels.append(f"{lesion_id}? {proposal.lesion.role.value}{size}")
        for line in (proposal.prior_long_axis, proposal.prior_short_axis):
            if line is None or len(line.points) < 2:
                continue
            data = geometry.lps_to_data(np.asarray(line.points, dtype=float))
            data[:, 0] = k
            ghosts.data.append(data)
            ghosts.shape_types.append("line")
            ghosts.edge_widths.append(width)
            ghosts.lesion_ids.append(lesion_id)
            ghosts.labels.append("")
    return ghosts


def proposal_under(proposals: Sequence[LesionProposal], point_lps: Sequence[float],
                   slice_mm: float) -> LesionProposal | None:
    """The pending proposal whose ring holds a point (nearest centre first), or None.

    A point counts when it is inside the ring in-plane and within the ring's radius (plus
    a slice) across slices: the lesion may be largest a few slices away from the ghost.
    """
    point = np.asarray(point_lps, dtype=float)
    best: tuple[float, LesionProposal] | None = None
    for proposal in proposals:
        if proposal.centre_lps is None:
            continue
        offset = point - np.asarray(proposal.centre_lps)
        radius = ring_radius_mm(proposal)
        if np.hypot(offset[0], offset[1]) <= radius and abs(offset[2]) <= radius + slice_mm:
            distance = float(np.linalg.norm(offset))
            if best is None or distance < best[0]:
                best = (distance, proposal)
    return None if best is None else best[1]


def describe_proposal(proposal: LesionProposal) -> str:
    """One line for the dock's list: id, what was found, confidence, slice."""
    result = proposal.measurement
    if proposal.centre_lps is None:
        return (f"{proposal.lesion.lesion_id} ({proposal.lesion.site}): no lines at baseline, "
                "no position to propose: find it by hand")
    if proposal.slice_index is None:
        return (f"{proposal.lesion.lesion_id} ({proposal.lesion.site}): proposed outside "
                "this scan")
    if result is None:
        found = "not measured"
    elif result.state is LesionState.MEASURED:
        found = f"{result.long_axis_mm:.1f} x {result.short_axis_mm:.1f} mm"
    elif result.state is LesionState.TOO_SMALL:
        found = "too small"
    else:
        found = "no lesion edge found"
    where = "" if proposal.slice_index is None else f", slice {proposal.slice_index + 1}"
    return (f"{proposal.lesion.lesion_id} ({proposal.lesion.site}): {found}, confidence "
            f"{proposal.confidence:.2f}{where}")


# The proposals each session's propagation dock found, by follow-up: the guided read
# (`reading.last_known_position`) centres a lesion on its registered position from them.
_PUBLISHED: weakref.WeakKeyDictionary[PatientSession, dict[int, FollowUpProposals]] = (
    weakref.WeakKeyDictionary())


def publish_proposals(session: PatientSession, found: FollowUpProposals) -> None:
    """Keep a follow-up's proposals where the other views of the session find them."""
    _PUBLISHED.setdefault(session, {})[found.timepoint] = found


def published_proposals(session: PatientSession, timepoint: int) -> dict[str, LesionProposal]:
    """Lesion id -> proposal on a follow-up, made from the session's current baseline."""
    found = _PUBLISHED.get(session, {}).get(timepoint)
    if found is None or found.signature != baseline_signature(session):
        return {}
    return {proposal.lesion.lesion_id: proposal for proposal in found.proposals}
