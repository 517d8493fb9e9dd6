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
from napari_recist.io.sr_geometry import Plane, has_plane, image_plane, plane_to_lps
from napari_recist.model import (
    MAX_DIAMETER_MM,
    AxisGeometry,
    Lesion,
    LesionState,
    Measurement,
    Region,
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
# Code keys compared for every content item, computed once (a highdicom code's attributes
# are pydicom values, converted at each access).
_NODAL_FLAGS = {vocab.code_key(vocab.NODAL): "nodal", vocab.code_key(vocab.THORACIC): "thoracic"}
_LESION_STATE = vocab.code_key(vocab.LESION_STATE)
_YES = vocab.code_key(vocab.YES)
_CURRENT_RESPONSE = vocab.code_key(vocab.CURRENT_RESPONSE)
_TIME_POINT_BASELINE = vocab.code_key(vocab.TIME_POINT_BASELINE)
_LESION_PART_OF = vocab.code_key(vocab.LESION_PART_OF)
_LESION_COALESCED = vocab.code_key(vocab.LESION_COALESCED)
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
    patient_id, study_uid, sop_instance_uid
        From the SR header.
    study_date
        Study date of the SR (the date the images were acquired), or None. `open_patient`
        replaces it by the date of the study the SR belongs to (`header_study_date` keeps
        what the SR says).
    header_study_date
        The SR's own Study Date.
    content_datetime, instance_creation
        Content Date/Time and Instance Creation Date/Time as sortable text
        (``YYYYMMDDHHMMSS.ffffff``), or None: the order of revisions.
    predecessors
        SOP Instance UIDs of the Predecessor Documents Sequence (PS3.3 C.17.2: documents
        whose content this one includes, with or without modification).
    referenced_sop_uids
        The images the SR references (evidence, image library, coordinates).
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
    sop_instance_uid: str = ""
    study_date: dt.date | None = None
    header_study_date: dt.date | None = None
    content_datetime: str | None = None
    instance_creation: str | None = None
    predecessors: set[str] = field(default_factory=set)
    referenced_sop_uids: set[str] = field(default_factory=set)
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
    *,
    radius_as_diameter: bool = False,
    document: sr_raw.RawDataset | None = None,
) -> SRReadResult:
    """Read the lesions of a TID 1500 measurement report.

    Parameters
    ----------
    path
        The SR file.
    images
        Headers of the images the SR may reference, by SOP Instance UID. Lines drawn on an
        image (SCOORD) are converted to patient coordinates with its geometry. When None,
        such lines keep their image reference and pixel points (`SRReadResult.pixel_lines`)
        and image regions (`Measurement.regions`, for display only) are not placed; when
        given, a reference to an image not in it is a problem.
    radius_as_diameter
        Take twice a circle's Radius as the lesion's diameter (with a note). Off by default:
        a radius is not the longest diameter RECIST 1.1 section 4.2 measures.
    document
        The file as `napari_recist.io.sr_raw.read_dataset` parsed it already (the folder
        scan parses each report once); the file is then not read again.

    Returns
    -------
    SRReadResult
        The lesions and measurements read, and the problems found. Never raises for bad
        content.
    """
    source = str(path)
    result = SRReadResult(source=source)
    try:
        # One read of the file: parsed from memory, and checked for truncation there (a
        # file sr_raw parsed is whole).
        if document is not None:
            dataset, cut_short = cast(Dataset, document), False
        else:
            dataset, cut_short = _open_dataset(Path(path).read_bytes())
        if cut_short:
            result.problems.append(Problem(source, "the file is cut short (it ends inside "
                                           "its content): nothing is read from it"))
            return result
        container = _measurement_container(dataset, result)
        if container is not None:
            _read_header(dataset, result)  # converts values: damage shows here too
    except _DAMAGED as error:
        result.problems.append(Problem(source, f"not a readable DICOM file ({error})"))
        return result
    if container is None:
        return result
    timepoints: list[int] = []
    planes: dict[str, Plane] = {}
    for number, group in enumerate(container.get("ContentSequence", []), start=1):
        if _key(group) != _MEASUREMENT_GROUP:
            continue
        try:
            _GroupReader(result, group, number, images, radius_as_diameter, planes).read(
                timepoints)
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


def _read_header(dataset: Dataset, result: SRReadResult) -> None:
    """Identity, dates, predecessors and referenced images of the document."""
    result.patient_id = str(dataset.get("PatientID", ""))
    result.study_uid = str(dataset.get("StudyInstanceUID", ""))
    result.sop_instance_uid = str(dataset.get("SOPInstanceUID", ""))
    result.study_date = _parse_date(dataset.get("StudyDate", ""))
    result.header_study_date = result.study_date
    result.content_datetime = _datetime_key(dataset.get("ContentDate"),
                                            dataset.get("ContentTime"))
    result.instance_creation = _datetime_key(dataset.get("InstanceCreationDate"),
                                             dataset.get("InstanceCreationTime"))
    # PS3.3 C.17.2.1 SR Document General Module: Predecessor Documents Sequence, and the
    # evidence sequences listing the instances the document references (Table C.17-2).
    result.predecessors = set(_sop_uids(dataset.get("PredecessorDocumentsSequence", [])))
    for keyword in ("CurrentRequestedProcedureEvidenceSequence",
                    "PertinentOtherEvidenceSequence"):
        result.referenced_sop_uids.update(_sop_uids(dataset.get(keyword, [])))


def _sop_uids(studies: Any) -> list[str]:
    """SOP Instance UIDs of a Hierarchical SOP Instance Reference sequence (PS3.3 C.17.2.1)."""
    return [str(ref.get("ReferencedSOPInstanceUID", ""))
            for study in studies
            for series in study.get("ReferencedSeriesSequence", [])
            for ref in series.get("ReferencedSOPSequence", [])
            if ref.get("ReferencedSOPInstanceUID")]


def _datetime_key(date: object, time: object) -> str | None:
    """Return ``YYYYMMDDHHMMSS.ffffff`` of a DA and a TM value, so text order is time order.

    PS3.5 6.2: TM may stop after any component. None without a valid date. The Timezone
    Offset From UTC is not applied: revisions of one study come from one site.
    """
    day = str(date or "").strip()
    if len(day) != 8 or not day.isdigit():
        return None
    clock = str(time or "").strip().replace(":", "")
    whole, _, fraction = clock.partition(".")
    if not whole.isdigit() or len(whole) > 6 or (fraction and not fraction.isdigit()):
        whole, fraction = "", ""
    return f"{day}{whole.ljust(6, '0')}.{fraction[:6].ljust(6, '0')}"


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
        template = f"template {templates[0]}" if templates else "no template identifier"
        if _key(dataset) == _MEASUREMENT_GROUP:
            # dwv 0.34 wrote a bare Measurement Group as the document root (Basic Text SR).
            what = ("its root is a bare Measurement Group, not the Imaging Measurement "
                    "Report container of TID 1500")
        else:
            what = f"it is an SR of {template} titled {title!r}, not a TID 1500 measurement report"
        names = _numeric_items(dataset)
        shown = sorted(set(names))
        listed = ", ".join(shown[:5]) + (f" and {len(shown) - 5} more" if len(shown) > 5 else "")
        lost = f" (it holds {len(names)} numeric measurement(s): {listed})" if names else ""
        result.problems.append(Problem(source, f"{what}: nothing is read from it{lost}",
                                       column="document title"))
        return None
    for item in dataset.ContentSequence:
        if _key(item) == _IMAGING_MEASUREMENTS:
            return item
    result.problems.append(Problem(source, "TID 1500 report without an 'Imaging "
                                   "Measurements' container: no measurements"))
    return None


def _numeric_items(dataset: Dataset) -> list[str]:
    """Concept names of every NUM content item of a content tree (for refusal messages)."""
    names: list[str] = []
    stack = list(dataset.get("ContentSequence", []))
    while stack and len(names) < 10_000:
        item = stack.pop()
        if item.get("ValueType") == "NUM":
            names.append(_meaning(item) or "unnamed")
        stack.extend(item.get("ContentSequence", []))
    return names


class _GroupReader:
    """Read one measurement group into the result."""

    def __init__(self, result: SRReadResult, group: Dataset, number: int,
                 images: Mapping[str, Dataset] | None, radius_as_diameter: bool = False,
                 planes: dict[str, Plane] | None = None) -> None:
        self.result = result
        self.group = group
        self.images = images
        self.radius_as_diameter = radius_as_diameter
        self.where = f"Measurement Group {number}"
        self.sizes: dict[str, float] = {}
        self.lines: dict[str, AxisGeometry] = {}
        self.regions: list[Region] = []
        self.pending: dict[str, PixelLine] = {}
        self.attempted: set[str] = set()
        self.not_diameters: list[str] = []
        self.had_geometry = False
        self.ohif_tool: str | None = None
        self.method: str | None = None
        self._keys: dict[int, tuple[str, str]] = {}  # id(item) -> concept name key
        self.planes: dict[str, Plane] = {} if planes is None else planes  # by SOP UID

    def plane(self, sop_uid: str, image: Dataset) -> Plane:
        """`image_plane` of an image, read once per SR (its lines are often on one image)."""
        known = self.planes.get(sop_uid)
        if known is None:
            known = self.planes[sop_uid] = image_plane(image)
        return known

    def key(self, item: Dataset) -> tuple[str, str]:
        """`_key` of a content item of the group, worked out once per item."""
        known = self._keys.get(id(item))
        if known is None:
            known = self._keys[id(item)] = _key(item)
        return known

    def text_value(self, items: list[Dataset], key: tuple[str, str]) -> str:
        """The TEXT value of the first item named `key` (empty when none)."""
        for item in items:
            if self.key(item) == key and item.get("ValueType") == "TEXT":
                return str(item.get("TextValue", "")).strip()
        return ""

    def uid_value(self, items: list[Dataset], key: tuple[str, str]) -> str:
        """The UIDREF value of the first item named `key` (empty when none)."""
        for item in items:
            if self.key(item) == key and item.get("ValueType") == "UIDREF":
                return str(item.get("UID", "")).strip()
        return ""

    def problem(self, message: str, item: str | None = None) -> None:
        column = self.where if item is None else f"{self.where}, {item}"
        self.result.problems.append(Problem(self.result.source, message, column=column))

    def note(self, message: str) -> None:
        self.result.notes.append(f"{self.result.source}, {self.where}: {message}")

    def read(self, timepoints: list[int]) -> None:
        items = list(self.group.get("ContentSequence", []))
        text = self.text_value(items, _TRACKING_IDENTIFIER)
        uid = self.uid_value(items, _TRACKING_UID)
        tool, lesion_id = vocab.split_tracking_identifier(text) if text else (None, None)
        self.ohif_tool = tool
        lesion_id = lesion_id or uid  # OHIF writes only its tool name: the UID names it
        if not lesion_id:
            self.problem("no Tracking Identifier: the lesion cannot be followed over time; "
                         "the group is skipped", "Tracking Identifier")
            return
        self.where += f" ({lesion_id})"
        if not self._is_lesion(items):
            return
        if lesion_id in self.result.measurements:
            self.problem(f"lesion {lesion_id} appears in more than one group of this SR: only "
                         "one measurement per lesion and scan can count; the group is skipped")
            return
        timepoint = self._timepoint(items)
        if timepoint is not None:
            timepoints.append(timepoint)
        beside: list[tuple[int, Dataset]] = []
        for index, item in enumerate(items, start=1):
            kind = item.get("ValueType")
            if kind == "NUM":
                self._measurement(item, f"content item {index} '{_meaning(item)}'")
            elif kind in ("SCOORD", "SCOORD3D"):
                beside.append((index, item))  # TID 1410 row 8, TID 1411 rows 9-10, TID 1501 10c/e
            elif kind == "IMAGE":
                self.result.referenced_sop_uids.update(_image_uids(item))
        for index, item in beside:
            self._region_beside(item, f"content item {index} '{_meaning(item) or 'region'}'")
        if self.not_diameters:
            self.note(f"{'; '.join(self.not_diameters)}: not a diameter, not used by RECIST "
                      "(RECIST 1.1 section 4.2 measures the longest diameter)")
        found = self._evaluations(items)
        site, role, state = found["site"], found["role"], found["state"]
        nodal, thoracic, response = found["nodal"], found["thoracic"], found["response"]
        if (role is None and state is None and not self.attempted and not self.had_geometry
                and site == "other" and not any(self.key(i) == vocab.FINDING for i in items)):
            # Nothing locates or names a finding (highdicom's "Image0001": a mean HU of the
            # image): a measurement of the image, not of a lesion.
            self.note("no finding, finding site, diameter or image region: a measurement of "
                      "the image, not of a lesion; the group is not read")
            return
        if role is None:
            role = Role.TARGET if self.attempted else Role.NON_TARGET
            self.note(f"no RECIST role stated; taken as {role}")
        nodal = nodal if nodal is not None else site == "lymph node"
        # lesion-table.md (amended 2026-12): the private split / coalesced links.
        part_of = self.text_value(items, _LESION_PART_OF) or None
        coalesced_into = self.text_value(items, _LESION_COALESCED) or None
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
            regions=tuple(self.regions),
        )
        if response:
            self.result.responses[lesion_id] = response
        for axis, line in self.pending.items():
            self.result.pixel_lines[(lesion_id, axis)] = line

    def _is_lesion(self, items: list[Dataset]) -> bool:
        """Finding category first, then Finding (TID 1410/1411 rows 3-4, TID 1501 row 3b).

        Anatomy, tissue, substances, objects and normal findings are not lesions: the group
        is left out with a note naming it. A group that states neither is read as a lesion.
        """
        verdict: bool | None = None
        said = ""
        for wanted in (vocab.FINDING_CATEGORY, vocab.FINDING):
            for item in items:
                if item.get("ValueType") != "CODE" or self.key(item) != wanted:
                    continue
                concept = _concept(item)
                verdict, what = vocab.finding_is_lesion(concept.scheme_designator,
                                                        concept.value, concept.meaning)
                said = (f"{_meaning(item) or 'Finding'} {concept.meaning!r}"
                        + (f" ({what})" if what.lower() != concept.meaning.lower() else ""))
                break
            if verdict is not None:
                break
        if verdict is False:
            self.note(f"{said} is not a lesion: the group is not read (only tumours, lesions "
                      "and nodes are followed by RECIST)")
            return False
        if verdict is None and said:
            self.note(f"{said} does not say whether this is a lesion; read as one")
        return True

    def _evaluations(self, items: list[Dataset]) -> dict[str, Any]:
        """Finding site and the qualitative evaluations (role, state, flags, response)."""
        found: dict[str, Any] = dict.fromkeys(
            ("role", "state", "nodal", "thoracic", "response"), None)
        found["site"] = "other"
        flags = _NODAL_FLAGS
        for index, item in enumerate(items, start=1):
            if item.get("ValueType") != "CODE":
                continue
            key, concept = self.key(item), _concept(item)
            value = vocab.code_key(concept)
            if key in _FINDING_SITES:
                found["site"] = vocab.site_from_code(concept)
            elif key in vocab.ROLE_NAMES and value in vocab.ROLE_BY_VALUE:
                found["role"] = vocab.ROLE_BY_VALUE[value]
            elif key == _LESION_STATE:
                found["state"] = vocab.STATE_BY_VALUE.get(value)
                if found["state"] is None:
                    self.problem(f"unknown lesion state {concept.meaning!r}",
                                 f"content item {index}")
            elif key in flags:
                found[flags[key]] = value == _YES
            elif key == _CURRENT_RESPONSE:
                found["response"] = vocab.response_from_code(concept)
            elif key == vocab.FINDING and found["site"] == "other":
                # A Finding "Lymph node" (a nodal lesion) sets the site when none is given.
                if vocab.site_from_code(concept) == "lymph node":
                    found["site"] = "lymph node"
        return found

    def _timepoint(self, items: list[Dataset]) -> int | None:
        text = self.text_value(items, _TIME_POINT)
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
            if self.key(item) == _TIME_POINT_TYPE and item.get("ValueType") == "CODE":
                if vocab.code_key(_concept(item)) == _TIME_POINT_BASELINE:
                    return 0
        return None

    def _measurement(self, item: Dataset, where: str) -> None:
        """One NUM: a long or short axis, a radius, or a dimension that is not a diameter."""
        scheme, code = self.key(item)
        measured = item.get("MeasuredValueSequence")
        value = measured[0] if measured else None
        units = value.get("MeasurementUnitsCodeSequence") if value is not None else None
        unit = str(units[0].get("CodeValue", "")) if units else ""
        kind = vocab.measurement_kind(scheme, code, unit)
        if kind is None:
            self._children_geometry(None, item, where)  # mean HU, SUV ...: the ROI is kept
            return
        if kind not in ("long", "short", "radius"):
            if value is not None:
                self.not_diameters.append(f"{_meaning(item)} {value.get('NumericValue', '')} "
                                          f"{unit} is {'an' if kind[0] in 'aeiou' else 'a'} "
                                          f"{kind}")
            self._children_geometry(None, item, where)
            return
        axis = "short" if kind == "short" else "long"
        if kind == "radius" and not self.radius_as_diameter:
            if value is not None:
                self.not_diameters.append(
                    f"{_meaning(item)} {value.get('NumericValue', '')} {unit} is a radius "
                    "(--radius-as-diameter would take twice it as the diameter)")
            self._children_geometry(None, item, where)
            return
        self.attempted.add(axis)
        if axis in self.sizes:
            self.problem(f"a second {axis} axis measurement: only one can count; this one is "
                         "not used", where)
            return
        if value is None:
            self.problem("measurement without a value", where)
            return
        if unit == "1" and self.ohif_tool is not None:
            # dcmjs writes cornerstone tool lengths, which are in mm, with the unit "1": a
            # group that names its cornerstone tool is read in mm, and the reading is noted.
            self.note(f"{where}: unit '1' on an OHIF {self.ohif_tool} length, read as mm "
                      "(cornerstone tools measure in mm)")
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
        if kind == "radius":
            self.note(f"{where}: radius {value.NumericValue} {unit} taken as a diameter of "
                      f"{2 * size_mm:g} mm (--radius-as-diameter)")
            size_mm *= 2.0
        if not math.isfinite(size_mm) or not 0.0 <= size_mm <= MAX_DIAMETER_MM:
            # The same limits as the lesion table: a diameter is finite, not negative and
            # smaller than a body; anything else is refused, never classified.
            self.problem(f"length {value.NumericValue} {unit} is not a lesion diameter (0 to "
                         f"{MAX_DIAMETER_MM:g} mm); the measurement is skipped", where)
            return
        self.sizes[axis] = size_mm
        for child in item.get("ContentSequence", []):
            if (child.get("ValueType") == "CODE"
                    and self.key(child) in vocab.MEASUREMENT_METHOD_NAMES):
                concept = _concept(child)
                known = vocab.METHOD_BY_VALUE.get(vocab.code_key(concept))
                self.method = known.value if known is not None else concept.meaning.lower()
        self._children_geometry(None if kind == "radius" else axis, item, where)

    def _children_geometry(self, axis: str | None, item: Dataset, where: str) -> None:
        """Coordinates under a NUM (TID 300 row 8: INFERRED FROM SCOORD / SCOORD3D)."""
        for child in item.get("ContentSequence", []):
            if child.get("ValueType") in ("SCOORD", "SCOORD3D"):
                self._geometry(axis, child, where)

    def _region_beside(self, item: Dataset, where: str) -> None:
        """A region beside the NUMs: the line of the one axis drawn without one, else a region.

        dwv and highdicom put the ruler or the ROI beside the measurement (notes.md, "SR
        dialects"): a two-point polyline is the line of the group's only length that has none.
        """
        free = [axis for axis in ("long", "short") if axis in self.sizes and axis not in
                self.lines and axis not in self.pending]
        is_line = (str(item.get("GraphicType", "")) == "POLYLINE"
                   and len(item.get("GraphicData", [])) == (4 if item.ValueType == "SCOORD" else 6))
        self._geometry(free[0] if is_line and len(free) == 1 else None, item, where)

    def _geometry(self, axis: str | None, item: Dataset, where: str) -> None:
        """A SCOORD or SCOORD3D: the line of `axis`, or a region of the lesion when None."""
        self.had_geometry = True
        graphic = str(item.get("GraphicType", "")).upper()
        is_line = axis is not None and graphic == "POLYLINE"
        if item.ValueType == "SCOORD3D":
            data = np.asarray(item.get("GraphicData", []), dtype=float)
            if data.size < 3 or data.size % 3 or not np.all(np.isfinite(data)):
                self.problem("3D coordinates are not a list of points: the region cannot be "
                             "placed", where)
                return
            points = data.reshape(-1, 3)
            frame = str(item.get("ReferencedFrameOfReferenceUID", "")) or None
            if is_line and len(points) >= 2:
                self.lines[axis] = AxisGeometry(_as_points(points), None, frame)  # type: ignore[index]
            else:
                self.regions.append(Region(graphic, _as_points(_outline(graphic, points)),
                                           None, frame))
            return
        data = np.asarray(item.get("GraphicData", []), dtype=float)
        refs = [uid for child in item.get("ContentSequence", []) for uid in _image_uids(child)]
        self.result.referenced_sop_uids.update(refs)
        if data.size < 2 or data.size % 2 or not refs or not np.all(np.isfinite(data)):
            self.problem("image coordinates without points or without an image reference: "
                         "the region cannot be placed", where)
            return
        sop_uid = refs[0]
        pixels = data.reshape(-1, 2)
        if self.images is None:
            if is_line:
                self.pending[axis] = (sop_uid, tuple((float(c), float(r)) for c, r in pixels))  # type: ignore[index]
                self.lines[axis] = AxisGeometry((), sop_uid, None)  # type: ignore[index]
            return
        image = self.images.get(sop_uid)
        if image is None:
            kept = "its length is kept" if is_line else "its measurements are kept"
            self.problem(f"the {'line' if is_line else 'region'} is drawn on image {sop_uid}, "
                         f"which is not among the images found; {kept}, its position is not "
                         "known (it cannot be drawn)", where)
            return
        if not has_plane(image):
            self.problem(f"image {sop_uid} has no position, orientation or pixel spacing: the "
                         "position cannot be known (its measurements are kept)", where)
            return
        try:
            outline = pixels if is_line else _outline(graphic, pixels)
            points = plane_to_lps(self.plane(sop_uid, image), outline)
        except (ValueError, TypeError, IndexError, ZeroDivisionError, np.linalg.LinAlgError):
            # The CT header is at fault, not the SR: name the image file.
            ct_file = getattr(image, "filename", None) or sop_uid
            self.problem(f"CT image {ct_file} has an unreadable Image Position/Orientation "
                         "(Patient) or Pixel Spacing: the position cannot be known (its "
                         "measurements are kept)", where)
            return
        frame = str(image.get("FrameOfReferenceUID", "")) or None
        if is_line:
            self.lines[axis] = AxisGeometry(points, sop_uid, frame)  # type: ignore[index]
        else:
            self.regions.append(Region(graphic, points, sop_uid, frame))


# Points along the edge of a circle or an ellipse drawn for display.
_OUTLINE_POINTS = 48


def _outline(graphic: str, points: np.ndarray) -> np.ndarray:
    """The points to draw of a region: circles and ellipses sampled along their edge.

    PS3.3 C.18.6.1.2 (2D) and C.18.9.1.2 (3D): a CIRCLE is its centre then a point on the
    edge; an ELLIPSE is the two ends of its major axis then the two ends of its minor axis.
    A closed POLYGON repeats its first point; other types are their own points.
    """
    if graphic == "CIRCLE" and len(points) == 2:
        centre, edge = points[0], points[1]
        radius = edge - centre
        other = np.array([-radius[1], radius[0]]) if len(radius) == 2 else None
        if other is None:
            return points
        return _ellipse(centre, radius, other)
    if graphic == "ELLIPSE" and len(points) == 4:
        centre = (points[0] + points[1]) / 2.0
        return _ellipse(centre, points[0] - centre, points[2] - centre)
    if graphic == "POLYGON" and len(points) > 2 and not np.allclose(points[0], points[-1]):
        return np.vstack([points, points[:1]])
    return points


def _ellipse(centre: np.ndarray, major: np.ndarray, minor: np.ndarray) -> np.ndarray:
    angles = np.linspace(0.0, 2.0 * np.pi, _OUTLINE_POINTS + 1)
    return centre + np.outer(np.cos(angles), major) + np.outer(np.sin(angles), minor)


def _as_points(points: np.ndarray) -> tuple[tuple[float, float, float], ...]:
    return tuple((float(p[0]), float(p[1]), float(p[2])) for p in points)


def _image_uids(item: Dataset) -> list[str]:
    """SOP Instance UIDs an IMAGE content item references."""
    if item.get("ValueType") != "IMAGE":
        return []
    return [str(ref.ReferencedSOPInstanceUID) for ref in item.get("ReferencedSOPSequence", [])
            if ref.get("ReferencedSOPInstanceUID")]


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


def _parse_date(text: object) -> dt.date | None:
    try:
        return dt.datetime.strptime(str(text or "")[:8], "%Y%m%d").date()
    except ValueError:
        return None

