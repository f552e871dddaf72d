"""The server side of SecAgg: it routes keys and sealed shares, collects masked inputs, and
removes the masks from their sum with the seeds it reconstructs from the survivors' shares.

Every method takes only protocol messages (messages.py) and checks their types, so no code
path hands the server an unmasked input; the only vector it ever outputs is the sum. What it
reconstructs: the self-mask seed of each client whose masked input arrived, and the mask key
of each client that shared keys but whose masked input did not (it then recomputes, and
removes, the pairwise masks the survivors added for it). Honest clients never give out both
for one client (client.py), so the server cannot strip one client's masks.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np
from cryptography.hazmat.primitives.asymmetric.x25519 import X25519PrivateKey

from fedasr.trust.secagg import crypto, shamir
from fedasr.trust.secagg.client import MASK_PURPOSE, SecAggAbort
from fedasr.trust.secagg.fixed_point import RingCodec
from fedasr.trust.secagg.messages import (
    KeyAdvert,
    MaskedUpdate,
    SealedShares,
    UnmaskReply,
    UnmaskRequest,
)


@dataclass(frozen=True)
class SecureSum:
    values: dict[str, np.ndarray]  # decoded float64 sum of each segment over the survivors
    ring_sum: np.ndarray  # the exact sum in Z_2^bits
    survivors: tuple[int, ...]  # whose inputs are in the sum
    dropped: tuple[int, ...]  # shared keys, then their masked input never arrived


def _only(items: Sequence[object], kind: type) -> None:
    wrong = {type(item).__name__ for item in items if not isinstance(item, kind)}
    if wrong:
        raise TypeError(f"the SecAgg server accepts {kind.__name__} here, not {sorted(wrong)}")


class SecAggServer:
    def __init__(
        self, graph: Mapping[int, Sequence[int]], thresholds: Mapping[int, int],
        codec: RingCodec, context: bytes,
    ) -> None:  # fmt: skip
        self.graph = {c: tuple(n) for c, n in graph.items()}
        self.thresholds = dict(thresholds)
        self.codec = codec
        self.context = context
        self._adverts: dict[int, KeyAdvert] = {}
        self._shared: set[int] = set()  # U2: clients that sent their sealed shares
        self._masked: dict[int, MaskedUpdate] = {}

    def receive_adverts(self, adverts: Sequence[KeyAdvert]) -> dict[int, dict[int, KeyAdvert]]:
        """Round 0: each client gets its neighbours' public keys."""
        _only(adverts, KeyAdvert)
        self._adverts = {a.sender: a for a in adverts if a.sender in self.graph}
        return {
            c: {v: self._adverts[v] for v in self.graph[c] if v in self._adverts}
            for c in self._adverts
        }

    def route_shares(self, bundles: Sequence[SealedShares]) -> dict[int, list[SealedShares]]:
        """Round 1: sealed bundles forwarded to their recipients, unread."""
        _only(bundles, SealedShares)
        self._shared = {b.sender for b in bundles}
        out: dict[int, list[SealedShares]] = {c: [] for c in self._shared}
        for bundle in bundles:
            if bundle.recipient in out:  # a recipient that dropped gets nothing
                out[bundle.recipient].append(bundle)
        return out

    def receive_masked(self, updates: Sequence[MaskedUpdate]) -> UnmaskRequest:
        """Round 2: masked inputs from clients that completed round 1."""
        _only(updates, MaskedUpdate)
        for update in updates:
            if update.sender not in self._shared:
                raise SecAggAbort(f"client {update.sender} sent an input without sharing keys")
            if update.masked.dtype != self.codec.dtype or len(update.masked) != self.codec.length:
                raise SecAggAbort(f"client {update.sender}: masked input of the wrong shape")
        self._masked = {u.sender: u for u in updates}
        survivors = frozenset(self._masked)
        if not survivors:
            raise SecAggAbort("no masked input arrived")
        return UnmaskRequest(survivors, frozenset(self._shared - survivors))

    def unmask(self, replies: Sequence[UnmaskReply]) -> SecureSum:
        """Round 3: the sum of the survivors' inputs, masks removed."""
        _only(replies, UnmaskReply)
        survivors, dropped = sorted(self._masked), sorted(self._shared - set(self._masked))
        total = np.zeros(self.codec.length, dtype=self.codec.dtype)
        for client in survivors:
            total += self._masked[client].masked
        for client in survivors:
            seed = self._reconstruct(client, [r.seed_shares.get(client) for r in replies])
            total -= crypto.expand(seed, self.codec.length, self.codec.bits)
        for client in dropped:
            key = self._reconstruct(client, [r.key_shares.get(client) for r in replies])
            total = self._remove_pairwise(total, client, crypto.private_from_bytes(key), survivors)
        return SecureSum(self.codec.decode_sum(total), total, tuple(survivors), tuple(dropped))

    def _reconstruct(self, client: int, blobs: Sequence[bytes | None]) -> bytes:
        shares = [shamir.Share.from_bytes(b) for b in blobs if b is not None]
        threshold = self.thresholds[client]
        if len(shares) < threshold:
            raise SecAggAbort(
                f"only {len(shares)} shares of client {client}'s secret arrived; {threshold} "
                "are needed (too many of its neighbours dropped)"
            )
        return shamir.combine(shares, threshold)

    def _remove_pairwise(
        self, total: np.ndarray, dropped: int, key: X25519PrivateKey, survivors: Sequence[int]
    ) -> np.ndarray:
        """Subtract the masks survivors added for a dropped neighbour (whose own input and
        masks never arrived), recomputed from its reconstructed mask key."""
        for client in survivors:
            if client not in self.graph[dropped]:
                continue
            public = self._adverts[client].mask_public
            seed = crypto.agree(key, public, MASK_PURPOSE, self.context)
            pairwise = crypto.expand(seed, self.codec.length, self.codec.bits)
            # the survivor added +mask if it has the smaller id, -mask otherwise
            total = total - pairwise if client < dropped else total + pairwise
        return total
