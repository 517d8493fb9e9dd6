"""`napari-recist classify`: a lesion table or a patient folder -> verdicts on screen, JSON, CSV."""

from __future__ import annotations

import argparse
import contextlib
import csv
import dataclasses
import functools
import io
import logging
import os
import shutil
import sys
import tempfile
import time
from collections.abc import Iterable
from pathlib import Path
from typing import IO, Any, TextIO

from napari_recist.commands import _table_parts
from napari_recist.commands._json_stream import (
    BATCH,
    SEPARATOR,
    ClassificationWriter,
    encode_patients,
)
from napari_recist.commands._output import is_stdout, log_read_problems, one_stdout, open_output
from napari_recist.commands._parallel import WorkerDiedError, map_slices, worker_count
from napari_recist.commands.pacs import SOURCE_SCHEME, resolve_source
from napari_recist.criteria.report import classify_patient
from napari_recist.criteria.settings import Criteria
from napari_recist.criteria.timeline import has_baseline
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

        # Classification needs only each file's series and the geometry SR lines use
        # (the cohort batch reads folders the same way).
        ready = open_patient(path, full_headers=False).for_classification(lenient)
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
    """Print one patient's terminal summary (one write: the summary streams patient by patient)."""
    out.write(summary_text(patient, confirm))


# The text of a str or of a vocabulary word (a str enum whose str() is its value), without
# going through Enum.__format__.
_text = str.__str__
_SUMMARY_HEADER = (
    "TP", "date", "SOD mm", "% base", "% nadir", "RECIST", "iRECIST", "imRECIST", "irRC",
    "DR", "reason",
)
_HEADER_WIDTHS = tuple(map(len, _SUMMARY_HEADER[:-1]))


@functools.lru_cache(maxsize=1024)
def _row_format(widths: tuple[int, ...]) -> str:
    """The %-template of a time point row: each cell padded to its column, the reason not."""
    return "  " + "  ".join(f"%-{width}s" for width in widths) + "  %s"


@functools.lru_cache(maxsize=256)
def _line_format(width: int) -> str:
    """The %-template of a verdict line: name in 20 characters, value in `width`."""
    return f"  %-20s%-{width}s%s"


def summary_text(patient: dict[str, Any], confirm: bool) -> str:
    """The terminal summary of one patient, ending with a blank line.

    The time point table's columns are as wide as their widest cell (the reason, last, is
    not padded); the verdict lines' values are padded to the widest value plus two.
    """
    number = _number
    dissociated = patient["dissociated_response"]
    headline = (
        f"confirmed BOR {_text(patient['confirmed_best_overall_response'])}"
        if confirm
        else f"BOR {_text(patient['best_overall_response'])}"
    )
    rows = []
    for tp in patient["timepoints"]:
        timepoint = tp["timepoint"]
        rows.append(
            (
                str(timepoint),
                tp["date"],
                number(tp["sum_mm"]),
                number(tp["change_from_baseline_pct"]),
                number(tp["change_from_nadir_pct"]),
                _text(tp["overall"]),
                _text(tp["irecist"]),
                _text(tp["imrecist"]),
                _text(tp["irrc"]),
                "NA" if timepoint <= 0
                else f"{_text(tp['dissociated']['vuagnat'])}/{_text(tp['category'])}",
                tp["reason"],
            )
        )
    widths = list(_HEADER_WIDTHS)
    for k, column in enumerate(zip(*rows, strict=False)):
        if k < len(widths):
            widths[k] = max(widths[k], max(map(len, column)))
    row_format = _row_format(tuple(widths))
    text = [f"Patient {patient['patient_id']}: {headline}", row_format % _SUMMARY_HEADER]
    text += [row_format % row for row in rows]
    emit = text.append
    pattern = patient["progression_pattern"]
    reasons = patient["reasons"]
    hyper = patient["hyperprogression"]
    pfs = patient["pfs_days"]
    lines = (
        ("BOR:", _text(patient["best_overall_response"]), reasons["best_overall_response"]),
        ("confirmed BOR:", _text(patient["confirmed_best_overall_response"]),
         reasons["confirmed_best_overall_response"]),
        ("iRECIST BOR:", _text(patient["irecist_best_overall_response"]),
         reasons["irecist_best_overall_response"]),
        ("imRECIST BOR:", _text(patient["imrecist_best_overall_response"]),
         reasons["imrecist_best_overall_response"]),
        ("imRECIST PD date:", _text(patient["imrecist_progression_date"] or "none"),
         reasons["imrecist_progression_date"]),
        ("irRC BOR:", _text(patient["irrc_best_overall_response"]),
         reasons["irrc_best_overall_response"]),
        ("irRC PD date:", _text(patient["irrc_progression_date"] or "none"),
         reasons["irrc_progression_date"]),
        ("DR Vuagnat:", _text(dissociated["vuagnat"]), reasons["vuagnat"]),
        ("DR Bernard-Tessier:", str(dissociated["bernard_tessier"]).lower(),
         reasons["bernard_tessier"]),
        ("DR Tozuka:", _text(dissociated["tozuka"]), reasons["tozuka"]),
        ("category:", _text(patient["category"]), patient["response_group"]),
        ("pseudoprogression:", str(patient["pseudoprogression"]).lower(),
         reasons["pseudoprogression"]),
        ("hyperprogression:",
         f"Champiat {str(hyper['champiat']).lower()}, Ferrara {str(hyper['ferrara']).lower()}",
         reasons["hyperprogression"]),
        ("progression:", _text(patient["progression_date"] or "none"),
         reasons["progression_date"]),
        ("PFS:", "NA" if pfs is None
         else f"{pfs} d {'event' if patient['pfs_event'] else 'censored'}", reasons["pfs_days"]),
        ("pattern:", _text(pattern["type"]), reasons["progression_pattern"]),
        ("resistance:", _text(patient["resistance"]), reasons["resistance"]),
        ("kinetics:", "", reasons["kinetics"]),
    )
    width = max([len(value) for _, value, _ in lines]) + 2
    line_format = _line_format(width)
    text += [line_format % line for line in lines]
    if patient["treatment_start"]:
        emit(f"  {'treatment start:':<20}{patient['treatment_start']} (time origin)")
    for warning in patient["warnings"]:
        emit(f"  warning: {warning}")
    if patient["warning_codes"]:
        emit(f"  warning codes: {', '.join(patient['warning_codes'])}")
    emit("")
    return "\n".join(text) + "\n"


def csv_rows(patients: Iterable[dict[str, Any]]) -> list[dict[str, str]]:
    """Flatten the classification to one row per patient per time point.

    Every cell is safe to open in a spreadsheet (`napari_recist.io.spreadsheet.neutralise`).
    """
    return [row for patient in patients for row in patient_csv_rows(patient)]


def patient_csv_rows(patient: dict[str, Any]) -> list[dict[str, str]]:
    """The rows of `csv_rows` for one patient."""
    rows = []
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


class _Phases:
    """Seconds spent in each phase of a run (logged with --verbose)."""

    def __init__(self) -> None:
        self.seconds = {"read": 0.0, "engine": 0.0, "json": 0.0, "csv": 0.0, "summary": 0.0}
        self._mark = time.perf_counter()

    def lap(self, phase: str) -> None:
        now = time.perf_counter()
        self.seconds[phase] += now - self._mark
        self._mark = now

    def move(self, source: str, seconds: dict[str, float]) -> None:
        """Count `seconds` (by phase) in their phases rather than in `source`."""
        for name, value in seconds.items():
            if name != source:
                self.seconds[source] -= value
                self.seconds[name] += value

    def __str__(self) -> str:
        return ", ".join(f"{name} {value:.2f} s" for name, value in self.seconds.items())


@dataclasses.dataclass
class _SliceOutput:
    """What a slice of patients writes: encoded JSON objects, CSV text, summary text."""

    json: list[tuple[bytes, int]]  # encoded batches of patients and how many each holds
    csv: str
    summary: str
    problems: list[str]
    seconds: dict[str, float]
    # With a spill folder: the slice's encoded patients written to this file, and how many.
    json_file: tuple[str, int] | None = None
    # The patients' ids, when the slice is a part of the table read by the worker.
    patient_ids: list[str] = dataclasses.field(default_factory=list)


class _SliceWork:
    """Classify a contiguous slice of the records and render its outputs (maybe in a worker).

    Parameters
    ----------
    records
        Every patient (a worker inherits them from the parent: nothing is pickled).
    criteria
        Thresholds.
    json, csv, summary
        Which outputs to render.
    spill
        A folder (beside the JSON output) where each slice writes its encoded patients to a
        file of its own, which the parent copies into the output: the JSON (about 20 KB a
        patient) then does not travel through the workers' pipes, which cost the parent
        more CPU than writing it. None returns the encoded batches instead.
    tag
        Begins the names of the slice's files in `spill` (distinct for each set of records).
    """

    def __init__(
        self, records: list[PatientRecord], criteria: Criteria, *, json: bool, csv: bool,
        summary: bool, spill: str | None = None, tag: str = "",
    ) -> None:
        self.records = records
        self.criteria = criteria
        self.outputs = (json, csv, summary)
        self.spill = spill
        self.tag = tag

    def __call__(self, start: int, stop: int) -> _SliceOutput:
        want_json, want_csv, want_summary = self.outputs
        criteria = self.criteria
        confirm = criteria.require_confirmation
        # Each batch's text as orjson made it (a view: not copied until it must be pickled).
        encoded: list[tuple[bytes | memoryview, int]] = []
        batch: list[dict[str, Any]] = []
        summaries: list[str] = []
        problems: list[str] = []
        rows = io.StringIO()
        table = csv.DictWriter(rows, fieldnames=CSV_COLUMNS)
        seconds = dict.fromkeys(("engine", "json", "csv", "summary"), 0.0)
        clock = time.process_time  # CPU seconds: workers share the cores with others
        for record in self.records[start:stop]:
            mark = clock()
            try:
                patient = classify_patient(record, criteria).to_json()
            except ValueError as error:
                problems.append(str(error))
                continue
            now = clock()
            seconds["engine"] += now - mark
            if want_json:
                batch.append(patient)
                if len(batch) >= BATCH:
                    encoded.append((encode_patients(batch), len(batch)))
                    batch = []
                mark, now = now, clock()
                seconds["json"] += now - mark
            if want_csv:
                table.writerows(patient_csv_rows(patient))
                mark, now = now, clock()
                seconds["csv"] += now - mark
            if want_summary:
                summaries.append(summary_text(patient, confirm))
                mark, now = now, clock()
                seconds["summary"] += now - mark
        mark = clock()
        if batch:
            encoded.append((encode_patients(batch), len(batch)))
        spilled = None
        if self.spill is not None and encoded:
            spilled = _spill(self.spill, f"{self.tag}{start:012d}", encoded)
            encoded = []
        piped = [(bytes(body), count) for body, count in encoded]  # a view does not pickle
        seconds["json"] += clock() - mark
        return _SliceOutput(piped, rows.getvalue(), "".join(summaries), problems, seconds,
                            spilled)


def _spill(
    folder: str, name: str, encoded: list[tuple[bytes | memoryview, int]]
) -> tuple[str, int]:
    """Write a slice's encoded batches to a file of `folder`, as the writer joins them.

    Batch by batch, as orjson made them: not joined (nor copied) into one text first.
    """
    path = os.path.join(folder, f"{name}.json")
    with open(path, "wb") as handle:
        for number, (body, _) in enumerate(encoded):
            if number:
                handle.write(SEPARATOR)
            handle.write(body)
    return path, sum(count for _, count in encoded)


def _spill_parent(json_target: str) -> str | None:
    """Where the workers' JSON slices go: the output's folder (same file system), or TMPDIR."""
    return None if is_stdout(json_target) else str(Path(json_target).resolve().parent)


def run_classify(args: argparse.Namespace) -> int:
    """Run `napari-recist classify` (see cli.py for the arguments).

    Patients are classified one after the other, or with enough of them on several cores
    (`napari_recist.commands._parallel`: forked workers classify contiguous slices, the
    outputs are written in patient order, byte for byte those of one process). A large
    table is not read here at all: each worker reads and classifies runs of whole patients
    of the file (`napari_recist.commands._table_parts`), and anything that run-wise reading
    cannot vouch for sends the whole table through the reading below. Each
    patient's (or slice's) JSON objects, CSV rows and terminal summary are written as soon
    as they are ready and then dropped, so memory holds the records and a few slices'
    results, whatever the cohort size. Outputs are atomic: a run that fails on some patient
    leaves no output file.
    """
    try:
        criteria = Criteria.from_toml(args.criteria) if args.criteria else Criteria()
    except ValueError as error:
        raise InputError([str(error)]) from None
    if args.confirm:
        criteria = dataclasses.replace(criteria, require_confirmation=True)
    one_stdout({"--json": args.json, "--csv": args.csv})
    requested = getattr(args, "workers", None)
    phases = _Phases()
    parts = None
    path = Path(args.source)
    if not args.source.startswith(SOURCE_SCHEME) and path.is_file():
        try:
            parts = _table_parts.plan(path, args.source, requested)
        except ValueError as error:
            raise InputError([str(error)]) from None
    if parts is not None:
        phases.lap("read")
        try:
            return _write_outputs(args, criteria, phases, parts.workers, parts=parts)
        except _table_parts.WholeTableNeeded as reason:
            log.debug("%s: the table is read whole: %s", args.source, reason)
        del parts
    records = load_records(args.source, args.lenient)
    phases.lap("read")
    # A record the engine refuses (no baseline) is found before anything is written.
    problems = [
        Problem(args.source, f"patient {record.patient_id}: no baseline assessment (timepoint 0)")
        for record in records
        if not has_baseline(record)
    ]
    if problems:
        raise InputError(problems)
    try:
        workers = worker_count(len(records), requested)
    except ValueError as error:
        raise InputError([str(error)]) from None
    return _write_outputs(args, criteria, phases, workers, records=records)


def _write_outputs(
    args: argparse.Namespace, criteria: Criteria, phases: _Phases, workers: int, *,
    records: list[PatientRecord] | None = None, parts: _table_parts.TableParts | None = None,
) -> int:
    """Classify `records` (or the table `parts`) and write the outputs the options ask for.

    With `parts`, what goes to standard output is held in a file until every part was read
    cleanly (`_table_parts.WholeTableNeeded` is raised before anything is written there, and
    the output files made so far are discarded).
    """
    # stdout carries either the terminal summary or one output given as `-`, never both.
    summary = sys.stdout if not (is_stdout(args.json) or is_stdout(args.csv)) else None
    worker_seconds = dict.fromkeys(("read", "engine", "json", "csv", "summary"), 0.0)
    spill = None
    patients = 0
    held: list[tuple[IO[Any], IO[Any]]] = []  # (file, standard output) with `parts`
    try:
        with contextlib.ExitStack() as outputs, paused_garbage_collection():
            if (args.json and workers > 1) or parts is not None:
                if args.json and not is_stdout(args.json):
                    Path(args.json).parent.mkdir(parents=True, exist_ok=True)  # as open_output
                # Removed on any way out, once the workers stopped and before the output is
                # put in place (the stack unwinds in reverse).
                spill = outputs.enter_context(tempfile.TemporaryDirectory(
                    prefix=".napari-recist-slices-", dir=_spill_parent(args.json or "-")
                ))

            def output(target: str, binary: bool, newline: str | None = None) -> IO[Any]:
                if parts is None or not is_stdout(target):
                    return outputs.enter_context(open_output(target, newline, binary=binary))
                return _held(outputs, held, spill, binary, newline)

            writer = None
            if args.json:
                writer = ClassificationWriter(output(args.json, True), criteria.to_dict(),
                                              write_back=not is_stdout(args.json))
            table = None
            if args.csv:
                table = output(args.csv, False, "")
                csv.DictWriter(table, fieldnames=CSV_COLUMNS).writeheader()
            if summary is not None and parts is not None:
                summary = _held(outputs, held, spill, False, None)
            phases.lap("json")
            flags = {"json": writer is not None, "csv": table is not None,
                     "summary": summary is not None,
                     "spill": spill if writer is not None and workers > 1 else None}
            if parts is not None:
                work = _table_parts.PartWork(parts, criteria, args.lenient, **flags)
                results = _table_parts.classified_parts(parts, work)
            else:
                assert records is not None
                results = map_slices(len(records), _SliceWork(records, criteria, **flags),
                                     workers, serial_size=BATCH)
            # Closed on any way out (a closed pipe, Ctrl+C, an error): the workers are stopped.
            parts_done = outputs.enter_context(contextlib.closing(results))
            problems: list[Problem] = []
            for part in parts_done:
                phases.lap("engine")
                if workers == 1:
                    phases.move("engine", part.seconds)  # this process encoded them
                else:
                    for name, seconds in part.seconds.items():
                        worker_seconds[name] += seconds
                patients += len(part.patient_ids)
                problems.extend(Problem(args.source, text) for text in part.problems)
                if writer is not None:
                    for encoded, count in part.json:
                        writer.add_encoded(encoded, count)
                    if part.json_file is not None:
                        path, count = part.json_file
                        writer.add_file(path, count)
                        os.unlink(path)
                    phases.lap("json")
                if table is not None:
                    table.write(part.csv)
                    phases.lap("csv")
                if summary is not None:
                    summary.write(part.summary)
                    phases.lap("summary")
            if problems:
                raise InputError(problems)  # inside the outputs: no file is written
            if writer is not None:
                writer.close()
            for handle, target in held:  # every part was clean: what stdout is to show
                _release(handle, target)
            phases.lap("summary")
    except BrokenPipeError:
        raise
    except WorkerDiedError as error:  # the outputs were discarded on the way out
        raise InputError([Problem(args.source, str(error))]) from None
    except ValueError as error:  # a NaN or infinity reached the output: a bug, refused
        raise InputError([Problem(args.json or args.csv or "-", str(error))]) from None
    except OSError as error:
        name = str(error.filename or "")
        if spill is not None and name.startswith(spill):
            name = args.json or "-"  # a file of ours beside the JSON: it was not written
        raise InputError([Problem(name, f"cannot write: {error.strerror}")]) from None
    phases.lap("json")
    for target in (args.json, args.csv):
        if target and not is_stdout(target):
            log.info("wrote %s", target)
    count = patients if parts is not None else len(records or ())
    log.debug("%s: %d patients; %s", args.source, count, phases)
    if any(worker_seconds.values()):
        log.debug("%d worker processes, CPU seconds summed over them: %s", workers,
                  ", ".join(f"{name} {value:.2f} s" for name, value in worker_seconds.items()))
    return 0


def _held(
    outputs: contextlib.ExitStack, held: list[tuple[IO[Any], IO[Any]]], folder: str | None,
    binary: bool, newline: str | None,
) -> IO[Any]:
    """A file in `folder` that stands for standard output until `_release` copies it there."""
    assert folder is not None
    stdout = sys.stdout
    if binary:
        handle: IO[Any] = outputs.enter_context(tempfile.TemporaryFile(dir=folder))
        held.append((handle, stdout.buffer))
        return handle
    handle = outputs.enter_context(tempfile.TemporaryFile(
        "w+", dir=folder, encoding=stdout.encoding, errors=stdout.errors, newline=newline
    ))
    held.append((handle, stdout))
    return handle


def _release(handle: IO[Any], target: IO[Any]) -> None:
    """Copy a held output to standard output (its bytes, as they would have been written)."""
    handle.flush()
    sys.stdout.flush()
    if isinstance(target, io.TextIOBase):
        raw = getattr(target, "buffer", None)
        if raw is None:  # a text stream with no bytes under it (a test's capture)
            handle.seek(0)
            shutil.copyfileobj(handle, target, 1 << 20)
            target.flush()
            return
        target = raw
    source = handle.buffer if isinstance(handle, io.TextIOBase) else handle
    source.seek(0)
    shutil.copyfileobj(source, target, 1 << 20)
    target.flush()
