"""The experiment the Ray tests run, shared by the test module and the cluster driver script."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

from fedasr.algorithms.base import RoundAccumulator
from fedasr.algorithms.registry import build_algorithm
from fedasr.algorithms.spec import MAIN
from fedasr.config import ExperimentConfig
from fedasr.engine.cohort import make_tasks, plan_shards, sample_cohort
from fedasr.engine.executors import Executor
from fedasr.experiment.setup import Setup

TINY = (
    "{d_model: 32, layers: 2, exits: [2], heads: 2, head_size: 16, ffn: 64, "
    "conv_channels: 32, subsampling_channels: 8}"
)
ROUNDS = 3


def mini_overrides(corpus: Path, root: Path) -> list[str]:
    """Three clients a round in three shards, so two actors share the work unevenly."""
    return [
        f"data.corpus={corpus}", "data.synth_if_missing=null", f"model.overrides={TINY}",
        "rounds.clients_per_round=3", "executor.shards=3", "executor.workers=2",
        "client.max_steps=2", f"run_dir={root / 'run'}",
    ]  # fmt: skip


class Rounds:
    """The round loop's arithmetic — cohort, shard plan, merge in shard order, server step —
    without its run dir, evaluation and checkpoints."""

    def __init__(self, config: ExperimentConfig, setup: Setup) -> None:
        self.config, self.setup = config, setup
        self.algorithm = build_algorithm(config, setup.dims)
        self.server = self.algorithm.server.init({MAIN: setup.init_params.clone()})

    def run(self, executor: Executor, r: int) -> RoundAccumulator:
        config, registry, halves = self.config, self.setup.registry, self.algorithm
        clients = range(len(registry))
        cohort = sample_cohort(config.seed, r, 0, clients, config.rounds.clients_per_round)
        tasks = [
            replace(task, spec=halves.server.spec_for(task))
            for task in make_tasks(registry, cohort, config.seed, r)
        ]
        shards = plan_shards(tasks, config.executor.shards)
        broadcast = halves.server.broadcast(self.server, r, config.client.lr)
        total = RoundAccumulator.for_broadcast(broadcast)
        for partial in executor.run(shards, broadcast, halves.client):
            total.merge(partial)
        if total.succeeded:
            self.server, _ = halves.server.update(self.server, total)
        return total


def train(executor: Executor, config: ExperimentConfig, setup: Setup) -> Rounds:
    rounds = Rounds(config, setup)
    for r in range(ROUNDS):
        succeeded = rounds.run(executor, r).succeeded
        assert succeeded == 3, f"round {r}: {succeeded} of 3 clients succeeded"
    return rounds
