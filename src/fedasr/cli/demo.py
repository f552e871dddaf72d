"""`fedasr demo`: the platform's main results, trained and reported in about ten minutes."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console

from fedasr.cli.errors import user_errors
from fedasr.cli.logging_setup import setup_logging

console = Console()


@user_errors
def demo_command(
    out: Annotated[Path, typer.Option(help="Where the five runs and the report go.")] = Path(
        "runs/demo"
    ),
    quiet: Annotated[bool, typer.Option("--quiet", "-q", help="No progress display.")] = False,
) -> None:
    """The main job: build a small spoken-digits corpus if missing, then train centralized,
    FedAvg, FedAvg with corrupted clients, FedAvg + DGA and early exit on device tiers (fixed
    rounds, about 10 minutes on 2 cores; finished runs in OUT are reused) and write one HTML
    report that tells the story."""
    from fedasr.demo import run_demo

    setup_logging()
    result = run_demo(out, progress=not quiet)
    reused = [name for name, outcome in result.outcomes.items() if outcome == "reused"]
    if reused:
        console.print(f"reused finished runs: {', '.join(reused)}")
    console.print(f"demo finished in {result.seconds / 60:.1f} min; report: {result.report}")
