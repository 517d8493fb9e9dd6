"""Load one CT series as a volume in Hounsfield units, with its patient and display geometry.

`load_series` turns one CT series into a `Volume`: voxels in HU ordered (z, y, x) with
positive spacing, an affine to patient LPS millimetres and warnings about the acquisition
(missing slices, uneven spacing, gantry tilt) in words and numbers. Single-frame CT and
multi-frame Enhanced / Legacy Converted Enhanced CT alike. Given a `SeriesInfo` from
`napari_recist.io.dicom_scan.scan_dicom_folder`, it uses the headers the scan already read
and opens each file once more, for its pixels only. `DisplayGeometry` says how a volume is
shown in patient millimetres (napari's world axes S, P, L, no negative scale).

Speed: headers of Explicit VR Little Endian files are read by `fast_header` (about 3x faster
than ``dcmread``), other files by ``dcmread``, with the pixel data skipped; then the pixel
bytes of uncompressed little-endian slices are read straight into the output array, and
compressed slices are decoded by pydicom's pixel handlers (pylibjpeg, openjpeg, RLE) in worker
processes (`napari_recist.io.decode_pool`: the decoders hold the interpreter lock, so threads
would not share the work), bit for bit what one process decodes. Header and raw pixel reads
run in a thread pool of `default_workers()` threads: one fewer than the CPU cores, leaving one
to the viewer. On the 2-core reference machine that is one thread, which
measured fastest (300 slices 512x512, shared machine: 0.085 s with one thread against 0.17 s
with 8 header + 8 pixel threads from a warm page cache, 0.22 s against 0.21 s cold; header
parsing holds the GIL). ``benchmarks/bench_series.py`` measures it against SimpleITK.

Damaged input policy (what a reader of the images expects: see every slice that is intact,
and be told plainly about the rest): a non-DICOM file or a DICOM file whose pixel data is cut
short is left out with a warning naming the file; a left-out slice becomes a gap that is
filled with a blank slice (see below) and reported. `load_series(..., strict=True)` raises
`InputError` instead. Nothing loadable at all is always an `InputError`.
"""

from __future__ import annotations

import datetime as dt
import os
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pydicom
from pydicom.dataset import Dataset
from pydicom.tag import Tag
from pydicom.uid import ExplicitVRLittleEndian, ImplicitVRLittleEndian

from napari_recist.errors import InputError, Problem
from napari_recist.io.decode_pool import DecodeJob, clear_unused_bits, decode_many, decode_stored
from napari_recist.io.dicom_scan import (
    DAMAGED_NOTES,
    DEFER_BYTES,
    SeriesInfo,
    ascii_numbers,
    ascii_value,
    default_workers,
    group_headers,
    integer_value,
    parallel_map,
    parse_dicom_date,
    raw_element,
    read_headers,
    series_info,
    series_sort_key,
    text_value,
    unsigned_short,
    walk_files,
)

PIXEL_DATA = Tag(0x7FE0, 0x0010)
# Uncompressed transfer syntaxes whose pixel bytes are little-endian and can be read as-is.
_RAW_LITTLE_ENDIAN = {ExplicitVRLittleEndian, ImplicitVRLittleEndian}
# Slice spacing tolerances: steps differing by more than this from the median are "uneven".
_SPACING_TOLERANCE_MM = 0.01
_TILT_TOLERANCE_DEG = 0.1
# A blank slice filling a gap holds the lowest value a CT stores (air is about -1000 HU).
FILL_VALUE_HU = -1024
# Declared sizes are checked before anything is allocated: a damaged or hostile header can
# declare 60000 x 60000 pixels or 2**31 frames. The limits are far above any CT (a 2048^2
# matrix, a few thousand slices) and can be raised by environment variables.
MAX_SLICE_PIXELS = int(os.environ.get("NAPARI_RECIST_MAX_SLICE_PIXELS", 8192 * 8192))
MAX_FRAMES = int(os.environ.get("NAPARI_RECIST_MAX_FRAMES", 20_000))
MAX_VOXELS = int(os.environ.get("NAPARI_RECIST_MAX_VOXELS", 2**31))
# Enhanced and Legacy Converted Enhanced CT Image Storage: geometry in functional groups.
_MULTI_FRAME_CT = {"1.2.840.10008.5.1.4.1.1.2.1", "1.2.840.10008.5.1.4.1.1.2.2"}


@dataclass
class Volume:
    """One CT series as a voxel array with its geometry and metadata.

    Attributes
    ----------
    array
        Voxels ``(z, y, x)`` in Hounsfield units: numpy array, or a dask array when loaded
        lazily. Eager arrays are int16 when the values fit, else int32 (float32 when a
        rescale slope is not 1); lazy arrays decide from Bits Stored before reading.
    spacing
        ``(z, y, x)`` voxel spacing in mm, all positive.
    origin
        Patient LPS position (mm) of the centre of voxel ``(0, 0, 0)``.
    direction
        3x3 matrix whose columns are the LPS unit vectors of the z, y and x index axes.
    affine
        4x4 matrix taking a voxel index ``(z, y, x, 1)`` to patient LPS ``(x, y, z, 1)`` mm.
        With a gantry tilt its z column follows the actual slice positions (a shear).
    sop_instance_uids
        SOP Instance UID of each z slice, None for a blank slice filling a gap.
    frame_numbers
        For slices from a multi-frame (enhanced) image, the 1-based frame number within
        its SOP instance (DICOM Referenced Frame Number), else None.
    files
        Source file of each z slice, None for a blank slice.
    warnings
        Acquisition problems and left-out files, in words with numbers.
    """

    array: Any
    spacing: tuple[float, float, float]
    origin: tuple[float, float, float]
    direction: np.ndarray
    affine: np.ndarray
    patient_id: str
    study_date: dt.date | None
    study_uid: str
    series_uid: str
    frame_of_reference_uid: str | None
    series_description: str
    sop_instance_uids: tuple[str | None, ...]
    files: tuple[Path | None, ...]
    window_center: float | None
    window_width: float | None
    warnings: list[str] = field(default_factory=list)
    frame_numbers: tuple[int | None, ...] = ()

    @property
    def shape(self) -> tuple[int, int, int]:
        """Array shape ``(z, y, x)``."""
        return tuple(int(n) for n in self.array.shape)  # type: ignore[return-value]

    @property
    def napari_affine(self) -> np.ndarray:
        """Affine from voxel ``(z, y, x)`` to world ``(S, P, L)`` = LPS reversed, in mm.

        napari displays the last two world axes; reversing LPS keeps axial slices in view
        with the usual radiological orientation (patient left on screen right).
        """
        reverse = np.eye(4)[[2, 1, 0, 3]]
        return reverse @ self.affine

    def index_to_lps(self, points: Sequence[Sequence[float]] | np.ndarray) -> np.ndarray:
        """Convert voxel indices ``(z, y, x)`` to patient LPS ``(x, y, z)`` millimetres.

        Parameters
        ----------
        points
            One point ``(3,)`` or many ``(n, 3)``, fractional indices allowed.

        Returns
        -------
        numpy.ndarray
            Same shape as ``points``.
        """
        index = np.asarray(points, dtype=float)
        flat = index.reshape(-1, 3)
        lps = flat @ self.affine[:3, :3].T + self.affine[:3, 3]
        return lps.reshape(index.shape)

    def lps_to_index(self, points: Sequence[Sequence[float]] | np.ndarray) -> np.ndarray:
        """Convert patient LPS ``(x, y, z)`` millimetres to fractional voxel ``(z, y, x)``.

        Parameters
        ----------
        points
            One point ``(3,)`` or many ``(n, 3)``.

        Returns
        -------
        numpy.ndarray
            Same shape as ``points``.
        """
        lps = np.asarray(points, dtype=float)
        flat = lps.reshape(-1, 3)
        index = np.linalg.solve(self.affine[:3, :3], (flat - self.affine[:3, 3]).T).T
        return index.reshape(lps.shape)

    def slice_index_of(self, sop_instance_uid: str, frame_number: int | None = None) -> int | None:
        """Return the z index of the slice with this SOP Instance UID (and frame), or None."""
        for z, uid in enumerate(self.sop_instance_uids):
            if uid == sop_instance_uid and (
                frame_number is None or not self.frame_numbers
                or self.frame_numbers[z] == frame_number
            ):
                return z
        return None



# ----------------------------------------------------------------------------- geometry


@dataclass(frozen=True)
class _Geometry:
    """Slice order and the volume geometry derived from image plane attributes."""

    order: list[int]  # header indices, sorted along the slice normal
    slots: list[int]  # z index of each sorted slice once gaps are filled
    depth: int
    spacing: tuple[float, float, float]
    origin: np.ndarray
    direction: np.ndarray
    affine: np.ndarray
    warnings: list[str]


def _floats(ds: Dataset, keyword: str, count: int, path: Path) -> np.ndarray:
    value = ascii_value(ds, keyword)
    try:
        numbers = np.array(ascii_numbers(ds, keyword), dtype=float)
    except ValueError:
        numbers = np.array([])
    if numbers.size != count or not np.all(np.isfinite(numbers)):
        tag = pydicom.datadict.tag_for_keyword(keyword)
        raise InputError(
            [Problem(str(path), f"missing or invalid {keyword} ({Tag(tag)}): {value!r}")]
        )
    return numbers


def _geometry(items: list[tuple[Path, Dataset]]) -> _Geometry:
    """Sort slices along the normal of their plane and build spacing, origin and affine."""
    path0, first = items[0]
    orientation = _floats(first, "ImageOrientationPatient", 6, path0)
    row_dir, col_dir = orientation[:3], orientation[3:]
    # DICOM PS3.3 C.7.6.2.1.1: the slice normal is the cross product of the row and column
    # direction cosines; slices are ordered by their position along it, not by file name
    # or Instance Number.
    normal = np.cross(row_dir, col_dir)
    normal /= np.linalg.norm(normal)
    positions = np.array([_floats(ds, "ImagePositionPatient", 3, p) for p, ds in items])
    along = positions @ normal
    order = sorted(range(len(items)), key=lambda i: (along[i], str(items[i][0])))
    pixel_spacing = _floats(first, "PixelSpacing", 2, path0)  # (row spacing, column spacing)
    warnings: list[str] = []

    duplicates = [
        (items[a][0], items[b][0])
        for a, b in zip(order, order[1:], strict=False)
        if abs(along[b] - along[a]) < _SPACING_TOLERANCE_MM
    ]
    if duplicates:
        a, b = duplicates[0]
        raise InputError(
            [
                Problem(
                    str(b),
                    f"same slice position as {a} ({len(duplicates)} such pair(s)): the series "
                    "holds more than one image per location; split it by acquisition first",
                )
            ]
        )

    sorted_along = along[order]
    steps = np.diff(sorted_along)
    slots = [0]
    if len(steps):
        step = float(np.median(steps))
        # A step that is close to a whole multiple of the usual step is a gap of missing
        # slices: blank slices are inserted so that every real slice keeps its position.
        for index, gap in enumerate(steps):
            multiple = round(gap / step)
            if multiple >= 2 and abs(gap - multiple * step) <= 0.1 * step:
                missing = multiple - 1
                warnings.append(
                    f"{missing} slice(s) missing between {sorted_along[index]:.2f} mm and "
                    f"{sorted_along[index + 1]:.2f} mm along the slice normal (gap "
                    f"{gap:.2f} mm, usual spacing {step:.2f} mm): filled with blank "
                    f"slices of {FILL_VALUE_HU} HU so every other slice keeps its position"
                )
            else:
                multiple = 1
            slots.append(slots[-1] + multiple)
    else:
        step = float(first.get("SpacingBetweenSlices") or first.get("SliceThickness") or 1.0)
        step = abs(step) or 1.0

    depth = slots[-1] + 1
    origin = positions[order[0]]
    direction = np.column_stack([normal, col_dir, row_dir])
    z_column = normal * step
    if depth > 1:
        # The z axis runs from the first to the last slice: with a gantry tilt the slice
        # origins move along a direction that is not the normal (a sheared affine keeps
        # every voxel where it was acquired); with uneven steps it is their mean.
        z_column = (positions[order[-1]] - origin) / (depth - 1)
        step = float(z_column @ normal)
        tilt = np.degrees(
            np.arccos(np.clip(abs(step) / np.linalg.norm(z_column), -1.0, 1.0))
        )
        if tilt > _TILT_TOLERANCE_DEG:
            warnings.append(
                f"gantry tilt of {tilt:.1f} degrees: slices are sheared along the table; the "
                "geometry follows the true slice positions (sheared affine)"
            )
        shown_at = sorted_along[0] + step * np.array(slots)
        worst = float(np.max(np.abs(sorted_along - shown_at)))
        if worst > _SPACING_TOLERANCE_MM:
            per_slot = steps / np.diff(slots)
            warnings.append(
                f"uneven slice spacing: steps from {float(np.min(per_slot)):.3f} to "
                f"{float(np.max(per_slot)):.3f} mm; slices are shown at a regular "
                f"{step:.3f} mm spacing, up to {worst:.2f} mm from their true position"
            )
    affine = np.eye(4)
    affine[:3, 0] = z_column
    affine[:3, 1] = col_dir * pixel_spacing[0]
    affine[:3, 2] = row_dir * pixel_spacing[1]
    affine[:3, 3] = origin
    spacing = (float(step), float(pixel_spacing[0]), float(pixel_spacing[1]))
    return _Geometry(order, slots, depth, spacing, origin, direction, affine, warnings)


# ----------------------------------------------------------------------------- pixels


@dataclass(frozen=True)
class _Slice:
    """Where one slice's pixels are and how to turn them into HU."""

    path: Path
    header: Dataset
    slope: float
    intercept: float
    raw_offset: int | None  # file offset of uncompressed little-endian pixel bytes
    stored_dtype: np.dtype
    bits_stored: int
    frame: int | None = None  # 0-based frame of a multi-frame image


def _stored_dtype(ds: Dataset) -> np.dtype:
    bits = unsigned_short(ds, "BitsAllocated", 16)
    signed = unsigned_short(ds, "PixelRepresentation", 0) == 1
    if bits not in (8, 16, 32):
        raise ValueError(f"Bits Allocated (0028,0100) {bits} is not supported")
    return np.dtype(f"{'i' if signed else 'u'}{bits // 8}").newbyteorder("<")


def _prepare_slice(path: Path, ds: Dataset, frame: int | None = None) -> _Slice | Problem:
    """Check one CT header (or frame) for loadable pixel data and find its fast-path offset."""
    try:
        if unsigned_short(ds, "SamplesPerPixel", 1) != 1:
            return Problem(str(path), "more than one sample per pixel: not a CT image")
        stored = _stored_dtype(ds)
    except ValueError as error:
        return Problem(str(path), str(error))
    if raw_element(ds, "PixelData") is None:
        return Problem(str(path), "no Pixel Data (7FE0,0010)")
    element = ds.get_item(PIXEL_DATA, keep_deferred=True)
    rows, columns = unsigned_short(ds, "Rows", 0), unsigned_short(ds, "Columns", 0)
    if rows == 0 or columns == 0:
        return Problem(str(path), f"declares {rows} x {columns} pixels: no image")
    if rows * columns > MAX_SLICE_PIXELS:
        return Problem(str(path), f"declares {rows} x {columns} pixels per slice, more than "
                       f"the {MAX_SLICE_PIXELS} read (NAPARI_RECIST_MAX_SLICE_PIXELS): refused "
                       "before allocating")
    expected = rows * columns * stored.itemsize
    syntax = getattr(getattr(ds, "file_meta", None), "TransferSyntaxUID", None)
    offset: int | None = None
    value_tell = getattr(element, "value_tell", None)
    frame_offset = (frame or 0) * expected
    if (
        syntax in _RAW_LITTLE_ENDIAN and value_tell is not None
        and element.length >= frame_offset + expected
    ):
        offset = int(value_tell) + frame_offset
        if offset + expected > path.stat().st_size:
            return Problem(
                str(path),
                f"file cut short: pixel data needs {expected} bytes from offset {offset}, "
                f"the file has {path.stat().st_size} bytes",
            )
    try:
        slope = float(ascii_value(ds, "RescaleSlope") or 1)
        intercept = float(ascii_value(ds, "RescaleIntercept") or 0)
    except ValueError:
        return Problem(str(path), "Rescale Slope / Intercept (0028,1053 / 0028,1052) not numbers")
    bits_stored = unsigned_short(ds, "BitsStored", stored.itemsize * 8)
    return _Slice(path, ds, slope, intercept, offset, stored, bits_stored, frame)


def _read_raw_into(item: _Slice, plane: np.ndarray) -> None:
    """Read uncompressed pixel bytes straight into a contiguous array of the right size."""
    with open(item.path, "rb", buffering=0) as handle:
        handle.seek(item.raw_offset or 0)
        count = handle.readinto(memoryview(plane).cast("B"))
    if count != plane.nbytes:
        raise InputError(
            [Problem(str(item.path), f"file cut short: {count} of {plane.nbytes} pixel bytes")]
        )


def _clear_unused_bits(item: _Slice, plane: np.ndarray) -> None:
    clear_unused_bits(item.stored_dtype, item.bits_stored, plane)


def _job(item: _Slice, rows: int, columns: int) -> DecodeJob:
    return DecodeJob(item.path, item.frame, rows, columns, item.stored_dtype, item.bits_stored)


def _checked(item: _Slice, decoded: np.ndarray | str) -> np.ndarray:
    if isinstance(decoded, str):
        raise InputError([Problem(str(item.path), decoded)])
    return decoded


def _read_stored(item: _Slice, rows: int, columns: int) -> np.ndarray:
    """Return one slice's stored values (before rescale), shape (rows, columns)."""
    if item.raw_offset is not None:
        data = np.empty((rows, columns), dtype=item.stored_dtype)
        _read_raw_into(item, data)
        _clear_unused_bits(item, data)
        return data
    return _checked(item, decode_stored(_job(item, rows, columns)))


def _integer_rescale(items: Sequence[_Slice]) -> int | None:
    """Return the common integer intercept when every slice has slope 1, else None."""
    slopes = {item.slope for item in items}
    intercepts = {item.intercept for item in items}
    if slopes == {1.0} and len(intercepts) == 1:
        intercept = intercepts.pop()
        if intercept.is_integer():
            return int(intercept)
    return None


def _fits(dtype: np.dtype, low: float, high: float) -> bool:
    info = np.iinfo(dtype)
    return info.min <= low and high <= info.max


def _stored_range(items: Sequence[_Slice]) -> tuple[int, int]:
    """Lowest and highest value Bits Stored and Pixel Representation allow."""
    low, high = 0, 0
    for item in items:
        bits = item.bits_stored
        if item.stored_dtype.kind == "i":
            low, high = min(low, -(2 ** (bits - 1))), max(high, 2 ** (bits - 1) - 1)
        else:
            high = max(high, 2**bits - 1)
    return low, high


def _lazy_dtype(items: Sequence[_Slice]) -> np.dtype:
    """Output dtype decided before reading: from Bits Stored and the rescale."""
    intercept = _integer_rescale(items)
    if intercept is None:
        return np.dtype(np.float32)
    low, high = _stored_range(items)
    if _fits(np.dtype(np.int16), low + intercept, high + intercept):
        return np.dtype(np.int16)
    return np.dtype(np.int32)


def _to_hu(stored: np.ndarray, item: _Slice, dtype: np.dtype) -> np.ndarray:
    # DICOM PS3.3 C.11.1.1.2: output units = m * stored value + b (Hounsfield units for CT).
    if dtype.kind == "f":
        return (stored.astype(np.float32) * np.float32(item.slope) + np.float32(item.intercept))
    return (stored.astype(dtype) + dtype.type(int(item.intercept))).astype(dtype, copy=False)


def _buffer_dtype(slices: Sequence[_Slice]) -> np.dtype:
    """Array type the stored values are read into: their own, or int16 when they fit.

    Unsigned values of at most 15 bits have the same bytes as int16, so reading them into
    an int16 array spares a conversion of the whole volume (CT is usually 12-bit stored).
    """
    stored = {item.stored_dtype for item in slices}
    bits = max(item.bits_stored for item in slices)
    if len(stored) != 1:
        return np.dtype(np.int32)
    dtype = stored.pop()
    if dtype.kind == "u" and dtype.itemsize == 2 and bits <= 15:
        return np.dtype(np.int16)
    return dtype.newbyteorder("=")


def _read_eager(
    slices: Sequence[_Slice], slots: Sequence[int], depth: int, rows: int, columns: int,
    workers: int, progress: Callable[[int], None] | None, processes: int | None = None,
) -> np.ndarray:
    """Read every slice into one array, converting to HU with the smallest fitting dtype."""
    intercept = _integer_rescale(slices)
    if intercept is None:
        volume = np.empty((depth, rows, columns), dtype=np.float32)
    else:
        volume = np.empty((depth, rows, columns), dtype=_buffer_dtype(slices))
    ranges: list[tuple[float, float]] = [(0.0, 0.0)] * len(slices)
    # When Bits Stored guarantees that HU fit int16 (12-bit CT), no value needs checking.
    low, high = _stored_range(slices)
    check_range = intercept is not None and not _fits(
        np.dtype(np.int16), min(low + intercept, FILL_VALUE_HU), high + intercept
    )
    # Known int16 output read into int16: add the intercept slice by slice while the slice
    # is still in the CPU cache, instead of one more pass over the whole volume.
    add_in_thread = bool(intercept) and not check_range and volume.dtype == np.int16

    def read_one(i: int, stored: np.ndarray | None = None) -> None:
        item, plane = slices[i], volume[slots[i]]
        if intercept is None:
            if stored is None:
                stored = _read_stored(item, rows, columns)
            plane[...] = _to_hu(stored, item, volume.dtype)
        else:
            if stored is not None:
                plane[...] = stored
            elif item.raw_offset is not None and item.stored_dtype.itemsize == volume.itemsize:
                _read_raw_into(item, plane)  # the fast path: no copy, no conversion
                _clear_unused_bits(item, plane)
            else:
                plane[...] = _read_stored(item, rows, columns)
            if check_range:
                ranges[i] = (float(plane.min()), float(plane.max()))
            elif add_in_thread:
                plane += np.int16(intercept)
        if progress is not None:
            progress(1)

    # Compressed slices are decoded in worker processes (`decode_pool`: the decoders hold the
    # interpreter lock); their stored values are copied in here, in the input order.
    compressed = [i for i, item in enumerate(slices) if item.raw_offset is None]
    raw = [i for i, item in enumerate(slices) if item.raw_offset is not None]
    parallel_map(lambda k: read_one(raw[k]), len(raw), workers)
    jobs = [_job(slices[i], rows, columns) for i in compressed]
    for i, decoded in zip(compressed, decode_many(jobs, processes), strict=True):
        read_one(i, _checked(slices[i], decoded))
    filled = sorted(set(range(depth)) - set(slots))
    if intercept is None:
        volume[filled] = FILL_VALUE_HU
        return volume
    if check_range:
        low, high = min(r[0] for r in ranges), max(r[1] for r in ranges)
    low, high = min(low + intercept, FILL_VALUE_HU), max(high + intercept, FILL_VALUE_HU)
    target = np.dtype(np.int16) if _fits(np.dtype(np.int16), low, high) else np.dtype(np.int32)
    if volume.dtype != target:
        volume = volume.astype(target)
    if intercept and not add_in_thread:
        volume += target.type(intercept)  # in place: the range check above rules out overflow
    volume[filled] = FILL_VALUE_HU
    return volume


def _lazy_plane(item: _Slice | None, rows: int, columns: int, dtype: np.dtype) -> np.ndarray:
    """One z chunk ``(1, rows, columns)`` of a lazy volume: read, or blank for a gap."""
    if item is None:
        return np.full((1, rows, columns), FILL_VALUE_HU, dtype=dtype)
    return _to_hu(_read_stored(item, rows, columns), item, dtype)[np.newaxis]


def _read_lazy(
    slices: Sequence[_Slice], slots: Sequence[int], depth: int, rows: int, columns: int
) -> Any:
    """Return a dask array reading (and decoding) each slice only when it is computed.

    The task graph is written directly (one task per slice): building it with
    ``dask.delayed`` + ``stack`` took longer than reading an uncompressed series.
    """
    import dask.array as da
    from dask.base import tokenize

    dtype = _lazy_dtype(slices)
    by_slot = dict(zip(slots, slices, strict=True))
    name = "napari-recist-ct-" + tokenize([str(s.path) for s in slices], list(slots), str(dtype))
    graph = {
        (name, z, 0, 0): (_lazy_plane, by_slot.get(z), rows, columns, dtype) for z in range(depth)
    }
    return da.Array(graph, name, chunks=((1,) * depth, (rows,), (columns,)), dtype=dtype)


# ----------------------------------------------------------------------------- loading


SeriesSource = str | os.PathLike[str] | SeriesInfo | Sequence[str | os.PathLike[str]]


def _source_paths(source: SeriesSource) -> tuple[list[Path], str | None]:
    if isinstance(source, SeriesInfo):
        return list(source.files), source.series_uid
    if isinstance(source, str | os.PathLike):
        return walk_files(Path(source)), None
    paths = [Path(p) for p in source]
    missing = [p for p in paths if not p.is_file()]
    if missing:
        raise InputError([Problem(str(p), "no such file") for p in missing])
    return paths, None


def _choose_series(
    ct: dict[str, list[tuple[Path, Dataset]]], wanted: str | None, where: str
) -> tuple[str, list[tuple[Path, Dataset]]]:
    if wanted is not None:
        if wanted not in ct:
            raise InputError([Problem(where, f"no CT series with UID {wanted}")])
        return wanted, ct[wanted]
    if not ct:
        raise InputError([Problem(where, "no CT image series found")])
    if len(ct) > 1:
        listing = [series_info(uid, items) for uid, items in ct.items()]
        listing.sort(key=series_sort_key)
        raise InputError(
            [Problem(where, f"{len(ct)} CT series found; choose one with series_uid:")]
            + [Problem(where, "  " + info.describe()) for info in listing]
        )
    uid = next(iter(ct))
    return uid, ct[uid]


def _consistent_plane(
    items: list[tuple[Path, Dataset]], warnings: list[str]
) -> list[tuple[Path, Dataset]]:
    """Keep the slices sharing the commonest size, orientation and pixel spacing; warn."""

    def rounded(ds: Dataset, keyword: str) -> tuple[float, ...]:
        try:
            return tuple(round(v, 4) for v in ascii_numbers(ds, keyword))
        except ValueError:
            return ()

    def plane(ds: Dataset) -> tuple[object, ...]:
        return (
            unsigned_short(ds, "Rows", 0), unsigned_short(ds, "Columns", 0),
            rounded(ds, "ImageOrientationPatient"), rounded(ds, "PixelSpacing"),
        )

    counts = Counter(plane(ds) for _, ds in items)
    if len(counts) == 1:
        return items
    keep = counts.most_common(1)[0][0]
    dropped = [path for path, ds in items if plane(ds) != keep]
    warnings.append(
        f"{len(dropped)} file(s) of the series have another size, orientation or pixel "
        f"spacing and were left out (e.g. {dropped[0]}); kept {counts[keep]} slices of "
        f"{keep[0]}x{keep[1]} pixels"
    )
    return [(path, ds) for path, ds in items if plane(ds) == keep]


def _functional(group: Dataset | None, sequence: str) -> Dataset | None:
    """First item of a functional group macro sequence (PS3.3 C.7.6.16), if present."""
    items = group.get(sequence) if group is not None else None
    return items[0] if items else None


def _frames(path: Path, header: Dataset) -> list[tuple[Dataset, int | None]]:
    """One (header, frame) per image: the header itself, or one per frame of a multi-frame.

    Multi-frame (Enhanced or Legacy Converted Enhanced CT) images keep plane position,
    orientation, pixel spacing, rescale and window in functional group sequences (PS3.3
    C.7.6.16); each frame gets a single-frame-like header with those values copied from
    its per-frame group, else the shared one.
    """
    count = integer_value(ascii_value(header, "NumberOfFrames"), 1) or 1
    if count <= 1 and ascii_value(header, "SOPClassUID") not in _MULTI_FRAME_CT:
        return [(header, None)]
    if count > MAX_FRAMES:
        raise InputError([Problem(str(path), f"declares {count} frames, more than the "
                                  f"{MAX_FRAMES} read (NAPARI_RECIST_MAX_FRAMES): refused "
                                  "before allocating")])
    element = header.get_item(PIXEL_DATA, keep_deferred=True)
    length = getattr(element, "length", None)
    rows, columns = unsigned_short(header, "Rows", 0), unsigned_short(header, "Columns", 0)
    frame_bytes = rows * columns * max(1, unsigned_short(header, "BitsAllocated", 16) // 8)
    if length not in (None, 0xFFFFFFFF) and frame_bytes and count * frame_bytes > length:
        raise InputError([Problem(str(path), f"declares {count} frames of {rows} x {columns} "
                                  f"pixels ({count * frame_bytes} bytes) but its Pixel Data "
                                  f"holds {length} bytes")])
    full = pydicom.dcmread(path, defer_size=DEFER_BYTES)  # with the sequences
    shared = _functional(full, "SharedFunctionalGroupsSequence")
    per_frame = full.get("PerFrameFunctionalGroupsSequence") or [None] * count
    copied = (
        "SOPInstanceUID", "SOPClassUID", "Modality", "SeriesInstanceUID", "StudyInstanceUID",
        "StudyDate", "PatientID", "SeriesDescription", "FrameOfReferenceUID", "Rows",
        "Columns", "BitsAllocated", "BitsStored", "PixelRepresentation", "SamplesPerPixel",
        "RescaleSlope", "RescaleIntercept", "WindowCenter", "WindowWidth",
    )
    frames = []
    for index in range(count):
        own = per_frame[index] if index < len(per_frame) else None
        ds = Dataset()
        for keyword in copied:
            if keyword in full:
                setattr(ds, keyword, full[keyword].value)
        for sequence, keywords in (
            ("PlanePositionSequence", ("ImagePositionPatient",)),
            ("PlaneOrientationSequence", ("ImageOrientationPatient",)),
            ("PixelMeasuresSequence", ("PixelSpacing", "SliceThickness")),
            ("PixelValueTransformationSequence", ("RescaleSlope", "RescaleIntercept")),
            ("FrameVOILUTSequence", ("WindowCenter", "WindowWidth")),
        ):
            item = _functional(own, sequence) or _functional(shared, sequence)
            for keyword in keywords:
                if item is not None and keyword in item:
                    setattr(ds, keyword, item[keyword].value)
        ds.file_meta = full.file_meta
        if PIXEL_DATA in full:
            ds[PIXEL_DATA] = full.get_item(PIXEL_DATA, keep_deferred=True)
        frames.append((ds, index))
    return frames


def _first_number(value: object) -> float | None:
    if value is None or value == "":
        return None
    if isinstance(value, pydicom.multival.MultiValue | list | tuple):
        value = value[0] if len(value) else None
    try:
        return float(value)  # type: ignore[arg-type]
    except (TypeError, ValueError):
        return None


def load_series(
    source: SeriesSource,
    *,
    series_uid: str | None = None,
    lazy: bool = False,
    strict: bool = False,
    workers: int | None = None,
    progress: Callable[[int], None] | None = None,
    processes: int | None = None,
) -> Volume:
    """Load one CT series as a volume in Hounsfield units with its patient geometry.

    Parameters
    ----------
    source
        A folder (searched at any depth), a list of files, or a `SeriesInfo` (whose headers,
        read by the folder scan, are used instead of reading them again).
    series_uid
        Which series to load when the source holds several CT series.
    lazy
        Return a dask array whose slices are read only when computed (a viewer can show
        the first slice before the rest is read).
    strict
        Raise `InputError` on any damaged or non-DICOM file instead of leaving it out with
        a warning.
    workers
        Threads reading headers and pixel data; default `default_workers()`.
    progress
        Called with 1 after each slice is read (eager loading), e.g. ``tqdm.update``.
    processes
        Worker processes decoding compressed slices (eager loading; `decode_pool`); default
        ``NAPARI_RECIST_DECODE_PROCESSES`` or the CPU count; 0 or 1 decodes in this process.
        The volume is the same, bit for bit, either way.

    Returns
    -------
    Volume
        Slices sorted along the slice normal, positive spacing, metadata and warnings.

    Raises
    ------
    InputError
        No CT series, several series and no ``series_uid``, missing geometry, slices at the
        same position, or (with ``strict``) any unreadable file.
    """
    paths, uid_from_info = _source_paths(source)
    if isinstance(source, str | os.PathLike):
        where = str(source)
    else:
        where = str(paths[0].parent) if paths else "the files given"
    workers = workers or default_workers()
    if isinstance(source, SeriesInfo) and len(source.headers) == len(source.files):
        # The folder scan's headers: each file is opened once more, for its pixels only.
        headers: list[tuple[Path, Dataset | Problem]] = list(
            zip(source.files, source.headers, strict=True)
        )
    else:
        headers = read_headers(paths, defer_pixels=True, workers=workers)
    ct, _reports, notes = group_headers(headers)
    damaged = [n for n in notes if n.message.startswith(DAMAGED_NOTES)]
    if strict and damaged:
        raise InputError(damaged)
    uid, items = _choose_series(ct, series_uid or uid_from_info, where)
    warnings = [f"left out {n.source}: {n.message}" for n in damaged]
    items = _consistent_plane(items, warnings)

    prepared = [
        _prepare_slice(path, ds, frame)
        for path, header in items
        for ds, frame in _frames(path, header)
    ]
    bad = [p for p in prepared if isinstance(p, Problem)]
    if bad and (strict or len(bad) == len(prepared)):
        raise InputError(bad)
    warnings += [f"left out {p.source}: {p.message}" for p in bad]
    usable = [item for item in prepared if not isinstance(item, Problem)]

    geometry = _geometry([(item.path, item.header) for item in usable])
    warnings = geometry.warnings + warnings
    ordered = [usable[i] for i in geometry.order]
    first = ordered[0].header
    rows, columns = int(first.Rows), int(first.Columns)
    if geometry.depth * rows * columns > MAX_VOXELS:
        raise InputError([Problem(where, f"{uid}: {geometry.depth} slices of {rows} x {columns} "
                                  f"pixels exceed the {MAX_VOXELS} voxels read "
                                  "(NAPARI_RECIST_MAX_VOXELS): refused before allocating "
                                  "(a gap in the slice positions can make a volume this deep)")])
    if lazy:
        array = _read_lazy(ordered, geometry.slots, geometry.depth, rows, columns)
    else:
        array = _read_eager(
            ordered, geometry.slots, geometry.depth, rows, columns, workers, progress, processes
        )

    sop_uids: list[str | None] = [None] * geometry.depth
    files: list[Path | None] = [None] * geometry.depth
    frame_numbers: list[int | None] = [None] * geometry.depth
    for slot, item in zip(geometry.slots, ordered, strict=True):
        sop_uids[slot] = ascii_value(item.header, "SOPInstanceUID") or None
        files[slot] = item.path
        frame_numbers[slot] = None if item.frame is None else item.frame + 1
    return Volume(
        array=array,
        spacing=geometry.spacing,
        origin=tuple(float(v) for v in geometry.origin),  # type: ignore[arg-type]
        direction=geometry.direction,
        affine=geometry.affine,
        patient_id=text_value(first, "PatientID"),
        study_date=parse_dicom_date(first.get("StudyDate")),
        study_uid=text_value(first, "StudyInstanceUID"),
        series_uid=uid,
        frame_of_reference_uid=text_value(first, "FrameOfReferenceUID") or None,
        series_description=text_value(first, "SeriesDescription"),
        sop_instance_uids=tuple(sop_uids),
        files=tuple(files),
        window_center=_first_number(first.get("WindowCenter")),
        window_width=_first_number(first.get("WindowWidth")),
        warnings=warnings,
        frame_numbers=tuple(frame_numbers),
    )

