"""`napari-recist classify`: a lesion table or a patient folder -> verdicts on screen, JSON, CSV."""

from __future__ import annotations

import argparse
import csv
import dataclasses
import json
import logging
import sys
from typing import Any, TextIO

from napari_recist.commands._output import is_stdout, log_read_problems, one_stdout, open_output
from napari_recist.commands.pacs import resolve_source
from napari_recist.criteria.report import classify_patient
from napari_recist.criteria.settings import Criteria
from napari_recist.errors import InputError, Problem
from napari_recist.gcpause import paused_garbage_collection
from napari_recist.io.spreadsheet import neutralise
from napari_recist.model import PatientRecord

log = logging.getLogger(__name__)

# One row per patient per time point in --csv.
CSV_COLUMNS = (
    "patient_id",
    "timepoint",
    "date",
    "sum_mm",
    "nadir_mm",
    "change_from_baseline_pct",
    "change_from_nadir_pct",
    "change_from_previous_pct",
    "target",
    "non_target",
    "new_lesions",
    "overall",
    "irecist",
    "imrecist",
    "imrecist_sum_mm",
    "irrc",
    "irrc_tumor_burden_mm2",
    "vuagnat",
    "bernard_tessier",
    "category",
    "lesions",
    "reason",
)


def load_records(source: str, lenient: bool) -> list[PatientRecord]:
    """Read patients from a lesion table (CSV) or a patient folder of DICOM SR.

    Parameters
    ----------
    source
        A CSV file or a folder.
    lenient
        Skip bad table rows (listed on stderr) instead of refusing the table.

    Returns
    -------
    list of PatientRecord
        The patients, in the order of the input.

    Raises
    ------
    InputError
        When the source is missing or holds errors.
    """
    path = resolve_source(source)
    if not path.exists():
        raise InputError([Problem(source, "no such file or folder")])
    if path.is_dir():
        from napari_recist.io.patient import open_patient

        ready = open_patient(path).for_classification(lenient)
        log_read_problems(ready)
        return [ready.record]
    from napari_recist.io.table import read_table

    result = read_table(path, lenient=lenient)
    for problem in result.skipped:
        log.warning("skipped: %s", problem)
    for problem in result.warnings:
        log.warning("warning: %s", problem)
    if not result.records:
        raise InputError([Problem(source, "no patient left to classify")])
    log.debug("%s: %d patients read from the lesion table", source, len(result.records))
    return result.records


def _number(value: float | None, unit: str = "") -> str:
    if value is None:
        return "-"
    return f"{value:g}{unit}"


def _print_patient(patient: dict[str, Any], out: TextIO, confirm: bool) -> None:
    dissociated = patient["dissociated_response"]
    headline = (
        f"confirmed BOR {patient['confirmed_best_overall_response']}"
        if confirm
        else f"BOR {patient['best_overall_response']}"
    )
    print(f"Patient {patient['patient_id']}: {headline}", file=out)
    header = (
        "TP", "date", "SOD mm", "% base", "% nadir", "RECIST", "iRECIST", "imRECIST", "irRC",
        "DR", "reason",
    )
    rows = [header]
    for tp in patient["timepoints"]:
        dr = tp["dissociated"]
        dr_text = "NA" if tp["timepoint"] <= 0 else f"{dr['vuagnat']}/{tp['category']}"
        rows.append(
            (
                str(tp["timepoint"]),
                tp["date"],
                _number(tp["sum_mm"]),
                _number(tp["change_from_baseline_pct"]),
                _number(tp["change_from_nadir_pct"]),
                tp["overall"],
                tp["irecist"],
                tp["imrecist"],
                tp["irrc"],
                dr_text,
                tp["reason"],
            )
        )
    widths = [max(len(row[k]) for row in rows) for k in range(len(header) - 1)]
    for row in rows:
        cells = [cell.ljust(width) for cell, width in zip(row[:-1], widths, strict=False)]
        print("  " + "  ".join(cells) + "  " + row[-1], file=out)
    pattern = patient["progression_pattern"]
    reasons = patient["reasons"]
    lines = [
        ("BOR", patient["best_overall_response"], reasons["best_overall_response"]),
        (
            "confirmed BOR",
            patient["confirmed_best_overall_response"],
            reasons["confirmed_best_overall_response"],
        ),
        (
            "iRECIST BOR",
            patient["irecist_best_overall_response"],
            reasons["irecist_best_overall_response"],
        ),
        (
            "imRECIST BOR",
            patient["imrecist_best_overall_response"],
            reasons["imrecist_best_overall_response"],
        ),
        ("imRECIST PD date", patient["imrecist_progression_date"] or "none",
         reasons["imrecist_progression_date"]),
        ("irRC BOR", patient["irrc_best_overall_response"], reasons["irrc_best_overall_response"]),
        ("irRC PD date", patient["irrc_progression_date"] or "none",
         reasons["irrc_progression_date"]),
        ("DR Vuagnat", dissociated["vuagnat"], reasons["vuagnat"]),
        (
            "DR Bernard-Tessier",
            str(dissociated["bernard_tessier"]).lower(),
            reasons["bernard_tessier"],
        ),
        ("DR Tozuka", dissociated["tozuka"], reasons["tozuka"]),
        ("category", patient["category"], patient["response_group"]),
        (
            "pseudoprogression",
            str(patient["pseudoprogression"]).lower(),
            reasons["pseudoprogression"],
        ),
        (
            "hyperprogression",
            f"Champiat {str(patient['hyperprogression']['champiat']).lower()}, "
            f"Ferrara {str(patient['hyperprogression']['ferrara']).lower()}",
            reasons["hyperprogression"],
        ),
        ("progression", patient["progression_date"] or "none", reasons["progression_date"]),
        (
            "PFS",
            "NA" if patient["pfs_days"] is None
            else f"{patient['pfs_days']} d {'event' if patient['pfs_event'] else 'censored'}",
            reasons["pfs_days"],
        ),
        ("pattern", pattern["type"], reasons["progression_pattern"]),
        ("resistance", patient["resistance"], reasons["resistance"]),
        ("kinetics", "", reasons["kinetics"]),
    ]
    width = max(len(value) for _, value, _ in lines) + 2
    for name, value, reason in lines:
        print(f"  {name + ':':<20}{value:<{width}}{reason}", file=out)
    if patient["treatment_start"]:
        print(f"  {'treatment start:':<20}{patient['treatment_start']} (time origin)", file=out)
    for warning in patient["warnings"]:
        print(f"  warning: {warning}", file=out)
    if patient["warning_codes"]:
        print(f"  warning codes: {', '.join(patient['warning_codes'])}", file=out)
    print(file=out)


def csv_rows(patients: list[dict[str, Any]]) -> list[dict[str, str]]:
    """Flatten the classification to one row per patient per time point.

    Every cell is safe to open in a spreadsheet (`napari_recist.io.spreadsheet.neutralise`).
    """
    rows = []
    for patient in patients:
        for tp in patient["timepoints"]:
            row = {
                "patient_id": patient["patient_id"],
                "vuagnat": tp["dissociated"]["vuagnat"],
                "bernard_tessier": str(tp["dissociated"]["bernard_tessier"]).lower(),
                "lesions": ";".join(f"{lid}={value}" for lid, value in tp["lesions"].items()),
                "new_lesions": str(tp["new_lesions"]).lower(),
            }
            for column in CSV_COLUMNS:
                if column not in row:
                    value = tp[column]
                    row[column] = "" if value is None else str(value)
            rows.append({column: neutralise(text) for column, text in row.items()})
    return rows


def run_classify(args: argparse.Namespace) -> int:
    """Run `napari-recist classify` (see cli.py for the arguments)."""
    try:
        criteria = Criteria.from_toml(args.criteria) if args.criteria else Criteria()
    except ValueError as error:
        raise InputError([str(error)]) from None
    if args.confirm:
        criteria = dataclasses.replace(criteria, require_confirmation=True)
    one_stdout({"--json": args.json, "--csv": args.csv})
    records = load_records(args.source, args.lenient)
    patients = []
    problems = []
    with paused_garbage_collection():
        for record in records:
            try:
                patients.append(classify_patient(record, criteria).to_json())
            except ValueError as error:
                problems.append(Problem(args.source, str(error)))
    if problems:
        raise InputError(problems)
    # stdout carries either the terminal summary or one output given as `-`, never both.
    if not (is_stdout(args.json) or is_stdout(args.csv)):
        for patient in patients:
            _print_patient(patient, sys.stdout, criteria.require_confirmation)
    document = {"criteria": criteria.to_dict(), "patients": patients}
    try:
        if args.json:
            with open_output(args.json) as handle:
                # allow_nan=False: JSON has no NaN or Infinity; every number is checked where
                # it enters, so one here would be a bug, refused rather than written.
                handle.write(json.dumps(document, indent=2, allow_nan=False) + "\n")
            if not is_stdout(args.json):
                log.info("wrote %s", args.json)
        if args.csv:
            with open_output(args.csv, newline="") as handle:
                writer = csv.DictWriter(handle, fieldnames=CSV_COLUMNS)
                writer.writeheader()
                writer.writerows(csv_rows(patients))
            if not is_stdout(args.csv):
                log.info("wrote %s", args.csv)
    except BrokenPipeError:
        raise
    except OSError as error:
        raise InputError(
            [Problem(str(error.filename or ""), f"cannot write: {error.strerror}")]
        ) from None
    return 0
