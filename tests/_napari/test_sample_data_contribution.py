from __future__ import annotations

import time
from pathlib import Path

import pytest

from napari_recist._napari.binding import find_session
from napari_recist._napari.widgets.response_panel import ResponsePanelWidget

pytestmark = pytest.mark.viewer


def test_sample_patient_opens_with_coloured_lesions(make_napari_viewer, tmp_path: Path,
                                                    monkeypatch):
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path))
    viewer = make_napari_viewer()
    started = time.perf_counter()
    layers = viewer.open_sample("napari-recist", "sample_patient")
    elapsed = time.perf_counter() - started
    print(f"sample patient written and opened in {elapsed:.1f} s")
    session = find_session(viewer)
    assert len(session.timepoints) == 3
    assert len([layer for layer in layers if layer._type_string == "image"]) == 3
    assert (tmp_path / "napari-recist" / "sample-patient" / "lesions.csv").is_file()
    lesion_layers = [layer for layer in layers if layer._type_string == "shapes"]
    responses = set()
    for layer in lesion_layers:
        assert len(layer.data) > 0
        responses |= set(layer.features["response"])
    assert {"PD", "PR"} <= responses  # a dissociated response
    panel = ResponsePanelWidget(viewer)
    assert "Best overall response" in panel.text()
