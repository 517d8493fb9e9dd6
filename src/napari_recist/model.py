"""The patient model: lesions, their measurements, assessments and the patient record.

Plain dataclasses and enums in physical units (millimetres, patient LPS coordinates).
No I/O, no napari, no DICOM: every other layer converts to and from these types.

This module is compiled with the engine (setup.py): the fields are checked against their
declared types when an object is made, so a record holds Python values throughout. A
``numpy.float64`` is a ``float`` and is taken; an ``np.int64`` time point, an ``np.bool_``
flag, an ``np.float32`` size, a tuple of assessments or a read-only mapping of measurements
is refused with a ``TypeError`` (give ``int(...)``, ``bool(...)``, ``float(...)``, a list, a
dict). Interpreted (``NAPARI_RECIST_PURE=1``) nothing is checked.
"""

from __future__ import annotations

import datetime as dt
import functools
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Final

from napari_recist.frozen import RebuiltByConstructor
from napari_recist.vocabulary import TextEnum

# The sites named by shared/spec/lesion-table.md; a free-text site is accepted and kept.
KNOWN_SITES: Final[tuple[str, ...]] = (
    "lung",
    "liver",
    "lymph node",
    "adrenal",
    "bone",
    "brain",
    "pleura",
    "peritoneum",
    "kidney",
    "spleen",
    "skin",
    "soft tissue",
    "other",
)


# No lesion diameter on a CT exceeds the body: a larger number is a unit or typing error (an
# area, micrometres), refused where it enters (table, SR) rather than classified.
MAX_DIAMETER_MM: Final = 1000.0


class Role(TextEnum):
    """How a lesion is followed: RECIST 1.1 target, non-target, or a new lesion."""

    TARGET = "target"
    NON_TARGET = "non-target"
    NEW = "new"


class LesionState(TextEnum):
    """What was seen of a lesion at one assessment (shared/spec/lesion-table.md)."""

    MEASURED = "measured"
    TOO_SMALL = "too-small"
    ABSENT = "absent"
    PRESENT = "present"
    PROGRESSION = "progression"
    INCREASE = "increase"
    EQUIVOCAL = "equivocal"
    NOT_EVALUATED = "not-evaluated"


Point3D = tuple[float, float, float]


@dataclass(frozen=True, slots=True)
class Lesion(RebuiltByConstructor):
    """A lesion followed over time.

    Parameters
    ----------
    lesion_id
        Stable identifier across assessments (the SR tracking identifier).
    role
        Target, non-target or new.
    site
        Organ, one of `KNOWN_SITES` or free text.
    nodal
        True for a lymph node: RECIST 1.1 measures it by its short axis.
    thoracic
        Overrides the built-in thoracic/extrathoracic grouping of the site when not None.
    tracking_uid
        DICOM Tracking Unique Identifier, when the lesion came from (or went to) an SR.
    part_of
        For a fragment: the lesion it split from (shared/spec/lesion-table.md `part_of`,
        RECIST 1.1 section 4.3.4; amended 2026-12).
    """

    lesion_id: str
    role: Role
    site: str
    nodal: bool = False
    thoracic: bool | None = None
    tracking_uid: str | None = None
    part_of: str | None = None

    # Written out for mypyc to compile (tests/test_native_constructors.py says why).
    def __init__(
        self,
        lesion_id: str,
        role: Role,
        site: str,
        nodal: bool = False,
        thoracic: bool | None = None,
        tracking_uid: str | None = None,
        part_of: str | None = None,
    ) -> None:
        object.__setattr__(self, "lesion_id", lesion_id)
        object.__setattr__(self, "role", role)
        object.__setattr__(self, "site", site)
        object.__setattr__(self, "nodal", nodal)
        object.__setattr__(self, "thoracic", thoracic)
        object.__setattr__(self, "tracking_uid", tracking_uid)
        object.__setattr__(self, "part_of", part_of)


@dataclass(frozen=True, slots=True)
class AxisGeometry(RebuiltByConstructor):
    """Where an axis was drawn: its end points in patient coordinates (LPS, mm).

    Parameters
    ----------
    points
        Two or more points of the polyline, in mm, patient LPS.
    referenced_sop_uid
        SOP Instance UID of the image the line was drawn on, if known.
    frame_of_reference_uid
        Frame of reference of the points, if known.
    """

    points: tuple[Point3D, ...]
    referenced_sop_uid: str | None = None
    frame_of_reference_uid: str | None = None

    # Written out for mypyc to compile (tests/test_native_constructors.py says why).
    def __init__(
        self,
        points: tuple[Point3D, ...],
        referenced_sop_uid: str | None = None,
        frame_of_reference_uid: str | None = None,
    ) -> None:
        object.__setattr__(self, "points", points)
        object.__setattr__(self, "referenced_sop_uid", referenced_sop_uid)
        object.__setattr__(self, "frame_of_reference_uid", frame_of_reference_uid)


@dataclass(frozen=True, slots=True)
class Region(RebuiltByConstructor):
    """An image region an SR gives for a lesion (TID 1410/1411/1501): an outline, not an axis.

    Parameters
    ----------
    graphic_type
        DICOM Graphic Type as written (``CIRCLE``, ``ELLIPSE``, ``POLYGON``, ``POLYLINE``,
        ``POINT``, ``MULTIPOINT``, ``ELLIPSOID``).
    points
        The outline (circles and ellipses sampled along their edge) or the points, in mm,
        patient LPS.
    referenced_sop_uid
        SOP Instance UID of the image the region was drawn on, if known.
    frame_of_reference_uid
        Frame of reference of the points, if known.
    """

    graphic_type: str
    points: tuple[Point3D, ...]
    referenced_sop_uid: str | None = None
    frame_of_reference_uid: str | None = None

    # Written out for mypyc to compile (tests/test_native_constructors.py says why).
    def __init__(
        self,
        graphic_type: str,
        points: tuple[Point3D, ...],
        referenced_sop_uid: str | None = None,
        frame_of_reference_uid: str | None = None,
    ) -> None:
        object.__setattr__(self, "graphic_type", graphic_type)
        object.__setattr__(self, "points", points)
        object.__setattr__(self, "referenced_sop_uid", referenced_sop_uid)
        object.__setattr__(self, "frame_of_reference_uid", frame_of_reference_uid)


@dataclass(frozen=True, slots=True)
class Measurement(RebuiltByConstructor):
    """One lesion at one assessment: its sizes or, when not measured, its state.

    Parameters
    ----------
    lesion_id
        The lesion measured.
    state
        `LesionState.MEASURED` when sizes are given, otherwise what was seen.
    long_axis_mm, short_axis_mm
        Diameters in millimetres, when measured.
    long_axis, short_axis
        Where the axes were drawn, when known (from an SR or the viewer).
    extra
        Columns of the lesion table that the project does not interpret, passed through.
    coalesced_into
        At this assessment the lesion has merged into the mass measured on that lesion's row
        (shared/spec/lesion-table.md `coalesced_into`, RECIST 1.1 section 4.3.4; amended
        2026-12). Such a row has no size, counts 0 mm and its state is `absent` in the model
        (the table and the SR write no state for it).
    regions
        Image regions an SR drew for the lesion besides its axes (circles, ellipses,
        outlines, points), for display; they carry no size.
    """

    lesion_id: str
    state: LesionState
    long_axis_mm: float | None = None
    short_axis_mm: float | None = None
    long_axis: AxisGeometry | None = None
    short_axis: AxisGeometry | None = None
    extra: Mapping[str, str] = field(default_factory=dict)
    coalesced_into: str | None = None
    regions: tuple[Region, ...] = ()

    # Written out for mypyc to compile (tests/test_native_constructors.py says why).
    def __init__(
        self,
        lesion_id: str,
        state: LesionState,
        long_axis_mm: float | None = None,
        short_axis_mm: float | None = None,
        long_axis: AxisGeometry | None = None,
        short_axis: AxisGeometry | None = None,
        extra: Mapping[str, str] | None = None,
        coalesced_into: str | None = None,
        regions: tuple[Region, ...] = (),
    ) -> None:
        object.__setattr__(self, "lesion_id", lesion_id)
        object.__setattr__(self, "state", state)
        object.__setattr__(self, "long_axis_mm", long_axis_mm)
        object.__setattr__(self, "short_axis_mm", short_axis_mm)
        object.__setattr__(self, "long_axis", long_axis)
        object.__setattr__(self, "short_axis", short_axis)
        object.__setattr__(self, "extra", dict() if extra is None else extra)
        object.__setattr__(self, "coalesced_into", coalesced_into)
        object.__setattr__(self, "regions", regions)

    @classmethod
    def coalesced(cls, lesion_id: str, carrier: str, **kwargs: object) -> Measurement:
        """A row of a lesion merged into `carrier`'s mass: no size, counts 0 mm."""
        return cls(lesion_id, LesionState.ABSENT, coalesced_into=carrier, **kwargs)  # type: ignore[arg-type]

    def diameter_mm(self, nodal: bool, too_small_mm: float) -> float | None:
        """Return the RECIST 1.1 diameter of the lesion, or None when it has none.

        Parameters
        ----------
        nodal
            Lymph nodes are measured by their short axis, other lesions by the long axis.
        too_small_mm
            The size a lesion `too-small` to measure counts for.

        Returns
        -------
        float or None
            Millimetres; 0 for an absent lesion; None when no size applies.
        """
        if self.state is LesionState.MEASURED:
            return self.short_axis_mm if nodal else self.long_axis_mm
        if self.state is LesionState.TOO_SMALL:
            return too_small_mm  # RECIST 1.1 section 4.3.4 / appendix: default 5 mm
        if self.state is LesionState.ABSENT:
            return 0.0
        return None


@dataclass
class Assessment(RebuiltByConstructor):
    """One scan date: the measurements of every lesion assessed on it.

    Parameters
    ----------
    timepoint
        0 = baseline, 1.. = follow-ups in order, negative = pre-baseline scans.
    date
        Date of the scan.
    measurements
        Measurements by lesion id.
    """

    timepoint: int
    date: dt.date
    measurements: dict[str, Measurement] = field(default_factory=dict)

    # Written out for mypyc to compile (tests/test_native_constructors.py says why).
    def __init__(
        self,
        timepoint: int,
        date: dt.date,
        measurements: dict[str, Measurement] | None = None,
    ) -> None:
        self.timepoint = timepoint
        self.date = date
        self.measurements = dict() if measurements is None else measurements

    @property
    def label(self) -> str:
        """Short name of the time point, e.g. ``TP2``, ``baseline``, ``pre-baseline``."""
        if self.timepoint == 0:
            return "baseline"
        if self.timepoint < 0:
            return f"pre-baseline {-self.timepoint}"
        return f"TP{self.timepoint}"


@dataclass
class PatientRecord:
    """A patient's lesions and assessments, the single source of truth.

    Parameters
    ----------
    patient_id
        Any string.
    lesions
        Lesions by id.
    assessments
        Assessments, kept sorted by time point.
    treatment_start
        Date of the first dose, when known: the time origin of the SD window, the SITC cut
        and PFS (shared/spec/criteria.md, amended 2026-12).
    """

    patient_id: str
    lesions: dict[str, Lesion] = field(default_factory=dict)
    assessments: list[Assessment] = field(default_factory=list)
    treatment_start: dt.date | None = None

    def __post_init__(self) -> None:
        self.assessments.sort(key=lambda a: a.timepoint)

    @property
    def baseline(self) -> Assessment | None:
        """The baseline assessment (time point 0), if there is one."""
        for assessment in self.assessments:
            if assessment.timepoint == 0:
                return assessment
        return None

    @property
    def follow_ups(self) -> list[Assessment]:
        """Assessments after baseline, in order."""
        return [a for a in self.assessments if a.timepoint > 0]

    @property
    def pre_baseline(self) -> list[Assessment]:
        """Assessments before baseline (for growth kinetics), in order."""
        return [a for a in self.assessments if a.timepoint < 0]

    def assessment(self, timepoint: int) -> Assessment | None:
        """Return the assessment at a time point, or None."""
        for assessment in self.assessments:
            if assessment.timepoint == timepoint:
                return assessment
        return None

    def lesions_with_role(self, role: Role) -> list[Lesion]:
        """Return the lesions of one role, in a stable order (by id)."""
        return sorted(
            (lesion for lesion in self.lesions.values() if lesion.role is role),
            key=lambda lesion: natural_key(lesion.lesion_id),
        )

    def first_seen(self, lesion_id: str) -> Assessment | None:
        """Return the first assessment that has any row for a lesion."""
        for assessment in self.assessments:
            if lesion_id in assessment.measurements:
                return assessment
        return None


@functools.lru_cache(maxsize=65536)
def natural_key(text: str) -> tuple[object, ...]:
    """Sort key that orders ``L2`` before ``L10`` (cached: lesion ids repeat in every patient).

    Parameters
    ----------
    text
        Any identifier.

    Returns
    -------
    tuple
        Alternating text and integer parts, comparable between identifiers.
    """
    parts: list[object] = []
    number = ""
    word = ""
    for char in text:
        if char.isdigit():
            if word:
                parts.append((1, word))
                word = ""
            number += char
        else:
            if number:
                parts.append((0, int(number)))
                number = ""
            word += char
    if number:
        parts.append((0, int(number)))
    if word:
        parts.append((1, word))
    return tuple(parts)


def build_record(
    patient_id: str,
    lesions: Iterable[Lesion],
    assessments: Iterable[Assessment],
    treatment_start: dt.date | None = None,
) -> PatientRecord:
    """Assemble a patient record from lesions and assessments.

    Parameters
    ----------
    patient_id
        The patient.
    lesions
        Every lesion of the patient.
    assessments
        Every assessment of the patient, in any order.
    treatment_start
        Date of the first dose, if known.

    Returns
    -------
    PatientRecord
        With lesions keyed by id and assessments sorted by time point.
    """
    return PatientRecord(
        patient_id=patient_id,
        lesions={lesion.lesion_id: lesion for lesion in lesions},
        assessments=sorted(assessments, key=lambda a: a.timepoint),
        treatment_start=treatment_start,
    )


class MeasurementMethod(TextEnum):
    """How a measurement was made; kept in the lesion table's ``method`` column and the SR.

    A semi-automatic proposal (`SEMI_AUTOMATIC`) is a draft until a reader accepts or
    adjusts it (`SEMI_AUTOMATIC_ADJUSTED`); `MANUAL` lines were drawn by the reader.
    """

    MANUAL = "manual"
    SEMI_AUTOMATIC = "semi-automatic"
    SEMI_AUTOMATIC_ADJUSTED = "semi-automatic, adjusted by reader"
