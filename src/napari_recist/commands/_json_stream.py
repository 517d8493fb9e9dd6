r"""Write the classification document one patient at a time, with orjson.

The document is ``{"criteria": {...}, "patients": [...]}`` (shared/spec/lesion-table.md,
"Classification output"). It is written as ``json.dumps(document, indent=2)`` lays it out,
with the same keys in the same order, but patients are encoded by orjson a few at a time as
they are classified and then dropped, so memory does not grow with the cohort and the encoder
is C. A batch is encoded as ``{"patients": [...batch]}``, which orjson indents exactly as the
patients sit in the document, and written without its first and last lines: no re-indenting
pass over the text.
The one difference from ``json.dumps``: text outside ASCII is written as UTF-8 rather than as
``\uXXXX`` escapes (the same JSON content), and a float may be spelt differently
(``0.00001`` for ``1e-05``), never with a different value.

JSON has no NaN or Infinity. ``json.dumps(allow_nan=False)`` refused them; orjson would write
``null``, a silent wrong answer. Every float of a patient object comes through the rounding
helpers of `napari_recist.criteria.numbers`, which refuse a non-finite number; the criteria
object is checked here.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import IO, Any

import orjson

_OPTIONS = orjson.OPT_INDENT_2
# Patients encoded together (about 20 KB of JSON each).
BATCH = 64
# orjson's text of {"patients": [...]} around the patients, two levels deep as in the document.
_BATCH_HEAD = b'{\n  "patients": [\n'
_BATCH_TAIL = b"\n  ]\n}"


def encode_patients(patients: list[Mapping[str, Any]]) -> memoryview:
    """Patient objects as `ClassificationWriter` writes them: indented, comma-separated."""
    encoded = orjson.dumps({"patients": patients}, option=_OPTIONS)
    assert encoded.startswith(_BATCH_HEAD) and encoded.endswith(_BATCH_TAIL)
    return memoryview(encoded)[len(_BATCH_HEAD) : len(encoded) - len(_BATCH_TAIL)]


class ClassificationWriter:
    """Stream the classification document to a binary file.

    Parameters
    ----------
    handle
        A file opened for writing bytes.
    criteria
        The settings object of the document (``Criteria.to_dict()``).

    Raises
    ------
    ValueError
        When the criteria hold a NaN or an infinity.
    """

    def __init__(self, handle: IO[bytes], criteria: Mapping[str, Any]) -> None:
        json.dumps(criteria, allow_nan=False)  # refuse NaN / Infinity (small: one object)
        self._handle = handle
        self._count = 0
        self._batch: list[Mapping[str, Any]] = []
        head = orjson.dumps({"criteria": criteria, "patients": None}, option=_OPTIONS)
        # Everything up to the value of "patients" (the last key: `null\n}` follows).
        self._head = head[: head.rindex(b"null")]

    def add(self, patient: Mapping[str, Any]) -> None:
        """Take one patient object; it is encoded and written with the next batch."""
        self._batch.append(patient)
        if len(self._batch) >= BATCH:
            self._flush()

    def _flush(self) -> None:
        if not self._batch:
            return
        batch, self._batch = self._batch, []
        self.add_encoded(encode_patients(batch), len(batch))

    def add_encoded(self, body: bytes | memoryview, count: int) -> None:
        """Write `count` patient objects encoded by `encode_patients` (e.g. in a worker)."""
        self._flush()  # the patients taken before come first
        if not count:
            return
        self._handle.write(b",\n" if self._count else self._head + b"[\n")
        self._handle.write(body)
        self._count += count

    def close(self) -> None:
        """Write the last batch and the end of the document (``[]`` when no patient came)."""
        self._flush()
        if self._count:
            self._handle.write(b"\n  ]\n}\n")
        else:
            self._handle.write(self._head + b"[]\n}\n")
