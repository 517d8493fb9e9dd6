from __future__ import annotations

import pytest

from napari_recist.sample import phantom_hu

from .phantoms import GRID, LESIONS, MOTIONS, volume_of


@pytest.fixture(scope="session")
def baseline_volume():
    return volume_of(phantom_hu(0, lesions=LESIONS, grid=GRID, supersample=3), "baseline")


@pytest.fixture(scope="session")
def follow_up_volumes():
    return {
        name: volume_of(phantom_hu(1, lesions=LESIONS, grid=GRID, supersample=3,
                                   patient_to_scanner=motion), f"follow-up-{name}")
        for name, motion in MOTIONS.items()
    }
