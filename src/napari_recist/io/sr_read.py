"""Read TID 1500 measurement reports into the model, keeping every good measurement.

Reads the SRs this project writes (`sr_write`) and the flavours other tools write: TID 1501
groups with long/short axis lengths (ours, OHIF/dcmjs ``Length`` and ``Bidirectional``),
TID 1410/1411 ROI groups (3D Slicer/dcmqi volumetric reports). The content tree is walked
with pydicom and each content item is decoded on its own, so one bad item costs only itself:
problems are collected with the file and the content item they concern, and everything
else is returned.
"""

from __future__ import annotations

import datetime as dt
import io
import math
import os
import re
import struct
from collections import Counter
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, cast

import numpy as np
import pydicom
from pydicom.dataset import Dataset
from pydicom.errors import BytesLengthException, InvalidDicomError
from pydicom.filereader import data_element_generator
from pydicom.uid import DeflatedExplicitVRLittleEndian, ExplicitVRBigEndian, ImplicitVRLittleEndian

from napari_recist.errors import Problem
from napari_recist.io import sr_codes as vocab
from napari_recist.io import sr_raw
from napari_recist.io.sr_geometry import has_plane, pixel_to_lps
from napari_recist.model import (
    MAX_DIAMETER_MM,
    AxisGeometry,
    Lesion,
    LesionState,
    Measurement,
    Role,
)

_IMAGING_MEASUREMENT_REPORT = ("DCM", "126000")
_IMAGING_MEASUREMENTS = ("DCM", "126010")
_MEASUREMENT_GROUP = ("DCM", "125007")
_TRACKING_IDENTIFIER = ("DCM", "112039")
_TRACKING_UID = ("DCM", "112040")
_FINDING_SITES = {("SCT", "363698007"), ("SRT", "G-C0E3")}
_TIME_POINT = vocab.code_key(vocab.TIME_POINT)
_TIME_POINT_TYPE = vocab.code_key(vocab.TIME_POINT_TYPE)
_TIME_POINT_ORDER = ("DCM", "126073")
_PRE_BASELINE = re.compile(r"^pre-?baseline\s*(\d*)$")
_NUMBERED = re.compile(r"^(?:tp|time\s*point|follow[- ]?up|fu)?\s*#?\s*(-?\d+)$")

# What pydicom raises on damaged or malformed files and content items.
_DAMAGED = (InvalidDicomError, OSError, ValueError, EOFError, KeyError, TypeError,
            AttributeError, IndexError, struct.error, NotImplementedError, OverflowError,
            RecursionError, MemoryError, BytesLengthException)

_UNDEFINED_LENGTH = 0xFFFFFFFF

PixelLine = tuple[str, tuple[tuple[float, float], ...]]


@dataclass
class SRReadResult:
    """What one SR file says, plus what could not be read from it.

    Attributes
    ----------
    source
        The file read.
    patient_id, study_uid
        From the SR header.
    study_date
        Study date of the SR (the date the images were acquired), or None.
    timepoint
        Time point number stated by the SR's time point context (TID 1502), or None.
    lesions, measurements, responses
        By lesion id: the lesion, its measurement at this time point, its response if the SR
        states one.
    pixel_lines
        Lines drawn on an image whose geometry was not available, by ``(lesion id, "long" or
        "short")``: the referenced SOP Instance UID and the (column, row) points.
    problems
        Everything wrong, located by file and content item; the rest was read.
    notes
        Assumptions made (e.g. a role the SR does not state).
    """

    source: str
    patient_id: str = ""
    study_uid: str = ""
    study_date: dt.date | None = None
    timepoint: int | None = None
    lesions: dict[str, Lesion] = field(default_factory=dict)
    measurements: dict[str, Measurement] = field(default_factory=dict)
    responses: dict[str, str] = field(default_factory=dict)
    pixel_lines: dict[tuple[str, str], PixelLine] = field(default_factory=dict)
    problems: list[Problem] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)


def read_sr(
    path: str | os.PathLike[str],
    images: Mapping[str, Dataset] | None = None,
) -> SRReadResult:
    """Read the lesions of a TID 1500 measurement report.

    Parameters
    ----------
    path
        The SR file.
    images
        Headers of the images the SR may reference, by SOP Instance UID. Lines drawn on an
        image (SCOORD) are converted to patient coordinates with its geometry. When None,
        such lines keep their image reference and pixel points (`SRReadResult.pixel_lines`);
        when given, a reference to an image not in it is a problem.

    Returns
    -------
    SRReadResult
        The lesions and measurements read, and the problems found. Never raises for bad
        content.
    """
    source = str(path)
    result = SRReadResult(source=source)
    try:
        # One read of the file: parsed from memory, and checked for truncation there.
        data = Path(path).read_bytes()
        dataset, cut_short = _open_dataset(data)
        if cut_short:
            result.problems.append(Problem(source, "the file is cut short (it ends inside "
                                           "its content): nothing is read from it"))
            return result
        container = _measurement_container(dataset, result)
    except _DAMAGED as error:
        result.problems.append(Problem(source, f"not a readable DICOM file ({error})"))
        return result
    if container is None:
        return result
    result.patient_id = str(dataset.get("PatientID", ""))
    result.study_uid = str(dataset.get("StudyInstanceUID", ""))
    result.study_date = _parse_date(dataset.get("StudyDate", ""))
    timepoints: list[int] = []
    for number, group in enumerate(container.get("ContentSequence", []), start=1):
        if _key(group) != _MEASUREMENT_GROUP:
            continue
        try:
            _GroupReader(result, group, number, images).read(timepoints)
        except _DAMAGED as error:  # a damaged group costs only itself
            result.problems.append(Problem(source, f"damaged content ({error}); the group is "
                                           "skipped", column=f"Measurement Group {number}"))
    if timepoints:
        counts = Counter(timepoints).most_common()
        result.timepoint = counts[0][0]
        if len(counts) > 1:
            result.problems.append(Problem(source, "measurement groups state different time "
                                           f"points {sorted(set(timepoints))}; "
                                           f"{result.timepoint} is used",
                                           column="Time Point"))
    return result


def _open_dataset(data: bytes) -> tuple[Dataset, bool]:
    """The SR's data set and whether the file is cut short (see `_cut_short`).

    `sr_raw` parses the files it reads exactly as pydicom would (never a file cut short) and
    gives pydicom's values at a fraction of its cost; anything else is read by pydicom.
    """
    fast = sr_raw.read_dataset(data)
    if fast is not None:
        return cast(Dataset, fast), False  # it answers the Dataset accesses made here
    dataset = pydicom.dcmread(io.BytesIO(data))
    return dataset, _cut_short(data, dataset)


def _cut_short(data: bytes, dataset: Dataset) -> bool:
    """True when the file ends before its last top-level element does.

    pydicom reads a truncated sequence silently up to the end of the file. PS3.10 7.1: the
    data set starts after the 128-byte preamble, "DICM" and the file meta group (whose
    length (0002,0000) gives); a defined-length element must fit in the file and an
    undefined-length sequence must end with a Sequence Delimitation Item (PS3.5 7.5.2).
    """
    meta = getattr(dataset, "file_meta", None)
    syntax = meta.get("TransferSyntaxUID") if meta is not None else None
    group_length = meta.get("FileMetaInformationGroupLength") if meta is not None else None
    if group_length is None or syntax is None or syntax == DeflatedExplicitVRLittleEndian:
        return False
    size = len(data)
    last = None
    with io.BytesIO(data) as handle:
        handle.seek(128 + 4 + 12 + int(group_length))
        for raw in data_element_generator(handle, syntax == ImplicitVRLittleEndian,
                                          syntax != ExplicitVRBigEndian, defer_size=0):
            # Defined lengths come as raw elements; undefined-length sequences come parsed.
            length = getattr(raw, "length", None)
            if length not in (None, _UNDEFINED_LENGTH) and raw.value_tell + length > size:
                return True
            last = raw
        if last is not None and (getattr(last, "length", None) == _UNDEFINED_LENGTH
                                 or getattr(last, "is_undefined_length", False)):
            handle.seek(-8, os.SEEK_END)
            return handle.read(4) not in (b"\xfe\xff\xdd\xe0", b"\xff\xfe\xe0\xdd")
    return False


def _measurement_container(dataset: Dataset, result: SRReadResult) -> Dataset | None:
    """Return the "Imaging Measurements" container, or None with a problem."""
    source = result.source
    if dataset.get("Modality") != "SR" or "ContentSequence" not in dataset:
        result.problems.append(Problem(source, "not a DICOM structured report (modality "
                                       f"{dataset.get('Modality', 'missing')})"))
        return None
    templates = [str(item.get("TemplateIdentifier", ""))
                 for item in dataset.get("ContentTemplateSequence", [])]
    if _key(dataset) != _IMAGING_MEASUREMENT_REPORT or templates not in ([], ["1500"]):
        title = _meaning(dataset) or "untitled"
        template = templates[0] if templates else "unknown"
        result.problems.append(Problem(source, f"an SR of template {template} ({title}), not a "
                                       "TID 1500 measurement report", column="document title"))
        return None
    for item in dataset.ContentSequence:
        if _key(item) == _IMAGING_MEASUREMENTS:
            return item
    result.problems.append(Problem(source, "TID 1500 report without an 'Imaging "
                                   "Measurements' container: no measurements"))
    return None


class _GroupReader:
    """Read one measurement group into the result."""

    def __init__(self, result: SRReadResult, group: Dataset, number: int,
                 images: Mapping[str, Dataset] | None) -> None:
        self.result = result
        self.group = group
        self.images = images
        self.where = f"Measurement Group {number}"
        self.sizes: dict[str, float] = {}
        self.lines: dict[str, AxisGeometry] = {}
        self.pending: dict[str, PixelLine] = {}
        self.attempted: set[str] = set()
        self.ohif_tool: str | None = None
        self.method: str | None = None

    def problem(self, message: str, item: str | None = None) -> None:
        column = self.where if item is None else f"{self.where}, {item}"
        self.result.problems.append(Problem(self.result.source, message, column=column))

    def read(self, timepoints: list[int]) -> None:
        items = list(self.group.get("ContentSequence", []))
        text = _text_value(items, _TRACKING_IDENTIFIER)
        uid = _uid_value(items, _TRACKING_UID)
        tool, lesion_id = vocab.split_tracking_identifier(text) if text else (None, None)
        self.ohif_tool = tool
        lesion_id = lesion_id or uid  # OHIF writes only its tool name: the UID names it
        if not lesion_id:
            self.problem("no Tracking Identifier: the lesion cannot be followed over time; "
                         "the group is skipped", "Tracking Identifier")
            return
        self.where += f" ({lesion_id})"
        if lesion_id in self.result.measurements:
            self.problem(f"lesion {lesion_id} appears in more than one group; the first is "
                         "kept")
            return
        timepoint = self._timepoint(items)
        if timepoint is not None:
            timepoints.append(timepoint)
        for index, item in enumerate(items, start=1):
            if item.get("ValueType") == "NUM":
                self._axis(item, f"content item {index} '{_meaning(item)}'")
        found = self._evaluations(items)
        site, role, state = found["site"], found["role"], found["state"]
        nodal, thoracic, response = found["nodal"], found["thoracic"], found["response"]
        if role is None:
            role = Role.TARGET if self.attempted else Role.NON_TARGET
            self.result.notes.append(f"{self.result.source}, {self.where}: no RECIST role "
                                     f"stated; taken as {role}")
        nodal = nodal if nodal is not None else site == "lymph node"
        # lesion-table.md (amended 2026-12): the private split / coalesced links.
        part_of = _text_value(items, vocab.code_key(vocab.LESION_PART_OF)) or None
        coalesced_into = _text_value(items, vocab.code_key(vocab.LESION_COALESCED)) or None
        if coalesced_into is not None and state is None:
            state = LesionState.ABSENT  # a coalesced group has no state: its row counts 0 mm
        if state is None:
            state = LesionState.MEASURED if self.attempted else LesionState.PRESENT
        # RECIST 1.1 section 4.3: a node counts by its short axis, any other lesion by its long.
        needed = "short" if nodal else "long"
        if state is LesionState.MEASURED and needed not in self.sizes:
            if needed not in self.attempted:
                self.problem(f"measured without a {needed} axis length, which RECIST needs "
                             f"for a {'lymph node' if nodal else 'non-nodal lesion'}; taken as "
                             "not evaluated")
            state = LesionState.NOT_EVALUATED
        lesion_uid = uid or None
        self.result.lesions[lesion_id] = Lesion(
            lesion_id, role, site,
            nodal=nodal,
            thoracic=thoracic, tracking_uid=lesion_uid, part_of=part_of,
        )
        self.result.measurements[lesion_id] = Measurement(
            lesion_id, state,
            long_axis_mm=self.sizes.get("long"), short_axis_mm=self.sizes.get("short"),
            long_axis=self.lines.get("long"), short_axis=self.lines.get("short"),
            extra={"method": self.method} if self.method else {},
            coalesced_into=coalesced_into,
        )
        if response:
            self.result.responses[lesion_id] = response
        for axis, line in self.pending.items():
            self.result.pixel_lines[(lesion_id, axis)] = line

    def _evaluations(self, items: list[Dataset]) -> dict[str, Any]:
        """Finding site and the qualitative evaluations (role, state, flags, response)."""
        found: dict[str, Any] = dict.fromkeys(
            ("role", "state", "nodal", "thoracic", "response"), None)
        found["site"] = "other"
        flags = {vocab.code_key(vocab.NODAL): "nodal", vocab.code_key(vocab.THORACIC): "thoracic"}
        for index, item in enumerate(items, start=1):
            if item.get("ValueType") != "CODE":
                continue
            key, concept = _key(item), _concept(item)
            value = vocab.code_key(concept)
            if key in _FINDING_SITES:
                found["site"] = vocab.site_from_code(concept)
            elif key in vocab.ROLE_NAMES and value in vocab.ROLE_BY_VALUE:
                found["role"] = vocab.ROLE_BY_VALUE[value]
            elif key == vocab.code_key(vocab.LESION_STATE):
                found["state"] = vocab.STATE_BY_VALUE.get(value)
                if found["state"] is None:
                    self.problem(f"unknown lesion state {concept.meaning!r}",
                                 f"content item {index}")
            elif key in flags:
                found[flags[key]] = value == vocab.code_key(vocab.YES)
            elif key == vocab.code_key(vocab.CURRENT_RESPONSE):
                found["response"] = vocab.response_from_code(concept)
        return found

    def _timepoint(self, items: list[Dataset]) -> int | None:
        text = _text_value(items, _TIME_POINT)
        if text:
            label = text.strip().lower()
            if label == "baseline":
                return 0
            pre = _PRE_BASELINE.match(label)
            if pre:
                return -int(pre.group(1) or 1)
            numbered = _NUMBERED.match(label)
            if numbered:
                return int(numbered.group(1))
        for item in items:
            if _key(item) == _TIME_POINT_TYPE and item.get("ValueType") == "CODE":
                if vocab.code_key(_concept(item)) == vocab.code_key(vocab.TIME_POINT_BASELINE):
                    return 0
        return None

    def _axis(self, item: Dataset, where: str) -> None:
        key = _key(item)
        if key in vocab.LONG_AXIS_NAMES:
            axis = "long"
        elif key in vocab.SHORT_AXIS_NAMES:
            axis = "short"
        else:
            return  # volume, mean HU ...: not used by RECIST
        self.attempted.add(axis)
        if axis in self.sizes:
            self.problem(f"a second {axis} axis measurement; the first is kept", where)
            return
        measured = item.get("MeasuredValueSequence")
        if not measured:
            self.problem("measurement without a value", where)
            return
        value = measured[0]
        units = value.get("MeasurementUnitsCodeSequence")
        unit = str(units[0].get("CodeValue", "")) if units else ""
        if unit == "1" and self.ohif_tool is not None:
            # dcmjs writes cornerstone tool lengths, which are in mm, with the unit "1": a
            # group that names its cornerstone tool is read in mm, and the reading is noted.
            self.result.notes.append(
                f"{self.result.source}, {self.where}, {where}: unit '1' on an OHIF "
                f"{self.ohif_tool} length, read as mm (cornerstone tools measure in mm)"
            )
            unit = "mm"
        if unit not in vocab.UNIT_TO_MM:
            what = f"unit {unit!r}" if unit and unit != "1" else "no unit"
            self.problem(f"length with {what}: millimetres cannot be known; the measurement "
                         "is skipped", where)
            return
        try:
            size_mm = float(value.NumericValue) * vocab.UNIT_TO_MM[unit]
        except (AttributeError, TypeError, ValueError):
            self.problem("measurement value is not a number", where)
            return
        if not math.isfinite(size_mm) or not 0.0 <= size_mm <= MAX_DIAMETER_MM:
            # The same limits as the lesion table: a diameter is finite, not negative and
            # smaller than a body; anything else is refused, never classified.
            self.problem(f"length {value.NumericValue} {unit} is not a lesion diameter (0 to "
                         f"{MAX_DIAMETER_MM:g} mm); the measurement is skipped", where)
            return
        self.sizes[axis] = size_mm
        for child in item.get("ContentSequence", []):
            if child.get("ValueType") == "CODE" and _key(child) in vocab.MEASUREMENT_METHOD_NAMES:
                concept = _concept(child)
                known = vocab.METHOD_BY_VALUE.get(vocab.code_key(concept))
                self.method = known.value if known is not None else concept.meaning.lower()
            if child.get("ValueType") == "SCOORD3D":
                self._line_3d(axis, child, where)
            elif child.get("ValueType") == "SCOORD":
                self._line_on_image(axis, child, where)

    def _line_3d(self, axis: str, item: Dataset, where: str) -> None:
        data = np.asarray(item.get("GraphicData", []), dtype=float)
        if data.size < 6 or data.size % 3:
            self.problem("3D coordinates are not a list of points", where)
            return
        points = tuple(tuple(float(v) for v in p) for p in data.reshape(-1, 3))
        frame = str(item.get("ReferencedFrameOfReferenceUID", "")) or None
        self.lines[axis] = AxisGeometry(points, None, frame)  # type: ignore[arg-type]

    def _line_on_image(self, axis: str, item: Dataset, where: str) -> None:
        data = np.asarray(item.get("GraphicData", []), dtype=float)
        refs = [ref for child in item.get("ContentSequence", [])
                for ref in child.get("ReferencedSOPSequence", [])]
        if data.size < 4 or data.size % 2 or not refs:
            self.problem("image coordinates without points or without an image reference",
                         where)
            return
        sop_uid = str(refs[0].ReferencedSOPInstanceUID)
        pixels = data.reshape(-1, 2)
        if self.images is None:
            self.pending[axis] = (sop_uid, tuple((float(c), float(r)) for c, r in pixels))
            self.lines[axis] = AxisGeometry((), sop_uid, None)
            return
        image = self.images.get(sop_uid)
        if image is None:
            self.problem(f"the line is drawn on image {sop_uid}, which is not among the "
                         "images found; its length is kept, its position is not", where)
            return
        if not has_plane(image):
            self.problem(f"image {sop_uid} has no position, orientation or pixel spacing: the "
                         "line's position cannot be known; its length is kept", where)
            return
        try:
            points = pixel_to_lps(image, pixels)
        except (ValueError, TypeError, IndexError, ZeroDivisionError, np.linalg.LinAlgError):
            # The CT header is at fault, not the SR: name the image file.
            ct_file = getattr(image, "filename", None) or sop_uid
            self.problem(f"CT image {ct_file} has an unreadable Image Position/Orientation "
                         "(Patient) or Pixel Spacing: the line's position cannot be known; its "
                         "length is kept", where)
            return
        self.lines[axis] = AxisGeometry(
            points, sop_uid, str(image.get("FrameOfReferenceUID", "")) or None,
        )


def _key(item: Dataset) -> tuple[str, str]:
    names = item.get("ConceptNameCodeSequence")
    if not names:
        return ("", "")
    return (str(names[0].get("CodingSchemeDesignator", "")), str(names[0].get("CodeValue", "")))


def _meaning(item: Dataset) -> str:
    names = item.get("ConceptNameCodeSequence")
    return str(names[0].get("CodeMeaning", "")) if names else ""


class _Concept:
    """The coded value of a CODE content item."""

    def __init__(self, item: Dataset) -> None:
        codes = item.get("ConceptCodeSequence") or [Dataset()]
        self.scheme_designator = str(codes[0].get("CodingSchemeDesignator", ""))
        self.value = str(codes[0].get("CodeValue", ""))
        self.meaning = str(codes[0].get("CodeMeaning", ""))


def _concept(item: Dataset) -> _Concept:
    return _Concept(item)


def _text_value(items: list[Dataset], key: tuple[str, str]) -> str:
    for item in items:
        if _key(item) == key and item.get("ValueType") == "TEXT":
            return str(item.get("TextValue", "")).strip()
    return ""


def _uid_value(items: list[Dataset], key: tuple[str, str]) -> str:
    for item in items:
        if _key(item) == key and item.get("ValueType") == "UIDREF":
            return str(item.get("UID", "")).strip()
    return ""


def _parse_date(text: object) -> dt.date | None:
    try:
        return dt.datetime.strptime(str(text or "")[:8], "%Y%m%d").date()
    except ValueError:
        return None

