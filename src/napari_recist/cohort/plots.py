"""Response plots of the seeds with matplotlib: waterfall, spider, swimmer, lesion trajectory, KM.

Every plot has a ``draw_*`` function that draws on a given matplotlib Axes (the napari dock
widget embeds those in its own canvas) and a ``*_figure`` function that returns a new Figure
(Agg, no pyplot state, safe in worker threads). Inputs are patients of the classification JSON
(shared/spec/lesion-table.md); colours come from `napari_recist.palette`.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping, Sequence
from typing import Any

from matplotlib.axes import Axes
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure
from matplotlib.lines import Line2D
from matplotlib.patches import Patch

from napari_recist import palette
from napari_recist.cohort.clinical import ClinicalRecord, SurvivalTime
from napari_recist.criteria.contract import PatientJSON
from napari_recist.report.figures import (
    DAYS_PER_MONTH,
    DAYS_PER_WEEK,
    PD_LINE_PCT,
    PR_LINE_PCT,
    PatientPoint,
    baseline_date,
    label_colour,
    literal,
    new_figure,
    ordered_labels,
    patient_points,
    spider_axes,
)
from napari_recist.report.figures import figure_png as figure_png  # cohort figures use it too

Patient = PatientJSON

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
    labels = ordered_labels([lab for _, lab in kept])
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
    spider_axes(ax, "Change in sum of diameters from baseline (%)")
    ordered = ordered_labels(labels)
    _legend(
        ax,
        ordered,
        {lab: label_colour(lab) for lab in ordered},
        COLOUR_FIELDS.get(colour_by, colour_by),
    )


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
        [literal(p.get("patient_id")) for _, p, _, _ in lanes],
        fontsize="xx-small" if len(lanes) > 30 else "small",
    )
    ax.set_xlabel("Months from baseline")
    ax.set_xlim(left=0)
    ordered = ordered_labels(labels)
    categories = ordered_labels([patient_label(p, "category") for _, p, _, _ in lanes])
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
    origin: str = "baseline",
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
    origin
        The time origin, named on the x axis (``Months from ...``).
    """
    from lifelines import KaplanMeierFitter
    from lifelines.plotting import add_at_risk_counts

    present = {g for pid, g in groups.items() if pid in times}
    labels = [g for g in (order or sorted(present)) if g in present]
    colours = group_colours(labels)
    fitters = []
    for label in labels:
        members = [pid for pid, g in groups.items() if g == label and pid in times]
        fitter = KaplanMeierFitter(label=f"{literal(label)} (n={len(members)})")
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
    ax.set_xlabel(f"Months from {origin}")
    ax.set_ylabel(f"{endpoint} probability")
    ax.set_ylim(0, 1.05)
    ax.set_xlim(left=0)
    if fitters:
        add_at_risk_counts(*fitters, ax=ax, fig=ax.figure, rows_to_show=["At risk"], labels=labels)


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


def kaplan_meier_figure(
    times: Mapping[str, SurvivalTime],
    groups: Mapping[str, str],
    order: Sequence[str] | None = None,
    endpoint: str = "Overall survival",
    origin: str = "baseline",
) -> Figure:
    """Kaplan-Meier plot with a number-at-risk table (see `draw_kaplan_meier`).

    `origin` names the time origin on the x axis (DoR counts from the first response, PPS
    from progression).
    """
    figure = Figure(figsize=(8.0, 5.5))
    FigureCanvasAgg(figure)
    ax = figure.add_axes((0.12, 0.32, 0.85, 0.6))
    draw_kaplan_meier(ax, times, groups, order, endpoint, origin)
    ax.set_title(f"{endpoint} by group")
    return figure


