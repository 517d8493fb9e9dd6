"""Run a function over contiguous slices of a sequence on several processes, results in order.

`napari-recist classify` (issue 12) classifies patients independently of each other. On a
machine with several cores the patients are cut into contiguous slices; worker processes made
by ``fork`` inherit the records from the parent (nothing of the input is pickled), each
classifies a slice and sends back what is to be written (CSV text, summary text, problems;
the encoded JSON, the bulk, in a file of its own beside the output, which the parent copies
in), and the parent writes the slices in the order of the input, so the outputs are byte for
byte those of one process. Slices are small enough that memory stays bounded:
a worker copies on write only the records of the slice it reads.

Without ``fork`` (Windows, macOS's default spawn would pickle every record) everything runs
in the calling process. ``NAPARI_RECIST_WORKERS=1`` (or ``--workers 1``) does so anywhere.
"""

from __future__ import annotations

import contextlib
import itertools
import multiprocessing
import os
import signal
import sys
from collections import deque
from collections.abc import Callable, Iterator
from concurrent.futures import Future, ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from typing import Any, TypeVar

R = TypeVar("R")

# Below this many items per worker a second process costs more than it saves (a fork, a
# pipe per slice); the classification of one patient takes about 0.7 ms.
MIN_ITEMS_PER_WORKER = 250
# Slices per worker: enough that a slow slice does not leave the other worker idle, few
# enough that the per-slice overhead stays negligible.
SLICES_PER_WORKER = 8
MAX_SLICE = 200  # a slice's outputs (about 20 KB of JSON a patient) stay small in memory
WORKERS_VARIABLE = "NAPARI_RECIST_WORKERS"
IN_FLIGHT_PER_WORKER = 2  # slices computed ahead of the one written, per worker

# The work of the current run, set before the workers are forked (they inherit it).
_WORK: Callable[[int, int], Any] | None = None


class WorkerDiedError(RuntimeError):
    """A worker process ended before returning its slice (killed, out of memory)."""


def available_cores() -> int:
    """The number of cores this process may run on."""
    try:
        return len(os.sched_getaffinity(0))
    except (AttributeError, OSError):  # not on Linux
        return os.cpu_count() or 1


def can_fork() -> bool:
    """Whether worker processes can inherit the parent's memory (``fork``)."""
    return "fork" in multiprocessing.get_all_start_methods() and sys.platform != "darwin"


def worker_count(items: int, requested: int | None = None) -> int:
    """How many processes to use for `items` independent items.

    Parameters
    ----------
    items
        Number of items (patients).
    requested
        Processes asked for (``--workers``); None reads ``NAPARI_RECIST_WORKERS``, and when
        that is unset too, one process per core as long as each has at least
        `MIN_ITEMS_PER_WORKER` items.

    Returns
    -------
    int
        At least 1, at most `items` (1 when ``fork`` is not available).

    Raises
    ------
    ValueError
        When the requested number (option or variable) is not a whole number >= 1.
    """
    if requested is None:
        text = os.environ.get(WORKERS_VARIABLE, "").strip()
        if text:
            try:
                requested = int(text)
            except ValueError:
                raise ValueError(
                    f"{WORKERS_VARIABLE}={text!r}: the number of processes must be a whole "
                    "number >= 1"
                ) from None
    if requested is not None and requested < 1:
        raise ValueError(f"{requested} processes: the number of processes must be >= 1")
    if not can_fork():
        return 1
    if requested is None:
        requested = min(available_cores(), items // MIN_ITEMS_PER_WORKER)
    return max(1, min(requested, items))


def slices(items: int, workers: int) -> list[tuple[int, int]]:
    """Contiguous ``(start, stop)`` slices covering ``range(items)`` in order."""
    size = max(1, min(MAX_SLICE, -(-items // (workers * SLICES_PER_WORKER))))
    return [(start, min(start + size, items)) for start in range(0, items, size)]


def _ignore_interrupt() -> None:
    # Ctrl+C reaches the whole process group: the parent stops the workers itself.
    signal.signal(signal.SIGINT, signal.SIG_IGN)


@contextlib.contextmanager
def _interrupts_held() -> Iterator[None]:
    """Hold Ctrl+C (SIGINT) back while the pool forks its workers and starts its thread.

    The first ``submit`` forks every worker and then starts the pool's management thread. A
    Ctrl+C between the two left a thread that was made but never started, which the pool's
    shutdown then tried to join: a RuntimeError (exit 70, "internal error") instead of
    "interrupted". Held back, the interrupt arrives once the pool is whole and stops it as
    any other does. The workers are forked with SIGINT blocked, so one cannot reach them
    before their initializer ignores it either.
    """
    mask = getattr(signal, "pthread_sigmask", None)
    if mask is None:  # not on POSIX: nothing to hold
        yield
        return
    before = mask(signal.SIG_BLOCK, {signal.SIGINT})
    try:
        yield
    finally:
        mask(signal.SIG_SETMASK, before)


def _run_slice(bounds: tuple[int, int]) -> Any:
    assert _WORK is not None  # set by map_slices before the fork
    return _WORK(*bounds)


def map_slices(
    items: int, work: Callable[[int, int], R], workers: int, serial_size: int = 1
) -> Iterator[R]:
    """Yield ``work(start, stop)`` for contiguous slices of ``range(items)``, in order.

    Parameters
    ----------
    items
        Number of items.
    work
        Computes the result of one slice; in worker processes when `workers` > 1, so it
        reads its input from memory the parent had before this call (inherited by fork) and
        returns something picklable. An exception it raises is raised here, in order.
    workers
        Processes; 1 runs everything here, one slice after the other.
    serial_size
        The size of the slices on one process (results stream slice by slice).

    Yields
    ------
    R
        The result of each slice, in the order of the slices.
    """
    if workers <= 1 or items <= 1:
        for start in range(0, items, serial_size):  # results stream slice by slice
            yield work(start, min(start + serial_size, items))
        return
    global _WORK
    _WORK = work
    # Anything buffered now would be written again by each worker when it exits.
    for stream in (sys.stdout, sys.stderr):
        try:
            stream.flush()
        except (OSError, ValueError):
            pass
    pool = ProcessPoolExecutor(workers, mp_context=multiprocessing.get_context("fork"),
                               initializer=_ignore_interrupt)
    pending: deque[Future[Any]] = deque()
    bounds = iter(slices(items, workers))
    try:
        # At most IN_FLIGHT_PER_WORKER slices per worker are computed ahead of the one being
        # written: a slow reader of the output (a pipe, `less`) holds the workers back
        # instead of letting every slice's result pile up here.
        with _interrupts_held():  # the pool starts whole, then a Ctrl+C stops it
            for bound in itertools.islice(bounds, workers * IN_FLIGHT_PER_WORKER):
                pending.append(pool.submit(_run_slice, bound))
        while pending:
            result = pending.popleft().result()
            for bound in itertools.islice(bounds, 1):
                pending.append(pool.submit(_run_slice, bound))
            yield result
        pool.shutdown(wait=True)
    except BrokenProcessPool:
        pool.shutdown(wait=True, cancel_futures=True)
        raise WorkerDiedError(
            "a worker process ended without finishing its patients (killed, for example by "
            "the system when memory ran out); nothing was written. Run again with --workers 1 "
            f"or {WORKERS_VARIABLE}=1"
        ) from None
    except BaseException:
        # An error, Ctrl+C, a closed pipe, or the consumer stopped early: stop the workers.
        for future in pending:
            future.cancel()
        for process in list(getattr(pool, "_processes", {}).values()):
            process.terminate()
        pool.shutdown(wait=True, cancel_futures=True)
        raise
    finally:
        _WORK = None
