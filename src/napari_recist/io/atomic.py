"""Atomic file writes: a temporary file in the same folder, then a rename.

A crash or a full disk mid-write never leaves a user's file half written.
"""

from __future__ import annotations

import contextlib
import os
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import IO


@contextlib.contextmanager
def atomic_open(path: str | os.PathLike[str], mode: str = "w", **kwargs: object) -> Iterator[IO]:
    """Open a temporary file beside `path` that replaces `path` when the block succeeds.

    Parameters
    ----------
    path
        The file to (re)write; its folder must exist.
    mode
        ``"w"`` (text, UTF-8 unless `encoding` is given) or ``"wb"``.
    **kwargs
        Passed to `open` (e.g. ``newline=""`` for CSV).

    Yields
    ------
    file object
        Write to it; on an exception the temporary file is removed and `path` is untouched.
    """
    target = Path(path)
    if "b" not in mode:
        kwargs.setdefault("encoding", "utf-8")
    descriptor, temporary = tempfile.mkstemp(
        prefix=f".{target.name}.", suffix=".tmp", dir=target.parent
    )
    os.close(descriptor)
    try:
        with open(temporary, mode, **kwargs) as handle:  # type: ignore[call-overload]
            yield handle
            handle.flush()
            os.fsync(handle.fileno())
        if target.exists():
            os.chmod(temporary, target.stat().st_mode & 0o777)
        else:
            os.chmod(temporary, 0o644)
        os.replace(temporary, target)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(temporary)
        raise


def atomic_write_text(path: str | os.PathLike[str], text: str) -> None:
    """Write text (UTF-8) to `path` atomically."""
    with atomic_open(path, "w") as handle:
        handle.write(text)


def atomic_write_bytes(path: str | os.PathLike[str], data: bytes) -> None:
    """Write bytes to `path` atomically."""
    with atomic_open(path, "wb") as handle:
        handle.write(data)
