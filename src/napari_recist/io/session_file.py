"""The viewer's autosaved session table on disk: saved safely, never lost, never overwritten.

One patient folder holds ``napari-recist.session.csv`` (the lesion table with the axis end
points). This module owns every rule about that file:

- Saving goes through the one atomic writer (`napari_recist.io.atomic`): the file on disk is
  always the old or the new version. Temporary files a killed save left behind are removed
  on the next open (only those older than `STALE_TEMPORARY_SECONDS`, so a save in progress in
  another viewer is never disturbed).
- A save never overwrites changes another process made: the file's size and modification time
  are remembered at each read and save; when they differ at the next save, this viewer's
  version goes to a new ``napari-recist.session.conflict-<time>.csv`` instead, and the caller
  is told.
- Rows that cannot be restored are kept as they were in a new, time-stamped
  ``napari-recist.session.rejected-<time>.csv``: an earlier one is never overwritten.
- A lock file (``napari-recist.session.lock``: process id, host, time) says that a viewer has
  the patient open; a second viewer is warned; a lock whose process is gone is stale and taken
  over with a note.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import json
import os
import socket
import time
from dataclasses import dataclass
from pathlib import Path

SESSION_FILE = "napari-recist.session.csv"
LOCK_FILE = "napari-recist.session.lock"
REJECTED_PREFIX = "napari-recist.session.rejected-"
CONFLICT_PREFIX = "napari-recist.session.conflict-"
STALE_TEMPORARY_SECONDS = 60.0


def _stamp() -> str:
    return dt.datetime.now().strftime("%Y%m%d-%H%M%S-%f")


def _unique(folder: Path, prefix: str) -> Path:
    """A new file name ``prefix<time>.csv`` that does not exist yet."""
    while True:
        path = folder / f"{prefix}{_stamp()}.csv"
        if not path.exists():
            return path


@dataclass(frozen=True)
class FileState:
    """What identifies one version of a file: its size and modification time."""

    size: int
    mtime_ns: int

    @classmethod
    def of(cls, path: Path) -> FileState | None:
        """The state of a file, None when it does not exist."""
        try:
            stat = path.stat()
        except OSError:
            return None
        return cls(stat.st_size, stat.st_mtime_ns)


def remove_stale_temporaries(folder: Path) -> list[Path]:
    """Remove the temporary files killed saves of the session table left behind.

    Returns
    -------
    list of Path
        The files removed: all of them when no other live viewer holds the folder's lock,
        else those older than `STALE_TEMPORARY_SECONDS` (that viewer may be saving now).
    """
    removed = []
    now = time.time()
    minimum_age = STALE_TEMPORARY_SECONDS if SessionLock(folder).held_by_another() else 0.0
    for path in folder.glob(f".{SESSION_FILE}.*.tmp"):
        try:
            if now - path.stat().st_mtime >= minimum_age:
                path.unlink()
                removed.append(path)
        except OSError:
            continue
    return removed


def keep_rejected(folder: Path, text: bytes) -> Path:
    """Keep a session table as it was, in a new time-stamped file; return its path."""
    from napari_recist.io.atomic import atomic_write_bytes

    path = _unique(folder, REJECTED_PREFIX)
    atomic_write_bytes(path, text)
    return path


def _process_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True  # someone else's process
    except OSError:
        return False
    return True


class SessionLock:
    """The lock file of a patient folder: who else has it open."""

    def __init__(self, folder: Path) -> None:
        self.path = folder / LOCK_FILE
        self.held = False

    def acquire(self) -> str:
        """Take the lock; return what the user should know ("" when nothing).

        Never raises: a folder where no lock can be written (read-only) is reported.
        """
        note = ""
        other = self._read()
        if other is not None:
            pid, host = other.get("pid"), other.get("host")
            same_host = host == socket.gethostname()
            if isinstance(pid, int) and pid != os.getpid() and (
                not same_host or _process_alive(pid)
            ):
                note = (f"another napari-recist viewer (process {pid} on {host}, since "
                        f"{other.get('since', '?')}) has this patient open: its saves and "
                        "yours are kept apart (a conflicting save goes to a "
                        f"{CONFLICT_PREFIX}*.csv file), but edit in one viewer only")
                return note
            if isinstance(pid, int) and pid != os.getpid():
                note = f"a lock left by a viewer that is gone (process {pid}) was taken over"
        content = {"pid": os.getpid(), "host": socket.gethostname(),
                   "since": dt.datetime.now().isoformat(timespec="seconds")}
        try:
            from napari_recist.io.atomic import atomic_write_text

            atomic_write_text(self.path, json.dumps(content))
            self.held = True
        except OSError as error:
            note = (f"{self.path.parent} is not writable ({error.strerror or error}): the "
                    "patient is open read-only; export the lesion table to keep your edits")
        return note

    def held_by_another(self) -> bool:
        """True when another live process holds the lock."""
        other = self._read()
        if other is None or other.get("pid") == os.getpid():
            return False
        pid = other.get("pid")
        if other.get("host") != socket.gethostname():
            return True
        return isinstance(pid, int) and _process_alive(pid)

    def release(self) -> None:
        """Remove the lock if this process holds it."""
        if not self.held:
            return
        other = self._read()
        if other is not None and other.get("pid") == os.getpid():
            with contextlib.suppress(OSError):
                self.path.unlink()
        self.held = False

    def _read(self) -> dict[str, object] | None:
        try:
            data = json.loads(self.path.read_text(encoding="utf-8"))
        except (OSError, ValueError):
            return None
        return data if isinstance(data, dict) else None


def conflict_path(folder: Path) -> Path:
    """Where a save that would overwrite another process's changes goes instead."""
    return _unique(folder, CONFLICT_PREFIX)
