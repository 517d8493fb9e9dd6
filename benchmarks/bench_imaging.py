"""Registration of two 300 x 512 x 512 CT scans and one semi-automatic measurement.

Draws the sample phantom on a 300-slice 512x512 grid (0.75 mm pixels, 1 mm slices) at
baseline and at a follow-up where the patient lies shifted (25, -15, 10) mm and turned
(3, -2, 5) degrees, adds Gaussian noise (sd 15 HU), and times, from the volumes in memory:

- ``register_volumes`` (ours: average-down to a 6 mm working grid, 3-level rigid pyramid, an
  affine stage at the finest level, checks), median of `--runs`;
- the obvious alternative: one SimpleITK rigid registration at full resolution, single level,
  same metric, sampling and optimiser (run once: it is slow);
- ``measure_lesion`` from a click at a lesion centre to its lines (median of 10), against
  the same measurement with the working box covering the whole slice.

Both registrations report the error of the mapped lesion centres against the known motion.
Target (issue 13): registration < 10 s, measurement < 0.3 s on the 2-core machine.

Run: ``.venv/bin/python benchmarks/bench_imaging.py [--runs N] [--slices N]``
"""

from __future__ import annotations

import argparse
import statistics
import time

import numpy as np
import SimpleITK as sitk  # noqa: N813 - the name SimpleITK documents

from napari_recist.imaging._sitk import volume_image
from napari_recist.imaging.measure import MeasureSettings, measure_lesion
from napari_recist.imaging.registration import (
    RegistrationSettings,
    _matrix_of,
    register_volumes,
)
from napari_recist.io.volume import Volume
from napari_recist.sample import LESIONS, PhantomGrid, phantom_hu, rigid_transform, true_centre_lps

MOTION = rigid_transform((3.0, -2.0, 5.0), (25.0, -15.0, 10.0))


def make_volume(hu: np.ndarray, uid: str, grid: PhantomGrid) -> Volume:
    affine = np.zeros((4, 4))
    affine[0, 2] = affine[1, 1] = grid.pixel_mm
    affine[2, 0] = grid.slice_mm
    affine[:3, 3] = grid.first_voxel_lps
    affine[3, 3] = 1.0
    direction = np.zeros((3, 3))
    direction[2, 0] = direction[1, 1] = direction[0, 2] = 1.0
    return Volume(hu, (grid.slice_mm, grid.pixel_mm, grid.pixel_mm), grid.first_voxel_lps,
                  direction, affine, "P", None, "study", uid, "frame", "bench",
                  tuple(f"{uid}.{k}" for k in range(grid.slices)), (), None, None)


def noisy(hu: np.ndarray, seed: int) -> np.ndarray:
    rng = np.random.default_rng(seed)
    out = hu.astype(np.float32) + rng.normal(0.0, 15.0, hu.shape).astype(np.float32)
    return np.clip(np.rint(out), -1024, 3071).astype(np.int16)


def centre_errors(matrix: np.ndarray) -> list[float]:
    errors = []
    for spec in LESIONS:
        mapped = matrix[:3, :3] @ np.array(spec.centre_lps) + matrix[:3, 3]
        errors.append(float(np.linalg.norm(mapped - true_centre_lps(spec, MOTION))))
    return errors


def full_resolution_single_level(fixed: Volume, moving: Volume) -> np.ndarray:
    """The obvious alternative: one rigid SimpleITK registration on the full images."""
    settings = RegistrationSettings()
    fixed_image, moving_image = volume_image(fixed), volume_image(moving)
    rigid = sitk.CenteredTransformInitializer(
        fixed_image, moving_image, sitk.Euler3DTransform(),
        sitk.CenteredTransformInitializerFilter.GEOMETRY)
    method = sitk.ImageRegistrationMethod()
    method.SetMetricAsMattesMutualInformation(numberOfHistogramBins=32)
    method.SetMetricSamplingStrategy(method.RANDOM)
    method.SetMetricSamplingPercentage(settings.sampling_fraction, 20261201)
    method.SetInterpolator(sitk.sitkLinear)
    method.SetOptimizerAsRegularStepGradientDescent(
        learningRate=2.0, minStep=1e-3, numberOfIterations=settings.iterations,
        relaxationFactor=0.5, gradientMagnitudeTolerance=1e-8)
    method.SetOptimizerScalesFromPhysicalShift()
    method.SetInitialTransform(rigid, inPlace=True)
    method.Execute(fixed_image, moving_image)
    return _matrix_of(rigid)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--slices", type=int, default=300)
    args = parser.parse_args()
    grid = PhantomGrid.centred(args.slices, 512, 512, 0.75, 1.0, -280.0)
    started = time.perf_counter()
    fixed = make_volume(noisy(phantom_hu(0, grid=grid, patient_to_scanner=np.eye(4)), 1),
                        "baseline", grid)
    moving = make_volume(noisy(phantom_hu(1, grid=grid, patient_to_scanner=MOTION), 2),
                         "follow-up", grid)
    print(f"phantom: 2 x {args.slices} x 512 x 512 drawn in "
          f"{time.perf_counter() - started:.1f} s (not timed below)")

    times = []
    for _ in range(args.runs):
        t = time.perf_counter()
        ours = register_volumes(fixed, moving)
        times.append(time.perf_counter() - t)
    ours_s = statistics.median(times)
    print(f"ours: register_volumes median {ours_s:.2f} s over {args.runs} runs "
          f"({', '.join(f'{v:.2f}' for v in times)}); {ours.status}: {ours.message}")
    print(f"      lesion centre errors mm: {np.round(centre_errors(ours.matrix), 2).tolist()}")

    t = time.perf_counter()
    alternative = full_resolution_single_level(fixed, moving)
    alternative_s = time.perf_counter() - t
    print(f"alternative: single-level rigid at full resolution {alternative_s:.2f} s (1 run)")
    print(f"      lesion centre errors mm: {np.round(centre_errors(alternative), 2).tolist()}")
    print(f"ratio: ours is {alternative_s / ours_s:.1f}x faster")

    spec = LESIONS[1]  # the liver lesion, 44 x 34 mm at the follow-up
    click = true_centre_lps(spec, MOTION)
    for name, settings in (("ours (240 mm box)", MeasureSettings()),
                           ("whole slice box", MeasureSettings(max_diameter_mm=400.0))):
        measure_lesion(moving, click, settings=settings)  # warm-up
        runs = []
        for _ in range(10):
            t = time.perf_counter()
            result = measure_lesion(moving, click, on_largest_slice=True, settings=settings)
            runs.append(time.perf_counter() - t)
        axes = spec.semi_axes_mm[1]
        print(f"measure_lesion, {name}: median {statistics.median(runs) * 1000:.0f} ms "
              f"(click to lines, 3D volume and largest slice included); long "
              f"{result.long_axis_mm:.1f} mm (true {2 * axes[0]:g}), short "
              f"{result.short_axis_mm:.1f} mm (true {2 * axes[1]:g})")


if __name__ == "__main__":
    main()
