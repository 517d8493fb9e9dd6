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
import os
import shutil
from collections.abc import Mapping
from typing import IO, Any

import orjson

_OPTIONS = orjson.OPT_INDENT_2
# Patients encoded together (about 20 KB of JSON each).
BATCH = 64
# orjson's text of {"patients": [...]} around the patients, two levels deep as in the document.
_BATCH_HEAD = b'{\n  "patients": [\n'
_BATCH_TAIL = b"\n  ]\n}"
# Between two runs of patient objects, as between two patients of the document.
SEPARATOR = b",\n"


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
    write_back
        The file is the document itself, which its atomic write will fsync: each worker
        slice copied in is sent to the disk then (`_write_back`). False for standard output
        or a file that stands for it.

    Raises
    ------
    ValueError
        When the criteria hold a NaN or an infinity.
    """

    def __init__(
        self, handle: IO[bytes], criteria: Mapping[str, Any], *, write_back: bool = False
    ) -> None:
        json.dumps(criteria, allow_nan=False)  # refuse NaN / Infinity (small: one object)
        self._handle = handle
        self._write_back = write_back
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
        self._handle.write(SEPARATOR if self._count else self._head + b"[\n")
        self._handle.write(body)
        self._count += count

    def add_file(self, path: str | os.PathLike[str], count: int) -> None:
        """Write `count` patient objects from a file of `encode_patients` texts.

        The file (a worker's slice) holds encoded batches joined by `SEPARATOR`, exactly as
        `add_encoded` of each batch in turn would write them. Its bytes go from file to file
        inside the kernel (``os.copy_file_range``) where the system can, so they are not read
        into this process; else they are copied through a buffer.
        """
        self._flush()
        if not count:
            return
        self._handle.write(SEPARATOR if self._count else self._head + b"[\n")
        self._handle.flush()
        with open(path, "rb") as source:
            _copy_file(source, self._handle)
        if self._write_back:
            _write_back(self._handle)
        self._count += count

    def close(self) -> None:
        """Write the last batch and the end of the document (``[]`` when no patient came)."""
        self._flush()
        if self._count:
            self._handle.write(b"\n  ]\n}\n")
        else:
            self._handle.write(self._head + b"[]\n}\n")


def _write_back(target: IO[bytes]) -> None:
    """Send what was written so far to the disk now, while the workers classify the next part.

    The atomic write ends with an fsync before its rename; for a 200 MB document that fsync
    took about 0.1 s after the last patient, with nothing else to do. Written back part by
    part, it has only the last part left. A file without a descriptor (a test's buffer) has
    nothing to write back.
    """
    try:
        os.fdatasync(target.fileno())
    except (OSError, ValueError, AttributeError):
        pass


def _copy_file(source: IO[bytes], target: IO[bytes]) -> None:
    """Append the rest of `source` to `target` (flushed), in the kernel where possible."""
    try:
        target_fd = target.fileno()
    except (OSError, ValueError, AttributeError):  # e.g. a captured stream with no descriptor
        target_fd = -1
    copy_range = getattr(os, "copy_file_range", None)
    if copy_range is not None and target_fd >= 0:
        source_fd = source.fileno()
        try:
            while copy_range(source_fd, target_fd, 1 << 30):
                pass
            return
        except OSError:
            # Not between these two (another file system on an old kernel, a pipe...): the
            # descriptors' offsets moved only by what was copied, so the rest follows by hand.
            pass
        source.seek(os.lseek(source_fd, 0, os.SEEK_CUR))
    shutil.copyfileobj(source, target, 1 << 20)
    target.flush()
