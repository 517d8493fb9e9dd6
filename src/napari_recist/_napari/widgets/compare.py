"""Compare mode: two scans side by side with one camera, the same lesion centred in both.

It uses napari's grid mode (one camera for every grid cell, so pan and zoom are linked) and
shifts the two scans' layers so the chosen lesion sits at the same place of each cell. The
shift only moves layers in the world: the model's coordinates and the measured lengths are
unaffected, and `CompareWidget.stop` puts everything back.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import numpy as np
from magicgui.widgets import ComboBox, Container, PushButton
from napari.utils.notifications import show_info, show_warning
from qtpy.QtWidgets import QSizePolicy, QVBoxLayout

from napari_recist._napari.binding import (
    IMAGE,
    LESIONS,
    camera,
    layer_link,
    lesion_centre_world,
    session_layer,
    show_timepoint,
)
from napari_recist._napari.session import PatientSession
from napari_recist._napari.widgets.base import SessionDock

if TYPE_CHECKING:
    import napari
    from napari.layers import Layer

_SAVED_TRANSLATE = "napari_recist_translate_before_compare"
COMPARE_ZOOM = 2.0  # closer than "fit both scans", the lesion stays centred in both


def _grid(viewer: napari.Viewer) -> Any:
    """The viewer's grid settings (``viewer.canvas.grid`` since napari 0.9)."""
    canvas = getattr(viewer, "canvas", None)
    return canvas.grid if canvas is not None and hasattr(canvas, "grid") else viewer.grid


class CompareWidget(SessionDock):
    """Pick two scans and a lesion; show them side by side, lesion centred in both.

    Parameters
    ----------
    napari_viewer
        The viewer (given by napari when the widget is docked).
    """

    def __init__(self, napari_viewer: napari.Viewer) -> None:
        super().__init__(napari_viewer)
        self.left_box = ComboBox(label="Left", choices=self._scan_choices)
        self.right_box = ComboBox(label="Right", choices=self._scan_choices)
        self.lesion_box = ComboBox(label="Centre on", choices=self._lesion_choices)
        self.compare_button = PushButton(text="Compare")
        self.stop_button = PushButton(text="Back to one scan")
        self.compare_button.changed.connect(lambda *_: self.compare())
        self.stop_button.changed.connect(lambda *_: self.stop())
        buttons = Container(widgets=[self.compare_button, self.stop_button],
                            layout="horizontal", labels=False)
        self.form = Container(widgets=[self.left_box, self.right_box, self.lesion_box, buttons])
        layout = QVBoxLayout(self)
        layout.addWidget(self.form.native)
        # A form takes the height it needs: the room left goes to the lesion table and the
        # response panel when several docks share the side (issue 17).
        self.setSizePolicy(QSizePolicy.Policy.Preferred, QSizePolicy.Policy.Maximum)
        self.follow_session()

    def on_session_changed(self) -> None:
        """Another patient: baseline on the left, the last scan on the right."""
        self._fill_choices()
        if self.session is not None and self.session.timepoints:
            scans = [value for _, value in self._scan_choices()]
            self.left_box.value = 0 if 0 in scans else scans[0]
            self.right_box.value = scans[-1]

    def on_session_edited(self) -> None:
        """Offer the scans and lesions of the session (keeping the choices made)."""
        self._fill_choices()

    def compare(
        self,
        left: int | None = None,
        right: int | None = None,
        lesion_id: str | None = None,
    ) -> bool:
        """Show two scans side by side, centred on a lesion.

        Parameters
        ----------
        left, right
            Time points; default to the widget's choices (baseline and the last scan).
        lesion_id
            Lesion to centre; defaults to the widget's choice (none: no centring).

        Returns
        -------
        bool
            False when there is no patient or a scan has no layers.
        """
        session = self.session
        if session is None:
            show_warning("Open a patient folder first.")
            return False
        left = self.left_box.value if left is None else left
        right = self.right_box.value if right is None else right
        if lesion_id is None:
            lesion_id = self.lesion_box.value or None
        if left is None or right is None:
            return False
        for box, value in (
            (self.left_box, left),
            (self.right_box, right),
            (self.lesion_box, lesion_id or ""),
        ):
            if value in box.choices:
                box.value = value
        self._restore_translates()
        pairs = []
        for timepoint in (left, right):
            image = session_layer(self.viewer, session, timepoint, IMAGE)
            lesions = session_layer(self.viewer, session, timepoint, LESIONS)
            if lesions is None:
                show_warning(f"No layers for time point {timepoint}.")
                return False
            pairs.append([layer for layer in (image, lesions) if layer is not None])
        for layer in self.viewer.layers:
            link = layer_link(layer)
            if link is not None and link["session"] is session:
                layer.visible = link["timepoint"] in (left, right)
        # Grid cells take `stride` consecutive layers from the bottom of the list.
        ordered = pairs[0] + pairs[1] if left != right else pairs[0]
        for position, layer in enumerate(ordered):
            self.viewer.layers.move(self.viewer.layers.index(layer), position)
        target = None
        if lesion_id:
            target = self._centre_lesion(session, (left, right), pairs, lesion_id)
        grid = _grid(self.viewer)
        grid.stride = max(len(pairs[0]), 1)
        grid.shape = (1, 2)
        grid.enabled = True
        self.viewer.reset_view()
        if target is not None:
            # Every grid cell views the world through the same camera: centring it on the
            # point where both lesions now sit centres the lesion in both cells.
            view_camera = camera(self.viewer)
            view_camera.center = tuple(float(value) for value in target)
            view_camera.zoom *= COMPARE_ZOOM
        return True

    def stop(self) -> None:
        """Leave compare mode: one scan, layers back at their true position."""
        _grid(self.viewer).enabled = False
        self._restore_translates()
        if self.session is not None:
            timepoint = self.right_box.value
            if timepoint is not None:
                show_timepoint(self.viewer, self.session, int(timepoint))
        self.viewer.reset_view()

    def _centre_lesion(
        self,
        session: PatientSession,
        timepoints: tuple[int, int],
        pairs: list[list[Layer]],
        lesion_id: str,
    ) -> np.ndarray | None:
        """Shift the two scans so the lesion sits at one world point; return that point."""
        centres = [
            lesion_centre_world(self.viewer, session, timepoint, lesion_id)
            for timepoint in timepoints
        ]
        if all(centre is None for centre in centres):
            show_info(f"{lesion_id} has no drawn axis on these scans: not centred.")
            return None
        reference_layer = pairs[0][0]
        extent = np.asarray(reference_layer.extent.world, dtype=float)
        target = (extent[0] + extent[1]) / 2.0
        known = next(centre for centre in centres if centre is not None)
        target[0] = known[0]  # one slice position for both scans
        for centre, layers in zip(centres, pairs, strict=True):
            if centre is None:
                continue
            shift = target - centre
            for layer in layers:
                layer.metadata[_SAVED_TRANSLATE] = tuple(layer.translate)
                layer.translate = tuple(np.asarray(layer.translate, dtype=float) + shift)
        self.viewer.dims.set_point(0, float(target[0]))
        return target

    def _restore_translates(self) -> None:
        for layer in self.viewer.layers:
            saved = layer.metadata.pop(_SAVED_TRANSLATE, None) if layer.metadata else None
            if saved is not None:
                layer.translate = saved

    def _scan_choices(self, *_: object) -> list[tuple[str, int]]:
        if self.session is None:
            return []
        return [(view.name, view.timepoint) for view in self.session.timepoints]

    def _lesion_choices(self, *_: object) -> list[tuple[str, str]]:
        lesions = self.session.lesion_ids() if self.session is not None else []
        return [("(none)", ""), *((lesion_id, lesion_id) for lesion_id in lesions)]

    def _fill_choices(self) -> None:
        for box in (self.left_box, self.right_box, self.lesion_box):
            box.reset_choices()
