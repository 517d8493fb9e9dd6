"""Small hand-made patients of the classification JSON (shared/spec/lesion-table.md)."""

import datetime as dt
from typing import Any

import pytest

BASE = dt.date(2024, 1, 1)


def make_patient(
    patient_id: str,
    changes: list[float],
    overall: list[str],
    category: str,
    progression_week: int | None = None,
    lesion_responses: list[dict[str, str]] | None = None,
    bor: str | None = None,
) -> dict[str, Any]:
    """A patient assessed every 8 weeks with the given % changes of the sum from baseline."""
    timepoints: list[dict[str, Any]] = [
        {
            "timepoint": 0,
            "date": BASE.isoformat(),
            "sum_mm": 100.0,
            "change_from_baseline_pct": None,
            "overall": "NA",
            "irecist": "NA",
            "lesions": {},
            "category": "NA",
            "reason": "baseline",
        }
    ]
    for index, (change, response) in enumerate(zip(changes, overall, strict=True), start=1):
        timepoints.append(
            {
                "timepoint": index,
                "date": (BASE + dt.timedelta(weeks=8 * index)).isoformat(),
                "sum_mm": 100.0 + change,
                "change_from_baseline_pct": change,
                "overall": response,
                "irecist": "i" + response if response in {"CR", "PR", "SD"} else "iUPD",
                "lesions": (lesion_responses[index - 1] if lesion_responses else {}),
                "category": category,
                "dissociated": {
                    "vuagnat": "none",
                    "bernard_tessier": category == "DR" and index == len(changes),
                },
                "reason": f"{response}: SOD {100 + change:.0f} mm is {change:+.1f} % from baseline",
            }
        )
    progression = (
        (BASE + dt.timedelta(weeks=progression_week)).isoformat() if progression_week else None
    )
    return {
        "patient_id": patient_id,
        "best_overall_response": bor or min(overall, key=["CR", "PR", "SD", "PD", "NE"].index),
        "category": category,
        "response_group": {
            "CR": "true response",
            "true PR": "true response",
            "DR": "atypical response",
            "true SD": "non-response",
            "true PD": "non-response",
        }.get(category, "NA"),
        "pseudoprogression": False,
        "dissociated_response": {
            "vuagnat": "none",
            "bernard_tessier": category == "DR",
            "tozuka": "NA",
        },
        "progression_date": progression,
        "timepoints": timepoints,
    }


@pytest.fixture
def cohort_patients() -> list[dict[str, Any]]:
    return [
        make_patient("P1", [-40.0, -55.0, -60.0], ["PR", "PR", "PR"], "true PR"),
        make_patient("P2", [-100.0, -100.0], ["CR", "CR"], "CR"),
        make_patient("P3", [5.0, 25.0], ["SD", "PD"], "true PD", progression_week=16),
        make_patient(
            "P4",
            [-10.0, 10.0],
            ["SD", "PD"],
            "DR",
            progression_week=16,
            lesion_responses=[{"L1": "PR", "L2": "SD"}, {"L1": "PR", "L2": "PD", "L3": "NEW"}],
        ),
        make_patient("P5", [150.0], ["PD"], "true PD", progression_week=8),
        make_patient("P6", [0.0, 3.0, -5.0], ["SD", "SD", "SD"], "true SD"),
    ]


@pytest.fixture
def patient_factory() -> Any:
    """`make_patient`, for tests that build their own patients."""
    return make_patient
