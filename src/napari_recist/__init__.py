"""napari-recist: longitudinal tumour response on CT (RECIST 1.1, iRECIST, dissociated response)."""

from importlib.machinery import EXTENSION_SUFFIXES as _EXTENSION_SUFFIXES
from pathlib import Path as _Path

__version__ = "0.1.0"

# Modules outside the engine whose types the compiled engine was built against (setup.py).
ENGINE_DEPENDENCIES = ("model.py", "vocabulary.py", "gcpause.py")


def engine_is_compiled() -> bool:
    """True when the classification engine runs compiled by mypyc (setup.py), not interpreted."""
    from napari_recist.criteria import recist

    return not recist.__file__.endswith(".py")


def _refuse_a_stale_compiled_engine(package: _Path | None = None) -> None:
    """In a source checkout, refuse a compiled engine older than the sources it was built from.

    The editable install compiles ``criteria/*.py`` with mypyc (setup.py) into extension
    modules beside them, and Python imports an extension before the source of the same name:
    after an edit (or a ``git pull``, or a checkout that rewrote a file) the old compiled rules
    would run while the sources say otherwise. The sources are the criteria modules and the
    modules whose types they were compiled against (`ENGINE_DEPENDENCIES`). Only this
    interpreter's extension modules count; installed packages are not checked (their files'
    times are the installer's).

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
    engine = package / "criteria"
    binaries = [  # what this interpreter imports: the module's name + one of its suffixes
        path for path in engine.iterdir()
        if any(path.name == path.name.split(".", 1)[0] + suffix for suffix in _EXTENSION_SUFFIXES)
    ]
    if not binaries:
        return
    sources = [*engine.glob("*.py"), *(package / name for name in ENGINE_DEPENDENCIES)]
    newest = max(sources, key=lambda path: path.stat().st_mtime)
    newest_mtime = newest.stat().st_mtime
    for binary in binaries:
        source = engine / (binary.name.split(".", 1)[0] + ".py")
        if not source.is_file() or binary.stat().st_mtime < newest_mtime:
            raise ImportError(
                f"napari-recist: the compiled engine module {binary} is older than "
                f"{newest.name} (or has no source): rebuild it with `make` or "
                "`pip install -e .`, or delete the compiled files to run the sources"
            )


_refuse_a_stale_compiled_engine()
