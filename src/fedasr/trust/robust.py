"""Robust aggregation of a round's client updates into one pseudo-gradient.

Each aggregator takes the updates individually (equal-length vectors covering the same
coordinates) with non-negative weights (examples, DGA's exp(-beta * loss), or uniform) and
returns the pseudo-gradient that any server optimizer then applies, and, per client, what
happened to it, for the round's log:

    mean          the weighted mean (FedAvg; with `clip` it is norm-clipped FedAvg)
    median        the coordinate-wise weighted median (Yin et al. 2018); with equal weights
                  the usual median, the mean of the two middle values for an even count
    trimmed_mean  per coordinate, the floor(trim · n) lowest and highest values are cut and
                  the rest averaged with their weights (Yin et al. 2018)
    krum          the update closest to its n − f − 2 nearest neighbours (Blanchard et al.
                  2017); multi_krum averages the m best-scored updates with their weights

`clip` (fixed, median or tracked-quantile bound) scales each update into an L2 ball first and
composes with every kind. Outcome factors say how much of a client's weighted contribution
reached the aggregate: the clip scale, times the share of coordinates where its value was
kept (trimmed mean) or used (median), or 0/1 for (multi-)Krum's selection.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Literal

import torch

from fedasr.algorithms.aggregate import all_finite
from fedasr.trust.clipping import clip_to_norm, l2_norm, median_norm_bound, quantile_step
from fedasr.trust.schema import ClipSection, RobustSection

Status = Literal["kept", "down_weighted", "rejected"]
CHUNK_ELEMENTS = 1 << 22  # values sorted at once: bounds memory to a few tens of MB


@dataclass(frozen=True)
class ClientOutcome:
    position: int  # the client's position in the list of updates
    status: Status
    factor: float  # share of its weighted contribution that reached the aggregate
    norm: float  # L2 norm of the update as received
    score: float | None = None  # Krum score (sum of squared distances), when computed

    def record(self) -> dict[str, float | str | int | None]:
        return {"position": self.position, "status": self.status, "factor": self.factor,
                "norm": self.norm, "score": self.score}  # fmt: skip


@dataclass(frozen=True)
class RobustResult:
    pseudo_gradient: torch.Tensor  # float32, what the server optimizer applies
    outcomes: list[ClientOutcome]
    clip_bound: float | None = None  # the bound used this round
    next_clip_bound: float | None = None  # the tracked bound for the next round (state)
    byzantine: int | None = None  # the f Krum used (lowered when the round had few clients)


def status_of(factor: float) -> Status:
    if factor >= 1.0 - 1e-9:
        return "kept"
    return "rejected" if factor <= 0.0 else "down_weighted"


def weights_from_log(log_weights: Sequence[float]) -> list[float]:
    """Linear weights from log weights (DGA's), shifted by the maximum so none underflows."""
    top = max(log_weights)
    return [math.exp(w - top) if math.isfinite(w) else 0.0 for w in log_weights]


def robust_aggregate(
    updates: Sequence[torch.Tensor],
    weights: Sequence[float],
    section: RobustSection,
    clip_state: float | None = None,
) -> RobustResult:
    """Aggregate one round. `clip_state` is the tracked bound from the previous round (quantile
    clipping; None in the first round: `clip.bound`)."""
    _check_inputs(updates, weights)
    norms = [l2_norm(u) for u in updates]
    clip_scales = [1.0] * len(updates)
    bound = next_bound = None
    if section.clip is not None:
        bound = clip_bound(section.clip, norms, clip_state)
        clipped = [clip_to_norm(u, bound) for u in updates]
        updates = [c[0] for c in clipped]
        clip_scales = [c[2] for c in clipped]
        if section.clip.mode == "quantile":
            unclipped = sum(n <= bound for n in norms) / len(norms)
            next_bound = quantile_step(
                bound, unclipped, section.clip.quantile, section.clip.learning_rate
            )
    gradient, shares, scores, byzantine = _combine(updates, weights, section)
    outcomes = [
        ClientOutcome(
            i,
            status_of(clip_scales[i] * shares[i]),
            clip_scales[i] * shares[i],
            norms[i],
            None if scores is None else scores[i],
        )
        for i in range(len(updates))
    ]
    return RobustResult(gradient.float(), outcomes, bound, next_bound, byzantine)


def clip_bound(clip: ClipSection, norms: Sequence[float], state: float | None) -> float:
    if clip.mode == "fixed":
        return clip.bound
    if clip.mode == "median":
        return median_norm_bound(norms, clip.multiplier)
    return clip.bound if state is None else state


def _combine(
    updates: Sequence[torch.Tensor], weights: Sequence[float], section: RobustSection
) -> tuple[torch.Tensor, list[float], list[float] | None, int | None]:
    """(aggregate, per-client share of contribution, Krum scores, f used)."""
    w = torch.tensor(list(weights), dtype=torch.float64)
    if section.kind == "mean":
        return _weighted_mean(updates, w), [1.0 if x > 0 else 0.0 for x in weights], None, None
    if section.kind == "median":
        median, used = weighted_median(updates, w)
        return median, used, None, None
    if section.kind == "trimmed_mean":
        mean, kept = trimmed_mean(updates, w, section.trim)
        return mean, kept, None, None
    byzantine = min(section.byzantine, max(0, (len(updates) - 3) // 2))
    scores = krum_scores(updates, byzantine)
    select = 1 if section.kind == "krum" else (section.select or len(updates) - byzantine)
    chosen = sorted(range(len(updates)), key=lambda i: (scores[i], i))[: min(select, len(updates))]
    mask = torch.zeros(len(updates), dtype=torch.float64)
    mask[chosen] = 1.0
    shares = [float(m) for m in mask]
    chosen_weights = w * mask if float((w * mask).sum()) > 0 else mask  # all chosen weigh 0
    return _weighted_mean(updates, chosen_weights), shares, scores, byzantine


def _check_inputs(updates: Sequence[torch.Tensor], weights: Sequence[float]) -> None:
    if not updates:
        raise ValueError("robust aggregation needs at least one update")
    if len(updates) != len(weights):
        raise ValueError(f"{len(updates)} updates but {len(weights)} weights")
    sizes = {u.numel() for u in updates}
    if len(sizes) != 1:
        raise ValueError(
            "robust aggregation compares updates coordinate by coordinate, so they must cover "
            f"the same coordinates; got lengths {sorted(sizes)}"
        )
    if any(not math.isfinite(w) or w < 0 for w in weights) or sum(weights) <= 0:
        raise ValueError("weights must be finite, non-negative and not all zero")
    broken = [i for i, u in enumerate(updates) if not all_finite(u)]
    if broken:  # NaN sorts last and poisons every distance: leave such clients out first
        raise ValueError(
            f"non-finite update(s) at position(s) {broken}: leave them out before aggregating "
            "(as FedAvg.accumulate does) and report them as failed"
        )


def _chunks(numel: int, rows: int) -> list[tuple[int, int]]:
    step = max(1, CHUNK_ELEMENTS // max(rows, 1))
    return [(start, min(start + step, numel)) for start in range(0, numel, step)]


def _stack(updates: Sequence[torch.Tensor], start: int, stop: int) -> torch.Tensor:
    return torch.stack([u.reshape(-1)[start:stop].double() for u in updates])


def _weighted_mean(updates: Sequence[torch.Tensor], weights: torch.Tensor) -> torch.Tensor:
    total = torch.zeros(updates[0].numel(), dtype=torch.float64)
    for update, weight in zip(updates, weights.tolist(), strict=True):
        if weight > 0:
            total.add_(update.reshape(-1).double(), alpha=weight)
    return total / float(weights.sum())


def weighted_median(
    updates: Sequence[torch.Tensor], weights: torch.Tensor
) -> tuple[torch.Tensor, list[float]]:
    """Coordinate-wise weighted median, and per client the share of coordinates where its
    value was the median (or one of the two values averaged at an exact half-weight tie)."""
    numel, n = updates[0].numel(), len(updates)
    out = torch.empty(numel, dtype=torch.float64)
    used = torch.zeros(n, dtype=torch.float64)
    half, tol = float(weights.sum()) / 2, 1e-12 * float(weights.sum())
    for start, stop in _chunks(numel, n):
        values, order = _stack(updates, start, stop).sort(dim=0, stable=True)
        cumulative = weights[order].cumsum(dim=0)
        # the first value whose cumulative weight reaches half, and the first that passes it:
        # the same value unless one reaches exactly half (then the two are averaged, which
        # with equal weights and an even count is the usual median)
        lower = (cumulative < half - tol).sum(dim=0, keepdim=True).clamp(max=n - 1)
        upper = (cumulative <= half + tol).sum(dim=0, keepdim=True).clamp(max=n - 1)
        low_v, up_v = values.gather(0, lower), values.gather(0, upper)
        out[start:stop] = ((low_v + up_v) / 2).squeeze(0)
        for index in (order.gather(0, lower), order.gather(0, upper)):
            used += torch.bincount(index.squeeze(0), minlength=n).double() / 2
    return out, (used / numel).tolist()


def trimmed_mean(
    updates: Sequence[torch.Tensor], weights: torch.Tensor, trim: float
) -> tuple[torch.Tensor, list[float]]:
    """Coordinate-wise trimmed mean cutting floor(trim · n) values at each side, weighted
    among the kept values; per client the share of coordinates where it was kept."""
    numel, n = updates[0].numel(), len(updates)
    cut = math.floor(trim * n)
    if 2 * cut >= n:
        raise ValueError(f"trim {trim} cuts every one of {n} updates")
    out = torch.empty(numel, dtype=torch.float64)
    kept = torch.zeros(n, dtype=torch.float64)
    for start, stop in _chunks(numel, n):
        values, order = _stack(updates, start, stop).sort(dim=0, stable=True)
        values, order = values[cut : n - cut], order[cut : n - cut]
        w = weights[order]
        total = w.sum(dim=0)
        mean = (values * w).sum(dim=0) / total.clamp(min=1e-300)
        # a coordinate whose kept clients all weigh 0 falls back to their plain mean
        out[start:stop] = torch.where(total > 0, mean, values.mean(dim=0))
        kept += torch.bincount(order.reshape(-1), minlength=n).double()
    return out, (kept / numel).tolist()


def krum_scores(updates: Sequence[torch.Tensor], byzantine: int) -> list[float]:
    """Each update's sum of squared distances to its n − f − 2 nearest other updates."""
    n = len(updates)
    gram = torch.zeros(n, n, dtype=torch.float64)
    for start, stop in _chunks(updates[0].numel(), n):
        block = _stack(updates, start, stop)
        gram += block @ block.T
    squares = gram.diagonal()
    distances = (squares[:, None] + squares[None, :] - 2 * gram).clamp(min=0)
    neighbours = max(1, n - byzantine - 2)
    scores = []
    for i in range(n):
        others = torch.cat([distances[i, :i], distances[i, i + 1 :]])
        scores.append(float(others.sort().values[: min(neighbours, n - 1)].sum()) if n > 1 else 0.0)
    return scores
