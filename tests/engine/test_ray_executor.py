"""RayExecutor: bit-identical to the serial executor on a local Ray instance and on a two-node
cluster on this machine; an actor killed mid-round fails only its shard's clients."""

from __future__ import annotations

import importlib.util
import json
import pickle
import re
import sys
import warnings
from dataclasses import replace
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import torch
from ray_cluster import loopback_cluster, run_driver
from ray_rounds import Rounds, mini_overrides, train

from fedasr.algorithms.base import Broadcast, ServerState
from fedasr.algorithms.fedavg import CountWeighting, FedAvgClient
from fedasr.algorithms.spec import MAIN
from fedasr.config import ExperimentConfig, load_config
from fedasr.engine.executors import SerialExecutor, make_executor
from fedasr.engine.ray_actor import ShardActor, WireBroadcast
from fedasr.engine.ray_session import import_ray
from fedasr.errors import MissingExtraError
from fedasr.experiment.setup import Setup, build_setup

Mini = tuple[ExperimentConfig, Setup]
needs_ray = pytest.mark.skipif(
    importlib.util.find_spec("ray") is None,
    reason="ray is not installed (pip install -e '.[ray]'; `make test` installs it)",
)


@pytest.fixture(scope="module")
def ray_root(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("ray")


@pytest.fixture(scope="module")
def mini(ray_root: Path, mini_corpus: Path) -> Mini:
    config = load_config(None, mini_overrides(mini_corpus, ray_root))
    return config, build_setup(config, ray_root / "tokenizer", progress=False)


@pytest.fixture(scope="module")
def serial_params(mini: Mini) -> torch.Tensor:
    return train(SerialExecutor(mini[1].spec), *mini).server.main


# ----------------------------------------------------------------------------- without Ray
def test_missing_ray_names_the_extra(monkeypatch: pytest.MonkeyPatch, mini: Mini) -> None:
    monkeypatch.setitem(sys.modules, "ray", None)  # makes `import ray` fail
    message = "executor.kind=ray needs the optional package 'ray': pip install -e '.[ray]'"
    with pytest.raises(MissingExtraError, match=re.escape(message)):
        import_ray()
    with pytest.raises(MissingExtraError, match=re.escape(message)):
        make_executor("ray", mini[1].spec, 2)


def test_a_node_without_the_feature_cache_is_told_to_share_it(mini: Mini) -> None:
    spec = mini[1].spec
    elsewhere = replace(spec, train=replace(spec.train, store_root="/nonexistent/features/x"))
    error = ShardActor(elsewhere).error
    assert error is not None
    assert "feature cache at /nonexistent/features/x" in error
    assert "filesystem that all nodes mount" in error


def test_wire_broadcast_keeps_every_bit_and_reads_read_only_buffers() -> None:
    params, index = torch.randn(1000), torch.arange(0, 1000, 7)
    broadcast = Broadcast(
        round=4, params={MAIN: params}, lr=0.25, coords={"slice": index},
        extras={"mask": torch.ones(3)},
    )  # fmt: skip
    client = FedAvgClient(CountWeighting("frames"))
    wire = pickle.loads(pickle.dumps(WireBroadcast.of(broadcast, client)))
    wire.params[MAIN].setflags(write=False)  # as an object-store buffer is
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        back = wire.unwrap()
    assert torch.equal(back.params[MAIN], params) and back.round == 4 and back.lr == 0.25
    assert torch.equal(back.coords["slice"], index) and wire.client == client
    assert torch.equal(back.extras["mask"], torch.ones(3))
    assert np.shares_memory(back.params[MAIN].numpy(), wire.params[MAIN])  # no copy


# ----------------------------------------------------------------------------- local Ray
@needs_ray
@pytest.mark.slow
def test_local_ray_is_bit_identical_to_serial(mini: Mini, serial_params: torch.Tensor) -> None:
    import ray

    from fedasr.engine.ray_executor import RayExecutor

    executor = RayExecutor(mini[1].spec, 2, None)
    try:
        assert len(executor.actor_infos) == 2
        params = train(executor, *mini).server.main
    finally:
        executor.close()
    assert torch.equal(params, serial_params)
    assert not ray.is_initialized()  # the instance it started is stopped again


# ----------------------------------------------------------------------------- two nodes
@pytest.fixture(scope="module")
def cluster_run(ray_root: Path, mini_corpus: Path, mini: Mini) -> dict[str, Any]:
    """Run ray_cluster_driver.py once on a fresh two-node cluster (one CPU per node)."""
    out = ray_root / "cluster"
    out.mkdir()
    with loopback_cluster(nodes=2) as (address, env):
        run_driver(env, address, str(mini_corpus), str(ray_root), str(out))
    facts = json.loads((out / "facts.json").read_text())
    facts["out"] = out
    return facts


@needs_ray
@pytest.mark.slow
def test_two_node_cluster_is_bit_identical_to_serial(
    cluster_run: dict[str, Any], serial_params: torch.Tensor
) -> None:
    assert len(set(cluster_run["nodes"])) == 2, "two actors on two one-CPU nodes"
    assert torch.equal(torch.load(cluster_run["out"] / "params.pt"), serial_params)


@needs_ray
@pytest.mark.slow
def test_a_killed_actor_fails_its_shard_and_is_replaced(
    cluster_run: dict[str, Any], mini: Mini
) -> None:
    reports = cluster_run["reports"]
    failed = [(client, error) for client, ok, error in reports if not ok]
    assert len(reports) == 3 and len(failed) == 1, reports
    assert "Ray actor on" in failed[0][1] and "died" in failed[0][1]
    # the round still aggregated the other two (rounds.min_clients=1), and the pool healed:
    assert len(cluster_run["pids_after"]) == 2
    assert cluster_run["killed_pid"] not in cluster_run["pids_after"]
    assert len(set(cluster_run["nodes_after"])) == 2  # the replacement took the freed CPU
    assert cluster_run["next_round_succeeded"] == 3

    serial = Rounds(*mini)  # the round after the kill is exactly the serial one
    state = torch.load(cluster_run["out"] / "before.pt")
    serial.server = ServerState({MAIN: state["params"]}, state["optimizer"])
    serial.run(SerialExecutor(mini[1].spec), 1)
    assert torch.equal(serial.server.main, torch.load(cluster_run["out"] / "after.pt"))
