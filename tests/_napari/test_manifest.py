from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import yaml
from npe2 import PluginManifest

ROOT = Path(__file__).resolve().parents[2]


def test_npe2_validate_passes():
    npe2 = Path(sys.executable).parent / "npe2"
    done = subprocess.run(
        [str(npe2), "validate", "--imports", "napari-recist"],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    assert "valid" in done.stdout


def test_package_manifest_is_the_top_level_one():
    inside = ROOT / "src" / "napari_recist" / "napari.yaml"
    assert inside.is_symlink()
    assert inside.resolve() == (ROOT / "napari.yaml").resolve()
    manifest = PluginManifest.from_distribution("napari-recist")
    assert manifest.name == "napari-recist"
    declared = yaml.safe_load((ROOT / "napari.yaml").read_text())
    widgets = {w["display_name"] for w in declared["contributions"]["widgets"]}
    expected = {"Lesion table", "Response panel", "Compare two scans", "Export", "Patient plots"}
    assert expected <= widgets
    reader = manifest.contributions.readers[0]
    assert reader.accepts_directories
    assert manifest.contributions.writers[0].layer_types == ["shapes"]
