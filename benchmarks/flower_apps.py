"""The Flower side of bench_flower: a ServerApp running Flower's own FedAvg strategy (message
API, flwr 1.41) with its cohort forced to fedasr's, and a ClientApp that trains the named client
with fedasr's client code. Imported only from the Flower venv (see bench_flower.py).
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field

import torch
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

from benchmarks.flower_shared import FedasrAggregate, trainer_for
from fedasr.models.flat import ParamLayout

CohortFn = Callable[[int], list[int]]  # round index (0-based) -> fedasr client indices
LrFn = Callable[[int], float]


class CohortFedAvg(FedAvg):
    """Flower's FedAvg with fedasr's cohort: client k of the registry is the k-th node in
    node-id order, and its message names k so the ClientApp trains that client's data.

    `exact`: aggregate with fedasr's code instead of Flower's (the exactness check only)."""

    def __init__(
        self,
        cohort: CohortFn,
        lr: LrFn,
        num_clients: int,
        layout: ParamLayout,
        exact: FedasrAggregate | None = None,
    ) -> None:
        super().__init__(fraction_evaluate=0.0, min_available_nodes=num_clients)
        self.cohort = cohort
        self.lr = lr
        self.num_clients = num_clients
        self.layout = layout
        self.exact = exact
        self.sent: ArrayRecord | None = None
        self.client_seconds: list[dict[str, float]] = []  # per round, summed over clients

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
        self.sent = arrays
        return messages

    def aggregate_train(
        self, server_round: int, replies: Iterable[Message]
    ) -> tuple[ArrayRecord | None, MetricRecord | None]:
        replies = [msg for msg in replies if not msg.has_error()]
        metrics = [next(iter(msg.content.metric_records.values())) for msg in replies]
        self.client_seconds.append(
            {key: sum(float(m[key]) for m in metrics) for key in ("train-seconds", "app-seconds")}
        )
        if self.exact is None:
            return super().aggregate_train(server_round, replies)
        return self._fedasr_aggregate(server_round - 1, replies, metrics), None

    def _fedasr_aggregate(
        self, round_index: int, replies: list[Message], metrics: list[MetricRecord]
    ) -> ArrayRecord:
        assert self.exact is not None and self.sent is not None
        flat = self.layout.flatten
        clients = {
            int(m["client-index"]): (
                flat(msg.content["arrays"].to_torch_state_dict()),
                int(m["num-examples"]),
            )
            for msg, m in zip(replies, metrics, strict=True)
        }
        params = flat(self.sent.to_torch_state_dict())
        return ArrayRecord(self.layout.views(self.exact(round_index, params, clients)))


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
        started = time.perf_counter()
        config = msg.content["config"]
        client = int(config["client-index"])
        state = msg.content["arrays"].to_torch_state_dict()
        trainer = trainer_for(recipe_path, reuse=reuse)
        training = time.perf_counter()
        weights, examples, loss = trainer.train(
            client, int(config["server-round"]) - 1, state, float(config["lr"])
        )
        trained = time.perf_counter() - training
        arrays = ArrayRecord(weights)
        metrics = {
            "train_loss": loss,
            "num-examples": examples,
            "client-index": client,
            "train-seconds": trained,
            "app-seconds": time.perf_counter() - started,
        }
        content = RecordDict({"arrays": arrays, "metrics": MetricRecord(metrics)})
        return Message(content=content, reply_to=msg)

    return app
