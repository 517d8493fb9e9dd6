"""The cohort batch's fast paths give the bytes of its reference paths.

The batch reads patient folders with partial CT headers, each SR parsed once during the scan
(`open_patient(..., full_headers=False)`). The reference is the batch reading every header
whole and each SR by `read_sr` itself (`full_headers=True`, what every patient used before).
On synthetic cohort patients, some with damaged files, ``patients.jsonl`` is byte for byte
the same, with the same problems, on 1 worker and with the in-memory runner.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path
from unittest import mock

import pytest

import napari_recist.io.patient as patient_io
from napari_recist.cohort.batch import classify_sources, find_cohort, stream_sources
from napari_recist.cohort.synthetic import synthetic_cohort, write_patient_folder
from napari_recist.criteria.settings import Criteria


@pytest.fixture(scope="module")
def cohort_root(tmp_path_factory) -> Path:
    root = tmp_path_factory.mktemp("cohort")
    records, _ = synthetic_cohort(12, seed=31)
    for record in records:
        write_patient_folder(record, root / record.patient_id)
    folders = sorted(p for p in root.iterdir() if p.is_dir())
    # Damage: a follow-up SR cut short, a CT slice cut short, an empty SR, a stray file.
    srs = sorted(folders[1].rglob("SR/*.dcm"))
    srs[1].write_bytes(srs[1].read_bytes()[:900])
    ct = sorted(folders[2].rglob("CT/*.dcm"))[0]
    ct.write_bytes(ct.read_bytes()[:700])
    sorted(folders[3].rglob("SR/*.dcm"))[0].write_bytes(b"")
    (folders[4] / "notes.txt").write_text("not DICOM")
    shutil.copytree(folders[5], root / "copy_of_5")  # the same patient twice: same SR UIDs
    return root


def _reference_open(paths, **kwargs):
    kwargs["full_headers"] = True
    return _OPEN(paths, **kwargs)


_OPEN = patient_io.open_patient


@pytest.mark.parametrize("lenient", [False, True])
def test_patients_jsonl_is_byte_identical_to_the_reference(cohort_root, tmp_path, lenient):
    sources = find_cohort(cohort_root, lenient=lenient).sources
    fast = stream_sources(sources, Criteria(), tmp_path / "fast", progress=False)
    with mock.patch.object(patient_io, "open_patient", _reference_open):
        reference = stream_sources(sources, Criteria(), tmp_path / "ref", progress=False)
    assert fast.results.read_bytes() == reference.results.read_bytes()
    assert fast.summary == reference.summary
    assert fast.summary.failures  # the damage is reported
    in_memory = classify_sources(sources, Criteria(), progress=False)
    lines = [json.loads(text) for text in fast.results.read_text().splitlines()]
    assert [o.problems for o in in_memory] == [tuple(line["problems"]) for line in lines]
