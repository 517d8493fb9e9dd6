"""The problems met while opening a patient, kept for as long as the patient is open.

napari's notifications are toasts: with ``napari --plugin napari-recist FOLDER`` the window
appears when loading ends and the toasts of the load are gone or covered (issue 17). The
reader also writes every message here; the lesion table dock lists them until the patient is
closed. Keyed by session, so `PatientSession` itself needs no new field.
"""

from __future__ import annotations

import weakref
from collections.abc import Iterable

from psygnal import Signal


class ProblemLog:
    """The messages of one open patient, in the order they came."""

    changed = Signal()

    def __init__(self) -> None:
        self.entries: list[str] = []

    def extend(self, messages: Iterable[str]) -> None:
        """Add messages (each once) and tell the views."""
        new = [text for text in (str(m).strip() for m in messages)
               if text and text not in self.entries]
        if new:
            self.entries += new
            self.changed.emit()

    def clear(self) -> None:
        """Forget every message (the patient is closed)."""
        if self.entries:
            self.entries = []
            self.changed.emit()


_LOGS: weakref.WeakKeyDictionary[object, ProblemLog] = weakref.WeakKeyDictionary()


def problem_log(session: object) -> ProblemLog:
    """The one problem log of a session (made on first use)."""
    log = _LOGS.get(session)
    if log is None:
        log = _LOGS[session] = ProblemLog()
    return log
