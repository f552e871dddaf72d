"""Client-rate decay on a stalled validation metric and fall-back to the best model: driven by
a fake metric sequence, then inside real (tiny) runs, where they must show in the logs."""

from __future__ import annotations

from typing import Any

import pytest
import torch

from fedasr.algorithms.base import ServerState
from fedasr.algorithms.spec import MAIN
from fedasr.engine.rundir import read_metrics
from fedasr.experiment import build_run
from fedasr.server.schema import StallDecaySection
from fedasr.server.stall import FallbackToBest, StallDecay

METRIC = "heldout_wer"
NO_SERVER = ServerState({MAIN: torch.zeros(1)}, {})


def drive(hook: Any, values: list[float]) -> list[dict[str, Any]]:
    return [hook.after_evaluation(0, {METRIC: value}, NO_SERVER).metrics for value in values]


def test_decay_fires_after_patience_and_stops_at_min_lr() -> None:
    hook = StallDecay(StallDecaySection(factor=0.5, patience=2, min_lr=0.25), METRIC, 1.0)
    values = [0.9, 0.8, 0.85, 0.82, 0.81, 0.9, 0.95, 0.99, 0.7]
    factors = [out["client_lr_factor"] for out in drive(hook, values)]
    # two stalls in a row -> x0.5; count again; the floor min_lr / lr = 0.25 holds
    assert factors == [1, 1, 1, 0.5, 0.5, 0.25, 0.25, 0.25, 0.25]
    assert hook.lr_factor() == 0.25 and hook.decays == 2


def test_min_delta_decides_what_counts_as_an_improvement() -> None:
    hook = StallDecay(StallDecaySection(factor=0.5, min_delta=0.05), METRIC, 1.0)
    assert [o["client_lr_factor"] for o in drive(hook, [0.9, 0.87, 0.8])] == [1, 0.5, 0.5]


def test_no_metric_no_change_and_state_round_trips() -> None:
    hook = StallDecay(StallDecaySection(patience=2), METRIC, 1.0)
    drive(hook, [0.5, 0.6])
    assert hook.after_evaluation(0, {"test_wer": 0.1}, NO_SERVER).metrics == {}
    restored = StallDecay(StallDecaySection(patience=2), METRIC, 1.0)
    restored.load_state_dict(hook.state_dict())
    assert drive(restored, [0.7]) == drive(hook, [0.7])
    assert restored.lr_factor() == 0.5


class FakeLoop:
    """Applies a plug-in's changes to a server state, as the round loop does."""

    def __init__(self, hook: FallbackToBest) -> None:
        self.hook = hook
        self.server = ServerState({MAIN: torch.zeros(3)}, {"m": torch.zeros(3)})

    def set(self, value: float, m: float | None = None) -> None:
        optimizer = self.server.optimizer if m is None else {"m": torch.full((3,), m)}
        self.server = ServerState({MAIN: torch.full((3,), value)}, optimizer, 0, self.server.extras)

    def evaluate(self, metric: float) -> bool:
        change = self.hook.after_evaluation(0, {METRIC: metric}, self.server)
        self.server = change.server or self.server
        return bool(change.metrics["fell_back"])


def test_fallback_restores_the_best_params_and_optimizer_state() -> None:
    loop = FakeLoop(FallbackToBest(METRIC))
    assert not loop.evaluate(0.5)  # the best so far: remembered
    loop.set(1.0, m=7.0)
    assert loop.evaluate(0.6)  # worse: the best comes back
    assert torch.equal(loop.server.main, torch.zeros(3))
    assert torch.equal(loop.server.optimizer["m"], torch.zeros(3))
    loop.set(2.0)
    assert not loop.evaluate(0.5)  # equal is not worse
    assert torch.equal(loop.server.main, torch.full((3,), 2.0))
    loop.evaluate(0.4)
    loop.set(1.0)
    loop.evaluate(0.45)
    assert torch.equal(loop.server.main, torch.full((3,), 2.0)) and loop.hook.fallbacks == 2


def test_decay_shows_in_the_logged_lr_and_survives_resume(tiny_config) -> None:  # type: ignore[no-untyped-def]
    # min_delta 10: after the first evaluation nothing counts as an improvement
    config = tiny_config(
        "rounds.total=4", "client.stall_decay={factor: 0.5, patience: 1, min_delta: 10}"
    )
    build_run(config, progress=False).execute()
    metrics = read_metrics(config.resolved_run_dir())
    assert [m["lr"] for m in metrics] == pytest.approx([0.003, 0.003, 0.0015, 0.00075])
    resumed = build_run(config, resume=True, progress=False)
    hook = next(h for h in resumed.plugins if isinstance(h, StallDecay))
    assert hook.lr_factor() == 0.125 and resumed.client_lr(4) == pytest.approx(0.000375)


def test_fallback_fires_inside_the_loop(tiny_config, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    config = tiny_config("rounds.total=3", "server.fallback_to_best=true")
    run = build_run(config, progress=False)
    fake = iter([0.5, 0.7, 0.4])
    monkeypatch.setattr(
        run.evaluators.by_set[MAIN], "evaluate", lambda params: ({METRIC: next(fake)}, {})
    )
    with run.executing():
        run.run_round(0)
        after_first = run.server.main.clone()
        record = run.run_round(1)  # 0.7 > 0.5: back to the model after round 1
        assert record["fell_back"] and torch.equal(run.server.main, after_first)
        assert not run.run_round(2)["fell_back"]
