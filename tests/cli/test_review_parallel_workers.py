"""`commands._parallel.map_slices` when a worker does not come back (found in review).

A worker killed (OOM killer, SIGKILL, a crash in C) left `multiprocessing.Pool.imap` waiting
for its slice for ever: `classify` hung with no message; now it is `WorkerDiedError`. An
`InputError` raised in a worker came back with its text cut into single characters; it now
crosses the process boundary whole. A slow reader of the output holds the workers back
instead of letting every result pile up. Each runs in a subprocess with a timeout so that a
hang cannot hang the suite.
"""

from __future__ import annotations

import subprocess
import sys
import textwrap

import pytest

_PRELUDE = textwrap.dedent("""
    import os
    from napari_recist.commands import _parallel as P
    from napari_recist.errors import InputError, Problem
""")


def _run(body: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-c", _PRELUDE + textwrap.dedent(body)],
                          capture_output=True, text=True, timeout=60)


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="fork workers")
def test_a_worker_that_dies_is_an_error_not_a_hang() -> None:
    result = _run("""
        import signal
        signal.alarm(10)  # the hang, made visible: SIGALRM kills the process (rc -14)
        def work(start, stop):
            if start >= 4:
                os._exit(1)  # as the OOM killer would end it
            return start
        try:
            list(P.map_slices(20, work, 2))
        except Exception as error:
            print("raised", type(error).__name__, error)
    """)
    assert result.returncode == 0 and "raised WorkerDiedError" in result.stdout, result


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="fork workers")
def test_an_input_error_in_a_worker_keeps_its_text() -> None:
    result = _run("""
        def work(start, stop):
            if start >= 4:
                raise InputError([Problem("x.csv", "boom", 3)])
            return start
        try:
            list(P.map_slices(20, work, 2))
        except InputError as error:
            print(repr(str(error)))
    """)
    assert "\\n" not in result.stdout, result.stdout


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="fork workers")
def test_a_slow_reader_holds_the_workers_back() -> None:
    result = _run("""
        import time
        def work(start, stop):
            return os.getpid(), time.monotonic()
        done = []
        for index, (pid, when) in enumerate(P.map_slices(400, work, 2)):
            done.append(when)
            if index == 0:
                time.sleep(1.0)  # the consumer stalls after the first slice
        # While it stalled, at most 2 slices per worker were computed ahead.
        ahead = sum(1 for when in done[1:] if when < done[0] + 0.9)
        print("ahead", ahead)
    """)
    assert result.returncode == 0, result.stderr
    ahead = int(result.stdout.split()[-1])
    assert ahead <= 2 * 2, result.stdout


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="fork workers")
def test_classify_reports_a_dead_worker(tmp_path) -> None:
    from napari_recist.cohort.synthetic import synthetic_cohort
    from napari_recist.io.table import write_table

    table = tmp_path / "t.csv"
    write_table(synthetic_cohort(60, seed=3)[0], table)
    out = tmp_path / "out.json"
    result = _run(f"""
        import sys
        from napari_recist.commands import classify
        from napari_recist.cli import main
        real = classify.classify_patient
        def dying(record, criteria):
            if record.patient_id == sorted_ids[-1]:
                os._exit(9)
            return real(record, criteria)
        from napari_recist.io.table import read_table
        sorted_ids = [r.patient_id for r in read_table({str(table)!r}).records]
        classify.classify_patient = dying
        sys.exit(main(["classify", {str(table)!r}, "--json", {str(out)!r}, "--workers", "2"]))
    """)
    assert result.returncode != 0 and "worker process ended" in result.stderr, result
    assert "Traceback" not in result.stderr
    assert not out.exists()
