"""The reading layout: the prior scan and the current one side by side, one camera, one slice.

napari's grid mode gives each cell its own view box through the same camera (pan and zoom
linked) and one dims slider (the same patient position in both, since layers are placed in
patient millimetres). Grid cells take `STRIDE` consecutive layers; only visible layers
occupy a cell. The layout orders the layers as

    [prior CT, prior lesions, prior marks, current CT, current lesions, ghost, ...hidden]

where *marks* rings the selected lesion on the prior and *ghost* shows the prior lines on the
current scan (cyan, like the propagation dock's ghosts). When the lesion's position came from
the registration, the prior's layers are shifted in the world so the lesion sits at the same
place in both cells (the model and every length are unaffected; `close` puts them back).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

import numpy as np

from napari_recist._napari.binding import (
    IMAGE,
    LESIONS,
    camera,
    layer_link,
    lps_to_world,
    session_layer,
    show_timepoint,
)
from napari_recist._napari.proposals import CURRENT_GHOST_EDGE_WIDTH, GHOST_COLOUR
from napari_recist._napari.reading import REGISTERED, LesionPosition
from napari_recist.palette import ORANGE

if TYPE_CHECKING:
    import napari
    from napari.layers import Layer

    from napari_recist._napari.session import PatientSession

READING_KEY = "napari_recist_reading"  # metadata of the layout's own layers
GHOST, MARKS = "ghost", "marks"
STRIDE = 3
# The lesion being read, ringed on the prior: Okabe-Ito orange, which no lesion response
# has (palette.py: SD is yellow), nor the cyan ghosts or the white lines being drawn.
MARK_COLOUR = ORANGE
MARK_MARGIN_MM = 6.0
_SAVED_TRANSLATE = "napari_recist_translate_before_reading"


def grid_settings(viewer: napari.Viewer) -> Any:
    """The viewer's grid settings (``viewer.canvas.grid`` since napari 0.9)."""
    canvas = getattr(viewer, "canvas", None)
    return canvas.grid if canvas is not None and hasattr(canvas, "grid") else viewer.grid


def _helper(layer: Layer) -> dict[str, Any] | None:
    metadata = layer.metadata
    found = metadata.get(READING_KEY) if isinstance(metadata, dict) else None
    return found if isinstance(found, dict) else None


class ReadingLayout:
    """Prior and current scan side by side for one session.

    Parameters
    ----------
    viewer
        The viewer.
    session
        The patient shown.
    """

    def __init__(self, viewer: napari.Viewer, session: PatientSession) -> None:
        self.viewer = viewer
        self.session = session
        self.prior: int | None = None
        self.current: int | None = None

    # -- showing ---------------------------------------------------------------------------
    def show(self, prior: int | None, current: int) -> None:
        """Show `prior` (None: the current scan alone) beside `current`."""
        self._restore_translates()
        self.prior, self.current = (prior if prior != current else None), current
        show_timepoint(self.viewer, self.session, current)
        ordered: list[Layer] = []
        if self.prior is not None:
            ordered += self._cell(self.prior, MARKS)
        ordered += self._cell(current, GHOST)
        for position, layer in enumerate(ordered):
            index = self.viewer.layers.index(layer)
            if index != position:
                self.viewer.layers.move(index, position)
        for layer in self.viewer.layers:
            link = layer_link(layer)
            helper = _helper(layer)
            if link is not None and link["session"] is self.session:
                layer.visible = link["timepoint"] in (self.prior, current)
            elif helper is not None:
                layer.visible = helper["timepoint"] in (self.prior, current)
        grid = grid_settings(self.viewer)
        if self.prior is None:
            grid.enabled = False
        else:
            grid.stride = STRIDE
            grid.shape = (1, 2)
            grid.enabled = True
        lesions = session_layer(self.viewer, self.session, current, LESIONS)
        if lesions is not None:
            self.viewer.layers.selection.active = lesions
            lesions.mode = "pan_zoom"
        self.viewer.reset_view()

    def close(self) -> None:
        """Back to one scan (the current one), helper layers removed, layers in place."""
        grid_settings(self.viewer).enabled = False
        self._restore_translates()
        for layer in [layer for layer in self.viewer.layers if _helper(layer) is not None]:
            self.viewer.layers.remove(layer)
        if self.current is not None and self.session.view(self.current) is not None:
            show_timepoint(self.viewer, self.session, self.current)

    def timepoint_at(self, viewbox: Sequence[int] | None) -> int | None:
        """The scan shown in a grid cell (the current scan when the grid is off)."""
        if not grid_settings(self.viewer).enabled or viewbox is None:
            return self.current
        for coords, indices in grid_settings(self.viewer).iter_viewboxes(self.viewer.layers):
            if tuple(coords) != tuple(viewbox):
                continue
            for index in indices:
                link = layer_link(self.viewer.layers[index])
                if link is not None and link["session"] is self.session:
                    return int(link["timepoint"])
        return self.current

    # -- the lesion being read -------------------------------------------------------------
    def focus(self, position: LesionPosition | None, label: str = "", move: bool = True) -> bool:
        """Centre both cells on a lesion's position; ghost and marks follow. False: unknown.

        ``move=False`` only redraws the ghost and marks (after an edit).
        """
        if not move:
            self._draw(position, label)
            return position is not None
        self._restore_translates()
        self._draw(position, label)
        if position is None or self.current is None:
            return False
        target = lps_to_world(self.viewer, self.session, self.current, position.centre_lps)
        if target is None:
            return False
        if position.source == REGISTERED and self.prior is not None and position.ghost:
            prior_centre = self._prior_centre(position)
            if prior_centre is not None:
                shift = target - prior_centre
                for layer in self._cell(self.prior, MARKS):
                    layer.metadata[_SAVED_TRANSLATE] = tuple(layer.translate)
                    layer.translate = tuple(np.asarray(layer.translate, dtype=float) + shift)
        self.viewer.dims.set_point(0, float(target[0]))
        camera(self.viewer).center = tuple(float(value) for value in target)
        return True

    def _prior_centre(self, position: LesionPosition) -> np.ndarray | None:
        if self.prior is None:
            return None
        measurement = self.session.measurement(self.prior, position.lesion_id)
        lines = [line for line in (measurement.long_axis, measurement.short_axis)
                 if line is not None] if measurement is not None else []
        if not lines:
            return None
        centre = np.mean([np.mean(np.asarray(line.points, dtype=float), axis=0)
                          for line in lines], axis=0)
        return lps_to_world(self.viewer, self.session, self.prior, centre)

    def _draw(self, position: LesionPosition | None, label: str) -> None:
        """Ghost lines on the current scan, a ring round the lesion on the prior."""
        if self.current is not None:
            ghost = self._layer(self.current, GHOST)
            data: list[np.ndarray] = []
            view = self.session.view(self.current)
            if position is not None and view is not None and position.ghost:
                k = float(np.round(view.geometry.lps_to_data(
                    np.asarray([position.centre_lps]))[0][0]))
                for line in position.ghost:
                    points = view.geometry.lps_to_data(np.asarray(line.points, dtype=float))
                    points[:, 0] = k
                    data.append(points)
            _replace(ghost, data, ["line"] * len(data),
                     [f"{label} prior" if i == 0 else "" for i in range(len(data))])
        if self.prior is not None:
            marks = self._layer(self.prior, MARKS)
            rings: list[np.ndarray] = []
            view = self.session.view(self.prior)
            measurement = (self.session.measurement(self.prior, position.lesion_id)
                           if position is not None else None)
            lines = [line for line in (measurement.long_axis, measurement.short_axis)
                     if line is not None] if measurement is not None else []
            if view is not None and lines:
                points = np.concatenate([view.geometry.lps_to_data(
                    np.asarray(line.points, dtype=float)) for line in lines])
                centre = points.mean(axis=0)
                extent = np.max(np.abs(points - centre), axis=0)
                spacing = np.asarray(view.geometry.spacing)
                radius = np.max(extent[1:] * spacing[1:]) + MARK_MARGIN_MM
                half = radius / spacing[1:]
                k = float(np.round(centre[0]))
                rings.append(np.array([[k, centre[1] - half[0], centre[2] - half[1]],
                                       [k, centre[1] - half[0], centre[2] + half[1]],
                                       [k, centre[1] + half[0], centre[2] + half[1]],
                                       [k, centre[1] + half[0], centre[2] - half[1]]]))
            _replace(marks, rings, ["ellipse"] * len(rings), [label] * len(rings))

    # -- internals -------------------------------------------------------------------------
    def _cell(self, timepoint: int, helper: str) -> list[Layer]:
        """The layers of one grid cell, in order (STRIDE of them)."""
        layers = [session_layer(self.viewer, self.session, timepoint, kind)
                  for kind in (IMAGE, LESIONS)]
        return [layer for layer in layers if layer is not None] + [self._layer(timepoint,
                                                                               helper)]

    def _layer(self, timepoint: int, kind: str) -> Layer:
        for layer in self.viewer.layers:
            helper = _helper(layer)
            if helper is not None and helper["timepoint"] == timepoint \
                    and helper["kind"] == kind:
                return layer
        view = self.session.view(timepoint)
        assert view is not None
        name = f"{'prior lines' if kind == GHOST else 'lesion read'} {view.name}"
        return self.viewer.add_shapes(
            ndim=3, name=name, edge_color=GHOST_COLOUR if kind == GHOST else MARK_COLOUR,
            edge_width=CURRENT_GHOST_EDGE_WIDTH, face_color="transparent", opacity=1.0,
            text={"string": "{label}", "color": GHOST_COLOUR if kind == GHOST
                  else MARK_COLOUR, "size": 10, "anchor": "lower_left"},
            features={"label": np.array([], dtype=object)},
            metadata={READING_KEY: {"kind": kind, "timepoint": timepoint}},
            **view.geometry.layer_transform())

    def _restore_translates(self) -> None:
        for layer in self.viewer.layers:
            saved = layer.metadata.pop(_SAVED_TRANSLATE, None) if isinstance(
                layer.metadata, dict) else None
            if saved is not None:
                layer.translate = saved


def _replace(layer: Layer, data: list[np.ndarray], shape_types: list[str],
             labels: list[str]) -> None:
    import pandas as pd

    layer.selected_data = set()
    if len(layer.data):
        layer.data = []
    if data:
        layer.add(data, shape_type=shape_types)
    layer.features = pd.DataFrame({"label": pd.Series(labels, dtype=object)})
    layer.refresh_text()


def is_reading_layer(layer: Layer) -> bool:
    """True for the layout's own layers (ghost, marks): no lesion layer, no image."""
    return _helper(layer) is not None
