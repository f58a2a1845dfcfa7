"""`mignet report`: write the report pages from the warehouse as it is now."""

from __future__ import annotations

import click

from mignet.settings import Settings


@click.command("report")
def report():
    """Write the report pages: the analysis report reports/models/index.html from results.model_estimates,
    results.model_gof and the marts (needs `mignet fit`; `mignet gof` adds the goodness-of-fit plots), and the
    pages of the income-position and arrival studies from their certified marts."""
    from mignet.report import PAGES
    from mignet.report.data import ReportInputError
    from mignet.report.pages import write_reports

    settings = Settings.from_env()
    try:
        written = write_reports(settings)
    except ReportInputError as exc:
        raise click.ClickException(str(exc)) from exc
    for name, path in written.items():
        click.echo(f"{PAGES[name]}: {path}")
