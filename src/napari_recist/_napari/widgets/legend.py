"""The colour legend of lesion responses, shared by the viewer's widgets."""

from __future__ import annotations

from qtpy.QtWidgets import QLabel, QWidget

from napari_recist.palette import RESPONSE_COLOURS, RESPONSE_ORDER


def legend_html() -> str:
    """Return one line of HTML: a coloured square and the word for every response."""
    items = [
        f'<span style="color:{RESPONSE_COLOURS[word]}">&#9632;</span>&nbsp;{word}'
        for word in RESPONSE_ORDER
    ]
    return "Lesion colours: " + " &nbsp; ".join(items)


class ResponseLegend(QLabel):
    """A label showing the response colours of the lesion lines."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(legend_html(), parent)
        self.setWordWrap(True)
        self.setToolTip("Lines are coloured by the lesion-level response at their scan date")
