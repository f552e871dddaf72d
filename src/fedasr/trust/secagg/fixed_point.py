"""Fixed-point encoding of client vectors into the ring Z_2^bits, where masks cancel exactly.

A client's input is a few named segments (its weighted update, its weight, its clipping bit),
each with a public bound B. A value x ∈ [−B, B] becomes the integer q = floor(x · s + u) with
u ~ U[0, 1) (stochastic rounding: unbiased, E[q] = x · s), stored mod 2^bits in two's
complement. The scale of a segment is s = (M − 1) / B with M = floor((2^(bits−1) − 1) / N)
for N the round's clients, so |q| ≤ M and the sum of all N inputs stays within
±(2^(bits−1) − 1): it never wraps, and reading the ring sum as a signed integer gives the
exact integer sum. The decoded sum is that integer / s: unbiased, with an error below N / s
per coordinate (standard deviation at most √N / (2 s)); at 32 bits, N = 100 and B = 0.5 the
step 1 / s is 2.3e-8 and the bound 2.3e-6.

Values outside [−B, B] are clipped (and counted): choose B to cover the clipped update plus
any DP noise a client adds (docs/trust.md, "Quantisation and DP").
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

import numpy as np
import torch

Values = Mapping[str, "torch.Tensor | np.ndarray | float"]


@dataclass(frozen=True)
class Segment:
    name: str
    length: int
    bound: float  # public bound on each value's magnitude


@dataclass(frozen=True)
class RingCodec:
    bits: int  # 32 or 64
    clients: int  # N: at most this many inputs are summed
    segments: tuple[Segment, ...]

    def __post_init__(self) -> None:
        if self.bits not in (32, 64):
            raise ValueError(f"bits must be 32 or 64; got {self.bits}")
        if self.per_client_max < 2:
            raise ValueError(f"{self.clients} clients leave no room in a {self.bits}-bit ring")

    @property
    def dtype(self) -> type[np.unsignedinteger]:
        return np.uint32 if self.bits == 32 else np.uint64

    @property
    def signed(self) -> type[np.signedinteger]:
        return np.int32 if self.bits == 32 else np.int64

    @property
    def per_client_max(self) -> int:
        return (2 ** (self.bits - 1) - 1) // self.clients

    @property
    def length(self) -> int:
        return sum(segment.length for segment in self.segments)

    @property
    def nbytes(self) -> int:
        return self.length * self.bits // 8

    def scale(self, segment: Segment) -> float:
        return (self.per_client_max - 1) / segment.bound

    def resolution(self, name: str) -> float:
        """The value of one integer step of segment `name`."""
        return 1.0 / self.scale(self._segment(name))

    def _segment(self, name: str) -> Segment:
        for segment in self.segments:
            if segment.name == name:
                return segment
        raise KeyError(f"no segment {name!r}; have {[s.name for s in self.segments]}")

    def encode(self, values: Values, rng: np.random.Generator) -> tuple[np.ndarray, int]:
        """(the ring vector, how many values were clipped to their bound)."""
        if set(values) != {s.name for s in self.segments}:
            raise ValueError(
                f"values {sorted(values)} must be the segments {[s.name for s in self.segments]}"
            )
        parts, clipped = [], 0
        for segment in self.segments:
            x = _as_float64(values[segment.name])
            if x.size != segment.length:
                raise ValueError(
                    f"segment {segment.name!r}: {x.size} values, expected {segment.length}"
                )
            clipped += int(np.count_nonzero(np.abs(x) > segment.bound))
            x = np.clip(x, -segment.bound, segment.bound) * self.scale(segment)
            parts.append(np.floor(x + rng.random(x.size)).astype(np.int64))
        return np.concatenate(parts).astype(self.dtype), clipped

    def decode_sum(self, ring_sum: np.ndarray) -> dict[str, np.ndarray]:
        """The float64 sum of each segment from the ring sum of the inputs."""
        integers = ring_sum.astype(self.dtype).view(self.signed).astype(np.float64)
        out, start = {}, 0
        for segment in self.segments:
            stop = start + segment.length
            out[segment.name] = integers[start:stop] / self.scale(segment)
            start = stop
        return out


def _as_float64(value: torch.Tensor | np.ndarray | float) -> np.ndarray:
    if isinstance(value, torch.Tensor):
        return value.detach().reshape(-1).double().cpu().numpy()
    return np.asarray(value, dtype=np.float64).reshape(-1)


def codec_for(
    update_length: int,
    clients: int,
    *,
    bits: int = 32,
    clip_range: float = 1.0,
    max_weight: float = 1.0,
    count_bound: float | None = None,
) -> RingCodec:
    """The usual layout: `update` (weight x update, bound clip_range x max_weight), `weight`
    (bound max_weight), and optionally `unclipped` (DP adaptive clipping's bit, plus noise)."""
    segments = [
        Segment("update", update_length, clip_range * max_weight),
        Segment("weight", 1, max_weight),
    ]
    if count_bound is not None:
        segments.append(Segment("unclipped", 1, count_bound))
    return RingCodec(bits, clients, tuple(segments))
