"""Decode compressed CT slices (JPEG 2000, JPEG-LS, JPEG, RLE) in worker processes.

pydicom's pixel handlers decode a slice while holding the interpreter lock (openjpeg through
pylibjpeg runs on one thread: 300 JPEG 2000 slices of 512x512 took 8.2 s where SimpleITK/GDCM,
on two threads, took 5.2 s), so threads do not share the work; processes do. Each slice is
decoded by the very function the single-process path uses (`decode_stored`), so a volume is
bit for bit the same however many processes decoded it; only the decoded stored values
(before rescale) come back, one slice at a time, and are copied into the output volume as they
arrive, so the memory held beyond the volume is a few slices.

The pool is started on the first compressed series big enough to be worth it (its workers'
start-up, about half a second, is paid once per session) and kept for the next series. It
uses the ``spawn`` start method (no fork of a process holding Qt or other threads), without
the main-module import `multiprocessing` does by default: a worker only needs this module, and
re-running the caller's script in each worker (a script without an ``if __name__ ==
"__main__":`` guard, as most scripts calling `load_series` are) would repeat whatever the
script does. Inside a daemonic process (a Dask or multiprocessing
worker, which may not have children), or when ``NAPARI_RECIST_DECODE_PROCESSES`` is 0 or 1,
slices are decoded in the calling process, as they are when the pool breaks (a worker killed).
"""

from __future__ import annotations

import atexit
import multiprocessing
import multiprocessing.context
import os
import sys
import threading
from collections.abc import Iterator, Sequence
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from pydicom.pixels import pixel_array as decode_pixel_array

# Below this many compressed slices the pool's round trips are not worth it (a thumbnail or
# a scout series): decode in this process.
MIN_SLICES = 16
# Slices sent to a worker per round trip: few enough that both workers get an even share of a
# 60-slice series, enough that the per-task cost (pickling the job, waking a worker) stays
# small against a decode of a few milliseconds.
CHUNK = 4


@dataclass(frozen=True)
class DecodeJob:
    """What a worker needs to decode one slice (small to pickle: no pydicom dataset).

    Parameters
    ----------
    path
        The DICOM file.
    frame
        0-based frame of a multi-frame image, None for a single-frame image.
    rows, columns
        Expected shape.
    stored_dtype
        Stored value type (signedness, bytes) from the header.
    bits_stored
        Bits Stored: the bits above it are cleared in unsigned values.
    """

    path: Path
    frame: int | None
    rows: int
    columns: int
    stored_dtype: np.dtype
    bits_stored: int


def clear_unused_bits(stored_dtype: np.dtype, bits_stored: int, plane: np.ndarray) -> None:
    """Zero the bits above Bits Stored of unsigned values (PS3.5 8.1.1: not pixel data).

    pydicom and SimpleITK mask them too; one in-place pass, cheaper than testing first.
    """
    if stored_dtype.kind == "u" and bits_stored < stored_dtype.itemsize * 8:
        np.bitwise_and(plane, plane.dtype.type((1 << bits_stored) - 1), out=plane)


def decode_stored(job: DecodeJob) -> np.ndarray | str:
    """Decode one compressed slice to its stored values, or say why it cannot be decoded.

    Returns
    -------
    numpy.ndarray or str
        ``(rows, columns)`` stored values, or the problem in words (the caller names the
        file: a worker's exception would lose the message's context).
    """
    try:
        # From the path (least memory, pydicom docs); one frame of a multi-frame image.
        pixels = decode_pixel_array(job.path, index=job.frame)
    except Exception as error:  # noqa: BLE001 - any decoder failure is reported per file
        reason = str(error) or type(error).__name__
        return f"pixel data could not be decoded ({reason})" + (
            f", frame {job.frame + 1}" if job.frame is not None else ""
        )
    if pixels.shape != (job.rows, job.columns):
        return f"pixel data shape {pixels.shape}, expected {job.rows}x{job.columns}"
    clear_unused_bits(job.stored_dtype, job.bits_stored, pixels)
    return pixels


def decode_processes() -> int:
    """Worker processes for compressed slices: ``NAPARI_RECIST_DECODE_PROCESSES`` or the CPUs."""
    text = os.environ.get("NAPARI_RECIST_DECODE_PROCESSES", "")
    try:
        return max(0, int(text)) if text else (os.cpu_count() or 1)
    except ValueError:
        return os.cpu_count() or 1


class _WorkerProcess(multiprocessing.context.SpawnProcess):
    """A spawned process that does not import the parent's ``__main__`` module.

    `multiprocessing.spawn.get_preparation_data`, called while the process starts, tells the
    child to run the parent's main script (``init_main_from_path``) or module
    (``init_main_from_name``) when ``__main__`` has a ``__file__`` or a ``__spec__``; both are
    hidden for the moment of the start.
    """

    def start(self) -> None:
        main = sys.modules["__main__"]
        hidden = {k: main.__dict__[k] for k in ("__file__", "__spec__") if k in main.__dict__}
        try:
            main.__dict__.pop("__file__", None)
            main.__dict__["__spec__"] = None
            super().start()
        finally:
            main.__dict__.pop("__spec__", None)
            main.__dict__.update(hidden)


class _WorkerContext(multiprocessing.context.SpawnContext):
    Process = _WorkerProcess  # type: ignore[assignment]


_lock = threading.Lock()
_pool: ProcessPoolExecutor | None = None
_pool_size = 0


def _shutdown() -> None:
    global _pool
    with _lock:
        if _pool is not None:
            _pool.shutdown(wait=True, cancel_futures=True)
            _pool = None


atexit.register(_shutdown)


def _get_pool(processes: int) -> ProcessPoolExecutor | None:
    global _pool, _pool_size
    if processes <= 1 or multiprocessing.current_process().daemon:
        return None
    with _lock:
        if _pool is None or _pool_size != processes:
            if _pool is not None:
                _pool.shutdown(wait=False, cancel_futures=True)
            try:
                _pool = ProcessPoolExecutor(max_workers=processes, mp_context=_WorkerContext())
            except (OSError, ValueError, NotImplementedError):  # no semaphores, a sandbox
                _pool = None
                return None
            _pool_size = processes
        return _pool


def _forget(pool: ProcessPoolExecutor) -> None:
    global _pool
    with _lock:
        if _pool is pool:
            _pool = None
    pool.shutdown(wait=False, cancel_futures=True)


def decode_many(
    jobs: Sequence[DecodeJob], processes: int | None = None
) -> Iterator[np.ndarray | str]:
    """Decode `jobs` in order, in worker processes when there are enough of them.

    Parameters
    ----------
    jobs
        The compressed slices.
    processes
        Worker processes; default `decode_processes()`; 0 or 1 decodes in this process.

    Yields
    ------
    numpy.ndarray or str
        `decode_stored` of each job, in the order of `jobs`.
    """
    count = decode_processes() if processes is None else processes
    pool = _get_pool(count) if len(jobs) >= MIN_SLICES else None
    done = 0
    if pool is not None:
        from concurrent.futures.process import BrokenProcessPool

        try:
            for result in pool.map(decode_stored, jobs, chunksize=CHUNK):
                yield result
                done += 1
        except BrokenProcessPool:  # a worker died (killed, out of memory): go on here
            _forget(pool)
        except RuntimeError:  # the interpreter is shutting down
            _forget(pool)
    for job in jobs[done:]:
        yield decode_stored(job)
