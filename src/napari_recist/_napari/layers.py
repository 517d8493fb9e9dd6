"""Model <-> napari layers: geometry of a CT volume in the viewer and lesion Shapes layers.

The viewer's world coordinates are patient coordinates in millimetres, ordered like the
array axes: ``(z, y, x) = (LPS S-I, LPS A-P, LPS R-L)``. A layer's data are voxel indices of
the displayed array; its scale/translate (or affine) maps them to the world, so a line drawn
in the viewer has its length in millimetres without conversions anywhere else.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import numpy as np

from napari_recist.io.display_geometry import DisplayGeometry
from napari_recist.model import AxisGeometry, PatientRecord, Role
from napari_recist.palette import hex_to_rgba, response_colour
from napari_recist.vocabulary import Response

if TYPE_CHECKING:
    from napari.layers import Shapes

# CT display windows as (width, level) in HU; the usual radiology presets.
CT_WINDOWS: dict[str, tuple[float, float]] = {
    "soft tissue": (400.0, 40.0),
    "lung": (1500.0, -600.0),
    "bone": (1800.0, 400.0),
    "liver": (150.0, 30.0),
    "brain": (80.0, 40.0),
}

# Shapes features of a lesion layer, with the defaults a newly drawn line gets.
FEATURE_DEFAULTS: dict[str, Any] = {
    "lesion_id": "",
    "role": "",
    "site": "",
    "axis": "",
    "length_mm": np.nan,
    "response": "",
    "label": "",
}

LESION_EDGE_WIDTH = 1.5  # in data units (voxels): about a millimetre on CT
# Labels: 10 pt with a dark halo (`halo.py`); the layer fully opaque, so neither the label
# nor its halo lets a bright window show through (napari's Shapes default is 0.7).
LABEL_SIZE = 10
LESION_LAYER_OPACITY = 1.0
DRAWN_LINE_COLOUR = "#FFFFFF"  # a line not yet assigned to a lesion


def window_limits(name: str = "soft tissue") -> tuple[float, float]:
    """Return the contrast limits (HU) of a CT window preset.

    Parameters
    ----------
    name
        One of `CT_WINDOWS`.

    Returns
    -------
    tuple of float
        ``(level - width / 2, level + width / 2)``.
    """
    width, level = CT_WINDOWS[name]
    return (level - width / 2.0, level + width / 2.0)


@dataclass
class LesionShapes:
    """The content of one timepoint's lesion layer: lines, features and colours."""

    data: list[np.ndarray] = field(default_factory=list)
    shape_types: list[str] = field(default_factory=list)
    features: dict[str, list[Any]] = field(
        default_factory=lambda: {name: [] for name in FEATURE_DEFAULTS}
    )
    edge_colours: list[tuple[float, float, float, float]] = field(default_factory=list)

    def features_frame(self, extra_rows: int = 0) -> Any:
        """Return the features as a DataFrame with fixed column types (text, float).

        Parameters
        ----------
        extra_rows
            Rows of default values appended (lines drawn but not yet assigned).
        """
        import pandas as pd

        columns = {}
        for name, default in FEATURE_DEFAULTS.items():
            values = list(self.features[name]) + [default] * extra_rows
            dtype = float if isinstance(default, float) else object
            columns[name] = pd.Series(values, dtype=dtype)
        return pd.DataFrame(columns)


def _snap_to_slice(data: np.ndarray) -> np.ndarray:
    """Put a line drawn on one axial slice exactly on that slice (napari slices by equality)."""
    z = data[:, 0]
    nearest = np.round(z)
    if np.all(np.abs(z - nearest[0]) < 0.5):
        data = data.copy()
        data[:, 0] = nearest[0]
    return data


def lesion_shapes(
    record: PatientRecord,
    timepoint: int,
    geometry: DisplayGeometry,
    responses: Mapping[str, str],
) -> LesionShapes:
    """Build the lines of every measured axis of one timepoint.

    Parameters
    ----------
    record
        The patient (the model: the only source of lesions).
    timepoint
        Which assessment to draw.
    geometry
        Geometry of the layer the lines are drawn on.
    responses
        Lesion id -> lesion-level response at this timepoint (from the classification).

    Returns
    -------
    LesionShapes
        One line per axis that has its end points in the model.
    """
    shapes = LesionShapes()
    assessment = record.assessment(timepoint)
    if assessment is None:
        return shapes
    for lesion_id, measurement in sorted(assessment.measurements.items()):
        lesion = record.lesions.get(lesion_id)
        if lesion is None:
            continue
        response = responses.get(lesion_id) or (
            Response.NEW if lesion.role is Role.NEW else Response.NA
        )
        for axis, axis_geometry, length in (
            ("long", measurement.long_axis, measurement.long_axis_mm),
            ("short", measurement.short_axis, measurement.short_axis_mm),
        ):
            if axis_geometry is None or len(axis_geometry.points) < 2:
                continue
            data = _snap_to_slice(geometry.lps_to_data(np.array(axis_geometry.points)))
            shapes.data.append(data)
            shapes.shape_types.append("line" if len(data) == 2 else "path")
            length_mm = float(length) if length is not None else polyline_length(
                np.array(axis_geometry.points)
            )
            shown = "" if response == Response.NA else f" {response}"  # NA: e.g. at baseline
            label = f"{lesion_id} {length_mm:.1f} mm{shown}" if axis == "long" else ""
            values = {
                "lesion_id": lesion_id,
                "role": lesion.role.value,
                "site": lesion.site,
                "axis": axis,
                "length_mm": length_mm,
                "response": response,
                "label": label,
            }
            for name, value in values.items():
                shapes.features[name].append(value)
            shapes.edge_colours.append(hex_to_rgba(response_colour(response)))
        # Image regions an SR gives beside the axes (circles, ellipses, outlines): drawn as
        # paths of axis "region", which the edit callbacks leave alone (they carry no size).
        for region in measurement.regions:
            if len(region.points) < 2:
                continue  # a point marks a place; Shapes cannot draw it as a line
            shapes.data.append(_snap_to_slice(geometry.lps_to_data(np.array(region.points))))
            shapes.shape_types.append("path")
            values = {"lesion_id": lesion_id, "role": lesion.role.value, "site": lesion.site,
                      "axis": "region", "length_mm": np.nan, "response": response,
                      "label": ""}
            for name, value in values.items():
                shapes.features[name].append(value)
            shapes.edge_colours.append(hex_to_rgba(response_colour(response)))
    return shapes


def polyline_length(points: np.ndarray) -> float:
    """Return the length of a polyline whose points are in millimetres."""
    return float(np.sum(np.linalg.norm(np.diff(points, axis=0), axis=1)))


def apply_lesion_shapes(layer: Shapes, shapes: LesionShapes) -> None:
    """Replace the content of a lesion layer with freshly built shapes.

    Parameters
    ----------
    layer
        The timepoint's Shapes layer.
    shapes
        Its new content (from `lesion_shapes`).
    """
    # Lines the user drew but has not yet given to a lesion stay where they are.
    drawn = unassigned_shapes(layer)
    kept = [np.asarray(layer.data[i]) for i in drawn]
    kept_types = [layer.shape_type[i] for i in drawn]
    layer.selected_data = set()
    if len(layer.data):
        layer.data = []
    data = shapes.data + kept
    if data:
        layer.add(
            data,
            shape_type=shapes.shape_types + kept_types,
            edge_color=shapes.edge_colours + [hex_to_rgba(DRAWN_LINE_COLOUR)] * len(kept),
        )
    layer.features = shapes.features_frame(extra_rows=len(kept))
    # Setting features makes napari take defaults from the rows (a new line would then
    # belong to the first lesion): a line the user draws belongs to no lesion.
    layer.feature_defaults = FEATURE_DEFAULTS
    layer.refresh_text()


def unassigned_shapes(layer: Shapes) -> list[int]:
    """Return the indices of the lines of a lesion layer that belong to no lesion yet."""
    if len(layer.data) == 0:
        return []
    if "lesion_id" not in layer.features:
        return list(range(len(layer.data)))
    ids = layer.features["lesion_id"].fillna("").astype(str).tolist()
    return [index for index, lesion_id in enumerate(ids) if not lesion_id]


def shapes_layer_kwargs(
    name: str, geometry: DisplayGeometry, shapes: LesionShapes, metadata: dict[str, Any]
) -> dict[str, Any]:
    """Return the keywords of a lesion Shapes layer (for a reader's layer data tuple).

    Parameters
    ----------
    name
        Layer name.
    geometry
        The timepoint's display geometry (the layer carries the image's world transform).
    shapes
        Initial content.
    metadata
        Layer metadata (links the layer to its session and timepoint).

    Returns
    -------
    dict
        Keywords for ``viewer.add_shapes`` / a ``(data, kwargs, "shapes")`` tuple.
    """
    return {
        "name": name,
        "ndim": 3,
        "shape_type": shapes.shape_types or "line",
        "features": shapes.features_frame(),
        "feature_defaults": FEATURE_DEFAULTS,
        "edge_color": shapes.edge_colours or DRAWN_LINE_COLOUR,
        "edge_width": LESION_EDGE_WIDTH,
        "face_color": "transparent",
        "opacity": LESION_LAYER_OPACITY,
        "text": {
            "string": "{label}",
            "color": "white",
            "size": LABEL_SIZE,
            "anchor": "upper_left",
        },
        "metadata": metadata,
        **geometry.layer_transform(),
    }


def line_length_mm(layer: Shapes, index: int) -> float:
    """Return the length in millimetres of a line or path of a Shapes layer.

    The length comes from the layer's own data-to-world transform (its physical scale), so
    it is right for whatever the layer shows.

    Parameters
    ----------
    layer
        A Shapes layer placed in the world in millimetres.
    index
        Index of the shape.

    Returns
    -------
    float
        Sum of the segment lengths in mm.
    """
    data = np.asarray(layer.data[index], dtype=float)
    world = np.array([layer.data_to_world(point) for point in data], dtype=float)
    return polyline_length(world)


def drawn_axis_geometry(
    layer: Shapes,
    index: int,
    geometry: DisplayGeometry,
    slice_uids: Sequence[str] | None = None,
    frame_of_reference_uid: str | None = None,
) -> AxisGeometry:
    """Convert a line drawn in the viewer to an axis of the model (LPS, mm).

    Parameters
    ----------
    layer
        The timepoint's Shapes layer.
    index
        Index of the drawn line.
    geometry
        The timepoint's display geometry.
    slice_uids
        SOP Instance UIDs of the displayed slices, in displayed order, if known.
    frame_of_reference_uid
        Frame of reference of the series, if known.

    Returns
    -------
    AxisGeometry
        End points in LPS and the image the line was drawn on.
    """
    data = np.asarray(layer.data[index], dtype=float)
    lps = geometry.data_to_lps(data)
    sop_uid = None
    if slice_uids:
        slice_index = int(round(float(np.mean(data[:, 0]))))
        if 0 <= slice_index < len(slice_uids):
            sop_uid = slice_uids[slice_index]
    return AxisGeometry(
        points=tuple((float(x), float(y), float(z)) for x, y, z in lps),
        referenced_sop_uid=sop_uid,
        frame_of_reference_uid=frame_of_reference_uid,
    )
