"""`napari-recist classify` reading a large table in parts on the workers (issue 12).

The parent cuts the table into runs of whole patients and each worker reads its runs; the
outputs must be byte for byte those of the whole-table read on one process, and anything the
parts cannot vouch for (a patient's rows in two runs, a problem, a warning, a skipped row, no
baseline) must give exactly what the whole-table read gives, with nothing on standard output
before it.
"""

from __future__ import annotations

import random
import sys
from pathlib import Path

import pytest

from napari_recist.cli import EXIT_BAD_INPUT, main
from napari_recist.commands import _parallel, _table_parts
from napari_recist.io import table as table_module
from napari_recist.io.table import read_table, write_table
from napari_recist.io.table_fast import split_by_patient, table_part

ROOT = Path(__file__).resolve().parents[2]
EXAMPLE = ROOT / "examples" / "lesions.csv"
sys.path.insert(0, str(ROOT / "benchmarks"))
from bench_classify import generate_patient  # noqa: E402

pytestmark = pytest.mark.skipif(not _parallel.can_fork(), reason="workers need fork")


@pytest.fixture
def parts_seen(monkeypatch) -> list[int]:
    """Any table is cut (no size floor); the number of runs each parts run classified."""
    monkeypatch.setattr(_table_parts, "MIN_BYTES", 0)
    seen: list[int] = []
    real = _table_parts.classified_parts

    def counting(parts, work):
        seen.append(0)
        for output in real(parts, work):
            seen[-1] += 1
            yield output

    monkeypatch.setattr(_table_parts, "classified_parts", counting)
    return seen


def _generated(count: int, seed: int = 3) -> list:
    rng = random.Random(seed)
    return [generate_patient(rng, n) for n in range(count)]


def _classify(table: Path, folder: Path, workers: int, capsys, *options: str):
    folder.mkdir(exist_ok=True)
    out_json, out_csv = folder / f"{workers}.json", folder / f"{workers}.csv"
    code = main(["classify", str(table), "--json", str(out_json), "--csv", str(out_csv),
                 "--workers", str(workers), "-v", *options])
    captured = capsys.readouterr()
    outputs = tuple(path.read_bytes() if path.exists() else None for path in (out_json, out_csv))
    return code, (*outputs, captured.out), captured.err


def _same_as_whole(table: Path, tmp_path: Path, capsys, *options: str):
    whole = _classify(table, tmp_path / "whole", 1, capsys, *options)
    parts = _classify(table, tmp_path / "parts", 2, capsys, *options)
    assert parts[0] == whole[0]
    assert parts[1] == whole[1]  # JSON, CSV, summary
    return whole, parts


def test_split_cuts_only_between_patients(tmp_path):
    path = tmp_path / "t.csv"
    write_table(_generated(40), path)
    data = path.read_bytes()
    runs = split_by_patient(data, data.decode(), 6)
    assert runs is not None and len(runs) >= 2
    header_end = data.index(b"\n") + 1
    assert runs[0][0] == header_end and runs[-1][1] == len(data)
    assert all(a[1] == b[0] for a, b in zip(runs, runs[1:], strict=False))  # contiguous
    names = [{line.split(b",")[0] for line in table_part(data, runs, k).splitlines()[1:]}
             for k in range(len(runs))]
    assert sum(map(len, names)) == 40  # no patient in two runs
    one = tmp_path / "one.csv"
    write_table(_generated(1), one)
    assert split_by_patient(one.read_bytes(), one.read_text(), 4) is None  # nothing to cut
    quoted = data.replace(b",lung,", b',"lung",', 1)
    assert split_by_patient(quoted, quoted.decode(), 4) is None  # read_fast declines it


def test_split_follows_the_patient_column_wherever_it_is(tmp_path):
    path = tmp_path / "t.csv"
    write_table(_generated(30), path)
    lines = path.read_text().splitlines()
    moved = "\n".join(",".join([*line.split(",")[1:], line.split(",")[0]]) for line in lines)
    data = (moved + "\n").encode()
    runs = split_by_patient(data, data.decode(), 5)
    assert runs is not None
    patients = [{line.rsplit(b",", 1)[1] for line in table_part(data, runs, k).splitlines()[1:]}
                for k in range(len(runs))]
    assert sum(map(len, patients)) == 30


def test_outputs_byte_identical_to_the_whole_table(tmp_path, capsys, parts_seen):
    records = read_table(EXAMPLE).records + _generated(300)
    path = tmp_path / "t.csv"
    write_table(records, path)
    whole, parts = _same_as_whole(path, tmp_path, capsys)
    assert parts_seen and parts_seen[0] >= 2  # read in parts
    assert "read whole" not in parts[2]


@pytest.mark.parametrize("variant", ["crlf", "bom", "semicolon", "blank lines", "confirm"])
def test_table_variants_in_parts(tmp_path, capsys, parts_seen, variant):
    path = tmp_path / "t.csv"
    write_table(_generated(120, seed=8), path)
    data = path.read_bytes()
    options: tuple[str, ...] = ()
    if variant == "crlf":
        data = data.replace(b"\n", b"\r\n")
    elif variant == "bom":
        data = b"\xef\xbb\xbf" + data
    elif variant == "semicolon":
        data = data.replace(b",", b";")
    elif variant == "blank lines":
        lines = data.split(b"\n")
        data = b"\n".join(line + (b"\n" if k % 37 == 5 else b"") for k, line in enumerate(lines))
    else:
        options = ("--confirm",)
    path.write_bytes(data)
    _same_as_whole(path, tmp_path, capsys, *options)
    assert parts_seen and parts_seen[0] >= 2


@pytest.mark.parametrize("target", ["--json", "--csv"])
def test_standard_output_held_until_every_part_is_clean(tmp_path, capsys, parts_seen, target):
    path = tmp_path / "t.csv"
    write_table(_generated(80), path)
    outputs = []
    for workers in ("1", "2"):
        assert main(["classify", str(path), target, "-", "--workers", workers]) == 0
        outputs.append(capsys.readouterr().out)
    assert outputs[0] == outputs[1] and outputs[0]
    assert parts_seen


def test_a_patient_in_two_runs_is_read_whole(tmp_path, capsys, parts_seen):
    path = tmp_path / "t.csv"
    write_table(_generated(60), path)
    lines = path.read_text().splitlines(keepends=True)
    # P00000's lesion T1 at the start, its other lesions at the end: each run reads a clean
    # patient P00000, the whole table one patient with all its lesions.
    first = [line for line in lines[1:] if line.startswith("P00000,") and ",T1," in line]
    last = [line for line in lines[1:] if line.startswith("P00000,") and ",T1," not in line]
    rest = [line for line in lines[1:] if not line.startswith("P00000,")]
    path.write_text(lines[0] + "".join(first) + "".join(rest) + "".join(last))
    whole, parts = _same_as_whole(path, tmp_path, capsys)
    assert "not contiguous" in parts[2]
    assert whole[1][0].index(b'"P00000"') < whole[1][0].index(b'"P00001"')  # first-row order


@pytest.mark.parametrize("damage", ["bad size", "no baseline", "warning"])
def test_a_damaged_part_gives_what_the_whole_table_gives(tmp_path, capsys, parts_seen, damage):
    path = tmp_path / "t.csv"
    write_table(_generated(60), path)
    lines = path.read_text().splitlines(keepends=True)
    last = lines[-1].split(",")
    if damage == "bad size":
        last[7] = "-3"
        lines[-1] = ",".join(last)
    elif damage == "no baseline":
        patient = last[0]
        lines = [line for line in lines if not line.startswith(f"{patient},0,")]
    else:
        last[5] = "axillary node"  # sounds like a node but is not 'lymph node': a warning
        lines[-1] = ",".join(last)
    path.write_text("".join(lines))
    for options in ((), ("--lenient",)):
        whole, parts = _same_as_whole(path, tmp_path, capsys, *options)
        assert "read whole" in parts[2]
        if whole[0] == EXIT_BAD_INPUT:
            assert parts[1] == (None, None, "")  # nothing on standard output, no file
        assert _said(parts[2], tmp_path / "parts", "2") == _said(whole[2], tmp_path / "whole", "1")


def _said(stderr: str, folder: Path, name: str) -> list[str]:
    """What a run told the user (not the debug lines), its output files' names made equal."""
    lines = [line for line in stderr.splitlines() if not line.startswith("debug:")]
    return [line.replace(str(folder / name), "OUT") for line in lines]


def test_small_tables_and_one_worker_are_read_whole(tmp_path, monkeypatch):
    path = tmp_path / "t.csv"
    write_table(_generated(20), path)
    assert _table_parts.plan(path, str(path), 2) is None  # under MIN_BYTES
    monkeypatch.setattr(_table_parts, "MIN_BYTES", 0)
    assert _table_parts.plan(path, str(path), 1) is None
    parts = _table_parts.plan(path, str(path), 2)
    assert parts is not None and parts.workers == 2
    assert len(parts.runs) == 2 * _table_parts.PARTS_PER_WORKER
    binary = tmp_path / "b.csv"
    binary.write_bytes(b"\x89PNG\r\n\x1a\n" + path.read_bytes())
    assert _table_parts.plan(binary, str(binary), 2) is None  # the whole read reports it
    with pytest.raises(ValueError):
        _table_parts.plan(path, str(path), 0)
    assert table_module.read_table(path).records  # untouched
