"""Load a 300-slice 512x512 CT series: napari-recist vs SimpleITK vs plain pydicom vs the disk.

Writes the series (12-bit stored, intercept -1024, files named in reverse position order as
scanners do; uncompressed, RLE Lossless or JPEG 2000 Lossless with ``--syntax``) to a temporary
folder, checks that every loader gives the same voxels (napari-recist with its decode processes
and in one process, bit for bit), then prints the median wall time of each over a few runs
(one warm-up round, loaders interleaved round by round; page cache warm, or evicted before
every load with ``--cold``) and the median per-round ratios. What is timed, each from the
folder or file list to a HU array in memory:

- napari-recist `load_series(folder)`: header pass, sort, pixels (compressed slices decoded in
  `decode_pool`'s worker processes, started once per session: the first load, which starts
  them, is reported apart);
- the same in one process (``processes=1``: the single-process decode);
- SimpleITK `ImageSeriesReader` on the sorted file list (GDCM, its own threads), and from the
  folder (GDCM finds and sorts the files);
- pydicom: read every file, sort, stack, rescale;
- the disk floor: read every file's bytes (nothing decoded).

Also the peak memory napari-recist's process allocates during a load (tracemalloc, numpy
included; the decode workers hold a few slices each) against the volume's size.
Targets: >= 3x faster than SimpleITK warm (uncompressed, RLE), JPEG 2000 at least as fast as
SimpleITK, <= 1.5x the disk floor cold, memory <= 1.1x the volume.

Run: ``.venv/bin/python benchmarks/bench_series.py [--runs N] [--slices N] [--cold]
[--syntax uncompressed|rle|j2k]``
"""

from __future__ import annotations

import argparse
import datetime as dt
import os
import statistics
import sys
import tempfile
import time
import tracemalloc
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pydicom
import SimpleITK as sitk  # noqa: N813 - the name SimpleITK documents
from pydicom.uid import JPEG2000Lossless

from napari_recist.io.volume import load_series
from napari_recist.sample import CTSeriesIdentity, write_ct_series

SIZE = 512


def make_series(folder: Path, slices: int, syntax: str = "uncompressed") -> None:
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
    paths = write_ct_series(hu, folder, identity, first_voxel_lps=(-250.0, -250.0, -300.0),
                            pixel_mm=0.98, slice_mm=1.0, compress=syntax == "rle")
    if syntax == "j2k":
        for path in paths:
            ds = pydicom.dcmread(path)
            ds.compress(JPEG2000Lossless, encoding_plugin="pylibjpeg",
                        generate_instance_uid=False)
            ds.save_as(path, enforce_file_format=True)


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


def read_bytes(folder: Path) -> int:
    """The disk floor: every file's bytes read, nothing parsed or decoded."""
    total = 0
    for path in folder.iterdir():
        with open(path, "rb", buffering=0) as handle:
            total += len(handle.read())
    return total


def peak_memory_ratio(folder: Path) -> tuple[float, float]:
    """Peak bytes allocated in this process by one load, and that over the volume's bytes."""
    tracemalloc.start()
    volume = load_series(folder).array
    peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    return peak / 2**20, peak / volume.nbytes


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
    parser.add_argument("--syntax", choices=("uncompressed", "rle", "j2k"), default="uncompressed")
    parser.add_argument(
        "--cold", action="store_true",
        help="evict the series from the page cache before every load (posix_fadvise)",
    )
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="bench_series_") as temporary:
        folder = Path(temporary)
        print(f"writing {args.slices} slices of {SIZE}x{SIZE} ({args.syntax}) to {folder} ...",
              flush=True)
        make_series(folder, args.slices, args.syntax)
        files = list(sitk.ImageSeriesReader.GetGDCMSeriesFileNames(str(folder)))

        start = time.perf_counter()
        ours = load_series(folder).array  # starts the decode processes of a compressed series
        first = time.perf_counter() - start
        single = load_series(folder, processes=1).array
        if not (np.array_equal(ours, single) and ours.dtype == single.dtype
                and np.array_equal(ours, load_simpleitk(files))
                and np.array_equal(ours, load_pydicom(folder))):
            print("error: the loaders disagree", file=sys.stderr)
            return 1
        volume_mb = ours.nbytes / 2**20
        memory_mb, memory_ratio = peak_memory_ratio(folder)

        ours = "napari-recist load_series (folder)"
        sitk_name = "SimpleITK ImageSeriesReader (sorted file list)"
        floor = "disk floor: read every file's bytes"
        times = interleaved_seconds(
            {
                ours: lambda: load_series(folder),
                "napari-recist load_series, one process": lambda: load_series(
                    folder, processes=1
                ),
                sitk_name: lambda: load_simpleitk(files),
                "SimpleITK GetGDCMSeriesFileNames + reader (folder)": lambda: (
                    load_simpleitk_folder(str(folder))
                ),
                "pydicom read all + sort + stack (folder)": lambda: load_pydicom(folder),
                floor: lambda: read_bytes(folder),
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

    def ratio(name: str) -> float:
        return statistics.median(t / o for t, o in zip(times[name], times[ours], strict=True))

    cache = "cold (evicted before each load)" if args.cold else "warm"
    print(f"\nmedian of {args.runs} interleaved runs, {args.slices} x {SIZE} x {SIZE} int16, "
          f"{args.syntax}, {cache} page cache, {os.cpu_count()} CPUs, 1-minute load average "
          f"{os.getloadavg()[0]:.1f}; ratio = median of the per-round ratios to ours")
    for name, seconds in times.items():
        print(f"  {name:52s} {statistics.median(seconds):7.3f} s   {ratio(name):5.2f}x ours")
    print(f"  {'napari-recist lazy: headers + one slice shown':52s} {lazy:7.3f} s")
    print(f"  {'napari-recist first load (decode processes start)':52s} {first:7.3f} s")
    print(f"  peak memory of a load: {memory_mb:.0f} MB for a {volume_mb:.0f} MB volume "
          f"({memory_ratio:.2f}x; target <= 1.1x)")
    speed = ratio(sitk_name)
    if args.syntax == "j2k":
        print(f"target at least as fast as SimpleITK: {speed:.2f}x "
              f"({'met' if speed >= 1 else 'NOT met'})")
    elif not args.cold:
        print(f"target >= 3x faster than SimpleITK: {speed:.1f}x "
              f"({'met' if speed >= 3 else 'NOT met'})")
    if args.cold:
        over = 1 / ratio(floor)
        print(f"ours over the disk floor: {over:.2f}x ({'met' if over <= 1.5 else 'NOT met'}"
              " against <= 1.5x)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
