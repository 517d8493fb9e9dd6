"""`napari-recist table` and `napari-recist write-sr` on real files."""

from __future__ import annotations

import shutil
import sys
from pathlib import Path

import pydicom

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "io"))

from _sr_samples import write_patient  # noqa: E402

from napari_recist.cli import main  # noqa: E402
from napari_recist.io.table import read_table  # noqa: E402


def _rows(record):
    return sorted(
        (a.timepoint, a.date, m.lesion_id, m.state, m.long_axis_mm, m.short_axis_mm,
         record.lesions[m.lesion_id].role, record.lesions[m.lesion_id].site,
         record.lesions[m.lesion_id].nodal)
        for a in record.assessments for m in a.measurements.values())


def test_table_then_write_sr_then_table_round_trips(tmp_path, capsys):
    record, _, paths = write_patient(tmp_path / "P1")
    table = tmp_path / "lesions.csv"
    assert main(["table", str(tmp_path / "P1"), "--csv", str(table)]) == 0
    assert "P1: 9 lesions at 2 time points" in capsys.readouterr().out
    (from_srs,) = read_table(table).records
    assert _rows(from_srs) == _rows(record)

    for path in paths:  # keep only the CT, then write the SRs back from the table
        path.unlink()
    out = tmp_path / "P1" / "sr"
    assert main(["write-sr", str(table), str(tmp_path / "P1"), "--out", str(out), "--quiet",
                 "--responses"]) == 0
    written = sorted(out.iterdir())
    assert [p.name for p in written] == ["P1_TP1_2024-03-12_SR.dcm",
                                         "P1_baseline_2024-01-10_SR.dcm"]
    table_again = tmp_path / "again.csv"
    assert main(["table", str(tmp_path / "P1"), "--csv", str(table_again)]) == 0
    (again,) = read_table(table_again).records
    assert _rows(again) == _rows(record)


def test_write_sr_refuses_a_date_without_ct(tmp_path, capsys):
    write_patient(tmp_path / "P1")
    table = tmp_path / "lesions.csv"
    assert main(["table", str(tmp_path / "P1"), "--csv", str(table)]) == 0
    shutil.rmtree(tmp_path / "P1" / "ct_1")
    out = tmp_path / "out"
    assert main(["write-sr", str(table), str(tmp_path / "P1"), "--out", str(out)]) == 2
    err = capsys.readouterr().err
    assert "no CT series dated 2024-03-12 for TP1 of patient P1" in err
    assert not out.exists()


def test_write_sr_refuses_another_patient(tmp_path, capsys):
    write_patient(tmp_path / "P1")
    table = tmp_path / "lesions.csv"
    table.write_text("patient_id,timepoint,date,lesion_id,role,site,long_axis_mm\n"
                     "P7,0,2024-01-10,L1,target,lung,20\n")
    assert main(["write-sr", str(table), str(tmp_path / "P1"), "--out", str(tmp_path)]) == 2
    assert "no rows for patient 'P1'" in capsys.readouterr().err


def test_table_lists_sr_problems_and_lenient_keeps_the_rest(tmp_path, capsys):
    _, _, paths = write_patient(tmp_path / "P1")
    (tmp_path / "P1" / "README.txt").write_text("not DICOM: noted, not an error")
    ds = pydicom.dcmread(paths[1])
    group = ds.ContentSequence[-1].ContentSequence[0]  # L1 at TP1
    num = next(item for item in group.ContentSequence if item.ValueType == "NUM")
    del num.MeasuredValueSequence[0].MeasurementUnitsCodeSequence
    ds.save_as(paths[1])
    table = tmp_path / "lesions.csv"
    assert main(["table", str(tmp_path / "P1"), "--csv", str(table)]) == 2
    err = capsys.readouterr().err
    assert f"error: {paths[1]}, Measurement Group 1 (L1), content item" in err
    assert "length with no unit" in err and not table.exists()
    assert main(["table", str(tmp_path / "P1"), "--csv", str(table), "--lenient"]) == 0
    assert f"skipped: {paths[1]}, Measurement Group 1 (L1)" in capsys.readouterr().err
    (record,) = read_table(table).records
    assert record.assessment(1).measurements["L1"].short_axis_mm == 12.25
    assert record.assessment(1).measurements["N2"].long_axis_mm == 11.0


def test_table_of_a_missing_folder(tmp_path, capsys):
    assert main(["table", str(tmp_path / "missing"), "--csv", str(tmp_path / "t.csv")]) == 2
    assert "no such folder" in capsys.readouterr().err
