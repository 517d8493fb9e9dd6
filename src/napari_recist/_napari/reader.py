"""npe2 reader: a patient folder (or DICOM files) -> CT image layers + lesion Shapes layers.

Each scan date becomes one image layer in patient millimetres (CT soft-tissue window) and
one Shapes layer with every lesion axis, coloured by the lesion's response. The layers share
one `PatientSession` (in their metadata) that the dock widgets edit. A saved session table
(``napari-recist.session.csv``) in the folder takes precedence over the SRs.

Bad input never raises into napari: `get_reader` declines what another reader wants and
gives anything else without DICOM a reader that only explains (`folder_probe`);
`read_patient` shows a notification naming the file and returns no layer. The problems of
the load stay listed in the lesion table dock (`problems`); opening a patient closes the one
open before (`patients`).
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from functools import partial
from pathlib import Path
from typing import Any

import numpy as np

from napari_recist._napari.binding import IMAGE, LESIONS, bind_session, layer_metadata
from napari_recist._napari.folder_probe import Holds, Probe, probe_paths
from napari_recist._napari.layers import lesion_shapes, shapes_layer_kwargs, window_limits
from napari_recist._napari.patients import close_patients, missing_images_text, show_missing_images
from napari_recist._napari.preferences import PLUGIN_NAME
from napari_recist._napari.problems import problem_log
from napari_recist._napari.responsive import run_in_worker
from napari_recist._napari.session import (
    PatientSession,
    TimepointView,
)
from napari_recist.errors import InputError, Problem
from napari_recist.io.display_geometry import DisplayGeometry, flip_for_display
from napari_recist.model import PatientRecord

LayerData = tuple[Any, ...]
ReaderFunction = Callable[[str | Sequence[str]], list[LayerData]]

# Volumes up to this many bytes are read at once; larger ones are shown lazily (slices read
# on demand) and read fully in a background thread with a progress bar.
EAGER_BYTES = 64 * 1024 * 1024


def _claimed_by_another_reader(path: Path) -> bool:
    """Whether another installed napari reader claims a file, by its name (npe2 patterns)."""
    try:
        from npe2 import PluginManager

        readers = PluginManager.instance().iter_compatible_readers([os.fspath(path)])
        return any(reader.plugin_name != PLUGIN_NAME for reader in readers)
    except Exception:  # noqa: BLE001 - a probe never raises into napari
        return False


def get_reader(path: str | Sequence[str]) -> ReaderFunction | None:
    """Return the reader for DICOM, a clear message for nothing readable, else None.

    Never raises. A folder or file holding DICOM gets `read_patient`. A zarr store, or a
    folder of files another installed reader claims, gets None so that napari asks that
    reader. Anything else (an empty folder, a folder of notes, a missing path) gets a reader
    that says what is wrong and adds no layer: declining it made
    ``napari --plugin napari-recist FOLDER`` exit with a traceback (issue 17).

    Parameters
    ----------
    path
        A folder, a file, or a list of them.

    Returns
    -------
    callable or None
        `read_patient`, a reader that only explains, or None.
    """
    try:
        paths = [Path(path)] if isinstance(path, str | os.PathLike) else [Path(p) for p in path]
        if not paths:
            return None
        probe = probe_paths(paths, _claimed_by_another_reader)
    except (OSError, TypeError, ValueError):
        return None
    if probe.holds is Holds.DICOM:
        return read_patient
    if probe.holds is Holds.OTHER_READER:
        return None
    return partial(explain_unreadable, probe)


def explain_unreadable(probe: Probe, path: str | Sequence[str] | None = None) -> list[LayerData]:
    """The reader of a path with nothing to read: one clear message, no layer, no traceback."""
    _notify([probe.message()], error=True)
    return [(None,)]


@dataclass(frozen=True)
class VolumeSource:
    """Where a displayed volume comes from: its series and the flips applied for display."""

    series: Any  # napari_recist.io.dicom_scan.SeriesInfo
    flips: tuple[int, ...]


@dataclass
class LoadedPatient:
    """What a patient folder gave: the record, the scans to show and their volumes."""

    record: PatientRecord
    timepoints: list[TimepointView]
    volumes: dict[int, Any] = field(default_factory=dict)  # time point -> displayed array
    folder: Path | None = None
    messages: list[str] = field(default_factory=list)
    # time point -> its series, to read a lazy volume again without dask (see read_volume)
    sources: dict[int, VolumeSource] = field(default_factory=dict)


def load_patient_for_viewer(paths: Sequence[Path]) -> LoadedPatient:
    """Open a patient with the project's one loader and prepare its scans for display.

    Parameters
    ----------
    paths
        A patient folder, several folders, or DICOM files: all scanned once together.

    Returns
    -------
    LoadedPatient
        Scans by date with their display geometry and (lazy) arrays, the lesion record
        (session table, else the SRs; checked when classified), and messages for the user.

    Raises
    ------
    InputError
        When the input holds no CT series and no SR, or nothing at all could be shown.
    """
    from napari_recist.io.patient import open_patient
    from napari_recist.io.volume import load_series

    opened = open_patient(paths)
    messages = [*opened.notes, *(str(p) for p in opened.read_problems)]
    if opened.record_source == "none" and any(scan.sr_files for scan in opened.scans):
        messages.append(f"{opened.folder}: no structured report with lesion measurements "
                        "found; the scans are shown without lesions")
    record = opened.record
    if not record.patient_id:
        record = PatientRecord(opened.patient_id or opened.folder.name)
    timepoints: list[TimepointView] = []
    volumes: dict[int, Any] = {}
    sources: dict[int, VolumeSource] = {}
    problems: list[Problem | str] = []
    for scan in opened.scans:
        without_image = TimepointView(scan.timepoint, scan.date, DisplayGeometry.patient_space())
        if scan.series is None:
            if record.assessment(scan.timepoint) is not None:
                timepoints.append(without_image)
                messages.append(
                    f"{scan.date}: lesions without the CT images of that date; they are listed "
                    "and classified, lines are drawn in patient coordinates (mm) where known"
                )
            continue
        info = scan.series
        try:
            volume = load_series(info, lazy=True)
        except InputError as error:
            problems += error.problems
            if record.assessment(scan.timepoint) is not None:
                timepoints.append(without_image)  # its lesions still count
            continue
        messages += [f"{info.describe()}: {warning}" for warning in volume.warnings]
        if volume.shape[0] == 1:
            messages.append(f"{info.describe()}: a single slice; no 3D measurement across slices")
        geometry, flips = DisplayGeometry.from_affine(volume.affine, volume.shape)
        uids = [uid or "" for uid in volume.sop_instance_uids]
        if 0 in flips:
            uids = uids[::-1]
        volumes[scan.timepoint] = flip_for_display(volume.array, flips)
        sources[scan.timepoint] = VolumeSource(info, tuple(flips))
        timepoints.append(
            TimepointView(
                scan.timepoint,
                scan.date,
                geometry,
                has_image=True,
                slice_uids=uids,
                frame_of_reference_uid=volume.frame_of_reference_uid,
                series_files=[file for file in volume.files if file is not None],
            )
        )
    if timepoints and not any(view.has_image for view in timepoints):
        messages.append(no_ct_message(opened.folder, timepoints))
    if not timepoints:
        where = os.fspath(paths[0]) if len(paths) == 1 else f"{len(paths)} paths"
        # Each file refused says why (e.g. an SR that is not a TID 1500 report).
        raise InputError(problems + list(opened.read_problems) or [Problem(
            where, "nothing could be loaded: no CT series and no lesion measurements")])
    messages += [str(problem) for problem in problems]
    return LoadedPatient(record, timepoints, volumes, opened.folder, messages, sources)


def no_ct_message(folder: Path, timepoints: Sequence[TimepointView]) -> str:
    """The message of a patient whose SRs came without any CT series."""
    dates = ", ".join(view.name for view in timepoints)
    return (f"{folder}: no CT series found, only lesion measurements ({dates}): the lesions are "
            "listed in the lesion table and classified, but nothing can be shown or measured. "
            "Open the folder that holds the CT series too (or both folders at once).")


def patient_layer_data(loaded: LoadedPatient, session: PatientSession) -> list[LayerData]:
    """Build the layer data tuples of a loaded patient: per scan, its CT then its lesions.

    Only the last scan with images is visible at first; the lesion table widget switches
    scans.
    """
    layers: list[LayerData] = []
    last = first_shown_timepoint(loaded.timepoints)
    for view in loaded.timepoints:
        array = loaded.volumes.get(view.timepoint)
        # A scan without its images is never shown alone (a black view with a 1 mm slider):
        # its lesions are in the table, the canvas says why there is nothing to see.
        visible = view.timepoint == last and view.has_image
        if array is not None:
            layers.append(
                (
                    array,
                    {
                        "name": f"CT {view.name}",
                        "colormap": "gray",
                        "contrast_limits": window_limits("soft tissue"),
                        "metadata": layer_metadata(session, view.timepoint, IMAGE),
                        "visible": visible,
                        **view.geometry.layer_transform(),
                    },
                    "image",
                )
            )
        shapes = lesion_shapes(
            session.record,
            view.timepoint,
            view.geometry,
            session.lesion_responses(view.timepoint),
        )
        kwargs = shapes_layer_kwargs(
            f"lesions {view.name}",
            view.geometry,
            shapes,
            layer_metadata(session, view.timepoint, LESIONS),
        )
        kwargs["visible"] = visible
        layers.append((shapes.data, kwargs, "shapes"))
    return layers


def _notify(messages: Sequence[str], error: bool = False) -> None:
    from napari.utils.notifications import show_error, show_warning

    if not messages:
        return
    text = "\n".join(messages)
    if error:
        show_error(text)
    else:
        show_warning(text)


def read_patient(path: str | Sequence[str]) -> list[LayerData]:
    """Read a patient folder or DICOM files into layers (the npe2 reader command).

    Parameters
    ----------
    path
        What the user opened.

    Returns
    -------
    list of LayerData
        Image and Shapes layer tuples; ``[(None,)]`` (nothing to add) after telling the user
        what is wrong.
    """
    paths = [Path(path)] if isinstance(path, str | os.PathLike) else [Path(p) for p in path]
    try:
        loaded = run_in_worker(_load_for_display, paths, description="Reading the patient")
    except InputError as error:
        _notify([f"napari-recist cannot open {os.fspath(paths[0])}:"]
                + [str(problem) for problem in error.problems], error=True)
        return [(None,)]
    viewer = _current_viewer()
    if viewer is not None and not _replace_open_patient(viewer, paths):
        return [(None,)]
    session = PatientSession(loaded.record, loaded.timepoints, folder=loaded.folder)
    lock_note = session.hold_lock()
    messages = [*loaded.messages, *([lock_note] if lock_note else [])]
    problem_log(session).extend(messages)
    _notify(messages)
    layers = patient_layer_data(loaded, session)
    if viewer is not None:
        bind_session(viewer, session)
        _dock_lesion_table(viewer)
        shown = first_shown_timepoint(loaded.timepoints)
        show_missing_images(viewer, missing_images_text(session, shown))
        _select_when_added(viewer, session, shown, len(layers))
        lazy = {tp: array for tp, array in loaded.volumes.items() if not isinstance(array,
                                                                                 np.ndarray)}
        if lazy:
            session.loader = load_in_background(viewer, session, lazy, loaded.sources)
    return layers


def first_shown_timepoint(timepoints: Sequence[TimepointView]) -> int:
    """The scan shown first: the last one with its CT images, else the last one."""
    with_images = [view.timepoint for view in timepoints if view.has_image]
    return with_images[-1] if with_images else timepoints[-1].timepoint


def _replace_open_patient(viewer: Any, paths: Sequence[Path]) -> bool:
    """One patient per viewer: close the open one first (asking if it has unsaved edits)."""
    if close_patients(viewer):
        return True
    _notify([f"{os.fspath(paths[0])} not opened: the open patient is kept with its unsaved "
             "edits (export them, then open the next patient)."])
    return False


def _select_when_added(viewer: Any, session: PatientSession, timepoint: int, count: int) -> None:
    """Once napari has added the patient's layers, select the lesions of the scan shown.

    napari selects the last layer added (the last scan's lesions, hidden when that scan has
    no CT): the scan measured on would not be the one on screen.
    """
    from qtpy.QtCore import QTimer

    from napari_recist._napari.binding import layer_link, session_layer

    def on_inserted(*_: object) -> None:
        mine = [layer for layer in viewer.layers
                if (link := layer_link(layer)) is not None and link["session"] is session]
        if len(mine) < count:
            return
        with contextlib.suppress(TypeError, ValueError, RuntimeError):
            viewer.layers.events.inserted.disconnect(on_inserted)

        def select() -> None:  # after napari has made the layer just added the active one
            layer = session_layer(viewer, session, timepoint, LESIONS)
            if layer is not None and layer in viewer.layers:
                viewer.layers.selection.active = layer

        QTimer.singleShot(0, select)

    viewer.layers.events.inserted.connect(on_inserted)


def _dock_lesion_table(viewer: Any) -> None:
    """Dock the lesion table (its problems list keeps what the notifications said)."""
    window = getattr(viewer, "window", None)
    if window is None or not hasattr(window, "add_plugin_dock_widget"):
        return
    with contextlib.suppress(Exception):  # a missing dock never stops the patient opening
        window.add_plugin_dock_widget(PLUGIN_NAME, "Lesion table")


def _current_viewer() -> Any:
    from napari import current_viewer

    return current_viewer()


def _load_for_display(paths: Sequence[Path]) -> LoadedPatient:
    """Headers, lesions and the pixels of small volumes: the reader's work off the UI."""
    loaded = load_patient_for_viewer(paths)
    loaded.volumes = _load_small_volumes(loaded)
    return loaded


def read_volume(source: VolumeSource, progress: Callable[[int], None] | None = None) -> Any:
    """Read a whole volume for display with the eager loader: no dask involved.

    A lazy volume is never computed off the main thread: napari slices dask arrays inside
    its opportunistic dask cache, whose callbacks are global and not thread safe (dask issue
    10396), so a worker computing the same graph meanwhile raced with the slicing (KeyError
    toasts, undrawn slices, a dead loader; issue 17). The files are read again instead,
    with the headers the folder scan kept.

    Parameters
    ----------
    source
        The series and its display flips.
    progress
        Called with 1 after each slice is read.

    Returns
    -------
    numpy.ndarray
        The displayed ``(z, y, x)`` volume in HU.
    """
    from napari_recist.io.volume import load_series

    volume = load_series(source.series, lazy=False, progress=progress)
    return np.ascontiguousarray(flip_for_display(volume.array, source.flips))


def _load_small_volumes(loaded: LoadedPatient) -> dict[int, Any]:
    """Read volumes up to `EAGER_BYTES` now (without dask); leave bigger ones lazy."""
    volumes: dict[int, Any] = {}
    for timepoint, array in loaded.volumes.items():
        source = loaded.sources.get(timepoint)
        if isinstance(array, np.ndarray) or source is None or array.nbytes > EAGER_BYTES:
            volumes[timepoint] = array
        else:
            volumes[timepoint] = _same_shape(read_volume(source), array)
    return volumes


def _same_shape(read: np.ndarray, lazy: Any) -> np.ndarray:
    """The eager read of a volume must be the lazy one's twin (same loader, same headers)."""
    if read.shape != tuple(lazy.shape):
        raise InputError([Problem(str(getattr(lazy, "name", "volume")),
                                  f"the volume read has shape {read.shape}, the lazy one "
                                  f"{tuple(lazy.shape)}: the files changed while opening")])
    return read


def load_in_background(
    viewer: Any, session: PatientSession, volumes: dict[int, Any],
    sources: dict[int, VolumeSource] | None = None,
) -> Any:
    """Read lazy volumes in a worker thread (without dask) with napari's progress bar.

    The viewer shows the lazy (dask) volume meanwhile, sliced by napari on the main thread;
    the worker reads the same files with the eager loader (`read_volume`), never computing
    the dask graph napari is slicing. Each finished volume replaces the image layer's data
    on the main thread (as soon as the layer exists: the reader's layers are added after it
    returns).

    Parameters
    ----------
    viewer
        The viewer.
    session
        The patient.
    volumes
        Time point -> lazy volume (for its size and the progress bar).
    sources
        Time point -> its series; without one a volume stays lazy.

    Returns
    -------
    napari.qt.threading.GeneratorWorker
        The started worker.
    """
    import queue
    from concurrent.futures import ThreadPoolExecutor

    from napari.qt.threading import thread_worker

    sources = sources or {}
    todo = {tp: sources[tp] for tp in volumes if tp in sources}
    total = sum(int(volumes[tp].shape[0]) + 1 for tp in todo)

    @thread_worker(progress={"total": total, "desc": "Reading CT"})
    def read_slices() -> Any:
        done: queue.SimpleQueue[int] = queue.SimpleQueue()
        with ThreadPoolExecutor(max_workers=1, thread_name_prefix="napari-recist-ct") as pool:
            for timepoint, source in todo.items():
                future = pool.submit(read_volume, source, done.put)
                while not future.done() or not done.empty():
                    try:
                        done.get(timeout=0.05)
                    except queue.Empty:
                        continue
                    yield None
                yield (timepoint, _same_shape(future.result(), volumes[timepoint]))

    pending: dict[int, np.ndarray] = {}

    def apply_pending(*_: object) -> None:
        from napari_recist._napari.binding import session_layer

        for timepoint in list(pending):
            layer = session_layer(viewer, session, timepoint, IMAGE)
            if layer is not None:
                limits = layer.contrast_limits
                layer.data = pending.pop(timepoint)
                layer.contrast_limits = limits
        if not pending:
            with contextlib.suppress(TypeError, ValueError, RuntimeError):
                viewer.layers.events.inserted.disconnect(apply_pending)

    def replace_data(value: Any) -> None:
        if value is None:
            return
        timepoint, array = value
        pending[timepoint] = array
        apply_pending()

    viewer.layers.events.inserted.connect(apply_pending)
    worker = read_slices()
    worker.yielded.connect(replace_data)
    worker.start()
    return worker
