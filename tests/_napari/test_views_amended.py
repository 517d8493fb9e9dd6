"""imRECIST, irRC, PFS and warnings reach the tumour-board page and the response panel HTML."""

from __future__ import annotations

import pytest
from tests.criteria.builders import classify, days

from napari_recist.report.page import timepoint_section, verdict_section

B = "2024-01-01"


def _patient():
    return classify(
        {"T1": "target lung", "X": "new liver"},
        [(B, {"T1": (20, 20)}), (days(B, 56), {"T1": (20, 20), "X": (5, 5)})],
        treatment_start=days(B, 40),
    ).to_json()


def test_tumour_board_page_shows_the_new_criteria():
    patient = _patient()
    verdicts = verdict_section(patient)
    for text in ("imRECIST best overall response", "irRC best overall response",
                 "PFS days (from treatment start)", "baseline-too-early"):
        assert text in verdicts
    table = timepoint_section(patient)
    assert "irRC (burden mm²)" in table and "425" in table  # 400 + the new 5 x 5


def test_response_panel_html_shows_the_new_criteria():
    pytest.importorskip("qtpy")
    from napari_recist._napari.widgets.response_panel import patient_html

    text = patient_html(_patient())
    assert "imRECIST" in text and "irRC" in text and "treatment start" in text
    assert "baseline-too-early" in text
