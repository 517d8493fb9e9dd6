"""`napari-recist classify` on several processes (issue 12): the same bytes as on one.

The workers are forked (they inherit the records); the parent writes their slices in patient
order. Checked here: every output byte for byte equal whatever the number of processes, errors
of a worker reported as the one-process run reports them, a closed pipe and Ctrl+C still quiet
with no worker left behind, and how many processes a run takes.
"""

from __future__ import annotations

import os
import random
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from napari_recist.cli import EXIT_BAD_INPUT, EXIT_CLOSED_PIPE, EXIT_INTERRUPTED, main
from napari_recist.commands import _parallel
from napari_recist.commands._parallel import map_slices, slices, worker_count
from napari_recist.criteria import report
from napari_recist.io.table import read_table, write_table

ROOT = Path(__file__).resolve().parents[2]
EXAMPLE = ROOT / "examples" / "lesions.csv"
CLI = [sys.executable, "-m", "napari_recist.cli"]
sys.path.insert(0, str(ROOT / "benchmarks"))
from bench_classify import generate_patient  # noqa: E402

pytestmark = pytest.mark.skipif(not _parallel.can_fork(), reason="workers need fork")


@pytest.fixture(scope="module")
def mixed_table(tmp_path_factory) -> Path:
    """The example patients (splits, coalescence, new nodes, NE, ...) and 150 generated ones."""
    rng = random.Random(12)
    records = read_table(EXAMPLE).records
    records += [generate_patient(rng, n) for n in range(150)]
    path = tmp_path_factory.mktemp("mixed") / "lesions.csv"
    write_table(records, path)
    return path


def _run(table: Path, folder: Path, workers: int, *options: str, capsys) -> tuple[bytes, ...]:
    out_json, out_csv = folder / f"w{workers}.json", folder / f"w{workers}.csv"
    argv = ["classify", str(table), "--json", str(out_json), "--csv", str(out_csv), *options]
    assert main([*argv, "--workers", str(workers)]) == 0
    summary = capsys.readouterr().out.encode()
    return out_json.read_bytes(), out_csv.read_bytes(), summary


@pytest.mark.parametrize("options", [(), ("--confirm",)], ids=["default", "confirm"])
def test_outputs_byte_identical_on_one_two_and_three_processes(
    mixed_table, tmp_path, capsys, options
):
    one = _run(mixed_table, tmp_path, 1, *options, capsys=capsys)
    assert one[0].count(b'"patient_id"') == len(read_table(mixed_table).records)
    for workers in (2, 3):
        assert _run(mixed_table, tmp_path, workers, *options, capsys=capsys) == one


def test_summary_alone_and_json_to_stdout_identical(mixed_table, capsys):
    outputs = []
    for workers in ("1", "2"):
        assert main(["classify", str(mixed_table), "--workers", workers]) == 0
        summary = capsys.readouterr().out
        assert main(["classify", str(mixed_table), "--json", "-", "--workers", workers]) == 0
        outputs.append((summary, capsys.readouterr().out))
    assert outputs[0] == outputs[1]
    assert outputs[0][0].count("Patient ") >= 150


def test_a_worker_error_is_the_same_problem_and_no_file(mixed_table, tmp_path, monkeypatch,
                                                         capsys):
    """A patient the engine refuses inside a worker: the same messages, in patient order."""
    real = report.PatientResult.to_json

    def poisoned(self):
        if self.patient_id in ("P00007", "P00140"):  # one in each worker's part
            raise ValueError(f"patient {self.patient_id}: a computed number is nan")
        return real(self)

    monkeypatch.setattr(report.PatientResult, "to_json", poisoned)
    errors = []
    for workers in ("1", "2"):
        out = tmp_path / f"w{workers}.json"
        assert main(["classify", str(mixed_table), "--json", str(out), "--workers",
                     workers]) == EXIT_BAD_INPUT
        assert not out.exists()
        assert sorted(tmp_path.iterdir()) == [], "a temporary file or slice folder was left"
        errors.append(capsys.readouterr().err)
    assert errors[0] == errors[1]
    assert errors[0].index("P00007") < errors[0].index("P00140")


def test_worker_slices_go_through_files_beside_the_output(mixed_table, tmp_path, monkeypatch,
                                                          capsys):
    """On several processes each slice's JSON is a file in a folder beside the output, copied
    into it by the parent (never through the pipes) and removed; the JSON is byte for byte
    the one-process JSON also when the kernel cannot copy between the files."""
    one = tmp_path / "one" / "w1.json"
    assert main(["classify", str(mixed_table), "--json", str(one), "--workers", "1"]) == 0
    from napari_recist.commands import _json_stream, classify

    copied, spilled = [], []
    real_add, real_spill = _json_stream.ClassificationWriter.add_file, classify._spill

    def add_file(self, path, count):
        copied.append((Path(path).parent, count))
        return real_add(self, path, count)

    def spill(folder, name, encoded):
        spilled.append(folder)  # in the worker: seen here only on one process
        return real_spill(folder, name, encoded)

    monkeypatch.setattr(_json_stream.ClassificationWriter, "add_file", add_file)
    monkeypatch.setattr(classify, "_spill", spill)
    for kernel_copy in (True, False):
        if not kernel_copy:
            def refuse(*args):
                raise OSError(18, "Invalid cross-device link")

            monkeypatch.setattr(os, "copy_file_range", refuse, raising=False)
        folder = tmp_path / f"out{kernel_copy}"
        out = folder / "w2.json"
        copied.clear()
        assert main(["classify", str(mixed_table), "--json", str(out), "--workers", "2"]) == 0
        assert out.read_bytes() == one.read_bytes()
        assert sum(count for _, count in copied) == one.read_bytes().count(b'"patient_id"')
        assert {parent.parent for parent, _ in copied} == {folder}
        assert [path.name for path in folder.iterdir()] == ["w2.json"]  # slices removed
    capsys.readouterr()


def test_a_full_disk_in_a_worker_names_the_json_and_leaves_nothing(mixed_table, tmp_path,
                                                                    monkeypatch, capsys):
    from napari_recist.commands import classify

    def full(folder, name, encoded):  # runs in the workers (forked after the patch)
        raise OSError(28, "No space left on device", os.path.join(folder, f"{name}.json"))

    monkeypatch.setattr(classify, "_spill", full)
    out = tmp_path / "out.json"
    assert main(["classify", str(mixed_table), "--json", str(out), "--workers", "2"]) == (
        EXIT_BAD_INPUT)
    err = capsys.readouterr().err
    assert f"{out}: cannot write: No space left on device" in err
    assert "Traceback" not in err and "slices" not in err
    assert list(tmp_path.iterdir()) == []


def test_a_bad_number_of_processes_is_refused(monkeypatch, capsys):
    assert main(["classify", str(EXAMPLE), "--workers", "0"]) == EXIT_BAD_INPUT
    assert "must be >= 1" in capsys.readouterr().err
    monkeypatch.setenv("NAPARI_RECIST_WORKERS", "two")
    assert main(["classify", str(EXAMPLE)]) == EXIT_BAD_INPUT
    assert "NAPARI_RECIST_WORKERS='two'" in capsys.readouterr().err


def test_how_many_processes(monkeypatch):
    monkeypatch.delenv("NAPARI_RECIST_WORKERS", raising=False)
    monkeypatch.setattr(_parallel, "available_cores", lambda: 2)
    assert worker_count(10) == 1  # small inputs stay in one process
    assert worker_count(2 * _parallel.MIN_ITEMS_PER_WORKER - 1) == 1
    assert worker_count(2 * _parallel.MIN_ITEMS_PER_WORKER) == 2
    assert worker_count(10_000) == 2  # one per core
    assert worker_count(10_000, 1) == 1
    assert worker_count(3, 8) == 3  # never more than the items
    monkeypatch.setenv("NAPARI_RECIST_WORKERS", "1")
    assert worker_count(10_000) == 1
    monkeypatch.setattr(_parallel, "can_fork", lambda: False)
    assert worker_count(10_000, 2) == 1


def test_slices_cover_everything_in_order():
    for items, workers in ((0, 2), (1, 2), (7, 2), (10_000, 2), (16_001, 2), (5, 8)):
        parts = slices(items, workers)
        assert [i for start, stop in parts for i in range(start, stop)] == list(range(items))
        assert all(stop - start <= _parallel.MAX_SLICE for start, stop in parts)
    assert list(map_slices(40, lambda a, b: (a, b), 2)) == slices(40, 2)  # in order
    assert slices(40, 2) == [(i, i + 3) for i in range(0, 39, 3)] + [(39, 40)]
    assert list(map_slices(3, lambda a, b: (a, b), 1)) == [(0, 1), (1, 2), (2, 3)]
    assert list(map_slices(5, lambda a, b: (a, b), 1, serial_size=2)) == [(0, 2), (2, 4), (4, 5)]


def _children(pid: int) -> list[int]:
    found = []
    for task in Path(f"/proc/{pid}/task").iterdir():
        text = (task / "children").read_text().split()
        found += [int(child) for child in text]
    return found


def _alive(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except FileNotFoundError:
        return False
    return state != "Z"


@pytest.fixture(scope="module", params=["in parts", "whole"])
def big_table(request, tmp_path_factory) -> Path:
    """1,500 patients: read in parts by the workers, or (one quoted cell: the column-wise
    reader declines the file) read whole by the parent and streamed slice by slice."""
    rng = random.Random(5)
    path = tmp_path_factory.mktemp("big") / "lesions.csv"
    write_table([generate_patient(rng, n) for n in range(1500)], path)
    if request.param == "whole":
        text = path.read_text()
        path.write_text(text.replace(",lung,", ',"lung",', 1))
    return path


def _start(table: Path) -> subprocess.Popen:
    env = {**os.environ, "NAPARI_RECIST_WORKERS": "2"}
    return subprocess.Popen([*CLI, "classify", str(table)], stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, env=env)


def _workers_of(process: subprocess.Popen) -> list[int]:
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        children = _children(process.pid)
        if len(children) >= 2:
            return children
        time.sleep(0.01)
    raise AssertionError("no worker processes seen")


@pytest.mark.skipif(not Path("/proc/self/task").exists(), reason="needs /proc")
def test_reader_closing_early_quiet_and_no_worker_left(big_table):
    """`napari-recist classify big.csv | head -n 1` on two processes: exit 141, silent."""
    process = _start(big_table)
    workers = _workers_of(process)
    first = process.stdout.readline()  # a table read in parts shows it once all are clean
    process.stdout.close()
    code = process.wait(timeout=120)
    stderr = process.stderr.read().decode()
    process.stderr.close()
    assert first.startswith(b"Patient ")
    assert code == EXIT_CLOSED_PIPE
    assert stderr == ""
    deadline = time.monotonic() + 10
    while any(_alive(pid) for pid in workers) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert not any(_alive(pid) for pid in workers)


@pytest.mark.skipif(not Path("/proc/self/task").exists(), reason="needs /proc")
def test_ctrl_c_stops_the_workers_without_a_traceback(big_table):
    process = _start(big_table)
    workers = _workers_of(process)
    for pid in (process.pid, *workers):  # Ctrl+C reaches the whole process group
        os.kill(pid, signal.SIGINT)
    process.stdout.read()
    code = process.wait(timeout=120)
    stderr = process.stderr.read().decode()
    process.stdout.close()
    process.stderr.close()
    assert code == EXIT_INTERRUPTED
    assert "interrupted" in stderr
    assert "Traceback" not in stderr and "KeyboardInterrupt" not in stderr
    deadline = time.monotonic() + 10
    while any(_alive(pid) for pid in workers) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert not any(_alive(pid) for pid in workers)


def _slice_sum(start: int, stop: int) -> int:
    return sum(range(start, stop))


@pytest.mark.skipif(not hasattr(signal, "pthread_sigmask"), reason="needs POSIX signal masks")
def test_ctrl_c_while_the_pool_starts_is_an_interrupt(monkeypatch):
    """Ctrl+C after the workers are forked but before the pool's thread runs (CI saw exit 70).

    The pool's first submit forks the workers, then starts its management thread; a SIGINT
    delivered between the two once left a thread made but never started, and stopping the
    pool raised RuntimeError ("cannot join thread before it is started") in place of the
    interrupt. Here the SIGINT is sent at exactly that point.
    """
    from concurrent.futures import process

    start = process._ExecutorManagerThread.start
    workers: list[int] = []
    others = set(_children(os.getpid()))  # processes of the test session, not the pool's

    def interrupted_start(thread):
        workers.extend(set(_children(os.getpid())) - others)
        os.kill(os.getpid(), signal.SIGINT)  # handled at the next bytecode, unless held back
        start(thread)

    monkeypatch.setattr(process._ExecutorManagerThread, "start", interrupted_start)
    results = map_slices(100_000, _slice_sum, 2)
    with pytest.raises(KeyboardInterrupt):
        list(results)
    assert len(workers) >= 2
    deadline = time.monotonic() + 10
    while any(_alive(pid) for pid in workers) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert not any(_alive(pid) for pid in workers)
