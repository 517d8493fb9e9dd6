"""PACS: find, retrieve and store over DICOMweb (dicomweb-client) or DIMSE (pynetdicom).

`PacsClient` is the one interface; `resolve_server` turns a saved name or a URL into a
`Server`; retrieved instances land in a per-patient cache (`PatientCache`) that the patient
reader opens as it is.
"""

from napari_recist.io.pacs.cache import PatientCache, default_cache_root, patient_folder_name
from napari_recist.io.pacs.client import PacsClient, RetrieveResult, dicom_files
from napari_recist.io.pacs.common import Cancelled, CancelToken, InstanceRef, StudyInfo
from napari_recist.io.pacs.servers import (
    Server,
    parse_server_url,
    resolve_server,
    saved_servers,
    servers_file,
)

__all__ = [
    "CancelToken",
    "Cancelled",
    "InstanceRef",
    "PacsClient",
    "PatientCache",
    "RetrieveResult",
    "Server",
    "StudyInfo",
    "default_cache_root",
    "dicom_files",
    "parse_server_url",
    "patient_folder_name",
    "resolve_server",
    "saved_servers",
    "servers_file",
]
