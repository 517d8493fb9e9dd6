"""`napari-recist pacs echo | find | get | store | servers`, and ``pacs://`` sources.

The work is done by `napari_recist.io.pacs.PacsClient`; this module parses arguments, shows
progress bars (tqdm, on stderr) and prints results. Every failure is an `InputError` whose
problems name the server and the request (exit code 2, no traceback).
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any
from urllib.parse import unquote, urlsplit

from napari_recist.errors import InputError, Problem

if TYPE_CHECKING:
    from tqdm import tqdm

    from napari_recist.io.pacs import PacsClient, Server

SOURCE_SCHEME = "pacs://"


class _Bar:
    """A progress callback drawing a tqdm bar on stderr (thread-safe: tqdm locks)."""

    def __init__(self, description: str, quiet: bool) -> None:
        from tqdm import tqdm

        self.bar: tqdm = tqdm(desc=description, unit="instance", disable=quiet, file=sys.stderr)

    def __call__(self, done: int, total: int) -> None:
        if self.bar.total != total:
            self.bar.total = total
        self.bar.n = done
        self.bar.refresh()

    def close(self) -> None:
        self.bar.close()


def _date(text: str) -> dt.date:
    try:
        return dt.date.fromisoformat(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a date YYYY-MM-DD") from None


def _client(args: argparse.Namespace) -> tuple[Server, PacsClient]:
    from dataclasses import replace

    from napari_recist.io.pacs import PacsClient, resolve_server

    server = resolve_server(args.server, calling_aet=args.calling_aet, timeout=args.timeout)
    move_port = getattr(args, "move_port", None)
    if move_port is not None:
        if server.kind != "dimse":
            raise InputError([server.problem("get", "--move-port is for dimse:// servers")])
        server = replace(server, move_port=move_port)
    return server, PacsClient(server)


def run_echo(args: argparse.Namespace) -> int:
    """`pacs echo SERVER`: C-ECHO, or a QIDO-RS search for DICOMweb."""
    server, client = _client(args)
    client.echo()
    print(f"{server.label}: answers")
    return 0


def run_find(args: argparse.Namespace) -> int:
    """`pacs find SERVER --patient-id ID`: the patient's studies as a table or JSON."""
    _server, client = _client(args)
    studies = client.find_studies(args.patient_id, args.date_from, args.date_to)
    if args.json:
        json.dump([study.to_json() for study in studies], sys.stdout, indent=2)
        print()
        return 0
    rows = [("date", "description", "modalities", "series", "SR", "study instance UID")]
    for study in studies:
        rows.append(
            (
                study.study_date.isoformat() if study.study_date else "-",
                study.description or "-",
                ",".join(study.modalities) or "-",
                "-" if study.series_count is None else str(study.series_count),
                "yes" if study.has_sr else "no",
                study.study_instance_uid,
            )
        )
    widths = [max(len(row[k]) for row in rows) for k in range(len(rows[0]))]
    for row in rows:
        cells = (cell.ljust(width) for cell, width in zip(row, widths, strict=True))
        print("  ".join(cells).rstrip())
    print(f"{len(studies)} stud{'y' if len(studies) == 1 else 'ies'} of patient "
          f"{args.patient_id}", file=sys.stderr)
    return 0


def retrieve_patient(
    client: PacsClient, patient_id: str, out: Path, studies: Sequence[str] | None, quiet: bool
) -> Path:
    """Retrieve with a progress bar; print what travelled; return the patient folder.

    Raises
    ------
    InputError
        The server failed, or some instances were refused or did not arrive.
    """
    bar = _Bar(f"retrieve {patient_id}", quiet)
    try:
        result = client.retrieve(patient_id, out, studies, progress=bar)
    finally:
        bar.close()
    print(
        f"{patient_id}: fetched {result.fetched} instance(s), {result.already} already in the "
        f"cache -> {result.folder}",
        file=sys.stderr,
    )
    if result.problems:
        raise InputError(result.problems)
    return result.folder


def run_get(args: argparse.Namespace) -> int:
    """`pacs get SERVER --patient-id ID --out DIR`: retrieve into DIR/PATIENT/STUDY/SERIES."""
    _server, client = _client(args)
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    folder = retrieve_patient(client, args.patient_id, out, args.study or None, args.quiet)
    print(folder)
    return 0


def store_paths(server_text: str, paths: Sequence[Path], quiet: bool = False,
                calling_aet: str | None = None, timeout: float | None = None) -> int:
    """Send DICOM files and folders to a server with a progress bar; return the count sent.

    Raises
    ------
    InputError
        Missing or non-DICOM files (nothing sent), server failures, refused instances.
    """
    from napari_recist.io.pacs import PacsClient, resolve_server

    server = resolve_server(server_text, calling_aet=calling_aet, timeout=timeout)
    client = PacsClient(server)
    bar = _Bar(f"store to {server.name}", quiet)
    try:
        sent, refused = client.store(paths, progress=bar)
    finally:
        bar.close()
    print(f"{server.label}: stored {sent} instance(s)", file=sys.stderr)
    if refused:
        raise InputError(refused)
    return sent


def run_store(args: argparse.Namespace) -> int:
    """`pacs store SERVER PATH...`."""
    store_paths(args.server, [Path(p) for p in args.paths], args.quiet, args.calling_aet,
                args.timeout)
    return 0


def run_servers(args: argparse.Namespace) -> int:
    """`pacs servers`: the saved servers (no credential is ever shown, only variable names)."""
    from napari_recist.io.pacs import saved_servers, servers_file

    path = servers_file()
    servers = saved_servers(path)
    print(f"saved servers in {path}: {len(servers)}", file=sys.stderr)
    for name, server in sorted(servers.items()):
        auth = ""
        if server.kind == "dicomweb" and (server.token_env or server.user_env):
            auth = f"  (token ${server.token_env} or ${server.user_env}/${server.password_env})"
        if server.kind == "dimse":
            auth = f"  (calling AE title {server.calling_aet})"
        print(f"{name}  {server.url}{auth}")
    return 0


def resolve_source(text: str) -> Path:
    """A command's source: ``pacs://SERVER_NAME/PATIENT_ID`` is retrieved, anything else a path.

    Parameters
    ----------
    text
        A file or folder, or ``pacs://`` + a saved server's name + ``/`` + a patient ID
        (percent-encoded if it holds ``/``).

    Returns
    -------
    Path
        The path itself, or the patient's folder in the user cache after retrieving every
        study of the patient (only missing instances travel).

    Raises
    ------
    InputError
        A malformed ``pacs://`` source, an unknown server, a server failure.
    """
    if not text.startswith(SOURCE_SCHEME):
        return Path(text)
    from napari_recist.io.pacs import PacsClient, default_cache_root, saved_servers, servers_file

    parts = urlsplit(text)
    name = unquote(parts.netloc)
    patient_id = unquote(parts.path.lstrip("/"))
    if not name or not patient_id:
        raise InputError([Problem(text, "expected pacs://SERVER_NAME/PATIENT_ID")])
    servers = saved_servers()
    if name not in servers:
        known = ", ".join(sorted(servers)) or "none"
        raise InputError(
            [Problem(text, f"no saved server {name!r} in {servers_file()} (saved: {known})")]
        )
    client = PacsClient(servers[name])
    return retrieve_patient(client, patient_id, default_cache_root(name), None, quiet=False)


def _common(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "server", metavar="SERVER",
        help="a saved server's name, http(s)://host:port/dicom-web or dimse://CALLED_AET@host:port",
    )
    parser.add_argument("--calling-aet", metavar="AET", help="our AE title for DIMSE "
                        "(default: the saved one, $NAPARI_RECIST_CALLING_AET or RECIST)")
    parser.add_argument("--timeout", type=float, metavar="SECONDS",
                        help="seconds to wait for the server (default 30)")


def add_pacs_commands(subparsers: Any, parents: list[Any], extra: Any) -> None:
    """Add ``pacs`` and its sub-commands to the command line's sub-parsers.

    Parameters
    ----------
    subparsers
        The command line's sub-parsers.
    parents
        Parsers of the options every command has (``--quiet``, ``--verbose``).
    extra
        The `[pacs]` extra, checked before a sub-command runs.
    """
    pacs = subparsers.add_parser(
        "pacs",
        parents=parents,
        help="query, retrieve and store against a PACS (DICOMweb or DIMSE)",
        description="Talk to a PACS over DICOMweb (http(s)://host:port/dicom-web; a bearer "
        "token in $NAPARI_RECIST_PACS_TOKEN or basic auth in $NAPARI_RECIST_PACS_USER and "
        "$NAPARI_RECIST_PACS_PASSWORD) or DIMSE (dimse://CALLED_AET@host:port). Saved servers "
        "are read from pacs.toml in the user config folder ('pacs servers' shows where).",
    )
    commands = pacs.add_subparsers(dest="pacs_command", metavar="PACS_COMMAND")
    commands.required = True

    echo = commands.add_parser("echo", parents=parents, help="check that the server answers")
    _common(echo)
    echo.set_defaults(handler=run_echo, extra=extra)

    find = commands.add_parser("find", parents=parents,
                               help="a patient's studies: date, description, "
                               "modalities, series, whether an SR is there")
    _common(find)
    find.add_argument("--patient-id", required=True, metavar="ID")
    find.add_argument("--from", dest="date_from", type=_date, metavar="YYYY-MM-DD")
    find.add_argument("--to", dest="date_to", type=_date, metavar="YYYY-MM-DD")
    find.add_argument("--json", action="store_true", help="print the studies as JSON on stdout")
    find.set_defaults(handler=run_find, extra=extra)

    get = commands.add_parser("get", parents=parents,
                              help="retrieve a patient's studies into DIR/PATIENT/...")
    _common(get)
    get.add_argument("--patient-id", required=True, metavar="ID")
    get.add_argument("--study", action="append", metavar="UID",
                     help="only this study (repeat for several; default: all)")
    get.add_argument("--out", required=True, metavar="DIR", help="cache folder")
    get.add_argument("--move-port", type=int, metavar="PORT",
                     help="DIMSE: C-MOVE to our storage SCP on 127.0.0.1:PORT (default C-GET)")
    get.set_defaults(handler=run_get, extra=extra)

    store = commands.add_parser("store", parents=parents, help="send DICOM files or folders")
    _common(store)
    store.add_argument("paths", nargs="+", metavar="PATH")
    store.set_defaults(handler=run_store, extra=extra)

    servers = commands.add_parser("servers", parents=parents, help="list the saved servers")
    servers.set_defaults(handler=run_servers, extra=extra)
