"""`napari-recist propagate` on a patient whose follow-up is shifted and turned."""

from __future__ import annotations

import sys

import numpy as np
import pytest

from napari_recist.cli import main
from napari_recist.io.table import read_table
from napari_recist.model import LesionState
from napari_recist.sample import true_centre_lps, write_sample

from .phantoms import LESIONS, MOTIONS, patient


@pytest.fixture(scope="module")
def moved_patient(tmp_path_factory):
    folder = tmp_path_factory.mktemp("moved")
    write_sample(folder, patient=patient(MOTIONS["shift-and-turn"], "cli"))
    return folder


def test_propagate_writes_a_draft_table_within_the_tolerances(moved_patient, tmp_path,
                                                              capsys):
    out = tmp_path / "draft.csv"
    assert main(["propagate", str(moved_patient), "--csv", str(out),
                 "--cache-dir", str(tmp_path / "cache")]) == 0
    printed = capsys.readouterr().out
    assert "TP1 2025-03-03: ok: registered" in printed
    (record,) = read_table(out).records
    assert [a.timepoint for a in record.assessments] == [0, 1]
    assert {m.extra["source"] for m in record.assessments[0].measurements.values()} == {
        "reader"}
    rows = record.assessments[1].measurements
    assert sorted(rows) == [spec.lesion.lesion_id for spec in LESIONS]
    for spec in LESIONS:
        row = rows[spec.lesion.lesion_id]
        assert row.extra["method"] == "semi-automatic"
        assert row.extra["source"] == "proposal"
        assert row.extra["registration"] == "ok"
        assert float(row.extra["confidence"]) > 0.5
        centre = np.array([float(v) for v in row.extra["proposed_centre_lps"].split()])
        assert np.linalg.norm(centre - true_centre_lps(spec, MOTIONS["shift-and-turn"])) < 5
        assert row.state is LesionState.MEASURED
        long_mm, short_mm = (2 * a for a in spec.semi_axes_mm[1][:2])
        assert abs(row.long_axis_mm - long_mm) <= max(1.5, 0.05 * long_mm)
        assert abs(row.short_axis_mm - short_mm) <= max(1.5, 0.05 * short_mm)
    assert list((tmp_path / "cache").glob("registration-*.json"))


def test_no_follow_up_ct_is_bad_input(tmp_path, capsys):
    write_sample(tmp_path, patient=patient(None, "single").__class__(
        **{**patient(None, "single").__dict__,
           "timepoints": patient(None, "single").timepoints[:1]}))
    assert main(["propagate", str(tmp_path), "--no-cache"]) == 2
    assert "no CT series after the baseline" in capsys.readouterr().err


def test_without_simpleitk_it_says_what_to_install(moved_patient, monkeypatch, capsys):
    monkeypatch.setitem(sys.modules, "SimpleITK", None)
    assert main(["propagate", str(moved_patient), "--no-cache"]) == 2
    assert "install napari-recist[imaging]" in capsys.readouterr().err


def test_imaging_imports_neither_napari_cohort_nor_commands():
    import ast
    from pathlib import Path

    import napari_recist.imaging as package

    for path in Path(package.__file__).parent.glob("*.py"):
        tree = ast.parse(path.read_text(encoding="utf-8"))
        names = [n.module or "" for n in ast.walk(tree) if isinstance(n, ast.ImportFrom)]
        names += [a.name for n in ast.walk(tree) if isinstance(n, ast.Import) for a in n.names]
        assert not [n for n in names if n.startswith(("napari_recist._napari", "napari_recist"
                                                      ".cohort", "napari_recist.commands",
                                                      "napari."))], path
