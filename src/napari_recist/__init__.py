"""napari-recist: longitudinal tumour response on CT (RECIST 1.1, iRECIST, dissociated response)."""

from pathlib import Path as _Path

__version__ = "0.1.0"

_EXTENSION_SUFFIXES = (".so", ".pyd")


def _refuse_a_stale_compiled_engine() -> None:
    """In a source checkout, refuse compiled engine modules older than their sources.

    The editable install compiles ``criteria/*.py`` with mypyc (setup.py) into extension
    modules beside them, and Python imports an extension before the source of the same name:
    after an edit (or a ``git pull``) the old compiled rules would run while the sources say
    otherwise. Installed packages are not checked (their files' times are the installer's).

    Raises
    ------
    ImportError
        Naming the stale module and how to rebuild.
    """
    package = _Path(__file__).resolve().parent
    if not (package.parent.parent / "setup.py").is_file():
        return
    engine = package / "criteria"
    for binary in engine.iterdir():
        if not binary.name.endswith(_EXTENSION_SUFFIXES):
            continue
        source = engine / (binary.name.split(".", 1)[0] + ".py")
        if not source.is_file() or source.stat().st_mtime > binary.stat().st_mtime:
            raise ImportError(
                f"napari-recist: the compiled engine module {binary} is older than "
                f"{source.name} (or has no source): rebuild it with `make` or "
                "`pip install -e .`, or delete the compiled files to run the sources"
            )


_refuse_a_stale_compiled_engine()
