"""Top-level typer app; each command group lives in its own small module."""

from __future__ import annotations

from importlib.metadata import PackageNotFoundError, version
from typing import Annotated

import typer

from fedasr import __version__
from fedasr.cli import data as data_commands
from fedasr.cli.demo import demo_command
from fedasr.cli.report import report_command
from fedasr.cli.reproduce import reproduce_app
from fedasr.cli.run import eval_command, run_command, train_command
from fedasr.cli.sweep import sweep_command
from fedasr.cli.tune import EPILOG as TUNE_EPILOG
from fedasr.cli.tune import tune_command

app = typer.Typer(
    add_completion=False,
    no_args_is_help=True,
    help="fedasr: federated learning for speech recognition.",
    pretty_exceptions_enable=False,
)
app.add_typer(data_commands.app, name="data")
app.command("run")(run_command)
app.command("train")(train_command)
app.command("eval")(eval_command)
app.command("demo")(demo_command)
app.command("report")(report_command)
app.command("tune", epilog=TUNE_EPILOG)(tune_command)
app.command("sweep")(sweep_command)
app.add_typer(reproduce_app, name="reproduce")


def installed_version() -> str:
    """The installed distribution's version (what pip sees), else the source tree's."""
    try:
        return version("fedasr")
    except PackageNotFoundError:  # run from a source tree without installing
        return __version__


def _print_version(value: bool) -> None:
    if value:
        typer.echo(f"fedasr {installed_version()}")
        raise typer.Exit()


@app.callback()
def _options(
    show_version: Annotated[
        bool,
        typer.Option("--version", callback=_print_version, is_eager=True,
                     help="Print the installed version and exit."),
    ] = False,
) -> None:  # fmt: skip
    """fedasr: federated learning for speech recognition."""


def main() -> None:  # pragma: no cover - thin wrapper used by `python -m fedasr`
    app()
