"""Review reproductions: `commands._parallel.map_slices` when a worker does not come back.

A worker killed (OOM killer, SIGKILL, a crash in C) leaves `multiprocessing.Pool.imap`
waiting for its slice for ever: `classify` hangs with no message. An `InputError` raised in a
worker comes back with its text cut into single characters (it is re-made from its
message: ``str(error)`` is one character a line; ``error.problems`` survives). Both run in
a subprocess with a timeout so that the hang cannot hang the suite.
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
@pytest.mark.xfail(strict=True, reason="review: a dead worker hangs map_slices")
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
            print("raised", type(error).__name__)
    """)
    assert result.returncode == 0 and "raised" in result.stdout


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="fork workers")
@pytest.mark.xfail(strict=True, reason="review: InputError does not survive pickling")
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
