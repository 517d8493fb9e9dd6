from __future__ import annotations

import shutil
from pathlib import Path

import numpy as np
import pytest
from _viewer_patient import PIXEL_MM, write_ct, write_patient_with_sr
from napari.utils.notifications import notification_manager

from napari_recist._napari.binding import find_session, session_layer, show_timepoint
from napari_recist._napari.session import SESSION_FILE
from napari_recist._napari.widgets.export import ExportWidget
from napari_recist._napari.widgets.lesion_table import LesionTableWidget
from napari_recist._napari.widgets.response_panel import ResponsePanelWidget
from napari_recist.io.sr import read_sr
from napari_recist.io.table import read_table
from napari_recist.model import Role
from napari_recist.palette import RESPONSE_COLOURS, hex_to_rgba

pytestmark = pytest.mark.viewer


def messages_since(start: int) -> str:
    return "\n".join(str(n.message) for n in notification_manager.records[start:])


def test_open_patient_with_sr_draws_the_lines(make_napari_viewer, tmp_path: Path):
    folder = write_patient_with_sr(tmp_path / "patient")
    viewer = make_napari_viewer()
    viewer.open(str(folder), plugin="napari-recist")
    session = find_session(viewer)
    assert set(session.record.lesions) == {"L1"}
    baseline = session_layer(viewer, session, 0, "lesions")
    # 20 pixels along row 15 of slice 2, centred on column 22: back in voxel indices.
    np.testing.assert_allclose(baseline.data[0], [[2, 15, 12], [2, 15, 32]], atol=1e-3)
    assert baseline.features["length_mm"].tolist() == [pytest.approx(20 * PIXEL_MM)]
    assert baseline.features["role"].tolist() == ["target"]
    assert baseline.features["site"].tolist() == ["lung"]
    assert baseline.features["axis"].tolist() == ["long"]
    baseline.add_lines(np.array([(1, 5, 5), (1, 5, 9)], dtype=float))
    assert baseline.features["lesion_id"].tolist() == ["L1", ""]  # a new line is nobody's
    follow_up = session_layer(viewer, session, 1, "lesions")  # 12 px: -40 %, PR
    assert follow_up.features["response"].tolist() == ["PR"]
    np.testing.assert_allclose(follow_up.edge_color[0], hex_to_rgba(RESPONSE_COLOURS["PR"]))
    last = session_layer(viewer, session, 2, "lesions")  # 28 px from a 12 px nadir: PD
    assert last.features["response"].tolist() == ["PD"]
    panel = ResponsePanelWidget(viewer)
    assert "Best overall response" in panel.text()
    assert "PR" in panel.text() and "PD" in panel.text()


def test_edits_survive_reopening(make_napari_viewer, tmp_path: Path):
    folder = write_patient_with_sr(tmp_path / "patient")
    viewer = make_napari_viewer()
    viewer.open(str(folder), plugin="napari-recist")
    session = find_session(viewer)
    table = LesionTableWidget(viewer)
    show_timepoint(viewer, session, 0)
    layer = session_layer(viewer, session, 0, "lesions")
    layer.add_lines(np.array([(3, 30, 5), (3, 30, 25)], dtype=float))  # 15 mm
    table.role_box.value = Role("non-target")
    table.site_box.value = "liver"
    new_id = table.create_lesion()
    assert table.add_drawn_line("long")
    table.select_lesion("L1")
    table.site_box.value = "pleura"
    table.apply_lesion_edits()
    saved = read_table(folder / SESSION_FILE).records[0]
    assert saved.lesions["L1"].site == "pleura"
    assert saved.assessment(0).measurements[new_id].long_axis_mm == pytest.approx(15.0)

    again = make_napari_viewer()
    again.open(str(folder), plugin="napari-recist")
    reopened = find_session(again)
    assert reopened is not session
    assert reopened.record.lesions["L1"].site == "pleura"
    assert reopened.record.lesions[new_id].role.value == "non-target"
    lines = session_layer(again, reopened, 0, "lesions")
    assert sorted(lines.features["lesion_id"]) == ["L1", new_id]
    index = lines.features["lesion_id"].tolist().index(new_id)
    np.testing.assert_allclose(lines.data[index], [[3, 30, 5], [3, 30, 25]], atol=1e-3)


def test_export_sr_and_csv_read_back(make_napari_viewer, tmp_path: Path):
    folder = write_patient_with_sr(tmp_path / "patient")
    viewer = make_napari_viewer()
    viewer.open(str(folder), plugin="napari-recist")
    # A lymph node measured in the viewer at baseline: long and short axis drawn.
    session = find_session(viewer)
    table = LesionTableWidget(viewer)
    show_timepoint(viewer, session, 0)
    layer = session_layer(viewer, session, 0, "lesions")
    table.role_box.value = Role("target")
    table.site_box.value = "lymph node"
    table.nodal_box.value = True
    node = table.create_lesion()
    layer.add_lines(np.array([(1, 30, 5), (1, 30, 25)], dtype=float))  # 15 mm
    assert table.add_drawn_line("long")
    layer.add_lines(np.array([(1, 25, 15), (1, 37, 15)], dtype=float))  # 9 mm
    assert table.add_drawn_line("short")
    labels = dict(zip(layer.features["axis"], layer.features["label"], strict=False))
    assert labels["short"] == "" and labels["long"].startswith("L")

    export = ExportWidget(viewer)
    written = export.export_sr(tmp_path / "out")
    assert len(written) == 3
    back = read_sr(written[1])
    assert not back.problems
    assert back.measurements["L1"].long_axis_mm == pytest.approx(12 * PIXEL_MM)
    assert back.lesions["L1"].site == "lung"
    baseline = read_sr(written[0])
    assert baseline.lesions[node].nodal
    assert baseline.measurements[node].long_axis_mm == pytest.approx(15.0)
    assert baseline.measurements[node].short_axis_mm == pytest.approx(9.0)
    assert baseline.measurements[node].short_axis.referenced_sop_uid == (
        session.view(0).slice_uids[1]
    )
    csv = export.export_csv(tmp_path / "out" / "lesions.csv")
    table = read_table(csv).records[0]
    assert [a.timepoint for a in table.assessments] == [0, 1, 2]
    # The writer contribution: save a lesion layer as the patient's table.
    layer = session_layer(viewer, find_session(viewer), 2, "lesions")
    saved = layer.save(str(tmp_path / "out" / "from_layer.csv"), plugin="napari-recist")
    assert read_table(saved[0] if isinstance(saved, list) else saved).records[0].lesions


def test_sr_without_images_shows_lesions_in_patient_space(make_napari_viewer, tmp_path: Path):
    scans = tmp_path / "scans"
    reports = tmp_path / "reports-only"
    write_patient_with_sr(scans, sr_folder=reports)
    shutil.rmtree(scans)
    viewer = make_napari_viewer()
    start = len(notification_manager.records)
    layers = viewer.open(str(reports), plugin="napari-recist")
    assert [layer._type_string for layer in layers] == ["shapes"] * 3
    text = messages_since(start)
    assert "without the CT images" in text
    # The SR's lines are drawn on images that are not there: their sizes still count.
    assert "not among the images found" in text
    session = find_session(viewer)
    assert session.measurement(1, "L1").long_axis_mm == pytest.approx(12 * PIXEL_MM)
    assert session.lesion_responses(1)["L1"] == "PR"


def test_single_ct_slice_opens_with_a_note(make_napari_viewer, tmp_path: Path):
    files = write_ct(tmp_path / "one", __import__("datetime").date(2024, 1, 10), n_slices=1)
    viewer = make_napari_viewer()
    start = len(notification_manager.records)
    layers = viewer.open(str(files[0]), plugin="napari-recist")
    assert layers[0].data.shape[0] == 1
    assert "single slice" in messages_since(start)


def test_dicom_without_ct_or_sr_is_a_notification(make_napari_viewer, tmp_path: Path):
    folder = tmp_path / "mr"
    files = write_ct(folder, __import__("datetime").date(2024, 1, 10), n_slices=2)
    import pydicom

    for path in files:
        ds = pydicom.dcmread(path)
        ds.Modality = "MR"
        ds.SOPClassUID = "1.2.840.10008.5.1.4.1.1.4"
        ds.file_meta.MediaStorageSOPClassUID = ds.SOPClassUID
        ds.save_as(path)
    viewer = make_napari_viewer()
    start = len(notification_manager.records)
    assert viewer.open(str(folder), plugin="napari-recist") == []
    text = messages_since(start)
    assert "cannot open" in text and "no CT series" in text


def test_work_in_progress_the_checker_refuses_is_kept_and_explained(
    make_napari_viewer, tmp_path: Path
):
    folder = write_patient_with_sr(tmp_path / "patient")
    viewer = make_napari_viewer()
    viewer.open(str(folder), plugin="napari-recist")
    session = find_session(viewer)
    table = LesionTableWidget(viewer)
    # A target drawn first on a follow-up: allowed while working; classified without it
    # (as `classify --lenient` would) and explained.
    show_timepoint(viewer, session, 1)
    session_layer(viewer, session, 1, "lesions").add_lines(
        np.array([(3, 30, 5), (3, 30, 25)], dtype=float)
    )
    table.role_box.value = Role("target")
    late = table.create_lesion()
    assert table.add_drawn_line("long")
    text = ResponsePanelWidget(viewer).text()
    assert "not classified" not in text.lower()
    assert f"target lesion {late} first appears at timepoint 1" in text
    assert session.result is not None and late not in session.result["timepoints"][1]["lesions"]

    again = make_napari_viewer()
    start = len(notification_manager.records)
    again.open(str(folder), plugin="napari-recist")
    assert "restored the session" in messages_since(start)
    reopened = find_session(again)
    assert {"L1", late} <= set(reopened.record.lesions)  # nothing the reader drew is lost
    assert any(late in warning for warning in reopened.classification_warnings)
