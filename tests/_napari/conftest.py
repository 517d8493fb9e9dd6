from __future__ import annotations

from pathlib import Path

import pytest
from _viewer_patient import write_patient


@pytest.fixture
def patient_folder(tmp_path: Path) -> Path:
    """Three CT scans of one patient, no SR yet."""
    return write_patient(tmp_path / "patient")


@pytest.fixture(autouse=True)
def _napari_settings_in_memory(monkeypatch):
    """napari's settings without a file: the plugin's reader preference (set when it is
    activated) and make_napari_viewer's reset never touch the user's settings.yaml."""
    try:
        import napari.settings as napari_settings
        from napari.settings import NapariSettings
    except ImportError:  # the core tests run without napari
        yield None
        return
    settings = NapariSettings(config_path=None)
    monkeypatch.setattr(napari_settings, "_SETTINGS", settings)
    yield settings
