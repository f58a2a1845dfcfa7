"""The `mignet` command line. Each subcommand lives beside the code it drives and is imported only when
used, so `mignet --help` is fast and one broken area does not take the others down."""

from __future__ import annotations

import importlib

import click

# name -> (module, attribute, one-line help shown in `mignet --help`)
COMMANDS: dict[str, tuple[str, str, str]] = {
    "generate": ("mignet.generate.command", "generate", "Write a synthetic register extract (raw tables + manifest)."),
    "check-raw": ("mignet.raw", "check_raw_command", "Check a raw extract folder against the raw data contract."),
    "build": ("mignet.warehouse.command", "build", "Run `dbt build` into a fresh warehouse file and swap it in."),
    "validate": ("mignet.quality.command", "validate", "Check the marts (dbt, pandera, GX), certify them, write the quality report."),
    "publish": ("mignet.quality.command", "publish", "Export certified marts to a release and switch analytics.duckdb to it."),
    "fit": ("mignet.network.command", "fit", "Fit the ERGM of every network on the certified dyads; write estimates and tables."),
    "scenario": ("mignet.network.command", "scenario", "Tie probabilities for one origin -> destination pair."),
    "gof": ("mignet.network.command", "gof", "Goodness of fit of the fitted ERGMs by exact simulation."),
    "report": ("mignet.report.command", "report", "Write the analysis report (reports/models/index.html)."),
    "run": ("mignet.pipeline", "run", "Everything end to end: generate, check, build, validate, fit, gof, publish, reports."),
}


class LazyGroup(click.Group):
    def list_commands(self, ctx):
        return list(COMMANDS)

    def get_command(self, ctx, name):
        if name not in COMMANDS:
            return None
        module, attr, _ = COMMANDS[name]
        return getattr(importlib.import_module(module), attr)

    def format_commands(self, ctx, formatter):
        rows = [(name, help_) for name, (_, _, help_) in COMMANDS.items()]
        with formatter.section("Commands"):
            formatter.write_dl(rows)


@click.group(cls=LazyGroup, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(package_name="mignet")
def main():
    """mignet: population-register migration data from raw extract to certified marts and network models.

    \b
    Typical use:
      mignet run                          # synthetic register -> warehouse -> quality -> models -> reports
      mignet run --raw-dir /secure/extract    # the same on a real extract
      mignet generate --out data/raw --scale 0.01 --faults 0.01
    Paths come from MIGNET_WAREHOUSE, MIGNET_RAW_DIR, MIGNET_DATA_DIR (see README).
    """


if __name__ == "__main__":
    main()
