"""Shared pieces of the federated-learning benchmarks (bench_dga, bench_adaptation,
bench_semi_supervised): the shared-machine lock, resumable runs, spread statistics.

Every run holds /tmp/fedasr-heavy.lock (the same lock as `flock /tmp/fedasr-heavy.lock CMD`)
only while it trains, so other heavy jobs on the machine interleave between runs. A run whose
directory already holds its last round is not run again: a benchmark interrupted half-way
continues where it stopped.

To run a whole benchmark in one turn on the machine, take the lock outside and say so:
`flock /tmp/fedasr-heavy.lock env FEDASR_HEAVY_LOCK_HELD=1 python benchmarks/...` (the inner
locks are then skipped, which would otherwise wait for the outer one forever).
"""

from __future__ import annotations

import fcntl
import os
import statistics
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager, nullcontext
from pathlib import Path
from typing import Any

from fedasr.config import ExperimentConfig, load_config
from fedasr.experiment import run_federated
from fedasr.engine.rundir import read_metrics

LOCK = Path("/tmp/fedasr-heavy.lock")
REPO = Path(__file__).resolve().parents[1]


@contextmanager
def heavy_lock() -> Iterator[float]:
    """Hold the machine's heavy-job lock; yields the seconds spent waiting for it. With
    FEDASR_HEAVY_LOCK_HELD=1 a parent process already holds it: nothing to do."""
    if os.environ.get("FEDASR_HEAVY_LOCK_HELD") == "1":
        yield 0.0
        return
    started = time.perf_counter()
    with LOCK.open("a") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield time.perf_counter() - started
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def finished(config: ExperimentConfig) -> bool:
    metrics = config.resolved_run_dir() / "metrics.jsonl"
    if not metrics.is_file():
        return False
    records = read_metrics(config.resolved_run_dir())
    return bool(records) and records[-1].get("round") == config.rounds.total


def run_once(
    base: Path | None, overrides: Sequence[str], *, locked: bool = False
) -> tuple[Path, float]:
    """Run (or resume, or skip if complete) one federated experiment; returns its directory
    and the wall seconds it trained in this call (0 when skipped). `locked`: the caller
    already holds the heavy-job lock (a group of short runs takes it once)."""
    config = load_config(base, list(overrides))
    run_dir = config.resolved_run_dir()
    if finished(config):
        return run_dir, 0.0
    resume = (run_dir / "checkpoints").is_dir()
    with nullcontext(0.0) if locked else heavy_lock() as waited:
        started = time.perf_counter()
        run_federated(config, resume=resume, progress=False)
        seconds = time.perf_counter() - started
    print(f"  {run_dir}: {seconds:.0f} s (waited {waited:.0f} s for the lock)", flush=True)
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
