from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from _viewer_patient import ORIGIN, PIXEL_MM, SLICE_MM

from napari_recist._napari.binding import find_session, session_layer, show_timepoint
from napari_recist._napari.layers import line_length_mm
from napari_recist._napari.session import SESSION_FILE
from napari_recist._napari.widgets.lesion_table import LesionTableWidget
from napari_recist._napari.widgets.response_panel import ResponsePanelWidget
from napari_recist.model import LesionState, Role
from napari_recist.palette import RESPONSE_COLOURS, hex_to_rgba

pytestmark = pytest.mark.viewer


def draw(viewer, session, timepoint: int, start, end):
    """Draw a line on a scan's lesion layer as a user would (data = voxel indices)."""
    show_timepoint(viewer, session, timepoint)
    layer = session_layer(viewer, session, timepoint, "lesions")
    layer.add_lines(np.array([start, end], dtype=float))
    return layer


def test_line_of_known_pixel_length_reports_mm(make_napari_viewer, patient_folder: Path):
    viewer = make_napari_viewer()
    viewer.open(str(patient_folder), plugin="napari-recist")
    session = find_session(viewer)
    layer = draw(viewer, session, 0, (2, 15, 10), (2, 15, 30))  # 20 pixels along x
    assert line_length_mm(layer, 0) == pytest.approx(20 * PIXEL_MM)
    layer.add_lines(np.array([(1, 0, 0), (1, 3, 4)], dtype=float))  # 5 pixels diagonal
    assert line_length_mm(layer, 1) == pytest.approx(5 * PIXEL_MM)
    layer.add_lines(np.array([(0, 0, 0), (2, 0, 0)], dtype=float))  # across 2 slices
    assert line_length_mm(layer, 2) == pytest.approx(2 * SLICE_MM)


def test_tag_measure_and_see_the_response(make_napari_viewer, patient_folder: Path):
    viewer = make_napari_viewer()
    viewer.open(str(patient_folder), plugin="napari-recist")
    session = find_session(viewer)
    table = LesionTableWidget(viewer)
    panel = ResponsePanelWidget(viewer)
    assert "no baseline" in panel.text()

    draw(viewer, session, 0, (2, 15, 10), (2, 15, 30))  # 15 mm
    table.role_box.value = Role("target")
    table.site_box.value = "lung"
    assert table.create_lesion() == "L1"
    assert table.add_drawn_line("long")
    baseline = session.measurement(0, "L1")
    assert baseline.state is LesionState.MEASURED
    assert baseline.long_axis_mm == pytest.approx(15.0)
    lps = baseline.long_axis.points
    assert lps[0] == pytest.approx((ORIGIN[0] + 10 * PIXEL_MM, ORIGIN[1] + 15 * PIXEL_MM,
                                    ORIGIN[2] + 2 * SLICE_MM))
    assert baseline.long_axis.referenced_sop_uid == session.view(0).slice_uids[2]
    assert table.model.rowCount() == 1
    assert "15 mm" in table.model.cell_text(0, 4)

    # Follow-up: the lesion grows to 21 mm (+40 %): progression.
    layer = draw(viewer, session, 1, (2, 15, 6), (2, 15, 34))
    assert table.timepoint_combo.currentData() == 1  # the scan chooser follows the layer
    table.select_lesion("L1")
    assert table.add_drawn_line("long")
    assert session.measurement(1, "L1").long_axis_mm == pytest.approx(21.0)
    assert "PD" in panel.text()
    assert session.lesion_responses(1)["L1"] == "PD"
    np.testing.assert_allclose(layer.edge_color[0], hex_to_rgba(RESPONSE_COLOURS["PD"]))
    assert layer.features["lesion_id"].tolist() == ["L1"]
    assert layer.features["response"].tolist() == ["PD"]

    # Undo, then measure a shrunken lesion: 9 mm (-40 %), partial response, blue.
    assert table.undo()
    assert session.measurement(1, "L1") is None
    draw(viewer, session, 1, (2, 15, 16), (2, 15, 28))
    table.select_lesion("L1")
    assert table.add_drawn_line("long")
    assert session.lesion_responses(1)["L1"] == "PR"
    assert "PR" in panel.text()
    np.testing.assert_allclose(layer.edge_color[0], hex_to_rgba(RESPONSE_COLOURS["PR"]))
    assert (patient_folder / SESSION_FILE).is_file()

    # Role and site edits go to the model.
    table.site_box.value = "liver"
    table.apply_lesion_edits()
    assert session.record.lesions["L1"].site == "liver"
    assert session.record.lesions["L1"].role is Role.TARGET


def test_delete_with_undo(make_napari_viewer, patient_folder: Path):
    viewer = make_napari_viewer()
    viewer.open(str(patient_folder), plugin="napari-recist")
    session = find_session(viewer)
    table = LesionTableWidget(viewer)
    draw(viewer, session, 0, (2, 15, 10), (2, 15, 30))
    table.create_lesion()
    table.add_drawn_line("long")
    layer = session_layer(viewer, session, 0, "lesions")
    assert len(layer.data) == 1
    # Jump: the slider goes to the lesion's slice and the camera centres on the line.
    viewer.dims.set_point(0, ORIGIN[2])
    table.select_lesion("L1")
    assert table.jump_to_selected()
    assert viewer.dims.point[0] == pytest.approx(ORIGIN[2] + 2 * SLICE_MM)
    centre_yx = (ORIGIN[1] + 15 * PIXEL_MM, ORIGIN[0] + 20 * PIXEL_MM)
    np.testing.assert_allclose(viewer.scene.camera.center[-2:], centre_yx)
    assert table.delete_selected()
    assert "L1" not in session.record.lesions
    assert len(layer.data) == 0
    assert table.undo()
    assert session.measurement(0, "L1").long_axis_mm == pytest.approx(15.0)
    assert len(layer.data) == 1


def test_dragging_a_lesion_line_updates_the_model(make_napari_viewer, patient_folder: Path,
                                                  qtbot):
    viewer = make_napari_viewer()
    viewer.open(str(patient_folder), plugin="napari-recist")
    session = find_session(viewer)
    table = LesionTableWidget(viewer)
    layer = draw(viewer, session, 0, (2, 15, 10), (2, 15, 30))
    table.create_lesion()
    table.add_drawn_line("long")
    # The user drags the line's end 4 pixels further (napari emits a CHANGED data event).
    moved = [np.asarray(shape).copy() for shape in layer.data]
    moved[0][1] = (2, 15, 34)
    layer.data = moved
    qtbot.waitUntil(
        lambda: session.measurement(0, "L1").long_axis_mm == pytest.approx(24 * PIXEL_MM)
    )
    assert layer.features["lesion_id"].tolist() == ["L1"]
    assert table.undo()
    assert session.measurement(0, "L1").long_axis_mm == pytest.approx(20 * PIXEL_MM)


def test_link_a_line_to_another_lesion_and_set_a_state(make_napari_viewer, patient_folder: Path):
    viewer = make_napari_viewer()
    viewer.open(str(patient_folder), plugin="napari-recist")
    session = find_session(viewer)
    table = LesionTableWidget(viewer)
    draw(viewer, session, 0, (2, 15, 10), (2, 15, 30))
    table.create_lesion()
    table.add_drawn_line("long")
    # At the follow-up the user measured it as a new lesion by mistake, then links it.
    layer = draw(viewer, session, 1, (2, 15, 12), (2, 15, 28))
    assert table.create_lesion() == "L2"
    assert table.add_drawn_line("long")
    layer.selected_data = {0}
    table.select_lesion("L1")
    assert table.link_selected_line()
    assert "L2" not in session.record.lesions
    assert session.measurement(1, "L1").long_axis_mm == pytest.approx(16 * PIXEL_MM)
    # Then the lesion is gone at the follow-up: absent, a complete response of that lesion.
    table.state_box.value = LesionState("absent")
    table.select_lesion("L1")
    assert table.set_state_of_selected()
    assert session.measurement(1, "L1").state is LesionState.ABSENT
    assert session.lesion_responses(1)["L1"] == "CR"


def test_autosave_failure_is_told_and_nothing_is_lost(make_napari_viewer, patient_folder: Path,
                                                      tmp_path: Path):
    from napari.utils.notifications import notification_manager

    viewer = make_napari_viewer()
    viewer.open(str(patient_folder), plugin="napari-recist")
    session = find_session(viewer)
    blocker = tmp_path / "a-file"
    blocker.write_text("not a folder")
    session.folder = blocker  # the session file cannot be written under a file
    table = LesionTableWidget(viewer)
    panel = ResponsePanelWidget(viewer)
    start = len(notification_manager.records)
    draw(viewer, session, 0, (2, 15, 10), (2, 15, 30))
    table.create_lesion()
    assert table.add_drawn_line("long")
    messages = " ".join(str(n.message) for n in notification_manager.records[start:])
    assert "cannot autosave" in messages
    assert "cannot autosave" in panel.status.text()
    assert session.measurement(0, "L1").long_axis_mm == pytest.approx(15.0)
    out = table.session.export_csv(tmp_path / "elsewhere.csv")
    assert out.is_file()


def test_a_lesion_line_deleted_with_napari_tools_comes_back(make_napari_viewer,
                                                            patient_folder: Path, qtbot):
    viewer = make_napari_viewer()
    viewer.open(str(patient_folder), plugin="napari-recist")
    session = find_session(viewer)
    table = LesionTableWidget(viewer)
    layer = draw(viewer, session, 0, (2, 15, 10), (2, 15, 30))
    table.create_lesion()
    table.add_drawn_line("long")
    layer.selected_data = {0}
    layer.remove_selected()  # napari's delete-shape button
    qtbot.waitUntil(lambda: len(layer.data) == 1)
    assert layer.features["lesion_id"].tolist() == ["L1"]
    assert session.measurement(0, "L1").long_axis_mm == pytest.approx(15.0)
