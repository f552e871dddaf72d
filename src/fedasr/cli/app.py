"""Top-level typer app; each command group lives in its own small module."""

from __future__ import annotations

import typer

from fedasr.cli import data as data_commands
from fedasr.cli.report import report_command
from fedasr.cli.run import demo_command, eval_command, run_command, train_command
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


def main() -> None:  # pragma: no cover - thin wrapper used by `python -m fedasr`
    app()
