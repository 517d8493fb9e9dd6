"""Errors the project reports to users: each names the file, row or tag and what is wrong."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass


@dataclass(frozen=True)
class Problem:
    """One thing wrong with an input, located as precisely as the input allows.

    Parameters
    ----------
    source
        The file (or other input) the problem is in.
    message
        What is wrong, in words a user can act on.
    row
        1-based row (line) number in a table, if any.
    column
        Column, DICOM tag or content item, if any.
    """

    source: str
    message: str
    row: int | None = None
    column: str | None = None

    def __str__(self) -> str:
        where = self.source
        if self.row is not None:
            where += f", row {self.row}"
        if self.column:
            where += f", {self.column}"
        return f"{where}: {self.message}"


class InputError(Exception):
    """Bad input: carries every problem found, so all of them are reported at once."""

    def __init__(self, problems: Iterable[Problem | str]) -> None:
        self.problems: list[Problem | str] = list(problems)
        super().__init__("\n".join(str(p) for p in self.problems))

    def __reduce__(self) -> tuple[type[InputError], tuple[list[Problem | str]]]:
        # Re-made from its problems when it crosses a process boundary (pickle would pass
        # the joined message as the problems).
        return (type(self), (self.problems,))
