"""The streamed cohort batch: JSON lines on disk, the same outputs as in memory, resumable."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from napari_recist.cli import main
from napari_recist.cohort import stream
from napari_recist.cohort.batch import (
    PatientSource,
    classify_batch_to_part,
    classify_source,
    classify_sources,
    find_cohort,
    stream_sources,
)
from napari_recist.cohort.stream import (
    PARTS_NAME,
    RESULTS_NAME,
    PartsFolder,
    iter_outcomes,
    read_lines,
    sources_fingerprint,
    statistics_patients,
    write_cohort_json,
)
from napari_recist.cohort.synthetic import clinical_csv, synthetic_cohort, write_patient_folder
from napari_recist.criteria.settings import Criteria
from napari_recist.io.table import write_table


@pytest.fixture
def sources() -> list[PatientSource]:
    records, _ = synthetic_cohort(30, seed=8)
    return [PatientSource(r.patient_id, record=r) for r in records]


def test_streamed_batch_equals_the_in_memory_batch(
    sources: list[PatientSource], tmp_path: Path
) -> None:
    criteria = Criteria()
    in_memory = classify_sources(sources, criteria, workers=1, progress=False)
    for workers in (1, 2):
        out = tmp_path / f"w{workers}"
        result = stream_sources(sources, criteria, out, workers=workers, progress=False)
        assert result.results == out / RESULTS_NAME
        assert list(iter_outcomes(result.results)) == in_memory
        assert [line["index"] for line in read_lines(result.results)] == list(range(30))
        assert result.summary.classified == 30 and not result.summary.failures
        assert not (out / PARTS_NAME).exists()  # merged, then removed


def test_statistics_view_is_the_json_without_reason_strings(
    sources: list[PatientSource], tmp_path: Path
) -> None:
    result = stream_sources(sources, Criteria(), tmp_path, progress=False)
    full = [o.patient for o in iter_outcomes(result.results)]
    slim = statistics_patients(result.results)
    assert len(slim) == len(full) == 30
    for whole, view in zip(full, slim, strict=True):
        assert "reasons" in whole and "reasons" not in view
        expected = {k: v for k, v in whole.items() if k != "reasons"}
        expected["timepoints"] = [
            {k: v for k, v in tp.items() if k not in ("reason", "reasons")}
            for tp in whole["timepoints"]
        ]
        assert view == expected
    assert statistics_patients(result.results, keep_reasons=True) == full


@pytest.mark.parametrize(
    "patients",
    [
        [],
        [{"a": 1}],
        [{"a": [1, 2.5, None], "b": {"c": "line\nbreak \u00e9", "d": []}}, {"e": {}}],
    ],
)
def test_cohort_json_is_byte_for_byte_json_dumps(tmp_path: Path, patients: list) -> None:
    criteria = {"x": 1, "nested": {"y": [1, 2]}, "empty": {}}
    path = tmp_path / "cohort.json"
    write_cohort_json(path, criteria, iter(patients))
    expected = json.dumps({"criteria": criteria, "patients": patients}, indent=2)
    assert path.read_text(encoding="utf-8") == expected


def _outputs(folder: Path) -> dict[str, bytes]:
    return {
        p.name: p.read_bytes() for p in sorted(folder.iterdir()) if p.is_file()
        and p.name != RESULTS_NAME
    }  # fmt: skip


def test_cohort_command_outputs_equal_the_in_memory_outputs(tmp_path: Path) -> None:
    """Every file the command writes from patients.jsonl is the one the in-memory path writes."""
    from napari_recist.commands.cohort import _lesion_records, write_cohort_outputs

    records, clinical_rows = synthetic_cohort(60, seed=3)
    table = tmp_path / "lesions.csv"
    write_table(records, table)
    clinical_path = tmp_path / "clinical.csv"
    clinical_path.write_text(clinical_csv(clinical_rows), encoding="utf-8")
    out = tmp_path / "streamed"
    args = ["cohort", str(table), "--clinical", str(clinical_path), "--quiet"]
    assert main([*args, "--out", str(out)]) == 0
    assert (out / RESULTS_NAME).is_file()

    from napari_recist.cohort.clinical import read_clinical_table

    sources = find_cohort(table).sources
    outcomes = classify_sources(sources, Criteria(), progress=False)
    patients = [o.patient for o in outcomes if o.patient is not None]
    clinical = read_clinical_table(clinical_path)
    summary = [
        f"Source: {table}. Patients classified: {len(patients)} of {len(outcomes)}.",
        f"Clinical table: {clinical_path}.",
        "Rows skipped (--lenient): 0.",
        "Patients without clinical data: 0; clinical rows without a classified patient: 0.",
    ]
    reference = tmp_path / "in_memory"
    # The lesion tables at hand, as the command passes them (lesion-level tables, SDTM).
    records = _lesion_records(find_cohort(table), reread_folders=False)
    write_cohort_outputs(reference, patients, Criteria().to_dict(), clinical, summary, [],
                         records=records)
    streamed, expected = _outputs(out), _outputs(reference)
    assert sorted(streamed) == sorted(expected)
    different = [name for name in expected if streamed[name] != expected[name]]
    assert not different


def test_a_damaged_patient_folder_is_a_problem_line_not_lost(tmp_path: Path) -> None:
    records, _ = synthetic_cohort(3, seed=11)
    root = tmp_path / "study"
    for record in records:
        write_patient_folder(record, root / record.patient_id)
    broken = root / "P_broken"
    broken.mkdir()
    (broken / "sr.dcm").write_bytes(b"\0" * 128 + b"DICM" + b"\x02\x00\x00\x00garbage")
    sources = find_cohort(root).sources
    assert len(sources) == 4
    result = stream_sources(sources, Criteria(), tmp_path / "out", workers=2, progress=False)
    lines = list(read_lines(result.results))
    assert len(lines) == 4
    bad = [line for line in lines if line["patient"] is None]
    assert [line["label"] for line in bad] == [str(broken)]
    assert bad[0]["problems"]
    assert result.summary.classified == 3
    assert [label for label, _ in result.summary.failures] == [str(broken)]
    out = tmp_path / "report"
    assert main(["cohort", str(root), "--out", str(out), "--quiet"]) == 0
    assert "P_broken" in (out / "cohort.html").read_text(encoding="utf-8")


def _interrupted_run(
    sources: list[PatientSource], out: Path, criteria: Criteria, done: int
) -> PartsFolder:
    """What a run killed after `done` patients leaves: finished parts and one unfinished."""
    parts = PartsFolder(out / PARTS_NAME)
    parts.start(sources_fingerprint(sources, criteria.to_dict()), len(sources), resume=False)
    batch = list(enumerate(sources))[:done]
    classify_batch_to_part(batch[: done // 2], criteria, str(parts.new_part(0)))
    classify_batch_to_part(batch[done // 2 :], criteria, str(parts.new_part(1)))
    # An atomic write cut short by the kill: a temporary file, never a part.
    (parts.folder / ".part-dead-000002.jsonl.abc.tmp").write_text('{"index": 2', "utf-8")
    return parts


def test_resume_classifies_only_the_patients_without_a_line(
    sources: list[PatientSource], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    criteria = Criteria()
    out = tmp_path / "out"
    _interrupted_run(sources, out, criteria, 12)
    calls: list[str] = []

    def counted(item: PatientSource, thresholds: Criteria):  # type: ignore[no-untyped-def]
        calls.append(item.label)
        return classify_source(item, thresholds)

    monkeypatch.setattr("napari_recist.cohort.batch.classify_source", counted)
    result = stream_sources(sources, criteria, out, progress=False, resume=True)
    assert sorted(calls) == sorted(s.label for s in sources[12:])
    assert result.classified_now == 18 and result.summary.classified == 30
    assert any("resumed: 12 of 30" in note for note in result.notes)
    monkeypatch.undo()
    fresh = stream_sources(sources, criteria, tmp_path / "fresh", progress=False)
    assert result.results.read_bytes() == fresh.results.read_bytes()


def test_a_damaged_part_is_discarded_and_its_patients_redone(
    sources: list[PatientSource], tmp_path: Path
) -> None:
    criteria = Criteria()
    out = tmp_path / "out"
    parts = _interrupted_run(sources, out, criteria, 10)
    damaged = parts.parts()[1]
    damaged.write_bytes(damaged.read_bytes()[:-40])  # last line cut short
    result = stream_sources(sources, criteria, out, progress=False, resume=True)
    assert any("discarded a damaged part" in note for note in result.notes)
    assert result.classified_now == 25
    fresh = stream_sources(sources, criteria, tmp_path / "fresh", progress=False)
    assert result.results.read_bytes() == fresh.results.read_bytes()


def test_no_resume_with_other_criteria_or_without_asking(
    sources: list[PatientSource], tmp_path: Path
) -> None:
    criteria = Criteria()
    out = tmp_path / "out"
    _interrupted_run(sources, out, criteria, 10)
    other = Criteria(require_confirmation=True)
    result = stream_sources(sources, other, out, progress=False, resume=True)
    assert result.classified_now == 30
    assert any("other inputs or criteria" in note for note in result.notes)
    _interrupted_run(sources, out, criteria, 10)
    assert stream_sources(sources, criteria, out, progress=False).classified_now == 30


def test_a_part_write_that_fails_leaves_no_part(tmp_path: Path) -> None:
    part = tmp_path / "part-x-000000.jsonl"

    def lines():  # type: ignore[no-untyped-def]
        yield '{"index":0}\n'
        yield '{"index":1}\n'
        raise KeyboardInterrupt  # the user stops the run mid-write

    with pytest.raises(KeyboardInterrupt):
        stream.write_part(part, lines())
    assert list(tmp_path.iterdir()) == []


def test_merge_refuses_missing_patients(sources: list[PatientSource], tmp_path: Path) -> None:
    from napari_recist.errors import InputError

    parts = PartsFolder(tmp_path / PARTS_NAME)
    parts.start("f", 30, resume=False)
    classify_batch_to_part(list(enumerate(sources))[:5], Criteria(), str(parts.new_part(0)))
    with pytest.raises(InputError, match="25 patients have no result"):
        parts.merge(tmp_path / RESULTS_NAME, 30)
    assert not (tmp_path / RESULTS_NAME).exists()


def test_cli_resume_flag(tmp_path: Path) -> None:
    records, _ = synthetic_cohort(12, seed=2)
    table = tmp_path / "lesions.csv"
    write_table(records, table)
    out = tmp_path / "out"
    sources = find_cohort(table).sources
    _interrupted_run(list(sources), out, Criteria(), 6)
    assert main(["cohort", str(table), "--out", str(out), "--quiet", "--resume"]) == 0
    assert len(list(read_lines(out / RESULTS_NAME))) == 12
    assert (out / "cohort.html").is_file()
