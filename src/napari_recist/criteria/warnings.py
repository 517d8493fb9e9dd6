"""Classification warnings with stable codes (shared/spec/criteria.md section 9, amended 2026-12).

Warnings never change a verdict. Each carries a code (JSON `warning_codes`) and a sentence
naming the lesion and assessment (JSON `warnings`); they are ordered by assessment date
(baseline selection and timing at the baseline), then code, then the lesion id or organ.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Final

from napari_recist.frozen import RebuiltByConstructor
from napari_recist.model import natural_key

# The codes of criteria.md section 9.
WARNING_CODES: Final[tuple[str, ...]] = (
    "too-many-targets",
    "too-many-targets-in-organ",
    "target-not-measurable",
    "target-without-size",
    "baseline-too-early",
    "baseline-after-treatment-start",
    "new-node-recheck",
)


@dataclass(frozen=True)
class CriteriaWarning(RebuiltByConstructor):
    """One warning: its code, the assessment index it belongs to, what it names, the sentence."""

    code: str
    index: int
    subject: str
    message: str

    # Written out for mypyc to compile (tests/test_native_constructors.py says why).
    def __init__(
        self,
        code: str,
        index: int,
        subject: str,
        message: str,
    ) -> None:
        object.__setattr__(self, "code", code)
        object.__setattr__(self, "index", index)
        object.__setattr__(self, "subject", subject)
        object.__setattr__(self, "message", message)


def ordered(warnings: Iterable[CriteriaWarning]) -> list[CriteriaWarning]:
    """Order warnings as criteria.md section 9 says: assessment, code, lesion id or organ.

    Assessment indices increase with the date, so the index orders by date.
    """
    return sorted(warnings, key=lambda w: (w.index, w.code, natural_key(w.subject)))


def codes(warnings: Iterable[CriteriaWarning]) -> list[str]:
    """The sorted distinct codes (JSON `warning_codes`)."""
    return sorted({w.code for w in warnings})
