"""RayExecutor: bit-identical to the serial executor on a local Ray instance and on a two-node
cluster on this machine; an actor killed mid-round fails only its shard's clients."""

from __future__ import annotations

import copy
import importlib.util
import os
import pickle
import re
import signal
import sys
import warnings
from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import torch
from ray_cluster import loopback_cluster

from fedasr.algorithms.base import Broadcast, RoundAccumulator, ServerState
from fedasr.algorithms.registry import build_algorithm
from fedasr.config import ExperimentConfig, load_config
from fedasr.engine.cohort import make_tasks, plan_shards, sample_cohort
from fedasr.engine.executors import Executor, SerialExecutor, make_executor
from fedasr.engine.ray_actor import ShardActor, WireBroadcast
from fedasr.engine.ray_session import import_ray
from fedasr.engine.setup import Setup, build_setup
from fedasr.errors import MissingExtraError

TINY = (
    "{d_model: 32, layers: 2, exits: [2], heads: 2, head_size: 16, ffn: 64, "
    "conv_channels: 32, subsampling_channels: 8}"
)
ROUNDS = 3
needs_ray = pytest.mark.skipif(
    importlib.util.find_spec("ray") is None,
    reason="ray is not installed (pip install -e '.[ray]'; `make test` installs it)",
)


class Rounds:
    """The round loop's arithmetic — cohort, shard plan, merge in shard order, server step —
    without its run dir, evaluation and checkpoints."""

    def __init__(self, config: ExperimentConfig, setup: Setup) -> None:
        self.config, self.setup = config, setup
        self.algorithm: Any = build_algorithm(config)
        params = setup.init_params.clone()
        self.server = ServerState(params, self.algorithm.server_optimizer.init_state(params))

    def run(self, executor: Executor, r: int) -> RoundAccumulator:
        config, registry = self.config, self.setup.registry
        clients = range(len(registry))
        cohort = sample_cohort(config.seed, r, 0, clients, config.rounds.clients_per_round)
        shards = plan_shards(make_tasks(registry, cohort, config.seed, r), config.executor.shards)
        broadcast = self.algorithm.broadcast(self.server, r, config.client.lr)
        total = RoundAccumulator(self.setup.layout.numel)
        for partial in executor.run(shards, broadcast):
            total.merge(partial)
        if total.succeeded:
            self.algorithm.server_update(self.server, total)
        return total


@pytest.fixture(scope="module")
def mini(
    tmp_path_factory: pytest.TempPathFactory, mini_corpus: Path
) -> tuple[ExperimentConfig, Setup]:
    root = tmp_path_factory.mktemp("ray")
    config = load_config(
        None,
        [
            f"data.corpus={mini_corpus}", "data.synth_if_missing=null", f"model.overrides={TINY}",
            "rounds.clients_per_round=3", "executor.shards=3", "executor.workers=2",
            "client.max_steps=2", f"run_dir={root / 'run'}",
        ],
    )  # fmt: skip
    return config, build_setup(config, root / "tokenizer", progress=False)


@pytest.fixture(scope="module")
def serial_params(mini: tuple[ExperimentConfig, Setup]) -> torch.Tensor:
    rounds = Rounds(*mini)
    for r in range(ROUNDS):
        assert rounds.run(SerialExecutor(mini[1].spec), r).succeeded == 3
    return rounds.server.params


def train(executor: Executor, mini: tuple[ExperimentConfig, Setup]) -> Rounds:
    rounds = Rounds(*mini)
    for r in range(ROUNDS):
        assert rounds.run(executor, r).succeeded == 3
    return rounds


# ----------------------------------------------------------------------------- without Ray
def test_missing_ray_names_the_extra(
    monkeypatch: pytest.MonkeyPatch, mini: tuple[ExperimentConfig, Setup]
) -> None:
    monkeypatch.setitem(sys.modules, "ray", None)  # makes `import ray` fail
    message = "executor.kind=ray needs the optional package 'ray': pip install -e '.[ray]'"
    with pytest.raises(MissingExtraError, match=re.escape(message)):
        import_ray()
    with pytest.raises(MissingExtraError, match=re.escape(message)):
        make_executor("ray", mini[1].spec, 2)


def test_a_node_without_the_feature_cache_is_told_to_share_it(
    mini: tuple[ExperimentConfig, Setup],
) -> None:
    spec = mini[1].spec
    elsewhere = replace(spec, train=replace(spec.train, store_root="/nonexistent/features/x"))
    error = ShardActor(elsewhere).error
    assert error is not None
    assert "feature cache at /nonexistent/features/x" in error
    assert "filesystem that all nodes mount" in error


def test_wire_broadcast_keeps_every_bit_and_reads_read_only_buffers() -> None:
    params = torch.randn(1000)
    broadcast = Broadcast(round=4, params=params, lr=0.25, extras={"mask": torch.ones(3)})
    wire = pickle.loads(pickle.dumps(WireBroadcast.of(broadcast)))
    wire.params.setflags(write=False)  # as an object-store buffer is
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        back = wire.unwrap()
    assert torch.equal(back.params, params) and back.round == 4 and back.lr == 0.25
    assert torch.equal(back.extras["mask"], torch.ones(3))
    assert np.shares_memory(back.params.numpy(), wire.params)  # no copy on the actor


# ----------------------------------------------------------------------------- local Ray
@needs_ray
@pytest.mark.slow
def test_local_ray_is_bit_identical_to_serial(
    mini: tuple[ExperimentConfig, Setup], serial_params: torch.Tensor
) -> None:
    import ray

    from fedasr.engine.ray_executor import RayExecutor

    executor = RayExecutor(mini[1].spec, 2, None)
    try:
        assert len(executor.actor_infos) == 2
        params = train(executor, mini).server.params
    finally:
        executor.close()
    assert torch.equal(params, serial_params)
    assert not ray.is_initialized()  # the instance it started is stopped again


# ----------------------------------------------------------------------------- two nodes
@pytest.fixture(scope="module")
def cluster_executor(mini: tuple[ExperimentConfig, Setup]) -> Iterator[Any]:
    from fedasr.engine.ray_executor import RayExecutor

    with loopback_cluster(nodes=2) as (address, auth), pytest.MonkeyPatch.context() as patch:
        for name, value in auth.items():
            patch.setenv(name, value)
        executor = RayExecutor(mini[1].spec, 2, address)
        try:
            yield executor
        finally:
            executor.close()


@needs_ray
@pytest.mark.slow
def test_two_node_cluster_is_bit_identical_to_serial(
    cluster_executor: Any, mini: tuple[ExperimentConfig, Setup], serial_params: torch.Tensor
) -> None:
    nodes = {info.node_id for info in cluster_executor.actor_infos}
    assert len(nodes) == 2, "one actor per node: each node has one CPU"
    params = train(cluster_executor, mini).server.params
    assert torch.equal(params, serial_params)


def kill_first_actor_dispatched(executor: Any, monkeypatch: pytest.MonkeyPatch) -> list[int]:
    """SIGKILL the actor process that gets the round's first shard, right after it got it."""
    killed: list[int] = []
    dispatch = executor._dispatch

    def dispatch_then_kill(slot: int, *args: Any) -> Any:
        ref = dispatch(slot, *args)
        if not killed:
            killed.append(executor.actor_infos[slot].pid)
            os.kill(killed[0], signal.SIGKILL)
        return ref

    monkeypatch.setattr(executor, "_dispatch", dispatch_then_kill)
    return killed


@needs_ray
@pytest.mark.slow
def test_a_killed_actor_fails_its_shard_and_is_replaced(
    cluster_executor: Any, mini: tuple[ExperimentConfig, Setup], monkeypatch: pytest.MonkeyPatch
) -> None:
    rounds = Rounds(*mini)
    killed = kill_first_actor_dispatched(cluster_executor, monkeypatch)
    acc = rounds.run(cluster_executor, 0)
    failed = [report for report in acc.reports if not report.ok]
    assert len(killed) == 1 and len(acc.reports) == 3
    assert len(failed) == 1 and "died" in (failed[0].error or "")
    assert acc.succeeded == 2  # the round still aggregates (rounds.min_clients=1)
    monkeypatch.undo()

    cluster_executor.wait_for_actors()
    infos = cluster_executor.actor_infos
    assert len(infos) == 2 and killed[0] not in {info.pid for info in infos}
    assert len({info.node_id for info in infos}) == 2  # the replacement took the freed CPU

    serial = Rounds(*mini)  # the next round is again exactly the serial one
    serial.server = copy.deepcopy(rounds.server)
    assert rounds.run(cluster_executor, 1).succeeded == 3
    serial.run(SerialExecutor(mini[1].spec), 1)
    assert torch.equal(rounds.server.params, serial.server.params)
