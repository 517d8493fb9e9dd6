"""Command line: ``napari-recist classify | sample | table | write-sr | report | cohort``.

Each sub-command is declared here and implemented in the module that owns the work; this
module only parses arguments, turns `InputError` into a message and exit code 2, and never
shows a traceback to a user.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable, Sequence

from napari_recist.errors import InputError

EXIT_OK = 0
EXIT_BAD_INPUT = 2

Handler = Callable[[argparse.Namespace], int]


def _classify(args: argparse.Namespace) -> int:
    from napari_recist.commands.classify import run_classify

    return run_classify(args)


def _add_classify(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "classify",
        help="classify a lesion table (CSV) or a patient folder of DICOM",
        description="Classify every patient: RECIST 1.1, iRECIST, lesion-level response, "
        "dissociated response, atypical patterns. Prints a summary per patient.",
    )
    parser.add_argument("source", help="lesion table (CSV) or patient folder with DICOM SR")
    parser.add_argument("--json", metavar="OUT.json", help="write the classification JSON")
    parser.add_argument("--csv", metavar="OUT.csv", help="write one row per patient per timepoint")
    parser.add_argument(
        "--confirm",
        action="store_true",
        help="confirmation required (RECIST 1.1 Table 3): the confirmed BOR is the headline",
    )
    parser.add_argument("--criteria", metavar="FILE.toml", help="thresholds to override")
    parser.add_argument(
        "--lenient", action="store_true", help="skip bad rows (listed on stderr) instead of failing"
    )
    parser.set_defaults(handler=_classify)


def _sample(args: argparse.Namespace) -> int:
    from napari_recist.sample import run_sample

    return run_sample(args)


def _add_sample(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "sample",
        help="write a synthetic patient (3 CT studies, TID 1500 SRs, lesion table)",
        description="Write a synthetic chest-abdomen CT patient at baseline, week 8 and "
        "week 16 with a dissociated response (lung lesion and node shrink, liver lesion "
        "grows, a new liver lesion appears), one TID 1500 SR per study with the true "
        "measurements and lesions.csv. Deterministic: rerunning gives identical CT files.",
    )
    parser.add_argument("folder", help="output folder (created; the sample's files are replaced)")
    parser.set_defaults(handler=_sample)


def _report(args: argparse.Namespace) -> int:
    from napari_recist.commands.report import run_report

    return run_report(args)


def _add_report(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "report",
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
    parser.set_defaults(handler=_report)


def _cohort(args: argparse.Namespace) -> int:
    from napari_recist.commands.cohort import run_cohort

    return run_cohort(args)


def _add_cohort(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "cohort",
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
    parser.add_argument("--quiet", action="store_true", help="no progress bar")
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
        "--excel", action="store_true", help="write the CSV files with a UTF-8 BOM (Excel)"
    )
    parser.set_defaults(handler=_cohort)


def _table(args: argparse.Namespace) -> int:
    from napari_recist.commands.dicom import run_table

    return run_table(args)


def _add_table(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "table",
        help="read a patient folder's TID 1500 SRs into a lesion table (CSV)",
        description="Read every measurement SR (ours, OHIF, 3D Slicer/dcmqi) of one patient "
        "folder, order the time points by study date and write the lesion table.",
    )
    parser.add_argument("patient_dir", metavar="PATIENT_DIR", help="folder of one patient")
    parser.add_argument("--csv", metavar="OUT.csv", required=True, help="lesion table to write")
    parser.add_argument(
        "--lenient", action="store_true",
        help="keep what can be read and list the rest on stderr instead of failing",
    )
    parser.set_defaults(handler=_table)


def _write_sr(args: argparse.Namespace) -> int:
    from napari_recist.commands.dicom import run_write_sr

    return run_write_sr(args)


def _add_write_sr(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "write-sr",
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
    parser.add_argument("--quiet", action="store_true", help="no progress bar")
    parser.set_defaults(handler=_write_sr)


# Each entry adds one sub-command to the parser.
COMMANDS: list[Callable[[argparse._SubParsersAction], None]] = [_add_classify]
COMMANDS += [_add_report, _add_cohort]
COMMANDS += [_add_table, _add_write_sr]
COMMANDS += [_add_sample]


def build_parser() -> argparse.ArgumentParser:
    """Return the argument parser with every sub-command."""
    parser = argparse.ArgumentParser(
        prog="napari-recist",
        description="Longitudinal tumour response on CT (RECIST 1.1, iRECIST, dissociated "
        "response).",
    )
    subparsers = parser.add_subparsers(dest="command", metavar="COMMAND")
    subparsers.required = True
    for add_command in COMMANDS:
        add_command(subparsers)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Run the command line.

    Parameters
    ----------
    argv
        Arguments without the program name; defaults to ``sys.argv[1:]``.

    Returns
    -------
    int
        0 on success, 2 on bad input (the problems are printed on stderr).
    """
    args = build_parser().parse_args(argv)
    handler: Handler = args.handler
    try:
        return handler(args)
    except InputError as error:
        for problem in error.problems:
            print(f"error: {problem}", file=sys.stderr)
        return EXIT_BAD_INPUT
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
