"""Guided read dock: the follow-up read, prior beside current, one drag per lesion, keys first.

A thin view over the pure pieces: `reading` (where each lesion is, what is next),
`windows.ReadingLayout` (the two scans side by side), `bidirectional.BidirectionalTool` (the
drag), `keys.ReadingKeys` (keys and wheel). Every edit is one `PatientSession` call.

Docking it starts the read of the last scan against the one before it (change either in the
dock). Then: N goes to the next lesion still to read on the scan, centred where it was last
seen with the prior line as a ghost; a drag measures it; non-targets get a state key; when
every known lesion has a row, N asks "any new lesion?" (drag one with nothing selected, type
its site, Enter) and N again ends the read.
"""

from __future__ import annotations

import contextlib
from typing import TYPE_CHECKING, Any

from napari.utils.notifications import show_warning
from qtpy.QtCore import Qt
from qtpy.QtGui import QFont
from qtpy.QtWidgets import (
    QComboBox,
    QCompleter,
    QFormLayout,
    QGridLayout,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QPushButton,
    QVBoxLayout,
    QWidget,
)

from napari_recist._napari.bidirectional import BidirectionalTool
from napari_recist._napari.binding import IMAGE, session_layer, unwrap
from napari_recist._napari.keys import READING_KEYS, ReadingKeys, help_text
from napari_recist._napari.layers import window_limits
from napari_recist._napari.proposals import published_proposals
from napari_recist._napari.reading import (
    NON_TARGET_STATES,
    ReadStep,
    StepKind,
    complete_site,
    describe_step,
    last_known_position,
    next_step,
)
from napari_recist._napari.widgets.base import SessionDock
from napari_recist._napari.windows import ReadingLayout
from napari_recist.model import KNOWN_SITES, LesionState, Role

if TYPE_CHECKING:
    import napari

READ_ZOOM = 2.5  # a lesion is centred this much closer than "whole scan in view"


def _key_of(action: str) -> str:
    return next((key.sequence for key in READING_KEYS if key.action == action), "")


class ReadingWidget(SessionDock):
    """The guided follow-up read (see the module docstring).

    Parameters
    ----------
    napari_viewer
        The viewer (given by napari when the widget is docked).
    """

    def __init__(self, napari_viewer: napari.Viewer) -> None:
        super().__init__(napari_viewer)
        self._viewer = unwrap(napari_viewer)
        self.layout_: ReadingLayout | None = None
        self.tool: BidirectionalTool | None = None
        self.keys: ReadingKeys | None = None
        self.step: ReadStep | None = None
        self.selected: str | None = None
        self.new_lesions_checked = False
        self.last_message = ""
        self._hu_text = ""
        self._fit_zoom: float | None = None

        self.read_combo = QComboBox()
        self.read_combo.setToolTip("The scan being read")
        self.prior_combo = QComboBox()
        self.prior_combo.setToolTip("The scan shown beside it (its lines are the ghosts)")
        self.start_button = QPushButton("Start reading")
        self.start_button.clicked.connect(lambda: self.start())
        self.stop_button = QPushButton("Stop")
        self.stop_button.clicked.connect(lambda: self.stop())
        self.step_label = QLabel("Open a patient folder to read it")
        self.step_label.setWordWrap(True)
        self.status_label = QLabel()
        self.status_label.setWordWrap(True)
        self.site_edit = QLineEdit()
        self.site_edit.setPlaceholderText("site of the selected lesion, Enter")
        completer = QCompleter(list(KNOWN_SITES), self.site_edit)
        completer.setCaseSensitivity(Qt.CaseSensitivity.CaseInsensitive)
        self.site_edit.setCompleter(completer)
        self.site_edit.returnPressed.connect(self.apply_site)
        self.state_buttons: dict[LesionState, QPushButton] = {}
        states = QGridLayout()
        for index, state in enumerate(NON_TARGET_STATES):
            button = QPushButton(f"{state.value} ({_key_of(f'state:{state.value}')})")
            button.clicked.connect(lambda _=False, state=state: self.set_state(state))
            self.state_buttons[state] = button
            states.addWidget(button, index // 2, index % 2)
        self.next_button = QPushButton("Next lesion (N)")
        self.next_button.clicked.connect(lambda: self.next())
        self.help_button = QPushButton("Keys (H)")
        self.help_button.clicked.connect(lambda: self.toggle_help())

        form = QFormLayout()
        form.addRow("Read", self.read_combo)
        form.addRow("Beside", self.prior_combo)
        form.addRow("Site", self.site_edit)
        top = QHBoxLayout()
        top.addWidget(self.start_button)
        top.addWidget(self.stop_button)
        bottom = QHBoxLayout()
        bottom.addWidget(self.next_button)
        bottom.addWidget(self.help_button)
        layout = QVBoxLayout(self)
        layout.addLayout(form)
        layout.addLayout(top)
        layout.addWidget(self.step_label)
        layout.addLayout(states)
        layout.addLayout(bottom)
        layout.addWidget(self.status_label)
        layout.addStretch(1)

        self.help_overlay = self._make_help_overlay()
        self.follow_session()

    # -- the read --------------------------------------------------------------------------
    @property
    def reading(self) -> bool:
        """True while the read is on."""
        return self.layout_ is not None

    @property
    def timepoint(self) -> int | None:
        """The scan being read, or None."""
        return None if self.layout_ is None else self.layout_.current

    def start(self, current: int | None = None, prior: int | None = None) -> bool:
        """Start reading `current` beside `prior` (default: the dock's choices)."""
        session = self.session
        if session is None:
            show_warning("Open a patient folder first.")
            return False
        current = self.read_combo.currentData() if current is None else current
        if prior is None:
            prior = self.prior_combo.currentData()
        if current is None:
            return False
        self.stop()
        self.layout_ = ReadingLayout(self._viewer, session)
        self.layout_.show(None if prior is None or prior < 0 else int(prior), int(current))
        from napari_recist._napari.binding import camera

        self._fit_zoom = float(camera(self._viewer).zoom)  # whole scan in view
        self.tool = BidirectionalTool(self._viewer, session, self.layout_,
                                      lambda: self.selected, self._on_measured, self.say)
        self.tool.enable()
        canvas = self._canvas()
        if canvas is not None:
            self.keys = ReadingKeys(self._actions(), canvas, self.tool.hold_to_pan)
            self.keys.install(canvas, self)
        self._viewer.mouse_move_callbacks.append(self._on_mouse_move)
        overlay = self._text_overlay()
        if overlay is not None:
            overlay.position = "top_left"
            overlay.font_size = 11
            overlay.visible = True
        self.step, self.selected, self.new_lesions_checked = None, None, False
        self.next()  # the read starts on the first lesion to read
        return True

    def stop(self) -> None:
        """End the read: one scan again, napari's own keys, wheel and drag."""
        if self.keys is not None:
            self.keys.remove()
            self.keys = None
        if self.tool is not None:
            self.tool.disable()
            self.tool = None
        with contextlib.suppress(ValueError):
            self._viewer.mouse_move_callbacks.remove(self._on_mouse_move)
        if self.layout_ is not None:
            self.layout_.close()
            self.layout_ = None
        overlay = self._text_overlay()
        if overlay is not None:
            overlay.visible = False
        self.help_overlay.hide()

    def next(self) -> ReadStep | None:
        """Go to the next lesion to read (N), or to "any new lesion?", or end the read."""
        session, timepoint = self.session, self.timepoint
        if session is None or timepoint is None:
            return None
        if self.step is not None and self.step.kind is StepKind.NEW_LESIONS:
            self.new_lesions_checked = True  # N on "any new lesion?" answers it
        self.step = next_step(session, timepoint, self.step, self.new_lesions_checked)
        self.selected = self.step.lesion_id
        if self.selected is not None:
            session.lesion_focused.emit(self.selected)
        self._show_step(centre=True)
        return self.step

    def deselect(self) -> None:
        """No lesion selected: the next drag measures a new lesion (Escape)."""
        self.selected = None
        self.say("no lesion selected: a drag measures a new lesion")
        self._show_step()

    def set_state(self, state: LesionState) -> bool:
        """Record the selected lesion's state on the scan read (the state keys)."""
        session, timepoint, lesion_id = self.session, self.timepoint, self.selected
        if session is None or timepoint is None or lesion_id is None:
            self.say("select a lesion first (N)")
            return False
        try:
            session.set_state(timepoint, lesion_id, state)
        except ValueError as error:
            self.say(str(error))
            return False
        self.say(f"{lesion_id}: {state.value}")
        return True

    def set_role(self, role: Role) -> bool:
        """Give the selected lesion a role (the role keys)."""
        session, lesion_id = self.session, self.selected
        if session is None or lesion_id is None:
            self.say("select a lesion first (N)")
            return False
        session.set_lesion(lesion_id, role=role)
        self.say(f"{lesion_id}: {role.value}")
        return True

    def apply_site(self) -> bool:
        """Give the selected lesion the site typed in the dock (Enter); back to the canvas."""
        session, lesion_id = self.session, self.selected
        site, note = complete_site(self.site_edit.text())
        if session is None or lesion_id is None or site is None:
            self.say(note if lesion_id is not None else "select a lesion first (N)")
            return False
        canvas = self._canvas()
        if canvas is not None:
            canvas.setFocus()
        session.set_lesion(lesion_id, site=site)
        lesion = session.record.lesions[lesion_id]
        self.site_edit.setText(lesion.site)
        nodal = " (nodal: its short axis counts)" if lesion.nodal else ""
        self.say(f"{lesion_id}: {lesion.site}{nodal}{'; ' + note if note else ''}")
        return True

    def preset(self, name: str) -> None:
        """Window every scan of the patient with a CT preset (keys 1-5)."""
        session = self.session
        if session is None:
            return
        limits = window_limits(name)
        for view in session.timepoints:
            layer = session_layer(self._viewer, session, view.timepoint, IMAGE)
            if layer is not None:
                layer.contrast_limits = limits
        self.say(f"window: {name} ({limits[0]:g} to {limits[1]:g} HU)")

    def undo(self) -> None:
        """Undo the last edit of the session (Ctrl+Z)."""
        if self.session is not None:
            self.say("undone" if self.session.undo() else "nothing to undo")

    def redo(self) -> None:
        """Redo the last undone edit (Ctrl+Shift+Z)."""
        if self.session is not None:
            self.say("redone" if self.session.redo() else "nothing to redo")

    def toggle_help(self) -> None:
        """Show or hide the key help over the canvas (H)."""
        if self.help_overlay.isVisible():
            self.help_overlay.hide()
        else:
            self.help_overlay.adjustSize()
            self.help_overlay.move(12, 40)
            self.help_overlay.show()
            self.help_overlay.raise_()

    def say(self, message: str) -> None:
        """The dock's status line and the canvas overlay."""
        self.last_message = message
        self.status_label.setText(message)
        self._update_overlay()

    # -- SessionDock -----------------------------------------------------------------------
    def on_session_changed(self) -> None:
        """Another patient: stop the read, offer its scans, start again on its last scan."""
        self.stop()
        self._fill_choices()
        session = self.session
        if session is not None and len(session.timepoints) >= 1:
            self.start()

    def on_session_edited(self) -> None:
        """After an edit: the step text (sizes, states) follows."""
        if self.session is not None and self.selected is not None \
                and self.selected not in self.session.record.lesions:
            self.selected = None  # undone away
        self._show_step()

    def stop_following(self) -> None:
        """The dock is closed: end the read first."""
        self.stop()
        super().stop_following()

    # -- internals -------------------------------------------------------------------------
    def _actions(self) -> dict[str, Any]:
        actions: dict[str, Any] = {
            "next": self.next, "deselect": self.deselect, "undo": self.undo,
            "redo": self.redo, "help": self.toggle_help,
        }
        for key in READING_KEYS:
            kind, _, value = key.action.partition(":")
            if kind == "preset":
                actions[key.action] = lambda name=value: self.preset(name)
            elif kind == "role":
                actions[key.action] = lambda role=value: self.set_role(Role(role))
            elif kind == "state":
                actions[key.action] = lambda state=value: self.set_state(LesionState(state))
        return actions

    def _on_measured(self, lesion_id: str, new: bool) -> None:
        if new:
            self.selected = lesion_id
            if self.session is not None:
                self.session.lesion_focused.emit(lesion_id)
            self._show_step()
            self.say(f"{self.last_message}: new lesion {lesion_id}; type its site, Enter")
            self.site_edit.clear()
            self.site_edit.setFocus()

    def _show_step(self, centre: bool = False) -> None:
        session, timepoint = self.session, self.timepoint
        if session is None or timepoint is None:
            self.step_label.setText("Open a patient folder to read it" if session is None
                                    else "Start reading to read a scan")
            return
        step = self.step or ReadStep(StepKind.NEW_LESIONS if self.selected is None
                                     else StepKind.TARGET, self.selected)
        lesion_id = self.selected
        position = None
        if lesion_id is not None and lesion_id in session.record.lesions:
            position = last_known_position(session, timepoint, lesion_id,
                                           published_proposals(session, timepoint))
            shown = step if step.lesion_id == lesion_id else ReadStep(StepKind.TARGET,
                                                                     lesion_id)
            text = describe_step(session, timepoint, shown, position)
            measurement = session.measurement(timepoint, lesion_id)
            if measurement is not None:
                from napari_recist._napari.session import describe_measurement

                text += f" (now: {describe_measurement(measurement)})"
            self.site_edit.setText(session.record.lesions[lesion_id].site)
        elif self.step is None:
            text = "N: first lesion to read"
        else:
            text = describe_step(session, timepoint, step, None)
        is_non_target = (lesion_id is not None and lesion_id in session.record.lesions
                         and session.record.lesions[lesion_id].role is Role.NON_TARGET)
        for button in self.state_buttons.values():
            button.setEnabled(lesion_id is not None)
            button.setDefault(is_non_target)
        self.step_label.setText(text)
        if self.layout_ is not None:
            if centre:
                from napari_recist._napari.binding import camera

                self._viewer.reset_view()  # the canvas may have changed size since
                self._fit_zoom = float(camera(self._viewer).zoom)
            if centre or position is not None:
                found = self.layout_.focus(position, lesion_id or "", move=centre)
                if centre and found and self._fit_zoom is not None:
                    from napari_recist._napari.binding import camera

                    camera(self._viewer).zoom = self._fit_zoom * READ_ZOOM
            else:
                self.layout_.focus(None)
        self._update_overlay()

    def _on_mouse_move(self, viewer: Any, event: Any) -> None:
        if self.layout_ is None or self.session is None:
            return
        timepoint = self.layout_.timepoint_at(getattr(event, "viewbox", None))
        layer = None if timepoint is None else session_layer(self._viewer, self.session,
                                                             timepoint, IMAGE)
        view = None if timepoint is None else self.session.view(timepoint)
        value = None
        if layer is not None:
            with contextlib.suppress(IndexError, ValueError, TypeError):
                value = layer.get_value(event.position, world=True)
        if value is None or view is None:
            self._hu_text = ""
        else:
            self._hu_text = f"{float(value):.0f} HU ({view.name})"
        self._update_overlay()

    @property
    def hu_text(self) -> str:
        """What the overlay says of the voxel under the cursor (``45 HU (2024-05-06 TP2)``)."""
        return self._hu_text

    def _update_overlay(self) -> None:
        overlay = self._text_overlay()
        if overlay is None or self.layout_ is None:
            return
        lesion = f"selected: {self.selected}" if self.selected else "no lesion selected"
        lines = [line for line in (self._hu_text, lesion, self.last_message) if line]
        overlay.text = "\n".join(lines)

    def _text_overlay(self) -> Any:
        overlays = getattr(getattr(self._viewer, "canvas", None), "overlays", None)
        try:
            return overlays["text"]  # napari 0.9: viewer.canvas.overlays.text
        except (KeyError, TypeError):
            return getattr(self._viewer, "text_overlay", None)

    def _canvas(self) -> QWidget | None:
        window = getattr(self._viewer, "window", None)
        qt_viewer = getattr(window, "_qt_viewer", None)
        canvas = getattr(qt_viewer, "canvas", None)
        return getattr(canvas, "native", None)

    def _make_help_overlay(self) -> QLabel:
        label = QLabel(help_text(), self._canvas())
        font = QFont("monospace")
        font.setStyleHint(QFont.StyleHint.Monospace)
        font.setPointSize(9)
        label.setFont(font)
        label.setStyleSheet("QLabel { background-color: rgba(0, 0, 0, 200); color: white; "
                            "padding: 8px; border: 1px solid #56B4E9; }")
        label.setAttribute(Qt.WidgetAttribute.WA_TransparentForMouseEvents)
        label.hide()
        return label

    def _fill_choices(self) -> None:
        session = self.session
        self.read_combo.clear()
        self.prior_combo.clear()
        if session is None:
            return
        self.prior_combo.addItem("(none)", -1)
        for view in session.timepoints:
            self.read_combo.addItem(view.name, view.timepoint)
            self.prior_combo.addItem(view.name, view.timepoint)
        if session.timepoints:
            self.read_combo.setCurrentIndex(len(session.timepoints) - 1)
            self.prior_combo.setCurrentIndex(max(len(session.timepoints) - 1, 0))
