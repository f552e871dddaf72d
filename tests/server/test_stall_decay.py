"""Client-rate decay on a stalled validation metric and fall-back to the best model: driven by
a fake metric sequence, then inside real (tiny) runs, where they must show in the logs."""

from __future__ import annotations

from types import SimpleNamespace
from typing import Any

import pytest
import torch

from fedasr.algorithms.base import ServerState
from fedasr.engine.executors import make_executor
from fedasr.engine.loop import FederatedRun
from fedasr.engine.rundir import read_metrics
from fedasr.server.schema import StallDecaySection
from fedasr.server.stall import FallbackToBestHook, StallDecayHook

METRIC = "heldout_wer"


def drive(hook: Any, values: list[float], run: Any = None) -> list[dict[str, Any]]:
    return [hook.after_evaluation(run, {METRIC: value}) for value in values]


def test_decay_fires_after_patience_and_stops_at_min_lr() -> None:
    hook = StallDecayHook(StallDecaySection(factor=0.5, patience=2, min_lr=0.25), METRIC, 1.0)
    values = [0.9, 0.8, 0.85, 0.82, 0.81, 0.9, 0.95, 0.99, 0.7]
    factors = [out["client_lr_factor"] for out in drive(hook, values)]
    # two stalls in a row -> x0.5; count again; the floor min_lr / lr = 0.25 holds
    assert factors == [1, 1, 1, 0.5, 0.5, 0.25, 0.25, 0.25, 0.25]
    assert hook.lr_factor() == 0.25 and hook.decays == 2


def test_min_delta_decides_what_counts_as_an_improvement() -> None:
    hook = StallDecayHook(StallDecaySection(factor=0.5, min_delta=0.05), METRIC, 1.0)
    assert [o["client_lr_factor"] for o in drive(hook, [0.9, 0.87, 0.8])] == [1, 0.5, 0.5]


def test_no_metric_no_change_and_state_round_trips() -> None:
    hook = StallDecayHook(StallDecaySection(patience=2), METRIC, 1.0)
    drive(hook, [0.5, 0.6])
    assert hook.after_evaluation(None, {"test_wer": 0.1}) == {}  # type: ignore[arg-type]
    restored = StallDecayHook(StallDecaySection(patience=2), METRIC, 1.0)
    restored.load_state_dict(hook.state_dict())
    assert drive(restored, [0.7]) == drive(hook, [0.7])
    assert restored.lr_factor() == 0.5


def test_fallback_restores_the_best_params_and_optimizer_state() -> None:
    server = ServerState(torch.zeros(3), {"m": torch.zeros(3)})
    run = SimpleNamespace(server=server)
    hook = FallbackToBestHook(METRIC)
    assert not drive(hook, [0.5], run)[0]["fell_back"]  # the best so far: remembered
    server.params, server.optimizer = torch.ones(3), {"m": torch.full((3,), 7.0)}
    assert drive(hook, [0.6], run)[0]["fell_back"]  # worse: the best comes back
    assert torch.equal(server.params, torch.zeros(3))
    assert torch.equal(server.optimizer["m"], torch.zeros(3))
    server.params = torch.full((3,), 2.0)
    assert not drive(hook, [0.5], run)[0]["fell_back"]  # equal is not worse
    assert torch.equal(server.params, torch.full((3,), 2.0))
    drive(hook, [0.4], run)
    server.params = torch.ones(3)
    drive(hook, [0.45], run)
    assert torch.equal(server.params, torch.full((3,), 2.0)) and hook.fallbacks == 2


def test_decay_shows_in_the_logged_lr_and_survives_resume(tiny_config) -> None:  # type: ignore[no-untyped-def]
    # min_delta 10: after the first evaluation nothing counts as an improvement
    config = tiny_config(
        "rounds.total=4", "client.stall_decay={factor: 0.5, patience: 1, min_delta: 10}"
    )
    FederatedRun(config, progress=False).execute()
    metrics = read_metrics(config.resolved_run_dir())
    assert [m["lr"] for m in metrics] == pytest.approx([0.003, 0.003, 0.0015, 0.00075])
    resumed = FederatedRun(config, resume=True, progress=False)
    hook = next(h for h in resumed.hooks if isinstance(h, StallDecayHook))
    assert hook.lr_factor() == 0.125 and resumed.client_lr(4) == pytest.approx(0.000375)


def test_fallback_fires_inside_the_loop(tiny_config, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    config = tiny_config("rounds.total=3", "server.fallback_to_best=true")
    run = FederatedRun(config, progress=False)
    fake = iter([0.5, 0.7, 0.4])
    monkeypatch.setattr(run.evaluator, "evaluate", lambda params: ({METRIC: next(fake)}, {}))
    run.executor = make_executor("serial", run.setup.spec, 1)
    run.run_round(0)
    after_first = run.server.params.clone()
    record = run.run_round(1)  # 0.7 > 0.5: back to the model after round 1
    assert record["fell_back"] and torch.equal(run.server.params, after_first)
    assert not run.run_round(2)["fell_back"]
