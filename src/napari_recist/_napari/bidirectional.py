"""The bidirectional tool: one drag draws a lesion's long axis, the short axis follows.

While the read is on, a left drag on a scan (either cell of the reading layout):

- starting on an end of the selected lesion's long or short axis on that scan, moves that
  end (a short-axis end stays on the perpendicular to the long axis,
  `imaging.short_axis.keep_perpendicular`);
- anywhere else, draws a long axis. On release the short axis is found on the image, the
  longest chord perpendicular to it (`imaging.short_axis.short_axis_from_long`), and both
  axes are recorded in one edit: on the selected lesion, or on a new lesion when none is
  selected (role new on a follow-up, target on the baseline). Replacing a measurement the
  lesion already has on that scan asks first.
  A lymph node (nodal) is summed by its short axis (the criteria module does that from the
  nodal flag, which a lymph node site sets: `session.nodal_for_site`).

During the drag the line is drawn white in the scan's lesion layer with its length as its
label, and the caller's `status` hears the same text (the canvas overlay shows it).
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterator
from typing import TYPE_CHECKING, Any

import numpy as np

from napari_recist._napari.binding import IMAGE, LESIONS, camera, session_layer
from napari_recist._napari.confirm import ask_to_replace
from napari_recist._napari.layers import DRAWN_LINE_COLOUR, polyline_length
from napari_recist._napari.session import describe_measurement
from napari_recist.imaging.short_axis import keep_perpendicular, short_axis_from_long
from napari_recist.model import AxisGeometry, Role

if TYPE_CHECKING:
    import napari
    from napari.layers import Layer

    from napari_recist._napari.session import PatientSession
    from napari_recist._napari.windows import ReadingLayout

GRAB_PX = 8.0  # a press this close (screen pixels) to an axis end grabs it...
# ...and no farther than this share of the axis's length from the end: on a small or narrow
# view an 8-px reach can cover a quarter of a 14-mm line, and a press meant to draw a new
# line over the lesion would move an end instead.
GRAB_FRACTION = 0.15
MIN_LINE_MM = 1.0  # shorter than this is a click, not a line


class BidirectionalTool:
    """Long axis by drag, short axis from the image, assigned to the selected lesion.

    Parameters
    ----------
    viewer
        The viewer.
    session
        The patient.
    layout
        The reading layout (which scan a grid cell shows).
    selected
        The selected lesion id, or None.
    measured
        Called with the lesion id after each recorded measurement (new lesions too).
    status
        Told the live length while dragging, and what was recorded.
    confirm
        Asks before a measurement is replaced (default: a Yes/No box).
    """

    def __init__(
        self,
        viewer: napari.Viewer,
        session: PatientSession,
        layout: ReadingLayout,
        selected: Callable[[], str | None],
        measured: Callable[[str, bool], None],
        status: Callable[[str], None],
        confirm: Callable[[str], bool] | None = None,
    ) -> None:
        self.viewer = viewer
        self.session = session
        self.layout = layout
        self.selected = selected
        self.measured = measured
        self.status = status
        self.confirm = confirm or (lambda what: ask_to_replace(None, what))
        self.enabled = False
        self.panning = False

    # -- on and off ------------------------------------------------------------------------
    def enable(self) -> None:
        """Take the left drag (the camera no longer pans on it: Space+drag does)."""
        if not self.enabled:
            self.viewer.mouse_drag_callbacks.append(self._on_drag)
            self.viewer.layers.selection.events.active.connect(self._no_pan)
            self.enabled = True
        self._no_pan()

    def disable(self) -> None:
        """Give the drag back to napari."""
        if self.enabled:
            with contextlib.suppress(ValueError):
                self.viewer.mouse_drag_callbacks.remove(self._on_drag)
            with contextlib.suppress(ValueError, RuntimeError, TypeError):
                self.viewer.layers.selection.events.active.disconnect(self._no_pan)
            self.enabled = False
            camera(self.viewer).mouse_pan = True

    def _no_pan(self, *_: object) -> None:
        camera(self.viewer).mouse_pan = self.panning

    def hold_to_pan(self, held: bool) -> None:
        """While Space is held the left drag pans the camera instead of measuring."""
        self.panning = held
        self._no_pan()

    # -- the drag --------------------------------------------------------------------------
    def _on_drag(self, viewer: Any, event: Any) -> Iterator[None]:
        if event.type != "mouse_press" or getattr(event, "button", 1) != 1 or self.panning:
            return
        if str(getattr(self.viewer.layers.selection.active, "mode", "pan_zoom")) != "pan_zoom":
            return  # the reader chose one of napari's own tools on the layer
        timepoint = self.layout.timepoint_at(getattr(event, "viewbox", None))
        layer = None if timepoint is None else session_layer(
            self.viewer, self.session, timepoint, LESIONS)
        if layer is None or timepoint is None:
            return
        start = np.asarray(layer.world_to_data(event.position), dtype=float)
        start[0] = np.round(start[0])
        grabbed = self._grab(layer, timepoint, np.asarray(event.position, dtype=float))
        preview = _Preview(layer)
        end = start
        yield
        while event.type == "mouse_move":
            end = np.asarray(layer.world_to_data(event.position), dtype=float)
            end[0] = start[0]
            line = self._moved_line(grabbed, start, end, timepoint)
            text = f"{self._who()} {_length_mm(layer, line):.1f} mm"
            preview.show(line, text)
            self.status(text)
            yield
        preview.remove()
        line = self._moved_line(grabbed, start, end, timepoint)
        if _length_mm(layer, line) < MIN_LINE_MM:
            self.status("")
            return
        if grabbed is None:
            self.record_long_axis(timepoint, line)
        else:
            self._record_axis(timepoint, grabbed[0], grabbed[1], line)

    def _who(self) -> str:
        return self.selected() or "new lesion"

    def _grab(self, layer: Layer, timepoint: int,
              world: np.ndarray) -> tuple[str, str, int, np.ndarray] | None:
        """(lesion, axis, end index, line) when the press is on an end of the selected lesion."""
        lesion_id = self.selected()
        view = self.session.view(timepoint)
        measurement = self.session.measurement(timepoint, lesion_id) if lesion_id else None
        if measurement is None or view is None or lesion_id is None:
            return None
        pixel_reach = GRAB_PX / max(float(camera(self.viewer).zoom), 1e-9)
        for axis, line in (("short", measurement.short_axis), ("long", measurement.long_axis)):
            if line is None or len(line.points) != 2:
                continue
            data = view.geometry.lps_to_data(np.asarray(line.points, dtype=float))
            ends = [np.asarray(layer.data_to_world(point), dtype=float) for point in data]
            reach = min(pixel_reach, GRAB_FRACTION * float(np.linalg.norm(
                (ends[1] - ends[0])[1:])))
            for end in (0, 1):
                point = ends[end]
                if np.linalg.norm((point - world)[1:]) <= reach and abs(
                        point[0] - world[0]) < 0.5 * view.geometry.spacing[0]:
                    return lesion_id, axis, end, data
        return None

    def _moved_line(self, grabbed: tuple[str, str, int, np.ndarray] | None,
                    start: np.ndarray, end: np.ndarray, timepoint: int) -> np.ndarray:
        """The line as the drag leaves it: a new long axis, or an axis with one end moved."""
        if grabbed is None:
            return np.array([start, end])
        lesion_id, axis, index, data = grabbed
        line = data.copy()
        point = end.copy()
        point[0] = line[index][0]
        view = self.session.view(timepoint)
        measurement = self.session.measurement(timepoint, lesion_id)
        long_axis = measurement.long_axis if measurement is not None else None
        if axis == "short" and long_axis is not None and view is not None:
            long_data = view.geometry.lps_to_data(np.asarray(long_axis.points, dtype=float))
            point[1:] = keep_perpendicular(long_data[0][1:], long_data[-1][1:],
                                           line[1 - index][1:], end[1:],
                                           view.geometry.spacing[1:])
        line[index] = point
        return line

    # -- recording -------------------------------------------------------------------------
    def record_long_axis(self, timepoint: int, long_data: np.ndarray) -> str | None:
        """Record a drawn long axis (data coordinates) and the short axis the image gives."""
        view = self.session.view(timepoint)
        layer = session_layer(self.viewer, self.session, timepoint, LESIONS)
        if view is None or layer is None:
            return None
        axes: dict[str, tuple[AxisGeometry, float]] = {
            "long": (self._geometry(timepoint, long_data), _length_mm(layer, long_data))}
        short = self._short_axis(timepoint, long_data)
        note = ""
        if short is not None:
            axes["short"] = (self._geometry(timepoint, short), _length_mm(layer, short))
        else:
            note = "; no short axis: the image shows no lesion edge across the line"
        lesion_id = self.selected()
        if lesion_id is None:
            # A lesion first seen on a follow-up is new; on the baseline, a target (RECIST 1.1
            # section 4.2; Shift+N makes it a non-target).
            baseline = self.session.record.baseline
            role = Role.TARGET if baseline is None or timepoint <= baseline.timepoint \
                else Role.NEW
            lesion_id = self.session.new_measured_lesion(role, "other", timepoint, axes)
            self._told(lesion_id, timepoint, note)
            self.measured(lesion_id, True)
            return lesion_id
        existing = self.session.measurement(timepoint, lesion_id)
        if existing is not None and not self.confirm(
                f"{lesion_id} already has a measurement on this scan "
                f"({describe_measurement(existing)}): the new line replaces it"):
            self.status(f"{lesion_id}: kept as it was")
            return None
        if existing is not None and existing.short_axis is not None and short is None:
            axes["short"] = (existing.short_axis, existing.short_axis_mm or 0.0)
        self.session.set_axes(timepoint, lesion_id, axes)
        self._told(lesion_id, timepoint, note)
        self.measured(lesion_id, False)
        return lesion_id

    def _record_axis(self, timepoint: int, lesion_id: str, axis: str,
                     data: np.ndarray) -> None:
        layer = session_layer(self.viewer, self.session, timepoint, LESIONS)
        if layer is None:
            return
        self.session.set_axis(timepoint, lesion_id, axis, self._geometry(timepoint, data),
                              _length_mm(layer, data))
        self._told(lesion_id, timepoint, "")
        self.measured(lesion_id, False)

    def _told(self, lesion_id: str, timepoint: int, note: str) -> None:
        measurement = self.session.measurement(timepoint, lesion_id)
        text = describe_measurement(measurement) if measurement is not None else ""
        self.status(f"{lesion_id}: {text}{note}")

    def _geometry(self, timepoint: int, data: np.ndarray) -> AxisGeometry:
        view = self.session.view(timepoint)
        assert view is not None
        lps = view.geometry.data_to_lps(np.asarray(data, dtype=float))
        k = int(round(float(np.mean(data[:, 0]))))
        sop = view.slice_uids[k] if 0 <= k < len(view.slice_uids) else None
        return AxisGeometry(tuple((float(x), float(y), float(z)) for x, y, z in lps), sop,
                            view.frame_of_reference_uid)

    def _short_axis(self, timepoint: int, long_data: np.ndarray) -> np.ndarray | None:
        image = session_layer(self.viewer, self.session, timepoint, IMAGE)
        view = self.session.view(timepoint)
        if image is None or view is None:
            return None
        k = int(round(float(long_data[0][0])))
        if not 0 <= k < image.data.shape[0]:
            return None
        plane = np.asarray(image.data[k], dtype=float)
        found = short_axis_from_long(plane, long_data[0][1:], long_data[1][1:],
                                     view.geometry.spacing[1:])
        if found is None:
            return None
        return np.array([[k, *found.start], [k, *found.end]], dtype=float)


def _length_mm(layer: Layer, data: np.ndarray) -> float:
    world = np.array([layer.data_to_world(point) for point in data], dtype=float)
    return polyline_length(world)


class _Preview:
    """The line being dragged, white, with its length as its label (an unassigned line)."""

    def __init__(self, layer: Layer) -> None:
        self.layer = layer
        self.index: int | None = None

    def show(self, line: np.ndarray, text: str) -> None:
        self.remove()
        self.layer.add_lines(np.asarray(line, dtype=float), edge_color=DRAWN_LINE_COLOUR)
        self.index = len(self.layer.data) - 1
        features = self.layer.features
        if "label" in features:
            features.loc[self.index, "label"] = text
            self.layer.features = features
        self.layer.refresh_text()

    def remove(self) -> None:
        if self.index is None:
            return
        if self.index < len(self.layer.data):
            self.layer.selected_data = {self.index}
            self.layer.remove_selected()
        self.index = None
