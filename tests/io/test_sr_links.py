"""Split and coalesced lesions in TID 1500 SRs (lesion-table.md, amended 2026-12): the round
trip table -> SR -> table keeps `part_of` and `coalesced_into`, and the independent checkers
(dciodvfy, dsrdump, dcmqi tid1500reader, PixelMed, OHIF's dcmjs) accept the private items."""

from __future__ import annotations

import datetime as dt
import json
import subprocess
import sys
from dataclasses import replace
from pathlib import Path

import pydicom
import pytest
from _sr_samples import axis_on, make_ct_series

from napari_recist.cli import main
from napari_recist.io.sr import write_timepoint_sr
from napari_recist.io.sr_codes import LESION_COALESCED, LESION_PART_OF, PRIVATE_SCHEME
from napari_recist.io.table import read_table

VENV_BIN = Path(sys.executable).parent
JS_DIR = Path(__file__).resolve().parents[1] / "_js"
DATES = (dt.date(2024, 1, 10), dt.date(2024, 3, 12))
TABLE = """patient_id,timepoint,date,lesion_id,role,site,long_axis_mm,short_axis_mm,state,\
part_of,coalesced_into
P1,0,2024-01-10,L1,target,lung,32,20.5,,,
P1,0,2024-01-10,L2,target,lung,20,15,,,
P1,0,2024-01-10,L3,target,liver,20,12,,,
P1,1,2024-03-12,L1.1,target,lung,15,10,,L1,
P1,1,2024-03-12,L1.2,target,lung,10,8,,L1,
P1,1,2024-03-12,L2,target,lung,,,,,L3
P1,1,2024-03-12,L3,target,liver,30,20,,,
"""


def _run(*command: str | Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run([str(c) for c in command], capture_output=True, text=True, timeout=90)


@pytest.fixture(scope="module")
def written(tmp_path_factory):
    root = tmp_path_factory.mktemp("links")
    patient = root / "P1"
    for k, date in enumerate(DATES):
        make_ct_series(patient / f"ct_{k}", study_date=date)
    table = root / "lesions.csv"
    table.write_text(TABLE, encoding="utf-8")
    out = patient / "sr"
    assert main(["write-sr", str(table), str(patient), "--out", str(out), "--quiet"]) == 0
    return table, patient, sorted(out.iterdir())


def _links(record):
    return (
        {lid: lesion.part_of for lid, lesion in record.lesions.items()},
        {(a.timepoint, lid): (m.coalesced_into, m.state, m.long_axis_mm, m.short_axis_mm)
         for a in record.assessments for lid, m in a.measurements.items()},
    )


def test_round_trip_keeps_part_of_and_coalesced_into(written, tmp_path):
    table, patient, paths = written
    follow_up = pydicom.dcmread(next(p for p in paths if "TP1" in p.name))
    texts = {
        (str(item.ConceptNameCodeSequence[0].CodeValue), str(item.TextValue))
        for group in follow_up.ContentSequence[-1].ContentSequence
        for item in group.ContentSequence
        if item.ValueType == "TEXT"
        and item.ConceptNameCodeSequence[0].CodingSchemeDesignator == PRIVATE_SCHEME
    }
    assert texts == {(LESION_PART_OF.value, "L1"), (LESION_COALESCED.value, "L3")}
    again = tmp_path / "again.csv"
    assert main(["table", str(patient), "--csv", str(again)]) == 0
    (original,) = read_table(table).records
    (from_srs,) = read_table(again).records
    assert _links(from_srs) == _links(original)
    header = again.read_text().splitlines()[0]
    assert "part_of" in header and "coalesced_into" in header


@pytest.mark.tools
def test_dciodvfy_and_dsrdump_accept_the_links(written):
    for path in written[2]:
        run = _run(VENV_BIN / "dciodvfy", path)
        errors = [line for line in (run.stdout + run.stderr).splitlines()
                  if line.startswith("Error")]
        assert errors == [], f"{path}: {errors}"
        dump = _run("dsrdump", "-v", path)
        assert dump.returncode == 0, dump.stderr
    dump = _run("dsrdump", "-v", next(p for p in written[2] if "TP1" in p.name)).stdout
    assert "Part of lesion" in dump and "Coalesced into lesion" in dump


@pytest.mark.tools
def test_tid1500reader_reads_every_group(written, tmp_path):
    path = next(p for p in written[2] if "TP1" in p.name)
    out = tmp_path / "tp1.json"
    run = _run(VENV_BIN / "tid1500reader", "--inputDICOM", path, "--outputMetadata", out)
    assert run.returncode == 0, run.stderr
    groups = json.loads(out.read_text())["Measurements"]
    assert len(groups) == 4


@pytest.mark.tools
def test_pixelmed_validator_finds_no_error(written):
    path = next(p for p in written[2] if "TP1" in p.name)
    options = ["-XX:TieredStopAtLevel=1", "-XX:+UseSerialGC", "-Djdk.xml.xpathExprOpLimit=0",
               "-Djdk.xml.xpathExprGrpLimit=0", "-Djdk.xml.xpathTotalOpLimit=0"]
    run = _run("java", *options, "-cp", "/usr/share/java/pixelmed.jar",
               "com.pixelmed.validate.DicomSRValidator", path)
    lines = (run.stdout + run.stderr).splitlines()
    assert "Root Template Validation Complete" in lines
    assert [line for line in lines if line.startswith("Error")] == []


@pytest.mark.tools
def test_ohif_dcmjs_reads_the_fragments_beside_the_coalesced_group(written, tmp_path):
    # OHIF's tools need drawn lines: the follow-up again, with lines on the CT.
    table, patient, _ = written
    (record,) = read_table(table).records
    ct = [pydicom.dcmread(p) for p in sorted((patient / "ct_1").iterdir())]
    follow = record.assessment(1).measurements
    for lesion_id, start, end in (("L1.1", (4, 4), (20, 14)), ("L1.2", (6, 20), (14, 26)),
                                  ("L3", (2, 2), (28, 20))):
        follow[lesion_id] = replace(
            follow[lesion_id], long_axis=axis_on(ct[1], start, end),
            short_axis=axis_on(ct[1], (start[0] + 2, end[1]), (end[0] - 2, start[1])),
        )
    path = write_timepoint_sr(record, 1, ct, tmp_path / "tp1.dcm")
    run = _run("node", JS_DIR / "read_sr.js", path)
    assert run.returncode == 0, run.stderr
    tools = json.loads(run.stdout)
    sizes = sorted((b["longestDiameter"], b["shortestDiameter"]) for b in tools["Bidirectional"])
    assert sizes == [(10.0, 8.0), (15.0, 10.0), (30.0, 20.0)]
