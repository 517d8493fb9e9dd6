"""In-process fuzzing with a fixed seed and a bounded budget (issue 10): the readers of the
outside world either read or raise `InputError` naming the file, never anything else.

Damaged bytes come from the project's own sample files (an SR, CT slices, the example table),
flipped, cut and spliced by hypothesis. A crash found here becomes a regression case below.
"""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from napari_recist.errors import InputError
from napari_recist.io.sr_read import read_sr
from napari_recist.io.table import read_table
from napari_recist.io.volume import load_series

ROOT = Path(__file__).resolve().parents[1]
SAMPLE = ROOT / "sample_dicom"
SR = next((SAMPLE / "2024-03-11_week08" / "SR").iterdir())
CT = sorted((SAMPLE / "2024-01-15_baseline" / "CT").iterdir())[:3]
TABLE = ROOT / "examples" / "lesions.csv"

FUZZ = settings(max_examples=150, deadline=None, derandomize=True,
                suppress_health_check=[HealthCheck.function_scoped_fixture,
                                       HealthCheck.too_slow])


@st.composite
def damaged(draw: st.DrawFn, original: bytes) -> bytes:
    """Bytes of a file with a few flips, a cut or a spliced run of random bytes."""
    data = bytearray(original)
    for _ in range(draw(st.integers(0, 6))):
        position = draw(st.integers(0, len(data) - 1))
        data[position] = draw(st.integers(0, 255))
    if draw(st.booleans()):
        data = data[: draw(st.integers(0, len(data)))]
    if draw(st.booleans()):
        position = draw(st.integers(0, len(data)))
        data[position:position] = draw(st.binary(max_size=64))
    return bytes(data)


@FUZZ
@given(data=damaged(SR.read_bytes()))
def test_damaged_sr_is_read_or_reported(tmp_path_factory, data: bytes) -> None:
    path = tmp_path_factory.mktemp("sr") / "sr.dcm"
    path.write_bytes(data)
    result = read_sr(path)  # never raises
    for problem in result.problems:
        assert problem.source == str(path)


@FUZZ
@given(data=damaged(CT[1].read_bytes()))
def test_damaged_ct_slice_is_loaded_around_or_refused(tmp_path_factory, data: bytes) -> None:
    folder = tmp_path_factory.mktemp("ct")
    shutil.copy(CT[0], folder / "a.dcm")
    (folder / "b.dcm").write_bytes(data)
    shutil.copy(CT[2], folder / "c.dcm")
    try:
        volume = load_series(folder)
    except InputError as error:
        assert error.problems
    else:
        assert volume.shape[0] >= 2


@FUZZ
@given(data=damaged(TABLE.read_bytes()), lenient=st.booleans())
def test_damaged_table_is_read_or_refused(tmp_path_factory, data: bytes, lenient: bool) -> None:
    path = tmp_path_factory.mktemp("table") / "lesions.csv"
    path.write_bytes(data)
    try:
        read_table(path, lenient=lenient)
    except InputError as error:
        assert all(str(path) in str(problem) for problem in error.problems)


def _meta_vr_broken() -> bytes:
    """Found by the fuzz test: the VR of (0002,0000) damaged (BytesLengthException)."""
    data = bytearray(SR.read_bytes())
    data[136] = 0  # "UL" -> "\x00L"
    return bytes(data)


@pytest.mark.parametrize("data", [b"", b"\x00" * 200, b"DICM", b"\x80" * 132 + b"DICM",
                                  _meta_vr_broken()])
def test_regression_cases(tmp_path: Path, data: bytes) -> None:
    path = tmp_path / "sr.dcm"
    path.write_bytes(data)
    assert read_sr(path).problems
