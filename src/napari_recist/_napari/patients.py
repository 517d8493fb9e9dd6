"""One patient at a time in a viewer: close it, or replace it by the next one (issue 17).

Opening a second patient used to lay its scans over the first one's. Now the reader closes
the open patient first, asking before it drops edits that are not saved anywhere (an edit is
autosaved to the patient folder unless that failed, or the patient has no folder). Closing
stops the background loader, removes the patient's layers, lets go of the folder's lock and
forgets its problem list.

Also here: the message on the canvas when the scan shown has no CT images (a date with an SR
but no CT used to show a black view with a 1 mm slider).
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from napari_recist._napari.binding import layer_link, unwrap
from napari_recist._napari.problems import problem_log
from napari_recist._napari.session import PatientSession

if TYPE_CHECKING:
    import napari

Confirm = Callable[[str], bool]


def unsaved_reason(session: PatientSession) -> str | None:
    """Why the session's edits would be lost on closing, or None when nothing would be.

    Parameters
    ----------
    session
        The open patient.

    Returns
    -------
    str or None
        None when no edit was made or every edit is in the session file; else a sentence.
    """
    if not session.can_undo:
        return None  # nothing edited since opening (or everything undone)
    if session.session_path is None:
        return (f"patient {session.record.patient_id} has edits and no folder to autosave "
                "them to")
    if session.last_save_error is not None:
        return f"patient {session.record.patient_id}: {session.last_save_error}"
    return None


def open_sessions(viewer: napari.Viewer) -> list[PatientSession]:
    """Every patient session with layers in the viewer, oldest first."""
    found: list[PatientSession] = []
    for layer in viewer.layers:
        link = layer_link(layer)
        if link is not None and link["session"] not in found:
            found.append(link["session"])
    return found


def close_patient(viewer: napari.Viewer, session: PatientSession) -> None:
    """Stop the loader, remove the patient's layers, release its folder and its problems."""
    session = unwrap(session)
    worker = session.loader
    if worker is not None:
        with contextlib.suppress(RuntimeError, AttributeError):
            worker.quit()  # stops after the slice in flight; nothing is applied afterwards
        session.loader = None
    for layer in [layer for layer in viewer.layers
                  if (link := layer_link(layer)) is not None and link["session"] is session]:
        viewer.layers.remove(layer)
    session.close()
    problem_log(session).clear()
    show_missing_images(viewer, None)


def close_patients(viewer: napari.Viewer, confirm: Confirm | None = None) -> bool:
    """Close every open patient, asking first for each one with unsaved edits.

    Parameters
    ----------
    viewer
        The viewer.
    confirm
        Asked with the reason when edits would be lost; False keeps every patient open.
        None: `ask_to_discard`.

    Returns
    -------
    bool
        True when no patient is open any more.
    """
    confirm = confirm or ask_to_discard
    sessions = open_sessions(viewer)
    for session in sessions:
        reason = unsaved_reason(session)
        if reason is not None and not confirm(reason):
            return False
    for session in sessions:
        close_patient(viewer, session)
    return True


def ask_to_discard(reason: str) -> bool:
    """Ask the user (a modal question, "Cancel" by default) whether to drop unsaved edits."""
    from qtpy.QtWidgets import QApplication, QMessageBox

    buttons = QMessageBox.StandardButton
    box = QMessageBox(QApplication.activeWindow())
    box.setIcon(QMessageBox.Icon.Warning)
    box.setWindowTitle("napari-recist: unsaved edits")
    box.setText(f"Close the patient? Its edits are not saved: {reason}.")
    box.setInformativeText("Export the lesion table first to keep them (Export dock).")
    box.setStandardButtons(buttons.Discard | buttons.Cancel)
    box.setDefaultButton(buttons.Cancel)
    box.setObjectName("napari-recist-unsaved")
    return box.exec() == buttons.Discard


def missing_images_text(session: PatientSession, timepoint: int) -> str | None:
    """The canvas message for a scan without CT images, or None when it has its images."""
    view = session.view(timepoint)
    if view is None or view.has_image:
        return None
    with_images = [other.name for other in session.timepoints if other.has_image]
    where = (f"Scans with images: {', '.join(with_images)}" if with_images else
             "No scan of this patient has its CT images in the folder opened")
    return (f"No CT images for {view.name}\nIts lesions are in the lesion table and "
            f"classified,\nbut cannot be shown or measured.\n{where}.")


def show_missing_images(viewer: napari.Viewer, text: str | None) -> None:
    """Show (or, with None, hide) a message in the canvas's text overlay."""
    overlay = _text_overlay(viewer)
    if overlay is None:
        return
    if text:
        overlay.text = text
        overlay.font_size = 12
        overlay.color = (1.0, 1.0, 1.0, 1.0)
        with contextlib.suppress(AttributeError, ValueError, TypeError):
            overlay.box = True
            overlay.box_color = (0.0, 0.0, 0.0, 0.8)
        with contextlib.suppress(AttributeError, ValueError, TypeError):
            overlay.position = "top_left"
        overlay.visible = True
    elif overlay.text.startswith("No CT images for"):
        overlay.visible = False
        overlay.text = ""


def _text_overlay(viewer: napari.Viewer) -> Any:
    canvas = getattr(viewer, "canvas", None)
    overlays = getattr(canvas, "overlays", None)
    if overlays is not None and hasattr(overlays, "text"):
        return overlays.text
    return getattr(viewer, "text_overlay", None)
