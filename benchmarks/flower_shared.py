"""What the fedasr and the Flower side of bench_flower share: the regimes, the cohort plan and
the client trainer a Flower ClientApp calls (no flwr import here).

Both sides train a client with fedasr's own code — the algorithm's client half,
`algorithm.client.update(ctx, task, broadcast)`, on a long-lived worker context — from the same
global weights, with the same task (client rows, per-round seed, model spec from the server
half's `spec_for`, learning rate), so a client's update is the same on both sides; only the
engine around it (scheduling, transport, aggregation) differs.
"""

from __future__ import annotations

import dataclasses
import pickle
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch

from fedasr.algorithms.base import Algorithm, Broadcast, ClientCost, ClientResult, RoundAccumulator
from fedasr.algorithms.registry import build_algorithm
from fedasr.algorithms.spec import MAIN
from fedasr.config import ExperimentConfig, load_config
from fedasr.engine.cohort import ClientRegistry, make_tasks, plan_shards, sample_cohort
from fedasr.engine.worker import WorkerContext, WorkerSpec
from fedasr.models.dims import ConformerDims
from fedasr.train.schedule import scheduled_lr

# Both regimes: the tiny preset, one client per training speaker, FedAvg weighted by examples.
COMMON = [
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


def bench_config(
    corpus: Path, regime: str, rounds: int, run_dir: Path, extra: list[str]
) -> ExperimentConfig:
    """The run of a regime; neither side evaluates (`eval.splits=[]`), both use its config."""
    overrides = [f"data.corpus={corpus}", *COMMON, *REGIMES[regime], "eval.splits=[]",
                 f"rounds.total={rounds}", f"run_dir={run_dir}"]  # fmt: skip
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
    """fedasr's aggregation of a round's client weights, for the exactness check: each
    client's delta folded by the client half shard by shard in fedasr's shard plan (float64
    running sums), the shards merged in order, then the server half's update; given the same
    client weights it reproduces fedasr's global weights bit for bit (server SGD, lr 1: the
    server optimizer keeps no state between rounds)."""

    def __init__(self, config: ExperimentConfig, registry: ClientRegistry, dims: ConformerDims):
        self.config = config
        self.registry = registry
        self.algorithm = build_algorithm(config, dims)

    def __call__(
        self,
        round_index: int,
        params: torch.Tensor,
        clients: dict[int, tuple[torch.Tensor, int]],  # client index -> (weights, examples)
    ) -> torch.Tensor:
        client, server = self.algorithm.client, self.algorithm.server
        state = server.init({MAIN: params})
        broadcast = server.broadcast(state, round_index, 0.0)
        tasks = make_tasks(self.registry, sorted(clients), self.config.seed, round_index)
        total = RoundAccumulator.for_broadcast(broadcast)
        for shard in plan_shards(tasks, self.config.executor.shards):
            partial = RoundAccumulator.for_broadcast(broadcast)
            for task in shard:
                weights, examples = clients[task.index]
                delta = params - weights
                result = ClientResult(task.client_id, delta, examples, 0, 0.0, ClientCost())
                client.fold(partial, result)
            total.merge(partial)
        state, _ = server.update(state, total)
        return state.main


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
    """One reused worker context per process (per Ray actor on the Flower side), driven by
    the run's algorithm: the server half names the task's model spec, the client half trains
    the client against the context (fedasr.algorithms.context.ClientContext)."""

    def __init__(self, recipe: TrainerRecipe) -> None:
        self.recipe = recipe
        self.worker = WorkerContext(recipe.spec)
        self.algorithm: Algorithm = build_algorithm(
            self.worker.config, ConformerDims(**recipe.spec.dims)
        )

    def train(
        self, client_index: int, round_index: int, state: dict[str, Any], lr: float
    ) -> tuple[dict[str, torch.Tensor], int, float]:
        """Local training of one client from the global weights `state`; returns the client's
        weights (views of the worker's buffer: copy before the next client), its number of
        examples and its training loss per frame."""
        registry, seed = self.recipe.registry, self.recipe.seed
        task = make_tasks(registry, [client_index], seed, round_index)[0]
        spec = self.algorithm.server.spec_for(task)
        task = dataclasses.replace(task, spec=spec)
        model = self.worker.model(spec)
        broadcast = Broadcast(round_index, {MAIN: model.layout.flatten(state)}, lr)
        result = self.algorithm.client.update(self.worker, task, broadcast)
        return model.layout.views(model.flat), result.examples, result.loss_per_frame


_TRAINERS: dict[str, ClientTrainer] = {}


def trainer_for(recipe_path: str, *, reuse: bool = True) -> ClientTrainer:
    """The process's trainer for a recipe file: built on first use, then reused (`reuse`), or
    built afresh for every call (Flower's ephemeral-client pattern)."""
    if not reuse:
        return ClientTrainer(TrainerRecipe.load(recipe_path))
    if recipe_path not in _TRAINERS:
        _TRAINERS[recipe_path] = ClientTrainer(TrainerRecipe.load(recipe_path))
    return _TRAINERS[recipe_path]
