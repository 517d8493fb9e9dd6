"""The engine's fast paths give every field the reference rules give (issue 12).

The reference: the lesion-unit rules (`Timeline.single_lesion_units` forced False, so every
rule goes through `Timeline.units`), the raw RECIST responses computed from scratch, and the
number formatting as it was written before. Checked on the example table (the golden cases),
on random tables (hypothesis, the property tests' generator) and on random cohorts of the
benchmark's kind.
"""

from __future__ import annotations

import datetime as dt
import math
import random
import sys
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from tests.criteria.test_properties import lesion_tables, linked_tables

from napari_recist import engine_is_compiled
from napari_recist.criteria import numbers
from napari_recist.criteria.lesions import lesion_responses, unit_lesion_responses
from napari_recist.criteria.recist import raw_responses, timepoint_responses
from napari_recist.criteria.report import classify_patient
from napari_recist.criteria.settings import Criteria
from napari_recist.criteria.timeline import Timeline, build_timeline
from napari_recist.io.table import read_table, rows_to_records
from napari_recist.model import PatientRecord

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT / "benchmarks"))
from bench_classify import generate_patient  # noqa: E402

# The reference is forced by patching `Timeline.single_lesion_units`; the compiled engine reads
# that property natively, so patching it would compare the fast path with itself. With the
# engine compiled, test_compiled_engine.py runs this file on the interpreted sources.
needs_interpreted = pytest.mark.skipif(
    engine_is_compiled(),
    reason="compiled engine: this file runs on the interpreted sources in test_compiled_engine",
)


def reference_json(record: PatientRecord, criteria: Criteria, monkeypatch) -> dict:
    """The patient object with every rule on the lesion-unit path."""
    with monkeypatch.context() as patch:
        patch.setattr(Timeline, "single_lesion_units", property(lambda self: False))
        return classify_patient(record, criteria).to_json()


def assert_same(records: list[PatientRecord], monkeypatch, criteria: Criteria | None = None):
    criteria = criteria or Criteria()
    for record in records:
        fast = classify_patient(record, criteria).to_json()
        reference = reference_json(record, criteria, monkeypatch)
        # Equal values and the same key order at every level (the JSON must not change).
        assert fast == reference, record.patient_id
        assert repr(fast) == repr(reference), record.patient_id
        timeline = build_timeline(record, criteria)
        for index in range(timeline.count):
            assert lesion_responses(timeline, index) == unit_lesion_responses(timeline, index)
        timepoints = timepoint_responses(timeline)
        assert raw_responses(timeline, timepoints) == timepoint_responses(
            timeline, continued_pr=False
        )


@needs_interpreted
def test_example_table(monkeypatch):
    assert_same(read_table(ROOT / "examples" / "lesions.csv").records, monkeypatch)


@needs_interpreted
@pytest.mark.parametrize("seed", [1, 2, 3])
def test_random_cohorts(seed, monkeypatch):
    rng = random.Random(seed)
    assert_same([generate_patient(rng, n) for n in range(150)], monkeypatch)


@needs_interpreted
def test_random_cohorts_with_other_thresholds(monkeypatch):
    rng = random.Random(7)
    criteria = Criteria(pd_pct=10.0, pr_pct=-20.0, lesion_min_increase_mm=2.0, min_sd_days=60)
    assert_same([generate_patient(rng, n) for n in range(100)], monkeypatch, criteria)


@needs_interpreted
@settings(max_examples=120, deadline=None, suppress_health_check=[HealthCheck.too_slow,
          HealthCheck.function_scoped_fixture])
@given(lesion_tables())
def test_random_tables(monkeypatch, rows):
    assert_same(rows_to_records(rows, "generated").records, monkeypatch)


@needs_interpreted
@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow,
          HealthCheck.function_scoped_fixture])
@given(linked_tables())
def test_split_and_coalesced_tables_take_the_unit_path(monkeypatch, rows):
    records = rows_to_records(rows, "generated", lenient=True).records
    for record in records:
        assert not build_timeline(record, Criteria()).single_lesion_units
    assert_same(records, monkeypatch)


def test_continued_pr_recomputes_the_raw_responses_from_where_they_differ():
    # 50 -> 30 mm (PR, -40 %) -> 35.5 (-29 % from baseline, +18 % from the nadir: continued
    # PR, raw SD).
    from napari_recist.model import Assessment, Lesion, LesionState, Measurement, Role

    lesion = Lesion("T1", Role.TARGET, "lung")
    sizes = [50.0, 30.0, 35.5, 35.5]
    record = PatientRecord("P", {"T1": lesion}, [
        Assessment(i, dt.date(2024, 1, 1) + dt.timedelta(days=60 * i),
                   {"T1": Measurement("T1", LesionState.MEASURED, size)})
        for i, size in enumerate(sizes)
    ])
    timeline = build_timeline(record, Criteria())
    timepoints = timepoint_responses(timeline)
    assert [tp.target for tp in timepoints[1:]] == ["PR", "PR", "PR"]
    raw = raw_responses(timeline, timepoints)
    assert raw is not timepoints and raw[:2] == timepoints[:2]
    assert [tp.target for tp in raw[1:]] == ["PR", "SD", "SD"]
    assert raw == timepoint_responses(timeline, continued_pr=False)


def _fmt_pct_before(value: float | None) -> str:
    if value is None:
        return "n/a %"
    rounded = round(value, 1)
    if rounded == 0:
        rounded = 0.0
    return f"{rounded:+.1f} %"


def _fmt_mm_before(value: float) -> str:
    if value == int(value):
        return str(int(value))
    text = f"{value:.2f}".rstrip("0").rstrip(".")
    return "0" if text in ("-0", "") else text


@given(st.floats(-1e7, 1e7, allow_nan=False) | st.floats(-1e-3, 1e-3))
def test_fmt_pct_as_before(value):
    assert numbers.fmt_pct(value) == _fmt_pct_before(value)


@pytest.mark.parametrize("value", [-0.05, -0.04, 0.05, 0.15, 0.25, -0.25, 2.675, 1e-12, -0.0])
def test_fmt_pct_at_halves_and_zero(value):
    assert numbers.fmt_pct(value) == _fmt_pct_before(value)


def _round_tenths_before(value: float) -> float:
    rounded = float(round(value, 1))
    return 0.0 if rounded == 0 else rounded


def _near_tenths_and_halves() -> list[float]:
    """k/10 and (k + 0.5)/10 for |k| <= 30,000 (+-3,000 %), each with its two neighbours."""
    values = []
    for k in range(-30_000, 30_001):
        for centre in (k / 10, (k + 0.5) / 10):
            values += [centre, math.nextafter(centre, math.inf), math.nextafter(centre, -math.inf)]
    return values


def test_tenths_as_round_at_every_tenth_and_half_up_to_3000_pct():
    # The direct path decides on a rounded `value * 10`: these are the values where that
    # rounding could fall on the other side of a half or of a whole tenth.
    for value in _near_tenths_and_halves():
        assert numbers.fmt_pct(value) == _fmt_pct_before(value), repr(value)
        assert repr(numbers.round_pct(value)) == repr(_round_tenths_before(value)), repr(value)
        assert repr(numbers.round_one_decimal(value)) == repr(_round_tenths_before(value))


@given(st.floats(-1e7, 1e7, allow_nan=False) | st.floats(-1e-3, 1e-3))
def test_round_pct_and_one_decimal_as_before(value):
    assert repr(numbers.round_pct(value)) == repr(_round_tenths_before(value))
    assert repr(numbers.round_one_decimal(value)) == repr(_round_tenths_before(value))


@pytest.mark.parametrize("value", [
    0.25, -0.25, 0.75, 1.25, 2.675, 0.05, -0.05, 0.35, 999_999.95, -999_999.95, 999_999.99,
    1e6, -1e6, 5e6, 1e300, -0.0, 0.0, 1e-300, -1e-300, 0.04999999999999999,
])
def test_tenths_at_ties_the_limit_and_zero(value):
    # Exact binary ties (0.25, 0.75, 1.25) round half to even; the limit is 1e6.
    assert numbers.fmt_pct(value) == _fmt_pct_before(value)
    assert repr(numbers.round_pct(value)) == repr(_round_tenths_before(value))


def test_fmt_pct_of_nan_and_infinity_as_before():
    for value in (float("nan"), float("inf"), -float("inf")):
        assert numbers.fmt_pct(value) == f"{value:+.1f} %"


def _round_mm_before(value: float) -> float:
    return float(round(value, 2))


@given(st.floats(-1e7, 1e7, allow_nan=False) | st.floats(-1e-2, 1e-2))
def test_fmt_mm_and_round_mm_as_before(value):
    assert numbers.fmt_mm(value) == _fmt_mm_before(value)
    assert repr(numbers.round_mm(value)) == repr(_round_mm_before(value))


def test_hundredths_as_round_at_every_hundredth_and_half_up_to_1000_mm():
    # As for the tenths: k/100 and (k + 0.5)/100, |k| <= 100,000, each with its neighbours,
    # where the rounded `value * 100` could fall on the other side of a half or a hundredth.
    for k in range(-100_000, 100_001):
        for centre in (k / 100, (k + 0.5) / 100):
            for value in (centre, math.nextafter(centre, math.inf),
                          math.nextafter(centre, -math.inf)):
                assert numbers.fmt_mm(value) == _fmt_mm_before(value), repr(value)
                assert repr(numbers.round_mm(value)) == repr(_round_mm_before(value)), repr(value)


@pytest.mark.parametrize("value", [
    2.675, -2.675, 1.005, 0.125, -0.125, 0.375, 1.015, 0.005, -0.005, 0.001, -0.001, -0.0, 0.0,
    999_999.995, -999_999.995, 999_999.999, 1e6, -1e6, 5e6, 1e300, 1e-300, -1e-300, 12.5,
    155.39999999999998, -18.600000000000023, 30.0, 4.25, 42.5,
])
def test_hundredths_at_ties_the_limit_and_zero(value):
    # 0.125 and 0.375 are exact binary ties (half to even); 2.675 lies just below its half.
    assert numbers.fmt_mm(value) == _fmt_mm_before(value)
    assert repr(numbers.round_mm(value)) == repr(_round_mm_before(value))


def test_fmt_mm_of_nan_and_infinity_as_before():
    for value in (float("nan"), float("inf"), -float("inf")):
        with pytest.raises((ValueError, OverflowError)):
            _fmt_mm_before(value)
        with pytest.raises((ValueError, OverflowError)):
            numbers.fmt_mm(value)


@pytest.mark.parametrize("value", [float("nan"), float("inf"), -float("inf")])
def test_rounding_refuses_what_json_cannot_hold(value):
    for helper in (numbers.round_mm, numbers.round_pct, numbers.round_rate,
                   numbers.round_one_decimal):
        with pytest.raises(ValueError, match="no NaN or Infinity"):
            helper(value)
