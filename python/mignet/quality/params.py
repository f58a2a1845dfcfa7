"""Business constants the checks need, read from where the warehouse reads them: dbt `vars` in
dbt_project.yml and the seeds (periods, age bands, income groups). Nothing is repeated as a literal."""

from __future__ import annotations

import csv
from dataclasses import dataclass
from datetime import date
from pathlib import Path

import yaml

from mignet.settings import Settings


@dataclass(frozen=True)
class QualityParams:
    periods: dict[str, tuple[date, date]]
    age_bands: dict[str, tuple[int, int]]
    income_groups: tuple[str, ...]
    min_moves: int
    data_start: date
    data_end: date
    target_vintage: int
    disclosure_round_to: int
    disclosure_suppress_below: int
    imputed_share_max: float

    @property
    def years(self) -> list[int]:
        return list(range(self.data_start.year, self.data_end.year + 1))

    @property
    def population_years(self) -> list[int]:
        """Years of population counts: 1 January of each year of the period and of the year after it."""
        return list(range(self.data_start.year, self.data_end.year + 2))

    @property
    def age_band_labels(self) -> tuple[str, ...]:
        return (*self.age_bands, "other", "unknown")

    @property
    def networks(self) -> list[tuple[str, str, str]]:
        """(period_label, group_type, group_value) of every network the dyads must hold."""
        groups = [("all", "all")] + [("age_band", b) for b in self.age_bands] + [
            ("income_group", g) for g in self.income_groups
        ]
        return [(p, t, v) for p in self.periods for t, v in groups]


def _read_seed(root: Path, name: str) -> list[dict]:
    path = root / "seeds" / f"{name}.csv"
    with path.open(newline="", encoding="utf-8") as f:
        return list(csv.DictReader(f))


def dbt_project(settings: Settings) -> dict:
    """dbt_project.yml of the project, parsed."""
    path = settings.project_root / "dbt_project.yml"
    with path.open(encoding="utf-8") as f:
        return yaml.safe_load(f) or {}


def dbt_vars(settings: Settings) -> dict:
    return dbt_project(settings).get("vars", {}) or {}


def load_params(settings: Settings) -> QualityParams:
    root = settings.project_root
    vars_ = dbt_vars(settings)
    periods = {
        r["period_label"]: (date.fromisoformat(r["start_date"]), date.fromisoformat(r["end_date"]))
        for r in _read_seed(root, "periods")
    }
    age_bands = {r["band_label"]: (int(r["min_age"]), int(r["max_age"])) for r in _read_seed(root, "age_bands")}
    income_groups = tuple(
        r["income_group"] for r in sorted(_read_seed(root, "income_groups"), key=lambda r: int(r["group_order"]))
    )

    def var(name, default, cast):
        value = settings.env.get(f"MIGNET_{name.upper()}", vars_.get(name, default))
        return cast(value)

    return QualityParams(
        periods=periods,
        age_bands=age_bands,
        income_groups=income_groups,
        min_moves=var("min_moves", 1, int),
        data_start=date.fromisoformat(str(vars_.get("data_start_date", min(p[0] for p in periods.values())))),
        data_end=date.fromisoformat(str(vars_.get("data_end_date", max(p[1] for p in periods.values())))),
        target_vintage=var("target_vintage", 2019, int),
        disclosure_round_to=var("disclosure_round_to", 10, int),
        disclosure_suppress_below=var("disclosure_suppress_below", 5, int),
        imputed_share_max=var("imputed_share_max", 0.25, float),
    )
