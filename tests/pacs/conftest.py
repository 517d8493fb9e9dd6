"""A real Orthanc for the PACS tests: started once per session, stopped at the end."""

from __future__ import annotations

import socket
from collections.abc import Iterator
from pathlib import Path

import pytest
from _orthanc import CLIENT_AET, SAMPLE, Orthanc, orthanc_missing, start_orthanc


@pytest.fixture(scope="session")
def orthanc(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Orthanc]:
    """Orthanc with its DICOMweb plugin, holding the sample patient (uploaded over REST)."""
    reason = orthanc_missing()
    if reason:
        pytest.skip(reason)
    pytest.importorskip("dicomweb_client")
    pytest.importorskip("pynetdicom")
    server = start_orthanc(tmp_path_factory.mktemp("orthanc"))
    try:
        server.upload(SAMPLE)
        yield server
    finally:
        server.stop()


@pytest.fixture
def saved(orthanc: Orthanc, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A user config folder with saved servers web / dimse / move, and an empty user cache."""
    config = tmp_path / "config"
    monkeypatch.setenv("XDG_CONFIG_HOME", str(config))
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    for name in ("NAPARI_RECIST_PACS_TOKEN", "NAPARI_RECIST_PACS_USER",
                 "NAPARI_RECIST_PACS_PASSWORD", "NAPARI_RECIST_CALLING_AET"):
        monkeypatch.delenv(name, raising=False)
    folder = config / "napari-recist"
    folder.mkdir(parents=True)
    (folder / "pacs.toml").write_text(
        f'[servers.web]\nurl = "{orthanc.dicomweb_url}"\ntimeout = 10\n\n'
        f'[servers.dimse]\nurl = "{orthanc.dimse_url}"\ncalling_aet = "{CLIENT_AET}"\n'
        f'timeout = 10\n\n'
        f'[servers.move]\nurl = "{orthanc.dimse_url}"\ncalling_aet = "{CLIENT_AET}"\n'
        f'move_port = {orthanc.move_port}\ntimeout = 10\n'
    )
    return folder / "pacs.toml"


@pytest.fixture
def silent_port() -> Iterator[int]:
    """A port that accepts TCP connections and never answers (a hung server)."""
    with socket.socket() as listener:
        listener.bind(("127.0.0.1", 0))
        listener.listen(8)
        yield int(listener.getsockname()[1])
