"""The lesion table's `part_of`, `coalesced_into` and `treatment_start` columns (amended 2026-12):
read, checked (checks.check_record's rules mapped back to rows), written and read back."""

from __future__ import annotations

import datetime as dt

import pytest

from napari_recist.errors import InputError
from napari_recist.io.table import read_table, write_table

HEADER = (
    "patient_id,timepoint,date,lesion_id,role,site,long_axis_mm,short_axis_mm,state,"
    "part_of,coalesced_into,treatment_start\n"
)
GOOD = [
    "P1,0,2024-01-01,T4,target,lung,20,18,,,,2023-12-20",
    "P1,0,2024-01-01,A,target,liver,20,15,,,,",
    "P1,0,2024-01-01,B,target,liver,15,10,,,,",
    "P1,1,2024-03-01,T4.1,target,lung,12,10,,T4,,2023-12-20",
    "P1,1,2024-03-01,T4.2,target,lung,10,8,,T4,,",
    "P1,1,2024-03-01,A,target,liver,18,16,,,,",
    "P1,1,2024-03-01,B,target,liver,,,,,A,",
]


def _write(tmp_path, lines):
    path = tmp_path / "t.csv"
    path.write_text(HEADER + "\n".join(lines) + "\n", encoding="utf-8")
    return path


def test_links_are_read_written_and_read_back(tmp_path):
    result = read_table(_write(tmp_path, GOOD))
    record = result.records[0]
    assert record.treatment_start == dt.date(2023, 12, 20)
    assert record.lesions["T4.1"].part_of == "T4"
    follow_up = record.assessment(1)
    assert follow_up.measurements["B"].coalesced_into == "A"
    assert "T4" not in follow_up.measurements  # the split lesion is not filled as NE
    out = tmp_path / "out.csv"
    write_table(result.records, out)
    header = out.read_text().splitlines()[0].split(",")
    assert header[-3:] == ["part_of", "coalesced_into", "treatment_start"]
    again = read_table(out).records[0]
    assert again == record


def test_tables_without_links_keep_their_columns(tmp_path):
    path = tmp_path / "plain.csv"
    path.write_text(
        "patient_id,timepoint,date,lesion_id,role,site,long_axis_mm\n"
        "P,0,2024-01-01,L1,target,lung,20\n",
        encoding="utf-8",
    )
    out = tmp_path / "out.csv"
    write_table(read_table(path).records, out)
    assert "part_of" not in out.read_text().splitlines()[0]


@pytest.mark.parametrize(
    ("line", "column", "words"),
    [
        ("P1,1,2024-03-01,T9,target,lung,5,5,,T0,,", "part_of", "does not have"),
        ("P1,1,2024-03-01,T9,target,lung,5,5,,T9,,", "part_of", "itself"),
        ("P1,1,2024-03-01,T9,non-target,lung,,,present,T4,,", "part_of", "role"),
        ("P1,1,2024-03-01,T9,target,liver,5,5,,T4,,", "part_of", "site"),
        ("P1,1,2024-03-01,T4,target,lung,5,5,,,,", "lesion_id", "split"),
        ("P1,2,2024-05-01,A,target,liver,,,,,Z,", "coalesced_into", "no row"),
        ("P1,2,2024-05-01,A,target,liver,,,,,A,", "coalesced_into", "own lesion"),
        ("P1,0,2024-01-01,C,target,liver,,,,,A,", "coalesced_into", "baseline"),
        ("P1,1,2024-03-01,T4.2,target,lung,10,8,,T4,,", "lesion_id", "duplicate"),
    ],
)
def test_bad_links_are_refused_with_row_and_column(tmp_path, line, column, words):
    with pytest.raises(InputError) as caught:
        read_table(_write(tmp_path, [*GOOD, line]))
    problems = caught.value.problems
    assert any(p.row == len(GOOD) + 2 and p.column == column for p in problems), problems
    if words:
        assert any(words in p.message for p in problems), problems


def test_coalesced_row_with_a_size_or_state_and_differing_links(tmp_path):
    bad = [*GOOD[:-1], "P1,1,2024-03-01,B,target,liver,5,,,,A,"]
    with pytest.raises(InputError, match="has a size"):
        read_table(_write(tmp_path, bad))
    bad = [*GOOD[:-1], "P1,1,2024-03-01,B,target,liver,,,absent,,A,"]
    with pytest.raises(InputError, match="no state"):
        read_table(_write(tmp_path, bad))
    bad = [*GOOD, "P1,2,2024-05-01,T4.1,target,lung,12,10,,,,"]
    with pytest.raises(InputError, match="same part_of"):
        read_table(_write(tmp_path, bad))
    bad = [*GOOD, "P1,2,2024-05-01,A,target,liver,12,10,,,,2023-12-21"]
    with pytest.raises(InputError, match="one date per patient"):
        read_table(_write(tmp_path, bad))
    bad = [*GOOD, "P1,2,2024-05-01,A,target,liver,12,10,,,,2023-13-01"]
    with pytest.raises(InputError, match="treatment_start"):
        read_table(_write(tmp_path, bad))


def test_fragment_at_baseline_is_refused_and_lenient_skips_it(tmp_path):
    lines = [*GOOD, "P1,0,2024-01-01,T4.3,target,lung,5,5,,T4,,"]
    with pytest.raises(InputError, match="splits after baseline"):
        read_table(_write(tmp_path, lines))
    result = read_table(_write(tmp_path, lines), lenient=True)
    assert "T4.3" not in result.records[0].assessment(0).measurements
    assert any("splits after baseline" in p.message for p in result.skipped)


def test_classification_of_the_linked_table(tmp_path):
    from napari_recist.criteria.report import classify_patient

    patient = classify_patient(read_table(_write(tmp_path, GOOD)).records[0]).to_json()
    assert patient["treatment_start"] == "2023-12-20"
    tp = patient["timepoints"][1]
    assert tp["sum_mm"] == 12 + 10 + 18  # fragments added, the coalesced row 0
    assert tp["lesions"]["A"] == tp["lesions"]["B"]
    assert tp["lesions"]["T4"] == tp["lesions"]["T4.1"]
    assert tp["irrc_tumor_burden_mm2"] == 120 + 80 + 18 * 16
