"""`sr_raw`: `read_sr` through the bytes parser gives exactly what it gives through pydicom.

Every comparison runs `read_sr` twice on the same file, once as shipped (the parser, falling
back to pydicom for what it does not parse) and once with the parser switched off (pydicom
alone, the reference), and asserts the two results equal in every field of every lesion and
measurement and every problem and note, and the same pydicom warnings. Files: the SRs the
project writes (sample_dicom, the test patients of `_sr_samples`, the synthetic cohort),
the same re-encoded (implicit VR, undefined lengths, big endian, deflated), SRs with odd
values, the real SRs of other tools (../shared/interop/real, skipped when absent), pydicom's
test SRs, and damaged copies (hypothesis).
"""

from __future__ import annotations

import io
import warnings
from contextlib import contextmanager
from pathlib import Path
from unittest import mock

import pydicom
import pytest
from _sr_samples import write_patient
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from pydicom import config
from pydicom.data import get_testdata_file
from pydicom.dataset import Dataset
from pydicom.hooks import hooks, raw_element_value, raw_element_value_fix_separator
from pydicom.sequence import Sequence
from pydicom.uid import (
    DeflatedExplicitVRLittleEndian,
    ExplicitVRBigEndian,
    ImplicitVRLittleEndian,
)

from napari_recist.cohort.synthetic import synthetic_cohort, write_patient_folder
from napari_recist.io import patient as patient_io
from napari_recist.io import sr_raw, sr_read
from napari_recist.io.sr_read import read_sr

ROOT = Path(__file__).resolve().parents[2]
SAMPLE_SRS = sorted((ROOT / "sample_dicom").glob("*/SR/*.dcm"))
REAL = ROOT.parent / "shared" / "interop" / "real"
PYDICOM_FILES = Path(pydicom.__file__).parent / "data" / "test_files"
PYDICOM_SRS = [PYDICOM_FILES / name for name in
               ("test-SR.dcm", "reportsi.dcm", "reportsi_with_empty_number_tags.dcm")]


@contextmanager
def _pydicom_only():
    with mock.patch.object(sr_raw, "read_dataset", lambda data: None):
        yield


def _read(path, images=None):
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        result = read_sr(path, images)
    return result, sorted({str(w.message) for w in caught})


def assert_same(path, images=None, *, fast=None):
    """read_sr via the parser == read_sr via pydicom; `fast`: whether the parser must read it."""
    if fast is not None:
        parsed = sr_raw.read_dataset(Path(path).read_bytes())
        assert (parsed is not None) is fast, f"{path}: parser {'refused' if fast else 'read'} it"
    ours, our_warnings = _read(path, images)
    with _pydicom_only():
        reference, reference_warnings = _read(path, images)
    assert ours == reference
    assert our_warnings == reference_warnings
    return ours


# ------------------------------------------------------------------------------ corpus


@pytest.fixture(scope="module")
def patient(tmp_path_factory):
    return write_patient(tmp_path_factory.mktemp("raw"))


@pytest.fixture(scope="module")
def cohort(tmp_path_factory):
    root = tmp_path_factory.mktemp("cohort")
    records, _ = synthetic_cohort(6, seed=12)
    return [write_patient_folder(record, root / record.patient_id) for record in records]


def _images(ct):
    return {str(ds.SOPInstanceUID): ds for series in ct.values() for ds in series}


@pytest.mark.parametrize("path", SAMPLE_SRS, ids=lambda p: p.parent.parent.name)
def test_sample_srs(path):
    result = assert_same(path, fast=True)
    assert result.measurements and not result.problems


def test_project_srs_with_and_without_the_ct_headers(patient):
    record, ct, paths = patient
    for path in paths:
        assert_same(path, fast=True)
        result = assert_same(path, _images(ct), fast=True)
        assert result.measurements
    # the lines on images are placed in both readings
    assert any(m.long_axis and m.long_axis.points for m in result.measurements.values())


def test_project_srs_of_the_synthetic_cohort(cohort):
    for folder in cohort:
        for path in sorted(folder.glob("*/SR/*.dcm")):
            assert_same(path, fast=True)


def test_opening_cohort_patients_is_the_same(cohort):
    for folder in cohort:
        ours = patient_io.open_patient(folder)
        with _pydicom_only():
            reference = patient_io.open_patient(folder)
        assert ours.record == reference.record
        assert ours.read_problems == reference.read_problems
        assert ours.notes == reference.notes
        assert ours.sr_results == reference.sr_results


# ------------------------------------------------------------------ other encodings


def _undefined_lengths(ds: Dataset) -> None:
    for element in ds:
        if element.VR == "SQ":
            element.is_undefined_length = True
            for item in element.value:
                item.is_undefined_length_sequence_item = True
                _undefined_lengths(item)


def _resaved(source: Path, folder: Path, name: str, syntax=None, undefined=False) -> Path:
    ds = pydicom.dcmread(source)
    if undefined:
        _undefined_lengths(ds)
    path = folder / f"{name}.dcm"
    if syntax is not None:
        ds.file_meta.TransferSyntaxUID = syntax
    if syntax == ExplicitVRBigEndian:
        pydicom.dcmwrite(path, ds, implicit_vr=False, little_endian=False)
    else:
        ds.save_as(path)
    assert pydicom.dcmread(path).file_meta.TransferSyntaxUID == (
        syntax or pydicom.dcmread(source).file_meta.TransferSyntaxUID)
    return path


@pytest.mark.parametrize(("syntax", "undefined", "fast"), [
    (ImplicitVRLittleEndian, False, True),
    (ImplicitVRLittleEndian, True, True),
    (None, True, True),
    (ExplicitVRBigEndian, False, False),
    (DeflatedExplicitVRLittleEndian, False, False),
], ids=["implicit", "implicit-undefined", "explicit-undefined", "big-endian", "deflated"])
def test_other_encodings(patient, tmp_path, syntax, undefined, fast):
    record, ct, paths = patient
    for index, source in enumerate(paths):
        path = _resaved(source, tmp_path, f"sr{index}", syntax, undefined)
        result = assert_same(path, _images(ct), fast=fast)
        assert result.measurements == read_sr(source, _images(ct)).measurements


# -------------------------------------------------------------------- odd values


def _groups(ds):
    return ds.ContentSequence[-1].ContentSequence


def _nums(ds):
    return [item for group in _groups(ds) for item in group.ContentSequence
            if item.ValueType == "NUM"]


def _first_value(ds):
    return _nums(ds)[0].MeasuredValueSequence[0]


def _set_charset(value):
    def edit(ds):
        ds.SpecificCharacterSet = value
    return edit


def _meaning(text, charset):
    def edit(ds):
        ds.SpecificCharacterSet = charset
        for group in _groups(ds):
            for item in group.ContentSequence:
                if item.ValueType == "CODE":
                    item.ConceptCodeSequence[0].CodeMeaning = text
                if item.ValueType == "TEXT":
                    item.TextValue = text
    return edit


class _RawNumeric:
    """Write these bytes as the first Numeric Value (pydicom refuses to write such values)."""

    def __init__(self, raw: bytes) -> None:
        self.raw = raw + b" " * (len(raw) % 2)
        self.marker = b"9" * len(self.raw)

    def __call__(self, ds):
        _first_value(ds).NumericValue = self.marker.decode()

    def patch(self, data: bytes) -> bytes:
        assert data.count(self.marker) == 1
        return data.replace(self.marker, self.raw)


def _drop(keyword, where):
    def edit(ds):
        target = where(ds)
        if keyword in target:
            delattr(target, keyword)
    return edit


def _empty(keyword, where):
    def edit(ds):
        setattr(where(ds), keyword, None)
    return edit


def _long_code_meaning(ds):
    for group in _groups(ds):
        for item in group.ContentSequence:
            item.ConceptNameCodeSequence[0].CodeMeaning = "M" * 80


def _multi_patient_id(ds):
    ds.PatientID = ["P1", "P2"]


def _padded_uids(ds):
    ds.StudyInstanceUID = ds.StudyInstanceUID + "\x00"
    for group in _groups(ds):
        for item in group.ContentSequence:
            if item.ValueType == "UIDREF":
                item.UID = " " + item.UID


def _graphic_single(ds):
    for num in _nums(ds):
        for child in num.get("ContentSequence", []):
            if child.ValueType in ("SCOORD", "SCOORD3D"):
                child.GraphicData = [1.5]


def _empty_sequences(ds):
    for num in _nums(ds)[:2]:
        num.MeasuredValueSequence = Sequence()
    _groups(ds)[0].ContentSequence[0].ConceptNameCodeSequence = Sequence()


def _trailing_spaces(ds):
    for group in _groups(ds):
        for item in group.ContentSequence:
            names = item.ConceptNameCodeSequence[0]
            names.CodeValue = names.CodeValue + "  "
            names.CodingSchemeDesignator = " " + names.CodingSchemeDesignator
            item.ValueType = item.ValueType + " "


EDITS = {
    "not-a-number": _RawNumeric(b"abc"),
    "nan": _RawNumeric(b"nan"),
    "infinite": _RawNumeric(b"1e400"),
    "padded-number": _RawNumeric(b" 12.5 "),
    "two-numbers": _RawNumeric(b"12.5\\13"),
    "long-number": _RawNumeric(b"12.50000000000000001"),
    "latin-1 meanings": _meaning("Lésion hépatique", "ISO_IR 100"),
    "utf-8 meanings": _meaning("病变 Läsion", "ISO_IR 192"),
    "iso-2022 meanings": _meaning("ﾃｽﾄ", ["ISO 2022 IR 13", "ISO 2022 IR 87"]),
    "unknown charset": _set_charset("ISO_IR 999"),
    "empty charset": _set_charset(""),
    "long code meaning": _long_code_meaning,
    "multi-valued patient id": _multi_patient_id,
    "padded uids": _padded_uids,
    "one graphic value": _graphic_single,
    "empty sequences": _empty_sequences,
    "spaces": _trailing_spaces,
    "no units": _drop("MeasurementUnitsCodeSequence", _first_value),
    "empty value type": _empty("ValueType", lambda ds: _nums(ds)[0]),
    "empty study date": _empty("StudyDate", lambda ds: ds),
    "no modality": _drop("Modality", lambda ds: ds),
}


def _edited(ds, name, folder):
    edit = EDITS[name]
    edit(ds)
    path = folder / "edited.dcm"
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        ds.save_as(path)
    if isinstance(edit, _RawNumeric):
        path.write_bytes(edit.patch(path.read_bytes()))
    return path


@pytest.mark.parametrize("name", list(EDITS))
def test_odd_values(patient, tmp_path, name):
    record, ct, paths = patient
    ds = pydicom.dcmread(paths[1])
    path = _edited(ds, name, tmp_path)
    assert_same(path, _images(ct))
    implicit = _resaved(path, tmp_path, "implicit", ImplicitVRLittleEndian)
    assert_same(implicit, _images(ct))


@contextmanager
def _setting(name):
    if name == "hook":
        hooks.register_callback("raw_element_value", raw_element_value_fix_separator)
        hooks.register_kwargs("raw_element_kwargs", {"target_VRs": ("DS",), "separator": ":"})
        try:
            yield
        finally:
            hooks.register_callback("raw_element_value", raw_element_value)
            hooks.raw_element_kwargs = {}
        return
    if name == "ds-decimal":
        config.DS_decimal(True)
        try:
            yield
        finally:
            config.DS_decimal(False)
        return
    target, attribute, value = {
        "raise": (config.settings, "reading_validation_mode", config.RAISE),
        "ignore": (config.settings, "reading_validation_mode", config.IGNORE),
        "datetime": (config, "datetime_conversion", True),
        "none-empty": (config, "use_none_as_empty_text_VR_value", True),
    }[name]
    before = getattr(target, attribute)
    setattr(target, attribute, value)
    try:
        yield
    finally:
        setattr(target, attribute, before)


@pytest.mark.parametrize("name", ["raise", "ignore", "ds-decimal", "datetime", "none-empty",
                                  "hook"])
def test_other_pydicom_settings(patient, tmp_path, name):
    record, ct, paths = patient
    ds = pydicom.dcmread(paths[1])
    EDITS["long code meaning"](ds)
    edited = _edited(ds, "padded-number", tmp_path)
    with _setting(name):
        for path in (*paths, edited):
            assert_same(path, _images(ct))


# --------------------------------------------------------------- other tools' files


REAL_SRS = sorted(REAL.glob("*/*.dcm")) if REAL.is_dir() else []


@pytest.mark.skipif(not REAL_SRS, reason="../shared/interop/real is not here")
@pytest.mark.parametrize("path", REAL_SRS, ids=lambda p: f"{p.parent.name}/{p.name}")
def test_real_files_of_other_tools(path):
    images = None
    if path.parent.name == "highdicom":
        ct = pydicom.dcmread(REAL / "highdicom" / "ct_image.dcm")
        images = {str(ct.SOPInstanceUID): ct}
    assert_same(path)
    assert_same(path, images)


@pytest.mark.parametrize("path", PYDICOM_SRS, ids=lambda p: p.name)
def test_pydicom_test_srs(path):
    assert_same(path, fast=True)


# ------------------------------------------------ every value of pydicom's test files


def _pydicom_test_files() -> list[Path]:
    files = [p for p in PYDICOM_FILES.rglob("*") if p.is_file() and p.stat().st_size < 600_000]
    return sorted(files)


def _assert_values_equal(raw, reference: Dataset, where: str) -> int:
    compared = 0
    for element in reference:
        keyword = element.keyword
        if not keyword or element.tag.is_private:
            continue
        expected = element.value
        actual = raw.get(keyword)
        label = f"{where} {keyword}"
        if element.VR == "SQ":
            assert len(actual) == len(expected), label
            if isinstance(actual, Sequence):
                continue  # pydicom read this sequence: the parser handed it over
            assert type(actual) is list, label
            for index, (ours, theirs) in enumerate(zip(actual, expected, strict=True)):
                compared += _assert_values_equal(ours, theirs, f"{label}[{index}]")
            continue
        assert type(actual) is type(expected), label
        assert actual == expected or (actual != actual and expected != expected), label
        assert str(actual) == str(expected), label
        compared += 1
    return compared


def test_every_value_of_pydicoms_test_files_is_pydicoms():
    """Values of every element of every file the parser reads equal pydicom's (type, value, text).

    pydicom's test files include the character set samples (Latin, Cyrillic, Greek, Hebrew,
    Japanese and Korean ISO 2022, UTF-8...), implicit VR files and odd encodings.
    """
    read = compared = 0
    for path in _pydicom_test_files():
        data = path.read_bytes()
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            raw = sr_raw.read_dataset(data)
            if raw is None:
                continue
            reference = pydicom.dcmread(io.BytesIO(data))
            read += 1
            compared += _assert_values_equal(raw, reference, path.name)
    assert read >= 40 and compared >= 2000, (read, compared)


def test_a_big_endian_file_is_left_to_pydicom():
    data = Path(get_testdata_file("MR_small_bigendian.dcm")).read_bytes()
    assert sr_raw.read_dataset(data) is None


def test_unsupported_access_is_loud(patient):
    record, ct, paths = patient
    ds = sr_raw.read_dataset(Path(paths[0]).read_bytes())
    with pytest.raises(sr_raw.RawAccessError):
        ds[0x00100020]
    with pytest.raises(sr_raw.RawAccessError):
        ds.get(0x00100020)
    with pytest.raises(sr_raw.RawAccessError):
        list(ds)
    assert "PatientID" in ds and "PixelData" not in ds and "NotAKeyword" not in ds
    assert ds.get("PixelData", "none") == "none"
    with pytest.raises(AttributeError):
        _ = ds.PixelData


# ---------------------------------------------------------------- damaged files


def _cut_short_per_pydicom(data: bytes) -> bool:
    dataset = pydicom.dcmread(io.BytesIO(data))
    return sr_read._cut_short(data, dataset)  # noqa: SLF001


def _variants(patient, folder: Path) -> dict[str, bytes]:
    record, ct, paths = patient
    return {
        "explicit": Path(paths[1]).read_bytes(),
        "explicit-undefined": _resaved(paths[1], folder, "u", undefined=True).read_bytes(),
        "implicit-undefined": _resaved(paths[1], folder, "i", ImplicitVRLittleEndian,
                                       undefined=True).read_bytes(),
    }


def test_every_cut_is_read_as_pydicom_reads_it(patient, tmp_path):
    for name, original in _variants(patient, tmp_path).items():
        path = tmp_path / f"cut-{name}.dcm"
        refused = 0
        for end in range(0, len(original), 53):
            path.write_bytes(original[:end])
            assert_same(path)
            if sr_raw.read_dataset(original[:end]) is None:
                refused += 1
            else:  # the cut fell between two top-level elements: a whole, shorter file
                with warnings.catch_warnings():
                    warnings.simplefilter("ignore")
                    assert not _cut_short_per_pydicom(original[:end]), (name, end)
        assert refused >= len(original) // 53 - 3, (name, refused)


@st.composite
def damaged(draw: st.DrawFn, original: bytes) -> bytes:
    """A few flipped bytes, a run of 0xFF or 0x00 (lengths), a cut or a spliced run."""
    data = bytearray(original)
    for _ in range(draw(st.integers(0, 4))):
        position = draw(st.integers(132, len(data) - 1))
        data[position] = draw(st.integers(0, 255))
    if draw(st.booleans()):
        position = draw(st.integers(132, len(data) - 4))
        data[position : position + 4] = draw(st.sampled_from(
            [b"\xff\xff\xff\xff", b"\x00\x00\x00\x00", b"\xfe\xff\x00\xe0", b"\xfe\xff\xdd\xe0"]))
    if draw(st.booleans()):
        data = data[: draw(st.integers(132, len(data)))]
    if draw(st.booleans()):
        position = draw(st.integers(132, len(data)))
        data[position:position] = draw(st.binary(max_size=24))
    return bytes(data)


FUZZ = settings(max_examples=120, deadline=None, derandomize=True,
                suppress_health_check=[HealthCheck.function_scoped_fixture,
                                       HealthCheck.too_slow, HealthCheck.data_too_large])


@pytest.mark.parametrize("variant", ["explicit", "explicit-undefined", "implicit-undefined"])
def test_damaged_files_are_read_as_pydicom_reads_them(patient, tmp_path_factory, variant):
    original = _variants(patient, tmp_path_factory.mktemp("v"))[variant]
    folder = tmp_path_factory.mktemp("fuzz")
    outcomes = {"parsed": 0, "left to pydicom": 0}

    @FUZZ
    @given(data=damaged(original))
    def check(data: bytes) -> None:
        path = folder / "damaged.dcm"
        path.write_bytes(data)
        parsed = sr_raw.read_dataset(data)
        if parsed is not None:
            outcomes["parsed"] += 1
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                assert not _cut_short_per_pydicom(data)
        else:
            outcomes["left to pydicom"] += 1
        assert_same(path)  # never raises, and the same answer

    check()
    assert outcomes["parsed"] and outcomes["left to pydicom"], outcomes


ODD_VALUES = [b"1.2.3", b"1.2.3\x00", b"01.2", b"1.2.3\n", b" 1.2", b"1.2\\3.4", b"1" * 70,
              b"", b"ABC ", b" ABC", b"A\\B ", b"12.5", b" 12.5 ", b"1e400", b"nan", b"abc",
              b"12.50000000000000001", b"3\\4", b"M" * 80, "é".encode("latin-1"),
              "é".encode(), b"\x1b$B", b"\x00\x00\x80?", b"\x01\x00"]


@pytest.mark.parametrize("vr", sorted(sr_raw._CONVERTERS))  # noqa: SLF001
def test_replicated_conversions_are_pydicoms(vr):
    """Each replicated converter gives pydicom's value and warnings, or leaves it to pydicom."""
    from pydicom.dataelem import RawDataElement
    from pydicom.values import convert_value

    converter = sr_raw._CONVERTERS[vr]  # noqa: SLF001
    for value in ODD_VALUES:
        if not value:
            continue  # empty values are pydicom's empty_value_for_VR, not converted
        with warnings.catch_warnings(record=True) as ours_caught:
            warnings.simplefilter("always")
            try:
                ours = converter(vr, value, "iso8859")
            except Exception:  # noqa: BLE001 - left to pydicom, as RawDataset does
                continue
        if ours is sr_raw._MISSING:  # noqa: SLF001
            continue
        raw = RawDataElement(0x00100020, vr, len(value), value, 0, False, True)
        with warnings.catch_warnings(record=True) as theirs_caught:
            warnings.simplefilter("always")
            theirs = convert_value(vr, raw, ["iso8859"])
        assert type(ours) is type(theirs), (vr, value)
        assert ours == theirs or (ours != ours and theirs != theirs), (vr, value)
        assert str(ours) == str(theirs) and repr(ours) == repr(theirs), (vr, value)
        assert ([str(w.message) for w in ours_caught]
                == [str(w.message) for w in theirs_caught]), (vr, value)
