"""Plots render from classification JSON, with the palette's colours and the seeds' content."""

from typing import Any

import numpy as np
from matplotlib.colors import to_hex
from PIL import Image

from napari_recist import palette
from napari_recist.cohort import plots
from napari_recist.cohort.clinical import ClinicalRecord, SurvivalTime
from napari_recist.report import figures
from napari_recist.report.trajectories import LesionSeries


def _not_blank(png: bytes) -> None:
    import io

    assert png[:8] == b"\x89PNG\r\n\x1a\n"
    pixels = np.asarray(Image.open(io.BytesIO(png)).convert("L"))
    assert pixels.std() > 5  # something is drawn


def test_best_change_is_lowest_follow_up_change(cohort_patients: list[dict[str, Any]]) -> None:
    assert plots.best_change_pct(cohort_patients[0]) == -60.0
    assert plots.best_change_pct(cohort_patients[2]) == 5.0


def test_waterfall_bars_sorted_and_coloured_by_category(
    cohort_patients: list[dict[str, Any]],
) -> None:
    figure = plots.new_figure()
    ax = figure.add_subplot()
    left_out = plots.draw_waterfall(ax, cohort_patients, "category")
    assert left_out == 0
    bars = ax.patches[: len(cohort_patients)]
    heights = [bar.get_height() for bar in bars]
    assert heights == sorted(heights, reverse=True)
    assert heights[0] == plots.WATERFALL_CLIP_PCT  # 150 % is clipped and labelled
    assert any(text.get_text() == "150 %" for text in ax.texts)
    assert to_hex(bars[0].get_facecolor()) == palette.category_colour("true PD").lower()
    assert to_hex(bars[-1].get_facecolor()) == palette.category_colour("CR").lower()
    reference_lines = {line.get_ydata()[0] for line in ax.lines}
    assert {-30.0, 20.0} <= reference_lines
    _not_blank(plots.figure_png(plots.waterfall_figure(cohort_patients)))


def test_waterfall_by_bor_and_patients_without_follow_up(
    cohort_patients: list[dict[str, Any]],
) -> None:
    no_follow_up = dict(
        cohort_patients[0], patient_id="P0", timepoints=[cohort_patients[0]["timepoints"][0]]
    )
    figure = plots.new_figure()
    ax = figure.add_subplot()
    assert plots.draw_waterfall(ax, [*cohort_patients, no_follow_up], "best_overall_response") == 1
    legend = [text.get_text() for text in ax.get_legend().get_texts()]
    assert legend == ["CR", "PR", "SD", "PD"]


def test_spider_one_line_per_patient_in_weeks(cohort_patients: list[dict[str, Any]]) -> None:
    figure = plots.new_figure()
    ax = figure.add_subplot()
    plots.draw_spider(ax, cohort_patients)
    patient_lines = [line for line in ax.lines if line.get_marker() == "o"]
    assert len(patient_lines) == len(cohort_patients)
    first = patient_lines[0]
    assert list(first.get_xdata()) == [0, 8, 16, 24]
    assert list(first.get_ydata()) == [0, -40, -55, -60]
    _not_blank(plots.figure_png(plots.spider_figure(cohort_patients)))


def test_swimmer_lanes_events_and_row_limit(cohort_patients: list[dict[str, Any]]) -> None:
    clinical = {
        "P1": ClinicalRecord("P1", os=SurvivalTime(700, False)),
        "P5": ClinicalRecord("P5", os=SurvivalTime(120, True)),
    }
    figure = plots.new_figure()
    ax = figure.add_subplot()
    assert plots.draw_swimmer(ax, cohort_patients, clinical) == 0
    labels = [tick.get_text() for tick in ax.get_yticklabels()]
    assert labels[-1] == "P1"  # the longest lane (OS 700 days) on top
    assert len(labels) == len(cohort_patients)
    legend = [text.get_text() for text in ax.get_legend().get_texts()]
    assert {"progression", "death", "alive"} <= set(legend)
    figure = plots.new_figure()
    assert plots.draw_swimmer(figure.add_subplot(), cohort_patients, None, max_rows=4) == 2
    _not_blank(plots.figure_png(plots.swimmer_figure(cohort_patients, clinical)))


def test_patient_figure_lesion_colours_follow_lesion_response(
    cohort_patients: list[dict[str, Any]],
) -> None:
    patient = cohort_patients[3]
    lesions = [
        LesionSeries("L1", "target", "lung", (0, 1, 2), (0, 56, 112), (40.0, 26.0, 20.0)),
        LesionSeries("L2", "target", "liver", (0, 1, 2), (0, 56, 112), (30.0, 33.0, 45.0)),
        LesionSeries("L3", "new", "bone", (0, 1, 2), (0, 56, 112), (None, None, 12.0)),
    ]
    figure = plots.new_figure()
    ax = figure.add_subplot()
    figures.draw_lesion_trajectory(ax, patient, lesions)
    l2 = ax.collections[1]
    colours = [to_hex(c) for c in l2.get_facecolors()]
    assert colours == [
        "#ffffff",
        palette.response_colour("SD").lower(),
        palette.response_colour("PD").lower(),
    ]
    assert LesionSeries(
        "L2", "target", "liver", (0, 1), (0, 1), (30.0, 45.0)
    ).change_from_first_pct() == (0.0, 50.0)
    _not_blank(plots.figure_png(figures.patient_figure(patient, lesions)))
    _not_blank(plots.figure_png(figures.patient_figure(patient, None)))


def test_kaplan_meier_with_at_risk_table() -> None:
    times = {f"D{i}": SurvivalTime(60.0 * (i + 3), i % 2 == 0) for i in range(6)}
    times |= {f"T{i}": SurvivalTime(30.0 * (i + 1), True) for i in range(6)}
    groups = {pid: ("DR" if pid.startswith("D") else "true PD") for pid in times}
    figure = plots.kaplan_meier_figure(times, groups, ["DR", "true PD"])
    axes = figure.axes
    assert len(axes) == 2  # the curves and lifelines' at-risk table
    at_risk = axes[1].get_xticklabels()
    assert at_risk and "At risk" in at_risk[0].get_text()
    legend = [text.get_text() for text in axes[0].get_legend().get_texts()]
    assert legend == ["DR (n=6)", "true PD (n=6)"]
    _not_blank(plots.figure_png(figure))
