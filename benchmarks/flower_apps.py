"""The Flower side of bench_flower: a ServerApp running Flower's own FedAvg strategy (message
API, flwr 1.41) with its cohort forced to fedasr's, and a ClientApp that trains the named client
with fedasr's client code. Imported only from the Flower venv (see bench_flower.py).
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field

import torch
from flower_shared import trainer_for
from flwr.app import (
    ArrayRecord,
    ConfigRecord,
    Context,
    Message,
    MessageType,
    MetricRecord,
    RecordDict,
)
from flwr.clientapp import ClientApp
from flwr.serverapp import Grid, ServerApp
from flwr.serverapp.strategy import FedAvg
from flwr.serverapp.strategy.strategy_utils import sample_nodes

CohortFn = Callable[[int], list[int]]  # round index (0-based) -> fedasr client indices
LrFn = Callable[[int], float]


class CohortFedAvg(FedAvg):
    """Flower's FedAvg with fedasr's cohort: client k of the registry is the k-th node in
    node-id order, and its message names k so the ClientApp trains that client's data."""

    def __init__(self, cohort: CohortFn, lr: LrFn, num_clients: int) -> None:
        super().__init__(fraction_evaluate=0.0, min_available_nodes=num_clients)
        self.cohort = cohort
        self.lr = lr
        self.num_clients = num_clients

    def configure_train(
        self, server_round: int, arrays: ArrayRecord, config: ConfigRecord, grid: Grid
    ) -> Iterable[Message]:
        _, connected = sample_nodes(grid, self.num_clients, 1)  # waits for every node
        nodes = sorted(connected)
        round_index = server_round - 1
        messages = []
        for client in self.cohort(round_index):
            client_config = ConfigRecord(
                {"server-round": server_round, "client-index": client, "lr": self.lr(round_index)}
            )
            content = RecordDict({self.arrayrecord_key: arrays, "config": client_config})
            messages.append(
                Message(content=content, message_type=MessageType.TRAIN, dst_node_id=nodes[client])
            )
        return messages


@dataclass
class ServerLog:
    """What the ServerApp thread hands back: when each round ended and its global weights."""

    started: float = 0.0
    round_ends: list[float] = field(default_factory=list)
    weights: list[dict[str, torch.Tensor]] = field(default_factory=list)


def make_server_app(
    initial: dict[str, torch.Tensor],
    rounds: int,
    strategy: CohortFedAvg,
    log: ServerLog,
) -> ServerApp:
    app = ServerApp()

    def after_round(server_round: int, arrays: ArrayRecord) -> MetricRecord | None:
        if server_round > 0:  # called once before round 1 as well
            log.round_ends.append(time.perf_counter())
            log.weights.append(arrays.to_torch_state_dict())
        return None

    @app.main()
    def main(grid: Grid, context: Context) -> None:
        strategy.start(
            grid=grid,
            initial_arrays=ArrayRecord(initial),
            num_rounds=rounds,
            evaluate_fn=after_round,
        )

    return app


def make_client_app(recipe_path: str, *, reuse: bool) -> ClientApp:
    app = ClientApp()

    @app.train()
    def train(msg: Message, context: Context) -> Message:
        config = msg.content["config"]
        state = msg.content["arrays"].to_torch_state_dict()
        trainer = trainer_for(recipe_path, reuse=reuse)
        weights, examples, loss = trainer.train(
            int(config["client-index"]), int(config["server-round"]) - 1, state, float(config["lr"])
        )
        content = RecordDict(
            {
                "arrays": ArrayRecord(weights),
                "metrics": MetricRecord({"train_loss": loss, "num-examples": examples}),
            }
        )
        return Message(content=content, reply_to=msg)

    return app
