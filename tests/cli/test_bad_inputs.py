"""Bad inputs from the hardening review (issue 10): exit 2, a message naming the file and the
row/tag, no traceback, nothing written outside --out, nothing silently classified."""

from __future__ import annotations

import csv
import json
import shutil
import subprocess
import sys
from pathlib import Path

import pydicom
import pytest

ROOT = Path(__file__).resolve().parents[2]
SAMPLE = ROOT / "sample_dicom"
CLI = [sys.executable, "-m", "napari_recist.cli"]
HEADER = "patient_id,timepoint,date,lesion_id,role,site,nodal,long_axis_mm,short_axis_mm,state"


def run(*args: str, cwd: Path | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run([*CLI, *args], capture_output=True, text=True, timeout=180, cwd=cwd)


def refused(result: subprocess.CompletedProcess[str], *names: str) -> str:
    assert result.returncode == 2, (result.returncode, result.stderr)
    assert "Traceback" not in result.stderr, result.stderr
    for name in names:
        assert name in result.stderr, (name, result.stderr)
    return result.stderr


def table(tmp_path: Path, *rows: str, name: str = "lesions.csv", ending: str = "\n") -> Path:
    path = tmp_path / name
    path.write_text(ending.join([HEADER, *rows]) + ending, encoding="utf-8")
    return path


BASE = "P1,0,2024-01-01,L1,target,lung,,30,,"
FOLLOW = "P1,1,2024-03-01,L1,target,lung,,20,,"


@pytest.fixture
def sample(tmp_path: Path) -> Path:
    folder = tmp_path / "patient"
    shutil.copytree(SAMPLE, folder)
    return folder


@pytest.mark.parametrize(
    "setting", ["pr_pct = nan", "pr_pct = inf", "max_targets = -3", "days_per_month = 0"]
)
def test_criteria_out_of_range_are_refused_by_name(tmp_path: Path, setting: str) -> None:
    toml = tmp_path / "protocol.toml"
    toml.write_text(setting + "\n")
    error = refused(run("classify", str(table(tmp_path, BASE, FOLLOW)), "--criteria", str(toml)),
                    str(toml), setting.split()[0])
    assert "finite" in error or "between" in error


@pytest.mark.parametrize("size", ["1e200", "1e308", "-32", "nan", "inf"])
def test_impossible_sizes_are_refused_with_row_and_column(tmp_path: Path, size: str) -> None:
    path = table(tmp_path, BASE, f"P1,1,2024-03-01,L1,target,lung,,{size},,")
    refused(run("classify", str(path)), str(path), "row 3", "long_axis_mm")


def test_mac_line_endings_are_read(tmp_path: Path) -> None:
    path = table(tmp_path, BASE, FOLLOW, ending="\r")
    result = run("classify", str(path), "--json", str(tmp_path / "out.json"))
    assert result.returncode == 0, result.stderr
    (patient,) = json.loads((tmp_path / "out.json").read_text())["patients"]
    assert patient["timepoints"][1]["overall"] == "PR"


def test_a_formula_in_an_id_never_reaches_a_spreadsheet(tmp_path: Path) -> None:
    formula = "=cmd|' /C calc'!A0"
    rows = [BASE.replace("P1", formula), FOLLOW.replace("P1", formula)]
    source = table(tmp_path, *(row.replace(formula, f'"{formula}"') for row in rows))
    out = tmp_path / "out.csv"
    assert run("classify", str(source), "--csv", str(out)).returncode == 0
    with out.open(newline="", encoding="utf-8") as handle:
        cells = [row["patient_id"] for row in csv.DictReader(handle)]
    assert cells and all(cell == "'" + formula for cell in cells)

    from napari_recist.io.table import read_table, write_table

    record = read_table(source).records[0]
    written = tmp_path / "again.csv"
    write_table([record], written)
    assert "\n'=" in written.read_text(encoding="utf-8")
    assert read_table(written).records[0].patient_id == formula  # the original text back


def test_report_out_that_is_a_file_names_it(sample: Path, tmp_path: Path) -> None:
    blocker = tmp_path / "out"
    blocker.write_text("not a folder")
    refused(run("report", str(sample), "--out", str(blocker)), str(blocker))


@pytest.mark.parametrize("patient_id", ["P$1$x", "P" * 300])
def test_odd_patient_ids_get_a_report(tmp_path: Path, patient_id: str) -> None:
    path = table(tmp_path, BASE.replace("P1", patient_id), FOLLOW.replace("P1", patient_id))
    out = tmp_path / "report"
    result = run("report", str(path), "--out", str(out))
    assert result.returncode == 0, result.stderr
    (page,) = out.glob("*.html")
    assert len(page.name) <= 90 and page.parent == out


def _sr_of(folder: Path, week: str) -> Path:
    (path,) = (p for p in folder.rglob("*.dcm")
               if week in str(p.relative_to(folder)) and "SR" in p.relative_to(folder).parts)
    return path


def _set_first_length(path: Path, value: str) -> None:
    ds = pydicom.dcmread(path)

    def walk(items):
        for item in items:
            concept = item.get("ConceptNameCodeSequence")
            name = concept[0].CodeMeaning if concept else ""
            if item.get("ValueType") == "NUM" and ("Axis" in name or "Length" in name):
                item.MeasuredValueSequence[0].NumericValue = value
                return True
            if walk(item.get("ContentSequence", [])):
                return True
        return False

    assert walk(ds.ContentSequence)
    ds.save_as(path)


@pytest.mark.parametrize("value", ["-32", "1e200"])
def test_impossible_sr_lengths_are_refused_naming_the_file(sample: Path, value: str) -> None:
    sr = _sr_of(sample, "week08")
    _set_first_length(sr, value)
    refused(run("classify", str(sample)), str(sr), "not a lesion diameter")


def test_an_empty_baseline_sr_is_refused_not_rebased(sample: Path) -> None:
    sr = _sr_of(sample, "baseline")
    sr.write_bytes(b"")
    refused(run("classify", str(sample)), str(sr))
    refused(run("classify", str(sample), "--lenient"), "no baseline")


def test_a_deep_content_tree_is_a_problem_of_its_file(sample: Path) -> None:
    sr = _sr_of(sample, "week08")
    ds = pydicom.dcmread(sr)
    group = ds.ContentSequence[-1].ContentSequence[0]  # the first measurement group
    item = pydicom.Dataset()
    item.ValueType = "CONTAINER"
    group.ContentSequence.append(item)
    for _ in range(2000):  # deeper than Python's default recursion limit (1000)
        child = pydicom.Dataset()
        child.ValueType = "CONTAINER"
        item.ContentSequence = [child]
        item = child
    sys.setrecursionlimit(max(sys.getrecursionlimit(), 30000))
    try:
        ds.save_as(sr)
    except RecursionError:
        pytest.skip("pydicom cannot write a tree this deep here")
    result = run("classify", str(sr.parent.parent.parent))
    assert "Traceback" not in result.stderr
    # Either read (the deep container holds no measurement) or refused naming the file.
    assert result.returncode == 0 or (result.returncode == 2 and str(sr) in result.stderr)


@pytest.mark.parametrize("keyword, value, words", [
    ("Rows", 60000, "refused before allocating"),
    ("NumberOfFrames", "2147483647", "refused before allocating"),
])
def test_images_declared_huge_are_refused_before_allocating(
    tmp_path: Path, keyword: str, value: object, words: str
) -> None:
    from napari_recist.errors import InputError
    from napari_recist.io.volume import load_series

    source = next((SAMPLE / "2024-01-15_baseline" / "CT").iterdir())
    folder = tmp_path / "ct"
    folder.mkdir()
    ds = pydicom.dcmread(source)
    if keyword == "Rows":
        ds.Rows = ds.Columns = value
    else:
        ds.NumberOfFrames = value
        ds.SOPClassUID = "1.2.840.10008.5.1.4.1.1.2.1"  # Enhanced CT
    ds.save_as(folder / "slice.dcm")
    with pytest.raises(InputError) as error:
        load_series(folder)
    assert words in str(error.value) and "slice.dcm" in str(error.value)


def test_a_bad_ct_pixel_spacing_is_blamed_on_the_ct_not_the_sr(sample: Path) -> None:
    from napari_recist.io.patient import open_patient

    before = open_patient(sample)
    line = next(m.long_axis for m in before.record.assessment(1).measurements.values()
                if m.long_axis is not None and m.long_axis.referenced_sop_uid)
    ct = next(p for p in (sample / "2024-03-11_week08" / "CT").iterdir()
              if str(pydicom.dcmread(p, stop_before_pixels=True).SOPInstanceUID)
              == line.referenced_sop_uid)
    ds = pydicom.dcmread(ct)
    ds.PixelSpacing = ["0", "0"]
    ds.save_as(ct)
    opened = open_patient(sample)
    texts = [str(p) for p in opened.read_problems]
    assert any(str(ct) in text and "Pixel Spacing" in text for text in texts), texts
    week08 = opened.record.assessment(1)
    assert all(m.long_axis_mm for m in week08.measurements.values() if m.state == "measured")
