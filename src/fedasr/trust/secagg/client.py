"""The client side of SecAgg (Bonawitz et al., CCS 2017, semi-honest variant), one object per
client per round. Its secrets (private keys, self-mask seed, its input) never leave it except
as the protocol allows: public keys, encrypted shares, the masked input, and in the last round
shares that let the server remove masks — of a survivor's self mask or a dropped client's
mask key, never both for the same client.

    advertise()      round 0: two fresh X25519 public keys (share encryption, mask agreement)
    share_keys()     round 1: t-of-(k+1) Shamir shares of the self-mask seed b and of the mask
                     private key, one sealed bundle per neighbour, sent through the server (the
                     client keeps the last share itself, as in Bonawitz et al.)
    receive_shares() the bundles the server routed here
    mask()           round 2: y = x + PRG(b) + Σ_v ±PRG(s_uv) mod 2^bits, over the neighbours v
                     that completed round 1 (+ if u < v, − if u > v, so pairs cancel)
    unmask()         round 3: the shares the server needs, after checking the request
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence

import numpy as np
from cryptography.hazmat.primitives.asymmetric.x25519 import X25519PrivateKey

from fedasr.errors import FedasrError
from fedasr.trust.secagg import crypto, shamir
from fedasr.trust.secagg.fixed_point import RingCodec, Values
from fedasr.trust.secagg.messages import (
    KeyAdvert,
    MaskedUpdate,
    SealedShares,
    UnmaskReply,
    UnmaskRequest,
)

SHARE_PURPOSE, MASK_PURPOSE = b"fedasr-secagg share encryption", b"fedasr-secagg pairwise mask"


class SecAggAbort(FedasrError):
    """The round cannot finish safely (too few clients left to reconstruct or to hide one)."""


def threshold_for(holders: int, fraction: float) -> int:
    """Shares needed out of `holders`: ceil(fraction x holders), at least 1."""
    return max(1, math.ceil(fraction * holders))


def share_position(client: int) -> int:
    """A client's Shamir evaluation point (never 0, where the secret sits)."""
    return client + 1


def bundle_context(context: bytes, sender: int, recipient: int) -> bytes:
    return context + b"|" + sender.to_bytes(8, "little") + recipient.to_bytes(8, "little")


class SecAggClient:
    def __init__(
        self, client: int, neighbours: Sequence[int], threshold: int, codec: RingCodec,
        context: bytes,
    ) -> None:  # fmt: skip
        self.client = client
        self.neighbours = tuple(neighbours)
        self.threshold = threshold
        self.codec = codec
        self.context = context  # binds keys and ciphertexts to this (run, round)
        self._cipher_key = crypto.new_private_key()
        self._mask_key = crypto.new_private_key()
        self._seed = crypto.random_seed()
        self._peers: dict[int, KeyAdvert] = {}
        self._held: dict[int, tuple[shamir.Share, shamir.Share]] = {}  # sender -> (seed, key)

    def advertise(self) -> KeyAdvert:
        return KeyAdvert(
            self.client, crypto.public_bytes(self._cipher_key), crypto.public_bytes(self._mask_key)
        )

    def share_keys(self, adverts: Mapping[int, KeyAdvert]) -> list[SealedShares]:
        self._peers = {v: a for v, a in adverts.items() if v in self.neighbours}
        holders = sorted([*self._peers, self.client])  # it holds a share of its own (Bonawitz)
        if len(holders) < self.threshold:
            raise SecAggAbort(
                f"client {self.client}: {len(holders) - 1} neighbours advertised keys, too few "
                f"for the threshold {self.threshold}"
            )
        positions = [share_position(v) for v in holders]
        seed_shares = shamir.split(self._seed, self.threshold, positions)
        key_shares = shamir.split(crypto.private_bytes(self._mask_key), self.threshold, positions)
        out = []
        for v, seed_share, key_share in zip(holders, seed_shares, key_shares, strict=True):
            if v == self.client:
                self._held[v] = (seed_share, key_share)
                continue
            key = self._pair_key(v, SHARE_PURPOSE, self._cipher_key, "cipher_public")
            plaintext = seed_share.to_bytes() + key_share.to_bytes()
            blob = crypto.seal(key, plaintext, bundle_context(self.context, self.client, v))
            out.append(SealedShares(self.client, v, blob))
        return out

    def receive_shares(self, bundles: Sequence[SealedShares]) -> None:
        for bundle in bundles:
            if bundle.recipient != self.client or bundle.sender not in self._peers:
                raise SecAggAbort(f"client {self.client}: a bundle from {bundle.sender} misrouted")
            key = self._pair_key(bundle.sender, SHARE_PURPOSE, self._cipher_key, "cipher_public")
            context = bundle_context(self.context, bundle.sender, self.client)
            plaintext = crypto.unseal(key, bundle.blob, context)
            size = shamir.SHARE_BYTES
            seed_share = shamir.Share.from_bytes(plaintext[:size])
            key_share = shamir.Share.from_bytes(plaintext[size:])
            self._held[bundle.sender] = (seed_share, key_share)

    def mask(self, values: Values, rng: np.random.Generator) -> tuple[MaskedUpdate, int]:
        """(the masked input, how many values the encoding clipped to their bound)."""
        encoded, clipped = self.codec.encode(values, rng)
        masked = encoded + crypto.expand(self._seed, len(encoded), self.codec.bits)
        for v in sorted(set(self._held) - {self.client}):  # neighbours that completed round 1
            seed = self._pair_key(v, MASK_PURPOSE, self._mask_key, "mask_public")
            pairwise = crypto.expand(seed, len(encoded), self.codec.bits)
            masked = masked + pairwise if self.client < v else masked - pairwise
        return MaskedUpdate(self.client, masked), clipped

    def unmask(self, request: UnmaskRequest) -> UnmaskReply:
        both = request.survivors & request.dropped
        if both:
            raise SecAggAbort(
                f"client {self.client}: the server asked to unmask {sorted(both)} as both "
                "survivor and dropped, which would reveal their input"
            )
        alive = [v for v in self._held if v in request.survivors]
        if len(alive) < self.threshold:
            raise SecAggAbort(
                f"client {self.client}: only {len(alive)} holders of its shares (itself "
                f"included) survived, fewer than the threshold {self.threshold}; round aborted"
            )
        seeds = {v: self._held[v][0].to_bytes() for v in request.survivors if v in self._held}
        keys = {v: self._held[v][1].to_bytes() for v in request.dropped if v in self._held}
        return UnmaskReply(self.client, seeds, keys)

    def _pair_key(self, peer: int, purpose: bytes, own: X25519PrivateKey, field: str) -> bytes:
        public = getattr(self._peers[peer], field)
        return crypto.agree(own, public, purpose, self.context)
