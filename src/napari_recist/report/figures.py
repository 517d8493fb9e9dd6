"""The figures of one patient: % change (spider) and lesion diameters over time.

Shared by the tumour-board page, the viewer's Patient plots widget and the cohort plots
(which draw many patients with the same axes and colours). Matplotlib on the Agg canvas,
outside pyplot (no global state).
"""

from __future__ import annotations

import datetime as dt
import io
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from matplotlib.axes import Axes
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure
from matplotlib.lines import Line2D
from matplotlib.patches import Patch

from napari_recist import palette
from napari_recist.criteria.contract import PatientJSON
from napari_recist.report.trajectories import LesionSeries
from napari_recist.vocabulary import Response

Patient = PatientJSON

DAYS_PER_WEEK = 7.0
DAYS_PER_MONTH = 30.4375  # Ferte TGR convention, as Criteria.days_per_month
PR_LINE_PCT = -30.0  # RECIST 1.1 section 4.3.1: PR is at least a 30 % decrease from baseline
PD_LINE_PCT = 20.0  # RECIST 1.1 section 4.3.1: PD is at least a 20 % increase (from nadir)


@dataclass(frozen=True)
class PatientPoint:
    """One assessment of a patient on a time axis."""

    timepoint: int
    days: int
    change_pct: float | None
    overall: str


def literal(text: object) -> str:
    """Text shown as written: matplotlib would read ``$...$`` in an id as mathematics."""
    return str(text).replace("$", r"\$")


def ordered_labels(labels: Sequence[str]) -> list[str]:
    """Labels in legend order: baseline, categories, then responses as the palette orders them."""
    order = ["baseline", *palette.CATEGORY_COLOURS, *palette.RESPONSE_ORDER]
    present = list(dict.fromkeys(labels))
    return sorted(present, key=lambda lab: order.index(lab) if lab in order else len(order))


def label_colour(label: str | None) -> str:
    """Colour of a response or category label from the palette (categories first)."""
    if label == "baseline":
        return "#FFFFFF"
    if label is not None and label in palette.CATEGORY_COLOURS:
        return palette.category_colour(label)
    return palette.response_colour(label)


def baseline_date(patient: Patient) -> dt.date | None:
    """Date of time point 0 of a patient of the classification JSON."""
    for timepoint in patient.get("timepoints", []):
        if int(timepoint["timepoint"]) == 0 and timepoint.get("date"):
            return dt.date.fromisoformat(timepoint["date"])
    return None


def patient_points(patient: Patient) -> list[PatientPoint]:
    """Assessments from baseline on, with days from baseline and % change of the sum."""
    start = baseline_date(patient)
    points: list[PatientPoint] = []
    for timepoint in patient.get("timepoints", []):
        number = int(timepoint["timepoint"])
        if number < 0 or not timepoint.get("date") or start is None:
            continue
        days = (dt.date.fromisoformat(timepoint["date"]) - start).days
        change = 0.0 if number == 0 else timepoint.get("change_from_baseline_pct")
        overall = "baseline" if number == 0 else str(timepoint.get("overall", Response.NA))
        points.append(PatientPoint(number, days, change, overall))
    return sorted(points, key=lambda p: p.timepoint)


def spider_axes(ax: Axes, ylabel: str) -> None:
    """The reference lines and labels of a spider plot (PD +20 %, PR -30 %, 0)."""
    ax.axhline(PD_LINE_PCT, color="#333333", linestyle="--", linewidth=0.8)
    ax.axhline(PR_LINE_PCT, color="#333333", linestyle="--", linewidth=0.8)
    ax.axhline(0, color="#333333", linewidth=0.8)
    ax.set_xlabel("Weeks from baseline")
    ax.set_ylabel(ylabel)


def draw_patient_spider(
    ax: Axes, patient: Patient, lesions: Sequence[LesionSeries] | None = None
) -> None:
    """Draw one patient's % change: the sum of diameters and, if given, each lesion.

    Markers on the sum are coloured by the overall response at that time point; markers on a
    lesion by its lesion-level response (``lesions`` of the JSON time point).

    Parameters
    ----------
    ax
        Axes to draw on.
    patient
        One patient of the classification JSON.
    lesions
        Per-lesion diameters (`napari_recist.report.trajectories.lesion_series`).
    """
    responses = _lesion_responses(patient)
    for series in lesions or ():
        if series.role == "new":
            continue  # a new lesion has no baseline to change from; the diameter plot shows it
        changes = series.change_from_first_pct()
        xs = [d / DAYS_PER_WEEK for d, c in zip(series.days, changes, strict=True) if c is not None]
        ys = [c for c in changes if c is not None]
        if not xs:
            continue
        ax.plot(xs, ys, color="#777777", linewidth=0.9, linestyle=":")
        marker_colours = [
            label_colour(responses.get((tp, series.lesion_id)))
            for tp, c in zip(series.timepoints, changes, strict=True)
            if c is not None
        ]
        ax.scatter(xs, ys, c=marker_colours, s=22, edgecolors="#333333", linewidths=0.4, zorder=3)
        ax.annotate(
            series.lesion_id,
            (xs[-1], ys[-1]),
            xytext=(4, 0),
            textcoords="offset points",
            fontsize="x-small",
            va="center",
        )
    points = [p for p in patient_points(patient) if p.change_pct is not None]
    if points:
        xs = [p.days / DAYS_PER_WEEK for p in points]
        ax.plot(
            xs,
            [p.change_pct for p in points],
            color="#222222",
            linewidth=2.0,
            label="sum of diameters",
        )
        ax.scatter(
            xs,
            [p.change_pct for p in points],
            s=60,
            zorder=4,
            edgecolors="#222222",
            c=[label_colour(p.overall) for p in points],
        )
    spider_axes(ax, "Change from baseline (%)")
    shown = ordered_labels(
        [p.overall for p in points] + [r for (tp, _), r in responses.items() if lesions]
    )
    handles: list[Any] = [Line2D([], [], color="#222222", linewidth=2, label="sum of diameters")]
    if lesions:
        handles.append(Line2D([], [], color="#777777", linestyle=":", label="one lesion"))
    handles += [Patch(facecolor=label_colour(lab), edgecolor="#333333", label=lab) for lab in shown]
    ax.legend(handles=handles, fontsize="x-small", loc="best", framealpha=0.9)
    ax.set_title(f"{literal(patient.get('patient_id', ''))}: change from baseline",
                 fontsize="medium")


def draw_lesion_trajectory(ax: Axes, patient: Patient, lesions: Sequence[LesionSeries]) -> None:
    """Draw each lesion's diameter (mm) over time, markers coloured by lesion response.

    Parameters
    ----------
    ax
        Axes to draw on.
    patient
        One patient of the classification JSON (lesion responses per time point).
    lesions
        Per-lesion diameters.
    """
    responses = _lesion_responses(patient)
    labels: list[str] = []
    line_styles = {"target": "-", "non-target": "--", "new": "-."}
    for series in lesions:
        points = [
            (tp, d, mm)
            for tp, d, mm in zip(series.timepoints, series.days, series.diameters_mm, strict=True)
            if mm is not None
        ]
        if not points:
            continue
        xs = [d / DAYS_PER_WEEK for _, d, _ in points]
        ys = [mm for _, _, mm in points]
        ax.plot(xs, ys, color="#555555", linewidth=1.0, linestyle=line_styles.get(series.role, "-"))
        point_labels = [
            "baseline" if tp == 0 else responses.get((tp, series.lesion_id), Response.NA)
            for tp, _, _ in points
        ]
        labels += point_labels
        ax.scatter(
            xs,
            ys,
            c=[label_colour(lab) for lab in point_labels],
            s=30,
            edgecolors="#333333",
            linewidths=0.5,
            zorder=3,
        )
        ax.annotate(
            f"{series.lesion_id} ({series.site})" if series.site else series.lesion_id,
            (xs[-1], ys[-1]),
            xytext=(4, 0),
            textcoords="offset points",
            fontsize="x-small",
            va="center",
        )
    ax.set_xlabel("Weeks from baseline")
    ax.set_ylabel("Diameter (mm; short axis for nodes)")
    ax.set_ylim(bottom=0)
    ordered = ordered_labels(labels)
    handles: list[Any] = [
        Line2D([], [], color="#555555", linestyle=style, label=role)
        for role, style in line_styles.items()
        if any(s.role == role for s in lesions)
    ]
    handles += [
        Patch(facecolor=label_colour(lab), edgecolor="#333333", label=lab) for lab in ordered
    ]
    ax.legend(handles=handles, fontsize="x-small", loc="best", framealpha=0.9)
    ax.set_title(f"{literal(patient.get('patient_id', ''))}: lesion diameters",
                 fontsize="medium")


def _lesion_responses(patient: Patient) -> dict[tuple[int, str], str]:
    return {
        (int(tp["timepoint"]), lesion_id): "baseline"
        if int(tp["timepoint"]) == 0
        else str(response)
        for tp in patient.get("timepoints", [])
        for lesion_id, response in (tp.get("lesions") or {}).items()
    }


def new_figure(width: float = 8.0, height: float = 5.0) -> Figure:
    """A Figure on the Agg canvas, outside pyplot (no global state)."""
    figure = Figure(figsize=(width, height), layout="constrained")
    FigureCanvasAgg(figure)
    return figure


def patient_figure(patient: Patient, lesions: Sequence[LesionSeries] | None = None) -> Figure:
    """One patient's spider and, when sizes are given, per-lesion trajectory side by side."""
    figure = new_figure(12.0 if lesions else 7.0, 4.8)
    if lesions:
        left, right = figure.subplots(1, 2)
        draw_patient_spider(left, patient, lesions)
        draw_lesion_trajectory(right, patient, lesions)
    else:
        draw_patient_spider(figure.add_subplot(), patient, None)
    return figure


def figure_png(figure: Figure, dpi: int = 110) -> bytes:
    """Render a figure to PNG bytes."""
    buffer = io.BytesIO()
    figure.savefig(buffer, format="png", dpi=dpi)
    return buffer.getvalue()
