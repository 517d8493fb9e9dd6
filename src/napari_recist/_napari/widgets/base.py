"""The base class of the docks: the session plumbing, written once.

A dock gets the patient it shows from the viewer's one `SessionTracker` (the registry), is
told when that patient changes (`on_session_changed`) and after every edit
(`on_session_edited`), and lets go of both when it is closed.
"""

from __future__ import annotations

import contextlib
from typing import TYPE_CHECKING, Any

from qtpy.QtWidgets import QWidget

from napari_recist._napari.binding import session_tracker, unwrap
from napari_recist._napari.session import PatientSession

if TYPE_CHECKING:
    import napari


class SessionDock(QWidget):
    """A dock widget that follows the patient open in its viewer.

    Parameters
    ----------
    napari_viewer
        The viewer (given by napari when the widget is docked).

    Notes
    -----
    Subclasses build their widgets, then call `follow_session` once.
    """

    def __init__(self, napari_viewer: napari.Viewer) -> None:
        super().__init__()
        self.viewer = napari_viewer
        self.session: PatientSession | None = None
        self._tracker = session_tracker(napari_viewer)
        self._following = False

    def follow_session(self) -> None:
        """Start following the viewer's session (and show the current one)."""
        if not self._following:
            self._tracker.changed.connect(self._adopt)
            self._following = True
        self._adopt(self._tracker.session, force=True)

    def on_session_changed(self) -> None:
        """Another patient (or none) is shown: rebuild; by default as after an edit."""
        self.on_session_edited()

    def on_session_edited(self) -> None:
        """The session changed (an edit, a new classification): refresh the view."""

    def stop_following(self) -> None:
        """Disconnect from the tracker and the session (the dock is closed)."""
        if self._following:
            with contextlib.suppress(ValueError, RuntimeError):
                self._tracker.changed.disconnect(self._adopt)
            self._following = False
        if self.session is not None:
            with contextlib.suppress(ValueError, RuntimeError):
                self.session.changed.disconnect(self.on_session_edited)
            self.session = None

    def closeEvent(self, event: Any) -> None:  # noqa: N802 - Qt's name
        """Let go of the session when the dock is closed."""
        self.stop_following()
        super().closeEvent(event)

    def _adopt(self, session: PatientSession | None, force: bool = False) -> None:
        session = unwrap(session) if session is not None else None
        if session is self.session and not force:
            return
        if self.session is not None and self.session is not session:
            with contextlib.suppress(ValueError, RuntimeError):
                self.session.changed.disconnect(self.on_session_edited)
        if session is not None and session is not self.session:
            session.changed.connect(self.on_session_edited)
        self.session = session
        self.on_session_changed()
