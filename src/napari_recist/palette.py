"""One colour-blind-safe palette for responses and dissociated-response categories.

Colours are the Okabe-Ito set (Okabe & Ito, "Color Universal Design", 2008), distinguishable
under the common colour-vision deficiencies. Every view (viewer, plots, reports) takes its
colours from here so that a response has the same colour everywhere.
"""

from __future__ import annotations

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
    "CR": BLUISH_GREEN,
    "PR": BLUE,
    "SD": YELLOW,
    "PD": VERMILLION,
    "NEW": REDDISH_PURPLE,
    "NON-CR/NON-PD": SKY_BLUE,
    "NE": GREY,
    "NA": LIGHT_GREY,
}

# Order in which legends list the responses.
RESPONSE_ORDER: tuple[str, ...] = ("CR", "PR", "SD", "PD", "NEW", "NON-CR/NON-PD", "NE", "NA")

# Dissociated-response categories (seed 002 in shared/spec/criteria.md).
CATEGORY_COLOURS: dict[str, str] = {
    "CR": BLUISH_GREEN,
    "true PR": BLUE,
    "true SD": YELLOW,
    "true PD": VERMILLION,
    "DR": ORANGE,
    "NON-CR/NON-PD": SKY_BLUE,
    "NE": GREY,
    "NA": LIGHT_GREY,
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
        return RESPONSE_COLOURS["NA"]
    word = response.strip()
    if word in RESPONSE_COLOURS:
        return RESPONSE_COLOURS[word]
    irecist = {
        "iCR": "CR",
        "iPR": "PR",
        "iSD": "SD",
        "iUPD": "PD",
        "iCPD": "PD",
        "NON-iCR/NON-iUPD": "NON-CR/NON-PD",
    }
    return RESPONSE_COLOURS.get(irecist.get(word, "NA"), RESPONSE_COLOURS["NA"])


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
        return CATEGORY_COLOURS["NA"]
    return CATEGORY_COLOURS.get(category.strip(), CATEGORY_COLOURS["NA"])


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
