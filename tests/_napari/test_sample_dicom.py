"""The committed sample patient opened as a user would: layers, millimetres, true sizes."""

from __future__ import annotations

import shutil
from pathlib import Path

import numpy as np
import pytest

from napari_recist._napari.binding import find_session, session_layer, show_timepoint
from napari_recist._napari.layers import line_length_mm
from napari_recist._napari.widgets.lesion_table import LesionTableWidget
from napari_recist._napari.widgets.response_panel import ResponsePanelWidget
from napari_recist.palette import RESPONSE_COLOURS, hex_to_rgba
from napari_recist.sample import FIRST_VOXEL_LPS, PIXEL_MM, SLICE_MM, sample_record

pytestmark = pytest.mark.viewer

SAMPLE = Path(__file__).resolve().parents[2] / "sample_dicom"


@pytest.fixture
def sample_copy(tmp_path: Path) -> Path:
    """A writable copy: the viewer autosaves next to the data."""
    return Path(shutil.copytree(SAMPLE, tmp_path / "sample"))


def test_sample_dicom_in_the_viewer(make_napari_viewer, sample_copy: Path):
    viewer = make_napari_viewer()
    layers = viewer.open(str(sample_copy), plugin="napari-recist")
    assert [layer.name for layer in layers] == [
        "CT 2024-01-15 baseline", "lesions 2024-01-15 baseline",
        "CT 2024-03-11 TP1", "lesions 2024-03-11 TP1",
        "CT 2024-05-06 TP2", "lesions 2024-05-06 TP2",
    ]
    image = layers[0]
    assert image.data.shape == (60, 256, 256)
    np.testing.assert_allclose(image.scale, (SLICE_MM, PIXEL_MM, PIXEL_MM))
    np.testing.assert_allclose(image.translate, FIRST_VOXEL_LPS[::-1])
    session = find_session(viewer)
    truth = sample_record()
    # Every line drawn from the SRs measures the true diameter, through the layer's scale.
    for view in session.timepoints:
        layer = session_layer(viewer, session, view.timepoint, "lesions")
        expected = truth.assessment(view.timepoint).measurements
        for index, (lesion_id, axis) in enumerate(
            zip(layer.features["lesion_id"], layer.features["axis"], strict=True)
        ):
            size = getattr(expected[lesion_id], f"{axis}_axis_mm")
            assert line_length_mm(layer, index) == pytest.approx(size, abs=0.05)
    # The dissociated response of the sample: lung and node shrink, liver grows, a new lesion.
    last = session.lesion_responses(2)
    assert last["L1"] == "PR" and last["L2"] == "PD" and last["N1"] == "NEW"
    colours = session_layer(viewer, session, 2, "lesions")
    index = colours.features["lesion_id"].tolist().index("L2")
    np.testing.assert_allclose(colours.edge_color[index], hex_to_rgba(RESPONSE_COLOURS["PD"]))

    # Re-measure the liver lesion at week 16 with a 27-pixel line (40.5 mm, its baseline
    # size): the panel's sum and the lesion's colour follow.
    panel = ResponsePanelWidget(viewer)
    table = LesionTableWidget(viewer)
    assert "78.0" in panel.text()  # 14 + 56 + 8 (node: short axis)
    show_timepoint(viewer, session, 2)
    drawn = session_layer(viewer, session, 2, "lesions")
    drawn.add_lines(np.array([(16, 120, 60), (16, 120, 87)], dtype=float))
    assert line_length_mm(drawn, len(drawn.data) - 1) == pytest.approx(27 * PIXEL_MM)
    table.select_lesion("L2")
    assert table.add_drawn_line("long")
    assert session.measurement(2, "L2").long_axis_mm == pytest.approx(40.5)
    assert "62.5" in panel.text()
    assert session.lesion_responses(2)["L2"] != "PD"
    index = drawn.features["lesion_id"].tolist().index("L2")
    response = drawn.features["response"].iloc[index]
    np.testing.assert_allclose(drawn.edge_color[index], hex_to_rgba(RESPONSE_COLOURS[response]))
