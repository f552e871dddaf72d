"""Secure aggregation (SecAgg, Bonawitz et al. 2017; SecAgg+, Bell et al. 2020), simulated
faithfully in one process: see protocol.py for the round and docs/trust.md for its limits."""

from fedasr.trust.secagg.client import SecAggAbort, SecAggClient
from fedasr.trust.secagg.fixed_point import RingCodec, Segment, codec_for
from fedasr.trust.secagg.protocol import SecAggRun, Traffic, plain_ring_sum, secure_sum
from fedasr.trust.secagg.server import SecAggServer, SecureSum

__all__ = [
    "RingCodec",
    "SecAggAbort",
    "SecAggClient",
    "SecAggRun",
    "SecAggServer",
    "SecureSum",
    "Segment",
    "Traffic",
    "codec_for",
    "plain_ring_sum",
    "secure_sum",
]
