"""Who shares masks with whom: every pair (SecAgg, Bonawitz et al. 2017) or a k-regular graph
(SecAgg+, Bell et al. 2020).

SecAgg+ replaces the complete graph by a random Harary graph H(n, k): the clients are put in
a seeded random order on a ring and each is linked to the k/2 nearest on either side. Each
client then agrees keys, shares secrets and expands masks with k neighbours instead of n − 1,
so its cost grows with k (Bell et al.: O(log n) suffices for security and dropout robustness
with high probability) rather than n. The order is drawn per (seed, round) by the server and
is public.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

GRAPH_TAG = 0x5EC6


def neighbours(
    clients: Sequence[int], degree: int | None, seed: int, round_index: int
) -> dict[int, tuple[int, ...]]:
    """Each client's neighbours (sorted). degree None, or at least n − 1: every other client."""
    ids = sorted(clients)
    n = len(ids)
    if degree is None or degree >= n - 1:
        return {c: tuple(o for o in ids if o != c) for c in ids}
    if degree % 2:
        raise ValueError(f"a Harary graph needs an even degree; got {degree}")
    rng = np.random.default_rng([seed, round_index, GRAPH_TAG])
    ring = [ids[i] for i in rng.permutation(n)]
    half = degree // 2
    out: dict[int, set[int]] = {c: set() for c in ids}
    for position, client in enumerate(ring):
        for step in range(1, half + 1):
            other = ring[(position + step) % n]
            out[client].add(other)
            out[other].add(client)
    return {c: tuple(sorted(out[c])) for c in ids}
