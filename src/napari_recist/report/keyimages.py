"""Key images for the tumour board: each measured lesion cropped from its CT, axes outlined.

The measurement's end points (patient LPS, from the SR) are mapped into the CT volume of the
same study date; the slice through them is windowed (lung window for thoracic lung lesions,
soft-tissue window otherwise), cropped around the lesion and drawn with its long and short axes
and an ellipse through them, in the palette colour of the lesion's response at that time point.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np
from matplotlib.patches import Ellipse

from napari_recist.model import Lesion, Measurement, PatientRecord
from napari_recist.report.figures import figure_png, label_colour, new_figure

# Display windows (centre, width) in HU: the usual radiology presets.
LUNG_WINDOW = (-600.0, 1500.0)
SOFT_TISSUE_WINDOW = (40.0, 400.0)
CROP_MARGIN = 1.6  # crop half-size = margin x half the long axis...
MIN_CROP_HALF_MM = 25.0  # ...but at least this, so small lesions show their surroundings
IMAGE_INCHES = 2.3
IMAGE_DPI = 80


@dataclass(frozen=True)
class KeyImage:
    """One lesion at one time point.

    Parameters
    ----------
    lesion_id, timepoint
        Which lesion, when.
    png
        The image; None when there is nothing to show.
    caption
        Size and response, or why there is no image.
    """

    lesion_id: str
    timepoint: int
    png: bytes | None
    caption: str


def window_for(lesion: Lesion) -> tuple[float, float]:
    """Display window for a lesion's site: lung window for lung lesions, else soft tissue."""
    return LUNG_WINDOW if lesion.site.lower() == "lung" else SOFT_TISSUE_WINDOW


def render_key_image(
    volume: Any, lesion: Lesion, measurement: Measurement, response: str
) -> bytes | None:
    """Crop one measured lesion from a CT volume and draw its axes.

    Parameters
    ----------
    volume
        `napari_recist.io.volume.Volume` of the same study (array (z, y, x) in HU,
        ``lps_to_index``, ``spacing``).
    lesion
        The lesion (site picks the window; nodes are measured by the short axis).
    measurement
        Its measurement with `long_axis` end points.
    response
        Lesion response at this time point (palette colour of the outline).

    Returns
    -------
    bytes or None
        PNG; None when the measurement has no geometry or lies outside the volume.
    """
    if measurement.long_axis is None or len(measurement.long_axis.points) < 2:
        return None
    long_index = np.asarray(volume.lps_to_index(measurement.long_axis.points), dtype=float)
    short_index = (
        np.asarray(volume.lps_to_index(measurement.short_axis.points), dtype=float)
        if measurement.short_axis is not None and len(measurement.short_axis.points) >= 2
        else None
    )
    depth, rows, columns = volume.shape
    z = int(round(float(long_index[:, 0].mean())))
    if not 0 <= z < depth:
        return None
    spacing_y, spacing_x = float(volume.spacing[1]), float(volume.spacing[2])
    centre_y, centre_x = long_index[:, 1].mean(), long_index[:, 2].mean()
    length_mm = float(
        np.hypot(
            (long_index[-1, 1] - long_index[0, 1]) * spacing_y,
            (long_index[-1, 2] - long_index[0, 2]) * spacing_x,
        )
    )
    half_mm = max(MIN_CROP_HALF_MM, CROP_MARGIN * length_mm / 2)
    y0 = max(0, int(centre_y - half_mm / spacing_y))
    y1 = min(rows, int(centre_y + half_mm / spacing_y) + 1)
    x0 = max(0, int(centre_x - half_mm / spacing_x))
    x1 = min(columns, int(centre_x + half_mm / spacing_x) + 1)
    if y1 <= y0 or x1 <= x0:
        return None
    crop = np.asarray(volume.array[z, y0:y1, x0:x1], dtype=float)
    level, width = window_for(lesion)
    colour = label_colour(response)
    figure = new_figure(IMAGE_INCHES, IMAGE_INCHES)
    figure.set_layout_engine(None)
    ax = figure.add_axes((0, 0, 1, 1))
    # extent in mm so that the drawing keeps the pixel aspect ratio of the CT.
    ax.imshow(
        crop,
        cmap="gray",
        vmin=level - width / 2,
        vmax=level + width / 2,
        extent=(x0 * spacing_x, x1 * spacing_x, y1 * spacing_y, y0 * spacing_y),
        interpolation="bilinear",
    )
    for axis in (long_index, short_index):
        if axis is not None:
            ax.plot(
                (axis[:, 2] + 0.5) * spacing_x,
                (axis[:, 1] + 0.5) * spacing_y,
                color=colour,
                linewidth=1.6,
            )
    if short_index is not None:
        short_mm = float(
            np.hypot(
                (short_index[-1, 1] - short_index[0, 1]) * spacing_y,
                (short_index[-1, 2] - short_index[0, 2]) * spacing_x,
            )
        )
        angle = math.degrees(
            math.atan2(
                (long_index[-1, 1] - long_index[0, 1]) * spacing_y,
                (long_index[-1, 2] - long_index[0, 2]) * spacing_x,
            )
        )
        ax.add_patch(
            Ellipse(
                ((centre_x + 0.5) * spacing_x, (centre_y + 0.5) * spacing_y),
                length_mm * 1.15,
                short_mm * 1.15,
                angle=angle,
                fill=False,
                edgecolor=colour,
                linewidth=1.0,
                linestyle="--",
            )
        )
    ax.set_axis_off()
    return figure_png(figure, dpi=IMAGE_DPI)


def _describe(lesion: Lesion, measurement: Measurement) -> str:
    if measurement.long_axis_mm is not None:
        size = f"{measurement.long_axis_mm:g}"
        if measurement.short_axis_mm is not None:
            size += f" x {measurement.short_axis_mm:g}"
        return f"{size} mm"
    return str(measurement.state)


def key_images(
    record: PatientRecord,
    volumes: Mapping[int, Any],
    responses: Mapping[tuple[int, str], str],
    progress: Callable[[int], Any] | None = None,
) -> list[KeyImage]:
    """Key images of every lesion at every assessment from baseline on.

    Parameters
    ----------
    record
        The patient (measurements with their axes in LPS).
    volumes
        CT volume by time point number; a time point without one gets captions only.
    responses
        Lesion response by (time point, lesion id), from the classification JSON.
    progress
        Called with 1 after each lesion assessment.

    Returns
    -------
    list of KeyImage
        One per lesion per assessment where the lesion has a row.
    """
    images: list[KeyImage] = []
    for assessment in record.assessments:
        if assessment.timepoint < 0:
            continue
        volume = volumes.get(assessment.timepoint)
        for lesion_id, measurement in assessment.measurements.items():
            lesion = record.lesions[lesion_id]
            response = (
                "baseline"
                if assessment.timepoint == 0
                else responses.get((assessment.timepoint, lesion_id), "NA")
            )
            caption = f"{_describe(lesion, measurement)}, {response}"
            png = None
            if volume is None:
                caption += " (no CT of this date)"
            else:
                png = render_key_image(volume, lesion, measurement, response)
                if png is None and measurement.long_axis_mm is not None:
                    caption += " (no drawn axis in the CT)"
            images.append(KeyImage(lesion_id, assessment.timepoint, png, caption))
            if progress is not None:
                progress(1)
    return images


def volumes_for(record: PatientRecord, opened: Any) -> tuple[dict[int, Any], list[str]]:
    """Load (lazily) the CT volume of each assessment from the opened patient folder.

    The series of each scan date is the one `napari_recist.io.patient.open_patient` chose
    (the one the lines reference, else the one with the most slices); its headers were read
    by the folder scan, so only the pixels of the slices cropped are read.

    Parameters
    ----------
    record
        The patient.
    opened
        `napari_recist.io.patient.OpenedPatient` of the same folder.

    Returns
    -------
    tuple
        Volume by time point number, and notes on time points without a usable CT.
    """
    from napari_recist.errors import InputError
    from napari_recist.io.volume import load_series

    volumes: dict[int, Any] = {}
    notes: list[str] = []
    for assessment in record.assessments:
        if assessment.timepoint < 0:
            continue
        scan = opened.scan_on(assessment.date)
        if scan is None or scan.series is None:
            notes.append(f"{assessment.label} ({assessment.date}): no CT series of this date")
            continue
        try:
            volumes[assessment.timepoint] = load_series(scan.series, lazy=True)
        except InputError as error:
            notes.append(f"{assessment.label}: CT series not readable ({error})")
    return volumes, notes
