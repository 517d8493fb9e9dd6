"""Response rates with exact (Clopper-Pearson) or Wilson 95 % intervals and explicit denominators.

Each rate says what is counted and over what, as each seed defines it:
- ORR and DCR over every patient with a follow-up (seed 002 Methods: ORR = CR or PR, DCR = CR,
  PR or SD; seed 001 per patient);
- seed 000's DR rate over the patients whose *first* follow-up is RECIST PD (Tozuka: 11 / 62);
  the ``NA`` patients (no qualifying PD) are outside its denominator;
- seed 002's DR and PsPD rates, and each category, over every classified patient (12 / 177);
  seed 002 Fig. 1c: DR among the patients with PR, SD or PD at the first follow-up;
- seed 001's Vuagnat DR per patient (over patients with >= 2 baseline targets, ``NA`` out) and
  per evaluation (over their follow-ups).
The intervals come from statsmodels' ``proportion_confint`` (``beta`` = Clopper-Pearson).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from napari_recist.cohort.fields import as_text, category_pspd

Patient = Mapping[str, Any]

_VUAGNAT_DR = ("DR1", "DR2", "DR3")
METHODS: dict[str, str] = {"clopper-pearson": "beta", "wilson": "wilson"}
RATE_COLUMNS: tuple[str, ...] = (
    "rate", "seed", "numerator", "denominator", "count", "total", "percent",
    "ci_low_pct", "ci_high_pct", "method",
)  # fmt: skip


@dataclass(frozen=True)
class Rate:
    """A proportion with its confidence interval.

    Parameters
    ----------
    name
        What is measured (``ORR``).
    seed
        Whose definition (``seed 002``).
    numerator, denominator
        What is counted over what, in words.
    count, total
        The two numbers.
    ci_low, ci_high
        Interval bounds, as proportions (0-1).
    method
        ``clopper-pearson`` or ``wilson``.
    """

    name: str
    seed: str
    numerator: str
    denominator: str
    count: int
    total: int
    ci_low: float
    ci_high: float
    method: str

    @property
    def proportion(self) -> float:
        """The proportion count / total."""
        return self.count / self.total if self.total else float("nan")

    def cells(self) -> dict[str, str]:
        """The rate as CSV cells (percentages with one decimal... and the exact counts)."""
        return {
            "rate": self.name,
            "seed": self.seed,
            "numerator": self.numerator,
            "denominator": self.denominator,
            "count": str(self.count),
            "total": str(self.total),
            "percent": f"{100 * self.proportion:.1f}",
            "ci_low_pct": f"{100 * self.ci_low:.1f}",
            "ci_high_pct": f"{100 * self.ci_high:.1f}",
            "method": self.method,
        }


def proportion_ci(count: int, total: int, method: str = "clopper-pearson") -> tuple[float, float]:
    """95 % interval of count / total (statsmodels ``proportion_confint``)."""
    from statsmodels.stats.proportion import proportion_confint

    if method not in METHODS:
        raise ValueError(f"method must be one of {', '.join(METHODS)}, not {method!r}")
    if total <= 0:
        raise ValueError("a rate needs at least one patient in its denominator")
    low, high = proportion_confint(count, total, alpha=0.05, method=METHODS[method])
    return float(low), float(high)


def rate(
    name: str,
    seed: str,
    numerator: str,
    denominator: str,
    items: Sequence[Any],
    counted: Callable[[Any], bool],
    method: str,
) -> Rate | None:
    """A rate over `items` (None when the denominator is empty)."""
    if not items:
        return None
    count = sum(1 for item in items if counted(item))
    low, high = proportion_ci(count, len(items), method)
    return Rate(name, seed, numerator, denominator, count, len(items), low, high, method)


def _follow_ups(patient: Patient) -> list[Mapping[str, Any]]:
    return sorted(
        (tp for tp in patient.get("timepoints", []) if int(tp["timepoint"]) > 0),
        key=lambda tp: int(tp["timepoint"]),
    )


def cohort_rates(patients: Sequence[Patient], method: str = "clopper-pearson") -> list[Rate]:
    """Every rate of the module docstring for a classified cohort."""
    followed = [p for p in patients if _follow_ups(p)]
    bor = lambda p: p.get("best_overall_response")  # noqa: E731
    first_pd = [p for p in followed if _follow_ups(p)[0].get("overall") == "PD"]
    first_prsdpd = [p for p in followed if _follow_ups(p)[0].get("overall") in ("PR", "SD", "PD")]
    vuagnat = [
        p for p in patients if as_text((p.get("dissociated_response") or {}).get("vuagnat")) != "NA"
    ]
    evaluations = [tp for p in vuagnat for tp in _follow_ups(p)]
    candidates = [
        rate("ORR", "seed 002", "best overall response CR or PR (RECIST 1.1, unconfirmed)",
             "patients with a follow-up", followed, lambda p: bor(p) in ("CR", "PR"), method),
        rate("DCR", "seed 002", "best overall response CR, PR or SD",
             "patients with a follow-up", followed,
             lambda p: bor(p) in ("CR", "PR", "SD", "NON-CR/NON-PD"), method),
        rate("DR (Tozuka)", "seed 000", "dissociated_response.tozuka = DR",
             "patients whose first follow-up is RECIST PD", first_pd,
             lambda p: (p.get("dissociated_response") or {}).get("tozuka") == "DR", method),
        rate("DR (Bernard-Tessier)", "seed 002", "category DR", "classified patients",
             list(patients), lambda p: p.get("category") == "DR", method),
        rate("PsPD", "seed 002", "category_pspd = PsPD (pseudoprogression, not DR)",
             "classified patients", list(patients), lambda p: category_pspd(p) == "PsPD", method),
        rate("Atypical response", "seed 002", "DR or PsPD", "classified patients",
             list(patients), lambda p: category_pspd(p) in ("DR", "PsPD"), method),
        rate("DR at first PR/SD/PD", "seed 002 Fig. 1c", "category DR",
             "patients with PR, SD or PD at the first follow-up", first_prsdpd,
             lambda p: p.get("category") == "DR", method),
        rate("DR (Vuagnat DR1-3) per patient", "seed 001", "vuagnat DR1, DR2 or DR3",
             "patients with >= 2 target lesions at baseline", vuagnat,
             lambda p: (p.get("dissociated_response") or {}).get("vuagnat") in _VUAGNAT_DR,
             method),
        rate("DR1 (Vuagnat) per patient", "seed 001", "vuagnat DR1",
             "patients with >= 2 target lesions at baseline", vuagnat,
             lambda p: (p.get("dissociated_response") or {}).get("vuagnat") == "DR1", method),
        rate("DR (Vuagnat DR1-3) per evaluation", "seed 001", "follow-ups with DR1, DR2 or DR3",
             "follow-ups of patients with >= 2 baseline targets", evaluations,
             lambda tp: (tp.get("dissociated") or {}).get("vuagnat") in ("DR1", "DR2", "DR3"),
             method),
    ]  # fmt: skip
    categories = sorted({category_pspd(p) for p in patients})
    for level in categories:
        candidates.append(
            rate(f"Category {level}", "seed 002", f"category_pspd = {level}",
                 "classified patients", list(patients),
                 lambda p, level=level: category_pspd(p) == level, method)
        )  # fmt: skip
    return [r for r in candidates if r is not None]
