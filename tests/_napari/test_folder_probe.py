"""The reader's probe and preferences, without a viewer (pure functions of issue 17)."""

from __future__ import annotations

from pathlib import Path

from napari_recist._napari.folder_probe import PROBE_FILES, Holds, probe_paths
from napari_recist._napari.preferences import (
    DICOM_FILE_PATTERN,
    FOLDER_PATTERN,
    PLUGIN_NAME,
    with_preferences,
)


def _dicom(path: Path) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(b"\0" * 128 + b"DICM" + b"\0" * 16)
    return path


def test_one_dicom_file_anywhere_in_the_first_files_is_enough(tmp_path):
    _dicom(tmp_path / "p" / "CT" / "z.dcm")
    (tmp_path / "p" / "a.txt").write_text("x")
    assert probe_paths([tmp_path / "p"]).holds is Holds.DICOM


def test_the_probe_stops_at_probe_files(tmp_path):
    folder = tmp_path / "many"
    folder.mkdir()
    for index in range(PROBE_FILES):
        (folder / f"a{index:03d}.txt").write_text("x")
    _dicom(folder / "zzz.dcm")  # sorted after the 64 notes: not looked at
    probe = probe_paths([folder])
    assert probe.holds is Holds.NOTHING_READABLE
    assert probe.looked_at == PROBE_FILES
    assert f"the first {PROBE_FILES} file(s)" in probe.message()


def test_messages_name_the_folder_and_what_was_seen(tmp_path):
    empty = tmp_path / "empty"
    empty.mkdir()
    assert "the folder is empty" in probe_paths([empty]).message()
    notes = tmp_path / "notes"
    notes.mkdir()
    (notes / "visit.txt").write_text("x")
    (notes / ".hidden").write_text("x")  # hidden files are not looked at
    probe = probe_paths([notes])
    assert probe.looked_at == 1
    assert str(notes) in probe.message() and "(visit.txt)" in probe.message()
    assert "does not exist" in probe_paths([tmp_path / "nope"]).message()


def test_another_readers_files_and_zarr_stores_are_left_alone(tmp_path):
    tiffs = tmp_path / "stack"
    tiffs.mkdir()
    (tiffs / "z.tif").write_bytes(b"II*\0")
    assert probe_paths([tiffs], lambda p: p.suffix == ".tif").holds is Holds.OTHER_READER
    assert probe_paths([tiffs]).holds is Holds.NOTHING_READABLE  # nobody else installed
    store = tmp_path / "plain"
    store.mkdir()
    (store / ".zgroup").write_text("{}")
    assert probe_paths([store]).holds is Holds.OTHER_READER


def test_preferences_add_ours_and_keep_the_users():
    assert with_preferences({}) == {FOLDER_PATTERN: PLUGIN_NAME, DICOM_FILE_PATTERN: PLUGIN_NAME}
    mine = {DICOM_FILE_PATTERN: "napari-dicom", "*.tif": "napari"}
    assert with_preferences(mine) == {**mine, FOLDER_PATTERN: PLUGIN_NAME}
