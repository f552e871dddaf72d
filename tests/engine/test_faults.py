"""Injected faults (the `faults:` section), the client watchdog, and runs that train nothing.

20 % of the clients of each kind fail — raise, return NaN, hang past the timeout, kill their
worker — for several rounds on the serial and the process executor: both runs complete, record
every fault with its kind, and end with the same weights bit for bit.
"""

from __future__ import annotations

import time

import pytest
import torch
from typer.testing import CliRunner

from fedasr.cli.app import app
from fedasr.config import load_config
from fedasr.engine.cohort import sample_cohort
from fedasr.engine.fault_schema import FaultsSection
from fedasr.engine.faults import fault_for
from fedasr.engine.loop import FederatedRun
from fedasr.engine.outcomes import RunFailedError
from fedasr.engine.rundir import read_metrics
from fedasr.experiment import build_run, run_federated

EVERY_KIND = (
    "faults.error.rate=0.2",
    "faults.nonfinite.rate=0.2",
    "faults.hang.rate=0.2",
    "faults.kill.rate=0.2",
)
TWELVE_CLIENTS = ("partition.scheme=iid", "partition.params.num_clients=12")
OUTCOME = {None: "ok", "error": "error", "nonfinite": "nonfinite", "hang": "timeout",
           "hang_native": "timeout", "kill": "crash"}  # fmt: skip


def test_the_fault_draw_is_a_pure_function_with_the_asked_rates() -> None:
    faults = FaultsSection.model_validate(
        {"error": {"rate": 0.2}, "kill": {"rate": 0.3, "rounds": [2]}, "hang": {"clients": ["c7"]}}
    )
    draws = [fault_for(faults, 0, r, c, f"c{c}") for r in range(4) for c in range(500) if c != 7]
    assert draws == [
        fault_for(faults, 0, r, c, f"c{c}") for r in range(4) for c in range(500) if c != 7
    ]
    per_round = [draws[i * 499 : (i + 1) * 499] for i in range(4)]
    assert all(0.15 < rnd.count("error") / 499 < 0.25 for rnd in per_round)
    assert [rnd.count("kill") > 100 for rnd in per_round] == [False, True, False, False]
    assert all(fault_for(faults, 0, r, 7, "c7") == "hang" for r in range(4))
    assert fault_for(faults, 1, 0, 3, "c3") is not None or fault_for(faults, 0, 0, 3, "c3") is None


def fault_run(tiny_config, tmp_path, executor: str) -> tuple[FederatedRun, list[dict]]:  # type: ignore[no-untyped-def, type-arg]
    config = tiny_config(
        f"run_dir={tmp_path / executor}", f"executor.kind={executor}", "executor.workers=2",
        "executor.shards=3", *TWELVE_CLIENTS, *EVERY_KIND, "rounds.total=3",
        "rounds.clients_per_round=10", "rounds.max_retries=0", "eval.every=3",
        "client.timeout_s=1",
    )  # fmt: skip
    run = build_run(config, progress=False)
    run.execute()
    return run, read_metrics(config.resolved_run_dir())


def test_faults_of_every_kind_are_survived_and_recorded_on_both_executors(  # type: ignore[no-untyped-def]
    tiny_config, tmp_path
) -> None:
    serial, serial_metrics = fault_run(tiny_config, tmp_path, "serial")
    pooled, pooled_metrics = fault_run(tiny_config, tmp_path, "process")
    assert torch.equal(serial.server.main, pooled.server.main)
    config, ids = serial.config, serial.parts.registry.ids
    seen = set()
    for metrics in (serial_metrics, pooled_metrics):
        assert [m["round"] for m in metrics] == [1, 2, 3]
        assert any(m["aggregated"] for m in metrics)
        for r, record in enumerate(metrics):
            cohort = sample_cohort(config.seed, r, 0, list(range(len(ids))), 10)
            expected = {ids[i]: OUTCOME[fault_for(config.faults, config.seed, r, i, ids[i])]
                        for i in cohort}  # fmt: skip
            recorded = {f["client"]: f["kind"] for f in record["failures"]}
            assert recorded == {c: k for c, k in expected.items() if k != "ok"}
            clients = record["clients"]
            assert (
                clients["sampled"]
                == 10
                == sum(clients[k] for k in ("succeeded", "failed", "timed_out", "non_finite"))
            )
            assert clients["succeeded"] == list(expected.values()).count("ok")
            seen |= set(expected.values())
    assert seen == {"ok", "error", "nonfinite", "timeout", "crash"}


def test_a_client_stuck_inside_a_training_step_is_stopped_at_its_timeout(  # type: ignore[no-untyped-def]
    tiny_config, monkeypatch
) -> None:
    from fedasr.train import local

    step = local.train_step

    def stuck_for_one_client(model, optimizer, batch, **kwargs):  # type: ignore[no-untyped-def]
        if torch.initial_seed() == stuck_seed[0]:
            time.sleep(30)  # a step that never returns in time
        return step(model, optimizer, batch, **kwargs)

    config = tiny_config("client.timeout_s=1", "rounds.total=1")
    run = build_run(config, progress=False)
    from fedasr.engine.cohort import client_seed

    stuck = sample_cohort(config.seed, 0, 0, range(len(run.parts.registry)), 3)[0]
    stuck_seed = [client_seed(config.seed, 0, stuck)]  # a client of round 1
    monkeypatch.setattr(local, "train_step", stuck_for_one_client)
    started = time.perf_counter()
    run.execute()
    assert time.perf_counter() - started < 15  # not the 30 s of the stuck step
    record = read_metrics(config.resolved_run_dir())[0]
    assert record["clients"]["timed_out"] == 1 and record["clients"]["succeeded"] == 2
    assert [f["kind"] for f in record["failures"]] == ["timeout"]
    assert "stopped by the watchdog" in record["failures"][0]["error"]


def test_the_process_pool_kills_a_client_stuck_in_native_code_at_its_timeout(  # type: ignore[no-untyped-def]
    tiny_config,
) -> None:
    config = tiny_config(
        "executor.kind=process", "executor.workers=2", "client.timeout_s=1", "rounds.total=1",
        "rounds.clients_per_round=4",
        "faults.hang_native.clients=[espeak-06]", "eval.splits=[]",
    )  # fmt: skip
    run = build_run(config, progress=False)
    started = time.perf_counter()
    run.execute()
    # timeout + 2 s of grace + a worker restart; it used to take timeout x shard + 60 s
    assert time.perf_counter() - started < 12
    record = read_metrics(config.resolved_run_dir())[0]
    assert record["failures"] == [
        {"client": "espeak-06", "attempt": 1, "kind": "timeout",
         "error": "past client.timeout_s=1.0; its worker process was killed"}
    ]  # fmt: skip
    assert record["clients"]["succeeded"] == 3


def test_hang_native_is_refused_on_the_serial_executor(tiny_config) -> None:  # type: ignore[no-untyped-def]
    from fedasr.errors import ConfigError

    with pytest.raises(ConfigError, match=r"faults.hang_native: executor.kind=serial"):
        run_federated(tiny_config("client.timeout_s=1", "faults.hang_native.rate=0.1"))


def test_a_run_that_trains_nothing_exits_non_zero_with_the_reason(  # type: ignore[no-untyped-def]
    tiny_config, tmp_path
) -> None:
    config = tiny_config("faults.error.rate=1")
    path = tmp_path / "all-fail.yaml"
    path.write_text(config.to_yaml())
    result = CliRunner().invoke(app, ["run", str(path), "-q"])
    assert result.exit_code == 3
    assert "no round trained the model" in result.output and "injected fault" in result.output
    assert [m["aggregated"] for m in read_metrics(tmp_path / "run")] == [False, False]
    assert not (tmp_path / "run" / "model.safetensors").exists()


def test_a_run_stops_after_too_many_skipped_rounds_in_a_row(tiny_config) -> None:  # type: ignore[no-untyped-def]
    config = tiny_config(
        "rounds.total=5", "rounds.max_retries=0", "rounds.stop_after_skipped=2",
        "faults.error.rate=1", "faults.error.rounds=[2,3,4]",
    )  # fmt: skip
    with pytest.raises(RunFailedError, match=r"the last 2 rounds were all skipped"):
        run_federated(config, progress=False)
    metrics = read_metrics(config.resolved_run_dir())
    assert [m["aggregated"] for m in metrics] == [True, False, False]
    assert (config.resolved_run_dir() / "checkpoints" / "round-000003").is_dir()  # resumable
    again = load_config(config.resolved_run_dir() / "config.yaml", ["faults.error=null"])
    assert run_federated(again, resume=True, progress=False).rounds == 5
