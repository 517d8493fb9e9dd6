"""`napari-recist cohort`: tables, plots, statistics and the HTML report; Dask scale-out."""

import csv
import re
from pathlib import Path

import pytest

from napari_recist.cli import main
from napari_recist.cohort.synthetic import clinical_csv, synthetic_cohort
from napari_recist.io.table import write_table


@pytest.fixture
def cohort_files(tmp_path: Path) -> tuple[Path, Path]:
    records, clinical = synthetic_cohort(40, seed=5)
    table = tmp_path / "lesions.csv"
    write_table(records, table)
    clinical_path = tmp_path / "clinical.csv"
    clinical_path.write_text(clinical_csv(clinical), encoding="utf-8")
    return table, clinical_path


def _rows(path: Path) -> list[dict[str, str]]:
    with path.open(encoding="utf-8", newline="") as handle:
        return list(csv.DictReader(handle))


def test_cohort_writes_tables_plots_statistics_and_report(
    cohort_files: tuple[Path, Path], tmp_path: Path
) -> None:
    table, clinical = cohort_files
    out = tmp_path / "out"
    assert (
        main(["cohort", str(table), "--clinical", str(clinical), "--out", str(out), "--quiet"]) == 0
    )
    patients = _rows(out / "patients.csv")
    assert len(patients) == 40
    assert {p["category"] for p in patients} <= {
        "CR",
        "true PR",
        "true SD",
        "true PD",
        "DR",
        "NON-CR/NON-PD",
        "NE",
    }
    assessments = _rows(out / "assessments.csv")
    assert {a["patient_id"] for a in assessments} == {p["patient_id"] for p in patients}
    frequencies = _rows(out / "frequencies.csv")
    per_patient = [f for f in frequencies if f["field"] == "Category (seed 002) per patient"]
    assert sum(int(f["count"]) for f in per_patient) == 40
    survival = _rows(out / "survival.csv")
    endpoints = {row["endpoint"] for row in survival}
    assert endpoints == {"Overall survival", "Progression-free survival"}
    assert any(row["analysis"] == "Cox hazard ratio" for row in survival)
    for name in (
        "waterfall.png",
        "spider.png",
        "swimmer.png",
        "km_overall_survival_by_category.png",
        "km_progression_free_survival_by_response_group.png",
    ):
        assert (out / name).read_bytes()[:4] == b"\x89PNG"
    page = (out / "cohort.html").read_text(encoding="utf-8")
    assert page.count("data:image/png;base64,") >= 8
    assert not re.search(r"(src|href)=\"(https?:|//)", page)
    assert "Fisher" in page and "Cox proportional-hazards" in page
    assert "derived: baseline scan" in page  # no PFS in the clinical table: derived
    assert "Frequencies" in page


def test_cohort_without_clinical_derives_pfs(
    cohort_files: tuple[Path, Path], tmp_path: Path
) -> None:
    table, _ = cohort_files
    out = tmp_path / "out"
    assert main(["cohort", str(table), "--out", str(out), "--quiet"]) == 0
    survival = _rows(out / "survival.csv")
    assert {row["endpoint"] for row in survival} == {"Progression-free survival"}
    page = (out / "cohort.html").read_text(encoding="utf-8")
    assert "derived: baseline scan to first RECIST 1.1 progression" in page
    assert "No clinical table given" in page


def test_bad_clinical_table_is_reported_with_row_and_column(
    cohort_files: tuple[Path, Path], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    table, _ = cohort_files
    bad = tmp_path / "bad.csv"
    bad.write_text("patient_id,os_days,os_event\nSYN0001,ten,1\n", encoding="utf-8")
    out = tmp_path / "out"
    assert main(["cohort", str(table), "--clinical", str(bad), "--out", str(out)]) == 2
    assert f"error: {bad}, row 2, os_days: 'ten' is not a number of days" in capsys.readouterr().err
    assert not out.exists()


def test_missing_source_and_bad_workers(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["cohort", str(tmp_path / "none.csv"), "--out", str(tmp_path / "o")]) == 2
    assert "no such file or folder" in capsys.readouterr().err
    empty = tmp_path / "empty"
    empty.mkdir()
    assert main(["cohort", str(empty), "--out", str(tmp_path / "o")]) == 2
    assert "no patient found" in capsys.readouterr().err
    assert main(["cohort", str(empty), "--out", str(tmp_path / "o"), "--workers", "0"]) == 2


def test_two_local_workers_and_a_dask_cluster_give_the_same_result(
    cohort_files: tuple[Path, Path], tmp_path: Path
) -> None:
    from distributed import LocalCluster

    from napari_recist.cohort.batch import classify_sources, find_cohort
    from napari_recist.criteria.settings import Criteria

    table, _ = cohort_files
    sources = find_cohort(table).sources
    serial = classify_sources(sources, Criteria(), workers=1, progress=False)
    parallel = classify_sources(sources, Criteria(), workers=2, progress=False)
    assert [o.patient for o in parallel] == [o.patient for o in serial]
    assert len(serial) == 40 and all(o.patient is not None for o in serial)
    cluster_out = tmp_path / "dask"
    with LocalCluster(
        n_workers=1, threads_per_worker=2, processes=False, dashboard_address=None
    ) as cluster:
        assert (
            main(
                [
                    "cohort",
                    str(table),
                    "--out",
                    str(cluster_out),
                    "--quiet",
                    "--scheduler",
                    cluster.scheduler_address,
                ]
            )
            == 0
        )
    patients = _rows(cluster_out / "patients.csv")
    assert [p["patient_id"] for p in patients] == [o.label for o in serial]
    assert [p["category"] for p in patients] == [o.patient["category"] for o in serial]


def test_unreachable_scheduler_is_a_clear_error(
    cohort_files: tuple[Path, Path], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    table, _ = cohort_files
    assert (
        main(
            [
                "cohort",
                str(table),
                "--out",
                str(tmp_path / "o"),
                "--quiet",
                "--scheduler",
                "tcp://127.0.0.1:9",
            ]
        )
        == 2
    )
    assert "cannot reach the Dask scheduler" in capsys.readouterr().err


def test_cohort_from_folders_of_dicom_sr(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    from napari_recist.cohort.synthetic import write_patient_folder
    from napari_recist.criteria.report import classify_patient

    records, _ = synthetic_cohort(2, seed=11)
    root = tmp_path / "study"
    expected = {}
    for record in records:
        write_patient_folder(record, root / record.patient_id)
        expected[record.patient_id] = classify_patient(record).to_json()
    (root / "notes").mkdir()
    (root / "notes" / "readme.txt").write_text("not DICOM", encoding="utf-8")
    broken = root / "broken"
    broken.mkdir()
    (broken / "image.dcm").write_bytes(b"\0" * 128 + b"DICM" + b"garbage")
    out = tmp_path / "out"
    assert main(["cohort", str(root), "--out", str(out), "--quiet"]) == 0
    err = capsys.readouterr().err
    assert "notes: no DICOM file, not a patient folder" in err
    assert f"not classified: {broken}" in err
    patients = _rows(out / "patients.csv")
    assert [p["patient_id"] for p in patients] == sorted(expected)
    for row in patients:
        assert row["category"] == expected[row["patient_id"]]["category"]
        assert row["best_overall_response"] == expected[row["patient_id"]]["best_overall_response"]
    page = (out / "cohort.html").read_text(encoding="utf-8")
    assert "Patients not classified" in page and "broken" in page
