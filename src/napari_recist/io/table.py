"""The lesion table (CSV): read with row-level errors, write atomically.

The format is shared/spec/lesion-table.md: one row per lesion per assessment. Reading checks
every row and every patient and reports all problems at once (file, spreadsheet row number with
the header as row 1, column, what is wrong); in lenient mode the bad rows are skipped and listed
instead. Writing goes through the one atomic writer (`napari_recist.io.atomic`), so a crash never
leaves a half-written table over the user's file.
"""

from __future__ import annotations

import csv
import datetime as dt
import io
import math
import os
import re
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from napari_recist.checks import RecordIssue, check_record
from napari_recist.errors import InputError, Problem
from napari_recist.gcpause import paused_garbage_collection
from napari_recist.io.atomic import atomic_open
from napari_recist.io.spreadsheet import QUOTE, neutralise, restore
from napari_recist.model import (
    KNOWN_SITES,
    MAX_DIAMETER_MM,
    Assessment,
    Lesion,
    LesionState,
    Measurement,
    PatientRecord,
    Role,
)

# Column order of shared/spec/lesion-table.md; the first six are required.
SPEC_COLUMNS: tuple[str, ...] = (
    "patient_id",
    "timepoint",
    "date",
    "lesion_id",
    "role",
    "site",
    "nodal",
    "long_axis_mm",
    "short_axis_mm",
    "state",
    "thoracic",
)
REQUIRED_COLUMNS: tuple[str, ...] = SPEC_COLUMNS[:6]
# Not in the spec's list but read and written so that SR -> table -> SR keeps the DICOM
# Tracking Unique Identifier of each lesion; written only when some lesion has one.
TRACKING_UID_COLUMN = "tracking_uid"
# shared/spec/lesion-table.md (amended 2026-12): split and coalesced lesions, treatment start.
# Read always; written only when some record uses them, after the columns above.
PART_OF_COLUMN = "part_of"
COALESCED_INTO_COLUMN = "coalesced_into"
TREATMENT_START_COLUMN = "treatment_start"
LINK_COLUMNS: tuple[str, ...] = (PART_OF_COLUMN, COALESCED_INTO_COLUMN, TREATMENT_START_COLUMN)
KNOWN_COLUMNS: tuple[str, ...] = (*SPEC_COLUMNS, *LINK_COLUMNS, TRACKING_UID_COLUMN)

# Sizes are kept to a micrometre-fraction (1e-6 mm): far below any CT resolution, and it makes
# read -> write -> read exact while float noise such as 12.300000000000001 is written as 12.3.
SIZE_DECIMALS = 6
MAX_SIZE_MM = MAX_DIAMETER_MM
# A time point is an assessment's index (0 = baseline, negative = pre-baseline): anything
# beyond this is a typing error, refused before it can overflow a 64-bit column.
MAX_TIMEPOINT = 1_000_000

_LYMPH_NODE = "lymph node"
_ROLES: dict[str, Role] = {
    "target": Role.TARGET,
    "non-target": Role.NON_TARGET,
    "nontarget": Role.NON_TARGET,
    "new": Role.NEW,
}
_STATES: dict[str, LesionState] = {state.value: state for state in LesionState}
_STATES.update({"toosmall": LesionState.TOO_SMALL, "notevaluated": LesionState.NOT_EVALUATED})
_BOOLEANS: dict[str, bool] = {
    "true": True,
    "false": False,
    "yes": True,
    "no": False,
    "1": True,
    "0": False,
}
_ROLE_WORDS = "target, non-target or new"
_STATE_WORDS = ", ".join(state.value for state in LesionState)
_DELIMITERS = (",", ";", "\t")
# A cell may hold a long free-text note: the csv module's default limit (128 KiB) is raised to
# 16 MiB; a longer cell still stops the reading with a problem naming its row.
MAX_CELL_BYTES = 16 * 1024 * 1024
csv.field_size_limit(max(csv.field_size_limit(), MAX_CELL_BYTES))
# Signatures of files that are often renamed or exported by mistake instead of a CSV.
_BINARY_SIGNATURES: tuple[tuple[int, bytes, str], ...] = (
    (0, b"\x89PNG", "a PNG image"),
    (0, b"\xff\xd8\xff", "a JPEG image"),
    (128, b"DICM", "a DICOM file"),
    (0, b"PK\x03\x04", "a ZIP archive or an Excel workbook (save it as CSV UTF-8)"),
    (0, b"\xd0\xcf\x11\xe0", "an old Excel/Office document (save it as CSV UTF-8)"),
    (0, b"%PDF", "a PDF document"),
    (0, b"\x1f\x8b", "a gzip archive"),
)


@dataclass
class TableReadResult:
    """What `read_table` found in a lesion table.

    Attributes
    ----------
    records
        One record per patient, in order of the patient's first row.
    skipped
        Rows skipped in lenient mode, each with what was wrong.
    warnings
        Things accepted but worth a look (a site that changes, rows ignored, lesions counted
        as not evaluated).
    extra_columns
        Columns the format does not define, in file order; kept in `Measurement.extra`.
    """

    records: list[PatientRecord] = field(default_factory=list)
    skipped: list[Problem] = field(default_factory=list)
    warnings: list[Problem] = field(default_factory=list)
    extra_columns: list[str] = field(default_factory=list)


# One shared, read-only empty mapping for rows and measurements without extra columns: a
# million-row table then holds no million empty dictionaries.
class _EmptyMapping(Mapping[str, str]):
    """An empty, read-only mapping that copies (and deep-copies, pickles) as itself."""

    def __getitem__(self, key: str) -> str:
        raise KeyError(key)

    def __iter__(self) -> Iterator[str]:
        return iter(())

    def __len__(self) -> int:
        return 0

    def __deepcopy__(self, memo: dict[int, object]) -> _EmptyMapping:
        return self

    def __reduce__(self) -> str:
        return "_NO_EXTRA"

    def __repr__(self) -> str:
        return "{}"


_NO_EXTRA: Mapping[str, str] = _EmptyMapping()


class _Row:
    """One data row after parsing; a field that could not be parsed is None."""

    __slots__ = (
        "row",
        "patient_id",
        "timepoint",
        "date",
        "lesion_id",
        "role",
        "site",
        "nodal",
        "thoracic",
        "long_mm",
        "short_mm",
        "state",
        "tracking_uid",
        "part_of",
        "coalesced_into",
        "treatment_start",
        "extra",
        "clean",
        "blank",
    )

    def __init__(self, row: int) -> None:
        self.row = row
        self.patient_id = ""
        self.timepoint: int | None = None
        self.date: dt.date | None = None
        self.lesion_id = ""
        self.role: Role | None = None
        self.site: str | None = None
        self.nodal: bool | None = None
        self.thoracic: bool | None = None
        self.long_mm: float | None = None
        self.short_mm: float | None = None
        self.state: LesionState | None = None
        self.tracking_uid: str | None = None
        self.part_of: str | None = None
        self.coalesced_into: str | None = None
        self.treatment_start: dt.date | None = None
        self.extra: Mapping[str, str] = _NO_EXTRA
        self.clean = True
        self.blank = False  # neither a size nor a state was given


# --------------------------------------------------------------------------------------------
# Reading
# --------------------------------------------------------------------------------------------


def read_table(
    path: str | os.PathLike[str], *, lenient: bool = False, check_records: bool = True
) -> TableReadResult:
    """Read a lesion table and build one patient record per patient.

    Parameters
    ----------
    path
        The CSV file (comma, semicolon or tab separated, UTF-8 with or without BOM).
    lenient
        Skip bad rows (and patients without a baseline) and list them in
        `TableReadResult.skipped` instead of raising.
    check_records
        Apply the record rules (`napari_recist.checks.check_record`) too. False reads the
        rows as they are (the viewer's session table: work in progress, checked when it is
        classified); only what a table cannot hold is refused.

    Returns
    -------
    TableReadResult
        Records, skipped rows, warnings and the extra columns.

    Raises
    ------
    InputError
        With every problem found (file, row, column, what is wrong). In lenient mode only
        for problems of the whole file: unreadable, not a table, missing columns, no rows.
    """
    source = str(path)
    try:
        data = Path(path).read_bytes()
    except OSError as error:
        reason = error.strerror or str(error)
        raise InputError([Problem(source, f"cannot read the file: {reason}")]) from None
    text = _decode(data, source)
    if check_records:
        # pandas' C parser and column-wise checks, for a file whose lines are its rows; the
        # patients it cannot vouch for are read by the row-wise reader below (same words).
        from napari_recist.io.table_fast import read_fast

        with paused_garbage_collection():
            fast = read_fast(data, text, source, lenient)
        if fast is not None:
            return fast
    del data  # the text is kept instead
    if check_records:
        # The column-wise fast path, for a table with nothing to report; on anything else it
        # gives None and the row-wise reader below reads the table and reports.
        from napari_recist.io.table_columns import read_columns

        header, header_row, reader = _csv_reader(text, source)
        with paused_garbage_collection():
            fast = read_columns(header, header_row, reader, source, lenient)
        if fast is not None:
            return fast
    header, header_row, rows = _split_csv(text, source)
    return _rows_to_result(header, rows, source, lenient, header_row, check_records)


def rows_to_records(
    rows: Iterable[Mapping[str, str]], source: str, lenient: bool = False
) -> TableReadResult:
    """Build patient records from in-memory table rows, with the checks of `read_table`.

    Parameters
    ----------
    rows
        One mapping per row from column name (any case) to text, e.g. from the viewer or
        the SR importer. A missing key or None is an empty cell.
    source
        Name used in problems (a file name or a description of the input).
    lenient
        Skip bad rows instead of raising, as in `read_table`.

    Returns
    -------
    TableReadResult
        Records, skipped rows, warnings and the extra columns. Row numbers in problems count
        the first row as 2, as in a spreadsheet under a header row.

    Raises
    ------
    InputError
        With every problem found, unless `lenient`.
    """
    canonical: dict[str, str] = {}  # the format's columns under one spelling

    def name_of(key: str) -> str:
        name = canonical.get(key)
        if name is None:
            normalised = _normalise_column(key)
            name = canonical[key] = normalised if normalised in KNOWN_COLUMNS else key.strip()
        return name

    materialised = [{name_of(key): value for key, value in row.items()} for row in rows]
    header: list[str] = []
    seen: set[str] = set()
    for row in materialised:
        for key in row:
            if key not in seen:
                seen.add(key)
                header.append(key)
    numbered = (
        (number, ["" if row.get(key) is None else str(row[key]) for key in header])
        for number, row in enumerate(materialised, start=2)
    )
    return _rows_to_result(header, numbered, source, lenient)


def _decode(data: bytes, source: str) -> str:
    """Return the text of a table file, or raise a clear error for a file that is not text."""
    if not data.strip():
        raise InputError([Problem(source, "the file is empty: expected a lesion table (CSV)")])
    for offset, signature, what in _BINARY_SIGNATURES:
        if data[offset : offset + len(signature)] == signature:
            raise InputError(
                [Problem(source, f"this is {what}, not a lesion table (CSV text)")]
            )
    if b"\x00" in data[:65536]:
        raise InputError(
            [Problem(source, "this is a binary file (or UTF-16 text), not a lesion table (CSV)")]
        )
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError as error:
        raise InputError(
            [
                Problem(
                    source,
                    f"not UTF-8 text (byte {error.start}): save the table as 'CSV UTF-8'",
                )
            ]
        ) from None


def _sniff_delimiter(first_line: str) -> str:
    """Pick the delimiter whose split of the header names the most known columns."""
    best, best_count = ",", -1
    for delimiter in _DELIMITERS:
        cells = next(csv.reader([first_line], delimiter=delimiter), [])
        count = sum(1 for cell in cells if _normalise_column(cell) in KNOWN_COLUMNS)
        if count > best_count:
            best, best_count = delimiter, count
    return best


def _csv_reader(text: str, source: str) -> tuple[list[str], int, Iterator[list[str]]]:
    """The header, its row number and a `csv.reader` positioned after it."""
    if "\r" in text and "\n" not in text:
        text = text.replace("\r", "\n")  # classic Mac line endings (Excel for Mac "CSV")
    first_line = text.lstrip("\r\n").split("\n", 1)[0]
    delimiter = _sniff_delimiter(first_line)
    reader = csv.reader(_lines(text), delimiter=delimiter)
    header: list[str] | None = None
    number = 0
    try:
        for cells in reader:
            number += 1
            if any(cell.strip() for cell in cells):
                header = cells
                break
    except csv.Error as error:
        problem = Problem(source, f"not a readable CSV file: {error}", number + 1)
        raise InputError([problem]) from None
    if header is None:
        raise InputError([Problem(source, "the file is empty: expected a lesion table (CSV)")])
    return header, number, reader


# Line boundaries of str.splitlines that universal newlines (open(newline="")) do not have.
_OTHER_LINE_BREAKS = re.compile("[\x0b\x0c\x1c\x1d\x1e\x85\u2028\u2029]")
_LINES_CHUNK = 1 << 20


def _lines(text: str) -> Iterator[str]:
    r"""The lines of `text` with their ends, as ``io.StringIO(text, newline="")`` gives them.

    Without a StringIO: it holds the text again at 4 bytes a character (a 26 MB table cost
    100 MB more). The text is split a megabyte at a time with `str.splitlines`, which ends
    lines where universal newlines do (``\n``, ``\r\n``, ``\r``) and at a few more
    characters; a text holding one of those is read through StringIO as before.
    """
    if _OTHER_LINE_BREAKS.search(text):
        yield from io.StringIO(text, newline="")
        return
    start, size = 0, len(text)
    while start < size:
        end = text.find("\n", start + _LINES_CHUNK)
        end = size if end < 0 else end + 1
        yield from text[start:end].splitlines(keepends=True)
        start = end


def _split_csv(
    text: str, source: str
) -> tuple[list[str], int, Iterator[tuple[int, list[str]]]]:
    """Split CSV text into its header, the header's row number and numbered data rows.

    Rows are numbered as a spreadsheet shows them: the header is row 1 (unless blank lines
    precede it) and a quoted cell spanning several lines is still one row.
    """
    header, header_row, reader = _csv_reader(text, source)

    def numbered() -> Iterator[tuple[int, list[str]]]:
        row = header_row
        while True:
            row += 1
            try:
                cells = next(reader)
            except StopIteration:
                return
            except csv.Error as error:
                # Problems are collected by the caller; a broken quote ends the readable part.
                yield row, [_CSV_ERROR, str(error)]
                return
            if any(cell[:1] == QUOTE for cell in cells):
                cells = [restore(cell) for cell in cells]  # our formula neutralisation
            yield row, cells

    return header, header_row, numbered()


# A cache marker: "not looked up yet" (None is a cached "unknown").
_UNSET: Any = object()
# A marker the row splitter yields for a line the csv module cannot read.
_CSV_ERROR = "\x00csv-error"


def _normalise_column(name: str) -> str:
    """Column name as matched against the format: trimmed, lower case, spaces as underscores."""
    key = name.replace("\ufeff", "").strip().lower()
    return "_".join(key.replace("-", " ").split())


@dataclass
class _Layout:
    """Where each known column is in a row, and the extra columns."""

    width: int
    index: dict[str, int]
    extra: list[tuple[int, str]]
    unnamed: list[int]


def _layout(header: Sequence[str], source: str, header_row: int = 1) -> _Layout:
    """Map header cells to columns; raise for missing or repeated columns."""
    index: dict[str, int] = {}
    extra: list[tuple[int, str]] = []
    unnamed: list[int] = []
    problems: list[Problem] = []
    extra_names: set[str] = set()
    for position, cell in enumerate(header):
        name = cell.replace("\ufeff", "").strip()
        key = _normalise_column(name)
        if not key:
            unnamed.append(position)
        elif key in KNOWN_COLUMNS:
            if key in index:
                problems.append(
                    Problem(source, f"column '{key}' appears twice in the header", header_row, key)
                )
            index[key] = position
        elif name in extra_names:
            message = f"column '{name}' appears twice in the header"
            problems.append(Problem(source, message, header_row))
        else:
            extra_names.add(name)
            extra.append((position, name))
    missing = [column for column in REQUIRED_COLUMNS if column not in index]
    if missing:
        found = ", ".join(repr(cell.strip()) for cell in header[:12])
        if len(missing) == len(REQUIRED_COLUMNS):
            message = (
                "this is not a lesion table: the header row must name the columns "
                f"{', '.join(REQUIRED_COLUMNS)}; found {found}"
            )
        else:
            message = f"missing required column(s): {', '.join(missing)} (header has {found})"
        problems.insert(0, Problem(source, message, header_row))
    if problems:
        raise InputError(problems)
    return _Layout(len(header), index, extra, unnamed)


class _Parser:
    """Parse the cells of one row; caches make repeated dates and sites cheap."""

    def __init__(self, layout: _Layout, source: str) -> None:
        self.layout = layout
        self.source = source
        self.dates: dict[str, dt.date | str] = {}
        self.sites: dict[str, str] = {}
        self.roles: dict[str, Role | None] = {}
        self.unreadable = False  # set when the csv module cannot read on
        self.warnings: list[Problem] = []
        self.states: dict[str, LesionState | None] = {}
        get = layout.index.get
        self.i_patient = get("patient_id", -1)
        self.i_timepoint = get("timepoint", -1)
        self.i_date = get("date", -1)
        self.i_lesion = get("lesion_id", -1)
        self.i_role = get("role", -1)
        self.i_site = get("site", -1)
        self.i_nodal = get("nodal", -1)
        self.i_long = get("long_axis_mm", -1)
        self.i_short = get("short_axis_mm", -1)
        self.i_state = get("state", -1)
        self.i_thoracic = get("thoracic", -1)
        self.i_uid = get(TRACKING_UID_COLUMN, -1)
        self.i_part_of = get(PART_OF_COLUMN, -1)
        self.i_coalesced = get(COALESCED_INTO_COLUMN, -1)
        self.i_start = get(TREATMENT_START_COLUMN, -1)

    def parse(self, number: int, cells: list[str], problems: list[Problem]) -> _Row | None:
        """Parse one row; append its problems; return None for a row to drop entirely."""
        source = self.source
        row = _Row(number)
        if cells and cells[0] == _CSV_ERROR:
            self.unreadable = True
            problems.append(
                Problem(
                    source,
                    f"not readable as CSV ({cells[1]}): the rest of the file was not read",
                    number,
                )
            )
            return None
        values = [cell.strip() for cell in cells]
        if not any(values):
            return None  # a blank line or a spreadsheet's empty row
        width = self.layout.width
        if len(cells) != width:
            message = f"wrong number of fields: {len(cells)} here, {width} in the header"
            if any("\n" in cell for cell in cells):
                message += ' (an unclosed quote " takes in the lines after it)'
            problems.append(Problem(source, message, number))
            return None
        start = len(problems)

        def bad(message: str, column: str) -> None:
            problems.append(Problem(source, message, number, column))

        for position in self.layout.unnamed:
            if values[position]:
                bad(f"value '{values[position]}' in a column with no name in the header", "")

        row.patient_id = values[self.i_patient]
        if not row.patient_id:
            bad("patient_id is empty", "patient_id")
        row.lesion_id = values[self.i_lesion]
        if not row.lesion_id:
            bad("lesion_id is empty", "lesion_id")

        text = values[self.i_timepoint]
        row.timepoint = _parse_int(text)
        if row.timepoint is None:
            bad(
                f"timepoint must be an integer (0 = baseline, negative = pre-baseline), "
                f"got '{text}'",
                "timepoint",
            )
        elif not timepoint_in_range(row.timepoint):
            bad(f"timepoint {text} is out of range (at most {MAX_TIMEPOINT:,} either side of "
                "the baseline, 0)", "timepoint")
            row.timepoint = None

        text = values[self.i_date]
        parsed_date = self.dates.get(text)
        if parsed_date is None:
            parsed_date = _parse_date(text)
            self.dates[text] = parsed_date
        if isinstance(parsed_date, str):
            bad(parsed_date, "date")
        else:
            row.date = parsed_date

        text = values[self.i_role]
        role = self.roles.get(text, _UNSET)
        if role is _UNSET:
            role = self.roles[text] = _ROLES.get(_normalise_word(text))
        if role is None:
            bad(f"unknown role '{text}': expected {_ROLE_WORDS}", "role")
        row.role = role

        text = values[self.i_site]
        site = self.sites.get(text)
        if site is None:
            site = _parse_site(text)
            self.sites[text] = site
        if not site:
            bad("site is empty: name the organ (e.g. lung, liver, lymph node)", "site")
        else:
            row.site = site

        nodal: bool | None = None
        if self.i_nodal >= 0 and values[self.i_nodal]:
            text = values[self.i_nodal]
            nodal = _BOOLEANS.get(text.lower())
            if nodal is None:
                bad(f"nodal must be true or false, got '{text}'", "nodal")
        elif site:
            nodal = site == _LYMPH_NODE  # the spec's default: true for a lymph node
            if not nodal and site not in KNOWN_SITES and "node" in site.lower():
                # RECIST 1.1 section 4.3: a node is measured by its short axis, so say so.
                self.warnings.append(
                    Problem(
                        source,
                        f"site '{site}' sounds like a lymph node but is not 'lymph node': "
                        "nodal is false unless the nodal column says true",
                        number,
                        "nodal",
                    )
                )
        row.nodal = nodal

        if self.i_thoracic >= 0 and values[self.i_thoracic]:
            text = values[self.i_thoracic]
            row.thoracic = _BOOLEANS.get(text.lower())
            if row.thoracic is None:
                bad(f"thoracic must be true, false or empty, got '{text}'", "thoracic")

        sizes_ok = True
        for column, position in (("long_axis_mm", self.i_long), ("short_axis_mm", self.i_short)):
            if position < 0 or not values[position]:
                continue
            text = values[position]
            size, error = _parse_size(text)
            if error:
                bad(f"{column} {error}, got '{text}'", column)
                sizes_ok = False
            elif column == "long_axis_mm":
                row.long_mm = size
            else:
                row.short_mm = size

        if self.i_part_of >= 0 and values[self.i_part_of]:
            row.part_of = values[self.i_part_of]
        if self.i_start >= 0 and values[self.i_start]:
            text = values[self.i_start]
            parsed_start = _parse_date(text)
            if isinstance(parsed_start, str):
                bad(f"treatment_start: {parsed_start}", TREATMENT_START_COLUMN)
            else:
                row.treatment_start = parsed_start
        state: LesionState | None
        if self.i_coalesced >= 0 and values[self.i_coalesced]:
            # lesion-table.md (amended 2026-12): a coalesced row has no state; sizes are the
            # record checker's (coalesced-with-size).
            row.coalesced_into = values[self.i_coalesced]
            if self.i_state >= 0 and values[self.i_state]:
                bad(
                    f"lesion {row.lesion_id} is coalesced_into {row.coalesced_into}: a coalesced "
                    f"row has no state, got '{values[self.i_state]}'",
                    "state",
                )
            state = LesionState.ABSENT
        elif self.i_state >= 0 and values[self.i_state]:
            text = values[self.i_state]
            state = self.states.get(text, _UNSET)
            if state is _UNSET:
                state = self.states[text] = _STATES.get(_normalise_word(text))
            if state is None:
                bad(f"unknown state '{text}': expected one of {_STATE_WORDS}", "state")
        elif not sizes_ok:
            state = None
        elif row.long_mm is not None or row.short_mm is not None:
            state = LesionState.MEASURED  # the spec's default when a size is given
        else:
            state = LesionState.NOT_EVALUATED  # no size and no state: not evaluated
            row.blank = True
        row.state = state

        if self.i_uid >= 0 and values[self.i_uid]:
            row.tracking_uid = values[self.i_uid]
        if self.layout.extra:
            row.extra = {name: values[i] for i, name in self.layout.extra if values[i]} or _NO_EXTRA

        if len(problems) > start:
            row.clean = False
        return row


def _normalise_word(text: str) -> str:
    """Lower case with spaces and underscores as hyphens: 'Non Target' -> 'non-target'."""
    return "-".join(text.lower().replace("_", " ").replace("-", " ").split())


def timepoint_in_range(timepoint: int) -> bool:
    """True for a time point the table accepts (``|timepoint| <= MAX_TIMEPOINT``)."""
    return -MAX_TIMEPOINT <= timepoint <= MAX_TIMEPOINT


def _parse_int(text: str) -> int | None:
    if "_" in text:
        return None  # Python reads 1_0 as 10; a table should not
    try:
        return int(text)
    except ValueError:
        pass
    try:
        number = float(text)
    except ValueError:
        return None
    # A spreadsheet may write 2 as 2.0.
    return int(number) if math.isfinite(number) and number.is_integer() else None


def _parse_date(text: str) -> dt.date | str:
    """Return the date, or the error message for a text that is not YYYY-MM-DD."""
    if not text:
        return "date is empty: expected YYYY-MM-DD"
    if len(text) != 10 or text[4] != "-" or text[7] != "-" or not text.replace("-", "").isdigit():
        return f"date must be YYYY-MM-DD, got '{text}'"
    try:
        return dt.date.fromisoformat(text)
    except ValueError:
        return f"'{text}' is not a valid date"


def _parse_site(text: str) -> str:
    """Known sites in lower case (any spacing, hyphens or underscores); free text as written."""
    key = " ".join(text.lower().replace("_", " ").replace("-", " ").split())
    return key if key in KNOWN_SITES else text


def _parse_size(text: str) -> tuple[float, str]:
    """Return (size in mm, "") or (0, what is wrong)."""
    if "_" in text:
        return 0.0, "must be a number in mm"  # Python reads 1_0 as 10; a table should not
    try:
        size = float(text)
    except ValueError:
        # A decimal comma (12,5) as written by spreadsheets in many locales.
        if text.count(",") == 1 and "." not in text:
            whole, _, decimals = text.partition(",")
            if len(decimals) == 3 and whole.strip().lstrip("+-").isdigit():
                # "1,005" is 1.005 mm with a decimal comma or 1005 with a thousands
                # separator: neither reading can be chosen silently.
                return 0.0, (
                    "is ambiguous: a decimal comma or a thousands separator? "
                    "write it with a decimal point"
                )
            try:
                size = float(text.replace(",", "."))
            except ValueError:
                return 0.0, "must be a number in mm"
        else:
            return 0.0, "must be a number in mm"
    if not math.isfinite(size):
        return 0.0, "must be a finite number in mm"
    if size < 0:
        return 0.0, "must not be negative"
    if size > MAX_SIZE_MM:
        return 0.0, f"is not a lesion diameter (more than {MAX_SIZE_MM:g} mm)"
    return round(size, SIZE_DECIMALS), ""


def _rows_to_result(
    header: Sequence[str],
    numbered_rows: Iterable[tuple[int, list[str]]],
    source: str,
    lenient: bool,
    header_row: int = 1,
    check_records: bool = True,
) -> TableReadResult:
    """Parse, check and assemble; shared by `read_table` and `rows_to_records`."""
    layout = _layout(header, source, header_row)
    with paused_garbage_collection():
        return _check_and_build(layout, numbered_rows, source, lenient, check_records)


def place_row(row: _Row, lenient: bool, rows: list[_Row],
              unplaced: dict[str, set[str]]) -> None:
    """Keep a parsed row, or note its lesion as unplaced (skipped with a problem).

    A clean row is kept. A row with a problem is kept in strict mode when it can still be
    placed (its time point, role and lesion are known), so the record checks report what
    else is wrong with its patient; otherwise, and always in lenient mode, its lesion is
    unplaced, so that strict mode does not report the row's absence a second time and
    lenient mode says why the lesion or patient is skipped.
    """
    if row.clean:
        rows.append(row)
    elif lenient or row.timepoint is None or row.role is None or not row.lesion_id:
        unplaced.setdefault(row.patient_id, set()).add(row.lesion_id)
    elif row.patient_id:
        rows.append(row)


def _check_and_build(
    layout: _Layout,
    numbered_rows: Iterable[tuple[int, list[str]]],
    source: str,
    lenient: bool,
    check_records: bool = True,
) -> TableReadResult:
    """Parse every row, check each patient and build the records."""
    parser = _Parser(layout, source)
    problems: list[Problem] = []
    rows: list[_Row] = []
    any_row = False
    # Rows left out of the checks across rows (all bad rows in lenient mode; in strict mode
    # those whose time point, lesion or role is unreadable) are remembered by patient and
    # lesion: strict mode does not report their absence a second time (e.g. as "no
    # baseline"), lenient mode says why a lesion or patient is skipped in turn.
    unplaced: dict[str, set[str]] = {}
    for number, cells in numbered_rows:
        any_row = True
        row = parser.parse(number, cells, problems)
        if row is not None:
            place_row(row, lenient, rows, unplaced)
    if parser.unreadable:
        # Not a bad row that lenient mode could skip: the rest of the file is lost.
        raise InputError(sorted(problems, key=lambda problem: problem.row or 0))
    if not any_row or (not rows and not problems):
        raise InputError([Problem(source, "no rows: the table has a header but no data rows")])
    result = TableReadResult(
        extra_columns=[name for _, name in layout.extra], warnings=parser.warnings
    )
    by_patient: dict[str, list[_Row]] = {}
    for row in rows:
        by_patient.setdefault(row.patient_id, []).append(row)
    # In strict mode a table with errors is not classified: records are built only when
    # no row has a problem.
    build = lenient or not problems
    for patient_id, patient_rows in by_patient.items():
        checker = _PatientChecker(
            patient_id, patient_rows, source, lenient, build, unplaced.get(patient_id, set()),
            check_records,
        )
        record = checker.check()
        problems.extend(checker.problems)
        result.warnings.extend(checker.warnings)
        if record is not None:
            result.records.append(record)
    problems.sort(key=lambda problem: problem.row or 0)
    result.warnings.sort(key=lambda problem: (problem.row is None, problem.row or 0))
    if lenient:
        result.skipped = problems
    elif problems:
        raise InputError(problems)
    return result


class _PatientChecker:
    """The checks across the rows of one patient, then the patient record."""

    def __init__(
        self,
        patient_id: str,
        rows: list[_Row],
        source: str,
        lenient: bool,
        build: bool,
        unplaced_lesions: set[str],
        check_records: bool = True,
    ) -> None:
        self.check_records = check_records
        self.patient_id = patient_id
        self.build = build
        self.unplaced_lesions = unplaced_lesions
        self.rows = sorted(rows, key=lambda row: (row.timepoint, row.row))
        self.source = source
        self.lenient = lenient
        self.problems: list[Problem] = []
        self.warnings: list[Problem] = []

    def error(self, row: _Row, message: str, column: str | None = None) -> None:
        self.problems.append(Problem(self.source, message, row.row, column))

    def warn(self, row: _Row | None, message: str, column: str | None = None) -> None:
        self.warnings.append(
            Problem(self.source, message, None if row is None else row.row, column)
        )

    def check(self) -> PatientRecord | None:
        """Run every check; return the record (None when the patient cannot be built).

        The checks across rows that only a table can break (duplicates, one date per time
        point, one role per lesion) are made here; the rules about the record itself are
        `napari_recist.checks.check_record`'s, mapped back to rows and columns.
        """
        rows = self._check_rows_against_each_other(self.rows)
        buildable = [row for row in rows if row.clean]
        kept = {id(row) for row in buildable}
        refused = set(self.unplaced_lesions) | {
            row.lesion_id for row in self.rows if id(row) not in kept
        }
        if not self.check_records:
            if not self.build or (self.problems and not self.lenient) or not buildable:
                return None
            return self._build(buildable)
        checked = check_record(self._build(buildable), refused_lesions=refused)
        locate = _RowLocator(buildable or self.rows)
        for issue in checked.errors:
            if issue.consequential and not self.lenient:
                continue  # it follows from rows already reported
            self.problems.append(self._problem(issue, locate))
        self.warnings.extend(self._problem(issue, locate) for issue in checked.warnings)
        if checked.record is None or not self.build or (self.problems and not self.lenient):
            return None
        for row in buildable:
            assessment = checked.record.assessment(row.timepoint)  # type: ignore[arg-type]
            if (
                row.blank and row.timepoint is not None and row.timepoint >= 0
                and assessment is not None and row.lesion_id in assessment.measurements
            ):
                self.warn(
                    row,
                    f"lesion {row.lesion_id} has neither a size nor a state: taken as "
                    "not-evaluated (give a size, or a state such as present or absent)",
                    "state",
                )
        return checked.record

    def _problem(self, issue: RecordIssue, locate: _RowLocator) -> Problem:
        """A record issue as a table problem: the row and column it comes from."""
        row = locate.row(issue)
        message = issue.message
        if issue.related_timepoint is not None and issue.timepoint is not None:
            message += (
                f" (timepoint {issue.timepoint} at row {locate.first_of_timepoint(issue.timepoint)}"
                f", timepoint {issue.related_timepoint} at row "
                f"{locate.first_of_timepoint(issue.related_timepoint)})"
            )
        if self.lenient and issue.left_out:
            message += f": its {issue.left_out} row(s) are skipped"
        elif self.lenient and issue.lenient_note:
            message += f": {issue.lenient_note}"
        return Problem(self.source, message, row, issue.field)

    def _check_rows_against_each_other(self, rows: list[_Row]) -> list[_Row]:
        """One date per time point, one row per lesion per time point, a role per lesion."""
        timepoint_dates: dict[int, _Row] = {}
        seen: dict[tuple[int, str], _Row] = {}
        first_of_lesion: dict[str, _Row] = {}
        first_start: _Row | None = None
        kept = []
        for row in rows:
            assert row.timepoint is not None
            key = (row.timepoint, row.lesion_id)
            if key in seen:
                self.error(
                    row,
                    f"duplicate row: lesion {row.lesion_id} at timepoint {row.timepoint} is "
                    f"already at row {seen[key].row}",
                    "lesion_id",
                )
                continue
            seen[key] = row
            if row.date is not None:
                first_dated = timepoint_dates.setdefault(row.timepoint, row)
                if first_dated.date != row.date:
                    self.error(
                        row,
                        f"timepoint {row.timepoint} has date {first_dated.date} at row "
                        f"{first_dated.row} but {row.date} here: one date per timepoint",
                        "date",
                    )
                    continue
            if row.treatment_start is not None:
                # lesion-table.md (amended 2026-12): one treatment start per patient.
                if first_start is None:
                    first_start = row
                elif first_start.treatment_start != row.treatment_start:
                    self.error(
                        row,
                        f"patient {self.patient_id} has treatment_start "
                        f"{first_start.treatment_start} at row {first_start.row} but "
                        f"{row.treatment_start} here: one date per patient",
                        TREATMENT_START_COLUMN,
                    )
                    continue
            first = first_of_lesion.setdefault(row.lesion_id, row)
            if first is not row:
                if first.part_of != row.part_of:
                    # lesion-table.md (amended 2026-12): part_of on every row of a fragment.
                    self.error(
                        row,
                        f"lesion {row.lesion_id} is part_of {_text(first.part_of or '')} at row "
                        f"{first.row} but {_text(row.part_of or '')} here: give the same "
                        "part_of on every row of a fragment",
                        PART_OF_COLUMN,
                    )
                    continue
                if first.role is not row.role:
                    self.error(
                        row,
                        f"lesion {row.lesion_id} is {first.role} at row {first.row} but "
                        f"{row.role} here: a lesion keeps its role (RECIST 1.1 section 3.3)",
                        "role",
                    )
                    continue
                if (
                    first.site != row.site
                    or first.nodal != row.nodal
                    or first.thoracic != row.thoracic
                    or first.tracking_uid != row.tracking_uid
                ):
                    self._warn_attribute_change(first, row)
            kept.append(row)
        return kept

    def _warn_attribute_change(self, first: _Row, row: _Row) -> None:
        for column, before, now in (
            ("site", first.site, row.site),
            ("nodal", first.nodal, row.nodal),
            ("thoracic", first.thoracic, row.thoracic),
            (TRACKING_UID_COLUMN, first.tracking_uid, row.tracking_uid),
        ):
            if before is None or now is None or before == now:
                continue
            self.warn(
                row,
                f"lesion {row.lesion_id} has {column} {_text(before)} at row {first.row} but "
                f"{_text(now)} here: the first is kept",
                column,
            )

    def _build(self, rows: list[_Row]) -> PatientRecord:
        lesions: dict[str, Lesion] = {}
        assessments: dict[int, Assessment] = {}
        treatment_start = next(
            (row.treatment_start for row in rows if row.treatment_start is not None), None
        )
        for row in rows:
            assert row.timepoint is not None and row.role is not None
            assert row.date is not None and row.state is not None and row.site is not None
            if row.lesion_id not in lesions:
                lesions[row.lesion_id] = Lesion(
                    lesion_id=row.lesion_id,
                    role=row.role,
                    site=row.site,
                    nodal=bool(row.nodal),
                    thoracic=row.thoracic,
                    tracking_uid=row.tracking_uid,
                    part_of=row.part_of,
                )
            assessment = assessments.get(row.timepoint)
            if assessment is None:
                assessment = assessments[row.timepoint] = Assessment(row.timepoint, row.date)
            assessment.measurements[row.lesion_id] = Measurement(
                lesion_id=row.lesion_id,
                state=row.state,
                long_axis_mm=row.long_mm,
                short_axis_mm=row.short_mm,
                extra=row.extra,
                coalesced_into=row.coalesced_into,
            )
        return PatientRecord(
            self.patient_id, lesions, list(assessments.values()), treatment_start=treatment_start
        )



class _RowLocator:
    """Row numbers of a patient's rows by lesion and time point."""

    def __init__(self, rows: Sequence[_Row]) -> None:
        self.rows = rows
        self.by_key: dict[tuple[int | None, str], int] = {}
        self.by_lesion: dict[str, int] = {}
        self.by_timepoint: dict[int | None, int] = {}
        for row in rows:
            self.by_key.setdefault((row.timepoint, row.lesion_id), row.row)
            self.by_lesion.setdefault(row.lesion_id, row.row)
            self.by_timepoint.setdefault(row.timepoint, row.row)

    def first_of_timepoint(self, timepoint: int) -> int | None:
        return self.by_timepoint.get(timepoint)

    def row(self, issue: RecordIssue) -> int | None:
        """The row an issue is about: its lesion at its time point, else the nearest."""
        if issue.lesion_id is not None:
            found = self.by_key.get((issue.timepoint, issue.lesion_id))
            if found is None:
                found = self.by_lesion.get(issue.lesion_id)
            return found
        if issue.timepoint is not None and issue.timepoint in self.by_timepoint:
            return self.by_timepoint[issue.timepoint]
        if issue.code == "no-baseline" and self.rows:
            return self.rows[0].row
        return None


def _text(value: object) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    return f"'{value}'"


# --------------------------------------------------------------------------------------------
# Writing
# --------------------------------------------------------------------------------------------


def format_size(value: float | None) -> str:
    """Write a size in mm without float noise: 12.3, not 12.300000000000001; 12, not 12.0.

    Parameters
    ----------
    value
        Millimetres, or None for an empty cell.

    Returns
    -------
    str
        The shortest text that reads back as the size rounded to `SIZE_DECIMALS` decimals.
    """
    if value is None:
        return ""
    rounded = round(float(value), SIZE_DECIMALS)
    if rounded == 0:
        return "0"  # also for -0.0
    if rounded.is_integer() and abs(rounded) < 1e15:
        return str(int(rounded))
    text = repr(rounded)
    if "e" in text:
        text = f"{rounded:.{SIZE_DECIMALS}f}".rstrip("0").rstrip(".")
    return text


def records_to_rows(records: Iterable[PatientRecord]) -> list[dict[str, str]]:
    """Turn patient records into lesion table rows.

    Parameters
    ----------
    records
        Patients; each assessment's measurements become one row each, assessments in time
        point order. A lesion counted as not evaluated is written with that state, so reading
        the rows back gives equal records.

    Returns
    -------
    list of dict
        One dict per row with every column: the spec's columns, `tracking_uid` when any
        lesion has one, then the extra columns of all measurements (empty where a
        measurement has none).

    Raises
    ------
    ValueError
        If a measurement names a lesion the record does not have, or an extra column has
        the name of a column of the format.
    """
    with paused_garbage_collection():
        columns, lines = _table_lines(records)
        return [dict(zip(columns, line, strict=True)) for line in lines]


def write_table(
    records: Iterable[PatientRecord],
    path: str | os.PathLike[str],
    *,
    extra_columns: Sequence[str] | None = None,
) -> None:
    """Write patient records as a lesion table, atomically.

    Parameters
    ----------
    records
        Patients to write, in order.
    path
        The CSV file (UTF-8, comma separated); replaced only once the new table is
        completely written.
    extra_columns
        Extra columns to write after the spec's columns, in this order (e.g.
        `TableReadResult.extra_columns`, so that an empty extra column survives). Extra
        columns found in the measurements but not listed are appended after them.

    Raises
    ------
    ValueError
        See `records_to_rows`.
    OSError
        If the folder is not writable; the original file is then untouched.
    """
    with paused_garbage_collection():
        columns, lines = _table_lines(records, extra_columns)
    with atomic_open(path, "w", newline="") as handle:
        writer = csv.writer(handle, lineterminator="\n")
        # No cell may run as a spreadsheet formula (`napari_recist.io.spreadsheet`).
        writer.writerow([neutralise(name) for name in columns])
        writer.writerows([neutralise(cell) for cell in line] for line in lines)


_ROLE_TEXT = {role: role.value for role in Role}
_STATE_TEXT = {state: state.value for state in LesionState}
_BOOLEAN_TEXT = {True: "true", False: "false", None: ""}


def _table_lines(
    records: Iterable[PatientRecord], extra_columns: Sequence[str] | None = None
) -> tuple[list[str], list[list[str]]]:
    """Return the columns and the rows (as lists in column order) of a lesion table."""
    records = list(records)
    with_uid = any(
        lesion.tracking_uid for record in records for lesion in record.lesions.values()
    )
    links = [
        column
        for column, used in (
            (PART_OF_COLUMN, any(
                lesion.part_of for record in records for lesion in record.lesions.values()
            )),
            (COALESCED_INTO_COLUMN, any(
                m.coalesced_into for record in records for a in record.assessments
                for m in a.measurements.values()
            )),
            (TREATMENT_START_COLUMN, any(record.treatment_start for record in records)),
        )
        if used
    ]
    columns = [*SPEC_COLUMNS, *links]
    if with_uid:
        columns.append(TRACKING_UID_COLUMN)
    extra_names: dict[str, None] = {}  # ordered set

    def add_extra(name: str) -> None:
        if _normalise_column(name) in KNOWN_COLUMNS:
            raise ValueError(f"extra column '{name}' is a column of the format")
        extra_names[name] = None

    for name in extra_columns or ():
        add_extra(name)
    lines: list[tuple[list[str], Mapping[str, str]]] = []
    for record in records:
        lesion_cells: dict[str, list[str]] = {}  # role .. nodal, thoracic (and uid)
        for lesion_id, lesion in record.lesions.items():
            cells = [
                _ROLE_TEXT[lesion.role],
                lesion.site,
                _BOOLEAN_TEXT[bool(lesion.nodal)],
                _BOOLEAN_TEXT[lesion.thoracic],
            ]
            if with_uid:
                cells.append(lesion.tracking_uid or "")
            lesion_cells[lesion_id] = cells
        patient_id = record.patient_id
        for assessment in sorted(record.assessments, key=lambda a: a.timepoint):
            timepoint = str(assessment.timepoint)
            date = assessment.date
            if isinstance(date, dt.datetime):
                date = date.date()  # the table holds the scan's date only
            date_text = date.isoformat()
            for lesion_id, measurement in assessment.measurements.items():
                cells = lesion_cells.get(lesion_id)
                if cells is None:
                    raise ValueError(
                        f"patient {patient_id}: timepoint {timepoint} measures lesion "
                        f"{lesion_id}, which the record does not have"
                    )
                line = [
                    patient_id,
                    timepoint,
                    date_text,
                    lesion_id,
                    cells[0],
                    cells[1],
                    cells[2],
                    format_size(measurement.long_axis_mm),
                    format_size(measurement.short_axis_mm),
                    "" if measurement.coalesced_into else _STATE_TEXT[measurement.state],
                    cells[3],
                ]
                for column in links:
                    if column == PART_OF_COLUMN:
                        line.append(record.lesions[lesion_id].part_of or "")
                    elif column == COALESCED_INTO_COLUMN:
                        line.append(measurement.coalesced_into or "")
                    else:
                        start = record.treatment_start
                        line.append(start.isoformat() if start else "")
                if with_uid:
                    line.append(cells[4])
                extra = measurement.extra
                if extra:
                    for name in extra:
                        if name not in extra_names:
                            add_extra(name)
                lines.append((line, extra))
    if extra_names:
        for line, extra in lines:
            line.extend([extra.get(name, "") if extra else "" for name in extra_names])
    return columns + list(extra_names), [line for line, _ in lines]
