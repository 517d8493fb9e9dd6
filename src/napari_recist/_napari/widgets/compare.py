"""Compare mode: two scans side by side with one camera, the same lesion centred in both.

It uses napari's grid mode (one camera for every grid cell, so pan and zoom are linked) and
shifts the two scans' layers so the chosen lesion sits at the same place of each cell. The
shift only moves layers in the world: the model's coordinates and the measured lengths are
unaffected, and `CompareWidget.stop` puts everything back.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import numpy as np
from napari.utils.notifications import show_info, show_warning
from qtpy.QtWidgets import QComboBox, QFormLayout, QHBoxLayout, QPushButton, QVBoxLayout

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
        self.left_combo = QComboBox()
        self.right_combo = QComboBox()
        self.lesion_combo = QComboBox()
        self.compare_button = QPushButton("Compare")
        self.stop_button = QPushButton("Back to one scan")
        self.compare_button.clicked.connect(lambda: self.compare())
        self.stop_button.clicked.connect(lambda: self.stop())
        form = QFormLayout()
        form.addRow("Left", self.left_combo)
        form.addRow("Right", self.right_combo)
        form.addRow("Centre on", self.lesion_combo)
        buttons = QHBoxLayout()
        buttons.addWidget(self.compare_button)
        buttons.addWidget(self.stop_button)
        layout = QVBoxLayout(self)
        layout.addLayout(form)
        layout.addLayout(buttons)
        layout.addStretch(1)
        self.follow_session()

    def on_session_edited(self) -> None:
        """Offer the scans and lesions of the session."""
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
        left = self.left_combo.currentData() if left is None else left
        right = self.right_combo.currentData() if right is None else right
        if lesion_id is None:
            lesion_id = self.lesion_combo.currentData() or None
        if left is None or right is None:
            return False
        for combo, value in (
            (self.left_combo, left),
            (self.right_combo, right),
            (self.lesion_combo, lesion_id or ""),
        ):
            index = combo.findData(value)
            if index >= 0:
                combo.setCurrentIndex(index)
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
            timepoint = self.right_combo.currentData()
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

    def _fill_choices(self) -> None:
        session = self.session
        for combo in (self.left_combo, self.right_combo, self.lesion_combo):
            combo.clear()
        if session is None:
            return
        for view in session.timepoints:
            self.left_combo.addItem(view.name, view.timepoint)
            self.right_combo.addItem(view.name, view.timepoint)
        if session.timepoints:
            self.right_combo.setCurrentIndex(len(session.timepoints) - 1)
            baseline = self.left_combo.findData(0)
            self.left_combo.setCurrentIndex(max(baseline, 0))
        self.lesion_combo.addItem("(none)", "")
        for lesion_id in session.lesion_ids():
            self.lesion_combo.addItem(lesion_id, lesion_id)
