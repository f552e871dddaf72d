"""Device tiers in real (tiny) runs: a low-tier client runs and sends only its blocks, a frozen
front-end never moves, the clock's plan equals what clients report, availability resumes."""

from __future__ import annotations

import dataclasses
import time

import pytest
import torch

from fedasr.algorithms.spec import ModelSpec
from fedasr.devices.clock import client_seconds
from fedasr.engine.cohort import make_tasks
from fedasr.engine.executors import make_executor
from fedasr.engine.rundir import read_metrics
from fedasr.engine.worker import WorkerContext
from fedasr.experiment import build_run

RATES = "flops_per_s: 1.0e8, downlink_bytes_per_s: 1.0e6, uplink_bytes_per_s: 2.5e5"
DEVICES = (
    f"devices.tiers={{low: {{{RATES}, availability: 0.6, max_depth: 1}}, high: {{{RATES}}}}}",
    "devices.shares={low: 1, high: 1}",
    "algorithm.name=early_exit",
)
# wider layers than the default test model, so that layer compute dominates the wall time
WIDE = ("model.overrides.d_model=64", "model.overrides.ffn=256", "model.overrides.heads=4")


def test_low_tier_client_runs_and_sends_only_its_blocks(tiny_config) -> None:  # type: ignore[no-untyped-def]
    run = build_run(tiny_config(*DEVICES, *WIDE, "devices.clock.deadline_s=1e9"), progress=False)
    worker = WorkerContext(run.parts.worker)
    model = worker.model(ModelSpec(run.dims))
    layout = model.layout
    calls = {name: 0 for name in ("layers.1", "layers.2", "exits.1", "exits.2")}
    for name in calls:
        module = model.module.get_submodule(name)
        module.register_forward_hook(lambda *_, key=name: calls.__setitem__(key, calls[key] + 1))
    broadcast = run.algorithm.server.broadcast(run.server, 0, 0.003)
    (task,) = make_tasks(run.parts.registry, [0], run.config.seed, 0)
    results, walls = {}, {}
    for depth in (1, None, 1, None, 1, None):
        before = dict(calls)
        started = time.perf_counter()
        deep = dataclasses.replace(task, depth=depth)
        deep = dataclasses.replace(deep, spec=run.algorithm.server.spec_for(deep))
        result = run.algorithm.client.update(worker, deep, broadcast)
        walls.setdefault(depth, []).append(time.perf_counter() - started)
        results[depth] = result
        ran_deeper = any(calls[k] > before[k] for k in calls)
        assert ran_deeper == (depth is None)  # a depth-1 client never runs layers 2-3
        if depth == 1:  # ... never changes them, and sends exactly the prefix it holds
            assert torch.equal(model.flat[layout.span(1) :], run.server.main[layout.span(1) :])
    low, full = results[1], results[None]
    assert low.delta is not None and low.delta.numel() == layout.span(1)
    assert low.cost.bytes_up == low.cost.bytes_down == 4 * layout.span(1)
    assert full.cost.bytes_up == 4 * layout.numel
    assert low.cost.flops < 0.6 * full.cost.flops
    assert min(walls[1]) < min(walls[None])
    # the clock's plan, made before training, equals what the client reports after it
    clock = run.plugins[1]
    profile = run.plugins[0].fleet.profile(0)  # type: ignore[attr-defined]
    for depth, result in results.items():
        planned = clock.planner.seconds(dataclasses.replace(task, depth=depth), profile)  # type: ignore[attr-defined]
        cost = result.cost
        measured = client_seconds(profile, cost.flops, cost.bytes_down, cost.bytes_up)
        assert planned == pytest.approx(measured, rel=1e-12)


def test_frozen_frontend_is_neither_changed_nor_uploaded(tiny_config) -> None:  # type: ignore[no-untyped-def]
    config = tiny_config(
        *DEVICES,
        "algorithm.freeze_frontend=true",
        "server.optimizer=adam",
        "server.lr=0.01",
        "rounds.total=2",
    )
    run = build_run(config, progress=False)
    start = run.server.main.clone()
    run.execute()
    layout, front = run.layout, run.layout.frontend_span
    assert torch.equal(run.server.main[:front], start[:front])
    assert not torch.equal(run.server.main[front:], start[front:])
    fleet = run.plugins[0].fleet  # type: ignore[attr-defined]
    for record in read_metrics(config.resolved_run_dir()):
        for tier, row in record["devices"]["tiers"].items():
            span = layout.span(1 if tier == "low" else None)
            assert row["bytes_up"] == row["clients"] * 4 * (span - front)
            assert row["bytes_down"] == row["clients"] * 4 * span
        assert record["sim_time_s"] > 0 and record["sim_round_s"] > 0
    assert set(fleet.counts().values()) == {2}


FOUR_ROUNDS = (
    *DEVICES,
    "rounds.total=4",
    "eval.every=4",
    "server.optimizer=adam",
    "server.lr=0.01",
    "rounds.clients_per_round=2",
    "devices.clock.keep_first=1",
)


def without_wall(value: object) -> object:
    """Everything but wall-clock seconds, which differ between any two runs."""
    if isinstance(value, dict):
        return {k: without_wall(v) for k, v in value.items() if "wall" not in k}
    return value


def test_availability_and_the_clock_resume_exactly(tiny_config, tmp_path) -> None:  # type: ignore[no-untyped-def]
    straight_config = tiny_config(f"run_dir={tmp_path / 'straight'}", *FOUR_ROUNDS)
    straight = build_run(straight_config, progress=False)
    straight.execute()
    config = tiny_config(f"run_dir={tmp_path / 'killed'}", *FOUR_ROUNDS)
    killed = build_run(config, progress=False)
    killed.executor = make_executor("serial", killed.parts.worker, 1)
    killed.run_round(0)
    killed.run_round(1)
    del killed
    resumed = build_run(config, resume=True, progress=False)
    resumed.execute()
    assert torch.equal(straight.server.main, resumed.server.main)
    a, b = read_metrics(straight_config.resolved_run_dir()), read_metrics(config.resolved_run_dir())
    for key in ("sim_time_s", "sim_stragglers", "cost"):
        assert [without_wall(m[key]) for m in a] == [without_wall(m[key]) for m in b]
    assert [without_wall(m["devices"]) for m in a] == [without_wall(m["devices"]) for m in b]
    available = [m["devices"]["available"] for m in a]
    assert len(set(available)) > 1 or available[0] < 4  # availability < 1 does bite
    assert all(m["clients"]["sampled"] <= 1 for m in a)  # over-selection kept the first one


def test_process_pool_equals_serial_with_mixed_depths_and_frozen_frontend(
    tiny_config, tmp_path
) -> None:  # type: ignore[no-untyped-def]
    common = (*DEVICES, "algorithm.freeze_frontend=true", "executor.shards=3")
    serial = build_run(tiny_config(f"run_dir={tmp_path / 's'}", *common), progress=False)
    serial.execute()
    pooled = build_run(
        tiny_config(
            f"run_dir={tmp_path / 'p'}", *common, "executor.kind=process", "executor.workers=2"
        ),
        progress=False,
    )
    pooled.execute()
    assert torch.equal(serial.server.main, pooled.server.main)
