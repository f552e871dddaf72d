"""Engine overhead: an FL run of R rounds through fedasr's engine ÷ the same SGD steps on the
same batches, in the same order, in a plain PyTorch training loop (same model, one thread).

    python -m benchmarks.bench_overhead --corpus CORPUS --runs 3
    python -m benchmarks.bench_overhead --corpus CORPUS --regime one-step --profile  # cProfile

CORPUS: the default corpus (`fedasr data synth --out CORPUS --size default`) for the figures
in docs/benchmarks.md. Run it alone on the machine (on a shared one, under its job queue).

The plain loop gets the engine's batch plan (cohorts, shard order, each client's seeded batch
order) computed beforehand, untimed, from the engine's own pieces (sample_cohort, make_tasks,
plan_shards, batch_rows as train/local.py draws them); it times only what any training loop
does: collate, SpecAugment, forward, CTC over the exits, backward, clipping, AdamW step, one
`.item()` per step. The FL side times `build_run(config).execute()` (worker start, every round,
the final checkpoint and model export) with evaluation off; setup (`build_run`: data,
tokenizer) is reported apart. The two alternate A/B, B/A in one process; the ratio is taken per
pair, then its median.
"""

from __future__ import annotations

import argparse
import cProfile
import itertools
import os
import pstats
import statistics
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F

from benchmarks.engine_bench import add_engine_arguments, engine_config, loadavg
from fedasr.config import ExperimentConfig
from fedasr.data.batching import Batch, SpeechData, batch_rows, seconds_to_frames
from fedasr.data.specaugment import SpecAugmentConfig, spec_augment
from fedasr.engine.cohort import make_tasks, plan_shards, sample_cohort
from fedasr.engine.loop import FederatedRun, RunSummary
from fedasr.engine.rundir import read_metrics
from fedasr.experiment import build_run
from fedasr.models.conformer import build_model

REGIMES = {
    # real work: one local epoch of a speaker client (100 utterances, ~20 steps of 15 s)
    "real": ["rounds.total=2", "rounds.clients_per_round=4"],
    # the engine's worst case: every client takes one step
    "one-step": ["rounds.total=10", "rounds.clients_per_round=10", "client.max_steps=1"],
}


@dataclass
class ClientPlan:
    seed: int
    lr: float
    batches: list[list[int]]


@dataclass(frozen=True)
class Bench:
    corpus: Path
    root: str  # where the runs' directories go (a temporary directory)
    overrides: list[str]  # --set


def regime_config(bench: Bench, regime: str, run_dir: str) -> ExperimentConfig:
    overrides = ["partition.scheme=speaker", *REGIMES[regime], *bench.overrides]
    return engine_config(bench.corpus, run_dir, *overrides)


def client_batches(
    rows: np.ndarray, data: SpeechData, max_frames: int, seed: int, config: ExperimentConfig
) -> list[list[int]]:
    """The batches a client's local training draws (fedasr.train.local.local_train: epochs of
    `batch_rows` from the client's seeded generator, cut at `client.max_steps`), in order."""
    rng = np.random.default_rng(seed)
    limit = config.client.max_steps
    epochs = (batch_rows(rows, data.lengths, max_frames, rng)
              for _ in range(config.client.local_epochs))  # fmt: skip
    return list(itertools.islice(itertools.chain.from_iterable(epochs), limit))


def batch_plan(run: FederatedRun, data: SpeechData, max_frames: int) -> list[ClientPlan]:
    """Every client update of the run, in the order the serial executor trains them: the
    cohort of each round's first attempt among the eligible clients, cut into the shard plan."""
    config, registry = run.config, run.parts.registry
    plans = []
    for r in range(config.rounds.total):
        cohort = sample_cohort(config.seed, r, 0, run.eligible(r), config.rounds.clients_per_round)
        tasks = make_tasks(registry, cohort, config.seed, r)
        for shard in plan_shards(tasks, config.executor.shards):
            for task in shard:
                batches = client_batches(task.rows, data, max_frames, task.seed, config)
                plans.append(ClientPlan(task.seed, run.client_lr(r), batches))
    return plans


def ctc_sum(log_probs: torch.Tensor, lengths: torch.Tensor, batch: Batch) -> torch.Tensor:
    return F.ctc_loss(
        log_probs.transpose(0, 1), batch.targets, lengths, batch.target_lens,
        reduction="sum", zero_infinity=True,
    )  # fmt: skip


def plain_loop(run: FederatedRun, data: SpeechData, plans: list[ClientPlan]) -> tuple[int, float]:
    """A hand-written training loop over the same batches; returns (steps, seconds)."""
    config = run.config
    model = build_model(run.dims, seed=config.seed)
    model.train()
    optimizer = torch.optim.AdamW(model.parameters(), lr=config.client.lr)
    specaug = SpecAugmentConfig(**config.client.specaugment.model_dump())
    clip = config.client.grad_clip or float("inf")
    steps, started = 0, time.perf_counter()
    for plan in plans:
        torch.manual_seed(plan.seed)
        generator = torch.Generator().manual_seed(plan.seed)
        for group in optimizer.param_groups:
            group["lr"] = plan.lr
        for rows in plan.batches:
            batch = data.collate(rows)
            feats = spec_augment(batch.feats, batch.feat_lens, specaug, generator)
            output = model(feats, batch.feat_lens)
            loss = torch.stack(
                [ctc_sum(lp, output.lengths, batch) for lp in output.log_probs]
            ).sum()
            optimizer.zero_grad(set_to_none=True)
            (loss / batch.size).backward()
            torch.nn.utils.clip_grad_norm_(model.parameters(), clip)
            optimizer.step()
            loss.item()
            steps += 1
    return steps, time.perf_counter() - started


@dataclass
class Pair:
    fl_s: float
    plain_s: float
    setup_s: float
    load: float

    @property
    def ratio(self) -> float:
        return self.fl_s / self.plain_s


def prepared_run(bench: Bench, regime: str, index: int) -> tuple[FederatedRun, float]:
    started = time.perf_counter()
    config = regime_config(bench, regime, f"{bench.root}/{regime}{index}")
    run = build_run(config, progress=False)
    return run, time.perf_counter() - started


def timed_fl(run: FederatedRun) -> tuple[float, RunSummary]:
    started = time.perf_counter()
    summary = run.execute()
    return time.perf_counter() - started, summary


def check_same_work(summary: RunSummary, plain_steps: int) -> None:
    records = read_metrics(summary.run_dir)
    fl_steps = sum(record["cost"]["steps"] for record in records)
    if fl_steps != plain_steps:
        raise SystemExit(f"different work: FL took {fl_steps} steps, the plain loop {plain_steps}")


def measure(bench: Bench, regime: str, runs: int) -> Iterator[Pair]:
    for index in range(runs):
        run, setup_s = prepared_run(bench, regime, index)
        data = run.parts.worker.train.open()
        max_frames = seconds_to_frames(run.config.client.batch_seconds, data.store)
        plans = batch_plan(run, data, max_frames)
        load = os.getloadavg()[0]
        if index % 2 == 0:  # alternate which side goes first
            fl_s, summary = timed_fl(run)
            steps, plain_s = plain_loop(run, data, plans)
        else:
            steps, plain_s = plain_loop(run, data, plans)
            fl_s, summary = timed_fl(run)
        check_same_work(summary, steps)
        pair = Pair(fl_s, plain_s, setup_s, load)
        print(
            f"  {regime} run {index + 1}: FL {fl_s:.2f} s, plain {plain_s:.2f} s, "
            f"ratio {pair.ratio:.3f} ({steps} steps, {len(plans)} client updates; "
            f"setup {setup_s:.1f} s; load {load:.2f})",
            flush=True,
        )
        yield pair


def profile(bench: Bench, regime: str) -> None:
    run, _ = prepared_run(bench, regime, 999)
    profiler = cProfile.Profile()
    profiler.runcall(run.execute)
    stats = pstats.Stats(profiler).sort_stats("cumulative")
    stats.print_stats(40)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--regime", choices=[*REGIMES, "both"], default="both")
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--profile", action="store_true", help="cProfile one FL run instead")
    add_engine_arguments(parser)
    args = parser.parse_args()
    torch.set_num_threads(1)
    torch.optim.AdamW([torch.zeros(1, requires_grad=True)])  # the first one imports dynamo (2 s)
    regimes = list(REGIMES) if args.regime == "both" else [args.regime]
    print(f"/proc/loadavg at start: {loadavg()}")
    with tempfile.TemporaryDirectory(prefix="bench-overhead-") as root:
        bench = Bench(args.corpus, root, args.set)
        if args.profile:
            for regime in regimes:
                profile(bench, regime)
            return
        rows = []
        for regime in regimes:
            pairs = list(measure(bench, regime, args.runs))
            rows.append((regime, pairs))
    print("\n| regime | FL run (median) | plain loop (median) | ratio: median (per pair) | load |")
    print("|---|---|---|---|---|")
    for regime, pairs in rows:
        ratios = ", ".join(f"{p.ratio:.3f}" for p in pairs)
        loads = ", ".join(f"{p.load:.2f}" for p in pairs)
        fl = statistics.median(p.fl_s for p in pairs)
        plain = statistics.median(p.plain_s for p in pairs)
        median_ratio = statistics.median(p.ratio for p in pairs)
        print(
            f"| {regime} | {fl:.2f} s | {plain:.2f} s | **{median_ratio:.3f}** ({ratios}) "
            f"| {loads} |"
        )
    print(f"/proc/loadavg at end: {loadavg()}")


if __name__ == "__main__":
    main()
