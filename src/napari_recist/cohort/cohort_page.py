"""The cohort report page: rates, plots, survival by grouping, characteristics, frequencies."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from napari_recist.cohort.analysis import POST_BASELINE_NOTE, CohortAnalysis, GroupingAnalysis
from napari_recist.cohort.endpoints import Endpoint
from napari_recist.cohort.rates import Rate
from napari_recist.cohort.survival import SurvivalRow, holm
from napari_recist.cohort.tables import Frequency
from napari_recist.report import html
from napari_recist.report.figures import DAYS_PER_MONTH, label_colour


def _months(days: float | None) -> str:
    return "NR" if days is None else f"{days / DAYS_PER_MONTH:.1f}"


def _p(value: float) -> str:
    return "< 0.0001" if value < 0.0001 else f"{value:.4f}"


def frequency_section(items: Sequence[Frequency]) -> str:
    """Tables of counts and percentages, per patient then per assessment."""
    parts = ["<h2>Frequencies</h2>"]
    for item in items:
        rows = [
            (html.badge(value, label_colour(value)), str(count), f"{item.percent(count):.1f} %")
            for value, count in item.counts
        ]
        parts.append(f"<h3>{html.escape(item.name)} (n = {item.total} {item.unit})</h3>")
        parts.append(html.table(("value", "n", "%"), rows, numeric=(1, 2)))
    return "".join(parts)


def _days(value: float | None) -> str:
    return "NR" if value is None else f"{value:g}"


def _is_exploratory(row: SurvivalRow) -> bool:
    return row.model.startswith("log-rank, pairwise") or POST_BASELINE_NOTE in row.model


def _row_cells(row: SurvivalRow, holm_p: float | None) -> tuple[str, ...]:
    hr = "" if row.hr is None else f"{row.hr:.2f} ({row.hr_ci_low:.2f} - {row.hr_ci_high:.2f})"
    median = (
        ""
        if row.n is None or not row.model.startswith("Kaplan-Meier")
        else f"{_days(row.median_days)} d / {_months(row.median_days)} mo "
        f"({_days(row.median_ci_low)} - {_days(row.median_ci_high)} d)"
    )
    p_text = "" if row.p_value is None else _p(row.p_value)
    if p_text and _is_exploratory(row):
        p_text += " *"
    if holm_p is not None:
        p_text += f" (Holm {_p(holm_p)})"
    return (
        html.badge(row.group, label_colour(row.group)),
        html.escape(row.reference_group or ""),
        "" if row.n is None else str(row.n),
        "" if row.events is None else str(row.events),
        median,
        hr,
        p_text,
        html.escape(row.model),
    )


def grouping_section(
    grouping: GroupingAnalysis,
    endpoints: Sequence[Endpoint],
    km_png: Mapping[str, bytes],
    holm_adjust: bool,
) -> str:
    """Every survival row and characteristic of one grouping, with its notes."""
    parts = [
        f"<h2>Grouping: {html.escape(grouping.grouping)}</h2>",
        f"<p>Denominator: {html.escape(grouping.denominator)}.</p>",
    ]
    parts += [f'<p class="warn">{html.escape(note)}</p>' for note in grouping.notes]
    for caption, data in km_png.items():
        parts.append(html.figure(data, caption))
    headers = ("group", "reference", "n", "events", "median (95 % CI)", "HR (95 % CI)", "p",
               "model")  # fmt: skip
    for endpoint in endpoints:
        rows = [r for r in grouping.rows if r.endpoint == endpoint.key]
        if not rows:
            continue
        parts.append(f"<h3>{html.escape(endpoint.name)}</h3>")
        parts.append(
            f'<p class="note">Time origin: {html.escape(endpoint.origin)}. Times: '
            f"{html.escape(endpoint.source)}. {len(endpoint.times)} patients with a time"
            + (f", {len(endpoint.left_out)} without" if endpoint.left_out else "")
            + ".</p>"
        )
        for title, selected in (
            ("From the time origin", [r for r in rows if r.landmark_days is None
                                      and not r.model.startswith("Cox time-dependent")]),
            ("Landmark", [r for r in rows if r.landmark_days is not None]),
            ("Time-dependent Cox", [r for r in rows if r.model.startswith("Cox time-dependent")]),
        ):  # fmt: skip
            if not selected:
                continue
            pairwise = [r for r in selected if r.model.startswith("log-rank, pairwise")]
            adjusted = holm([r.p_value for r in pairwise if r.p_value is not None])
            holm_of = dict(zip((id(r) for r in pairwise if r.p_value is not None), adjusted,
                               strict=True))  # fmt: skip
            parts.append(f"<h4>{html.escape(title)}</h4>")
            parts.append(
                html.table(
                    headers,
                    [_row_cells(r, holm_of.get(id(r)) if holm_adjust else None) for r in selected],
                    numeric=(2, 3),
                )
            )
    parts.append(
        '<p class="note">Medians: Kaplan-Meier, R survival\'s rule (a curve exactly at 0.5 over '
        "an interval gives its midpoint); their 95 % CI where the confidence curves "
        "cross 0.5 (scale given in the model column). HR &lt; 1: lower hazard than the "
        "reference; Wald p. Log-rank p against the reference in the Kaplan-Meier rows. "
        "* exploratory: pairwise tests and comparisons from the origin of a grouping known "
        "only after baseline (no adjustment for multiplicity"
        + ("; Holm-adjusted p in brackets for the pairwise family" if holm_adjust else "")
        + ").</p>"
    )
    parts.append(characteristics_section(grouping))
    return "".join(parts)


def characteristics_section(grouping: GroupingAnalysis) -> str:
    """Patient characteristics between the levels of a grouping."""
    parts = [f"<h3>Patient characteristics by {html.escape(grouping.grouping)}</h3>"]
    if not grouping.characteristics:
        parts.append('<p class="note">No clinical covariate (no --clinical table, or no '
                     "column with values in two groups).</p>")  # fmt: skip
        return "".join(parts)
    headers = ("covariate", "value", *grouping.levels, "p", "test")
    rows = []
    for item in grouping.characteristics:
        for index, (level, cells) in enumerate(item.cells):
            by_group = dict(zip(item.groups, cells, strict=True))
            rows.append(
                (
                    html.escape(item.covariate) if index == 0 else "",
                    html.escape(level),
                    *(html.escape(by_group.get(g, "-")) for g in grouping.levels),
                    (_p(item.p_value) if item.p_value is not None else "-") if index == 0 else "",
                    html.escape(item.test + (f"; {item.n_missing} missing" if item.n_missing
                                             else "")) if index == 0 else "",
                )
            )  # fmt: skip
    parts.append(html.table(headers, rows))
    return "".join(parts)


def rates_section(rates: Sequence[Rate]) -> str:
    """Rates with their confidence intervals and denominators."""
    rows = [
        (
            html.escape(r.name),
            html.escape(r.seed),
            f"{r.count} / {r.total}",
            f"{100 * r.proportion:.1f} %",
            f"{100 * r.ci_low:.1f} - {100 * r.ci_high:.1f} %",
            html.escape(f"{r.numerator}, over {r.denominator}"),
        )
        for r in rates
    ]
    method = rates[0].method if rates else "clopper-pearson"
    return (
        "<h2>Rates</h2>"
        + html.table(
            ("rate", "definition", "n / N", "%", f"95 % CI ({method})", "counted over"),
            rows,
            numeric=(2, 3),
        )  # fmt: skip
    )


def censoring_section(endpoints: Sequence[Endpoint]) -> str:
    """How PFS was obtained: counts of each censoring decision (details in the CSV)."""
    parts = []
    for endpoint in endpoints:
        if not endpoint.decisions:
            continue
        counts: dict[str, int] = {}
        for row in endpoint.decisions:
            kind = row.get("decision", "").split(":")[0].split(" on day")[0]
            counts[kind] = counts.get(kind, 0) + 1
        parts.append(f"<h3>{html.escape(endpoint.name)}: censoring</h3>")
        parts.append(
            html.table(
                ("decision", "patients"),
                [(html.escape(k), str(v)) for k, v in sorted(counts.items())],
                numeric=(1,),
            )  # fmt: skip
        )
        if endpoint.left_out:
            parts.append(
                '<p class="warn">Without a time: '
                + html.escape("; ".join(f"{pid} ({why})" for pid, why in endpoint.left_out[:20]))
                + (" ..." if len(endpoint.left_out) > 20 else "")
                + "</p>"
            )
    if not parts:
        return ""
    return (
        '<h2>Endpoint derivation</h2><p class="note">Every decision, per patient and '
        "endpoint (PFS, iRECIST PFS, duration of response, survival after progression): "
        "pfs_censoring.csv.</p>" + "".join(parts)
    )


def cohort_page(
    title: str,
    summary_lines: Sequence[str],
    frequencies: Sequence[Frequency],
    plots_png: Mapping[str, bytes],
    analysis: CohortAnalysis,
    km_png: Mapping[str, Mapping[str, bytes]],
    rates: Sequence[Rate],
    failures: Sequence[tuple[str, Sequence[str]]],
    holm_adjust: bool = False,
    extra_html: str = "",
) -> str:
    """Assemble the cohort report.

    Parameters
    ----------
    title
        Page title.
    summary_lines
        Plain-text lines under the title (counts, inputs, criteria).
    frequencies
        Category frequencies (`napari_recist.cohort.tables.frequencies`).
    plots_png
        Caption -> PNG of the waterfall, spider and swimmer plots.
    analysis
        Endpoints and groupings (`napari_recist.cohort.analysis.analyse`).
    km_png
        Per grouping, caption -> Kaplan-Meier PNG.
    rates
        Rates with intervals.
    failures
        Patients not classified, with their problems.
    holm_adjust
        Show Holm-adjusted p-values of the pairwise tests.
    extra_html
        Sections of the secondary analyses (`secondary_page.secondary_sections`), placed
        after the survival sections.

    Returns
    -------
    str
        A complete HTML document.
    """
    parts = ["".join(f"<p>{html.escape(line)}</p>" for line in summary_lines)]
    if failures:
        parts.append("<h2>Patients not classified</h2><ul>")
        parts += [
            f'<li class="warn">{html.escape(label)}: {html.escape("; ".join(problems))}</li>'
            for label, problems in failures
        ]
        parts.append("</ul>")
    parts.append("<h2>Plots</h2>")
    parts += [html.figure(data, caption) for caption, data in plots_png.items()]
    parts.append(rates_section(rates))
    if not analysis.endpoints:
        parts.append(
            '<h2>Survival</h2><p class="note">No survival time available: no clinical table '
            "and no patient with a baseline and a follow-up.</p>"
        )
    for grouping in analysis.groupings:
        parts.append(
            grouping_section(
                grouping, analysis.endpoints, km_png.get(grouping.grouping, {}), holm_adjust
            )
        )
    parts.append(extra_html)
    parts.append(censoring_section(analysis.endpoints))
    parts.append(frequency_section(frequencies))
    return html.page(title, "".join(parts))
