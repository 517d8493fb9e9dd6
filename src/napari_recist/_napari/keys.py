"""The guided read's keyboard and wheel: one table of keys, one event filter, the help text.

While the reading dock is open, `ReadingKeys` filters the canvas's (and the dock's) events:

- a key of `READING_KEYS` calls its action and goes no further. Every key but the W/L presets
  is one napari binds to nothing by default (`napari_conflicts` checks it against napari's own
  table). The presets are on 1-5 as radiologists expect; those digits pick a layer's mode in
  napari (the Shapes modes the bidirectional tool replaces while reading), so the filter
  takes them only while the read is on;
- the wheel is swapped: plain wheel scrolls slices and Ctrl+wheel zooms. The filter hands the
  event on with the Ctrl modifier flipped, so napari's own bindings do the work (Ctrl+wheel:
  napari's slice scrolling; plain wheel: its camera zoom).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass

from qtpy.QtCore import QEvent, QObject, Qt
from qtpy.QtGui import QKeySequence, QWheelEvent
from qtpy.QtWidgets import QApplication, QWidget


@dataclass(frozen=True)
class Key:
    """One key of the read: what to press, the action it calls, what the help says."""

    sequence: str  # as `key_text` spells an event: "N", "Shift+T", "Ctrl+Shift+Z", "1"
    action: str
    help: str


PRESET_KEYS: tuple[tuple[str, str], ...] = (
    ("1", "soft tissue"), ("2", "lung"), ("3", "bone"), ("4", "liver"), ("5", "brain"))

READING_KEYS: tuple[Key, ...] = (
    Key("N", "next", "next lesion to read (targets, non-targets, then: any new lesion?)"),
    *(Key(digit, f"preset:{name}", f"window {name} (every scan)")
      for digit, name in PRESET_KEYS),
    Key("Shift+T", "role:target", "selected lesion: target"),
    Key("Shift+N", "role:non-target", "selected lesion: non-target"),
    Key("Shift+W", "role:new", "selected lesion: new"),
    Key("Shift+R", "state:present", "state: present (non-target persists)"),
    Key("Shift+G", "state:absent", "state: absent (gone)"),
    Key("Shift+U", "state:progression", "state: unequivocal progression"),
    Key("Shift+Q", "state:equivocal", "state: equivocal"),
    Key("Shift+S", "state:too-small", "state: too small to measure"),
    Key("Shift+X", "state:not-evaluated", "state: not evaluated"),
    Key("Escape", "deselect", "no lesion selected: the next drag measures a new lesion"),
    Key("Ctrl+Z", "undo", "undo"),
    Key("Ctrl+Shift+Z", "redo", "redo"),
    Key("H", "help", "show or hide this help"),
)

MOUSE_HELP: tuple[tuple[str, str], ...] = (
    ("drag", "long axis; the short axis follows, perpendicular (drag its ends to adjust)"),
    ("wheel", "scroll slices (both scans)"),
    ("Ctrl+wheel", "zoom (both scans)"),
    ("Space+drag", "pan (napari's own)"),
)

# The keys napari binds itself that the read takes while it is on (see the module docstring):
# the presets' digits and Escape (napari: finish a shape being drawn; while reading no napari
# shape is drawn, the bidirectional tool draws).
TAKEN_FROM_NAPARI = frozenset([*(digit for digit, _ in PRESET_KEYS), "Escape"])

_MODIFIERS = ((Qt.KeyboardModifier.ControlModifier, "Ctrl"),
              (Qt.KeyboardModifier.AltModifier, "Alt"),
              (Qt.KeyboardModifier.ShiftModifier, "Shift"))


_NAMES = {"Esc": "Escape"}  # Qt's spelling -> the table's (and app-model's)


def key_text(key: int, modifiers: Qt.KeyboardModifier) -> str:
    """A key event as `Key.sequence` spells it (``Ctrl+Shift+Z``, ``N``, ``1``, ``Escape``)."""
    name = QKeySequence(int(key)).toString()
    name = _NAMES.get(name, name)
    parts = [text for flag, text in _MODIFIERS if modifiers & flag]
    return "+".join([*parts, name])


def help_text() -> str:
    """The help overlay: every key and mouse action of the read."""
    width = max(len(key.sequence) for key in READING_KEYS)
    lines = ["napari-recist guided read"]
    lines += [f"{key.sequence:<{width}}  {key.help}" for key in READING_KEYS]
    lines += [f"{what:<{width}}  {does}" for what, does in MOUSE_HELP]
    return "\n".join(lines)


def napari_conflicts() -> dict[str, list[str]]:
    """Our keys that napari binds by default -> napari's commands on them."""
    from app_model.types import KeyBinding
    from napari.utils.shortcuts import default_shortcuts

    ours = {KeyBinding.from_str(key.sequence): key.sequence for key in READING_KEYS}
    found: dict[str, list[str]] = {}
    for command, bindings in default_shortcuts.items():
        for binding in bindings:
            mine = ours.get(KeyBinding.validate(binding))
            if mine is not None:
                found.setdefault(mine, []).append(str(command))
    return found


class ReadingKeys(QObject):
    """Event filter of the read: the keys of `READING_KEYS` and the swapped wheel.

    Parameters
    ----------
    actions
        Action name (`Key.action`) -> what it does.
    canvas
        The canvas widget whose wheel is swapped.
    """

    def __init__(self, actions: Mapping[str, Callable[[], object]], canvas: QWidget,
                 hold_to_pan: Callable[[bool], object] | None = None) -> None:
        super().__init__()
        self.actions = dict(actions)
        self.canvas = canvas
        self.hold_to_pan = hold_to_pan
        self._keys = {key.sequence: key.action for key in READING_KEYS}
        self._resending = False
        self.watched: list[QObject] = []

    def install(self, *widgets: QObject) -> None:
        """Filter these widgets' events (the canvas and the dock)."""
        for widget in widgets:
            widget.installEventFilter(self)
            self.watched.append(widget)

    def remove(self) -> None:
        """Stop filtering (the read is over)."""
        for widget in self.watched:
            try:
                widget.removeEventFilter(self)
            except RuntimeError:  # the widget is gone already
                pass
        self.watched.clear()

    def action_of(self, event: QEvent) -> str | None:
        """The action a key event calls, or None."""
        modifiers = event.modifiers() & ~Qt.KeyboardModifier.KeypadModifier
        return self._keys.get(key_text(event.key(), modifiers))

    def eventFilter(self, watched: QObject, event: QEvent) -> bool:  # noqa: N802 - Qt's name
        """Take the read's keys, swap the wheel; let everything else through."""
        kind = event.type()
        if (kind in (QEvent.Type.KeyPress, QEvent.Type.KeyRelease) and self.hold_to_pan
                and event.key() == Qt.Key.Key_Space):
            if not event.isAutoRepeat():  # held: the camera pans on drag (napari's Space)
                self.hold_to_pan(kind == QEvent.Type.KeyPress)
            return True
        if kind == QEvent.Type.ShortcutOverride and self.action_of(event) in self.actions:
            event.accept()  # ours, before any menu shortcut
            return True
        if kind == QEvent.Type.KeyPress and (name := self.action_of(event)) in self.actions:
            self.actions[name]()
            return True
        if kind == QEvent.Type.Wheel and watched is self.canvas and not self._resending:
            self._resend_wheel(event)
            return True
        return False

    def _resend_wheel(self, event: QWheelEvent) -> None:
        flipped = event.modifiers() ^ Qt.KeyboardModifier.ControlModifier
        swapped = QWheelEvent(event.position(), event.globalPosition(), event.pixelDelta(),
                              event.angleDelta(), event.buttons(), flipped, event.phase(),
                              event.inverted())
        self._resending = True
        try:
            QApplication.sendEvent(self.canvas, swapped)
        finally:
            self._resending = False
