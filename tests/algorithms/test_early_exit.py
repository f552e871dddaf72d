"""Early-exit aggregation: each block and exit averaged over the clients that hold it, weighted
by examples; a block nobody trained and a frozen front-end stay untouched, with any optimizer."""

from __future__ import annotations

import pytest
import torch

from fedasr.algorithms.base import ClientCost, ClientResult, RoundAccumulator, ServerState
from fedasr.algorithms.coordinates import Span
from fedasr.algorithms.fedavg import CountWeighting, FedAvgClient, FedAvgServer
from fedasr.algorithms.server_opt import ServerOptimizer
from fedasr.algorithms.spec import MAIN
from fedasr.models.conformer import build_model
from fedasr.models.dims import ConformerDims
from fedasr.models.flat import ParamLayout

# A 10-coordinate "model" in depth order: front-end [0, 2), block+exit 1 [2, 5),
# block+exit 2 [5, 8), block+exit 3 [8, 10).
FRONTEND, SPAN = 2, {1: 5, 2: 8, 3: 10}


def result(depth: int, value: float, examples: int, offset: int = 0) -> ClientResult:
    delta = torch.full((SPAN[depth] - offset,), value)
    where = Span(offset, SPAN[depth])
    return ClientResult(
        f"c{depth}{value}", delta, examples, 10 * examples, 1.0, ClientCost(), depth, where=where
    )


class Server:
    """The main parameter set and optimizer state, as a test reads them."""

    def __init__(self, state: ServerState) -> None:
        self.params, self.optimizer = state.main, state.optimizer


def aggregate(results: list[ClientResult], optimizer: ServerOptimizer) -> Server:
    client = FedAvgClient(CountWeighting("examples"))
    server = FedAvgServer(optimizer, ConformerDims())
    state = server.init({MAIN: torch.arange(10, dtype=torch.float32)})
    acc = RoundAccumulator({MAIN: 10})
    for r in results:
        client.fold(acc, r)
    state, _ = server.update(state, acc)
    return Server(state)


def test_each_block_is_averaged_over_the_clients_that_hold_it() -> None:
    # a depth-1 client (1 example, delta 1) and a depth-2 client (3 examples, delta 2); no one
    # trained block 3
    server = aggregate([result(1, 1.0, 1), result(2, 2.0, 3)], ServerOptimizer("sgd", 1.0))
    start = torch.arange(10, dtype=torch.float32)
    by_hand = torch.tensor([1.75] * 5 + [2.0] * 3 + [0.0] * 2)  # (1*1 + 3*2)/4 on [0, 5)
    assert torch.equal(server.params, start - by_hand)
    assert torch.equal(server.params[8:], start[8:])  # the untrained block is untouched


def test_frozen_frontend_updates_aggregate_at_their_offset() -> None:
    # a third client with a frozen front-end sends only [2, 5) (value 4, 2 examples)
    results = [result(1, 1.0, 1), result(2, 2.0, 3), result(1, 4.0, 2, offset=FRONTEND)]
    server = aggregate(results, ServerOptimizer("sgd", 1.0))
    start = torch.arange(10, dtype=torch.float32)
    by_hand = torch.tensor([1.75, 1.75] + [2.5] * 3 + [2.0] * 3 + [0.0, 0.0])  # (1+6+8)/6 = 2.5
    assert torch.allclose(server.params, start - by_hand)


@pytest.mark.parametrize("kind", ["adam", "yogi", "momentum"])
def test_untrained_block_keeps_params_and_optimizer_state_with_any_optimizer(kind: str) -> None:
    optimizer = ServerOptimizer(kind, 0.1)
    server = aggregate([result(1, 1.0, 1), result(2, 2.0, 3)], optimizer)
    fresh = optimizer.init_state(torch.zeros(10))
    assert torch.equal(server.params[8:], torch.tensor([8.0, 9.0]))
    assert not torch.equal(server.params[:8], torch.arange(8, dtype=torch.float32))
    for name, value in server.optimizer.items():
        if value.dim():
            assert torch.equal(value[8:], fresh[name][8:]), name
    if kind == "adam":  # m = (1 - beta1) g on covered coordinates, g by hand as above
        assert server.optimizer["m"][0].item() == pytest.approx(0.1 * 1.75)
        assert server.optimizer["m"][5].item() == pytest.approx(0.1 * 2.0)


def test_model_cut_at_an_exit_is_a_prefix_holding_exactly_its_blocks() -> None:
    dims = ConformerDims(
        d_model=16,
        heads=2,
        head_size=8,
        ffn=32,
        conv_channels=16,
        conv_kernel=3,
        layers=4,
        exits=(1, 3, 4),
        subsampling_channels=4,
    )
    layout = ParamLayout.of(build_model(dims), dims)
    for depth, (layers, exits) in {1: (1, 1), 2: (3, 2), 3: (4, 3)}.items():
        span = layout.span(depth)
        held = [n for n, o in zip(layout.names, layout.offsets, strict=True) if o < span]
        blocks = {n.split(".")[0] + "." + n.split(".")[1] for n in held if n[0] in "le"}
        assert blocks == {f"layers.{i}" for i in range(layers)} | {
            f"exits.{i}" for i in range(exits)
        }
    front = layout.frontend_span
    pairs = zip(layout.names, layout.offsets, strict=True)
    assert all(n.startswith("frontend.") for n, o in pairs if o < front)
    assert 0 < front < layout.span(1)
