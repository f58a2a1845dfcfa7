"""`mignet generate`: write a synthetic register extract."""

from __future__ import annotations

import time
from pathlib import Path

import click


@click.command("generate")
@click.option("--out", type=click.Path(file_okay=False, path_type=Path), default=None,
              help="Folder to write the extract to. Default: MIGNET_RAW_DIR or data/raw.")
@click.option("--scale", type=float, default=1.0, show_default=True,
              help="1.0 = Belgian volumes (about 3.6 million moves between municipalities 2018-2023); "
                   "0.01 runs in seconds. Populations stay Belgian at any scale.")
@click.option("--seed", type=int, default=20180101, show_default=True, help="Same seed, same files.")
@click.option("--geography", default="synthetic", show_default=True,
              help="'synthetic' (built in, no files needed), 'synthetic-small' (the same with a fraction of the municipalities, for fast tests) or a folder with municipalities_2018/2019/2025.csv "
                   "(e.g. ../shared/reference) for the real municipalities.")
@click.option("--faults", type=float, default=0.0, show_default=True,
              help="Share of rows per table given a realistic defect (e.g. 0.01); listed in faults.csv.")
@click.option("--format", "fmt", type=click.Choice(["parquet", "csv"]), default="parquet", show_default=True,
              help="File format of the five tables.")
def generate(out, scale, seed, geography, faults, fmt):
    """Write a synthetic population register (moves, persons, incomes, municipalities, population),
    with manifest.json (true model parameters, counts) and faults.csv (every injected defect).

    \b
    Examples:
      mignet generate --scale 0.01 --faults 0.01          # small, with defects, into data/raw
      mignet generate --out /tmp/reg --format csv
      mignet generate --geography ../shared/reference      # real municipalities
    """
    from mignet.generate import generate_register

    if out is None:
        from mignet.settings import Settings

        out = Settings.from_env().raw_dir
    start = time.perf_counter()

    def progress(message: str) -> None:
        click.echo(f"[{time.perf_counter() - start:6.1f}s] {message}", err=True)

    try:
        manifest = generate_register(out, scale=scale, seed=seed, geography=geography, faults=faults, fmt=fmt,
                                     progress=progress)
    except (FileNotFoundError, ValueError) as exc:
        raise click.ClickException(str(exc)) from exc
    counts = ", ".join(f"{k} {v:,}" for k, v in manifest["row_counts"].items())
    click.echo(f"wrote {out}: {counts}")
    if manifest["extrapolated_population_years"]:
        years = ", ".join(str(y) for y in manifest["extrapolated_population_years"])
        click.echo(f"note: population of 1 January {years} was extrapolated (see manifest.json)")
    if faults > 0:
        click.echo(f"faults: {sum(manifest['fault_counts'].values()):,} faulty rows listed in {Path(out) / 'faults.csv'}")
