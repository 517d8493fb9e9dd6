"""Per-patient rows and category frequencies from the classification JSON."""

from pathlib import Path
from typing import Any

from napari_recist.cohort.tables import (
    PATIENT_COLUMNS,
    frequencies,
    frequency_rows,
    patient_row,
    write_csv,
)


def test_patient_row_flattens_the_json(cohort_patients: list[dict[str, Any]]) -> None:
    row = patient_row(cohort_patients[3])
    assert tuple(row) == PATIENT_COLUMNS
    assert row["patient_id"] == "P4"
    assert row["category"] == "DR"
    assert row["response_group"] == "atypical response"
    assert row["bernard_tessier"] == "true"
    assert row["best_change_pct"] == "-10.0"
    assert row["follow_ups"] == "2"
    assert row["baseline_date"] == "2024-01-01"
    assert row["progression_date"] == "2024-04-22"
    assert row["depth_of_response_pct"] == ""  # absent -> empty cell


def test_frequencies_per_patient_assessment_and_lesion(
    cohort_patients: list[dict[str, Any]],
) -> None:
    by_name = {f.name: f for f in frequencies(cohort_patients)}
    category = by_name["Category (seed 002) per patient"]
    assert dict(category.counts) == {"CR": 1, "true PR": 1, "true SD": 1, "true PD": 2, "DR": 1}
    assert [value for value, _ in category.counts] == ["CR", "true PR", "true SD", "true PD", "DR"]
    assert category.total == 6
    assert round(category.percent(2), 1) == 33.3
    per_assessment = by_name["RECIST 1.1 overall response per assessment"]
    # 3 + 2 + 2 + 2 + 1 + 3 follow-ups; the baselines are not assessments of response.
    assert per_assessment.total == 13
    assert dict(per_assessment.counts) == {"CR": 2, "PR": 3, "SD": 5, "PD": 3}
    by_first = by_name[
        "Bernard-Tessier DR by RECIST 1.1 response at the first follow-up (seed 002 Fig. 1c)"
    ]
    assert dict(by_first.counts) == {
        "PR: no DR": 1,
        "CR: no DR": 1,
        "SD: no DR": 2,
        "SD: DR": 1,
        "PD: no DR": 1,
    }
    first_dr = by_name["Time point of the first DR (seed 002 Fig. 1f)"]
    assert first_dr.counts == (("TP2", 1),)  # P4 meets the definition at its second follow-up
    lesions = by_name["Lesion-level response per lesion assessment"]
    assert dict(lesions.counts) == {"PR": 2, "SD": 1, "PD": 1, "NEW": 1}
    rows = frequency_rows([category])
    assert rows[0] == {
        "field": category.name,
        "unit": "patients",
        "value": "CR",
        "count": "1",
        "percent": "16.7",
    }


def test_write_csv_is_atomic_and_complete(tmp_path: Path) -> None:
    path = tmp_path / "out.csv"
    path.write_text("old", encoding="utf-8")
    write_csv(path, ("a", "b"), [{"a": "1", "b": "x,y"}, {"a": "2"}])
    assert path.read_text(encoding="utf-8").splitlines() == ["a,b", '1,"x,y"', "2,"]
    assert [p.name for p in tmp_path.iterdir()] == ["out.csv"]
