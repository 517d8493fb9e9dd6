"""Registration of moved follow-ups: every lesion centre lands within 5 mm of the truth."""

from __future__ import annotations

import json

import numpy as np
import pytest

from napari_recist.imaging import registration as reg
from napari_recist.imaging.registration import (
    STATUS_OK,
    Registration,
    RegistrationCache,
    register_volumes,
)
from napari_recist.sample import true_centre_lps

from .phantoms import LESIONS, MOTIONS, volume_of


@pytest.fixture(scope="module")
def registrations(baseline_volume, follow_up_volumes):
    return {name: register_volumes(baseline_volume, volume)
            for name, volume in follow_up_volumes.items()}


@pytest.mark.parametrize("name", sorted(MOTIONS))
def test_every_lesion_centre_is_mapped_within_5_mm(registrations, name):
    registration = registrations[name]
    assert registration.status == STATUS_OK, registration.message
    for spec in LESIONS:
        mapped = registration.map_points(np.array(spec.centre_lps))
        error = np.linalg.norm(mapped - true_centre_lps(spec, MOTIONS[name]))
        assert error < 5.0, (spec.lesion.lesion_id, error)
    assert registration.similarity > registration.identity_similarity


def test_unmoved_follow_up_stays_where_it_is(baseline_volume):
    same = volume_of(np.asarray(baseline_volume.array), "copy")
    registration = register_volumes(baseline_volume, same)
    assert registration.status == STATUS_OK
    assert np.allclose(registration.map_points([[0.0, 0.0, -150.0]]), [[0.0, 0.0, -150.0]],
                       atol=1.0)


def test_unrelated_scan_is_poor_and_falls_back_to_patient_coordinates(baseline_volume):
    rng = np.random.default_rng(1)
    noise = rng.integers(-1000, 1000, size=baseline_volume.shape).astype(np.int16)
    registration = register_volumes(baseline_volume, volume_of(noise, "noise"))
    assert registration.status in ("poor", "failed")
    assert np.array_equal(registration.matrix, np.eye(4))
    assert "same patient coordinates" in registration.message


def test_cache_runs_a_pair_once_and_keeps_it_on_disk(tmp_path, baseline_volume,
                                                     follow_up_volumes, monkeypatch):
    moving = follow_up_volumes["tilt-5"]
    cache = RegistrationCache(tmp_path)
    first = cache.get(baseline_volume, moving)
    assert cache.get(baseline_volume, moving) is first
    files = list(tmp_path.glob("registration-*.json"))
    assert len(files) == 1

    def must_not_run(*args, **kwargs):
        raise AssertionError("registered again")

    monkeypatch.setattr(reg, "register_volumes", must_not_run)
    again = RegistrationCache(tmp_path).get(baseline_volume, moving)
    assert np.allclose(again.matrix, first.matrix) and again.status == first.status
    # A damaged cache file is never trusted: it is registered again.
    files[0].write_text("{not json", encoding="utf-8")
    monkeypatch.undo()
    fresh = RegistrationCache(tmp_path).submit(baseline_volume, moving).result(timeout=60)
    assert np.allclose(fresh.matrix, first.matrix, atol=1e-6)
    assert json.loads(files[0].read_text(encoding="utf-8"))["status"] == first.status


def test_cache_file_of_another_pair_is_not_used(tmp_path):
    registration = Registration("a", "b", STATUS_OK, np.eye(4), 0.9, 0.5, "x")
    data = registration.to_json()
    data["matrix"] = [[1, 0], [0, 1]]
    with pytest.raises(ValueError):
        Registration.from_json(data)
