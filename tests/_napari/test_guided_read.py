"""Acceptance (issue 17): the week-16 read of sample_dicom/ with the keyboard and one drag
per measured lesion, in at most 15 user actions, counted.

The sample patient is opened with its week-16 SR removed (the scan is unread); the guided
read dock is docked as the Plugins menu would. From then on every step is a real key or
mouse event on the canvas or the dock (`UserActions` counts them): N to go to each lesion,
one drag across each target's long axis (the short axis comes from the image), a state key
for the non-target, N to "any new lesion?", one drag across the new liver lesion, its site
typed, N to end. The result is compared with the sample's truth (lesions.csv).
"""

from __future__ import annotations

from pathlib import Path

import pytest
from _reading_helpers import (
    UserActions,
    canvas_position,
    open_reading,
    settle,
    slider_point,
    true_long_axis_world,
)
from qtpy.QtCore import Qt

from napari_recist.criteria.report import classify_patient
from napari_recist.criteria.settings import Criteria
from napari_recist.model import LesionState, Role
from napari_recist.sample import sample_record

pytestmark = pytest.mark.viewer

MAX_ACTIONS = 15
WEEK16 = 2
CURRENT_CELL = 1  # the reading layout: prior on the left, current on the right


def drag_long_axis(actions: UserActions, viewer, canvas, lesion_id: str, what: str) -> None:
    start, end = true_long_axis_world(lesion_id, WEEK16)
    viewer.window._qt_viewer.canvas.native.update()
    settle(0.3)  # the camera and grid view boxes are up to date after a draw
    actions.drag(canvas, canvas_position(viewer, start, CURRENT_CELL),
                 canvas_position(viewer, end, CURRENT_CELL), what)


def test_week16_read_in_at_most_15_actions(make_napari_viewer, tmp_path: Path, qtbot):
    viewer, session, dock, canvas = open_reading(make_napari_viewer, tmp_path, qtbot)
    assert dock.timepoint == WEEK16 and dock.layout_.prior == 1
    assert viewer.canvas.grid.enabled  # prior and current side by side
    actions = UserActions(qtbot)
    truth = {"L1": (14, 10), "L2": (56, 42), "L3": (12, 8)}

    # Docking the dock started the read on the first target: nothing pressed yet.
    assert dock.selected == "L1"
    for number, lesion_id in enumerate(("L1", "L2", "L3")):
        if number:
            actions.key(canvas, Qt.Key.Key_N, f"go to {lesion_id} (target)")
        assert dock.selected == lesion_id
        # Centred where the prior showed it: its slice, the ghost of the prior lines.
        z = true_long_axis_world(lesion_id, WEEK16)[0][0]
        assert viewer.dims.point[0] == pytest.approx(z, abs=0.01)
        assert "same patient coordinates" in dock.step_label.text()
        ghost = dock.layout_._layer(WEEK16, "ghost")
        assert len(ghost.data) == 2  # the prior's long and short axes
        drag_long_axis(actions, viewer, canvas, lesion_id, f"long axis of {lesion_id}")
        measured = session.measurement(WEEK16, lesion_id)
        assert measured is not None and measured.state is LesionState.MEASURED
        long_mm, short_mm = truth[lesion_id]
        assert measured.long_axis_mm == pytest.approx(long_mm, abs=1.0)
        assert measured.short_axis_mm == pytest.approx(short_mm, abs=1.6)  # one pixel

    actions.key(canvas, Qt.Key.Key_N, "go to L4 (non-target)")
    assert dock.selected == "L4"
    actions.key(canvas, Qt.Key.Key_R, "L4 present", Qt.KeyboardModifier.ShiftModifier)
    assert session.measurement(WEEK16, "L4").state is LesionState.PRESENT

    actions.key(canvas, Qt.Key.Key_N, "any new lesion?")
    assert dock.selected is None and "new lesion" in dock.step_label.text()
    new_z = true_long_axis_world("N1", WEEK16)[0][0]
    slider, point = slider_point(viewer, 0, new_z)
    actions.click(slider, point, "slice slider to the new liver lesion")
    assert viewer.dims.point[0] == pytest.approx(new_z, abs=0.01)
    drag_long_axis(actions, viewer, canvas, "N1", "long axis of the new liver lesion")
    new = [lid for lid, lesion in session.record.lesions.items() if lesion.role is Role.NEW]
    assert len(new) == 1 and dock.selected == new[0]
    actions.type_text(dock.site_edit, "li", "site of the new lesion (completes to liver)")
    actions.key(dock.site_edit, Qt.Key.Key_Return, "site entered")
    actions.key(canvas, Qt.Key.Key_N, "no other new lesion: read complete")
    assert "Read complete" in dock.step_label.text()

    print("\n".join(f"{i + 1:2d}. {line}" for i, line in enumerate(actions.log)))
    assert actions.count <= MAX_ACTIONS, actions.log
    lesion = session.record.lesions[new[0]]
    assert lesion.site == "liver"
    measured = session.measurement(WEEK16, new[0])
    assert measured.long_axis_mm == pytest.approx(14, abs=1.0)
    # The verdicts are the ones the sample's truth gives (PD: a new lesion; targets SD).
    entry = session.timepoint_result(WEEK16)
    truth_entry = next(tp for tp in classify_patient(sample_record(), Criteria()).to_json()[
        "timepoints"] if tp["timepoint"] == WEEK16)
    for key in ("target", "non_target", "new_lesions", "overall", "irecist", "category"):
        assert entry[key] == truth_entry[key], key
    sum_mm = sum(session.measurement(WEEK16, lid).diameter_mm(
        session.record.lesions[lid].nodal, 5.0) for lid in ("L1", "L2", "L3"))
    assert sum_mm == pytest.approx(14 + 56 + 8, abs=2.5)  # L3 nodal: its short axis counts
