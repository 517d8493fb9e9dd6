"""Frozen result types that pickle and copy by their constructor.

The engine is compiled with mypyc (setup.py). A compiled frozen dataclass refuses the
attribute-by-attribute rebuild that pickle and `copy.deepcopy` use by default, so the
frozen types of the engine (thresholds, verdicts, patterns) rebuild through ``__init__``
instead, which gives the same object in both builds.
"""

from __future__ import annotations

import dataclasses
from typing import Any


class RebuiltByConstructor:
    """Base of a frozen dataclass whose every field is an ``__init__`` argument."""

    def __reduce__(self) -> tuple[Any, tuple[Any, ...]]:
        """Rebuild from the fields, in their order (pickle, copy, deepcopy)."""
        fields = dataclasses.fields(self)  # type: ignore[arg-type]
        return (type(self), tuple(getattr(self, field.name) for field in fields))
