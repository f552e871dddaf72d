"""Objectives, budget stops and pruning on real runs that start from a model which already
reads the fixture's training utterances (trained centrally once for this module), so that a
good and a bad setting differ in WER after one round."""

from __future__ import annotations

import json
import math
from pathlib import Path

import pytest
from tune_helpers import states, write_config, write_space

from fedasr.config import load_config
from fedasr.engine.rundir import read_metrics
from fedasr.experiment import run_federated
from fedasr.experiment.central import train_centralized
from fedasr.tune.objective import TuneSpec
from fedasr.tune.session import open_session
from fedasr.tune.study import StudyPlace

PER_ROUND = 12  # example-passes a round: all 4 clients, 12 utterances, 1 local epoch
LR_SPACE = "params:\n  client.lr: {type: categorical, choices: [1.0e-5, 1.0e-3, 0.05]}\n"


@pytest.fixture(scope="module")
def pretrained(mini_corpus, tiny_model_overrides, tmp_path_factory) -> Path:  # type: ignore[no-untyped-def]
    run_dir = tmp_path_factory.mktemp("central")
    config = load_config(None, [
        f"data.corpus={mini_corpus}", "data.synth_if_missing=null", f"run_dir={run_dir}",
        "data.heldout=train.jsonl", "eval.splits=[heldout]", "central.epochs=60",
        "central.eval_every_epochs=60", "logging.progress=false", "logging.tensorboard=false",
        "client.optimizer=adamw", "client.lr=0.01", "client.batch_seconds=10",
        "client.specaugment.freq_masks=0", "client.specaugment.time_masks=0",
        *tiny_model_overrides,
    ])  # fmt: skip
    result = train_centralized(config, progress=False)
    assert result.final["heldout_wer"] < 0.2, result.final
    return run_dir / "model.safetensors"


@pytest.fixture
def base(tiny_config, pretrained, tmp_path):  # type: ignore[no-untyped-def]
    """A config file: every client every round, WER on the (memorized) training utterances."""

    def make(*overrides: str) -> Path:
        config = tiny_config(
            f"model.init_from={pretrained}", "data.heldout=train.jsonl", "eval.splits=[heldout]",
            "rounds.clients_per_round=4", "client.specaugment.freq_masks=0",
            "client.specaugment.time_masks=0", *overrides,
        )  # fmt: skip
        return write_config(config, tmp_path / "base.yaml")

    return make


def _session(base: Path, tmp_path: Path, spec: TuneSpec, name: str = "study"):  # type: ignore[no-untyped-def]
    space = write_space(tmp_path / "space.yaml", LR_SPACE)
    return open_session(base, [], space, spec, StudyPlace(tmp_path / name))


def test_the_pruner_stops_a_clearly_worse_trial(base, tmp_path) -> None:  # type: ignore[no-untyped-def]
    spec = TuneSpec("wer_at_budget", budget=3 * PER_ROUND, prune_steps=3, prune_startup=2)
    session = _session(base("rounds.total=6"), tmp_path, spec)
    for lr in (1e-5, 1e-5, 0.05, 1e-5):  # good, good, clearly worse (destroys the model), good
        session.study.enqueue_trial({"client.lr": lr})
    session.run(4)
    trials = session.study.get_trials()
    assert states(session.study) == ["COMPLETE", "COMPLETE", "PRUNED", "COMPLETE"]
    bad = trials[2]
    assert bad.user_attrs["stopped_by"] == "pruned" and bad.user_attrs["rounds"] == 1
    assert bad.intermediate_values[1] > 2 * trials[0].intermediate_values[1]
    assert bad.user_attrs["cost"]["examples"] == PER_ROUND  # a pruned trial's cost is kept too
    for good in (trials[0], trials[1], trials[3]):  # the budget stopped them, after 3 rounds
        assert good.user_attrs["stopped_by"] == "budget" and good.user_attrs["rounds"] == 3
        assert good.user_attrs["cost"]["examples"] == 3 * PER_ROUND
        assert good.values[0] < 0.5


def test_budget_stop_scores_the_model_of_the_round_the_budget_ran_out(base, tmp_path) -> None:  # type: ignore[no-untyped-def]
    # evaluations at rounds 2 and 4; the budget runs out at round 3, between them
    config = base("rounds.total=6", "eval.every=2", "client.lr=1.0e-3")
    spec = TuneSpec("wer_at_budget", budget=3 * PER_ROUND, pruner="none")
    session = _session(config, tmp_path, spec)
    session.study.enqueue_trial({"client.lr": 1e-3})
    session.run(1)
    trial = session.study.get_trials()[0]
    run_dir = Path(trial.user_attrs["run_dir"])
    assert [m["round"] for m in read_metrics(run_dir)] == [1, 2, 3]
    scored = json.loads((run_dir / "stop_eval.json").read_text())
    assert scored["round"] == 3 and trial.values[0] == scored["heldout_wer"]
    # the same 3 rounds run straight (a run evaluates its last round): the same WER and CER
    straight = load_config(config, [f"run_dir={tmp_path / 'straight'}", "rounds.total=3"])
    final = run_federated(straight, progress=False).final
    assert (scored["heldout_wer"], scored["heldout_cer"]) == (
        final["heldout_wer"], final["heldout_cer"],
    )  # fmt: skip


def test_cost_to_target_stops_where_it_is_reached_and_is_infinite_when_not(base, tmp_path) -> None:  # type: ignore[no-untyped-def]
    config = base("rounds.total=2", "eval.every=1")
    session = _session(config, tmp_path, TuneSpec("cost_to_target", target=0.5, pruner="none"))
    session.study.enqueue_trial({"client.lr": 1e-5})
    session.study.enqueue_trial({"client.lr": 0.05})
    session.run(2)
    reached, missed = session.study.get_trials()
    # already under the target at its first evaluation: that evaluation's cost, and it stops
    assert reached.values == [PER_ROUND] and reached.user_attrs["stopped_by"] == "target"
    assert reached.user_attrs["rounds"] == 1 and reached.user_attrs["target_reached_at_round"] == 1
    assert math.isinf(missed.values[0]) and missed.user_attrs["examples_to_target"] is None
    assert missed.user_attrs["rounds"] == 2 and missed.user_attrs["cost"]["examples"] == 24


def test_both_objectives_give_a_pareto_front_and_its_plot(base, tmp_path) -> None:  # type: ignore[no-untyped-def]
    config = base("rounds.total=2", "eval.every=1")
    spec = TuneSpec("both", budget=2 * PER_ROUND, target=0.5, pruner="median")
    session = _session(config, tmp_path, spec)
    for lr in (1e-5, 0.05):
        session.study.enqueue_trial({"client.lr": lr})
    session.run(2)
    good, bad = session.study.get_trials()
    assert good.values[1] == PER_ROUND and good.values[0] < 0.5  # ran on to the budget
    assert good.user_attrs["rounds"] == 2 and math.isinf(bad.values[1])
    assert [t.number for t in session.study.best_trials] == [0]
    best, plots = session.write_outcome()
    assert {p.name for p in plots} >= {"pareto_front.png"} and best[0].number == 0
