"""Screenshot of the reading layout for the README (docs/images/reading.png).

The week-16 read of the sample patient half done with real events: L1 measured with one
drag, N to L2: the week-8 scan on the left with L2 ringed, week 16 on the right with the
prior lines as a cyan ghost, the cursor's HU in the overlay, the guided read dock. The
window is grabbed (canvas and docks) and written atomically, unless it is the committed
picture (Mesa under Xvfb renders the same pixels run after run, but for a few pixels of a
layer thumbnail): an unchanged layout leaves the committed file as it is.
"""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import pytest
from _reading_helpers import (
    REPO,
    UserActions,
    canvas_position,
    drag_world,
    hover,
    open_reading,
    settle,
    true_long_axis_world,
)
from qtpy.QtCore import Qt

pytestmark = pytest.mark.viewer

TARGET = REPO / "docs" / "images" / "reading.png"
GHOST_RGB = (0, 255, 255)
MARK_RGB = (0xE6, 0x9F, 0x00)
SAME_FRACTION = 0.001  # fewer pixels than this differ: the committed picture is kept


def _pixels(path: Path) -> np.ndarray:
    from qtpy.QtGui import QImage

    image = QImage(str(path)).convertToFormat(QImage.Format.Format_RGB888)
    width, height = image.width(), image.height()
    array = np.frombuffer(image.constBits().asstring(image.sizeInBytes()), np.uint8)
    return array.reshape(height, image.bytesPerLine())[:, : width * 3].reshape(height, width, 3)


def _has_colour(image, rgb, x0: int, x1: int) -> bool:
    pixels = np.asarray(image)[:, x0:x1, :3].reshape(-1, 3).astype(int)
    return bool(np.any(np.all(np.abs(pixels - rgb) <= 40, axis=1)))


def test_reading_layout_screenshot(make_napari_viewer, tmp_path: Path, qtbot):
    viewer, session, dock, canvas = open_reading(make_napari_viewer, tmp_path, qtbot,
                                                 size=(1500, 900))
    actions = UserActions(qtbot)
    start, end = true_long_axis_world("L1", 2)
    drag_world(actions, viewer, canvas, start, end, "L1")
    actions.key(canvas, Qt.Key.Key_N, "to L2")
    canvas.update()
    settle(0.3)
    centre = np.mean(true_long_axis_world("L2", 2), axis=0)
    hover(canvas, canvas_position(viewer, centre, 1))
    settle(0.5)
    assert "HU" in dock.hu_text
    window = viewer.window._qt_window
    written = tmp_path / "reading.png"
    assert window.grab().save(str(written), "PNG")
    array = _pixels(written)
    left = canvas.mapTo(window, canvas.rect().topLeft()).x()
    middle = left + canvas.width() // 2
    assert _has_colour(array, GHOST_RGB, middle, left + canvas.width())  # ghost: current
    assert _has_colour(array, MARK_RGB, left, middle)  # ring: prior
    if TARGET.is_file():
        committed = _pixels(TARGET)
        if committed.shape == array.shape and np.mean(
                np.any(committed != array, axis=2)) < SAME_FRACTION:
            return  # the same picture (a layer thumbnail may differ by a few pixels)
    TARGET.parent.mkdir(parents=True, exist_ok=True)
    partial = TARGET.with_suffix(".png.partial")
    partial.write_bytes(written.read_bytes())
    os.replace(partial, TARGET)
    assert TARGET.stat().st_size > 50_000
