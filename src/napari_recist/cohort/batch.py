"""Classify many patients in parallel with Dask, locally or on a dask.distributed cluster.

A cohort is lesion tables (CSV) and/or patient folders of DICOM SR. Tables are read up front
(fast, and a bad table is refused with its row errors); each patient folder is read inside its
task, where the work is. A patient that cannot be classified does not stop the cohort: it is
listed with its reason. Progress is shown with tqdm as tasks finish.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from tqdm.auto import tqdm

from napari_recist.criteria.settings import Criteria
from napari_recist.errors import InputError, Problem
from napari_recist.model import PatientRecord

# One task classifies a batch of patients: fewer, larger tasks keep Dask's per-task overhead
# (scheduling, pickling) small against the classification work.
MAX_BATCH = 25
TASKS_PER_WORKER = 8


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
    folders = [] if path.is_file() else sorted(p for p in path.iterdir() if p.is_dir())
    for table in tables:
        result = read_table(table, lenient=lenient)
        cohort.skipped += [str(problem) for problem in result.skipped]
        cohort.warnings += [str(problem) for problem in result.warnings]
        cohort.sources += [PatientSource(r.patient_id, record=r) for r in result.records]
    for folder in folders:
        if _looks_like_dicom_folder(folder):
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
        if record is None:
            from napari_recist.io.patient import open_patient

            ready = open_patient(Path(str(item.folder))).for_classification(item.lenient)
            record = ready.record
            remarks = tuple(str(p) for p in [*ready.skipped, *ready.remarks])
        return Outcome(item.label, classify_patient(record, criteria).to_json(), (), remarks)
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


def _batches(items: Sequence[PatientSource], workers: int) -> list[list[PatientSource]]:
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
    bar = tqdm(total=len(items), desc="classifying", unit="patient", disable=not progress)
    try:
        if scheduler is not None:
            return _run_distributed(items, criteria, scheduler, bar.update)
        if workers <= 1:
            outcomes = []
            for item in items:
                outcomes.append(classify_source(item, criteria))
                bar.update(1)
            return outcomes
        return _run_local_processes(items, criteria, workers, bar.update)
    finally:
        bar.close()


def _run_local_processes(
    items: Sequence[PatientSource], criteria: Criteria, workers: int, advance: Callable[[int], Any]
) -> list[Outcome]:
    import dask
    from dask.callbacks import Callback

    batches = _batches(items, workers)
    tasks = [dask.delayed(classify_batch)(batch, criteria) for batch in batches]
    sizes = {task.key: len(batch) for task, batch in zip(tasks, batches, strict=True)}

    class _Progress(Callback):  # type: ignore[misc]
        def _posttask(self, key: Any, result: Any, dsk: Any, state: Any, worker_id: Any) -> None:
            advance(sizes.get(key, 0))

    with _Progress():
        results = dask.compute(*tasks, scheduler="processes", num_workers=workers)
    return [outcome for batch in results for outcome in batch]


def _run_distributed(
    items: Sequence[PatientSource],
    criteria: Criteria,
    scheduler: Any,
    advance: Callable[[int], Any],
) -> list[Outcome]:
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
        batches = _batches(items, workers)
        futures = [client.submit(classify_batch, batch, criteria, pure=False) for batch in batches]
        index = {future.key: i for i, future in enumerate(futures)}
        results: list[list[Outcome]] = [[] for _ in futures]
        for future in as_completed(futures):
            results[index[future.key]] = future.result()
            advance(len(results[index[future.key]]))
        return [outcome for batch in results for outcome in batch]
    finally:
        if own_client:
            client.close()


def iter_patients(outcomes: Sequence[Outcome]) -> Iterator[dict[str, Any]]:
    """The classified patients of a list of outcomes, in order."""
    return (o.patient for o in outcomes if o.patient is not None)
