"""Reading SRs: other tools' flavours (dcmqi TID 1411, OHIF dcmjs) and bad input."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import highdicom as hd
import numpy as np
import pydicom
import pytest
from _sr_samples import make_ct_series, write_patient
from pydicom.sr.codedict import codes

from napari_recist.io.sr import read_sr
from napari_recist.model import LesionState, Role

VENV_BIN = Path(sys.executable).parent
JS_DIR = Path(__file__).resolve().parents[1] / "_js"


@pytest.fixture(scope="module")
def patient(tmp_path_factory):
    return write_patient(tmp_path_factory.mktemp("read"))


def _groups(ds):
    return ds.ContentSequence[-1].ContentSequence


def _item(group, meaning):
    return next(item for item in group.ContentSequence
                if item.ConceptNameCodeSequence[0].CodeMeaning == meaning)


def _edited(patient, tmp_path, edit):
    ds = pydicom.dcmread(patient[2][0])
    edit(ds)
    path = tmp_path / "edited.dcm"
    ds.save_as(path)
    return path


def _images(ct):
    return {str(ds.SOPInstanceUID): ds for series in ct.values() for ds in series}


def test_not_dicom(tmp_path):
    path = tmp_path / "notes.txt"
    path.write_text("hello")
    result = read_sr(path)
    assert [str(p) for p in result.problems] == [
        f"{path}: not a readable DICOM file (File is missing DICOM File Meta Information header "
        "or the 'DICM' prefix is missing from the header. Use force=True to force reading.)"]


def test_not_an_sr(patient):
    ct_file = sorted(Path(patient[2][0]).parent.glob("ct_0/*.dcm"))[0]
    (problem,) = read_sr(ct_file).problems
    assert problem.source == str(ct_file) and "not a DICOM structured report (modality CT)" in (
        problem.message)


def test_sr_of_another_template(patient, tmp_path):
    def edit(ds):
        ds.ContentTemplateSequence[0].TemplateIdentifier = "2000"
        ds.ConceptNameCodeSequence[0].CodeValue = "18748-4"
        ds.ConceptNameCodeSequence[0].CodingSchemeDesignator = "LN"
        ds.ConceptNameCodeSequence[0].CodeMeaning = "Diagnostic Imaging Report"
    path = _edited(patient, tmp_path, edit)
    (problem,) = read_sr(path).problems
    assert str(problem).startswith(
        f"{path}, document title: it is an SR of template 2000 titled 'Diagnostic Imaging "
        "Report', not a TID 1500 measurement report: nothing is read from it (it holds ")


def test_measurement_without_units_keeps_the_others(patient, tmp_path):
    def edit(ds):
        num = _item(_groups(ds)[0], "Long Axis")
        del num.MeasuredValueSequence[0].MeasurementUnitsCodeSequence
    path = _edited(patient, tmp_path, edit)
    result = read_sr(path, _images(patient[1]))
    (problem,) = result.problems
    assert str(problem).startswith(f"{path}, Measurement Group 1 (L1), content item ")
    assert "'Long Axis': length with no unit: millimetres cannot be known" in str(problem)
    assert result.measurements["L1"].long_axis_mm is None
    assert result.measurements["L1"].short_axis_mm == 20.5
    assert result.measurements["L2"].long_axis_mm == 25.0
    assert len(result.measurements) == len(patient[0].assessments[0].measurements)


def test_centimetres_and_micrometres_become_millimetres(patient, tmp_path):
    def edit(ds):
        for meaning, unit, factor in (("Long Axis", "cm", 0.1), ("Short Axis", "um", 1000)):
            value = _item(_groups(ds)[0], meaning).MeasuredValueSequence[0]
            value.NumericValue = float(value.NumericValue) * factor
            value.MeasurementUnitsCodeSequence[0].CodeValue = unit
    result = read_sr(_edited(patient, tmp_path, edit))
    assert result.problems == []
    assert result.measurements["L1"].long_axis_mm == pytest.approx(32.0)
    assert result.measurements["L1"].short_axis_mm == pytest.approx(20.5)


def test_missing_tracking_identifier_skips_only_that_group(patient, tmp_path):
    def edit(ds):
        group = _groups(ds)[1]
        group.ContentSequence = [item for item in group.ContentSequence
                                 if item.ValueType not in ("TEXT", "UIDREF")
                                 or item.ConceptNameCodeSequence[0].CodeValue == "C2348792"]
    path = _edited(patient, tmp_path, edit)
    result = read_sr(path)
    (problem,) = result.problems
    assert str(problem) == (f"{path}, Measurement Group 2, Tracking Identifier: no Tracking "
                            "Identifier: the lesion cannot be followed over time; the group is "
                            "skipped")
    assert "L2" not in result.measurements and "L1" in result.measurements


def test_reference_to_an_image_that_is_not_there(patient):
    _, ct, paths = patient
    images = {uid: ds for uid, ds in _images(ct).items()
              if uid != str(ct[0][1].SOPInstanceUID)}
    result = read_sr(paths[0], images)
    assert [p.column for p in result.problems] == [
        "Measurement Group 1 (L1), content item 7 'Long Axis'",
        "Measurement Group 1 (L1), content item 8 'Short Axis'"]
    assert "which is not among the images found; its length is kept" in result.problems[0].message
    assert result.measurements["L1"].long_axis_mm == 32.0
    assert result.measurements["L1"].long_axis is None
    assert result.measurements["L5"].long_axis.points  # on another slice: converted


def _segmentation(ct, folder):
    mask = np.zeros((len(ct), 32, 32), dtype=bool)
    mask[1:3, 10:20, 12:22] = True
    description = hd.seg.SegmentDescription(
        segment_number=1, segment_label="lesion",
        segmented_property_category=codes.SCT.MorphologicallyAbnormalStructure,
        segmented_property_type=codes.SCT.Lesion,
        algorithm_type=hd.seg.SegmentAlgorithmTypeValues.MANUAL)
    seg = hd.seg.Segmentation(
        source_images=ct, pixel_array=mask,
        segmentation_type=hd.seg.SegmentationTypeValues.BINARY,
        segment_descriptions=[description], series_instance_uid=hd.UID(), series_number=5,
        sop_instance_uid=hd.UID(), instance_number=1, manufacturer="tests",
        manufacturer_model_name="tests", software_versions="0", device_serial_number="1")
    folder.mkdir()
    seg.save_as(folder / "seg.dcm")
    return seg


def _code(value, scheme, meaning):
    return {"CodeValue": value, "CodingSchemeDesignator": scheme, "CodeMeaning": meaning}


def test_dcmqi_volumetric_groups(tmp_path):
    ct = make_ct_series(tmp_path / "ct")
    seg = _segmentation(ct, tmp_path / "seg")
    length = {"value": "2.5", "quantity": _code("103339001", "SCT", "Long Axis"),
              "units": _code("cm", "UCUM", "centimeter")}
    volume = {"value": "1500", "quantity": _code("118565006", "SCT", "Volume"),
              "units": _code("mm3", "UCUM", "cubic millimeter")}
    group = {"ReferencedSegment": 1, "SourceSeriesForImageSegmentation":
             str(ct[0].SeriesInstanceUID), "segmentationSOPInstanceUID": str(seg.SOPInstanceUID),
             "Finding": _code("52988006", "SCT", "Lesion")}
    metadata = {
        "SeriesDescription": "Measurements", "SeriesNumber": "1001", "InstanceNumber": "1",
        "compositeContext": ["seg.dcm"], "imageLibrary": [Path(ds.filename).name for ds in ct],
        "observerContext": {"ObserverType": "PERSON", "PersonObserverName": "Reader1"},
        "VerificationFlag": "VERIFIED", "CompletionFlag": "COMPLETE",
        "activitySession": "1", "timePoint": "1",
        "Measurements": [
            {**group, "TrackingIdentifier": "liver lesion A", "measurementItems": [length, volume],
             "FindingSite": _code("10200004", "SCT", "Liver")},
            {**group, "TrackingIdentifier": "bone lesion B", "measurementItems": [volume],
             "FindingSite": _code("272673000", "SCT", "Bone")},
        ]}
    (tmp_path / "meta.json").write_text(json.dumps(metadata))
    out = tmp_path / "dcmqi.dcm"
    run = subprocess.run([str(VENV_BIN / "tid1500writer"), "--inputMetadata",
                          str(tmp_path / "meta.json"), "--inputImageLibraryDirectory",
                          str(tmp_path / "ct"), "--inputCompositeContextDirectory",
                          str(tmp_path / "seg"), "--outputDICOM", str(out)],
                         capture_output=True, text=True, timeout=60)
    assert run.returncode == 0, run.stdout + run.stderr
    result = read_sr(out)
    assert result.problems == []
    lesion_a, lesion_b = result.lesions["liver lesion A"], result.lesions["bone lesion B"]
    assert (lesion_a.role, lesion_a.site) == (Role.TARGET, "liver")
    assert result.measurements["liver lesion A"].long_axis_mm == pytest.approx(25.0)
    assert (lesion_b.role, lesion_b.site) == (Role.NON_TARGET, "bone")
    assert result.measurements["bone lesion B"].state is LesionState.PRESENT
    # The volumes are named as not diameters; both groups state no RECIST role.
    assert [note.rsplit(": ", 1)[-1] for note in result.notes if "role" in note] == [
        "no RECIST role stated; taken as target", "no RECIST role stated; taken as non-target"]
    assert sum("is a volume: not a diameter" in note for note in result.notes) == 2


def test_ohif_dcmjs_length_and_bidirectional(tmp_path):
    ct = make_ct_series(tmp_path / "ct")
    tools = {
        "Length": {"data": [{"handles": {"start": {"x": 4.5, "y": 4.5},
                                         "end": {"x": 14.5, "y": 4.5}}, "length": 8.0}]},
        "Bidirectional": {"data": [{"handles": {
            "start": {"x": 5, "y": 10}, "end": {"x": 25, "y": 10},
            "perpendicularStart": {"x": 15, "y": 5}, "perpendicularEnd": {"x": 15, "y": 15}},
            "longestDiameter": 16.0, "shortestDiameter": 8.0}]},
    }
    description = {
        "patient": {"PatientID": "P1", "PatientName": "Test^P1", "StudyDate": "20240110"},
        "studyInstanceUID": str(ct[0].StudyInstanceUID),
        "seriesInstanceUID": str(ct[0].SeriesInstanceUID),
        "images": [{"sopInstanceUID": str(ds.SOPInstanceUID), "sopClassUID": str(ds.SOPClassUID)}
                   for ds in ct],
        "toolState": {"1": tools},
    }
    (tmp_path / "ohif.json").write_text(json.dumps(description))
    out = tmp_path / "ohif.dcm"
    run = subprocess.run(["node", str(JS_DIR / "write_sr.js"), str(tmp_path / "ohif.json"),
                          str(out)], capture_output=True, text=True, timeout=60)
    assert run.returncode == 0, run.stderr
    result = read_sr(out, {str(ds.SOPInstanceUID): ds for ds in ct})
    length_id, bidirectional_id = list(result.measurements)
    length = result.measurements[length_id]
    assert length.long_axis_mm == 8.0 and length.state is LesionState.MEASURED
    assert np.allclose(length.long_axis.points, [(-9.2, -16.8, 102.5), (-1.2, -16.8, 102.5)])
    assert result.lesions[length_id].role is Role.TARGET
    assert length_id == result.lesions[length_id].tracking_uid  # OHIF names only its tool
    # dcmjs writes its Bidirectional axes with unit "1": in a group naming its cornerstone tool
    # they are cornerstone lengths in mm, read as such with a note (no problem, no loss).
    assert result.problems == []
    bidirectional = result.measurements[bidirectional_id]
    assert (bidirectional.long_axis_mm, bidirectional.short_axis_mm) == (16.0, 8.0)
    assert bidirectional.state is LesionState.MEASURED
    assert sum("unit '1' on an OHIF Bidirectional length" in n for n in result.notes) == 2


@pytest.mark.parametrize("fraction", [0.2, 0.5, 0.95])
def test_a_file_cut_short_is_refused_whole(patient, tmp_path, fraction):
    data = patient[2][1].read_bytes()
    path = tmp_path / "cut.dcm"
    path.write_bytes(data[: int(len(data) * fraction)])
    result = read_sr(path)
    assert result.measurements == {}
    (problem,) = result.problems
    assert problem.source == str(path) and "cut short" in problem.message


def test_bad_coordinates_cost_only_the_line(patient, tmp_path):
    def edit(ds):
        scoord = next(child for child in _item(_groups(ds)[0], "Long Axis").ContentSequence
                      if child.ValueType == "SCOORD")
        scoord.GraphicData = [1.0, 2.0, 3.0]  # not (column, row) pairs
    path = _edited(patient, tmp_path, edit)
    result = read_sr(path, _images(patient[1]))
    (problem,) = result.problems
    assert problem.column == "Measurement Group 1 (L1), content item 7 'Long Axis'"
    assert "image coordinates without points" in problem.message
    l1 = result.measurements["L1"]
    assert (l1.long_axis_mm, l1.long_axis, l1.short_axis is not None) == (32.0, None, True)


def test_image_without_plane_attributes_keeps_the_length(patient):
    _, ct, paths = patient
    images = _images(ct)
    damaged = images[str(ct[0][1].SOPInstanceUID)].copy()
    del damaged.PixelSpacing
    images[str(ct[0][1].SOPInstanceUID)] = damaged
    result = read_sr(paths[0], images)
    assert len(result.problems) == 2
    assert "has no position, orientation or pixel spacing" in result.problems[0].message
    assert result.measurements["L1"].long_axis_mm == 32.0


def test_measurement_method_round_trips(patient):
    # TID 300 Measurement Method (SCT 370129005) on each axis length, from the table's
    # method column: "manual" is SCT Manual, the semi-automatic methods are private codes.
    _, ct, paths = patient
    baseline = read_sr(paths[0], _images(ct))
    follow_up = read_sr(paths[1], _images(ct))
    assert baseline.measurements["L1"].extra == {"method": "semi-automatic, adjusted by reader"}
    assert follow_up.measurements["L1"].extra == {"method": "manual"}
    assert baseline.measurements["L5"].extra == {}
    l1 = _item(_groups(pydicom.dcmread(paths[1]))[0], "Long Axis")
    (method,) = [child for child in l1.ContentSequence if child.ValueType == "CODE"]
    name, value = method.ConceptNameCodeSequence[0], method.ConceptCodeSequence[0]
    assert (name.CodeValue, name.CodingSchemeDesignator) == ("370129005", "SCT")
    assert (value.CodeValue, value.CodingSchemeDesignator) == ("87982008", "SCT")
    assert method.RelationshipType == "HAS CONCEPT MOD"
