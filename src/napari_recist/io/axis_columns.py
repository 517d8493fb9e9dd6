"""The lesion-table columns that keep where each axis was drawn (end points in LPS mm).

The lesion table of shared/spec/lesion-table.md has sizes, not lines; these extra columns keep
the lines, so that the viewer's session table, `napari-recist table` and `write-sr` keep them
through a round trip: ``long_axis_lps`` / ``short_axis_lps`` as ``"x y z; x y z"``, the SOP
Instance UID of the image each was drawn on and the frame of reference.
"""

from __future__ import annotations

import copy
from dataclasses import replace

from napari_recist.errors import InputError
from napari_recist.model import AxisGeometry, Measurement, PatientRecord, Region

# Extra lesion-table columns that keep where each axis was drawn, so that reopening a
# session restores the lines: "x y z; x y z" in LPS mm, and the image each was drawn on.
AXIS_COLUMNS: dict[str, tuple[str, str]] = {
    "long": ("long_axis_lps", "long_axis_sop_uid"),
    "short": ("short_axis_lps", "short_axis_sop_uid"),
}
FRAME_COLUMN = "frame_of_reference_uid"
# Image regions an SR drew beside the axes (display only), so that reopening keeps them:
# "CIRCLE <SOP Instance UID or ->: x y z; x y z | POLYGON -: ..." in LPS mm.
REGIONS_COLUMN = "regions_lps"


def encode_points(geometry: AxisGeometry) -> str:
    """Write an axis's points as ``"x y z; x y z"`` (LPS mm) for the lesion table."""
    return "; ".join(" ".join(f"{value:.3f}" for value in point) for point in geometry.points)


def decode_points(text: str) -> tuple[tuple[float, float, float], ...]:
    """Read points written by `encode_points`.

    Raises
    ------
    ValueError
        When the text is not a list of 3D points.
    """
    points = []
    for chunk in text.split(";"):
        values = [float(value) for value in chunk.split()]
        if len(values) != 3:
            raise ValueError(f"expected 3 coordinates per point, got {chunk.strip()!r}")
        points.append((values[0], values[1], values[2]))
    if len(points) < 2:
        raise ValueError("an axis needs at least 2 points")
    return tuple(points)


def geometry_to_extra(measurement: Measurement) -> Measurement:
    """Return the measurement with its axis end points copied into table columns."""
    extra = dict(measurement.extra)
    frame = None
    for axis, geometry in (("long", measurement.long_axis), ("short", measurement.short_axis)):
        points_column, uid_column = AXIS_COLUMNS[axis]
        extra.pop(points_column, None)
        extra.pop(uid_column, None)
        if geometry is not None:
            extra[points_column] = encode_points(geometry)
            if geometry.referenced_sop_uid:
                extra[uid_column] = geometry.referenced_sop_uid
            frame = frame or geometry.frame_of_reference_uid
    extra.pop(FRAME_COLUMN, None)
    extra.pop(REGIONS_COLUMN, None)
    for region in measurement.regions:
        frame = frame or region.frame_of_reference_uid
    if measurement.regions:
        extra[REGIONS_COLUMN] = " | ".join(
            f"{region.graphic_type} {region.referenced_sop_uid or '-'}: "
            + encode_points(AxisGeometry(region.points))
            for region in measurement.regions)
    if frame:
        extra[FRAME_COLUMN] = frame
    return replace(measurement, extra=extra)


def _decode_regions(text: str, frame: str | None) -> tuple[Region, ...]:
    """Read the regions written by `geometry_to_extra`; ValueError when malformed."""
    regions = []
    for chunk in text.split("|"):
        head, sep, body = chunk.partition(":")
        words = head.split()
        if not sep or len(words) != 2:
            raise ValueError(f"expected 'TYPE UID: x y z; ...', got {chunk.strip()[:40]!r}")
        points = []
        for point in body.split(";"):
            values = [float(value) for value in point.split()]
            if len(values) != 3:
                raise ValueError(f"expected 3 coordinates per point, got {point.strip()!r}")
            points.append((values[0], values[1], values[2]))
        regions.append(Region(words[0], tuple(points),
                              None if words[1] == "-" else words[1], frame))
    return tuple(regions)


def geometry_from_extra(measurement: Measurement, source: str) -> Measurement:
    """Return the measurement with axes rebuilt from the table columns of `geometry_to_extra`.

    Raises
    ------
    InputError
        When a column holds something that is not a list of points.
    """
    axes: dict[str, AxisGeometry | None] = {
        "long": measurement.long_axis,
        "short": measurement.short_axis,
    }
    frame = measurement.extra.get(FRAME_COLUMN) or None
    for axis, (points_column, uid_column) in AXIS_COLUMNS.items():
        text = measurement.extra.get(points_column, "").strip()
        if not text or axes[axis] is not None:
            continue
        try:
            points = decode_points(text)
        except ValueError as error:
            raise InputError([f"{source}, lesion {measurement.lesion_id}, {points_column}: "
                              f"{error}"]) from error
        axes[axis] = AxisGeometry(
            points=points,
            referenced_sop_uid=measurement.extra.get(uid_column) or None,
            frame_of_reference_uid=frame,
        )
    regions = measurement.regions
    text = measurement.extra.get(REGIONS_COLUMN, "").strip()
    if text and not regions:
        try:
            regions = _decode_regions(text, frame)
        except ValueError as error:
            raise InputError([f"{source}, lesion {measurement.lesion_id}, {REGIONS_COLUMN}: "
                              f"{error}"]) from error
    return replace(measurement, long_axis=axes["long"], short_axis=axes["short"],
                   regions=regions)


def record_with_axis_columns(record: PatientRecord) -> PatientRecord:
    """Return a copy of the record with every axis's end points in table columns."""
    copied = copy.deepcopy(record)
    for assessment in copied.assessments:
        assessment.measurements = {lesion_id: geometry_to_extra(measurement)
                                   for lesion_id, measurement in assessment.measurements.items()}
    return copied


def record_from_axis_columns(record: PatientRecord, source: str) -> PatientRecord:
    """Return the record with the axes rebuilt from the columns of `record_with_axis_columns`.

    Raises
    ------
    InputError
        When an axis column holds something that is not a list of points (names the file,
        the lesion and the column).
    """
    copied = copy.deepcopy(record)
    for assessment in copied.assessments:
        assessment.measurements = {
            lesion_id: geometry_from_extra(measurement, source)
            for lesion_id, measurement in assessment.measurements.items()
        }
    return copied
