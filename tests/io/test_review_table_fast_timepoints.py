"""Time points beyond 64-bit arithmetic (found in review).

`table_fast` kept time points in int64 and grouped rows by a key built from them: a time point
beyond int64 raised OverflowError (the CLI's "internal error"), and one large enough for that
key to overflow dropped a patient silently. Both readers now refuse a time point beyond
`table.MAX_TIMEPOINT` with a Problem naming the row and column.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from napari_recist.errors import InputError
from napari_recist.io import table
from napari_recist.io.table import read_table

HEADER = "patient_id,timepoint,date,lesion_id,role,site,long_axis_mm\n"


def _row_wise(path: Path, lenient: bool = False) -> table.TableReadResult:
    text = table._decode(path.read_bytes(), str(path))
    header, header_row, rows = table._split_csv(text, str(path))
    return table._rows_to_result(header, rows, str(path), lenient, header_row, True)


@pytest.mark.parametrize("timepoint", ["9223372036854775808", "1000001", "-1000001", "1e300"])
def test_a_time_point_out_of_range_is_a_problem_not_an_overflow(tmp_path: Path,
                                                                 timepoint: str) -> None:
    path = tmp_path / "t.csv"
    path.write_text(HEADER + "P1,0,2020-01-01,L1,target,liver,20\n"
                    "P1,1,2020-02-01,L1,target,liver,10\n"
                    f"P1,{timepoint},2020-03-01,L1,target,liver,10\n")
    with pytest.raises(InputError) as raised:
        read_table(path)
    assert any(p.row == 4 and p.column == "timepoint" and "out of range" in p.message
               for p in raised.value.problems)


def test_a_huge_time_point_does_not_drop_another_patient(tmp_path: Path) -> None:
    rows = "".join(
        f"P{p},0,2020-01-01,L1,target,liver,2{p}\nP{p},1,2020-02-01,L1,target,liver,1{p}\n"
        for p in range(4)
    )
    path = tmp_path / "t.csv"
    path.write_text(HEADER + rows + "P0,4000000000000000000,2020-03-01,L1,target,liver,5\n")
    with pytest.raises(InputError):
        read_table(path)
    lenient = read_table(path, lenient=True)
    assert [r.patient_id for r in lenient.records] == ["P0", "P1", "P2", "P3"]
    assert lenient.records == _row_wise(path, lenient=True).records
    assert [p.row for p in lenient.skipped] == [10]
