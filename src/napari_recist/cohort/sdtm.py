"""CDISC SDTM TU, TR and RS tables (CSV) from the lesion table and the verdicts.

Variable names and test codes follow the SDTMIG (3.4) TU/TR/RS domain models and the CDISC
RECIST 1.1 disease response supplement:
- TU (Tumor/Lesion Identification): one ``TUMIDENT`` ("Tumor Identification") record per
  lesion where it is first identified (baseline, or the follow-up of a new lesion), TUORRES
  ``TARGET`` / ``NON-TARGET`` / ``NEW``; a fragment of a split lesion is a ``TUSPLIT`` ("Tumor
  Split") record grouped by TUGRPID = the lesion it split from (SDTMIG TU example 2); a
  coalesced lesion gets a ``TUMERGE`` ("Tumor Merged") record at the visit it merged, TUGRPID
  = the lesion carrying the merged mass. TULOC is the lesion table's site.
- TR (Tumor/Lesion Results): per lesion and visit, targets ``LDIAM`` ("Longest Diameter") or,
  for lymph nodes, ``LPERP`` ("Longest Perpendicular", the short axis), as are measured
  non-targets and new lesions; the others ``TUMSTATE`` ("Tumor State") or, for lymph nodes,
  ``LNSTATE`` ("Lymph Node State");
  a too-small target is TRORRES ``TOO SMALL TO MEASURE`` standardised to the criteria's
  too-small size; a lesion not evaluated or merged has TRSTAT ``NOT DONE`` and TRREASND
  ``NOT EVALUABLE`` / ``TUMOR MERGED``; per visit the sum ``SUMDIAM`` ("Sum of Diameters") and
  at follow-ups ``PCBSD`` / ``PCNSD`` (percent change from baseline / nadir in the sum), from
  the verdicts, without TRMETHOD and TRDTC as in the supplement's examples. TRLOBXFL (3.4's
  last observation before exposure flag) marks the baseline.
- RS (Disease Response): per follow-up ``TRGRESP``, ``NTRGRESP``, ``NEWLPROG`` (when new
  lesions are seen: ``UNEQUIVOCAL`` or ``EQUIVOCAL``) and ``OVRLRESP`` (its RSLNKGRP links it
  to the visit's TR records) with RSCAT ``RECIST 1.1``, the iRECIST ``OVRLRESP`` with RSCAT
  ``iRECIST``, and per patient ``BESTRESP`` (RECIST 1.1, unconfirmed, and iRECIST).
Pre-baseline scans are not exported (they are not protocol assessments). USUBJID is
``STUDYID-patient_id``. VISIT is ``BASELINE`` or ``FOLLOW-UP n``; VISITNUM the time point.
Every cell goes through the spreadsheet neutralisation of `tables.write_csv`.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from typing import Any

from napari_recist.model import LesionState, PatientRecord, Role

TU_COLUMNS: tuple[str, ...] = (
    "STUDYID", "DOMAIN", "USUBJID", "TUSEQ", "TUGRPID", "TULNKID", "TUTESTCD", "TUTEST",
    "TUORRES", "TUSTRESC", "TULOC", "TUMETHOD", "VISITNUM", "VISIT", "TUDTC",
)  # fmt: skip
TR_COLUMNS: tuple[str, ...] = (
    "STUDYID", "DOMAIN", "USUBJID", "TRSEQ", "TRGRPID", "TRLNKGRP", "TRLNKID", "TRTESTCD",
    "TRTEST", "TRORRES", "TRORRESU", "TRSTRESC", "TRSTRESN", "TRSTRESU", "TRSTAT", "TRREASND",
    "TRMETHOD", "TRLOBXFL", "VISITNUM", "VISIT", "TRDTC",
)  # fmt: skip
RS_COLUMNS: tuple[str, ...] = (
    "STUDYID", "DOMAIN", "USUBJID", "RSSEQ", "RSLNKGRP", "RSTESTCD", "RSTEST", "RSCAT",
    "RSORRES", "RSSTRESC", "VISITNUM", "VISIT", "RSDTC",
)  # fmt: skip
METHOD = "CT SCAN"
_ROLE = {Role.TARGET: "TARGET", Role.NON_TARGET: "NON-TARGET", Role.NEW: "NEW"}
_STATE = {  # lesion-table state -> (TRORRES, TRSTRESC) of TUMSTATE / LNSTATE
    LesionState.PRESENT: ("PRESENT", "PRESENT"),
    LesionState.ABSENT: ("ABSENT", "ABSENT"),
    LesionState.PROGRESSION: ("UNEQUIVOCAL PROGRESSION", "UNEQUIVOCAL PROGRESSION"),
    # criteria.md section 1: a non-target `increase` is PD like `progression`.
    LesionState.INCREASE: ("INCREASE", "UNEQUIVOCAL PROGRESSION"),
    LesionState.EQUIVOCAL: ("EQUIVOCAL", "EQUIVOCAL"),
    LesionState.MEASURED: ("PRESENT", "PRESENT"),
    LesionState.TOO_SMALL: ("PRESENT", "PRESENT"),
}


def visit(timepoint: int) -> str:
    """The VISIT of a time point."""
    return "BASELINE" if timepoint == 0 else f"FOLLOW-UP {timepoint}"


def _number(value: float) -> str:
    return f"{value:g}"


def _first_seen(record: PatientRecord, lesion_id: str) -> Any:
    for assessment in record.assessments:
        if assessment.timepoint >= 0 and lesion_id in assessment.measurements:
            return assessment
    return None


def tu_rows(study: str, record: PatientRecord) -> list[dict[str, str]]:
    """TU records of one patient (module docstring)."""
    subject = f"{study}-{record.patient_id}"
    rows: list[dict[str, str]] = []
    for lesion in record.lesions.values():
        first = _first_seen(record, lesion.lesion_id)
        if first is None:
            continue
        split = lesion.part_of is not None
        rows.append(
            {
                "TUGRPID": lesion.part_of or "",
                "TULNKID": lesion.lesion_id,
                "TUTESTCD": "TUSPLIT" if split else "TUMIDENT",
                "TUTEST": "Tumor Split" if split else "Tumor Identification",
                "TUORRES": _ROLE[lesion.role],
                "TUSTRESC": _ROLE[lesion.role],
                "TULOC": lesion.site.upper(),
                "VISITNUM": str(first.timepoint),
                "VISIT": visit(first.timepoint),
                "TUDTC": first.date.isoformat(),
            }
        )
        merged = next(
            (a for a in record.assessments if a.timepoint > 0
             and (m := a.measurements.get(lesion.lesion_id)) is not None and m.coalesced_into),
            None,
        )  # fmt: skip
        if merged is not None:
            carrier = merged.measurements[lesion.lesion_id].coalesced_into or ""
            rows.append(
                {"TUGRPID": carrier, "TULNKID": lesion.lesion_id, "TUTESTCD": "TUMERGE",
                 "TUTEST": "Tumor Merged", "TUORRES": _ROLE[lesion.role],
                 "TUSTRESC": _ROLE[lesion.role], "TULOC": lesion.site.upper(),
                 "VISITNUM": str(merged.timepoint), "VISIT": visit(merged.timepoint),
                 "TUDTC": merged.date.isoformat()}
            )  # fmt: skip
    return _numbered(rows, study, subject, "TU")


def _numbered(
    rows: list[dict[str, str]], study: str, subject: str, domain: str
) -> list[dict[str, str]]:
    for index, row in enumerate(rows, start=1):
        row.update(
            {"STUDYID": study, "DOMAIN": domain, "USUBJID": subject, f"{domain}SEQ": str(index)}
        )
        if f"{domain}METHOD" in (TU_COLUMNS + TR_COLUMNS) and f"{domain}METHOD" not in row:
            row[f"{domain}METHOD"] = METHOD
    return rows


def _lesion_result(lesion: Any, measurement: Any, too_small_mm: float) -> dict[str, str]:
    target = lesion.role is Role.TARGET
    size = None
    if measurement.state is LesionState.MEASURED:
        size = measurement.short_axis_mm if lesion.nodal else measurement.long_axis_mm
    # A measured non-target or new lesion is reported by its diameter too (the supplement's
    # new lesion NEW01 "has a measurement of 4 mm"); unmeasured ones by their state, as is a
    # target whose row gives a state without a size (e.g. `progression`).
    sized = size is not None or (
        target
        and measurement.state
        in (LesionState.MEASURED, LesionState.TOO_SMALL, LesionState.ABSENT,
            LesionState.NOT_EVALUATED)
    ) or measurement.coalesced_into is not None  # fmt: skip
    if sized:
        code, name = ("LPERP", "Longest Perpendicular") if lesion.nodal else (
            "LDIAM", "Longest Diameter")  # fmt: skip
    else:
        code, name = ("LNSTATE", "Lymph Node State") if lesion.nodal else (
            "TUMSTATE", "Tumor State")  # fmt: skip
    row = {"TRTESTCD": code, "TRTEST": name}
    state = measurement.state
    if measurement.coalesced_into:
        return row | {"TRSTAT": "NOT DONE", "TRREASND": "TUMOR MERGED"}
    if state is LesionState.NOT_EVALUATED:
        return row | {"TRSTAT": "NOT DONE", "TRREASND": "NOT EVALUABLE"}
    if sized:
        if state is LesionState.MEASURED:
            if size is None:
                return row | {"TRSTAT": "NOT DONE", "TRREASND": "NOT EVALUABLE"}
            text = _number(size)
            return row | {"TRORRES": text, "TRORRESU": "mm", "TRSTRESC": text,
                          "TRSTRESN": text, "TRSTRESU": "mm"}  # fmt: skip
        if state is LesionState.TOO_SMALL:
            text = _number(too_small_mm)
            return row | {"TRORRES": "TOO SMALL TO MEASURE", "TRSTRESC": text,
                          "TRSTRESN": text, "TRSTRESU": "mm"}  # fmt: skip
        if state is LesionState.ABSENT:
            return row | {"TRORRES": "0", "TRORRESU": "mm", "TRSTRESC": "0", "TRSTRESN": "0",
                          "TRSTRESU": "mm"}  # fmt: skip
    original, standard = _STATE.get(state, (str(state).upper(), str(state).upper()))
    return row | {"TRORRES": original, "TRSTRESC": standard}


def tr_rows(
    study: str, record: PatientRecord, patient: Mapping[str, Any], too_small_mm: float
) -> list[dict[str, str]]:
    """TR records of one patient (module docstring)."""
    subject = f"{study}-{record.patient_id}"
    verdicts = {int(tp["timepoint"]): tp for tp in patient.get("timepoints", [])}
    rows: list[dict[str, str]] = []
    for assessment in record.assessments:
        if assessment.timepoint < 0:
            continue
        number = assessment.timepoint
        common = {"TRLNKGRP": f"A{number}", "VISITNUM": str(number), "VISIT": visit(number),
                  "TRLOBXFL": "Y" if number == 0 else ""}  # fmt: skip
        for lesion_id, measurement in assessment.measurements.items():
            lesion = record.lesions[lesion_id]
            rows.append(
                common | {"TRGRPID": _ROLE[lesion.role], "TRLNKID": lesion_id,
                          "TRMETHOD": METHOD, "TRDTC": assessment.date.isoformat()}
                | _lesion_result(lesion, measurement, too_small_mm)
            )  # fmt: skip
        verdict = verdicts.get(number, {})
        summary = (
            ("SUMDIAM", "Sum of Diameters", verdict.get("sum_mm"), "mm"),
            ("PCBSD", "Percent Change From Baseline in SoD",
             verdict.get("change_from_baseline_pct"), "%"),
            ("PCNSD", "Percent Change From Nadir in SoD",
             verdict.get("change_from_nadir_pct"), "%"),
        )  # fmt: skip
        for code, name, value, unit in summary:
            if value is None or (number == 0 and code != "SUMDIAM"):
                continue
            text = _number(float(value))
            rows.append(
                common | {"TRGRPID": "TARGET", "TRTESTCD": code, "TRTEST": name,
                          "TRORRES": text, "TRORRESU": unit, "TRSTRESC": text,
                          "TRSTRESN": text, "TRSTRESU": unit, "TRMETHOD": ""}
            )  # fmt: skip
    for row in rows:
        row.setdefault("TRMETHOD", METHOD)
    return _numbered(rows, study, subject, "TR")


def _new_lesion_progression(record: PatientRecord, timepoint: int) -> str | None:
    assessment = next((a for a in record.assessments if a.timepoint == timepoint), None)
    if assessment is None:
        return None
    states = [
        m.state
        for lid, m in assessment.measurements.items()
        if record.lesions[lid].role is Role.NEW
    ]
    if any(s not in (LesionState.ABSENT, LesionState.EQUIVOCAL, LesionState.NOT_EVALUATED)
           for s in states):  # fmt: skip
        return "UNEQUIVOCAL"
    if LesionState.EQUIVOCAL in states:
        return "EQUIVOCAL"
    return None


def rs_rows(study: str, record: PatientRecord, patient: Mapping[str, Any]) -> list[dict[str, str]]:
    """RS records of one patient (module docstring)."""
    subject = f"{study}-{record.patient_id}"
    rows: list[dict[str, str]] = []
    for tp in sorted(patient.get("timepoints", []), key=lambda t: int(t["timepoint"])):
        number = int(tp["timepoint"])
        if number <= 0:
            continue
        common = {"VISITNUM": str(number), "VISIT": visit(number), "RSDTC": str(tp.get("date", ""))}
        tests: list[tuple[str, str, str, Any, str]] = [
            ("TRGRESP", "Target Response", "RECIST 1.1", tp.get("target"), ""),
            ("NTRGRESP", "Non-target Response", "RECIST 1.1", tp.get("non_target"), ""),
        ]
        progression = _new_lesion_progression(record, number)
        if progression is not None:
            tests.append(("NEWLPROG", "New Lesion Progression", "RECIST 1.1", progression, ""))
        tests += [
            ("OVRLRESP", "Overall Response", "RECIST 1.1", tp.get("overall"), f"A{number}"),
            ("OVRLRESP", "Overall Response", "iRECIST", tp.get("irecist"), f"A{number}"),
        ]
        for code, name, category, value, link in tests:
            if value is None or value == "NA":  # e.g. no non-target lesion: no such test
                continue
            rows.append(common | {"RSLNKGRP": link, "RSTESTCD": code, "RSTEST": name,
                                  "RSCAT": category, "RSORRES": str(value),
                                  "RSSTRESC": str(value)})  # fmt: skip
    for key, category in (("best_overall_response", "RECIST 1.1"),
                          ("irecist_best_overall_response", "iRECIST")):  # fmt: skip
        value = patient.get(key)
        if value is not None and value != "NA":
            rows.append({"RSTESTCD": "BESTRESP", "RSTEST": "Best Overall Response",
                         "RSCAT": category, "RSORRES": str(value),
                         "RSSTRESC": str(value)})  # fmt: skip
    return _numbered(rows, study, subject, "RS")


def sdtm_tables(
    study: str,
    records: Mapping[str, PatientRecord],
    patients: Sequence[Mapping[str, Any]],
    too_small_mm: float,
) -> Iterator[tuple[str, tuple[str, ...], list[dict[str, str]]]]:
    """(file name, columns, rows) of TU, TR and RS over the patients whose table is at hand."""
    by_id = {str(p["patient_id"]): p for p in patients}
    ids = [pid for pid in by_id if pid in records]
    yield "sdtm_tu.csv", TU_COLUMNS, [r for pid in ids for r in tu_rows(study, records[pid])]
    yield "sdtm_tr.csv", TR_COLUMNS, [
        r for pid in ids for r in tr_rows(study, records[pid], by_id[pid], too_small_mm)
    ]
    yield "sdtm_rs.csv", RS_COLUMNS, [
        r for pid in ids for r in rs_rows(study, records[pid], by_id[pid])
    ]
