"""`mignet build`: run dbt build into a fresh warehouse file and swap it in."""

from __future__ import annotations

import sys

import click

from mignet.settings import Settings


@click.command("build")
@click.option("--raw-dir", type=click.Path(file_okay=False), default=None,
              help="Raw extract folder (default: MIGNET_RAW_DIR, then data/raw).")
@click.option("--vintage", type=click.Choice(["2019", "2025"]), default=None,
              help="Municipality vintage to harmonise to (default 2019: 581 municipalities).")
@click.option("--imputation", type=click.Choice(["mean", "median", "none"]), default=None,
              help="Missing incomes: mean (default) or median of age band and year, or none.")
@click.option("--var", "extra_vars", multiple=True, metavar="KEY=VALUE",
              help="Any other dbt var, e.g. --var income_group_year=next_year --var min_moves=2.")
def build(raw_dir, vintage, imputation, extra_vars):
    """Run `dbt build` (seeds, staging, harmonisation, quarantine, marts, tests) on the raw extract into a
    fresh DuckDB file and replace the warehouse with it only when every error-level test passed.

    \b
    Examples:
      mignet build
      mignet build --raw-dir /secure/extract --vintage 2025
      mignet build --var income_cutpoints_population=movers
    """
    from mignet.warehouse.build import build_warehouse

    from mignet.warehouse.build_settings import BuildVarError, parse_var_assignments

    environ = None
    if raw_dir is not None:
        import os
        environ = dict(os.environ, MIGNET_RAW_DIR=raw_dir)
    settings = Settings.from_env(environ=environ)
    try:
        dbt_vars = parse_var_assignments(extra_vars, settings.project_root, option="--var")
    except BuildVarError as exc:
        raise click.BadParameter(str(exc), param_hint="--var") from None
    if "raw_dir" in dbt_vars:
        raise click.BadParameter("the raw extract folder is --raw-dir (or MIGNET_RAW_DIR), not a dbt var",
                                 param_hint="--var")
    if vintage:
        dbt_vars["target_vintage"] = int(vintage)
    if imputation:
        dbt_vars["imputation_method"] = imputation
    result = build_warehouse(settings, dbt_vars=dbt_vars or None, progress=click.echo)
    kept = [str(p) for p in (result.run_results_path, result.log_path) if p is not None and p.is_file()]
    click.echo(f"build {result.build_id}: {'ok' if result.ok else 'FAILED'} in {result.elapsed_s:.1f}s; "
               f"{len(result.warnings)} warning(s)" + (f"; see {' and '.join(kept)}" if kept else ""))
    if not result.ok:
        sys.exit(1)
