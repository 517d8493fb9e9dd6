"""The local cache of retrieved instances: ROOT/patient/study/series/instance.dcm.

Each instance is written atomically (`napari_recist.io.atomic`), so a file present is a whole
file and a retrieve that is interrupted or run again only fetches what is missing. The
layout is a patient folder of any nesting, which the patient reader opens as it is.
"""

from __future__ import annotations

import hashlib
import re
from io import BytesIO
from pathlib import Path

from napari_recist.errors import Problem
from napari_recist.io.atomic import atomic_write_bytes
from napari_recist.io.pacs.common import InstanceRef

# PS3.5 9.1: a UID is dot-separated numeric components, at most 64 characters.
_UID = re.compile(r"^(0|[1-9][0-9]*)(\.(0|[1-9][0-9]*))*$")
_UNSAFE = re.compile(r"[^A-Za-z0-9._-]+")


def valid_uid(uid: str) -> bool:
    """Whether `uid` is a well-formed DICOM UID (safe as a file name)."""
    return len(uid) <= 64 and bool(_UID.match(uid))


def patient_folder_name(patient_id: str) -> str:
    """A folder name for a patient ID: the ID itself when it is safe, else a safe form.

    A changed ID gets a short hash of the original, so two IDs never share a folder.
    """
    safe = _UNSAFE.sub("_", patient_id).strip("._")
    if safe == patient_id:
        return safe
    digest = hashlib.sha1(patient_id.encode("utf-8")).hexdigest()[:8]
    return f"{safe or 'patient'}_{digest}"


def default_cache_root(server_name: str) -> Path:
    """The user cache folder (platformdirs) for the patients of one saved server."""
    import platformdirs

    base = platformdirs.user_cache_path("napari-recist") / "pacs"
    return base / patient_folder_name(server_name)


IDENTITY_TAGS = ["PatientID", "StudyInstanceUID", "SeriesInstanceUID", "SOPInstanceUID",
                 "SOPClassUID"]


def read_identity(data: bytes) -> tuple[InstanceRef, str]:
    """The UIDs and Patient ID of a DICOM file's bytes (header only, pixels not parsed).

    Raises
    ------
    Exception
        Whatever pydicom raises on bytes that are not DICOM.
    """
    import pydicom

    header = pydicom.dcmread(BytesIO(data), stop_before_pixels=True, specific_tags=IDENTITY_TAGS,
                             force=True)
    ref = InstanceRef(
        str(header.get("StudyInstanceUID", "")),
        str(header.get("SeriesInstanceUID", "")),
        str(header.get("SOPInstanceUID", "")),
        str(header.get("SOPClassUID", "")),
    )
    return ref, str(header.get("PatientID", ""))


class PatientCache:
    """The cache folder of one patient.

    Parameters
    ----------
    root
        The cache root (``pacs get --out``, or the user cache folder).
    patient_id
        The patient every written instance must belong to.
    """

    def __init__(self, root: Path, patient_id: str) -> None:
        self.root = Path(root)
        self.patient_id = patient_id
        self.folder = self.root / patient_folder_name(patient_id)

    def path_of(self, ref: InstanceRef) -> Path:
        """Where an instance lives in the cache."""
        return (
            self.folder / ref.study_instance_uid / ref.series_instance_uid
            / f"{ref.sop_instance_uid}.dcm"
        )

    def has(self, ref: InstanceRef) -> bool:
        """Whether the instance is already cached (atomic writes: present means complete)."""
        path = self.path_of(ref)
        return path.is_file() and path.stat().st_size > 0

    def check(self, ref: InstanceRef, patient_id: str, source: str) -> Problem | None:
        """Why an instance cannot be written to this cache, or None.

        Parameters
        ----------
        ref
            The instance's UIDs as read from the instance itself.
        patient_id
            Its Patient ID.
        source
            Who sent it (for the message).
        """
        for tag, uid in (
            ("StudyInstanceUID", ref.study_instance_uid),
            ("SeriesInstanceUID", ref.series_instance_uid),
            ("SOPInstanceUID", ref.sop_instance_uid),
        ):
            if not valid_uid(uid):
                return Problem(source, f"instance with a malformed UID {uid!r}: not written",
                               column=tag)
        if patient_id != self.patient_id:
            return Problem(
                source,
                f"instance {ref.sop_instance_uid} belongs to patient {patient_id!r}, not "
                f"{self.patient_id!r}: not written",
                column="PatientID",
            )
        return None

    def write(self, ref: InstanceRef, data: bytes) -> Path:
        """Write one instance (DICOM file bytes) atomically; return its path."""
        path = self.path_of(ref)
        path.parent.mkdir(parents=True, exist_ok=True)
        atomic_write_bytes(path, data)
        return path
