"""Headless Chromium (Debian `chromium`): render an HTML file to a PNG screenshot."""

from __future__ import annotations

import shutil
import subprocess
import tempfile
from pathlib import Path

FLAGS = (
    "--headless",
    "--no-sandbox",  # tests run as root in containers
    "--disable-gpu",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--hide-scrollbars",
)


def chromium_binary() -> str:
    """Path of the Chromium executable (installed by `make test` through DEB_PACKAGES)."""
    for name in ("chromium", "chromium-browser"):
        path = shutil.which(name)
        if path:
            return path
    raise RuntimeError("chromium is not installed: run `make system-deps` (Debian chromium)")


def screenshot(html_file: Path, png_file: Path, width: int = 1280, height: int = 2000) -> Path:
    """Render a local HTML file (no network) and save a screenshot of the viewport."""
    with tempfile.TemporaryDirectory(prefix="chromium-profile-") as profile:
        subprocess.run(
            [
                chromium_binary(),
                *FLAGS,
                f"--user-data-dir={profile}",
                f"--window-size={width},{height}",
                f"--screenshot={png_file}",
                html_file.resolve().as_uri(),
            ],
            check=True,
            capture_output=True,
            timeout=60,
        )
    return png_file
