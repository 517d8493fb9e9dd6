"""One colour-blind-safe palette for responses and dissociated-response categories.

Colours are the Okabe-Ito set (Okabe & Ito, "Color Universal Design", 2008), distinguishable
under the common colour-vision deficiencies. Every view (viewer, plots, reports) takes its
colours from here so that a response has the same colour everywhere.
"""

from __future__ import annotations

from napari_recist import vocabulary
from napari_recist.vocabulary import Category, IResponse, Response

# Okabe-Ito colours, by name.
BLACK = "#000000"
ORANGE = "#E69F00"
SKY_BLUE = "#56B4E9"
BLUISH_GREEN = "#009E73"
YELLOW = "#F0E442"
BLUE = "#0072B2"
VERMILLION = "#D55E00"
REDDISH_PURPLE = "#CC79A7"
GREY = "#999999"
LIGHT_GREY = "#CCCCCC"

# Response words of shared/spec/lesion-table.md (RECIST 1.1, lesion level, plus NEW).
RESPONSE_COLOURS: dict[str, str] = {
    Response.CR: BLUISH_GREEN,
    Response.PR: BLUE,
    Response.SD: YELLOW,
    Response.PD: VERMILLION,
    Response.NEW: REDDISH_PURPLE,
    Response.NON_CR_NON_PD: SKY_BLUE,
    Response.NE: GREY,
    Response.NA: LIGHT_GREY,
}

# Order in which legends list the responses.
RESPONSE_ORDER: tuple[str, ...] = vocabulary.RESPONSE_ORDER

# Dissociated-response categories (seed 002 in shared/spec/criteria.md).
CATEGORY_COLOURS: dict[str, str] = {
    Category.CR: BLUISH_GREEN,
    Category.TRUE_PR: BLUE,
    Category.TRUE_SD: YELLOW,
    Category.TRUE_PD: VERMILLION,
    Category.DR: ORANGE,
    Category.NON_CR_NON_PD: SKY_BLUE,
    Category.NE: GREY,
    Category.NA: LIGHT_GREY,
}


# iRECIST words take the colour of their RECIST counterpart.
_IRECIST_AS_RECIST: dict[str, Response] = {
    IResponse.ICR: Response.CR,
    IResponse.IPR: Response.PR,
    IResponse.ISD: Response.SD,
    IResponse.IUPD: Response.PD,
    IResponse.ICPD: Response.PD,
    IResponse.NON_ICR_NON_IUPD: Response.NON_CR_NON_PD,
}


def response_colour(response: str | None) -> str:
    """Return the colour of a response word as ``#RRGGBB``.

    iRECIST words (``iCR``, ``iUPD``, ``iCPD``, ...) take the colour of their RECIST
    counterpart: unconfirmed and confirmed progression both show as progression.

    Parameters
    ----------
    response
        ``CR``, ``PR``, ``SD``, ``PD``, ``NEW``, ``NON-CR/NON-PD``, ``NE``, ``NA``, an iRECIST
        word, or None (not yet classified).

    Returns
    -------
    str
        Hex colour; the ``NA`` colour for None or an unknown word.
    """
    if response is None:
        return RESPONSE_COLOURS[Response.NA]
    word = response.strip()
    if word in RESPONSE_COLOURS:
        return RESPONSE_COLOURS[word]
    return RESPONSE_COLOURS.get(_IRECIST_AS_RECIST.get(word, Response.NA),
                                RESPONSE_COLOURS[Response.NA])


def category_colour(category: str | None) -> str:
    """Return the colour of a dissociated-response category as ``#RRGGBB``.

    Parameters
    ----------
    category
        One of the seed 002 categories (``CR``, ``DR``, ``true PR``, ...), or None.

    Returns
    -------
    str
        Hex colour; the ``NA`` colour for None or an unknown category.
    """
    if category is None:
        return CATEGORY_COLOURS[Category.NA]
    return CATEGORY_COLOURS.get(category.strip(), CATEGORY_COLOURS[Category.NA])


def hex_to_rgba(colour: str, alpha: float = 1.0) -> tuple[float, float, float, float]:
    """Convert ``#RRGGBB`` to an RGBA tuple of floats in [0, 1].

    Parameters
    ----------
    colour
        Hex colour with a leading ``#``.
    alpha
        Opacity.

    Returns
    -------
    tuple of float
        Red, green, blue, alpha.
    """
    value = colour.lstrip("#")
    red, green, blue = (int(value[i : i + 2], 16) / 255.0 for i in (0, 2, 4))
    return (red, green, blue, alpha)
