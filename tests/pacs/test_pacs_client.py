"""`napari_recist.io.pacs`: cancelling, progress, the cache's checks, the storage SCP's
AE-title rules, server URLs and the saved servers file."""

from __future__ import annotations

import base64
from pathlib import Path

import pytest
from _orthanc import SAMPLE_PATIENT

from napari_recist.errors import InputError
from napari_recist.io.pacs import (
    Cancelled,
    CancelToken,
    InstanceRef,
    PacsClient,
    PatientCache,
    parse_server_url,
    patient_folder_name,
    saved_servers,
)
from napari_recist.io.pacs.dicomweb import PENDING_WRITES


@pytest.mark.parametrize("transport", ["dicomweb", "dimse"])
def test_cancel_stops_and_keeps_what_arrived(orthanc, transport, tmp_path):
    url = orthanc.dicomweb_url if transport == "dicomweb" else orthanc.dimse_url
    client = PacsClient(parse_server_url(url, timeout=10))
    token = CancelToken()
    seen: list[tuple[int, int]] = []

    def progress(done: int, total: int) -> None:
        seen.append((done, total))
        if done >= 20:
            token.cancel()

    with pytest.raises(Cancelled):
        client.retrieve(SAMPLE_PATIENT, tmp_path, progress=progress, cancel=token)
    arrived = list((tmp_path / SAMPLE_PATIENT).rglob("*.dcm"))
    assert 20 <= len(arrived) < 183
    if transport == "dicomweb":
        # Received instances wait for a writer: a slow disk does not let the whole study
        # arrive before the cancel is seen (CI once wrote all 183 when the fsyncs lagged).
        assert len(arrived) <= 20 + PENDING_WRITES + 1
    assert not list(tmp_path.rglob(".*.tmp"))  # no half-written file left
    result = client.retrieve(SAMPLE_PATIENT, tmp_path, progress=lambda d, t: seen.append((d, t)))
    assert result.already == len(arrived) and result.fetched == 183 - len(arrived)
    assert seen[-1] == (183, 183)
    assert [done for done, _ in seen[-result.fetched - 1:]] == sorted(
        done for done, _ in seen[-result.fetched - 1:]
    )


def test_cache_refuses_another_patient_and_bad_uids(tmp_path):
    cache = PatientCache(tmp_path, "P1")
    good = InstanceRef("1.2.3", "1.2.3.4", "1.2.3.4.5", "1.2.840.10008.5.1.4.1.1.2")
    assert cache.check(good, "P1", "server") is None
    problem = cache.check(good, "P2", "server")
    assert problem is not None and problem.column == "PatientID" and "'P2'" in problem.message
    evil = InstanceRef("1.2.3", "../../etc", "1.2", "1.2")
    problem = cache.check(evil, "P1", "server")
    assert problem is not None and problem.column == "SeriesInstanceUID"
    assert cache.path_of(good) == tmp_path / "P1" / "1.2.3" / "1.2.3.4" / "1.2.3.4.5.dcm"


def test_patient_folder_names_are_safe_and_distinct():
    assert patient_folder_name("NRS-SAMPLE-001") == "NRS-SAMPLE-001"
    assert patient_folder_name("../x").startswith("x_")
    assert patient_folder_name("A/B") != patient_folder_name("A_B")
    assert patient_folder_name("..").startswith("patient_")


def test_storage_scp_accepts_only_the_configured_ae_titles():
    from _orthanc import free_port
    from pynetdicom import AE

    from napari_recist.io.pacs.dimse import StorageSCP

    server = parse_server_url("dimse://ORTHANC@127.0.0.1:104", calling_aet="RECIST", timeout=5)
    port = free_port()
    scp = StorageSCP("RECIST", port, ("ORTHANC",), lambda event: 0x0000)
    with scp.running(server):
        def associate(calling: str, called: str) -> bool:
            ae = AE(ae_title=calling)
            ae.add_requested_context("1.2.840.10008.5.1.4.1.1.2")
            assoc = ae.associate("127.0.0.1", port, ae_title=called)
            ok = assoc.is_established
            if ok:
                assoc.release()
            return ok

        assert associate("ORTHANC", "RECIST")
        assert not associate("INTRUDER", "RECIST")
        assert not associate("ORTHANC", "SOMEONE")
        assert scp.host == "127.0.0.1"


def test_server_urls():
    web = parse_server_url("https://pacs.example.org:8443/dicom-web/")
    assert (web.kind, web.host, web.port, web.url) == (
        "dicomweb", "pacs.example.org", 8443, "https://pacs.example.org:8443/dicom-web")
    dimse = parse_server_url("dimse://ARCHIVE@10.0.0.5:104", calling_aet="ME")
    assert (dimse.kind, dimse.called_aet, dimse.calling_aet, dimse.port) == (
        "dimse", "ARCHIVE", "ME", 104)
    for bad, words in [
        ("https://user:pw@pacs.example.org/dicom-web", "credentials do not belong in the URL"),
        ("dimse://10.0.0.5:104", "dimse://CALLED_AET@host:port"),
        ("dimse://THIS_AE_TITLE_IS_TOO_LONG@h:104", "not an AE title"),
        ("ftp://x", "neither"),
        ("https://user:pw@pacs.example.org:99999/dicom-web", "bad port"),
    ]:
        with pytest.raises(InputError) as caught:
            parse_server_url(bad)
        assert words in str(caught.value)
        assert "user:pw" not in str(caught.value)


def test_credentials_come_from_the_environment(monkeypatch):
    for name in ("NAPARI_RECIST_PACS_TOKEN", "NAPARI_RECIST_PACS_USER",
                 "NAPARI_RECIST_PACS_PASSWORD"):
        monkeypatch.delenv(name, raising=False)
    server = parse_server_url("https://pacs.example.org/dicom-web")
    assert server.auth_headers() == {}
    monkeypatch.setenv("NAPARI_RECIST_PACS_USER", "ann")
    with pytest.raises(InputError, match="NAPARI_RECIST_PACS_PASSWORD is not set"):
        server.auth_headers()
    monkeypatch.setenv("NAPARI_RECIST_PACS_PASSWORD", "pw")
    expected = "Basic " + base64.b64encode(b"ann:pw").decode()
    assert server.auth_headers() == {"Authorization": expected}
    monkeypatch.setenv("NAPARI_RECIST_PACS_TOKEN", "tok")
    assert server.auth_headers() == {"Authorization": "Bearer tok"}
    plain = parse_server_url("http://pacs.example.org/dicom-web")
    with pytest.raises(InputError, match="plain http"):
        plain.auth_headers()
    assert parse_server_url("http://127.0.0.1:8042/dicom-web").auth_headers()
    assert "tok" not in server.label and "pw" not in server.label


def test_saved_servers_file(tmp_path):
    path = tmp_path / "pacs.toml"
    assert saved_servers(path) == {}
    path.write_text(
        '[servers.hospital]\nurl = "https://pacs.example.org/dicom-web"\n'
        'token_env = "HOSPITAL_TOKEN"\n\n'
        '[servers.archive]\nurl = "dimse://ARCHIVE@10.0.0.5:104"\ncalling_aet = "RECIST2"\n'
        'move_port = 11113\nmove_peers = ["ARCHIVE", "ARCHIVE2"]\n'
    )
    servers = saved_servers(path)
    assert servers["hospital"].token_env == "HOSPITAL_TOKEN"
    assert servers["hospital"].label == "PACS hospital (https://pacs.example.org/dicom-web)"
    archive = servers["archive"]
    assert (archive.calling_aet, archive.move_port, archive.move_peers) == (
        "RECIST2", 11113, ("ARCHIVE", "ARCHIVE2"))
    path.write_text('[servers.x]\nurl = "https://h/dicom-web"\npassword = "no"\n')
    with pytest.raises(InputError, match="unknown key"):
        saved_servers(path)
    path.write_text("[servers.x\n")
    with pytest.raises(InputError, match="cannot read the saved servers"):
        saved_servers(path)


def test_store_reports_missing_paths_before_sending(orthanc, tmp_path):
    client = PacsClient(parse_server_url(orthanc.dimse_url))
    with pytest.raises(InputError, match="no such file or folder"):
        client.store([tmp_path / "absent.dcm"])
    with pytest.raises(InputError, match="no DICOM file to send"):
        client.store([tmp_path])


def test_find_studies_are_sorted_by_date(orthanc):
    for url in (orthanc.dicomweb_url, orthanc.dimse_url):
        studies = PacsClient(parse_server_url(url)).find_studies(SAMPLE_PATIENT)
        dates = [s.study_date for s in studies]
        assert dates == sorted(dates) and len(dates) == 3
        assert all(s.patient_id == SAMPLE_PATIENT for s in studies)


def test_missing_instances_are_reported(orthanc, tmp_path, monkeypatch):
    """A server that lists an instance but does not send it is a problem, never silence."""
    client = PacsClient(parse_server_url(orthanc.dicomweb_url))
    real = client.transport.find_instances

    def listing_one_more(study_uid: str) -> list[InstanceRef]:
        refs = real(study_uid)
        ghost = InstanceRef(study_uid, refs[0].series_instance_uid, "1.2.3.999", "1.2")
        return [*refs, ghost]

    monkeypatch.setattr(client.transport, "find_instances", listing_one_more)
    studies = [s.study_instance_uid for s in client.find_studies(SAMPLE_PATIENT)][:1]
    result = client.retrieve(SAMPLE_PATIENT, tmp_path, studies)
    assert result.fetched == 61
    assert len(result.problems) == 1
    assert "1 of 62 listed instances did not arrive (first: 1.2.3.999" in str(result.problems[0])
    assert Path(tmp_path / SAMPLE_PATIENT).is_dir()
