"""`fedasr sweep CONFIG --grid GRID.yaml`: a grid of runs; finished ones are reused."""

from __future__ import annotations

import json
import os
from fnmatch import fnmatch
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.console import Console

from fedasr.cli.errors import user_errors
from fedasr.cli.logging_setup import setup_logging
from fedasr.cli.run import OverridesArg, QuietOpt
from fedasr.errors import ConfigError

console = Console()
INDEX = "sweep.jsonl"


@user_errors
def sweep_command(
    config: Annotated[Path, typer.Argument(help="Experiment YAML every run starts from.")],
    grid: Annotated[Path, typer.Option(help="Grid YAML (see configs/sweeps/).")],
    overrides: OverridesArg = None,
    out: Annotated[
        Path | None, typer.Option(help="Where the runs go (default runs/sweeps/GRID-NAME).")
    ] = None,
    only: Annotated[
        list[str] | None,
        typer.Option(
            help="Run only runs whose name matches this glob, e.g. 'seed=0_*' "
            "(repeatable): a long grid as several queued jobs."
        ),
    ] = None,
    dry_run: Annotated[
        bool, typer.Option(help="List the runs and whether each is new, partial or finished.")
    ] = False,
    quiet: QuietOpt = False,
) -> None:
    """Run every combination of a grid (e.g. p x local epochs x seeds), one run directory
    each: a finished run is skipped, an interrupted one resumed, so the same command continues
    a stopped sweep. OUT/sweep.jsonl lists each run's directory and values."""
    from fedasr.config import load_config
    from fedasr.tune.grid import grid_configs, load_grid
    from fedasr.tune.runs import config_differences, run_or_resume, run_state

    setup_logging()
    fixed = list(overrides or [])
    every = load_grid(grid)
    runs = [r for r in every if not only or any(fnmatch(r.name, p) for p in only)]
    if not runs:
        raise ConfigError(f"--only {' '.join(only or [])}: no run of {grid} matches")
    out_dir = out or Path("runs/sweeps") / grid.stem
    configs = grid_configs(runs, out_dir, lambda values: load_config(config, fixed, values))
    states = [run_state(c.resolved_run_dir(), c) for c in configs]
    for run, state, cfg in zip(runs, states, configs, strict=True):
        clash = config_differences(cfg.resolved_run_dir(), cfg) if state != "new" else []
        note = f"  [red]holds another config: {clash[0]}[/]" if clash else ""
        console.print(f"{state:>8}  {run.name}{note}", soft_wrap=True)
    counts = ", ".join(f"{states.count(s)} {s}" for s in ("finished", "partial", "new"))
    console.print(f"{len(runs)} runs: {counts} -> {out_dir}")
    if dry_run:
        return
    out_dir.mkdir(parents=True, exist_ok=True)
    _write_index(out_dir / INDEX, [{"name": r.name, "run_dir": str(out_dir / r.name),
                                    "values": r.values} for r in every])  # fmt: skip
    for run, cfg in zip(runs, configs, strict=True):
        state, summary = run_or_resume(cfg, progress=not quiet)
        done = "skipped (finished)" if summary is None else f"{summary.rounds} rounds"
        console.print(f"{run.name}: {'resumed, ' if state == 'partial' else ''}{done}")


def _write_index(path: Path, rows: list[dict[str, Any]]) -> None:
    partial = path.with_suffix(".jsonl.tmp")
    partial.write_text("".join(json.dumps(row) + "\n" for row in rows), encoding="utf-8")
    os.replace(partial, path)
