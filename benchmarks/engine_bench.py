"""Shared pieces of the engine benchmarks (bench_overhead, bench_scale, bench_executors): one
base config with everything that is not training switched off, their common arguments (the
corpus, extra config overrides), round timing through the public API, the load average.

They time the machine, so run each alone — on a shared machine under its job queue:

    python -m benchmarks.bench_overhead --corpus CORPUS --runs 3
"""

from __future__ import annotations

import argparse
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from fedasr.config import ExperimentConfig, load_config
from fedasr.engine.loop import FederatedRun

REPO = Path(__file__).resolve().parents[1]
DEFAULT_CORPUS = REPO / "corpora" / "default"

# The tiny model, AdamW clients; no evaluation, no TensorBoard, and a checkpoint only after
# the last round (a run always writes one there).
ENGINE_BASE = [
    "data.synth_if_missing=null",
    "model.preset=tiny",
    "client.optimizer=adamw",
    "client.lr=0.003",
    "client.batch_seconds=15",
    "client.local_epochs=1",
    "executor.kind=serial",
    "executor.shards=4",
    "eval.every=100000",
    "eval.splits=[]",
    "logging.checkpoint_every=100000",
    "logging.tensorboard=false",
    "logging.progress=false",
]


def add_engine_arguments(parser: argparse.ArgumentParser) -> None:
    """--corpus and --set, the same for every engine benchmark."""
    parser.add_argument(
        "--corpus", type=Path, default=DEFAULT_CORPUS,
        help="a built corpus (`fedasr data synth --out DIR`; the documented figures use "
        "`--size default`); default: corpora/default in this repository",
    )  # fmt: skip
    parser.add_argument(
        "--set", nargs="+", default=[], metavar="KEY=VALUE",
        help="config overrides for every run, after the benchmark's own (e.g. a smaller model)",
    )  # fmt: skip


def engine_config(corpus: str | Path, run_dir: str | Path, *overrides: str) -> ExperimentConfig:
    return load_config(
        None, [f"data.corpus={Path(corpus).resolve()}", *ENGINE_BASE, f"run_dir={run_dir}",
               *overrides],
    )  # fmt: skip


def loadavg() -> str:
    """/proc/loadavg as it reads (1-, 5-, 15-minute load, runnable/total tasks, last pid)."""
    return Path("/proc/loadavg").read_text().strip()


def load1() -> float:
    return float(loadavg().split()[0])


@dataclass
class RoundTimes:
    startup_s: float  # executor start (workers built, Ray actors started)
    rounds_s: list[float]  # every round, the first (warm-up) included

    @property
    def steady(self) -> list[float]:
        return self.rounds_s[1:] or self.rounds_s


def time_rounds(run: FederatedRun, rounds: int) -> RoundTimes:
    """Start the run's executor (its config's `executor.kind` and `workers`), run `rounds`
    rounds through the engine, close it."""
    started = time.perf_counter()
    times = []
    with run.executing():
        startup = time.perf_counter() - started
        for r in range(rounds):
            started = time.perf_counter()
            run.run_round(r)
            times.append(time.perf_counter() - started)
    return RoundTimes(startup, times)


def fit_line(xs: Sequence[float], ys: Sequence[float]) -> tuple[float, float, float]:
    """Least squares y = a + b x: (a, b, R²)."""
    x, y = np.asarray(xs, dtype=float), np.asarray(ys, dtype=float)
    b, a = np.polyfit(x, y, 1)
    residual = float(((y - (a + b * x)) ** 2).sum())
    total = float(((y - y.mean()) ** 2).sum()) or 1.0
    return float(a), float(b), 1.0 - residual / total
