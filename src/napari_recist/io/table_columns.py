"""The lesion table read column by column: the fast path of `napari_recist.io.table.read_table`.

A table of trial size repeats a few hundred distinct values per column (dates, roles, sites,
states, sizes to 0.1 mm), so each column is parsed once per distinct text and mapped through
that, rather than row by row. The rows, cut into chunks, are not all kept as text at once.

This path only accepts a table with nothing to report: every cell readable, no row of the
row-wise reader's problems or warnings (a blank row, an empty state without a size, a site
that sounds like a node, coalesced rows, extra columns...), and no cross-row conflict. On
anything else it returns None and the row-wise reader (`table._rows_to_result`) reads the
table from the start and reports what it finds, so the messages are that reader's. The record
rules (`napari_recist.checks.check_record`) run on every patient either way; their warnings
are mapped to rows as the row-wise reader does. tests/io/test_table_columns.py checks that
both readers give equal results.
"""

from __future__ import annotations

import csv
import datetime as dt
import itertools
from collections.abc import Callable, Sequence
from typing import Any

from napari_recist.checks import check_record
from napari_recist.model import (
    KNOWN_SITES,
    Assessment,
    Lesion,
    LesionState,
    Measurement,
    PatientRecord,
    Role,
)

CHUNK_ROWS = 50_000
_LYMPH_NODE = "lymph node"
_BAD: Any = object()  # a cell the fast path does not accept


class _NotCleanError(Exception):
    """Something the row-wise reader has to report (or decide): leave the fast path."""


def read_columns(
    header: Sequence[str],
    header_row: int,
    reader: Any,
    source: str,
    lenient: bool,
) -> Any:
    """Read the data rows of `reader` column-wise; None when the row-wise reader must.

    Parameters
    ----------
    header
        The header cells.
    header_row
        The header's row number (data rows follow it).
    reader
        The `csv.reader` positioned after the header.
    source
        The file name for problems.
    lenient
        As for `read_table` (equal results when nothing is wrong, but kept for the result).

    Returns
    -------
    TableReadResult or None
        The records and warnings, exactly as the row-wise reader gives them; None otherwise.
    """
    from napari_recist.io import table

    try:
        layout = table._layout(header, source, header_row)
    except Exception:  # noqa: BLE001 - the row-wise reader raises the same, with its words
        return None
    if layout.extra or layout.unnamed:
        return None
    try:
        columns = _parse_columns(layout, reader)
        records, warnings = _build_records(columns, header_row, source, lenient)
    except (_NotCleanError, csv.Error):
        return None
    result = table.TableReadResult(extra_columns=[])
    result.records = records
    result.warnings = sorted(warnings, key=lambda problem: (problem.row is None, problem.row or 0))
    return result


class _Columns:
    """The parsed columns: one list per field, one entry per data row."""

    def __init__(self) -> None:
        self.patient: list[str] = []
        self.timepoint: list[int] = []
        self.date: list[dt.date] = []
        self.lesion: list[str] = []
        self.role: list[Role] = []
        self.site: list[str] = []
        self.nodal: list[bool] = []
        self.thoracic: list[bool | None] = []
        self.long: list[float | None] = []
        self.short: list[float | None] = []
        self.state: list[LesionState] = []
        self.uid: list[str | None] = []
        self.part_of: list[str | None] = []
        self.start: list[dt.date | None] = []

    def __len__(self) -> int:
        return len(self.patient)


def _cached(parse: Callable[[str], Any]) -> Callable[[Sequence[str]], list[Any]]:
    """Map a column through `parse` of each distinct text (stripped first, as the rows are)."""
    cache: dict[str, Any] = {}

    def column(cells: Sequence[str]) -> list[Any]:
        for text in set(cells).difference(cache):
            value = parse(text.strip())
            if value is _BAD:
                raise _NotCleanError
            cache[text] = value
        return list(map(cache.__getitem__, cells))

    return column


def _parsers() -> dict[str, Callable[[Sequence[str]], list[Any]]]:
    from napari_recist.io import table
    from napari_recist.io.spreadsheet import QUOTE

    def text(value: str) -> Any:
        # Not empty, and not a formula-neutralised cell (the row-wise reader restores those).
        return value if value and value[:1] != QUOTE else _BAD

    def optional_text(value: str) -> Any:
        if value[:1] == QUOTE:
            return _BAD
        return value or None

    def timepoint(value: str) -> Any:
        number = table._parse_int(value)
        if number is None or not table.timepoint_in_range(number):
            return _BAD  # the row-wise reader names what is wrong
        return number

    def date(value: str) -> Any:
        parsed = table._parse_date(value)
        return _BAD if isinstance(parsed, str) else parsed

    def optional_date(value: str) -> Any:
        return None if not value else date(value)

    def role(value: str) -> Any:
        found = table._ROLES.get(table._normalise_word(value))
        return _BAD if found is None else found

    def site(value: str) -> Any:
        parsed = table._parse_site(value)
        if not parsed or parsed[:1] == QUOTE:
            return _BAD
        if parsed not in KNOWN_SITES and "node" in parsed.lower():
            return _BAD  # the row-wise reader may warn ("sounds like a lymph node")
        return parsed

    def boolean(value: str) -> Any:
        if not value:
            return None
        found = table._BOOLEANS.get(value.lower())
        return _BAD if found is None else found

    def size(value: str) -> Any:
        if not value:
            return None
        parsed, error = table._parse_size(value)
        return _BAD if error else parsed

    def state(value: str) -> Any:
        if not value:
            return None  # the default depends on the sizes of the row
        found = table._STATES.get(table._normalise_word(value))
        return _BAD if found is None else found

    return {
        "patient_id": _cached(text),
        "timepoint": _cached(timepoint),
        "date": _cached(date),
        "lesion_id": _cached(text),
        "role": _cached(role),
        "site": _cached(site),
        "nodal": _cached(boolean),
        "thoracic": _cached(boolean),
        "long_axis_mm": _cached(size),
        "short_axis_mm": _cached(size),
        "state": _cached(state),
        "tracking_uid": _cached(optional_text),
        "part_of": _cached(optional_text),
        "treatment_start": _cached(optional_date),
        "coalesced_into": _cached(optional_text),
    }


def _parse_columns(layout: Any, reader: Any) -> _Columns:
    """Parse every data row, chunk by chunk; raise `_NotCleanError` on anything to report."""
    parsers = _parsers()
    columns = _Columns()
    width = layout.width
    index = layout.index
    while True:
        chunk = list(itertools.islice(reader, CHUNK_ROWS))
        if not chunk:
            break
        if set(map(len, chunk)) != {width}:
            raise _NotCleanError  # wrong number of fields, or a blank line
        cells = list(zip(*chunk, strict=True))
        del chunk
        n = len(cells[0])

        def column(name: str, cells: list[tuple[str, ...]] = cells, n: int = n) -> list[Any]:
            position = index.get(name, -1)
            return [None] * n if position < 0 else parsers[name](cells[position])

        if any(value is not None for value in column("coalesced_into")):
            raise _NotCleanError  # coalesced rows: the row-wise reader checks their cells
        sites = column("site")
        nodal = [
            (s == _LYMPH_NODE) if flag is None else flag
            for flag, s in zip(column("nodal"), sites, strict=True)
        ]
        long, short = column("long_axis_mm"), column("short_axis_mm")
        states = column("state")
        if None in states:
            # The spec's default: measured when a size is given; a row with neither a size
            # nor a state is warned about by the row-wise reader.
            states = [
                state if state is not None else _measured_default(lo, sh)
                for state, lo, sh in zip(states, long, short, strict=True)
            ]
        columns.patient += column("patient_id")
        columns.timepoint += column("timepoint")
        columns.date += column("date")
        columns.lesion += column("lesion_id")
        columns.role += column("role")
        columns.site += sites
        columns.nodal += nodal
        columns.thoracic += column("thoracic")
        columns.long += long
        columns.short += short
        columns.state += states
        columns.uid += column("tracking_uid")
        columns.part_of += column("part_of")
        columns.start += column("treatment_start")
    if not len(columns):
        raise _NotCleanError  # no data rows: the row-wise reader says so
    return columns


def _measured_default(long: float | None, short: float | None) -> LesionState:
    if long is None and short is None:
        raise _NotCleanError
    return LesionState.MEASURED


def _build_records(
    c: _Columns, header_row: int, source: str, lenient: bool
) -> tuple[list[PatientRecord], list[Any]]:
    """Group rows by patient, check them across rows and against the record rules, build."""
    from napari_recist.io import table

    n = len(c)
    keys = set(zip(c.patient, c.timepoint, c.lesion, strict=True))
    if len(keys) != n:
        raise _NotCleanError  # a duplicate row
    per_timepoint = set(zip(c.patient, c.timepoint, strict=True))
    if len(set(zip(c.patient, c.timepoint, c.date, strict=True))) != len(per_timepoint):
        raise _NotCleanError  # two dates at one time point
    lesions = set(zip(c.patient, c.lesion, strict=True))
    attributes = set(
        zip(c.patient, c.lesion, c.role, c.part_of, c.site, c.nodal, c.thoracic, c.uid,
            strict=True)
    )
    if len(attributes) != len(lesions):
        raise _NotCleanError  # a lesion whose role, part_of or attributes change between rows
    starts = {(p, s) for p, s in zip(c.patient, c.start, strict=True) if s is not None}
    if len(starts) != len({p for p, _ in starts}):
        raise _NotCleanError  # two treatment starts for one patient
    rows_of: dict[str, list[int]] = {}
    for position, patient in enumerate(c.patient):
        rows = rows_of.get(patient)
        if rows is None:
            rows_of[patient] = [position]
        else:
            rows.append(position)
    starts_of = dict(starts)
    measurements: dict[tuple[Any, ...], Measurement] = {}
    records: list[PatientRecord] = []
    warnings: list[Any] = []
    wording = table._PatientChecker("", [], source, lenient, True, set())
    timepoint = c.timepoint
    for patient, rows in rows_of.items():
        rows.sort(key=timepoint.__getitem__)  # stable: by time point, then file order
        record = _build(c, patient, rows, starts_of.get(patient), measurements)
        checked = check_record(record, refused_lesions=())
        if checked.errors or checked.record is None:
            raise _NotCleanError
        if checked.warnings:
            # Located and worded as the row-wise reader does (`_PatientChecker._problem`).
            locate = table._RowLocator([_located(c, j, header_row) for j in rows])
            warnings.extend(wording._problem(issue, locate) for issue in checked.warnings)
        records.append(checked.record)
    return records, warnings


def _located(c: _Columns, j: int, header_row: int) -> Any:
    """A row for `_RowLocator`: its number, time point and lesion."""
    from napari_recist.io import table

    row = table._Row(header_row + 1 + j)
    row.timepoint = c.timepoint[j]
    row.lesion_id = c.lesion[j]
    return row


def _build(
    c: _Columns,
    patient: str,
    rows: list[int],
    treatment_start: dt.date | None,
    measurements: dict[tuple[Any, ...], Measurement],
) -> PatientRecord:
    """The record of one patient, as `table._PatientChecker._build` makes it.

    Measurements are frozen: equal ones (a lesion id, state and sizes) are one object.
    """
    from napari_recist.io import table

    lesions: dict[str, Lesion] = {}
    assessments: dict[int, Assessment] = {}
    lesion_ids, states, longs, shorts = c.lesion, c.state, c.long, c.short
    for j in rows:
        lid = lesion_ids[j]
        if lid not in lesions:
            lesions[lid] = Lesion(
                lesion_id=lid,
                role=c.role[j],
                site=c.site[j],
                nodal=bool(c.nodal[j]),
                thoracic=c.thoracic[j],
                tracking_uid=c.uid[j],
                part_of=c.part_of[j],
            )
        tp = c.timepoint[j]
        assessment = assessments.get(tp)
        if assessment is None:
            assessment = assessments[tp] = Assessment(tp, c.date[j])
        key = (lid, states[j], longs[j], shorts[j])
        measurement = measurements.get(key)
        if measurement is None:
            measurement = measurements[key] = Measurement(
                lesion_id=lid,
                state=states[j],
                long_axis_mm=longs[j],
                short_axis_mm=shorts[j],
                extra=table._NO_EXTRA,
            )
        assessment.measurements[lid] = measurement
    return PatientRecord(
        patient, lesions, list(assessments.values()), treatment_start=treatment_start
    )
