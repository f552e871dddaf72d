"""`fedasr reproduce list|run NAME`: the experiments behind every figure in docs/."""

from __future__ import annotations

import os
from typing import Annotated

import typer
from rich.console import Console
from rich.table import Table

from fedasr.cli.errors import user_errors
from fedasr.cli.logging_setup import setup_logging

console = Console()
reproduce_app = typer.Typer(
    no_args_is_help=True,
    help="List or run the experiments behind docs/benchmarks.md and docs/results/*.md.",
)


@reproduce_app.command("list")
@user_errors
def list_command() -> None:
    """Each experiment, the doc it feeds, its expected time on 2 cores and its runs' state."""
    from fedasr.reproduce import load_catalog, repository_root, run_states

    root = repository_root()
    os.chdir(root)  # the catalog's run directories are relative to the checkout
    catalog = load_catalog(root)
    table = Table(title=f"experiments ({root / 'benchmarks' / 'experiments.yaml'})")
    for column in ("name", "feeds", "expected", "what", "runs finished"):
        table.add_column(column, overflow="fold")
    for experiment in catalog.experiments:
        states = run_states(experiment, root)
        finished = sum(state == "finished" for state in states.values())
        table.add_row(
            experiment.name, experiment.doc, f"{experiment.minutes:g} min", experiment.about,
            f"{finished}/{len(states)}" if states else "(script)",
        )  # fmt: skip
    console.print(table)
    total = sum(e.minutes for e in catalog.experiments)
    console.print(f"all: about {total / 60:.1f} h. Run one: fedasr reproduce run NAME (or all)")


@reproduce_app.command("run")
@user_errors
def run_command(
    name: Annotated[str, typer.Argument(help="An experiment of `fedasr reproduce list`, or all.")],
    dry_run: Annotated[
        bool, typer.Option("--dry-run", help="Print what would run, run nothing.")
    ] = False,
    quiet: Annotated[bool, typer.Option("--quiet", "-q", help="No progress display.")] = False,
) -> None:
    """Train the experiment's missing runs (finished ones are reused), then rebuild its
    tables and plots."""
    from fedasr.reproduce import load_catalog, repository_root, reproduce

    setup_logging()
    root = repository_root()
    os.chdir(root)
    catalog = load_catalog(root)
    chosen = catalog.experiments if name == "all" else [catalog.find(name)]
    for experiment in chosen:
        minutes = f"~{experiment.minutes:g} min"
        console.print(f"[bold]{experiment.name}[/]: {experiment.about} ({minutes})")
        outcome = reproduce(experiment, root, dry_run=dry_run, progress=not quiet)
        for run_dir, what in outcome.runs.items():
            console.print(f"  {run_dir}: {what}")
        if not dry_run:
            console.print(f"  {outcome.steps} step(s) done in {outcome.seconds / 60:.1f} min")
