"""A real Orthanc (Debian `orthanc` + `orthanc-dicomweb`) on free loopback ports, for tests.

Used by the PACS tests' session fixture and by `benchmarks/bench_pacs.py`.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import socket
import subprocess
import time
import urllib.request
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
SAMPLE = ROOT / "sample_dicom"
SAMPLE_PATIENT = "NRS-SAMPLE-001"

DICOMWEB_PLUGIN = Path("/usr/share/orthanc/plugins/libOrthancDicomWeb.so")
AET = "ORTHANC"
# Our AE title, registered as a modality so C-FIND / C-MOVE are allowed.
CLIENT_AET = "RECIST"


def orthanc_missing() -> str | None:
    """Why Orthanc cannot run here, or None."""
    if shutil.which("Orthanc") is None:
        return "Orthanc is not installed (Debian package orthanc)"
    if not DICOMWEB_PLUGIN.exists():
        return "the Orthanc DICOMweb plugin is not installed (Debian package orthanc-dicomweb)"
    return None


def free_port() -> int:
    """A TCP port free on 127.0.0.1 right now."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@dataclass
class Orthanc:
    """A running Orthanc."""

    folder: Path
    http_port: int
    dicom_port: int
    move_port: int
    process: subprocess.Popen

    @property
    def dicomweb_url(self) -> str:
        """The DICOMweb root."""
        return f"http://127.0.0.1:{self.http_port}/dicom-web"

    @property
    def dimse_url(self) -> str:
        """The DIMSE URL."""
        return f"dimse://{AET}@127.0.0.1:{self.dicom_port}"

    def rest(self, method: str, path: str, data: bytes | None = None) -> object:
        """Call Orthanc's REST API; return the decoded JSON answer."""
        request = urllib.request.Request(
            f"http://127.0.0.1:{self.http_port}{path}", data=data, method=method
        )
        with urllib.request.urlopen(request, timeout=10) as answer:
            body = answer.read()
        return json.loads(body) if body else None

    def raw(self, path: str) -> bytes:
        """GET a REST resource's bytes."""
        url = f"http://127.0.0.1:{self.http_port}{path}"
        with urllib.request.urlopen(url, timeout=10) as answer:
            return answer.read()

    def upload(self, folder: Path) -> int:
        """Upload every DICOM file of a folder through the REST API (not our code)."""
        count = 0
        for path in sorted(folder.rglob("*.dcm")):
            self.rest("POST", "/instances", path.read_bytes())
            count += 1
        return count

    def delete_patient(self, patient_id: str) -> None:
        """Remove a patient (by DICOM Patient ID) if present."""
        found = self.rest("POST", "/tools/lookup", patient_id.encode())
        for item in found or []:  # type: ignore[union-attr]
            if item["Type"] == "Patient":
                self.rest("DELETE", f"/patients/{item['ID']}")

    def stop(self) -> None:
        """SIGTERM, then wait for the exit (SIGKILL after 10 s)."""
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(5)


def start_orthanc(folder: Path) -> Orthanc:
    """Start Orthanc from a fresh configuration and database in `folder`."""
    folder.mkdir(parents=True, exist_ok=True)
    http_port, dicom_port, move_port = free_port(), free_port(), free_port()
    config = {
        "Name": "napari-recist-tests",
        "StorageDirectory": str(folder / "db"),
        "IndexDirectory": str(folder / "db"),
        "Plugins": [str(DICOMWEB_PLUGIN)],
        "HttpPort": http_port,
        "RemoteAccessAllowed": False,
        "AuthenticationEnabled": False,
        "DicomServerEnabled": True,
        "DicomAet": AET,
        "DicomPort": dicom_port,
        "DicomCheckCalledAet": True,
        "DicomAlwaysAllowEcho": True,
        "DicomAlwaysAllowStore": True,
        "DicomModalities": {CLIENT_AET: [CLIENT_AET, "127.0.0.1", move_port]},
        "DicomWeb": {"Enable": True, "Root": "/dicom-web/"},
        "HttpTimeout": 10,
    }
    (folder / "orthanc.json").write_text(json.dumps(config, indent=2))
    env = dict(os.environ, TCP_NODELAY="1")
    log = (folder / "stdout.log").open("wb")
    process = subprocess.Popen(
        ["Orthanc", f"--logdir={folder}", str(folder / "orthanc.json")],
        cwd=folder, env=env, stdout=log, stderr=subprocess.STDOUT,
    )
    server = Orthanc(folder, http_port, dicom_port, move_port, process)
    deadline = time.monotonic() + 15
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"Orthanc exited: see {folder}/stdout.log")
        try:
            server.rest("GET", "/system")
            return server
        except OSError:
            time.sleep(0.05)
    server.stop()
    raise RuntimeError("Orthanc did not answer within 15 s")
