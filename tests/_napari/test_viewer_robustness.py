"""Issue 17, viewer robustness: what a user opens, one patient at a time, problems that stay.

Each test is a regression test of a defect of issue 17, driven with napari's fixtures and
real key and mouse events (qtbot) where a user would click or type.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from _viewer_patient import write_patient_with_sr
from qtpy.QtCore import Qt, QTimer
from qtpy.QtWidgets import QApplication, QMessageBox

from napari_recist._napari import reader
from napari_recist._napari.binding import find_session, session_layer, session_tracker
from napari_recist._napari.folder_probe import Holds, probe_paths
from napari_recist._napari.patients import open_sessions, unsaved_reason
from napari_recist._napari.preferences import (
    DICOM_FILE_PATTERN,
    FOLDER_PATTERN,
    prefer_napari_recist,
    with_preferences,
)
from napari_recist._napari.session import SESSION_FILE

pytestmark = pytest.mark.viewer


def _errors_since(before: int) -> list[str]:
    from napari.utils.notifications import notification_manager

    return [str(record) for record in notification_manager.records[before:]]


def _records() -> int:
    from napari.utils.notifications import notification_manager

    return len(notification_manager.records)


# -- empty and non-DICOM folders ---------------------------------------------------------------
def test_empty_or_non_dicom_folder_says_so_without_a_traceback(make_napari_viewer, tmp_path):
    empty = tmp_path / "empty"
    empty.mkdir()
    notes = tmp_path / "notes"
    notes.mkdir()
    (notes / "visit.txt").write_text("not an image")
    viewer = make_napari_viewer()
    for folder, expected in ((empty, "the folder is empty"), (notes, "no DICOM file")):
        before = _records()
        assert viewer.open(str(folder), plugin="napari-recist") == []  # no exception
        said = _errors_since(before)
        assert any(str(folder) in text and expected in text for text in said), said
        assert len(viewer.layers) == 0


def test_folders_another_reader_wants_are_left_to_it(tmp_path):
    tiffs = tmp_path / "stack"
    tiffs.mkdir()
    (tiffs / "z000.tif").write_bytes(b"II*\x00")
    store = tmp_path / "image.zarr"
    store.mkdir()
    assert reader.get_reader(str(tiffs)) is None  # napari's own reader claims *.tif
    assert reader.get_reader(str(store)) is None  # a zarr store
    mixed = write_patient_with_sr(tmp_path / "patient")
    (mixed / "notes.csv").write_text("a,b\n")  # a CSV beside the DICOM does not hide it
    assert probe_paths([mixed], lambda path: path.suffix == ".csv").holds is Holds.DICOM


def test_the_readme_command_on_an_empty_folder_keeps_napari_open(tmp_path):
    """``napari --plugin napari-recist EMPTY`` used to exit with "refused the file"."""
    empty = tmp_path / "empty"
    empty.mkdir()
    napari = Path(sys.executable).with_name("napari")
    env = {**os.environ, "NAPARI_CONFIG": str(tmp_path / "napari-settings.yaml")}
    try:
        done = subprocess.run([str(napari), "--plugin", "napari-recist", str(empty)],
                              capture_output=True, text=True, timeout=25, env=env)
    except subprocess.TimeoutExpired as running:  # still open: what a user wants
        output = (running.stderr or b"").decode() if isinstance(running.stderr, bytes) else (
            running.stderr or "")
        assert "Traceback" not in output
        return
    pytest.fail(f"napari exited ({done.returncode}): {done.stderr[-2000:]}")


# -- napari-recist is the preferred reader -------------------------------------------------------
def test_napari_recist_is_the_preferred_reader_of_folders(make_napari_viewer, tmp_path,
                                                          monkeypatch,
                                                          _napari_settings_in_memory):
    from napari.plugins.utils import get_preferred_reader
    from npe2 import PluginManager

    # A choice the user made stays theirs.
    assert with_preferences({FOLDER_PATTERN: "other-plugin"})[FOLDER_PATTERN] == "other-plugin"

    settings = _napari_settings_in_memory
    settings.plugins.extension2reader = {}
    assert prefer_napari_recist(settings)
    assert settings.plugins.extension2reader[DICOM_FILE_PATTERN] == "napari-recist"
    folder = write_patient_with_sr(tmp_path / "patient")
    assert get_preferred_reader(folder) == "napari-recist"

    # File > Open Folder: no "Choose reader" dialog (it preselected "napari builtins").
    import napari._qt.qt_viewer as qt_viewer_module
    from qtpy.QtWidgets import QFileDialog

    dialogs: list[object] = []
    monkeypatch.setattr(qt_viewer_module, "handle_gui_reading",
                        lambda paths, *args, **kwargs: dialogs.append(list(paths)))
    viewer = make_napari_viewer()
    manifest = PluginManager.instance().get_manifest("napari-recist")
    assert manifest.on_activate == "napari_recist._napari.preferences:activate"
    settings.plugins.extension2reader = with_preferences({})  # make_napari_viewer reset it
    monkeypatch.setattr(QFileDialog, "getExistingDirectory", lambda *a, **k: str(folder))
    viewer.window._qt_viewer._open_folder_dialog()
    assert not dialogs
    assert find_session(viewer) is not None
    # A TIFF folder goes back to napari, which offers its other readers (the dialog).
    tiffs = tmp_path / "stack"
    tiffs.mkdir()
    (tiffs / "z000.tif").write_bytes(b"II*\x00")
    monkeypatch.setattr(QFileDialog, "getExistingDirectory", lambda *a, **k: str(tiffs))
    viewer.window._qt_viewer._open_folder_dialog()
    assert len(dialogs) == 1


# -- one patient at a time ----------------------------------------------------------------------
def _two_patients(tmp_path: Path) -> tuple[Path, Path]:
    first = write_patient_with_sr(tmp_path / "first")
    second = tmp_path / "second"
    shutil.copytree(first, second)
    return first, second


def _answer_next_question(qtbot, button: QMessageBox.StandardButton, seen: list[str]) -> None:
    """Click a button of the next modal question with the mouse (it blocks the test)."""

    def click() -> None:
        box = QApplication.activeModalWidget()
        if not isinstance(box, QMessageBox):
            QTimer.singleShot(20, click)
            return
        seen.append(box.text())
        qtbot.mouseClick(box.button(button), Qt.MouseButton.LeftButton)

    QTimer.singleShot(0, click)


def _break_autosave(folder: Path) -> None:
    """A directory where the session file goes: the next autosave fails (as root too)."""
    (folder / SESSION_FILE).mkdir()


def test_second_patient_replaces_the_first_asking_when_unsaved(make_napari_viewer, qtbot,
                                                               tmp_path):
    first, second = _two_patients(tmp_path)
    viewer = make_napari_viewer()
    viewer.open(str(first), plugin="napari-recist")
    old = find_session(viewer)
    viewer.open(str(second), plugin="napari-recist")  # no edit: replaced without a question
    assert open_sessions(viewer) == [find_session(viewer)]
    assert find_session(viewer).folder == second
    assert old.lock is None  # the first folder is let go
    assert len(viewer.layers) == 6

    # An edit the autosave could not write: opening the next patient asks.
    session = find_session(viewer)
    _break_autosave(second)
    session.set_lesion("L1", site="liver")
    assert unsaved_reason(session) is not None
    seen: list[str] = []
    _answer_next_question(qtbot, QMessageBox.StandardButton.Cancel, seen)
    viewer.open(str(first), plugin="napari-recist")
    assert seen and "not saved" in seen[0]
    assert open_sessions(viewer) == [session]  # kept, with its edit
    assert session.record.lesions["L1"].site == "liver"

    _answer_next_question(qtbot, QMessageBox.StandardButton.Discard, seen)
    viewer.open(str(first), plugin="napari-recist")
    assert len(seen) == 2
    assert [s.folder for s in open_sessions(viewer)] == [first]
    assert session_tracker(viewer).session is find_session(viewer)


def test_close_patient_button(make_napari_viewer, qtbot, tmp_path):
    folder = write_patient_with_sr(tmp_path / "patient")
    viewer = make_napari_viewer()
    viewer.open(str(folder), plugin="napari-recist")
    session = find_session(viewer)
    _, table = viewer.window.add_plugin_dock_widget("napari-recist", "Lesion table")
    assert table.model.rowCount() == 1
    qtbot.mouseClick(table.close_button, Qt.MouseButton.LeftButton)
    assert len(viewer.layers) == 0
    assert table.session is None and table.model.rowCount() == 0
    assert session.lock is None
    assert not table.close_button.isEnabled()


# -- the problems stay visible ------------------------------------------------------------------
def _patient_without_last_ct(tmp_path: Path) -> Path:
    folder = write_patient_with_sr(tmp_path / "patient")
    shutil.rmtree(folder / "2024-05-02" / "CT")
    return folder


def test_problems_stay_listed_in_the_lesion_table_with_the_readme_command(
    make_napari_viewer, tmp_path
):
    """napari --plugin napari-recist FOLDER: the reader runs before the window shows."""
    from napari._qt.dialogs.qt_notification import NapariQtNotification

    folder = _patient_without_last_ct(tmp_path)
    viewer = make_napari_viewer(show=False)
    # What napari's __main__ does with the README's command, before showing the window.
    viewer.window._qt_viewer._qt_open([str(folder)], stack=False, plugin="napari-recist")
    viewer.window.show()
    for popup in viewer.window._qt_window.findChildren(NapariQtNotification):
        popup.close()  # the toasts go; the list stays
    # The reader docked the lesion table (napari gives back the docked one).
    docked = len(viewer.window.dock_widgets)
    _, table = viewer.window.add_plugin_dock_widget("napari-recist", "Lesion table")
    assert len(viewer.window.dock_widgets) == docked
    entries = table.problems_text()
    assert any("2024-05-02" in text and "without the CT images" in text for text in entries)
    assert table.problems.isVisible()


# -- an SR without its CT -----------------------------------------------------------------------
def test_a_date_with_an_sr_but_no_ct_is_explained_not_shown_black(make_napari_viewer, qtbot,
                                                                  tmp_path):
    from napari_recist._napari.patients import _text_overlay

    folder = _patient_without_last_ct(tmp_path)
    viewer = make_napari_viewer(show=True)
    viewer.open(str(folder), plugin="napari-recist")
    session = find_session(viewer)
    shown = [layer.name for layer in viewer.layers if layer.visible]
    assert shown == ["CT 2024-03-06 TP1", "lesions 2024-03-06 TP1"]  # the last scan with CT
    assert not _text_overlay(viewer).visible
    table = viewer.window.add_plugin_dock_widget("napari-recist", "Lesion table")[1]
    combo = table.timepoint_combo
    # The scan measured on is the one on screen, not the last one (it has no CT).
    qtbot.waitUntil(lambda: combo.currentIndex() == 1, timeout=5000)
    assert table.current_timepoint() == 1
    assert combo.itemText(2) == "2024-05-02 TP2 (no CT)"
    assert "(no CT)" in table.model.headerData(6, Qt.Orientation.Horizontal)
    combo.setFocus()
    qtbot.keyClick(combo, Qt.Key.Key_Down)  # TP1 -> TP2, as a user would with the keyboard
    assert combo.currentIndex() == 2
    overlay = _text_overlay(viewer)
    assert overlay.visible and overlay.text.startswith("No CT images for 2024-05-02 TP2")
    assert [layer.name for layer in viewer.layers if layer.visible] == shown  # not black
    qtbot.keyClick(combo, Qt.Key.Key_Up)
    assert not overlay.visible
    assert session_layer(viewer, session, 2, "lesions").visible is False


def test_srs_without_any_ct_say_so(make_napari_viewer, tmp_path):
    from napari_recist._napari.patients import _text_overlay
    from napari_recist._napari.problems import problem_log

    srs = tmp_path / "srs"
    write_patient_with_sr(tmp_path / "patient", sr_folder=srs)
    viewer = make_napari_viewer()
    before = _records()
    viewer.open(str(srs), plugin="napari-recist")
    session = find_session(viewer)
    assert session is not None and len(session.record.lesions) == 1  # listed and classified
    assert not any(layer.visible for layer in viewer.layers)
    said = "\n".join(_errors_since(before))
    assert "no CT series found" in said
    assert any("no CT series found" in text for text in problem_log(session).entries)
    assert _text_overlay(viewer).text.startswith("No CT images for")


# -- export outside the patient folder ---------------------------------------------------------
def test_export_proposes_a_folder_outside_the_patient_and_refuses_inside(
    make_napari_viewer, qtbot, tmp_path
):
    from napari_recist.io.patient import open_patient

    folder = write_patient_with_sr(tmp_path / "patient")
    viewer = make_napari_viewer()
    viewer.open(str(folder), plugin="napari-recist")
    session = find_session(viewer)
    _, export = viewer.window.add_plugin_dock_widget("napari-recist", "Export")
    proposed = export.folder()
    assert proposed == folder.resolve().parent / "patient-napari-recist-export"
    # Re-measure L1 at the last scan, export with the button (mouse), reopen without the
    # session file: only the SRs in the patient folder are read, never the exported ones.
    session.set_lesion("L1", site="liver")
    qtbot.mouseClick(export.sr_button.native, Qt.MouseButton.LeftButton)
    assert len(list(proposed.glob("*.dcm"))) == 3
    (folder / SESSION_FILE).unlink()
    reopened = open_patient([folder])
    assert reopened.record.lesions["L1"].site == "lung"  # the old SRs, not mixed with new
    assert sum(len(scan.sr_files) for scan in reopened.scans) == 3
    # A folder inside the patient's is refused, saying why.
    inside = folder / "exports"
    assert export.export_sr(inside) == []
    assert "inside the patient folder" in export.status.text()
    assert not inside.exists()
