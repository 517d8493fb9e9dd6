"""The column-wise reader gives what the row-wise reader gives, or leaves it the table (issue 12).

Equal records and equal warnings on clean tables (the example, generated cohorts, random
tables); on a table with anything to report it returns None and `read_table` reports what the
row-wise reader reports.
"""

from __future__ import annotations

import csv
import random
import sys
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from tests.criteria.test_properties import lesion_tables

from napari_recist.errors import InputError
from napari_recist.io import table
from napari_recist.io.table import read_table, write_table
from napari_recist.io.table_columns import read_columns

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT / "benchmarks"))
from bench_classify import generate_patient  # noqa: E402


def both(path: Path, lenient: bool = False):
    """(column-wise result or None, row-wise result) of one file."""
    text = table._decode(path.read_bytes(), str(path))
    header, header_row, reader = table._csv_reader(text, str(path))
    fast = read_columns(header, header_row, reader, str(path), lenient)
    header, header_row, rows = table._split_csv(text, str(path))
    slow = table._rows_to_result(header, rows, str(path), lenient, header_row)
    return fast, slow


def assert_equal(fast, slow) -> None:
    assert fast is not None, "the column-wise reader should have read this table"
    assert fast.records == slow.records
    assert [str(p) for p in fast.warnings] == [str(p) for p in slow.warnings]
    assert fast.skipped == slow.skipped == []
    assert fast.extra_columns == slow.extra_columns


def test_example_table():
    assert_equal(*both(ROOT / "examples" / "lesions.csv"))


@pytest.mark.parametrize("lenient", [False, True])
def test_generated_cohort_with_a_record_warning(tmp_path, lenient):
    rng = random.Random(5)
    records = [generate_patient(rng, n) for n in range(200)]
    # A follow-up without the non-targets: check_record warns (counted as not-evaluated).
    for lid in ("N1", "N2"):
        del records[3].assessments[2].measurements[lid]
    path = tmp_path / "cohort.csv"
    write_table(records, path)
    fast, slow = both(path, lenient)
    assert_equal(fast, slow)
    assert any("not-evaluated" in str(p) for p in fast.warnings)


@settings(max_examples=80, deadline=None, suppress_health_check=[HealthCheck.too_slow,
          HealthCheck.function_scoped_fixture])
@given(lesion_tables())
def test_random_tables(tmp_path, rows):
    path = tmp_path / "random.csv"
    with path.open("w", newline="") as handle:
        writer = csv.DictWriter(handle, fieldnames=list(rows[0]))
        writer.writeheader()
        writer.writerows(rows)
    fast, slow = both(path)
    if fast is None:  # a row the row-wise reader has a word for (e.g. no size, no state)
        assert slow.warnings or slow.skipped
        return
    assert_equal(fast, slow)


GOOD = "patient_id,timepoint,date,lesion_id,role,site,long_axis_mm,state\n" \
    "P1,0,2024-01-01,L1,target,lung,20,\nP1,1,2024-03-01,L1,target,lung,12,\n"


@pytest.mark.parametrize(
    ("change", "expected"),
    [
        (lambda t: t + "\n,,,,,,,\n", None),  # a blank row: skipped by the row-wise reader
        (lambda t: t + "P1,1,2024-03-01,L1,target,lung,12,\n", "duplicate row"),
        (lambda t: t.replace("P1,1,2024-03-01,L1,target,lung,12,",
                             "P1,1,2024-03-01,L1,target,lung,,"), "neither a size nor a state"),
        (lambda t: t.replace("lung,12", "axillary node,12"), "sounds like a lymph node"),
        (lambda t: t.replace("lung,12", "liver,12"), "the first is kept"),
        (lambda t: t.replace(",12,", ",12 mm,"), "must be a number"),
        (lambda t: t.replace("2024-03-01", "2024-02-30"), "not a valid date"),
        (lambda t: t.replace("state\n", "state,note\n").replace(",\n", ",,x\n"), None),
    ],
)
def test_anything_to_report_goes_to_the_row_wise_reader(tmp_path, change, expected):
    path = tmp_path / "t.csv"
    path.write_text(change(GOOD))
    fast, _ = both(path, lenient=True)
    assert fast is None
    try:
        result = read_table(path)
        said = [str(p) for p in result.warnings]
    except InputError as error:
        said = [str(p) for p in error.problems]
    if expected:
        assert any(expected in text for text in said), said


def test_clean_table_takes_the_fast_path(tmp_path, monkeypatch):
    path = tmp_path / "t.csv"
    path.write_text(GOOD)
    called = []
    monkeypatch.setattr(table, "_rows_to_result", lambda *a, **k: called.append(1))
    assert [r.patient_id for r in read_table(path).records] == ["P1"]
    assert not called


@given(st.text(alphabet=st.sampled_from(list('ab,"é\n\r\x0c\u2028')), max_size=60),
       st.integers(1, 8))
def test_lines_are_those_of_universal_newlines(text, chunk):
    import io

    old, table._LINES_CHUNK = table._LINES_CHUNK, chunk
    try:
        assert list(table._lines(text)) == list(io.StringIO(text, newline=""))
    finally:
        table._LINES_CHUNK = old
