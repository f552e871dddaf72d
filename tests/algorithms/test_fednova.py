"""FedNova, the worked example of docs/engine.md: step-normalized updates by hand, and FedAvg
bit for bit when every client takes the same number of steps."""

from __future__ import annotations

import torch

from fedasr.algorithms.base import ClientCost, ClientResult, RoundAccumulator
from fedasr.algorithms.fednova import STEPS
from fedasr.algorithms.registry import build_algorithm
from fedasr.algorithms.spec import MAIN
from fedasr.config import load_config
from fedasr.engine.rundir import read_metrics
from fedasr.experiment import build_run
from fedasr.models.dims import ConformerDims


def normalized(name: str, direction: list[float], steps: int, examples: int) -> ClientResult:
    """A client result as FedNovaClient.update returns it: delta already divided by steps."""
    return ClientResult(
        name, torch.tensor(direction), examples, 10 * examples, 1.0, ClientCost(),
        stats={STEPS: float(steps)},
    )  # fmt: skip


def test_the_pseudo_gradient_by_hand() -> None:
    algorithm = build_algorithm(load_config(None, ["algorithm.name=fednova"]), ConformerDims())
    acc = RoundAccumulator({MAIN: 2})
    # client a: 1 example, 1 step, delta [2, 2]; client b: 3 examples, 3 steps, delta [6, 0]
    algorithm.client.fold(acc, normalized("a", [2.0, 2.0], steps=1, examples=1))
    algorithm.client.fold(acc, normalized("b", [2.0, 0.0], steps=3, examples=3))
    state, _ = algorithm.server.update(algorithm.server.init({MAIN: torch.zeros(2)}), acc)
    # d = (1*[2, 2] + 3*[2, 0]) / 4 = [2, 0.5]; tau_eff = (1*1 + 3*3) / 4 = 2.5; g = [5, 1.25]
    assert torch.allclose(-state.main, torch.tensor([5.0, 1.25]))


def test_equal_step_counts_make_it_fedavg_bit_for_bit(tiny_config, tmp_path) -> None:  # type: ignore[no-untyped-def]
    params, records = {}, {}
    for name in ("fedavg", "fednova"):
        config = tiny_config(
            f"run_dir={tmp_path / name}", f"algorithm.name={name}", "client.max_steps=1"
        )
        run = build_run(config, progress=False)
        start = run.server.main.clone()
        run.execute()
        params[name], records[name] = run.server.main, read_metrics(tmp_path / name)[0]
        assert not torch.equal(start, run.server.main)
    assert torch.equal(params["fedavg"], params["fednova"])
    clients = records["fednova"]["clients"]["succeeded"]  # each also sends its step count
    assert (
        records["fednova"]["cost"]["bytes_up"]
        == records["fedavg"]["cost"]["bytes_up"] + 4 * clients
    )
