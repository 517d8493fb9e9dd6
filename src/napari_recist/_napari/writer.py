"""npe2 writer: a lesion Shapes layer -> the patient's lesion table (CSV)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from napari_recist._napari.binding import METADATA_KEY


def write_lesion_table(path: str, data: Any, attributes: dict[str, Any]) -> list[str]:
    """Write the lesion table of the patient a lesion layer belongs to.

    The layer is a view of its patient's record, so the whole record is written: every
    lesion at every scan, with the axis end points (shared/spec/lesion-table.md columns plus
    pass-through columns).

    Parameters
    ----------
    path
        Output CSV file (written atomically).
    data
        The layer's shapes (unused: the model is the source of truth).
    attributes
        Layer attributes; ``metadata`` links the layer to its patient session.

    Returns
    -------
    list of str
        The file written.

    Raises
    ------
    ValueError
        When the layer is not a napari-recist lesion layer.
    """
    metadata = attributes.get("metadata") or {}
    link = metadata.get(METADATA_KEY) if isinstance(metadata, dict) else None
    if not isinstance(link, dict) or "session" not in link:
        name = attributes.get("name", "this layer")
        raise ValueError(
            f"{name!r} is not a napari-recist lesion layer: open a patient folder with "
            "napari-recist to measure lesions, then save its lesion layer"
        )
    target = Path(path)
    if target.suffix.lower() != ".csv":
        target = target.with_suffix(".csv")
    link["session"].export_csv(target)
    return [str(target)]
