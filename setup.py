"""Build hook: compile the classification engine and the SR parser with mypyc.

Everything else about the package is in pyproject.toml. Two groups of plain typed Python are
compiled into C extensions that run the same code faster (issue 12, a trial archive):

- the engine, ``napari_recist.criteria`` (about 0.65x the CPU time of the classify command's
  engine: benchmarks/bench_classify.py), with the model, the vocabulary and the frozen-type
  base it reads on every lesion (``ENGINE_TYPES``);
- the SR parser, ``napari_recist.io.sr_raw`` (the walk over an SR file's bytes that the cohort
  batch spends most of its time in: benchmarks/bench_cohort.py). It is built against no
  installed package (``--no-site-packages``): pydicom's values are plain objects to it, so
  the compiled parser checks nothing of pydicom's types at run time, whatever the build
  environment holds.

Nothing else is compiled: the rest of the readers, the viewer and the statistics stay
interpreted.

The pure-Python package is always a valid build:

- ``NAPARI_RECIST_PURE=1`` in the environment skips the compilation (a ``py3-none-any``
  wheel, the same behaviour, slower classification);
- when mypyc or a C compiler is missing, or the compilation fails, the build says so on
  stderr and goes on without the extensions (such a wheel keeps its platform tag, decided
  before compiling, and holds the interpreted engine).

mypy (mypyc) is a build requirement (pyproject.toml), so a build needs it from the package
index even for the pure package; ``pip install --no-build-isolation`` in an environment
without mypy builds the pure package offline.

The test suite checks the compiled engine against the same sources run interpreted
(tests/criteria/test_compiled_engine.py).
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

from setuptools import setup
from setuptools.command.build_ext import build_ext

ENGINE = Path("src", "napari_recist", "criteria")
# The model's records and the vocabulary's enums, which the engine reads on every lesion: as
# native classes their fields are read without a dictionary lookup (the classify command in
# 0.91x the wall time of the engine-only build: benchmarks/bench_classify.py --compare).
ENGINE_TYPES = [
    Path("src", "napari_recist", name) for name in ("model.py", "vocabulary.py", "frozen.py")
]
SR_PARSER = Path("src", "napari_recist", "io", "sr_raw.py")


class OptionalBuildExt(build_ext):
    """``build_ext`` that falls back to the pure-Python package when compiling fails."""

    def run(self) -> None:
        """Compile the extensions, or leave them out with a message."""
        try:
            super().run()
        except Exception as error:  # noqa: BLE001 - any compiler failure means: pure build
            _fallback(f"compiling failed ({error})")
            self.extensions = []


def _fallback(why: str) -> None:
    print(
        f"napari-recist: {why}; building the pure-Python package (same results, slower "
        "classification). Set NAPARI_RECIST_PURE=1 to skip compiling.",
        file=sys.stderr,
    )


def engine_extensions() -> list[object]:
    """The mypyc extensions of the engine and the SR parser, or none for a pure build."""
    if os.environ.get("NAPARI_RECIST_PURE", "").strip() not in ("", "0"):
        return []
    try:
        from mypyc.build import mypycify
    except ImportError:
        _fallback("mypyc is not installed")
        return []
    engine = sorted(str(path) for path in [*ENGINE.glob("*.py"), *ENGINE_TYPES])
    # One call, two groups: a second mypycify call in the same process does not apply its own
    # options (measured with mypy 2.4.1: the parser's build then failed on pydicom's imports in
    # an isolated build and fell back to pure Python). The engine imports only the standard
    # library and the package, so the two options change nothing for it.
    options = ["--no-site-packages", "--ignore-missing-imports"]
    try:
        return mypycify(
            [*options, *engine, str(SR_PARSER)], opt_level="3",
            separate=[(engine, "napari_recist_engine"), ([str(SR_PARSER)], "napari_recist_sr")],
        )
    except (Exception, SystemExit) as error:  # noqa: BLE001 - mypyc exits on a type error
        _fallback(f"mypyc could not compile the engine or the SR parser ({error!r})")
        return []


setup(ext_modules=engine_extensions(), cmdclass={"build_ext": OptionalBuildExt})
