"""The fleet: which device tier each registered client is, its budget, and who is online.

Pure functions of (config, client ids, seed) — and of the round for availability — so every
executor, a resumed run and a test all see the same fleet without storing it anywhere.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from fedasr.devices.schema import DevicesSection, DeviceTier
from fedasr.errors import ConfigError
from fedasr.models.dims import ConformerDims
from fedasr.models.flat import ParamLayout
from fedasr.models.memory import training_memory_bytes

ASSIGN_TAG = 0xDE71CE  # keeps the assignment stream apart from every other use of the seed
AVAILABILITY_TAG = 0xA7A1


@dataclass(frozen=True)
class Fleet:
    tier_names: tuple[str, ...]  # in config order
    profiles: tuple[DeviceTier, ...]
    tier_of: np.ndarray  # (n,) index into tier_names, per registered client
    depths: np.ndarray  # (n,) deepest exit each client trains; 0 = the full model
    seed: int

    def tier(self, client: int) -> str:
        return self.tier_names[int(self.tier_of[client])]

    def profile(self, client: int) -> DeviceTier:
        return self.profiles[int(self.tier_of[client])]

    def available(self, round_index: int) -> np.ndarray:
        """(n,) bool: who is online in this round. One uniform draw per client from
        (seed, round); client i always gets draw i, so adding clients changes no one else's."""
        draws = np.random.default_rng([self.seed, round_index, AVAILABILITY_TAG]).random(
            len(self.tier_of)
        )
        chances = np.array([p.availability for p in self.profiles])[self.tier_of]
        return draws < chances

    def counts(self) -> dict[str, int]:
        return {name: int((self.tier_of == i).sum()) for i, name in enumerate(self.tier_names)}


def assign_tiers(section: DevicesSection, client_ids: Sequence[str], seed: int) -> np.ndarray:
    """(n,) tier index per client: `devices.clients` first, the rest by `devices.shares`."""
    names = list(section.tiers)
    unknown = sorted(set(section.clients) - set(client_ids))
    if unknown:
        raise ConfigError(
            f"devices.clients: no registered client {unknown[0]!r} "
            f"(clients are ids like {client_ids[0]!r})"
        )
    tier_of = np.full(len(client_ids), -1, dtype=np.int64)
    for i, client in enumerate(client_ids):
        if client in section.clients:
            tier_of[i] = names.index(section.clients[client])
    rest = np.flatnonzero(tier_of < 0)
    if len(rest) and not section.shares:
        raise ConfigError(
            f"devices.shares: {len(rest)} client(s) are not in devices.clients; "
            "give shares (e.g. {low: 0.5, high: 0.5}) or name every client"
        )
    shuffled = np.random.default_rng([seed, ASSIGN_TAG]).permutation(rest)
    start = 0
    for tier, count in zip(section.shares, share_counts(section.shares, len(rest)), strict=True):
        tier_of[shuffled[start : start + count]] = names.index(tier)
        start += count
    return tier_of


def share_counts(shares: dict[str, float], n: int) -> list[int]:
    """Exact counts that sum to n (largest remainder; ties go to the earlier tier)."""
    total = sum(shares.values())
    quotas = [n * share / total for share in shares.values()]
    counts = [int(q) for q in quotas]
    by_remainder = sorted(range(len(quotas)), key=lambda i: (-(quotas[i] - counts[i]), i))
    for i in by_remainder[: n - sum(counts)]:
        counts[i] += 1
    return counts


def tier_depth(
    name: str,
    tier: DeviceTier,
    dims: ConformerDims,
    layout: ParamLayout,
    batch_seconds: float,
    optimizer: str,
) -> int:
    """The deepest exit a tier trains: max_depth as configured, else the deepest whose training
    memory (models/memory.py) fits memory_mb, else 0 (the full model)."""
    exits = len(dims.exits)
    if tier.max_depth is not None:
        if tier.max_depth > exits:
            raise ConfigError(
                f"devices.tiers.{name}.max_depth: {tier.max_depth}, but the model has "
                f"exits 1..{exits}"
            )
        return 0 if tier.max_depth == exits else tier.max_depth
    if tier.memory_mb is None:
        return 0
    budget = tier.memory_mb * 2**20
    needed = [
        training_memory_bytes(dims, d, layout.span(d), batch_seconds, optimizer)
        for d in range(1, exits + 1)
    ]
    fitting = [d for d, need in enumerate(needed, start=1) if need <= budget]
    if not fitting:
        raise ConfigError(
            f"devices.tiers.{name}.memory_mb: {tier.memory_mb} MB is too little even for exit 1 "
            f"(needs {needed[0] / 2**20:.1f} MB at client.batch_seconds={batch_seconds})"
        )
    return 0 if fitting[-1] == exits else fitting[-1]


def build_fleet(
    section: DevicesSection,
    client_ids: Sequence[str],
    seed: int,
    dims: ConformerDims,
    layout: ParamLayout,
    batch_seconds: float,
    optimizer: str,
) -> Fleet:
    seed = section.seed if section.seed is not None else seed
    tier_of = assign_tiers(section, client_ids, seed)
    per_tier = [
        0 if section.depth == "full" else tier_depth(n, t, dims, layout, batch_seconds, optimizer)
        for n, t in section.tiers.items()
    ]
    depths = np.asarray(per_tier, dtype=np.int64)[tier_of]
    return Fleet(tuple(section.tiers), tuple(section.tiers.values()), tier_of, depths, seed)
