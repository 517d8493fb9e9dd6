"""Cohort results on disk, one JSON line per patient: written as batches finish, read in order.

The batch (`napari_recist.cohort.batch.stream_sources`) never holds the cohort's patient JSON:
each finished batch of patients is one *part* file (JSON lines) in a work folder beside the
outputs, written atomically (`napari_recist.io.atomic`: a part exists whole or not at all).
Once every patient has its line, the parts are merged, in the input order, into
``patients.jsonl`` and the cohort's outputs are aggregated from that file
(`write_cohort_json`, `iter_outcomes`, `statistics_patients`).

An interrupted run leaves its finished parts and a manifest naming the inputs and the
criteria; a run asked to resume (``napari-recist cohort --resume``) keeps the parts whose
manifest matches and classifies only the patients without a line. A part that cannot be read
back whole (a disk error, a hand edit) is discarded and its patients are classified again, never
half used.

Line format (one JSON object per line, UTF-8)::

    {"index": 0, "label": "...", "patient": {...} | null, "problems": [...], "remarks": [...]}

``index`` is the patient's place in the input order; ``patient`` is the patient object of the
classification JSON (null when it could not be classified, ``problems`` then says why).
"""

from __future__ import annotations

import hashlib
import json
import pickle
import shutil
import uuid
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import IO, TYPE_CHECKING, Any

from napari_recist.errors import InputError, Problem
from napari_recist.io.atomic import atomic_open

if TYPE_CHECKING:
    from napari_recist.cohort.batch import Outcome, PatientSource

RESULTS_NAME = "patients.jsonl"
PARTS_NAME = ".patients.parts"
MANIFEST_NAME = "manifest.json"
FORMAT_VERSION = 1
# Lines parsed per json.loads call when loading the statistics view: one call shares the key
# strings of all its patients (CPython's decoder memoises keys per call), about a quarter less
# memory than one call per patient.
PARSE_CHUNK = 256


def outcome_line(index: int, outcome: Outcome) -> str:
    """One patient's line (with its newline)."""
    return (
        json.dumps(
            {
                "index": index,
                "label": outcome.label,
                "patient": outcome.patient,
                "problems": list(outcome.problems),
                "remarks": list(outcome.remarks),
            },
            separators=(",", ":"),
        )
        + "\n"
    )


def _parse_line(text: str, where: str) -> dict[str, Any]:
    try:
        item = json.loads(text)
    except ValueError as error:
        raise ValueError(f"{where}: not a JSON line ({error})") from None
    if (
        not isinstance(item, dict)
        or not isinstance(item.get("index"), int)
        or not isinstance(item.get("label"), str)
        or not (item.get("patient") is None or isinstance(item.get("patient"), dict))
        or not isinstance(item.get("problems"), list)
        or not isinstance(item.get("remarks"), list)
    ):
        raise ValueError(f"{where}: not a patient result line")
    return item


def read_lines(path: Path) -> Iterator[dict[str, Any]]:
    """Every line of a results file, checked; a damaged line raises `ValueError`."""
    with path.open(encoding="utf-8") as handle:
        for number, text in enumerate(handle, start=1):
            if not text.endswith("\n"):
                raise ValueError(f"{path}, line {number}: cut short (no end of line)")
            yield _parse_line(text, f"{path}, line {number}")


def _outcome(item: Mapping[str, Any]) -> Outcome:
    from napari_recist.cohort.batch import Outcome

    return Outcome(item["label"], item["patient"], tuple(item["problems"]), tuple(item["remarks"]))


def iter_outcomes(path: Path) -> Iterator[Outcome]:
    """The outcomes of a results file, in its order (one line in memory at a time)."""
    for item in read_lines(path):
        yield _outcome(item)


def iter_patients(path: Path) -> Iterator[dict[str, Any]]:
    """The classified patients of a results file, in order, full JSON."""
    for item in read_lines(path):
        if item["patient"] is not None:
            yield item["patient"]


def _drop_reasons(patient: dict[str, Any]) -> dict[str, Any]:
    patient.pop("reasons", None)
    for timepoint in patient.get("timepoints") or ():
        if isinstance(timepoint, dict):
            timepoint.pop("reason", None)
            timepoint.pop("reasons", None)
    return patient


def statistics_patients(path: Path, keep_reasons: bool = False) -> list[dict[str, Any]]:
    """The classified patients, in order, as the statistics and plots read them.

    The reason strings (more than half of a patient's JSON) are left out: no table, plot or
    statistic of the cohort reads them (the full lines stay in the file, `cohort.json` and
    ``assessments.csv`` are written from it).

    Parameters
    ----------
    path
        ``patients.jsonl``.
    keep_reasons
        Keep the reason strings too (a grouping asked for by a field under ``reasons``).

    Returns
    -------
    list of dict
        One patient object per classified patient.
    """
    patients: list[dict[str, Any]] = []
    chunk: list[str] = []

    def flush() -> None:
        for item in json.loads("[" + ",".join(chunk) + "]"):
            if item["patient"] is not None:
                patient = item["patient"]
                patients.append(patient if keep_reasons else _drop_reasons(patient))
        chunk.clear()

    with path.open(encoding="utf-8") as handle:
        for text in handle:
            chunk.append(text)
            if len(chunk) == PARSE_CHUNK:
                flush()
    if chunk:
        flush()
    return patients


def _indented(text: str, spaces: int) -> str:
    """Indent every line but the first (nested value of an ``indent=2`` document)."""
    pad = " " * spaces
    return text.replace("\n", "\n" + pad)


def write_cohort_json(
    path: Path, criteria: Mapping[str, Any], patients: Iterable[Mapping[str, Any]]
) -> None:
    """Write ``{"criteria": ..., "patients": [...]}`` one patient at a time (atomic write).

    Byte for byte what ``json.dumps(document, indent=2)`` gives (JSON strings hold no raw line
    break, so indenting the lines of each patient's own ``indent=2`` text nests it exactly).
    """
    with atomic_open(path, "w") as handle:
        handle.write('{\n  "criteria": ')
        handle.write(_indented(json.dumps(dict(criteria), indent=2), 2))
        handle.write(',\n  "patients": [')
        first = True
        for patient in patients:
            handle.write("\n    " if first else ",\n    ")
            handle.write(_indented(json.dumps(patient, indent=2), 4))
            first = False
        handle.write("]\n}" if first else "\n  ]\n}")


def sources_fingerprint(sources: Sequence[PatientSource], criteria: Mapping[str, Any]) -> str:
    """What a resumed run must share with the run that wrote the parts (SHA-256, hex)."""
    digest = hashlib.sha256()
    digest.update(json.dumps({"version": FORMAT_VERSION, "criteria": dict(criteria)},
                             sort_keys=True, default=str).encode())  # fmt: skip
    for item in sources:
        digest.update(
            json.dumps([item.label, item.folder, item.lenient, item.record is not None]).encode()
        )
        if item.record is not None:
            digest.update(hashlib.sha256(pickle.dumps(item.record)).digest())
    return digest.hexdigest()


@dataclass
class PartsFolder:
    """The work folder of a running batch: its manifest and finished part files.

    Parameters
    ----------
    folder
        The work folder (``OUT/.patients.parts``).
    """

    folder: Path

    def start(self, fingerprint: str, count: int, resume: bool) -> tuple[set[int], list[str]]:
        """Prepare the folder; return the patients already done (resume) and notes.

        Without `resume`, or when the manifest is missing or names other inputs or criteria,
        earlier parts are removed. With it, every finished part is read back whole; a damaged
        one is removed (its patients will be classified again) and named in the notes.
        """
        manifest = self.folder / MANIFEST_NAME
        notes: list[str] = []
        wanted = {"version": FORMAT_VERSION, "fingerprint": fingerprint, "patients": count}
        if resume and manifest.is_file():
            try:
                same = json.loads(manifest.read_text(encoding="utf-8")) == wanted
            except ValueError:
                same = False
            if same:
                done: set[int] = set()
                for part in self.parts():
                    try:
                        indices = [item["index"] for item in read_lines(part)]
                    except (OSError, ValueError) as error:
                        notes.append(f"discarded a damaged part of the earlier run ({error})")
                        part.unlink()
                        continue
                    if any(i < 0 or i >= count or i in done for i in indices):
                        notes.append(f"discarded {part}: patients outside this cohort")
                        part.unlink()
                        continue
                    done.update(indices)
                notes.append(f"resumed: {len(done)} of {count} patients already classified")
                return done, notes
            notes.append("not resumed: the earlier run had other inputs or criteria")
        elif resume:
            notes.append("not resumed: no earlier run in the output folder")
        if self.folder.exists():
            shutil.rmtree(self.folder)
        self.folder.mkdir(parents=True)
        with atomic_open(manifest, "w") as handle:
            json.dump(wanted, handle)
        return set(), notes

    def parts(self) -> list[Path]:
        """The finished part files (temporary files of an unfinished write are not parts)."""
        return sorted(self.folder.glob("part-*.jsonl"))

    def new_part(self, number: int) -> Path:
        """A part file name no earlier run used."""
        return self.folder / f"part-{uuid.uuid4().hex[:12]}-{number:06d}.jsonl"

    def merge(self, target: Path, count: int) -> None:
        """Write every patient's line into `target`, in the input order (atomic write).

        Raises
        ------
        InputError
            When a patient has no line or two lines (a part of another run was copied in).
        """
        entries: list[tuple[int, int, int, int]] = []  # index, part number, offset, length
        parts = self.parts()
        for number, part in enumerate(parts):
            offset = 0
            with part.open("rb") as handle:
                for raw in handle:
                    # The line starts with {"index":N, (outcome_line writes it first).
                    index = int(raw[9 : raw.index(b",")])
                    entries.append((index, number, offset, len(raw)))
                    offset += len(raw)
        entries.sort()
        indices = [entry[0] for entry in entries]
        if indices != list(range(count)):
            missing = sorted(set(range(count)) - set(indices))
            raise InputError(
                [Problem(str(self.folder), f"{len(missing)} patients have no result and "
                         f"{len(indices) - len(set(indices))} have two: run again without "
                         "--resume")]
            )  # fmt: skip
        current: tuple[int, IO[bytes]] | None = None
        try:
            with atomic_open(target, "wb") as out:
                for _, number, offset, length in entries:
                    if current is None or current[0] != number:
                        if current is not None:
                            current[1].close()
                        current = (number, parts[number].open("rb"))
                    current[1].seek(offset)
                    out.write(current[1].read(length))
        finally:
            if current is not None:
                current[1].close()

    def remove(self) -> None:
        """Remove the work folder (the results are merged)."""
        shutil.rmtree(self.folder, ignore_errors=True)


def write_part(path: Path, lines: Iterable[str]) -> None:
    """Write one part file atomically."""
    with atomic_open(path, "w") as handle:
        for line in lines:
            handle.write(line)
