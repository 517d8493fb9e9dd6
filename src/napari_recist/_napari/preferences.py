"""napari-recist as napari's preferred reader for folders and DICOM files (issue 17).

napari's own reader also accepts every folder, and napari's *Choose reader* dialog lists the
readers alphabetically and preselects the first, "napari builtins", which reads one slice of a
DICOM file as a 2D picture. napari skips the dialog for a path matching a pattern of its
``plugins.extension2reader`` setting (Preferences > Plugins). When the plugin is activated
(any of its contributions is used: the reader from the command line, a dock, the sample) it
adds two patterns there, unless the user already chose a reader for them:

- ``*/`` (any folder): folders go to napari-recist. A folder another reader's files fill (a
  TIFF stack, a zarr store) is declined by `reader.get_reader`, and napari then offers the
  other readers, naming the reason;
- ``*.dcm``: a DICOM file opens its patient, not one slice as a picture.

The user removes them in Preferences > Plugins; a marker beside napari's settings file keeps
them from coming back.
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any

PLUGIN_NAME = "napari-recist"
FOLDER_PATTERN = "*" + os.sep
DICOM_FILE_PATTERN = "*.dcm"
PREFERRED_PATTERNS: tuple[str, ...] = (FOLDER_PATTERN, DICOM_FILE_PATTERN)
MARKER_NAME = "napari-recist-reader-preference"


def with_preferences(current: Mapping[str, str]) -> dict[str, str]:
    """Return the reader preferences with ours added where the user chose none.

    Parameters
    ----------
    current
        napari's ``plugins.extension2reader``: filename pattern -> plugin name.

    Returns
    -------
    dict
        The same mapping, plus `PREFERRED_PATTERNS` -> napari-recist for the patterns it
        does not have; a pattern the user gave another reader keeps it.
    """
    updated = dict(current)
    for pattern in PREFERRED_PATTERNS:
        updated.setdefault(pattern, PLUGIN_NAME)
    return updated


def _marker(settings: Any) -> Path | None:
    path = getattr(settings, "config_path", None)
    return Path(path).parent / MARKER_NAME if path else None


def prefer_napari_recist(settings: Any = None) -> bool:
    """Make napari-recist the preferred reader of folders and ``*.dcm`` (once per user).

    Parameters
    ----------
    settings
        napari's settings; default ``napari.settings.get_settings()``.

    Returns
    -------
    bool
        True when a preference was added now.
    """
    if settings is None:
        from napari.settings import get_settings

        settings = get_settings()
    marker = _marker(settings)
    if marker is not None and marker.exists():
        return False  # added once already: a user who removed it keeps it removed
    current = dict(settings.plugins.extension2reader)
    updated = with_preferences(current)
    if updated == current:
        return False
    settings.plugins.extension2reader = updated
    if marker is not None:
        with contextlib.suppress(OSError):
            marker.parent.mkdir(parents=True, exist_ok=True)
            marker.write_text("napari-recist added its reader preferences to "
                              "plugins.extension2reader once\n", encoding="utf-8")
    return True


def activate(context: Any = None) -> None:
    """npe2's ``on_activate`` hook: set the reader preferences (never raises into napari)."""
    with contextlib.suppress(Exception):
        prefer_napari_recist()
