"""Regression: scrolling while big volumes load in the background (issue 17).

napari slices a lazy (dask) volume inside its opportunistic dask cache, whose callbacks are
global and not thread safe (dask issue 10396): the background loader computing the same
dask arrays meanwhile gave KeyErrors, undrawn slices and a dead loader. The loader now reads
the files without dask; this test scrolls with Ctrl+wheel (napari's own slice scrolling)
during the load of a patient whose volumes are all treated as big, 20 times. The worker
reads a slice only after the user scrolled once (a real read in lockstep with real wheel
events): every slice read overlaps napari slicing, the worst case, deterministically.
"""

from __future__ import annotations

import datetime as dt
import threading
import time
from pathlib import Path

import numpy as np
import pytest
from pydicom.uid import generate_uid
from qtpy.QtCore import QPoint, QPointF, Qt
from qtpy.QtGui import QWheelEvent
from qtpy.QtWidgets import QApplication

from napari_recist._napari import reader
from napari_recist._napari.binding import IMAGE, find_session, session_layer
from napari_recist.sample import CTSeriesIdentity, write_ct_series

pytestmark = pytest.mark.viewer

RUNS = 20
LOAD_SECONDS = 30.0  # a run takes about a second here
DATES = (dt.date(2024, 1, 10), dt.date(2024, 3, 6), dt.date(2024, 5, 2))
SLICES, SIZE = 4, 128


def _write_big_patient(root: Path) -> Path:
    """Three RLE-compressed scans (decoding keeps the loader busy while the user scrolls)."""
    rng = np.random.default_rng(17)
    hu = rng.integers(-200, 200, size=(SLICES, SIZE, SIZE), dtype=np.int16)
    for date in DATES:
        key = ["RACE", date.isoformat()]
        identity = CTSeriesIdentity(
            patient={"PatientID": "RACE", "PatientName": "Race^Test",
                     "PatientBirthDate": "19600101", "PatientSex": "F"},
            study_uid=generate_uid(entropy_srcs=[*key, "study"]),
            study_date=date, study_id="1", accession_number="", study_description="race",
            series_uid=generate_uid(entropy_srcs=[*key, "series"]), series_number=2,
            series_description="race CT",
            frame_of_reference_uid=generate_uid(entropy_srcs=[*key, "frame"]),
        )
        write_ct_series(hu, root / date.isoformat() / "CT", identity,
                        first_voxel_lps=(-50.0, -50.0, 0.0), pixel_mm=0.8, slice_mm=2.0,
                        compress=True)
    return root


def _ctrl_wheel(canvas, steps: int) -> None:
    centre = QPointF(canvas.width() / 2, canvas.height() / 2)
    for _ in range(abs(steps)):
        delta = QPoint(0, 120 if steps > 0 else -120)
        # The QPointF global position and scoped enums work with PyQt5 and PyQt6 alike.
        event = QWheelEvent(centre, QPointF(canvas.mapToGlobal(centre.toPoint())),
                            QPoint(0, 0), delta, Qt.MouseButton.NoButton,
                            Qt.KeyboardModifier.ControlModifier, Qt.ScrollPhase.NoScrollPhase,
                            False)
        QApplication.sendEvent(canvas, event)
        QApplication.processEvents()


def test_scrolling_while_big_volumes_load(make_napari_viewer, tmp_path: Path, monkeypatch,
                                          qtbot):
    from napari.utils.notifications import notification_manager

    monkeypatch.setattr(reader, "EAGER_BYTES", 0)  # every volume loads in the background
    scrolled = threading.Semaphore(0)
    read_volume = reader.read_volume

    def read_in_lockstep(source, progress=None):
        def after_each_slice(count: int) -> None:
            scrolled.acquire(timeout=2.0)  # never a deadlock: at worst the read goes on
            if progress is not None:
                progress(count)
        return read_volume(source, after_each_slice)

    monkeypatch.setattr(reader, "read_volume", read_in_lockstep)
    folder = _write_big_patient(tmp_path / "patient")
    viewer = make_napari_viewer(show=True)
    viewer.window._qt_window.resize(640, 480)  # a small canvas draws fast
    canvas = viewer.window._qt_viewer.canvas.native
    errors: list[object] = []
    for run in range(RUNS):
        before = len(notification_manager.records)
        viewer.layers.clear()
        viewer.open(str(folder), plugin="napari-recist")
        session = find_session(viewer)
        worker = session.loader
        worker.errored.connect(errors.append)
        images = [session_layer(viewer, session, view.timepoint, IMAGE)
                  for view in session.timepoints]
        for layer in images:  # the scans scrolled are the ones being read
            layer.visible = True
        step, deadline = 0, time.monotonic() + LOAD_SECONDS
        while not all(isinstance(layer.data, np.ndarray) for layer in images):
            assert time.monotonic() < deadline, f"run {run}: the loader never finished"
            _ctrl_wheel(canvas, 1 if step % 4 < 2 else -1)
            scrolled.release()
            step += 1
        qtbot.waitUntil(lambda: not worker.is_running, timeout=10000)  # noqa: B023
        new = [str(record) for record in notification_manager.records[before:]
               if "Error" in type(getattr(record, "exception", None) or record).__name__
               or getattr(record, "severity", "") == "error"]
        assert not new, f"run {run}: {new}"
        assert step > 0, "the load ended before any scrolling: make the patient bigger"
    assert not errors
