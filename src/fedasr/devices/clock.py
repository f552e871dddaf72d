"""The simulated clock: how long a client takes on its device, how long a round takes.

A client's simulated time is compute plus transfer on its device profile:
    t = FLOPs / flops_per_s + bytes_down / downlink_bytes_per_s + bytes_up / uplink_bytes_per_s
A round lasts until the server stops waiting: for the slowest client by default; at the deadline
when someone misses it; at the k-th finisher with over-selection (keep the first k to finish).

Deciding who is dropped needs every sampled client's time before the round is aggregated, but
client updates are summed on the workers, shard by shard. So, as FL simulators such as FedScale
do, the clock plans each sampled client's workload before it trains — the very batches its
seeded data order gives (data.batching.batch_rows), their FLOPs at its depth, the bytes of its
slice — and only the clients that make the cut are trained. The times logged afterwards are
recomputed from the costs the clients really report; for the FedAvg family they equal the plan
exactly (a test holds them together).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from fedasr.algorithms.base import ClientTask
from fedasr.data.batching import batch_rows
from fedasr.devices.schema import DeviceTier
from fedasr.models.dims import ConformerDims
from fedasr.models.flat import ParamLayout
from fedasr.models.flops import batch_flops

FLOAT32_BYTES = 4


def client_seconds(profile: DeviceTier, flops: float, bytes_down: int, bytes_up: int) -> float:
    return (
        flops / profile.flops_per_s
        + bytes_down / profile.downlink_bytes_per_s
        + bytes_up / profile.uplink_bytes_per_s
    )


@dataclass
class Cut:
    """Who of one attempt's sampled clients is waited for (positions into the sampled list)."""

    kept: list[int]
    dropped: list[int]  # past the deadline, or not among the first k
    closed_early: bool  # the k-th finisher closed the round (over-selection)
    waited_for_deadline: bool  # someone missed the deadline and the round ran until it
    seconds: float  # the planned duration of the attempt


def cut_round(times: Sequence[float], deadline: float | None, keep_first: int | None) -> Cut:
    """Finishers are the clients within the deadline, fastest first (ties: sampled order);
    with keep_first = k, the first k of them are kept and the k-th closes the round."""
    order = sorted(range(len(times)), key=lambda i: (times[i], i))
    finishers = [i for i in order if deadline is None or times[i] <= deadline]
    missed = len(finishers) < len(times)
    if keep_first is not None and len(finishers) >= keep_first:
        kept = finishers[:keep_first]
        seconds = times[kept[-1]] if kept else 0.0
        closed_early, waited = True, False
    else:
        kept = finishers
        waited = missed and deadline is not None
        slowest = max((times[i] for i in kept), default=0.0)
        seconds = deadline if waited and deadline is not None else slowest
        closed_early = False
    waited_for = set(kept)
    dropped = [i for i in range(len(times)) if i not in waited_for]
    return Cut(sorted(kept), dropped, closed_early, waited, float(seconds))


def attempt_seconds(cut: Cut, measured_kept: Sequence[float], deadline: float | None) -> float:
    """The attempt's duration from the kept clients' reported costs (the plan decided who)."""
    if cut.waited_for_deadline and deadline is not None:
        return float(deadline)
    return max(measured_kept, default=0.0)


@dataclass
class WorkloadPlanner:
    """A sampled client's work before it runs, exactly as worker.local_train will do it."""

    dims: ConformerDims
    layout: ParamLayout
    lengths: np.ndarray  # feature frames per row of the training store
    max_frames: int  # client.batch_seconds in frames
    local_epochs: int
    max_steps: int | None
    frozen_frontend: bool

    def _model(self, task: ClientTask) -> tuple[ConformerDims, ParamLayout, int | None]:
        """The architecture, layout and exit of what the client trains: its model spec's (a
        tier's own model under a tiered algorithm), else the run's model at its budget."""
        if task.spec is None or task.spec.dims == self.dims:
            depth = task.spec.depth if task.spec is not None else task.depth
            return self.dims, self.layout, depth
        return task.spec.dims, ParamLayout.for_dims(task.spec.dims), task.spec.depth

    def flops(self, task: ClientTask) -> float:
        dims, _, depth = self._model(task)
        rng = np.random.default_rng(task.seed)  # the same stream local_train batches from
        total, steps = 0.0, 0
        for _ in range(self.local_epochs):
            for rows in batch_rows(task.rows, self.lengths, self.max_frames, rng):
                if self.max_steps is not None and steps >= self.max_steps:
                    return total
                padded = int(self.lengths[rows].max())
                total += batch_flops(dims, len(rows), padded, depth, True, self.frozen_frontend)
                steps += 1
        return total

    def bytes(self, task: ClientTask) -> tuple[int, int]:
        """(down, up): the prefix up to the client's exit; up skips a frozen front-end. (What
        a method sends besides its parameters, e.g. FedKAD's knowledge, is not planned.)"""
        _, layout, depth = self._model(task)
        span = layout.span(depth)
        start = layout.frontend_span if self.frozen_frontend else 0
        return FLOAT32_BYTES * span, FLOAT32_BYTES * (span - start)

    def seconds(self, task: ClientTask, profile: DeviceTier) -> float:
        down, up = self.bytes(task)
        return client_seconds(profile, self.flops(task), down, up)
