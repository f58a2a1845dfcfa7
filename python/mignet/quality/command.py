"""Click commands `mignet validate` and `mignet publish` (imported lazily by mignet.cli)."""

from __future__ import annotations

import sys

import click

from mignet.settings import Settings


def _say(message: str) -> None:
    click.echo(message, err=True)


@click.command()
@click.option("--artifacts", "artifacts_dir", type=click.Path(file_okay=False, exists=True),
              help="Folder with dbt's run_results.json and manifest.json (default: those of the build that wrote "
                   "the warehouse, found by its build id).")
@click.option("--no-gx", is_flag=True, help="Skip the Great Expectations suites: a quicker look at dbt and pandera "
              "results; distributions and plausibility are then unchecked, so nothing is certified.")
def validate(artifacts_dir, no_gx):
    """Check every mart (its content is what the build wrote, the build's dbt test results, the pandera
    frame contracts, the GX distribution and plausibility suites), write one certification record
    per mart into the warehouse and the report reports/quality/index.html. Exit status 1 when any mart is
    not certified."""
    from pathlib import Path

    from mignet.quality.validate import validate as run_validate
    from mignet.warehouse import WarehouseBusyError

    settings = Settings.from_env()
    try:
        result = run_validate(settings, progress=_say, artifacts_dir=Path(artifacts_dir) if artifacts_dir else None,
                              run_gx=not no_gx)
    except (WarehouseBusyError, FileNotFoundError) as exc:
        raise click.ClickException(str(exc)) from None
    for mart, ok in result.certified.items():
        line = f"{mart:<26} {'certified' if ok else 'NOT certified'}"
        if not ok:
            line += ": " + ", ".join(result.certifications[mart].failed_checks)
        click.echo(line)
    click.echo(f"report: {result.report_path}")
    if not result.all_certified:
        sys.exit(1)


@click.command()
@click.option("--keep", default=3, show_default=True, help="How many releases of each tier to keep on disk.")
def publish(keep):
    """Export the certified marts to two tiers of Parquet releases and switch each tier's `current` to the
    new one atomically (docs/release.md). The secure tier (data/secure/: releases and analytics.duckdb) holds
    every certified mart as it is, microdata included; the public tier (data/releases/, data/analytics.duckdb)
    holds aggregates only, with flow counts under the build's disclosure rule and secondary suppression. An
    independent check reads the written public files back; if it finds a cell that breaks the rule, or any
    mart is not certified, nothing is published and both previous releases stay current. Prints the
    release id (the same in both tiers)."""
    from mignet.quality.publish import PublishError
    from mignet.quality.publish import publish as run_publish
    from mignet.warehouse import WarehouseError

    settings = Settings.from_env()
    try:
        release_id = run_publish(settings, progress=_say, keep=keep)
    except (PublishError, WarehouseError, FileNotFoundError) as exc:
        raise click.ClickException(str(exc)) from None
    click.echo(release_id)
