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
    assert list(survival[0]) == [
        "endpoint", "grouping", "group", "reference_group", "n", "events", "median_days",
        "median_ci_low", "median_ci_high", "hr", "hr_ci_low", "hr_ci_high", "p_value",
        "landmark_days", "model",
    ]  # fmt: skip
    endpoints = {row["endpoint"] for row in survival}
    assert endpoints == {"OS", "PFS", "PFS_iRECIST", "DoR", "PPS"}
    assert any(row["model"].startswith("Cox PH") for row in survival)
    assert any(row["model"].startswith("Cox time-dependent") for row in survival)
    censoring = _rows(out / "pfs_censoring.csv")
    assert {row["patient_id"] for row in censoring if row["endpoint"] == "PFS"} == {
        p["patient_id"] for p in patients
    }
    assert all(row["decision"] for row in censoring)
    for name in (
        "waterfall.png",
        "spider.png",
        "swimmer.png",
        "km_os_by_category_pspd.png",
        "km_pfs_by_response_group.png",
    ):
        assert (out / name).read_bytes()[:4] == b"\x89PNG"
    page = (out / "cohort.html").read_text(encoding="utf-8")
    assert page.count("data:image/png;base64,") >= 8
    assert not re.search(r"(src|href)=\"(https?:|//)", page)
    assert "Fisher" in page and "Cox PH" in page
    assert "else derived from the scans" in page  # no PFS in the clinical table: derived
    assert "immortal-time bias" in page
    assert "Frequencies" in page
    assert "clopper-pearson" in page


def test_cohort_without_clinical_derives_pfs(
    cohort_files: tuple[Path, Path], tmp_path: Path
) -> None:
    table, _ = cohort_files
    out = tmp_path / "out"
    assert main(["cohort", str(table), "--out", str(out), "--quiet"]) == 0
    survival = _rows(out / "survival.csv")
    assert {row["endpoint"] for row in survival} == {"PFS", "PFS_iRECIST", "DoR"}
    page = (out / "cohort.html").read_text(encoding="utf-8")
    assert "else derived from the scans" in page
    assert "No clinical covariate" in page


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
    assert not (tmp_path / "o").exists()  # a refused command leaves no output folder


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


def test_seed000_cohort_grouped_by_tozuka(tmp_path: Path) -> None:
    import sys

    sys.path.insert(0, str(Path(__file__).parents[1] / "cohort"))
    from seed000 import seed000_cohort

    records, clinical_text = seed000_cohort()
    table, clinical = tmp_path / "lesions.csv", tmp_path / "clinical.csv"
    write_table(records, table)
    clinical.write_text(clinical_text, encoding="utf-8")
    out = tmp_path / "out"
    args = ["cohort", str(table), "--clinical", str(clinical), "--out", str(out), "--quiet",
            "--group-by", "dissociated_response.tozuka", "--groups", "true PD,DR"]  # fmt: skip
    assert main(args) == 0
    survival = _rows(out / "survival.csv")
    km = {r["group"]: r for r in survival
          if r["endpoint"] == "OS" and r["model"].startswith("Kaplan")
          and not r["landmark_days"]}  # fmt: skip
    assert (km["DR"]["n"], km["true PD"]["n"]) == ("11", "51")
    assert km["DR"]["reference_group"] == "true PD"
    assert {r["grouping"] for r in survival} == {"dissociated_response.tozuka"}
    cox = next(r for r in survival if r["model"].startswith("Cox PH") and r["endpoint"] == "OS")
    assert (cox["group"], cox["reference_group"], cox["n"]) == ("DR", "true PD", "62")
    rates = {r["rate"]: r for r in _rows(out / "rates.csv")}
    # Seed 000: DR 11 / 62 = 17.7 % over the patients with PD at the first CT.
    assert (rates["DR (Tozuka)"]["count"], rates["DR (Tozuka)"]["total"]) == ("11", "62")
    assert rates["DR (Tozuka)"]["percent"] == "17.7"
    characteristics = _rows(out / "characteristics.csv")
    smoking = next(r for r in characteristics if r["covariate"] == "smoking")
    assert round(float(smoking["p_value"]), 3) == 0.155  # seed 000 Table 1
    page = (out / "cohort.html").read_text(encoding="utf-8")
    assert "seed 000: patients with RECIST PD at the first follow-up" in page


def test_numeric_covariate_and_options_of_the_statistics(
    cohort_files: tuple[Path, Path], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    table, clinical = cohort_files
    lines = clinical.read_text(encoding="utf-8").splitlines()
    numeric = tmp_path / "numeric.csv"
    numeric.write_text(
        "\n".join([lines[0] + ",age,ldh"] + [f"{line},{50 + i % 25},{180.5 + i}"
                   for i, line in enumerate(lines[1:])]) + "\n",
        encoding="utf-8",
    )  # fmt: skip
    out = tmp_path / "out"
    args = ["cohort", str(table), "--clinical", str(numeric), "--out", str(out), "--quiet",
            "--group-by", "category", "--landmark", "120", "--adjust", "age,sex",
            "--rate-ci", "wilson", "--holm", "--excel"]  # fmt: skip
    assert main(args) == 0
    raw = (out / "survival.csv").read_bytes()
    assert raw.startswith(b"\xef\xbb\xbf")  # UTF-8 BOM for Excel
    survival = _rows(out / "characteristics.csv")
    age = next(r for r in survival if r["covariate"] == "age")
    assert age["kind"] == "numeric" and age["value"] == "median (range)"
    rows = list(csv.DictReader(raw.decode("utf-8-sig").splitlines()))
    assert any(r["landmark_days"] == "120" for r in rows)
    assert any("adjusted for age, sex" in r["model"] for r in rows)
    assert "wilson" in _rows(out / "rates.csv")[0]["method"]
    bad = ["cohort", str(table), "--out", str(tmp_path / "bad"), "--quiet"]
    assert main([*bad, "--group-by", "no_such_field"]) == 2
    assert "'no_such_field' is neither a field" in capsys.readouterr().err
    assert main([*bad, "--group-by", "category", "--groups", "true PD,XX"]) == 2
    assert "XX: no patient has this value of category" in capsys.readouterr().err
    assert main([*bad, "--groups", "DR,true PD"]) == 2
    assert not (tmp_path / "bad").exists()
