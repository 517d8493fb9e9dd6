"""The compiled engine gives every field the same sources give interpreted (issue 12).

The editable install and the wheel compile ``napari_recist.criteria`` with mypyc (setup.py).
The reference is the same source files run by the interpreter: a copy of the package's pure
Python files, renamed ``napari_recist_pure`` so both engines live in this process, each reading
the same lesion-table rows with its own reader. Every patient object must be byte for byte the
same JSON (values, key order, reasons). Checked on the example table (the golden cases), the
benchmark's cohorts, the synthetic cohort with its immunotherapy courses, random tables (the
property tests' generators) and other thresholds. The interpreted sources also pass the whole
criteria suite (hand-computed cases, fast-path references) in a process of their own.
"""

from __future__ import annotations

import importlib
import os
import random
import shutil
import subprocess
import sys
from pathlib import Path
from types import ModuleType

import orjson
import pytest
from hypothesis import HealthCheck, given, settings
from tests.criteria.test_properties import lesion_tables, linked_tables

from napari_recist import engine_is_compiled
from napari_recist.cohort.synthetic import synthetic_cohort
from napari_recist.criteria import recist as compiled_recist
from napari_recist.criteria.settings import Criteria
from napari_recist.io.table import read_table, records_to_rows

ROOT = Path(__file__).resolve().parents[2]
PACKAGE = Path(compiled_recist.__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "benchmarks"))
from bench_classify import generate_patient  # noqa: E402

COMPILED = engine_is_compiled()
PURE_REQUESTED = os.environ.get("NAPARI_RECIST_PURE", "").strip() not in ("", "0")
OTHER_THRESHOLDS = {"pd_pct": 10.0, "pr_pct": -20.0, "lesion_min_increase_mm": 2.0,
                    "min_sd_days": 60}

needs_compiled = pytest.mark.skipif(
    not COMPILED, reason="the engine runs interpreted here: there is no compiled one to compare"
)


def test_the_engine_is_compiled_unless_the_pure_build_was_asked_for():
    if PURE_REQUESTED:
        pytest.skip("NAPARI_RECIST_PURE is set: the pure-Python build is under test")
    assert COMPILED, (
        "napari_recist.criteria runs interpreted: the mypyc build fell back (see the install "
        "log) - set NAPARI_RECIST_PURE=1 to test the pure build on purpose"
    )


def test_the_pure_build_runs_interpreted():
    """With NAPARI_RECIST_PURE set (the pure wheel, the interpreted run below): interpreted."""
    if not PURE_REQUESTED:
        pytest.skip("NAPARI_RECIST_PURE is not set")
    assert not COMPILED, compiled_recist.__file__


def _copy_sources(target: Path, rename: str | None) -> Path:
    """The package's .py files only, optionally with every ``napari_recist`` import renamed."""
    name = rename or "napari_recist"
    destination = target / name
    shutil.copytree(
        PACKAGE, destination, ignore=shutil.ignore_patterns("*.so", "*.pyd", "__pycache__")
    )
    if rename:
        for source in destination.rglob("*.py"):
            text = source.read_text(encoding="utf-8")
            source.write_text(
                text.replace("from napari_recist.", f"from {rename}.")
                .replace("import napari_recist.", f"import {rename}.")
                .replace("from napari_recist import", f"from {rename} import"),
                encoding="utf-8",
            )
    return target


@pytest.fixture(scope="module")
def pure(tmp_path_factory) -> ModuleType:
    """The interpreted engine and reader, as the package ``napari_recist_pure``."""
    if not COMPILED:
        pytest.skip("the engine runs interpreted here: there is no compiled one to compare")
    root = _copy_sources(tmp_path_factory.mktemp("pure"), "napari_recist_pure")
    sys.path.insert(0, str(root))
    try:
        package = importlib.import_module("napari_recist_pure")
        for module in ("criteria.report", "criteria.settings", "io.table"):
            loaded = importlib.import_module(f"napari_recist_pure.{module}")
            assert loaded.__file__.endswith(".py"), loaded.__file__
        yield package
    finally:
        sys.path.remove(str(root))
        for name in [n for n in sys.modules if n.split(".")[0] == "napari_recist_pure"]:
            del sys.modules[name]


def _patients(rows: list[dict[str, str]], reader: ModuleType, report: ModuleType,
              criteria: object) -> list[bytes]:
    records = reader.rows_to_records(rows, "generated", lenient=True).records
    return [orjson.dumps(report.classify_patient(r, criteria).to_json()) for r in records]


def assert_same(pure: ModuleType, rows: list[dict[str, str]], thresholds: dict | None = None):
    """Both engines read ``rows`` and give byte-identical patient objects."""
    thresholds = thresholds or {}
    pure_report = importlib.import_module("napari_recist_pure.criteria.report")
    pure_reader = importlib.import_module("napari_recist_pure.io.table")
    pure_criteria = importlib.import_module("napari_recist_pure.criteria.settings").Criteria
    import napari_recist.criteria.report as report
    import napari_recist.io.table as reader

    compiled = _patients(rows, reader, report, Criteria(**thresholds))
    interpreted = _patients(rows, pure_reader, pure_report, pure_criteria(**thresholds))
    assert len(compiled) == len(interpreted)
    for ours, theirs in zip(compiled, interpreted, strict=True):
        assert ours == theirs


def _rows_of(records) -> list[dict[str, str]]:
    return records_to_rows(records)


def test_example_table(pure):
    assert_same(pure, _rows_of(read_table(ROOT / "examples" / "lesions.csv").records))


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_benchmark_cohorts(pure, seed):
    rng = random.Random(seed)
    assert_same(pure, _rows_of([generate_patient(rng, n) for n in range(200)]))


def test_benchmark_cohort_with_other_thresholds(pure):
    rng = random.Random(7)
    rows = _rows_of([generate_patient(rng, n) for n in range(150)])
    assert_same(pure, rows, OTHER_THRESHOLDS)


def test_synthetic_immunotherapy_cohort(pure):
    records, _ = synthetic_cohort(400, seed=12)
    assert_same(pure, _rows_of(records))


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow,
          HealthCheck.function_scoped_fixture])
@given(rows=lesion_tables())
def test_random_tables(pure, rows):
    assert_same(pure, rows)


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow,
          HealthCheck.function_scoped_fixture])
@given(rows=linked_tables())
def test_split_coalesced_and_treatment_start_tables(pure, rows):
    assert_same(pure, rows)


@needs_compiled
def test_the_interpreted_sources_pass_the_criteria_suite(tmp_path):
    """The pure build (NAPARI_RECIST_PURE=1) is a supported install: it passes the same tests."""
    root = _copy_sources(tmp_path, None)
    env = {**os.environ, "PYTHONPATH": str(root), "NAPARI_RECIST_PURE": "1"}
    where = subprocess.run(
        [sys.executable, "-c", "import napari_recist.criteria.recist as m; print(m.__file__)"],
        env=env, capture_output=True, text=True, check=True,
    ).stdout.strip()
    assert where == str(root / "napari_recist" / "criteria" / "recist.py")
    run = subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "-x", "-rs",
         "tests/criteria"],
        cwd=ROOT, env=env, capture_output=True, text=True,
    )
    assert run.returncode == 0, run.stdout[-4000:] + run.stderr[-2000:]
    # The fast-path references ran (interpreted), and so did the check that nothing was compiled.
    assert "test_fast_paths" not in run.stdout, run.stdout[-4000:]
    assert " passed" in run.stdout


def test_results_pickle_and_copy_as_themselves():
    """Workers (dask, process pools) pickle thresholds and results; compiled frozen types too."""
    import copy
    import pickle

    criteria = Criteria(**OTHER_THRESHOLDS)
    assert pickle.loads(pickle.dumps(criteria)) == criteria == copy.deepcopy(criteria)
    import napari_recist.criteria.report as report

    for record in [generate_patient(random.Random(5), n) for n in range(30)]:
        result = report.classify_patient(record, criteria)
        expected = orjson.dumps(result.to_json())
        assert orjson.dumps(pickle.loads(pickle.dumps(result)).to_json()) == expected
        assert orjson.dumps(copy.deepcopy(result).to_json()) == expected


def _fake_checkout(root: Path) -> Path:
    """A checkout's layout: setup.py, the package, its engine and the engine's dependencies."""
    (root / "setup.py").write_text("", encoding="utf-8")
    package = root / "src" / "napari_recist"
    (package / "criteria").mkdir(parents=True)
    for name in ("model.py", "vocabulary.py", "gcpause.py"):
        (package / name).write_text("", encoding="utf-8")
    (package / "criteria" / "recist.py").write_text("", encoding="utf-8")
    return package


def _age(path: Path, seconds: float) -> None:
    os.utime(path, (path.stat().st_atime, path.stat().st_mtime - seconds))


def test_a_compiled_module_older_than_the_sources_is_refused(tmp_path):
    from importlib.machinery import EXTENSION_SUFFIXES

    from napari_recist import _refuse_a_stale_compiled_engine as guard

    package = _fake_checkout(tmp_path)
    binary = package / "criteria" / f"recist{EXTENSION_SUFFIXES[0]}"
    binary.write_bytes(b"")
    guard(package)  # built after every source: fine
    _age(binary, 60)
    with pytest.raises(ImportError, match="older than recist.py"):
        guard(package)
    for source in package.rglob("*.py"):
        _age(source, 120)
    guard(package)
    (package / "model.py").touch()  # a type the engine was compiled against changed
    with pytest.raises(ImportError, match="older than model.py"):
        guard(package)


def test_another_pythons_build_and_an_installed_package_are_not_checked(tmp_path):
    from napari_recist import _refuse_a_stale_compiled_engine as guard

    package = _fake_checkout(tmp_path)
    other = package / "criteria" / "recist.cpython-399-x86_64-linux-gnu.so"
    other.write_bytes(b"")
    _age(other, 60)
    guard(package)  # this interpreter would never load it
    (tmp_path / "setup.py").unlink()
    from importlib.machinery import EXTENSION_SUFFIXES

    binary = package / "criteria" / f"recist{EXTENSION_SUFFIXES[0]}"
    binary.write_bytes(b"")
    _age(binary, 60)
    guard(package)  # no setup.py above: an installed package, whose times are the installer's


@needs_compiled
@needs_compiled
def test_the_compiled_model_refuses_values_of_another_type_when_they_are_made():
    """The model is compiled with the engine: a field takes its declared type or refuses.

    A script's numpy ``float64`` sizes are floats and classify as the same record of Python
    floats; an ``np.int64`` time point, an ``np.bool_`` flag, an ``np.float32`` size and a
    read-only mapping of measurements are refused where the object is made (a TypeError
    there, not a wrong or missing verdict later).
    """
    import types

    import numpy as np

    import napari_recist.criteria.report as report
    from napari_recist.model import Assessment, Lesion, LesionState, Measurement, PatientRecord

    record = generate_patient(random.Random(11), 1)
    expected = orjson.dumps(report.classify_patient(record).to_json())
    as_float64 = PatientRecord(record.patient_id, dict(record.lesions), [
        Assessment(a.timepoint, a.date, {
            lid: Measurement(
                lid, m.state,
                None if m.long_axis_mm is None else np.float64(m.long_axis_mm),
                None if m.short_axis_mm is None else np.float64(m.short_axis_mm),
            )
            for lid, m in a.measurements.items()
        })
        for a in record.assessments
    ])
    assert as_float64 == record
    assert orjson.dumps(report.classify_patient(as_float64).to_json()) == expected
    date = record.assessments[0].date
    with pytest.raises(TypeError):
        Lesion("T1", record.lesions["T1"].role, "lung", np.bool_(False))
    with pytest.raises(TypeError):
        Assessment(np.int64(0), date, {})
    with pytest.raises(TypeError):
        Measurement("T1", LesionState.MEASURED, np.float32(12.5))
    with pytest.raises(TypeError):
        Assessment(0, date, types.MappingProxyType({}))


def test_settings_from_a_mapping_and_ints_for_floats_write_the_same_json():
    import types

    criteria = Criteria.from_dict(types.MappingProxyType({"pd_pct": 25}))
    assert criteria.to_dict()["pd_pct"] == 25.0
    assert orjson.dumps(Criteria(pd_pct=20).to_dict()) == orjson.dumps(Criteria().to_dict())
