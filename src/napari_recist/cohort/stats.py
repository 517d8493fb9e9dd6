"""Fisher's exact test of a categorical covariate between groups (scipy).

Seeds 000 and 002 compare patient characteristics between categories with Fisher's exact test.
Survival comparisons are in `napari_recist.cohort.survival`.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np

MONTE_CARLO_TABLES = 100_000


@dataclass(frozen=True)
class FisherResult:
    """Fisher's exact test of one covariate between groups.

    Parameters
    ----------
    covariate
        Column of the clinical table.
    groups
        The groups compared (columns of `counts`).
    levels
        Values of the covariate (rows of `counts`).
    counts
        Contingency table, ``counts[i][j]`` patients with level i in group j.
    p_value
        Two-sided p-value.
    method
        ``exact`` for a 2 x 2 table; for a larger table scipy estimates the exact test's
        p-value from `MONTE_CARLO_TABLES` random tables with the same margins (seeded, so the
        same data give the same p-value).
    """

    covariate: str
    groups: tuple[str, ...]
    levels: tuple[str, ...]
    counts: tuple[tuple[int, ...], ...]
    p_value: float
    method: str


def _scalar(value: object) -> float:
    return float(np.asarray(value, dtype=float).reshape(-1)[0])


def fisher_test(
    covariates: Mapping[str, Mapping[str, str]],
    groups: Mapping[str, str],
    covariate: str,
    compared: Sequence[str],
) -> FisherResult | None:
    """Fisher's exact test of one covariate between groups.

    Parameters
    ----------
    covariates
        Covariate values by patient id (``{"P1": {"sex": "male"}}``); a missing or empty value
        leaves the patient out of this test.
    groups
        Group label by patient id.
    covariate
        The covariate tested.
    compared
        The groups compared (seed 000: DR vs true PD).

    Returns
    -------
    FisherResult or None
        None when fewer than two levels or two groups have patients.
    """
    from scipy.stats import MonteCarloMethod, fisher_exact

    pairs = [
        (values[covariate], groups[patient_id])
        for patient_id, values in covariates.items()
        if values.get(covariate) and groups.get(patient_id) in compared
    ]
    levels = tuple(sorted({level for level, _ in pairs}))
    present = tuple(g for g in compared if any(group == g for _, group in pairs))
    if len(levels) < 2 or len(present) < 2:
        return None
    counts = np.zeros((len(levels), len(present)), dtype=int)
    for level, group in pairs:
        counts[levels.index(level), present.index(group)] += 1
    if counts.shape == (2, 2):
        p_value, method = _scalar(fisher_exact(counts).pvalue), "exact"
    else:
        sampler = MonteCarloMethod(
            n_resamples=MONTE_CARLO_TABLES, rng=np.random.default_rng(20171101)
        )
        # scipy returns a one-element array for some r x c tables: take the scalar.
        p_value = _scalar(fisher_exact(counts, method=sampler).pvalue)
        method = f"Monte Carlo, {MONTE_CARLO_TABLES} tables"
    return FisherResult(
        covariate=covariate,
        groups=present,
        levels=levels,
        counts=tuple(tuple(int(c) for c in row) for row in counts),
        p_value=p_value,
        method=method,
    )
