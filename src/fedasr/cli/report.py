"""`fedasr report RUN_DIR [RUN_DIR ...]`: plots, a summary table and a self-contained HTML page."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.markup import escape
from rich.table import Table

from fedasr.cli.errors import err_console, user_errors
from fedasr.report.metrics import ReportError

console = Console()


@user_errors
def report_command(
    run_dirs: Annotated[
        list[Path],
        typer.Argument(help="Run directories; the first is the baseline.", metavar="RUN_DIR"),
    ],
    out: Annotated[
        Path | None,
        typer.Option(
            help="Output directory (default: the run dir; for several runs reports/<timestamp>)."
        ),
    ] = None,
    metric: Annotated[
        str | None,
        typer.Option(
            help="Metric for cost plots, target, speed-up and WERR (default: heldout_wer, "
            "else test_wer)."
        ),
    ] = None,
    label: Annotated[
        list[str] | None,
        typer.Option(help="NAME=RUN_DIR: how a run is named in plots and tables (repeatable)."),
    ] = None,
    target: Annotated[
        float | None,
        typer.Option(
            "--target",
            "--target-wer",
            help="Target value of --metric, e.g. 0.3 for 30 % WER (default: the first run's "
            "best). The cost to reach it is given in every cost unit the runs log.",
        ),
    ] = None,
    cost_unit: Annotated[
        list[str] | None,
        typer.Option(
            help="Also plot --metric against this cumulative cost for all runs on one figure "
            "(repeatable): examples (cost C), audio_hours, flops, bytes_up, bytes_down, bytes, "
            "sim_hours (with devices:), rounds, wall_hours."
        ),
    ] = None,
) -> None:
    """Compare runs: WER vs rounds, bytes and client compute, loss, per-exit WER, a table."""
    from fedasr.report.build import write_report
    from fedasr.report.cost_section import HOW, cost_table, target_sentence
    from fedasr.report.table import summary_table, target_text

    labels = parse_labels(label or [], run_dirs)
    report = write_report(run_dirs, out, metric, labels, target, cost_unit or [])
    for note in report.notes:
        err_console.print(f"[yellow]warning:[/] {escape(note)}", highlight=False, soft_wrap=True)
    console.print(_transposed(*summary_table(report.rows, report.target)))
    console.print(target_text(report.target), soft_wrap=True)
    if report.cost_rows and report.cost_units:
        console.print(_transposed(*cost_table(report.cost_rows, report.cost_units)))
        console.print(f"cost to reach the target. {target_sentence(report.target)} {HOW}",
                      soft_wrap=True)  # fmt: skip
    console.print(f"{len(report.plots)} plots, report -> {report.html}", soft_wrap=True)


def parse_labels(specs: list[str], run_dirs: list[Path]) -> dict[Path, str]:
    """`NAME=RUN_DIR` pairs; RUN_DIR must be one of the runs given (compared after resolving)."""
    given = {path.resolve() for path in run_dirs}
    labels: dict[Path, str] = {}
    for spec in specs:
        name, sep, directory = spec.partition("=")
        if not sep or not name or not directory:
            raise ReportError(f"--label {spec}: expected NAME=RUN_DIR")
        path = Path(directory).resolve()
        if path not in given:
            raise ReportError(
                f"--label {spec}: {directory} is not one of the run directories given"
            )
        labels[path] = name
    return labels


def _transposed(headers: list[str], cells: list[list[str]]) -> Table:
    """One column per run: a terminal fits a few runs across, not sixteen metrics."""
    table = Table()
    table.add_column(headers[0])
    for row in cells:
        table.add_column(row[0], justify="right")
    for index, header in enumerate(headers[1:], start=1):
        table.add_row(header, *(row[index] for row in cells))
    return table
