"""Shared pieces of the federated-learning benchmarks (bench_dga, bench_adaptation,
bench_semi_supervised; round_match and weight_displacement use the tables): resumable runs, an
optional machine lock, spread statistics, Markdown tables.

A run whose directory already holds its last round is not run again: a benchmark interrupted
half-way continues where it stopped.

These benchmarks train for an hour or more. On a shared machine run them under its job queue,
or give `--lock PATH`: each group of runs then holds an exclusive lock on PATH (flock(2)) only
while it trains, so other jobs that take the same lock (`flock PATH CMD`) interleave between
the groups.
"""

from __future__ import annotations

import argparse
import fcntl
import statistics
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from fedasr.config import ExperimentConfig, load_config
from fedasr.engine.rundir import read_metrics
from fedasr.experiment import run_federated

REPO = Path(__file__).resolve().parents[1]


def add_lock_argument(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--lock", type=Path, default=None, metavar="PATH",
        help="hold an exclusive lock on this file while training (shared with `flock PATH "
        "CMD`), so heavy jobs on a shared machine take turns; default: no lock",
    )  # fmt: skip


def add_set_argument(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--set", nargs="+", default=[], metavar="KEY=VALUE",
        help="more config overrides for every run (a method's own settings still win)",
    )  # fmt: skip


@contextmanager
def heavy_lock(path: Path | None) -> Iterator[None]:
    """Hold an exclusive flock on `path` (None: nothing to hold)."""
    if path is None:
        yield
        return
    started = time.perf_counter()
    with path.open("a") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        waited = time.perf_counter() - started
        if waited >= 1:
            print(f"  waited {waited:.0f} s for the lock {path}", flush=True)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def finished(config: ExperimentConfig) -> bool:
    metrics = config.resolved_run_dir() / "metrics.jsonl"
    if not metrics.is_file():
        return False
    records = read_metrics(config.resolved_run_dir())
    return bool(records) and records[-1].get("round") == config.rounds.total


def run_once(
    base: Path | None, overrides: Sequence[str], *, lock: Path | None = None
) -> tuple[Path, float]:
    """Run (or resume, or skip if complete) one federated experiment; returns its directory
    and the wall seconds it trained in this call (0 when skipped). `lock`: hold that lock
    while training (None: the caller holds it for a group of runs, or there is none)."""
    config = load_config(base, list(overrides))
    run_dir = config.resolved_run_dir()
    if finished(config):
        return run_dir, 0.0
    resume = (run_dir / "checkpoints").is_dir()
    with heavy_lock(lock):
        started = time.perf_counter()
        run_federated(config, resume=resume, progress=False)
        seconds = time.perf_counter() - started
    print(f"  {run_dir}: {seconds:.0f} s", flush=True)
    return run_dir, seconds


def spread(values: Sequence[float | None], fmt: str = "{:.2f}") -> str:
    """'median (min–max)'; a missing value (never reached) sorts lowest and reads n/r."""
    if not values:
        return "—"
    ordered = sorted(values, key=lambda v: -float("inf") if v is None else v)
    show = [("n/r" if v is None else fmt.format(v)) for v in ordered]
    middle = ordered[len(ordered) // 2] if len(ordered) % 2 else None
    if len(ordered) % 2 == 0 and None not in ordered:
        middle = statistics.median([float(v) for v in ordered if v is not None])
    median = "n/r" if middle is None else fmt.format(middle)
    return f"{median} ({show[0]}–{show[-1]})"


def markdown_table(header: Sequence[str], rows: Sequence[Sequence[Any]]) -> str:
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    lines += ["| " + " | ".join(str(cell) for cell in row) + " |" for row in rows]
    return "\n".join(lines)
