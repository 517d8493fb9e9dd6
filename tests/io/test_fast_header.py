"""The fast header reader gives what pydicom's dcmread gives, on pydicom's own test files."""

from __future__ import annotations

import warnings
from pathlib import Path

import pydicom
import pytest
from pydicom.tag import Tag
from pydicom.uid import ImplicitVRLittleEndian

from napari_recist.io.fast_header import read_header

TEST_FILES = sorted(
    path
    for path in (Path(pydicom.__file__).parent / "data" / "test_files").rglob("*")
    if path.is_file() and path.stat().st_size < 2_000_000
)
PIXEL_DATA = Tag(0x7FE0, 0x0010)


def _reference(path: Path) -> pydicom.Dataset | None:
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            return pydicom.dcmread(path, defer_size=256)
    except Exception:  # noqa: BLE001 - a file pydicom cannot read is not compared
        return None


def test_matches_dcmread_on_pydicom_test_files():
    compared = implicit = 0
    for path in TEST_FILES:
        fast = read_header(path)
        if fast is None:
            continue
        reference = _reference(path)
        assert reference is not None, f"{path}: read fast but pydicom cannot read it"
        compared += 1
        if PIXEL_DATA in reference:  # before iterating, which would read the deferred value
            ours = fast.get_item(PIXEL_DATA, keep_deferred=True)
            theirs = reference.get_item(PIXEL_DATA, keep_deferred=True)
            assert (ours.value_tell, ours.length) == (theirs.value_tell, theirs.length), path
        assert fast.file_meta.TransferSyntaxUID == reference.file_meta.TransferSyntaxUID
        reference_tags = [t for t in reference.keys() if t < PIXEL_DATA]
        fast_tags = [t for t in fast.keys() if t < PIXEL_DATA]
        sequences = {t for t in reference_tags if reference[t].VR == "SQ"}
        if reference.file_meta.TransferSyntaxUID == ImplicitVRLittleEndian:
            implicit += 1
            sequences |= {t for t in reference_tags if t.is_private}  # left out too
            assert fast.original_encoding == (True, True), path
        assert fast_tags == [t for t in reference_tags if t not in sequences], path
        for tag in fast_tags:
            assert fast[tag].value == reference[tag].value, f"{path}: {tag}"
    assert compared >= 40, compared
    assert implicit >= 5, implicit


@pytest.mark.parametrize("cut", [100, 140, 300, 700])
def test_cut_short_or_not_dicom_defers_to_pydicom(tmp_path, cut):
    source = Path(pydicom.__file__).parent / "data/test_files/CT_small.dcm"
    broken = tmp_path / "broken.dcm"
    broken.write_bytes(source.read_bytes()[:cut])
    assert read_header(broken) is None


def test_other_transfer_syntaxes_defer_to_pydicom():
    files = Path(pydicom.__file__).parent / "data/test_files"
    for name in ("MR_small_bigendian.dcm", "image_dfl.dcm", "no_meta.dcm"):
        assert read_header(files / name) is None, name


def test_an_implicit_vr_ct_series_reads_as_with_pydicom(tmp_path):
    """Implicit VR Little Endian CT (the default transfer syntax, common in archives)."""
    source = Path(pydicom.__file__).parent / "data/test_files/CT_small.dcm"
    ds = pydicom.dcmread(source)
    ds.file_meta.TransferSyntaxUID = ImplicitVRLittleEndian
    ds.add_new(0x00091001, "LO", "private")  # left out
    ds.ReferencedImageSequence = [pydicom.Dataset()]
    ds.ReferencedImageSequence[0].ReferencedSOPInstanceUID = "1.2.3"
    ds["ReferencedImageSequence"].is_undefined_length = True  # skipped
    path = tmp_path / "implicit.dcm"
    ds.save_as(path)
    fast = read_header(path)
    reference = pydicom.dcmread(path, defer_size=256)
    assert fast is not None and "ReferencedImageSequence" not in fast
    assert 0x00091001 not in fast
    for keyword in ("ImagePositionPatient", "PixelSpacing", "SOPInstanceUID", "Rows",
                    "RescaleSlope", "StudyDate", "SeriesInstanceUID"):
        assert fast[keyword].value == reference[keyword].value, keyword
        assert fast[keyword].VR == reference[keyword].VR, keyword
    ours = fast.get_item(PIXEL_DATA, keep_deferred=True)
    theirs = reference.get_item(PIXEL_DATA, keep_deferred=True)
    assert (ours.value_tell, ours.length) == (theirs.value_tell, theirs.length)
