"""What runs inside a Ray actor: one WorkerContext, built once, training one shard per call.

The actor class is plain Python; the executor wraps it with `ray.remote` at run time, so this
module imports without Ray installed.
"""

from __future__ import annotations

import os
import socket
import warnings
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import torch

from fedasr.algorithms.base import Broadcast, ClientHalf, ClientTask, RoundAccumulator
from fedasr.engine.faults import mark_disposable_process
from fedasr.engine.shards import run_shard
from fedasr.engine.worker import WorkerContext, WorkerSpec


@dataclass(frozen=True)
class WireBroadcast:
    """A round's broadcast (and the client half to run) as it sits in the object store, put
    there once per round.

    The parameters travel as numpy arrays because Ray hands numpy arrays to every actor on a
    node zero-copy from shared memory; a torch tensor would be unpickled into a fresh copy by
    each actor. The bits are the same either way.
    """

    round: int
    params: dict[str, np.ndarray]
    lr: float
    coords: dict[str, np.ndarray]
    client: ClientHalf
    extras: dict[str, torch.Tensor] = field(default_factory=dict)

    @classmethod
    def of(cls, broadcast: Broadcast, client: ClientHalf) -> WireBroadcast:
        def host(tensors: dict[str, torch.Tensor]) -> dict[str, np.ndarray]:
            return {k: v.detach().cpu().contiguous().numpy() for k, v in tensors.items()}

        return cls(
            broadcast.round, host(broadcast.params), broadcast.lr, host(broadcast.coords),
            client, dict(broadcast.extras),
        )  # fmt: skip

    def unwrap(self) -> Broadcast:
        with warnings.catch_warnings():
            # The object store's buffer is read-only; workers only ever read the broadcast.
            warnings.simplefilter("ignore", UserWarning)
            params = {k: torch.from_numpy(v) for k, v in self.params.items()}
            coords = {k: torch.from_numpy(v) for k, v in self.coords.items()}
        return Broadcast(self.round, params, self.lr, coords, dict(self.extras))


@dataclass(frozen=True)
class ActorInfo:
    node_id: str
    host: str
    pid: int
    error: str | None = None  # why the worker could not be built on this node


def shared_path_problem(spec: WorkerSpec) -> str | None:
    """The first path the worker needs but this node cannot see, explained for the user."""
    needed = {
        "feature cache": spec.train.store_root,
        "tokenizer directory": spec.train.tokenizer_dir,
    }
    for what, path in needed.items():
        if not Path(path).is_dir():
            return (
                f"cannot open the {what} at {path}: with executor.kind=ray every node opens "
                "the feature cache (data.cache_dir) and the run's tokenizer (run_dir) at the "
                "driver's paths, so on a multi-node cluster put them on a filesystem that all "
                "nodes mount at the same path"
            )
    return None


class ShardActor:
    def __init__(self, spec: WorkerSpec) -> None:
        mark_disposable_process()  # a `kill` fault kills this actor's process
        self.spec = spec
        self.worker: WorkerContext | None = None
        self.error = shared_path_problem(spec)
        if self.error is None:
            try:
                self.worker = WorkerContext(spec)
            except Exception as err:  # reported through info(), so the driver names the node
                self.error = f"{type(err).__name__}: {err}"

    def info(self) -> ActorInfo:
        import ray

        node_id = ray.get_runtime_context().get_node_id()
        return ActorInfo(node_id, socket.gethostname(), os.getpid(), self.error)

    def run(
        self, index: int, shard: Sequence[ClientTask], wire: WireBroadcast
    ) -> tuple[int, RoundAccumulator]:
        assert self.worker is not None, "the executor never sends work to a failed actor"
        # Ray may run calls on another thread than __init__; OpenMP's thread count is per thread.
        torch.set_num_threads(self.spec.threads)
        return index, run_shard(self.worker, shard, wire.unwrap(), wire.client)
