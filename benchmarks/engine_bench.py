"""Shared pieces of the engine benchmarks (bench_overhead, bench_scale, bench_executors): one
base config with everything that is not training switched off, round timing, the load average.

Run each benchmark under the machine's heavy-job lock:
    flock /tmp/fedasr-heavy.lock python benchmarks/bench_<name>.py
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from fedasr.config import ExperimentConfig, load_config
from fedasr.engine.executors import make_executor
from fedasr.engine.loop import FederatedRun
from fedasr.experiment import build_run

REPO = Path(__file__).resolve().parents[1]

# The default corpus, the tiny model, AdamW clients; no evaluation, no TensorBoard, and a
# checkpoint only after the last round (a run always writes one there).
ENGINE_BASE = [
    f"data.corpus={REPO / 'corpora' / 'default'}",
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


def engine_config(run_dir: str | Path, *overrides: str) -> ExperimentConfig:
    return load_config(None, [*ENGINE_BASE, f"run_dir={run_dir}", *overrides])


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


def time_rounds(run: FederatedRun, kind: str, workers: int, rounds: int) -> RoundTimes:
    """Start an executor, run `rounds` rounds through the engine, close it."""
    started = time.perf_counter()
    spec = run.parts.worker
    run.executor = make_executor(kind, spec, workers, run.config.executor.ray_address)
    startup = time.perf_counter() - started
    times = []
    try:
        for r in range(rounds):
            started = time.perf_counter()
            run.run_round(r)
            times.append(time.perf_counter() - started)
    finally:
        run.executor.close()
    return RoundTimes(startup, times)


def fit_line(xs: Sequence[float], ys: Sequence[float]) -> tuple[float, float, float]:
    """Least squares y = a + b x: (a, b, R²)."""
    x, y = np.asarray(xs, dtype=float), np.asarray(ys, dtype=float)
    b, a = np.polyfit(x, y, 1)
    residual = float(((y - (a + b * x)) ** 2).sum())
    total = float(((y - y.mean()) ** 2).sum()) or 1.0
    return float(a), float(b), 1.0 - residual / total
