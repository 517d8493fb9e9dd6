"""The response words: one documented ``str`` enum per vocabulary, each member with its source.

Every module that writes or reads a verdict takes its words from here (criteria, palette,
tables, the viewer, the report), so a word is spelled once. The members are ``str``: they
compare equal to their text (``Response.PR == "PR"``), serialise to JSON as that text and
key dictionaries interchangeably with it.
"""

from __future__ import annotations

from enum import Enum
from typing import Final


class TextEnum(str, Enum):
    """A ``str`` enum that reads as its value: ``str()`` and f-strings give the text itself.

    Both read ``_value_`` directly: Enum's own ``value`` property and ``__format__`` run
    interpreted (about 0.1 and 0.3 us a call), and the engine writes these words into most
    of its reasons (issue 12). A format spec applies to the text, as Enum's ``__format__``
    applies it to a ``str`` member's value.
    """

    def __str__(self) -> str:
        text: str = self._value_
        return text

    def __format__(self, format_spec: str) -> str:
        text: str = self._value_
        return format(text, format_spec) if format_spec else text


class _Word(TextEnum):
    """A response word: its value is the text of shared/spec/lesion-table.md."""


class Response(_Word):
    """RECIST 1.1 responses (Eisenhauer et al. 2009, Tables 1-3) and the lesion level."""

    CR = "CR"  # RECIST 1.1 section 4.3.1 / Table 1: disappearance of all target lesions
    PR = "PR"  # RECIST 1.1 section 4.3.1: at least a 30 % decrease of the sum of diameters
    SD = "SD"  # RECIST 1.1 section 4.3.1: neither PR nor PD
    PD = "PD"  # RECIST 1.1 section 4.3.1: +20 % and +5 mm from the nadir, or new lesions
    NON_CR_NON_PD = "NON-CR/NON-PD"  # RECIST 1.1 Table 2: non-target disease only
    NE = "NE"  # RECIST 1.1 Tables 1-3: not evaluable
    NA = "NA"  # shared/spec/lesion-table.md: does not apply (baseline, pre-baseline)
    NEW = "NEW"  # shared/spec/criteria.md section 3: a new lesion's lesion-level response


class IResponse(_Word):
    """iRECIST time-point responses (Seymour et al., Lancet Oncol 2017, Tables 2-3)."""

    ICR = "iCR"
    IPR = "iPR"
    ISD = "iSD"
    IUPD = "iUPD"  # unconfirmed progression
    ICPD = "iCPD"  # confirmed progression
    NON_ICR_NON_IUPD = "NON-iCR/NON-iUPD"
    NE = "NE"
    NA = "NA"


class ImResponse(_Word):
    """imRECIST responses (Hodi et al., J Clin Oncol 2018; shared/spec/criteria.md section 7).

    The RECIST words: target lesions "Per RECIST v1.1", the sum including new measurable
    lesions (Jia et al. 2019, Table 2).
    """

    CR = "CR"
    PR = "PR"
    SD = "SD"
    PD = "PD"  # >= 20 % and >= 5 mm from the nadir of the sum with new measurable lesions
    NE = "NE"
    NA = "NA"  # no target lesions


class IrResponse(_Word):
    """irRC responses (Wolchok et al., Clin Cancer Res 2009, Table 2; criteria.md section 8)."""

    IRCR = "irCR"  # disappearance of all lesions
    IRPR = "irPR"  # >= 50 % decrease of the tumour burden from baseline
    IRSD = "irSD"  # neither irPR nor irPD
    IRPD = "irPD"  # >= 25 % increase of the tumour burden from the nadir
    NE = "NE"
    NA = "NA"  # no index lesions, or one without a bidimensional product at baseline


class Category(_Word):
    """Dissociated-response categories per assessment (seed 002, shared/spec/criteria.md)."""

    CR = "CR"
    TRUE_PR = "true PR"
    TRUE_SD = "true SD"
    TRUE_PD = "true PD"
    DR = "DR"
    NON_CR_NON_PD = "NON-CR/NON-PD"
    NE = "NE"
    NA = "NA"


class VuagnatType(_Word):
    """Vuagnat et al.'s dissociated-response types (seed 001, shared/spec/criteria.md)."""

    DR1 = "DR1"
    DR2 = "DR2"
    DR3 = "DR3"
    NONE = "none"
    NA = "NA"


# Response words for RECIST verdicts in the order legends and tables list them.
RESPONSE_ORDER: Final[tuple[Response, ...]] = (
    Response.CR, Response.PR, Response.SD, Response.PD, Response.NEW, Response.NON_CR_NON_PD,
    Response.NE, Response.NA,
)
