"""Real SRs of other projects in the viewer (../shared/interop/real): refusals and regions."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
from napari.utils.notifications import notification_manager

from napari_recist._napari.binding import find_session

REAL = Path(__file__).resolve().parents[2].parent / "shared" / "interop" / "real"

pytestmark = pytest.mark.skipif(
    not REAL.is_dir(), reason=f"{REAL} (real SRs kept beside the repository) is absent")


def _messages_since(start: int) -> str:
    return "\n".join(str(n.message) for n in notification_manager.records[start:])


def test_folder_with_only_a_non_tid1500_sr_names_the_file_and_the_reason(
        make_napari_viewer, tmp_path: Path):
    folder = tmp_path / "offis"
    folder.mkdir()
    shutil.copy(REAL / "pydicom" / "test-SR.dcm", folder / "test-SR.dcm")
    viewer = make_napari_viewer()
    start = len(notification_manager.records)
    assert viewer.open(str(folder), plugin="napari-recist") == []
    text = _messages_since(start)
    assert str(folder / "test-SR.dcm") in text
    assert "not a TID 1500 measurement report" in text
    assert "nothing could be loaded" not in text


def test_circle_of_a_highdicom_tid1410_group_is_drawn(make_napari_viewer, tmp_path: Path):
    folder = tmp_path / "highdicom"
    folder.mkdir()
    for name in ("sr_document_with_multiple_groups.dcm", "ct_image.dcm"):
        shutil.copy(REAL / "highdicom" / name, folder / name)
    viewer = make_napari_viewer()
    viewer.open(str(folder), plugin="napari-recist")
    session = find_session(viewer)
    assert list(session.record.lesions) == ["LungNodule0001"]  # not the aorta, not the vertebra
    (layer,) = [layer for layer in viewer.layers if "lesion_id" in getattr(layer, "features", {})]
    axes = layer.features["axis"].tolist()
    assert axes == ["region"]
    assert layer.features["lesion_id"].tolist() == ["LungNodule0001"]
    assert len(layer.data[0]) == 49 and layer.shape_type == ["path"]
