"""PACS servers: named by a URL, saved in a small TOML file, credentials from the environment.

A server is ``http(s)://host:port/dicom-web`` (DICOMweb) or ``dimse://CALLED_AET@host:port``
(DIMSE). Credentials are never part of the URL or the command line: a bearer token or a user
name and password are read from environment variables, and no message of ours ever shows them.
"""

from __future__ import annotations

import ipaddress
import os
import re
import tomllib
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any, Literal
from urllib.parse import urlsplit, urlunsplit

from napari_recist.errors import InputError, Problem

# Defaults for a server given as a URL on the command line (a saved server names its own).
TOKEN_ENV = "NAPARI_RECIST_PACS_TOKEN"
USER_ENV = "NAPARI_RECIST_PACS_USER"
PASSWORD_ENV = "NAPARI_RECIST_PACS_PASSWORD"
CALLING_AET_ENV = "NAPARI_RECIST_CALLING_AET"
DEFAULT_CALLING_AET = "RECIST"
DEFAULT_TIMEOUT_S = 30.0
SERVERS_FILE = "pacs.toml"
# DICOM PS3.5 Table 6.2-1: an AE title is 1-16 characters of the default repertoire, no
# backslash and no control characters; leading/trailing spaces are not significant.
_AET = re.compile(r"^[\x20-\x5b\x5d-\x7e]{1,16}$")
_SAVED_KEYS = {
    "url", "calling_aet", "token_env", "user_env", "password_env", "ca_bundle", "timeout",
    "move_port", "move_peers",
}


@dataclass(frozen=True)
class Server:
    """A PACS to talk to.

    Parameters
    ----------
    name
        The saved name, or the URL when the server was given as a URL.
    kind
        ``"dicomweb"`` or ``"dimse"``.
    url
        The URL (never with credentials).
    host, port
        Where the server listens.
    called_aet
        DIMSE: the server's AE title.
    calling_aet
        DIMSE: our AE title (also the AE title of our storage SCP for C-MOVE).
    token_env
        Environment variable holding a bearer token (DICOMweb).
    user_env, password_env
        Environment variables holding a user name and password for basic auth (DICOMweb).
    ca_bundle
        A CA bundle to verify the server's TLS certificate with (verification is always on).
    timeout
        Seconds to wait for a connection or an answer.
    move_port
        DIMSE: the port of our storage SCP for C-MOVE (None: C-GET).
    move_peers
        DIMSE: AE titles allowed to send to our storage SCP (default: the server's AE title).
    """

    name: str
    kind: Literal["dicomweb", "dimse"]
    url: str
    host: str
    port: int
    called_aet: str | None = None
    calling_aet: str = DEFAULT_CALLING_AET
    token_env: str | None = None
    user_env: str | None = None
    password_env: str | None = None
    ca_bundle: str | None = None
    timeout: float = DEFAULT_TIMEOUT_S
    move_port: int | None = None
    move_peers: tuple[str, ...] = ()

    @property
    def label(self) -> str:
        """How messages name the server: its name and URL, never a credential."""
        return f"PACS {self.url}" if self.name == self.url else f"PACS {self.name} ({self.url})"

    def problem(self, request: str, message: str) -> Problem:
        """A `Problem` naming this server and the request that failed."""
        return Problem(self.label, message, column=request)

    def auth_headers(self) -> dict[str, str]:
        """HTTP headers carrying the credentials from the environment (may be empty).

        Raises
        ------
        InputError
            When only half of a user/password pair is set, or when credentials would cross
            the network in clear (plain http to a host that is not this machine).
        """
        import base64

        token = os.environ.get(self.token_env or "") if self.token_env else None
        user = os.environ.get(self.user_env or "") if self.user_env else None
        password = os.environ.get(self.password_env or "") if self.password_env else None
        headers: dict[str, str] = {}
        if token:
            headers["Authorization"] = f"Bearer {token}"
        elif user or password:
            if not (user and password):
                missing = self.password_env if user else self.user_env
                raise InputError([self.problem("credentials", f"{missing} is not set")])
            pair = base64.b64encode(f"{user}:{password}".encode()).decode("ascii")
            headers["Authorization"] = f"Basic {pair}"
        if headers and self.url.startswith("http://") and not _is_loopback(self.host):
            raise InputError(
                [
                    self.problem(
                        "credentials",
                        "refusing to send credentials over plain http to another machine; "
                        "use an https:// URL",
                    )
                ]
            )
        return headers


def _is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def _redacted(url: str) -> str:
    """A URL for messages: a password in it is replaced by ***."""
    parts = urlsplit(url)
    if parts.password is None:
        return url
    netloc = parts.netloc.replace(f":{parts.password}@", ":***@", 1)
    return urlunsplit((parts.scheme, netloc, parts.path, parts.query, parts.fragment))


def _valid_aet(text: str, source: str, what: str) -> str:
    stripped = text.strip()
    if not _AET.match(text) or not stripped:
        raise InputError(
            [Problem(source, f"{what} {text!r} is not an AE title (1-16 printable characters)")]
        )
    return stripped


def parse_server_url(url: str, name: str | None = None, **options: Any) -> Server:
    """Parse a server URL.

    Parameters
    ----------
    url
        ``http(s)://host:port/path`` or ``dimse://CALLED_AET@host:port``.
    name
        Saved name; defaults to the URL.
    **options
        Other `Server` fields (``calling_aet``, ``timeout``, ...).

    Returns
    -------
    Server

    Raises
    ------
    InputError
        When the URL is not one of the two forms, or holds a password.
    """
    source = name or "server URL"
    parts = urlsplit(url)
    shown = _redacted(url)
    try:
        port = parts.port
    except ValueError:
        raise InputError([Problem(source, f"bad port in {shown!r}")]) from None
    if parts.scheme in ("http", "https"):
        if parts.username is not None or parts.password is not None:
            raise InputError(
                [
                    Problem(
                        source,
                        "credentials do not belong in the URL (they would be logged): set "
                        f"{TOKEN_ENV}, or {USER_ENV} and {PASSWORD_ENV}",
                    )
                ]
            )
        if not parts.hostname:
            raise InputError([Problem(source, f"no host in {shown!r}")])
        clean = urlunsplit((parts.scheme, parts.netloc, parts.path.rstrip("/"), "", ""))
        defaults: dict[str, Any] = {"token_env": TOKEN_ENV, "user_env": USER_ENV,
                                    "password_env": PASSWORD_ENV}
        defaults.update(options)
        return Server(
            name or clean, "dicomweb", clean, parts.hostname,
            port or (443 if parts.scheme == "https" else 80), **defaults,
        )
    if parts.scheme == "dimse":
        if parts.password is not None:
            raise InputError([Problem(source, "a DIMSE URL has no password")])
        if not parts.username or not parts.hostname or not port:
            raise InputError(
                [Problem(source, f"{shown!r} is not dimse://CALLED_AET@host:port")]
            )
        called = _valid_aet(parts.username, source, "called AE title")
        defaults = {"calling_aet": os.environ.get(CALLING_AET_ENV, DEFAULT_CALLING_AET)}
        defaults.update({k: v for k, v in options.items() if v is not None})
        defaults["calling_aet"] = _valid_aet(defaults["calling_aet"], source, "calling AE title")
        clean = f"dimse://{called}@{parts.hostname}:{port}"
        return Server(name or clean, "dimse", clean, parts.hostname, port, called, **defaults)
    raise InputError(
        [
            Problem(
                source,
                f"{shown!r} is neither http(s)://host:port/dicom-web nor "
                "dimse://CALLED_AET@host:port (nor the name of a saved server)",
            )
        ]
    )


def servers_file() -> Path:
    """The TOML file of saved servers, in the user's config folder (platformdirs)."""
    import platformdirs

    return platformdirs.user_config_path("napari-recist") / SERVERS_FILE


def saved_servers(path: Path | None = None) -> dict[str, Server]:
    """Read the saved servers.

    The file has one table per server::

        [servers.hospital]
        url = "https://pacs.example.org/dicom-web"
        token_env = "HOSPITAL_PACS_TOKEN"      # the token's environment variable

        [servers.archive]
        url = "dimse://ARCHIVE@10.0.0.5:104"
        calling_aet = "RECIST"
        move_port = 11113                      # C-MOVE to our SCP instead of C-GET

    Parameters
    ----------
    path
        The file; defaults to `servers_file`. A missing file means no saved server.

    Returns
    -------
    dict
        Server name -> `Server`.

    Raises
    ------
    InputError
        An unreadable file, an unknown key or a bad URL, naming the server.
    """
    path = path or servers_file()
    if not path.exists():
        return {}
    try:
        document = tomllib.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, tomllib.TOMLDecodeError) as error:
        raise InputError([Problem(str(path), f"cannot read the saved servers: {error}")]) from None
    tables = document.get("servers", {})
    if not isinstance(tables, dict):
        raise InputError([Problem(str(path), "[servers] must be a table")])
    result = {}
    problems: list[Problem | str] = []
    for name, table in tables.items():
        where = f"servers.{name}"
        if not isinstance(table, dict) or not isinstance(table.get("url"), str):
            problems.append(Problem(str(path), "needs url = \"...\"", column=where))
            continue
        unknown = sorted(set(table) - _SAVED_KEYS)
        if unknown:
            message = f"unknown key(s) {', '.join(unknown)}"
            problems.append(Problem(str(path), message, column=where))
            continue
        options = {k: v for k, v in table.items() if k != "url"}
        if "move_peers" in options:
            options["move_peers"] = tuple(options["move_peers"])
        try:
            result[name] = parse_server_url(table["url"], name=name, **options)
        except InputError as error:
            problems.extend(error.problems)
        except TypeError as error:
            problems.append(Problem(str(path), f"bad value: {error}", column=where))
    if problems:
        raise InputError(problems)
    return result


def resolve_server(
    text: str, calling_aet: str | None = None, timeout: float | None = None
) -> Server:
    """A saved server by name, or a server URL.

    Parameters
    ----------
    text
        A saved server's name or a URL.
    calling_aet
        Our AE title for DIMSE (overrides the saved one).
    timeout
        Seconds (overrides the saved one).

    Returns
    -------
    Server
    """
    saved = saved_servers()
    if text in saved:
        server = saved[text]
    elif "://" in text:
        server = parse_server_url(text)
    else:
        known = ", ".join(sorted(saved)) or "none"
        raise InputError(
            [Problem(text, f"no saved server of this name in {servers_file()} (saved: {known})")]
        )
    if calling_aet is not None:
        server = replace(server, calling_aet=_valid_aet(calling_aet, text, "calling AE title"))
    if timeout is not None:
        server = replace(server, timeout=float(timeout))
    return server
