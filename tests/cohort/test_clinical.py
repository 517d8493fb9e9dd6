"""Clinical table: reading, row-level errors, PFS derived from our own progression dates."""

from pathlib import Path

import pytest

from napari_recist.cohort.clinical import (
    SurvivalTime,
    progression_free_survival,
    read_clinical_table,
)
from napari_recist.errors import InputError


def _write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "clinical.csv"
    path.write_text(text, encoding="utf-8")
    return path


def test_reads_survival_and_covariates(tmp_path: Path) -> None:
    path = _write(
        tmp_path,
        "patient_id,os_days,os_event,pfs_days,pfs_event,sex,ecog\n"
        "P1,400,1,120,1,male,0\n"
        "P2,365.5,0,,,female,\n",
    )
    records = read_clinical_table(path)
    assert list(records) == ["P1", "P2"]
    assert records["P1"].os == SurvivalTime(400.0, True)
    assert records["P1"].pfs == SurvivalTime(120.0, True)
    assert records["P2"].pfs is None
    assert records["P2"].covariates == {"sex": "female"}


def test_every_bad_cell_is_reported_with_row_and_column(tmp_path: Path) -> None:
    path = _write(
        tmp_path,
        "patient_id,os_days,os_event\nP1,abc,1\nP2,-3,0\nP3,100,maybe\nP1,100,1\n,100,1\nP4,100\n",
    )
    with pytest.raises(InputError) as caught:
        read_clinical_table(path)
    messages = [str(p) for p in caught.value.problems]
    assert any("row 2, os_days" in m and "not a number" in m for m in messages)
    assert any("row 3, os_days" in m and "zero or more" in m for m in messages)
    assert any("row 4, os_event" in m and "maybe" in m for m in messages)
    assert any("row 5, patient_id" in m and "twice" in m for m in messages)
    assert any("row 6, patient_id" in m for m in messages)
    assert any("row 7" in m and "2 cells" in m for m in messages)
    assert all(m.startswith(str(path)) for m in messages)


def test_header_problems(tmp_path: Path) -> None:
    with pytest.raises(InputError, match="patient_id"):
        read_clinical_table(_write(tmp_path, "id,os_days,os_event\nP1,1,1\n"))
    with pytest.raises(InputError, match="needs a 'os_event'"):
        read_clinical_table(_write(tmp_path, "patient_id,os_days\nP1,1\n"))
    with pytest.raises(InputError, match="no survival columns"):
        read_clinical_table(_write(tmp_path, "patient_id,sex\nP1,male\n"))
    with pytest.raises(InputError, match="empty"):
        read_clinical_table(_write(tmp_path, ""))
    with pytest.raises(InputError, match="cannot read"):
        read_clinical_table(tmp_path / "missing.csv")


def _patient(progression: str | None) -> dict:
    return {
        "patient_id": "P1",
        "progression_date": progression,
        "timepoints": [
            {"timepoint": 0, "date": "2024-01-01"},
            {"timepoint": 1, "date": "2024-03-01"},
            {"timepoint": 2, "date": "2024-05-01"},
        ],
    }


def test_pfs_from_progression_date() -> None:
    assert progression_free_survival(_patient("2024-05-01")) == SurvivalTime(121.0, True)


def test_pfs_censored_at_last_assessment_without_progression() -> None:
    assert progression_free_survival(_patient(None)) == SurvivalTime(121.0, False)


def test_pfs_ends_at_earlier_death() -> None:
    # Death without progression is a PFS event at the date of death (RECIST PFS, seed 001).
    assert progression_free_survival(_patient(None), SurvivalTime(200, True)) == SurvivalTime(
        200, True
    )
    assert progression_free_survival(_patient("2024-05-01"), SurvivalTime(90, True)) == (
        SurvivalTime(90, True)
    )
    # A censored OS does not change PFS.
    assert progression_free_survival(_patient(None), SurvivalTime(60, False)) == SurvivalTime(
        121.0, False
    )


def test_pfs_needs_baseline_and_follow_up() -> None:
    patient = _patient(None)
    patient["timepoints"] = patient["timepoints"][:1]
    assert progression_free_survival(patient) is None
