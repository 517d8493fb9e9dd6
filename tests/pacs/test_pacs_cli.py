"""`napari-recist pacs ...`, `write-sr --store` and `pacs://` sources against a real Orthanc."""

from __future__ import annotations

import json
from pathlib import Path

import pydicom
import pytest
from _orthanc import SAMPLE, SAMPLE_PATIENT, Orthanc, free_port

from napari_recist.cli import main

SAMPLE_DATES = ["2024-01-15", "2024-03-11", "2024-05-06"]


@pytest.fixture(scope="module")
def sample_classification(tmp_path_factory: pytest.TempPathFactory) -> dict:
    out = tmp_path_factory.mktemp("classify") / "sample.json"
    assert main(["classify", str(SAMPLE), "--json", str(out)]) == 0
    return json.loads(out.read_text())


def classify(folder: Path, out: Path) -> dict:
    assert main(["classify", str(folder), "--json", str(out)]) == 0
    return json.loads(out.read_text())


def sop_uids(folder: Path) -> dict[str, str]:
    """SOP Instance UID -> transfer syntax name of every DICOM file under a folder."""
    found = {}
    for path in folder.rglob("*.dcm"):
        dataset = pydicom.dcmread(path, stop_before_pixels=True)
        found[str(dataset.SOPInstanceUID)] = dataset.file_meta.TransferSyntaxUID.name
    return found


@pytest.mark.parametrize("server", ["web", "dimse"])
def test_echo(saved, server, capsys):
    assert main(["pacs", "echo", server]) == 0
    assert "answers" in capsys.readouterr().out


def test_find_json_is_the_same_over_both_transports(saved, capsys):
    documents = []
    for server in ("web", "dimse"):
        assert main(["pacs", "find", server, "--patient-id", SAMPLE_PATIENT, "--json"]) == 0
        documents.append(json.loads(capsys.readouterr().out))
    web, dimse = documents
    assert web == dimse
    assert [study["study_date"] for study in web] == SAMPLE_DATES
    for study in web:
        assert set(study) == {"study_instance_uid", "study_date", "description", "modalities",
                              "series_count", "has_sr"}
        assert study["modalities"] == ["CT", "SR"]
        assert study["series_count"] == 2
        assert study["has_sr"] is True
    assert web[0]["description"] == "CT chest abdomen (baseline)"


@pytest.mark.parametrize("server", ["web", "dimse"])
def test_find_date_range_and_table(saved, server, capsys):
    args = ["pacs", "find", server, "--patient-id", SAMPLE_PATIENT, "--from", "2024-02-01",
            "--to", "2024-05-06"]
    assert main(args) == 0
    out = capsys.readouterr().out
    assert "2024-01-15" not in out
    assert "2024-03-11" in out and "2024-05-06" in out
    assert out.splitlines()[0].split()[:3] == ["date", "description", "modalities"]
    assert main(["pacs", "find", server, "--patient-id", "NOBODY", "--json"]) == 0
    assert json.loads(capsys.readouterr().out) == []


@pytest.mark.parametrize(
    ("server", "extra"),
    [("web", []), ("dimse", []), ("dimse", ["--move-port", "MOVE"])],
    ids=["dicomweb", "c-get", "c-move"],
)
def test_get_gives_a_folder_that_classifies_like_the_sample(
    saved, orthanc, server, extra, tmp_path, sample_classification, capsys
):
    extra = [str(orthanc.move_port) if e == "MOVE" else e for e in extra]
    out = tmp_path / "cache"
    args = ["pacs", "get", server, "--patient-id", SAMPLE_PATIENT, "--out", str(out), "--quiet"]
    code = main(args + extra)
    captured = capsys.readouterr()
    assert code == 0, captured.err
    folder = Path(captured.out.strip().splitlines()[-1])
    assert folder == out / SAMPLE_PATIENT
    assert "fetched 183 instance(s), 0 already" in captured.err, captured.err
    # Every instance, in the transfer syntax it was stored in (RLE CT, explicit VR SR).
    assert sop_uids(folder) == sop_uids(SAMPLE)
    assert classify(folder, tmp_path / "got.json") == sample_classification
    # Layout: patient / study / series / instance.
    studies = sorted(p.name for p in folder.iterdir())
    assert len(studies) == 3 and all(len(list((folder / s).iterdir())) == 2 for s in studies)


@pytest.mark.parametrize("server", ["web", "dimse"])
def test_second_get_fetches_only_what_is_missing(saved, server, tmp_path, capsys):
    out = tmp_path / "cache"
    args = ["pacs", "get", server, "--patient-id", SAMPLE_PATIENT, "--out", str(out), "--quiet"]
    assert main(args) == 0
    capsys.readouterr()
    files = sorted((out / SAMPLE_PATIENT).rglob("*.dcm"))
    removed = [files[0], files[100]]
    before = {path: path.read_bytes() for path in removed}
    for path in removed:
        path.unlink()
    assert main(args) == 0
    assert "fetched 2 instance(s), 181 already in the cache" in capsys.readouterr().err
    assert {path: path.read_bytes() for path in removed} == before
    assert main(args) == 0
    assert "fetched 0 instance(s), 183 already in the cache" in capsys.readouterr().err


def test_get_one_study(saved, tmp_path, capsys):
    assert main(["pacs", "find", "web", "--patient-id", SAMPLE_PATIENT, "--json"]) == 0
    week8 = json.loads(capsys.readouterr().out)[1]
    out = tmp_path / "cache"
    assert main(["pacs", "get", "dimse", "--patient-id", SAMPLE_PATIENT, "--study",
                 week8["study_instance_uid"], "--out", str(out), "--quiet"]) == 0
    assert [p.name for p in (out / SAMPLE_PATIENT).iterdir()] == [week8["study_instance_uid"]]
    assert len(list((out / SAMPLE_PATIENT).rglob("*.dcm"))) == 61


@pytest.mark.parametrize("server", ["web", "dimse"])
def test_store_then_find_and_get_back(saved, orthanc, server, tmp_path, capsys):
    """A real GE CT series (pydicom's test files) stored by us, found and retrieved back."""
    from pydicom.data import get_testdata_file

    ct5n = Path(get_testdata_file("CT_small.dcm")).parent / "dicomdirtests" / "98892001" / "CT5N"
    files = sorted(ct5n.iterdir())
    patient_id = str(pydicom.dcmread(files[0]).PatientID)
    orthanc.delete_patient(patient_id)
    try:
        assert main(["pacs", "store", server, str(ct5n), "--quiet"]) == 0
        assert f"stored {len(files)} instance(s)" in capsys.readouterr().err
        other = "dimse" if server == "web" else "web"
        assert main(["pacs", "find", other, "--patient-id", patient_id, "--json"]) == 0
        assert len(json.loads(capsys.readouterr().out)) == 1
        out = tmp_path / "back"
        assert main(["pacs", "get", other, "--patient-id", patient_id, "--out", str(out),
                     "--quiet"]) == 0
        back = {pydicom.dcmread(p).SOPInstanceUID: pydicom.dcmread(p)
                for p in out.rglob("*.dcm")}
        for path in files:
            original = pydicom.dcmread(path)
            assert back[original.SOPInstanceUID].PixelData == original.PixelData
    finally:
        orthanc.delete_patient(patient_id)


def test_store_refuses_a_named_file_that_is_not_dicom(saved, capsys):
    assert main(["pacs", "store", "web", str(SAMPLE / "lesions.csv")]) == 2
    assert "lesions.csv: not a DICOM file" in capsys.readouterr().err


def test_write_sr_store_puts_an_sr_that_reads_back_identical(saved, orthanc, tmp_path, capsys):
    out = tmp_path / "sr"
    sample_srs = set(sop_uids(SAMPLE))
    assert main(["write-sr", str(SAMPLE / "lesions.csv"), str(SAMPLE), "--out", str(out),
                 "--store", "dimse", "--quiet"]) == 0
    written = [Path(line) for line in capsys.readouterr().out.split()]
    assert len(written) == 3
    stored = []
    try:
        for path in written:
            mine = pydicom.dcmread(path)
            assert str(mine.SOPInstanceUID) not in sample_srs  # a new instance, not the sample's
            found = orthanc.rest("POST", "/tools/lookup", str(mine.SOPInstanceUID).encode())
            assert len(found) == 1
            stored.append(found[0]["ID"])
            back = pydicom.dcmread(
                __import__("io").BytesIO(orthanc.raw(f"/instances/{found[0]['ID']}/file"))
            )
            assert back == mine
            assert back.file_meta.TransferSyntaxUID == mine.file_meta.TransferSyntaxUID
    finally:
        for identifier in stored:
            orthanc.rest("DELETE", f"/instances/{identifier}")


def test_classify_and_report_accept_a_pacs_source(saved, tmp_path, sample_classification, capsys):
    source = f"pacs://web/{SAMPLE_PATIENT}"
    assert classify(source, tmp_path / "c.json") == sample_classification  # type: ignore[arg-type]
    assert "fetched 183" in capsys.readouterr().err
    assert main(["report", source, "--out", str(tmp_path / "report")]) == 0
    assert "fetched 0 instance(s), 183 already" in capsys.readouterr().err  # cache reused
    assert (tmp_path / "report" / f"{SAMPLE_PATIENT}.html").is_file()
    cached = tmp_path / "cache" / "napari-recist" / "pacs" / "web" / SAMPLE_PATIENT
    assert len(list(cached.rglob("*.dcm"))) == 183


def test_pacs_source_must_name_a_saved_server(saved, capsys):
    assert main(["classify", "pacs://nowhere/P1"]) == 2
    err = capsys.readouterr().err
    assert "no saved server 'nowhere'" in err and "web" in err


def _failure(args: list[str], capsys) -> str:
    assert main(args) == 2
    err = capsys.readouterr().err
    assert "Traceback" not in err
    assert "error: PACS " in err
    return err


def test_wrong_called_ae_title(orthanc, saved, capsys):
    url = orthanc.dimse_url.replace("ORTHANC@", "NOTORTHANC@")
    err = _failure(["pacs", "find", url, "--patient-id", SAMPLE_PATIENT], capsys)
    assert "association rejected" in err and "Called AE title not recognised" in err
    assert "'NOTORTHANC'" in err


def test_wrong_calling_ae_title_for_a_retrieve(orthanc, saved, tmp_path, capsys):
    err = _failure(["pacs", "get", orthanc.dimse_url, "--calling-aet", "STRANGER", "--patient-id",
                    SAMPLE_PATIENT, "--out", str(tmp_path), "--quiet"], capsys)
    assert "C-FIND studies" in err
    assert "aborted the association" in err and "'STRANGER'" in err


@pytest.mark.parametrize("kind", ["web", "dimse"])
def test_stopped_server(saved, kind, capsys):
    port = free_port()
    url = (f"http://127.0.0.1:{port}/dicom-web" if kind == "web"
           else f"dimse://ORTHANC@127.0.0.1:{port}")
    err = _failure(["pacs", "find", url, "--patient-id", "P1", "--timeout", "2"], capsys)
    assert f"cannot connect to 127.0.0.1:{port}" in err and "is the server running" in err


@pytest.mark.parametrize("kind", ["web", "dimse"])
def test_timeout(saved, silent_port, kind, capsys):
    url = (f"http://127.0.0.1:{silent_port}/dicom-web" if kind == "web"
           else f"dimse://ORTHANC@127.0.0.1:{silent_port}")
    err = _failure(["pacs", "echo", url, "--timeout", "0.5"], capsys)
    assert "within 0.5 s" in err and "timeout" in err
    assert url in err


def test_not_found(orthanc: Orthanc, saved, capsys):
    url = orthanc.dicomweb_url.replace("/dicom-web", "/no-such-root")
    err = _failure(["pacs", "find", url, "--patient-id", SAMPLE_PATIENT], capsys)
    assert "HTTP 404" in err and "QIDO-RS search studies" in err


def test_unknown_study_is_a_clear_error(saved, tmp_path, capsys):
    err = _failure(["pacs", "get", "web", "--patient-id", SAMPLE_PATIENT, "--study", "1.2.3",
                    "--out", str(tmp_path)], capsys)
    assert "1.2.3" in err


def test_credentials_never_appear(saved, orthanc, monkeypatch, caplog, capsys):
    import logging

    secret = "s3cr3t-token-value"
    monkeypatch.setenv("NAPARI_RECIST_PACS_TOKEN", secret)
    caplog.set_level(logging.DEBUG)
    assert main(["pacs", "find", orthanc.dicomweb_url, "--patient-id", SAMPLE_PATIENT]) == 0
    bad = orthanc.dicomweb_url.replace("/dicom-web", "/nope")
    assert main(["pacs", "find", bad, "--patient-id", SAMPLE_PATIENT]) == 2
    captured = capsys.readouterr()
    assert secret not in captured.out + captured.err + caplog.text


def test_servers_lists_the_saved_servers_without_secrets(saved, capsys):
    assert main(["pacs", "servers"]) == 0
    captured = capsys.readouterr()
    assert [line.split()[0] for line in captured.out.splitlines()] == ["dimse", "move", "web"]
    assert str(saved) in captured.err
