"""`napari-recist classify` on lesion tables: outputs, the JSON contract, bad input."""

from __future__ import annotations

import csv
import json
import subprocess
import sys
from pathlib import Path

import pytest

from napari_recist.cli import main

ROOT = Path(__file__).resolve().parents[2]
EXAMPLE = ROOT / "examples" / "lesions.csv"

PATIENT_KEYS = {
    "patient_id",
    "best_overall_response",
    "confirmed_best_overall_response",
    "irecist_best_overall_response",
    "dissociated_response",
    "pseudoprogression",
    "hyperprogression",
    "resistance",
    "progression_date",
    "progression_pattern",
    "depth_of_response_pct",
    "time_to_nadir_days",
    "timepoints",
}
TIMEPOINT_KEYS = {
    "timepoint",
    "date",
    "sum_mm",
    "nadir_mm",
    "change_from_baseline_pct",
    "change_from_nadir_pct",
    "target",
    "non_target",
    "new_lesions",
    "overall",
    "irecist",
    "lesions",
    "dissociated",
    "category",
    "reason",
}
PATTERN_KEYS = {"type", "organs", "organ_count", "oligo", "lymph_node_only", "site_group"}


@pytest.fixture(scope="module")
def document(tmp_path_factory) -> dict:
    out = tmp_path_factory.mktemp("classify") / "out.json"
    assert main(["classify", str(EXAMPLE), "--json", str(out)]) == 0
    return json.loads(out.read_text())


def by_id(document: dict) -> dict[str, dict]:
    return {p["patient_id"]: p for p in document["patients"]}


def test_every_contract_key_is_present(document):
    assert set(document) == {"criteria", "patients"}
    assert document["criteria"]["pd_pct"] == 20.0
    for patient in document["patients"]:
        assert PATIENT_KEYS <= set(patient)
        assert set(patient["dissociated_response"]) == {"vuagnat", "bernard_tessier", "tozuka"}
        assert set(patient["hyperprogression"]) == {"champiat", "ferrara"}
        assert set(patient["progression_pattern"]) == PATTERN_KEYS
        for tp in patient["timepoints"]:
            assert TIMEPOINT_KEYS <= set(tp)
            assert set(tp["dissociated"]) == {"vuagnat", "bernard_tessier"}
            assert isinstance(tp["reason"], str) and tp["reason"]


def test_example_patients_show_each_pattern(document):
    patients = by_id(document)
    assert patients["P01-true-PR"]["timepoints"][1]["category"] == "true PR"
    assert patients["P01-true-PR"]["confirmed_best_overall_response"] == "PR"
    assert patients["P02-DR1"]["dissociated_response"]["vuagnat"] == "DR1"
    assert patients["P03-DR2"]["dissociated_response"]["vuagnat"] == "DR2"
    assert patients["P04-DR3"]["dissociated_response"]["vuagnat"] == "DR3"
    new = patients["P05-DR-new-lesion"]
    assert new["dissociated_response"] == {
        "vuagnat": "none",
        "bernard_tessier": True,
        "tozuka": "DR",
    }
    assert new["progression_pattern"]["type"] == "new lesions only"
    assert patients["P06-pseudoprogression"]["pseudoprogression"] is True
    assert patients["P06-pseudoprogression"]["irecist_best_overall_response"] == "iSD"
    assert patients["P07-hyperprogression"]["hyperprogression"] == {
        "champiat": True,
        "ferrara": True,
    }
    assert patients["P08-iCPD"]["irecist_best_overall_response"] == "iCPD"
    equivocal = patients["P09-equivocal-new"]
    assert equivocal["progression_date"] == "2024-03-04"  # first seen, equivocal, at TP1
    assert [tp["overall"] for tp in equivocal["timepoints"][1:]] == ["NON-CR/NON-PD", "PD"]
    assert patients["P10-CR"]["confirmed_best_overall_response"] == "CR"


def test_timepoint_numbers_match_the_contract_example_format(document):
    tp = by_id(document)["P01-true-PR"]["timepoints"][1]
    assert tp["sum_mm"] == 42.0 and tp["nadir_mm"] == 70.0
    assert tp["change_from_baseline_pct"] == -40.0
    assert tp["lesions"] == {"L1": "PR", "L2": "PR", "B1": "NON-CR/NON-PD"}
    assert tp["reason"] == "PR: SOD 42 mm is -40.0 % from baseline 70 mm"


def test_summary_and_csv(tmp_path, capsys):
    out = tmp_path / "sub" / "out.csv"
    assert main(["classify", str(EXAMPLE), "--csv", str(out)]) == 0
    printed = capsys.readouterr().out
    assert "Patient P02-DR1: BOR SD" in printed
    assert "DR Vuagnat:" in printed and "DR1" in printed
    rows = list(csv.DictReader(out.open()))
    first = [r for r in rows if r["patient_id"] == "P01-true-PR" and r["timepoint"] == "1"][0]
    assert (first["overall"], first["irecist"], first["category"]) == ("PR", "iPR", "true PR")


def test_classifying_twice_gives_the_same_json(tmp_path):
    first, second = tmp_path / "a.json", tmp_path / "b.json"
    assert main(["classify", str(EXAMPLE), "--json", str(first)]) == 0
    assert main(["classify", str(EXAMPLE), "--json", str(second)]) == 0
    assert first.read_bytes() == second.read_bytes()


def test_confirm_makes_the_confirmed_bor_the_headline(capsys):
    assert main(["classify", str(EXAMPLE), "--confirm"]) == 0
    assert "Patient P01-true-PR: confirmed BOR PR" in capsys.readouterr().out


def test_criteria_file_overrides_thresholds(tmp_path):
    settings = tmp_path / "protocol.toml"
    settings.write_text("[criteria]\nmin_sd_days = 60\n")
    out = tmp_path / "out.json"
    assert main(["classify", str(EXAMPLE), "--criteria", str(settings), "--json", str(out)]) == 0
    patients = by_id(json.loads(out.read_text()))
    # P03's only SD is at day 56 < 60: no longer SD
    assert patients["P03-DR2"]["best_overall_response"] == "NE"
    assert json.loads(out.read_text())["criteria"]["min_sd_days"] == 60


def test_bad_criteria_file(tmp_path, capsys):
    settings = tmp_path / "protocol.toml"
    settings.write_text("pd_pct = 'twenty'\n")
    assert main(["classify", str(EXAMPLE), "--criteria", str(settings)]) == 2
    assert "'pd_pct' must be a number" in capsys.readouterr().err


HEADER = "patient_id,timepoint,date,lesion_id,role,site,long_axis_mm,short_axis_mm,state\n"
GOOD = "P1,0,2024-01-01,L1,target,lung,30,,\nP1,1,2024-03-01,L1,target,lung,20,,\n"


@pytest.mark.parametrize(
    ("content", "message"),
    [
        (b"", "empty"),
        (b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR\x00\x00", "CSV"),
        ((HEADER + "P1,zero,2024-01-01,L1,target,lung,30,,\n").encode(), "timepoint"),
        ((HEADER + "P1,0,2024-01-01,L1,tumour,lung,30,,\n").encode(), "role"),
        ((HEADER + "P1,0,2024-01-01,L1,target,lung,-3,,\n").encode(), "negative"),
        (
            (
                HEADER
                + "P1,0,2024-03-01,L1,target,lung,30,,\nP1,1,2024-01-01,L1,target,lung,20,,\n"
            ).encode(),
            "order",
        ),
        ((HEADER + GOOD + "P1,2,2024-05-01,L1,non-target,lung,,,present\n").encode(), "role"),
        ((HEADER + GOOD + "P1,1,2024-03-01,L1,target,lung,20,,\n").encode(), "uplicate"),
        ((HEADER + "P1,0,2024-01-01,L1,target,lung,,,\n").encode(), "measured at baseline"),
        ((HEADER + "P1,0,2024-01-01,L1,target,lung,abc,,\n").encode(), "number"),
    ],
)
def test_bad_tables_exit_2_with_a_precise_message(tmp_path, capsys, content, message):
    table = tmp_path / "bad.csv"
    table.write_bytes(content)
    assert main(["classify", str(table)]) == 2
    err = capsys.readouterr().err
    assert "bad.csv" in err
    assert message.lower() in err.lower()
    assert "Traceback" not in err


def test_all_errors_reported_at_once(tmp_path, capsys):
    table = tmp_path / "bad.csv"
    table.write_text(
        HEADER + "P1,0,2024-01-01,L1,tumour,lung,30,,\n" + "P1,0,2024-01-01,L2,target,lung,-1,,\n"
    )
    assert main(["classify", str(table)]) == 2
    err = capsys.readouterr().err
    assert "row 2" in err and "row 3" in err


def test_lenient_skips_and_lists_bad_rows(tmp_path, capsys):
    table = tmp_path / "mixed.csv"
    table.write_text(HEADER + GOOD + "P1,1,2024-03-01,L2,tumour,lung,30,,\n")
    assert main(["classify", str(table), "--lenient"]) == 0
    captured = capsys.readouterr()
    assert "skipped" in captured.err and "row 4" in captured.err
    assert "Patient P1" in captured.out


def test_missing_file(capsys):
    assert main(["classify", "/nonexistent/table.csv"]) == 2
    assert "no such file" in capsys.readouterr().err


def test_console_script_runs_without_traceback(tmp_path):
    table = tmp_path / "bad.csv"
    table.write_text("not,a,lesion,table\n1,2,3,4\n")
    done = subprocess.run(
        [sys.executable, "-m", "napari_recist.cli", "classify", str(table)],
        capture_output=True,
        text=True,
        check=False,
    )
    assert done.returncode == 2
    assert "Traceback" not in done.stderr and "bad.csv" in done.stderr


def test_baseline_carries_lesion_diameters(document):
    baseline = by_id(document)["P01-true-PR"]["timepoints"][0]
    assert baseline["lesion_diameters_mm"] == {"L1": 40.0, "L2": 30.0, "B1": None}
    assert baseline["overall"] == "NA" and baseline["nadir_mm"] is None


def test_changes_per_month(document):
    # P01: 70 -> 42 mm at day 56 (1.8398 months): -40 % -> -21.7 %/month from baseline
    tp = by_id(document)["P01-true-PR"]["timepoints"][1]
    assert tp["change_from_baseline_per_month_pct"] == -21.7
    assert tp["change_from_nadir_per_month_pct"] == -21.7
    # TP2: 35 mm, -16.7 % from nadir 42 at TP1, 56 days earlier -> -9.1 %/month
    tp2 = by_id(document)["P01-true-PR"]["timepoints"][2]
    assert tp2["change_from_nadir_per_month_pct"] == -9.1
    assert tp2["change_from_baseline_per_month_pct"] == round(-50 / (112 / 30.4375), 1)
