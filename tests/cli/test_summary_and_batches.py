"""The terminal summary from templates and the JSON in batches: the same bytes (issue 12).

`summary_text` is checked against the implementation it replaced (kept here as the
reference), and the batched JSON writer against ``json.dumps`` of the whole document around
batch boundaries, on the example table and a generated cohort with every kind of verdict.
"""

from __future__ import annotations

import io
import json
import random
import sys
from pathlib import Path
from typing import Any

import pytest

from napari_recist.commands import _json_stream
from napari_recist.commands._json_stream import ClassificationWriter
from napari_recist.commands.classify import _number, summary_text
from napari_recist.criteria.report import classify_patient
from napari_recist.criteria.settings import Criteria
from napari_recist.io.table import read_table

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT / "benchmarks"))
from bench_classify import generate_patient  # noqa: E402


def reference_summary(patient: dict[str, Any], confirm: bool) -> str:
    """The terminal summary as it was written before issue 12's templates."""
    text: list[str] = []
    emit = text.append
    dissociated = patient["dissociated_response"]
    headline = (
        f"confirmed BOR {patient['confirmed_best_overall_response']}"
        if confirm
        else f"BOR {patient['best_overall_response']}"
    )
    emit(f"Patient {patient['patient_id']}: {headline}")
    header = (
        "TP", "date", "SOD mm", "% base", "% nadir", "RECIST", "iRECIST", "imRECIST", "irRC",
        "DR", "reason",
    )
    rows = [header]
    for tp in patient["timepoints"]:
        dr = tp["dissociated"]
        dr_text = "NA" if tp["timepoint"] <= 0 else f"{dr['vuagnat']}/{tp['category']}"
        rows.append((str(tp["timepoint"]), tp["date"], _number(tp["sum_mm"]),
                     _number(tp["change_from_baseline_pct"]), _number(tp["change_from_nadir_pct"]),
                     tp["overall"], tp["irecist"], tp["imrecist"], tp["irrc"], dr_text,
                     tp["reason"]))
    widths = [max(len(row[k]) for row in rows) for k in range(len(header) - 1)]
    for row in rows:
        cells = [cell.ljust(width) for cell, width in zip(row[:-1], widths, strict=False)]
        emit("  " + "  ".join(cells) + "  " + row[-1])
    pattern = patient["progression_pattern"]
    reasons = patient["reasons"]
    lines = [
        ("BOR", patient["best_overall_response"], reasons["best_overall_response"]),
        ("confirmed BOR", patient["confirmed_best_overall_response"],
         reasons["confirmed_best_overall_response"]),
        ("iRECIST BOR", patient["irecist_best_overall_response"],
         reasons["irecist_best_overall_response"]),
        ("imRECIST BOR", patient["imrecist_best_overall_response"],
         reasons["imrecist_best_overall_response"]),
        ("imRECIST PD date", patient["imrecist_progression_date"] or "none",
         reasons["imrecist_progression_date"]),
        ("irRC BOR", patient["irrc_best_overall_response"], reasons["irrc_best_overall_response"]),
        ("irRC PD date", patient["irrc_progression_date"] or "none",
         reasons["irrc_progression_date"]),
        ("DR Vuagnat", dissociated["vuagnat"], reasons["vuagnat"]),
        ("DR Bernard-Tessier", str(dissociated["bernard_tessier"]).lower(),
         reasons["bernard_tessier"]),
        ("DR Tozuka", dissociated["tozuka"], reasons["tozuka"]),
        ("category", patient["category"], patient["response_group"]),
        ("pseudoprogression", str(patient["pseudoprogression"]).lower(),
         reasons["pseudoprogression"]),
        ("hyperprogression",
         f"Champiat {str(patient['hyperprogression']['champiat']).lower()}, "
         f"Ferrara {str(patient['hyperprogression']['ferrara']).lower()}",
         reasons["hyperprogression"]),
        ("progression", patient["progression_date"] or "none", reasons["progression_date"]),
        ("PFS", "NA" if patient["pfs_days"] is None
         else f"{patient['pfs_days']} d {'event' if patient['pfs_event'] else 'censored'}",
         reasons["pfs_days"]),
        ("pattern", pattern["type"], reasons["progression_pattern"]),
        ("resistance", patient["resistance"], reasons["resistance"]),
        ("kinetics", "", reasons["kinetics"]),
    ]
    width = max(len(value) for _, value, _ in lines) + 2
    for name, value, reason in lines:
        emit(f"  {name + ':':<20}{value:<{width}}{reason}")
    if patient["treatment_start"]:
        emit(f"  {'treatment start:':<20}{patient['treatment_start']} (time origin)")
    for warning in patient["warnings"]:
        emit(f"  warning: {warning}")
    if patient["warning_codes"]:
        emit(f"  warning codes: {', '.join(patient['warning_codes'])}")
    emit("")
    return "\n".join(text) + "\n"


@pytest.fixture(scope="module")
def patients() -> list[dict[str, Any]]:
    rng = random.Random(21)
    records = read_table(ROOT / "examples" / "lesions.csv").records
    records += [generate_patient(rng, n) for n in range(150)]
    criteria = Criteria()
    return [classify_patient(record, criteria).to_json() for record in records]


@pytest.mark.parametrize("confirm", [False, True])
def test_summary_is_byte_for_byte_the_reference(patients, confirm):
    for patient in patients:
        assert summary_text(patient, confirm) == reference_summary(patient, confirm)


def test_summary_of_a_patient_with_a_treatment_start_and_no_time_point(patients):
    patient = dict(patients[0], treatment_start="2024-01-02", timepoints=[],
                   warnings=["w1"], warning_codes=["c1", "c2"])
    assert summary_text(patient, False) == reference_summary(patient, False)


@pytest.mark.parametrize("count", [0, 1, 63, 64, 65, 128, 150])
def test_batches_give_the_document_of_json_dumps(patients, count, monkeypatch):
    monkeypatch.setattr(_json_stream, "BATCH", 64)
    chosen = [p for p in patients if str(p["patient_id"]).isascii()][:count]
    criteria = Criteria().to_dict()
    buffer = io.BytesIO()
    writer = ClassificationWriter(buffer, criteria)
    for patient in chosen:
        writer.add(patient)
    writer.close()
    expected = json.dumps({"criteria": criteria, "patients": chosen}, indent=2) + "\n"
    assert json.dumps(json.loads(buffer.getvalue()), indent=2) + "\n" == expected
    assert buffer.getvalue().decode() == expected  # ASCII: orjson's layout is json.dumps's
