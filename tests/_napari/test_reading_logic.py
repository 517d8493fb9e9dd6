"""The guided read's pure parts: undo/redo, asking before a replace, nodal sites, the read's
order, where a lesion is looked for, typed sites (no viewer)."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pytest

from napari_recist._napari.reading import (
    REGISTERED,
    SAME_COORDINATES,
    THIS_SCAN,
    ReadStep,
    StepKind,
    complete_site,
    last_known_position,
    lesions_to_read,
    next_step,
)
from napari_recist._napari.session import (
    PatientSession,
    TimepointView,
    WouldReplaceError,
    nodal_for_site,
)
from napari_recist.io.display_geometry import DisplayGeometry
from napari_recist.model import (
    Assessment,
    AxisGeometry,
    Lesion,
    LesionState,
    Measurement,
    PatientRecord,
    Role,
)

DATES = (dt.date(2024, 1, 10), dt.date(2024, 3, 6), dt.date(2024, 5, 2))


def line(x0: float, x1: float, y: float = 0.0, z: float = 0.0) -> AxisGeometry:
    return AxisGeometry(((x0, y, z), (x1, y, z)))


def measured(lesion_id: str, x0: float, x1: float, z: float = 0.0) -> Measurement:
    return Measurement(lesion_id, LesionState.MEASURED, long_axis_mm=round(x1 - x0, 1),
                       long_axis=line(x0, x1, z=z))


def make_session(tmp_path: Path | None = None) -> PatientSession:
    lesions = {
        "L1": Lesion("L1", Role.TARGET, "lung"),
        "L2": Lesion("L2", Role.TARGET, "liver"),
        "L3": Lesion("L3", Role.NON_TARGET, "bone"),
        "L10": Lesion("L10", Role.TARGET, "lymph node", nodal=True),
    }
    baseline = Assessment(0, DATES[0], {
        "L1": measured("L1", 0, 20), "L2": measured("L2", 40, 70, z=-30),
        "L3": Measurement("L3", LesionState.PRESENT),
        "L10": Measurement("L10", LesionState.MEASURED, 20, 16, line(100, 120, z=10),
                           line(110, 110, z=10))})
    week8 = Assessment(1, DATES[1], {"L1": measured("L1", 2, 18, z=5)})
    record = PatientRecord("P", lesions, [baseline, week8])
    views = [TimepointView(tp, date, DisplayGeometry.patient_space())
             for tp, date in enumerate(DATES)]
    return PatientSession(record, views, folder=tmp_path)


# -- undo / redo -------------------------------------------------------------------------
def test_undo_then_redo_then_a_new_edit_forgets_the_redo():
    session = make_session()
    session.set_state(1, "L3", LesionState.PRESENT)
    session.set_state(1, "L3", LesionState.ABSENT)
    assert session.undo()
    assert session.measurement(1, "L3").state is LesionState.PRESENT
    assert session.can_redo and session.redo()
    assert session.measurement(1, "L3").state is LesionState.ABSENT
    assert not session.redo()  # nothing more to redo
    assert session.undo() and session.undo()
    assert session.measurement(1, "L3") is None
    session.set_state(1, "L2", LesionState.NOT_EVALUATED)  # a new edit after undoing
    assert not session.can_redo and not session.redo()


def test_a_refused_edit_keeps_the_redo():
    session = make_session()
    session.set_state(1, "L3", LesionState.PRESENT)
    session.undo()
    with pytest.raises(ValueError, match="draw an axis"):
        session.set_state(1, "L2", LesionState.MEASURED)
    assert session.can_redo


def test_a_new_measured_lesion_is_one_undo_step():
    session = make_session()
    axes = {"long": (line(0, 14, z=5), 14.0), "short": (line(7, 7, z=5), 10.0)}
    lesion_id = session.new_measured_lesion(Role.NEW, "liver", 2, axes)
    assert lesion_id == "L4"  # the first unused number
    assert session.measurement(2, lesion_id).long_axis_mm == 14.0
    assert session.measurement(2, lesion_id).extra["method"] == "manual"
    assert session.undo()
    assert lesion_id not in session.record.lesions and session.measurement(2, lesion_id) is None
    assert session.redo() and session.measurement(2, lesion_id).short_axis_mm == 10.0


# -- link asks before replacing (issue 17 defect) ----------------------------------------
def test_link_does_not_replace_another_lesions_measurement_without_asking():
    session = make_session()
    session.set_axes(1, "L2", {"long": (line(40, 66, z=-30), 26.0)})
    with pytest.raises(WouldReplaceError, match="L1 already has a measurement") as asked:
        session.link(1, "L2", "L1")
    assert (asked.value.timepoint, asked.value.lesion_id) == (1, "L1")
    assert session.measurement(1, "L1").long_axis_mm == 16.0  # untouched
    assert session.measurement(1, "L2").long_axis_mm == 26.0
    session.link(1, "L2", "L1", replace_existing=True)  # the reader said yes
    assert session.measurement(1, "L1").long_axis_mm == 26.0
    assert session.measurement(1, "L2") is None


# -- lymph node implies nodal (issue 17 defect) ------------------------------------------
def test_lymph_node_site_sets_nodal():
    assert nodal_for_site("lymph node", None) and nodal_for_site(" Lymph Node ", None)
    assert not nodal_for_site("liver", None)
    assert nodal_for_site("liver", True) and not nodal_for_site("lymph node", False)
    session = make_session()
    assert session.record.lesions[session.new_lesion(Role.NEW, "lymph node")].nodal
    assert not session.record.lesions[session.new_lesion(Role.NEW, "liver")].nodal
    # A site changed to lymph node: nodal, even with a form's stale "not nodal" box.
    session.set_lesion("L2", site="lymph node", nodal=False)
    assert session.record.lesions["L2"].nodal
    # Once a lymph node, the nodal box is the reader's to change.
    session.set_lesion("L2", site="lymph node", nodal=False)
    assert not session.record.lesions["L2"].nodal


# -- the read's order --------------------------------------------------------------------
def test_lesions_to_read_targets_then_non_targets_in_natural_order():
    session = make_session()
    steps = lesions_to_read(session, 2)
    assert steps == [ReadStep(StepKind.TARGET, "L1"), ReadStep(StepKind.TARGET, "L2"),
                     ReadStep(StepKind.TARGET, "L10"), ReadStep(StepKind.NON_TARGET, "L3")]
    assert [s.lesion_id for s in lesions_to_read(session, 1)] == ["L2", "L10", "L3"]
    assert lesions_to_read(session, 0) == []  # nothing is known before the baseline


def test_next_step_walks_on_wraps_then_asks_for_new_lesions():
    session = make_session()
    first = next_step(session, 2, None, False)
    assert first == ReadStep(StepKind.TARGET, "L1")
    assert next_step(session, 2, first, False).lesion_id == "L2"
    # Skipping L10 and L3 and coming back: after the last one, the first still to read.
    assert next_step(session, 2, ReadStep(StepKind.NON_TARGET, "L3"), False).lesion_id == "L1"
    for lesion_id in ("L1", "L2", "L10"):
        session.set_state(2, lesion_id, LesionState.NOT_EVALUATED)
    assert next_step(session, 2, first, False) == ReadStep(StepKind.NON_TARGET, "L3")
    session.set_state(2, "L3", LesionState.PRESENT)
    assert next_step(session, 2, first, False).kind is StepKind.NEW_LESIONS
    assert next_step(session, 2, None, True).kind is StepKind.DONE


# -- where a lesion is looked for --------------------------------------------------------
def test_position_from_this_scan_then_registration_then_the_prior():
    from napari_recist.imaging.propagation import LesionProposal

    session = make_session()
    own = last_known_position(session, 1, "L1")
    assert own.source == THIS_SCAN and own.centre_lps == pytest.approx((10.0, 0.0, 5.0))
    assert own.prior_timepoint == 0 and own.prior_text == "20 mm"
    prior = last_known_position(session, 2, "L1")  # not measured at week 16 yet
    assert prior.source == SAME_COORDINATES and prior.prior_timepoint == 1
    assert prior.centre_lps == pytest.approx((10.0, 0.0, 5.0))
    assert [g.points for g in prior.ghost] == [line(2, 18, z=5).points]
    older = last_known_position(session, 2, "L2")  # last drawn at baseline
    assert older.prior_timepoint == 0 and older.centre_lps == pytest.approx((55.0, 0.0, -30.0))
    proposal = LesionProposal(session.record.lesions["L2"], (57.0, 3.0, -25.0), 4,
                              line(42, 72, 3, -25), None, 0.9, "ok")
    registered = last_known_position(session, 2, "L2", {"L2": proposal})
    assert registered.source == REGISTERED
    assert registered.centre_lps == (57.0, 3.0, -25.0)
    assert [g.points for g in registered.ghost] == [line(42, 72, 3, -25).points]
    # A lesion with no lines anywhere has no position (the non-target L3).
    assert last_known_position(session, 2, "L3") is None
    # Reading the baseline after the follow-ups: the first later scan gives the position.
    session.delete_measurement(0, "L1")
    assert last_known_position(session, 0, "L1").prior_timepoint == 1


def test_typed_sites_complete_only_when_unambiguous():
    assert complete_site("li") == ("liver", "")
    assert complete_site("LY") == ("lymph node", "")
    assert complete_site("  lymph   node ") == ("lymph node", "")
    site, note = complete_site("l")
    assert site is None and "lung, liver, lymph node" in note
    assert complete_site("mediastinum")[0] == "mediastinum"  # free text is kept
    assert complete_site("   ")[0] is None


# -- sizes from numpy reach the compiled engine as floats (issue 12) ---------------------
def test_a_float32_length_is_stored_as_a_python_float_and_classified():
    import numpy as np

    from napari_recist.criteria.report import classify_patient

    session = make_session()
    session.set_axes(1, "L1", {"long": (line(0, 12, z=5), np.float32(12.34))})
    session.set_axis(2, "L1", "long", line(0, 9, z=5), np.float64(9.0))
    stored = session.measurement(1, "L1").long_axis_mm
    assert type(stored) is float and stored == 12.3
    assert type(session.measurement(2, "L1").long_axis_mm) is float
    classify_patient(session.record).to_json()  # the compiled engine takes only floats
