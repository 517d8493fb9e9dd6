"""`napari-recist classify` writes patient by patient with orjson: the same JSON (issue 12)."""

from __future__ import annotations

import io
import json
import random
import sys
from pathlib import Path

import pytest

from napari_recist.cli import main
from napari_recist.commands._json_stream import ClassificationWriter
from napari_recist.criteria import report
from napari_recist.criteria.report import classify_cohort
from napari_recist.criteria.settings import Criteria
from napari_recist.io.table import read_table, write_table

ROOT = Path(__file__).resolve().parents[2]
EXAMPLE = ROOT / "examples" / "lesions.csv"
sys.path.insert(0, str(ROOT / "benchmarks"))
from bench_classify import generate_patient  # noqa: E402


def reference_text(path: Path, criteria: Criteria | None = None) -> str:
    """What the command wrote before issue 12: the whole document through json.dumps."""
    document = classify_cohort(read_table(path).records, criteria or Criteria())
    return json.dumps(document, indent=2, allow_nan=False) + "\n"


@pytest.mark.parametrize("confirm", [False, True])
def test_same_json_as_json_dumps_same_keys_same_order(tmp_path, confirm):
    rng = random.Random(11)
    records = [generate_patient(rng, n) for n in range(60)]
    records[0].patient_id = "P-é-ü"  # non-ASCII: UTF-8 rather than \u escapes, same content
    table = tmp_path / "t.csv"
    write_table(records, table)
    out = tmp_path / "out.json"
    options = ["--confirm"] if confirm else []
    assert main(["classify", str(table), "--json", str(out), *options]) == 0
    written = out.read_text(encoding="utf-8")
    criteria = Criteria(require_confirmation=True) if confirm else Criteria()
    expected = reference_text(table, criteria)
    # Re-encoded the old way, the new file is byte for byte the old one: equal values, keys
    # in the same order at every level, the same nesting.
    assert json.dumps(json.loads(written), indent=2) + "\n" == expected
    assert '"P-\u00e9-\u00fc"' in written


def test_example_table_byte_identical_but_for_the_encoder(tmp_path):
    out = tmp_path / "out.json"
    assert main(["classify", str(EXAMPLE), "--json", str(out)]) == 0
    written = out.read_text(encoding="utf-8")
    expected = reference_text(EXAMPLE)
    assert json.dumps(json.loads(written), indent=2) + "\n" == expected
    if written.isascii():  # orjson's layout with indent 2 is json.dumps's
        assert written == expected


def test_json_to_stdout(capsys):
    assert main(["classify", str(EXAMPLE), "--json", "-"]) == 0
    printed = capsys.readouterr().out
    assert json.loads(printed) == json.loads(reference_text(EXAMPLE))


def test_the_writer_with_no_patient_and_with_one():
    criteria = Criteria().to_dict()
    for patients in ([], [{"patient_id": "P", "timepoints": [], "reasons": {}}]):
        buffer = io.BytesIO()
        writer = ClassificationWriter(buffer, criteria)
        for patient in patients:
            writer.add(patient)
        writer.close()
        document = {"criteria": criteria, "patients": patients}
        assert buffer.getvalue().decode() == json.dumps(document, indent=2) + "\n"


def test_a_nan_is_refused_and_no_file_is_written(tmp_path, monkeypatch, capsys):
    real = report.PatientResult.to_json

    def poisoned(self):
        patient = real(self)
        if patient["patient_id"] == "P02-DR1":  # as if a bug computed a NaN for P02
            from napari_recist.criteria.numbers import round_pct

            patient["depth_of_response_pct"] = round_pct(float("nan"))
        return patient

    monkeypatch.setattr(report.PatientResult, "to_json", poisoned)
    out = tmp_path / "out.json"
    assert main(["classify", str(EXAMPLE), "--json", str(out)]) == 2
    assert not out.exists()
    assert "NaN" in capsys.readouterr().err


def test_summary_streams_one_write_per_patient(tmp_path, capsys):
    out = tmp_path / "out.csv"
    assert main(["classify", str(EXAMPLE), "--csv", str(out)]) == 0
    printed = capsys.readouterr().out
    patients = read_table(EXAMPLE).records
    assert printed.count("\nPatient ") + printed.startswith("Patient ") == len(patients)
    # The CSV is the same rows as before (one writer per patient now).
    from napari_recist.commands.classify import CSV_COLUMNS, csv_rows

    document = classify_cohort(patients, Criteria())
    lines = out.read_text().splitlines()
    assert lines[0] == ",".join(CSV_COLUMNS)
    assert len(lines) - 1 == len(csv_rows(document["patients"]))


@pytest.mark.parametrize("target", ["file", "buffer"])
def test_a_file_of_encoded_batches_writes_what_the_batches_write(tmp_path, target):
    """`add_file` (a worker's slice on disk) = `add_encoded` of each of its batches."""
    from napari_recist.commands._json_stream import SEPARATOR, encode_patients

    criteria = Criteria().to_dict()
    patients = [{"patient_id": f"P{n}", "reasons": {"a": "é"}, "timepoints": [n]}
                for n in range(7)]
    batches = [patients[:3], patients[3:4], patients[4:]]
    expected = io.BytesIO()
    writer = ClassificationWriter(expected, criteria)
    writer.add(patients[0])
    for batch in batches:
        writer.add_encoded(encode_patients(batch), len(batch))
    writer.close()
    slice_file = tmp_path / "slice.json"
    slice_file.write_bytes(SEPARATOR.join(bytes(encode_patients(b)) for b in batches))
    out = tmp_path / "out.json"
    with open(out, "wb") if target == "file" else io.BytesIO() as handle:
        writer = ClassificationWriter(handle, criteria)
        writer.add(patients[0])  # a patient taken before the file comes first
        writer.add_file(slice_file, len(patients))
        writer.add_file(slice_file, 0)  # an empty slice writes nothing
        writer.close()
        written = handle.getvalue() if target == "buffer" else None
    written = out.read_bytes() if target == "file" else written
    assert written == expected.getvalue()
    assert json.loads(written)["patients"][1:4] == patients[:3]


def test_each_copied_slice_is_written_back_to_a_file_not_to_a_stream(tmp_path, monkeypatch):
    """`add_file` sends the document's file to the disk slice by slice (the atomic write's
    final fsync then has little left); not a file standing for standard output, and a
    buffer without a descriptor is left alone, no error."""
    import os

    from napari_recist.commands._json_stream import encode_patients

    synced: list[int] = []
    real = os.fdatasync
    monkeypatch.setattr(os, "fdatasync", lambda fd: (synced.append(fd), real(fd))[1])
    slice_file = tmp_path / "slice.json"
    slice_file.write_bytes(bytes(encode_patients([{"patient_id": "P1"}])))
    with open(tmp_path / "out.json", "wb") as handle:
        writer = ClassificationWriter(handle, Criteria().to_dict(), write_back=True)
        writer.add_file(slice_file, 1)
        writer.add_file(slice_file, 1)
        assert synced == [handle.fileno()] * 2
        writer.close()
    with open(tmp_path / "held.json", "wb") as handle:  # standard output held in a file
        writer = ClassificationWriter(handle, Criteria().to_dict())
        writer.add_file(slice_file, 1)
        writer.close()
    assert len(synced) == 2
    assert [p["patient_id"] for p in json.loads((tmp_path / "out.json").read_bytes())[
        "patients"]] == ["P1", "P1"]
    synced.clear()
    buffer = io.BytesIO()  # no descriptor (fileno raises): nothing to write back
    writer = ClassificationWriter(buffer, Criteria().to_dict(), write_back=True)
    writer.add_file(slice_file, 1)
    writer.close()
    assert synced == [] and json.loads(buffer.getvalue())["patients"] == [{"patient_id": "P1"}]
