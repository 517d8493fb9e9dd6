"""Command line: ``napari-recist classify | sample | table | write-sr | report | cohort``.

Each sub-command is declared here and implemented in the module that owns the work; this
module only parses arguments and keeps the conventions every command shares:

- ``--version``; exit codes 0 (done), 2 (bad input or usage, a missing extra), 130
  (interrupted), 141 (standard output closed early, as a shell reports a tool stopped by
  SIGPIPE); never a traceback for bad input, a missing extra or a closed pipe;
- ``-`` for standard output on every single-file output option (`commands._output`);
- ``--quiet`` / ``--verbose`` on every command: diagnostics go through `logging` to stderr,
  results to stdout;
- a command whose extra is not installed says which one (``install napari-recist[cohort]``);
- no colour is written, so ``NO_COLOR`` is respected by construction.
"""

from __future__ import annotations

import argparse
import importlib.util
import logging
import os
import platform
import sys
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from napari_recist import __version__
from napari_recist.errors import InputError

EXIT_OK = 0
EXIT_BAD_INPUT = 2
EXIT_INTERRUPTED = 130
# sysexits.h EX_SOFTWARE: an error of ours, not of the input.
EXIT_SOFTWARE = 70
# 128 + SIGPIPE: what a shell reports for `cat big | head`; `set -o pipefail` scripts see it.
EXIT_CLOSED_PIPE = 141

Handler = Callable[[argparse.Namespace], int]

log = logging.getLogger("napari_recist")


@dataclass(frozen=True)
class Extra:
    """An optional dependency group (``pip install "napari-recist[NAME]"``).

    Parameters
    ----------
    name
        The extra's name in pyproject.toml.
    modules
        Top-level modules a command of this extra imports.
    """

    name: str
    modules: tuple[str, ...]

    def missing(self) -> list[str]:
        """The modules of this extra that cannot be imported."""
        return [m for m in self.modules if importlib.util.find_spec(m) is None]


# What each command needs beyond the core install (pyproject.toml [project.optional-dependencies]).
COHORT = Extra("cohort", ("matplotlib", "lifelines", "scipy", "distributed", "pandas"))
REPORT = Extra("cohort", ("matplotlib",))  # the tumour-board page draws its plots only
IMAGING = Extra("imaging", ("SimpleITK",))
PACS = Extra("pacs", ("dicomweb_client", "pynetdicom", "platformdirs"))
VIEWER = Extra("viewer", ("napari", "npe2", "magicgui", "matplotlib"))
EXTRAS = (COHORT, IMAGING, PACS, VIEWER)


def _common_options() -> argparse.ArgumentParser:
    """The options every sub-command takes (its parent parser)."""
    common = argparse.ArgumentParser(add_help=False)
    noise = common.add_argument_group("diagnostics (stderr)").add_mutually_exclusive_group()
    noise.add_argument(
        "-q",
        "--quiet",
        action="store_true",
        help="no progress bars or info lines; warnings (rows skipped, how an input was read) "
        "and errors are always shown",
    )
    noise.add_argument(
        "-v", "--verbose", action="store_true", help="also debug lines: what was read, timings"
    )
    return common


COMMON = _common_options()


def _classify(args: argparse.Namespace) -> int:
    from napari_recist.commands.classify import run_classify

    return run_classify(args)


def _add_classify(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "classify",
        parents=[COMMON],
        help="classify a lesion table (CSV) or a patient folder of DICOM",
        description="Classify every patient: RECIST 1.1, iRECIST, lesion-level response, "
        "dissociated response, atypical patterns. Prints a summary per patient.",
    )
    parser.add_argument("source", help="lesion table (CSV) or patient folder with DICOM SR")
    parser.add_argument(
        "--json", metavar="OUT.json", help="write the classification JSON (- for stdout)"
    )
    parser.add_argument(
        "--csv", metavar="OUT.csv", help="write one row per patient per timepoint (- for stdout)"
    )
    parser.add_argument(
        "--confirm",
        action="store_true",
        help="confirmation required (RECIST 1.1 Table 3): the confirmed BOR is the headline",
    )
    parser.add_argument("--criteria", metavar="FILE.toml", help="thresholds to override")
    parser.add_argument(
        "--lenient", action="store_true", help="skip bad rows (listed on stderr) instead of failing"
    )
    parser.add_argument(
        "--workers", type=int, metavar="N",
        help="processes to classify on (default: one per core from 500 patients on, else 1; "
        "also NAPARI_RECIST_WORKERS); the outputs are the same whatever the number",
    )
    parser.set_defaults(handler=_classify)


def _sample(args: argparse.Namespace) -> int:
    from napari_recist.sample import run_sample

    return run_sample(args)


def _add_sample(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "sample",
        parents=[COMMON],
        help="write a synthetic patient (3 CT studies, TID 1500 SRs, lesion table)",
        description="Write a synthetic chest-abdomen CT patient at baseline, week 8 and "
        "week 16 with a dissociated response (lung lesion and node shrink, liver lesion "
        "grows, a new liver lesion appears), one TID 1500 SR per study with the true "
        "measurements and lesions.csv. Deterministic: rerunning gives identical CT files.",
    )
    parser.add_argument("folder", help="output folder (created; the sample's files are replaced)")
    parser.set_defaults(handler=_sample, folder_options={"FOLDER": "folder"})


def _report(args: argparse.Namespace) -> int:
    from napari_recist.commands.report import run_report

    return run_report(args)


def _add_report(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "report",
        parents=[COMMON],
        help="tumour-board HTML page for a patient folder of DICOM or a lesion table",
        description="Write a self-contained HTML page per patient: the response table with "
        "reasons per timepoint, key images of each lesion cropped from the CT (when DICOM is "
        "available) and the spider and lesion trajectory plots.",
    )
    parser.add_argument("source", help="patient folder (CT + SR) or lesion table (CSV)")
    parser.add_argument("--out", required=True, metavar="DIR", help="output folder")
    parser.add_argument("--patient", metavar="ID", help="only this patient of a table")
    parser.add_argument("--criteria", metavar="FILE.toml", help="thresholds to override")
    parser.add_argument(
        "--lenient", action="store_true", help="skip bad rows (listed on stderr) instead of failing"
    )
    parser.set_defaults(handler=_report, extra=REPORT, folder_options={"--out": "out"})


def _cohort(args: argparse.Namespace) -> int:
    from napari_recist.commands.cohort import run_cohort

    return run_cohort(args)


def _add_cohort(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "cohort",
        parents=[COMMON],
        help="classify a whole study: CSV tables, frequencies, plots, survival statistics",
        description="Classify every patient of a lesion table or of a folder of patient "
        "folders (DICOM SR), in parallel with Dask, and write per-patient and per-assessment "
        "CSV, category frequencies, waterfall/spider/swimmer/Kaplan-Meier plots and survival "
        "statistics in one HTML report.",
    )
    parser.add_argument("source", help="lesion table (CSV) or folder of patient folders")
    parser.add_argument("--out", required=True, metavar="DIR", help="output folder")
    parser.add_argument(
        "--clinical",
        metavar="FILE.csv",
        help="clinical table: patient_id, os_days, os_event, pfs_days, pfs_event, covariates",
    )
    parser.add_argument(
        "--scheduler", metavar="ADDRESS", help="send the work to this dask.distributed scheduler"
    )
    parser.add_argument(
        "--workers", type=int, default=1, metavar="N", help="local worker processes (default 1)"
    )
    parser.add_argument("--criteria", metavar="FILE.toml", help="thresholds to override")
    parser.add_argument(
        "--lenient", action="store_true", help="skip bad rows (listed on stderr) instead of failing"
    )
    parser.add_argument(
        "--group-by",
        metavar="FIELD",
        help="compare survival and characteristics by this patient field of the JSON "
        "(category, category_pspd, dissociated_response.tozuka, best_overall_response, "
        "progression_pattern.site_group, ...) or clinical column; default: the seeds' groupings",
    )
    parser.add_argument(
        "--groups", metavar="A,B", help="levels of --group-by to compare, the reference first"
    )
    parser.add_argument(
        "--landmark",
        type=float,
        metavar="DAYS",
        help="landmark analysis of post-baseline groupings: patients followed beyond DAYS "
        "(from the time origin), grouped as known on that day",
    )
    parser.add_argument(
        "--adjust", metavar="COL,COL", help="clinical covariates of a multivariable Cox model"
    )
    parser.add_argument(
        "--km-ci",
        choices=("log-log", "log"),
        default="log-log",
        help="scale of the Kaplan-Meier confidence curves (log: R survfit's default)",
    )
    parser.add_argument(
        "--rate-ci",
        choices=("clopper-pearson", "wilson"),
        default="clopper-pearson",
        help="95 %% interval of the rates (default exact Clopper-Pearson)",
    )
    parser.add_argument(
        "--scan-interval",
        type=float,
        metavar="DAYS",
        help="scheduled scan interval for the PFS missed-scan rule (default: each "
        "patient's median gap between scans)",
    )
    parser.add_argument(
        "--holm", action="store_true", help="show Holm-adjusted p-values of pairwise tests"
    )
    parser.add_argument(
        "--resume",
        action="store_true",
        help="keep the patients an interrupted run into the same --out already classified "
        "(same inputs and criteria), classify the rest",
    )
    parser.add_argument(
        "--excel", action="store_true", help="write the CSV files with a UTF-8 BOM (Excel)"
    )
    parser.add_argument(
        "--at-days",
        type=float,
        nargs="+",
        metavar="DAYS",
        help="fixed-time rates: Kaplan-Meier survival with 95 %% CI at these days from each "
        "endpoint's origin (e.g. 182.6 for 6-month PFS)",
    )
    parser.add_argument(
        "--logistic",
        action="append",
        metavar="FIELD=LEVEL",
        help="logistic regression of the clinical covariates for this outcome "
        "(e.g. category=DR); repeatable",
    )
    parser.add_argument(
        "--lesion-factors",
        metavar="COL,COL",
        help="lesion-table columns of the lesion-level analyses (default: prior_radiotherapy, "
        "prior_biopsy when present; site is always analysed)",
    )
    parser.add_argument(
        "--lesion-level",
        action="store_true",
        help="read the lesions of DICOM patient folders again for the lesion-level "
        "analyses and the DR site table (lesion tables are always used)",
    )
    parser.add_argument(
        "--sdtm",
        metavar="STUDYID",
        help="write CDISC SDTM TU, TR and RS tables (sdtm_tu/tr/rs.csv) with this STUDYID",
    )
    parser.set_defaults(handler=_cohort, extra=COHORT, folder_options={"--out": "out"})


def _table(args: argparse.Namespace) -> int:
    from napari_recist.commands.dicom import run_table

    return run_table(args)


def _add_table(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "table",
        parents=[COMMON],
        help="read a patient folder's TID 1500 SRs into a lesion table (CSV)",
        description="Read every measurement SR (ours, OHIF, 3D Slicer/dcmqi) of one patient "
        "folder, order the time points by study date and write the lesion table.",
    )
    parser.add_argument("patient_dir", metavar="PATIENT_DIR", help="folder of one patient")
    parser.add_argument(
        "--csv", metavar="OUT.csv", required=True, help="lesion table to write (- for stdout)"
    )
    parser.add_argument(
        "--lenient", action="store_true",
        help="keep what can be read and list the rest on stderr instead of failing",
    )
    parser.add_argument(
        "--radius-as-diameter", action="store_true",
        help="read twice a circle's Radius (dwv circles) as the lesion's diameter, with a note; "
        "by default a radius is not a diameter and is not used",
    )
    parser.set_defaults(handler=_table)


def _write_sr(args: argparse.Namespace) -> int:
    from napari_recist.commands.dicom import run_write_sr

    return run_write_sr(args)


def _add_write_sr(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "write-sr",
        parents=[COMMON],
        help="write one TID 1500 SR per time point of a lesion table",
        description="Write a DICOM Comprehensive 3D SR (TID 1500) for every time point of the "
        "patient in TABLE.csv, referencing the CT images of that date found in PATIENT_DIR. "
        "Every time point needs its CT; nothing is written otherwise.",
    )
    parser.add_argument("table", metavar="TABLE.csv", help="lesion table")
    parser.add_argument("patient_dir", metavar="PATIENT_DIR", help="the patient's DICOM folder")
    parser.add_argument("--out", metavar="DIR", required=True, help="folder for the SR files")
    parser.add_argument(
        "--responses", action="store_true",
        help="also record each lesion's response (RECIST 1.1 lesion level, default criteria)",
    )
    parser.add_argument(
        "--lenient", action="store_true", help="skip bad rows (listed on stderr) instead of failing"
    )
    parser.add_argument(
        "--store", metavar="SERVER", help="also send the SRs to this PACS (saved name or URL)"
    )
    parser.set_defaults(handler=_write_sr, folder_options={"--out": "out"})


# Each entry adds one sub-command to the parser.
COMMANDS: list[Callable[[argparse._SubParsersAction], None]] = [_add_classify]
COMMANDS += [_add_report, _add_cohort]
COMMANDS += [_add_table, _add_write_sr]
COMMANDS += [_add_sample]


# --- propagate (lesion propagation and semi-automatic measurement; needs SimpleITK) -------
def _propagate(args: argparse.Namespace) -> int:
    from napari_recist.commands.propagate import run_propagate

    return run_propagate(args)


def _add_propagate(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "propagate",
        parents=[COMMON],
        help="propose and measure every baseline lesion on the follow-up CTs (a draft)",
        description="Register each follow-up CT of a patient folder to the baseline CT "
        "(SimpleITK, cached per pair of series), map every baseline lesion onto it and "
        "measure it semi-automatically there. Prints one line per lesion and writes, with "
        "--csv, a draft lesion table of the follow-ups (method = semi-automatic, confidence, "
        "registration status, proposed lines) for a reader to review.",
    )
    parser.add_argument("patient_dir", metavar="PATIENT_DIR", help="folder of one patient")
    parser.add_argument("--csv", metavar="OUT.csv", help="write the draft lesion table")
    parser.add_argument("--refine", action="store_true",
                        help="refine the registration around each lesion (B-spline)")
    parser.add_argument("--cache-dir", metavar="DIR",
                        help="where registrations are kept (default ~/.cache/napari-recist)")
    parser.add_argument("--no-cache", action="store_true",
                        help="do not read or write registrations on disk")
    parser.add_argument("--lenient", action="store_true",
                        help="skip unreadable SR content (listed on stderr) instead of failing")
    parser.set_defaults(handler=_propagate, extra=IMAGING)


COMMANDS += [_add_propagate]


def _add_pacs(subparsers: argparse._SubParsersAction) -> None:
    from napari_recist.commands.pacs import add_pacs_commands

    add_pacs_commands(subparsers, [COMMON], PACS)


COMMANDS += [_add_pacs]


def build_parser() -> argparse.ArgumentParser:
    """Return the argument parser with every sub-command."""
    parser = argparse.ArgumentParser(
        prog="napari-recist",
        description="Longitudinal tumour response on CT (RECIST 1.1, iRECIST, dissociated "
        "response).",
        epilog="Exit codes: 0 done, 2 bad input or usage or a missing extra, 130 interrupted, "
        "141 standard output closed early. '-' on an output file option is standard output.",
    )
    parser.add_argument(
        "--version", action="version", version=f"napari-recist {__version__}"
    )
    subparsers = parser.add_subparsers(dest="command", metavar="COMMAND")
    subparsers.required = True
    for add_command in COMMANDS:
        add_command(subparsers)
    return parser


class _StderrHandler(logging.StreamHandler):  # type: ignore[type-arg]
    """A handler writing to whatever `sys.stderr` is when a line is logged."""

    def __init__(self) -> None:
        super().__init__(sys.stderr)

    @property  # type: ignore[override]
    def stream(self) -> object:
        """The current standard error."""
        return sys.stderr

    @stream.setter
    def stream(self, value: object) -> None:
        pass


class _Formatter(logging.Formatter):
    """Messages as written (they carry their own ``warning:`` / ``skipped:`` word)."""

    def format(self, record: logging.LogRecord) -> str:
        text = super().format(record)
        if record.levelno <= logging.DEBUG:
            return f"debug: {text}"
        if record.levelno >= logging.ERROR and not text.startswith("error:"):
            return f"error: {text}"
        return text


@dataclass
class _Logging:
    """The ``napari_recist`` logger's state, set for one run and put back after it."""

    handler: logging.Handler
    level: int
    propagate: bool

    @classmethod
    def start(cls, args: argparse.Namespace) -> _Logging:
        handler = _StderrHandler()
        handler.setFormatter(_Formatter("%(message)s"))
        state = cls(handler, log.level, log.propagate)
        if getattr(args, "verbose", False):
            log.setLevel(logging.DEBUG)
        elif getattr(args, "quiet", False):
            log.setLevel(logging.WARNING)
        else:
            log.setLevel(logging.INFO)
        log.addHandler(handler)
        log.propagate = False
        return state

    def stop(self) -> None:
        log.removeHandler(self.handler)
        log.setLevel(self.level)
        log.propagate = self.propagate


def _missing_extra_message(command: str, extra: str, modules: Sequence[str]) -> str:
    return (
        f"napari-recist {command} needs the [{extra}] extra ({', '.join(modules)} not "
        f"installed): install napari-recist[{extra}], e.g. pip install \"napari-recist[{extra}]\""
    )


def _extra_of(module: str, declared: Extra | None) -> str | None:
    """The extra that provides `module` (the command's own first), or None for core."""
    for extra in (declared, *EXTRAS):
        if extra is not None and module in extra.modules:
            return extra.name
    return None


def _check_folder_options(args: argparse.Namespace) -> None:
    from napari_recist.commands._output import refuse_stdout_folder

    for option, dest in getattr(args, "folder_options", {}).items():
        refuse_stdout_folder(option, getattr(args, dest))


def _describe_os_error(error: OSError) -> str:
    """``PATH: reason`` of an error from the file system, with the path it was about."""
    reason = error.strerror or str(error) or type(error).__name__
    names = [str(name) for name in (error.filename, error.filename2) if name]
    if isinstance(error, NotADirectoryError):
        reason += " (a file is where a folder is needed)"
    elif isinstance(error, IsADirectoryError):
        reason += " (a folder is where a file is needed)"
    return f"{' -> '.join(names)}: {reason}" if names else reason


def _silence_standard_streams() -> None:
    """Point stdout and stderr at /dev/null so the exit does not fail on a flush."""
    devnull = os.open(os.devnull, os.O_WRONLY)
    for stream in (sys.stdout, sys.stderr):
        try:
            os.dup2(devnull, stream.fileno())
        except (AttributeError, OSError, ValueError):  # not a real file (pytest's capture)
            pass
    os.close(devnull)


def _run(args: argparse.Namespace) -> int:
    """Run the parsed command; problems become messages and exit codes."""
    handler: Handler = args.handler
    extra: Extra | None = getattr(args, "extra", None)
    try:
        if extra is not None and (missing := extra.missing()):
            log.error(_missing_extra_message(args.command, extra.name, missing))
            return EXIT_BAD_INPUT
        _check_folder_options(args)
        started = time.perf_counter()
        code = handler(args)
        sys.stdout.flush()
        log.debug("%s finished in %.2f s (exit %d)", args.command, time.perf_counter() - started,
                  code)
        return code
    except InputError as error:
        for problem in error.problems:
            log.error("error: %s", problem)
        return EXIT_BAD_INPUT
    except ModuleNotFoundError as error:
        module = (error.name or "").partition(".")[0]
        name = _extra_of(module, extra)
        if name is None:
            raise
        log.error(_missing_extra_message(args.command, name, [module]))
        return EXIT_BAD_INPUT
    except BrokenPipeError:
        # The reader of stdout went away (`| head`): stop quietly, as a Unix tool does.
        _silence_standard_streams()
        return EXIT_CLOSED_PIPE
    except KeyboardInterrupt:
        log.error("interrupted")
        return EXIT_INTERRUPTED
    except OSError as error:
        # The outside world refused (no such folder, read-only, disk full, a file where a
        # folder was expected): say which path and why, not a traceback.
        log.error("error: %s", _describe_os_error(error))
        return EXIT_BAD_INPUT
    except (MemoryError, RecursionError) as error:
        log.error("error: the input is too large or too deeply nested to read (%s)",
                  type(error).__name__)
        return EXIT_BAD_INPUT
    except Exception as error:  # noqa: BLE001 - the last line of defence: never a traceback
        log.error("internal error: %s: %s. This is a bug in napari-recist: please report it "
                  "with the command that gave it (run with --verbose for the traceback).",
                  type(error).__name__, error)
        log.debug("traceback", exc_info=True)
        return EXIT_SOFTWARE


def main(argv: Sequence[str] | None = None) -> int:
    """Run the command line.

    Parameters
    ----------
    argv
        Arguments without the program name; defaults to ``sys.argv[1:]``.

    Returns
    -------
    int
        0 on success, 2 on bad input or a missing extra (the problems are printed on
        stderr), 70 on an internal error (a bug: the message says so), 130 when interrupted,
        141 when standard output was closed early.
    """
    args = build_parser().parse_args(argv)
    state = _Logging.start(args)
    try:
        if log.isEnabledFor(logging.DEBUG):
            # platform.platform() would run `uname -p` in a subprocess: these need no process.
            log.debug(
                "napari-recist %s, Python %s on %s %s %s", __version__,
                platform.python_version(), platform.system(), platform.release(),
                platform.machine(),
            )
        return _run(args)
    finally:
        state.stop()


if __name__ == "__main__":
    sys.exit(main())
