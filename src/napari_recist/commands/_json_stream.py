r"""Write the classification document one patient at a time, with orjson.

The document is ``{"criteria": {...}, "patients": [...]}`` (shared/spec/lesion-table.md,
"Classification output"). It is written as ``json.dumps(document, indent=2)`` lays it out,
with the same keys in the same order, but each patient is encoded by orjson as soon as it is
classified and then dropped, so memory does not grow with the cohort and the encoder is C.
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
# A patient object sits two levels deep: inside the document, inside "patients".
_PATIENT_INDENT = b"\n    "


def encode_patient(patient: Mapping[str, Any]) -> bytes:
    """One patient object as `ClassificationWriter` writes it (indented for its place)."""
    return orjson.dumps(patient, option=_OPTIONS).replace(b"\n", _PATIENT_INDENT)


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
        head = orjson.dumps({"criteria": criteria, "patients": None}, option=_OPTIONS)
        # Everything up to the value of "patients" (the last key: `null\n}` follows).
        self._head = head[: head.rindex(b"null")]

    def add(self, patient: Mapping[str, Any]) -> None:
        """Encode one patient object and write it."""
        self.add_encoded(encode_patient(patient))

    def add_encoded(self, encoded: bytes) -> None:
        """Write one patient object encoded by `encode_patient` (e.g. in a worker process)."""
        if self._count:
            self._handle.write(b",\n    " + encoded)
        else:
            self._handle.write(self._head + b"[\n    " + encoded)
        self._count += 1

    def close(self) -> None:
        """Write the end of the document (an empty patient list when none was added)."""
        if self._count:
            self._handle.write(b"\n  ]\n}\n")
        else:
            self._handle.write(self._head + b"[]\n}\n")
