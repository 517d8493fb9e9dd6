"""The Propagation dock under Xvfb: ghosts on the follow-up, one key per lesion, clicks, methods.

The patient is a phantom whose follow-up lies shifted by 30 mm and turned (a known rigid
motion, `tests/imaging/phantoms.py`), with only the baseline measured (its SR). Keys and
clicks are real Qt events sent to napari's canvas (qtbot / QTest), not API calls.
"""

from __future__ import annotations

import shutil
import sys
from pathlib import Path

import numpy as np
import pytest
from qtpy.QtCore import QPoint, Qt, QTimer
from qtpy.QtTest import QTest

from napari_recist._napari.binding import (
    camera,
    find_session,
    session_layer,
    show_timepoint,
)
from napari_recist._napari.widgets.propagation import GHOSTS_KEY, PropagationWidget
from napari_recist.io.patient import SESSION_FILE
from napari_recist.io.table import read_table
from napari_recist.model import LesionState
from napari_recist.sample import true_centre_lps, write_sample

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from imaging.phantoms import LESIONS, MOTIONS, patient  # noqa: E402

pytest.importorskip("SimpleITK")
pytestmark = pytest.mark.viewer

MOTION = MOTIONS["shift-and-turn"]
SAMPLE = Path(__file__).resolve().parents[2] / "sample_dicom"


@pytest.fixture(scope="module")
def moved_original(tmp_path_factory) -> Path:
    folder = tmp_path_factory.mktemp("moved") / "patient"
    write_sample(folder, patient=patient(MOTION, "dock"))
    return folder


@pytest.fixture
def moved(moved_original: Path, tmp_path: Path, monkeypatch) -> Path:
    """A fresh copy (the viewer autosaves there) and an empty registration cache."""
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    return Path(shutil.copytree(moved_original, tmp_path / "patient"))


def _open_with_dock(viewer, folder: Path, qtbot) -> tuple[PropagationWidget, object]:
    viewer.open(str(folder), plugin="napari-recist")
    dock = PropagationWidget(viewer)
    viewer.window.add_dock_widget(dock)
    return dock, find_session(viewer)


def _wait_for_proposals(dock: PropagationWidget, qtbot) -> None:
    qtbot.waitUntil(lambda: not dock.busy and dock.timepoint is not None, timeout=60000)


def _canvas(viewer):
    return viewer.window._qt_viewer.canvas.native


def _canvas_point(viewer, world) -> QPoint:
    """Where a world point (z, y, x) of the displayed slice is on the canvas, in pixels."""
    view = camera(viewer)
    offset = (np.asarray(world, dtype=float)[-2:] - np.asarray(view.center)[-2:]) * view.zoom
    widget = _canvas(viewer)
    return QPoint(int(round(widget.width() / 2 + offset[1])),
                  int(round(widget.height() / 2 + offset[0])))


def _world_of(viewer, session, timepoint: int, lps) -> np.ndarray:
    layer = session_layer(viewer, session, timepoint, "image")
    data = session.view(timepoint).geometry.lps_to_data(np.asarray([lps], dtype=float))[0]
    data[0] = np.round(data[0])
    return np.asarray(layer.data_to_world(data), dtype=float)


def _within(measured: float, truth: float) -> bool:
    return abs(measured - truth) <= max(1.5, 0.05 * truth)


def test_follow_up_read_takes_one_key_per_target_lesion(make_napari_viewer, moved, qtbot,
                                                       tmp_path):
    viewer = make_napari_viewer()
    ticks = []
    timer = QTimer()
    timer.timeout.connect(lambda: ticks.append(1))
    timer.start(10)
    dock, session = _open_with_dock(viewer, moved, qtbot)
    ticks.clear()  # count from the moment the registration was started
    assert dock.busy, "the registration starts at once, in the background"
    _wait_for_proposals(dock, qtbot)
    timer.stop()
    # The Qt event loop kept running while SimpleITK registered the scans.
    assert len(ticks) >= 2
    assert dock.registration_text().startswith("Registration ok")
    assert list((tmp_path / "cache" / "napari-recist" / "registrations").glob("*.json"))

    targets = [spec for spec in LESIONS if spec.lesion.role.value == "target"]
    pending = dock.proposals()
    assert [p.lesion.lesion_id for p in pending] == [s.lesion.lesion_id for s in targets]
    for proposal, spec in zip(pending, targets, strict=True):  # the proposals are right
        assert np.linalg.norm(np.subtract(proposal.centre_lps,
                                          true_centre_lps(spec, MOTION))) < 5.0
    ghosts = [layer for layer in viewer.layers if GHOSTS_KEY in layer.metadata]
    assert len(ghosts) == 1
    assert list(ghosts[0].shape_type).count("ellipse") == len(targets)
    assert set(ghosts[0].features["lesion_id"]) == {s.lesion.lesion_id for s in targets}
    # The measured lines are in the lesion layer only; the ghosts never are.
    assert len(session_layer(viewer, session, 1, "lesions").data) == 0

    keys = 0
    for _ in targets:
        QTest.keyClick(_canvas(viewer), Qt.Key.Key_Return)
        keys += 1
    assert keys == len(targets)
    measured = session.record.assessment(1).measurements
    for spec in targets:
        row = measured[spec.lesion.lesion_id]
        long_mm, short_mm = (2 * a for a in spec.semi_axes_mm[1][:2])
        assert row.state is LesionState.MEASURED
        assert _within(row.long_axis_mm, long_mm), (spec.lesion.lesion_id, row.long_axis_mm)
        assert _within(row.short_axis_mm, short_mm), (spec.lesion.lesion_id, row.short_axis_mm)
        assert row.extra["method"] == "semi-automatic"
    assert dock.proposals() == []
    assert len(ghosts[0].data) == 0
    assert len(session_layer(viewer, session, 1, "lesions").data) == 2 * len(targets)

    # The method round-trips through the autosaved session table.
    (saved,) = read_table(moved / SESSION_FILE).records
    assert {m.extra.get("method") for m in saved.assessment(1).measurements.values()} == {
        "semi-automatic"}


def test_shift_enter_skips_and_enter_while_drawing_finishes_the_shape(make_napari_viewer, moved,
                                                                     qtbot):
    viewer = make_napari_viewer()
    dock, session = _open_with_dock(viewer, moved, qtbot)
    _wait_for_proposals(dock, qtbot)
    first = dock.current_proposal().lesion.lesion_id
    QTest.keyClick(_canvas(viewer), Qt.Key.Key_Return, Qt.KeyboardModifier.ShiftModifier)
    assert dock.current_proposal().lesion.lesion_id != first
    assert session.measurement(1, first) is None  # skipping records nothing
    lesions = session_layer(viewer, session, 1, "lesions")
    viewer.layers.selection.active = lesions
    lesions.mode = "add_polyline"
    QTest.keyClick(_canvas(viewer), Qt.Key.Key_Return)
    assert session.record.assessment(1) is None  # napari's Enter (finish drawing) ran instead
    lesions.mode = "pan_zoom"
    QTest.keyClick(_canvas(viewer), Qt.Key.Key_Return)  # with the lesion layer active
    (accepted,) = session.record.assessment(1).measurements
    # Both axes were one edit: one undo takes the whole measurement back, and its ghost too.
    session.undo()
    assert session.record.assessment(1) is None
    assert accepted in [p.lesion.lesion_id for p in dock.proposals()]


def test_click_to_measure_drag_and_hand_drawn_methods(make_napari_viewer, moved, qtbot):
    from napari_recist._napari.widgets.lesion_table import LesionTableWidget

    viewer = make_napari_viewer(show=True)  # mouse events reach a shown canvas only
    dock, session = _open_with_dock(viewer, moved, qtbot)
    _wait_for_proposals(dock, qtbot)
    spec = LESIONS[1]  # the turned liver ellipsoid
    world = _world_of(viewer, session, 1, true_centre_lps(spec, MOTION))
    viewer.dims.set_point(0, float(world[0]))
    point = _canvas_point(viewer, world)
    # An ordinary click measures nothing: the mode is off.
    QTest.mouseClick(_canvas(viewer), Qt.MouseButton.LeftButton, Qt.KeyboardModifier.NoModifier,
                     point)
    assert session.record.assessment(1) is None
    dock.set_click_mode(True)
    QTest.mouseClick(_canvas(viewer), Qt.MouseButton.LeftButton, Qt.KeyboardModifier.NoModifier,
                     point)
    row = session.measurement(1, "L2")
    assert row is not None and row.extra["method"] == "semi-automatic", dock.last_message
    assert _within(row.long_axis_mm, 2 * spec.semi_axes_mm[1][0])
    assert _within(row.short_axis_mm, 2 * spec.semi_axes_mm[1][1])
    assert "L2" not in [p.lesion.lesion_id for p in dock.proposals()]
    dock.set_click_mode(False)

    # The reader drags the long axis with napari's select tool: adjusted by reader.
    lesions = session_layer(viewer, session, 1, "lesions")
    viewer.layers.selection.active = lesions
    lesions.mode = "select"
    index = [i for i, (lesion, axis) in enumerate(zip(lesions.features["lesion_id"],
                                                      lesions.features["axis"], strict=True))
             if lesion == "L2" and axis == "long"][0]
    start = _canvas_point(viewer, lesions.data_to_world(lesions.data[index].mean(axis=0)))
    QTest.mousePress(_canvas(viewer), Qt.MouseButton.LeftButton,
                     Qt.KeyboardModifier.NoModifier, start)
    for step in range(1, 9):
        QTest.mouseMove(_canvas(viewer), QPoint(start.x() + step, start.y()))
    QTest.mouseRelease(_canvas(viewer), Qt.MouseButton.LeftButton,
                       Qt.KeyboardModifier.NoModifier, QPoint(start.x() + 8, start.y()))
    qtbot.waitUntil(lambda: session.measurement(1, "L2").extra.get("method")
                    == "semi-automatic, adjusted by reader", timeout=5000)

    # A line drawn by hand for another lesion is manual.
    lesions.mode = "pan_zoom"
    table = LesionTableWidget(viewer)
    centre = lesions.world_to_data(_world_of(viewer, session, 1,
                                             true_centre_lps(LESIONS[2], MOTION)))
    lesions.add_lines(np.array([centre - (0, 0, 8), centre + (0, 0, 8)], dtype=float))
    table.select_lesion("L3")
    assert table.add_drawn_line("long")
    assert session.measurement(1, "L3").extra["method"] == "manual"
    (saved,) = read_table(moved / SESSION_FILE).records
    methods = {i: m.extra["method"] for i, m in saved.assessment(1).measurements.items()
               if m.state is LesionState.MEASURED}
    assert methods == {"L2": "semi-automatic, adjusted by reader", "L3": "manual"}


def test_poor_registration_says_so_and_keeps_patient_coordinates(make_napari_viewer, moved,
                                                                qtbot, monkeypatch):
    from napari_recist._napari.widgets import propagation
    from napari_recist.imaging.propagation import lesion_centre
    from napari_recist.imaging.registration import RegistrationCache, RegistrationSettings

    strict = RegistrationCache(None, RegistrationSettings(poor_similarity=0.999))
    monkeypatch.setattr(propagation, "registration_cache", lambda: strict)
    viewer = make_napari_viewer()
    dock, session = _open_with_dock(viewer, moved, qtbot)
    _wait_for_proposals(dock, qtbot)
    text = dock.registration_text()
    assert text.startswith("Registration poor") and "same patient coordinates" in text
    for proposal in dock.proposals():
        baseline = session.measurement(0, proposal.lesion.lesion_id)
        assert proposal.confidence == 0.0
        np.testing.assert_allclose(proposal.centre_lps, lesion_centre(baseline), atol=1e-6)


def test_without_simpleitk_the_dock_says_what_to_install(make_napari_viewer, moved, qtbot,
                                                         monkeypatch):
    monkeypatch.setitem(sys.modules, "SimpleITK", None)
    viewer = make_napari_viewer()
    dock, _ = _open_with_dock(viewer, moved, qtbot)
    qtbot.waitUntil(lambda: not dock.busy, timeout=30000)
    qtbot.waitUntil(lambda: "napari-recist[imaging]" in dock.registration_text(), timeout=5000)
    assert not [layer for layer in viewer.layers if GHOSTS_KEY in layer.metadata]


def test_sample_dicom_shows_a_ghost_for_each_unmeasured_baseline_lesion(make_napari_viewer,
                                                                       tmp_path, qtbot,
                                                                       monkeypatch):
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    folder = Path(shutil.copytree(SAMPLE, tmp_path / "sample"))
    viewer = make_napari_viewer()
    viewer.open(str(folder), plugin="napari-recist")
    session = find_session(viewer)
    week16 = session.timepoints[-1].timepoint
    for lesion_id in list(session.record.assessment(week16).measurements):
        session.delete_measurement(week16, lesion_id)
    _, dock = viewer.window.add_plugin_dock_widget("napari-recist", "Propagation")
    show_timepoint(viewer, session, week16)
    qtbot.waitUntil(lambda: not dock.busy and dock.timepoint == week16, timeout=60000)
    rows = session.record.baseline.measurements
    with_lines = [lesion_id for lesion_id, m in rows.items()
                  if m.long_axis is not None or m.short_axis is not None]
    # Every baseline lesion is listed; those the baseline gives a position get a ghost.
    assert sorted(p.lesion.lesion_id for p in dock.proposals()) == sorted(rows)
    (ghosts,) = [layer for layer in viewer.layers if GHOSTS_KEY in layer.metadata]
    assert list(ghosts.shape_type).count("ellipse") == len(with_lines) >= 3
    assert set(ghosts.features["lesion_id"]) == set(with_lines)
    assert ghosts.visible
    # Another scan shown: its own proposals (week 8 is still measured: none), no ghosts of
    # week 16 left on screen.
    show_timepoint(viewer, session, 1)
    qtbot.waitUntil(lambda: dock.timepoint == 1 and not dock.busy, timeout=60000)
    assert dock.proposals() == []
    assert all(len(layer.data) == 0 for layer in viewer.layers if GHOSTS_KEY in layer.metadata)


def test_screenshot_script_writes_the_propagation_image(tmp_path: Path, make_napari_viewer):
    import importlib.util

    script = Path(__file__).resolve().parents[2] / "scripts" / "screenshot_propagation.py"
    spec = importlib.util.spec_from_file_location("screenshot_propagation", script)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    written = module.take_screenshot(SAMPLE, tmp_path / "images",
                                     viewer=make_napari_viewer(show=True))
    assert written.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert written.stat().st_size > 10_000
    assert not list(SAMPLE.rglob("napari-recist.session.csv"))  # it worked on a copy
