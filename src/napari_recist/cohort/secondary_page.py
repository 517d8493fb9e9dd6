"""HTML sections of the secondary analyses (`secondary`), each with its denominator and origin."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from napari_recist.cohort.secondary import SecondaryAnalyses
from napari_recist.report import html


def _section(
    title: str,
    note: str,
    columns: Sequence[str],
    rows: Sequence[Mapping[str, str]],
    numeric: Sequence[str] = (),
    file_name: str = "",
) -> str:
    if not rows:
        return ""
    where = f" All rows: {file_name}." if file_name else ""
    return (
        f"<h3>{html.escape(title)}</h3><p class=\"note\">{html.escape(note + where)}</p>"
        + html.table(
            columns,
            [[html.escape(row.get(c, "")) for c in columns] for row in rows],
            numeric=[i for i, c in enumerate(columns) if c in numeric],
        )
    )


def _ci(row: Mapping[str, str], value: str, low: str, high: str) -> str:
    if not row.get(value):
        return ""
    return f"{row[value]} ({row.get(low, '')} - {row.get(high, '')})"


def secondary_sections(result: SecondaryAnalyses) -> str:
    """Every section of the secondary analyses, empty ones left out."""
    parts = ["<h2>Further analyses</h2>"]
    parts += [f'<p class="warn">{html.escape(note)}</p>' for note in result.notes]
    parts.append(_section(
        "Median follow-up (reverse Kaplan-Meier)",
        "Censorings counted as events and events as censorings (Schemper & Smith 1996); "
        "from each endpoint's time origin; n = patients with a time.",
        ("endpoint", "n", "events", "censored", "median_follow_up_days", "ci_low", "ci_high",
         "time_origin"),
        result.follow_up, ("n", "events", "censored", "median_follow_up_days"),
        "follow_up.csv",
    ))  # fmt: skip
    parts.append(_section(
        "Fixed-time rates",
        "Kaplan-Meier S(day) with its pointwise 95 % CI (Greenwood); n = patients of the "
        "group with a time; at risk = time >= day; a day after the last follow-up is not "
        "estimable. Days from each endpoint's time origin.",
        ("endpoint", "grouping", "group", "day", "n", "events_by_day", "censored_by_day",
         "at_risk", "survival_pct", "ci_low_pct", "ci_high_pct", "ci_scale", "time_origin",
         "note"),
        result.fixed_time, ("day", "n", "events_by_day", "at_risk", "survival_pct"),
        "fixed_time_rates.csv",
    ))  # fmt: skip
    screen = [row | {"HR (95 % CI)": _ci(row, "hr", "hr_ci_low", "hr_ci_high")}
              for row in result.cox_screen]  # fmt: skip
    parts.append(_section(
        "Univariable Cox screen of the clinical covariates (exploratory)",
        "One Cox model per covariate and endpoint, complete cases; text covariates against "
        "their first level in sorted order; Wald p per term, likelihood-ratio p per "
        "covariate. No adjustment for multiplicity.",
        ("endpoint", "covariate", "term", "n", "events", "HR (95 % CI)", "p_wald",
         "p_likelihood_ratio", "model"),
        screen, ("n", "events"), "cox_screen.csv",
    ))  # fmt: skip
    parts.append(_section(
        "Proportional-hazards check (scaled Schoenfeld residuals)",
        "Grambsch & Therneau test against the Kaplan-Meier transform of time (R cox.zph's "
        "default) for each Cox model of a grouping from the time origin; p < 0.05: the "
        "hazard ratio averages a ratio that changes with time.",
        ("endpoint", "grouping", "model", "term", "n", "events", "test_statistic", "p_value",
         "verdict", "time_origin"),
        result.ph_check, ("n", "events"), "ph_check.csv",
    ))  # fmt: skip
    logistic = [row | {"OR (95 % CI)": _ci(row, "odds_ratio", "or_ci_low", "or_ci_high")}
                for row in result.logistic]  # fmt: skip
    parts.append(_section(
        "Logistic regression: predictors of a category",
        "Outcome 1 when the field has the level, 0 for another known value (NA left out); "
        "univariable models, then the --adjust covariates together; complete cases; "
        "exploratory.",
        ("outcome", "predictor", "term", "n", "events", "OR (95 % CI)", "p_wald",
         "p_likelihood_ratio", "denominator", "model"),
        logistic, ("n", "events"), "logistic.csv",
    ))  # fmt: skip
    parts.append(_section(
        "Best response per target lesion and per target lesion measurement (seed 001 Table 2)",
        "Baseline target lesions only; lesion-level RECIST 1.1 response; NE: never evaluated "
        "(per lesion) or not evaluable at that follow-up (per measurement).",
        ("unit", "response", "count", "percent", "denominator"),
        result.lesion_table2, ("count", "percent"), "lesion_best_response.csv",
    ))  # fmt: skip
    gee = [row | {"OR (95 % CI)": _ci(row, "odds_ratio", "or_ci_low", "or_ci_high")}
           for row in result.lesion_gee]  # fmt: skip
    parts.append(_section(
        "Lesion-level response of the target lesions (seed 001)",
        "Response = lesion-level CR or PR; per target lesion (its best response) and per "
        "target lesion measurement; baseline target lesions only (non-targets and new "
        "lesions out). Odds ratios from a GEE clustered by patient (robust SE), not a pooled "
        "test. Factors: site, lymph_node" + "".join(f", {f}" for f in result.lesion_factors) + ".",
        ("unit", "factor", "level", "reference_level", "n", "responding", "percent",
         "patients", "OR (95 % CI)", "p_value", "factor_p_value", "denominator"),
        gee, ("n", "responding", "percent", "patients"), "lesion_gee.csv (lesions: "
        "lesion_responses.csv)",
    ))  # fmt: skip
    parts.append(_section(
        "DR and iRECIST (seed 002 Fig. 5)",
        "Counts; each table states its denominator.",
        ("table", "row", "column", "count", "denominator"),
        result.dr_irecist, ("count",), "dr_irecist.csv",
    ))  # fmt: skip
    parts.append(_section(
        "Sites of response and progression per DR patient (seed 000 Table 3)",
        "Tozuka DR patients, at the PD assessment that made them DR: organs of the lesions "
        "that shrank from baseline, and of those that grew from their nadir or appeared.",
        ("patient_id", "timepoint", "date", "response_sites", "progression_sites", "recist",
         "irecist"),
        result.dr_sites, (), "dr_sites.csv",
    ))  # fmt: skip
    return "".join(parts)
