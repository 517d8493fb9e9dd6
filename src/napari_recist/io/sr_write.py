"""Write one TID 1500 Comprehensive 3D SR per time point with highdicom.

Each lesion assessed at the time point becomes one TID 1501 measurement group holding its
tracking identifier (lesion id + tracking UID, stable across time points), finding site,
time point context (TID 1502), long/short axis lengths with the lines they were measured on
(SCOORD on the CT image when the line lies on one, else SCOORD3D), and qualitative
evaluations for role, state, nodal flag, thoracic override and, when given, the response.
`napari_recist.io.sr_read.read_sr` reads it back to the same lesion-table rows, and OHIF's
reader (dcmjs) recognises the measured lesions as Bidirectional / Length annotations.
"""

from __future__ import annotations

import datetime as dt
import os
from collections.abc import Mapping, Sequence
from pathlib import Path

import highdicom as hd
import numpy as np
import pydicom
from pydicom.dataset import Dataset
from pydicom.sr.codedict import codes
from pydicom.uid import generate_uid

from napari_recist import __version__
from napari_recist.errors import InputError, Problem
from napari_recist.io import sr_codes as vocab
from napari_recist.io.atomic import atomic_open
from napari_recist.io.sr_geometry import lps_to_pixel
from napari_recist.model import (
    Assessment,
    AxisGeometry,
    Lesion,
    LesionState,
    Measurement,
    MeasurementMethod,
    PatientRecord,
    natural_key,
)


def tracking_uid(patient_id: str, lesion: Lesion) -> str:
    """Return the lesion's Tracking Unique Identifier, the same at every time point.

    Parameters
    ----------
    patient_id
        The patient the lesion belongs to.
    lesion
        The lesion; its own `tracking_uid` wins when it has one (it came from an SR).

    Returns
    -------
    str
        A UID derived from patient and lesion id when the lesion has none.
    """
    if lesion.tracking_uid:
        return lesion.tracking_uid
    return str(generate_uid(entropy_srcs=["napari-recist", patient_id, lesion.lesion_id]))


def write_timepoint_sr(
    record: PatientRecord,
    timepoint: int,
    images: Sequence[Dataset | str | os.PathLike[str]],
    path: str | os.PathLike[str],
    *,
    responses: Mapping[str, str] | None = None,
    series_number: int = 900,
    series_description: str = "RECIST measurements",
    series_instance_uid: str | None = None,
    sop_instance_uid: str | None = None,
    content_datetime: dt.datetime | None = None,
) -> Path:
    """Write the lesions of one time point as a TID 1500 Comprehensive 3D SR.

    Parameters
    ----------
    record
        The patient; its lesions give role, site and flags.
    timepoint
        Which assessment of `record` to write.
    images
        The CT images (datasets or file paths; headers suffice) the lesions were measured
        on. They are the SR's evidence: the SR joins their patient and study. An SR needs
        them: for table-only data without images the write is refused (`InputError`), since
        an SR that references no images belongs to no study and no viewer can show it.
    path
        Output file; written atomically (temporary file in the same folder, then rename).
    responses
        Optional per-lesion response strings (``CR``, ``PR``, ``NEW``, ``iUPD`` ...).
    series_number, series_description
        Of the new SR series.
    series_instance_uid, sop_instance_uid
        UIDs of the SR; new ones when None. Fixed ones make a file reproducible.
    content_datetime
        Content (and instance creation) date and time; now when None.

    Returns
    -------
    Path
        The file written.

    Raises
    ------
    InputError
        No such time point, no images, images of another patient or date.
    """
    out = Path(path)
    assessment = record.assessment(timepoint)
    if assessment is None:
        raise InputError([Problem(str(out), f"patient {record.patient_id} has no time point "
                                  f"{timepoint}")])
    evidence = _load_evidence(images, out, record, assessment)
    library = {str(ds.SOPInstanceUID): ds for ds in evidence}
    groups = []
    referenced: dict[str, Dataset] = {}
    for lesion_id in sorted(assessment.measurements, key=natural_key):
        lesion = record.lesions.get(lesion_id)
        if lesion is None:
            raise InputError([Problem(str(out), f"lesion {lesion_id} has a measurement at "
                                      f"{assessment.label} but is not a lesion of the patient")])
        response = (responses or {}).get(lesion_id)
        groups.append(_lesion_group(record.patient_id, lesion, assessment,
                                    assessment.measurements[lesion_id], response,
                                    library, referenced))
    observer = hd.sr.ObserverContext(
        observer_type=codes.DCM.Device,
        observer_identifying_attributes=hd.sr.DeviceObserverIdentifyingAttributes(
            uid=generate_uid(entropy_srcs=["napari-recist device"]),
            name="napari-recist", manufacturer_name="napari-recist",
            model_name=__version__,
        ),
    )
    report = hd.sr.MeasurementReport(
        observation_context=hd.sr.ObservationContext(observer_device_context=observer),
        procedure_reported=codes.LN.CTUnspecifiedBodyRegion,
        imaging_measurements=groups,
        referenced_images=list(referenced.values()) or None,
    )
    sr = hd.sr.Comprehensive3DSR(
        evidence=evidence,
        content=report[0],
        series_instance_uid=series_instance_uid or generate_uid(),
        series_number=series_number,
        sop_instance_uid=sop_instance_uid or generate_uid(),
        instance_number=1,
        manufacturer="napari-recist",
        series_description=series_description,
        is_complete=True,
    )
    _declare_private_scheme(sr)
    if content_datetime is not None:
        date, time = content_datetime.strftime("%Y%m%d"), content_datetime.strftime("%H%M%S")
        sr.ContentDate, sr.ContentTime = date, time
        if "InstanceCreationDate" in sr:
            sr.InstanceCreationDate, sr.InstanceCreationTime = date, time
        for equipment in sr.get("ContributingEquipmentSequence", []):
            if "ContributionDateTime" in equipment:  # highdicom stamps itself with "now"
                equipment.ContributionDateTime = date + time
    _save_atomic(sr, out)
    return out


def _declare_private_scheme(sr: Dataset) -> None:
    """Name the private coding scheme in the Coding Scheme Identification Sequence.

    PS3.3 C.12.1.1.2 (SOP Common Module, Coding Scheme Identification Sequence): a coding
    scheme designator that is not one of PS3.16 section 8 shall be identified there; PS3.16
    section 8: a private designator begins with "99". Without it dciodvfy warns on every
    code of `napari_recist.io.sr_codes.PRIVATE_SCHEME`.
    """
    schemes = list(sr.get("CodingSchemeIdentificationSequence", []))
    if any(item.get("CodingSchemeDesignator") == vocab.PRIVATE_SCHEME for item in schemes):
        return
    item = Dataset()
    item.CodingSchemeDesignator = vocab.PRIVATE_SCHEME
    item.CodingSchemeName = "napari-recist RECIST lesion codes"
    item.CodingSchemeVersion = __version__[:16]
    item.CodingSchemeResponsibleOrganization = "napari-recist project"
    schemes.append(item)
    sr.CodingSchemeIdentificationSequence = schemes


def _load_evidence(
    images: Sequence[Dataset | str | os.PathLike[str]],
    out: Path,
    record: PatientRecord,
    assessment: Assessment,
) -> list[Dataset]:
    """Read the image headers and check they are of this patient and this date."""
    if not images:
        raise InputError([Problem(str(out), (
            f"patient {record.patient_id} {assessment.label} ({assessment.date}) has no CT "
            "images: a measurement SR must reference the images it was measured on; put the "
            "CT series of that date in the patient folder (the lesion table keeps table-only "
            "data)"))])
    evidence = [
        image if isinstance(image, Dataset)
        else pydicom.dcmread(image, stop_before_pixels=True)
        for image in images
    ]
    problems = []
    patients = sorted({str(ds.get("PatientID", "")) for ds in evidence})
    if patients != [record.patient_id]:
        problems.append(Problem(str(out), f"the images belong to patient(s) "
                                f"{', '.join(patients)}, not to {record.patient_id}"))
    dates = sorted({str(ds.get("StudyDate", "")) for ds in evidence})
    wanted = assessment.date.strftime("%Y%m%d")
    if dates != [wanted]:
        problems.append(Problem(str(out), f"{assessment.label} is dated {assessment.date} but "
                                f"the images have study date(s) {', '.join(dates)}"))
    if problems:
        raise InputError(problems)
    return evidence


def _lesion_group(
    patient_id: str,
    lesion: Lesion,
    assessment: Assessment,
    measurement: Measurement,
    response: str | None,
    library: Mapping[str, Dataset],
    referenced: dict[str, Dataset],
) -> hd.sr.MeasurementsAndQualitativeEvaluations:
    """Build the TID 1501 group of one lesion at one time point."""
    axes = []
    coordinates: dict[str, object] = {}
    method = _method_code(measurement)
    for key, name, length, geometry in (
        ("long", vocab.LONG_AXIS, measurement.long_axis_mm, measurement.long_axis),
        ("short", vocab.SHORT_AXIS, measurement.short_axis_mm, measurement.short_axis),
    ):
        if length is None:
            continue
        scoord = _coordinates(geometry, library, referenced) if geometry else None
        coordinates[key] = scoord
        axes.append(hd.sr.Measurement(
            name=name, value=float(length), unit=vocab.MILLIMETRE,
            referenced_coordinates=[scoord] if scoord is not None else None,
            method=method,
        ))
    tool = _ohif_tool(coordinates)
    role_name, role_value = vocab.ROLE_CODES[lesion.role]
    evaluations = [hd.sr.QualitativeEvaluation(role_name, role_value)]
    # TID 1501 has no row for these private evaluations (PixelMed lists each as "Content Item
    # not in template", dciodvfy each private code): they are written only where they say
    # more than what `sr_read` assumes without them, i.e. a state other than "measured" for
    # a group with lengths / "present" for one without, and a nodal flag other than "the site
    # is a lymph node".
    default_state = LesionState.MEASURED if axes else LesionState.PRESENT
    if measurement.coalesced_into is None and measurement.state is not default_state:
        # (a coalesced row has no state: lesion-table.md, amended 2026-12)
        evaluations.append(hd.sr.QualitativeEvaluation(
            vocab.LESION_STATE, vocab.STATE_CODES[measurement.state]))
    if lesion.nodal != (lesion.site.strip().lower() == "lymph node"):
        evaluations.append(
            hd.sr.QualitativeEvaluation(vocab.NODAL, vocab.YES if lesion.nodal else vocab.NO))
    if lesion.thoracic is not None:
        evaluations.append(hd.sr.QualitativeEvaluation(
            vocab.THORACIC, vocab.YES if lesion.thoracic else vocab.NO))
    if response:
        evaluations.append(hd.sr.QualitativeEvaluation(
            vocab.CURRENT_RESPONSE, vocab.response_code(response, lesion.role)))
    group = hd.sr.MeasurementsAndQualitativeEvaluations(
        tracking_identifier=hd.sr.TrackingIdentifier(
            uid=tracking_uid(patient_id, lesion),
            identifier=vocab.tool_tracking_identifier(tool, lesion.lesion_id),
        ),
        # Time Point Order (a NUM) is left out on purpose: dcmjs takes the first NUM of a
        # Length group as the length.
        time_point_context=hd.sr.TimePointContext(
            time_point=assessment.label, time_point_type=_time_point_type(assessment.timepoint)
        ),
        finding_type=vocab.FINDING_LESION,
        finding_sites=[hd.sr.FindingSite(vocab.site_code(lesion.site))],
        measurements=axes or None,
        qualitative_evaluations=evaluations,
    )
    _append_links(group, lesion, measurement)
    return group


def _append_links(
    group: hd.sr.MeasurementsAndQualitativeEvaluations, lesion: Lesion, measurement: Measurement
) -> None:
    """Add the split / coalesced links as private TEXT items (lesion-table.md, amended 2026-12).

    highdicom's QualitativeEvaluation takes CODE values only, so the TEXT items are appended
    to the group's content: (LESION-PART-OF, 99NAPARIRECIST) in each group of a fragment,
    (LESION-COALESCED, 99NAPARIRECIST) in the group of a coalesced lesion; the value is the
    parent's or the carrier's Tracking Identifier (its lesion id).
    """
    for concept, value in (
        (vocab.LESION_PART_OF, lesion.part_of),
        (vocab.LESION_COALESCED, measurement.coalesced_into),
    ):
        if value:
            group[0].ContentSequence.append(hd.sr.TextContentItem(
                name=concept, value=value,
                relationship_type=hd.sr.RelationshipTypeValues.CONTAINS,
            ))


def _method_code(measurement: Measurement) -> hd.sr.CodedConcept | None:
    """The coded measurement method of the table's ``method`` column, if it is one we know."""
    text = measurement.extra.get("method", "").strip().lower()
    try:
        return vocab.METHOD_CODES[MeasurementMethod(text)]
    except ValueError:
        return None  # no or another method: it stays in the lesion table only


def _ohif_tool(coordinates: Mapping[str, object]) -> str | None:
    """Return the OHIF tool that can show the lines, or None (dcmjs then skips the group)."""
    long_2d = isinstance(coordinates.get("long"), hd.sr.CoordinatesForMeasurement)
    short_2d = isinstance(coordinates.get("short"), hd.sr.CoordinatesForMeasurement)
    if long_2d and short_2d:
        return vocab.TOOL_BIDIRECTIONAL
    if long_2d and coordinates.get("short") is None:
        return vocab.TOOL_LENGTH
    return None


def _time_point_type(timepoint: int) -> hd.sr.CodedConcept:
    """CID 6146 time point type of a time point number."""
    if timepoint == 0:
        return vocab.TIME_POINT_BASELINE
    return vocab.TIME_POINT_PRETREATMENT if timepoint < 0 else vocab.TIME_POINT_POSTTREATMENT


def _coordinates(
    geometry: AxisGeometry,
    library: Mapping[str, Dataset],
    referenced: dict[str, Dataset],
) -> hd.sr.CoordinatesForMeasurement | hd.sr.CoordinatesForMeasurement3D | None:
    """SCOORD on the image the line lies on, else SCOORD3D in the frame of reference."""
    if not geometry.points:
        return None
    points = np.asarray(geometry.points, dtype=float)
    candidates = [library[geometry.referenced_sop_uid]] if (
        geometry.referenced_sop_uid in library) else list(library.values())
    for image in candidates:
        pixels = lps_to_pixel(image, points)
        if pixels is not None:
            referenced[str(image.SOPInstanceUID)] = image
            return hd.sr.CoordinatesForMeasurement(
                graphic_type=hd.sr.GraphicTypeValues.POLYLINE,
                graphic_data=pixels,
                source_image=hd.sr.SourceImageForRegion(
                    referenced_sop_class_uid=image.SOPClassUID,
                    referenced_sop_instance_uid=image.SOPInstanceUID,
                ),
            )
    frame = geometry.frame_of_reference_uid or next(
        (str(ds.FrameOfReferenceUID) for ds in library.values() if "FrameOfReferenceUID" in ds),
        None,
    )
    if frame is None:
        return None
    return hd.sr.CoordinatesForMeasurement3D(
        graphic_type=hd.sr.GraphicTypeValues3D.POLYLINE,
        graphic_data=points,
        frame_of_reference_uid=frame,
    )


def _save_atomic(dataset: Dataset, out: Path) -> None:
    """Write a DICOM file through a temporary file in the same folder, then rename."""
    out.parent.mkdir(parents=True, exist_ok=True)
    with atomic_open(out, "wb") as handle:
        dataset.save_as(handle, enforce_file_format=True)
