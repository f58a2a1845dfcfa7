"""`mignet report`: write the analysis report from the warehouse as it is now."""

from __future__ import annotations

import click

from mignet.settings import Settings


@click.command("report")
def report():
    """Write the analysis report reports/models/index.html from results.model_estimates, results.model_gof
    and the marts (needs `mignet fit`; `mignet gof` adds the goodness-of-fit plots)."""
    from mignet.report.data import ReportInputError
    from mignet.report.models import write_model_report

    settings = Settings.from_env()
    try:
        path = write_model_report(settings)
    except ReportInputError as exc:
        raise click.ClickException(str(exc)) from exc
    click.echo(f"analysis report: {path}")
