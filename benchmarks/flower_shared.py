"""What the fedasr and the Flower side of bench_flower share: the regimes, the cohort plan and
the client trainer a Flower ClientApp calls (no flwr import here).

Both sides train a client with fedasr's own code — `FedAvg.client_update` on a long-lived
`WorkerContext` — from the same global weights, with the same task (client rows, per-round
seed, learning rate), so a client's update is the same on both sides; only the engine around
it (scheduling, transport, aggregation) differs.
"""

from __future__ import annotations

import pickle
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch

from fedasr.algorithms.base import (
    Broadcast,
    ClientCost,
    ClientResult,
    RoundAccumulator,
    ServerState,
)
from fedasr.algorithms.registry import build_algorithm
from fedasr.config import ExperimentConfig, load_config
from fedasr.engine.cohort import ClientRegistry, make_tasks, plan_shards, sample_cohort
from fedasr.models.flat import ParamLayout
from fedasr.engine.worker import WorkerContext, WorkerSpec
from fedasr.train.schedule import scheduled_lr

CORPUS = "/work/corpora/default"

# Both regimes: the tiny preset, one client per training speaker, FedAvg weighted by examples.
COMMON = [
    f"data.corpus={CORPUS}",
    "data.synth_if_missing=null",
    "partition.scheme=speaker",
    "model.preset=tiny",
    "client.optimizer=adamw",
    "client.lr=0.003",
    "client.batch_seconds=15",
    "algorithm.name=fedavg",
    "algorithm.weighting=examples",
    "server.optimizer=sgd",
    "server.lr=1.0",
    "executor.kind=process",
    "executor.workers=2",
    "executor.threads_per_worker=1",
    "logging.progress=false",
    "logging.tensorboard=false",
    "logging.checkpoint_every=1000",
]

REGIMES: dict[str, list[str]] = {
    # one local step on one utterance (batches of at most 3 s; the median utterance is 2.7 s)
    # per client: the engine's per-client cost dominates
    "small": ["client.max_steps=1", "client.batch_seconds=3", "rounds.clients_per_round=16"],
    # one local epoch of a speaker client (~100 utterances, ~20 steps): training dominates
    "compute": ["client.local_epochs=1", "rounds.clients_per_round=8"],
}


def bench_config(regime: str, rounds: int, run_dir: Path, extra: list[str]) -> ExperimentConfig:
    overrides = COMMON + REGIMES[regime] + [f"rounds.total={rounds}", f"run_dir={run_dir}"]
    return load_config(None, overrides + extra)


def cohort_of(config: ExperimentConfig, registry_size: int, round_index: int) -> list[int]:
    """The clients fedasr samples in a round (first attempt): Flower is given the same ones."""
    return sample_cohort(
        config.seed,
        round_index,
        0,
        list(range(registry_size)),
        config.rounds.clients_per_round,
    )


def client_lr(config: ExperimentConfig, round_index: int) -> float:
    client = config.client
    return scheduled_lr(client.lr, client.lr_schedule, round_index, config.rounds.total)


class FedasrAggregate:
    """fedasr's aggregation of a round's client weights, for the exactness check: the deltas
    summed shard by shard in fedasr's shard plan, in float64, then the server optimizer step;
    given the same client weights it reproduces fedasr's global weights bit for bit."""

    def __init__(self, config: ExperimentConfig, registry: ClientRegistry, layout: ParamLayout):
        self.config = config
        self.registry = registry
        self.layout = layout
        self.algorithm = build_algorithm(config)

    def __call__(
        self,
        round_index: int,
        params: torch.Tensor,
        clients: dict[int, tuple[torch.Tensor, int]],  # client index -> (weights, examples)
    ) -> torch.Tensor:
        tasks = make_tasks(self.registry, sorted(clients), self.config.seed, round_index)
        total = RoundAccumulator(self.layout.numel)
        for shard in plan_shards(tasks, self.config.executor.shards):
            partial = RoundAccumulator(self.layout.numel)
            for task in shard:
                weights, examples = clients[task.index]
                delta = params - weights
                result = ClientResult(task.client_id, delta, examples, 0, 0.0, ClientCost())
                self.algorithm.accumulate(partial, result)
            total.merge(partial)
        server_optimizer = self.algorithm.server_optimizer
        server = ServerState(params, server_optimizer.init_state(params))
        self.algorithm.server_update(server, total)
        return server.params


@dataclass
class TrainerRecipe:
    """Everything a Flower ClientApp needs to train any client, pickled once to a file that
    every Ray actor reads once (only its path travels with the ClientApp)."""

    spec: WorkerSpec
    registry: ClientRegistry
    seed: int

    def save(self, path: Path) -> None:
        path.write_bytes(pickle.dumps(self))

    @staticmethod
    def load(path: str) -> TrainerRecipe:
        recipe = pickle.loads(Path(path).read_bytes())
        assert isinstance(recipe, TrainerRecipe)
        return recipe


class ClientTrainer:
    """One reused WorkerContext per process (per Ray actor on the Flower side)."""

    def __init__(self, recipe: TrainerRecipe) -> None:
        self.recipe = recipe
        self.worker = WorkerContext(recipe.spec)

    def train(
        self, client_index: int, round_index: int, state: dict[str, Any], lr: float
    ) -> tuple[dict[str, torch.Tensor], int, float]:
        """Local training of one client from the global weights `state`; returns the client's
        weights (views of the worker's buffer: copy before the next client), its number of
        examples and its training loss per frame."""
        worker = self.worker
        params = worker.layout.flatten(state)
        task = make_tasks(self.recipe.registry, [client_index], self.recipe.seed, round_index)[0]
        result = worker.algorithm.client_update(worker, task, Broadcast(round_index, params, lr))
        return worker.layout.views(worker.flat), result.examples, result.loss_per_frame


_TRAINERS: dict[str, ClientTrainer] = {}


def trainer_for(recipe_path: str, *, reuse: bool = True) -> ClientTrainer:
    """The process's trainer for a recipe file: built on first use, then reused (`reuse`), or
    built afresh for every call (Flower's ephemeral-client pattern)."""
    if not reuse:
        return ClientTrainer(TrainerRecipe.load(recipe_path))
    if recipe_path not in _TRAINERS:
        _TRAINERS[recipe_path] = ClientTrainer(TrainerRecipe.load(recipe_path))
    return _TRAINERS[recipe_path]
