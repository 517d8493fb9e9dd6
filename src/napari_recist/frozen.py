"""Model records and engine results that pickle and copy by their constructor.

The engine and the model are compiled with mypyc (setup.py). A compiled frozen dataclass
refuses the attribute-by-attribute rebuild that pickle and `copy.deepcopy` use by default, and
a compiled class whose ``__init__`` is written out (tests/test_native_constructors.py) cannot
be made without its arguments, which that rebuild needs. The frozen types of the model
(lesions, measurements, geometry) and of the engine (thresholds, verdicts, patterns), and the
classes with such an ``__init__`` (assessments, time point verdicts, lesion responses),
rebuild through ``__init__`` instead, which gives the same object in both builds.
"""

from __future__ import annotations

import dataclasses
from typing import Any


class RebuiltByConstructor:
    """Base of a dataclass whose every field is an ``__init__`` argument."""

    __slots__ = ()  # a slotted dataclass below keeps its instances free of a __dict__

    def __reduce__(self) -> tuple[Any, tuple[Any, ...]]:
        """Rebuild from the fields by name (pickle, copy, deepcopy)."""
        fields = dataclasses.fields(self)  # type: ignore[arg-type]
        return (rebuild, (type(self), {field.name: getattr(self, field.name) for field in fields}))


def rebuild(kind: type, fields: dict[str, Any]) -> Any:
    """Build the object of type `kind` from its field values, by keyword.

    A pickle made by another version, with the fields in another order or one field fewer,
    still gives each value to its own field.
    """
    return kind(**fields)
