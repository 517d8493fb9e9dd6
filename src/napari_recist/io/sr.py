"""TID 1500 measurement reports: read (ours, OHIF/dcmjs, 3D Slicer/dcmqi) and write.

The facade of `sr_read` (reading, problem collection) and `sr_write` (one Comprehensive 3D
SR per time point); `sr_codes` holds the shared vocabulary, `sr_geometry` the conversion
between image (SCOORD) and patient (LPS) coordinates.
"""

from napari_recist.io.sr_geometry import lps_to_pixel, pixel_to_lps
from napari_recist.io.sr_read import SRReadResult, read_sr
from napari_recist.io.sr_write import tracking_uid, write_timepoint_sr

__all__ = [
    "SRReadResult",
    "lps_to_pixel",
    "pixel_to_lps",
    "read_sr",
    "tracking_uid",
    "write_timepoint_sr",
]
