"""Synthetic cohort determinism; HTML helpers embed images and escape text."""

import re

from napari_recist.cohort.synthetic import clinical_csv, synthetic_cohort
from napari_recist.model import Role
from napari_recist.report import html


def test_synthetic_cohort_is_deterministic_and_well_formed() -> None:
    first, clinical = synthetic_cohort(20, seed=3)
    second, _ = synthetic_cohort(20, seed=3)
    assert [r.patient_id for r in first] == [f"SYN{i:04d}" for i in range(1, 21)]
    assert [len(r.assessments) for r in first] == [len(r.assessments) for r in second]
    for record in first:
        assert record.baseline is not None
        targets = record.lesions_with_role(Role.TARGET)
        assert 2 <= len(targets) <= 4
        assert all(t.lesion_id in record.baseline.measurements for t in targets)
        dates = [a.date for a in record.assessments]
        assert dates == sorted(dates)
    text = clinical_csv(clinical)
    assert text.splitlines()[0] == "patient_id,os_days,os_event,sex,ecog"
    assert len(text.splitlines()) == 21


def test_html_page_is_self_contained_and_escaped() -> None:
    body = html.table(("a<b",), [(html.escape("<script>"),)]) + html.figure(b"\x89PNG", "plot")
    document = html.page("T & T", body)
    assert "<script>" not in document
    assert "&lt;script&gt;" in document and "a&lt;b" in document
    assert 'src="data:image/png;base64,iVBORw==' in document
    assert not re.search(r"(src|href)=\"(https?:|//)", document)
    assert "color:#FFFFFF" in html.badge("PD", "#000000")
    assert "color:#000000" in html.badge("SD", "#F0E442")
