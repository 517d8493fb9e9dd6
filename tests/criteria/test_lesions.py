"""Lesion-level response (seed 001): RECIST thresholds applied to one lesion."""

from __future__ import annotations

import pytest
from tests.criteria.builders import classify, days

B = "2024-01-01"
D = [days(B, 56 * k) for k in range(4)]


def lesion_at(spec: str, values: list[float | str], index: int = -1) -> str:
    result = classify({"L": spec}, [(D[k], {"L": v}) for k, v in enumerate(values)])
    return result.lesions[index if index >= 0 else len(values) - 1]["L"].response


@pytest.mark.parametrize(
    ("values", "expected"),
    [
        ([20, "absent"], "CR"),
        ([20, 0], "CR"),
        ([20, 14], "PR"),  # exactly -30 %
        ([20, 14.1], "SD"),
        ([25, 30], "PD"),  # exactly +20 % and +5 mm
        ([21, 25.2], "SD"),  # +20 % but +4.2 mm
        ([20, 10, 15], "PD"),  # +50 %, +5 mm from its nadir 10 (still -25 % from baseline)
        ([20, 14, 16], "SD"),  # no continued PR at lesion level: -20 % from baseline
        ([20, "not-evaluated"], "NE"),
        ([20, "too-small"], "PR"),  # 5 mm
    ],
)
def test_target_lesion(values, expected):
    assert lesion_at("target lung", values) == expected


@pytest.mark.parametrize(("short_axis", "expected"), [(9.9, "CR"), (10.0, "PR"), (20, "SD")])
def test_node_below_10_mm_is_complete_response(short_axis, expected):
    assert lesion_at("target lymph node", [20, short_axis]) == expected


@pytest.mark.parametrize(
    ("state", "expected"),
    [
        ("absent", "CR"),
        ("present", "NON-CR/NON-PD"),
        ("progression", "PD"),
        ("increase", "PD"),
        ("not-evaluated", "NE"),
    ],
)
def test_lesion_known_only_by_state(state, expected):
    assert lesion_at("non-target bone", ["present", state]) == expected


def test_measured_non_target_uses_numbers():
    assert lesion_at("non-target liver", [30, 18]) == "PR"


def test_new_lesion_is_new():
    result = classify(
        {"T": "target lung", "X": "new liver"},
        [(D[0], {"T": 20}), (D[1], {"T": 20, "X": 8})],
    )
    assert result.lesions[1]["X"].response == "NEW"
    assert "X" not in result.lesions[0]


def test_lesion_reason_has_numbers():
    result = classify({"L": "target lung"}, [(D[0], {"L": 25}), (D[1], {"L": 30})])
    assert result.lesions[1]["L"].reason == "PD: L 30 mm is +20.0 % and +5 mm from its nadir 25 mm"
