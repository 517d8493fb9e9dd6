"""The SR parser (`napari_recist.io.sr_raw`) compiled by mypyc behaves as its sources (issue 12).

The editable install and the wheel compile ``io/sr_raw.py`` (setup.py). `tests/io/test_sr_raw.py`
already compares the parser, as installed, with pydicom on every kind of file; here: that it is
compiled unless the pure build was asked for; that the interpreted sources pass the same suite
in a process of their own; that nesting which would overflow the C stack compiled is handed to
pydicom instead (a crash is not an exception); that the compiled build keeps the parser's
refusal of what it does not imitate; and that a stale compiled parser in a checkout is refused.
"""

from __future__ import annotations

import os
import shutil
import struct
import subprocess
import sys
from pathlib import Path

import pytest

from napari_recist import sr_parser_is_compiled
from napari_recist.io import sr_raw

ROOT = Path(__file__).resolve().parents[2]
PACKAGE = Path(sr_raw.__file__).resolve().parents[1]
COMPILED = sr_parser_is_compiled()
PURE_REQUESTED = os.environ.get("NAPARI_RECIST_PURE", "").strip() not in ("", "0")


def test_the_parser_is_compiled_unless_the_pure_build_was_asked_for():
    if PURE_REQUESTED:
        assert not COMPILED, sr_raw.__file__
        return
    assert COMPILED, (
        "napari_recist.io.sr_raw runs interpreted: the mypyc build fell back (see the install "
        "log) - set NAPARI_RECIST_PURE=1 to test the pure build on purpose"
    )


def _element(tag: int, vr: str, value: bytes) -> bytes:
    """One explicit VR little endian element."""
    group, element = tag >> 16, tag & 0xFFFF
    if vr in ("SQ", "UT", "OB", "UN"):
        return struct.pack("<HH2sHI", group, element, vr.encode(), 0, len(value)) + value
    return struct.pack("<HH2sH", group, element, vr.encode(), len(value)) + value


def nested_sr(depth: int) -> bytes:
    """A Part 10 file whose content sequence nests `depth` undefined-length sequences."""
    syntax = _element(0x00020010, "UI", b"1.2.840.10008.1.2.1\x00")
    meta = (
        b"\0" * 128 + b"DICM" + _element(0x00020000, "UL", struct.pack("<I", len(syntax))) + syntax
    )
    opening = struct.pack("<HH2sHI", 0x0040, 0xA730, b"SQ", 0, 0xFFFFFFFF) + struct.pack(
        "<HHI", 0xFFFE, 0xE000, 0xFFFFFFFF
    )
    closing = struct.pack("<HHI", 0xFFFE, 0xE00D, 0) + struct.pack("<HHI", 0xFFFE, 0xE0DD, 0)
    return meta + _element(0x00080060, "CS", b"SR") + opening * depth + closing * depth


def _content_depth(dataset: object) -> int:
    depth = 0
    while "ContentSequence" in dataset and len(dataset.ContentSequence):
        dataset = dataset.ContentSequence[0]
        depth += 1
    return depth


def test_a_report_nested_as_deep_as_the_limit_allows_is_parsed():
    assert _content_depth(sr_raw.read_dataset(nested_sr(20))) == 20
    limit = sr_raw._MAX_NESTING  # noqa: SLF001
    assert _content_depth(sr_raw.read_dataset(nested_sr(limit))) == limit
    assert sr_raw.read_dataset(nested_sr(limit + 1)) is None  # left to pydicom


@pytest.mark.parametrize("depth", [129, 5_000, 200_000])
def test_deeper_nesting_is_left_to_pydicom_without_a_crash(depth, tmp_path):
    """In a process of its own: compiled, unbounded recursion would kill the interpreter."""
    path = tmp_path / "deep.dcm"
    path.write_bytes(nested_sr(depth))
    script = (
        "import sys\n"
        "from napari_recist.io import sr_raw\n"
        "from napari_recist.io.sr_read import read_sr\n"
        "data = open(sys.argv[1], 'rb').read()\n"
        "print('parser', sr_raw.read_dataset(data))\n"
        "result = read_sr(sys.argv[1])\n"
        "print('problems', len(result.problems), result.problems[0].source)\n"
    )
    run = subprocess.run(
        [sys.executable, "-c", script, str(path)], capture_output=True, text=True, timeout=300
    )
    assert run.returncode == 0, (run.returncode, run.stderr[-3000:])
    lines = run.stdout.splitlines()
    assert lines[0] == "parser None"
    # pydicom cannot read it either (or reads no measurements): a problem naming the file
    assert lines[1].startswith("problems ") and lines[1] != "problems 0"
    assert lines[1].endswith(str(path))


def test_access_the_parser_does_not_imitate_raises_its_own_error():
    """Compiled, a typed ``key: str`` would raise TypeError, which reads as damaged content."""
    dataset = sr_raw.read_dataset(nested_sr(1))
    assert dataset.get("Modality") == "SR"
    assert dataset.get("PatientID", "none") == "none"
    with pytest.raises(sr_raw.RawAccessError):
        dataset.get(0x00100020)
    with pytest.raises(sr_raw.RawAccessError):
        dataset[0x00080060]
    assert not issubclass(sr_raw.RawAccessError, sr_raw._PARSE_ERRORS)  # noqa: SLF001


@pytest.mark.skipif(not COMPILED, reason="the parser runs interpreted here already")
def test_the_interpreted_parser_passes_the_same_suite(tmp_path):
    """The pure build is a supported install: its parser equals pydicom on the same files."""
    shutil.copytree(
        PACKAGE,
        tmp_path / "napari_recist",
        ignore=shutil.ignore_patterns("*.so", "*.pyd", "__pycache__"),
    )
    env = {**os.environ, "PYTHONPATH": str(tmp_path), "NAPARI_RECIST_PURE": "1"}
    where = subprocess.run(
        [sys.executable, "-c", "import napari_recist.io.sr_raw as m; print(m.__file__)"],
        env=env,
        capture_output=True,
        text=True,
        check=True,
    ).stdout.strip()
    assert where == str(tmp_path / "napari_recist" / "io" / "sr_raw.py")
    run = subprocess.run(
        [
            sys.executable,
            "-m",
            "pytest",
            "-q",
            "-p",
            "no:cacheprovider",
            "-x",
            "tests/io/test_sr_raw.py",
            "tests/io/test_compiled_sr_parser.py",
        ],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
    )
    assert run.returncode == 0, run.stdout[-4000:] + run.stderr[-2000:]
    assert " passed" in run.stdout


def test_a_stale_compiled_parser_in_a_checkout_is_refused(tmp_path):
    from importlib.machinery import EXTENSION_SUFFIXES

    from napari_recist import _refuse_a_stale_compiled_engine as guard

    (tmp_path / "setup.py").write_text("", encoding="utf-8")
    package = tmp_path / "src" / "napari_recist"
    (package / "criteria").mkdir(parents=True)
    (package / "io").mkdir()
    source = package / "io" / "sr_raw.py"
    source.write_text("", encoding="utf-8")
    (package / "io" / "sr_read.py").write_text("", encoding="utf-8")
    binary = package / "io" / f"sr_raw{EXTENSION_SUFFIXES[0]}"
    binary.write_bytes(b"")
    guard(package)  # built after its source: fine
    stat = binary.stat()
    os.utime(binary, (stat.st_atime, stat.st_mtime - 60))
    with pytest.raises(ImportError, match="older than sr_raw.py"):
        guard(package)
    stat = source.stat()
    os.utime(source, (stat.st_atime, stat.st_mtime - 120))
    guard(package)
    (package / "io" / "sr_read.py").touch()  # not compiled: its edits need no rebuild
    guard(package)
    source.unlink()
    with pytest.raises(ImportError, match="or has no source"):
        guard(package)
