"""`napari-recist cohort`: classify a whole study, write tables, plots and statistics."""

from __future__ import annotations

import argparse
import json
import logging
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from napari_recist.errors import InputError, Problem

log = logging.getLogger(__name__)

PLOT_FILES: tuple[tuple[str, str], ...] = (
    ("waterfall.png", "Waterfall: best change in sum of target diameters, by category"),
    ("waterfall_bor.png", "Waterfall: best change, by RECIST 1.1 best overall response"),
    ("spider.png", "Spider: change in sum of target diameters over time, by category"),
    ("swimmer.png", "Swimmer: time on study, assessments by response, progression and death"),
)


def _slug(text: str) -> str:
    return "".join(c if c.isalnum() else "_" for c in text.lower()).strip("_")


def _survival_rows(endpoints: Sequence[Any]) -> list[dict[str, str]]:
    rows: list[dict[str, str]] = []

    def number(value: float | None) -> str:
        return "" if value is None else f"{value:.6g}"

    for endpoint in endpoints:
        for grouping, summaries in (
            ("category", endpoint.by_category),
            ("response_group", endpoint.by_group),
        ):
            rows += [
                {
                    "endpoint": endpoint.endpoint,
                    "analysis": f"KM median days by {grouping}",
                    "group": s.group,
                    "reference": "",
                    "n": str(s.n),
                    "events": str(s.events),
                    "estimate": number(s.median_days),
                    "ci_low": number(s.ci_low_days),
                    "ci_high": number(s.ci_high_days),
                    "p": "",
                }
                for s in summaries
            ]
        for grouping, test in (
            ("category", endpoint.logrank_category),
            ("response_group", endpoint.logrank_group),
        ):
            if test is not None:
                rows.append(
                    {
                        "endpoint": endpoint.endpoint,
                        "analysis": f"log-rank by {grouping}",
                        "group": ";".join(test.groups),
                        "reference": "",
                        "n": "",
                        "events": "",
                        "estimate": number(test.statistic),
                        "ci_low": "",
                        "ci_high": "",
                        "p": number(test.p_value),
                    }
                )
        rows += [
            {
                "endpoint": endpoint.endpoint,
                "analysis": "Cox hazard ratio",
                "group": r.group,
                "reference": r.reference,
                "n": str(r.n),
                "events": str(r.events),
                "estimate": number(r.hazard_ratio),
                "ci_low": number(r.ci_low),
                "ci_high": number(r.ci_high),
                "p": number(r.p_value),
            }
            for r in endpoint.hazard_ratios
        ]
    return rows


SURVIVAL_COLUMNS = (
    "endpoint",
    "analysis",
    "group",
    "reference",
    "n",
    "events",
    "estimate",
    "ci_low",
    "ci_high",
    "p",
)


def write_cohort_outputs(
    out: Path,
    patients: list[dict[str, Any]],
    criteria: Mapping[str, Any],
    clinical: Mapping[str, Any] | None,
    summary_lines: list[str],
    failures: list[tuple[str, Sequence[str]]],
) -> dict[str, Path]:
    """Write every output of the cohort command into `out` (atomic writes).

    Parameters
    ----------
    out
        Output folder (created if missing).
    patients
        Classified patients (JSON objects).
    criteria
        The settings used, as in the JSON document.
    clinical
        Clinical table by patient id, or None.
    summary_lines
        Lines for the head of the HTML report.
    failures
        Patients not classified and why.

    Returns
    -------
    dict of str to Path
        What was written, by short name.
    """
    from napari_recist.cohort import plots
    from napari_recist.cohort.analysis import CATEGORY_ORDER, GROUP_ORDER, analyse, patient_groups
    from napari_recist.cohort.cohort_page import cohort_page
    from napari_recist.cohort.tables import (
        PATIENT_COLUMNS,
        frequencies,
        frequency_rows,
        patient_row,
        write_csv,
    )
    from napari_recist.commands.classify import CSV_COLUMNS, csv_rows
    from napari_recist.io.atomic import atomic_write_bytes, atomic_write_text

    out.mkdir(parents=True, exist_ok=True)
    written: dict[str, Path] = {}

    def keep(name: str) -> Path:
        written[name] = out / name
        return out / name

    atomic_write_text(
        keep("cohort.json"),
        json.dumps({"criteria": dict(criteria), "patients": patients}, indent=2),
    )
    write_csv(keep("patients.csv"), PATIENT_COLUMNS, (patient_row(p) for p in patients))
    write_csv(keep("assessments.csv"), CSV_COLUMNS, csv_rows(patients))
    counted = frequencies(patients)
    write_csv(
        keep("frequencies.csv"),
        ("field", "unit", "value", "count", "percent"),
        frequency_rows(counted),
    )

    figures = {
        "waterfall.png": plots.waterfall_figure(patients, "category"),
        "waterfall_bor.png": plots.waterfall_figure(patients, "best_overall_response"),
        "spider.png": plots.spider_figure(patients, "category"),
        "swimmer.png": plots.swimmer_figure(patients, clinical),
    }
    plot_png: dict[str, bytes] = {}
    for name, caption in PLOT_FILES:
        data = plots.figure_png(figures[name])
        atomic_write_bytes(keep(name), data)
        plot_png[caption] = data

    endpoints, fisher = analyse(patients, clinical)
    write_csv(keep("survival.csv"), SURVIVAL_COLUMNS, _survival_rows(endpoints))
    if fisher:
        write_csv(
            keep("fisher.csv"),
            ("covariate", "groups", "levels", "counts", "p", "method"),
            (
                {
                    "covariate": f.covariate,
                    "groups": ";".join(f.groups),
                    "levels": ";".join(f.levels),
                    "counts": ";".join(",".join(str(n) for n in row) for row in f.counts),
                    "p": f"{f.p_value:.6g}",
                    "method": f.method,
                }
                for f in fisher
            ),
        )
    endpoint_pages = []
    for endpoint in endpoints:
        km: dict[str, bytes] = {}
        for key, order, label in (
            ("category", CATEGORY_ORDER, "category"),
            ("response_group", GROUP_ORDER, "response group"),
        ):
            figure = plots.kaplan_meier_figure(
                endpoint.times, patient_groups(patients, key), order, endpoint.endpoint
            )
            data = plots.figure_png(figure)
            name = f"km_{_slug(endpoint.endpoint)}_by_{key}.png"
            atomic_write_bytes(keep(name), data)
            km[f"Kaplan-Meier: {endpoint.endpoint} by {label}"] = data
        endpoint_pages.append((endpoint, km))
    page = cohort_page(
        "napari-recist cohort report",
        summary_lines,
        counted,
        plot_png,
        endpoint_pages,
        fisher,
        clinical is not None,
        failures,
    )
    atomic_write_text(keep("cohort.html"), page)
    return written


def run_cohort(args: argparse.Namespace) -> int:
    """Run `napari-recist cohort` (see cli.py for the arguments)."""
    from napari_recist.cohort.batch import classify_sources, find_cohort
    from napari_recist.cohort.clinical import read_clinical_table
    from napari_recist.criteria.settings import Criteria

    try:
        criteria = Criteria.from_toml(args.criteria) if args.criteria else Criteria()
    except ValueError as error:
        raise InputError([str(error)]) from None
    if args.workers < 1:
        raise InputError([Problem("--workers", f"must be 1 or more, not {args.workers}")])
    clinical = read_clinical_table(args.clinical) if args.clinical else None
    cohort = find_cohort(args.source, lenient=args.lenient)
    for line in cohort.skipped:
        log.warning("skipped: %s", line)
    for line in cohort.warnings:
        log.warning("warning: %s", line)
    outcomes = classify_sources(
        cohort.sources,
        criteria,
        workers=args.workers,
        scheduler=args.scheduler,
        progress=not args.quiet,
    )
    patients = [o.patient for o in outcomes if o.patient is not None]
    failures = [(o.label, o.problems) for o in outcomes if o.patient is None]
    for label, problems in failures:
        for problem in problems:
            log.warning("not classified: %s: %s", label, problem)
    for outcome in outcomes:
        for remark in outcome.remarks:
            log.warning("warning: %s: %s", outcome.label, remark)
    if not patients:
        raise InputError([Problem(args.source, "no patient could be classified")])
    summary = [
        f"Source: {args.source}. Patients classified: {len(patients)} of {len(outcomes)}.",
        f"Clinical table: {args.clinical or 'none'}.",
        f"Rows skipped (--lenient): {len(cohort.skipped)}.",
    ]
    if clinical is not None:
        ids = {str(p["patient_id"]) for p in patients}
        missing = sorted(ids - set(clinical))
        extra = sorted(set(clinical) - ids)
        if missing:
            log.warning(
                "warning: %d patients not in the clinical table: %s",
                len(missing),
                ", ".join(missing[:10]),
            )
        if extra:
            log.warning(
                "warning: %d clinical rows match no classified patient: %s",
                len(extra),
                ", ".join(extra[:10]),
            )
        summary.append(
            f"Patients without clinical data: {len(missing)}; clinical rows "
            f"without a classified patient: {len(extra)}."
        )
    written = write_cohort_outputs(
        Path(args.out), patients, criteria.to_dict(), clinical, summary, failures
    )
    print(f"{len(patients)} patients classified; report: {written['cohort.html']}")
    return 0
