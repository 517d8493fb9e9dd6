"""CSV cells that a spreadsheet will not run: formula injection neutralised on write.

A cell beginning with ``=``, ``+``, ``-``, ``@``, a tab or a carriage return is a formula to
Excel, LibreOffice and Google Sheets (OWASP, "CSV Injection"): a patient id such as
``=cmd|' /C calc'!A0`` would run when a colleague opens the table. Every CSV the project
writes passes its text cells through `neutralise`, which prefixes such a cell with ``'``
(OWASP's recommendation; the spreadsheet shows the text, the quote is not displayed). Numbers
are left alone (``-12.5`` is a number, not a formula). Reading a table back with
`restore` gives the original text.
"""

from __future__ import annotations

import re

# OWASP: cells starting with these characters are interpreted as formulas.
FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")
QUOTE = "'"
_NUMBER = re.compile(r"[+-]?(\d+\.?\d*|\.\d+)([eE][+-]?\d+)?")


def neutralise(cell: str) -> str:
    """Return the cell as a spreadsheet shows it without running it.

    Parameters
    ----------
    cell
        The text of one CSV cell.

    Returns
    -------
    str
        ``'`` + the cell when it would be a formula (or already starts with the quote that
        `restore` removes), else the cell unchanged; plain numbers are never changed.
    """
    if not cell:
        return cell
    if cell.startswith(FORMULA_STARTS) and not _NUMBER.fullmatch(cell):
        return QUOTE + cell
    if cell.startswith(QUOTE) and cell[1:].startswith((*FORMULA_STARTS, QUOTE)):
        return QUOTE + cell  # a text that itself begins with a neutralised formula
    return cell


def restore(cell: str) -> str:
    """Undo `neutralise`: the original text of a cell read back from a table we wrote."""
    if cell.startswith(QUOTE) and cell[1:].startswith((*FORMULA_STARTS, QUOTE)):
        return cell[1:]
    return cell
