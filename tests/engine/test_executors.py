"""Executors must agree bit for bit, and failing clients or workers never end a run."""

from __future__ import annotations

import json

import pytest
import torch

from fedasr.engine.rundir import read_metrics
from fedasr.experiment import build_run, run_federated


def final_params(config) -> torch.Tensor:  # type: ignore[no-untyped-def]
    run = build_run(config, progress=False)
    run.execute()
    return run.server.main


def test_process_pool_equals_serial_bit_for_bit(tiny_config, tmp_path) -> None:  # type: ignore[no-untyped-def]
    serial = final_params(tiny_config(f"run_dir={tmp_path / 's'}", "executor.shards=3"))
    pooled = final_params(
        tiny_config(
            f"run_dir={tmp_path / 'p'}",
            "executor.shards=3",
            "executor.kind=process",
            "executor.workers=2",
        )
    )
    one_worker = final_params(
        tiny_config(
            f"run_dir={tmp_path / 'p1'}",
            "executor.shards=3",
            "executor.kind=process",
            "executor.workers=1",
        )
    )
    assert torch.equal(serial, pooled)
    assert torch.equal(serial, one_worker)


def test_training_changes_the_weights_and_logs_costs(tiny_config) -> None:  # type: ignore[no-untyped-def]
    config = tiny_config()
    run = build_run(config, progress=False)
    start = run.server.main.clone()
    run.execute()
    assert not torch.equal(start, run.server.main)
    metrics = read_metrics(config.resolved_run_dir())
    assert [m["round"] for m in metrics] == [1, 2]
    first = metrics[0]
    numel = run.layout.numel
    assert first["clients"]["succeeded"] == 3
    # every client downloads and uploads the full float32 vector
    assert first["cost"]["bytes_down"] == first["cost"]["bytes_up"] == 3 * 4 * numel
    assert first["cost"]["flops"] > 0 and first["cost"]["examples"] > 0
    assert metrics[1]["cumulative"]["bytes_total"] == 2 * first["cost"]["bytes_total"]
    assert "heldout_wer" in metrics[-1] and len(metrics[-1]["heldout_wer_per_exit"]) == 3


def test_a_raising_client_is_left_out_and_the_run_goes_on(tiny_config, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    from fedasr.algorithms import fedavg

    original = fedavg.FedAvgClient.update

    def flaky(self, ctx, task, broadcast):  # type: ignore[no-untyped-def]
        if task.index == 0:
            raise RuntimeError("simulated device crash")
        return original(self, ctx, task, broadcast)

    monkeypatch.setattr(fedavg.FedAvgClient, "update", flaky)
    config = tiny_config("rounds.clients_per_round=4", "rounds.min_clients=1")
    run_federated(config, progress=False)
    metrics = read_metrics(config.resolved_run_dir())
    failures = [f for m in metrics for f in m["failures"]]
    assert failures and all("simulated device crash" in f["error"] for f in failures)
    assert all(m["aggregated"] for m in metrics)


def test_a_round_below_min_clients_is_retried_then_skipped(tiny_config) -> None:  # type: ignore[no-untyped-def]
    # A timeout no client can meet: every attempt fails, each round is skipped, the run ends.
    # A run that trained nothing fails (RunFailedError), with every round recorded.
    from fedasr.engine.outcomes import RunFailedError

    config = tiny_config("client.timeout_s=1e-9", "rounds.min_clients=2", "rounds.max_retries=1")
    run = build_run(config, progress=False)
    start = run.server.main.clone()
    with pytest.raises(RunFailedError, match="no round trained the model"):
        run.execute()
    metrics = read_metrics(config.resolved_run_dir())
    assert [m["aggregated"] for m in metrics] == [False, False]
    assert all(m["clients"]["attempts"] == 2 for m in metrics)
    assert all(m["clients"]["timed_out"] == m["clients"]["sampled"] == 6 for m in metrics)
    assert torch.equal(start, run.server.main)
    assert not (config.resolved_run_dir() / "model.safetensors").exists()


def test_a_dead_worker_process_is_replaced(tiny_config) -> None:  # type: ignore[no-untyped-def]
    config = tiny_config("executor.kind=process", "executor.workers=2", "rounds.total=2")
    run = build_run(config, progress=False)
    with run.executing():
        run.run_round(0)
        run.executor._slots[0].process.kill()  # type: ignore[union-attr]
        run.executor._slots[0].process.join()  # type: ignore[union-attr]
        record = run.run_round(1)
    assert record["aggregated"] and record["clients"]["failed"] == 0


@pytest.mark.parametrize("key", ["executor.kind=threads", "rounds.total=0", "client.optimzer=sgd"])
def test_bad_config_fails_before_anything_runs(tiny_config, key) -> None:  # type: ignore[no-untyped-def]
    from fedasr.errors import ConfigError

    with pytest.raises(ConfigError, match=key.split("=")[0]):
        tiny_config(key)


def test_resolved_config_is_written_and_loads_back(tiny_config) -> None:  # type: ignore[no-untyped-def]
    from fedasr.config import load_config

    config = tiny_config()
    run_federated(config, progress=False)
    again = load_config(config.resolved_run_dir() / "config.yaml")
    assert json.dumps(again.model_dump(mode="json")) == json.dumps(config.model_dump(mode="json"))
