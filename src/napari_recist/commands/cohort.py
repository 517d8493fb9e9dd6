"""`napari-recist cohort`: classify a whole study, write tables, plots and statistics."""

from __future__ import annotations

import argparse
import json
import logging
import shutil
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


def write_cohort_outputs(
    out: Path,
    patients: list[dict[str, Any]],
    criteria: Mapping[str, Any],
    clinical: Mapping[str, Any] | None,
    summary_lines: list[str],
    failures: list[tuple[str, Sequence[str]]],
    options: Any = None,
    rate_method: str = "clopper-pearson",
    holm_adjust: bool = False,
    excel: bool = False,
    records: Mapping[str, Any] | None = None,
    results: Path | None = None,
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
    options
        `napari_recist.cohort.analysis.Options` (groupings, landmark, adjustment).
    rate_method
        ``clopper-pearson`` or ``wilson`` intervals of the rates.
    holm_adjust
        Show Holm-adjusted p-values of the pairwise log-rank tests on the page.
    excel
        Write every CSV with a UTF-8 byte-order mark (Excel).
    records
        Lesion tables (`PatientRecord`) by patient id, for the lesion-level analyses, seed
        000's site table and the SDTM export; None: none at hand.
    results
        ``patients.jsonl`` of a streamed batch (`napari_recist.cohort.stream`): the full
        patient JSON (``cohort.json``, ``assessments.csv``) is then read from it one patient at
        a time, and `patients` may be the statistics view without reason strings.

    Returns
    -------
    dict of str to Path
        What was written, by short name.

    Raises
    ------
    InputError
        For options naming an unknown field, group or covariate.
    """
    from napari_recist.cohort import plots
    from napari_recist.cohort.analysis import Options, analyse
    from napari_recist.cohort.cohort_page import cohort_page
    from napari_recist.cohort.endpoints import CENSORING_COLUMNS
    from napari_recist.cohort.rates import RATE_COLUMNS, cohort_rates
    from napari_recist.cohort.secondary import secondary_analyses
    from napari_recist.cohort.secondary_page import secondary_sections
    from napari_recist.cohort.survival import SURVIVAL_COLUMNS
    from napari_recist.cohort.tables import (
        PATIENT_COLUMNS,
        frequencies,
        frequency_rows,
        patient_row,
        write_csv,
    )
    from napari_recist.commands.classify import CSV_COLUMNS, csv_rows
    from napari_recist.io.atomic import atomic_write_bytes, atomic_write_text

    options = options or Options()
    analysis = analyse(patients, clinical, options, criteria)  # refuses bad options first
    secondary = secondary_analyses(
        patients, clinical, analysis, records, criteria, options.at_days, options.logistic,
        options.lesion_factors,
    )  # fmt: skip
    out.mkdir(parents=True, exist_ok=True)
    written: dict[str, Path] = {}

    def keep(name: str) -> Path:
        written[name] = out / name
        return out / name

    def csv_file(name: str, columns: Sequence[str], rows: Any) -> None:
        write_csv(keep(name), columns, rows, excel=excel)

    if results is None:
        atomic_write_text(
            keep("cohort.json"),
            json.dumps({"criteria": dict(criteria), "patients": patients}, indent=2),
        )
    else:
        from napari_recist.cohort.stream import iter_patients, write_cohort_json

        write_cohort_json(keep("cohort.json"), criteria, iter_patients(results))
    csv_file("patients.csv", PATIENT_COLUMNS, (patient_row(p) for p in patients))
    if results is None:
        csv_file("assessments.csv", CSV_COLUMNS, csv_rows(patients))
    else:
        csv_file("assessments.csv", CSV_COLUMNS,
                 (row for p in iter_patients(results) for row in csv_rows([p])))  # fmt: skip
    counted = frequencies(patients)
    csv_file("frequencies.csv", ("field", "unit", "value", "count", "percent"),
             frequency_rows(counted))  # fmt: skip
    rates = cohort_rates(patients, rate_method)
    csv_file("rates.csv", RATE_COLUMNS, (r.cells() for r in rates))

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

    csv_file(
        "survival.csv",
        SURVIVAL_COLUMNS,
        (row.cells() for grouping in analysis.groupings for row in grouping.rows),
    )
    csv_file(
        "pfs_censoring.csv",
        CENSORING_COLUMNS,
        (row for endpoint in analysis.endpoints for row in endpoint.decisions),
    )
    characteristic_rows = [
        {
            "grouping": grouping.grouping,
            "covariate": item.covariate,
            "kind": item.kind,
            "value": level,
            **{f"group_{i + 1}": f"{g}: {c}" for i, (g, c) in
               enumerate(zip(item.groups, cells, strict=True))},
            "missing": str(item.n_missing),
            "p_value": "" if item.p_value is None else f"{item.p_value:.6g}",
            "test": item.test,
        }
        for grouping in analysis.groupings
        for item in grouping.characteristics
        for level, cells in item.cells
    ]  # fmt: skip
    if characteristic_rows:
        width = max(len(g.levels) for g in analysis.groupings)
        csv_file(
            "characteristics.csv",
            ("grouping", "covariate", "kind", "value",
             *(f"group_{i + 1}" for i in range(width)), "missing", "p_value", "test"),
            characteristic_rows,
        )  # fmt: skip
    km_png: dict[str, dict[str, bytes]] = {}
    for grouping in analysis.groupings:
        km_png[grouping.grouping] = {}
        for endpoint in analysis.endpoints:
            times = {pid: t for pid, t in endpoint.times.items() if pid in grouping.groups}
            if not times:
                continue
            figure = plots.kaplan_meier_figure(
                times, grouping.groups, grouping.levels, endpoint.key, _axis_origin(endpoint)
            )
            data = plots.figure_png(figure)
            name = f"km_{_slug(endpoint.key)}_by_{_slug(grouping.grouping)}.png"
            atomic_write_bytes(keep(name), data)
            km_png[grouping.grouping][
                f"Kaplan-Meier: {endpoint.name} by {grouping.grouping} (from the time origin)"
            ] = data
    _write_secondary(secondary, csv_file)
    if options.sdtm_study is not None:
        from napari_recist.cohort.sdtm import sdtm_tables

        too_small = float(criteria.get("too_small_mm", 5.0))
        for name, columns, rows in sdtm_tables(
            options.sdtm_study, records or {}, patients, too_small
        ):
            csv_file(name, columns, rows)
    page = cohort_page(
        "napari-recist cohort report",
        summary_lines,
        counted,
        plot_png,
        analysis,
        km_png,
        rates,
        failures,
        holm_adjust,
        secondary_sections(secondary),
    )
    atomic_write_text(keep("cohort.html"), page)
    return written


def _axis_origin(endpoint: Any) -> str:
    """The time origin named on a Kaplan-Meier plot's x axis."""
    own = {"DoR": "first response (CR or PR)", "PPS": "RECIST progression"}
    return own.get(endpoint.key, endpoint.origin.split(" (")[0])


def _write_secondary(secondary: Any, csv_file: Any) -> None:
    """The CSV files of the secondary analyses (those with rows)."""
    from napari_recist.cohort.cox_checks import PH_COLUMNS, SCREEN_COLUMNS
    from napari_recist.cohort.dr_tables import CROSS_COLUMNS, SITE_COLUMNS
    from napari_recist.cohort.fixed_time import FIXED_TIME_COLUMNS, FOLLOW_UP_COLUMNS
    from napari_recist.cohort.lesion_level import GEE_COLUMNS, LESION_COLUMNS, TABLE2_COLUMNS
    from napari_recist.cohort.logistic import LOGISTIC_COLUMNS

    for name, columns, rows in (
        ("follow_up.csv", FOLLOW_UP_COLUMNS, secondary.follow_up),
        ("fixed_time_rates.csv", FIXED_TIME_COLUMNS, secondary.fixed_time),
        ("cox_screen.csv", SCREEN_COLUMNS, secondary.cox_screen),
        ("ph_check.csv", PH_COLUMNS, secondary.ph_check),
        ("logistic.csv", LOGISTIC_COLUMNS, secondary.logistic),
        ("lesion_responses.csv", LESION_COLUMNS, secondary.lesions),
        ("lesion_gee.csv", GEE_COLUMNS, secondary.lesion_gee),
        ("lesion_best_response.csv", TABLE2_COLUMNS, secondary.lesion_table2),
        ("dr_irecist.csv", CROSS_COLUMNS, secondary.dr_irecist),
        ("dr_sites.csv", SITE_COLUMNS, secondary.dr_sites),
    ):
        if rows:
            csv_file(name, columns, rows)


def _lesion_records(cohort: Any, reread_folders: bool) -> dict[str, Any]:
    """Lesion tables by patient id: those read from CSV, and the folders' when asked."""
    records = {s.record.patient_id: s.record for s in cohort.sources if s.record is not None}
    if not reread_folders:
        return records
    from napari_recist.io.patient import open_patient

    for source in cohort.sources:
        if source.folder is None:
            continue
        try:
            ready = open_patient(Path(source.folder), full_headers=False).for_classification(
                source.lenient)
        except (InputError, ValueError, OSError) as error:
            log.warning("lesion-level: %s not read again (%s)", source.folder, error)
            continue
        records[ready.record.patient_id] = ready.record
    return records


def _options(args: argparse.Namespace) -> Any:
    from napari_recist.cohort.analysis import Options

    def names(text: str | None) -> tuple[str, ...] | None:
        if text is None:
            return None
        return tuple(part.strip() for part in text.split(",") if part.strip())

    if args.groups is not None and args.group_by is None:
        raise InputError([Problem("--groups", "needs --group-by FIELD")])
    return Options(
        group_by=args.group_by,
        groups=names(args.groups),
        landmark_days=args.landmark,
        adjust=names(args.adjust) or (),
        conf_type=args.km_ci,
        scan_interval_days=args.scan_interval,
        at_days=tuple(getattr(args, "at_days", None) or ()),
        logistic=tuple(getattr(args, "logistic", None) or ()),
        lesion_factors=names(getattr(args, "lesion_factors", None)),
        sdtm_study=getattr(args, "sdtm", None),
    )


def _remove_if_created(out: Path, created: bool) -> None:
    """A command refused after the batch leaves no output folder it made (results included)."""
    if created:
        shutil.rmtree(out, ignore_errors=True)


def run_cohort(args: argparse.Namespace) -> int:
    """Run `napari-recist cohort` (see cli.py for the arguments)."""
    from napari_recist.cohort.batch import find_cohort, stream_sources
    from napari_recist.cohort.clinical import read_clinical_table
    from napari_recist.cohort.stream import statistics_patients
    from napari_recist.criteria.settings import Criteria

    try:
        criteria = Criteria.from_toml(args.criteria) if args.criteria else Criteria()
    except ValueError as error:
        raise InputError([str(error)]) from None
    if args.workers < 1:
        raise InputError([Problem("--workers", f"must be 1 or more, not {args.workers}")])
    options = _options(args)
    clinical = read_clinical_table(args.clinical) if args.clinical else None
    cohort = find_cohort(args.source, lenient=args.lenient)
    for line in cohort.skipped:
        log.warning("skipped: %s", line)
    for line in cohort.warnings:
        log.warning("warning: %s", line)
    out = Path(args.out)
    created = not out.exists()
    try:
        streamed = stream_sources(
            cohort.sources,
            criteria,
            out,
            workers=args.workers,
            scheduler=args.scheduler,
            progress=not args.quiet,
            resume=getattr(args, "resume", False),
        )
    except InputError:  # the scheduler cannot be reached
        _remove_if_created(out, created)
        raise
    for note in streamed.notes:
        log.warning("warning: %s", note)
    # The statistics view (no reason strings) is all this process holds of the patients.
    patients = statistics_patients(
        streamed.results, keep_reasons="reason" in (getattr(args, "group_by", None) or "")
    )
    failures = list(streamed.summary.failures)
    for label, problems in failures:
        for problem in problems:
            log.warning("not classified: %s: %s", label, problem)
    for label, remarks in streamed.summary.remarks:
        for remark in remarks:
            log.warning("warning: %s: %s", label, remark)
    total = len(cohort.sources)
    if not patients:
        _remove_if_created(out, created)
        raise InputError([Problem(args.source, "no patient could be classified")])
    summary = [
        f"Source: {args.source}. Patients classified: {len(patients)} of {total}.",
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
    try:
        written = write_cohort_outputs(
            Path(args.out),
            patients,
            criteria.to_dict(),
            clinical,
            summary,
            failures,
            options,
            rate_method=args.rate_ci,
            holm_adjust=args.holm,
            excel=args.excel,
            results=streamed.results,
            records=_lesion_records(
                cohort,
                getattr(args, "lesion_level", False) or getattr(args, "sdtm", None) is not None,
            ),
        )
    except InputError:  # options refused (they name fields of the patients' JSON)
        _remove_if_created(out, created)
        raise
    print(f"{len(patients)} patients classified; report: {written['cohort.html']}")
    return 0
