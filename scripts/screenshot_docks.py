"""Screenshot of the viewer with several napari-recist docks open (README, issue 17).

Run under a virtual display (napari needs a real OpenGL context)::

    xvfb-run -a -s "-screen 0 1920x1200x24" .venv/bin/python scripts/screenshot_docks.py

It opens a temporary copy of ``sample_dicom/`` whose last scan has lost its CT images (so
the problems list and the "no CT" scan show), docks the lesion table, the response panel and
Export on the right, and writes ``docs/images/docks.png``.
"""

from __future__ import annotations

import argparse
import shutil
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(Path(__file__).resolve().parent))

from screenshot import _patient_copy, _settle  # noqa: E402 - the sibling script's helpers

WINDOW_SIZE = (1800, 1080)
DOCKS = ("Response panel", "Export")


def take_screenshot(source: Path | None, out: Path) -> Path:
    """Open the sample patient without its last CT, dock three widgets, save the PNG."""
    import napari

    from napari_recist._napari.binding import find_session

    out.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix="napari-recist-docks-") as tmp:
        folder = _patient_copy(source, Path(tmp))
        last = sorted(path for path in folder.iterdir() if path.is_dir())[-1]
        shutil.rmtree(last / "CT")
        viewer = napari.Viewer(title="napari-recist: several docks")
        viewer.window.resize(*WINDOW_SIZE)
        viewer.open(str(folder), plugin="napari-recist")
        if find_session(viewer) is None:
            raise SystemExit(f"the reader opened no patient from {folder}")
        for name in DOCKS:
            viewer.window.add_plugin_dock_widget("napari-recist", name)
        viewer.reset_view()
        _settle(viewer)
        target = out / "docks.png"
        viewer.screenshot(str(target), canvas_only=False)
        viewer.close()
    return target


def main(argv: list[str] | None = None) -> int:
    """Command line of the script; returns the exit code."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sample", type=Path, default=ROOT / "sample_dicom")
    parser.add_argument("--out", type=Path, default=ROOT / "docs" / "images")
    args = parser.parse_args(argv)
    print(f"wrote {take_screenshot(args.sample, args.out)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
