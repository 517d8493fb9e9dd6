"""Real SRs other projects publish (../shared/interop/real): what each file really holds.

The expected values were read from each file with DCMTK ``dsrdump +Pc``, pydicom and dcmjs
0.52 ``MeasurementReport`` (see ../shared/interop/real/README.md); the tests never copy the
files into the project, they read them there (or copy them into tmp folders for variants).
"""

from __future__ import annotations

import datetime as dt
import json
import math
import shutil
import subprocess
from pathlib import Path

import numpy as np
import pydicom
import pytest

from napari_recist.io.patient import open_patient
from napari_recist.io.sr_read import read_sr
from napari_recist.model import LesionState, Role

REAL = Path(__file__).resolve().parents[2].parent / "shared" / "interop" / "real"
JS_DIR = Path(__file__).resolve().parents[1] / "_js"

pytestmark = pytest.mark.skipif(
    not REAL.is_dir(),
    reason=f"{REAL} (the real SRs of other projects, kept beside the repository, not in it) "
    "is absent",
)

DCMJS = REAL / "dcmjs" / "structured_report.dcm"
BIDIRECTIONAL = "2.25.727123647032892115231673449406461991117"
LENGTH_1 = "2.25.651422900859568186090466701257238916287"
LENGTH_2 = "2.25.947037941489396998006204118437034285316"
ELLIPSES = ("2.25.734603291732424528321537285894435528817",
            "2.25.995832024467768639710260410694379510112")
ARROW = "2.25.957619585401316267806321583073461065454"
DWV_MR = "1.2.826.0.1.3680043.9.7278.1.83798073110115.20240516075655.3.6"


def _copy(tmp_path: Path, *names: str) -> Path:
    folder = tmp_path / "patient"
    folder.mkdir(exist_ok=True)
    for name in names:
        shutil.copy(REAL / name, folder / Path(name).name)
    return folder


def _dcmjs(path: Path) -> dict:
    run = subprocess.run(["node", str(JS_DIR / "read_sr.js"), str(path)], capture_output=True,
                         text=True, timeout=60)
    assert run.returncode == 0, run.stderr
    return json.loads(run.stdout)


# --------------------------------------------------------------------------- dcmjs / OHIF


def test_dcmjs_legacy_srt_codes_are_long_short_axis_and_length():
    result = read_sr(DCMJS, {})
    sizes = {k: (m.long_axis_mm, m.short_axis_mm) for k, m in result.measurements.items()}
    # dsrdump: Long Axis (G-A185, SRT) 93.9 mm, Short Axis (G-A186) 47.0 mm, Length (G-D7FE)
    # 39.3664929116140 mm and 133.992062006165 mm.
    assert sizes[BIDIRECTIONAL] == (93.9, 47.0)
    assert sizes[LENGTH_1] == (pytest.approx(39.366492911614), None)
    assert sizes[LENGTH_2] == (pytest.approx(133.992062006165), None)
    for lesion_id in (BIDIRECTIONAL, LENGTH_1, LENGTH_2):
        assert result.lesions[lesion_id].role is Role.TARGET
        assert result.measurements[lesion_id].state is LesionState.MEASURED


def test_dcmjs_area_coded_as_length_is_never_a_length():
    result = read_sr(DCMJS, {})
    # G-D7FE with unit mm2 (dcmjs EllipticalRoi): 4806.42320110457 and 3905.35929103307 mm2.
    for lesion_id, area in zip(ELLIPSES, ("4806.42320110457", "3905.35929103307"), strict=True):
        measurement = result.measurements[lesion_id]
        assert (measurement.long_axis_mm, measurement.short_axis_mm) == (None, None)
        assert measurement.state is LesionState.PRESENT
        assert result.lesions[lesion_id].role is Role.NON_TARGET
        assert any(lesion_id in note and f"AREA {area} mm2 is an area" in note
                   for note in result.notes)
    assert result.measurements[ARROW].state is LesionState.PRESENT  # ArrowAnnotate: no size


def test_dcmjs_values_agree_with_dcmjs_itself():
    tools = _dcmjs(DCMJS)
    assert [b["longestDiameter"] for b in tools["Bidirectional"]] == [93.9]
    assert [b["shortestDiameter"] for b in tools["Bidirectional"]] == [47.0]
    assert sorted(round(item["length"], 6) for item in tools["Length"]) == [39.366493, 133.992062]


def test_dcmjs_file_alone_is_refused_naming_the_file_and_the_reason(tmp_path):
    folder = _copy(tmp_path, "dcmjs/structured_report.dcm")
    opened = open_patient(folder)
    (problem,) = [p for p in opened.read_problems if p.column == "StudyDate"]
    assert problem.source == str(folder / "structured_report.dcm")
    assert "without a study date" in problem.message
    assert "cannot be placed in time" in problem.message
    assert "6 lesion measurement(s) are not read" in problem.message


def _ct_for_dcmjs(folder: Path) -> list[pydicom.Dataset]:
    """Two CT slices with the SOP Instance UIDs and the study the dcmjs SR references."""
    from _sr_samples import make_ct_series

    slices = make_ct_series(folder / "ct", "P9", dt.date(2010, 5, 10), 2)
    written = []
    for index, ds in enumerate(slices):
        uid = f"1.3.6.1.4.1.25403.52237031786.3872.20100510032220.{11 + index}"
        ds.SOPInstanceUID = uid
        ds.file_meta.MediaStorageSOPInstanceUID = uid
        ds.StudyInstanceUID = "1.3.6.1.4.1.25403.52237031786.3872.20100510032220.1"
        ds.save_as(ds.filename)
        written.append(ds)
    return written


def test_dcmjs_with_its_ct_is_placed_on_the_ct_date_with_its_lines(tmp_path):
    folder = _copy(tmp_path, "dcmjs/structured_report.dcm")
    ct = _ct_for_dcmjs(folder)
    opened = open_patient(folder)
    (assessment,) = opened.record.assessments
    assert assessment.date == dt.date(2010, 5, 10)
    assert any("no Study Date; placed on 2010-05-10" in note for note in opened.notes)
    bidirectional = assessment.measurements[BIDIRECTIONAL]
    assert bidirectional.long_axis.referenced_sop_uid == str(ct[0].SOPInstanceUID)
    # SCOORD (71.5, 329) -> (139.5, 397) on slice .11 (PS3.3 C.18.6.1.2: pixel centre at 0.5).
    origin = np.asarray(ct[0].ImagePositionPatient, dtype=float)
    spacing = float(ct[0].PixelSpacing[0])
    expected = origin + np.array([(71.5 - 0.5) * spacing, (329 - 0.5) * spacing, 0.0])
    assert np.allclose(bidirectional.long_axis.points[0], expected)
    ellipse = assessment.measurements[ELLIPSES[0]]
    (region,) = ellipse.regions
    assert region.graphic_type == "ELLIPSE" and len(region.points) == 49


def test_dcmjs_table_then_write_sr_then_ohif_reader_keeps_every_lesion(tmp_path, capsys):
    from napari_recist.cli import main

    folder = _copy(tmp_path, "dcmjs/structured_report.dcm")
    ct = _ct_for_dcmjs(folder)
    table = tmp_path / "lesions.csv"
    # --lenient: the SR has no Patient ID (taken as the CT's, listed on stderr).
    assert main(["table", str(folder), "--csv", str(table), "--lenient"]) == 0
    text = table.read_text()
    assert "long_axis_lps" in text and "long_axis_sop_uid" in text
    assert str(ct[1].SOPInstanceUID) in text
    (folder / "structured_report.dcm").unlink()
    out = tmp_path / "out"
    assert main(["write-sr", str(table), str(folder), "--out", str(out), "--quiet"]) == 0
    (written,) = sorted(out.iterdir())
    tools = _dcmjs(written)
    assert [(b["longestDiameter"], b["shortestDiameter"]) for b in tools["Bidirectional"]] == [
        (93.9, 47.0)]
    assert sorted(round(item["length"], 1) for item in tools["Length"]) == [39.4, 134.0]
    assert {item["sopInstanceUid"] for item in tools["Length"]} == {
        str(ct[0].SOPInstanceUID), str(ct[1].SOPInstanceUID)}


def test_sample_srs_table_write_sr_ohif_reader_returns_every_measured_lesion(tmp_path):
    from _sr_samples import write_patient

    from napari_recist.cli import main

    record, _, paths = write_patient(tmp_path / "P1")
    table = tmp_path / "lesions.csv"
    assert main(["table", str(tmp_path / "P1"), "--csv", str(table)]) == 0
    for path in paths:
        path.unlink()
    out = tmp_path / "out"
    assert main(["write-sr", str(table), str(tmp_path / "P1"), "--out", str(out), "--quiet"]) == 0
    for assessment, path in zip(record.assessments, sorted(out.iterdir(), reverse=True),
                                strict=True):
        tools = _dcmjs(path)
        shown = sorted([(round(b["longestDiameter"], 2), round(b["shortestDiameter"], 2))
                        for b in tools.get("Bidirectional", [])]
                       + [(round(item["length"], 2), None) for item in tools.get("Length", [])])
        # Every lesion measured with a line on a CT slice (the 3D line N2 has no OHIF tool).
        expected = sorted((m.long_axis_mm, m.short_axis_mm) for m in
                          assessment.measurements.values()
                          if m.long_axis is not None and m.long_axis.referenced_sop_uid)
        assert shown == expected


# --------------------------------------------------------------------------- highdicom


def test_highdicom_planar_roi_of_the_spinal_cord_is_not_a_lesion():
    result = read_sr(REAL / "highdicom" / "sr_document.dcm", {})
    assert result.measurements == {} and result.problems == []
    (note,) = result.notes
    assert "Measurement Group 1 (Planar ROI Measurements)" in note
    assert "Finding 'Spinal cord' (anatomical structure) is not a lesion" in note


def test_highdicom_multiple_groups_only_the_nodule_is_a_lesion(tmp_path):
    folder = _copy(tmp_path, "highdicom/sr_document_with_multiple_groups.dcm",
                   "highdicom/ct_image.dcm")
    opened = open_patient(folder)
    assert opened.read_problems == []
    (assessment,) = opened.record.assessments
    assert assessment.date == dt.date(2004, 1, 19)
    assert list(assessment.measurements) == ["LungNodule0001"]
    lesion = opened.record.lesions["LungNodule0001"]
    assert (lesion.role, lesion.site) == (Role.TARGET, "lung")
    nodule = assessment.measurements["LungNodule0001"]
    assert nodule.long_axis_mm == 10.0  # Diameter (SCT 81827009) 10.0 mm
    # CIRCLE (45, 55) / (45, 65) on the CT (0.661468 mm pixels): radius 10 px, drawn.
    (region,) = nodule.regions
    assert region.graphic_type == "CIRCLE"
    centre = np.array([-158.135803 + 44.5 * 0.661468, -179.035797 + 54.5 * 0.661468, -75.699997])
    radii = [math.dist(point, centre) for point in region.points]
    assert np.allclose(radii, 10 * 0.661468, atol=1e-4)
    notes = "\n".join(opened.notes)
    assert "Aorta0001): Finding category 'Anatomical structure' is not a lesion" in notes
    assert "Vertebra0001): Finding category 'Anatomical structure' is not a lesion" in notes
    assert "Image0001): no finding, finding site, diameter or image region" in notes


def test_highdicom_multiple_groups_classify_counts_the_nodule_only(tmp_path):
    folder = _copy(tmp_path, "highdicom/sr_document_with_multiple_groups.dcm",
                   "highdicom/ct_image.dcm")
    ready = open_patient(folder).for_classification()
    assert list(ready.record.lesions) == ["LungNodule0001"]  # the aorta is not in the sum


# --------------------------------------------------------------------------- dcmqi, dwv, pydicom


def test_dcmqi_volumetric_report_has_no_diameter():
    result = read_sr(REAL / "dcmqi" / "sr.dcm", {})
    assert result.problems == []
    lesion = result.lesions["primary tumor"]
    assert (lesion.role, lesion.site) == (Role.NON_TARGET, "pharyngeal tonsil (adenoid)")
    assert result.measurements["primary tumor"].state is LesionState.PRESENT
    assert result.timepoint == 1  # Time Point "1"
    assert any("Volume 33.5824 ml is a volume" in note for note in result.notes)
    assert result.study_date == dt.date(1986, 3, 11)


def test_dwv_ruler_is_placed_on_its_mr_study_date_with_its_lines(tmp_path):
    folder = _copy(tmp_path, "dwv/sr-ruler.dcm", "dwv/squares.dcm")
    opened = open_patient(folder)
    assert opened.read_problems == []
    (assessment,) = opened.record.assessments
    assert assessment.date == dt.date(2024, 5, 16)  # the MR's study, not the SR's 2025-04-09
    assert any("its Study Date 2025-04-09 is not the date of the study it belongs to" in note
               and "placed on 2024-05-16" in note for note in opened.notes)
    assert sorted(assessment.measurements) == ["0kk336h6bglr", "clvovj8vyt5", "zev6p8rale"]
    for measurement in assessment.measurements.values():
        assert measurement.long_axis_mm == pytest.approx(4.025316455696)
        assert measurement.long_axis.referenced_sop_uid == DWV_MR
    # POLYLINE (3.91139245, 5.84810114) -> (7.93670893, 5.84810114) beside the NUM; the MR has
    # 1 mm pixels at (0, 0, 6), rows along +x.
    first = assessment.measurements["clvovj8vyt5"].long_axis.points
    assert np.allclose(first, [(3.41139245, 5.34810114, 6.0), (7.43670893, 5.34810114, 6.0)])


def test_dwv_circles_radius_is_not_a_diameter_unless_asked():
    path = REAL / "dwv" / "sr-circle.dcm"
    result = read_sr(path, {})
    assert len(result.measurements) == 3
    for measurement in result.measurements.values():
        assert (measurement.long_axis_mm, measurement.state) == (None, LesionState.PRESENT)
    assert sum("Radius 2 mm is a radius" in note and "Area 0.125663706144 cm2 is an area"
               in note for note in result.notes) == 3
    asked = read_sr(path, {}, radius_as_diameter=True)
    for measurement in asked.measurements.values():
        assert (measurement.long_axis_mm, measurement.state) == (4.0, LesionState.MEASURED)
    assert sum("taken as a diameter of 4 mm (--radius-as-diameter)" in note
               for note in asked.notes) == 3


def test_dwv_circles_are_drawn(tmp_path):
    folder = _copy(tmp_path, "dwv/sr-circle.dcm", "dwv/squares.dcm")
    opened = open_patient(folder)
    (assessment,) = opened.record.assessments
    for measurement in assessment.measurements.values():
        (region,) = measurement.regions
        assert region.graphic_type == "CIRCLE" and region.referenced_sop_uid == DWV_MR
        centre = np.mean(region.points[:-1], axis=0)
        assert np.allclose([math.dist(p, centre) for p in region.points], 2.0, atol=1e-3)


def test_dwv_034_basic_text_sr_is_refused_naming_what_it_holds():
    path = REAL / "dwv" / "sr-ruler-dwv034.dcm"
    (problem,) = read_sr(path, {}).problems
    assert problem.source == str(path)
    assert "its root is a bare Measurement Group" in problem.message
    assert "(it holds 3 numeric measurement(s): Length)" in problem.message


def test_pydicom_offis_report_is_refused_naming_what_it_holds():
    path = REAL / "pydicom" / "test-SR.dcm"
    (problem,) = read_sr(path, {}).problems
    assert "titled 'Diagnosis', not a TID 1500 measurement report" in problem.message
    assert "(it holds 2 numeric measurement(s): Diameter)" in problem.message


def test_pydicom_ct_series_without_sr(tmp_path):
    folder = tmp_path / "CT5N"
    shutil.copytree(REAL / "pydicom" / "CT5N", folder)
    opened = open_patient(folder)
    (scan,) = opened.scans
    assert scan.date == dt.date(2001, 1, 1) and scan.series.slice_count == 5
    assert opened.record.assessments == [] and opened.read_problems == []


# --------------------------------------------------------------------------- variants


def _save_variant(source: Path, target: Path, edit) -> Path:
    ds = pydicom.dcmread(source)
    edit(ds)
    ds.save_as(target)
    return target


def _groups(ds):
    (container,) = [i for i in ds.ContentSequence
                    if i.ConceptNameCodeSequence[0].CodeValue == "126010"]
    return list(container.ContentSequence)


def _set_nodule_diameter(ds, value: str) -> None:
    nodule = _groups(ds)[1]
    (num,) = [i for i in nodule.ContentSequence if i.ValueType == "NUM"]
    num.MeasuredValueSequence[0].NumericValue = value


def test_revision_latest_content_time_wins_whatever_the_file_names(tmp_path):
    folder = _copy(tmp_path, "highdicom/ct_image.dcm")
    source = REAL / "highdicom" / "sr_document_with_multiple_groups.dcm"
    shutil.copy(source, folder / "z_first.dcm")

    def revise(ds):
        ds.SOPInstanceUID = ds.file_meta.MediaStorageSOPInstanceUID = pydicom.uid.generate_uid()
        ds.ContentTime = "235900"  # later than 225835.127244
        _set_nodule_diameter(ds, "12.5")
    _save_variant(source, folder / "a_revised.dcm", revise)
    opened = open_patient(folder)
    assert opened.read_problems == []
    (assessment,) = opened.record.assessments
    assert assessment.measurements["LungNodule0001"].long_axis_mm == 12.5
    (note,) = [n for n in opened.notes if "revises" in n]
    assert f"{folder / 'a_revised.dcm'} revises {folder / 'z_first.dcm'}" in note
    assert "12.5 mm, was 10 mm" in note
    ready = opened.for_classification()  # no --lenient needed
    assert ready.record.assessments[0].measurements["LungNodule0001"].long_axis_mm == 12.5


def test_revision_by_predecessor_when_content_times_are_equal(tmp_path):
    folder = _copy(tmp_path, "highdicom/ct_image.dcm")
    source = REAL / "highdicom" / "sr_document_with_multiple_groups.dcm"
    first = pydicom.dcmread(source)
    shutil.copy(source, folder / "b_first.dcm")

    def revise(ds):
        ds.SOPInstanceUID = ds.file_meta.MediaStorageSOPInstanceUID = pydicom.uid.generate_uid()
        ref = pydicom.Dataset()
        ref.ReferencedSOPClassUID = first.SOPClassUID
        ref.ReferencedSOPInstanceUID = first.SOPInstanceUID
        series = pydicom.Dataset()
        series.SeriesInstanceUID = first.SeriesInstanceUID
        series.ReferencedSOPSequence = [ref]
        study = pydicom.Dataset()
        study.StudyInstanceUID = first.StudyInstanceUID
        study.ReferencedSeriesSequence = [series]
        ds.PredecessorDocumentsSequence = [study]
        _set_nodule_diameter(ds, "8")
    _save_variant(source, folder / "a_revised.dcm", revise)
    opened = open_patient(folder)
    assert opened.record.assessments[0].measurements["LungNodule0001"].long_axis_mm == 8.0
    assert any("names the other as its predecessor document" in n for n in opened.notes)


def test_undecidable_revision_is_a_problem_and_the_lesion_is_left_out(tmp_path):
    folder = _copy(tmp_path, "highdicom/ct_image.dcm")
    source = REAL / "highdicom" / "sr_document_with_multiple_groups.dcm"
    shutil.copy(source, folder / "first.dcm")

    def other(ds):
        ds.SOPInstanceUID = ds.file_meta.MediaStorageSOPInstanceUID = pydicom.uid.generate_uid()
        _set_nodule_diameter(ds, "14")
    _save_variant(source, folder / "second.dcm", other)
    opened = open_patient(folder)
    (problem,) = opened.read_problems
    assert "lesion LungNodule0001 is measured differently" in problem.message
    assert "neither SR says it is the later" in problem.message
    assert opened.record.assessments == []  # its only lesion: left out of both


def test_revision_naming_its_predecessor_drops_the_lesion_it_removed(tmp_path):
    folder = _copy(tmp_path, "dwv/squares.dcm")
    source = REAL / "dwv" / "sr-ruler.dcm"
    first = pydicom.dcmread(source)
    shutil.copy(source, folder / "ruler.dcm")

    def revise(ds):
        ds.SOPInstanceUID = ds.file_meta.MediaStorageSOPInstanceUID = pydicom.uid.generate_uid()
        ds.ContentTime = "180000"
        ref = pydicom.Dataset()
        ref.ReferencedSOPClassUID = first.SOPClassUID
        ref.ReferencedSOPInstanceUID = first.SOPInstanceUID
        series = pydicom.Dataset()
        series.SeriesInstanceUID = first.SeriesInstanceUID
        series.ReferencedSOPSequence = [ref]
        study = pydicom.Dataset()
        study.StudyInstanceUID = first.StudyInstanceUID
        study.ReferencedSeriesSequence = [series]
        ds.PredecessorDocumentsSequence = [study]
        container = _groups(ds)
        container_item = next(i for i in ds.ContentSequence
                              if i.ConceptNameCodeSequence[0].CodeValue == "126010")
        container_item.ContentSequence = container[:2]  # the third ruler deleted
    _save_variant(source, folder / "ruler_saved_again.dcm", revise)
    opened = open_patient(folder)
    assert opened.read_problems == []
    (assessment,) = opened.record.assessments
    assert sorted(assessment.measurements) == ["clvovj8vyt5", "zev6p8rale"]
    assert any("lesion 0kk336h6bglr of" in n and "removed in the revision" in n
               for n in opened.notes)


def test_duplicate_report_with_new_uids_is_read_once(tmp_path):
    folder = _copy(tmp_path, "dwv/sr-ruler.dcm", "dwv/squares.dcm")

    def resend(ds):
        ds.SOPInstanceUID = ds.file_meta.MediaStorageSOPInstanceUID = pydicom.uid.generate_uid()
        for group in _groups(ds):
            for item in group.ContentSequence:
                if item.ValueType == "UIDREF":
                    item.UID = pydicom.uid.generate_uid()
                elif item.ValueType == "TEXT" and item.ConceptNameCodeSequence[0].CodeValue == (
                        "112039"):
                    item.TextValue = "cornerstoneTools@^4.0.0:Length"  # tool name only
    _save_variant(REAL / "dwv" / "sr-ruler.dcm", folder / "resent.dcm", resend)
    opened = open_patient(folder)
    assert opened.read_problems == []
    (assessment,) = opened.record.assessments
    assert len(assessment.measurements) == 3  # not 6
    (note,) = [n for n in opened.notes if "are the same report" in n]
    assert "3 identical measurement(s) under new tracking identifiers" in note
    assert str(folder / "resent.dcm") in note and str(folder / "sr-ruler.dcm") in note


def test_sr_without_study_date_is_placed_by_the_images_it_references(tmp_path):
    folder = _copy(tmp_path, "highdicom/ct_image.dcm")

    def undated(ds):
        ds.StudyDate = ""
        ds.StudyInstanceUID = pydicom.uid.generate_uid()  # a study not in the folder
    _save_variant(REAL / "highdicom" / "sr_document_with_multiple_groups.dcm",
                  folder / "sr.dcm", undated)
    opened = open_patient(folder)
    (assessment,) = opened.record.assessments
    assert assessment.date == dt.date(2004, 1, 19)
    assert any("no Study Date; placed on 2004-01-19" in n and "the images it references" in n
               for n in opened.notes)


def test_table_refusal_names_each_refused_file_and_its_reason(tmp_path, capsys):
    from napari_recist.cli import main

    folder = _copy(tmp_path, "pydicom/test-SR.dcm", "dwv/sr-ruler-dwv034.dcm")
    assert main(["table", str(folder), "--csv", str(tmp_path / "out.csv")]) == 2
    err = capsys.readouterr().err
    assert f"{folder / 'test-SR.dcm'}, document title: it is an SR of" in err
    assert f"{folder / 'sr-ruler-dwv034.dcm'}, document title: its root is a bare" in err
    assert not (tmp_path / "out.csv").exists()


def test_regions_survive_the_lesion_table(tmp_path):
    from napari_recist.cli import main
    from napari_recist.io.axis_columns import record_from_axis_columns
    from napari_recist.io.table import read_table

    folder = _copy(tmp_path, "highdicom/sr_document_with_multiple_groups.dcm",
                   "highdicom/ct_image.dcm")
    (read_region,) = open_patient(folder).record.assessments[0].measurements[
        "LungNodule0001"].regions
    table = tmp_path / "lesions.csv"
    assert main(["table", str(folder), "--csv", str(table)]) == 0
    (record,) = read_table(table).records
    rebuilt = record_from_axis_columns(record, str(table))
    (region,) = rebuilt.assessments[0].measurements["LungNodule0001"].regions
    assert (region.graphic_type, region.referenced_sop_uid) == (
        "CIRCLE", read_region.referenced_sop_uid)
    assert np.allclose(region.points, read_region.points, atol=1e-3)  # 3 decimals in the CSV


def test_a_malformed_regions_cell_names_the_file_lesion_and_column():
    from napari_recist.errors import InputError
    from napari_recist.io.axis_columns import geometry_from_extra
    from napari_recist.model import Measurement

    bad = Measurement("L1", LesionState.PRESENT, extra={"regions_lps": "CIRCLE -: 1 2"})
    with pytest.raises(InputError, match=r"t\.csv, lesion L1, regions_lps: expected 3"):
        geometry_from_extra(bad, "t.csv")
