"""The arrows of shared/design.md point down: no module imports from a layer above its own.

files -> model -> checks -> criteria -> views: `model, errors, vocabulary, checks` <- `criteria`
<- `io` <- `imaging` / `sample` <- `report` <- `cohort` <- `commands` / `cli`; `_napari`
may use every layer below the commands but never `cohort` or `commands`. Imports inside
functions and under TYPE_CHECKING count too.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parents[1] / "src" / "napari_recist"

LAYERS: dict[str, int] = {
    "model": 0, "frozen": 0, "errors": 0, "vocabulary": 0, "checks": 0, "gcpause": 0,
    "palette": 0,
    "criteria": 1,
    "io": 2,
    "imaging": 3, "sample": 3,
    "report": 4,
    "cohort": 5,
    "commands": 6, "cli": 6,
}
NAPARI_NEVER = {"cohort", "commands", "cli"}
PURE = {"model", "frozen", "errors", "vocabulary", "checks", "criteria"}
PURE_MAY_NOT_IMPORT = {"pydicom", "highdicom", "napari", "qtpy", "PyQt5", "PyQt6", "matplotlib",
                       "SimpleITK", "dask", "numpy_groupies"}


def _part(module: Path) -> str:
    relative = module.relative_to(PACKAGE)
    return relative.parts[0].removesuffix(".py")


def _imports(module: Path) -> list[tuple[int, str]]:
    tree = ast.parse(module.read_text(encoding="utf-8"))
    found = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found += [(node.lineno, alias.name) for alias in node.names]
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            found.append((node.lineno, node.module))
            if node.module == "napari_recist":
                found += [(node.lineno, f"napari_recist.{a.name}") for a in node.names]
    return found


MODULES = sorted(p for p in PACKAGE.rglob("*.py") if p.name != "__init__.py" or p.parent != PACKAGE)


def test_every_module_has_a_layer():
    unknown = {_part(m) for m in MODULES} - set(LAYERS) - {"_napari", "__main__"}
    assert not unknown, f"give these a layer in tests/test_layering.py: {sorted(unknown)}"


@pytest.mark.parametrize("module", MODULES, ids=lambda p: str(p.relative_to(PACKAGE)))
def test_imports_point_down(module: Path):
    own = _part(module)
    wrong = []
    for line, name in _imports(module):
        parts = name.split(".")
        if parts[0] == "napari_recist" and len(parts) > 1:
            target = parts[1]
            if own == "_napari":
                if target in NAPARI_NEVER:
                    wrong.append(f"line {line}: _napari imports {name}")
            elif target == "_napari":
                wrong.append(f"line {line}: {own} imports the viewer ({name})")
            elif target in LAYERS and own in LAYERS and LAYERS[target] > LAYERS[own]:
                wrong.append(f"line {line}: {own} (layer {LAYERS[own]}) imports {name} "
                             f"(layer {LAYERS[target]})")
        elif own in PURE and parts[0] in PURE_MAY_NOT_IMPORT:
            wrong.append(f"line {line}: {own} must stay pure but imports {name}")
    assert not wrong, "\n".join(wrong)
