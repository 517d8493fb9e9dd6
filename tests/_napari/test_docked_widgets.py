from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from _viewer_patient import write_patient_with_sr

from napari_recist._napari.binding import find_session, session_layer, show_timepoint
from napari_recist.palette import RESPONSE_COLOURS, hex_to_rgba

pytestmark = pytest.mark.viewer

WIDGETS = ("Lesion table", "Response panel", "Compare two scans", "Export", "Patient plots")


def test_widgets_docked_from_the_manifest_follow_edits(make_napari_viewer, tmp_path: Path):
    """The path a user takes: Plugins > napari-recist > widget (napari passes a proxy)."""
    folder = write_patient_with_sr(tmp_path / "patient")
    viewer = make_napari_viewer()
    viewer.open(str(folder), plugin="napari-recist")
    docked = {}
    for name in WIDGETS:
        _, widget = viewer.window.add_plugin_dock_widget("napari-recist", name)
        docked[name] = widget
    table, panel, plots = docked["Lesion table"], docked["Response panel"], docked["Patient plots"]
    assert table.model.rowCount() == 1
    assert plots.result is not None  # the plot shows the patient as soon as it is docked
    assert "Best overall response" in panel.text()

    # Re-measure L1 at the last scan smaller than the nadir: PD becomes PR, colour follows.
    session = find_session(viewer)
    show_timepoint(viewer, session, 2)
    layer = session_layer(viewer, session, 2, "lesions")
    assert layer.features["response"].tolist() == ["PD"]
    layer.add_lines(np.array([(2, 15, 18), (2, 15, 26)], dtype=float))  # 8 px = 6 mm
    table.select_lesion("L1")
    assert table.add_drawn_line("long")
    assert layer.features["response"].tolist() == ["PR"]
    np.testing.assert_allclose(layer.edge_color[0], hex_to_rgba(RESPONSE_COLOURS["PR"]))
    assert plots.result is not None
    assert plots.result["timepoints"][-1]["lesions"]["L1"] == "PR"
    assert panel.text().count("PR") >= 2
