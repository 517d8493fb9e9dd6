"""TID 1500 measurement reports: read (ours, OHIF/dcmjs, 3D Slicer/dcmqi) and write.

The facade of `sr_read` (reading, problem collection) and `sr_write` (one Comprehensive 3D
SR per time point); `sr_codes` holds the shared vocabulary.
"""

from napari_recist.io.sr_read import SRReadResult, pixel_to_lps, read_sr
from napari_recist.io.sr_write import tracking_uid, write_timepoint_sr

__all__ = ["SRReadResult", "pixel_to_lps", "read_sr", "tracking_uid", "write_timepoint_sr"]
