"""A worker: models cached per architecture, one view of the feature cache, built once.

Every executor runs clients through a WorkerContext: the serial executor holds one in the main
process, the process pool one per worker process, the Ray executor one per actor. It is the
`ClientContext` of the algorithms (algorithms/context.py): a client half asks it for the model
of its spec (built once per architecture, with its optimizer, and reused by every later client
of that architecture), for local training on the client's data, and for the client's data in
batches without training (a method's forward passes: FedKAD's knowledge, FedMD's posteriors),
or rows of another split the run loaded for its algorithm (the public set). Loading a starting
point is a copy into the model's flat buffer; the optimizer is reset, not rebuilt; nothing is
deep-copied per client.
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any, Protocol

import numpy as np
import torch

from fedasr.algorithms.base import ClientTask
from fedasr.algorithms.context import ClientFailure, SplitRows
from fedasr.algorithms.spec import ModelSpec
from fedasr.config import ExperimentConfig
from fedasr.data.batching import Batch, SpeechData, batch_rows, seconds_to_frames
from fedasr.data.bundle import SplitHandle
from fedasr.data.specaugment import SpecAugmentConfig
from fedasr.engine.outcomes import ClientTimedOut, NonFiniteUpdate
from fedasr.errors import ConfigError
from fedasr.models.conformer import ConformerCTC
from fedasr.models.dims import ConformerDims
from fedasr.models.flat import FlatModel, dims_key
from fedasr.train.local import LocalData, LocalPlan, LocalStats, NonFiniteLoss, local_train
from fedasr.train.noise import noise_in_round, with_noise
from fedasr.train.objective import Objective
from fedasr.train.step import make_optimizer, reset_optimizer

DEVICES = "'cpu', 'cuda' or 'cuda:N'"


def resolve_device(name: str) -> torch.device:
    """`executor.device` as a torch device, or a ConfigError that names the key when this
    machine cannot use it (checked when a run starts and again in every worker)."""
    try:
        device = torch.device(name)
    except RuntimeError:
        raise ConfigError(f"executor.device: got {name!r}; accepted: {DEVICES}") from None
    if device.type not in ("cpu", "cuda"):
        raise ConfigError(f"executor.device: got {name!r}; accepted: {DEVICES}")
    if device.type == "cuda" and not torch.cuda.is_available():
        raise ConfigError(
            f"executor.device: got {name!r} but CUDA is not available on this machine "
            "(torch.cuda.is_available() is False: no GPU, or a CPU-only torch build); "
            "use executor.device=cpu"
        )
    if device.type == "cuda" and (device.index or 0) >= torch.cuda.device_count():
        raise ConfigError(
            f"executor.device: got {name!r}; this machine has "
            f"{torch.cuda.device_count()} CUDA device(s)"
        )
    return device


def default_workers() -> int:
    """One worker per CPU core this process may use."""
    return max(1, len(os.sched_getaffinity(0)))


class DataConditions(Protocol):
    """A client's data conditions (corruptions, hidden transcripts, pseudo-labels): built in
    the main process (fedasr.client_data), applied on the worker before local training."""

    def prepare(
        self, model: ConformerCTC, data: SpeechData, task: ClientTask, rows: np.ndarray,
        max_frames: int,
    ) -> LocalData: ...  # fmt: skip


@dataclass(frozen=True)
class WorkerSpec:
    """A picklable recipe: every worker builds the same context from it."""

    config: dict[str, Any]
    dims: dict[str, Any]  # the run's main architecture, built when the worker starts
    train: SplitHandle
    threads: int = 1
    device: str = "cpu"
    conditions: DataConditions | None = None
    splits: dict[str, SplitHandle] = field(default_factory=dict)  # e.g. "public", opened lazily


@dataclass
class _Cached:
    model: FlatModel
    optimizer: torch.optim.Optimizer


class WorkerContext:
    def __init__(self, spec: WorkerSpec) -> None:
        torch.set_num_threads(spec.threads)
        self.spec = spec
        self.config = ExperimentConfig.model_validate(spec.config)
        self.device = resolve_device(spec.device)
        self.data = spec.train.open()
        client = self.config.client
        self.specaug = SpecAugmentConfig(**client.specaugment.model_dump())
        self.max_frames = seconds_to_frames(client.batch_seconds, self.data.store)
        self._models: dict[str, _Cached] = {}
        self.model(ModelSpec(ConformerDims(**spec.dims)))  # the main architecture, up front
        self.data_report: dict[str, float] = {}  # the last client's data statistics
        self._splits: dict[str, SpeechData] = {}
        # the last trained client's prepared data, so `batches` sees what `train` saw
        self._prepared: tuple[tuple[str, int, int], LocalData] | None = None

    # ------------------------------------------------------------------ ClientContext
    def model(self, spec: ModelSpec) -> FlatModel:
        key = dims_key(spec.dims)
        cached = self._models.get(key)
        if cached is None:
            model = FlatModel(spec.dims, self.device)
            client = self.config.client
            optimizer = make_optimizer(
                model.module.parameters(), client.optimizer, client.lr, client.momentum,
                client.weight_decay,
            )  # fmt: skip
            cached = self._models[key] = _Cached(model, optimizer)
        cached.model.module.frontend.requires_grad_(not spec.freeze_frontend)
        return cached.model

    def train(
        self,
        model: FlatModel,
        task: ClientTask,
        lr: float,
        objective: Objective,
        data: SplitRows | None = None,
        epochs: int | None = None,
    ) -> LocalStats:
        """Local epochs over the client's rows (or `data`) from its seeded data order, with the
        configured variational noise (whatever the algorithm: it is a step hook in front)."""
        source, local = self._source(model, task, data)
        torch.manual_seed(task.seed)  # dropout draws from the global generator
        optimizer = self._models[dims_key(model.dims)].optimizer
        reset_optimizer(optimizer, lr)
        noise = noise_in_round(self.config.client.variational_noise, task.round + 1)
        objective = with_noise(objective, noise, list(model.module.parameters()), task.seed)
        try:
            return local_train(
                model.module, optimizer, source, local.rows, self._plan(task, epochs),
                rng=np.random.default_rng(task.seed),
                generator=torch.Generator().manual_seed(task.seed), objective=objective,
                targets=local.targets, transform=local.transform,
                should_stop=self._deadline(task), stats=LocalStats(flops=local.flops),
            )  # fmt: skip
        except NonFiniteLoss as err:
            raise NonFiniteUpdate(f"client {task.client_id}: {err}") from None

    def batches(
        self, model: FlatModel, task: ClientTask, data: SplitRows | None = None
    ) -> Iterator[Batch]:
        """Deterministic length-sorted batches (no shuffling, no SpecAugment) on the device."""
        if data is None and self._prepared is not None and self._prepared[0] == _key(task):
            source, local = self.data, self._prepared[1]
        else:
            source, local = self._source(model, task, data)
        for rows in batch_rows(local.rows, source.lengths, self.max_frames):
            yield source.collate(rows, local.targets, local.transform).to(self.device)

    def split_size(self, split: str) -> int:
        return len(self._split(split))

    # ------------------------------------------------------------------ internals
    def _source(
        self, model: FlatModel, task: ClientTask, data: SplitRows | None
    ) -> tuple[SpeechData, LocalData]:
        """The split and rows a client trains on: its own after its data conditions, or the
        rows of another split as they are."""
        if data is not None:
            if len(data.rows) == 0:
                raise ClientFailure(f"client {task.client_id}: no rows of split {data.split!r}")
            return self._split(data.split), LocalData(np.asarray(data.rows), None)
        if len(task.rows) == 0:
            raise ClientFailure(f"client {task.client_id} has no utterances")
        local = self._local_data(model, task)
        if len(local.rows) == 0:
            raise ClientFailure(f"client {task.client_id}: no utterance has a (pseudo-)label")
        self._prepared = (_key(task), local)
        return self.data, local

    def _split(self, name: str) -> SpeechData:
        if name not in self._splits:
            handle = self.spec.splits.get(name)
            if handle is None:
                raise ClientFailure(f"split {name!r} was not loaded for this run's algorithm")
            self._splits[name] = handle.open()
        return self._splits[name]

    def _local_data(self, model: FlatModel, task: ClientTask) -> LocalData:
        conditions = self.spec.conditions
        if conditions is None:
            return LocalData(task.rows, None)
        local = conditions.prepare(model.module, self.data, task, task.rows, self.max_frames)
        self.data_report = local.report
        return local

    def _plan(self, task: ClientTask, epochs: int | None = None) -> LocalPlan:
        client = self.config.client
        depth = task.spec.depth if task.spec is not None else task.depth
        return LocalPlan(
            max_frames=self.max_frames, epochs=epochs or client.local_epochs,
            max_steps=client.max_steps,
            depth=depth, grad_clip=client.grad_clip, specaugment=self.specaug,
        )  # fmt: skip

    def _deadline(self, task: ClientTask) -> Callable[[LocalStats], bool] | None:
        """Checked after every step: past `client.timeout_s`, the client fails."""
        timeout = self.config.client.timeout_s
        if not timeout:
            return None
        deadline = time.perf_counter() + timeout

        def past_deadline(stats: LocalStats) -> bool:
            if time.perf_counter() > deadline:
                raise ClientTimedOut(f"client {task.client_id}: past client.timeout_s={timeout}")
            return False

        return past_deadline

    def take_data_report(self) -> dict[str, float]:
        """The last client's data statistics (pseudo-label counts), handed out once: the
        executor attaches them to that client's report, whatever the algorithm."""
        report, self.data_report = self.data_report, {}
        return report


def _key(task: ClientTask) -> tuple[str, int, int]:
    """One client in one round (its prepared data is reused only by the same task)."""
    return task.client_id, task.round, task.seed
