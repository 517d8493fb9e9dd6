"""The Propagation dock: baseline lesions proposed on a follow-up, measured with one key.

When a follow-up scan is shown, every baseline lesion not yet measured there appears at its
propagated position as a ghost (a cyan ring and the baseline lines mapped onto the
follow-up) in its own ``proposals`` Shapes layer, never mixed with the measured lines. The
follow-up is registered to the baseline in a worker (napari's progress bar; cached per pair
of Series Instance UIDs), so the viewer stays responsive.

Keys (on the viewer, and on the patient's Shapes layers, whose own Enter binding would
otherwise take the key first; while a shape is being drawn Enter still finishes it):

- Enter: accept the current proposal: its semi-automatic measurement is recorded through
  the session (`PatientSession.set_axes`, one edit for both axes, or `set_state` for
  too-small) with ``method =
  semi-automatic``; then the next proposal is shown.
- Shift+Enter: go to the next proposal without recording anything.

*Click to measure* (a mode of the dock, so that ordinary clicks are left alone): one click
inside a lesion measures it there (`imaging.measure.measure_lesion`) for the proposal whose
ring holds the click, else for the current proposal. A reader who then drags a line makes
it ``semi-automatic, adjusted by reader`` (the session decides, for every dock).
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

import numpy as np
from qtpy.QtCore import QTimer
from qtpy.QtWidgets import (
    QHBoxLayout,
    QLabel,
    QListWidget,
    QPushButton,
    QVBoxLayout,
)

from napari_recist._napari.binding import (
    IMAGE,
    LESIONS,
    camera,
    current_timepoint,
    layer_link,
    session_layer,
    unwrap,
)
from napari_recist._napari.proposals import (
    GHOST_COLOUR,
    FollowUpProposals,
    ProposalInputs,
    describe_proposal,
    ghost_shapes,
    pending_proposals,
    proposal_under,
    propose_on_follow_up,
    publish_proposals,
    registration_cache,
)
from napari_recist._napari.widgets.base import SessionDock
from napari_recist.errors import InputError
from napari_recist.model import LesionState, MeasurementMethod

if TYPE_CHECKING:
    import napari

    from napari_recist.imaging.measure import SemiAutomaticResult
    from napari_recist.imaging.propagation import LesionProposal

GHOSTS_KEY = "napari_recist_proposals"  # metadata of the proposals layer (not a lesion layer)
ACCEPT_KEY = "Enter"
NEXT_KEY = "Shift-Enter"
CLICK_SLOP_PX = 4  # a press and release further apart than this is a pan, not a click


class PropagationWidget(SessionDock):
    """Propose the baseline lesions on the follow-up shown and measure them semi-automatically.

    Parameters
    ----------
    napari_viewer
        The viewer (given by napari when the widget is docked).
    """

    def __init__(self, napari_viewer: napari.Viewer) -> None:
        super().__init__(napari_viewer)
        self._viewer = unwrap(napari_viewer)
        self._found: dict[int, FollowUpProposals] = {}
        self._running: dict[int, str] = {}  # time point -> signature being computed
        self._errors: dict[int, str] = {}
        self._workers: list[Any] = []
        self._current: str | None = None  # lesion id of the current proposal
        self._shown: tuple[Any, ...] | None = None  # what the ghosts layer shows
        self._jumped_to: tuple[int, str] | None = None
        self._writing = False
        self._bound_layers: list[Any] = []
        self.last_message = ""

        self._scan = QLabel()
        self._registration = QLabel()
        self._registration.setWordWrap(True)
        self._list = QListWidget()
        self._list.currentRowChanged.connect(self._on_row)
        self._status = QLabel()
        self._status.setWordWrap(True)
        self._accept = QPushButton("Accept proposal (Enter)")
        self._accept.clicked.connect(self.accept_current)
        self._next = QPushButton("Next (Shift+Enter)")
        self._next.clicked.connect(self.next_proposal)
        self._click = QPushButton("Click to measure")
        self._click.setCheckable(True)
        self._click.setToolTip("While on, one click inside a lesion measures it")
        self._click.toggled.connect(self._on_click_mode)
        buttons = QHBoxLayout()
        for button in (self._accept, self._next, self._click):
            buttons.addWidget(button)
        layout = QVBoxLayout(self)
        layout.addWidget(self._scan)
        layout.addWidget(self._registration)
        layout.addWidget(self._list)
        layout.addLayout(buttons)
        layout.addWidget(self._status)
        self._bind_viewer_keys()
        self._viewer.layers.selection.events.active.connect(self._schedule_refresh)
        self._viewer.layers.events.inserted.connect(self._on_layers_changed)
        self.follow_session()

    # -- public API (also what the keys and buttons call) -----------------------------------
    @property
    def timepoint(self) -> int | None:
        """The follow-up whose proposals are shown, or None."""
        return self._shown[0] if self._shown else None

    @property
    def busy(self) -> bool:
        """True while a registration runs."""
        return bool(self._running)

    def proposals(self) -> list[LesionProposal]:
        """The pending proposals of the follow-up shown (lesions not yet measured there)."""
        found = self._found.get(self.timepoint) if self.timepoint is not None else None
        if found is None or self.session is None:
            return []
        return pending_proposals(self.session, found)

    def registration_text(self) -> str:
        """What the dock says about the registration of the follow-up shown."""
        return self._registration.text()

    def current_proposal(self) -> LesionProposal | None:
        """The proposal Enter accepts, or None."""
        for proposal in self.proposals():
            if proposal.lesion.lesion_id == self._current:
                return proposal
        return None

    def accept_current(self) -> bool:
        """Record the current proposal's semi-automatic measurement; False when there is none.

        A proposal whose measurement found no lesion edge is not recorded: the dock says
        why (measure it with *Click to measure* or by hand).
        """
        proposal = self.current_proposal()
        if proposal is None or self.session is None or self.timepoint is None:
            return False
        result = proposal.measurement
        if result is None:
            from napari_recist.imaging.measure import measure_lesion

            found = self._found[self.timepoint]
            result = measure_lesion(found.follow_up, proposal.centre_lps or (0, 0, 0),
                                    nodal=proposal.lesion.nodal, on_largest_slice=True)
        return self._record(proposal, result)

    def next_proposal(self) -> bool:
        """Make the next pending proposal current (wrapping round); False when none."""
        pending = self.proposals()
        if not pending:
            return False
        ids = [p.lesion.lesion_id for p in pending]
        position = ids.index(self._current) + 1 if self._current in ids else 0
        self._current = ids[position % len(ids)]
        self.refresh()
        return True

    def measure_at(self, point_lps: Any) -> bool:
        """Measure the lesion under a point of the follow-up shown (click-to-measure).

        The proposal whose ring holds the point gets the measurement, else the current one.
        """
        if self.session is None or self.timepoint is None:
            return False
        from napari_recist.imaging.measure import measure_lesion

        pending = self.proposals()
        found = self._found[self.timepoint]
        proposal = proposal_under(pending, point_lps, found.follow_up.spacing[0])
        proposal = proposal or self.current_proposal()
        if proposal is None:
            self._say("no baseline lesion is left to measure on this scan")
            return False
        result = measure_lesion(found.follow_up, point_lps, nodal=proposal.lesion.nodal)
        return self._record(proposal, result)

    @property
    def click_mode(self) -> bool:
        """True while one click measures a lesion."""
        return self._click.isChecked()

    def set_click_mode(self, on: bool) -> None:
        """Turn click-to-measure on or off."""
        self._click.setChecked(on)

    # -- SessionDock ----------------------------------------------------------------------
    def on_session_changed(self) -> None:
        """Another patient: forget the proposals of the previous one."""
        self._found.clear()
        self._errors.clear()
        self._current = None
        self._jumped_to = None
        self._bind_layer_keys()
        self.refresh()

    def on_session_edited(self) -> None:
        """After an edit (ours or another dock's) the ghosts follow the session."""
        if not self._writing:
            self.refresh()

    def stop_following(self) -> None:
        """The dock is closed: remove its layer, keys and mouse callback."""
        self.set_click_mode(False)
        self._remove_ghosts()
        self._unbind_keys()
        with contextlib.suppress(ValueError, RuntimeError, TypeError):
            self._viewer.layers.selection.events.active.disconnect(self._schedule_refresh)
        with contextlib.suppress(ValueError, RuntimeError, TypeError):
            self._viewer.layers.events.inserted.disconnect(self._on_layers_changed)
        super().stop_following()

    # -- refreshing -------------------------------------------------------------------------
    def _schedule_refresh(self, *_: object) -> None:
        QTimer.singleShot(0, self.refresh)

    def _on_layers_changed(self, event: Any = None) -> None:
        layer = getattr(event, "value", None)
        if layer is not None and GHOSTS_KEY in getattr(layer, "metadata", {}):
            return
        self._bind_layer_keys()
        self._schedule_refresh()

    def refresh(self) -> None:
        """Show the proposals of the scan on screen (start its registration if needed)."""
        session = self.session
        timepoint = None if session is None else current_timepoint(self._viewer, session)
        reason = self._cannot_propose(timepoint)
        if reason is not None or session is None or timepoint is None:
            self._show_nothing(reason or "open a patient")
            return
        view = session.view(timepoint)
        self._scan.setText(f"Follow-up: {view.name if view else timepoint}")
        found = self._found.get(timepoint)
        from napari_recist._napari.proposals import baseline_signature

        signature = baseline_signature(session)
        if found is None or found.signature != signature:
            if timepoint in self._errors and found is None:
                self._show_nothing(self._errors[timepoint], keep_scan=True)
                return
            self._start(timepoint, signature)
            if found is None:
                self._show_nothing("registering the follow-up to the baseline (in the "
                                   "background)...", keep_scan=True)
                return
        self._show(found)

    def _cannot_propose(self, timepoint: int | None) -> str | None:
        session = self.session
        if session is None:
            return "open a patient"
        baseline = session.record.baseline
        if baseline is None or not baseline.measurements:
            return "measure the baseline first: its lesions are proposed on each follow-up"
        if timepoint is None or timepoint <= baseline.timepoint:
            return "show a follow-up scan to see the baseline lesions proposed on it"
        for tp in (baseline.timepoint, timepoint):
            view = session.view(tp)
            if view is None or not view.has_image or session_layer(
                    self._viewer, session, tp, IMAGE) is None:
                return f"time point {tp} has no CT in the viewer: nothing to register"
        return None

    def _show_nothing(self, message: str, keep_scan: bool = False) -> None:
        if not keep_scan:
            self._scan.setText("Follow-up: -")
        self._registration.setText(message)
        self._list.clear()
        self._remove_ghosts()

    def _show(self, found: FollowUpProposals) -> None:
        session = self.session
        assert session is not None
        registration = found.registration
        label = {"ok": "Registration ok", "poor": "Registration poor",
                 "failed": "Registration failed"}.get(registration.status, registration.status)
        self._registration.setText(f"{label}: {registration.message}")
        self._registration.setStyleSheet("" if registration.trusted else "color: #E69F00;")
        pending = pending_proposals(session, found)
        ids = [p.lesion.lesion_id for p in pending]
        if self._current not in ids:
            # After an accept the next lesion in order becomes current.
            order = [p.lesion.lesion_id for p in found.proposals]
            after = [i for i in ids if self._current is None or self._current not in order
                     or order.index(i) > order.index(self._current)]
            self._current = (after or ids or [None])[0]
        rows = [describe_proposal(p) for p in pending]
        if [self._list.item(i).text() for i in range(self._list.count())] != rows:
            self._list.blockSignals(True)
            self._list.clear()
            self._list.addItems(rows)
            self._list.blockSignals(False)
        if self._current in ids:
            self._list.blockSignals(True)
            self._list.setCurrentRow(ids.index(self._current))
            self._list.blockSignals(False)
        view = session.view(found.timepoint)
        name = view.name if view else found.timepoint
        self._scan.setText(f"Follow-up: {name}: {len(pending)} baseline lesion(s) to measure"
                           if pending else f"Follow-up: {name}: every baseline lesion has a "
                           "row on this scan")
        self._draw_ghosts(found, pending)
        self._jump_to_current(found)

    # -- the proposals layer -----------------------------------------------------------------
    def _ghost_layer(self) -> Any:
        for layer in self._viewer.layers:
            if GHOSTS_KEY in getattr(layer, "metadata", {}):
                return layer
        return None

    def _remove_ghosts(self) -> None:
        layer = self._ghost_layer()
        self._shown = None
        if layer is not None:
            with contextlib.suppress(ValueError, KeyError):
                self._viewer.layers.remove(layer)

    def _draw_ghosts(self, found: FollowUpProposals, pending: list[LesionProposal]) -> None:
        session = self.session
        assert session is not None
        view = session.view(found.timepoint)
        assert view is not None
        key = (found.timepoint, found.signature, tuple(p.lesion.lesion_id for p in pending),
               self._current)
        if key == self._shown and self._ghost_layer() is not None:
            return
        ghosts = ghost_shapes(pending, view.geometry, self._current)
        layer = self._ghost_layer()
        if layer is not None and layer.metadata[GHOSTS_KEY].get("timepoint") != found.timepoint:
            self._remove_ghosts()
            layer = None
        active = self._viewer.layers.selection.active
        if layer is None:
            layer = self._viewer.add_shapes(
                name=f"proposals {view.name}", ndim=3, edge_color=GHOST_COLOUR,
                face_color="transparent", opacity=0.8, blending="translucent_no_depth",
                text={"string": "{label}", "color": GHOST_COLOUR, "size": 10,
                      "anchor": "lower_left"},
                metadata={GHOSTS_KEY: {"timepoint": found.timepoint}},
                features=_ghost_features([], []),
                feature_defaults={"lesion_id": "", "label": ""},
                **view.geometry.layer_transform(),
            )
            self._bind_enter(layer)
        layer.selected_data = set()
        if len(layer.data):
            layer.data = []
        if ghosts.data:
            layer.add(ghosts.data, shape_type=ghosts.shape_types, edge_width=ghosts.edge_widths,
                      edge_color=GHOST_COLOUR)
        layer.features = _ghost_features(ghosts.lesion_ids, ghosts.labels)
        layer.refresh_text()
        layer.visible = True
        if active is not None and active is not layer and active in self._viewer.layers:
            self._viewer.layers.selection.active = active
        self._shown = key

    def _jump_to_current(self, found: FollowUpProposals) -> None:
        proposal = self.current_proposal()
        if proposal is None or proposal.centre_lps is None or proposal.slice_index is None:
            return
        target = (found.timepoint, proposal.lesion.lesion_id)
        if self._jumped_to == target:
            return
        self._jumped_to = target
        session = self.session
        assert session is not None
        layer = session_layer(self._viewer, session, found.timepoint, IMAGE)
        view = session.view(found.timepoint)
        if layer is None or view is None:
            return
        data = view.geometry.lps_to_data(np.array([proposal.centre_lps]))[0]
        data[0] = np.round(data[0])
        world = np.asarray(layer.data_to_world(data), dtype=float)
        self._viewer.dims.set_point(0, float(world[0]))
        camera(self._viewer).center = tuple(float(v) for v in world)

    # -- the worker ---------------------------------------------------------------------------
    def _start(self, timepoint: int, signature: str) -> None:
        if self._running.get(timepoint) == signature:
            return
        session = self.session
        assert session is not None
        baseline = session.record.baseline
        assert baseline is not None
        arrays = [session_layer(self._viewer, session, tp, IMAGE).data
                  for tp in (baseline.timepoint, timepoint)]
        inputs = ProposalInputs.gather(session, timepoint, *arrays)
        cache = registration_cache()
        self._running[timepoint] = signature
        self._errors.pop(timepoint, None)

        def job() -> tuple[bool, Any]:
            try:
                return True, propose_on_follow_up(inputs, cache)
            except InputError as error:
                return False, "; ".join(str(p) for p in error.problems)
            except Exception as error:  # shown in the dock, never raised into Qt
                return False, f"propagation failed: {error}"

        from napari.qt.threading import thread_worker

        view = session.view(timepoint)
        worker = thread_worker(job, progress={
            "total": 0, "desc": f"Registering {view.name if view else timepoint} to baseline"})()
        worker.returned.connect(lambda outcome: self._finished(session, timepoint, signature,
                                                                outcome))
        worker.finished.connect(lambda: self._workers.remove(worker)
                                if worker in self._workers else None)
        self._workers.append(worker)
        worker.start()

    def _finished(self, session: Any, timepoint: int, signature: str,
                  outcome: tuple[bool, Any]) -> None:
        if self._running.get(timepoint) == signature:
            del self._running[timepoint]
        if session is not self.session:
            return  # another patient is shown now
        ok, value = outcome
        if ok:
            self._found[timepoint] = value
            publish_proposals(session, value)  # the guided read centres on them too
        else:
            self._errors[timepoint] = str(value)
        self.refresh()

    # -- recording measurements -------------------------------------------------------------
    def _record(self, proposal: LesionProposal, result: SemiAutomaticResult) -> bool:
        session = self.session
        timepoint = self.timepoint
        assert session is not None and timepoint is not None
        lesion_id = proposal.lesion.lesion_id
        method = MeasurementMethod.SEMI_AUTOMATIC
        if result.state is None:
            problem = result.problem.message if result.problem else "no lesion found"
            self._say(f"{lesion_id}: {problem}")
            return False
        self._writing = True
        try:
            if result.state is LesionState.TOO_SMALL:
                session.set_state(timepoint, lesion_id, LesionState.TOO_SMALL, method=method)
                done = "too small to measure"
            else:
                assert result.long_axis is not None and result.short_axis is not None
                # One edit for both axes: one undo step, one classification and autosave.
                session.set_axes(timepoint, lesion_id, {
                    "long": (result.long_axis, float(result.long_axis_mm or 0.0)),
                    "short": (result.short_axis, float(result.short_axis_mm or 0.0)),
                }, method=method)
                done = f"{result.long_axis_mm:.1f} x {result.short_axis_mm:.1f} mm"
                if result.volume_mm3 is not None:
                    done += f", volume {result.volume_mm3 / 1000:.1f} mL"
        finally:
            self._writing = False
        self._say(f"{lesion_id}: {done} (semi-automatic, slice {result.slice_index + 1})")
        self.refresh()
        return True

    def _say(self, message: str) -> None:
        self.last_message = message
        self._status.setText(message)

    def _on_row(self, row: int) -> None:
        pending = self.proposals()
        if 0 <= row < len(pending):
            self._current = pending[row].lesion.lesion_id
            self.refresh()

    # -- keys -------------------------------------------------------------------------------
    def _bind_viewer_keys(self) -> None:
        for key, action in ((ACCEPT_KEY, self.accept_current), (NEXT_KEY, self.next_proposal)):
            try:
                self._viewer.bind_key(key, _viewer_action(action), overwrite=False)
            except ValueError:
                self._say(f"{key} is already bound in this viewer: use the dock's buttons")

    def _bind_layer_keys(self) -> None:
        session = self.session
        if session is None:
            return
        for layer in self._viewer.layers:
            link = layer_link(layer)
            if link and link["session"] is session and link["kind"] == LESIONS:
                self._bind_enter(layer)

    def _bind_enter(self, layer: Any) -> None:
        """Enter on a Shapes layer: finish a shape being drawn, else accept the proposal."""
        if any(bound is layer for bound in self._bound_layers):
            return
        napari_own = _class_binding(layer, ACCEPT_KEY)

        def on_enter(layer_: Any) -> None:
            drawing = str(getattr(layer_, "mode", "")).startswith("add")
            if drawing or not self.accept_current():
                napari_own(layer_)

        layer.bind_key(ACCEPT_KEY, on_enter, overwrite=True)
        self._bound_layers.append(layer)

    def _unbind_keys(self) -> None:
        from app_model.types import KeyBinding

        for key in (ACCEPT_KEY, NEXT_KEY):
            with contextlib.suppress(KeyError, ValueError):
                self._viewer.keymap.pop(KeyBinding.from_str(key))
        for layer in self._bound_layers:
            with contextlib.suppress(KeyError, ValueError, AttributeError):
                layer.keymap.pop(KeyBinding.from_str(ACCEPT_KEY))
        self._bound_layers.clear()

    # -- click to measure --------------------------------------------------------------------
    def _on_click_mode(self, on: bool) -> None:
        callbacks = self._viewer.mouse_drag_callbacks
        if on:
            if self._on_mouse not in callbacks:
                callbacks.append(self._on_mouse)
            active = self._viewer.layers.selection.active
            if active is not None and layer_link(active) and hasattr(active, "mode"):
                active.mode = "pan_zoom"  # a click must not select or draw a line
            self._say("click inside a lesion to measure it (click the button again to stop)")
        else:
            with contextlib.suppress(ValueError):
                callbacks.remove(self._on_mouse)

    def _on_mouse(self, viewer: Any, event: Any) -> Any:
        if event.type != "mouse_press" or getattr(event, "button", 1) != 1:
            return
        pressed = np.asarray(event.pos, dtype=float)
        world = np.asarray(event.position, dtype=float)
        yield
        while event.type == "mouse_move":
            yield
        if np.linalg.norm(np.asarray(event.pos, dtype=float) - pressed) > CLICK_SLOP_PX:
            return  # a drag (pan), not a click
        point = self._world_to_lps(world)
        if point is not None:
            self.measure_at(point)

    def _world_to_lps(self, world: np.ndarray) -> np.ndarray | None:
        session, timepoint = self.session, self.timepoint
        if session is None or timepoint is None:
            return None
        layer = session_layer(self._viewer, session, timepoint, IMAGE)
        view = session.view(timepoint)
        if layer is None or view is None:
            return None
        data = np.asarray(layer.world_to_data(world), dtype=float)
        return view.geometry.data_to_lps(data[None, :])[0]


def _ghost_features(lesion_ids: list[str], labels: list[str]) -> Any:
    """Features of the proposals layer (text columns, also when empty)."""
    import pandas as pd

    return pd.DataFrame({"lesion_id": pd.Series(lesion_ids, dtype=object),
                         "label": pd.Series(labels, dtype=object)})


def _viewer_action(action: Callable[[], bool]) -> Callable[[Any], None]:
    def on_key(viewer: Any) -> None:
        action()

    return on_key


def _class_binding(layer: Any, key: str) -> Callable[[Any], Any]:
    """The layer type's own napari binding of a key (looked up when the key is pressed)."""
    from app_model.types import KeyBinding

    binding = KeyBinding.from_str(key)

    def call(layer_: Any) -> Any:
        for cls in type(layer_).__mro__:
            keymap = getattr(cls, "class_keymap", None)
            if keymap and binding in keymap:
                return keymap[binding](layer_)
        return None

    return call
