"""Read and classify a large lesion table in parts, one part per worker at a time (issue 12).

`napari-recist classify` on a trial table spent a quarter of its time reading the whole
table in the parent before any worker started. Here the parent only cuts the file into runs
of whole patients (`napari_recist.io.table_fast.split_by_patient`, where the patient id
changes from one line to the next) and each forked worker reads its own run as a table of
its own (the header lines, then the run) with the same column-wise reader, then classifies
and renders it as `napari_recist.commands.classify` does for a slice of records.

This path gives what reading the whole table gives or it gives nothing: a part that is not
read cleanly (a problem, a skipped row, a warning, a patient without baseline, a patient the
engine refuses) or a patient id found in two parts (its rows were not contiguous in the
file) raises `WholeTableNeeded`, the outputs made so far are discarded, and the caller reads
the whole table with the reference path, which reports exactly what it always did (file,
row, column). A clean table thus never depends on how it was cut: the tests compare every
output byte for byte with the whole-table read.
"""

from __future__ import annotations

import dataclasses
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from napari_recist.commands._parallel import map_slices, worker_count
from napari_recist.criteria.settings import Criteria
from napari_recist.criteria.timeline import has_baseline
from napari_recist.errors import InputError

# Below this size the table is read whole: the cut saves less than a fork costs.
MIN_BYTES = 1 << 20
PARTS_PER_WORKER = 4  # a slow part does not leave the other workers idle for long
MAX_PART_BYTES = 16 << 20  # a part's records and outputs stay small in a worker's memory


class WholeTableNeeded(Exception):  # noqa: N818 - a signal to the caller, not an error
    """The table cannot be classified in parts; the message says why (for --verbose)."""


@dataclasses.dataclass
class TableParts:
    """A lesion table cut into runs of whole patients (`split_by_patient`)."""

    source: str
    data: bytes
    runs: list[tuple[int, int]]
    workers: int


def plan(source: Path, display: str, requested: int | None) -> TableParts | None:
    """Cut a lesion table into parts for the workers, or None to read it whole.

    Parameters
    ----------
    source
        The table file.
    display
        Its name in problems (as the user gave it).
    requested
        Worker processes asked for (``--workers``), as for `worker_count`.

    Returns
    -------
    TableParts or None
        None for one worker, a small file, a file the column-wise reader does not take, or
        anything unreadable (the whole-table read reports it).

    Raises
    ------
    ValueError
        When the requested number of processes is not valid (as `worker_count`).
    """
    from napari_recist.io import table
    from napari_recist.io.table_fast import split_by_patient

    workers = worker_count(1 << 30, requested)  # the table's patients are not known yet
    if workers <= 1:
        return None
    try:  # a small table is read once, by the whole-table reader
        if source.stat().st_size < MIN_BYTES:
            return None
        data = source.read_bytes()
    except OSError:
        return None
    try:
        text = table._decode(data, display)
    except InputError:
        return None
    parts = max(workers * PARTS_PER_WORKER, -(-len(data) // MAX_PART_BYTES))
    runs = split_by_patient(data, text, parts)
    del text
    if runs is None:
        return None
    return TableParts(display, data, runs, workers)


class PartWork:
    """Read runs of a table and classify them (in a worker): `_SliceWork` over each run.

    Parameters
    ----------
    parts
        The table and its runs (inherited by the workers: nothing is pickled).
    criteria, lenient
        As for `napari-recist classify`.
    outputs
        Keyword arguments of `classify._SliceWork` (which outputs, the spill folder).
    """

    def __init__(
        self, parts: TableParts, criteria: Criteria, lenient: bool, **outputs: Any
    ) -> None:
        self.parts = parts
        self.criteria = criteria
        self.lenient = lenient
        self.outputs = outputs

    def __call__(self, start: int, stop: int) -> list[Any]:
        """The `classify._SliceOutput` of each run start..stop-1, with its patients' ids."""
        return [self.run(index) for index in range(start, stop)]

    def run(self, index: int) -> Any:
        """Read, check and classify one run; WholeTableNeeded when it is not clean."""
        from napari_recist.commands.classify import _SliceWork
        from napari_recist.io.table_fast import read_fast, table_part

        clock = time.process_time
        mark = clock()
        parts = self.parts
        data = table_part(parts.data, parts.runs, index)
        try:
            result = read_fast(data, data.decode("utf-8"), parts.source, self.lenient)
        except InputError:
            raise WholeTableNeeded("a part of the table holds problems") from None
        if result is None:
            raise WholeTableNeeded("a part of the table is not read column-wise")
        if result.skipped or result.warnings or not result.records:
            raise WholeTableNeeded("a part of the table has skipped rows or warnings")
        records = result.records
        if not all(map(has_baseline, records)):
            raise WholeTableNeeded("a patient has no baseline")
        read_seconds = clock() - mark
        work = _SliceWork(records, self.criteria, tag=f"part{index:06d}-", **self.outputs)
        output = work(0, len(records))
        if output.problems:
            raise WholeTableNeeded("the engine refused a patient")
        output.seconds["read"] = read_seconds
        output.patient_ids = [record.patient_id for record in records]
        return output


def classified_parts(parts: TableParts, work: PartWork) -> Iterator[Any]:
    """Yield each run's output in file order; WholeTableNeeded when a patient is in two runs."""
    seen: set[str] = set()
    for outputs in map_slices(len(parts.runs), work, parts.workers):
        for output in outputs:
            before = len(seen)
            seen.update(output.patient_ids)
            if len(seen) != before + len(output.patient_ids):
                raise WholeTableNeeded("a patient's rows are not contiguous in the table")
            yield output
