"""The lesion table's Split lesion and Merge lesions actions (lesion-table.md, amended 2026-12)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from napari_recist._napari.binding import find_session, session_layer, show_timepoint
from napari_recist._napari.widgets.lesion_table import LesionTableWidget
from napari_recist._napari.widgets.response_panel import ResponsePanelWidget
from napari_recist.model import Role

pytestmark = pytest.mark.viewer


def draw(viewer, session, timepoint: int, start, end) -> None:
    show_timepoint(viewer, session, timepoint)
    layer = session_layer(viewer, session, timepoint, "lesions")
    layer.add_lines(np.array([start, end], dtype=float))


def _baseline_targets(viewer, session, table) -> None:
    for row, site in ((15, "lung"), (25, "liver")):
        draw(viewer, session, 0, (2, row, 10), (2, row, 30))
        table.role_box.value = Role("target")
        table.site_box.value = site
        table.create_lesion()
        assert table.add_drawn_line("long")


def test_split_then_merge_in_the_viewer(make_napari_viewer, patient_folder: Path):
    viewer = make_napari_viewer()
    viewer.open(str(patient_folder), plugin="napari-recist")
    session = find_session(viewer)
    table = LesionTableWidget(viewer)
    panel = ResponsePanelWidget(viewer)
    _baseline_targets(viewer, session, table)  # L1 lung 15 mm, L2 liver 15 mm

    # Follow-up: L1 has split in two fragments, 9 and 6 mm long.
    draw(viewer, session, 1, (2, 10, 10), (2, 10, 22))
    draw(viewer, session, 1, (2, 20, 10), (2, 20, 18))
    table.select_lesion("L1")
    assert table.split_selected() == ["L1.1", "L1.2"]
    record = session.record
    assert record.lesions["L1.1"].part_of == "L1" and record.lesions["L1.2"].part_of == "L1"
    assert "L1" not in record.assessment(1).measurements
    assert record.assessment(1).measurements["L1.1"].long_axis_mm == pytest.approx(9.0)
    assert record.lesions["L1.2"].site == "lung"
    layer = session_layer(viewer, session, 1, "lesions")
    assert sorted(layer.features["lesion_id"].tolist()) == ["L1.1", "L1.2"]
    responses = session.lesion_responses(1)
    assert responses["L1"] == responses["L1.1"] == responses["L1.2"]  # one unit: 15 vs 15
    assert "imRECIST" in panel.text() and "irRC" in panel.text()

    # L2 has coalesced into fragment L1.1 (merged lesions need one role, as here); its row
    # names the carrier and has no size.
    table.select_lesion("L2")
    table.merge_box.value = "L1.1"
    assert table.merge_selected()
    merged = session.record.assessment(1).measurements["L2"]
    assert merged.coalesced_into == "L1.1" and merged.long_axis_mm is None
    assert session.result is not None
    tp1 = session.result["timepoints"][1]
    assert tp1["lesions"]["L2"] == tp1["lesions"]["L1.1"] == tp1["lesions"]["L1"]
    row = table.model.row_of("L2")
    assert table.model.cell_text(row, 5).startswith("into L1.1")

    # Undo removes the merge, then the split.
    assert table.undo()
    assert session.record.assessment(1).measurements.get("L2") is None
    assert table.undo()
    assert "L1.1" not in session.record.lesions


def test_split_needs_two_lines_and_a_follow_up(make_napari_viewer, patient_folder: Path):
    viewer = make_napari_viewer()
    viewer.open(str(patient_folder), plugin="napari-recist")
    session = find_session(viewer)
    table = LesionTableWidget(viewer)
    _baseline_targets(viewer, session, table)
    draw(viewer, session, 1, (2, 10, 10), (2, 10, 22))
    table.select_lesion("L1")
    assert table.split_selected() == []  # one line only: nothing changes
    assert "L1.1" not in session.record.lesions
    with pytest.raises(ValueError, match="after baseline"):
        session.split_lesion(0, "L1", [None, None])
    session.set_lesion("L2", role=Role.NON_TARGET)
    with pytest.raises(ValueError, match="one role"):
        session.merge_lesions(1, "L1", ["L2"])
