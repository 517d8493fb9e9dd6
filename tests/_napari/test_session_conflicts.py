"""Two viewers on one patient folder: a save never overwrites the other's changes silently."""

from __future__ import annotations

import copy
from pathlib import Path

from napari_recist._napari.session import PatientSession, TimepointView
from napari_recist.io.display_geometry import DisplayGeometry
from napari_recist.io.session_file import CONFLICT_PREFIX, SESSION_FILE
from napari_recist.io.table import read_table
from napari_recist.model import LesionState, Role

ROWS = "\n".join([
    "patient_id,timepoint,date,lesion_id,role,site,nodal,long_axis_mm,short_axis_mm,state",
    "P1,0,2024-01-01,L1,target,lung,,30,,",
    "P1,1,2024-03-01,L1,target,lung,,20,,",
]) + "\n"


def test_the_second_save_goes_to_a_conflict_file(tmp_path: Path) -> None:
    session_file = tmp_path / SESSION_FILE
    session_file.write_text(ROWS)
    record = read_table(session_file).records[0]
    views = [TimepointView(a.timepoint, a.date, DisplayGeometry.patient_space())
             for a in record.assessments]
    first = PatientSession(copy.deepcopy(record), views, folder=tmp_path)
    second = PatientSession(copy.deepcopy(record), views, folder=tmp_path)
    messages: list[str] = []
    second.save_failed.connect(messages.append)

    first.set_state(0, first.new_lesion(Role.NON_TARGET, "bone"), LesionState.PRESENT)
    assert "L2" in read_table(session_file).records[0].lesions
    second.set_state(0, second.new_lesion(Role.NON_TARGET, "liver"), LesionState.PRESENT)
    assert read_table(session_file).records[0].lesions["L2"].site == "bone"
    (conflict,) = tmp_path.glob(f"{CONFLICT_PREFIX}*.csv")
    assert read_table(conflict).records[0].lesions["L2"].site == "liver"
    assert messages and "changed by another viewer" in messages[-1]
    assert conflict.name in messages[-1]
    second.set_state(1, "L2", LesionState.PRESENT)  # later saves go to the same file
    assert len(list(tmp_path.glob(f"{CONFLICT_PREFIX}*.csv"))) == 1
