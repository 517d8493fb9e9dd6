"""`napari-recist cohort`'s further analyses through the command line: files, page, refusals."""

import csv
import random
from pathlib import Path

import pytest

from napari_recist.cli import main
from napari_recist.cohort.synthetic import clinical_csv, synthetic_cohort
from napari_recist.io.table import write_table


def _rows(path: Path) -> list[dict[str, str]]:
    with path.open(encoding="utf-8-sig", newline="") as handle:
        return list(csv.DictReader(handle))


@pytest.fixture
def study(tmp_path: Path) -> tuple[Path, Path]:
    records, clinical = synthetic_cohort(60, seed=8)
    plain = tmp_path / "plain.csv"
    write_table(records, plain)
    rows = _rows(plain)
    rng = random.Random(2)
    flags = {(r["patient_id"], r["lesion_id"]): rng.random() < 0.4 for r in rows}
    for row in rows:  # seed 001's per-lesion columns, constant per lesion
        row["prior_radiotherapy"] = "yes" if flags[(row["patient_id"], row["lesion_id"])] else "no"
        row["prior_biopsy"] = "1" if row["lesion_id"].endswith("1") else "0"
    table = tmp_path / "lesions.csv"
    with table.open("w", encoding="utf-8", newline="") as handle:
        writer = csv.DictWriter(handle, fieldnames=list(rows[0]))
        writer.writeheader()
        writer.writerows(rows)
    lines = clinical_csv(clinical).splitlines()
    clinical_path = tmp_path / "clinical.csv"
    with_ttf = [lines[0] + ",ttf_days,ttf_event"] + [
        f"{line},{int(line.split(',')[1]) // 2},1" for line in lines[1:]
    ]
    clinical_path.write_text("\n".join(with_ttf) + "\n", encoding="utf-8")
    return table, clinical_path


def test_cohort_writes_every_further_analysis(study: tuple[Path, Path], tmp_path: Path) -> None:
    table, clinical = study
    out = tmp_path / "out"
    code = main(["cohort", str(table), "--clinical", str(clinical), "--out", str(out), "--quiet",
                 "--at-days", "182.6", "365", "--logistic", "category=DR", "--adjust", "sex",
                 "--sdtm", "NRC-001", "--excel"])  # fmt: skip
    assert code == 0
    survival = _rows(out / "survival.csv")
    assert {r["endpoint"] for r in survival} <= {"OS", "PFS", "PFS_iRECIST", "PPS", "DoR", "TTF"}
    assert {"OS", "TTF", "DoR", "PPS"} <= {r["endpoint"] for r in survival}
    fixed = _rows(out / "fixed_time_rates.csv")
    six = [r for r in fixed if r["endpoint"] == "PFS" and r["group"] == "all patients"
           and r["day"] == "182.6"]  # fmt: skip
    assert len(six) == 1 and six[0]["n"] == "60" and six[0]["time_origin"]
    follow = {r["endpoint"]: r for r in _rows(out / "follow_up.csv")}
    assert follow["OS"]["n"] == "60" and "reverse Kaplan-Meier" in follow["OS"]["method"]
    assert {r["covariate"] for r in _rows(out / "cox_screen.csv")} >= {"sex"}
    assert _rows(out / "ph_check.csv")
    logistic = _rows(out / "logistic.csv")
    assert {r["outcome"] for r in logistic} == {"category = DR"}
    # seed 001's patient-level covariates from the lesion table: a lymph-node / irradiated TL
    assert {"target_lymph_node", "target_prior_radiotherapy", "sex"} <= {
        r["predictor"] for r in logistic}  # fmt: skip
    gee = _rows(out / "lesion_gee.csv")
    assert {r["factor"] for r in gee} == {"site", "lymph_node", "prior_radiotherapy",
                                          "prior_biopsy"}
    assert {r["level"] for r in gee if r["factor"] == "prior_biopsy"} == {"yes", "no"}
    assert all("clustered by patient" in r["model"] for r in gee)
    lesions = _rows(out / "lesion_responses.csv")
    assert all(r["best_response"] in {"CR", "PR", "SD", "PD", "NE"} for r in lesions)
    tu = _rows(out / "sdtm_tu.csv")
    assert set(tu[0]) >= {"STUDYID", "DOMAIN", "USUBJID", "TUSEQ", "TULNKID", "TUTESTCD",
                          "TUTEST", "TUORRES", "TULOC", "TUMETHOD", "VISIT", "TUDTC"}  # fmt: skip
    assert {r["STUDYID"] for r in tu} == {"NRC-001"}
    tr = _rows(out / "sdtm_tr.csv")
    assert {"SUMDIAM", "LDIAM"} <= {r["TRTESTCD"] for r in tr}
    rs = _rows(out / "sdtm_rs.csv")
    assert {"OVRLRESP", "TRGRESP", "BESTRESP"} <= {r["RSTESTCD"] for r in rs}
    assert (out / "sdtm_rs.csv").read_bytes().startswith(b"\xef\xbb\xbf")  # --excel
    page = (out / "cohort.html").read_text(encoding="utf-8")
    for title in ("Median follow-up (reverse Kaplan-Meier)", "Fixed-time rates",
                  "Univariable Cox screen", "Proportional-hazards check",
                  "Logistic regression", "Lesion-level response of the target lesions",
                  "DR and iRECIST (seed 002 Fig. 5)", "Time to treatment failure",
                  "Duration of response"):  # fmt: skip
        assert title in page


@pytest.mark.parametrize(
    ("option", "message"),
    [
        (["--logistic", "category"], "give FIELD=LEVEL"),
        (["--logistic", "category=maybe"], "no patient has category = maybe"),
        (["--logistic", "nothing=DR"], "neither a JSON field nor a clinical column"),
        (["--lesion-factors", "prior_surgery"], "'prior_surgery' is not a column"),
        (["--at-days", "0"], "days must be positive"),
    ],
)
def test_bad_options_are_refused_before_writing(
    study: tuple[Path, Path],
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    option: list[str],
    message: str,
) -> None:
    table, clinical = study
    out = tmp_path / "out"
    code = main(["cohort", str(table), "--clinical", str(clinical), "--out", str(out), "--quiet",
                 *option])  # fmt: skip
    assert code == 2
    assert message in capsys.readouterr().err
    assert not out.exists()


def test_patient_folders_are_read_again_only_when_asked(tmp_path: Path) -> None:
    sample = Path(__file__).resolve().parents[2] / "sample_dicom"
    if not sample.is_dir():
        pytest.skip("sample_dicom/ is not in this checkout")
    root = tmp_path / "study"
    root.mkdir()
    (root / "patient1").symlink_to(sample, target_is_directory=True)
    plain, asked = tmp_path / "plain", tmp_path / "asked"
    assert main(["cohort", str(root), "--out", str(plain), "--quiet"]) == 0
    page = (plain / "cohort.html").read_text(encoding="utf-8")
    assert "1 patients from DICOM folders are not in the lesion-level tables" in page
    assert not (plain / "sdtm_tu.csv").exists() and not (plain / "lesion_gee.csv").exists()
    assert main(["cohort", str(root), "--out", str(asked), "--quiet", "--sdtm", "S"]) == 0
    tu = _rows(asked / "sdtm_tu.csv")
    assert {r["TULNKID"] for r in tu} >= {"L1", "L2"} and tu[0]["USUBJID"].startswith("S-")
    assert _rows(asked / "lesion_responses.csv")
