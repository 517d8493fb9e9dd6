"""The guided follow-up read: where each lesion should be, what the prior showed, what is next.

Pure logic over a `PatientSession` (no Qt, no napari), used by the reading dock
(`widgets.reading`), the lesion table's "Jump to lesion" and the bidirectional tool:

- `last_known_position`: where to look for a lesion on a scan: its own lines there, else the
  position lesion propagation registered for it (`imaging.propagation.LesionProposal`), else
  the prior scan's lines at the same patient coordinates; with the prior lines to show as a
  ghost and what the prior measured;
- `read_steps` / `next_step`: the read in RECIST order: the targets not yet read on the scan,
  then the non-targets (a state to pick), then the new lesions already known, then "any new
  lesion?"; `N` in the viewer walks through them.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from enum import Enum
from typing import TYPE_CHECKING

import numpy as np

from napari_recist.model import (
    KNOWN_SITES,
    AxisGeometry,
    LesionState,
    Measurement,
    Role,
    natural_key,
)

if TYPE_CHECKING:
    from napari_recist._napari.session import PatientSession
    from napari_recist.imaging.propagation import LesionProposal

THIS_SCAN = "this scan"
REGISTERED = "registered (lesion propagation)"
SAME_COORDINATES = "same patient coordinates as"

# States a reader gives a non-target lesion at a follow-up (RECIST 1.1 section 4.3.2: CR =
# disappearance, non-CR/non-PD = persistence, PD = unequivocal progression), and the "not
# evaluated" of a lesion that could not be assessed (section 4.3.2, "NE").
NON_TARGET_STATES: tuple[LesionState, ...] = (
    LesionState.PRESENT,
    LesionState.ABSENT,
    LesionState.PROGRESSION,
    LesionState.EQUIVOCAL,
    LesionState.NOT_EVALUATED,
)


def _lines(measurement: Measurement | None) -> tuple[AxisGeometry, ...]:
    if measurement is None:
        return ()
    return tuple(line for line in (measurement.long_axis, measurement.short_axis)
                 if line is not None and len(line.points) >= 2)


def _centre(lines: tuple[AxisGeometry, ...]) -> tuple[float, float, float] | None:
    if not lines:
        return None
    middles = [np.mean(np.asarray(line.points, dtype=float), axis=0) for line in lines]
    return tuple(float(v) for v in np.mean(middles, axis=0))  # type: ignore[return-value]


@dataclass(frozen=True)
class LesionPosition:
    """Where a lesion is expected on a scan, and what to show beside it.

    Attributes
    ----------
    lesion_id
        The lesion.
    timepoint
        The scan looked at.
    centre_lps
        The point to centre on (LPS mm).
    source
        `THIS_SCAN`, `REGISTERED` or `SAME_COORDINATES` (then `prior_timepoint` says of
        which scan).
    prior_timepoint
        The scan whose lines give the position or the ghost, or None.
    ghost
        The prior scan's lines in LPS (mapped through the registration when `REGISTERED`):
        shown on this scan where the lesion was.
    prior_text
        What the prior showed, e.g. ``20 x 15 mm``, or its state.
    """

    lesion_id: str
    timepoint: int
    centre_lps: tuple[float, float, float]
    source: str
    prior_timepoint: int | None = None
    ghost: tuple[AxisGeometry, ...] = field(default=())
    prior_text: str = ""


def prior_measurement(session: PatientSession, timepoint: int,
                      lesion_id: str) -> tuple[int, Measurement] | None:
    """The lesion's measurement with lines on the nearest other scan, earlier ones first.

    Reading a follow-up, that is the last scan before it where the lesion was drawn; reading
    the baseline after the follow-ups, the first later one.
    """
    others = [a for a in session.record.assessments if a.timepoint != timepoint]
    earlier = sorted((a for a in others if a.timepoint < timepoint),
                     key=lambda a: -a.timepoint)
    later = sorted((a for a in others if a.timepoint > timepoint), key=lambda a: a.timepoint)
    for assessment in [*earlier, *later]:
        measurement = assessment.measurements.get(lesion_id)
        if _lines(measurement):
            return assessment.timepoint, measurement  # type: ignore[return-value]
    return None


def last_known_position(
    session: PatientSession,
    timepoint: int,
    lesion_id: str,
    proposals: Mapping[str, LesionProposal] | None = None,
) -> LesionPosition | None:
    """Where to look for a lesion on a scan (see the module docstring); None when unknown.

    Parameters
    ----------
    session
        The patient.
    timepoint
        The scan being read.
    lesion_id
        The lesion.
    proposals
        Lesion id -> lesion propagation's proposal on this scan, when it was run.
    """
    from napari_recist._napari.session import describe_measurement

    prior = prior_measurement(session, timepoint, lesion_id)
    prior_tp, prior_m = prior if prior is not None else (None, None)
    prior_text = describe_measurement(prior_m) if prior_m is not None else ""
    own = _lines(session.measurement(timepoint, lesion_id))
    if own:
        centre = _centre(own)
        assert centre is not None
        return LesionPosition(lesion_id, timepoint, centre, THIS_SCAN, prior_tp,
                              _lines(prior_m), prior_text)
    proposal = (proposals or {}).get(lesion_id)
    if proposal is not None and proposal.centre_lps is not None:
        ghost = tuple(line for line in (proposal.prior_long_axis, proposal.prior_short_axis)
                      if line is not None)
        return LesionPosition(lesion_id, timepoint, tuple(proposal.centre_lps), REGISTERED,
                              prior_tp if prior_tp is not None else 0, ghost, prior_text)
    if prior_m is None:
        return None
    centre = _centre(_lines(prior_m))
    assert centre is not None
    return LesionPosition(lesion_id, timepoint, centre, SAME_COORDINATES, prior_tp,
                          _lines(prior_m), prior_text)


class StepKind(str, Enum):
    """What a step of the read asks of the reader."""

    TARGET = "measure target"
    NON_TARGET = "state of non-target"
    KNOWN_NEW = "follow new lesion"
    NEW_LESIONS = "any new lesion?"
    DONE = "read complete"


@dataclass(frozen=True)
class ReadStep:
    """One step of the read: a lesion to measure or to give a state, or the new-lesion check."""

    kind: StepKind
    lesion_id: str | None = None


_ORDER = {Role.TARGET: StepKind.TARGET, Role.NON_TARGET: StepKind.NON_TARGET,
          Role.NEW: StepKind.KNOWN_NEW}


def lesions_to_read(session: PatientSession, timepoint: int) -> list[ReadStep]:
    """The lesions already known before a scan that have no row on it yet, in read order.

    Targets, then non-targets, then new lesions of earlier follow-ups, each in natural id
    order. A lesion that has split into fragments is read through its fragments
    (shared/spec/lesion-table.md ``part_of``: the split lesion has no rows of its own after
    the split).
    """
    record = session.record
    split = {lesion.part_of for lesion in record.lesions.values() if lesion.part_of}
    steps = []
    for lesion_id in sorted(record.lesions, key=natural_key):
        first = record.first_seen(lesion_id)
        if first is None or first.timepoint >= timepoint or lesion_id in split:
            continue
        if session.measurement(timepoint, lesion_id) is not None:
            continue
        steps.append(ReadStep(_ORDER[record.lesions[lesion_id].role], lesion_id))
    rank = list(StepKind)
    return sorted(steps, key=lambda step: rank.index(step.kind))  # stable: ids stay ordered


def next_step(session: PatientSession, timepoint: int, current: ReadStep | None,
              new_lesions_checked: bool) -> ReadStep:
    """The step after `current` (the `N` key).

    The next lesion still to read after the current one in read order (wrapping round to the
    ones skipped); when none is left, "any new lesion?" until the reader has answered it
    (`new_lesions_checked`), then "read complete".
    """
    remaining = lesions_to_read(session, timepoint)
    if remaining:
        if current is not None and current.lesion_id is not None:
            order = _read_order(session, timepoint)
            position = order.index(current.lesion_id) if current.lesion_id in order else -1
            after = [step for step in remaining
                     if step.lesion_id in order and order.index(step.lesion_id) > position]
            if after:
                return after[0]
        return remaining[0]
    if not new_lesions_checked:
        return ReadStep(StepKind.NEW_LESIONS)
    return ReadStep(StepKind.DONE)


def _read_order(session: PatientSession, timepoint: int) -> list[str]:
    """Every lesion known before the scan in read order (read or not)."""
    rank = list(StepKind)
    record = session.record
    known = [lesion_id for lesion_id in sorted(record.lesions, key=natural_key)
             if (first := record.first_seen(lesion_id)) is not None
             and first.timepoint < timepoint]
    return sorted(known, key=lambda i: rank.index(_ORDER[record.lesions[i].role]))


def describe_step(session: PatientSession, timepoint: int, step: ReadStep,
                  position: LesionPosition | None) -> str:
    """The dock's line for a step: what to do, what the prior showed and where it is."""
    if step.kind is StepKind.NEW_LESIONS:
        baseline = session.record.baseline
        if baseline is None or timepoint <= baseline.timepoint:
            return ("Baseline: drag across each lesion to measure it (a target; Shift+N makes "
                    "it a non-target)")
        return "Any new lesion? Drag across it to measure it (nothing selected), or N: none"
    if step.kind is StepKind.DONE:
        return "Read complete: every lesion has a row on this scan"
    assert step.lesion_id is not None
    lesion = session.record.lesions[step.lesion_id]
    kind = f"{lesion.role.value}{', nodal' if lesion.nodal else ''}, {lesion.site}"
    what = ("drag its long axis" if step.kind is not StepKind.NON_TARGET
            else "pick its state")
    if position is None:
        return f"{step.lesion_id} ({kind}): no known position: find it, then {what}"
    view = session.view(position.prior_timepoint) if position.prior_timepoint is not None \
        else None
    prior = f"{position.prior_text} at {view.name}" if view is not None and \
        position.prior_text else "no prior size"
    where = (position.source if position.source != SAME_COORDINATES
             else f"{SAME_COORDINATES} {view.name if view else 'the prior'}")
    return f"{step.lesion_id} ({kind}): {prior}; position: {where}; {what}"


def complete_site(typed: str) -> tuple[str | None, str]:
    """The site a reader typed, completed: (site, message); site None when ambiguous.

    A known site (`KNOWN_SITES`) typed whole or by a prefix only it has is that site ("li":
    liver); a prefix several sites share is refused, naming them ("l": lung, liver, lymph
    node), never guessed; anything else is a free-text site, kept as typed
    (shared/spec/lesion-table.md ``site``).
    """
    text = " ".join(typed.split())
    if not text:
        return None, "type a site"
    lowered = text.lower()
    if lowered in KNOWN_SITES:
        return lowered, ""
    matches = [site for site in KNOWN_SITES if site.startswith(lowered)]
    if len(matches) == 1:
        return matches[0], ""
    if len(matches) > 1:
        return None, f"{text!r} could be {', '.join(matches)}: type more"
    return text, f"{text!r} is not a known site: kept as free text"
