"""DP-FedAvg inside a run: the server's half of a private round, the privacy spent so far, and
what a released model says about it.

The run's privacy state is two entries of `ServerState.extras`: the clip bound C of the next
round (adaptive clipping moves it) and the noise multiplier z of every round so far. ε is
recomputed from that history by the accountant (trust/accountant.py), so a checkpoint or a
`--resume` carries the privacy spent exactly, and a changed noise on resume is accounted round
by round.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import torch

from fedasr.trust import keys
from fedasr.trust.accountant import Cohort, PrivacyLedger, local_epsilon_of
from fedasr.trust.dp import finish_round
from fedasr.trust.schema import DPSection


@dataclass(frozen=True)
class PrivacyPlan:
    """What the composition root fixes once for a DP run (public constants)."""

    section: DPSection
    noise_multiplier: float  # z: dp.noise_multiplier, or the one target_epsilon sets
    expected_clients: int  # m: rounds.clients_per_round
    expected_weight: float  # m x the population's mean bounded weight (the fixed denominator)
    cohort: Cohort  # population, cohort size, how the cohort is drawn
    delta: float

    def initial_extras(self) -> dict[str, torch.Tensor]:
        return {keys.DP_CLIP: torch.tensor([self.section.clip_norm], dtype=torch.float64)}

    def epsilon(self, history: list[float]) -> float:
        """ε after rounds at these noise multipliers: the central accountant (central and
        distributed noise), or one client's local ε if it took part in every round (local).
        A round without noise (z = 0) releases an unbounded ε."""
        if any(z <= 0 for z in history):
            return math.inf
        if self.section.mode == "local":
            return local_epsilon_of(history, self.delta)
        ledger = PrivacyLedger(self.cohort, self.delta, self.section.accountant, list(history))
        return ledger.epsilon()

    def would_exceed(self, history: list[float], target: float) -> bool:
        """Whether one more round at z would take ε past `target`."""
        return self.epsilon([*history, self.noise_multiplier]) > target

    def summary(self, history: list[float]) -> dict[str, Any]:
        """(ε, δ) and everything they depend on: for the record, the report, the model file."""
        cohort = self.cohort
        return {
            "epsilon": self.epsilon(history),
            "delta": self.delta,
            "rounds": len(history),
            "noise_multiplier": self.noise_multiplier,
            "mode": self.section.mode,
            "population": cohort.population,
            "cohort": cohort.size,
            "sampling": cohort.sampling,
            "accountant": "rdp (local: per client, every round)"
            if self.section.mode == "local"
            else self.section.accountant,
            "adjacency": "add/remove one client" if cohort.sampling == "poisson"
            else "replace one client",
        }  # fmt: skip


def noise_history(extras: dict[str, torch.Tensor]) -> list[float]:
    found = extras.get(keys.DP_NOISE)
    return [] if found is None else [float(z) for z in found.tolist()]


def clip_norm_of(extras: dict[str, torch.Tensor], plan: PrivacyPlan) -> float:
    found = extras.get(keys.DP_CLIP)
    return plan.section.clip_norm if found is None else float(found[0])


def private_step(
    plan: PrivacyPlan,
    extras: dict[str, torch.Tensor],
    update_sum: torch.Tensor,
    unclipped_sum: float,
    seed: int,
    round_index: int,
) -> tuple[torch.Tensor, dict[str, torch.Tensor], dict[str, Any]]:
    """The server's half of one private round, from the (plain or securely unmasked) sums:
    (pseudo-gradient, the extras to store, the round's privacy metrics)."""
    clip = clip_norm_of(extras, plan)
    done = finish_round(
        update_sum, unclipped_sum, plan.section, clip_norm=clip,
        noise_multiplier=plan.noise_multiplier, expected_clients=plan.expected_clients,
        expected_total_weight=plan.expected_weight, seed=seed, round_index=round_index,
    )  # fmt: skip
    history = [*noise_history(extras), plan.noise_multiplier]
    stored = {
        keys.DP_CLIP: torch.tensor([done.next_clip_norm], dtype=torch.float64),
        keys.DP_NOISE: torch.tensor(history, dtype=torch.float64),
    }
    metrics = {
        **plan.summary(history),
        "clip_norm": clip,
        "next_clip_norm": done.next_clip_norm,
        "noise_std": done.noise_std,
        "unclipped_fraction": done.unclipped_fraction,
    }
    return done.pseudo_gradient, stored, metrics
