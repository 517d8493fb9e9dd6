"""The session file never loses or silently overwrites a reader's work (issue 10)."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

from napari_recist.io.patient import open_patient
from napari_recist.io.session_file import (
    CONFLICT_PREFIX,
    LOCK_FILE,
    REJECTED_PREFIX,
    SESSION_FILE,
    FileState,
    SessionLock,
    conflict_path,
    keep_rejected,
    remove_stale_temporaries,
)
from napari_recist.io.table import read_table

ROWS = "\n".join([
    "patient_id,timepoint,date,lesion_id,role,site,nodal,long_axis_mm,short_axis_mm,state",
    "P1,0,2024-01-01,L1,target,lung,,30,,",
    "P1,1,2024-03-01,L1,target,lung,,20,,",
]) + "\n"


def test_rejected_copies_never_overwrite_each_other(tmp_path: Path) -> None:
    first = keep_rejected(tmp_path, b"one")
    second = keep_rejected(tmp_path, b"two")
    assert first != second and first.name.startswith(REJECTED_PREFIX)
    assert first.read_bytes() == b"one" and second.read_bytes() == b"two"


def test_conflict_files_are_new_each_time(tmp_path: Path) -> None:
    assert conflict_path(tmp_path).name.startswith(CONFLICT_PREFIX)
    assert conflict_path(tmp_path) != conflict_path(tmp_path)


def test_a_lock_of_a_live_process_warns_and_of_a_dead_one_is_taken_over(tmp_path: Path) -> None:
    sleeper = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"])
    try:
        (tmp_path / LOCK_FILE).write_text(
            f'{{"pid": {sleeper.pid}, "host": "{os.uname().nodename}", "since": "now"}}')
        assert SessionLock(tmp_path).held_by_another()
        note = SessionLock(tmp_path).acquire()
        assert "another napari-recist viewer" in note and str(sleeper.pid) in note
    finally:
        sleeper.kill()
        sleeper.wait()
    lock = SessionLock(tmp_path)
    assert "taken over" in lock.acquire()
    assert not lock.held_by_another()
    lock.release()
    assert not (tmp_path / LOCK_FILE).exists()


def test_stale_temporaries_are_removed_and_fresh_ones_of_a_live_viewer_kept(tmp_path: Path):
    old = tmp_path / f".{SESSION_FILE}.abc.tmp"
    old.write_text("half")
    os.utime(old, (time.time() - 3600, time.time() - 3600))
    fresh = tmp_path / f".{SESSION_FILE}.def.tmp"
    fresh.write_text("half")
    sleeper = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"])
    try:
        (tmp_path / LOCK_FILE).write_text(
            f'{{"pid": {sleeper.pid}, "host": "{os.uname().nodename}", "since": "now"}}')
        assert remove_stale_temporaries(tmp_path) == [old]  # another viewer may be saving
    finally:
        sleeper.kill()
        sleeper.wait()
    assert remove_stale_temporaries(tmp_path) == [fresh]  # no live viewer: all go


SAVER = textwrap.dedent("""
    import sys
    from pathlib import Path
    from napari_recist.io.table import read_table, write_table
    path = Path(sys.argv[1])
    record = read_table(path).records[0]
    extra = "x" * 20000  # a big cell: the write takes a while
    while True:
        for assessment in record.assessments:
            for lesion_id, m in list(assessment.measurements.items()):
                assessment.measurements[lesion_id] = m.__class__(
                    m.lesion_id, m.state, m.long_axis_mm, m.short_axis_mm, extra={"note": extra})
        write_table([record], path)
""")


def test_kill_during_autosave_leaves_the_old_or_the_new_file(tmp_path: Path) -> None:
    folder = tmp_path / "patient"
    folder.mkdir()
    session = folder / SESSION_FILE
    session.write_text(ROWS)
    script = tmp_path / "saver.py"
    script.write_text(SAVER)
    for round_ in range(12):  # bounded: about 3 s
        saver = subprocess.Popen([sys.executable, str(script), str(session)])
        time.sleep(0.15 + 0.02 * round_)
        saver.send_signal(signal.SIGKILL)
        saver.wait()
        record = read_table(session).records[0]  # always a whole table
        assert [a.timepoint for a in record.assessments] == [0, 1]
    before = FileState.of(session)
    opened = open_patient_folder(folder)
    assert not list(folder.glob(f".{SESSION_FILE}.*.tmp")), "a temporary file survived"
    assert FileState.of(session) == before
    assert opened


def open_patient_folder(folder: Path) -> bool:
    """Open the folder as the viewer does (the session table is read, temporaries cleaned)."""
    from napari_recist.errors import InputError

    try:
        open_patient(folder)
    except InputError:
        pass  # no DICOM in this folder: only the session file matters here
    from napari_recist.io.patient import OpenedPatient, _read_session

    opened = OpenedPatient(folder=folder, patient_id="P1")
    return _read_session(folder, opened) is not None and read_table(
        folder / SESSION_FILE).records[0].patient_id == "P1"
