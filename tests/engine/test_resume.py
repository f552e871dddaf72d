"""A run interrupted after round 2 and resumed ends bit-identical to an uninterrupted run."""

from __future__ import annotations

import pytest
import torch

from fedasr.engine.executors import make_executor
from fedasr.engine.rundir import read_metrics
from fedasr.experiment import build_run, run_federated

# a server schedule by round: a resumed run must pick it up at the right round
FOUR_ROUNDS = (
    "rounds.total=4",
    "eval.every=2",
    "server.optimizer=adam",
    "server.lr=0.01",
    "server.lr_schedule.kind=cosine",
    "server.lr_schedule.min_lr=0.001",
)


def test_four_rounds_straight_equal_two_plus_kill_plus_resume(tiny_config, tmp_path) -> None:  # type: ignore[no-untyped-def]
    straight_config = tiny_config(f"run_dir={tmp_path / 'straight'}", *FOUR_ROUNDS)
    straight = build_run(straight_config, progress=False)
    straight.execute()

    config = tiny_config(f"run_dir={tmp_path / 'killed'}", *FOUR_ROUNDS)
    killed = build_run(config, progress=False)
    killed.executor = make_executor("serial", killed.parts.worker, 1)
    killed.run_round(0)
    killed.run_round(1)
    # "kill": half of round 3 happened (a line was written) but no checkpoint was taken
    with (config.resolved_run_dir() / "metrics.jsonl").open("a") as handle:
        handle.write('{"round": 3, "partial": true}\n')
    del killed

    resumed = build_run(config, resume=True, progress=False)
    assert resumed.state.round == 2
    resumed.execute()
    assert torch.equal(straight.server.main, resumed.server.main)
    for key in straight.server.optimizer:
        assert torch.equal(straight.server.optimizer[key], resumed.server.optimizer[key])
    metrics = read_metrics(config.resolved_run_dir())
    assert [m["round"] for m in metrics] == [1, 2, 3, 4]
    assert [m["server_lr"] for m in metrics] == pytest.approx([0.01, 0.00775, 0.00325, 0.001])


def test_resume_without_checkpoint_starts_over(tiny_config) -> None:  # type: ignore[no-untyped-def]
    config = tiny_config("rounds.total=1")
    run_federated(config, resume=True, progress=False)
    assert [m["round"] for m in read_metrics(config.resolved_run_dir())] == [1]


def test_starting_a_new_run_over_an_old_one_is_refused(tiny_config) -> None:  # type: ignore[no-untyped-def]
    from fedasr.errors import ConfigError

    config = tiny_config("rounds.total=1")
    run_federated(config, progress=False)
    with pytest.raises(ConfigError, match="--resume"):
        run_federated(config, progress=False)


def test_a_run_its_time_budget_stopped_goes_on_with_a_larger_budget(tiny_config, tmp_path) -> None:  # type: ignore[no-untyped-def]
    straight = build_run(tiny_config(f"run_dir={tmp_path / 'straight'}"), progress=False)
    straight.execute()

    run_dir = f"run_dir={tmp_path / 'budget'}"
    assert (
        run_federated(tiny_config(run_dir, "rounds.time_budget_min=1e-6"), progress=False).rounds
        == 1
    )
    # resumed under the same budget it stays stopped; without one it finishes the schedule
    still = build_run(
        tiny_config(run_dir, "rounds.time_budget_min=1e-6"), resume=True, progress=False
    )
    assert still.execute().rounds == 1
    resumed = build_run(
        tiny_config(run_dir, "rounds.time_budget_min=null"), resume=True, progress=False
    )
    assert resumed.execute().rounds == 2
    assert torch.equal(straight.server.main, resumed.server.main)


def test_a_run_early_stopping_ended_stays_ended_on_resume(tiny_config) -> None:  # type: ignore[no-untyped-def]
    run = build_run(tiny_config("eval.early_stopping.patience=2"), progress=False)
    run.state.stop = "early_stopping"
    run._lift_stop()
    assert run.state.stop == "early_stopping"
    run.state.stop = "time_budget"  # no budget in this config: a budget stop is lifted
    run._lift_stop()
    assert run.state.stop is None


@pytest.mark.parametrize(("stalled", "after"), [(2, "early_stopping"), (1, None)])
def test_a_stop_recorded_by_an_older_fedasr_is_read_by_its_patience(  # type: ignore[no-untyped-def]
    tiny_config, stalled, after
) -> None:
    from fedasr.engine.run_state import LoopState

    old = LoopState().to_json()
    del old["stop"]
    old.update(stopped_early=True, evals_without_improvement=stalled)
    run = build_run(tiny_config("eval.early_stopping.patience=2"), progress=False)
    run.state = LoopState.from_json(old)
    run._lift_stop()
    assert run.state.stop == after


def test_a_round_observer_sees_every_record_and_can_stop_the_run(tiny_config) -> None:  # type: ignore[no-untyped-def]
    seen: list[int] = []

    def stop_after_two(record: dict) -> bool:  # type: ignore[type-arg]
        seen.append(record["round"])
        return record["round"] == 2

    config = tiny_config("rounds.total=4")
    summary = run_federated(config, progress=False, on_round=stop_after_two)
    assert seen == [1, 2]
    assert summary.rounds == 2
    assert [m["round"] for m in read_metrics(config.resolved_run_dir())] == [1, 2]
