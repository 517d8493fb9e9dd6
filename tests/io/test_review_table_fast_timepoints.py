"""Review reproductions: the column-wise reader on time points beyond 64-bit arithmetic.

`table_fast._Reader.read` keeps time points in int64 (`tp_ints`) and groups rows by
``patient * t_size + (timepoint - t_low)``: a time point beyond int64 raises OverflowError
(the CLI's "internal error"), and a time point large enough for that key to overflow drops
a patient silently. The row-wise reader (the reference) reads both files and keeps every
patient. Marked xfail (strict) until a time point range check makes both readers refuse
such a value with a Problem naming the row and column.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from napari_recist.errors import InputError
from napari_recist.io import table
from napari_recist.io.table import read_table

HEADER = "patient_id,timepoint,date,lesion_id,role,site,long_axis_mm\n"


def _row_wise(path: Path) -> table.TableReadResult:
    text = table._decode(path.read_bytes(), str(path))
    header, header_row, rows = table._split_csv(text, str(path))
    return table._rows_to_result(header, rows, str(path), False, header_row, True)


@pytest.mark.xfail(strict=True, reason="review: int64 overflow in table_fast (OverflowError)")
def test_a_time_point_beyond_int64_is_a_problem_not_an_overflow(tmp_path: Path) -> None:
    path = tmp_path / "t.csv"
    path.write_text(HEADER + "P1,0,2020-01-01,L1,target,liver,20\n"
                    "P1,1,2020-02-01,L1,target,liver,10\n"
                    "P1,9223372036854775808,2020-03-01,L1,target,liver,10\n")
    with pytest.raises(InputError) as raised:
        read_table(path)
    assert any(p.row == 4 and p.column == "timepoint" for p in raised.value.problems)


@pytest.mark.xfail(strict=True, reason="review: int64 key overflow in table_fast drops P3")
def test_a_huge_time_point_does_not_drop_another_patient(tmp_path: Path) -> None:
    rows = "".join(
        f"P{p},0,2020-01-01,L1,target,liver,2{p}\nP{p},1,2020-02-01,L1,target,liver,1{p}\n"
        for p in range(4)
    )
    path = tmp_path / "t.csv"
    path.write_text(HEADER + rows + "P0,4000000000000000000,2020-03-01,L1,target,liver,5\n")
    reference = [r.patient_id for r in _row_wise(path).records]
    assert reference == ["P0", "P1", "P2", "P3"]
    assert [r.patient_id for r in read_table(path).records] == reference  # fast: P0, P1, P2
