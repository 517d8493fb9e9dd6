"""The numpy column-wise reader gives what the row-wise reader gives (issue 12).

`read_table` takes the fast path (`napari_recist.io.table_fast.read_fast`) for plain files;
the row-wise reader (`table._split_csv` + `table._rows_to_result`) is the reference. Compared
field by field, in order (lesions, assessments, measurements), with the same problems (file,
row, column, words) in strict and lenient mode, on the example and sample tables, a generated
200-patient cohort, and random tables with damaged cells.
"""

from __future__ import annotations

import csv
import io
import random
import sys
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from tests.criteria.test_properties import lesion_tables

from napari_recist.errors import InputError
from napari_recist.io import table, table_fast
from napari_recist.io.table import read_table, write_table

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT / "benchmarks"))
from bench_classify import generate_patient  # noqa: E402


def fields(record: Any) -> tuple[Any, ...]:
    """Every field of a record, in order (dict order too)."""
    return (
        record.patient_id,
        record.treatment_start,
        [(key, lesion, type(lesion.nodal)) for key, lesion in record.lesions.items()],
        [
            (a.timepoint, a.date, [(key, m, dict(m.extra)) for key, m in a.measurements.items()])
            for a in record.assessments
        ],
    )


def outcome(read: Any) -> tuple[Any, ...]:
    try:
        result = read()
    except InputError as error:
        return ("refused", [(p, str(p)) for p in error.problems])
    if result is None:
        return ("not taken",)
    return (
        "read",
        [fields(record) for record in result.records],
        [(p, str(p)) for p in result.skipped],
        [(p, str(p)) for p in result.warnings],
        result.extra_columns,
    )


def reference(data: bytes, source: str, lenient: bool) -> Any:
    text = table._decode(data, source)
    header, header_row, rows = table._split_csv(text, source)
    return table._rows_to_result(header, rows, source, lenient, header_row)


def fast(data: bytes, source: str, lenient: bool) -> Any:
    text = table._decode(data, source)
    return table_fast.read_fast(data, text, source, lenient)


def compare(data: bytes, lenient: bool, *, taken: bool | None = None) -> tuple[Any, ...]:
    """Assert both readers agree on the bytes of a table; return the reference outcome."""
    source = "t.csv"
    expected = outcome(lambda: reference(data, source, lenient))
    got = outcome(lambda: fast(data, source, lenient))
    if taken is not None:
        assert (got[0] != "not taken") is taken, got
    if got[0] != "not taken":
        assert got == expected
    return expected


def table_bytes(rows: list[dict[str, str]], *, quoting: int = csv.QUOTE_MINIMAL,
                newline: str = "\n") -> bytes:
    out = io.StringIO()
    writer = csv.DictWriter(out, fieldnames=list(rows[0]), quoting=quoting,
                            lineterminator=newline)
    writer.writeheader()
    writer.writerows(rows)
    return out.getvalue().encode("utf-8")


@pytest.mark.parametrize(
    "path",
    [ROOT / "examples" / "lesions.csv", ROOT / "sample_dicom" / "lesions.csv",
     ROOT / "src" / "napari_recist" / "examples" / "lesions.csv"],
    ids=lambda p: str(p.relative_to(ROOT)),
)
@pytest.mark.parametrize("lenient", [False, True])
def test_the_project_tables(path, lenient):
    compare(path.read_bytes(), lenient, taken=True)


@pytest.fixture(scope="module")
def cohort(tmp_path_factory) -> bytes:
    rng = random.Random(12)
    records = [generate_patient(rng, n) for n in range(200)]
    for lid in ("N1", "N2"):  # check_record fills these in as not-evaluated, with a warning
        del records[7].assessments[3].measurements[lid]
    path = tmp_path_factory.mktemp("cohort") / "cohort.csv"
    write_table(records, path)
    return path.read_bytes()


@pytest.mark.parametrize("lenient", [False, True])
def test_a_random_200_patient_cohort(cohort, lenient):
    expected = compare(cohort, lenient, taken=True)
    assert expected[0] == "read" and len(expected[1]) == 200
    assert any("not-evaluated" in text for _, text in expected[3])


def _damage(data: bytes, lines: list[int], make: Any) -> bytes:
    text = data.decode("utf-8").split("\n")
    for k in lines:
        if 0 < k < len(text) and text[k]:
            text[k] = make(text[k])
    return "\n".join(text).encode("utf-8")


def _cell(index: int, value: str) -> Any:
    def change(line: str) -> str:
        cells = line.split(",")
        cells[index % len(cells)] = value
        return ",".join(cells)

    return change


DAMAGE = {
    "bad number": lambda: _cell(7, "12 mm"),
    "underscore number": lambda: _cell(7, "1_0"),
    "decimal comma": lambda: _cell(7, "12;5"),
    "negative size": lambda: _cell(8, "-3"),
    "huge size": lambda: _cell(7, "5000"),
    "nan size": lambda: _cell(7, "nan"),
    "unknown role": lambda: _cell(4, "targte"),
    "unknown state": lambda: _cell(9, "gone"),
    "bad date": lambda: _cell(2, "2024-02-30"),
    "bad timepoint": lambda: _cell(1, "one"),
    "timepoint 2.0": lambda: _cell(1, "2.0"),
    "empty patient": lambda: _cell(0, ""),
    "empty lesion": lambda: _cell(3, ""),
    "empty site": lambda: _cell(5, ""),
    "node-like site": lambda: _cell(5, "axillary node"),
    "bad nodal": lambda: _cell(6, "maybe"),
    "no size no state": lambda: (lambda line: ",".join(
        [*line.split(",")[:7], "", "", ""] + line.split(",")[10:])),
    "formula cell": lambda: _cell(0, "'=cmd|x"),
    "quote-prefixed": lambda: _cell(5, "'lung"),
    "padded cell": lambda: _cell(3, " T1 "),
    "wrong field count": lambda: (lambda line: line + ",extra"),
    "blank row": lambda: (lambda line: ",,,,,,,,,,"),
    "empty line": lambda: (lambda line: ""),
    "spaces": lambda: (lambda line: "   "),
    "new at baseline": lambda: _cell(4, "new"),
    "absent with size": lambda: _cell(9, "absent"),
    "target state": lambda: _cell(9, "present"),
    "pre-baseline": lambda: _cell(1, "-1"),
    "later date": lambda: _cell(2, "2031-01-01"),
}


def _cohort_rows(seed: int, patients: int) -> bytes:
    rng = random.Random(seed)
    out = io.StringIO()
    records = [generate_patient(rng, n) for n in range(patients)]
    rows = table.records_to_rows(records)
    writer = csv.DictWriter(out, fieldnames=list(rows[0]), lineterminator="\n")
    writer.writeheader()
    writer.writerows(rows)
    return out.getvalue().encode("utf-8")


@settings(max_examples=120, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    st.integers(0, 10_000),
    st.lists(st.sampled_from(sorted(DAMAGE)), min_size=1, max_size=3),
    st.lists(st.integers(1, 130), min_size=1, max_size=4),
    st.booleans(),
)
def test_damaged_cells_are_reported_as_the_row_wise_reader_does(seed, kinds, lines, lenient):
    data = _cohort_rows(seed, 3)
    for kind in kinds:
        data = _damage(data, lines, DAMAGE[kind]())
    compare(data, lenient)


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    lesion_tables(),
    st.sampled_from(["plain", "bom", "crlf", "quoted", "duplicate", "no state column",
                     "missing column", "semicolon", "tab", "blank lines"]),
    st.booleans(),
)
def test_random_tables_in_every_dialect(rows, dialect, lenient):
    if dialect == "quoted":
        data = table_bytes(rows, quoting=csv.QUOTE_ALL)
    elif dialect == "crlf":
        data = table_bytes(rows, newline="\r\n")
    elif dialect == "semicolon":
        data = table_bytes(rows).replace(b",", b";")
    elif dialect == "tab":
        data = table_bytes(rows).replace(b",", b"\t")
    elif dialect == "duplicate":
        data = table_bytes(rows + rows[-1:])
    elif dialect == "no state column":
        data = table_bytes([{k: v for k, v in row.items() if k != "state"} for row in rows])
    elif dialect == "missing column":
        data = table_bytes([{k: v for k, v in row.items() if k != "role"} for row in rows])
    elif dialect == "blank lines":
        data = b"\n\n" + table_bytes(rows).replace(b"\n", b"\n\n", 2)
    else:
        data = table_bytes(rows)
    if dialect == "bom":
        data = b"\xef\xbb\xbf" + data
    compare(data, lenient, taken=False if dialect == "quoted" else None)


@pytest.mark.parametrize("lenient", [False, True])
def test_optional_columns(lenient):
    data = (
        b"patient_id,timepoint,date,lesion_id,role,site,long_axis_mm,state,thoracic,"
        b"tracking_uid,part_of,treatment_start\n"
        b"P1,0,2024-01-01,L1,target,lung,20,,true,1.2.3,,2023-12-20\n"
        b"P1,0,2024-01-01,L2,target,liver,30,,,,,2023-12-20\n"
        b"P1,1,2024-03-01,L1,target,lung,12,,true,1.2.3,,\n"
        b"P1,1,2024-03-01,L2,target,liver,,absent,,,,\n"
        b"P1,2,2024-05-01,L1,target,lung,12,,true,1.2.3,,\n"
        b"P1,2,2024-05-01,L2a,target,liver,5,,,,L2,\n"
        b"P2,0,2024-01-01,L1,target,lung,20,,,,,2023-12-21\n"
        b"P2,1,2024-03-01,L1,target,lung,20,,,,,2023-12-22\n"
    )
    expected = compare(data, lenient, taken=True)
    assert "treatment_start" in str(expected)


def test_read_table_takes_the_fast_path(tmp_path, monkeypatch, cohort):
    path = tmp_path / "t.csv"
    path.write_bytes(cohort)
    monkeypatch.setattr(table, "_rows_to_result", lambda *a, **k: pytest.fail("row-wise"))
    import napari_recist.io.table_columns as columns

    monkeypatch.setattr(columns, "read_columns", lambda *a, **k: pytest.fail("columns"))
    assert len(read_table(path).records) == 200


def test_only_damaged_patients_go_row_by_row(cohort, monkeypatch):
    damaged = _damage(cohort, [5], _cell(7, "12 mm"))
    seen: list[str] = []
    original = table._PatientChecker.__init__

    def spy(self, patient_id, *args, **kwargs):
        seen.append(patient_id)
        original(self, patient_id, *args, **kwargs)

    monkeypatch.setattr(table._PatientChecker, "__init__", spy)
    result = fast(damaged, "t.csv", True)
    assert len(result.records) == 200
    assert [p for p in seen if p] == ["P00000"]
    assert result.skipped[0].row == 6 and "must be a number" in str(result.skipped[0])
    assert all(p.row is not None and p.row <= 49 for p in result.skipped)  # P00000's rows
    compare(damaged, True, taken=True)
    compare(damaged, False, taken=True)
