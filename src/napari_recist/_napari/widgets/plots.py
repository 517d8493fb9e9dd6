"""Patient plot dock widget: the current patient's spider and per-lesion trajectory.

It draws the classification JSON it is given (`show_result`), with the same drawing functions
and palette as the tumour-board report; the response panel calls `show_result` after every
edit, so the plot follows the measurements. It never computes a verdict.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from matplotlib.backends.backend_qtagg import FigureCanvasQTAgg
from matplotlib.figure import Figure
from qtpy.QtWidgets import QLabel, QVBoxLayout, QWidget

from napari_recist.report.figures import draw_lesion_trajectory, draw_patient_spider
from napari_recist.report.trajectories import (
    LesionSeries,
    lesion_series,
    lesion_series_from_json,
)

if TYPE_CHECKING:
    import napari


class PatientPlotWidget(QWidget):
    """Dock widget with the patient's % change (sum and lesions) and lesion diameters.

    Parameters
    ----------
    viewer
        The napari viewer the widget is docked in.
    """

    def __init__(self, viewer: napari.Viewer) -> None:
        super().__init__()
        self.viewer = viewer
        self.result: dict[str, Any] | None = None
        self.figure = Figure(figsize=(4.5, 6.5), layout="constrained")
        self.canvas = FigureCanvasQTAgg(self.figure)
        self.status = QLabel("Open a patient folder to see its response over time.")
        self.status.setWordWrap(True)
        layout = QVBoxLayout(self)
        layout.addWidget(self.status)
        layout.addWidget(self.canvas, stretch=1)
        self.canvas.setMinimumHeight(360)

    def show_result(self, result_json: dict[str, Any] | None) -> None:
        """Draw one patient of the classification JSON (None clears the plots).

        Parameters
        ----------
        result_json
            The patient object of shared/spec/lesion-table.md, with ``timepoints`` (and their
            ``lesions`` responses and ``lesion_diameters_mm`` for the lesion plot).
        """
        self.result = result_json
        self.figure.clear()
        if not result_json or not result_json.get("timepoints"):
            self.status.setText("Not classified yet: no plot.")
            self.canvas.draw_idle()
            return
        lesions = self._lesion_series(result_json)
        spider_axes, lesion_axes = self.figure.subplots(2, 1)
        draw_patient_spider(spider_axes, result_json, lesions)
        if lesions:
            draw_lesion_trajectory(lesion_axes, result_json, lesions)
        else:
            lesion_axes.set_axis_off()
            lesion_axes.text(
                0.5,
                0.5,
                "no lesion diameters in the result",
                ha="center",
                va="center",
                transform=lesion_axes.transAxes,
            )
        for axes in (spider_axes, lesion_axes):
            axes.title.set_fontsize("small")
        follow_ups = sum(1 for tp in result_json["timepoints"] if int(tp["timepoint"]) > 0)
        self.status.setText(
            f"Patient {result_json.get('patient_id', '')}: {follow_ups} follow-up(s), "
            f"best overall response {result_json.get('best_overall_response', 'NA')}."
        )
        self.canvas.draw_idle()

    def _lesion_series(self, result_json: dict[str, Any]) -> list[LesionSeries]:
        """Lesion diameters of the patient shown.

        From the viewer's patient record when it is this patient (it has the roles, sites and
        baseline sizes), else from the JSON's ``lesion_diameters_mm``.
        """
        from napari_recist._napari.binding import find_session

        session = find_session(self.viewer)
        record = getattr(session, "record", None)
        if record is not None and record.patient_id == result_json.get("patient_id"):
            try:
                return lesion_series(record, session.criteria)  # type: ignore[union-attr]
            except ValueError:  # no baseline yet
                pass
        return lesion_series_from_json(result_json)
