"""Response panel: the patient's classification as the criteria module gives it, with reasons.

It shows values and reason strings of the classification JSON (shared/spec/lesion-table.md);
it never computes a verdict. It refreshes on every edit of the session.
"""

from __future__ import annotations

import html
from typing import TYPE_CHECKING, Any

from qtpy.QtCore import Qt
from qtpy.QtGui import QTextOption
from qtpy.QtWidgets import QLabel, QTextBrowser, QVBoxLayout

from napari_recist._napari.widgets.base import SessionDock
from napari_recist._napari.widgets.legend import ResponseLegend
from napari_recist.palette import category_colour, response_colour
from napari_recist.vocabulary import Response

if TYPE_CHECKING:
    import napari

TABLE_HEADERS = ("Scan", "SOD mm", "vs baseline", "vs nadir", "RECIST", "iRECIST",
                 "imRECIST (sum mm)", "irRC (burden mm²)", "Dissociated", "Category", "Reason")


def _header(name: str) -> str:
    """A header cell that never wraps: a narrow dock scrolls instead of cutting "RECI ST"."""
    return f'<th style="white-space: nowrap">{html.escape(name)}</th>'


def _number(value: Any, unit: str = "", signed: bool = False) -> str:
    if value is None:
        return "-"
    text = f"{value:+.1f}" if signed else f"{value:.1f}"
    return f"{text}{unit}"


def _chip(word: Any, colour: str) -> str:
    text = html.escape(str(word))
    return f'<b><span style="color:{colour}">&#9632;</span> {text}</b>'


def _dissociated(value: Any) -> str:
    if not isinstance(value, dict):
        return "-"
    parts = []
    for key, verdict in value.items():
        if isinstance(verdict, bool):
            verdict = "yes" if verdict else "no"
        parts.append(f"{html.escape(str(key))}: {html.escape(str(verdict))}")
    return "<br>".join(parts) or "-"


def _reasons(entry: dict[str, Any]) -> str:
    reasons = entry.get("reasons")
    lines = [html.escape(str(entry.get("reason", "")))]
    if isinstance(reasons, dict):
        for key, text in reasons.items():
            if isinstance(text, dict):  # e.g. one reason per lesion
                text = "; ".join(f"{name}: {value}" for name, value in text.items())
            if text:
                lines.append(f"<i>{html.escape(str(key))}</i>: {html.escape(str(text))}")
    return "<br>".join(line for line in lines if line)


def _pattern(patient: dict[str, Any]) -> str:
    pattern = patient.get("progression_pattern")
    if not isinstance(pattern, dict) or not pattern.get("type"):
        return Response.NA
    organs = ", ".join(str(organ) for organ in pattern.get("organs") or [])
    text = str(pattern["type"])
    if organs:
        text += f" ({organs})"
    if pattern.get("site_group"):
        text += f", {pattern['site_group']}"
    return text


def _hyper(patient: dict[str, Any]) -> str:
    hyper = patient.get("hyperprogression")
    if isinstance(hyper, dict):
        return ", ".join(f"{key}: {'yes' if flag else 'no'}" for key, flag in hyper.items())
    return str(hyper)


def _pfs(patient: dict[str, Any]) -> str:
    days = patient.get("pfs_days")
    if days is None:
        return "-"
    origin = patient.get("treatment_start")
    kind = "event" if patient.get("pfs_event") else "censored"
    since = f"treatment start {origin}" if origin else "baseline"
    return html.escape(f"{days} days from {since} ({kind})")


def patient_html(patient: dict[str, Any]) -> str:
    """Render one patient of the classification JSON as HTML.

    Parameters
    ----------
    patient
        One element of ``patients`` in the JSON contract.

    Returns
    -------
    str
        A summary (BOR, pattern, resistance...) and one table row per time point.
    """
    bor = patient.get("best_overall_response")
    rows = [
        f"<h3>Patient {html.escape(str(patient.get('patient_id', '')))}</h3>",
        "<p>",
        f"Best overall response: {_chip(bor, response_colour(bor))}",
        f" &nbsp; confirmed: {html.escape(str(patient.get('confirmed_best_overall_response')))}",
        f" &nbsp; iRECIST: {html.escape(str(patient.get('irecist_best_overall_response')))}<br>",
        # criteria.md sections 7 and 8 (new 2026-12), with their progression dates.
        f"imRECIST: {html.escape(str(patient.get('imrecist_best_overall_response')))}"
        f" (PD {html.escape(str(patient.get('imrecist_progression_date') or 'none'))})",
        f" &nbsp; irRC: {html.escape(str(patient.get('irrc_best_overall_response')))}"
        f" (irPD {html.escape(str(patient.get('irrc_progression_date') or 'none'))})<br>",
        f"PFS: {_pfs(patient)}<br>",
        f"Dissociated response: {_dissociated(patient.get('dissociated_response'))}<br>",
        f"Progression pattern: {html.escape(_pattern(patient))}<br>",
        f"Resistance: {html.escape(str(patient.get('resistance')))}",
        f" &nbsp; pseudoprogression: {'yes' if patient.get('pseudoprogression') else 'no'}",
        f" &nbsp; hyperprogression: {html.escape(_hyper(patient))}<br>",
        f"Depth of response: {_number(patient.get('depth_of_response_pct'), ' %', True)}",
        f" &nbsp; time to nadir: {patient.get('time_to_nadir_days') or '-'} days",
        "</p>",
        '<table border="1" cellspacing="0" cellpadding="3">',
        "<tr>" + "".join(_header(name) for name in TABLE_HEADERS) + "</tr>",
    ]
    for entry in patient.get("timepoints", []):
        overall = entry.get("overall")
        category = entry.get("category")
        rows.append(
            "<tr>"
            f"<td>{html.escape(str(entry.get('date')))} (TP{entry.get('timepoint')})</td>"
            f"<td>{_number(entry.get('sum_mm'))}</td>"
            f"<td>{_number(entry.get('change_from_baseline_pct'), ' %', True)}</td>"
            f"<td>{_number(entry.get('change_from_nadir_pct'), ' %', True)}</td>"
            f"<td>{_chip(overall, response_colour(overall))}</td>"
            f"<td>{html.escape(str(entry.get('irecist')))}</td>"
            f"<td>{html.escape(str(entry.get('imrecist')))} "
            f"({_number(entry.get('imrecist_sum_mm'))})</td>"
            f"<td>{html.escape(str(entry.get('irrc')))} "
            f"({_number(entry.get('irrc_tumor_burden_mm2'))})</td>"
            f"<td>{_dissociated(entry.get('dissociated'))}</td>"
            f"<td>{_chip(category, category_colour(category))}</td>"
            f"<td>{_reasons(entry)}</td>"
            "</tr>"
        )
    rows.append("</table>")
    warnings = patient.get("warnings") or []
    if warnings:
        codes = ", ".join(str(code) for code in patient.get("warning_codes") or [])
        items = "".join(f"<li>{html.escape(str(text))}</li>" for text in warnings)
        rows.append(f"<p>Warnings ({html.escape(codes)}):</p><ul>{items}</ul>")
    return "\n".join(rows)


class ResponsePanelWidget(SessionDock):
    """The patient's response at every scan, re-classified on every edit.

    Parameters
    ----------
    napari_viewer
        The viewer (given by napari when the widget is docked).
    """

    def __init__(self, napari_viewer: napari.Viewer) -> None:
        super().__init__(napari_viewer)
        self.browser = QTextBrowser()
        self.browser.setOpenExternalLinks(False)
        # Wrap between words only (Qt's default also breaks inside a word): a dock narrower
        # than the table scrolls sideways instead of cutting headers into fragments.
        self.browser.setWordWrapMode(QTextOption.WrapMode.WordWrap)
        self.browser.setHorizontalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAsNeeded)
        self.browser.setMinimumHeight(80)
        self.status = QLabel("")
        self.status.setWordWrap(True)
        layout = QVBoxLayout(self)
        layout.addWidget(self.browser, 1)
        layout.addWidget(self.status)
        layout.addWidget(ResponseLegend())
        # A dock squeezed by its neighbours keeps room for the browser, the status line and
        # the legend (below that, Qt laid the status over the table).
        self.setMinimumHeight(layout.minimumSize().height() + self.fontMetrics().height() * 2)
        self.follow_session()

    def on_session_edited(self) -> None:
        """Show the new classification."""
        self.refresh()

    def text(self) -> str:
        """Return the panel's content as plain text."""
        return self.browser.toPlainText()

    def refresh(self) -> None:
        """Show the session's current classification and pass it to the plot widgets."""
        session = self.session
        if session is None:
            self.browser.setHtml("<p>Open a patient folder to see its response.</p>")
            self.status.setText("")
            return
        if session.result is None:
            message = session.classification_error or "not classified"
            self.browser.setHtml(f"<p>Not classified: {html.escape(message)}</p>")
        else:
            warnings = "".join(
                f"<li>{html.escape(text)}</li>" for text in session.classification_warnings
            )
            notes = f"<p>Worth a look:</p><ul>{warnings}</ul>" if warnings else ""
            self.browser.setHtml(patient_html(session.result) + notes)
        saved = session.session_path
        if session.last_save_error:
            self.status.setText(session.last_save_error)
        elif saved is not None and session.saved:
            self.status.setText(f"Autosaved to {saved}")
        elif saved is not None:
            self.status.setText(f"Every edit is autosaved to {saved}")
