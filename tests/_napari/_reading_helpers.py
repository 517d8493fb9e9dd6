"""Helpers of the guided-read tests: the sample patient to read, counted user actions.

`UserActions` wraps every qtbot key and mouse action a test performs as the reader: each
call is one counted action (a key press, a drag from press to release), logged with what it
is for, so a test can assert how many the read took.
"""

from __future__ import annotations

import shutil
import time
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
from qtpy.QtCore import QPoint, QPointF, Qt
from qtpy.QtGui import QMouseEvent
from qtpy.QtWidgets import QApplication

REPO = Path(__file__).resolve().parents[2]
SAMPLE = REPO / "sample_dicom"
WEEK16 = "2024-05-06_week16"


def week16_unread(root: Path) -> Path:
    """The sample patient with the week-16 scan not yet read (its SR and the table removed)."""
    target = root / "patient"
    shutil.copytree(SAMPLE, target)
    shutil.rmtree(target / WEEK16 / "SR")
    (target / "lesions.csv").unlink()
    return target


def wait_loaded(session, qtbot) -> None:
    """Wait for the background loader (big volumes) to finish."""
    worker = session.loader
    if worker is not None:
        qtbot.waitUntil(lambda: not worker.is_running, timeout=60000)


def true_long_axis_world(lesion_id: str, timepoint: int) -> tuple[np.ndarray, np.ndarray]:
    """End points (world z, y, x in mm) of a sample lesion's true long axis at a time point."""
    from napari_recist.sample import LESIONS

    spec = next(spec for spec in LESIONS if spec.lesion.lesion_id == lesion_id)
    semi = spec.semi_axes_mm[timepoint]
    assert semi is not None
    angle = np.radians(spec.angle_deg)
    x, y, z = spec.centre_lps
    dx, dy = semi[0] * np.cos(angle), semi[0] * np.sin(angle)
    return np.array([z, y - dy, x - dx]), np.array([z, y + dy, x + dx])


def canvas_position(viewer, world: np.ndarray, cell: int | None = None) -> QPoint:
    """Canvas pixel of a world point in a grid cell (the one view when the grid is off)."""
    vispy = viewer.window._qt_viewer.canvas
    view = vispy.grid_views[cell] if cell is not None and viewer.canvas.grid.enabled \
        else vispy.view
    transform = view.transform * view.scene.transform
    mapped = transform.map([float(world[2]), float(world[1])])
    return QPoint(int(round(mapped[0])), int(round(mapped[1])))


@dataclass
class UserActions:
    """Every key press and drag of the simulated reader, counted and logged."""

    qtbot: object
    log: list[str] = field(default_factory=list)

    @property
    def count(self) -> int:
        """How many user actions so far."""
        return len(self.log)

    def key(self, widget, key: Qt.Key, what: str,
            modifier: Qt.KeyboardModifier = Qt.KeyboardModifier.NoModifier) -> None:
        """One key press (a click of a key, with its modifier held)."""
        self.log.append(f"key {QKeyName(key, modifier)}: {what}")
        self.qtbot.keyClick(widget, key, modifier)
        settle()

    def type_text(self, widget, text: str, what: str) -> None:
        """Typing: one action per key."""
        for char in text:
            self.log.append(f"key {char}: {what}")
            self.qtbot.keyClicks(widget, char)
            settle()

    def click(self, widget, point: QPoint, what: str) -> None:
        """One left click."""
        self.log.append(f"click {point.x()},{point.y()}: {what}")
        self.qtbot.mouseClick(widget, Qt.MouseButton.LeftButton, pos=point)
        settle()

    def drag(self, canvas, start: QPoint, end: QPoint, what: str, steps: int = 6) -> None:
        """One left-button drag: press, moves with the button held, release."""
        self.log.append(f"drag {start.x()},{start.y()} -> {end.x()},{end.y()}: {what}")
        left, no_mod = Qt.MouseButton.LeftButton, Qt.KeyboardModifier.NoModifier
        _mouse(canvas, QMouseEvent.Type.MouseMove, start, Qt.MouseButton.NoButton,
               Qt.MouseButton.NoButton, no_mod)
        _mouse(canvas, QMouseEvent.Type.MouseButtonPress, start, left, left, no_mod)
        for i in range(1, steps + 1):
            t = i / steps
            point = QPoint(round(start.x() + t * (end.x() - start.x())),
                           round(start.y() + t * (end.y() - start.y())))
            _mouse(canvas, QMouseEvent.Type.MouseMove, point, Qt.MouseButton.NoButton, left,
                   no_mod)
        _mouse(canvas, QMouseEvent.Type.MouseButtonRelease, end, left,
               Qt.MouseButton.NoButton, no_mod)
        settle()


def slider_point(viewer, axis: int, world: float) -> tuple[object, QPoint]:
    """The dims slider of an axis and the point of its groove that shows a world position.

    napari's slider jumps to a click on its groove (``ModifiedScrollBar``): the point is
    where Qt's style puts the handle's centre for that slice.
    """
    from qtpy.QtWidgets import QStyle, QStyleOptionSlider

    slider = viewer.window._qt_viewer.dims.slider_widgets[axis].slider
    step = viewer.dims.range[axis].step
    start = viewer.dims.range[axis].start
    value = int(round((world - start) / step))
    option = QStyleOptionSlider()
    slider.initStyleOption(option)
    style = slider.style()
    control = QStyle.ComplexControl.CC_ScrollBar
    groove = style.subControlRect(control, option, QStyle.SubControl.SC_ScrollBarGroove, slider)
    handle = style.subControlRect(control, option, QStyle.SubControl.SC_ScrollBarSlider, slider)
    span = groove.right() - handle.width() + 1 - groove.x()
    x = groove.x() + handle.width() // 2 + QStyle.sliderPositionFromValue(
        slider.minimum(), slider.maximum(), value, span, option.upsideDown)
    return slider, QPoint(x, slider.height() // 2)


def hover(widget, point: QPoint) -> None:
    """Move the mouse over a widget, no button held (a real move event)."""
    _mouse(widget, QMouseEvent.Type.MouseMove, point, Qt.MouseButton.NoButton,
           Qt.MouseButton.NoButton, Qt.KeyboardModifier.NoModifier)


def _mouse(widget, kind, point: QPoint, button, buttons, modifiers) -> None:
    local = QPointF(point)
    event = QMouseEvent(kind, local, QPointF(widget.mapToGlobal(point)), button, buttons,
                        modifiers)
    QApplication.sendEvent(widget, event)
    QApplication.processEvents()


def QKeyName(key: Qt.Key, modifier: Qt.KeyboardModifier) -> str:  # noqa: N802 - reads as Qt
    """A key and its modifier as text (for the log)."""
    from qtpy.QtGui import QKeySequence

    name = QKeySequence(int(key.value if hasattr(key, "value") else key)).toString()
    return f"Shift+{name}" if modifier & Qt.KeyboardModifier.ShiftModifier else name


def settle(seconds: float = 0.05) -> None:
    """Let Qt and napari handle what the action caused (timers, redraws)."""
    end = time.monotonic() + seconds
    while time.monotonic() < end:
        QApplication.processEvents()
        time.sleep(0.005)


def open_reading(make_napari_viewer, tmp_path: Path, qtbot, size=(1400, 900)):
    """The unread week-16 sample in a shown viewer with the guided read docked and started."""
    from napari_recist._napari.binding import find_session
    from napari_recist._napari.widgets.reading import ReadingWidget

    viewer = make_napari_viewer(show=True)
    viewer.window._qt_window.resize(*size)
    viewer.open(str(week16_unread(tmp_path)), plugin="napari-recist")
    session = find_session(viewer)
    wait_loaded(session, qtbot)
    dock = ReadingWidget(viewer)
    viewer.window.add_dock_widget(dock, name="Guided read")
    qtbot.waitUntil(lambda: dock.reading)
    settle(0.2)
    return viewer, session, dock, viewer.window._qt_viewer.canvas.native


def drag_world(actions: UserActions, viewer, canvas, start, end, what: str,
               cell: int = 1) -> None:
    """Drag between two world points of a grid cell (after a draw, so the views are set)."""
    canvas.update()
    settle(0.3)
    actions.drag(canvas, canvas_position(viewer, start, cell),
                 canvas_position(viewer, end, cell), what)


def answer_question(qtbot, yes: bool) -> list[str]:
    """Answer the next modal question with a real click on Yes or No; returns its text."""
    from qtpy.QtCore import QTimer
    from qtpy.QtWidgets import QMessageBox

    asked: list[str] = []
    wanted = QMessageBox.StandardButton.Yes if yes else QMessageBox.StandardButton.No
    # Poll for at most 10 s: a question that never comes must not leave a timer running into
    # later tests (it would click whatever box they open).
    tries = [200]

    def click() -> None:
        box = QApplication.activeModalWidget()
        button = box.button(wanted) if isinstance(box, QMessageBox) else None
        if button is None:
            tries[0] -= 1
            if tries[0] > 0:
                QTimer.singleShot(50, click)
            return
        asked.append(box.text())
        qtbot.mouseClick(button, Qt.MouseButton.LeftButton)

    QTimer.singleShot(50, click)
    return asked
