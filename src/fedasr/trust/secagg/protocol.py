"""One SecAgg round simulated in one process: clients and server exchange only the protocol's
messages, in the protocol's order, and every message's bytes and every party's time are
recorded per phase.

Dropouts are injected at the two places that matter:
    drop_after_sharing  shared keys, then the masked input never reached the server (the
                        costly case: survivors reveal shares of its mask key and the server
                        recomputes the pairwise masks the survivors added for it)
    drop_after_input    its masked input arrived, then it sent no unmasking shares (costs
                        nothing while enough share holders remain)

This is a simulation of the protocol, not a deployment: see docs/trust.md for what it shows
and what a deployment adds (authenticated channels, a PKI or signatures against a malicious
server, the consistency round, real networks).
"""

from __future__ import annotations

import time
from collections.abc import Callable, Collection, Mapping
from dataclasses import dataclass, field
from typing import Any, TypeVar

import numpy as np

from fedasr.trust.secagg.client import SecAggAbort, SecAggClient, threshold_for
from fedasr.trust.secagg.fixed_point import RingCodec, Values
from fedasr.trust.secagg.graph import neighbours
from fedasr.trust.secagg.server import SecAggServer, SecureSum

PHASES = ("advertise", "share_keys", "mask", "unmask")
QUANTISE_TAG = 0x5EC0
T = TypeVar("T")


@dataclass
class Traffic:
    bytes_up: int = 0
    bytes_down: int = 0
    seconds: float = 0.0


@dataclass
class SecAggRun:
    result: SecureSum
    clients: dict[int, dict[str, Traffic]]  # per client, per phase
    server_seconds: dict[str, float] = field(default_factory=dict)
    clipped: int = 0  # values the encoding clipped to their bound, over all clients

    def per_client(self, phase: str | None = None) -> Traffic:
        """Mean traffic and time of a client that took part in the phase (or all phases)."""
        rows = [
            traffic
            for phases in self.clients.values()
            for name, traffic in phases.items()
            if phase is None or name == phase
        ]
        count = len(self.clients) if phase is None else len(rows)
        count = max(count, 1)
        return Traffic(
            sum(t.bytes_up for t in rows) // count,
            sum(t.bytes_down for t in rows) // count,
            sum(t.seconds for t in rows) / count,
        )

    def per_survivor(self) -> Traffic:
        """Mean traffic and time, over every phase, of a client that stayed to the end (whose
        input is in the sum): what one device pays for a round it completes."""
        survivors = self.result.survivors
        rows = [t for c in survivors for t in self.clients[c].values()]
        count = max(len(survivors), 1)
        return Traffic(
            sum(t.bytes_up for t in rows) // count,
            sum(t.bytes_down for t in rows) // count,
            sum(t.seconds for t in rows) / count,
        )


def quantise_rng(seed: int, round_index: int, client: int) -> np.random.Generator:
    """The stream of one client's stochastic rounding (the same in plain and secure sums)."""
    return np.random.default_rng([seed, round_index, client, QUANTISE_TAG])


def plain_ring_sum(
    inputs: Mapping[int, Values], codec: RingCodec, seed: int, round_index: int
) -> np.ndarray:
    """Reference: the ring sum of the encoded inputs, computed in the clear."""
    total = np.zeros(codec.length, dtype=codec.dtype)
    for client, values in sorted(inputs.items()):
        total += codec.encode(values, quantise_rng(seed, round_index, client))[0]
    return total


def secure_sum(
    inputs: Mapping[int, Values],
    codec: RingCodec,
    *,
    degree: int | None = None,
    threshold: float = 0.6,
    seed: int = 0,
    round_index: int = 0,
    drop_after_sharing: Collection[int] = (),
    drop_after_input: Collection[int] = (),
) -> SecAggRun:
    """Sum `inputs` (client id -> named values) with SecAgg; see the module docstring."""
    ids = sorted(inputs)
    if len(ids) > codec.clients:
        raise ValueError(f"{len(ids)} inputs but the codec is sized for {codec.clients}")
    graph = neighbours(ids, degree, seed, round_index)
    thresholds = {c: threshold_for(len(graph[c]) + 1, threshold) for c in ids}  # + itself
    context = (
        b"fedasr-secagg|"
        + seed.to_bytes(8, "little", signed=True)
        + round_index.to_bytes(8, "little")
    )
    traffic: dict[int, dict[str, Traffic]] = {c: {} for c in ids}
    server_seconds: dict[str, float] = {}
    clients = {c: SecAggClient(c, graph[c], thresholds[c], codec, context) for c in ids}
    server = SecAggServer(graph, thresholds, codec, context)

    def on(client: int, phase: str, call: Callable[..., T], *args: Any) -> T:
        started = time.perf_counter()
        out = call(*args)
        traffic[client].setdefault(phase, Traffic()).seconds += time.perf_counter() - started
        return out

    def at_server(phase: str, call: Callable[..., T], *args: Any) -> T:
        started = time.perf_counter()
        out = call(*args)
        server_seconds[phase] = time.perf_counter() - started
        return out

    # round 0: public keys up, neighbours' keys down
    adverts = [on(c, "advertise", clients[c].advertise) for c in ids]
    for advert in adverts:
        traffic[advert.sender]["advertise"].bytes_up += advert.nbytes
    routed_keys = at_server("advertise", server.receive_adverts, adverts)
    for c, peers in routed_keys.items():
        traffic[c]["advertise"].bytes_down += sum(a.nbytes for a in peers.values())

    # round 1: sealed shares up, the bundles addressed to each client down
    bundles = [b for c in ids for b in on(c, "share_keys", clients[c].share_keys, routed_keys[c])]
    for bundle in bundles:
        traffic[bundle.sender]["share_keys"].bytes_up += bundle.nbytes
    routed = at_server("share_keys", server.route_shares, bundles)
    for c, received in routed.items():
        traffic[c]["share_keys"].bytes_down += sum(b.nbytes for b in received)
        on(c, "share_keys", clients[c].receive_shares, received)

    # round 2: masked inputs (clients in drop_after_sharing never deliver theirs)
    masked, clipped = [], 0
    for c in ids:
        if c in drop_after_sharing:
            continue
        rng = quantise_rng(seed, round_index, c)
        update, count = on(c, "mask", clients[c].mask, inputs[c], rng)
        clipped += count
        masked.append(update)
        traffic[c]["mask"].bytes_up += update.nbytes
    request = at_server("mask", server.receive_masked, masked)

    # round 3: unmasking shares from the survivors still online
    replies = []
    for c in sorted(request.survivors):
        if c in drop_after_input:
            continue
        traffic[c].setdefault("unmask", Traffic()).bytes_down += request.nbytes
        reply = on(c, "unmask", clients[c].unmask, request)
        traffic[c]["unmask"].bytes_up += reply.nbytes
        replies.append(reply)
    result = at_server("unmask", server.unmask, replies)
    return SecAggRun(result, traffic, server_seconds, clipped)


__all__ = ["PHASES", "SecAggAbort", "SecAggRun", "Traffic", "plain_ring_sum", "secure_sum"]
