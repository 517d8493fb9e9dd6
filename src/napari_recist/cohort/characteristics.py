"""Patient characteristics by group: counts or median (range), with the test each seed uses.

Categorical covariates: counts per group and Fisher's exact test (seeds 000, 002). Numeric
covariates (every value of the column a number, e.g. age, LDH): median and range per group and
the Mann-Whitney U test for two groups (seed 002: "Mann-Whitney U tests"), Kruskal-Wallis for
more (scipy). A numeric column is never cut into one level per value.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from napari_recist.cohort.stats import fisher_test


@dataclass(frozen=True)
class Characteristic:
    """One covariate summarised by group.

    Parameters
    ----------
    covariate
        Clinical column.
    kind
        ``categorical`` or ``numeric``.
    groups
        The groups compared, in order.
    cells
        Per level (categorical: each value; numeric: one row ``median (range)``), the text of
        each group's cell.
    n_missing
        Patients of these groups without a value (left out of the test).
    p_value, test
        The test and its two-sided p-value (None when not computable).
    """

    covariate: str
    kind: str
    groups: tuple[str, ...]
    cells: tuple[tuple[str, tuple[str, ...]], ...]
    n_missing: int
    p_value: float | None
    test: str


def is_numeric(values: Sequence[str]) -> bool:
    """Whether every non-empty value is a finite number (and there is at least one)."""
    present = [v for v in values if v != ""]
    if not present:
        return False
    try:
        return all(math.isfinite(float(v)) for v in present)
    except ValueError:
        return False


def characteristic(
    covariates: Mapping[str, Mapping[str, str]],
    groups: Mapping[str, str],
    covariate: str,
    compared: Sequence[str],
) -> Characteristic | None:
    """Summarise and test one covariate between the `compared` groups (None: < 2 groups)."""
    from scipy.stats import kruskal, mannwhitneyu

    members = {g: [pid for pid, grp in groups.items() if grp == g] for g in compared}
    present = tuple(g for g in compared if members[g])
    if len(present) < 2:
        return None
    values = {
        pid: covariates.get(pid, {}).get(covariate, "") for g in present for pid in members[g]
    }
    missing = sum(1 for v in values.values() if v == "")
    if is_numeric(list(values.values())):
        samples = [[float(values[pid]) for pid in members[g] if values[pid] != ""] for g in present]
        cells = tuple(
            f"{_median(s):g} ({min(s):g}-{max(s):g}), n {len(s)}" if s else "-" for s in samples
        )
        usable = [s for s in samples if s]
        p_value: float | None = None
        if len(usable) == 2:
            p_value, test = (
                float(mannwhitneyu(*usable, alternative="two-sided").pvalue),
                ("Mann-Whitney U"),
            )
        elif len(usable) > 2:
            p_value, test = float(kruskal(*usable).pvalue), "Kruskal-Wallis"
        else:
            test = "not computable"
        return Characteristic(
            covariate, "numeric", present, (("median (range)", cells),), missing, p_value, test
        )
    result = fisher_test(covariates, groups, covariate, present)
    levels = sorted({v for v in values.values() if v})
    totals = {g: sum(1 for pid in members[g] if values[pid]) for g in present}
    rows = []
    for level in levels:
        counts = [sum(1 for pid in members[g] if values[pid] == level) for g in present]
        rows.append(
            (
                level,
                tuple(
                    f"{n} ({100 * n / totals[g]:.0f} %)" if totals[g] else "0"
                    for n, g in zip(counts, present, strict=True)
                ),
            )
        )
    return Characteristic(
        covariate,
        "categorical",
        present,
        tuple(rows),
        missing,
        None if result is None else result.p_value,
        "Fisher's exact" + ("" if result is None else f" ({result.method})"),
    )


def _median(values: Sequence[float]) -> float:
    ordered = sorted(values)
    middle = len(ordered) // 2
    return ordered[middle] if len(ordered) % 2 else (ordered[middle - 1] + ordered[middle]) / 2
