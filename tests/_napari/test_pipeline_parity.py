"""One pipeline: the command line, the batch and the viewer give the same verdict and warning.

The patient: a target L2 first measured on the first follow-up (RECIST 1.1 section 3.3:
targets are chosen at baseline), written as TID 1500 SRs beside real CT files.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
from _viewer_patient import record_with_one_target, write_ct

from napari_recist._napari.binding import find_session
from napari_recist.cohort.batch import PatientSource, classify_source
from napari_recist.criteria.settings import Criteria
from napari_recist.io.patient import open_patient
from napari_recist.io.sr import write_timepoint_sr
from napari_recist.model import Lesion, LesionState, Measurement, Role

LATE_TARGET = "target lesion L2 first appears at timepoint 1"
CLI = [sys.executable, "-m", "napari_recist.cli"]


def write_late_target_patient(root: Path) -> tuple[Path, list[Path]]:
    record = record_with_one_target()
    record.lesions["L2"] = Lesion("L2", Role.TARGET, "liver")
    for timepoint, size in ((1, 15.0), (2, 19.0)):
        record.assessment(timepoint).measurements["L2"] = Measurement(
            "L2", LesionState.MEASURED, long_axis_mm=size
        )
    srs = []
    for assessment in record.assessments:
        date = assessment.date
        files = write_ct(root / date.isoformat() / "CT", date)
        sr = root / date.isoformat() / "SR" / "sr.dcm"
        sr.parent.mkdir(parents=True)
        write_timepoint_sr(record, assessment.timepoint, files, sr)
        srs.append(sr)
    return root, srs


@pytest.fixture(scope="module")
def late_target(tmp_path_factory) -> tuple[Path, list[Path]]:
    return write_late_target_patient(tmp_path_factory.mktemp("late") / "patient")


def run_cli(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([*CLI, *args], capture_output=True, text=True, timeout=120)


def verdicts(patient: dict) -> tuple:
    return (
        patient["best_overall_response"],
        [(tp["timepoint"], tp["overall"], tp["sum_mm"]) for tp in patient["timepoints"]],
    )


def test_strict_classify_refuses_naming_the_sr_file_and_the_lesion(late_target):
    folder, srs = late_target
    run = run_cli("classify", str(folder))
    assert run.returncode == 2
    assert "Traceback" not in run.stderr
    line = next(line for line in run.stderr.splitlines() if LATE_TARGET in line)
    assert str(srs[1]) in line and "Tracking Identifier L2" in line


def test_lenient_cli_batch_and_viewer_agree(late_target, tmp_path, make_napari_viewer):
    folder, _ = late_target
    out = tmp_path / "out.json"
    run = run_cli("classify", str(folder), "--lenient", "--json", str(out))
    assert run.returncode == 0, run.stderr
    assert LATE_TARGET in run.stderr
    (cli_patient,) = json.loads(out.read_text())["patients"]
    assert "L2" not in cli_patient["timepoints"][1]["lesions"]  # left out, not guessed

    outcome = classify_source(PatientSource(str(folder), folder=str(folder), lenient=True),
                              Criteria())
    assert outcome.patient is not None
    assert verdicts(outcome.patient) == verdicts(cli_patient)
    assert any(LATE_TARGET in remark for remark in outcome.remarks)

    viewer = make_napari_viewer()
    viewer.open(str(folder), plugin="napari-recist")
    session = find_session(viewer)
    assert session.result is not None
    assert verdicts(session.result) == verdicts(cli_patient)
    assert any(LATE_TARGET in warning for warning in session.classification_warnings)
    assert "L2" in session.record.lesions  # the reader's work is kept, only not classified


def test_three_sr_files_opened_together_give_three_scans(late_target, make_napari_viewer):
    _, srs = late_target
    opened = open_patient(srs)
    assert [len(a.measurements) for a in opened.record.assessments] == [1, 2, 2]
    viewer = make_napari_viewer()
    # napari passes the files to the reader in one call when they are opened as one stack.
    viewer.open([str(path) for path in srs], plugin="napari-recist", stack=True)
    session = find_session(viewer)
    assert [a.timepoint for a in session.record.assessments] == [0, 1, 2]
    assert all(a.measurements for a in session.record.assessments)
