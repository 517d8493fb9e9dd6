"""Finding and loading CT series: geometry against SimpleITK, damaged and mixed folders."""

from __future__ import annotations

import datetime as dt
import random
import shutil
from pathlib import Path

import numpy as np
import pydicom
import pytest
import SimpleITK as sitk  # noqa: N813 - the name SimpleITK documents
from pydicom.uid import JPEG2000Lossless, JPEGLSLossless, RLELossless

from napari_recist.errors import InputError
from napari_recist.io.dicom_scan import find_series, scan_dicom_folder
from napari_recist.io.volume import FILL_VALUE_HU, load_series
from napari_recist.sample import CTSeriesIdentity, write_ct_series

CT5N = Path(pydicom.__file__).parent / "data/test_files/dicomdirtests/98892001/CT5N"


def ct5n_files() -> list[Path]:
    files = sorted(CT5N.glob("*"))
    assert len(files) == 5
    return files


def identity(name: str, *, date: dt.date = dt.date(2024, 2, 1)) -> CTSeriesIdentity:
    uid = pydicom.uid.generate_uid(entropy_srcs=["test", name])
    return CTSeriesIdentity(
        patient={"PatientName": "Test^Series", "PatientID": "T1"},
        study_uid=pydicom.uid.generate_uid(entropy_srcs=["study", name]),
        study_date=date,
        study_id="1",
        accession_number="A1",
        study_description="test",
        series_uid=uid,
        series_number=3,
        series_description=f"series {name}",
        frame_of_reference_uid=pydicom.uid.generate_uid(entropy_srcs=["for", name]),
    )


def small_series(folder: Path, name: str = "a", depth: int = 8, **kwargs) -> np.ndarray:
    """Write a small regular axial series whose voxels encode (z, y, x)."""
    z, y, x = np.meshgrid(np.arange(depth), np.arange(12), np.arange(10), indexing="ij")
    hu = (z * 100 + y * 5 + x - 500).astype(np.int16)
    write_ct_series(hu, folder, identity(name), first_voxel_lps=(-10.0, 20.0, 30.0),
                    pixel_mm=0.8, slice_mm=2.5, compress=False, **kwargs)
    return hu


def sitk_volume(files: list[Path]) -> sitk.Image:
    reader = sitk.ImageSeriesReader()
    reader.SetFileNames(list(reader.GetGDCMSeriesFileNames(str(files[0].parent))))
    return reader.Execute()


def test_ct5n_geometry_and_voxels_match_simpleitk():
    volume = load_series(CT5N)
    image = sitk_volume(ct5n_files())
    np.testing.assert_allclose(volume.spacing[::-1], image.GetSpacing(), atol=1e-5)
    np.testing.assert_allclose(volume.origin, image.GetOrigin(), atol=1e-4)
    # SimpleITK's direction columns are the x, y, z index axes; ours are z, y, x.
    sitk_direction = np.array(image.GetDirection()).reshape(3, 3)
    np.testing.assert_allclose(volume.direction[:, ::-1], sitk_direction, atol=1e-6)
    np.testing.assert_array_equal(volume.array, sitk.GetArrayFromImage(image))
    assert volume.warnings == []
    assert volume.spacing[0] > 0
    # Every slice sits where its own header says, whatever the file order.
    for z, path in enumerate(volume.files):
        header = pydicom.dcmread(path, stop_before_pixels=True)
        assert volume.sop_instance_uids[z] == header.SOPInstanceUID
        np.testing.assert_allclose(
            volume.index_to_lps([z, 0, 0]), [float(v) for v in header.ImagePositionPatient],
            atol=1e-4,
        )
    # A voxel index goes to LPS and back.
    points = np.array([[0, 0, 0], [4, 15, 15], [2.5, 3.25, 7.0]])
    np.testing.assert_allclose(volume.lps_to_index(volume.index_to_lps(points)), points)
    point = volume.index_to_lps([1, 2, 3])
    np.testing.assert_allclose(
        point, image.TransformContinuousIndexToPhysicalPoint((3.0, 2.0, 1.0)), atol=1e-4
    )
    assert volume.patient_id == "98890234"
    assert volume.study_date == dt.date(2001, 1, 1)
    assert volume.window_center is not None


def test_shuffled_file_names_give_the_same_volume(tmp_path):
    files = ct5n_files()
    names = [f"x{n}.img" for n in random.Random(4).sample(range(100), len(files))]
    for source, name in zip(files, names, strict=True):
        shutil.copy(source, tmp_path / name)
    reference = load_series(CT5N)
    shuffled = load_series(tmp_path)
    np.testing.assert_array_equal(shuffled.array, reference.array)
    assert shuffled.sop_instance_uids == reference.sop_instance_uids
    np.testing.assert_allclose(shuffled.affine, reference.affine)


def test_sorts_by_position_not_instance_number(tmp_path):
    hu = small_series(tmp_path)  # instance numbers count down as z goes up
    volume = load_series(tmp_path)
    np.testing.assert_array_equal(volume.array, hu)
    assert volume.spacing == (2.5, 0.8, 0.8)
    assert volume.origin == (-10.0, 20.0, 30.0)
    assert volume.array.dtype == np.int16


def test_missing_slice_is_filled_and_reported(tmp_path):
    hu = small_series(tmp_path)
    (tmp_path / "CT0005.dcm").unlink()  # instance 5 = slice index 3 of 8
    volume = load_series(tmp_path)
    assert volume.shape == hu.shape
    assert len(volume.warnings) == 1
    assert "1 slice(s) missing between 35.00 mm and 40.00 mm" in volume.warnings[0]
    assert volume.sop_instance_uids[3] is None and volume.files[3] is None
    assert np.all(volume.array[3] == FILL_VALUE_HU)
    kept = [z for z in range(8) if z != 3]
    np.testing.assert_array_equal(volume.array[kept], hu[kept])


def test_uneven_spacing_and_gantry_tilt_are_reported(tmp_path):
    small_series(tmp_path, depth=5)
    files = sorted(tmp_path.glob("*.dcm"))
    for path in files:  # tilt: each slice 0.5 mm further posterior per 2.5 mm along z
        ds = pydicom.dcmread(path)
        x, y, z = (float(v) for v in ds.ImagePositionPatient)
        ds.ImagePositionPatient = [x, y + (z - 30.0) * 0.2, z]
        ds.save_as(path)
    volume = load_series(tmp_path)
    assert any("gantry tilt of 11.3 degrees" in w for w in volume.warnings)
    for z, path in enumerate(volume.files):
        position = [float(v) for v in pydicom.dcmread(path).ImagePositionPatient]
        np.testing.assert_allclose(volume.index_to_lps([z, 0, 0]), position, atol=1e-6)

    uneven = tmp_path / "uneven"
    small_series(uneven, depth=5)
    path = uneven / "CT0003.dcm"  # the middle slice, 0.4 mm off
    ds = pydicom.dcmread(path)
    ds.ImagePositionPatient = [-10, 20, 35.4]
    ds.save_as(path)
    warnings = load_series(uneven).warnings
    assert len(warnings) == 1
    assert "uneven slice spacing: steps from 2.100 to 2.900 mm" in warnings[0]
    assert "regular 2.500 mm spacing, up to 0.40 mm from their true position" in warnings[0]


def test_several_series_need_a_choice(tmp_path):
    small_series(tmp_path / "one", "one")
    small_series(tmp_path / "two", "two", depth=4)
    with pytest.raises(InputError) as caught:
        load_series(tmp_path)
    text = str(caught.value)
    assert "2 CT series found" in text
    assert "series one" in text and "series two" in text and "4 slices" in text
    (chosen,) = [s for s in find_series(tmp_path) if s.series_description == "series two"]
    volume = load_series(tmp_path, series_uid=chosen.series_uid)
    assert volume.shape[0] == 4
    assert load_series(chosen).series_uid == chosen.series_uid


def test_non_dicom_and_truncated_files_are_left_out_with_warnings(tmp_path):
    hu = small_series(tmp_path)
    (tmp_path / "notes.txt").write_text("not an image")
    truncated = tmp_path / "CT0002.dcm"  # slice index 6
    data = truncated.read_bytes()
    truncated.write_bytes(data[:-100])
    volume = load_series(tmp_path)
    text = "\n".join(volume.warnings)
    assert f"left out {tmp_path / 'notes.txt'}: not a DICOM file" in text
    assert f"left out {truncated}: file cut short" in text
    assert "1 slice(s) missing" in text
    kept = [z for z in range(8) if z != 6]
    np.testing.assert_array_equal(volume.array[kept], hu[kept])

    with pytest.raises(InputError) as caught:
        load_series(tmp_path, strict=True)
    assert str(tmp_path / "notes.txt") in str(caught.value)
    (tmp_path / "notes.txt").unlink()
    with pytest.raises(InputError) as caught:
        load_series(tmp_path, strict=True)
    assert str(truncated) in str(caught.value) and "cut short" in str(caught.value)


def test_header_cut_short_is_named(tmp_path):
    small_series(tmp_path, depth=3)
    broken = tmp_path / "CT0001.dcm"
    broken.write_bytes(broken.read_bytes()[:300])
    with pytest.raises(InputError) as caught:
        load_series(tmp_path, strict=True)
    assert str(broken) in str(caught.value)
    assert load_series(tmp_path).shape[0] == 2


def test_nothing_loadable_is_an_input_error(tmp_path):
    (tmp_path / "a.txt").write_text("x")
    with pytest.raises(InputError, match="no CT image series found"):
        load_series(tmp_path)
    with pytest.raises(InputError, match="no such file or folder"):
        load_series(tmp_path / "missing")


@pytest.mark.parametrize("syntax", [RLELossless, JPEG2000Lossless, JPEGLSLossless])
def test_compressed_transfer_syntaxes_decode(tmp_path, syntax):
    # CT5N upsampled to 64 x 64: OpenJPEG's default 6 resolution levels need >= 32 pixels.
    plain, packed = tmp_path / "plain", tmp_path / "packed"
    plain.mkdir()
    packed.mkdir()
    for path in ct5n_files():
        ds = pydicom.dcmread(path)
        pixels = np.kron(ds.pixel_array, np.ones((4, 4), dtype=ds.pixel_array.dtype))
        ds.PixelData = pixels.tobytes()
        ds.Rows, ds.Columns = pixels.shape
        ds.PixelSpacing = [float(v) / 4 for v in ds.PixelSpacing]
        ds.save_as(plain / path.name)
        ds.compress(syntax, pixels)
        ds.save_as(packed / path.name)
    assert pydicom.dcmread(next(packed.iterdir())).file_meta.TransferSyntaxUID == syntax
    reference = load_series(plain)
    assert reference.shape == (5, 64, 64)
    volume = load_series(packed)
    np.testing.assert_array_equal(volume.array, reference.array)
    np.testing.assert_allclose(volume.affine, reference.affine)
    lazy = load_series(packed, lazy=True)
    np.testing.assert_array_equal(lazy.array.compute(), reference.array)


def test_lazy_volume_equals_eager(tmp_path):
    hu = small_series(tmp_path)
    (tmp_path / "CT0005.dcm").unlink()
    eager = load_series(tmp_path)
    lazy = load_series(tmp_path, lazy=True)
    assert type(lazy.array).__module__.startswith("dask")
    assert lazy.shape == eager.shape
    np.testing.assert_array_equal(lazy.array.compute(), eager.array)
    np.testing.assert_array_equal(lazy.array[7].compute(), hu[7])
    assert lazy.warnings == eager.warnings
    np.testing.assert_array_equal(load_series(CT5N, lazy=True).array, load_series(CT5N).array)


def test_rescale_slope_gives_float_hounsfield_units(tmp_path):
    hu = small_series(tmp_path, depth=3)
    for path in tmp_path.glob("*.dcm"):
        ds = pydicom.dcmread(path)
        ds.RescaleSlope = "0.5"
        ds.save_as(path)
    volume = load_series(tmp_path)
    assert volume.array.dtype == np.float32
    np.testing.assert_allclose(volume.array, (hu.astype(float) + 1024) * 0.5 - 1024)


def test_scan_sorts_ct_sr_and_notes(tmp_path):
    small_series(tmp_path / "study" / "ct", "ct")
    (tmp_path / "README").write_text("hello")
    other = pydicom.dcmread(ct5n_files()[0])
    other.Modality = "MR"
    other.SeriesInstanceUID = pydicom.uid.generate_uid()
    other.save_as(tmp_path / "mr.dcm")
    sr = pydicom.dcmread(Path(pydicom.__file__).parent / "data/test_files/test-SR.dcm")
    sr.save_as(tmp_path / "study" / "report.dcm")
    scan = scan_dicom_folder(tmp_path)
    assert [s.series_description for s in scan.series] == ["series ct"]
    assert scan.series[0].slice_count == 8
    assert scan.series[0].study_date == dt.date(2024, 2, 1)
    assert scan.series[0].patient_id == "T1"
    assert [sr.path.name for sr in scan.sr_files] == ["report.dcm"]
    assert scan.sr_files[0].study_uid
    notes = {Path(n.source).name: n.message for n in scan.notes}
    assert "not a DICOM file" in notes["README"]
    assert "MR modality image, not CT" in notes["mr.dcm"]


def test_napari_affine_reverses_lps_axes():
    volume = load_series(CT5N)
    point = volume.index_to_lps([1, 2, 3])
    world = volume.napari_affine @ np.array([1, 2, 3, 1.0])
    np.testing.assert_allclose(world[:3], point[::-1])


def test_bits_above_bits_stored_are_ignored(tmp_path):
    hu = small_series(tmp_path, depth=3)
    for path in tmp_path.glob("*.dcm"):
        ds = pydicom.dcmread(path)
        stored = ds.pixel_array | np.uint16(0x6000)  # overlay bits above Bits Stored (12)
        ds.PixelData = stored.tobytes()
        ds.save_as(path)
    np.testing.assert_array_equal(load_series(tmp_path).array, hu)
    np.testing.assert_array_equal(load_series(tmp_path, lazy=True).array.compute(), hu)


def test_undecodable_compressed_slice_is_named(tmp_path):
    small_series(tmp_path, depth=3)
    broken = tmp_path / "CT0002.dcm"
    ds = pydicom.dcmread(broken)
    ds.compress(RLELossless)
    ds.PixelData = ds.PixelData[:40]  # keeps the item structure, loses the segments
    ds.save_as(broken)
    with pytest.raises(InputError) as caught:
        load_series(tmp_path)
    assert str(broken) in str(caught.value)
    assert "could not be decoded" in str(caught.value)


def test_odd_slice_of_another_orientation_is_left_out(tmp_path):
    hu = small_series(tmp_path, depth=5)
    odd = tmp_path / "CT0001.dcm"  # the most superior slice, now sagittal
    ds = pydicom.dcmread(odd)
    ds.ImageOrientationPatient = [0, 1, 0, 0, 0, -1]
    ds.save_as(odd)
    volume = load_series(tmp_path)
    assert volume.shape[0] == 4
    np.testing.assert_array_equal(volume.array, hu[:4])
    assert any("1 file(s) of the series have another size" in w and str(odd) in w
               for w in volume.warnings)


def test_progress_is_called_once_per_slice(tmp_path):
    small_series(tmp_path, depth=6)
    calls = []
    load_series(tmp_path, progress=calls.append)
    assert calls == [1] * 6


def test_threaded_reading_gives_the_same_volume(tmp_path):
    hu = small_series(tmp_path, depth=9)
    (tmp_path / "CT0004.dcm").unlink()
    serial = load_series(tmp_path, workers=1)
    threaded = load_series(tmp_path, workers=4)
    np.testing.assert_array_equal(threaded.array, serial.array)
    assert threaded.sop_instance_uids == serial.sop_instance_uids
    assert threaded.warnings == serial.warnings
    np.testing.assert_array_equal(serial.array[:5], hu[:5])


def test_empty_inputs_are_input_errors(tmp_path):
    with pytest.raises(InputError, match="no CT image series found"):
        load_series([])
    with pytest.raises(InputError, match="no CT image series found"):
        load_series(tmp_path)
    with pytest.raises(InputError, match="no such file"):
        load_series([tmp_path / "gone.dcm"])


@pytest.mark.parametrize("compressed", [False, True])
def test_multi_frame_enhanced_ct_loads_like_its_single_frames(tmp_path, compressed):
    import highdicom as hd

    single = tmp_path / "single"
    small_series(single, depth=6)
    (single / "CT0003.dcm").unlink()  # a gap stays a gap in the multi-frame image
    legacy = [pydicom.dcmread(path) for path in sorted(single.iterdir())]
    image = hd.legacy.LegacyConvertedEnhancedCTImage(
        legacy, series_instance_uid=pydicom.uid.generate_uid(), series_number=7,
        sop_instance_uid=pydicom.uid.generate_uid(), instance_number=1,
    )
    if compressed:
        image.compress(RLELossless)
    multi = tmp_path / "multi"
    multi.mkdir()
    image.save_as(multi / "enhanced.dcm")

    (info,) = find_series(multi)
    assert info.slice_count == 5 and len(info.files) == 1
    reference = load_series(single)
    volume = load_series(multi)
    np.testing.assert_array_equal(volume.array, reference.array)
    np.testing.assert_allclose(volume.affine, reference.affine)
    assert volume.warnings == reference.warnings
    assert set(volume.sop_instance_uids) - {None} == {image.SOPInstanceUID}
    # Frames follow the order of the legacy files given (by name: most superior first).
    assert volume.frame_numbers == (5, 4, 3, None, 2, 1)
    assert volume.slice_index_of(image.SOPInstanceUID, frame_number=3) == 2
    np.testing.assert_array_equal(load_series(multi, lazy=True).array.compute(), volume.array)


def test_an_implicit_vr_series_loads_as_its_explicit_copy(tmp_path):
    """The folder scan reads implicit VR headers itself (fast_header), not with dcmread."""
    from pydicom.uid import ImplicitVRLittleEndian

    from napari_recist.io.dicom_scan import scan_dicom_folder

    for source in sorted(CT5N.iterdir()):
        ds = pydicom.dcmread(source)
        ds.file_meta.TransferSyntaxUID = ImplicitVRLittleEndian
        ds.save_as(tmp_path / source.name)
    reference = load_series(CT5N)
    series = scan_dicom_folder(tmp_path).series
    assert len(series) == 1 and len(series[0].headers) == 5
    assert all(not isinstance(h, pydicom.FileDataset) for h in series[0].headers)  # fast
    implicit = load_series(series[0])
    assert np.array_equal(implicit.array, reference.array)
    assert np.allclose(implicit.affine, reference.affine)
    assert implicit.spacing == reference.spacing
