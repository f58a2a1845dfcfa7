"""Synthetic population register: raw tables that follow the raw data contract, with known true
parameters and an optional list of injected faults.

    >>> from mignet.generate import generate_register
    >>> manifest = generate_register("data/raw", scale=0.01, faults=0.01)

Writes moves, persons, incomes, municipalities and population (Parquet or CSV), manifest.json (seed,
scale, geography, row counts, periods, the true gravity parameters, extrapolated population years,
fault counts) and faults.csv (one line per injected faulty row).
"""

from __future__ import annotations

import csv
import json
import time
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pacsv
import pyarrow.parquet as pq

from mignet import contract
from mignet.generate import faults as faults_mod
from mignet.generate import income_positions as positions_mod
from mignet.generate import sectors as sectors_mod
from mignet.generate.geography import POPULATION_YEARS, load_geography
from mignet.generate.simulate import AGE_BANDS, INTRA_SHARE, PERIODS, QUARTILES, RETURN_SHARE, simulate
from mignet.generate.tables import frame_table, incomes_table, moves_table, persons_table, raw_tables

__all__ = ["generate_register", "FAULT_COLUMNS"]

# every fault the generator can inject: (table, expected quarantine rule or check, expected outcome)
FAULT_TYPES: dict[str, tuple[str, str, str]] = {**faults_mod.FAULT_TYPES, **positions_mod.FAULT_TYPES}
FAULT_COLUMNS = ("table", "key", "fault_type", "expected_rule", "expected_outcome", "detail")
GRAVITY_FORMULA = ("P(i->j) proportional to exp(alpha*ln(pop_i) + beta*ln(pop_j) - distance_km_ij/decay_km "
                   "+ gamma_density*z_j + delta_coast*coast_j) for i != j; z_j = standardised ln(density_j) "
                   "over the municipalities of 2018; distances between 2018 municipality centres")


def _write(table: pa.Table, path: Path, fmt: str, date_text: dict[int, str] | None = None) -> None:
    if fmt == "parquet":
        # dictionary encoding only where values repeat: on ids and amounts it costs time and saves nothing
        low_cardinality = [f.name for f in table.schema if f.type == pa.string()
                           and not f.name.endswith("_id")]
        pq.write_table(table, path, use_dictionary=low_cardinality, compression="snappy")
        return
    if date_text:
        rows = np.array(sorted(date_text), dtype=np.int64)
        mask = np.zeros(table.num_rows, dtype=bool)
        mask[rows] = True
        text = pc.replace_with_mask(table["move_date"].combine_chunks().cast(pa.string()), pa.array(mask),
                                    pa.array([date_text[int(r)] for r in rows], type=pa.string()))
        table = table.set_column(table.schema.get_field_index("move_date"), "move_date", text)
    pacsv.write_csv(table, path, pacsv.WriteOptions(include_header=True))


def generate_register(out, scale: float = 1.0, seed: int = 20180101, geography="synthetic",
                      faults: float = 0.0, fmt: str = "parquet", progress=None) -> dict:
    """Write a synthetic register extract to folder `out`; return the manifest (also in manifest.json)."""
    if fmt not in ("parquet", "csv"):
        raise ValueError(f"fmt must be 'parquet' or 'csv', not {fmt!r}")
    if not scale > 0:
        raise ValueError(f"scale must be positive, not {scale!r}")
    if not 0 <= faults <= 0.2:
        raise ValueError(f"faults is a share of rows between 0 and 0.2, not {faults!r}")
    say = progress or (lambda m: None)
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    timings: dict[str, float] = {}
    t0 = time.perf_counter()

    def lap(name):
        nonlocal t0
        now = time.perf_counter()
        timings[name] = round(now - t0, 3)
        t0 = now

    say(f"geography: {geography}")
    geo = load_geography(geography, seed, progress=say)
    lap("geography")
    rng = np.random.default_rng(seed)
    say(f"simulating the register at scale {scale} (seed {seed})")
    reg = simulate(geo, scale, rng, progress=say)
    lap("simulate")
    raw = raw_tables(reg, geo)
    # the income-position study: the kind of each move's origin address, the area types and the population
    # by income position of this geography
    raw.moves["o_class"] = positions_mod.origin_address_classes(raw.moves, raw.persons, raw.countries,
                                                                np.random.default_rng([seed, 13]))
    area_types = positions_mod.area_types_frame(geo)
    population_positions = positions_mod.population_positions_frame(geo, area_types, np.random.default_rng([seed, 17]))
    # the arrival study: statistical sectors, the sectors of each move, the population by sector and origin
    sectors = sectors_mod.synthesize_sectors(geo, reg, raw, np.random.default_rng([seed, 1414]))
    say(f"sectors: {len(sectors.code_2019):,} ({sectors.manifest['arrival_sectors']['count']:,} arrival sectors); "
        f"population_by_origin: {len(sectors.population_by_origin):,} rows")
    injected = faults_mod.inject(raw, geo, faults, np.random.default_rng([seed, 7]), fmt)
    area_types, population_positions, position_faults = positions_mod.inject(
        area_types, population_positions, geo, faults, np.random.default_rng([seed, 19]))
    injected += position_faults
    if injected:
        say(f"faults: {len(injected):,} faulty rows injected")
    lap("faults")

    # stale files of the other format would make the folder ambiguous
    for name in contract.TABLE_NAMES:
        for suffix in contract.FILE_SUFFIXES:
            stale = out / f"{name}{suffix}"
            if stale.exists() and suffix != f".{fmt}":
                stale.unlink()
    tables = {
        "moves": lambda: moves_table(raw),
        "persons": lambda: persons_table(raw),
        "incomes": lambda: incomes_table(raw),
        "municipalities": lambda: frame_table(geo.municipalities, contract.MUNICIPALITIES),
        "population": lambda: frame_table(geo.population, contract.POPULATION),
        "area_types": lambda: frame_table(area_types, positions_mod.AREA_TYPES),
        "population_positions": lambda: frame_table(population_positions, positions_mod.POPULATION_POSITIONS),
        "sectors": lambda: frame_table(sectors.sectors, contract.TABLES["sectors"]),
        "population_by_origin": lambda: frame_table(sectors.population_by_origin, contract.TABLES["population_by_origin"]),
    }
    def build_and_write(name):
        started = time.perf_counter()
        table = tables[name]()
        _write(table, out / f"{name}.{fmt}", fmt, raw.move_date_text if name == "moves" else None)
        return table.num_rows, time.perf_counter() - started

    # two files at a time: Arrow builds and writes them outside the GIL, so the largest ones (moves,
    # incomes) use a core each
    row_counts = {}
    with ThreadPoolExecutor(max_workers=2) as pool:
        for name, (rows, seconds) in zip(tables, pool.map(build_and_write, tables)):
            row_counts[name] = rows
            timings[f"write_{name}"] = round(seconds, 3)
            say(f"wrote {name}.{fmt}: {rows:,} rows")
    lap("write")

    with open(out / "faults.csv", "w", newline="", encoding="utf-8") as fh:
        writer = csv.DictWriter(fh, fieldnames=FAULT_COLUMNS)
        writer.writeheader()
        for f in injected:
            writer.writerow(f.row())
    counts = Counter(f.fault_type for f in injected)
    manifest = {
        "generator": "mignet.generate",
        "seed": seed,
        "scale": scale,
        "geography": geo.source,
        "format": fmt,
        "fault_rate": faults,
        "row_counts": row_counts,
        "periods": [{"period_label": p, "start_date": f"{a}-01-01", "end_date": f"{b}-12-31"} for p, a, b in PERIODS],
        "data_period": {"start_date": "2018-01-01", "end_date": "2023-12-31"},
        "municipality_codes": {
            "valid_2018_12_31": int(geo.units["code_2018"].nunique()),
            "valid_2019_01_01": int(geo.units["code_2019"].nunique()),
            "valid_2025_01_01": int(geo.units["code_2025"].nunique()),
            "coastal": sorted(geo.units.loc[geo.units["coast"], "code_2019"].unique().tolist()),
        },
        "population_years": list(POPULATION_YEARS),
        "extrapolated_population_years": geo.extrapolated_years,
        "geography_notes": geo.notes,
        "true_parameters": {
            "formula": GRAVITY_FORMULA,
            "age_bands": list(AGE_BANDS),
            "income_quartiles": list(QUARTILES),
            "return_move_share": RETURN_SHARE,
            "intra_municipal_share_of_internal": INTRA_SHARE,
            "gravity": reg.parameters,
        },
        "simulation": reg.stats,
        "arrivals": sectors.manifest,
        "area_types": area_types.drop_duplicates("nis_code").groupby("area_type")["nis_code"].count().to_dict(),
        "fault_counts": {t: counts.get(t, 0) for t in FAULT_TYPES} if faults > 0 else {},
        "fault_types": {t: {"table": v[0], "expected_rule": v[1], "expected_outcome": v[2]}
                        for t, v in FAULT_TYPES.items()},
    }
    with open(out / "manifest.json", "w", encoding="utf-8") as fh:
        json.dump(manifest, fh, indent=2)
    say(f"manifest: {out / 'manifest.json'}")
    # stage timings vary from run to run, so they are returned but not written (the files are deterministic)
    return {**manifest, "timings_s": timings}
