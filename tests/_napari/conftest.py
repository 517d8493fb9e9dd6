from __future__ import annotations

from pathlib import Path

import pytest
from _viewer_patient import write_patient


@pytest.fixture
def patient_folder(tmp_path: Path) -> Path:
    """Three CT scans of one patient, no SR yet."""
    return write_patient(tmp_path / "patient")
