"""Conventions every command keeps: exit codes, --version, `-` for stdout, a closed pipe,
--quiet/--verbose, a missing extra, no colour.

The console behaviour is checked in real subprocesses (a real pipe, a real interpreter exit);
the rest in-process through `main`.
"""

from __future__ import annotations

import csv
import io
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from napari_recist import __version__
from napari_recist.cli import (
    EXIT_BAD_INPUT,
    EXIT_CLOSED_PIPE,
    build_parser,
    main,
)

ROOT = Path(__file__).resolve().parents[2]
EXAMPLE = ROOT / "examples" / "lesions.csv"
PACKAGED_EXAMPLE = ROOT / "src" / "napari_recist" / "examples" / "lesions.csv"
CLI = [sys.executable, "-m", "napari_recist.cli"]


def run_cli(*args: str, **kwargs) -> subprocess.CompletedProcess:
    return subprocess.run(
        [*CLI, *args], capture_output=True, text=True, check=False, timeout=120, **kwargs
    )


def run_python(code: str, *args: str) -> subprocess.CompletedProcess:
    """Run `code` in a fresh interpreter (argv[1:] = args); for blocking an import."""
    return subprocess.run(
        [sys.executable, "-c", code, *args],
        capture_output=True,
        text=True,
        check=False,
        timeout=120,
    )


@pytest.fixture(scope="module")
def big_table(tmp_path_factory) -> Path:
    """The example table repeated for 300 patients: its outputs overflow a pipe's buffer."""
    rows = list(csv.DictReader(EXAMPLE.open(newline="")))
    path = tmp_path_factory.mktemp("big") / "lesions.csv"
    with path.open("w", newline="") as handle:
        writer = csv.DictWriter(handle, fieldnames=list(rows[0]))
        writer.writeheader()
        for copy in range(30):
            for row in rows:
                writer.writerow({**row, "patient_id": f"{row['patient_id']}-{copy:02d}"})
    return path


# --- --version and exit codes ---------------------------------------------------------------


def test_version_prints_the_package_version_and_exits_0():
    done = run_cli("--version")
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == f"napari-recist {__version__}"


def test_the_version_has_one_source():
    pyproject = (ROOT / "pyproject.toml").read_text()
    assert 'dynamic = ["version"]' in pyproject
    assert 'version = { attr = "napari_recist.__version__" }' in pyproject


def test_packaged_example_is_the_example_table():
    assert PACKAGED_EXAMPLE.read_bytes() == EXAMPLE.read_bytes()


def test_exit_codes(tmp_path):
    assert run_cli("classify", str(EXAMPLE), "-q").returncode == 0
    usage = run_cli("classify", str(EXAMPLE), "--no-such-option")
    assert usage.returncode == EXIT_BAD_INPUT and "usage:" in usage.stderr
    missing = run_cli("classify", str(tmp_path / "absent.csv"))
    assert missing.returncode == EXIT_BAD_INPUT
    assert "absent.csv: no such file" in missing.stderr and "Traceback" not in missing.stderr
    no_command = run_cli()
    assert no_command.returncode == EXIT_BAD_INPUT


# --- `-` is standard output -----------------------------------------------------------------


@pytest.mark.parametrize("option", ["--json", "--csv"])
def test_dash_writes_the_same_bytes_as_a_file_and_nothing_else(tmp_path, option, capsysbinary):
    target = tmp_path / "out"
    assert main(["classify", str(EXAMPLE), option, str(target), "-q"]) == 0
    capsysbinary.readouterr()
    assert main(["classify", str(EXAMPLE), option, "-", "-q"]) == 0
    out = capsysbinary.readouterr().out
    assert out == target.read_bytes()  # no terminal summary mixed in
    if option == "--json":
        assert len(json.loads(out)["patients"]) == 10
    assert not (tmp_path / "-").exists() and not Path("-").exists()


def test_dash_for_one_output_and_a_file_for_the_other(tmp_path, capsys):
    csv_file = tmp_path / "out.csv"
    assert main(["classify", str(EXAMPLE), "--json", "-", "--csv", str(csv_file)]) == 0
    captured = capsys.readouterr()
    json.loads(captured.out)  # stdout is exactly the JSON
    assert f"wrote {csv_file}" in captured.err
    assert csv_file.read_text().startswith("patient_id,")


def test_two_outputs_cannot_both_go_to_stdout(capsys):
    assert main(["classify", str(EXAMPLE), "--json", "-", "--csv", "-"]) == EXIT_BAD_INPUT
    captured = capsys.readouterr()
    assert "only one output can go to standard output" in captured.err
    assert captured.out == ""


def test_table_csv_dash(tmp_path, capsysbinary):
    sys.path.insert(0, str(ROOT / "tests" / "io"))
    from _sr_samples import write_patient

    write_patient(tmp_path / "P1")
    target = tmp_path / "lesions.csv"
    assert main(["table", str(tmp_path / "P1"), "--csv", str(target)]) == 0
    capsysbinary.readouterr()
    assert main(["table", str(tmp_path / "P1"), "--csv", "-"]) == 0
    captured = capsysbinary.readouterr()
    assert captured.out == target.read_bytes()
    assert b"P1: 9 lesions at 2 time points" in captured.err  # the summary moved to stderr


@pytest.mark.parametrize(
    "argv",
    [
        ["report", str(EXAMPLE), "--out", "-"],
        ["cohort", str(EXAMPLE), "--out", "-"],
        ["write-sr", str(EXAMPLE), str(ROOT / "sample_dicom"), "--out", "-"],
        ["sample", "-"],
    ],
    ids=["report", "cohort", "write-sr", "sample"],
)
def test_folder_outputs_refuse_dash(tmp_path, monkeypatch, capsys, argv):
    monkeypatch.chdir(tmp_path)
    assert main(argv) == EXIT_BAD_INPUT
    assert "a folder is needed here" in capsys.readouterr().err
    assert list(tmp_path.iterdir()) == []  # no folder named "-"


# --- a closed pipe --------------------------------------------------------------------------


def test_reader_closing_early_gives_a_quiet_exit(big_table):
    """`napari-recist classify big.csv | head -n 1`: exit 141, nothing on stderr."""
    process = subprocess.Popen(
        [*CLI, "classify", str(big_table)], stdout=subprocess.PIPE, stderr=subprocess.PIPE
    )
    first = process.stdout.readline()
    process.stdout.close()  # the reader goes away with most of the output unread
    code = process.wait(timeout=120)
    stderr = process.stderr.read().decode()
    process.stderr.close()
    assert first.startswith(b"Patient ")
    assert code == EXIT_CLOSED_PIPE
    assert stderr == ""


@pytest.mark.parametrize(
    "output", [["--json", "-"], ["--csv", "-"], []], ids=["json", "csv", "summary"]
)
def test_pipe_closed_before_any_output(output):
    """A reader already gone: the first write fails; still exit 141 and no traceback."""
    read_end, write_end = os.pipe()
    os.close(read_end)
    try:
        done = subprocess.run(
            [*CLI, "classify", str(EXAMPLE), "-q", *output],
            stdout=write_end,
            stderr=subprocess.PIPE,
            text=True,
            check=False,
            timeout=120,
        )
    finally:
        os.close(write_end)
    assert done.returncode == EXIT_CLOSED_PIPE
    assert done.stderr == ""


@pytest.mark.parametrize("argv", [["--version"], ["--help"], ["classify", "--help"]])
def test_version_and_help_into_a_closed_pipe_stay_quiet(argv):
    read_end, write_end = os.pipe()
    os.close(read_end)
    try:
        done = subprocess.run(
            [*CLI, *argv], stdout=write_end, stderr=subprocess.PIPE, text=True, timeout=60,
            check=False,
        )
    finally:
        os.close(write_end)
    assert done.stderr == ""


# --- --quiet and --verbose ------------------------------------------------------------------


def test_every_command_takes_quiet_and_verbose():
    parser = build_parser()
    commands = next(a for a in parser._actions if a.dest == "command").choices
    assert set(commands) >= {"classify", "report", "cohort", "table", "write-sr", "sample"}
    for name, sub in commands.items():
        options = sub._option_string_actions
        for flag in ("-q", "--quiet", "-v", "--verbose"):
            assert flag in options, f"{name} lacks {flag}"


def test_quiet_and_verbose_exclude_each_other(capsys):
    with pytest.raises(SystemExit) as stopped:
        main(["classify", str(EXAMPLE), "--quiet", "--verbose"])
    assert stopped.value.code == EXIT_BAD_INPUT
    assert "not allowed with" in capsys.readouterr().err


@pytest.fixture()
def table_with_a_bad_row(tmp_path) -> Path:
    path = tmp_path / "mixed.csv"
    text = EXAMPLE.read_text()
    path.write_text(text + "P01-true-PR,1,2024-03-04,L9,target,lung,not-a-number,,\n")
    return path


def test_default_diagnostics(table_with_a_bad_row, tmp_path, capsys):
    out = tmp_path / "out.json"
    assert main(["classify", str(table_with_a_bad_row), "--lenient", "--json", str(out)]) == 0
    captured = capsys.readouterr()
    assert "skipped: " in captured.err and f"wrote {out}" in captured.err
    assert "debug:" not in captured.err
    assert "Patient P01-true-PR" in captured.out and "wrote" not in captured.out


def test_quiet_hides_info_but_never_a_skipped_row(table_with_a_bad_row, tmp_path, capsys):
    out = tmp_path / "out.json"
    argv = ["classify", str(table_with_a_bad_row), "--lenient", "--json", str(out), "--quiet"]
    assert main(argv) == 0
    err = capsys.readouterr().err
    assert "skipped: " in err  # a skipped row changes the numbers: always shown
    assert "wrote" not in err


def test_verbose_adds_debug_lines(capsys):
    assert main(["classify", str(EXAMPLE), "--verbose"]) == 0
    err = capsys.readouterr().err
    assert f"debug: napari-recist {__version__}, Python" in err
    assert "debug: classify finished in" in err


def test_logging_is_put_back_after_a_run(capsys):
    import logging

    logger = logging.getLogger("napari_recist")
    before = (list(logger.handlers), logger.level, logger.propagate)
    main(["classify", str(EXAMPLE), "-v"])
    main(["classify", str(EXAMPLE), "-q"])
    assert (list(logger.handlers), logger.level, logger.propagate) == before


def test_quiet_turns_progress_bars_off(tmp_path):
    done = run_cli("sample", str(tmp_path / "s"), "--quiet")
    assert done.returncode == 0, done.stderr
    assert done.stderr == ""
    assert "lesion table" in done.stdout


# --- a missing extra ------------------------------------------------------------------------

BLOCK_AND_RUN = """
import sys
for name in sys.argv[1].split(","):
    sys.modules[name] = None  # import fails as if the package were not installed
from napari_recist.cli import main
sys.exit(main(sys.argv[2:]))
"""


@pytest.mark.parametrize(
    ("blocked", "argv"),
    [
        ("matplotlib", ["report", str(EXAMPLE), "--out", "OUT"]),
        ("lifelines", ["cohort", str(EXAMPLE), "--out", "OUT"]),
        ("matplotlib,lifelines,scipy,distributed,pandas", ["cohort", str(EXAMPLE), "--out", "OUT"]),
    ],
    ids=["report", "cohort-lifelines", "cohort-all"],
)
def test_missing_extra_names_it_and_exits_2(tmp_path, blocked, argv):
    argv = [str(tmp_path / "out") if a == "OUT" else a for a in argv]
    done = run_python(BLOCK_AND_RUN, blocked, *argv)
    assert done.returncode == EXIT_BAD_INPUT, done.stderr
    assert "install napari-recist[cohort]" in done.stderr
    assert blocked.split(",")[0] in done.stderr
    assert "Traceback" not in done.stderr
    assert not (tmp_path / "out").exists()  # refused before any work


def test_missing_extra_found_only_at_import_time(tmp_path):
    """A module the declared check does not list still gives the message, not a traceback."""
    code = (
        "import napari_recist.cli as cli\n"
        "cli.Extra.missing = lambda self: []\n"  # the up-front check passes...
        + BLOCK_AND_RUN  # ...and the import fails inside the command
    )
    done = run_python(code, "matplotlib", "report", str(EXAMPLE), "--out", str(tmp_path / "o"))
    assert done.returncode == EXIT_BAD_INPUT, done.stderr
    assert "install napari-recist[cohort]" in done.stderr and "Traceback" not in done.stderr


def test_core_commands_do_not_need_any_extra(tmp_path):
    blocked = "matplotlib,lifelines,scipy,distributed,pandas,SimpleITK,napari,qtpy,dicomweb_client"
    done = run_python(BLOCK_AND_RUN, blocked, "classify", str(EXAMPLE), "-q")
    assert done.returncode == 0, done.stderr
    assert "Patient P01-true-PR" in done.stdout


# --- colour ---------------------------------------------------------------------------------


@pytest.mark.parametrize("no_color", [None, "1"])
def test_no_colour_is_written(no_color):
    env = {k: v for k, v in os.environ.items() if k != "NO_COLOR"}
    if no_color:
        env["NO_COLOR"] = no_color
    done = run_cli("classify", str(EXAMPLE), "-v", env=env)
    assert done.returncode == 0
    assert "\x1b[" not in done.stdout and "\x1b[" not in done.stderr


def test_help_states_the_exit_codes():
    text = io.StringIO()
    build_parser().print_help(text)
    assert "141" in text.getvalue() and "'-'" in text.getvalue()
