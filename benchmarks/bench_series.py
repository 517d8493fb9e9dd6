"""Load a 300-slice 512x512 CT series: napari-recist vs SimpleITK vs plain pydicom.

Writes the series (uncompressed, 12-bit stored, intercept -1024, files named in reverse
position order as scanners do) to a temporary folder, checks that the three loaders agree
voxel for voxel, then prints the median wall time of each over a few runs (page cache warm,
one warm-up round, loaders interleaved round by round) and the ratios. Target: napari-recist
>= 3x faster than SimpleITK.

Run: ``.venv/bin/python benchmarks/bench_series.py [--runs N] [--slices N] [--cold]``
"""

from __future__ import annotations

import argparse
import datetime as dt
import os
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pydicom
import SimpleITK as sitk  # noqa: N813 - the name SimpleITK documents

from napari_recist.io.volume import load_series
from napari_recist.sample import CTSeriesIdentity, write_ct_series

SIZE = 512


def make_series(folder: Path, slices: int) -> None:
    """A body-like cylinder with noise: -1000 HU outside, soft tissue and bone inside."""
    rng = np.random.default_rng(7)
    y, x = np.mgrid[:SIZE, :SIZE]
    body = ((x - SIZE / 2) / 220) ** 2 + ((y - SIZE / 2) / 170) ** 2 <= 1
    bone = ((x - SIZE / 2) / 30) ** 2 + ((y - SIZE / 2 - 110) / 25) ** 2 <= 1
    plane = np.where(body, 40, -1000) + np.where(bone, 660, 0)
    hu = np.empty((slices, SIZE, SIZE), dtype=np.int16)
    for k in range(slices):
        hu[k] = np.clip(plane + rng.normal(0, 12, plane.shape), -1024, 3071)
    uid = pydicom.uid.generate_uid
    identity = CTSeriesIdentity(
        patient={"PatientName": "Bench^Series", "PatientID": "BENCH"},
        study_uid=uid(), study_date=dt.date(2024, 1, 1), study_id="1",
        accession_number="B1", study_description="benchmark", series_uid=uid(),
        series_number=1, series_description="benchmark 300 x 512 x 512",
        frame_of_reference_uid=uid(),
    )
    write_ct_series(hu, folder, identity, first_voxel_lps=(-250.0, -250.0, -300.0),
                    pixel_mm=0.98, slice_mm=1.0, compress=False)


def load_simpleitk(files: list[str]) -> np.ndarray:
    """SimpleITK's series reader on file names already sorted (its fastest use)."""
    reader = sitk.ImageSeriesReader()
    reader.SetFileNames(files)
    return sitk.GetArrayFromImage(reader.Execute())


def load_simpleitk_folder(folder: str) -> np.ndarray:
    """SimpleITK from a folder: GDCM finds and sorts the files, then the reader."""
    return load_simpleitk(list(sitk.ImageSeriesReader.GetGDCMSeriesFileNames(folder)))


def load_pydicom(folder: Path) -> np.ndarray:
    """Plain pydicom: read every file, sort along the slice normal, stack, rescale."""
    datasets = [pydicom.dcmread(path) for path in folder.iterdir()]
    orientation = np.array(datasets[0].ImageOrientationPatient, dtype=float)
    normal = np.cross(orientation[:3], orientation[3:])
    datasets.sort(key=lambda ds: float(np.dot(normal, np.array(ds.ImagePositionPatient, float))))
    stacked = np.stack([ds.pixel_array for ds in datasets])
    slope, intercept = float(datasets[0].RescaleSlope), float(datasets[0].RescaleIntercept)
    return (stacked * slope + intercept).astype(np.int16)


def evict_from_page_cache(folder: Path) -> None:
    """Ask the kernel to drop these files' cached pages (cold read; other files untouched)."""
    for path in folder.iterdir():
        descriptor = os.open(path, os.O_RDONLY)
        try:
            os.posix_fadvise(descriptor, 0, 0, os.POSIX_FADV_DONTNEED)
        finally:
            os.close(descriptor)


def interleaved_seconds(
    loaders: dict[str, Callable[[], object]], runs: int, before_each: Callable[[], None]
) -> dict[str, list[float]]:
    """Time every loader once per round, round after round, so that a burst of load on a
    shared machine hits all of them alike; one warm-up round first (page cache, imports)."""
    for function in loaders.values():
        function()
    times: dict[str, list[float]] = {name: [] for name in loaders}
    for _ in range(runs):
        for name, function in loaders.items():
            before_each()
            start = time.perf_counter()
            function()
            times[name].append(time.perf_counter() - start)
    return times


def first_slice_seconds(folder: Path) -> float:
    """Lazy loading: time until the first slice is in memory (what a viewer waits for)."""
    start = time.perf_counter()
    volume = load_series(folder, lazy=True)
    volume.array[volume.shape[0] // 2].compute()
    return time.perf_counter() - start


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=7)
    parser.add_argument("--slices", type=int, default=300)
    parser.add_argument(
        "--cold", action="store_true",
        help="evict the series from the page cache before every load (posix_fadvise)",
    )
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="bench_series_") as temporary:
        folder = Path(temporary)
        print(f"writing {args.slices} slices of {SIZE}x{SIZE} to {folder} ...", flush=True)
        make_series(folder, args.slices)
        files = list(sitk.ImageSeriesReader.GetGDCMSeriesFileNames(str(folder)))

        ours = load_series(folder).array
        if not (np.array_equal(ours, load_simpleitk(files))
                and np.array_equal(ours, load_pydicom(folder))):
            print("error: the loaders disagree", file=sys.stderr)
            return 1

        ours = "napari-recist load_series (folder)"
        times = interleaved_seconds(
            {
                ours: lambda: load_series(folder),
                "SimpleITK ImageSeriesReader (sorted file list)": lambda: load_simpleitk(files),
                "SimpleITK GetGDCMSeriesFileNames + reader (folder)": lambda: (
                    load_simpleitk_folder(str(folder))
                ),
                "pydicom read all + sort + stack (folder)": lambda: load_pydicom(folder),
            },
            args.runs,
            (lambda: evict_from_page_cache(folder)) if args.cold else (lambda: None),
        )
        lazy_times = []
        for _ in range(args.runs):
            if args.cold:
                evict_from_page_cache(folder)
            lazy_times.append(first_slice_seconds(folder))
        lazy = statistics.median(lazy_times)

    cache = "cold (evicted before each load)" if args.cold else "warm"
    print(f"\nmedian of {args.runs} interleaved runs, {args.slices} x {SIZE} x {SIZE} int16, "
          f"{cache} page cache; ratio = median of the per-round ratios to ours")
    for name, seconds in times.items():
        ratio = statistics.median(t / o for t, o in zip(seconds, times[ours], strict=True))
        print(f"  {name:52s} {statistics.median(seconds):7.3f} s   {ratio:5.1f}x ours")
    print(f"  {'napari-recist lazy: headers + one slice shown':52s} {lazy:7.3f} s")
    sitk_times = times["SimpleITK ImageSeriesReader (sorted file list)"]
    ratio = statistics.median(t / o for t, o in zip(sitk_times, times[ours], strict=True))
    verdict = "met" if ratio >= 3 else "NOT met"
    print(f"target >= 3x faster than SimpleITK: {ratio:.1f}x ({verdict})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
