"""The local objective as composable pieces, shared by every trainer.

The base loss is CTC summed over the exits a model runs (weighted by `exit_weights`, the
unweighted sum by default). On top of it an algorithm adds:

- loss terms: functions of the model output and the batch returning a per-utterance mean
  (a distillation loss towards prototypes, a consensus fit); the step scales them like CTC;
- step hooks: callables at fixed points of every step — before the forward pass (e.g. add
  weight noise), after the backward pass (e.g. a proximal gradient, restore noise-free
  weights), after the optimizer step (e.g. re-apply a pruning mask).

A method is a new piece, never a flag on an existing trainer; pieces compose in the order
given.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

import torch

from fedasr.data.batching import Batch
from fedasr.models.conformer import ModelOutput

LossTerm = Callable[[ModelOutput, Batch], torch.Tensor]
Hook = Callable[[], None]


@dataclass(frozen=True)
class StepHooks:
    before_forward: Hook | None = None
    after_backward: Hook | None = None
    after_step: Hook | None = None


@dataclass(frozen=True)
class Objective:
    exit_weights: Sequence[float] | None = None
    terms: tuple[LossTerm, ...] = ()
    hooks: tuple[StepHooks, ...] = ()

    def run(self, point: str) -> None:
        """Call every hook registered at `point`, in order."""
        for hooks in self.hooks:
            hook = getattr(hooks, point)
            if hook is not None:
                hook()

    def extra_loss(self, output: ModelOutput, batch: Batch) -> torch.Tensor | None:
        """The sum of the loss terms (a per-utterance mean), or None without any."""
        if not self.terms:
            return None
        total = self.terms[0](output, batch)
        for term in self.terms[1:]:
            total = total + term(output, batch)
        return total


def compose(exit_weights: Sequence[float] | None, parts: Sequence[Objective]) -> Objective:
    """One objective from the CTC exit weights and the bound pieces of a method, in order."""
    terms = tuple(term for part in parts for term in part.terms)
    hooks = tuple(hook for part in parts for hook in part.hooks)
    return Objective(exit_weights, terms, hooks)
