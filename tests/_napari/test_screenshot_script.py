from __future__ import annotations

import importlib.util
from pathlib import Path

import pytest
from _viewer_patient import write_patient_with_sr

pytestmark = pytest.mark.viewer

SCRIPT = Path(__file__).resolve().parents[2] / "scripts" / "screenshot.py"


def test_screenshot_script_writes_both_images(tmp_path: Path, qapp):
    spec = importlib.util.spec_from_file_location("screenshot_script", SCRIPT)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    patient = write_patient_with_sr(tmp_path / "patient")
    written = module.take_screenshots(patient, tmp_path / "images")
    assert [path.name for path in written] == ["viewer.png", "compare.png"]
    for path in written:
        assert path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
        assert path.stat().st_size > 10_000
    # The script works on a copy: the patient folder gets no session file.
    assert not (patient / "napari-recist.session.csv").exists()
