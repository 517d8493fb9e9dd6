"""What both transports share: study and instance descriptions, progress and cancelling."""

from __future__ import annotations

import datetime as dt
import threading
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

# progress(done, total): called after every instance written (from any thread).
ProgressCallback = Callable[[int, int], None]


class Cancelled(Exception):  # noqa: N818 (a user action, not an error)
    """The user cancelled a retrieve or a store; what was written before stays valid."""


class CancelToken:
    """A flag a retrieve checks between instances; set it from any thread to stop."""

    def __init__(self) -> None:
        self._event = threading.Event()

    def cancel(self) -> None:
        """Ask the running operation to stop."""
        self._event.set()

    @property
    def cancelled(self) -> bool:
        """Whether `cancel` was called."""
        return self._event.is_set()

    def check(self) -> None:
        """Raise `Cancelled` when cancelled."""
        if self._event.is_set():
            raise Cancelled()


@dataclass(frozen=True)
class StudyInfo:
    """One study as the server describes it (study-level search result).

    Parameters
    ----------
    study_instance_uid
        Study Instance UID (0020,000D).
    study_date
        Study Date (0008,0020), None when absent or unreadable.
    description
        Study Description (0008,1030).
    modalities
        Modalities in Study (0008,0061), sorted.
    series_count
        Number of Study Related Series (0020,1206), None when the server does not say.
    patient_id
        Patient ID (0010,0020).
    """

    study_instance_uid: str
    study_date: dt.date | None
    description: str
    modalities: tuple[str, ...]
    series_count: int | None
    patient_id: str

    @property
    def has_sr(self) -> bool:
        """Whether the study holds a structured report (modality SR)."""
        return "SR" in self.modalities

    def to_json(self) -> dict[str, Any]:
        """The `pacs find --json` object of this study."""
        return {
            "study_instance_uid": self.study_instance_uid,
            "study_date": self.study_date.isoformat() if self.study_date else None,
            "description": self.description,
            "modalities": list(self.modalities),
            "series_count": self.series_count,
            "has_sr": self.has_sr,
        }


@dataclass(frozen=True)
class InstanceRef:
    """One instance the server holds (instance-level search result)."""

    study_instance_uid: str
    series_instance_uid: str
    sop_instance_uid: str
    sop_class_uid: str


def parse_date(text: str | None) -> dt.date | None:
    """A DICOM DA value (YYYYMMDD) as a date, None when absent or unreadable."""
    if not text:
        return None
    try:
        return dt.datetime.strptime(str(text).strip()[:8], "%Y%m%d").date()
    except ValueError:
        return None


def date_range(date_from: dt.date | None, date_to: dt.date | None) -> str | None:
    """A DICOM date range matching value (PS3.4 C.2.2.2.5), None for no restriction."""
    if date_from is None and date_to is None:
        return None
    start = date_from.strftime("%Y%m%d") if date_from else ""
    end = date_to.strftime("%Y%m%d") if date_to else ""
    return start if start == end else f"{start}-{end}"


def split_modalities(value: object) -> tuple[str, ...]:
    """Modalities in Study as a sorted tuple, from a multi-valued element or a string."""
    if value is None or value == "":
        return ()
    if isinstance(value, str):
        items = value.split("\\")
    else:
        items = [str(v) for v in value]  # type: ignore[attr-defined]
    return tuple(sorted({item.strip() for item in items if item.strip()}))
