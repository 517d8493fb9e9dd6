"""Response plots of the seeds with matplotlib: waterfall, spider, swimmer, lesion trajectory, KM.

Every plot has a ``draw_*`` function that draws on a given matplotlib Axes (the napari dock
widget embeds those in its own canvas) and a ``*_figure`` function that returns a new Figure
(Agg, no pyplot state, safe in worker threads). Inputs are patients of the classification JSON
(shared/spec/lesion-table.md); colours come from `napari_recist.palette`.
"""

from __future__ import annotations

import datetime as dt
import io
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from matplotlib.axes import Axes
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure
from matplotlib.lines import Line2D
from matplotlib.patches import Patch

from napari_recist import palette
from napari_recist.cohort.clinical import ClinicalRecord, SurvivalTime
from napari_recist.cohort.trajectories import LesionSeries

Patient = Mapping[str, Any]

DAYS_PER_WEEK = 7.0
DAYS_PER_MONTH = 30.4375  # Ferte TGR convention, as Criteria.days_per_month
PR_LINE_PCT = -30.0  # RECIST 1.1 section 4.3.1: PR is at least a 30 % decrease from baseline
PD_LINE_PCT = 20.0  # RECIST 1.1 section 4.3.1: PD is at least a 20 % increase (from nadir)
WATERFALL_CLIP_PCT = 100.0  # bars above are clipped and labelled with their value
MAX_SWIMMER_ROWS = 60

#: Patient-level fields a plot can be coloured by.
COLOUR_FIELDS: dict[str, str] = {
    "category": "Category (seed 002)",
    "best_overall_response": "Best overall response",
    "confirmed_best_overall_response": "Confirmed best overall response",
    "irecist_best_overall_response": "iRECIST best overall response",
}

# Extra colours, in order, for groups the palette has no colour for (e.g. response groups).
_FALLBACK_COLOURS = (
    palette.BLUE,
    palette.ORANGE,
    palette.BLUISH_GREEN,
    palette.VERMILLION,
    palette.REDDISH_PURPLE,
    palette.SKY_BLUE,
    palette.YELLOW,
    palette.BLACK,
)


@dataclass(frozen=True)
class PatientPoint:
    """One assessment of a patient on a time axis."""

    timepoint: int
    days: int
    change_pct: float | None
    overall: str


def label_colour(label: str | None) -> str:
    """Colour of a response or category label from the palette (categories first)."""
    if label == "baseline":
        return "#FFFFFF"
    if label is not None and label in palette.CATEGORY_COLOURS:
        return palette.category_colour(label)
    return palette.response_colour(label)


def group_colours(labels: Sequence[str]) -> dict[str, str]:
    """Colours for group labels: palette colours where known, Okabe-Ito colours otherwise."""

    def known(label: str) -> bool:
        return label in palette.CATEGORY_COLOURS or label in palette.RESPONSE_COLOURS

    used = {label_colour(label) for label in labels if known(label)}
    # Spare colours are those no known label of this plot has (PsPD must not look like PR).
    spare = iter(c for c in _FALLBACK_COLOURS if c not in used)
    return {
        label: label_colour(label) if known(label) else next(spare, palette.GREY)
        for label in labels
    }


def patient_label(patient: Patient, colour_by: str) -> str:
    """The label a patient is coloured by (``"NA"`` when absent)."""
    value = patient.get(colour_by)
    return str(value) if value not in (None, "") else "NA"


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
        overall = "baseline" if number == 0 else str(timepoint.get("overall", "NA"))
        points.append(PatientPoint(number, days, change, overall))
    return sorted(points, key=lambda p: p.timepoint)


def best_change_pct(patient: Patient) -> float | None:
    """Best (lowest) % change of the sum of diameters from baseline over the follow-ups."""
    changes = [
        p.change_pct
        for p in patient_points(patient)
        if p.timepoint > 0 and p.change_pct is not None
    ]
    return min(changes) if changes else None


def _legend(ax: Axes, labels: Sequence[str], colours: Mapping[str, str], title: str) -> None:
    handles = [
        Patch(facecolor=colours[label], edgecolor="#333333", label=label) for label in labels
    ]
    if handles:
        ax.legend(
            handles=handles,
            title=title,
            fontsize="small",
            title_fontsize="small",
            loc="best",
            framealpha=0.9,
        )


def _ordered_labels(labels: Sequence[str]) -> list[str]:
    order = ["baseline", *palette.CATEGORY_COLOURS, *palette.RESPONSE_ORDER]
    present = list(dict.fromkeys(labels))
    return sorted(present, key=lambda lab: order.index(lab) if lab in order else len(order))


def draw_waterfall(ax: Axes, patients: Sequence[Patient], colour_by: str = "category") -> int:
    """Draw one bar per patient: best % change of the sum of diameters, sorted.

    Parameters
    ----------
    ax
        Axes to draw on.
    patients
        Patients of the classification JSON.
    colour_by
        A key of `COLOUR_FIELDS`.

    Returns
    -------
    int
        Patients left out because they have no follow-up with a sum of diameters.
    """
    rows = [(best_change_pct(p), patient_label(p, colour_by), p) for p in patients]
    kept = sorted(((c, lab) for c, lab, _ in rows if c is not None), key=lambda r: -r[0])
    left_out = len(rows) - len(kept)
    labels = _ordered_labels([lab for _, lab in kept])
    colours = {lab: label_colour(lab) for lab in labels}
    heights = [min(change, WATERFALL_CLIP_PCT) for change, _ in kept]
    positions = range(len(kept))
    ax.bar(
        positions,
        heights,
        width=0.85 if len(kept) <= 80 else 1.0,  # large cohorts: bars touch, no white gaps
        color=[colours[lab] for _, lab in kept],
        edgecolor="#333333" if len(kept) <= 80 else "none",
        linewidth=0.4 if len(kept) <= 80 else 0.0,
        antialiased=len(kept) <= 80,
    )
    for position, (change, _) in zip(positions, kept, strict=True):
        if change > WATERFALL_CLIP_PCT:
            ax.annotate(
                f"{change:.0f} %",
                (position, WATERFALL_CLIP_PCT),
                ha="center",
                va="bottom",
                fontsize="x-small",
                rotation=90,
            )
    ax.axhline(PD_LINE_PCT, color="#333333", linestyle="--", linewidth=0.8)
    ax.axhline(PR_LINE_PCT, color="#333333", linestyle="--", linewidth=0.8)
    ax.axhline(0, color="#333333", linewidth=0.8)
    ax.set_xticks([])
    ax.set_xlim(-0.8, max(len(kept), 1) - 0.2)
    ax.set_ylim(-105, WATERFALL_CLIP_PCT + 15)
    ax.set_ylabel("Best change in sum of diameters from baseline (%)")
    ax.set_xlabel(f"Patients (n = {len(kept)})")
    ax.text(
        1.0,
        PD_LINE_PCT,
        " +20 %",
        transform=ax.get_yaxis_transform(),
        va="center",
        fontsize="x-small",
    )
    ax.text(
        1.0,
        PR_LINE_PCT,
        " -30 %",
        transform=ax.get_yaxis_transform(),
        va="center",
        fontsize="x-small",
    )
    _legend(ax, labels, colours, COLOUR_FIELDS.get(colour_by, colour_by))
    return left_out


def draw_spider(
    ax: Axes, patients: Sequence[Patient], colour_by: str = "category", alpha: float = 0.8
) -> None:
    """Draw the % change of the sum of diameters over time, one line per patient.

    Parameters
    ----------
    ax
        Axes to draw on.
    patients
        Patients of the classification JSON.
    colour_by
        A key of `COLOUR_FIELDS`.
    alpha
        Line opacity (lower it for large cohorts).
    """
    labels: list[str] = []
    for patient in patients:
        points = [p for p in patient_points(patient) if p.change_pct is not None]
        if len(points) < 2:
            continue
        label = patient_label(patient, colour_by)
        labels.append(label)
        ax.plot(
            [p.days / DAYS_PER_WEEK for p in points],
            [p.change_pct for p in points],
            color=label_colour(label),
            linewidth=1.2,
            alpha=alpha,
            marker="o",
            markersize=3,
        )
    _spider_axes(ax, "Change in sum of diameters from baseline (%)")
    ordered = _ordered_labels(labels)
    _legend(
        ax,
        ordered,
        {lab: label_colour(lab) for lab in ordered},
        COLOUR_FIELDS.get(colour_by, colour_by),
    )


def _spider_axes(ax: Axes, ylabel: str) -> None:
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
        Per-lesion diameters (`napari_recist.cohort.trajectories.lesion_series`).
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
    _spider_axes(ax, "Change from baseline (%)")
    shown = _ordered_labels(
        [p.overall for p in points] + [r for (tp, _), r in responses.items() if lesions]
    )
    handles: list[Any] = [Line2D([], [], color="#222222", linewidth=2, label="sum of diameters")]
    if lesions:
        handles.append(Line2D([], [], color="#777777", linestyle=":", label="one lesion"))
    handles += [Patch(facecolor=label_colour(lab), edgecolor="#333333", label=lab) for lab in shown]
    ax.legend(handles=handles, fontsize="x-small", loc="best", framealpha=0.9)
    ax.set_title(f"{patient.get('patient_id', '')}: change from baseline", fontsize="medium")


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
            "baseline" if tp == 0 else responses.get((tp, series.lesion_id), "NA")
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
    ordered = _ordered_labels(labels)
    handles: list[Any] = [
        Line2D([], [], color="#555555", linestyle=style, label=role)
        for role, style in line_styles.items()
        if any(s.role == role for s in lesions)
    ]
    handles += [
        Patch(facecolor=label_colour(lab), edgecolor="#333333", label=lab) for lab in ordered
    ]
    ax.legend(handles=handles, fontsize="x-small", loc="best", framealpha=0.9)
    ax.set_title(f"{patient.get('patient_id', '')}: lesion diameters", fontsize="medium")


def _lesion_responses(patient: Patient) -> dict[tuple[int, str], str]:
    return {
        (int(tp["timepoint"]), lesion_id): "baseline"
        if int(tp["timepoint"]) == 0
        else str(response)
        for tp in patient.get("timepoints", [])
        for lesion_id, response in (tp.get("lesions") or {}).items()
    }


def draw_swimmer(
    ax: Axes,
    patients: Sequence[Patient],
    clinical: Mapping[str, ClinicalRecord] | None = None,
    max_rows: int = MAX_SWIMMER_ROWS,
) -> int:
    """Draw one lane per patient from baseline to last follow-up (or last known alive/death).

    Assessments are dots coloured by overall response; progression a triangle; death a
    cross; an arrow marks a patient alive at the end of the lane (OS censored).

    Parameters
    ----------
    ax
        Axes to draw on.
    patients
        Patients of the classification JSON.
    clinical
        Clinical table by patient id (overall survival), if any.
    max_rows
        Show at most this many patients (the longest lanes).

    Returns
    -------
    int
        Patients not shown.
    """
    lanes: list[tuple[float, Patient, list[PatientPoint], SurvivalTime | None]] = []
    for patient in patients:
        points = patient_points(patient)
        if not points:
            continue
        record = (clinical or {}).get(str(patient.get("patient_id")))
        survival = record.os if record is not None else None
        end = max(p.days for p in points)
        if survival is not None:
            end = max(end, survival.days)
        lanes.append((end, patient, points, survival))
    lanes.sort(key=lambda lane: lane[0])
    hidden = max(0, len(lanes) - max_rows)
    lanes = lanes[hidden:]
    labels: list[str] = []
    for row, (end, patient, points, survival) in enumerate(lanes):
        category = patient_label(patient, "category")
        ax.barh(
            row,
            end / DAYS_PER_MONTH,
            height=0.6,
            color=label_colour(category),
            alpha=0.35,
            edgecolor="#555555",
            linewidth=0.4,
        )
        follow_ups = [p for p in points if p.timepoint > 0]
        labels += [p.overall for p in follow_ups]
        ax.scatter(
            [p.days / DAYS_PER_MONTH for p in follow_ups],
            [row] * len(follow_ups),
            c=[label_colour(p.overall) for p in follow_ups],
            s=28,
            zorder=3,
            edgecolors="#333333",
            linewidths=0.4,
        )
        progression = patient.get("progression_date")
        start = baseline_date(patient)
        if progression and start is not None:
            days = (dt.date.fromisoformat(progression) - start).days
            ax.scatter(
                [days / DAYS_PER_MONTH],
                [row + 0.38],
                marker="v",
                s=36,
                zorder=4,
                color=palette.VERMILLION,
                edgecolors="#333333",
                linewidths=0.4,
            )
        if survival is not None and survival.event:
            ax.scatter(
                [survival.days / DAYS_PER_MONTH],
                [row],
                marker="X",
                s=46,
                zorder=4,
                color=palette.BLACK,
            )
        elif survival is not None:
            ax.annotate(
                "",
                xy=(end / DAYS_PER_MONTH + 0.6, row),
                xytext=(end / DAYS_PER_MONTH, row),
                arrowprops={"arrowstyle": "->", "color": "#333333"},
            )
    ax.set_yticks(range(len(lanes)))
    ax.set_yticklabels(
        [str(p.get("patient_id")) for _, p, _, _ in lanes],
        fontsize="xx-small" if len(lanes) > 30 else "small",
    )
    ax.set_xlabel("Months from baseline")
    ax.set_xlim(left=0)
    ordered = _ordered_labels(labels)
    categories = _ordered_labels([patient_label(p, "category") for _, p, _, _ in lanes])
    handles: list[Any] = [
        Line2D(
            [],
            [],
            marker="o",
            linestyle="",
            markerfacecolor=label_colour(lab),
            markeredgecolor="#333333",
            label=f"assessment: {lab}",
        )
        for lab in ordered
    ]
    handles += [
        Patch(facecolor=label_colour(lab), alpha=0.35, edgecolor="#555555", label=f"lane: {lab}")
        for lab in categories
    ]
    handles.append(
        Line2D([], [], marker="v", linestyle="", color=palette.VERMILLION, label="progression")
    )
    if clinical:
        handles.append(Line2D([], [], marker="X", linestyle="", color=palette.BLACK, label="death"))
        handles.append(
            Line2D([], [], marker=r"$\rightarrow$", linestyle="", color="#333333", label="alive")
        )
    ax.legend(handles=handles, fontsize="x-small", loc="lower right", framealpha=0.9)
    return hidden


def draw_kaplan_meier(
    ax: Axes,
    times: Mapping[str, SurvivalTime],
    groups: Mapping[str, str],
    order: Sequence[str] | None = None,
    endpoint: str = "Overall survival",
) -> None:
    """Draw Kaplan-Meier curves per group with 95 % bands and a number-at-risk table.

    Parameters
    ----------
    ax
        Axes to draw on; the at-risk table goes below it (leave room at the bottom).
    times
        Survival time (days) by patient id.
    groups
        Group label by patient id.
    order
        Groups to draw, in this order; default: every group with a patient.
    endpoint
        Y-axis label.
    """
    from lifelines import KaplanMeierFitter
    from lifelines.plotting import add_at_risk_counts

    present = {g for pid, g in groups.items() if pid in times}
    labels = [g for g in (order or sorted(present)) if g in present]
    colours = group_colours(labels)
    fitters = []
    for label in labels:
        members = [pid for pid, g in groups.items() if g == label and pid in times]
        fitter = KaplanMeierFitter(label=f"{label} (n={len(members)})")
        fitter.fit(
            [times[pid].days / DAYS_PER_MONTH for pid in members],
            [times[pid].event for pid in members],
        )
        fitter.plot_survival_function(
            ax=ax,
            ci_show=True,
            color=colours[label],
            show_censors=True,
            censor_styles={"ms": 5, "marker": "|"},
        )
        fitters.append(fitter)
    ax.set_xlabel("Months from baseline")
    ax.set_ylabel(f"{endpoint} probability")
    ax.set_ylim(0, 1.05)
    ax.set_xlim(left=0)
    if fitters:
        add_at_risk_counts(*fitters, ax=ax, fig=ax.figure, rows_to_show=["At risk"], labels=labels)


def new_figure(width: float = 8.0, height: float = 5.0) -> Figure:
    """A Figure on the Agg canvas, outside pyplot (no global state)."""
    figure = Figure(figsize=(width, height), layout="constrained")
    FigureCanvasAgg(figure)
    return figure


def waterfall_figure(patients: Sequence[Patient], colour_by: str = "category") -> Figure:
    """Waterfall plot of the cohort (see `draw_waterfall`)."""
    figure = new_figure(max(6.0, min(14.0, 0.12 * len(patients) + 5)), 5.0)
    ax = figure.add_subplot()
    left_out = draw_waterfall(ax, patients, colour_by)
    title = "Best change in sum of target diameters"
    ax.set_title(title + (f" ({left_out} without follow-up left out)" if left_out else ""))
    return figure


def spider_figure(patients: Sequence[Patient], colour_by: str = "category") -> Figure:
    """Spider plot of the cohort (see `draw_spider`)."""
    figure = new_figure(8.0, 5.0)
    ax = figure.add_subplot()
    draw_spider(ax, patients, colour_by, alpha=0.8 if len(patients) <= 50 else 0.3)
    ax.set_title("Change in sum of target diameters over time")
    return figure


def swimmer_figure(
    patients: Sequence[Patient], clinical: Mapping[str, ClinicalRecord] | None = None
) -> Figure:
    """Swimmer plot of the cohort (see `draw_swimmer`)."""
    rows = min(len(patients), MAX_SWIMMER_ROWS)
    figure = new_figure(9.0, max(3.5, 0.22 * rows + 1.5))
    ax = figure.add_subplot()
    hidden = draw_swimmer(ax, patients, clinical)
    title = "Time on study, assessments and events"
    ax.set_title(title + (f" (the {rows} longest of {rows + hidden} patients)" if hidden else ""))
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


def kaplan_meier_figure(
    times: Mapping[str, SurvivalTime],
    groups: Mapping[str, str],
    order: Sequence[str] | None = None,
    endpoint: str = "Overall survival",
) -> Figure:
    """Kaplan-Meier plot with a number-at-risk table (see `draw_kaplan_meier`)."""
    figure = Figure(figsize=(8.0, 5.5))
    FigureCanvasAgg(figure)
    ax = figure.add_axes((0.12, 0.32, 0.85, 0.6))
    draw_kaplan_meier(ax, times, groups, order, endpoint)
    ax.set_title(f"{endpoint} by group")
    return figure


def figure_png(figure: Figure, dpi: int = 110) -> bytes:
    """Render a figure to PNG bytes."""
    buffer = io.BytesIO()
    figure.savefig(buffer, format="png", dpi=dpi)
    return buffer.getvalue()
