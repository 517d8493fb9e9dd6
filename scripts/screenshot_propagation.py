"""Regenerate the README screenshot of the Propagation dock with the sample patient.

Run under a virtual display (napari needs a real OpenGL context)::

    xvfb-run -a -s "-screen 0 1920x1200x24" .venv/bin/python scripts/screenshot_propagation.py

It opens a temporary copy of ``sample_dicom/`` with the napari-recist reader, deletes the
week-16 measurements (as if that scan were not read yet), docks *Propagation* from the
plugin's manifest, shows week 16 and waits for the registration; then accepts the first
proposal (as Enter does) and saves ``docs/images/propagation.png``: the accepted lesion's
measured lines, the cyan ghosts of the others with their baseline lines, and the dock.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
WINDOW_SIZE = (1800, 1080)
DOCK_WIDTH = 560


def take_screenshot(source: Path, out: Path, timeout_s: float = 120.0,
                    viewer: object | None = None) -> Path:
    """Open the sample patient, propose its baseline lesions on week 16, save the image.

    Parameters
    ----------
    source
        Sample patient folder to copy (it must have a baseline and a later scan).
    out
        Folder for the PNG file.
    timeout_s
        Longest wait for the registration.
    viewer
        A napari viewer to use (e.g. a test's); default a new one, closed at the end.

    Returns
    -------
    Path
        The image written.
    """
    import os
    import shutil

    import napari
    from qtpy.QtCore import Qt
    from qtpy.QtWidgets import QApplication

    from napari_recist._napari.binding import camera, find_session, show_timepoint

    out.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix="napari-recist-shot-") as tmp:
        os.environ["XDG_CACHE_HOME"] = str(Path(tmp) / "cache")  # leave the user's alone
        folder = Path(shutil.copytree(source, Path(tmp) / "sample-patient"))
        for saved in folder.rglob("napari-recist.session.csv"):
            saved.unlink()
        own_viewer = viewer is None
        if viewer is None:
            viewer = napari.Viewer(title="napari-recist: lesion propagation")
        viewer.window.resize(*WINDOW_SIZE)
        viewer.open(str(folder), plugin="napari-recist")
        session = find_session(viewer)
        if session is None:
            raise SystemExit(f"the reader opened no patient from {folder}")
        last = session.timepoints[-1].timepoint
        for lesion_id in list(session.record.assessment(last).measurements):
            session.delete_measurement(last, lesion_id)
        dock_widget, dock = viewer.window.add_plugin_dock_widget("napari-recist", "Propagation")
        viewer.window._qt_window.resizeDocks([dock_widget], [DOCK_WIDTH], Qt.Horizontal)
        show_timepoint(viewer, session, last)
        started = time.perf_counter()
        while dock.busy or dock.timepoint != last:
            QApplication.processEvents()
            time.sleep(0.01)
            if time.perf_counter() - started > timeout_s:
                raise SystemExit(f"no proposals after {timeout_s:g} s: "
                                 f"{dock.registration_text()}")
        viewer.reset_view()
        dock.accept_current()  # what Enter does; the next proposal becomes current
        camera(viewer).zoom *= 1.3
        for _ in range(20):
            QApplication.processEvents()
        # Imported once the viewer exists (earlier, napari's icons would not load).
        from napari._qt.dialogs.qt_notification import NapariQtNotification

        for popup in viewer.window._qt_window.findChildren(NapariQtNotification):
            popup.close()  # a notification would cover the canvas
        for _ in range(20):
            QApplication.processEvents()
        target = out / "propagation.png"
        viewer.screenshot(str(target), canvas_only=False)
        if own_viewer:
            viewer.close()
    return target


def main(argv: list[str] | None = None) -> int:
    """Command line of the script; returns the exit code."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sample", type=Path, default=ROOT / "sample_dicom",
                        help="sample patient folder (default: sample_dicom/)")
    parser.add_argument("--out", type=Path, default=ROOT / "docs" / "images",
                        help="folder for the PNG file (default: docs/images)")
    args = parser.parse_args(argv)
    print(f"wrote {take_screenshot(args.sample, args.out)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
