"""DP-FedAvg (McMahan et al., "Learning Differentially Private Recurrent Language Models",
ICLR 2018) with adaptive clipping (Andrew et al., NeurIPS 2021): the client and server halves.

Client (`privatize`): clip Δ to the L2 bound C, multiply by the bounded weight w ≤ 1 (uniform,
or min(examples / weight_cap, 1)), so one client moves the weighted sum by at most C; then

    central       nothing more (the server adds N(0, (z C)^2) to the sum)
    local         add N(0, (z C)^2) to its own vector (local DP: the server is not trusted)
    distributed   add N(0, (z C)^2 / m) with m the expected cohort size, so the sum of m
                  clients carries N(0, (z C)^2) — for secure aggregation, where the server
                  never sees one update and cannot add the noise itself to be trusted

Server (`finish_round`): add the central noise to the sum, divide by the fixed expected total
weight (McMahan's unbiased estimator f̃_f; the count of clients is not released), and, with
adaptive clipping, move C towards the target quantile of update norms from a noised count of
unclipped clients. The count costs privacy too: with count noise σ_b, the update's noise
multiplier is z_Δ = (z^-2 − (2 σ_b)^-2)^(-1/2), so the pair spends what noise z alone would
(Andrew et al. 2021, Theorem 1); the accountant is always given z.

Noise is seeded per (seed, round) on the server and per (seed, round, client) on a client.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import torch

from fedasr.trust.clipping import clip_to_norm, quantile_step
from fedasr.trust.schema import DPSection

CENTRAL_TAG, CLIENT_TAG, COUNT_TAG = 0xD901, 0xD902, 0xD903


def noise_generator(*parts: int) -> torch.Generator:
    """A CPU generator for one (seed, round[, client], purpose) noise stream."""
    seed = int(np.random.SeedSequence(list(parts)).generate_state(1, np.uint64)[0])
    return torch.Generator().manual_seed(seed)


def gaussian(numel: int, std: float, generator: torch.Generator) -> torch.Tensor:
    """float64 N(0, std^2) noise, drawn in float64 so small std survives."""
    return torch.randn(numel, generator=generator, dtype=torch.float64) * std


def client_weight(examples: int, section: DPSection) -> float:
    """The bounded aggregation weight w ∈ [0, 1] that keeps the sum's sensitivity at C."""
    if section.weighting == "uniform":
        return 1.0 if examples > 0 else 0.0
    return min(examples / section.weight_cap, 1.0)


def expected_weight(population_examples: list[int], cohort_size: int, section: DPSection) -> float:
    """The fixed denominator: cohort size x the population's mean bounded weight (public
    constants, so dividing by it costs no privacy)."""
    weights = [client_weight(n, section) for n in population_examples]
    return cohort_size * sum(weights) / len(weights)


def count_noise_std(section: DPSection, expected_clients: int) -> float:
    """σ_b, the std of the noise on the count of unclipped clients (paper: cohort / 20)."""
    adaptive = section.adaptive
    if adaptive is None:
        return 0.0
    return adaptive.count_noise if adaptive.count_noise is not None else expected_clients / 20


def update_noise_multiplier(section: DPSection, z: float, expected_clients: int) -> float:
    """z_Δ: the update's share of the noise when the clipped count is noised too."""
    sigma_b = count_noise_std(section, expected_clients)
    if sigma_b == 0.0 or z == 0.0:
        return z
    if 2 * sigma_b <= z:
        raise ValueError(
            f"adaptive clipping: count noise {sigma_b:g} is too small for noise multiplier "
            f"{z:g} (needs 2 x count_noise > z); raise dp.adaptive.count_noise"
        )
    return (z**-2 - (2 * sigma_b) ** -2) ** -0.5


@dataclass(frozen=True)
class PrivateUpdate:
    """What a DP client sends: weight x clipped update (+ its noise), and its clipping bit."""

    vector: torch.Tensor  # float32
    weight: float
    norm: float  # of the update before clipping (stays on the client; for its own log)
    unclipped: float  # 1.0 if norm <= C, plus the client's share of count noise (distributed)


def privatize(
    delta: torch.Tensor,
    examples: int,
    section: DPSection,
    *,
    clip_norm: float,
    noise_multiplier: float,
    expected_clients: int,
    seed: int,
    round_index: int,
    client_index: int,
) -> PrivateUpdate:
    """The client half of DP-FedAvg (see the module docstring)."""
    clipped, norm, _ = clip_to_norm(delta.double(), clip_norm)
    weight = client_weight(examples, section)
    vector = clipped * weight
    unclipped = 1.0 if norm <= clip_norm else 0.0
    z_update = update_noise_multiplier(section, noise_multiplier, expected_clients)
    generator = noise_generator(seed, round_index, client_index, CLIENT_TAG)
    if section.mode == "local":
        vector = vector + gaussian(vector.numel(), z_update * clip_norm, generator)
    elif section.mode == "distributed":
        share = 1 / math.sqrt(expected_clients)
        vector = vector + gaussian(vector.numel(), z_update * clip_norm * share, generator)
        unclipped += float(
            gaussian(1, count_noise_std(section, expected_clients) * share, generator)
        )
    return PrivateUpdate(vector.float(), weight, norm, unclipped)


@dataclass(frozen=True)
class PrivateRound:
    pseudo_gradient: torch.Tensor  # float32: the noised sum over the expected weight
    clip_norm: float  # the bound this round used
    next_clip_norm: float  # the bound for the next round (adaptive), else the same
    noise_std: float  # std of the central noise added to the sum (0 outside central mode)
    unclipped_fraction: float | None  # the noised estimate b̄ (adaptive only)


def finish_round(
    update_sum: torch.Tensor,
    unclipped_sum: float,
    section: DPSection,
    *,
    clip_norm: float,
    noise_multiplier: float,
    expected_clients: int,
    expected_total_weight: float,
    seed: int,
    round_index: int,
) -> PrivateRound:
    """The server half: `update_sum` is Σ_k w_k clip(Δ_k) (+ client noise), whether summed
    in the clear or unmasked by secure aggregation; `unclipped_sum` is Σ_k unclipped_k."""
    noise_std = 0.0
    total = update_sum.double()
    count_noise = 0.0
    if section.mode == "central":
        generator = noise_generator(seed, round_index, CENTRAL_TAG)
        noise_std = update_noise_multiplier(section, noise_multiplier, expected_clients) * clip_norm
        total = total + gaussian(total.numel(), noise_std, generator)
        count_generator = noise_generator(seed, round_index, COUNT_TAG)
        count_noise = float(
            gaussian(1, count_noise_std(section, expected_clients), count_generator)
        )
    gradient = (total / expected_total_weight).float()
    if section.adaptive is None:
        return PrivateRound(gradient, clip_norm, clip_norm, noise_std, None)
    fraction = (unclipped_sum + count_noise) / expected_clients
    adaptive = section.adaptive
    next_clip = quantile_step(clip_norm, fraction, adaptive.target_quantile, adaptive.learning_rate)
    return PrivateRound(gradient, clip_norm, next_clip, noise_std, fraction)
