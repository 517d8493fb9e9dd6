"""Revisions and duplicates among the SRs of one study: which measurement of a lesion counts.

A viewer saves a new SR at each save (same study, later Content Date/Time, often a Predecessor
Documents Sequence naming the earlier one), and a report sent twice comes back with new UIDs.
Among the SRs of one study (Study Instance UID) that measure the same lesions (same tracking
identifier or tracking UID), the latest wins:

1. Content Date and Content Time (PS3.3 C.17.2.1: "the date and time the document content
   creation started");
2. else the Predecessor Documents Sequence (PS3.3 C.17.2.1: documents "whose content has been
   wholly or partially included in this document with or without modification");
3. else Instance Creation Date and Time (PS3.3 C.12.1, SOP Common Module).

Never the file name. A lesion that only the earlier SR measures is kept, unless the later one
names the earlier as its predecessor: then the later document is the whole current report
and the lesion it no longer holds is left out, with a note. Two reports of one study whose
measurements are the same (lengths, lines and regions, whatever their UIDs) are one report
read once. Each decision is a note naming both files; two SRs that measure a lesion
differently with no way to tell which is later are a `Problem` (the lesion is left out).
"""

from __future__ import annotations

import functools
from collections.abc import Sequence
from dataclasses import dataclass, field, replace

from napari_recist.errors import Problem
from napari_recist.io.sr_read import SRReadResult
from napari_recist.model import AxisGeometry, Measurement

# Lengths and coordinates are compared to 0.01 mm: below what any viewer displays, above
# the rounding of a decimal string (DS) written and read again.
_DECIMALS = 2


@dataclass
class Resolution:
    """The SRs with superseded and duplicated measurements removed, and why.

    Attributes
    ----------
    results
        The SRs in their original order, each holding only the measurements that count.
    notes
        One sentence per revision or duplicate recognised, naming both files.
    problems
        Conflicts that cannot be decided (the lesion is left out of both).
    """

    results: list[SRReadResult] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    problems: list[Problem] = field(default_factory=list)


def resolve_revisions(results: Sequence[SRReadResult]) -> Resolution:
    """Keep, per study and lesion, the measurement of the latest SR (module rules).

    Parameters
    ----------
    results
        SRs of one patient, each already placed on its study's date (`study_date`).

    Returns
    -------
    Resolution
        What counts, the notes and the undecidable conflicts.
    """
    resolution = Resolution()
    kept: dict[str, dict[str, Measurement]] = {r.source: dict(r.measurements) for r in results}
    by_study: dict[str, list[SRReadResult]] = {}
    for result in results:
        key = result.study_uid or f"date {result.study_date}"
        by_study.setdefault(key, []).append(result)
    for group in by_study.values():
        if len(group) > 1:
            _resolve_study(group, kept, resolution)
    for result in results:
        measurements = kept[result.source]
        if measurements == result.measurements:
            resolution.results.append(result)
            continue
        resolution.results.append(replace(
            result,
            measurements=measurements,
            lesions={k: v for k, v in result.lesions.items() if k in measurements},
            responses={k: v for k, v in result.responses.items() if k in measurements},
            pixel_lines={k: v for k, v in result.pixel_lines.items() if k[0] in measurements},
        ))
    return resolution


def later_of(a: SRReadResult, b: SRReadResult) -> int:
    """Compare two SRs in revision order (the module's three rules, in order).

    Parameters
    ----------
    a, b
        Two SRs read.

    Returns
    -------
    int
        1 when `a` is the later document, -1 when `b` is, 0 when nothing tells.
    """
    if a.content_datetime and b.content_datetime and a.content_datetime != b.content_datetime:
        return 1 if a.content_datetime > b.content_datetime else -1
    if b.sop_instance_uid and b.sop_instance_uid in a.predecessors:
        return 1
    if a.sop_instance_uid and a.sop_instance_uid in b.predecessors:
        return -1
    if a.instance_creation and b.instance_creation and a.instance_creation != b.instance_creation:
        return 1 if a.instance_creation > b.instance_creation else -1
    return 0


def _why_later(newer: SRReadResult, older: SRReadResult) -> str:
    if newer.content_datetime and older.content_datetime and (
            newer.content_datetime != older.content_datetime):
        return (f"content date/time {_shown(newer.content_datetime)} after "
                f"{_shown(older.content_datetime)}")
    if older.sop_instance_uid in newer.predecessors:
        return "it names the other as its predecessor document"
    return (f"instance creation {_shown(newer.instance_creation or '')} after "
            f"{_shown(older.instance_creation or '')}")


def _shown(key: str) -> str:
    """``20240312101500.000000`` -> ``2024-03-12 10:15:00``."""
    return f"{key[:4]}-{key[4:6]}-{key[6:8]} {key[8:10]}:{key[10:12]}:{key[12:14]}"


def _resolve_study(
    group: list[SRReadResult], kept: dict[str, dict[str, Measurement]], resolution: Resolution
) -> None:
    ordered = sorted(group, key=functools.cmp_to_key(later_of))  # oldest first; stable
    for index, newer in enumerate(ordered):
        for older in ordered[:index]:
            if not kept[older.source] or not kept[newer.source]:
                continue
            order = later_of(newer, older)
            contradicted = (newer.sop_instance_uid and newer.sop_instance_uid in older.predecessors
                            and order > 0)
            if contradicted:
                resolution.notes.append(
                    f"{older.source} names {newer.source} as its predecessor document, but "
                    f"{newer.source} has the later content date/time; the content date/time "
                    "decides (the later is used)")
            if _signature(older, kept) == _signature(newer, kept):
                _duplicate(older, newer, order, kept, resolution)
                continue
            shared = _shared_lesions(older, newer, kept)
            supersedes = older.sop_instance_uid and older.sop_instance_uid in newer.predecessors
            if not shared and not supersedes:
                continue  # different lesions of one study (e.g. targets and new lesions)
            if order == 0:
                _undecidable(older, newer, shared, kept, resolution)
                continue
            _revise(older, newer, shared, bool(supersedes), kept, resolution)


def _duplicate(older: SRReadResult, newer: SRReadResult, order: int,
               kept: dict[str, dict[str, Measurement]], resolution: Resolution) -> None:
    """The same measurements twice: read once (the later file; the first when undecidable)."""
    dropped, used = (older, newer) if order >= 0 else (newer, older)
    if order == 0:
        dropped, used = newer, older  # identical content: which copy is read changes nothing
    same_ids = set(kept[older.source]) == set(kept[newer.source])
    count = len(kept[dropped.source])
    kept[dropped.source] = {}
    resolution.notes.append(
        f"{dropped.source} and {used.source} are the same report of study "
        f"{used.study_uid or used.study_date} ({count} identical measurement(s)"
        f"{'' if same_ids else ' under new tracking identifiers'}): read once, from "
        f"{used.source}")


def _undecidable(older: SRReadResult, newer: SRReadResult, shared: list[tuple[str, str]],
                 kept: dict[str, dict[str, Measurement]], resolution: Resolution) -> None:
    for old_id, new_id in shared:
        a, b = kept[older.source][old_id], kept[newer.source][new_id]
        if _measurement_key(a) == _measurement_key(b):
            del kept[newer.source][new_id]  # the same value twice: nothing to decide
            continue
        del kept[older.source][old_id]
        del kept[newer.source][new_id]
        resolution.problems.append(Problem(
            newer.source,
            f"lesion {new_id} is measured differently in {older.source} ({_size(a)}) and here "
            f"({_size(b)}), in the same study, and neither SR says it is the later (no "
            "content date/time, predecessor document or instance creation date/time tells "
            "them apart): it is left out of this scan",
            column=f"Tracking Identifier {new_id}"))


def _revise(older: SRReadResult, newer: SRReadResult, shared: list[tuple[str, str]],
            supersedes: bool, kept: dict[str, dict[str, Measurement]],
            resolution: Resolution) -> None:
    later, earlier = (newer, older) if later_of(newer, older) > 0 else (older, newer)
    why = _why_later(later, earlier)
    for old_id, new_id in shared:
        earlier_id, later_id = (old_id, new_id) if later is newer else (new_id, old_id)
        was = kept[earlier.source].pop(earlier_id)
        now = kept[later.source][later_id]
        change = ("the same measurement" if _measurement_key(was) == _measurement_key(now)
                  else f"{_size(now)}, was {_size(was)}")
        resolution.notes.append(
            f"lesion {later_id}: {later.source} revises {earlier.source} ({why}); the later "
            f"measurement is used ({change})")
    if supersedes and later is newer:
        for lesion_id in sorted(kept[older.source]):
            resolution.notes.append(
                f"lesion {lesion_id} of {older.source} is not in its revision {newer.source}, "
                "which names it as its predecessor document: left out (removed in the "
                "revision)")
        kept[older.source] = {}


def _shared_lesions(older: SRReadResult, newer: SRReadResult,
                    kept: dict[str, dict[str, Measurement]]) -> list[tuple[str, str]]:
    """Pairs ``(id in older, id in newer)`` of one lesion: same id or same tracking UID."""
    by_uid = {older.lesions[k].tracking_uid: k for k in kept[older.source]
              if older.lesions[k].tracking_uid}
    pairs = []
    for lesion_id in sorted(kept[newer.source]):
        if lesion_id in kept[older.source]:
            pairs.append((lesion_id, lesion_id))
            continue
        uid = newer.lesions[lesion_id].tracking_uid
        if uid and uid in by_uid:
            pairs.append((by_uid[uid], lesion_id))
    return pairs


def _signature(result: SRReadResult, kept: dict[str, dict[str, Measurement]]) -> tuple:
    """The measurements of a report without their identifiers (to find duplicates)."""
    items = []
    for lesion_id, measurement in kept[result.source].items():
        lesion = result.lesions[lesion_id]
        pixels = tuple(sorted((axis, uid, tuple((round(c, _DECIMALS), round(r, _DECIMALS))
                                                for c, r in points))
                              for (owner, axis), (uid, points) in result.pixel_lines.items()
                              if owner == lesion_id))
        items.append((lesion.role.value, lesion.site, _measurement_key(measurement), pixels))
    return tuple(sorted(items, key=repr)) if items else ("empty", result.source)


def _measurement_key(measurement: Measurement) -> tuple:
    return (
        measurement.state.value,
        _rounded(measurement.long_axis_mm), _rounded(measurement.short_axis_mm),
        _line(measurement.long_axis), _line(measurement.short_axis),
        tuple((r.graphic_type, r.referenced_sop_uid,
               tuple(tuple(round(v, _DECIMALS) for v in p) for p in r.points))
              for r in measurement.regions),
    )


def _rounded(value: float | None) -> float | None:
    return None if value is None else round(value, _DECIMALS)


def _line(axis: AxisGeometry | None) -> tuple | None:
    if axis is None:
        return None
    return (axis.referenced_sop_uid,
            tuple(tuple(round(v, _DECIMALS) for v in p) for p in axis.points))


def _size(measurement: Measurement) -> str:
    sizes = [f"{v:g} mm" for v in (measurement.long_axis_mm, measurement.short_axis_mm)
             if v is not None]
    return " x ".join(sizes) if sizes else str(measurement.state)
