"""Compressed slices decoded in worker processes: the same volume, bit for bit, as in one."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import numpy as np
import pydicom
import pytest
from pydicom.uid import JPEG2000Lossless, JPEGLSLossless, RLELossless

from napari_recist.errors import InputError
from napari_recist.io import decode_pool
from napari_recist.io.volume import load_series
from napari_recist.sample import CTSeriesIdentity, write_ct_series

DEPTH = decode_pool.MIN_SLICES + 6  # enough slices for the pool, not a multiple of CHUNK


def _identity() -> CTSeriesIdentity:
    uid = pydicom.uid.generate_uid
    return CTSeriesIdentity(
        patient={"PatientName": "Test^Pool", "PatientID": "POOL"},
        study_uid=uid(), study_date=dt.date(2024, 1, 1), study_id="1", accession_number="A",
        study_description="pool", series_uid=uid(), series_number=1,
        series_description="pool", frame_of_reference_uid=uid(),
    )  # fmt: skip


def _series(folder: Path, syntax: str) -> np.ndarray:
    """A noisy 64x64 series (JPEG 2000 needs >= 32 pixels a side) in `syntax`."""
    rng = np.random.default_rng(3)
    hu = rng.integers(-1024, 3071, size=(DEPTH, 64, 64)).astype(np.int16)
    paths = write_ct_series(hu, folder, _identity(), first_voxel_lps=(0.0, 0.0, 0.0),
                            pixel_mm=1.0, slice_mm=2.0, compress=False)  # fmt: skip
    for path in paths:
        ds = pydicom.dcmread(path)
        ds.compress(syntax, generate_instance_uid=False)
        ds.save_as(path, enforce_file_format=True)
    return hu


@pytest.fixture(autouse=True)
def _fresh_pool():  # type: ignore[no-untyped-def]
    decode_pool._shutdown()  # an earlier test may have started it
    yield
    decode_pool._shutdown()


@pytest.mark.parametrize("syntax", [JPEG2000Lossless, JPEGLSLossless, RLELossless])
def test_processes_give_the_single_process_volume_bit_for_bit(
    tmp_path: Path, syntax: str
) -> None:
    hu = _series(tmp_path, syntax)
    single = load_series(tmp_path, processes=1)
    assert decode_pool._pool is None  # one process: no pool was started
    pooled = load_series(tmp_path, processes=2)
    assert decode_pool._pool is not None
    assert pooled.array.dtype == single.array.dtype
    assert pooled.array.tobytes() == single.array.tobytes()
    np.testing.assert_array_equal(pooled.array, hu)
    assert pooled.files == single.files and pooled.warnings == single.warnings
    again = load_series(tmp_path, processes=2)  # the pool is kept for the next series
    assert again.array.tobytes() == single.array.tobytes()


def test_an_undecodable_slice_is_named_the_same_way(tmp_path: Path) -> None:
    _series(tmp_path, RLELossless)
    broken = tmp_path / "CT0005.dcm"
    ds = pydicom.dcmread(broken)
    ds.PixelData = ds.PixelData[:40]  # keeps the item structure, loses the segments
    ds.save_as(broken)
    messages = []
    for processes in (1, 2):
        with pytest.raises(InputError) as caught:
            load_series(tmp_path, processes=processes)
        messages.append(str(caught.value))
    assert messages[0] == messages[1]
    assert str(broken) in messages[0] and "could not be decoded" in messages[0]


def test_small_series_and_daemonic_processes_decode_in_process(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    jobs = [decode_pool.DecodeJob(tmp_path / "x.dcm", None, 1, 1, np.dtype("<u2"), 12)]
    assert list(decode_pool.decode_many(jobs * 3, processes=2))[0].startswith(
        "pixel data could not be decoded"
    )
    assert decode_pool._pool is None  # below MIN_SLICES
    import multiprocessing

    class Daemon:
        daemon = True

    monkeypatch.setattr(multiprocessing, "current_process", lambda: Daemon())
    assert decode_pool._get_pool(2) is None
    monkeypatch.undo()
    monkeypatch.setenv("NAPARI_RECIST_DECODE_PROCESSES", "0")
    assert decode_pool.decode_processes() == 0
    monkeypatch.setenv("NAPARI_RECIST_DECODE_PROCESSES", "three")
    assert decode_pool.decode_processes() >= 1


def test_a_broken_pool_falls_back_to_this_process(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from concurrent.futures.process import BrokenProcessPool

    _series(tmp_path, JPEG2000Lossless)
    reference = load_series(tmp_path, processes=1).array

    class Dying:
        """Decodes three slices, then its worker dies."""

        def map(self, function, jobs, chunksize=1):  # type: ignore[no-untyped-def]
            for job in list(jobs)[:3]:
                yield function(job)
            raise BrokenProcessPool("a worker was killed")

        def shutdown(self, wait=True, cancel_futures=False):  # type: ignore[no-untyped-def]
            pass

    monkeypatch.setattr(decode_pool, "_get_pool", lambda processes: Dying())
    assert load_series(tmp_path, processes=2).array.tobytes() == reference.tobytes()


def test_a_script_without_a_main_guard_is_not_run_again_by_the_workers(tmp_path: Path) -> None:
    import subprocess
    import sys

    series = tmp_path / "series"
    _series(series, JPEG2000Lossless)
    marker = tmp_path / "runs.txt"
    script = tmp_path / "script.py"
    script.write_text(
        "from napari_recist.io import decode_pool\n"
        "from napari_recist.io.volume import load_series\n"
        f"open({str(marker)!r}, 'a').write('ran\\n')\n"
        f"volume = load_series({str(series)!r}, processes=2)\n"
        "assert decode_pool._pool is not None, 'the pool broke'\n"
        "print(volume.array.shape)\n",
        encoding="utf-8",
    )
    done = subprocess.run(
        [sys.executable, str(script)], capture_output=True, text=True, timeout=300
    )
    assert done.returncode == 0, done.stderr
    assert marker.read_text(encoding="utf-8") == "ran\n"
    assert f"({DEPTH}, 64, 64)" in done.stdout
