"""Which groups to keep, from importance scores: pure functions with hand-checked tests.

Sparsity is the share of the scored weights (the pattern's columns, rows or half columns of
the prunable blocks) that is pruned.

- uniform: every block prunes the same share of its groups (rounded to whole groups);
- adaptive: scores are normalised within each block (divided by the block's mean score), and
  one global threshold on the normalised scores prunes groups, lowest first, until the pruned
  share of all scored weights is closest to the target — so a block whose groups matter
  evenly loses few of them, one with a few dominant groups loses many.

Every block keeps at least one group (a model needs one unit of each module). `allowed`
restricts what may be kept: the previous mask while pruning (pruned groups stay pruned) and a
denser tier's mask for a sparser tier (nested masks). Ties go to the lower group id, so masks
are deterministic.
"""

from __future__ import annotations

import math

import torch

from fedasr.algorithms.pruning.structure import Structure

ALLOCATIONS = ("uniform", "adaptive")


def select(
    structure: Structure,
    scores: torch.Tensor,
    sparsity: float,
    allocation: str,
    allowed: torch.Tensor | None = None,
) -> torch.Tensor:
    """(groups,) bool: the groups kept at `sparsity`, a subset of `allowed` (None: all)."""
    allowed = torch.ones(structure.groups, dtype=torch.bool) if allowed is None else allowed
    if allocation == "uniform":
        return _uniform(structure, scores.double(), sparsity, allowed)
    if allocation == "adaptive":
        return _adaptive(structure, scores.double(), sparsity, allowed)
    raise ValueError(f"allocation {allocation!r}; allowed: {', '.join(ALLOCATIONS)}")


def _ascending(scores: torch.Tensor, ids: torch.Tensor) -> torch.Tensor:
    """`ids` ordered by score, lowest first; equal scores by id."""
    order = torch.argsort(scores[ids], stable=True)
    return ids[order]


def _uniform(
    structure: Structure, scores: torch.Tensor, sparsity: float, allowed: torch.Tensor
) -> torch.Tensor:
    keep = allowed.clone()
    for block in structure.blocks:
        ids = torch.arange(block.first, block.first + block.groups)
        target = min(math.floor(sparsity * block.groups + 0.5), block.groups - 1)
        candidates = ids[allowed[ids]]
        extra = min(target - (block.groups - len(candidates)), len(candidates) - 1)
        if extra > 0:
            keep[_ascending(scores, candidates)[:extra]] = False
    return keep


def normalised(structure: Structure, scores: torch.Tensor) -> torch.Tensor:
    """Scores divided by their block's mean (over finite scores; +inf stays +inf: a group
    never scored is kept first). A block without a positive mean is left as it is."""
    out = scores.clone()
    for block in structure.blocks:
        part = scores[block.first : block.first + block.groups]
        finite = part[torch.isfinite(part)]
        mean = float(finite.mean()) if finite.numel() else 0.0
        if mean > 0:
            out[block.first : block.first + block.groups] = part / mean
    return out


def _adaptive(
    structure: Structure, scores: torch.Tensor, sparsity: float, allowed: torch.Tensor
) -> torch.Tensor:
    norm = normalised(structure, scores)
    weights = structure.group_weights()
    target = sparsity * float(weights.sum())
    keep = allowed.clone()
    reserved = torch.zeros_like(allowed)  # each block's best allowed group is never pruned
    for block in structure.blocks:
        ids = torch.arange(block.first, block.first + block.groups)
        candidates = ids[allowed[ids]]
        if len(candidates):
            reserved[_ascending(norm, candidates)[-1]] = True
        else:  # nothing allowed: keep the block's best group so the model stays whole
            keep[_ascending(norm, ids)[-1]] = True
            reserved[_ascending(norm, ids)[-1]] = True
    already = float(weights[~keep].sum())
    order = _ascending(norm, torch.nonzero(keep & ~reserved).reshape(-1))
    totals = already + torch.cat([torch.zeros(1, dtype=torch.float64), weights[order].cumsum(0)])
    count = int(torch.argmin((totals - target).abs()))  # prune the `count` lowest
    keep[order[:count]] = False
    return keep


def nested(
    structure: Structure,
    scores: torch.Tensor,
    base: torch.Tensor,
    sparsities: dict[str, float],
    allocation: str,
) -> dict[str, torch.Tensor]:
    """One mask per tier, each a subset of the next denser one's (and of `base`): tiers are
    taken from the densest to the sparsest, each selecting within the previous mask."""
    masks: dict[str, torch.Tensor] = {}
    previous = base
    for name, sparsity in sorted(sparsities.items(), key=lambda item: (item[1], item[0])):
        previous = select(structure, scores, sparsity, allocation, allowed=previous)
        masks[name] = previous
    return masks


def magnitude_scores(structure: Structure, values: torch.Tensor) -> torch.Tensor:
    """(groups,) the L2 norm of each group's weights in the flat vector `values`."""
    owner = structure.owner()
    inside = owner >= 0
    squares = torch.zeros(structure.groups, dtype=torch.float64)
    squares.index_add_(0, owner[inside], values[inside].double() ** 2)
    return squares.sqrt()


def pruned_share(structure: Structure, keep: torch.Tensor) -> float:
    """The share of the scored weights that `keep` prunes (what `sparsity` targets)."""
    weights = structure.group_weights()
    return float(weights[~keep].sum() / weights.sum()) if structure.groups else 0.0
