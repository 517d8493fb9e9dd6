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


# Each entry adds one sub-command to the parser.
COMMANDS: list[Callable[[argparse._SubParsersAction], None]] = [_add_classify]


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
