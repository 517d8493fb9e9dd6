"""Self-contained HTML: escaped text, tables, base64-embedded PNG images, one inline style.

The pages open from a file with no network: no script, no external style sheet, font or image.
"""

from __future__ import annotations

import base64
import html
from collections.abc import Iterable, Sequence

from napari_recist import palette

STYLE = """
body { font-family: "DejaVu Sans", Arial, sans-serif; margin: 1.5em; color: #222; }
h1 { font-size: 1.5em; } h2 { font-size: 1.2em; margin-top: 1.6em; }
h3 { font-size: 1.05em; }
table { border-collapse: collapse; margin: 0.6em 0; font-size: 0.9em; }
th, td { border: 1px solid #bbb; padding: 3px 7px; text-align: left; vertical-align: top; }
th { background: #eee; }
td.num { text-align: right; font-variant-numeric: tabular-nums; }
.badge { display: inline-block; padding: 1px 6px; border-radius: 3px; border: 1px solid #555;
         font-weight: bold; }
.note { color: #555; font-size: 0.9em; }
.warn { color: #8c3b00; }
figure { display: inline-block; margin: 0.3em; text-align: center; }
figcaption { font-size: 0.8em; color: #444; }
img.plot { max-width: 100%; }
"""


def escape(text: object) -> str:
    """HTML-escape any value's text (None as an empty string)."""
    return "" if text is None else html.escape(str(text))


def _text_colour(background: str) -> str:
    red, green, blue, _ = palette.hex_to_rgba(background)
    return "#000000" if 0.299 * red + 0.587 * green + 0.114 * blue > 0.5 else "#FFFFFF"


def badge(label: str, colour: str) -> str:
    """A label on its palette colour, readable (black or white text by luminance)."""
    return (
        f'<span class="badge" style="background:{colour};color:{_text_colour(colour)}">'
        f"{escape(label)}</span>"
    )


def table(
    headers: Sequence[str], rows: Iterable[Sequence[str]], numeric: Sequence[int] = ()
) -> str:
    """An HTML table; cells are trusted HTML (escape text before), headers are escaped.

    Parameters
    ----------
    headers
        Column titles.
    rows
        Cells as HTML.
    numeric
        Column indexes aligned right.
    """
    head = "".join(f"<th>{escape(h)}</th>" for h in headers)
    body = "".join(
        "<tr>"
        + "".join(
            f'<td class="num">{cell}</td>' if i in numeric else f"<td>{cell}</td>"
            for i, cell in enumerate(row)
        )
        + "</tr>"
        for row in rows
    )
    return f"<table><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>"


def png_image(data: bytes, alt: str, css_class: str = "plot", width: int | None = None) -> str:
    """An ``<img>`` with the PNG embedded as a data URI."""
    encoded = base64.b64encode(data).decode("ascii")
    size = f' width="{width}"' if width else ""
    return (
        f'<img class="{css_class}" alt="{escape(alt)}"{size} src="data:image/png;base64,{encoded}">'
    )


def figure(data: bytes, caption: str, width: int | None = None) -> str:
    """An embedded PNG with a caption."""
    return (
        f"<figure>{png_image(data, caption, width=width)}"
        f"<figcaption>{escape(caption)}</figcaption></figure>"
    )


def page(title: str, body: str) -> str:
    """A complete HTML document with the inline style."""
    return (
        '<!DOCTYPE html>\n<html lang="en"><head><meta charset="utf-8">'
        f"<title>{escape(title)}</title><style>{STYLE}</style></head>"
        f"<body><h1>{escape(title)}</h1>{body}</body></html>\n"
    )
