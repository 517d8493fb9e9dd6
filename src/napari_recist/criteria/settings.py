"""Every threshold of shared/spec/criteria.md in one settings object, loadable from TOML."""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Final

import tomllib
from napari_recist.frozen import RebuiltByConstructor

# Comparisons at a threshold tolerate float noise: 25.2 mm against 21 mm is +20 % exactly.
EPSILON: Final = 1e-9


# The values a setting can take: (lowest, highest), both allowed. A threshold outside them would
# make a verdict meaningless (a PR needing a 130 % decrease) or a computation impossible (a
# month of 0 days); every number must also be finite.
_RANGES: Final[dict[str, tuple[float, float]]] = {
    "measurable_min_mm": (0.0, 1000.0),
    "node_measurable_min_mm": (0.0, 1000.0),
    "node_normal_mm": (0.0, 1000.0),
    "too_small_mm": (0.0, 1000.0),
    "max_targets": (1, 100),
    "max_targets_per_organ": (1, 100),
    "pr_pct": (-100.0, 0.0),
    "pd_pct": (0.0, 10000.0),
    "pd_min_increase_mm": (0.0, 1000.0),
    "min_sd_days": (0, 3660),
    "confirm_min_days": (0, 3660),
    "irecist_further_increase_mm": (0.0, 1000.0),
    "irecist_confirm_min_days": (0, 3660),
    "irecist_max_new_targets": (0, 100),
    "irecist_max_new_targets_per_organ": (0, 100),
    "lesion_min_increase_mm": (0.0, 1000.0),
    "bt_decrease_pct": (0.0, 100.0),
    "bt_increase_pct": (0.0, 10000.0),
    "bt_min_increase_sum_mm": (0.0, 1000.0),
    "tozuka_min_shrink_pct": (0.0, 100.0),
    "days_per_month": (1.0, 366.0),
    "champiat_tgr_ratio": (0.0, 1e6),
    "ferrara_tgr_delta": (-1e6, 1e6),
    "oligo_max_organs": (1, 100),
    "resistance_sd_days": (0, 3660),
    # criteria.md settings added 2026-12 (a PR threshold above 0 % or a negative count of NE
    # would make a verdict meaningless, as above).
    "confirm_max_ne": (0, 100),
    "baseline_max_days_before_treatment": (0, 3660),
    "irecist_any_increase_mm": (0.0, 1000.0),
    "imrecist_confirm_min_days": (0, 3660),
    "irrc_pr_pct": (-100.0, 0.0),
    "irrc_pd_pct": (0.0, 10000.0),
    "irrc_confirm_min_days": (0, 3660),
    "irrc_new_measurable_min_mm": (0.0, 1000.0),
    "irrc_max_new_per_organ": (0, 100),
    "irrc_max_new_visceral": (0, 100),
    "irrc_max_new_cutaneous": (0, 100),
}


def _out_of_range(key: str, value: object) -> str:
    """What is wrong with a setting's number ("" when nothing is)."""
    if isinstance(value, bool) or not isinstance(value, int | float):
        return ""
    if not math.isfinite(value):
        return "must be a finite number"
    low, high = _RANGES.get(key, (-math.inf, math.inf))
    if not low <= value <= high:
        return f"must be between {low:g} and {high:g}"
    return ""


@dataclass(frozen=True)
class Criteria(RebuiltByConstructor):
    """Thresholds and options of the response criteria, with their published defaults."""

    # RECIST 1.1 (Eisenhauer 2009) section 3.1 / 4.3
    measurable_min_mm: float = 10.0  # non-nodal long axis, section 3.1.1
    node_measurable_min_mm: float = 15.0  # node short axis, section 3.1.1
    node_normal_mm: float = 10.0  # node short axis below which it is normal, section 4.3.1
    too_small_mm: float = 5.0  # "too small to measure" default, section 4.3.4 note
    max_targets: int = 5  # section 3.3.1
    max_targets_per_organ: int = 2  # section 3.3.1
    pr_pct: float = -30.0  # Table 1 / section 4.3.1: at least 30 % decrease from baseline
    pd_pct: float = 20.0  # section 4.3.1: at least 20 % increase from nadir
    pd_min_increase_mm: float = 5.0  # section 4.3.1: and at least 5 mm absolute
    min_sd_days: int = 42  # section 4.4.1: minimum interval for SD (protocol value)
    confirm_min_days: int = 28  # section 4.4.2: confirmation at least 4 weeks later
    require_confirmation: bool = False  # Table 3 BOR as the headline (non-randomised trials)
    # criteria.md section 1 (amended 2026-12): admiralonco derive_param_confirmed_bor max_nr_ne
    confirm_max_ne: int = 1
    # criteria.md section 1 (amended 2026-12), RECIST 1.1 section 3.2.1: "never more than 4
    # weeks before the beginning of the treatment"
    baseline_max_days_before_treatment: int = 28

    # iRECIST (Seymour 2017)
    irecist_further_increase_mm: float = 5.0  # iCPD: further >= 5 mm in SOD / NLT sum
    irecist_confirm_min_days: int = 28  # iCPD at >= 4 weeks, earlier only by new lesions
    irecist_max_new_targets: int = 5  # new lesion targets (NLT)
    irecist_max_new_targets_per_organ: int = 2
    # criteria.md section 2 (amended 2026-12): "any increase" read from sizes, >= 1.0 mm
    irecist_any_increase_mm: float = 1.0

    # imRECIST (Hodi 2018; criteria.md section 7): PD negated by a non-PD scan >= 4 weeks later
    imrecist_confirm_min_days: int = 28

    # irRC (Wolchok 2009; criteria.md section 8)
    irrc_pr_pct: float = -50.0  # irPR: >= 50 % decrease of the tumour burden from baseline
    irrc_pd_pct: float = 25.0  # irPD: >= 25 % increase of the tumour burden from the nadir
    irrc_confirm_min_days: int = 28  # "two consecutive observations at least 4 wk apart"
    irrc_new_measurable_min_mm: float = 5.0  # new measurable: >= 5 x 5 mm
    irrc_max_new_per_organ: int = 5  # PMC6942076 Table 3: up to 5 per organ
    irrc_max_new_visceral: int = 10  # 10 visceral
    irrc_max_new_cutaneous: int = 5  # 5 cutaneous
    irrc_cutaneous_sites: tuple[str, ...] = field(default=("skin",))

    # Lesion-level response (seed 001)
    lesion_min_increase_mm: float = 5.0

    # Dissociated response
    bt_decrease_pct: float = 30.0  # seed 002: > 30 % decrease from baseline
    bt_increase_pct: float = 20.0  # seed 002: > 20 % increase from nadir
    bt_min_increase_sum_mm: float = 5.0  # seed 002: increases summing >= 5 mm
    tozuka_min_shrink_pct: float = 0.0  # seed 000: any shrinkage from baseline
    tozuka_every_pd: bool = False  # seed 000 looks at the first follow-up only

    # Atypical patterns and kinetics
    days_per_month: float = 30.4375  # Ferte TGR: months = days / 30.4375
    champiat_tgr_ratio: float = 2.0  # Champiat 2017: TGR_exp >= 2 x TGR_ref
    ferrara_tgr_delta: float = 50.0  # Ferrara 2018: TGR_exp - TGR_ref > 50
    oligo_max_organs: int = 2  # seed 003: oligo-progression = 1-2 sites
    resistance_sd_days: int = 180  # SITC (Kluger 2020): 6 months of SD separates primary
    thoracic_sites: tuple[str, ...] = field(
        default=("lung", "pleura", "mediastinum", "chest wall")  # seed 003 site groups
    )

    def to_dict(self) -> dict[str, Any]:
        """Return the settings as plain JSON-ready values."""
        values = dataclasses.asdict(self)
        for spec in dataclasses.fields(self):
            if spec.type == "float":  # an int given for a float setting is written as a float
                values[spec.name] = float(values[spec.name])
        values["thoracic_sites"] = list(self.thoracic_sites)
        values["irrc_cutaneous_sites"] = list(self.irrc_cutaneous_sites)
        return values

    @classmethod
    def from_dict(cls, values: Mapping[str, Any], source: str = "settings") -> Criteria:
        """Build settings from a mapping, refusing unknown keys and wrong types.

        Parameters
        ----------
        values
            Keys are field names of `Criteria`.
        source
            Name used in error messages (e.g. the TOML file).

        Returns
        -------
        Criteria
            Defaults overridden by `values`.

        Raises
        ------
        ValueError
            On an unknown key, a value of the wrong type, a number that is not finite or
            out of its range (`_RANGES`).
        """
        known = {f.name: f for f in dataclasses.fields(cls)}
        defaults = cls()
        cleaned: dict[str, Any] = {}
        for key, value in values.items():
            if key not in known:
                raise ValueError(f"{source}: unknown setting '{key}'")
            default = getattr(defaults, key)
            if isinstance(default, bool):
                if not isinstance(value, bool):
                    raise ValueError(f"{source}: '{key}' must be true or false, not {value!r}")
            elif isinstance(default, int):
                if isinstance(value, bool) or not isinstance(value, int):
                    raise ValueError(f"{source}: '{key}' must be a whole number, not {value!r}")
            elif isinstance(default, float):
                if isinstance(value, bool) or not isinstance(value, (int, float)):
                    raise ValueError(f"{source}: '{key}' must be a number, not {value!r}")
                value = float(value)
            elif isinstance(default, tuple):
                if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
                    raise ValueError(f"{source}: '{key}' must be a list of strings")
                value = tuple(v.strip().lower() for v in value)
            problem = _out_of_range(key, value)
            if problem:
                raise ValueError(f"{source}: '{key}' {problem}, not {value!r}")
            cleaned[key] = value
        return dataclasses.replace(defaults, **cleaned)

    @classmethod
    def from_toml(cls, path: str | Path) -> Criteria:
        """Load settings from a TOML file (top-level keys or a ``[criteria]`` table).

        Parameters
        ----------
        path
            The TOML file.

        Returns
        -------
        Criteria
            Defaults overridden by the file.

        Raises
        ------
        ValueError
            When the file cannot be read or holds an unknown or mistyped setting.
        """
        path = Path(path)
        try:
            data = tomllib.loads(path.read_text(encoding="utf-8"))
        except OSError as error:
            raise ValueError(f"{path}: cannot read criteria file ({error.strerror})") from None
        except (tomllib.TOMLDecodeError, UnicodeDecodeError) as error:
            raise ValueError(f"{path}: not a valid TOML file ({error})") from None
        if "criteria" in data and isinstance(data["criteria"], dict):
            data = data["criteria"]
        return cls.from_dict(data, source=str(path))
