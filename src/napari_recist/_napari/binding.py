"""Glue between a `PatientSession` and the napari viewer that shows it.

Layers made by the reader carry ``metadata["napari_recist"] = {"session", "timepoint",
"kind"}``. Binding a session to a viewer keeps that viewer's lesion layers in step with the
model: every session change rebuilds the lines, features and colours of each timepoint.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

import numpy as np
from psygnal import Signal
from qtpy.QtCore import QTimer

from napari_recist._napari.halo import keep_labels_outlined
from napari_recist._napari.layers import (
    apply_lesion_shapes,
    drawn_axis_geometry,
    lesion_shapes,
    line_length_mm,
)
from napari_recist._napari.session import PatientSession

if TYPE_CHECKING:
    import napari
    from napari.layers import Layer

METADATA_KEY = "napari_recist"
IMAGE = "image"
LESIONS = "lesions"


def layer_metadata(session: PatientSession, timepoint: int, kind: str) -> dict[str, Any]:
    """Return the metadata that ties a layer to its session and time point."""
    return {METADATA_KEY: {"session": session, "timepoint": timepoint, "kind": kind}}


def unwrap(obj: Any) -> Any:
    """Return the object behind napari's plugin proxy.

    napari hands dock widgets a ``PublicOnlyProxy`` of the viewer, and it wraps every object
    of a module whose name starts with "napari" (ours too) in a new proxy on each access;
    sessions are compared by identity, so they are always unwrapped.
    """
    return getattr(obj, "__wrapped__", obj)


def layer_link(layer: Layer) -> dict[str, Any] | None:
    """Return a layer's link to a session (session, timepoint, kind), or None."""
    metadata = layer.metadata
    link = metadata.get(METADATA_KEY) if isinstance(metadata, dict) else None
    if not isinstance(link, dict) or "session" not in link:
        return None
    return {**link, "session": unwrap(link["session"])}


def find_session(viewer: napari.Viewer) -> PatientSession | None:
    """Return the session of the most recently added patient layer, or None."""
    for layer in reversed(list(viewer.layers)):
        link = layer_link(layer)
        if link is not None:
            return link["session"]
    return None


class SessionTracker:
    """The patient session a viewer shows, followed once for every dock of that viewer.

    The current session is the one of the most recently added patient layer; `changed`
    is emitted with the new session (or None) when that changes, after the session has been
    bound to the viewer (`bind_session`).
    """

    changed = Signal(object)

    def __init__(self, viewer: napari.Viewer) -> None:
        self.viewer = viewer
        self.session: PatientSession | None = None
        viewer.layers.events.inserted.connect(self.update)
        viewer.layers.events.removed.connect(self.update)
        self.update()

    def update(self, *_: object) -> None:
        """Look for the current session again (called on every layer insertion/removal)."""
        session = find_session(self.viewer)
        if session is self.session:
            return
        self.session = session
        if session is not None:
            bind_session(self.viewer, session)
        self.changed.emit(session)


_TRACKERS: dict[int, SessionTracker] = {}


def session_tracker(viewer: napari.Viewer) -> SessionTracker:
    """The one `SessionTracker` of a viewer (the registry every dock asks)."""
    real = unwrap(viewer)
    tracker = _TRACKERS.get(id(real))
    if tracker is None or unwrap(tracker.viewer) is not real:
        tracker = _TRACKERS[id(real)] = SessionTracker(real)
    return tracker


def session_layer(
    viewer: napari.Viewer, session: PatientSession, timepoint: int, kind: str
) -> Layer | None:
    """Return the image or lesion layer of one time point, or None."""
    for layer in viewer.layers:
        link = layer_link(layer)
        if (
            link is not None
            and link["session"] is session
            and link["timepoint"] == timepoint
            and link["kind"] == kind
        ):
            return layer
    return None


def current_timepoint(viewer: napari.Viewer, session: PatientSession) -> int | None:
    """Return the time point the user is looking at.

    The selected layer's time point if it belongs to the session, otherwise the top-most
    visible layer's, otherwise the last time point.
    """
    active = viewer.layers.selection.active
    if active is not None:
        link = layer_link(active)
        if link is not None and link["session"] is session:
            return int(link["timepoint"])
    for layer in reversed(list(viewer.layers)):
        link = layer_link(layer)
        if link is not None and link["session"] is session and layer.visible:
            return int(link["timepoint"])
    return session.timepoints[-1].timepoint if session.timepoints else None


# The callback that sends a lesion layer's user edits to the model, by layer: blocked while
# the layer is rebuilt from the model (those data events are ours, not the user's).
_EDIT_FOLLOWERS: dict[int, Any] = {}


def refresh_lesion_layers(viewer: napari.Viewer, session: PatientSession) -> None:
    """Rebuild every lesion layer of the session from the model and its classification."""
    for view in session.timepoints:
        layer = session_layer(viewer, session, view.timepoint, LESIONS)
        if layer is None:
            continue
        shapes = lesion_shapes(
            session.record, view.timepoint, view.geometry, session.lesion_responses(view.timepoint)
        )
        follower = _EDIT_FOLLOWERS.get(id(unwrap(layer)))
        if follower is None:
            apply_lesion_shapes(layer, shapes)
            continue
        with layer.events.data.blocker(follower):
            apply_lesion_shapes(layer, shapes)


def apply_moved_axes(
    session: PatientSession, layer: Layer, indices: Sequence[int]
) -> list[str]:
    """Write lesion lines the user moved or reshaped back to the model.

    Parameters
    ----------
    session
        The patient.
    layer
        A lesion layer of the session.
    indices
        Shapes that changed.

    Returns
    -------
    list of str
        The lesions whose axis was updated.
    """
    link = layer_link(layer)
    if link is None or link["kind"] != LESIONS:
        return []
    timepoint = int(link["timepoint"])
    view = session.view(timepoint)
    if view is None:
        return []
    edits = []
    for index in indices:
        if not 0 <= index < len(layer.data):
            continue
        lesion_id = str(layer.features["lesion_id"].iloc[index] or "")
        axis = str(layer.features["axis"].iloc[index] or "")
        if lesion_id and axis in ("long", "short") and lesion_id in session.record.lesions:
            geometry = drawn_axis_geometry(
                layer, index, view.geometry, view.slice_uids, view.frame_of_reference_uid
            )
            edits.append((lesion_id, axis, geometry, line_length_mm(layer, index)))
    for lesion_id, axis, geometry, length in edits:
        session.set_axis(timepoint, lesion_id, axis, geometry, length)
    return [edit[0] for edit in edits]


def _owned_lines(layer: Layer, indices: Sequence[int]) -> list[str]:
    """Return the lesion ids of the given lines of a lesion layer (drawn lines have none)."""
    if "lesion_id" not in layer.features:
        return []
    ids = layer.features["lesion_id"].fillna("").astype(str).tolist()
    return [ids[i] for i in indices if 0 <= i < len(ids) and ids[i]]


def _restore_after_removal(session: PatientSession, layer: Layer) -> None:
    from napari.utils.notifications import show_info

    session.changed.emit()  # every view redraws from the model
    show_info(
        f"Lesion lines follow the lesion table: to delete a measurement use 'Delete at this "
        f"scan' or 'Delete lesion' in the napari-recist lesion table ({layer.name})."
    )


def _follow_user_edits(session: PatientSession, layer: Layer) -> None:
    """Send the user's drags of lesion lines (napari's CHANGED data events) to the model."""

    def on_data(event: Any) -> None:
        action = str(getattr(event, "action", ""))
        indices = tuple(getattr(event, "data_indices", ()) or ())
        if action == "changed" and indices:
            # After napari has finished its own handling of the event.
            QTimer.singleShot(0, lambda: apply_moved_axes(session, layer, indices))
        elif action == "removing" and _owned_lines(layer, indices):
            # The model decides what is measured: a lesion line deleted with napari's own
            # tool comes back, and the user is told how to delete a measurement.
            QTimer.singleShot(0, lambda: _restore_after_removal(session, layer))

    _EDIT_FOLLOWERS[id(unwrap(layer))] = on_data
    layer.events.data.connect(on_data)


def bind_session(viewer: napari.Viewer, session: PatientSession) -> None:
    """Keep the viewer's lesion layers and the session in step (idempotent).

    Model -> layers: every session change rebuilds the lesion layers. Layers -> model: a
    lesion line dragged or reshaped in the viewer updates that axis in the model.
    """
    session = unwrap(session)
    if id(unwrap(viewer)) in session.bound_viewers:
        return
    session.bound_viewers.add(id(unwrap(viewer)))
    followed: set[int] = set()

    def _refresh() -> None:
        refresh_lesion_layers(viewer, session)

    def _watch(*_: object) -> None:
        for layer in viewer.layers:
            link = layer_link(layer)
            key = id(unwrap(layer))
            if link and link["session"] is session and link["kind"] == LESIONS:
                if key not in followed:
                    followed.add(key)
                    _follow_user_edits(session, layer)

    session.changed.connect(_refresh)
    warned: list[str] = []

    def _warn_save_failed(message: str) -> None:
        from napari.utils.notifications import show_warning

        if warned and warned[-1] == message:
            return  # said once; the response panel keeps showing it
        warned.append(message)
        show_warning(f"{message}. Your edits are kept in the viewer; export the lesion "
                     "table to save them elsewhere.")

    session.save_failed.connect(_warn_save_failed)
    viewer.layers.events.inserted.connect(_watch)
    _watch()
    bind_undo_keys(viewer)
    keep_labels_outlined(viewer)


def bind_undo_keys(viewer: napari.Viewer) -> None:
    """Ctrl+Z / Ctrl+Shift+Z undo and redo the edits of the viewer's patient (once per viewer).

    Viewer bindings: a layer's own binding of the keys (napari's Labels undo its painting)
    still wins while that layer is selected.
    """
    real = unwrap(viewer)

    def undo(_: object) -> None:
        session = session_tracker(real).session
        if session is not None:
            session.undo()

    def redo(_: object) -> None:
        session = session_tracker(real).session
        if session is not None:
            session.redo()

    for key, action in (("Control-Z", undo), ("Control-Shift-Z", redo)):
        try:
            real.bind_key(key, action, overwrite=False)
        except ValueError:  # bound already (by us for another patient, or by the user)
            pass


def show_timepoint(viewer: napari.Viewer, session: PatientSession, timepoint: int) -> None:
    """Show one time point (its CT and lesions), hide the others, select its lesion layer."""
    for layer in viewer.layers:
        link = layer_link(layer)
        if link is not None and link["session"] is session:
            layer.visible = link["timepoint"] == timepoint
    lesions = session_layer(viewer, session, timepoint, LESIONS)
    if lesions is not None:
        viewer.layers.selection.active = lesions


def lesion_centre_world(
    viewer: napari.Viewer, session: PatientSession, timepoint: int, lesion_id: str
) -> np.ndarray | None:
    """Return the world position (z, y, x) of a lesion's long axis centre, or None."""
    measurement = session.measurement(timepoint, lesion_id)
    view = session.view(timepoint)
    layer = session_layer(viewer, session, timepoint, LESIONS)
    if measurement is None or view is None or layer is None:
        return None
    axis = measurement.long_axis or measurement.short_axis
    if axis is None:
        return None
    data = view.geometry.lps_to_data(np.array(axis.points, dtype=float))
    centre = data.mean(axis=0)
    centre[0] = np.round(centre[0])  # napari shows a line on its own slice
    return np.asarray(layer.data_to_world(centre), dtype=float)


def centre_on_lesion(
    viewer: napari.Viewer, session: PatientSession, timepoint: int, lesion_id: str
) -> bool:
    """Move the slider to the lesion's slice and centre the camera on it.

    A lesion not yet measured on that scan goes to its last known position: the position
    lesion propagation registered for it, else its prior lines at the same patient
    coordinates (`reading.last_known_position`: the follow-up case).

    Returns
    -------
    bool
        False when no scan gives the lesion a position.
    """
    centre = lesion_centre_world(viewer, session, timepoint, lesion_id)
    if centre is None:
        centre = known_position_world(viewer, session, timepoint, lesion_id)
    if centre is None:
        return False
    viewer.dims.set_point(0, float(centre[0]))
    camera(viewer).center = tuple(float(value) for value in centre)
    return True


def known_position_world(
    viewer: napari.Viewer, session: PatientSession, timepoint: int, lesion_id: str
) -> np.ndarray | None:
    """World position (z, y, x) of a lesion's last known position on a scan, or None."""
    from napari_recist._napari.proposals import published_proposals
    from napari_recist._napari.reading import last_known_position

    position = last_known_position(session, timepoint, lesion_id,
                                   published_proposals(session, timepoint))
    return None if position is None else lps_to_world(viewer, session, timepoint,
                                                      position.centre_lps)


def lps_to_world(viewer: napari.Viewer, session: PatientSession, timepoint: int,
                 point_lps: Sequence[float]) -> np.ndarray | None:
    """World position of an LPS point as a scan's layers show it (on one of its slices)."""
    view = session.view(timepoint)
    layer = session_layer(viewer, session, timepoint, LESIONS) or session_layer(
        viewer, session, timepoint, IMAGE)
    if view is None or layer is None:
        return None
    data = view.geometry.lps_to_data(np.asarray([point_lps], dtype=float))[0]
    data[0] = np.round(data[0])  # napari shows a line on its own slice
    return np.asarray(layer.data_to_world(data), dtype=float)


def camera(viewer: napari.Viewer) -> Any:
    """The viewer's camera (``viewer.scene.camera`` since napari 0.9)."""
    scene = getattr(viewer, "scene", None)
    return scene.camera if scene is not None and hasattr(scene, "camera") else viewer.camera
