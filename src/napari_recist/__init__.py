"""napari-recist: longitudinal tumour response on CT (RECIST 1.1, iRECIST, dissociated response)."""

from importlib.machinery import EXTENSION_SUFFIXES as _EXTENSION_SUFFIXES
from pathlib import Path as _Path

__version__ = "0.1.0"

# Modules outside the engine whose types the compiled engine was built against (setup.py).
ENGINE_DEPENDENCIES = ("model.py", "vocabulary.py", "frozen.py", "gcpause.py")


def engine_is_compiled() -> bool:
    """True when the classification engine runs compiled by mypyc (setup.py), not interpreted."""
    from napari_recist.criteria import recist

    return not recist.__file__.endswith(".py")


def sr_parser_is_compiled() -> bool:
    """True when the SR parser (`napari_recist.io.sr_raw`) runs compiled by mypyc (setup.py)."""
    from napari_recist.io import sr_raw

    return not sr_raw.__file__.endswith(".py")


def _extension_modules(folder: _Path, names: frozenset[str] | None = None) -> list[_Path]:
    """The extension modules of `folder` this interpreter would import (of `names` only)."""
    return [
        path for path in folder.iterdir()
        if any(path.name == path.name.split(".", 1)[0] + suffix for suffix in _EXTENSION_SUFFIXES)
        and (names is None or path.name.split(".", 1)[0] in names)
    ]


def _refuse_a_stale_compiled_engine(package: _Path | None = None) -> None:
    """In a source checkout, refuse a compiled module older than the sources it was built from.

    The editable install compiles ``criteria/*.py`` (with ``model.py``, ``vocabulary.py`` and
    ``frozen.py``) and ``io/sr_raw.py`` with mypyc (setup.py) into extension modules beside
    them, and Python imports an extension before the source of
    the same name: after an edit (or a ``git pull``, or a checkout that rewrote a file) the old
    compiled code would run while the sources say otherwise. The engine's sources are the
    criteria modules and the modules whose types they were compiled against
    (`ENGINE_DEPENDENCIES`); the SR parser's, its own file. Only this interpreter's extension
    modules count; installed packages are not checked (their files' times are the installer's).

    Parameters
    ----------
    package
        The package folder (this one when None).

    Raises
    ------
    ImportError
        Naming the stale module, the newer source and how to rebuild.
    """
    package = package or _Path(__file__).resolve().parent
    if not (package.parent.parent / "setup.py").is_file():
        return
    engine, io = package / "criteria", package / "io"
    groups = (
        (_extension_modules(engine)
         + _extension_modules(package, frozenset(
             name.removesuffix(".py") for name in ENGINE_DEPENDENCIES
         )),
         [*engine.glob("*.py"), *(package / name for name in ENGINE_DEPENDENCIES)]),
        (_extension_modules(io, frozenset({"sr_raw"})) if io.is_dir() else [],
         [io / "sr_raw.py"]),
    )
    for binaries, sources in groups:
        if not binaries:
            continue
        present = [path for path in sources if path.is_file()]
        newest = max(present, key=lambda path: path.stat().st_mtime, default=None)
        newest_mtime = newest.stat().st_mtime if newest is not None else 0.0
        for binary in binaries:
            source = binary.parent / (binary.name.split(".", 1)[0] + ".py")
            if not source.is_file() or binary.stat().st_mtime < newest_mtime:
                raise ImportError(
                    f"napari-recist: the compiled module {binary} is older than "
                    f"{newest.name if newest else 'its source'} (or has no source): rebuild "
                    "it with `make` or `pip install -e .`, or delete the compiled files to "
                    "run the sources"
                )


_refuse_a_stale_compiled_engine()
