"""Batches sized in seconds of (padded) audio, with length bucketing.

Padding is what costs compute, so a batch's budget is counted on its padded size:
max length in the batch × number of utterances ≤ max_seconds. Sorting each bucket by length
keeps the padding small; shuffling buckets and batch order keeps SGD stochastic.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, replace

import numpy as np
import torch

from fedasr.data.feature_cache import FeatureStore
from fedasr.data.tokenizer import Tokenizer


@dataclass
class Batch:
    feats: torch.Tensor  # (B, T, n_mels) float32, normalized
    feat_lens: torch.Tensor  # (B,) int64
    targets: torch.Tensor  # (sum of target lengths,) int64, concatenated as CTC accepts
    target_lens: torch.Tensor  # (B,) int64
    rows: list[int]
    frames_per_second: float

    @property
    def size(self) -> int:
        return len(self.rows)

    @property
    def frames(self) -> int:
        return int(self.feat_lens.sum())

    @property
    def audio_seconds(self) -> float:
        return self.frames / self.frames_per_second

    def to(self, device: torch.device) -> Batch:
        """This batch's tensors on `device` (itself when they are there already); the copies
        are issued non-blocking so that they overlap with the host's work on a GPU."""
        if self.feats.device == device:
            return self
        return replace(
            self,
            feats=self.feats.to(device, non_blocking=True),
            feat_lens=self.feat_lens.to(device, non_blocking=True),
            targets=self.targets.to(device, non_blocking=True),
            target_lens=self.target_lens.to(device, non_blocking=True),
        )


def batch_rows(
    rows: Sequence[int] | np.ndarray,
    lengths: np.ndarray,
    max_frames: int,
    rng: np.random.Generator | None = None,
    bucket_size: int = 256,
) -> list[list[int]]:
    """Group rows into batches whose padded size stays within `max_frames`.

    With `rng`, rows are shuffled before bucketing and batches are returned in random order;
    without it, the grouping is by sorted length and deterministic (evaluation).
    """
    order = list(rows)
    if rng is not None:
        order = [order[i] for i in rng.permutation(len(order))]
    batches: list[list[int]] = []
    for start in range(0, len(order), bucket_size):
        bucket = sorted(order[start : start + bucket_size], key=lambda r: int(lengths[r]))
        batches.extend(_fill(bucket, lengths, max_frames))
    if rng is not None:
        batches = [batches[i] for i in rng.permutation(len(batches))]
    return batches


def _fill(sorted_rows: list[int], lengths: np.ndarray, max_frames: int) -> list[list[int]]:
    batches: list[list[int]] = []
    current: list[int] = []
    for row in sorted_rows:
        longest = max(int(lengths[row]), max((int(lengths[r]) for r in current), default=0))
        if current and longest * (len(current) + 1) > max_frames:
            batches.append(current)
            current = []
        current.append(row)  # an utterance longer than the budget gets a batch of its own
    if current:
        batches.append(current)
    return batches


class SpeechData:
    """Features + token targets of one split, normalized with given CMVN statistics."""

    def __init__(
        self,
        store: FeatureStore,
        texts: dict[str, str | None],
        tokenizer: Tokenizer,
        mean: np.ndarray,
        std: np.ndarray,
    ) -> None:
        self.store = store
        self.tokenizer = tokenizer
        self.texts = [texts.get(utt_id) for utt_id in store.ids]
        self.targets = [
            None if text is None else np.asarray(tokenizer.encode(text), dtype=np.int64)
            for text in self.texts
        ]
        self.mean = mean.astype(np.float32)
        self.inv_std = (1.0 / std).astype(np.float32)

    @property
    def lengths(self) -> np.ndarray:
        return self.store.lengths

    def __len__(self) -> int:
        return len(self.store)

    def collate(
        self,
        rows: Sequence[int],
        targets: Mapping[int, np.ndarray] | None = None,
        transform: Callable[[int, np.ndarray], np.ndarray] | None = None,
    ) -> Batch:
        """Pad, normalize and stack; `targets` overrides labels per row (pseudo-labels);
        `transform(row, frames)` changes a row's raw log-mel frames first (a corrupted
        client's noise or tempo), so it may change their number."""
        raw = [self.store.frames(r) for r in rows]
        if transform is not None:
            raw = [transform(r, frames) for r, frames in zip(rows, raw, strict=True)]
        lengths = [len(frames) for frames in raw]
        feats = np.zeros((len(rows), max(lengths), self.mean.shape[0]), dtype=np.float32)
        for i, frames in enumerate(raw):
            feats[i, : lengths[i]] = (frames - self.mean) * self.inv_std
        chosen = [targets[r] if targets is not None else self.targets[r] for r in rows]
        labelled = [t if t is not None else np.zeros(0, dtype=np.int64) for t in chosen]
        return Batch(
            feats=torch.from_numpy(feats),
            feat_lens=torch.tensor(lengths, dtype=torch.int64),
            targets=torch.from_numpy(np.concatenate(labelled)),
            target_lens=torch.tensor([len(t) for t in labelled], dtype=torch.int64),
            rows=list(rows),
            frames_per_second=self.store.config.frames_per_second,
        )


def seconds_to_frames(seconds: float, store: FeatureStore) -> int:
    return int(seconds * store.config.frames_per_second)
