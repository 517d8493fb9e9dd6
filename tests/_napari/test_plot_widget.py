"""Patient plot dock widget: draws the classification JSON it is given and follows edits."""

import dataclasses

from napari_recist._napari.widgets.plots import PatientPlotWidget
from napari_recist.cohort.synthetic import synthetic_cohort
from napari_recist.criteria.report import classify_patient
from napari_recist.model import LesionState, Role


def test_widget_draws_spider_and_lesions_and_follows_edits(make_napari_viewer):
    viewer = make_napari_viewer()
    widget = PatientPlotWidget(viewer)
    viewer.window.add_dock_widget(widget, name="Patient plots")
    assert widget.figure.axes == []
    record = synthetic_cohort(1, seed=4)[0][0]
    result = classify_patient(record).to_json()
    widget.show_result(result)
    spider, lesions = widget.figure.axes
    assert record.patient_id in widget.status.text()
    sum_line = next(line for line in spider.lines if line.get_label() == "sum of diameters")
    follow_ups = [tp for tp in result["timepoints"] if tp["timepoint"] > 0]
    assert list(sum_line.get_ydata()[1:]) == [tp["change_from_baseline_pct"] for tp in follow_ups]
    assert len(lesions.collections) >= 2  # one marker set per measured target lesion
    # An edit: the first target doubles at the last follow-up; the panel passes the new result.
    last = record.assessments[-1]
    first_target = sorted(last.measurements)[0]
    old = last.measurements[first_target]
    last.measurements[first_target] = dataclasses.replace(
        old,
        state=LesionState.MEASURED,
        long_axis_mm=(old.long_axis_mm or 10) * 4,
        short_axis_mm=(old.short_axis_mm or 10) * 4,
    )
    edited = classify_patient(record).to_json()
    widget.show_result(edited)
    spider, _ = widget.figure.axes
    sum_line = next(line for line in spider.lines if line.get_label() == "sum of diameters")
    assert sum_line.get_ydata()[-1] == edited["timepoints"][-1]["change_from_baseline_pct"]
    assert (
        edited["timepoints"][-1]["change_from_baseline_pct"]
        != follow_ups[-1]["change_from_baseline_pct"]
    )
    widget.canvas.draw()
    widget.show_result(None)
    assert widget.figure.axes == []
    assert "Not classified" in widget.status.text()


def test_widget_without_lesion_diameters(make_napari_viewer):
    widget = PatientPlotWidget(make_napari_viewer())
    widget.show_result(
        {
            "patient_id": "P9",
            "timepoints": [
                {"timepoint": 0, "date": "2024-01-01", "overall": "NA"},
                {
                    "timepoint": 1,
                    "date": "2024-03-01",
                    "overall": "SD",
                    "change_from_baseline_pct": -5.0,
                },
            ],
        }
    )
    _, lesions = widget.figure.axes
    assert lesions.texts[0].get_text() == "no lesion diameters in the result"


def test_widget_follows_edits_in_the_viewer(make_napari_viewer, patient_folder):
    import numpy as np

    from napari_recist._napari.binding import find_session, session_layer, show_timepoint
    from napari_recist._napari.widgets.lesion_table import LesionTableWidget
    from napari_recist._napari.widgets.response_panel import ResponsePanelWidget

    viewer = make_napari_viewer()
    viewer.open(str(patient_folder), plugin="napari-recist")
    session = find_session(viewer)
    plots = PatientPlotWidget(viewer)
    viewer.window.add_dock_widget(plots, name="Patient plots")
    table = LesionTableWidget(viewer)
    panel = ResponsePanelWidget(viewer)  # passes each new result to the docked plots

    def draw(timepoint, start, end):
        show_timepoint(viewer, session, timepoint)
        session_layer(viewer, session, timepoint, "lesions").add_lines(
            np.array([start, end], dtype=float)
        )

    draw(0, (2, 15, 10), (2, 15, 30))  # 15 mm at baseline
    table.role_box.value = Role("target")
    table.site_box.value = "lung"
    assert table.create_lesion() == "L1"
    assert table.add_drawn_line("long")
    draw(1, (2, 15, 6), (2, 15, 34))  # 21 mm at the follow-up: +40 %, PD
    table.select_lesion("L1")
    assert table.add_drawn_line("long")
    assert plots.result is not None and plots.result["timepoints"][1]["overall"] == "PD"
    spider, lesions = plots.figure.axes
    sum_line = next(line for line in spider.lines if line.get_label() == "sum of diameters")
    assert list(sum_line.get_ydata()) == [0.0, 40.0]
    diameters = lesions.lines[0].get_ydata()
    assert list(diameters) == [15.0, 21.0]  # baseline size from the viewer's record
    assert any(text.get_text() == "L1 (lung)" for text in lesions.texts)
    assert "PD" in panel.text()
