"""Walk a folder tree once and sort its DICOM files into CT series, SR documents and notes.

`scan_dicom_folder` reads every file's header once (`fast_header` for Explicit VR Little
Endian, pydicom otherwise, large values such as Pixel Data left unread) and keeps the headers
it read in `SeriesInfo.headers`, so that placing SR lines on the images and loading a volume
(`napari_recist.io.volume.load_series`) need not read them again. Classifying needs less:
``full_headers=False`` keeps of each file only the elements that sort it and place SR lines
(`GROUPING_TAGS`, `fast_header.read_partial_header`) and parses each SR once, whole, for
`read_sr`; tests/io/test_dicom_scan_partial.py checks it against the full scan. Files need
no extension; everything left out (not DICOM, DICOMDIR, other modalities, localizers,
damaged files) is a note naming the file.
"""

from __future__ import annotations

import datetime as dt
import os
import re
from collections import defaultdict
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pydicom
from pydicom.dataset import Dataset
from pydicom.errors import InvalidDicomError
from pydicom.tag import Tag
from pydicom.uid import MediaStorageDirectoryStorage
from pydicom.valuerep import MAX_VALUE_LEN, STR_VR_REGEXES

from napari_recist.errors import InputError, Problem
from napari_recist.io import sr_raw
from napari_recist.io.fast_header import PartialHeader, read_partial_header
from napari_recist.io.fast_header import read_header as read_fast_header

# Elements larger than this are not read while parsing headers (pixel data, private blobs).
DEFER_BYTES = 1024


def default_workers() -> int:
    """Threads for reading headers and pixels: CPU cores minus one (at least 1, at most 8)."""
    return max(1, min(8, (os.cpu_count() or 1) - 1))


SR_MODALITY = "SR"
TAG_OF = {
    keyword: Tag(pydicom.datadict.tag_for_keyword(keyword))
    for keyword in (
        "SOPClassUID", "SOPInstanceUID", "SeriesInstanceUID", "Modality", "ImageType",
        "NumberOfFrames", "ImagePositionPatient", "ImageOrientationPatient", "PixelSpacing",
        "RescaleSlope", "RescaleIntercept", "Rows", "Columns", "BitsAllocated", "BitsStored",
        "PixelRepresentation", "SamplesPerPixel", "PixelData", "StudyInstanceUID", "StudyDate",
        "SeriesDescription", "PatientID", "FrameOfReferenceUID", "SeriesNumber",
    )
}
# What the scan without full headers (`scan_dicom_folder` with ``full_headers=False``) keeps
# of each file: the elements that sort it into its series and study (up to Columns
# (0028,0011): an image has Rows and Columns, `classify_header`) and whether Pixel Data
# follows; and the plane `read_sr` places SR lines with (`sr_geometry`: Image
# Position/Orientation (Patient), Pixel Spacing (0028,0030), the last element kept; Frame of
# Reference UID), converted only for the images the lines are drawn on (`ReferencedImages`).
GROUPING_TAGS = frozenset(
    int(Tag(pydicom.datadict.tag_for_keyword(keyword)))
    for keyword in (
        "SpecificCharacterSet", "ImageType", "SOPClassUID", "SOPInstanceUID", "StudyDate",
        "Modality", "SeriesDescription", "PatientID", "StudyInstanceUID", "SeriesInstanceUID",
        "SeriesNumber", "FrameOfReferenceUID", "SamplesPerPixel", "NumberOfFrames", "Rows",
        "Columns", "ImagePositionPatient", "ImageOrientationPatient", "PixelSpacing",
    )
)
# Notes about files that may have been slices of the series (as opposed to other objects).
DAMAGED_NOTES = ("not a DICOM", "unreadable", "damaged")


def parallel_map(function: Callable[[int], Any], count: int, workers: int) -> list[Any]:
    """Return ``[function(i) for i in range(count)]``, in `workers` threads when > 1."""
    if workers <= 1 or count <= 1:
        return [function(i) for i in range(count)]
    with ThreadPoolExecutor(max_workers=min(workers, count)) as pool:
        return list(pool.map(function, range(count)))


@dataclass(frozen=True)
class SeriesInfo:
    """One image series found on disk, from its headers.

    Parameters
    ----------
    series_uid, study_uid
        Series and Study Instance UIDs.
    modality
        DICOM Modality, e.g. ``CT``.
    study_date
        Study Date, or None when absent or unreadable.
    series_description
        Series Description (empty when absent).
    patient_id
        Patient ID (empty when absent).
    frame_of_reference_uid
        Frame of Reference UID, or None.
    series_number
        Series Number, or None.
    files
        The image files of the series, sorted by path.
    frame_count
        Number of images (slices): files, or frames of multi-frame (enhanced) files.
    headers
        The header of each file as the folder scan read it (Pixel Data not read, its
        offset kept), in the order of `files`; empty when built without a scan.
    """

    series_uid: str
    study_uid: str
    modality: str
    study_date: dt.date | None
    series_description: str
    patient_id: str
    frame_of_reference_uid: str | None
    series_number: int | None
    files: tuple[Path, ...]
    frame_count: int = 0
    headers: tuple[Dataset, ...] = field(default=(), compare=False, repr=False)

    @property
    def slice_count(self) -> int:
        """Number of slices in the series (frames of multi-frame files count one each)."""
        return max(self.frame_count, len(self.files))

    def describe(self) -> str:
        """One line naming the series for messages and lists."""
        date = self.study_date.isoformat() if self.study_date else "no date"
        text = self.series_description or "no description"
        return (
            f"{self.modality} series {self.series_uid} ({text}, {date}, "
            f"{self.slice_count} slices)"
        )


@dataclass(frozen=True)
class SRFileInfo:
    """One structured report (SR) file found on disk, from its header.

    Parameters
    ----------
    path
        The file.
    sop_class_uid, sop_instance_uid, series_uid, study_uid
        Identifiers of the document.
    study_date
        Study Date, or None.
    patient_id
        Patient ID (empty when absent).
    series_description
        Series Description (empty when absent).
    document
        The whole SR as `napari_recist.io.sr_raw` parsed it during the scan, for
        `napari_recist.io.sr_read.read_sr` (so that the file is read and parsed once), or
        None (read by ``read_sr`` itself).
    """

    path: Path
    sop_class_uid: str
    sop_instance_uid: str
    series_uid: str
    study_uid: str
    study_date: dt.date | None
    patient_id: str
    series_description: str
    document: Any = field(default=None, compare=False, repr=False)


@dataclass
class DicomScan:
    """What one walk of a folder tree found.

    Attributes
    ----------
    series
        CT image series, sorted by study date then series number.
    sr_files
        Structured reports, sorted by study date then path.
    notes
        Everything left out and why (non-DICOM files, other modalities, DICOMDIR...).
    study_dates
        Study Instance UID -> Study Date of every image read (CT or not), so that an SR is
        placed on the date of the study it belongs to.
    image_studies
        SOP Instance UID -> Study Instance UID of every image read.
    other_images
        SOP Instance UID -> header of the images left out that are not CT (e.g. the MR a dwv
        ruler is drawn on), so that SR coordinates on them can still be placed in LPS.
    """

    series: list[SeriesInfo] = field(default_factory=list)
    sr_files: list[SRFileInfo] = field(default_factory=list)
    notes: list[Problem] = field(default_factory=list)
    study_dates: dict[str, dt.date] = field(default_factory=dict)
    image_studies: dict[str, str] = field(default_factory=dict)
    other_images: dict[str, Dataset] = field(default_factory=dict)



# ----------------------------------------------------------------------------- headers


def walk_files(root: Path) -> list[Path]:
    """Return every regular file under a folder (any depth), sorted, or the file itself."""
    if root.is_file():
        return [root]
    if not root.is_dir():
        raise InputError([Problem(str(root), "no such file or folder")])
    found: list[Path] = []
    for folder, subfolders, names in os.walk(root):
        subfolders.sort()
        found.extend(Path(folder, name) for name in sorted(names))
    return found


def read_headers(
    paths: Sequence[Path], *, defer_pixels: bool, workers: int,
    keep: frozenset[int] | None = None,
) -> list[tuple[Path, Dataset | PartialHeader | Problem]]:
    """Read every file's header: `fast_header` (in `workers` threads), then pydicom.

    ``dcmread`` is Python-bound and holds the GIL, so the files it needs are read in this
    thread (threads made it 30-60 % slower on the 2-core reference machine). With `keep`,
    `fast_header.read_partial_header` keeps only those elements (it gives None for exactly
    the files `fast_header.read_header` gives None for, which pydicom then reads whole, as
    without `keep`).
    """
    if keep is None:
        fast: list[Any] = parallel_map(lambda i: read_fast_header(paths[i]), len(paths), workers)
    else:
        fast = parallel_map(lambda i: read_partial_header(paths[i], keep), len(paths), workers)
    return [
        (path, header if header is not None else read_header(path, defer_pixels=defer_pixels))
        for path, header in zip(paths, fast, strict=True)
    ]


def read_full_header(path: Path) -> Dataset | Problem:
    """The whole header of one file, as `scan_dicom_folder` reads it with full headers."""
    header = read_fast_header(path)
    return header if header is not None else read_header(path, defer_pixels=True)


def _read_reports(
    headers: list[tuple[Path, Any]],
) -> tuple[list[tuple[Path, Any]], dict[Path, sr_raw.RawDataset]]:
    """Parse the structured reports among partial headers whole, once (`sr_raw`).

    A report `sr_raw` parses is whole and read exactly as pydicom reads it; its values are
    pydicom's. Any other report gets the header it had without a stop (`read_full_header`),
    and `read_sr` reads it itself, as before.
    """
    documents: dict[Path, sr_raw.RawDataset] = {}
    out: list[tuple[Path, Any]] = []
    for path, header in headers:
        if isinstance(header, PartialHeader) and _is_report_header(header):
            data = header.report_bytes  # read with its header
            header.report_bytes = None
            document = None if data is None else sr_raw.read_dataset(data)
            if document is None:
                header = read_full_header(path)
            else:
                documents[path] = document
        out.append((path, header))
    return out, documents


class ReferencedImages(Mapping[str, Dataset]):
    """Image headers by SOP Instance UID, for placing SR coordinates on their images.

    A `fast_header.PartialHeader` (a scan without full headers) becomes a pydicom dataset of
    its elements (`GROUPING_TAGS`: the plane is among them, with the values pydicom gives
    the whole header) when it is first asked for: only the images an SR references are
    converted. No file is read again.
    """

    def __init__(self, headers: Mapping[str, Any]) -> None:
        self._headers = dict(headers)

    def __getitem__(self, uid: str) -> Dataset:
        header = self._headers[uid]
        if not isinstance(header, PartialHeader):
            return header  # type: ignore[no-any-return]
        return header.dataset()

    def __iter__(self) -> Iterator[str]:
        return iter(self._headers)

    def __len__(self) -> int:
        return len(self._headers)


def _is_report_header(header: PartialHeader) -> bool:
    return ascii_value(header, "Modality").upper() == SR_MODALITY


def read_header(path: Path, *, defer_pixels: bool) -> Dataset | Problem:
    """Read one file's header with pydicom; a `Problem` when it is not readable DICOM."""
    try:
        if defer_pixels:
            return pydicom.dcmread(path, defer_size=DEFER_BYTES)
        return pydicom.dcmread(path, stop_before_pixels=True)
    except InvalidDicomError:
        return Problem(str(path), "not a DICOM file (no 'DICM' marker at byte 128)")
    except (OSError, EOFError, ValueError, KeyError, TypeError, AttributeError) as error:
        return Problem(str(path), f"unreadable DICOM header ({error})")


def parse_dicom_date(value: object) -> dt.date | None:
    """A DA value (``YYYYMMDD``) as a date; None when absent or not a date."""
    text = str(value or "").strip()
    try:
        return dt.datetime.strptime(text[:8], "%Y%m%d").date()
    except ValueError:
        return None


def text_value(ds: Any, keyword: str) -> str:
    """An element's value as stripped text (empty when absent), as pydicom converts it."""
    plain = plain_text(ds, keyword)
    if plain is not None:
        return plain
    return str(ds.get(keyword, "") or "").strip()


# `plain_text`: the VRs it converts from the bytes, with pydicom's own validation pattern
# (a value that pydicom would warn about is left to pydicom), and the character sets in
# which printable ASCII decodes to itself.
_PLAIN_PATTERNS: dict[str, re.Pattern[str] | None] = {
    "UI": STR_VR_REGEXES["UI"], "CS": STR_VR_REGEXES["CS"], "DA": STR_VR_REGEXES["DA"],
    "IS": STR_VR_REGEXES["IS"], "LO": None, "SH": None,
}
# PS3.5 table 6.2-1 lengths as pydicom checks them; DA: a date range is 17 characters.
_PLAIN_LENGTHS = {**MAX_VALUE_LEN, "DA": 18}
_PRINTABLE = re.compile(rb"[\x20-\x5b\x5d-\x7e]*\x00*")  # no backslash: one value
_ASCII_CHARSETS = frozenset({b"", b"ISO_IR 6", b"ISO_IR 100", b"ISO_IR 192"})
_CHARSET_TAG = Tag(0x00080005)


def plain_text(ds: Any, keyword: str) -> str | None:
    """`text_value` of a plain value read from its bytes; None when pydicom must convert it.

    A single printable-ASCII value (no backslash, no escape) of UI, CS, DA, IS, LO or SH
    within its VR's length (and pattern, for UI, CS, DA and IS), in a character set where
    ASCII is ASCII, under pydicom's default settings: pydicom 3.0 decodes it as ASCII and
    strips trailing spaces and NULs (`pydicom.values` converters, replicated by
    `napari_recist.io.sr_raw` and checked against pydicom there and in
    tests/io/test_dicom_scan_partial.py). Anything else is None.
    """
    tag = TAG_OF.get(keyword)
    if tag is None or not hasattr(ds, "get_item"):
        return None
    element = ds.get_item(tag, keep_deferred=True)
    if element is None:
        return ""  # absent: ds.get(keyword, "") gives ""
    value = element.value
    vr = element.VR or _dictionary_vr(tag)
    if (not isinstance(value, bytes) or vr not in _PLAIN_PATTERNS
            or len(value) > _PLAIN_LENGTHS.get(vr, 0) or not _PRINTABLE.fullmatch(value)
            or not sr_raw.conversions_replicable()):
        return None
    if vr in ("LO", "SH"):
        charset = ds.get_item(_CHARSET_TAG, keep_deferred=True)
        if charset is not None and (not isinstance(charset.value, bytes)
                                    or charset.value.strip(b" \x00") not in _ASCII_CHARSETS):
            return None
    text = value.decode("ascii").rstrip("\x00 ")
    pattern = _PLAIN_PATTERNS[vr]
    if pattern is not None and not pattern.match(text):
        return None
    return text.strip()


def _dictionary_vr(tag: int) -> str | None:
    entry = pydicom.datadict.DicomDictionary.get(tag)
    return entry[0] if entry is not None else None


def raw_element(ds: Dataset, keyword: str) -> Any:
    """The element of a keyword of `TAG_OF` without converting its value (None if absent)."""
    return ds.get_item(TAG_OF[keyword], keep_deferred=True)  # None when absent


def ascii_value(ds: Dataset, keyword: str) -> str:
    """Value of an ASCII-only element (UI, CS, DS, IS...) as text, backslash-separated.

    Reads the raw bytes when pydicom has not converted the element yet: pydicom's value
    conversion (DS/IS validation) costs more than the header read for per-slice fields.
    """
    element = raw_element(ds, keyword)
    if element is None:
        return ""
    value = element.value
    if isinstance(value, bytes):
        return value.decode("ascii", "replace").strip("\x00 ")
    if value is None:
        return ""
    if isinstance(value, pydicom.multival.MultiValue | list | tuple):
        return "\\".join(str(v) for v in value)
    return str(value).strip()


def unsigned_short(ds: Dataset, keyword: str, default: int) -> int:
    """Value of a US element (Rows, Bits Allocated...) without pydicom's conversion."""
    element = raw_element(ds, keyword)
    if element is None:
        return default
    value = element.value
    if isinstance(value, bytes):
        if len(value) < 2:
            return default
        return int.from_bytes(value[:2], "little" if element.is_little_endian else "big")
    return int(value) if value is not None else default


def ascii_numbers(ds: Dataset, keyword: str) -> list[float]:
    """A multi-valued DS element as floats (ValueError when a value is not a number)."""
    text = ascii_value(ds, keyword)
    return [float(part) for part in text.split("\\")] if text else []


def integer_value(value: object, default: int | None) -> int | None:
    """An IS value as int; `default` when absent or not a number."""
    try:
        return int(str(value).strip()) if value not in (None, "") else default
    except ValueError:
        return default


def _is_image(ds: Dataset) -> bool:
    def has(keyword: str) -> bool:
        return raw_element(ds, keyword) is not None

    return has("Rows") and has("Columns") and (has("PixelData") or has("SamplesPerPixel"))


def _is_localizer(ds: Dataset) -> bool:
    return "LOCALIZER" in ascii_value(ds, "ImageType").upper().split("\\")


def classify_header(path: Path, ds: Dataset) -> str | Problem:
    """Return ``"ct"``, ``"sr"`` or a `Problem` saying why the file is left out."""
    sop_class = ascii_value(ds, "SOPClassUID") or str(
        getattr(getattr(ds, "file_meta", None), "MediaStorageSOPClassUID", ""))
    modality = ascii_value(ds, "Modality").upper()
    if sop_class == MediaStorageDirectoryStorage:
        return Problem(str(path), "DICOMDIR index file, not an image: left out")
    if raw_element(ds, "SOPClassUID") is None and not modality:
        return Problem(str(path), "damaged DICOM file: no SOP Class UID (0008,0016), no Modality")
    if modality == SR_MODALITY:
        return "sr"
    if modality == "CT" and not _is_image(ds):
        return Problem(str(path), "damaged CT image: no Rows, Columns or Pixel Data")
    if not _is_image(ds):
        return Problem(str(path), f"{modality or 'unknown'} object without pixels: left out")
    if modality != "CT":
        return Problem(str(path), f"{modality or 'no'} modality image, not CT: left out")
    if _is_localizer(ds):
        return Problem(str(path), "CT localizer (scout) image: left out")
    if not ascii_value(ds, "SeriesInstanceUID"):
        return Problem(str(path), "CT image without Series Instance UID (0020,000E): left out")
    return "ct"


def series_info(uid: str, items: list[tuple[Path, Dataset]]) -> SeriesInfo:
    """Describe one CT series from its (file, header) pairs; the headers are kept."""
    ordered = sorted(items, key=lambda item: item[0])
    first = items[0][1]
    number = integer_value(_value(first, "SeriesNumber"), None)
    return SeriesInfo(
        series_uid=uid,
        study_uid=text_value(first, "StudyInstanceUID"),
        modality=text_value(first, "Modality"),
        study_date=parse_dicom_date(_value(first, "StudyDate")),
        series_description=text_value(first, "SeriesDescription"),
        patient_id=text_value(first, "PatientID"),
        frame_of_reference_uid=text_value(first, "FrameOfReferenceUID") or None,
        series_number=number,
        files=tuple(path for path, _ in ordered),
        headers=tuple(ds for _, ds in ordered),
        frame_count=sum(
            integer_value(ascii_value(ds, "NumberOfFrames"), 1) or 1 for _, ds in items
        ),
    )


def _sr_info(path: Path, ds: Any, document: sr_raw.RawDataset | None = None) -> SRFileInfo:
    if document is not None:
        ds = document  # the whole report, values as pydicom gives them
    return SRFileInfo(
        path=path,
        sop_class_uid=text_value(ds, "SOPClassUID"),
        sop_instance_uid=text_value(ds, "SOPInstanceUID"),
        series_uid=text_value(ds, "SeriesInstanceUID"),
        study_uid=text_value(ds, "StudyInstanceUID"),
        study_date=parse_dicom_date(ds.get("StudyDate")),
        patient_id=text_value(ds, "PatientID"),
        series_description=text_value(ds, "SeriesDescription"),
        document=document,
    )


def group_headers(
    headers: Iterable[tuple[Path, Dataset | Problem]],
) -> tuple[dict[str, list[tuple[Path, Dataset]]], list[tuple[Path, Dataset]], list[Problem]]:
    """Sort headers into CT images by series UID, SR documents and notes."""
    ct: dict[str, list[tuple[Path, Dataset]]] = defaultdict(list)
    reports: list[tuple[Path, Dataset]] = []
    notes: list[Problem] = []
    for path, header in headers:
        if isinstance(header, Problem):
            notes.append(header)
            continue
        kind = classify_header(path, header)
        if isinstance(kind, Problem):
            notes.append(kind)
        elif kind == "sr":
            reports.append((path, header))
        else:
            ct[ascii_value(header, "SeriesInstanceUID")].append((path, header))
    return ct, reports, notes


# VRs whose values pydicom decodes without the character set (None: implicit VR, whose
# dictionary VR is UI or DA for the keywords memoised).
_CHARSET_FREE_VRS = frozenset({"UI", "DA", None})


def _study_date(ds: Any, keyword: str) -> dt.date | None:
    return parse_dicom_date(_value(ds, keyword))


def _value(ds: Any, keyword: str) -> Any:
    """``ds.get(keyword)``, for a DA or IS element whose text is all that is used."""
    plain = plain_text(ds, keyword)
    return ds.get(keyword) if plain is None else plain or None


def _converted(memo: dict[tuple[str, bytes], Any], ds: Any, keyword: str,
               convert: Callable[[Any, str], Any], absent: Any) -> Any:
    """``convert(ds, keyword)``, once per distinct raw value (`absent` when absent)."""
    element = raw_element(ds, keyword)
    if element is None:
        return absent  # what ds.get gives an absent element, converted
    value = element.value
    if not isinstance(value, bytes) or element.VR not in _CHARSET_FREE_VRS:
        return convert(ds, keyword)  # already converted by pydicom, or text in a charset
    key = (keyword, value)
    if key not in memo:
        memo[key] = convert(ds, keyword)
    return memo[key]


def series_sort_key(info: SeriesInfo) -> tuple[dt.date, int, str]:
    """Order series by study date, then series number, then UID."""
    return (info.study_date or dt.date.min, info.series_number or 0, info.series_uid)


def scan_dicom_folder(
    root: str | os.PathLike[str] | Sequence[str | os.PathLike[str]],
    *,
    full_headers: bool = True,
) -> DicomScan:
    """Walk folder trees once and sort what they hold into CT series, SRs and notes.

    Headers are read once, Pixel Data left unread (its offset kept), and kept in
    `SeriesInfo.headers`. Files need no particular name or extension; files that are not
    DICOM are noted, not fatal. A file reached twice (two overlapping paths) is read once.

    Parameters
    ----------
    root
        A folder (searched at any depth) or a single file, or several of them.
    full_headers
        Keep every file's whole header (what `napari_recist.io.volume.load_series` loads a
        volume from). False reads of each file only what sorts it into its series and
        study (`GROUPING_TAGS`; the same files are found, the same notes made), keeps
        `fast_header.PartialHeader` objects, and parses each structured report once, whole,
        for `read_sr` (`SRFileInfo.document`): what classifying a patient needs. The plane
        of an image is converted when an SR line is placed on it (`ReferencedImages`).

    Returns
    -------
    DicomScan
        ``.series`` (CT only), ``.sr_files`` and ``.notes``.

    Raises
    ------
    InputError
        When a path does not exist.
    """
    roots = [root] if isinstance(root, str | os.PathLike) else list(root)
    paths: list[Path] = []
    seen: set[str] = set()
    for item in roots:
        for path in walk_files(Path(item)):
            key = os.path.abspath(path)  # no syscall per file (resolve() costs one per part)
            if key not in seen:
                seen.add(key)
                paths.append(path)
    # Pixel Data is deferred, not dropped: the headers are kept for `load_series`, which
    # needs its offset in the file.
    headers = read_headers(paths, defer_pixels=True, workers=default_workers(),
                           keep=None if full_headers else GROUPING_TAGS)
    documents: dict[Path, sr_raw.RawDataset] = {}
    if not full_headers:
        headers, documents = _read_reports(headers)
    ct, reports, notes = group_headers(headers)
    study_dates: dict[str, dt.date] = {}
    image_studies: dict[str, str] = {}
    other_images: dict[str, Any] = {}
    # The slices of a study share their Study Instance UID and Study Date bytes: each
    # distinct value is converted once (UI and DA values do not depend on the character set).
    converted: dict[tuple[str, bytes], Any] = {}
    for _, header in headers:
        if isinstance(header, Problem) or ascii_value(header, "Modality").upper() == SR_MODALITY:
            continue
        study = _converted(converted, header, "StudyInstanceUID", text_value, "")
        date = _converted(converted, header, "StudyDate", _study_date, None)
        if study and date is not None:
            study_dates.setdefault(study, date)
        sop = ascii_value(header, "SOPInstanceUID")
        if sop and study:
            image_studies[sop] = study
        if sop and ascii_value(header, "Modality").upper() != "CT" and _is_image(header):
            other_images[sop] = header
    series = sorted((series_info(uid, items) for uid, items in ct.items()), key=series_sort_key)
    sr_files = sorted(
        (_sr_info(path, ds, documents.get(path)) for path, ds in reports),
        key=lambda sr: (sr.study_date or dt.date.min, str(sr.path)),
    )
    return DicomScan(series=series, sr_files=sr_files, notes=notes, study_dates=study_dates,
                     image_studies=image_studies, other_images=other_images)


def find_series(root: str | os.PathLike[str]) -> list[SeriesInfo]:
    """Return the CT series under a folder (see `scan_dicom_folder` for SRs and notes).

    Parameters
    ----------
    root
        A folder, searched at any depth.

    Returns
    -------
    list of SeriesInfo
        Sorted by study date, then series number.
    """
    return scan_dicom_folder(root).series


