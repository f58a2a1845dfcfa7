"""The `mignet` command line. Each subcommand lives beside the code it drives and is imported only when
used, so `mignet --help` is fast and one broken area does not take the others down.

Commands that write the data folder or the warehouse run holding the data folder (`WRITES_DATA_FOLDER`,
`mignet.locking`): a second one on the same folder is refused with a message naming the first (exit status
75), and the first to start removes what killed runs left behind."""

from __future__ import annotations

import copy
import functools
import importlib
from pathlib import Path
from typing import Callable

import click

from mignet.settings import Settings

# name -> (module, attribute, one-line help shown in `mignet --help`)
COMMANDS: dict[str, tuple[str, str, str]] = {
    "generate": ("mignet.generate.command", "generate", "Write a synthetic register extract (raw tables + manifest)."),
    "check-raw": ("mignet.raw", "check_raw_command", "Check a raw extract folder against the raw data contract."),
    "build": ("mignet.warehouse.command", "build", "Run `dbt build` into a fresh warehouse file and swap it in."),
    "validate": ("mignet.quality.command", "validate", "Check the marts (dbt, pandera, GX), certify them, write the quality report."),
    "publish": ("mignet.quality.command", "publish", "Release certified marts: a secure tier as they are, a public tier of aggregates under the disclosure rule."),
    "fit": ("mignet.network.command", "fit", "Fit the ERGM of every network on the certified dyads (--counts: also the count models and tests of change)."),
    "scenario": ("mignet.network.command", "scenario", "Tie probabilities for one origin -> destination pair."),
    "gof": ("mignet.network.command", "gof", "Goodness of fit of the fitted ERGMs by exact simulation."),
    "report": ("mignet.report.command", "report", "Write the analysis report (reports/models/index.html)."),
    "run": ("mignet.pipeline", "run", "Everything end to end: generate, check, build, validate, fit, gof, counts, publish, reports."),
}


def _always(params: dict, settings: Settings) -> bool:
    return True


def _generate_writes_data_folder(params: dict, settings: Settings) -> bool:
    """`mignet generate` writes the data folder's raw extract (the default --out) or into the data folder;
    a register generated elsewhere concerns no run."""
    out = Path(params["out"]).resolve() if params.get("out") is not None else settings.raw_dir.resolve()
    data_dir = settings.data_dir.resolve()
    return out == settings.raw_dir.resolve() or out == data_dir or data_dir in out.parents


# Commands that write the data folder or the warehouse: they run holding the data folder's lock
# (mignet.locking), which also removes what killed runs left there. name -> does this invocation write it?
WRITES_DATA_FOLDER: dict[str, Callable[[dict, Settings], bool]] = {
    "generate": _generate_writes_data_folder,
    "build": _always,
    "validate": _always,
    "publish": _always,
    "fit": _always,
    "gof": _always,
    "report": _always,
    "run": _always,
}
# Commands that only read: they never wait for, nor refuse because of, a running writer.
READ_ONLY = frozenset({"check-raw", "scenario"})


def holding_the_data_folder(name: str, command: click.Command) -> click.Command:
    """A copy of `command` whose callback runs under the data folder's lock when WRITES_DATA_FOLDER says
    this invocation writes it."""
    writes = WRITES_DATA_FOLDER[name]
    callback = command.callback

    @functools.wraps(callback)
    def locked(*args, **kwargs):
        from mignet.locking import hold_data_folder

        settings = Settings.from_env()
        if not writes(click.get_current_context().params, settings):
            return callback(*args, **kwargs)
        with hold_data_folder(settings, progress=lambda message: click.echo(message, err=True)):
            return callback(*args, **kwargs)

    wrapped = copy.copy(command)
    wrapped.callback = locked
    return wrapped


class LazyGroup(click.Group):
    def list_commands(self, ctx):
        return list(COMMANDS)

    def get_command(self, ctx, name):
        if name not in COMMANDS:
            return None
        module, attr, _ = COMMANDS[name]
        command = getattr(importlib.import_module(module), attr)
        return holding_the_data_folder(name, command) if name in WRITES_DATA_FOLDER else command

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
