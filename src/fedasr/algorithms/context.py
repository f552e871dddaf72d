"""What the client half of an algorithm may use on the worker it runs on.

The engine's worker implements this protocol; an algorithm imports nothing from the engine.
A client half typically does:

    model = ctx.model(task.spec)                    # built once per architecture, then cached
    held = held_coordinates(task.spec, model.layout, broadcast.params[...], broadcast.coords)
    model.load(held.start)                          # the client's starting point
    stats = ctx.train(model, task, broadcast.lr, objective)   # local epochs on its own data
    delta = held.trained.take(held.start) - held.trained.take(model.flat).cpu()

`train` runs the one local-training loop (fedasr.train.local) on the client's rows, after the
worker has applied the client's data conditions (corruptions, pseudo-labels); it raises
`ClientFailure` when the client cannot contribute (no data, a non-finite loss, past
`client.timeout_s`).

Methods that need more than training (FedKAD's per-label knowledge, FedMD's posteriors on a
public set) also use:

    for batch in ctx.batches(model, task):          # the client's data, as `train` saw it
        output = model.module(batch.feats, batch.feat_lens)     # no training, no SpecAugment
    ctx.train(model, task, lr, objective, data=SplitRows("public", rows), epochs=1)
    ctx.split_size("public")                        # rows 0 .. n-1 of that split

`data` names rows of another split the worker holds (the server's `public` set, loaded when
the algorithm asks for it, `Entry.splits`): no data conditions apply to them.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import TYPE_CHECKING, Protocol

import numpy as np
import torch

from fedasr.errors import FedasrError

if TYPE_CHECKING:
    from fedasr.algorithms.base import ClientTask
    from fedasr.algorithms.spec import ModelSpec
    from fedasr.data.batching import Batch
    from fedasr.models.flat import FlatModel
    from fedasr.train.local import LocalStats
    from fedasr.train.objective import Objective


class ClientFailure(FedasrError):
    """A client that cannot contribute this round (timeout, non-finite loss, no data)."""


@dataclass(frozen=True)
class SplitRows:
    """Rows of a split the worker holds besides the clients' own data (e.g. "public")."""

    split: str
    rows: np.ndarray


class ClientContext(Protocol):
    device: torch.device

    def model(self, spec: ModelSpec) -> FlatModel:
        """The worker's model for `spec` (its architecture, front-end frozen or not)."""
        ...

    def train(
        self,
        model: FlatModel,
        task: ClientTask,
        lr: float,
        objective: Objective,
        data: SplitRows | None = None,
        epochs: int | None = None,
    ) -> LocalStats:
        """Local training of `model` on the task's client data (or on `data`) for `epochs`
        (None: client.local_epochs); raises ClientFailure."""
        ...

    def batches(
        self, model: FlatModel, task: ClientTask, data: SplitRows | None = None
    ) -> Iterator[Batch]:
        """The client's data (after its data conditions, as its last `train` saw it) or
        `data`, in deterministic length-sorted batches on `model`'s device."""
        ...

    def split_size(self, split: str) -> int:
        """Rows of a split the worker holds for the algorithm (e.g. "public")."""
        ...
