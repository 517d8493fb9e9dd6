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


# WCAG 2.1 success criterion 1.4.3 (contrast, minimum): text needs a contrast ratio of at least
# 4.5:1 with its background (level AA, normal-size text).
WCAG_AA_TEXT = 4.5
TEXT_ON_LIGHT = BLACK
TEXT_ON_DARK = "#FFFFFF"


def relative_luminance(colour: str) -> float:
    """Relative luminance of an sRGB colour (WCAG 2.1, definition "relative luminance").

    Parameters
    ----------
    colour
        ``#RRGGBB``.

    Returns
    -------
    float
        0 (black) to 1 (white).
    """

    def linear(channel: float) -> float:
        # WCAG 2.1 (from sRGB, IEC 61966-2-1): 0.04045 threshold as corrected in WCAG 2.2.
        return channel / 12.92 if channel <= 0.04045 else ((channel + 0.055) / 1.055) ** 2.4

    red, green, blue, _ = hex_to_rgba(colour)
    return 0.2126 * linear(red) + 0.7152 * linear(green) + 0.0722 * linear(blue)


def contrast_ratio(first: str, second: str) -> float:
    """WCAG 2.1 contrast ratio ``(L1 + 0.05) / (L2 + 0.05)``, L1 the lighter colour."""
    lighter, darker = sorted((relative_luminance(first), relative_luminance(second)),
                             reverse=True)
    return (lighter + 0.05) / (darker + 0.05)


def text_colour_on(background: str) -> str:
    """Black or white, whichever contrasts more with the background.

    Every Okabe-Ito colour of this palette reaches WCAG AA (4.5:1) with one of them (tested),
    so table cells keep the lines' hue as their background and stay readable.
    """
    on_light = contrast_ratio(TEXT_ON_LIGHT, background)
    on_dark = contrast_ratio(TEXT_ON_DARK, background)
    return TEXT_ON_LIGHT if on_light >= on_dark else TEXT_ON_DARK
