"""Norm clipping of client updates, fixed or adaptive; shared by robust aggregation and DP.

The adaptive bound follows Andrew et al., "Differentially Private Learning with Adaptive
Clipping" (NeurIPS 2021): with b̄ the fraction of this round's updates whose norm is at most
the bound C, the next bound is C · exp(−η (b̄ − γ)), a geometric step that drives C to the
γ-quantile of update norms. Under DP, b̄ is computed from a noised count (trust/dp.py).
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import torch


def l2_norm(vector: torch.Tensor) -> float:
    """The L2 norm in float64 (a float32 sum of 10^7 squares loses digits)."""
    return float(vector.double().norm())


def clip_factor(norm: float, bound: float) -> float:
    """min(1, bound / norm): the scale that brings a vector of `norm` inside the ball."""
    if not math.isfinite(norm):
        return 0.0
    return 1.0 if norm <= bound else bound / norm


def clip_to_norm(vector: torch.Tensor, bound: float) -> tuple[torch.Tensor, float, float]:
    """(vector scaled into the L2 ball of radius `bound`, its norm before, the scale used).
    A vector with a non-finite norm is zeroed: it cannot be scaled into the ball."""
    norm = l2_norm(vector)
    factor = clip_factor(norm, bound)
    if factor == 1.0:
        return vector, norm, 1.0
    if factor == 0.0:
        return torch.zeros_like(vector), norm, 0.0
    return vector * factor, norm, factor


def median_norm_bound(norms: Sequence[float], multiplier: float) -> float:
    """`multiplier` x the median of the cohort's update norms (non-private adaptive bound)."""
    finite = sorted(n for n in norms if math.isfinite(n))
    if not finite:
        raise ValueError("no finite update norm to take a median of")
    middle = len(finite) // 2
    median = finite[middle] if len(finite) % 2 else (finite[middle - 1] + finite[middle]) / 2
    return multiplier * median


def quantile_step(
    bound: float, unclipped_fraction: float, quantile: float, learning_rate: float
) -> float:
    """Andrew et al. 2021's geometric update of the clip bound towards the `quantile` of
    update norms: C · exp(−η (b̄ − γ)); b̄ may be a noised estimate outside [0, 1]."""
    return bound * math.exp(-learning_rate * (unclipped_fraction - quantile))
