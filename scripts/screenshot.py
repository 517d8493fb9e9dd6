"""Regenerate the README screenshots of the viewer with the sample patient.

Run under a virtual display (napari needs a real OpenGL context)::

    xvfb-run -a -s "-screen 0 1920x1200x24" .venv/bin/python scripts/screenshot.py

It opens a temporary copy of ``sample_dicom/`` (or a freshly generated sample patient when
the folder is absent) with the napari-recist reader, docks the plugin's widgets from its
manifest, and writes ``docs/images/viewer.png`` (the last scan, lesions coloured by their
response, the lesion table and the response panel) and ``docs/images/compare.png`` (baseline
and last scan side by side, centred on the progressing lesion).
"""

from __future__ import annotations

import argparse
import shutil
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
WINDOW_SIZE = (1800, 1080)
DOCK_WIDTH = 620  # the lesion table, right
PANEL_HEIGHT = 400  # the response panel, bottom


def _patient_copy(source: Path | None, workdir: Path) -> Path:
    """A writable copy of the sample patient (the viewer autosaves next to the data)."""
    folder = workdir / "sample-patient"
    if source is not None and source.is_dir():
        shutil.copytree(source, folder)
    else:
        from napari_recist.sample import write_sample

        write_sample(folder)
    for saved in folder.rglob("napari-recist.session.csv"):
        saved.unlink()
    return folder


def _settle(viewer: object, rounds: int = 10) -> None:
    """Let Qt draw, and close notification pop-ups that would cover the canvas."""
    from napari._qt.dialogs.qt_notification import NapariQtNotification
    from qtpy.QtWidgets import QApplication

    for _ in range(rounds):
        QApplication.processEvents()
    window = viewer.window._qt_window  # type: ignore[attr-defined]
    for popup in window.findChildren(NapariQtNotification):
        popup.close()
    for _ in range(rounds):
        QApplication.processEvents()


def _progressing_lesion(session: object, timepoint: int) -> str | None:
    """The first lesion classified PD at a time point (the one worth showing)."""
    responses = session.lesion_responses(timepoint)  # type: ignore[attr-defined]
    for lesion_id, response in sorted(responses.items()):
        if response == "PD":
            return lesion_id
    return next(iter(sorted(responses)), None)


def take_screenshots(source: Path | None, out: Path) -> list[Path]:
    """Open the sample patient, dock the widgets and save the screenshots.

    Parameters
    ----------
    source
        Sample patient folder to copy, or None to generate one.
    out
        Folder for the PNG files.

    Returns
    -------
    list of Path
        The images written.
    """
    import napari
    from qtpy.QtCore import Qt

    from napari_recist._napari.binding import (
        camera,
        centre_on_lesion,
        find_session,
        show_timepoint,
    )
    from napari_recist._napari.widgets.response_panel import ResponsePanelWidget

    out.mkdir(parents=True, exist_ok=True)
    written: list[Path] = []
    with tempfile.TemporaryDirectory(prefix="napari-recist-shot-") as tmp:
        folder = _patient_copy(source, Path(tmp))
        viewer = napari.Viewer(title="napari-recist: sample patient")
        viewer.window.resize(*WINDOW_SIZE)
        viewer.open(str(folder), plugin="napari-recist")
        session = find_session(viewer)
        if session is None:
            raise SystemExit(f"the reader opened no patient from {folder}")
        table_dock, _ = viewer.window.add_plugin_dock_widget("napari-recist", "Lesion table")
        panel = ResponsePanelWidget(viewer)
        panel_dock = viewer.window.add_dock_widget(panel, name="Response panel", area="bottom")
        window = viewer.window._qt_window
        window.resizeDocks([table_dock], [DOCK_WIDTH], Qt.Horizontal)
        window.resizeDocks([panel_dock], [PANEL_HEIGHT], Qt.Vertical)
        last = session.timepoints[-1].timepoint
        lesion_id = _progressing_lesion(session, last)
        show_timepoint(viewer, session, last)
        viewer.reset_view()
        if lesion_id is not None:
            centre_on_lesion(viewer, session, last, lesion_id)
        camera(viewer).zoom *= 1.2
        _settle(viewer)
        target = out / "viewer.png"
        viewer.screenshot(str(target), canvas_only=False)
        written.append(target)

        _, compare = viewer.window.add_plugin_dock_widget("napari-recist", "Compare two scans")
        compare.compare(session.timepoints[0].timepoint, last, lesion_id)
        _settle(viewer)
        target = out / "compare.png"
        viewer.screenshot(str(target), canvas_only=False)
        written.append(target)
        compare.stop()
        viewer.close()
    return written


def main(argv: list[str] | None = None) -> int:
    """Command line of the script; returns the exit code."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sample", type=Path, default=ROOT / "sample_dicom",
                        help="sample patient folder (default: sample_dicom/, else generated)")
    parser.add_argument("--out", type=Path, default=ROOT / "docs" / "images",
                        help="folder for the PNG files (default: docs/images)")
    args = parser.parse_args(argv)
    for path in take_screenshots(args.sample, args.out):
        print(f"wrote {path}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
