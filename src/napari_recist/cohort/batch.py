"""Classify many patients in parallel with Dask, locally or on a dask.distributed cluster.

A cohort is lesion tables (CSV) and/or patient folders of DICOM SR. Tables are read up front
(fast, and a bad table is refused with its row errors); each patient folder is read inside its
task, where the work is. A patient that cannot be classified does not stop the cohort: it is
listed with its reason. Progress is shown with tqdm as tasks finish, in patients per second.

Two ways to run: `classify_sources` returns every outcome in memory (a library call on a
modest cohort), and `stream_sources`, what ``napari-recist cohort`` runs, writes each finished
batch of patients to disk (`napari_recist.cohort.stream`) and keeps only the failures in
memory, so that the client's memory does not grow with the cohort. Both classify each patient
with `classify_source`, in the same batches.
"""

from __future__ import annotations

import logging
import os
import time
from collections.abc import Callable, Iterable, Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeVar

from tqdm.auto import tqdm

from napari_recist.criteria.settings import Criteria
from napari_recist.errors import InputError, Problem
from napari_recist.gcpause import paused_garbage_collection
from napari_recist.model import PatientRecord

log = logging.getLogger(__name__)
_Item = TypeVar("_Item")

# One task classifies a batch of patients: fewer, larger tasks keep Dask's per-task overhead
# (scheduling, pickling) small against the classification work, while at least
# TASKS_PER_WORKER tasks per worker keep every worker busy to the end (the last task of a worker
# is at most 1/8 of its share).
MAX_BATCH = 25
TASKS_PER_WORKER = 8
# Threads looking for DICOM in the patient folders (stat and open calls: waiting on the disk,
# not on the interpreter; most useful on network storage).
DISCOVERY_THREADS = 8


@dataclass(frozen=True)
class PatientSource:
    """Where one patient comes from: an already read record or a folder to read.

    Parameters
    ----------
    label
        Patient id (record) or folder path, for messages.
    record
        The patient, when read from a lesion table.
    folder
        The patient folder of DICOM (CT and SR), read inside the task.
    lenient
        Classify a folder without the data the checker refuses (listed in the outcome's
        remarks) instead of refusing the patient.
    """

    label: str
    record: PatientRecord | None = None
    folder: str | None = None
    lenient: bool = False


@dataclass(frozen=True)
class Outcome:
    """The classification of one patient, or why there is none.

    Parameters
    ----------
    label
        As in `PatientSource`.
    patient
        The patient object of the classification JSON; None on failure.
    problems
        Why the patient could not be classified.
    remarks
        What was left out or is worth a look (lenient reading of a folder), each naming its
        file.
    """

    label: str
    patient: dict[str, Any] | None
    problems: tuple[str, ...] = ()
    remarks: tuple[str, ...] = ()


@dataclass
class CohortInput:
    """The patients of a cohort and what was skipped while finding them."""

    sources: list[PatientSource] = field(default_factory=list)
    skipped: list[str] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)


def _looks_like_dicom_folder(folder: Path) -> bool:
    for path in folder.rglob("*"):
        if path.is_file():
            if path.suffix.lower() == ".dcm":
                return True
            try:
                with path.open("rb") as handle:
                    handle.seek(128)
                    if handle.read(4) == b"DICM":
                        return True
            except OSError:
                continue
    return False


def _sub_folders(path: Path) -> list[Path]:
    with os.scandir(path) as entries:
        return sorted(Path(entry.path) for entry in entries if entry.is_dir())


def find_cohort(source: str | os.PathLike[str], lenient: bool = False) -> CohortInput:
    """Find the patients of a cohort.

    Parameters
    ----------
    source
        A lesion table (CSV), or a folder holding patient folders of DICOM (one sub-folder per
        patient) and/or lesion tables (``*.csv``).
    lenient
        Skip bad table rows (listed in `CohortInput.skipped`) instead of refusing the table.

    Returns
    -------
    CohortInput
        One source per patient, in a stable order (tables first, then folders by name).

    Raises
    ------
    InputError
        When the source does not exist, holds no patient, a table has errors (not lenient),
        or two inputs give the same patient id.
    """
    from napari_recist.io.table import read_table

    path = Path(source)
    if not path.exists():
        raise InputError([Problem(str(path), "no such file or folder")])
    cohort = CohortInput()
    tables = [path] if path.is_file() else sorted(path.glob("*.csv"))
    folders = [] if path.is_file() else _sub_folders(path)
    for table in tables:
        result = read_table(table, lenient=lenient)
        cohort.skipped += [str(problem) for problem in result.skipped]
        cohort.warnings += [str(problem) for problem in result.warnings]
        cohort.sources += [PatientSource(r.patient_id, record=r) for r in result.records]
    with ThreadPoolExecutor(max_workers=DISCOVERY_THREADS) as pool:
        looks_like_dicom = list(pool.map(_looks_like_dicom_folder, folders))
    for folder, is_patient in zip(folders, looks_like_dicom, strict=True):
        if is_patient:
            cohort.sources.append(PatientSource(str(folder), folder=str(folder), lenient=lenient))
        else:
            cohort.warnings.append(f"{folder}: no DICOM file, not a patient folder")
    if not cohort.sources:
        raise InputError(
            [Problem(str(path), "no patient found (a lesion table or patient folders of DICOM)")]
        )
    seen: dict[str, str] = {}
    problems = []
    for item in cohort.sources:
        if item.record is not None:
            if item.record.patient_id in seen:
                problems.append(
                    Problem(
                        item.label,
                        f"patient '{item.record.patient_id}' is also in "
                        f"{seen[item.record.patient_id]}",
                    )
                )
            seen[item.record.patient_id] = str(path)
    if problems:
        raise InputError(problems)
    return cohort


def classify_source(item: PatientSource, criteria: Criteria) -> Outcome:
    """Read (if needed) and classify one patient; never raises.

    A file no reader expected (a damaged SR that trips a library) is reported as a problem of
    that patient, so that one bad folder does not stop a cohort of thousands.

    Parameters
    ----------
    item
        The patient.
    criteria
        Thresholds.

    Returns
    -------
    Outcome
        The patient JSON, or the problems that stopped it.
    """
    from napari_recist.criteria.report import classify_patient

    try:
        record = item.record
        remarks: tuple[str, ...] = ()
        # One patient's SR trees and records are many small objects and no cycles: the cyclic
        # collector's passes over them cost about a sixth of the patient (measured on the
        # bench_cohort patients); it runs again after each patient.
        with paused_garbage_collection():
            if record is None:
                from napari_recist.io.patient import open_patient

                ready = open_patient(Path(str(item.folder)),
                                     full_headers=False).for_classification(item.lenient)
                record = ready.record
                remarks = tuple(str(p) for p in [*ready.skipped, *ready.remarks])
            patient = classify_patient(record, criteria).to_json()
        return Outcome(item.label, patient, (), remarks)
    except InputError as error:
        return Outcome(item.label, None, tuple(str(p) for p in error.problems))
    except ValueError as error:
        return Outcome(item.label, None, (f"{item.label}: {error}",))
    except Exception as error:  # noqa: BLE001 - one unreadable patient must not stop a cohort
        message = f"{item.label}: could not be read ({type(error).__name__}: {error})"
        return Outcome(item.label, None, (message,))


def classify_batch(items: Sequence[PatientSource], criteria: Criteria) -> list[Outcome]:
    """Classify a batch of patients (one Dask task)."""
    return [classify_source(item, criteria) for item in items]


def _batches(items: Sequence[_Item], workers: int) -> list[list[_Item]]:
    size = max(1, min(MAX_BATCH, len(items) // max(1, workers * TASKS_PER_WORKER)))
    return [list(items[i : i + size]) for i in range(0, len(items), size)]


def classify_sources(
    items: Sequence[PatientSource],
    criteria: Criteria,
    workers: int = 1,
    scheduler: str | None = None,
    progress: bool = True,
) -> list[Outcome]:
    """Classify every patient, in parallel, keeping the input order.

    Parameters
    ----------
    items
        The patients (`find_cohort`).
    criteria
        Thresholds.
    workers
        Local worker processes; 1 runs in this process. Ignored with `scheduler`.
    scheduler
        Address of a running dask.distributed scheduler (``tcp://host:8786``), or a
        ``distributed.Client`` object; the work is sent there.
    progress
        Show a tqdm progress bar (on stderr).

    Returns
    -------
    list of Outcome
        One per patient, in the order of `items`.

    Raises
    ------
    InputError
        When the scheduler cannot be reached.
    """
    results: dict[int, list[Outcome]] = {}

    def task(number: int, batch: list[PatientSource], remote: bool) -> _Task:
        return classify_batch, (batch, criteria)

    def done(number: int, batch: list[PatientSource], outcomes: list[Outcome]) -> None:
        results[number] = outcomes

    bar = tqdm(total=len(items), desc="classifying", unit="patient", disable=not progress)
    try:
        run_batches(items, workers, scheduler, bar.update, task, done)
    finally:
        bar.close()
    return [outcome for number in sorted(results) for outcome in results[number]]


# What runs one batch: a function and its arguments (`run_batches`).
_Task = tuple[Callable[..., Any], tuple[Any, ...]]


def run_batches(
    items: Sequence[_Item],
    workers: int,
    scheduler: Any,
    advance: Callable[[int], Any],
    task: Callable[[int, list[_Item], bool], _Task],
    done: Callable[[int, list[_Item], Any], None],
) -> None:
    """Run the batches of `items` here, in local Dask processes or on a Dask cluster.

    The one runner of the in-memory and the streamed batch: the items are cut into batches
    (`_batches`, for the number of workers), ``task(number, batch, remote)`` says what
    computes a batch (`remote`: on a cluster, whose workers may not see this disk), and
    ``done(number, batch, result)`` receives each result in this process as it is ready
    (on a cluster as each finishes, so that the client holds one batch at a time).

    Parameters
    ----------
    items
        What to classify, in order.
    workers
        Local worker processes; 1 runs in this process. Ignored with `scheduler`.
    scheduler
        Address of a running dask.distributed scheduler, or a ``distributed.Client``; None
        for local work.
    advance
        Called with the number of patients of each finished batch (progress).
    task, done
        See above.

    Raises
    ------
    InputError
        When the scheduler cannot be reached.
    """
    if scheduler is not None:
        _run_on_cluster(items, scheduler, advance, task, done)
        return
    batches = _batches(items, workers)
    if workers <= 1:
        for number, batch in enumerate(batches):
            function, args = task(number, batch, False)
            done(number, batch, function(*args))
            advance(len(batch))
        return
    import dask
    from dask.callbacks import Callback

    calls = [task(number, batch, False) for number, batch in enumerate(batches)]
    tasks = [dask.delayed(function)(*args) for function, args in calls]
    sizes = {task.key: len(batch) for task, batch in zip(tasks, batches, strict=True)}

    class _Progress(Callback):  # type: ignore[misc]
        def _posttask(self, key: Any, result: Any, dsk: Any, state: Any, worker_id: Any) -> None:
            advance(sizes.get(key, 0))

    with _Progress():
        results = dask.compute(*tasks, scheduler="processes", num_workers=workers)
    for number, (batch, result) in enumerate(zip(batches, results, strict=True)):
        done(number, batch, result)


def _run_on_cluster(
    items: Sequence[_Item],
    scheduler: Any,
    advance: Callable[[int], Any],
    task: Callable[[int, list[_Item], bool], _Task],
    done: Callable[[int, list[_Item], Any], None],
) -> None:
    from distributed import Client, as_completed

    own_client = isinstance(scheduler, str)
    try:
        client = Client(scheduler, timeout="5s") if own_client else scheduler
    except OSError as error:
        raise InputError(
            [Problem(str(scheduler), f"cannot reach the Dask scheduler ({error})")]
        ) from None
    try:
        workers = max(1, len(client.scheduler_info().get("workers", {})))
        futures = {}
        for number, batch in enumerate(_batches(items, workers)):
            function, args = task(number, batch, True)
            future = client.submit(function, *args, pure=False)
            futures[future.key] = (number, batch, future)
        for future in as_completed([entry[2] for entry in futures.values()]):
            number, batch, _ = futures.pop(future.key)
            done(number, batch, future.result())
            advance(len(batch))
            del future  # the client keeps no patient JSON
    finally:
        if own_client:
            client.close()


def iter_patients(outcomes: Sequence[Outcome]) -> Iterator[dict[str, Any]]:
    """The classified patients of a list of outcomes, in order."""
    return (o.patient for o in outcomes if o.patient is not None)


# ----------------------------------------------------------------------------- streamed


@dataclass
class BatchSummary:
    """What the client keeps of a batch: counts and the patients worth a message.

    Parameters
    ----------
    classified
        Patients classified.
    failures
        Label and problems of each patient not classified.
    remarks
        Label and remarks of each patient with remarks.
    """

    classified: int = 0
    failures: list[tuple[str, tuple[str, ...]]] = field(default_factory=list)
    remarks: list[tuple[str, tuple[str, ...]]] = field(default_factory=list)

    def add(self, outcomes: Iterable[Outcome]) -> BatchSummary:
        """Count outcomes in; returns self."""
        for outcome in outcomes:
            if outcome.patient is None:
                self.failures.append((outcome.label, outcome.problems))
            else:
                self.classified += 1
            if outcome.remarks:
                self.remarks.append((outcome.label, outcome.remarks))
        return self

    def merge(self, other: BatchSummary) -> None:
        """Add another batch's summary."""
        self.classified += other.classified
        self.failures += other.failures
        self.remarks += other.remarks


@dataclass
class StreamedCohort:
    """The result of `stream_sources`.

    Parameters
    ----------
    results
        ``patients.jsonl``: one line per patient, in the input order.
    summary
        Counts, failures and remarks of the patients classified in this run.
    notes
        What happened to an earlier run's results (resume).
    seconds
        Wall time of the classification.
    classified_now
        Patients classified in this run (the others came from a resumed run).
    """

    results: Path
    summary: BatchSummary
    notes: list[str]
    seconds: float
    classified_now: int


def classify_batch_to_part(
    batch: Sequence[tuple[int, PatientSource]],
    criteria: Criteria,
    part: str,
) -> BatchSummary:
    """Classify a batch of patients and write their lines to one part file (one Dask task).

    Parameters
    ----------
    batch
        Input position and source of each patient.
    criteria
        Thresholds.
    part
        The part file to write (atomically, once the whole batch is done).

    Returns
    -------
    BatchSummary
        What the client keeps; the patients' JSON stays on disk.
    """
    from napari_recist.cohort.stream import outcome_line, write_part

    lines, summary = [], BatchSummary()
    for index, item in batch:
        outcome = classify_source(item, criteria)
        lines.append(outcome_line(index, outcome))
        summary.add([outcome])  # counts and messages only: the JSON stays in `lines`
    write_part(Path(part), lines)
    return summary


def stream_sources(
    items: Sequence[PatientSource],
    criteria: Criteria,
    out: str | os.PathLike[str],
    workers: int = 1,
    scheduler: Any = None,
    progress: bool = True,
    resume: bool = False,
) -> StreamedCohort:
    """Classify every patient into ``OUT/patients.jsonl``, batch by batch, memory flat.

    Each batch's lines are written to a part file as soon as the batch is done (by the worker
    process for local workers, by this process for a dask.distributed cluster whose workers
    may not see this disk); then the parts are merged in the input order.

    Parameters
    ----------
    items
        The patients (`find_cohort`).
    criteria
        Thresholds.
    out
        Output folder (created if missing).
    workers
        Local worker processes; 1 runs in this process. Ignored with `scheduler`.
    scheduler
        Address of a running dask.distributed scheduler, or a ``distributed.Client``.
    progress
        Show a tqdm progress bar in patients per second (on stderr).
    resume
        Keep the patients an interrupted run with the same inputs and criteria finished.

    Returns
    -------
    StreamedCohort
        Where the results are and what the client kept.

    Raises
    ------
    InputError
        When the scheduler cannot be reached.
    """
    from napari_recist.cohort.stream import (
        PARTS_NAME,
        RESULTS_NAME,
        PartsFolder,
        read_lines,
        sources_fingerprint,
    )

    folder = Path(out)
    folder.mkdir(parents=True, exist_ok=True)
    parts = PartsFolder(folder / PARTS_NAME)
    done, notes = parts.start(sources_fingerprint(items, criteria.to_dict()), len(items), resume)
    todo = [(i, item) for i, item in enumerate(items) if i not in done]
    summary = BatchSummary()
    if done:  # what the earlier run found, for the messages and the page
        for part in parts.parts():
            for line in read_lines(part):
                summary.add([_outcome_summary(line)])
    from napari_recist.cohort.stream import outcome_line, write_part

    def task(number: int, batch: list[tuple[int, PatientSource]], remote: bool) -> _Task:
        if remote:  # the cluster's workers may not see this disk: the client writes the part
            return classify_batch, ([item for _, item in batch], criteria)
        return classify_batch_to_part, (batch, criteria, str(parts.new_part(number)))

    def finished(number: int, batch: list[tuple[int, PatientSource]], result: Any) -> None:
        if isinstance(result, BatchSummary):
            summary.merge(result)
            return
        write_part(parts.new_part(number), (outcome_line(index, outcome) for (index, _), outcome
                                            in zip(batch, result, strict=True)))
        summary.add(result)

    start = time.perf_counter()
    bar = tqdm(
        total=len(items), initial=len(done), desc="classifying", unit=" patients",
        disable=not progress,
    )  # fmt: skip
    try:
        if todo:
            run_batches(todo, workers, scheduler, bar.update, task, finished)
    finally:
        bar.close()
    seconds = time.perf_counter() - start
    if todo and progress:
        log.info(
            "classified %d patients in %.1f s (%.1f patients/s)",
            len(todo), seconds, len(todo) / max(seconds, 1e-9),
        )  # fmt: skip
    results = folder / RESULTS_NAME
    parts.merge(results, len(items))
    parts.remove()
    return StreamedCohort(results, summary, notes, seconds, len(todo))


def _outcome_summary(line: dict[str, Any]) -> Outcome:
    patient = None if line["patient"] is None else {}
    return Outcome(line["label"], patient, tuple(line["problems"]), tuple(line["remarks"]))
