"""Registered clients, cohort sampling and the shard plan.

Everything here is a pure function of (seed, round, attempt): a resumed run samples exactly
the cohort the uninterrupted run would have, and the shard plan — which fixes the order in
which client updates are summed — does not depend on the executor or its worker count. That
is what makes the serial, process and Ray executors give bit-identical global weights.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from fedasr.algorithms.base import ClientTask
from fedasr.data.feature_cache import FeatureStore
from fedasr.data.partition import Partition


@dataclass(frozen=True)
class ClientRegistry:
    """All registered clients: ids and their rows into the training feature store.

    Rows are stored in one concatenated int32 array with offsets, so registering 10,000 clients
    costs a few bytes per utterance, not a Python object per client.
    """

    ids: tuple[str, ...]
    offsets: np.ndarray  # (n + 1,) int64
    rows: np.ndarray  # int32, all clients' rows back to back
    frames: np.ndarray  # (n,) int64 total feature frames per client
    depths: np.ndarray | None = None  # (n,) int: each client's exit budget (0 = all)

    @classmethod
    def build(
        cls, clients: Partition, store: FeatureStore, min_utterances: int = 1
    ) -> ClientRegistry:
        row_of = store.row_of()
        ids: list[str] = []
        chunks: list[np.ndarray] = []
        for client, utt_ids in clients.items():
            kept = [row_of[u] for u in utt_ids if u in row_of]
            if len(kept) >= min_utterances:
                ids.append(client)
                chunks.append(np.asarray(kept, dtype=np.int32))
        offsets = np.zeros(len(chunks) + 1, dtype=np.int64)
        offsets[1:] = np.cumsum([len(c) for c in chunks])
        rows = np.concatenate(chunks) if chunks else np.zeros(0, dtype=np.int32)
        frames = np.array([int(store.lengths[c].sum()) for c in chunks], dtype=np.int64)
        return cls(tuple(ids), offsets, rows, frames)

    def __len__(self) -> int:
        return len(self.ids)

    def rows_of(self, index: int) -> np.ndarray:
        return self.rows[self.offsets[index] : self.offsets[index + 1]]

    def with_depths(self, depths: np.ndarray) -> ClientRegistry:
        return ClientRegistry(self.ids, self.offsets, self.rows, self.frames, depths)

    def depth_of(self, index: int) -> int | None:
        if self.depths is None or int(self.depths[index]) == 0:
            return None
        return int(self.depths[index])


def client_seed(seed: int, round_index: int, client_index: int) -> int:
    """Seed of one client's local training in one round (data order, SpecAugment, dropout)."""
    return int(np.random.SeedSequence([seed, round_index, client_index]).generate_state(1)[0])


def sample_cohort(
    seed: int, round_index: int, attempt: int, eligible: Sequence[int], size: int
) -> list[int]:
    """Uniformly without replacement from the eligible client indices, in sorted order."""
    rng = np.random.default_rng([seed, round_index, attempt, 0xC0])
    size = min(size, len(eligible))
    chosen = rng.choice(np.asarray(eligible, dtype=np.int64), size=size, replace=False)
    return sorted(int(i) for i in chosen)


def make_tasks(
    registry: ClientRegistry, cohort: Sequence[int], seed: int, round_index: int
) -> list[ClientTask]:
    return [
        ClientTask(
            client_id=registry.ids[i],
            index=i,
            rows=registry.rows_of(i),
            round=round_index,
            seed=client_seed(seed, round_index, i),
            depth=registry.depth_of(i),
            frames=int(registry.frames[i]),
        )
        for i in cohort
    ]


def plan_shards(tasks: Sequence[ClientTask], shards: int) -> list[list[ClientTask]]:
    """Balance work across a fixed number of shards: largest client first onto the lightest
    shard (ties broken by shard index, then client index). Empty shards are dropped."""
    plan: list[list[ClientTask]] = [[] for _ in range(max(1, shards))]
    load = [0] * len(plan)
    for task in sorted(tasks, key=lambda t: (-t.frames, t.index)):
        target = min(range(len(plan)), key=lambda s: (load[s], s))
        plan[target].append(task)
        load[target] += task.frames
    return [shard for shard in plan if shard]
