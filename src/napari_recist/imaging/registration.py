"""Register a follow-up CT to the baseline CT and map baseline points onto the follow-up.

`register_volumes` finds the affine map from baseline patient coordinates (LPS mm) to the
follow-up's: both scans are first reduced to a working grid of about `working_spacing_mm`
(SimpleITK ``BinShrink``, an average, so nothing aliases), then a rigid (Euler) and an
affine stage run over a multi-resolution pyramid with Mattes mutual information on a random
sample of voxels. The result is checked: the normalised cross-correlation (NCC) of the body
voxels after registration must reach `RegistrationSettings.poor_similarity`, beat the scans
left where they are, and the map must be a plausible patient motion; otherwise the
registration is `poor` (or `failed` when SimpleITK raised) and falls back to the identity,
i.e. the same patient coordinates, saying so in `Registration.message`.

`RegistrationCache` runs each pair once (keyed by the two Series Instance UIDs and the
settings), in memory and, with a folder, on disk as small JSON files; `submit` runs it in a
background thread (SimpleITK releases the GIL, so a viewer stays responsive).

`local_similarity` gives the confidence of one mapped lesion: the NCC between the baseline
box around the lesion and the follow-up seen through the map. `refine_locally` optionally
adds a B-spline refinement in that box and keeps it only when it improves the NCC.
"""

from __future__ import annotations

import hashlib
import json
import os
import threading
import time
from collections.abc import Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from napari_recist.imaging._sitk import image_array, require_sitk, volume_image
from napari_recist.io.atomic import atomic_write_text
from napari_recist.io.volume import Volume

CACHE_VERSION = 1

STATUS_OK = "ok"
STATUS_POOR = "poor"
STATUS_FAILED = "failed"

# Body voxels: anything denser than this (air is -1000 HU, lung about -850, fat -100).
_BODY_HU = -500.0


@dataclass(frozen=True)
class RegistrationSettings:
    """How follow-ups are registered; every number is part of the cache key.

    Parameters
    ----------
    working_spacing_mm
        Voxel size the scans are averaged down to before registering.
    shrink_factors, smoothing_sigmas_mm
        The pyramid over the working grid (coarse to fine) and the Gaussian blur per level.
    affine_levels
        How many of the finest pyramid levels the affine stage uses after the rigid one.
    affine_gain
        The affine map replaces the rigid one only when the body NCC gains this much.
    iterations
        Maximum optimiser iterations per level.
    sampling_fraction
        Share of the working voxels the metric samples (random, fixed seed).
    poor_similarity
        Body NCC below this after registration is a poor registration.
    max_rotation_deg, max_translation_mm, scale_range
        A map beyond these is not a patient lying differently: poor.
    """

    working_spacing_mm: float = 6.0
    shrink_factors: tuple[int, ...] = (4, 2, 1)
    smoothing_sigmas_mm: tuple[float, ...] = (12.0, 6.0, 0.0)
    affine_levels: int = 1
    affine_gain: float = 0.01
    iterations: int = 100
    sampling_fraction: float = 0.05
    poor_similarity: float = 0.5
    max_rotation_deg: float = 30.0
    max_translation_mm: float = 200.0
    scale_range: tuple[float, float] = (0.85, 1.18)

    def key(self) -> str:
        """A short text identifying these settings."""
        return hashlib.sha1(json.dumps(asdict(self), sort_keys=True).encode()).hexdigest()[:12]


@dataclass(frozen=True)
class Registration:
    """A follow-up registered to the baseline.

    Attributes
    ----------
    fixed_series_uid, moving_series_uid
        The baseline and follow-up series.
    status
        ``ok``, ``poor`` (the map is not trusted; identity used) or ``failed`` (SimpleITK
        raised; identity used).
    matrix
        4x4 map from baseline LPS to follow-up LPS (mm) actually used.
    similarity
        Body NCC of the two scans through `matrix` (-1..1).
    identity_similarity
        Body NCC with the scans left where they are.
    message
        What was done, and why a registration was not trusted.
    seconds
        Time the registration took (0 when it came from the cache).
    """

    fixed_series_uid: str
    moving_series_uid: str
    status: str
    matrix: np.ndarray
    similarity: float
    identity_similarity: float
    message: str
    seconds: float = 0.0

    @property
    def trusted(self) -> bool:
        """True when the registration itself (not the identity fallback) is used."""
        return self.status == STATUS_OK

    def map_points(self, points_lps: Sequence[Sequence[float]] | np.ndarray) -> np.ndarray:
        """Map baseline LPS points ``(n, 3)`` (or one ``(3,)``) to follow-up LPS points."""
        points = np.asarray(points_lps, dtype=float)
        flat = points.reshape(-1, 3)
        mapped = flat @ self.matrix[:3, :3].T + self.matrix[:3, 3]
        return mapped.reshape(points.shape)

    def sitk_transform(self) -> Any:
        """The map as a SimpleITK affine transform (fixed -> moving points)."""
        sitk = require_sitk()
        transform = sitk.AffineTransform(3)
        transform.SetMatrix(tuple(float(v) for v in self.matrix[:3, :3].ravel()))
        transform.SetTranslation(tuple(float(v) for v in self.matrix[:3, 3]))
        return transform

    def to_json(self) -> dict[str, Any]:
        """The registration as JSON-ready values."""
        return {
            "version": CACHE_VERSION,
            "fixed_series_uid": self.fixed_series_uid,
            "moving_series_uid": self.moving_series_uid,
            "status": self.status,
            "matrix": self.matrix.tolist(),
            "similarity": self.similarity,
            "identity_similarity": self.identity_similarity,
            "message": self.message,
            "seconds": self.seconds,
        }

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> Registration:
        """Rebuild a registration written by `to_json` (raises on anything else)."""
        if data.get("version") != CACHE_VERSION:
            raise ValueError("written by another version")
        matrix = np.asarray(data["matrix"], dtype=float)
        if matrix.shape != (4, 4) or not np.all(np.isfinite(matrix)):
            raise ValueError("matrix is not a finite 4x4")
        return cls(str(data["fixed_series_uid"]), str(data["moving_series_uid"]),
                   str(data["status"]), matrix, float(data["similarity"]),
                   float(data["identity_similarity"]), str(data["message"]), 0.0)


# ----------------------------------------------------------------------------- working grid


def working_image(volume: Volume, spacing_mm: float) -> Any:
    """The volume averaged down to about `spacing_mm` voxels, float32, HU clamped to +-1000."""
    sitk = require_sitk()
    array = np.asarray(volume.array)
    small_type = np.int16 if array.dtype == np.int16 else np.float32
    image = volume_image(volume, array, dtype=small_type)
    factors = [max(1, int(round(spacing_mm / s))) for s in image.GetSpacing()]
    if any(f > 1 for f in factors):
        image = sitk.BinShrink(image, factors)
    image = sitk.Cast(image, sitk.sitkFloat32)
    return sitk.Clamp(image, sitk.sitkFloat32, -1000.0, 1000.0)


def _body_centroid(image: Any) -> np.ndarray:
    """LPS centroid of the body voxels of a working image."""
    array = image_array(image)
    z, y, x = np.nonzero(array > _BODY_HU)
    if z.size == 0:
        index = np.array(image.GetSize(), dtype=float) / 2
    else:
        index = np.array([x.mean(), y.mean(), z.mean()])
    return np.array(image.TransformContinuousIndexToPhysicalPoint(tuple(index)))


def _matrix_of(transform: Any) -> np.ndarray:
    """4x4 point map of a SimpleITK Euler/affine transform: A (p - c) + c + t."""
    a = np.asarray(transform.GetMatrix(), dtype=float).reshape(3, 3)
    centre = np.asarray(transform.GetCenter(), dtype=float)
    translation = np.asarray(transform.GetTranslation(), dtype=float)
    matrix = np.eye(4)
    matrix[:3, :3] = a
    matrix[:3, 3] = centre + translation - a @ centre
    return matrix


def body_similarity(fixed: Any, moving: Any, matrix: np.ndarray) -> float:
    """NCC of the fixed image's body voxels with the moving image seen through `matrix`."""
    sitk = require_sitk()
    transform = Registration("", "", STATUS_OK, matrix, 0.0, 0.0, "").sitk_transform()
    seen = image_array(sitk.Resample(moving, fixed, transform, sitk.sitkLinear, np.nan))
    reference = image_array(fixed)
    keep = (reference > _BODY_HU) & np.isfinite(seen)
    return _ncc(reference[keep], seen[keep])


def _ncc(a: np.ndarray, b: np.ndarray) -> float:
    if a.size < 10:
        return 0.0
    a = a - a.mean()
    b = b - b.mean()
    norm = float(np.sqrt((a * a).sum() * (b * b).sum()))
    return float((a * b).sum() / norm) if norm > 0 else 0.0


def _implausible(matrix: np.ndarray, settings: RegistrationSettings,
                 centre: np.ndarray) -> str | None:
    """Why a map is not a patient lying differently, or None."""
    u, singular, vt = np.linalg.svd(matrix[:3, :3])
    low, high = settings.scale_range
    if singular.min() < low or singular.max() > high or np.linalg.det(matrix[:3, :3]) <= 0:
        return f"scales {', '.join(f'{v:.2f}' for v in singular)} outside {low}-{high}"
    rotation = u @ vt
    angle = float(np.degrees(np.arccos(np.clip((np.trace(rotation) - 1) / 2, -1, 1))))
    if angle > settings.max_rotation_deg:
        return f"rotation {angle:.0f} degrees above {settings.max_rotation_deg:g}"
    shift = float(np.linalg.norm(matrix[:3, :3] @ centre + matrix[:3, 3] - centre))
    if shift > settings.max_translation_mm:
        return f"the body centre moves {shift:.0f} mm (more than {settings.max_translation_mm:g})"
    return None


# ----------------------------------------------------------------------------- registration


def _method(settings: RegistrationSettings, levels: int) -> Any:
    sitk = require_sitk()
    method = sitk.ImageRegistrationMethod()
    method.SetMetricAsMattesMutualInformation(numberOfHistogramBins=32)
    method.SetMetricSamplingStrategy(method.RANDOM)
    method.SetMetricSamplingPercentage(settings.sampling_fraction, 20261201)
    method.SetInterpolator(sitk.sitkLinear)
    method.SetOptimizerAsRegularStepGradientDescent(
        learningRate=2.0, minStep=1e-3, numberOfIterations=settings.iterations,
        relaxationFactor=0.5, gradientMagnitudeTolerance=1e-8,
    )
    method.SetOptimizerScalesFromPhysicalShift()
    method.SetShrinkFactorsPerLevel(list(settings.shrink_factors[-levels:]))
    method.SetSmoothingSigmasPerLevel(list(settings.smoothing_sigmas_mm[-levels:]))
    method.SmoothingSigmasAreSpecifiedInPhysicalUnitsOn()
    return method


def _register_images(fixed: Any, moving: Any,
                     settings: RegistrationSettings) -> tuple[np.ndarray, np.ndarray | None]:
    """Rigid then affine registration of two working images: both 4x4 fixed -> moving maps."""
    sitk = require_sitk()
    rigid = sitk.Euler3DTransform()
    centre = _body_centroid(fixed)
    rigid.SetCenter(tuple(float(v) for v in centre))
    rigid.SetTranslation(tuple(float(v) for v in _body_centroid(moving) - centre))
    method = _method(settings, len(settings.shrink_factors))
    method.SetInitialTransform(rigid, inPlace=True)
    method.Execute(fixed, moving)
    if settings.affine_levels <= 0:
        return _matrix_of(rigid), None
    affine = sitk.AffineTransform(3)
    affine.SetCenter(rigid.GetCenter())
    affine.SetMatrix(rigid.GetMatrix())
    affine.SetTranslation(rigid.GetTranslation())
    method = _method(settings, min(settings.affine_levels, len(settings.shrink_factors)))
    method.SetInitialTransform(affine, inPlace=True)
    method.Execute(fixed, moving)
    return _matrix_of(rigid), _matrix_of(affine)


def register_volumes(fixed: Volume, moving: Volume,
                     settings: RegistrationSettings | None = None) -> Registration:
    """Register a follow-up (`moving`) to the baseline (`fixed`).

    Parameters
    ----------
    fixed, moving
        Baseline and follow-up CT.
    settings
        Registration settings; default `RegistrationSettings()`.

    Returns
    -------
    Registration
        Never raises for a registration that goes wrong: its status says ``poor`` or
        ``failed`` and its matrix is the identity (same patient coordinates).
    """
    settings = settings or RegistrationSettings()
    started = time.perf_counter()
    identity = np.eye(4)
    names = (fixed.series_uid, moving.series_uid)
    try:
        fixed_image = working_image(fixed, settings.working_spacing_mm)
        moving_image = working_image(moving, settings.working_spacing_mm)
        identity_ncc = body_similarity(fixed_image, moving_image, identity)
    except RuntimeError as error:  # SimpleITK raises RuntimeError for everything
        return Registration(*names, STATUS_FAILED, identity, 0.0, 0.0,
                            f"the scans could not be prepared for registration ({error}); "
                            "same patient coordinates used", time.perf_counter() - started)
    try:
        rigid, affine = _register_images(fixed_image, moving_image, settings)
    except RuntimeError as error:
        return Registration(*names, STATUS_FAILED, identity, identity_ncc, identity_ncc,
                            f"registration failed ({str(error).strip().splitlines()[-1]}); "
                            "same patient coordinates used", time.perf_counter() - started)
    matrix, stage = rigid, "rigid"
    ncc = body_similarity(fixed_image, moving_image, rigid)
    if affine is not None:
        # The affine stage is kept only when it explains the scans clearly better: with
        # lesions changing and the field of view cutting the body differently, its extra
        # scale and shear otherwise fit those differences instead of the patient's motion.
        affine_ncc = body_similarity(fixed_image, moving_image, affine)
        if affine_ncc > ncc + settings.affine_gain and _implausible(
                affine, settings, _body_centroid(fixed_image)) is None:
            matrix, stage, ncc = affine, "rigid + affine", affine_ncc
        else:
            stage = f"rigid; affine stage not kept (similarity {affine_ncc:.3f})"
    seconds = time.perf_counter() - started
    reason = _implausible(matrix, settings, _body_centroid(fixed_image))
    if reason is None and ncc < settings.poor_similarity:
        reason = f"body similarity {ncc:.2f} below {settings.poor_similarity:g}"
    if reason is None and ncc < identity_ncc - 0.005:
        reason = (f"body similarity {ncc:.2f} is worse than leaving the scans where they are "
                  f"({identity_ncc:.2f})")
    if reason is not None:
        return Registration(*names, STATUS_POOR, identity, identity_ncc, identity_ncc,
                            f"registration not trusted: {reason}; same patient coordinates "
                            "used", seconds)
    centre = _body_centroid(fixed_image)
    shift = float(np.linalg.norm(matrix[:3, :3] @ centre + matrix[:3, 3] - centre))
    return Registration(*names, STATUS_OK, matrix, ncc, identity_ncc,
                        f"registered ({stage}): body similarity {identity_ncc:.2f} -> "
                        f"{ncc:.2f}, body centre moved {shift:.1f} mm", seconds)


# ----------------------------------------------------------------------------- cache


@dataclass
class RegistrationCache:
    """Registrations by pair of Series Instance UIDs, computed once.

    Parameters
    ----------
    folder
        Where registrations are also kept on disk (JSON, one file per pair); None: memory
        only. An unreadable cache file is ignored (and rewritten), never trusted.
    settings
        Registration settings; part of the key.
    """

    folder: Path | None = None
    settings: RegistrationSettings = field(default_factory=RegistrationSettings)

    def __post_init__(self) -> None:
        self._memory: dict[str, Registration] = {}
        self._lock = threading.Lock()
        self._executor: ThreadPoolExecutor | None = None

    def _key(self, fixed_uid: str, moving_uid: str) -> str:
        return f"{fixed_uid}|{moving_uid}|{self.settings.key()}"

    def _path(self, key: str) -> Path | None:
        if self.folder is None:
            return None
        digest = hashlib.sha1(key.encode()).hexdigest()[:20]
        return Path(self.folder) / f"registration-{digest}.json"

    def cached(self, fixed_uid: str, moving_uid: str) -> Registration | None:
        """The registration of a pair if it was already computed (memory or disk), or None."""
        key = self._key(fixed_uid, moving_uid)
        with self._lock:
            if key in self._memory:
                return self._memory[key]
        path = self._path(key)
        if path is None or not path.is_file():
            return None
        try:
            found = Registration.from_json(json.loads(path.read_text(encoding="utf-8")))
        except (OSError, ValueError, KeyError, TypeError):
            return None
        if (found.fixed_series_uid, found.moving_series_uid) != (fixed_uid, moving_uid):
            return None
        with self._lock:
            self._memory[key] = found
        return found

    def get(self, fixed: Volume, moving: Volume) -> Registration:
        """The registration of `moving` to `fixed`, computed on first request."""
        found = self.cached(fixed.series_uid, moving.series_uid)
        if found is not None:
            return found
        result = register_volumes(fixed, moving, self.settings)
        key = self._key(fixed.series_uid, moving.series_uid)
        with self._lock:
            self._memory[key] = result
        path = self._path(key)
        if path is not None:
            try:
                path.parent.mkdir(parents=True, exist_ok=True)
                atomic_write_text(path, json.dumps(result.to_json(), indent=1))
            except OSError:
                pass  # the cache is an optimisation: a read-only folder only costs time
        return result

    def submit(self, fixed: Volume, moving: Volume) -> Future[Registration]:
        """Run `get` in a background thread (one at a time); returns its future."""
        with self._lock:
            if self._executor is None:
                self._executor = ThreadPoolExecutor(max_workers=1,
                                                    thread_name_prefix="registration")
            executor = self._executor
        return executor.submit(self.get, fixed, moving)


def default_cache_folder() -> Path:
    """``$XDG_CACHE_HOME/napari-recist/registrations`` (``~/.cache`` when unset)."""
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) / "napari-recist" / "registrations"


# ----------------------------------------------------------------------------- lesion boxes


def lesion_box(volume: Volume, centre_lps: Sequence[float], half_mm: Sequence[float]
               ) -> tuple[tuple[int, int], ...]:
    """Index box ``((z0, z1), (y0, y1), (x0, x1))`` around a point, half-size in mm (x, y, z)."""
    index = volume.lps_to_index(np.asarray(centre_lps, dtype=float))
    half_index = np.asarray(half_mm, dtype=float)[::-1] / np.asarray(volume.spacing)
    low = np.floor(index - half_index).astype(int)
    high = np.ceil(index + half_index).astype(int) + 1
    return tuple((int(a), int(b)) for a, b in zip(low, high, strict=True))


def local_similarity(fixed: Volume, moving: Volume, centre_lps: Sequence[float],
                     transform: Any, half_mm: Sequence[float]) -> float:
    """NCC of the baseline box around a lesion with the follow-up seen through `transform`.

    Parameters
    ----------
    fixed, moving
        Baseline and follow-up.
    centre_lps
        Baseline lesion centre.
    transform
        SimpleITK transform, baseline -> follow-up points.
    half_mm
        Half-size of the box (x, y, z) in mm.

    Returns
    -------
    float
        -1..1; 0 when the box falls outside the follow-up.
    """
    sitk = require_sitk()
    fixed_roi = volume_image(fixed, box=lesion_box(fixed, centre_lps, half_mm))
    moving_roi = _moving_box(moving, fixed_roi, transform)
    seen = image_array(sitk.Resample(moving_roi, fixed_roi, transform, sitk.sitkLinear, np.nan))
    reference = image_array(fixed_roi)
    keep = np.isfinite(seen)
    if keep.mean() < 0.5:
        return 0.0
    return _ncc(reference[keep], seen[keep])


def _moving_box(moving: Volume, fixed_roi: Any, transform: Any) -> Any:
    """The part of the follow-up that a fixed box maps into (plus a margin), as an image."""
    size = fixed_roi.GetSize()
    corners = [fixed_roi.TransformIndexToPhysicalPoint((i, j, k))
               for i in (0, size[0] - 1) for j in (0, size[1] - 1) for k in (0, size[2] - 1)]
    mapped = np.array([transform.TransformPoint(c) for c in corners])
    index = moving.lps_to_index(mapped)
    low = np.floor(index.min(axis=0)).astype(int) - 2
    high = np.ceil(index.max(axis=0)).astype(int) + 3
    return volume_image(moving, box=tuple((int(a), int(b)) for a, b in zip(low, high,
                                                                              strict=True)))


def refine_locally(fixed: Volume, moving: Volume, centre_lps: Sequence[float],
                   registration: Registration, half_mm: Sequence[float],
                   max_shift_mm: float = 15.0) -> tuple[Any, float, str]:
    """B-spline refinement of the map in a box around one baseline lesion.

    Parameters
    ----------
    fixed, moving
        Baseline and follow-up.
    centre_lps
        Baseline lesion centre.
    registration
        The global registration it starts from.
    half_mm
        Half-size of the box (x, y, z) in mm.
    max_shift_mm
        A refinement moving the lesion centre further than this from the global map is
        not kept.

    Returns
    -------
    tuple
        ``(transform, local NCC, note)``: the refined SimpleITK transform when it improved
        the local similarity, else the global one.
    """
    sitk = require_sitk()
    global_transform = registration.sitk_transform()
    before = local_similarity(fixed, moving, centre_lps, global_transform, half_mm)
    fixed_roi = volume_image(fixed, box=lesion_box(fixed, centre_lps, half_mm))
    moving_roi = _moving_box(moving, fixed_roi, global_transform)
    bspline = sitk.BSplineTransformInitializer(fixed_roi, [3, 3, 3])
    method = sitk.ImageRegistrationMethod()
    method.SetMetricAsCorrelation()
    method.SetMetricSamplingStrategy(method.RANDOM)
    method.SetMetricSamplingPercentage(0.25, 20261201)
    method.SetInterpolator(sitk.sitkLinear)
    method.SetOptimizerAsLBFGSB(gradientConvergenceTolerance=1e-5, numberOfIterations=40)
    method.SetShrinkFactorsPerLevel([2, 1])
    method.SetSmoothingSigmasPerLevel([1.0, 0.0])
    method.SetMovingInitialTransform(global_transform)
    method.SetInitialTransform(bspline, inPlace=True)
    try:
        method.Execute(fixed_roi, moving_roi)
    except RuntimeError as error:
        return global_transform, before, f"B-spline refinement failed ({error}); not used"
    refined = sitk.CompositeTransform([global_transform, bspline])
    after = local_similarity(fixed, moving, centre_lps, refined, half_mm)
    moved = np.linalg.norm(np.subtract(refined.TransformPoint(tuple(centre_lps)),
                                       global_transform.TransformPoint(tuple(centre_lps))))
    if after <= before or moved > max_shift_mm:
        return global_transform, before, (f"B-spline refinement not kept (similarity "
                                          f"{before:.2f} -> {after:.2f}, moved {moved:.1f} mm)")
    return refined, after, f"B-spline refinement kept (similarity {before:.2f} -> {after:.2f})"
