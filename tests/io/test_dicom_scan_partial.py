"""The scan without full headers (classification) gives what the scan with them gives.

`scan_dicom_folder(..., full_headers=False)` keeps each CT file's elements up to Columns,
parses each SR once for `read_sr`, reads header text from its bytes when it is plain ASCII,
and reads the whole header only of the images SR lines are drawn on. The reference is the
scan with full headers (what the viewer and every command used before): the same series,
SR files, notes, study dates and image studies, and through `open_patient` the same record,
problems and notes, on the sample patient, a synthetic cohort patient, an implicit VR
re-encoding, pydicom's test files, the real SRs of other tools (skipped when absent) and
damaged files (cut at many places, a broken VR, an empty file).
"""

from __future__ import annotations

import shutil
import warnings
from pathlib import Path
from unittest import mock

import pydicom
import pytest
from _sr_samples import write_patient
from pydicom.uid import ImplicitVRLittleEndian

from napari_recist.cohort.synthetic import synthetic_cohort, write_patient_folder
from napari_recist.io.dicom_scan import GROUPING_TAGS, plain_text, scan_dicom_folder
from napari_recist.io.fast_header import (
    BeyondStopError,
    PartialHeader,
    read_header,
    read_partial_header,
)
from napari_recist.io.patient import open_patient

ROOT = Path(__file__).resolve().parents[2]
SAMPLE = ROOT / "sample_dicom"
REAL = ROOT.parent / "shared" / "interop" / "real"
PYDICOM_FILES = Path(pydicom.__file__).parent / "data" / "test_files"
TEXT_KEYWORDS = ("StudyInstanceUID", "SeriesInstanceUID", "SOPInstanceUID", "SOPClassUID",
                 "Modality", "StudyDate", "SeriesDescription", "PatientID",
                 "FrameOfReferenceUID", "SeriesNumber")


def _scan_fields(scan):
    return (scan.series, scan.sr_files, scan.notes, scan.study_dates, scan.image_studies,
            sorted(scan.other_images))


def _outcome(function, *args, **kwargs):
    """What a call gives, or the exception it raises (type and message)."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        try:
            return function(*args, **kwargs), None
        except Exception as error:  # noqa: BLE001 - compared between the two paths
            return None, (type(error), str(error))


def _both(function, root, fields):
    """`function` with full headers and without: the same error, or the same `fields`."""
    full, full_error = _outcome(function, root)
    partial, partial_error = _outcome(function, root, full_headers=False)
    assert partial_error == full_error
    if full_error is None:
        assert fields(partial) == fields(full)
    return full, partial


def assert_same_scan(root):
    return _both(scan_dicom_folder, root, _scan_fields)


def _opened_fields(opened):
    return (opened.patient_id, opened.record, opened.record_source, opened.read_problems,
            opened.notes, opened.origins,
            [(s.date, s.timepoint, s.series, s.other_series, s.sr_files) for s in opened.scans])


def assert_same_patient(root):
    full, partial = _both(open_patient, root, _opened_fields)
    if full is not None:
        for lenient in (False, True):
            assert (_outcome(partial.for_classification, lenient)[1]
                    == _outcome(full.for_classification, lenient)[1])
    return partial


@pytest.fixture(scope="module")
def cohort_patient(tmp_path_factory):
    records, _ = synthetic_cohort(2, seed=7)
    return write_patient_folder(records[1], tmp_path_factory.mktemp("cohort") / "P")


@pytest.fixture(scope="module")
def implicit_sample(tmp_path_factory):
    folder = tmp_path_factory.mktemp("implicit")
    for path in sorted(SAMPLE.glob("*/*/*.dcm"))[::7] + sorted(SAMPLE.glob("*/SR/*.dcm")):
        target = folder / path.relative_to(SAMPLE)
        target.parent.mkdir(parents=True, exist_ok=True)
        ds = pydicom.dcmread(path)
        if ds.Modality == "CT":
            ds.decompress()
            ds.file_meta.TransferSyntaxUID = ImplicitVRLittleEndian
            ds.save_as(target, enforce_file_format=True)
        else:
            shutil.copyfile(path, target)
    return folder


def test_sample_patient(tmp_path):
    full, partial = assert_same_scan(SAMPLE)
    assert all(isinstance(h, PartialHeader) for s in partial.series for h in s.headers)
    assert all(h.report_bytes is None for s in partial.series for h in s.headers)
    assert all(r.document is not None for r in partial.sr_files)  # each SR parsed once
    opened = assert_same_patient(SAMPLE)
    assert opened.record.assessments


def test_synthetic_cohort_and_implicit_vr_patients(cohort_patient, implicit_sample):
    for root in (cohort_patient, implicit_sample):
        assert_same_scan(root)
        assert_same_patient(root)


def test_project_test_patient(tmp_path):
    write_patient(tmp_path / "P1")
    assert_same_scan(tmp_path)
    assert_same_patient(tmp_path)


def test_pydicom_test_files():
    # Many encodings, modalities, broken and odd files, and pydicom's SRs, in one folder.
    assert_same_scan(PYDICOM_FILES)


@pytest.mark.skipif(not REAL.is_dir(), reason=f"{REAL} absent (real SRs of other tools)")
def test_real_srs_of_other_tools():
    assert_same_scan(REAL)
    for folder in sorted(p for p in REAL.rglob("*") if p.is_dir()):
        assert_same_patient(folder)


def _damaged_copies(source: Path, target: Path) -> None:
    """The patient with its files cut at many places, a broken VR in SRs, empty files.

    (A broken VR in a CT header makes both scans raise alike: pydicom's NotImplementedError
    from the Study Date; not a Problem yet, so not used here.)
    """
    shutil.copytree(source, target)
    files = sorted(p for p in target.rglob("*.dcm"))
    for number, path in enumerate(files):
        data = path.read_bytes()
        kind = number % 4
        if kind == 0:
            path.write_bytes(data[: 132 + (number * 97) % max(1, len(data) - 132)])
        elif kind == 1 and path.parent.name == "SR":
            position = data.find(b"DA", 200)
            if position > 0:
                path.write_bytes(data[:position] + b"Q\x01" + data[position + 2 :])
        elif kind == 1:
            path.write_bytes(data[: len(data) - 1 - number])
        elif kind == 2 and number % 8 == 2:
            path.write_bytes(b"")


def test_damaged_files_make_the_same_problems(tmp_path, cohort_patient):
    for source in (SAMPLE, cohort_patient):
        target = tmp_path / source.name
        _damaged_copies(source, target)
        full, _ = assert_same_scan(target)
        assert full.notes  # the damage is seen, the same way, by both
        assert assert_same_patient(target).read_problems


def test_every_cut_of_a_ct_file_is_read_as_the_full_header_reads_it(tmp_path, cohort_patient):
    ct = sorted(cohort_patient.rglob("CT/*.dcm"))[0]
    data = ct.read_bytes()
    path = tmp_path / "cut.dcm"
    for cut in range(0, len(data) + 1, 37):
        path.write_bytes(data[:cut])
        full, partial = read_header(path), read_partial_header(path, GROUPING_TAGS)
        assert (full is None) == (partial is None), cut
        if full is not None:
            kept = [tag for tag in full.keys() if tag in GROUPING_TAGS or tag == 0x7FE00010]
            for tag in kept:
                assert partial.get_item(tag).value == full.get_item(tag, keep_deferred=True).value


def test_a_partial_header_refuses_tags_it_did_not_keep(cohort_patient):
    ct = sorted(cohort_patient.rglob("CT/*.dcm"))[0]
    header = read_partial_header(ct, GROUPING_TAGS)
    assert header.get("Modality") == "CT"
    assert "PixelData" in header
    with pytest.raises(BeyondStopError):
        header.get("RescaleIntercept")
    with pytest.raises(BeyondStopError):
        _ = "SliceThickness" in header


def test_each_file_is_opened_once_and_only_referenced_images_are_converted(tmp_path):
    from test_patient import FileOpens

    write_patient(tmp_path / "P1")
    made: list[str] = []
    original = PartialHeader.dataset

    def counted(self):
        made.append(self.filename)
        return original(self)

    with FileOpens(tmp_path) as opens, mock.patch.object(PartialHeader, "dataset", counted):
        opened = open_patient(tmp_path, full_headers=False)
    assert opened.record.assessments
    assert set(opens.counts.values()) == {1}, opens.counts  # one open per file, SRs too
    referenced = {axis.referenced_sop_uid for a in opened.record.assessments
                  for m in a.measurements.values() for axis in (m.long_axis, m.short_axis)
                  if axis is not None and axis.referenced_sop_uid}
    slices = sum(len(s.series.files) for s in opened.scans if s.series is not None)
    # A pydicom dataset is made of a CT header for a series' first file (its description)
    # and for the images lines are drawn on, not for every slice.
    assert referenced and len(set(made)) <= len(referenced) + len(opened.scans) < slices


def _text_reference(ds, keyword):
    return str(ds.get(keyword, "") or "").strip()


def test_plain_text_is_pydicoms_text_on_pydicoms_test_files():
    compared = 0
    for path in sorted(p for p in PYDICOM_FILES.rglob("*") if p.is_file()):
        header = read_header(path)
        if header is None:
            continue
        for keyword in TEXT_KEYWORDS:
            fast = plain_text(header, keyword)
            if fast is None:
                continue
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                reference = read_header(path)
                assert fast == _text_reference(reference, keyword), (path, keyword)
            compared += 1
    assert compared > 200, compared


@pytest.mark.parametrize(("keyword", "raw", "plain"), [
    ("PatientID", b"AB12  ", "AB12"),
    ("PatientID", b" AB12\x00", "AB12"),
    ("PatientID", b"A\\B", None),  # two values: pydicom's MultiValue text
    ("PatientID", "Müller".encode("latin-1"), None),
    ("PatientID", b"X" * 66, None),  # longer than LO allows: pydicom warns
    ("SeriesDescription", b"\x1b$B", None),  # an escape sequence
    ("StudyInstanceUID", b"1.2.840.5\x00", "1.2.840.5"),
    ("StudyInstanceUID", b"1.02.3", None),  # not a valid UID: pydicom warns
    ("Modality", b"CT", "CT"),
    ("Modality", b"ct", None),
    ("StudyDate", b"20240110", "20240110"),
    ("SeriesNumber", b"12 ", "12"),
    ("SeriesNumber", b"1.0 ", None),
    ("PatientID", b"", ""),
])
def test_plain_text_on_odd_values(tmp_path, keyword, raw, plain):
    ds = pydicom.dcmread(SAMPLE / sorted(p.relative_to(SAMPLE) for p in
                                         SAMPLE.glob("*/CT/*.dcm"))[0])
    ds.SpecificCharacterSet = "ISO_IR 100"
    vr = pydicom.datadict.dictionary_VR(keyword)
    ds[keyword] = pydicom.DataElement(keyword, vr, raw)
    path = tmp_path / "odd.dcm"
    ds.save_as(path)
    header = read_header(path)
    assert plain_text(header, keyword) == plain
    if plain is not None:
        assert plain == _text_reference(pydicom.dcmread(path), keyword)


def test_plain_text_leaves_other_character_sets_to_pydicom(tmp_path):
    ds = pydicom.dcmread(sorted(SAMPLE.glob("*/CT/*.dcm"))[0])
    ds.SpecificCharacterSet = ["", "ISO 2022 IR 87"]
    ds.PatientID = "P1"
    path = tmp_path / "jis.dcm"
    ds.save_as(path)
    header = read_header(path)
    assert plain_text(header, "PatientID") is None
    assert plain_text(header, "StudyInstanceUID") is not None  # UI: no character set
