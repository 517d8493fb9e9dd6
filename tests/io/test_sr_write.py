"""Table -> SR -> table round trip, geometry, and refusals of the SR writer."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import numpy as np
import pydicom
import pytest
from _sr_samples import RESPONSES, every_state_record, make_ct_series, write_patient

from napari_recist.errors import InputError
from napari_recist.io.sr import read_sr, write_timepoint_sr
from napari_recist.model import LesionState, Role


@pytest.fixture(scope="module")
def patient(tmp_path_factory):
    return write_patient(tmp_path_factory.mktemp("patient"))


def _images(ct):
    return {str(ds.SOPInstanceUID): ds for series in ct.values() for ds in series}


def test_round_trip_gives_the_same_rows_for_every_role_and_state(patient):
    record, ct, paths = patient
    for assessment, path in zip(record.assessments, paths, strict=True):
        result = read_sr(path, _images(ct))
        assert result.problems == [] and result.notes == []
        assert result.timepoint == assessment.timepoint
        assert result.study_date == assessment.date
        assert result.patient_id == record.patient_id
        assert set(result.measurements) == set(assessment.measurements)
        for lesion_id, written in assessment.measurements.items():
            read = result.measurements[lesion_id]
            assert (read.state, read.long_axis_mm, read.short_axis_mm) == (
                written.state, written.long_axis_mm, written.short_axis_mm)
            lesion, read_lesion = record.lesions[lesion_id], result.lesions[lesion_id]
            assert (read_lesion.role, read_lesion.site, read_lesion.nodal,
                    read_lesion.thoracic) == (lesion.role, lesion.site, lesion.nodal,
                                              lesion.thoracic)
        assert result.responses == RESPONSES.get(assessment.timepoint, {})
    states = {m.state for a in record.assessments for m in a.measurements.values()}
    assert states == set(LesionState)
    assert {lesion.role for lesion in record.lesions.values()} == set(Role)


def test_tracking_uid_links_a_lesion_across_timepoints(patient):
    _, ct, paths = patient
    baseline, follow_up = (read_sr(path, _images(ct)) for path in paths)
    for lesion_id in baseline.lesions:
        assert baseline.lesions[lesion_id].tracking_uid == follow_up.lesions[lesion_id].tracking_uid


def test_lines_come_back_in_patient_coordinates(patient):
    record, ct, paths = patient
    for assessment, path in zip(record.assessments, paths, strict=True):
        result = read_sr(path, _images(ct))
        for lesion_id, written in assessment.measurements.items():
            for axis in ("long_axis", "short_axis"):
                expected = getattr(written, axis)
                got = getattr(result.measurements[lesion_id], axis)
                if expected is None:
                    assert got is None
                    continue
                assert np.allclose(got.points, expected.points, atol=1e-4)
                assert got.frame_of_reference_uid == expected.frame_of_reference_uid


def test_sr_lines_on_a_slice_are_scoord_and_others_scoord3d(patient):
    _, ct, paths = patient
    dataset = pydicom.dcmread(paths[1])
    value_types = [child.ValueType for item in _content_items(dataset)
                   if item.get("ValueType") == "NUM"
                   for child in item.get("ContentSequence", [])]
    assert value_types.count("SCOORD") == 2 and value_types.count("SCOORD3D") == 1
    assert dataset.SOPClassUID == pydicom.uid.Comprehensive3DSRStorage
    assert dataset.StudyInstanceUID == ct[1][0].StudyInstanceUID


def _content_items(dataset):
    for item in dataset.get("ContentSequence", []):
        yield item
        yield from _content_items(item)


def test_without_images_the_sr_keeps_the_image_reference(patient):
    _, _, paths = patient
    result = read_sr(paths[0])
    assert result.problems == []
    line = result.measurements["L1"].long_axis
    assert line.points == () and line.referenced_sop_uid
    sop_uid, pixels = result.pixel_lines[("L1", "long")]
    assert sop_uid == line.referenced_sop_uid and pixels == ((5.0, 5.0), (25.0, 20.0))


def test_no_images_is_refused_with_a_clear_message(tmp_path):
    record = every_state_record()
    with pytest.raises(InputError, match="has no CT images: a measurement SR must reference"):
        write_timepoint_sr(record, 0, [], tmp_path / "sr.dcm")
    assert not list(tmp_path.iterdir())


def test_images_of_another_patient_or_date_are_refused(tmp_path):
    record = every_state_record()
    other = make_ct_series(tmp_path / "other", patient_id="P2", study_date=dt.date(2024, 1, 11))
    target = tmp_path / "sr.dcm"
    target.write_bytes(b"previous content")
    with pytest.raises(InputError) as error:
        write_timepoint_sr(record, 0, other, target)
    text = str(error.value)
    assert "belong to patient(s) P2, not to P1" in text
    assert "baseline is dated 2024-01-10 but the images have study date(s) 20240111" in text
    assert target.read_bytes() == b"previous content"


def test_unknown_timepoint_is_refused(tmp_path):
    with pytest.raises(InputError, match="has no time point 7"):
        write_timepoint_sr(every_state_record(), 7, [], Path(tmp_path / "sr.dcm"))


def test_images_may_be_given_as_paths(tmp_path):
    record = every_state_record()
    make_ct_series(tmp_path / "ct", study_date=record.assessments[0].date)
    files = sorted((tmp_path / "ct").glob("*.dcm"))
    out = write_timepoint_sr(record, 0, files, tmp_path / "sr.dcm")
    assert set(read_sr(out).measurements) == set(record.assessments[0].measurements)
