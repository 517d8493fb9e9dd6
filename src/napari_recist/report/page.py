"""The tumour-board page of one patient: verdicts, response table, key images, plots."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from napari_recist.criteria.contract import PatientJSON
from napari_recist.model import natural_key
from napari_recist.report import html
from napari_recist.report.figures import label_colour
from napari_recist.report.keyimages import KeyImage
from napari_recist.vocabulary import Response

Patient = PatientJSON


def _number(value: Any, unit: str = "") -> str:
    return "-" if value is None else f"{value:g}{unit}"


def _verdict(value: Any) -> str:
    text = str(value).lower() if isinstance(value, bool) else str(value)
    return html.badge(text, label_colour(text))


def verdict_section(patient: Patient) -> str:
    """Patient-level verdicts, each with its reason."""
    reasons = patient.get("reasons") or {}
    dissociated = patient.get("dissociated_response") or {}
    hyper = patient.get("hyperprogression") or {}
    pattern = patient.get("progression_pattern") or {}
    rows = [
        ("RECIST 1.1 best overall response", patient.get("best_overall_response"),
         reasons.get("best_overall_response")),
        ("Confirmed best overall response", patient.get("confirmed_best_overall_response"),
         reasons.get("confirmed_best_overall_response")),
        ("iRECIST best overall response", patient.get("irecist_best_overall_response"),
         reasons.get("irecist_best_overall_response")),
        ("imRECIST best overall response", patient.get("imrecist_best_overall_response"),
         reasons.get("imrecist_best_overall_response")),
        ("imRECIST progression", patient.get("imrecist_progression_date") or "none",
         reasons.get("imrecist_progression_date")),
        ("irRC best overall response", patient.get("irrc_best_overall_response"),
         reasons.get("irrc_best_overall_response")),
        ("irRC progression", patient.get("irrc_progression_date") or "none",
         reasons.get("irrc_progression_date")),
        ("Category (seed 002)", patient.get("category"), patient.get("response_group")),
        ("Dissociated response, Vuagnat", dissociated.get("vuagnat"), reasons.get("vuagnat")),
        ("Dissociated response, Bernard-Tessier", dissociated.get("bernard_tessier"),
         reasons.get("bernard_tessier")),
        ("Dissociated response, Tozuka", dissociated.get("tozuka"), reasons.get("tozuka")),
        ("Pseudoprogression", patient.get("pseudoprogression"),
         reasons.get("pseudoprogression")),
        ("Hyperprogression (Champiat / Ferrara)",
         f"{str(hyper.get('champiat')).lower()} / {str(hyper.get('ferrara')).lower()}",
         reasons.get("hyperprogression")),
        ("Progression", patient.get("progression_date") or "none",
         reasons.get("progression_date")),
        ("PFS days (from " + ("treatment start" if patient.get("treatment_start")
                              else "baseline") + ")",
         "NA" if patient.get("pfs_days") is None
         else f"{patient.get('pfs_days')} ({'event' if patient.get('pfs_event') else 'censored'})",
         reasons.get("pfs_days")),
        ("Progression pattern", pattern.get("type", Response.NA),
         reasons.get("progression_pattern")),
        ("Resistance", patient.get("resistance"), reasons.get("resistance")),
        ("Kinetics", "", reasons.get("kinetics")),
    ]  # fmt: skip
    cells = [
        (
            html.escape(name),
            _verdict(value) if value not in ("", None) else "",
            html.escape(reason or ""),
        )
        for name, value, reason in rows
    ]
    warnings = patient.get("warnings") or []
    notes = ""
    if warnings:
        codes = ", ".join(str(code) for code in patient.get("warning_codes") or [])
        notes = (
            f"<p>Warnings ({html.escape(codes)}):</p><ul>"
            + "".join(f"<li>{html.escape(str(text))}</li>" for text in warnings)
            + "</ul>"
        )
    return "<h2>Verdicts</h2>" + html.table(("verdict", "value", "reason"), cells) + notes


def timepoint_section(patient: Patient) -> str:
    """One row per assessment: sums, responses and the reason of the overall response."""
    rows = []
    for tp in patient.get("timepoints", []):
        number = int(tp["timepoint"])
        dissociated = tp.get("dissociated") or {}
        reasons = tp.get("reasons") or {}
        detail = "<br>".join(
            f"<b>{html.escape(key)}</b>: {html.escape(value)}"
            for key, value in reasons.items()
            if isinstance(value, str) and key != "overall"
        )
        rows.append(
            (
                html.escape("pre-baseline" if number < 0 else number),
                html.escape(tp.get("date")),
                _number(tp.get("sum_mm")),
                _number(tp.get("change_from_baseline_pct"), " %"),
                _number(tp.get("change_from_nadir_pct"), " %"),
                "" if number <= 0 else _verdict(tp.get("overall")),
                "" if number <= 0 else _verdict(tp.get("irecist")),
                ("" if number <= 0 else _verdict(tp.get("imrecist")) + " ")
                + _number(tp.get("imrecist_sum_mm")),
                ("" if number <= 0 else _verdict(tp.get("irrc")) + " ")
                + _number(tp.get("irrc_tumor_burden_mm2")),
                ""
                if number <= 0
                else html.escape(
                    f"{dissociated.get('vuagnat', 'NA')} / {tp.get('category', 'NA')}"
                ),
                html.escape(tp.get("reason", ""))
                + (f"<br><span class='note'>{detail}</span>" if detail else ""),
            )
        )
    headers = (
        "TP",
        "date",
        "SOD mm",
        "% baseline",
        "% nadir",
        "RECIST",
        "iRECIST",
        "imRECIST (sum mm)",
        "irRC (burden mm²)",
        "DR (Vuagnat / category)",
        "reason",
    )
    return "<h2>Response per time point</h2>" + html.table(headers, rows, numeric=(2, 3, 4))


def lesion_section(patient: Patient) -> str:
    """Lesion-level response at each follow-up, with each lesion's reason as a tooltip."""
    follow_ups = [tp for tp in patient.get("timepoints", []) if int(tp["timepoint"]) > 0]
    lesion_ids = sorted(
        {lid for tp in follow_ups for lid in (tp.get("lesions") or {})}, key=natural_key
    )
    if not lesion_ids:
        return ""
    rows = []
    for lesion_id in lesion_ids:
        cells = [html.escape(lesion_id)]
        for tp in follow_ups:
            response = (tp.get("lesions") or {}).get(lesion_id)
            reason = ((tp.get("reasons") or {}).get("lesions") or {}).get(lesion_id, "")
            cells.append(
                ""
                if response is None
                else f'<span title="{html.escape(reason)}">{_verdict(response)}</span>'
                + (f"<br><span class='note'>{html.escape(reason)}</span>" if reason else "")
            )
        rows.append(cells)
    headers = ["lesion", *[f"TP{tp['timepoint']} {tp['date']}" for tp in follow_ups]]
    return "<h2>Lesion-level response</h2>" + html.table(headers, rows)


def key_image_section(images: Sequence[KeyImage] | None, why_none: str) -> str:
    """A grid of key images: one row per lesion, one column per time point."""
    parts = ["<h2>Key images</h2>"]
    if not images:
        parts.append(f'<p class="note">{html.escape(why_none)}</p>')
        return "".join(parts)
    timepoints = sorted({image.timepoint for image in images})
    lesion_ids = sorted({image.lesion_id for image in images}, key=natural_key)
    by_key = {(image.lesion_id, image.timepoint): image for image in images}
    rows = []
    for lesion_id in lesion_ids:
        cells = [html.escape(lesion_id)]
        for timepoint in timepoints:
            image = by_key.get((lesion_id, timepoint))
            if image is None:
                cells.append("")
            elif image.png is None:
                cells.append(f'<span class="note">{html.escape(image.caption)}</span>')
            else:
                cells.append(html.figure(image.png, image.caption))
        rows.append(cells)
    headers = ["lesion", *["baseline" if t == 0 else f"TP{t}" for t in timepoints]]
    parts.append(
        '<p class="note">Each lesion cropped from the CT of the time point through its '
        "measurement; axes and outline in the colour of the lesion's response.</p>"
    )
    parts.append(html.table(headers, rows))
    return "".join(parts)


def patient_page(
    patient: Patient,
    plot_png: bytes,
    images: Sequence[KeyImage] | None,
    why_no_images: str,
    notes: Sequence[str] = (),
) -> str:
    """Assemble the tumour-board page of one patient.

    Parameters
    ----------
    patient
        The patient of the classification JSON.
    plot_png
        Spider and lesion trajectory plot.
    images
        Key images, or None when the source has no CT.
    why_no_images
        Shown instead of key images when there are none.
    notes
        Remarks on the inputs (time points without CT, files left out).

    Returns
    -------
    str
        A complete HTML document.
    """
    parts = [verdict_section(patient), timepoint_section(patient), lesion_section(patient)]
    parts.append(
        "<h2>Change over time</h2>" + html.figure(plot_png, "Spider and lesion trajectory")
    )
    parts.append(key_image_section(images, why_no_images))
    if notes:
        parts.append(
            "<h2>Notes</h2><ul>"
            + "".join(f'<li class="note">{html.escape(note)}</li>' for note in notes)
            + "</ul>"
        )
    return html.page(f"Tumour board: patient {patient.get('patient_id', '')}", "".join(parts))
