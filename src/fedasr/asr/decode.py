"""Greedy CTC decoding, exit choice by confidence, and the entry point to beam search."""

from __future__ import annotations

from collections.abc import Callable, Sequence

import torch

from fedasr.data.tokenizer import BLANK, Tokenizer

# (log_probs (B, T, V), lengths (B,)) -> one text per utterance: greedy, or a BeamDecoder
Decoder = Callable[[torch.Tensor, torch.Tensor], list[str]]


def greedy_ids(log_probs: torch.Tensor, lengths: torch.Tensor) -> list[list[int]]:
    """Best path per utterance: argmax per frame, merge repeats, drop blanks."""
    best = log_probs.argmax(dim=-1)
    out = []
    for row, length in zip(best, lengths.tolist(), strict=True):
        path = row[:length]
        keep = torch.ones_like(path, dtype=torch.bool)
        keep[1:] = path[1:] != path[:-1]
        out.append([int(t) for t in path[keep] if t != BLANK])
    return out


def greedy_decode(
    log_probs: torch.Tensor, lengths: torch.Tensor, tokenizer: Tokenizer
) -> list[str]:
    return [tokenizer.decode(ids) for ids in greedy_ids(log_probs, lengths)]


def mean_frame_entropy(log_probs: torch.Tensor, lengths: torch.Tensor) -> torch.Tensor:
    """(B,) mean over valid frames of the per-frame output entropy, in nats."""
    entropy = -(log_probs.exp() * log_probs).sum(dim=-1)
    mask = torch.arange(log_probs.shape[1])[None, :] < lengths[:, None]
    return (entropy * mask).sum(dim=1) / lengths.clamp(min=1)


def choose_exit_by_entropy(
    per_exit: Sequence[torch.Tensor], lengths: torch.Tensor, threshold: float
) -> torch.Tensor:
    """(B,) 0-based exit per utterance: the first whose mean frame entropy is below
    `threshold`, else the last exit."""
    chosen = torch.full((lengths.shape[0],), len(per_exit) - 1, dtype=torch.long)
    decided = torch.zeros(lengths.shape[0], dtype=torch.bool)
    for index, log_probs in enumerate(per_exit):
        confident = (mean_frame_entropy(log_probs, lengths) < threshold) & ~decided
        chosen[confident] = index
        decided |= confident
    return chosen


def confidence(log_probs: torch.Tensor, lengths: torch.Tensor) -> torch.Tensor:
    """(B,) mean over valid frames of the best path's per-frame probability."""
    best = log_probs.max(dim=-1).values.exp()
    mask = torch.arange(log_probs.shape[1])[None, :] < lengths[:, None]
    return (best * mask).sum(dim=1) / lengths.clamp(min=1)


def token_confidence(log_probs: torch.Tensor, lengths: torch.Tensor) -> torch.Tensor:
    """(B,) mean best-path probability over the valid frames whose best symbol is not blank
    (0 where there is none): confidence() without the stretches of confident silence."""
    best = log_probs.max(dim=-1)
    valid = torch.arange(log_probs.shape[1])[None, :] < lengths[:, None]
    emitting = valid & (best.indices != BLANK)
    total = (best.values.exp() * emitting).sum(dim=1)
    return total / emitting.sum(dim=1).clamp(min=1)
