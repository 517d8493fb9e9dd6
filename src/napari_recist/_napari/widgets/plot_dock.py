"""Manifest entry of the patient plot widget (`plots.PatientPlotWidget`).

napari passes the viewer to a dock widget only through a parameter named ``napari_viewer``
(or annotated with the exact string ``napari.viewer.Viewer``); this subclass gives the plot
widget that parameter so that Plugins > napari-recist > Patient plots can create it, and
feeds it the open patient's classification after every edit.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from napari_recist._napari.binding import bind_session, find_session
from napari_recist._napari.session import PatientSession
from napari_recist._napari.widgets.plots import PatientPlotWidget

if TYPE_CHECKING:
    import napari


class PatientPlotDock(PatientPlotWidget):
    """The patient plot widget, created by napari from the manifest.

    Parameters
    ----------
    napari_viewer
        The viewer (given by napari when the widget is docked).
    """

    follows_session = True  # the response panel need not pass it the result

    def __init__(self, napari_viewer: napari.Viewer) -> None:
        super().__init__(napari_viewer)
        self.session: PatientSession | None = None
        napari_viewer.layers.events.inserted.connect(self._find_session)
        napari_viewer.layers.events.removed.connect(self._find_session)
        self._find_session()

    def _show_session(self) -> None:
        self.show_result(self.session.result if self.session is not None else None)

    def _find_session(self, *_: object) -> None:
        session = find_session(self.viewer)
        if session is self.session:
            return
        if self.session is not None:
            self.session.changed.disconnect(self._show_session)
        self.session = session
        if session is not None:
            bind_session(self.viewer, session)
            session.changed.connect(self._show_session)
        self._show_session()
