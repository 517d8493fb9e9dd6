"""open_patient: one scan of a patient folder -> scans by date -> one checked record."""

from __future__ import annotations

import datetime as dt
import json
import subprocess
from pathlib import Path

import pydicom
import pytest
from _sr_samples import make_ct_series, write_patient

from napari_recist.errors import InputError
from napari_recist.io.patient import OpenedPatient, open_patient
from napari_recist.io.sr import write_timepoint_sr
from napari_recist.model import Assessment, Lesion, LesionState, Measurement, PatientRecord, Role


@pytest.fixture(scope="module")
def patient(tmp_path_factory):
    root = tmp_path_factory.mktemp("P1")
    record, ct, paths = write_patient(root / "nested" / "deeper")
    return root, record, ct, paths


def load_patient_record(path, lenient: bool = False) -> PatientRecord:
    return open_patient(path).for_classification(lenient).record


def read_patient_record(path) -> OpenedPatient:
    return open_patient(path)


def test_open_patient_orders_scans_by_date(patient):
    root, record, ct, paths = patient
    opened = open_patient(root)
    assert opened.patient_id == "P1"
    assert [scan.date for scan in opened.scans] == [a.date for a in record.assessments]
    for scan, series, sr_path in zip(opened.scans, ct.values(), paths, strict=True):
        assert scan.series is not None and scan.series.series_uid == series[0].SeriesInstanceUID
        assert [report.path for report in scan.sr_files] == [sr_path]
        assert len(scan.image_files()) == len(series)


def test_patient_record_from_srs_equals_the_written_record(patient):
    root, record, _, _ = patient
    read = load_patient_record(root)
    assert read.patient_id == record.patient_id
    assert {k: (v.role, v.site, v.nodal, v.thoracic) for k, v in read.lesions.items()} == {
        k: (v.role, v.site, v.nodal, v.thoracic) for k, v in record.lesions.items()}
    assert [(a.timepoint, a.date) for a in read.assessments] == [
        (a.timepoint, a.date) for a in record.assessments]
    for got, expected in zip(read.assessments, record.assessments, strict=True):
        assert {k: (m.state, m.long_axis_mm, m.short_axis_mm)
                for k, m in got.measurements.items()} == {
            k: (m.state, m.long_axis_mm, m.short_axis_mm)
            for k, m in expected.measurements.items()}
    l1 = read.assessment(0).measurements["L1"].long_axis
    assert l1.referenced_sop_uid and len(l1.points) == 2  # converted with the CT geometry


def _three_scans(tmp_path, timepoints):
    dates = [dt.date(2023, 11, 2), dt.date(2024, 1, 10), dt.date(2024, 3, 12)]
    record = PatientRecord("P9", {"L1": Lesion("L1", Role.TARGET, "liver")}, [
        Assessment(tp, date, {"L1": Measurement("L1", LesionState.MEASURED, 20.0 + tp)})
        for tp, date in zip(timepoints, dates, strict=True)])
    for assessment in record.assessments:
        ct = make_ct_series(tmp_path / f"ct{assessment.timepoint}", "P9", assessment.date, 2)
        write_timepoint_sr(record, assessment.timepoint, ct,
                           tmp_path / f"sr{assessment.timepoint}.dcm")
    return record


def test_stated_pre_baseline_is_kept(tmp_path):
    _three_scans(tmp_path, [-1, 0, 1])
    read = load_patient_record(tmp_path)
    assert [a.timepoint for a in read.assessments] == [-1, 0, 1]
    assert read.assessment(-1).measurements["L1"].long_axis_mm == 19.0


def test_without_stated_timepoints_the_first_date_is_baseline(tmp_path):
    _three_scans(tmp_path, [-1, 0, 1])
    for path in tmp_path.glob("sr*.dcm"):  # strip the time point context, as other tools do
        ds = pydicom.dcmread(path)
        group = ds.ContentSequence[-1].ContentSequence[0]
        group.ContentSequence = [item for item in group.ContentSequence
                                 if item.ConceptNameCodeSequence[0].CodeValue
                                 not in ("C2348792", "126072")]
        ds.save_as(path)
    read = load_patient_record(tmp_path)
    assert [(a.timepoint, a.date) for a in read.assessments] == [
        (0, dt.date(2023, 11, 2)), (1, dt.date(2024, 1, 10)), (2, dt.date(2024, 3, 12))]


def test_problems_name_the_file_and_lenient_keeps_the_rest(tmp_path):
    _three_scans(tmp_path, [0, 1, 2])
    bad = tmp_path / "sr1.dcm"
    ds = pydicom.dcmread(bad)
    num = next(item for item in ds.ContentSequence[-1].ContentSequence[0].ContentSequence
               if item.ValueType == "NUM")
    del num.MeasuredValueSequence[0].MeasurementUnitsCodeSequence
    ds.save_as(bad)
    with pytest.raises(InputError) as error:
        load_patient_record(tmp_path)
    assert str(bad) in str(error.value) and "'Long Axis'" in str(error.value)
    result = read_patient_record(tmp_path)
    assert len(result.read_problems) == 1
    record = result.record
    assert record.assessment(1).measurements["L1"].state is LesionState.NOT_EVALUATED
    assert record.assessment(2).measurements["L1"].long_axis_mm == 22.0
    assert load_patient_record(tmp_path, lenient=True).assessment(0) is not None


def test_several_patients_in_one_folder_is_refused(tmp_path):
    make_ct_series(tmp_path / "a", "P1")
    make_ct_series(tmp_path / "b", "P2")
    with pytest.raises(InputError, match="holds several patients"):
        open_patient(tmp_path)


def test_folder_without_sr_is_refused(tmp_path):
    make_ct_series(tmp_path / "a", "P1")
    with pytest.raises(InputError, match="no structured report with lesion measurements"):
        load_patient_record(tmp_path)


def test_a_line_on_another_scan_is_found(tmp_path):
    # OHIF can measure the prior study from the follow-up's report.
    baseline = make_ct_series(tmp_path / "ct0", "P1", dt.date(2024, 1, 10), 2)
    make_ct_series(tmp_path / "ct1", "P1", dt.date(2024, 3, 12), 2)
    image = baseline[1]
    description = {
        "patient": {"PatientID": "P1", "PatientName": "Test^P1", "StudyDate": "20240312"},
        "studyInstanceUID": "1.2.3.4", "seriesInstanceUID": "1.2.3.4.5",
        "images": [{"sopInstanceUID": str(image.SOPInstanceUID),
                    "sopClassUID": str(image.SOPClassUID)}],
        "toolState": {"0": {"Length": {"data": [{"handles": {
            "start": {"x": 4.5, "y": 4.5}, "end": {"x": 14.5, "y": 4.5}}, "length": 8.0}]}}},
    }
    (tmp_path / "ohif.json").write_text(json.dumps(description))
    js = Path(__file__).resolve().parents[1] / "_js" / "write_sr.js"
    run = subprocess.run(["node", str(js), str(tmp_path / "ohif.json"), str(tmp_path / "sr.dcm")],
                         capture_output=True, text=True, timeout=60)
    assert run.returncode == 0, run.stderr
    result = read_patient_record(tmp_path)
    assert result.read_problems == []
    (assessment,) = result.record.assessments
    (measurement,) = assessment.measurements.values()
    assert assessment.date == dt.date(2024, 3, 12)
    assert measurement.long_axis.referenced_sop_uid == str(image.SOPInstanceUID)
    assert measurement.long_axis.points[0][2] == float(image.ImagePositionPatient[2])


SAMPLE = Path(__file__).resolve().parents[2] / "sample_dicom"


class FileOpens:
    """Count how often each file under a folder is opened (Python's audit hook)."""

    active: FileOpens | None = None
    installed = False

    def __init__(self, root: Path) -> None:
        self.root = str(root.resolve())
        self.counts: dict[str, int] = {}

    def __enter__(self) -> FileOpens:
        if not FileOpens.installed:
            import sys

            sys.addaudithook(FileOpens._hook)
            FileOpens.installed = True
        FileOpens.active = self
        return self

    def __exit__(self, *_: object) -> None:
        FileOpens.active = None

    @staticmethod
    def _hook(event: str, args: tuple) -> None:
        counter = FileOpens.active
        if event != "open" or counter is None or not isinstance(args[0], str | Path):
            return
        path = str(Path(args[0]).resolve())
        if path.startswith(counter.root):
            counter.counts[path] = counter.counts.get(path, 0) + 1


def open_and_load(root: Path) -> OpenedPatient:
    """What the viewer does: open the patient, then read every scan's pixels."""
    from napari_recist.io.volume import load_series

    opened = open_patient(root)
    for scan in opened.scans:
        if scan.series is not None:
            load_series(scan.series)
    return opened


@pytest.mark.parametrize("which", ["sample (RLE)", "uncompressed"])
def test_each_dicom_file_is_opened_at_most_twice(patient, which):
    root = SAMPLE if which == "sample (RLE)" else patient[0]
    with FileOpens(root) as opens:
        opened = open_and_load(root)
    dicom = [path for path in opens.counts if not path.endswith(".csv")]
    assert len(dicom) >= 3 and all(scan.series for scan in opened.scans)
    worst = max(dicom, key=lambda path: opens.counts[path])
    assert opens.counts[worst] <= 2, (worst, opens.counts[worst])


def test_a_damaged_baseline_sr_never_makes_the_follow_up_the_baseline(tmp_path):
    import shutil

    root = tmp_path / "sample"
    shutil.copytree(SAMPLE, root)
    (baseline_sr,) = (root / "2024-01-15_baseline" / "SR").iterdir()
    baseline_sr.write_bytes(b"")  # an interrupted copy
    opened = open_patient(root)
    assert [scan.timepoint for scan in opened.scans] == [0, 1, 2]
    assert any(str(baseline_sr) in str(p) for p in opened.read_problems)
    with pytest.raises(InputError) as strict:
        opened.for_classification()
    assert str(baseline_sr) in str(strict.value)
    with pytest.raises(InputError, match="no baseline"):
        opened.for_classification(lenient=True)  # not re-based on week 8
