"""Where a command's output goes: a file (written atomically) or standard output for ``-``.

Every single-file output option of the command line (``--json``, ``--csv``) takes ``-`` for
standard output; folder options (``--out DIR``) cannot, and `refuse_stdout_folder` says so.
Only one output of a run can go to standard output.
"""

from __future__ import annotations

import contextlib
import logging
import shutil
import sys
import tempfile
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import IO, TYPE_CHECKING, Any

from napari_recist.errors import InputError, Problem
from napari_recist.io.atomic import atomic_open

if TYPE_CHECKING:
    from napari_recist.io.patient import Classifiable

STDOUT = "-"


def is_stdout(target: str | None) -> bool:
    """Whether an output option names standard output (``-``)."""
    return target == STDOUT


def one_stdout(options: dict[str, str | None]) -> None:
    """Refuse a run that sends more than one output to standard output.

    Parameters
    ----------
    options
        Option name (``--json``) to its value.

    Raises
    ------
    InputError
        When two or more options are ``-``.
    """
    taken = [name for name, value in options.items() if is_stdout(value)]
    if len(taken) > 1:
        raise InputError(
            [Problem(" and ".join(taken), "only one output can go to standard output (-)")]
        )


@contextlib.contextmanager
def open_output(
    target: str, newline: str | None = None, *, binary: bool = False
) -> Iterator[IO[Any]]:
    """Open an output: standard output for ``-``, else an atomic file (folder created).

    Parameters
    ----------
    target
        ``-`` or a file path.
    newline
        As for `open` (``""`` for CSV); standard output keeps its own setting.
    binary
        Open for bytes (UTF-8 encoded by the caller, e.g. orjson) instead of text.

    Yields
    ------
    file object
        Write to it; a file replaces `target` only when the block succeeds.
    """
    if is_stdout(target):
        if binary:
            sys.stdout.flush()
            yield sys.stdout.buffer
            sys.stdout.buffer.flush()
            return
        yield sys.stdout
        sys.stdout.flush()
        return
    Path(target).parent.mkdir(parents=True, exist_ok=True)
    if binary:
        with atomic_open(target, "wb") as handle:
            yield handle
        return
    with atomic_open(target, "w", newline=newline) as handle:
        yield handle


def write_via_file(target: str, write: Callable[[Path], object]) -> None:
    """Run a writer that only knows file paths, copying the result to stdout for ``-``.

    Parameters
    ----------
    target
        ``-`` or a file path.
    write
        Called with the path to write (a temporary file for ``-``), e.g. `io.table.write_table`.
    """
    if not is_stdout(target):
        Path(target).parent.mkdir(parents=True, exist_ok=True)
        write(Path(target))
        return
    with tempfile.TemporaryDirectory(prefix="napari-recist-") as folder:
        path = Path(folder) / "output"
        write(path)
        sys.stdout.flush()
        with open(path, "rb") as handle:
            shutil.copyfileobj(handle, sys.stdout.buffer)
        sys.stdout.buffer.flush()


def refuse_stdout_folder(option: str, value: str | None) -> None:
    """Refuse ``-`` for an option that names a folder.

    Raises
    ------
    InputError
        When `value` is ``-``.
    """
    if is_stdout(value):
        raise InputError(
            [
                Problem(
                    option,
                    "a folder is needed here; '-' (standard output) is only for single-file "
                    "outputs such as --json and --csv",
                )
            ]
        )


def log_read_problems(ready: Classifiable) -> None:
    """Tell what `OpenedPatient.for_classification` left out or found worth a look.

    Warnings, so that ``--quiet`` never hides how an input was read.
    """
    logger = logging.getLogger("napari_recist.commands")
    for problem in ready.skipped:
        logger.warning("skipped: %s", problem)
    for problem in ready.remarks:
        logger.warning("warning: %s", problem)
