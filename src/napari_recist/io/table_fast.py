"""The lesion table cut into columns by numpy and checked column-wise (issue 12).

The fast path of `napari_recist.io.table.read_table` for a trial-size table. numpy finds the
delimiters and line ends of the file and factorises each column (a cell is read as 64-bit
words; each distinct text becomes a Python string once); each distinct text is parsed by the
row-wise reader's own functions (`table._parse_int`, `table._parse_date`, ...), and the
checks are made on arrays of codes:

- a row the row-wise reader would have a word for (a bad cell, an empty state without a size,
  a site that sounds like a node, a coalesced row, an empty patient id, a blank row), or a
  patient whose rows disagree with each other (a duplicate, two dates at a time point, a role,
  site or part_of that changes, two treatment starts), sends that patient to the row-wise
  reader: its rows are rebuilt from the cell texts, with their spreadsheet row numbers, and
  read by `table._Parser` and `table._PatientChecker`, so the problems are that reader's,
  word for word, and lenient mode goes on as it does;
- a patient whose rows pass a conservative column-wise test of the record rules (no
  pre-baseline scan, no fragment, every lesion where `napari_recist.checks.check_record` wants
  it, dates in order, sizes consistent with states) is built directly: `check_record` would
  find nothing and return an equal record;
- any other patient is built and given to `check_record`; with an error it goes to the
  row-wise reader too.

Only files whose lines are their CSV records one to one take this path: no double quote, no
NUL, no bare carriage return or other line break of `str.splitlines`, every non-empty line
with the header's number of fields, no extra or unnamed column. On anything else `read_fast`
returns None and `read_table` goes on with its other readers. tests/io/test_table_fast.py
checks both readers give the same records (every field, in order) and the same problems.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import numpy as np

from napari_recist.checks import check_record
from napari_recist.errors import InputError, Problem
from napari_recist.io.spreadsheet import restore
from napari_recist.model import (
    KNOWN_SITES,
    Assessment,
    Lesion,
    LesionState,
    Measurement,
    PatientRecord,
    Role,
)

_BOM = b"\xef\xbb\xbf"
_LYMPH_NODE = "lymph node"
_STATES = list(LesionState)
_STATE_CODE = {state: k for k, state in enumerate(_STATES)}
_ROLE_LIST = list(Role)
_ROLE_CODE = {role: k for k, role in enumerate(_ROLE_LIST)}


def read_fast(data: bytes, text: str, source: str, lenient: bool) -> Any:
    """Read a lesion table column-wise with numpy; None when another reader must.

    Parameters
    ----------
    data
        The file's bytes (UTF-8, already checked by `table._decode`).
    text
        The same, decoded (for the delimiter).
    source
        The file name for problems.
    lenient
        As for `read_table`.

    Returns
    -------
    TableReadResult or None
        What `read_table`'s row-wise reader gives for this file; None when this path does
        not take the file.

    Raises
    ------
    InputError
        As the row-wise reader raises, with the same problems.
    """
    from napari_recist.io import table

    plain = _plain_table(data, text)
    if plain is None:
        return None
    data, delimiter, offset, header_row, header, crlf = plain
    layout = table._layout(header, source, header_row)  # raises as the row-wise reader does
    if layout.extra or layout.unnamed:
        return None
    split = _split_fields(data, offset, ord(delimiter), layout.width, header_row, crlf)
    if split is None:
        return None
    columns, lines = split
    return _Reader(layout, columns, lines, source, lenient).read()


def _plain_table(data: bytes, text: str) -> Any:
    """The layout of a file whose lines are its CSV records; None for any other file.

    Returns the data without BOM, the delimiter, the offset of the first data line, the
    header's row number and cells, and whether lines end with CRLF.
    """
    from napari_recist.io import table

    if data.startswith(_BOM):
        data = data[len(_BOM):]
    if any(mark in data for mark in _NOT_PLAIN_BYTES) or any(
        lead in data and mark in data for lead, mark in _NOT_PLAIN_SEQUENCES
    ):
        return None
    crlf = b"\r" in data
    if crlf:
        array = np.frombuffer(data, dtype=np.uint8)
        returns = np.flatnonzero(array == 13)
        if returns[-1] == len(array) - 1 or np.any(array[returns + 1] != 10):
            return None  # a bare carriage return: the csv module ends a line there
    # The line the delimiter is sniffed from, as `table._csv_reader` takes it (no copy).
    head = text[:65536].lstrip("\r\n")
    if not head:
        return None  # only line ends at the start: the row-wise reader looks further
    begin = min(len(text), 65536) - len(head)
    end = text.find("\n", begin)
    first_line = text[begin:] if end < 0 else text[begin:end]
    delimiter = table._sniff_delimiter(first_line)
    # The header: the first line with a non-blank cell (csv records are lines here).
    offset, header_row, header = 0, 0, None
    while offset < len(data):
        end = data.find(b"\n", offset)
        end = len(data) if end < 0 else end + 1
        header_row += 1
        cells = data[offset:end].decode("utf-8").rstrip("\r\n").split(delimiter)
        offset = end
        if any(cell.strip() for cell in cells):
            header = cells
            break
    if header is None:
        return None
    return data, delimiter, offset, header_row, header, crlf


def split_by_patient(data: bytes, text: str, parts: int) -> list[tuple[int, int]] | None:
    """Cut a plain lesion table into about `parts` runs of whole patients' rows.

    A cut falls only at the start of a line whose patient id differs from the line before,
    so a patient whose rows are contiguous lies in one run. ``data[:start of the first run]``
    (the lines up to the header) followed by ``data[start:stop]`` of a run is a table of
    its own (`table_part`). Whether every patient's rows were contiguous is for the caller
    to check on what the parts read (each patient id in one part only): a patient split over
    two runs is read as two.

    Parameters
    ----------
    data, text
        The file's bytes and text, as for `read_fast` (checked by `table._decode`).
    parts
        How many runs to aim for (>= 2).

    Returns
    -------
    list of (int, int) or None
        ``(start, stop)`` byte offsets of the runs in file order (at least two), or None
        when the file is not one this module reads (`read_fast` would return None), names
        no single patient_id column, or has too few patients to cut.
    """
    from napari_recist.io import table

    plain = _plain_table(data, text)
    if plain is None:
        return None
    body, delimiter, offset, _, header, _ = plain
    names = [table._normalise_column(cell) for cell in header]
    if names.count("patient_id") != 1:
        return None  # read_fast reports it (or declines) on the whole file
    column = names.index("patient_id")
    mark = delimiter.encode("utf-8")
    size = len(body) - offset
    cuts = [offset]
    for k in range(1, parts):
        # The start of the line after the k-th share of the bytes, then on to the first line
        # whose patient differs from the line before it.
        line = body.find(b"\n", max(offset + size * k // parts, cuts[-1]) - 1) + 1
        if line <= cuts[-1]:
            break
        # A line with no patient id (a blank line) never starts a run: the patient before it
        # may go on after it.
        previous, back = b"", line
        while not previous and back > offset:
            back = body.rfind(b"\n", 0, back - 1) + 1
            previous = _cell(body, back, mark, column)
        while 0 < line < len(body) and _cell(body, line, mark, column) in (previous, b""):
            line = body.find(b"\n", line) + 1
        if line <= cuts[-1] or line >= len(body):
            break
        cuts.append(line)
    if len(cuts) < 2:
        return None
    cuts.append(len(body))
    bom = len(data) - len(body)  # offsets in `data`, which may start with a BOM
    return [(start + bom, stop + bom) for start, stop in zip(cuts, cuts[1:], strict=False)]


def table_part(data: bytes, runs: list[tuple[int, int]], index: int) -> bytes:
    """The table of the index-th run of `split_by_patient`: the header lines, then the run."""
    return data[: runs[0][0]] + data[runs[index][0] : runs[index][1]]


def _cell(data: bytes, line: int, delimiter: bytes, column: int) -> bytes:
    """The column-th cell of the line starting at `line` (stripped; b"" past the last)."""
    end = data.find(b"\n", line)
    end = len(data) if end < 0 else end
    cells = data[line:end].split(delimiter, column + 1)
    return cells[column].strip() if column < len(cells) else b""


# What this path leaves to the csv module: quotes, NUL, and the line breaks of
# `str.splitlines` other than CR/LF (a table holding one is read through `io.StringIO`).
_NOT_PLAIN_BYTES = (b'"', b"\x00", b"\x0b", b"\x0c", b"\x1c", b"\x1d", b"\x1e")
_NOT_PLAIN_SEQUENCES = (
    (b"\xc2", b"\xc2\x85"), (b"\xe2", b"\xe2\x80\xa8"), (b"\xe2", b"\xe2\x80\xa9")
)


def _split_fields(
    data: bytes, offset: int, delimiter: int, width: int, header_row: int, crlf: bool
) -> Any:
    """Cut the data lines into fields: ((codes, distinct texts) per column, row numbers).

    None when a non-empty line does not have `width` fields or is too long for a cell.
    """
    body = np.frombuffer(data, dtype=np.uint8)[offset:]
    if not len(body):
        return None
    if body[-1] != 10:
        body = np.append(body, np.uint8(10))
    is_mark = body == delimiter
    is_mark |= body == 10
    marks = np.flatnonzero(is_mark)
    del is_mark
    ends_of_lines = marks[body[marks] == 10]
    starts_of_lines = np.empty_like(ends_of_lines)
    starts_of_lines[0] = 0
    starts_of_lines[1:] = ends_of_lines[:-1] + 1
    text_ends = ends_of_lines
    if crlf:
        text_ends = ends_of_lines - (body[np.maximum(ends_of_lines - 1, 0)] == 13)
        text_ends = np.maximum(text_ends, starts_of_lines)
    filled = text_ends > starts_of_lines
    lines = header_row + 1 + np.flatnonzero(filled)
    n = len(lines)
    if not n:
        return None
    if not filled.all():  # empty lines: counted as rows, read without them
        keep = np.repeat(filled, ends_of_lines - starts_of_lines + 1)
        inner = _split_fields(body[keep].tobytes(), 0, delimiter, width, 0, crlf)
        if inner is None:
            return None
        columns, own = inner
        return (columns, lines) if len(own) == n else None
    if int((text_ends - starts_of_lines).max()) >= 4 * 1024 * 1024:
        return None  # near the csv module's cell size limit: its reader decides
    if len(marks) != n * width:
        return None
    marks = marks.reshape(n, width)
    if np.any(body[marks[:, -1]] != 10):
        # A line with a wrong number of fields (with n line ends among n x width marks, each
        # row of marks ending at a line end means every line has width - 1 delimiters).
        return None
    # Element i of `at` is the 64-bit word starting at byte i (an unaligned strided view).
    padded = np.zeros(len(body) + 9, dtype=np.uint8)
    padded[: len(body)] = body
    at = np.ndarray((len(body) + 1,), dtype="<u8", buffer=padded, strides=(1,))
    columns = []
    for j in range(width):  # one column at a time: no (rows x columns) arrays but the marks
        starts = starts_of_lines if j == 0 else marks[:, j - 1] + 1
        ends = text_ends if j == width - 1 else marks[:, j]
        columns.append(_factorise_bytes(body, at, starts, ends))
    return columns, lines


def _factorise_bytes(
    body: np.ndarray, at: np.ndarray, starts: np.ndarray, ends: np.ndarray
) -> tuple[np.ndarray, list[str]]:
    """Codes of the cells body[starts:ends] and the distinct cells' texts.

    A cell is read as little-endian 64-bit words (zero-padded: the file holds no NUL), each
    word factorised, the codes of a longer cell combined word by word.
    """
    lengths = ends - starts
    widest = int(lengths.max(initial=0))
    n = len(starts)
    if widest == 0:
        return np.zeros(n, dtype=np.int64), [""]
    keep = np.array([(1 << (8 * k)) - 1 for k in range(8)] + [(1 << 64) - 1], dtype=np.uint64)
    code: np.ndarray | None = None
    size = 0
    for word_start in range(0, widest, 8):
        rest = np.clip(lengths - word_start, 0, 8)
        words = at[np.minimum(starts + word_start, len(body))] & keep[rest]
        inverse, count = _factorise_words(words)
        if code is None:
            code, size = inverse, count
        else:
            code, size = _dense_codes(code * count + inverse, size * count)
    assert code is not None
    representative = np.empty(size, dtype=np.int64)
    representative[code] = np.arange(n)
    texts = [
        body[start:end].tobytes().decode("utf-8")
        for start, end in zip(starts[representative].tolist(), ends[representative].tolist(),
                              strict=True)
    ]
    return code, texts


def _factorise_words(words: np.ndarray) -> tuple[np.ndarray, int]:
    """Codes 0..k-1 of 64-bit words and k; runs of equal words (a patient's rows) are cheap."""
    changes = np.flatnonzero(words[1:] != words[:-1]) + 1
    if len(changes) * 4 < len(words):
        run_starts = np.concatenate(([0], changes))
        run_values = words[run_starts]
        distinct = np.unique(run_values)
        run_codes = np.searchsorted(distinct, run_values)
        lengths = np.diff(np.append(run_starts, len(words)))
        return np.repeat(run_codes, lengths), len(distinct)
    distinct = np.unique(words)
    return np.searchsorted(distinct, words), len(distinct)


def _dense_codes(code: np.ndarray, span: int) -> tuple[np.ndarray, int]:
    """Renumber codes in 0..span-1 to 0..k-1 (k distinct)."""
    if span <= 4 * len(code) + 1024:
        present = np.zeros(span, dtype=bool)
        present[code] = True
        renumber = np.cumsum(present) - 1
        return renumber[code], int(present.sum())
    distinct = np.unique(code)
    return np.searchsorted(distinct, code), len(distinct)


def _factorise(values: Sequence[Any]) -> tuple[list[Any], np.ndarray]:
    """Distinct values (first-seen order) and the code of each value."""
    index: dict[Any, int] = {}
    codes = np.fromiter((index.setdefault(v, len(index)) for v in values), dtype=np.int64,
                        count=len(values))
    return list(index), codes


class _Reader:
    """One table: parse the distinct texts, check on codes, build or hand patients over."""

    def __init__(
        self,
        layout: Any,
        columns: list[tuple[np.ndarray, list[str]]],
        lines: np.ndarray,
        source: str,
        lenient: bool,
    ) -> None:
        self.layout = layout
        self.columns = columns
        self.lines = lines
        self.source = source
        self.lenient = lenient
        self.n = len(lines)

    # -- columns -----------------------------------------------------------------------------
    def texts(self, name: str) -> tuple[np.ndarray, list[str]] | None:
        """Codes and distinct stripped texts of a column (restored as the row-wise reader)."""
        position = self.layout.index.get(name, -1)
        if position < 0:
            return None
        codes, categories = self.columns[position]
        return codes, [restore(value).strip() for value in categories]

    def parsed(
        self, name: str, parse: Callable[[str], Any], absent: Any = None
    ) -> tuple[np.ndarray, list[Any]]:
        """Codes into distinct parsed values (`_BADV` for a cell the fast path does not take)."""
        found = self.texts(name)
        if found is None:
            return np.zeros(self.n, dtype=np.int64), [absent]
        codes, texts = found
        return codes, [parse(text) for text in texts]

    def read(self) -> Any:
        from napari_recist.io import table

        n = self.n
        suspect_row = np.zeros(n, dtype=bool)

        def bad_rows(codes: np.ndarray, values: list[Any]) -> np.ndarray:
            flags = np.fromiter((value is _BADV for value in values), dtype=bool,
                                count=len(values))
            return flags[codes]

        # Patient ids: grouped by their text as the row-wise reader reads it.
        codes, texts = self.texts("patient_id")  # type: ignore[misc]
        patient_names, name_code = _factorise(texts)
        patient = name_code[codes]
        empty_name = patient_names.index("") if "" in patient_names else -1
        suspect_row |= patient == empty_name  # blank rows and rows without a patient

        lesion_codes, lesion_texts = self.texts("lesion_id")  # type: ignore[misc]
        lesion_names, lesion_name_code = _factorise(lesion_texts)
        lesion = lesion_name_code[lesion_codes]
        if "" in lesion_names:
            suspect_row |= lesion == lesion_names.index("")

        tp_codes, tp_values = self.parsed("timepoint", _timepoint)
        suspect_row |= bad_rows(tp_codes, tp_values)
        tp_ints = np.array([0 if v is _BADV else v for v in tp_values], dtype=np.int64)
        timepoint = tp_ints[tp_codes]

        date_codes, date_values = self.parsed("date", _date)
        suspect_row |= bad_rows(date_codes, date_values)
        date_ord = np.array([0 if v is _BADV else v.toordinal() for v in date_values],
                            dtype=np.int64)[date_codes]

        role_codes, role_values = self.parsed("role", _role)
        suspect_row |= bad_rows(role_codes, role_values)
        role = np.array([-1 if v is _BADV else _ROLE_CODE[v] for v in role_values],
                        dtype=np.int64)[role_codes]

        site_codes, site_values = self.parsed("site", _site)
        suspect_row |= bad_rows(site_codes, site_values)
        site_names, site_name_code = _factorise(site_values)
        site = site_name_code[site_codes]

        nodal_codes, nodal_values = self.parsed("nodal", _boolean)
        suspect_row |= bad_rows(nodal_codes, nodal_values)
        nodal_given = np.array([{None: -1, True: 1, False: 0}.get(v, -2) for v in nodal_values],
                               dtype=np.int64)[nodal_codes]
        lymph = np.array([value == _LYMPH_NODE for value in site_names], dtype=bool)[site]
        nodal = np.where(nodal_given < 0, lymph, nodal_given == 1)

        thoracic_codes, thoracic_values = self.parsed("thoracic", _boolean)
        suspect_row |= bad_rows(thoracic_codes, thoracic_values)

        long_codes, long_values = self.parsed("long_axis_mm", _size)
        short_codes, short_values = self.parsed("short_axis_mm", _size)
        suspect_row |= bad_rows(long_codes, long_values) | bad_rows(short_codes, short_values)
        long_mm = np.array([np.nan if v is None or v is _BADV else v for v in long_values],
                           dtype=float)[long_codes]
        short_mm = np.array([np.nan if v is None or v is _BADV else v for v in short_values],
                            dtype=float)[short_codes]

        state_codes, state_values = self.parsed("state", _state)
        suspect_row |= bad_rows(state_codes, state_values)
        state = np.array([-1 if v is None or v is _BADV else _STATE_CODE[v] for v in state_values],
                         dtype=np.int64)[state_codes]
        unstated = state == -1
        sized = ~(np.isnan(long_mm) & np.isnan(short_mm))
        suspect_row |= unstated & ~sized  # neither a size nor a state: the reader warns
        state = np.where(unstated, _STATE_CODE[LesionState.MEASURED], state)

        coalesced = self.texts("coalesced_into")
        if coalesced is not None:
            codes_c, texts_c = coalesced
            suspect_row |= np.array([bool(t) for t in texts_c], dtype=bool)[codes_c]

        uid_codes, uid_values = self.parsed("tracking_uid", _optional)
        part_codes, part_values = self.parsed("part_of", _optional)
        start_codes, start_values = self.parsed("treatment_start", _optional_date)
        suspect_row |= bad_rows(start_codes, start_values)

        # Rows sorted by patient, time point and row (file order within a time point), as
        # `table._PatientChecker` sorts them; one group per assessment.
        n_patients = len(patient_names)
        t_low = int(timepoint.min())
        t_size = int(timepoint.max()) - t_low + 1
        pt = patient * t_size + (timepoint - t_low)
        order = np.argsort(pt, kind="stable")
        pt_sorted = pt[order]
        group_first = np.concatenate(([True], pt_sorted[1:] != pt_sorted[:-1]))
        group_start = np.flatnonzero(group_first)
        group_patient = pt_sorted[group_start] // t_size
        group_tp = pt_sorted[group_start] % t_size + t_low
        patient_first = np.concatenate(([True], group_patient[1:] != group_patient[:-1]))

        # Patients the row-wise reader reads: a row it has a word for, or rows that disagree.
        suspect = np.zeros(n_patients, dtype=bool)
        suspect[patient[suspect_row]] = True
        cell = pt * (len(lesion_names) + 1) + lesion
        ordered = np.sort(cell)
        if np.any(ordered[1:] == ordered[:-1]):
            suspect[_duplicated(cell, patient)] = True  # a duplicate row
        del ordered, cell
        date_sorted = date_ord[order]
        same_group = ~group_first[1:]
        suspect[patient[order[1:][same_group & (date_sorted[1:] != date_sorted[:-1])]]] = True
        lesion_key = _dense(patient * (len(lesion_names) + 1) + lesion)
        attributes = _combine([role, part_codes, site, nodal_given, nodal.astype(np.int64),
                               thoracic_codes, uid_codes])
        suspect[patient[_differs_from_first(lesion_key, attributes)]] = True
        started = np.array([v is not None and v is not _BADV for v in start_values],
                           dtype=bool)[start_codes]
        start_of = np.full(n_patients, -1, dtype=np.int64)
        if started.any():
            changed = _differs_from_first(patient[started], start_codes[started])
            suspect[patient[started][changed]] = True
            # One start per patient by now (else suspect): any of its rows gives it.
            start_of[patient[started]] = start_codes[started]

        # Patients check_record would find nothing in (else it is asked).
        measured, absent = _STATE_CODE[LesionState.MEASURED], _STATE_CODE[LesionState.ABSENT]
        target, new = _ROLE_CODE[Role.TARGET], _ROLE_CODE[Role.NEW]
        no_long, no_short = np.isnan(long_mm), np.isnan(short_mm)
        row_rule = (
            (~no_long & ~no_short & (short_mm > long_mm))
            | ((state == measured) & np.where(nodal, no_short, no_long))
            | ((state == absent) & ((np.nan_to_num(long_mm) > 0) | (np.nan_to_num(short_mm) > 0)))
            | ((role == target) & ~np.isin(state, _TARGET_STATE_CODES))
            | ((role == new) & (timepoint <= 0))
            | ((role == target) & (timepoint == 0) & (state != measured))
            | (timepoint < 0)
            | (np.array([v is not None for v in part_values], dtype=bool)[part_codes])
        )
        needs_check = np.zeros(n_patients, dtype=bool)
        needs_check[patient[row_rule]] = True
        # Dates strictly increase with the time point; the first time point is the baseline.
        group_date = date_sorted[group_start]
        same_patient = ~patient_first[1:]
        needs_check[group_patient[1:][same_patient & (group_date[1:] <= group_date[:-1])]] = True
        needs_check[group_patient[patient_first][group_tp[patient_first] != 0]] = True
        # Every baseline lesion at every time point, a new lesion at every one from its first
        # (else check_record refuses it or fills it in as not-evaluated, with a warning).
        group_of_row = np.cumsum(group_first) - 1
        first_group_of_patient = np.flatnonzero(patient_first)
        patient_rank = np.cumsum(patient_first) - 1
        rank = group_of_row - first_group_of_patient[patient_rank[group_of_row]]
        n_timepoints = np.diff(np.append(first_group_of_patient, len(group_start)))
        key_sorted = lesion_key[order]
        first_position = _first_index(key_sorted)
        is_first = first_position[key_sorted] == np.arange(n)
        firsts = np.flatnonzero(is_first)
        rows_of_key = np.bincount(key_sorted, minlength=len(first_position))[key_sorted[firsts]]
        first_rank = rank[firsts]
        expected = n_timepoints[patient_rank[group_of_row[firsts]]] - first_rank
        is_new = role[order[firsts]] == new
        broken = (rows_of_key != expected) | (~is_new & (first_rank != 0))
        needs_check[patient[order[firsts[broken]]]] = True

        sorted_rows = _SortedRows(
            order, group_start, group_patient, group_tp, patient_first, firsts, self.lines
        )
        values = _Values(
            patient_names, lesion_names, lesion, tp_ints, tp_codes, date_values, date_codes,
            _ROLE_LIST, role, site_names, site, nodal, thoracic_values, thoracic_codes,
            long_values, long_codes, short_values, short_codes, state, uid_values, uid_codes,
            part_values, part_codes, start_values, start_of,
        )
        first_row = self.lines[_first_index(patient)]
        return self.assemble(table, values, sorted_rows, patient, suspect, needs_check,
                             first_row)

    # -- assembling ----------------------------------------------------------------------------
    def assemble(
        self,
        table: Any,
        v: _Values,
        s: _SortedRows,
        patient: np.ndarray,
        suspect: np.ndarray,
        needs_check: np.ndarray,
        first_row: np.ndarray,
    ) -> Any:
        source, lenient = self.source, self.lenient
        builder = _Builder(v, s)
        wording = table._PatientChecker("", [], source, lenient, True, set())
        built: dict[int, tuple[PatientRecord, list[Problem]]] = {}
        for index, p in enumerate(builder.patients):
            if suspect[p]:
                continue
            record = builder.record(index)
            warnings: list[Problem] = []
            if needs_check[p]:
                checked = check_record(record, refused_lesions=())
                if checked.errors or checked.record is None:
                    suspect[p] = True
                    continue
                if checked.warnings:
                    locate = table._RowLocator(builder.located(index))
                    warnings = [wording._problem(issue, locate) for issue in checked.warnings]
                record = checked.record
            built[p] = (record, warnings)
        # The row-wise reader's part, on the rows of the other patients, in file order.
        problems: list[Problem] = []
        parse_warnings: list[Problem] = []
        late: dict[int, tuple[PatientRecord | None, list[Problem]]] = {}
        handed = np.flatnonzero(suspect[patient])
        if len(handed):
            first_kept, records, ref_problems, parse_warnings = self.row_wise(table, handed)
            problems = ref_problems
            name_index = {name: k for k, name in enumerate(v.patient_names)}
            for name, (row, _, warnings) in first_kept.items():
                p = name_index[name]
                first_row[p] = row
                late[p] = (records.get(name), warnings)
        if problems and not lenient:
            raise InputError(sorted(problems, key=lambda problem: problem.row or 0))
        result = table.TableReadResult(extra_columns=[])
        warnings_all = list(parse_warnings)
        everyone = sorted([*built, *late], key=lambda p: int(first_row[p]))
        for p in everyone:
            record, warnings = built[p] if p in built else late[p]
            if record is not None:
                result.records.append(record)
            warnings_all.extend(warnings)
        if not everyone and not problems:
            raise InputError([Problem(source, "no rows: the table has a header but no data rows")])
        problems.sort(key=lambda problem: problem.row or 0)
        warnings_all.sort(key=lambda problem: (problem.row is None, problem.row or 0))
        result.warnings = warnings_all
        if lenient:
            result.skipped = problems
        return result

    def row_wise(self, table: Any, handed: np.ndarray) -> Any:
        """The row-wise reader on some rows (file order): as `table._check_and_build` does."""
        parser = table._Parser(self.layout, self.source)
        problems: list[Problem] = []
        kept: list[Any] = []
        unplaced: dict[str, set[str]] = {}
        cells_of = [(codes[handed].tolist(), categories) for codes, categories in self.columns]
        numbers = self.lines[handed].tolist()
        lenient = self.lenient
        for k, number in enumerate(numbers):
            cells = [categories[codes[k]] for codes, categories in cells_of]
            if any(cell[:1] == "'" for cell in cells):
                cells = [restore(cell) for cell in cells]
            row = parser.parse(number, cells, problems)
            if row is not None:
                table.place_row(row, lenient, kept, unplaced)
        by_patient: dict[str, list[Any]] = {}
        for row in kept:
            by_patient.setdefault(row.patient_id, []).append(row)
        # Strict mode builds records only when no row has a problem (`_check_and_build`);
        # the fast patients have none.
        build = lenient or not problems
        first_kept: dict[str, tuple[int, Any, list[Problem]]] = {}
        records: dict[str, PatientRecord] = {}
        for name, rows in by_patient.items():
            checker = table._PatientChecker(
                name, rows, self.source, lenient, build, unplaced.get(name, set())
            )
            record = checker.check()
            problems.extend(checker.problems)
            if record is not None:
                records[name] = record
            first_kept[name] = (rows[0].row, record, checker.warnings)
        return first_kept, records, problems, parser.warnings


class _Values:
    """The parsed distinct values and the per-row codes a record is built from."""

    def __init__(self, *values: Any) -> None:
        (self.patient_names, self.lesion_names, self.lesion_code, self.tp_ints, self.tp_codes,
         self.date_values, self.date_codes, self.roles, self.role, self.site_names, self.site,
         self.nodal, self.thoracic_values, self.thoracic_codes, self.long_values,
         self.long_codes, self.short_values, self.short_codes, self.state, self.uid_values,
         self.uid_codes, self.part_values, self.part_codes, self.start_values,
         self.start_of) = values


class _SortedRows:
    """Rows in (patient, time point, row) order, cut into assessments and patients."""

    def __init__(
        self,
        order: np.ndarray,
        group_start: np.ndarray,
        group_patient: np.ndarray,
        group_tp: np.ndarray,
        patient_first: np.ndarray,
        firsts: np.ndarray,
        lines: np.ndarray,
    ) -> None:
        self.order = order
        self.group_start = group_start
        self.group_patient = group_patient
        self.group_tp = group_tp
        self.patient_groups = np.flatnonzero(patient_first)  # first group of each patient
        self.firsts = firsts  # sorted position of each lesion's first row
        self.lines = lines


class _Builder:
    """Build records from the sorted rows, sharing equal lesions and measurements."""

    def __init__(self, v: _Values, s: _SortedRows) -> None:
        self.v = v
        self.s = s
        order = s.order
        n = len(order)
        names = np.array(v.lesion_names, dtype=object)
        self.lesion_id = names[v.lesion_code[order]].tolist()
        # One Measurement per distinct (lesion, state, long, short) codes.
        key = _combine([v.lesion_code, v.state, v.long_codes, v.short_codes])[order]
        distinct, first, inverse = np.unique(key, return_index=True, return_inverse=True)
        objects = np.array([self._measurement(int(order[j])) for j in first.tolist()] + [None],
                           dtype=object)[:-1]
        self.measurement = objects[inverse.reshape(-1)].tolist()
        # One Lesion per distinct attributes, at the first row of each lesion of a patient.
        at_first = order[s.firsts]
        key = _combine([v.lesion_code[at_first], v.role[at_first], v.site[at_first],
                        v.nodal[at_first].astype(np.int64), v.thoracic_codes[at_first],
                        v.uid_codes[at_first], v.part_codes[at_first]])
        distinct, first, inverse = np.unique(key, return_index=True, return_inverse=True)
        objects = np.array([self._lesion(int(at_first[j])) for j in first.tolist()] + [None],
                           dtype=object)[:-1]
        self.first_lesion = objects[inverse.reshape(-1)].tolist()
        self.first_id = names[v.lesion_code[at_first]].tolist()
        groups = s.patient_groups
        self.patients = s.group_patient[groups].tolist()
        self.group_bounds = np.append(s.group_start, n).tolist()
        self.patient_group_bounds = np.append(groups, len(s.group_start)).tolist()
        row_bounds = np.append(s.group_start[groups], n)
        self.lesion_bounds = np.searchsorted(s.firsts, row_bounds).tolist()
        self.group_tp = s.group_tp.tolist()
        dates = np.array(v.date_values + [None], dtype=object)[:-1]
        self.group_date = dates[v.date_codes[order[s.group_start]]].tolist()
        self.assessments: list[Assessment] | None = None

    def _lesion(self, j: int) -> Lesion:
        v = self.v
        return Lesion(
            lesion_id=v.lesion_names[v.lesion_code[j]],
            role=v.roles[v.role[j]],
            site=_kept(v.site_names[v.site[j]], ""),
            nodal=bool(v.nodal[j]),
            thoracic=_kept(v.thoracic_values[v.thoracic_codes[j]]),
            tracking_uid=_kept(v.uid_values[v.uid_codes[j]]),
            part_of=_kept(v.part_values[v.part_codes[j]]),
        )

    def _measurement(self, j: int) -> Measurement:
        from napari_recist.io import table

        v = self.v
        return Measurement(
            lesion_id=v.lesion_names[v.lesion_code[j]],
            state=_STATES[v.state[j]],
            long_axis_mm=_kept(v.long_values[v.long_codes[j]]),
            short_axis_mm=_kept(v.short_values[v.short_codes[j]]),
            extra=table._NO_EXTRA,
        )

    def _assessments(self) -> list[Assessment]:
        """Every assessment of the sorted rows, in order (one comprehension: no loop here)."""
        bounds, ids, measurement = self.group_bounds, self.lesion_id, self.measurement
        measurements = [
            dict(zip(ids[start:stop], measurement[start:stop], strict=True))
            for start, stop in zip(bounds, bounds[1:], strict=False)
        ]
        return list(map(Assessment, self.group_tp, self.group_date, measurements))

    def record(self, index: int) -> PatientRecord:
        """The record of the index-th patient of the sorted rows."""
        v = self.v
        p = self.patients[index]
        first, last = self.patient_group_bounds[index], self.patient_group_bounds[index + 1]
        if self.assessments is None:
            self.assessments = self._assessments()
        assessments = self.assessments[first:last]
        low, high = self.lesion_bounds[index], self.lesion_bounds[index + 1]
        lesions = dict(zip(self.first_id[low:high], self.first_lesion[low:high], strict=True))
        start_code = int(v.start_of[p])
        treatment_start = v.start_values[start_code] if start_code >= 0 else None
        return PatientRecord(v.patient_names[p], lesions, assessments,
                             treatment_start=treatment_start)

    def located(self, index: int) -> list[Any]:
        """Rows for `table._RowLocator`: number, time point and lesion, in sorted order."""
        from napari_recist.io import table

        s = self.s
        first = self.group_bounds[self.patient_group_bounds[index]]
        last = self.group_bounds[self.patient_group_bounds[index + 1]]
        rows = []
        tp = self.v.tp_ints[self.v.tp_codes[s.order[first:last]]].tolist()
        for k in range(first, last):
            row = table._Row(int(s.lines[s.order[k]]))
            row.timepoint = tp[k - first]
            row.lesion_id = self.lesion_id[k]
            rows.append(row)
        return rows


# -- the parsers of one distinct text (the row-wise reader's functions) -----------------------
_BADV: Any = object()


def _kept(value: Any, placeholder: Any = None) -> Any:
    """A parsed cell as a model field takes it: `placeholder` for `_BADV`.

    The builder makes the lesions and measurements of every distinct row at once, those of a
    suspect patient's rows too; such a patient is read by the row-wise reader, which names the
    bad cell, and the object made here is never used. The model's fields are typed (compiled
    with the engine, setup.py): a float field takes no marker object.
    """
    return placeholder if value is _BADV else value


def _timepoint(text: str) -> Any:
    from napari_recist.io import table

    number = table._parse_int(text)
    if number is None or not table.timepoint_in_range(number):
        return _BADV  # the row-wise reader names what is wrong
    return number


def _date(text: str) -> Any:
    from napari_recist.io import table

    parsed = table._parse_date(text)
    return _BADV if isinstance(parsed, str) else parsed


def _optional_date(text: str) -> Any:
    return None if not text else _date(text)


def _role(text: str) -> Any:
    from napari_recist.io import table

    found = table._ROLES.get(table._normalise_word(text))
    return _BADV if found is None else found


def _site(text: str) -> Any:
    from napari_recist.io import table

    parsed = table._parse_site(text)
    if not parsed:
        return _BADV
    if parsed not in KNOWN_SITES and "node" in parsed.lower():
        return _BADV  # the row-wise reader may warn ("sounds like a lymph node")
    return parsed


def _boolean(text: str) -> Any:
    from napari_recist.io import table

    if not text:
        return None
    found = table._BOOLEANS.get(text.lower())
    return _BADV if found is None else found


def _size(text: str) -> Any:
    from napari_recist.io import table

    if not text:
        return None
    parsed, error = table._parse_size(text)
    return _BADV if error else parsed


def _state(text: str) -> Any:
    from napari_recist.io import table

    if not text:
        return None  # the default depends on the sizes of the row
    found = table._STATES.get(table._normalise_word(text))
    return _BADV if found is None else found


def _optional(text: str) -> Any:
    return text or None


_TARGET_STATE_CODES = np.array(
    [_STATE_CODE[s] for s in (LesionState.MEASURED, LesionState.TOO_SMALL, LesionState.ABSENT,
                              LesionState.NOT_EVALUATED)]
)


# -- array helpers ----------------------------------------------------------------------------
def _combine(parts: list[np.ndarray]) -> np.ndarray:
    """One int64 code per row for a tuple of small codes (factorised when it would overflow)."""
    key = np.zeros(len(parts[0]), dtype=np.int64)
    span = 1
    for part in parts:
        part = np.asarray(part, dtype=np.int64)
        low = int(part.min(initial=0))
        size = int(part.max(initial=0)) - low + 1
        if span * size >= 2**62:
            key = np.unique(key, return_inverse=True)[1].reshape(-1).astype(np.int64)
            span = int(key.max(initial=0)) + 1
        key = key * size + (part - low)
        span *= size
    return key


def _duplicated(key: np.ndarray, patient: np.ndarray) -> np.ndarray:
    """Patients with two rows of one key."""
    order = np.argsort(key, kind="stable")
    ordered = key[order]
    twice = np.flatnonzero(ordered[1:] == ordered[:-1]) + 1
    return patient[order[twice]]


def _dense(key: np.ndarray) -> np.ndarray:
    """The key itself when its range is small, else its rank among the distinct keys."""
    if int(key.max(initial=0)) < 8 * len(key) + 1024:
        return key
    return np.unique(key, return_inverse=True)[1].reshape(-1)


def _differs_from_first(key: np.ndarray, value: np.ndarray) -> np.ndarray:
    """Rows whose value is not the value of the first row with their key."""
    key = _dense(key)
    first = value[_first_index(key)]
    return np.flatnonzero(first[key] != value)


def _first_index(key: np.ndarray) -> np.ndarray:
    """For each key value 0..max, the index of its first row (a missing value: never used)."""
    first = np.full(int(key.max(initial=0)) + 1, len(key) - 1, dtype=np.int64)
    np.minimum.at(first, key, np.arange(len(key)))
    return first
