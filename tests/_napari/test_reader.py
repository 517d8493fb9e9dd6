from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from _viewer_patient import DATES, N_SLICES, ORIGIN, PIXEL_MM, SIZE, SLICE_MM

from napari_recist._napari.binding import find_session
from napari_recist._napari.reader import get_reader

pytestmark = pytest.mark.viewer


def test_get_reader_accepts_dicom_and_declines_the_rest(patient_folder: Path, tmp_path: Path):
    assert get_reader(str(patient_folder)) is not None
    any_slice = next(patient_folder.rglob("*.dcm"))
    assert get_reader(str(any_slice)) is not None
    # Files another reader claims (napari's own reads *.dcm and *.tif by name): declined,
    # so napari offers that reader.
    claimed = tmp_path / "notes"
    claimed.mkdir()
    (claimed / "a.txt").write_text("not dicom")
    (claimed / "b.dcm").write_bytes(b"short")
    assert get_reader(str(claimed)) is None
    assert get_reader([]) is None
    # Nothing anybody reads: accepted, to say so (tests/_napari/test_viewer_robustness.py).
    empty = tmp_path / "empty"
    empty.mkdir()
    assert get_reader(str(empty)) is not None


def test_open_patient_layers_in_millimetres(make_napari_viewer, patient_folder: Path):
    viewer = make_napari_viewer()
    layers = viewer.open(str(patient_folder), plugin="napari-recist")
    names = [layer.name for layer in layers]
    assert names == [
        f"{kind} {date.isoformat()} {label}"
        for date, label in zip(DATES, ("baseline", "TP1", "TP2"), strict=True)
        for kind in ("CT", "lesions")
    ]
    image = layers[0]
    assert image.data.shape == (N_SLICES, SIZE, SIZE)
    np.testing.assert_allclose(image.scale, (SLICE_MM, PIXEL_MM, PIXEL_MM))
    np.testing.assert_allclose(image.translate, (ORIGIN[2], ORIGIN[1], ORIGIN[0]))
    assert tuple(image.contrast_limits) == (-160.0, 240.0)  # soft tissue W400 L40
    # The lesion disc (60 HU above soft tissue) is at row 15, column 22 of every slice.
    assert int(np.asarray(image.data[2])[15, 22]) == 100
    shapes = layers[1]
    np.testing.assert_allclose(shapes.scale, image.scale)
    np.testing.assert_allclose(shapes.translate, image.translate)
    assert {"lesion_id", "role", "site", "axis", "length_mm", "response"} <= set(
        shapes.features.columns
    )
    assert [layer.visible for layer in layers] == [False, False, False, False, True, True]
    session = find_session(viewer)
    assert [view.timepoint for view in session.timepoints] == [0, 1, 2]
