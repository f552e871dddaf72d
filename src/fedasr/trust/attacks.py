"""Model-poisoning attacks: who attacks in a round, and what an attacker sends instead of its
honest update.

fedasr's update is the pseudo-gradient Δ = θ_global − θ_client (what the server subtracts).
An attacker trains honestly (so its cost and timing look normal) and then replaces Δ:

    sign_flip      −factor · Δ                     (reverses the descent direction)
    scale          factor · Δ                      (dominates a plain mean)
    gaussian       N(0, σ² I), or with σ unset a random direction with exactly ‖Δ‖ (so a
                   norm-based defence cannot tell it from an honest update by size)
    target_model   boost · (θ_global − θ_target)   (a client that "trained to" θ_target; with
                   boost ≈ cohort size / server lr this is model replacement, Bagdasaryan
                   et al. 2020)

Everything is a pure function of (seed, round, client index) and the round's cohort: the same
seed poisons the same clients with the same vectors on every executor and after a resume.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import torch

from fedasr.errors import ConfigError
from fedasr.trust.schema import AttackGroup

RATE_TAG, SHARE_TAG, NOISE_TAG = 0xA7A1, 0xA7A2, 0xA7A3  # independent seeded streams


def stream_seed(*parts: int) -> int:
    """A 64-bit seed for one (seed, round, client, purpose) stream."""
    return int(np.random.SeedSequence(list(parts)).generate_state(1, np.uint64)[0])


def check_attack_clients(groups: Sequence[AttackGroup], ids: Sequence[str]) -> None:
    """Named attackers must be registered clients, each in one group only (checked before
    a run starts)."""
    known, seen = set(ids), set[str]()
    for number, group in enumerate(groups):
        key = f"trust.attacks.{number}.clients"
        unknown = [c for c in group.clients or [] if c not in known]
        if unknown:
            sample = ", ".join(list(ids)[:3])
            raise ConfigError(
                f"{key}: unknown client id(s) {', '.join(unknown)}; ids look like: {sample}"
            )
        twice = [c for c in group.clients or [] if c in seen]
        if twice:
            raise ConfigError(f"{key}: {', '.join(twice)} already in an earlier attack group")
        seen.update(group.clients or [])


def choose_attackers(
    groups: Sequence[AttackGroup],
    seed: int,
    round_index: int,
    cohort: Sequence[int],
    ids: Sequence[str],
) -> dict[int, int]:
    """Which of this round's cohort (registered client indices) attack: client index ->
    position of its group in `groups`. Groups take disjoint clients in the order listed."""
    chosen: dict[int, int] = {}
    taken: set[int] = set()  # also by groups not active yet, so a start_round changes no draw
    cohort_order = _seeded_order(list(cohort), seed, round_index, RATE_TAG)
    population_order = _seeded_order(list(range(len(ids))), seed, 0, SHARE_TAG)
    population_taken: set[int] = set()
    in_cohort = set(cohort)
    for number, group in enumerate(groups):
        if group.clients is not None:
            named = {ids.index(c) for c in group.clients if c in ids}
            picked = [i for i in cohort if i in named]
        elif group.share is not None:
            # a fixed malicious population, drawn once: later share-groups take the next ones
            free = [i for i in population_order if i not in population_taken]
            members = free[: round(group.share * len(ids))]
            population_taken.update(members)
            picked = [i for i in members if i in in_cohort]
        else:
            free = [i for i in cohort_order if i not in taken]
            picked = free[: round(float(group.rate or 0.0) * len(cohort))]
        picked = [i for i in picked if i not in taken]
        taken.update(picked)
        if round_index >= group.start_round:
            chosen.update(dict.fromkeys(picked, number))
    return chosen


def _seeded_order(items: list[int], seed: int, round_index: int, tag: int) -> list[int]:
    rng = np.random.default_rng(stream_seed(seed, round_index, tag))
    return [items[i] for i in rng.permutation(len(items))]


def poison(
    group: AttackGroup,
    delta: torch.Tensor,
    *,
    seed: int,
    round_index: int,
    client_index: int,
    global_params: torch.Tensor | None = None,
    target_params: torch.Tensor | None = None,
) -> torch.Tensor:
    """The update an attacker of `group` sends instead of its honest `delta`. For
    target_model, `global_params` and `target_params` cover the same coordinates as delta."""
    if group.kind == "sign_flip":
        return -group.factor * delta
    if group.kind == "scale":
        return group.factor * delta
    if group.kind == "gaussian":
        return random_update(
            delta, group.sigma, stream_seed(seed, round_index, client_index, NOISE_TAG)
        )
    if global_params is None or target_params is None:
        raise ValueError("a target_model attack needs global_params and target_params")
    if global_params.shape != delta.shape or target_params.shape != delta.shape:
        raise ValueError(
            f"target_model: delta {tuple(delta.shape)}, global {tuple(global_params.shape)} and "
            f"target {tuple(target_params.shape)} must cover the same coordinates"
        )
    return group.boost * (global_params - target_params).to(delta.dtype)


def random_update(delta: torch.Tensor, sigma: float | None, seed: int) -> torch.Tensor:
    """N(0, sigma^2) per coordinate, or (sigma None) a uniformly random direction scaled to
    ‖delta‖ exactly."""
    generator = torch.Generator().manual_seed(seed)
    noise = torch.randn(delta.shape, generator=generator, dtype=torch.float64)
    if sigma is not None:
        return (sigma * noise).to(delta.dtype)
    norm = float(delta.double().norm())
    return (noise * (norm / float(noise.norm()))).to(delta.dtype)


def zeros_target(like: torch.Tensor) -> torch.Tensor:
    """θ_target for `target: zeros` (for `init` the engine builds the model with target_seed)."""
    return torch.zeros_like(like)
