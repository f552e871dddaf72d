"""A worker: one model, one optimizer, one view of the feature cache, built once and reused.

Every executor runs clients through a WorkerContext: the serial executor holds one in the main
process, the process pool one per worker process, the Ray executor one per actor. Loading a
client's starting point is a copy into the flat parameter buffer; the optimizer is reset, not
rebuilt; nothing is deep-copied per client.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import torch

from fedasr.algorithms.base import ClientTask
from fedasr.client_data.local import ClientDataView
from fedasr.config import ExperimentConfig
from fedasr.data.batching import batch_rows, seconds_to_frames
from fedasr.data.bundle import SplitHandle
from fedasr.data.specaugment import SpecAugmentConfig
from fedasr.engine.flat import ParamLayout, bind_flat
from fedasr.engine.outcomes import ClientTimedOut, NonFiniteUpdate
from fedasr.errors import ConfigError, FedasrError
from fedasr.models.conformer import build_model
from fedasr.models.dims import ConformerDims
from fedasr.models.flops import batch_flops
from fedasr.train.step import make_optimizer, reset_optimizer, train_step


class ClientFailure(FedasrError):
    """A client that cannot contribute this round (timeout, non-finite loss, no data)."""


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


@dataclass(frozen=True)
class WorkerSpec:
    """A picklable recipe: every worker builds the same context from it."""

    config: dict[str, Any]
    dims: dict[str, Any]
    train: SplitHandle
    threads: int = 1
    device: str = "cpu"
    extras: dict[str, Any] = field(default_factory=dict)


@dataclass
class LocalStats:
    steps: int = 0
    examples: int = 0
    frames: int = 0
    loss_sum: float = 0.0
    flops: float = 0.0
    audio_seconds: float = 0.0


class WorkerContext:
    def __init__(self, spec: WorkerSpec) -> None:
        from fedasr.algorithms.registry import build_algorithm

        torch.set_num_threads(spec.threads)
        self.spec = spec
        self.config = ExperimentConfig.model_validate(spec.config)
        self.dims = ConformerDims(**spec.dims)
        self.device = resolve_device(spec.device)
        self.model = build_model(self.dims).to(self.device)
        self.layout = ParamLayout.of(self.model, self.dims)
        self.flat = bind_flat(self.model, self.layout)  # on self.device
        client = self.config.client
        self.optimizer = make_optimizer(
            self.model.parameters(),
            client.optimizer,
            client.lr,
            client.momentum,
            client.weight_decay,
        )
        self.data = spec.train.open()
        self.specaug = SpecAugmentConfig(**client.specaugment.model_dump())
        self.max_frames = seconds_to_frames(client.batch_seconds, self.data.store)
        self.algorithm = build_algorithm(self.config)
        # corrupted clients, hidden transcripts, pseudo-labels (fedasr.client_data)
        self.client_data = ClientDataView(spec.extras, self.config)
        self.data_report: dict[str, float] = {}  # the last client's data statistics

    def load(self, params: torch.Tensor) -> None:
        self.flat.copy_(params, non_blocking=True)  # host to device; ordered before any step

    def take_data_report(self) -> dict[str, float]:
        """The last client's data statistics (pseudo-label counts), handed out once: the
        executor attaches them to that client's report, whatever the algorithm."""
        report, self.data_report = self.data_report, {}
        return report

    def local_train(
        self,
        task: ClientTask,
        lr: float,
        *,
        after_backward: Callable[[], None] | None = None,
        extra_loss: Any = None,
        rows: np.ndarray | None = None,
        targets: Any = None,
    ) -> LocalStats:
        """Local epochs over the client's rows from its seeded data order; raises ClientFailure
        on a non-finite loss or when the client runs past `client.timeout_s`."""
        client = self.config.client
        rows = task.rows if rows is None else rows
        if len(rows) == 0:
            raise ClientFailure(f"client {task.client_id} has no utterances")
        local = self.client_data.prepare(self, task, rows, targets)
        self.data_report = local.report
        if len(local.rows) == 0:
            raise ClientFailure(f"client {task.client_id}: no utterance has a (pseudo-)label")
        rows, targets = local.rows, local.targets
        rng = np.random.default_rng(task.seed)
        generator = torch.Generator().manual_seed(task.seed)
        torch.manual_seed(task.seed)  # dropout draws from the global generator
        reset_optimizer(self.optimizer, lr)
        deadline = time.perf_counter() + client.timeout_s if client.timeout_s else None
        frozen = not any(p.requires_grad for p in self.model.frontend.parameters())
        stats = LocalStats(flops=local.flops)  # pseudo-labelling is client compute too
        for _ in range(client.local_epochs):
            for batch_rows_ in batch_rows(rows, self.data.lengths, self.max_frames, rng):
                if client.max_steps is not None and stats.steps >= client.max_steps:
                    return stats
                batch = self.data.collate(batch_rows_, targets, local.transform)
                result = train_step(
                    self.model, self.optimizer, batch, depth=task.depth,
                    exit_weights=client.exit_weights, grad_clip=client.grad_clip,
                    specaugment=self.specaug, generator=generator,
                    extra_loss=extra_loss, after_backward=after_backward,
                )  # fmt: skip
                if not result.finite:
                    raise NonFiniteUpdate(
                        f"client {task.client_id}: non-finite loss at step {stats.steps}"
                    )
                padded = int(batch.feats.shape[1])
                stats.steps += 1
                stats.examples += result.utterances
                stats.frames += result.frames
                stats.loss_sum += result.loss_sum
                stats.audio_seconds += batch.audio_seconds
                stats.flops += batch_flops(
                    self.dims, batch.size, padded, task.depth, train=True, frozen_frontend=frozen
                )
                if deadline is not None and time.perf_counter() > deadline:
                    raise ClientTimedOut(
                        f"client {task.client_id}: past client.timeout_s={client.timeout_s}"
                    )
        return stats
