"""Which trials a resumed study retries: those of dead processes on this host and those
interrupted by Ctrl-C/SIGTERM — never finished ones, live ones, other hosts' or real failures;
and a study re-opened with other settings is refused."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
from pathlib import Path

import optuna
import pytest
from optuna.distributions import FloatDistribution
from optuna.trial import TrialState, create_trial

from fedasr.errors import ConfigError
from fedasr.tune.objective import TuneSpec
from fedasr.tune.study import StudyPlace, open_study, retry_dead_trials, run_study

LR = {"client.lr": FloatDistribution(1e-4, 1e-1, log=True)}
HOST = socket.gethostname()


def dead_pid() -> int:
    process = subprocess.Popen([sys.executable, "-c", "pass"])
    process.wait()
    return process.pid


def add(study: optuna.Study, state: TrialState, lr: float, **attrs: object) -> None:
    values = [0.5] if state == TrialState.COMPLETE else None
    study.add_trial(create_trial(state=state, params={"client.lr": lr}, distributions=LR,
                                 user_attrs=dict(attrs), values=values,
                                 intermediate_values={1: 0.9}))  # fmt: skip


def test_only_dead_or_interrupted_trials_are_retried_with_their_parameters() -> None:
    study = optuna.create_study()
    add(study, TrialState.COMPLETE, 1e-3, worker={"host": HOST, "pid": dead_pid()})  # 0
    add(study, TrialState.RUNNING, 2e-3, worker={"host": HOST, "pid": dead_pid()})  # 1: died
    add(study, TrialState.RUNNING, 3e-3, worker={"host": HOST, "pid": os.getpid()})  # 2: alive
    add(study, TrialState.RUNNING, 4e-3, worker={"host": "elsewhere", "pid": 1})  # 3: heartbeat's
    add(study, TrialState.FAIL, 5e-3, interrupted=True)  # 4: Ctrl-C
    add(study, TrialState.FAIL, 6e-3)  # 5: a real error: not retried blindly
    add(study, TrialState.FAIL, 7e-3, interrupted=True)  # 6: interrupted, then ...
    add(study, TrialState.WAITING, 7e-3, retry_of=6)  # 7: ... already queued again
    assert retry_dead_trials(study) == [1, 4]
    trials = study.get_trials()
    assert [t.state for t in trials[:4]] == [
        TrialState.COMPLETE, TrialState.FAIL, TrialState.RUNNING, TrialState.RUNNING,
    ]  # fmt: skip
    retries = trials[8:]
    assert [(t.state, t.params["client.lr"], t.user_attrs["retry_of"]) for t in retries] == [
        (TrialState.WAITING, 2e-3, 1), (TrialState.WAITING, 5e-3, 4),
    ]  # fmt: skip
    assert retries[0].intermediate_values == {1: 0.9}  # its reports so far go with it
    assert "interrupted" not in retries[1].user_attrs and "worker" not in retries[0].user_attrs
    assert retry_dead_trials(study) == []  # the queued retries are the latest attempts now


def test_ctrl_c_marks_the_trial_interrupted_so_that_resuming_retries_it() -> None:
    study = optuna.create_study()

    def objective(trial: optuna.Trial) -> float:
        trial.suggest_float("client.lr", 1e-4, 1e-1, log=True)
        raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        run_study(study, objective, n_trials=2)
    (trial,) = study.get_trials()
    assert trial.state == TrialState.FAIL and trial.user_attrs["interrupted"] is True
    assert retry_dead_trials(study) == [0]


def test_a_study_reopened_with_other_settings_is_refused(tmp_path: Path) -> None:
    place = StudyPlace(tmp_path / "study")
    spec = TuneSpec("wer_at_budget", budget=100.0)
    settings = {"spec": spec.as_dict(), "space": {"client.lr": {"low": 0.1}}}
    open_study(place, spec, settings, "tpe", 0, 10)
    open_study(place, spec, settings, "tpe", 0, 10)  # the same: resumed
    other = TuneSpec("wer_at_budget", budget=200.0)
    with pytest.raises(ConfigError, match=r"spec.budget: 100.0 then, 200.0 now"):
        open_study(place, other, {**settings, "spec": other.as_dict()}, "tpe", 0, 10)
    assert (tmp_path / "study" / "study.db").is_file()


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"objective": "wer_at_budget"}, "needs --budget"),
        ({"objective": "cost_to_target"}, "needs --target"),
        ({"objective": "fastest"}, "accepted: wer_at_budget, cost_to_target, both"),
        ({"objective": "wer_at_budget", "budget": 1.0, "unit": "joules"}, "accepted: examples"),
        ({"objective": "wer_at_budget", "budget": 1.0, "pruner": "asha"}, "median, hyperband"),
    ],
)
def test_bad_study_settings_are_refused(kwargs: dict[str, object], message: str) -> None:
    from fedasr.report.metrics import ReportError

    with pytest.raises((ConfigError, ReportError), match=message):
        TuneSpec(**kwargs)  # type: ignore[arg-type]


def test_a_resumed_study_proposes_new_trials_not_its_first_ones_again(tmp_path: Path) -> None:
    place = StudyPlace(tmp_path / "study")
    spec = TuneSpec("wer_at_budget", budget=100.0)
    settings = {"spec": spec.as_dict(), "space": {}}

    def propose(study: optuna.Study, count: int) -> list[float]:
        lrs = []
        for _ in range(count):
            trial = study.ask(LR)
            lrs.append(trial.params["client.lr"])
            study.tell(trial, 0.5)
        return lrs

    first = propose(open_study(place, spec, settings, "random", 0, 10), 2)
    resumed = propose(open_study(place, spec, settings, "random", 0, 10), 2)
    assert not set(first) & set(resumed)  # a sampler seeded as at the start would repeat them
    again = StudyPlace(tmp_path / "again")  # the same history, resumed at the same point
    assert propose(open_study(again, spec, settings, "random", 0, 10), 2) == first
    assert propose(open_study(again, spec, settings, "random", 0, 10), 2) == resumed
