"""Secure aggregation inside a run: the round's SecAgg stage and the aggregation that follows.

The protocol is interactive (keys, shares, masked inputs, unmasking), so the engine runs it as
one stage after the clients trained: `secure_round` plays every client of the cohort and the
server through trust/secagg (one process here; a deployment runs the client objects on the
devices). Clients that were sampled but failed or missed their deadline count as dropped after
sharing keys (the costly case: their mask keys are rebuilt from shares). What comes out is a
`SecureSum` — and `secure_pseudo_gradient`, the aggregation, is handed nothing else: it never
sees one client's update (a test holds that).

A client's input is its weighted update w·Δ, its weight w and, with adaptive DP clipping, its
noised clipping bit, each a fixed-point segment of the ring (trust/secagg/fixed_point.py).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

import numpy as np
import torch

from fedasr.algorithms.base import KeptUpdate
from fedasr.trust import keys
from fedasr.trust.dp import count_noise_std
from fedasr.trust.schema import DPSection, SecAggSection
from fedasr.trust.secagg import RingCodec, SecAggRun, SecureSum, codec_for, secure_sum

COUNT_SIGMAS = 8.0  # the clipping bit's segment covers its noise share to this many std


def count_bound(dp: DPSection | None, clients: int) -> float | None:
    """The bound of the `unclipped` segment (adaptive DP only): 1 plus the client's share of
    the count noise (distributed mode) to COUNT_SIGMAS standard deviations."""
    if dp is None or dp.adaptive is None:
        return None
    share = count_noise_std(dp, clients) / math.sqrt(clients) if dp.mode == "distributed" else 0
    return 1.0 + COUNT_SIGMAS * share


def ring_codec(section: SecAggSection, dp: DPSection | None, numel: int, clients: int) -> RingCodec:
    return codec_for(
        numel, clients, bits=section.bits, clip_range=section.clip_range,
        max_weight=section.max_weight, count_bound=count_bound(dp, clients),
    )  # fmt: skip


def client_input(update: KeptUpdate, adaptive: bool) -> dict[str, Any]:
    """What one client feeds the protocol: w·Δ, w (and the clipping bit)."""
    values: dict[str, Any] = {
        "update": update.vector,
        "weight": np.array([update.values[keys.WEIGHT]]),
    }
    if adaptive:
        values["unclipped"] = np.array([update.values[keys.UNCLIPPED]])
    return values


def secure_round(
    kept: Sequence[KeptUpdate],
    index_of: dict[str, int],
    dropped: Sequence[str],
    section: SecAggSection,
    dp: DPSection | None,
    numel: int,
    seed: int,
    round_index: int,
) -> SecAggRun:
    """Run one SecAgg round over the cohort: the clients in `kept` deliver their inputs, those
    in `dropped` shared keys and then failed."""
    adaptive = dp is not None and dp.adaptive is not None
    inputs: dict[int, Any] = {index_of[u.client_id]: client_input(u, adaptive) for u in kept}
    lost = [index_of[c] for c in dropped if c in index_of]
    inputs.update({client: {} for client in lost})  # never read: they deliver no input
    codec = ring_codec(section, dp, numel, len(inputs))
    return secure_sum(
        inputs, codec, degree=section.degree, threshold=section.threshold, seed=seed,
        round_index=round_index, drop_after_sharing=lost,
    )  # fmt: skip


def secure_pseudo_gradient(total: SecureSum) -> torch.Tensor:
    """The aggregation without DP: Σ w·Δ / Σ w over the survivors, from the secure sum only."""
    weight = float(total.values["weight"][0])
    if weight <= 0:
        raise ValueError("the securely summed weight is not positive")
    return torch.from_numpy(total.values["update"] / weight).float()


def secure_metrics(run: SecAggRun, numel: int, degree: int | None) -> dict[str, Any]:
    """What the protocol cost this round, per client that stayed, against a float32 upload."""
    client = run.per_survivor()
    plain = 4 * numel
    return {
        "protocol": "secagg" if degree is None else f"secagg+ (k={degree})",
        "survivors": len(run.result.survivors),
        "dropped": len(run.result.dropped),
        "clipped_values": run.clipped,
        "bytes_up_per_client": client.bytes_up,
        "bytes_down_per_client": client.bytes_down,
        "upload_vs_plain": client.bytes_up / plain if plain else None,
        "client_s": client.seconds,
        "server_s": sum(run.server_seconds.values()),
    }
