"""Pieces of a client's local objective that algorithms compose (fedasr.train.objective).

A piece is configuration that travels to the worker; `bind` turns it, for one client, into
loss terms and step hooks on that client's model and starting point.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol

import torch

from fedasr.models.flat import FlatModel
from fedasr.train.objective import Objective, StepHooks


class ObjectivePart(Protocol):
    def bind(self, model: FlatModel, start: torch.Tensor) -> Objective:
        """This piece for one client: `model` is loaded with `start` (its layout's order)."""
        ...


@dataclass(frozen=True)
class Proximal:
    """FedProx (Li et al. 2020): the gradient of mu/2 ||theta - theta_start||^2, added after
    the backward pass (so clipping sees it, as in the reference implementation)."""

    mu: float

    def bind(self, model: FlatModel, start: torch.Tensor) -> Objective:
        anchor = start.to(model.flat.device)  # once per client; the same tensor on the CPU
        pairs = list(
            zip(model.parameters_in_order(), model.layout.views(anchor).values(), strict=True)
        )
        mu = self.mu

        def add_proximal_gradient() -> None:
            for param, anchored in pairs:
                if param.grad is not None:
                    param.grad.add_(param.detach() - anchored, alpha=mu)

        return Objective(hooks=(StepHooks(after_backward=add_proximal_gradient),))
