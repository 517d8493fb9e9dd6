"""The cohort report page: category frequencies, plots and survival statistics in one HTML file."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from napari_recist.cohort.analysis import EndpointAnalysis
from napari_recist.cohort.stats import FisherResult, GroupSurvival, HazardRatio, LogRankResult
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


def _km_rows(summaries: Sequence[GroupSurvival]) -> list[tuple[str, ...]]:
    return [
        (
            html.badge(s.group, label_colour(s.group)),
            str(s.n),
            str(s.events),
            _months(s.median_days),
            f"{_months(s.ci_low_days)} - {_months(s.ci_high_days)}",
        )
        for s in summaries
    ]


def _logrank_text(result: LogRankResult | None, what: str) -> str:
    if result is None:
        return (
            f'<p class="note">Log-rank test across {what}: not computable (fewer than two '
            "groups with patients, or no event).</p>"
        )
    groups = ", ".join(result.groups)
    return (
        f"<p>Log-rank test across {what} ({html.escape(groups)}): "
        f"chi-square {result.statistic:.2f}, p = {_p(result.p_value)}.</p>"
    )


def _hazard_rows(ratios: Sequence[HazardRatio]) -> list[tuple[str, ...]]:
    return [
        (
            f"{html.escape(r.group)} vs {html.escape(r.reference)}",
            str(r.n),
            str(r.events),
            f"{r.hazard_ratio:.2f}",
            f"{r.ci_low:.2f} - {r.ci_high:.2f}",
            _p(r.p_value),
        )
        for r in ratios
    ]


def survival_section(endpoint: EndpointAnalysis, km_png: Mapping[str, bytes]) -> str:
    """Kaplan-Meier plots, medians, log-rank and Cox ratios of one endpoint."""
    parts = [
        f"<h2>{html.escape(endpoint.endpoint)}</h2>",
        f'<p class="note">Times: {html.escape(endpoint.source)}; '
        f"{len(endpoint.times)} patients. Medians in months (NR: not reached), "
        "95 % confidence interval.</p>",
    ]
    for caption, data in km_png.items():
        parts.append(html.figure(data, caption))
    headers = ("group", "n", "events", "median (months)", "95 % CI")
    parts.append("<h3>By category (seed 002)</h3>")
    parts.append(html.table(headers, _km_rows(endpoint.by_category), numeric=(1, 2, 3)))
    parts.append(_logrank_text(endpoint.logrank_category, "categories"))
    parts.append("<h3>By response group (seed 002)</h3>")
    parts.append(html.table(headers, _km_rows(endpoint.by_group), numeric=(1, 2, 3)))
    parts.append(_logrank_text(endpoint.logrank_group, "response groups"))
    parts.append("<h3>Cox proportional-hazards ratios (univariable)</h3>")
    if endpoint.hazard_ratios:
        parts.append(
            html.table(
                ("comparison", "n", "events", "HR", "95 % CI", "p"),
                _hazard_rows(endpoint.hazard_ratios),
                numeric=(1, 2, 3, 5),
            )
        )
        parts.append('<p class="note">HR &lt; 1: lower hazard in the first group.</p>')
    if endpoint.not_estimable:
        parts.append(
            '<p class="note">Not estimable (a group empty or without events, or every event '
            "of one group before any of the other): "
            + html.escape("; ".join(endpoint.not_estimable))
            + ".</p>"
        )
    return "".join(parts)


def fisher_section(results: Sequence[FisherResult], have_clinical: bool) -> str:
    """Fisher's exact test of each covariate between DR and true PD."""
    parts = ["<h2>Patient characteristics: DR vs true PD (Fisher's exact test)</h2>"]
    if not have_clinical:
        parts.append('<p class="note">No clinical table given (--clinical): no covariates.</p>')
        return "".join(parts)
    if not results:
        parts.append(
            '<p class="note">No covariate has two values among DR and true PD patients.</p>'
        )
        return "".join(parts)
    rows = []
    for result in results:
        counts = "<br>".join(
            html.escape(
                f"{level}: "
                + ", ".join(f"{group} {n}" for group, n in zip(result.groups, row, strict=True))
            )
            for level, row in zip(result.levels, result.counts, strict=True)
        )
        rows.append(
            (html.escape(result.covariate), counts, _p(result.p_value), html.escape(result.method))
        )
    parts.append(html.table(("covariate", "patients", "p", "method"), rows, numeric=(2,)))
    return "".join(parts)


def cohort_page(
    title: str,
    summary_lines: Sequence[str],
    frequencies: Sequence[Frequency],
    plots_png: Mapping[str, bytes],
    endpoints: Sequence[tuple[EndpointAnalysis, Mapping[str, bytes]]],
    fisher: Sequence[FisherResult],
    have_clinical: bool,
    failures: Sequence[tuple[str, Sequence[str]]],
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
    endpoints
        Each endpoint's analysis with its Kaplan-Meier PNGs.
    fisher
        Covariate tests.
    have_clinical
        Whether a clinical table was given.
    failures
        Patients not classified, with their problems.

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
    for endpoint, km_png in endpoints:
        parts.append(survival_section(endpoint, km_png))
    if not endpoints:
        parts.append(
            '<h2>Survival</h2><p class="note">No survival time available: no clinical table '
            "and no patient with a baseline and a follow-up.</p>"
        )
    parts.append(fisher_section(fisher, have_clinical))
    parts.append(frequency_section(frequencies))
    return html.page(title, "".join(parts))
