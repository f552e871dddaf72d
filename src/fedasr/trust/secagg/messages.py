"""What travels between SecAgg clients and the server, each with its size on the wire.

The server's methods accept only these types (server.py checks it), and none of them carries
an unmasked input: `MaskedUpdate` holds the masked ring vector, `SealedShares` ciphertext the
server cannot open, `UnmaskReply` shares of seeds (never both a client's self-mask share and
its key share). That is what the structural test in tests/trust checks.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from fedasr.trust.secagg.shamir import SHARE_BYTES

ID_BYTES = 8  # a client id on the wire


@dataclass(frozen=True)
class KeyAdvert:
    """Round 0: a client's two public keys (share encryption, mask agreement)."""

    sender: int
    cipher_public: bytes
    mask_public: bytes

    @property
    def nbytes(self) -> int:
        return ID_BYTES + len(self.cipher_public) + len(self.mask_public)


@dataclass(frozen=True)
class SealedShares:
    """Round 1: the sender's shares of its self-mask seed and mask key, for one recipient,
    encrypted under their pairwise key: the server routes it but cannot read it."""

    sender: int
    recipient: int
    blob: bytes

    @property
    def nbytes(self) -> int:
        return 2 * ID_BYTES + len(self.blob)


@dataclass(frozen=True)
class MaskedUpdate:
    """Round 2: the input plus its self mask and pairwise masks, in the ring."""

    sender: int
    masked: np.ndarray

    @property
    def nbytes(self) -> int:
        return ID_BYTES + int(self.masked.nbytes)


@dataclass(frozen=True)
class UnmaskRequest:
    """Round 3 (server to clients): whose masked input arrived, and who dropped after
    sharing keys."""

    survivors: frozenset[int]
    dropped: frozenset[int]

    @property
    def nbytes(self) -> int:
        return ID_BYTES * (len(self.survivors) + len(self.dropped))


@dataclass(frozen=True)
class UnmaskReply:
    """Round 3 (client to server): shares of survivors' self-mask seeds and of dropped
    clients' mask keys that this client holds — never both kinds for one client."""

    sender: int
    seed_shares: dict[int, bytes]  # survivor -> share of its self-mask seed
    key_shares: dict[int, bytes]  # dropped client -> share of its mask private key

    @property
    def nbytes(self) -> int:
        count = len(self.seed_shares) + len(self.key_shares)
        return ID_BYTES + count * (ID_BYTES + SHARE_BYTES)
