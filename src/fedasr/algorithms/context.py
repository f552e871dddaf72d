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
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Protocol

import torch

from fedasr.errors import FedasrError

if TYPE_CHECKING:
    from fedasr.algorithms.base import ClientTask
    from fedasr.algorithms.spec import ModelSpec
    from fedasr.models.flat import FlatModel
    from fedasr.train.local import LocalStats
    from fedasr.train.objective import Objective


class ClientFailure(FedasrError):
    """A client that cannot contribute this round (timeout, non-finite loss, no data)."""


class ClientContext(Protocol):
    device: torch.device

    def model(self, spec: ModelSpec) -> FlatModel:
        """The worker's model for `spec` (its architecture, front-end frozen or not)."""
        ...

    def train(
        self, model: FlatModel, task: ClientTask, lr: float, objective: Objective
    ) -> LocalStats:
        """Local training of `model` on the task's client data; raises ClientFailure."""
        ...
