"""Module-level names of the compiled modules are ``Final`` (issue 12).

mypyc reads a module-level name that is not ``Final`` from the module's dictionary on every
use: ``PD`` in ``tp.overall == PD``, ``EPSILON`` in `numbers.at_least`, the text cache of
`numbers.fmt_mm`, each a dictionary lookup with a type check. A ``Final`` name is kept in a C
static (a literal is folded into the code). Marking them all ``Final`` took the engine from
264-316 to 236-261 us a patient (interleaved runs, same cohort, same JSON byte for byte).
This test reads the sources so that a constant added without ``Final`` fails in both builds;
type aliases are left as they are (``Final`` would stop them being aliases).
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parents[1] / "src" / "napari_recist"
# The modules setup.py compiles (the engine, the types it reads, the SR parser).
COMPILED = [
    *(f"criteria/{path.name}" for path in sorted((PACKAGE / "criteria").glob("*.py"))),
    "model.py", "vocabulary.py", "frozen.py", "gcpause.py", "io/sr_raw.py",
]
TYPE_ALIASES = {
    ("criteria/timeline.py", "Unit"), ("criteria/dissociated.py", "_MeasuredUnit"),
    ("model.py", "Point3D"),
}


def _module_names(source: str) -> list[tuple[str, int, bool]]:
    """(name, line, annotated Final) of each module-level assignment of a module's source."""
    tree = ast.parse(source)
    names = []
    for node in tree.body:
        if isinstance(node, ast.Assign):  # `A = ...`, `A = B = ...`, `A, B = ...`: not Final
            for target in node.targets:
                elements = target.elts if isinstance(target, ast.Tuple) else [target]
                names += [(element.id, node.lineno, False) for element in elements
                          if isinstance(element, ast.Name)]
        elif isinstance(node, ast.AnnAssign) and isinstance(node.target, ast.Name):
            final = ast.unparse(node.annotation).startswith("Final")
            names.append((node.target.id, node.lineno, final))
    return [entry for entry in names if not entry[0].startswith("__")]


@pytest.mark.parametrize("path", COMPILED)
def test_module_constants_are_final(path: str) -> None:
    source = (PACKAGE / path).read_text(encoding="utf-8")
    plain = [f"{path}:{line} {name}" for name, line, final in _module_names(source)
             if not final and (path, name) not in TYPE_ALIASES]
    assert not plain, f"annotate these Final (or list a type alias here): {plain}"


def test_the_check_tells_final_from_plain() -> None:
    source = "PD = Response.PD\nNA: Final = Response.NA\nRANK: dict[str, int] = {}\n"
    source += "LIMIT: Final[int] = 3\n__all__ = []\nCR, PR = Response.CR, Response.PR\n"
    assert _module_names(source) == [
        ("PD", 1, False), ("NA", 2, True), ("RANK", 3, False), ("LIMIT", 4, True),
        ("CR", 6, False), ("PR", 6, False),
    ]
