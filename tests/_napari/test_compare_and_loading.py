from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from _viewer_patient import write_patient_with_sr

from napari_recist._napari import reader
from napari_recist._napari.binding import find_session, lesion_centre_world, session_layer
from napari_recist._napari.widgets.compare import CompareWidget
from napari_recist.io.display_geometry import DisplayGeometry, flip_for_display

pytestmark = pytest.mark.viewer


def test_compare_two_scans_centred_on_a_lesion(make_napari_viewer, tmp_path: Path):
    folder = write_patient_with_sr(tmp_path / "patient")
    viewer = make_napari_viewer()
    viewer.open(str(folder), plugin="napari-recist")
    session = find_session(viewer)
    compare = CompareWidget(viewer)
    assert compare.left_box.value == 0
    assert compare.right_box.value == 2
    before = {tp: session_layer(viewer, session, tp, "image").translate.copy() for tp in (0, 2)}
    assert compare.compare(0, 2, "L1")
    assert viewer.canvas.grid.enabled
    visible = [layer.name for layer in viewer.layers if layer.visible]
    assert len(visible) == 4 and all("TP1" not in name for name in visible)
    # The lesion sits at the same world point in both scans (hence in both grid cells), on
    # the slice shown, although it has a different size and centre in each.
    left = lesion_centre_world(viewer, session, 0, "L1")
    right = lesion_centre_world(viewer, session, 2, "L1")
    np.testing.assert_allclose(left, right, atol=1e-6)
    assert viewer.dims.point[0] == pytest.approx(left[0])
    # One camera for both cells, centred on that point: the lesion is centred in both.
    np.testing.assert_allclose(viewer.scene.camera.center[-2:], left[-2:], atol=1e-6)
    assert compare.lesion_box.value == "L1"
    compare.stop()
    assert not viewer.canvas.grid.enabled
    for tp, translate in before.items():
        np.testing.assert_allclose(session_layer(viewer, session, tp, "image").translate, translate)


def test_big_volume_loads_in_a_worker(make_napari_viewer, tmp_path: Path, monkeypatch, qtbot):
    monkeypatch.setattr(reader, "EAGER_BYTES", 0)  # treat every volume as big
    folder = write_patient_with_sr(tmp_path / "patient")
    viewer = make_napari_viewer()
    added_as = []
    viewer.layers.events.inserted.connect(
        lambda event: added_as.append(type(event.value.data).__module__.split(".")[0])
    )
    layers = viewer.open(str(folder), plugin="napari-recist")
    image = layers[0]
    assert added_as[0] == "dask"  # the lazy volume is shown first
    worker = find_session(viewer).loader
    qtbot.waitUntil(lambda: not worker.is_running, timeout=10000)
    qtbot.waitUntil(lambda: isinstance(image.data, np.ndarray), timeout=5000)
    assert image.data.shape == (5, 40, 40)
    assert tuple(image.contrast_limits) == (-160.0, 240.0)


def test_display_geometry_flips_and_oblique_round_trip():
    # Slices stored head-to-feet (negative z step) and rows running anterior: both flipped.
    affine = np.array(
        [[0.0, 0.0, 0.7, -10.0], [0.0, -0.7, 0.0, 30.0], [-2.0, 0.0, 0.0, 50.0], [0, 0, 0, 1]]
    )
    geometry, flips = DisplayGeometry.from_affine(affine, (4, 8, 8))
    assert flips == (0, 1)
    transform = geometry.layer_transform()
    assert all(value > 0 for value in transform["scale"])
    original = np.arange(4 * 8 * 8).reshape(4, 8, 8)
    shown = flip_for_display(original, flips)
    # The same voxel has the same patient position before and after the flip.
    lps_original = (affine @ [1, 2, 3, 1])[:3]
    data = geometry.lps_to_data(lps_original[None])[0]
    np.testing.assert_allclose(data, [4 - 1 - 1, 8 - 1 - 2, 3])
    assert shown[tuple(int(v) for v in np.round(data))] == original[1, 2, 3]
    # An oblique acquisition keeps its orientation through a full affine.
    angle = np.deg2rad(20)
    oblique = np.eye(4)
    oblique[:3, :3] = np.array(
        [[0, np.sin(angle), np.cos(angle)], [0, np.cos(angle), -np.sin(angle)], [1, 0, 0]]
    ) * [2.0, 0.5, 0.5]
    geometry, flips = DisplayGeometry.from_affine(oblique, (3, 5, 5))
    assert "affine" in geometry.layer_transform()
    points = np.array([[1.0, 2.0, 3.0], [0.0, 4.0, 1.0]])
    np.testing.assert_allclose(geometry.lps_to_data(geometry.data_to_lps(points)), points)
