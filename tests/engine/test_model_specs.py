"""Different model specs in one round: two architectures with a parameter set each, and a
width-sliced (physically smaller) model on coordinates of the one global set — the engine
mechanisms FedKAD, HeteroFL and federated pruning build on, checked on a toy pair of specs."""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Any

import torch

from fedasr.algorithms.base import Algorithm, Broadcast, ClientTask, RoundAccumulator, ServerState
from fedasr.algorithms.fedavg import CountWeighting, FedAvgClient, FedAvgServer
from fedasr.algorithms.server_opt import server_optimizer
from fedasr.algorithms.spec import MAIN, ModelSpec
from fedasr.config import ExperimentConfig
from fedasr.engine.cohort import make_tasks, sample_cohort
from fedasr.engine.rundir import read_metrics
from fedasr.engine.worker import WorkerContext
from fedasr.experiment import Setup, build_run
from fedasr.models.dims import ConformerDims
from fedasr.models.flat import ParamLayout
from fedasr.models.submodel import prefix_selection, width_index

SGD = ("server.optimizer=sgd", "server.lr=1.0", "rounds.total=1", "eval.every=1")
TIERED = (*SGD, "eval.metric=L_heldout_wer")  # no main set: each tier's metrics carry its name


@dataclass(frozen=True)
class TwoTiers:
    """Odd clients train a small architecture, even ones a large one; one set per tier."""

    fedavg: FedAvgServer
    tiers: dict[str, ConformerDims]

    def init(self, params: dict[str, torch.Tensor]) -> ServerState:
        return self.fedavg.init(params)

    def spec_for(self, task: ClientTask) -> ModelSpec:
        tier = "S" if task.index % 2 else "L"
        return ModelSpec(self.tiers[tier], params=tier)

    def broadcast(self, state: ServerState, round_index: int, lr: float) -> Broadcast:
        return self.fedavg.broadcast(state, round_index, lr)

    def update(
        self, state: ServerState, acc: RoundAccumulator
    ) -> tuple[ServerState, dict[str, Any]]:
        return self.fedavg.update(state, acc)


@dataclass(frozen=True)
class HalfWidth:
    """Clients chosen by `narrow` train the model cut to half its width (HeteroFL-style), a
    physically smaller model whose coordinates the broadcast names `half`."""

    fedavg: FedAvgServer
    narrow_dims: ConformerDims
    index: torch.Tensor
    narrow: str = "all"  # "all" or "odd"

    def init(self, params: dict[str, torch.Tensor]) -> ServerState:
        return self.fedavg.init(params)

    def spec_for(self, task: ClientTask) -> ModelSpec:
        if self.narrow == "all" or task.index % 2:
            return ModelSpec(self.narrow_dims, coords="half")
        return ModelSpec(self.fedavg.dims)

    def broadcast(self, state: ServerState, round_index: int, lr: float) -> Broadcast:
        return replace(self.fedavg.broadcast(state, round_index, lr), coords={"half": self.index})

    def update(
        self, state: ServerState, acc: RoundAccumulator
    ) -> tuple[ServerState, dict[str, Any]]:
        return self.fedavg.update(state, acc)


def small(dims: ConformerDims) -> ConformerDims:
    return dims.with_(layers=2, exits=(1, 2), ffn=32, conv_channels=16)


def two_tiers(config: ExperimentConfig, setup: Setup) -> Algorithm:
    tiers = {"S": small(setup.dims), "L": setup.dims}
    server = TwoTiers(FedAvgServer(server_optimizer(config), setup.dims), tiers)
    return Algorithm("two_tiers", FedAvgClient(CountWeighting("examples")), server, tiers)


def half_width(narrow: str):  # type: ignore[no-untyped-def]
    def build(config: ExperimentConfig, setup: Setup) -> Algorithm:
        narrow_dims, index = width_index(setup.dims, prefix_selection(setup.dims, 0.5))
        fedavg = FedAvgServer(server_optimizer(config), setup.dims)
        server = HalfWidth(fedavg, narrow_dims, index, narrow)
        client = FedAvgClient(CountWeighting("examples"))
        return Algorithm("half_width", client, server, {MAIN: setup.dims})

    return build


def sampled(run: Any, r: int = 0) -> list[int]:
    config = run.config
    everyone = list(range(len(run.parts.registry)))
    return sample_cohort(config.seed, r, 0, everyone, config.rounds.clients_per_round)


def test_two_architectures_train_in_one_round_each_on_its_own_set(tiny_config, tmp_path) -> None:  # type: ignore[no-untyped-def]
    common = (*TIERED, "rounds.clients_per_round=4", "executor.shards=2")
    serial = build_run(
        tiny_config(f"run_dir={tmp_path / 's'}", *common), progress=False, algorithm=two_tiers
    )
    start = {name: tensor.clone() for name, tensor in serial.server.params.items()}
    serial.execute()
    pooled = build_run(
        tiny_config(f"run_dir={tmp_path / 'p'}", *common, "executor.kind=process"),
        progress=False,
        algorithm=two_tiers,
    )
    pooled.execute()
    dims = serial.algorithm.param_dims
    numel = {tier: ParamLayout.for_dims(d).numel for tier, d in dims.items()}
    assert numel["S"] < numel["L"]
    for tier in ("S", "L"):
        assert serial.server.params[tier].numel() == numel[tier]
        assert not torch.equal(serial.server.params[tier], start[tier])  # both tiers trained
        assert torch.equal(serial.server.params[tier], pooled.server.params[tier])
    cohort = sampled(serial)
    assert {i % 2 for i in cohort} == {0, 1}  # the round really mixed the two architectures
    expected = sum(4 * numel["S" if i % 2 else "L"] for i in cohort)
    record = read_metrics(tmp_path / "s")[0]
    assert record["cost"]["bytes_down"] == record["cost"]["bytes_up"] == expected
    assert "S_heldout_wer" in record and "L_heldout_wer" in record  # each tier evaluated
    assert (tmp_path / "s" / "model-S.safetensors").is_file()


def test_a_worker_builds_one_model_per_architecture(tiny_config) -> None:  # type: ignore[no-untyped-def]
    run = build_run(tiny_config(*TIERED), progress=False, algorithm=two_tiers)
    worker = WorkerContext(run.parts.worker)
    broadcast = run.algorithm.server.broadcast(run.server, 0, 0.003)
    tasks = make_tasks(run.parts.registry, [0, 1, 2, 3], run.config.seed, 0)
    models = set()
    for task in tasks:
        task = replace(task, spec=run.algorithm.server.spec_for(task))
        result = run.algorithm.client.update(worker, task, broadcast)
        assert result.params == task.spec.params and result.delta is not None
        models.add(id(worker.model(task.spec)))
    assert len(models) == 2  # four clients, two architectures: two models, built once each


def test_a_width_sliced_client_updates_only_its_coordinates(tiny_config, tmp_path) -> None:  # type: ignore[no-untyped-def]
    config = tiny_config(f"run_dir={tmp_path / 'narrow'}", *SGD)
    run = build_run(config, progress=False, algorithm=half_width("all"))
    start = run.server.main.clone()
    index = run.algorithm.server.index  # type: ignore[attr-defined]
    run.execute()
    inside = torch.zeros(start.numel(), dtype=torch.bool)
    inside[index] = True
    changed = run.server.main != start
    assert changed[inside].any() and not changed[~inside].any()
    narrow = ParamLayout.for_dims(run.algorithm.server.narrow_dims).numel  # type: ignore[attr-defined]
    record = read_metrics(tmp_path / "narrow")[0]
    assert record["cost"]["bytes_up"] == 4 * narrow * len(sampled(run))  # physically smaller


def test_mixed_widths_average_each_coordinate_over_its_holders_on_every_executor(  # type: ignore[no-untyped-def]
    tiny_config, tmp_path
) -> None:
    common = (*SGD, "rounds.clients_per_round=4", "executor.shards=3")
    params = []
    for kind in ("serial", "process"):
        config = tiny_config(f"run_dir={tmp_path / kind}", *common, f"executor.kind={kind}")
        run = build_run(config, progress=False, algorithm=half_width("odd"))
        start = run.server.main.clone()
        run.execute()
        params.append(run.server.main)
        assert (run.server.main != start).float().mean() > 0.5  # the full clients reach the rest
    assert torch.equal(params[0], params[1])
