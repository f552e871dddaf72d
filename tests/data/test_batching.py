"""Batches are bounded in padded seconds, bucketed by length and seeded."""

from __future__ import annotations

import numpy as np

from fedasr.data.batching import batch_rows


def test_batches_respect_the_padded_budget_and_cover_every_row() -> None:
    lengths = np.random.default_rng(0).integers(50, 400, size=300)
    batches = batch_rows(range(300), lengths, max_frames=2000, rng=np.random.default_rng(1))
    assert sorted(r for b in batches for r in b) == list(range(300))
    for batch in batches:
        assert len(batch) == 1 or max(lengths[r] for r in batch) * len(batch) <= 2000


def test_bucketing_keeps_padding_small() -> None:
    lengths = np.random.default_rng(0).integers(50, 400, size=500)
    batches = batch_rows(range(500), lengths, max_frames=4000, rng=np.random.default_rng(1))
    padded = sum(max(lengths[r] for r in b) * len(b) for b in batches)
    assert padded < 1.1 * lengths.sum()


def test_an_overlong_utterance_gets_its_own_batch() -> None:
    lengths = np.array([100, 5000, 100])
    batches = batch_rows(range(3), lengths, max_frames=1000)
    assert [1] in batches


def test_same_seed_same_batches() -> None:
    lengths = np.arange(100) + 20
    first = batch_rows(range(100), lengths, 500, np.random.default_rng(5))
    assert first == batch_rows(range(100), lengths, 500, np.random.default_rng(5))
    assert first != batch_rows(range(100), lengths, 500, np.random.default_rng(6))
