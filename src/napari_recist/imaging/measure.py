"""Semi-automatic RECIST measurement: one click inside a lesion -> long and short axes.

`measure_lesion` segments the lesion on the clicked axial slice and measures it:

1. a box of ``2 x max_diameter_mm`` around the click is smoothed (SimpleITK recursive
   Gaussian, `MeasureSettings.smoothing_mm`) and resampled to `fine_pixel_mm` pixels
   (linear), so the edges fall between pixels as they do in the image;
2. the lesion's HU is the median around the click (it must lie in `hu_range`: a click on
   air, lung or bone is refused); a first region grown from the click (SimpleITK
   ``ConnectedThreshold``, +-`seed_tolerance_hu`) gives the surrounding tissue's HU from a
   ring just outside it;
3. the final region grows from the click over HU within half the lesion-surrounding
   contrast of the lesion's HU (the 50 % edge of a partial-volume boundary), holes filled;
4. leakage guards: a region touching the box or larger than `max_diameter_mm` is opened
   (morphological opening, growing radius) to cut it from what it leaked into, keeping the
   part around the click; if that does not help, nothing is measured and the problem says
   so; a contrast below `min_contrast_hu` is no edge;
5. RECIST 1.1 (section 3.2 / appendix I): the long axis is the longest in-plane diameter of
   the region (the farthest pair of its convex hull, plus a fine pixel for the two half
   pixels at its ends) and the short axis the longest chord perpendicular to it; a lymph
   node is measured by its short axis; a lesion whose long axis is under
   `min_diameter_mm` is ``too-small`` (RECIST 1.1 section 3.2: too small to measure).

The same HU window, grown in 3D from the click in a box around the lesion, gives the
segmentation's volume and the slice where the lesion is largest; ``on_largest_slice=True``
measures there (the slice a reader would choose). The reader can always move the lines.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from typing import Any

import numpy as np

from napari_recist.errors import Problem
from napari_recist.imaging._sitk import clip_box, image_array, require_sitk, volume_image
from napari_recist.io.volume import Volume
from napari_recist.model import AxisGeometry, LesionState, Measurement, MeasurementMethod


@dataclass(frozen=True)
class MeasureSettings:
    """Limits and steps of the semi-automatic measurement.

    Parameters
    ----------
    max_diameter_mm
        Largest lesion looked for; the working box is twice this wide.
    min_diameter_mm
        A long axis below this is ``too-small`` (the usual 5 mm a too-small lesion counts
        for, RECIST 1.1 appendix I).
    fine_pixel_mm
        Pixel size the slice is resampled to for the edge (at most the image's own).
    smoothing_mm
        Gaussian sigma of the noise suppression.
    hu_range
        HU the lesion (at the click) must have: soft tissue, fluid, enhancing tissue.
    min_contrast_hu
        Least difference between lesion and surroundings that makes an edge.
    seed_tolerance_hu
        HU range of the first region grown to find the surroundings.
    max_opening_mm
        Largest opening radius tried to cut a leak.
    """

    max_diameter_mm: float = 120.0
    min_diameter_mm: float = 5.0
    fine_pixel_mm: float = 0.5
    smoothing_mm: float = 1.0
    hu_range: tuple[float, float] = (-300.0, 400.0)
    min_contrast_hu: float = 30.0
    seed_tolerance_hu: float = 20.0
    max_opening_mm: float = 6.0


@dataclass(frozen=True)
class SemiAutomaticResult:
    """What the semi-automatic measurement found.

    Attributes
    ----------
    state
        ``measured`` or ``too-small``; None when nothing could be segmented (see `problem`).
    problem
        Why nothing was measured, naming the series and slice; None on success.
    long_axis_mm, short_axis_mm
        RECIST diameters in mm (None when not measured).
    long_axis, short_axis
        The lines, end points in LPS on the measured slice, with its SOP Instance UID.
    slice_index
        The axial slice measured.
    area_mm2
        Area of the lesion on that slice.
    lesion_hu, surrounding_hu
        Median HU of the lesion at the click and of the tissue around it.
    hu_window
        The HU range the region was grown over.
    largest_slice_index
        The slice where the 3D segmentation is largest, or None.
    volume_mm3
        Volume of the 3D segmentation, or None when it reached the edge of its box.
    notes
        What was done that a reader should know (a leak cut, a 3D box reached...).
    """

    state: LesionState | None
    problem: Problem | None
    slice_index: int
    long_axis_mm: float | None = None
    short_axis_mm: float | None = None
    long_axis: AxisGeometry | None = None
    short_axis: AxisGeometry | None = None
    area_mm2: float | None = None
    lesion_hu: float | None = None
    surrounding_hu: float | None = None
    hu_window: tuple[float, float] | None = None
    largest_slice_index: int | None = None
    volume_mm3: float | None = None
    notes: tuple[str, ...] = field(default=())

    @property
    def ok(self) -> bool:
        """True when a state (measured or too-small) was found."""
        return self.state is not None

    def diameter_mm(self, nodal: bool) -> float | None:
        """The RECIST 1.1 diameter: short axis for a lymph node, else the long axis."""
        return self.short_axis_mm if nodal else self.long_axis_mm

    def to_measurement(self, lesion_id: str,
                       method: MeasurementMethod = MeasurementMethod.SEMI_AUTOMATIC
                       ) -> Measurement:
        """The result as a model `Measurement` whose ``extra`` says how it was made."""
        extra = {"method": method.value}
        if self.volume_mm3 is not None:
            extra["volume_mm3"] = f"{self.volume_mm3:.0f}"
        if self.state is None:
            return Measurement(lesion_id, LesionState.NOT_EVALUATED, extra=extra)
        if self.state is LesionState.TOO_SMALL:
            return Measurement(lesion_id, LesionState.TOO_SMALL, extra=extra)
        return Measurement(
            lesion_id, LesionState.MEASURED,
            long_axis_mm=None if self.long_axis_mm is None else round(float(self.long_axis_mm), 1),
            short_axis_mm=(
                None if self.short_axis_mm is None else round(float(self.short_axis_mm), 1)
            ),
            long_axis=self.long_axis, short_axis=self.short_axis, extra=extra,
        )


# ----------------------------------------------------------------------------- geometry


def _convex_hull(points: np.ndarray) -> np.ndarray:
    """Convex hull vertices of 2D points (Andrew's monotone chain)."""
    unique = np.unique(points, axis=0)
    if len(unique) < 3:
        return unique

    def cross(o: np.ndarray, a: np.ndarray, b: np.ndarray) -> float:
        return float((a[0] - o[0]) * (b[1] - o[1]) - (a[1] - o[1]) * (b[0] - o[0]))

    lower: list[np.ndarray] = []
    for p in unique:
        while len(lower) >= 2 and cross(lower[-2], lower[-1], p) <= 0:
            lower.pop()
        lower.append(p)
    upper: list[np.ndarray] = []
    for p in unique[::-1]:
        while len(upper) >= 2 and cross(upper[-2], upper[-1], p) <= 0:
            upper.pop()
        upper.append(p)
    return np.array(lower[:-1] + upper[:-1])


def _boundary(mask: np.ndarray) -> np.ndarray:
    """Pixels of a mask with a 4-neighbour outside it."""
    padded = np.pad(mask, 1)
    inner = (padded[1:-1, 1:-1] & padded[:-2, 1:-1] & padded[2:, 1:-1]
             & padded[1:-1, :-2] & padded[1:-1, 2:])
    return mask & ~inner


def recist_axes(points_mm: np.ndarray, boundary_mm: np.ndarray, pixel_mm: float
                ) -> tuple[tuple[np.ndarray, np.ndarray], tuple[np.ndarray, np.ndarray]]:
    """Long axis and perpendicular short axis of a region given by its pixel centres.

    Parameters
    ----------
    points_mm
        ``(n, 2)`` in-plane mm coordinates of every pixel of the region.
    boundary_mm
        ``(m, 2)`` coordinates of its boundary pixels.
    pixel_mm
        The (square) pixel size: each end of a line reaches half a pixel beyond the centre
        of the last pixel.

    Returns
    -------
    tuple
        ``((long_start, long_end), (short_start, short_end))``, each an ``(2,)`` mm point.
    """
    hull = _convex_hull(boundary_mm)
    if len(hull) < 2:
        centre = points_mm.mean(axis=0)
        half = np.array([pixel_mm / 2, 0.0])
        return (centre - half, centre + half), (centre - half[::-1], centre + half[::-1])
    differences = hull[:, None, :] - hull[None, :, :]
    distances = np.einsum("ijk,ijk->ij", differences, differences)
    i, j = np.unravel_index(int(np.argmax(distances)), distances.shape)
    start, end = hull[i], hull[j]
    direction = (end - start) / np.linalg.norm(end - start)
    long_axis = (start - direction * pixel_mm / 2, end + direction * pixel_mm / 2)
    # The longest chord perpendicular to the long axis: pixels binned along the long axis,
    # each bin split into runs of touching pixels across it.
    normal = np.array([-direction[1], direction[0]])
    along = points_mm @ direction
    across = points_mm @ normal
    bins = np.rint(along / pixel_mm).astype(np.int64)
    order = np.lexsort((across, bins))
    bins, across = bins[order], across[order]
    new_run = np.ones(len(bins), dtype=bool)
    new_run[1:] = (bins[1:] != bins[:-1]) | (np.diff(across) > 1.5 * pixel_mm)
    starts = np.flatnonzero(new_run)
    lows = across[starts]
    highs = np.maximum.reduceat(across, starts)
    best = int(np.argmax(highs - lows))
    at = bins[starts[best]] * pixel_mm
    short_axis = (direction * at + normal * (lows[best] - pixel_mm / 2),
                  direction * at + normal * (highs[best] + pixel_mm / 2))
    return long_axis, short_axis


# ----------------------------------------------------------------------------- one slice


@dataclass(frozen=True)
class _SliceRegion:
    mask: np.ndarray  # fine grid, rows = y
    origin_mm: np.ndarray  # (a, b) in-plane mm of fine pixel (0, 0): a = x * sx, b = y * sy
    pixel_mm: float
    lesion_hu: float
    surrounding_hu: float
    window: tuple[float, float]
    notes: tuple[str, ...]


def _slice_problem(volume: Volume, k: int, message: str) -> Problem:
    return Problem(f"series {volume.series_uid}", message, column=f"slice {k + 1}")


def _segment_slice(volume: Volume, k: int, seed_yx: np.ndarray,
                   settings: MeasureSettings) -> _SliceRegion | Problem:
    """Segment the lesion around a seed on slice `k` (see the module docstring)."""
    sitk = require_sitk()
    _, sy, sx = volume.spacing
    half = settings.max_diameter_mm
    box = clip_box(((k, k + 1),
                    (int(seed_yx[0] - half / sy), int(seed_yx[0] + half / sy) + 2),
                    (int(seed_yx[1] - half / sx), int(seed_yx[1] + half / sx) + 2)),
                   volume.shape)
    (_, _), (y0, y1), (x0, x1) = box
    plane = np.asarray(volume.array[k, y0:y1, x0:x1], dtype=np.float32)
    image = sitk.GetImageFromArray(plane)
    image.SetSpacing((float(sx), float(sy)))
    image.SetOrigin((x0 * sx, y0 * sy))
    smooth = sitk.SmoothingRecursiveGaussian(image, settings.smoothing_mm)
    fine = min(settings.fine_pixel_mm, sx, sy)
    size = [int(np.floor((n - 1) * s / fine)) + 1 for n, s in zip(image.GetSize(), (sx, sy),
                                                                  strict=True)]
    upsampled = sitk.Resample(smooth, size, sitk.Transform(), sitk.sitkLinear,
                              image.GetOrigin(), (fine, fine), image.GetDirection(), 0.0,
                              sitk.sitkFloat32)
    values = image_array(upsampled)
    origin = np.array(image.GetOrigin())
    seed = (int(round((seed_yx[1] * sx - origin[0]) / fine)),
            int(round((seed_yx[0] * sy - origin[1]) / fine)))
    native = image_array(smooth)
    sr, sc = int(round(seed_yx[0])) - y0, int(round(seed_yx[1])) - x0
    lesion_hu = float(np.median(native[max(sr - 1, 0):sr + 2, max(sc - 1, 0):sc + 2]))
    low, high = settings.hu_range
    if not low <= lesion_hu <= high:
        return _slice_problem(volume, k, f"the click is on {lesion_hu:.0f} HU, outside the "
                              f"{low:g}..{high:g} HU of a soft-tissue lesion: click inside "
                              "the lesion")
    pixel_step = max(sx, sy) / fine
    rough = image_array(sitk.ConnectedThreshold(
        upsampled, [seed], lesion_hu - settings.seed_tolerance_hu,
        lesion_hu + settings.seed_tolerance_hu)).astype(bool)
    if _touches_edge(rough):
        return _slice_problem(volume, k, f"no lesion edge within {half:g} mm of the click "
                              f"({lesion_hu:.0f} HU continues): measure by hand")
    near = _dilate(rough, int(np.ceil(1.5 * pixel_step)))
    ring = _dilate(rough, int(np.ceil(3.5 * pixel_step))) & ~near
    surrounding_hu = float(np.median(values[ring]))
    contrast = surrounding_hu - lesion_hu
    if abs(contrast) < settings.min_contrast_hu:
        return _slice_problem(volume, k, f"lesion ({lesion_hu:.0f} HU) and surroundings "
                              f"({surrounding_hu:.0f} HU) differ by less than "
                              f"{settings.min_contrast_hu:g} HU: no edge to follow")
    window = (lesion_hu - abs(contrast) / 2, lesion_hu + abs(contrast) / 2)
    grown = sitk.BinaryFillhole(sitk.ConnectedThreshold(upsampled, [seed], *window))
    mask = image_array(grown).astype(bool)
    notes: list[str] = []
    max_area = np.pi * (half / 2) ** 2 / fine ** 2
    if _touches_edge(mask) or mask.sum() > max_area:
        mask, radius = _cut_leak(grown, seed, settings, fine, max_area)
        if mask is None:
            return _slice_problem(volume, k, f"the region leaks into tissue of "
                                  f"{window[0]:.0f}..{window[1]:.0f} HU beyond {half:g} mm "
                                  "and no opening separates it: measure by hand")
        notes.append(f"separated from an adjacent structure of similar density by a "
                     f"{radius:.1f} mm opening")
    return _SliceRegion(mask, origin, fine, lesion_hu, surrounding_hu, window, tuple(notes))


def _touches_edge(mask: np.ndarray) -> bool:
    return bool(mask[0].any() or mask[-1].any() or mask[:, 0].any() or mask[:, -1].any())


def _dilate(mask: np.ndarray, radius: int) -> np.ndarray:
    sitk = require_sitk()
    image = sitk.GetImageFromArray(mask.astype(np.uint8))
    return image_array(sitk.BinaryDilate(image, [radius, radius])).astype(bool)


def _cut_leak(grown: Any, seed: tuple[int, int], settings: MeasureSettings, fine: float,
              max_area: float) -> tuple[np.ndarray | None, float]:
    """Open the region with growing radii until the part around the seed stands alone."""
    sitk = require_sitk()
    radius = fine
    while radius <= settings.max_opening_mm:
        pixels = int(np.ceil(radius / fine))
        opened = sitk.BinaryMorphologicalOpening(grown, [pixels, pixels])
        labels = image_array(sitk.ConnectedComponent(opened))
        label = labels[seed[1], seed[0]]
        if label:
            part = labels == label
            if not _touches_edge(part) and part.sum() <= max_area:
                return part, radius
        radius *= 1.5
    return None, 0.0


def _lps_of(volume: Volume, k: int, points_mm: np.ndarray) -> tuple[tuple[float, float,
                                                                            float], ...]:
    """In-plane mm points (a = x * sx, b = y * sy) on slice `k` -> LPS points."""
    _, sy, sx = volume.spacing
    index = np.column_stack([np.full(len(points_mm), k, dtype=float),
                             points_mm[:, 1] / sy, points_mm[:, 0] / sx])
    return tuple(tuple(float(v) for v in p) for p in volume.index_to_lps(index))


def _measure_slice(volume: Volume, k: int, seed_yx: np.ndarray, settings: MeasureSettings
                   ) -> SemiAutomaticResult:
    region = _segment_slice(volume, k, seed_yx, settings)
    if isinstance(region, Problem):
        return SemiAutomaticResult(None, region, k)
    rows, columns = np.nonzero(region.mask)
    if len(rows) == 0:
        return SemiAutomaticResult(
            LesionState.TOO_SMALL, None, k, area_mm2=0.0, lesion_hu=region.lesion_hu,
            surrounding_hu=region.surrounding_hu, hu_window=region.window,
            notes=(*region.notes, "the lesion is smaller than a pixel around the click: too "
                   "small to measure (RECIST 1.1)"))
    to_mm = np.column_stack([columns, rows]) * region.pixel_mm + region.origin_mm
    edge_rows, edge_columns = np.nonzero(_boundary(region.mask))
    edge_mm = np.column_stack([edge_columns, edge_rows]) * region.pixel_mm + region.origin_mm
    (l0, l1), (s0, s1) = recist_axes(to_mm, edge_mm, region.pixel_mm)
    long_mm = float(np.linalg.norm(l1 - l0))
    short_mm = float(np.linalg.norm(s1 - s0))
    sop = volume.sop_instance_uids[k] if k < len(volume.sop_instance_uids) else None
    frame = volume.frame_of_reference_uid
    common = dict(slice_index=k, area_mm2=float(len(rows) * region.pixel_mm ** 2),
                  lesion_hu=region.lesion_hu, surrounding_hu=region.surrounding_hu,
                  hu_window=region.window, notes=region.notes)
    if long_mm < settings.min_diameter_mm:
        note = (f"longest diameter {long_mm:.1f} mm is below {settings.min_diameter_mm:g} mm: "
                "too small to measure (RECIST 1.1)")
        return SemiAutomaticResult(LesionState.TOO_SMALL, None, **{
            **common, "notes": (*region.notes, note)})
    return SemiAutomaticResult(
        LesionState.MEASURED, None,
        long_axis_mm=long_mm, short_axis_mm=short_mm,
        long_axis=AxisGeometry(_lps_of(volume, k, np.array([l0, l1])), sop, frame),
        short_axis=AxisGeometry(_lps_of(volume, k, np.array([s0, s1])), sop, frame),
        **common,
    )


# ----------------------------------------------------------------------------- 3D


def _segment_3d(volume: Volume, seed_index: np.ndarray, window: tuple[float, float],
                half_mm: float, settings: MeasureSettings) -> tuple[np.ndarray | None,
                                                                    tuple[int, int, int], str]:
    """Grow the HU window in 3D from the seed in a box; (mask or None, box start, note)."""
    sitk = require_sitk()
    half = np.full(3, half_mm) / np.asarray(volume.spacing)
    box = clip_box(tuple((int(c - h), int(c + h) + 2) for c, h in zip(seed_index, half,
                                                                      strict=True)),
                   volume.shape)
    image = sitk.SmoothingRecursiveGaussian(volume_image(volume, box=box), settings.smoothing_mm)
    start = tuple(low for low, _ in box)
    seed = tuple(int(round(seed_index[axis])) - start[axis] for axis in (2, 1, 0))
    mask = image_array(sitk.ConnectedThreshold(image, [seed], *window)).astype(bool)
    at_volume_edge = [(low == 0, high == n) for (low, high), n in zip(box, volume.shape,
                                                                      strict=True)]
    touches = [(mask.take(0, axis).any(), mask.take(-1, axis).any()) for axis in range(3)]
    for axis in range(3):
        for side in range(2):
            if touches[axis][side] and not at_volume_edge[axis][side]:
                return None, start, ("the 3D segmentation reaches the edge of its "
                                     f"{2 * half_mm:.0f} mm box: no volume")
    note = ""
    if any(t and e for pair, edges in zip(touches, at_volume_edge, strict=True)
           for t, e in zip(pair, edges, strict=True)):
        note = "the lesion reaches the edge of the scan: its volume is a lower bound"
    return mask, start, note  # type: ignore[return-value]


def measure_lesion(
    volume: Volume,
    click_lps: Sequence[float],
    *,
    nodal: bool = False,
    on_largest_slice: bool = False,
    settings: MeasureSettings | None = None,
) -> SemiAutomaticResult:
    """Measure the lesion under a click: RECIST long and short axes, volume, largest slice.

    Parameters
    ----------
    volume
        The CT.
    click_lps
        A point inside the lesion (LPS mm); the nearest axial slice is measured.
    nodal
        A lymph node: its RECIST diameter is the short axis (`SemiAutomaticResult.diameter_mm`).
    on_largest_slice
        Measure on the slice where the 3D segmentation is largest instead of the clicked one.
    settings
        Limits and steps; default `MeasureSettings()`.

    Returns
    -------
    SemiAutomaticResult
        Never raises for an image it cannot segment: ``problem`` says why.
    """
    settings = settings or MeasureSettings()
    index = volume.lps_to_index(np.asarray(click_lps, dtype=float))
    k = int(round(index[0]))
    inside = all(-0.5 <= v <= n - 0.5 for v, n in zip(index, volume.shape, strict=True))
    if not inside:
        return SemiAutomaticResult(None, Problem(
            f"series {volume.series_uid}", "the point lies outside the scan"), max(k, 0))
    result = _measure_slice(volume, k, index[1:], settings)
    if result.hu_window is None:
        return result
    half = min(settings.max_diameter_mm, 1.5 * max(result.long_axis_mm or 0.0,
                                                   settings.min_diameter_mm) + 10.0)
    mask, start, note = _segment_3d(volume, index, result.hu_window, half, settings)
    notes = list(result.notes) + ([note] if note else [])
    if mask is None:
        return replace(result, largest_slice_index=None, notes=(*notes,))
    areas = mask.sum(axis=(1, 2))
    volume_mm3 = float(mask.sum() * np.prod(volume.spacing))
    # The largest cross-section; a tie goes to the slice nearest the click.
    candidates = np.flatnonzero(areas == areas.max()) + start[0]
    largest = int(candidates[np.argmin(np.abs(candidates - k))])
    if on_largest_slice and largest != k:
        rows, columns = np.nonzero(mask[largest - start[0]])
        centre = np.array([rows.mean(), columns.mean()])
        nearest = int(np.argmin((rows - centre[0]) ** 2 + (columns - centre[1]) ** 2))
        seed = np.array([rows[nearest] + start[1], columns[nearest] + start[2]], dtype=float)
        moved = _measure_slice(volume, largest, seed, settings)
        if moved.ok:
            notes.append(f"measured on slice {largest + 1}, where the lesion is largest "
                         f"(clicked slice {k + 1})")
            result = replace(moved, notes=(*moved.notes, *notes[len(result.notes):]))
            notes = list(result.notes)
    return replace(result, largest_slice_index=largest, volume_mm3=None if note.startswith(
        "the 3D") else volume_mm3, notes=tuple(notes))


def measure_from_line(volume: Volume, start_lps: Sequence[float], end_lps: Sequence[float],
                      *, nodal: bool = False, settings: MeasureSettings | None = None
                      ) -> SemiAutomaticResult:
    """Measure from a rough long axis drawn across the lesion (its middle is the click).

    The search is limited to twice the rough line's length, which keeps a lesion from
    leaking into a large neighbour of similar density.
    """
    start, end = np.asarray(start_lps, dtype=float), np.asarray(end_lps, dtype=float)
    base = settings or MeasureSettings()
    limited = replace(base, max_diameter_mm=float(min(base.max_diameter_mm, max(
        2 * np.linalg.norm(end - start), 4 * base.min_diameter_mm))))
    return measure_lesion(volume, (start + end) / 2, nodal=nodal, settings=limited)
