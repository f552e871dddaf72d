"""A tuning study in a real database: created once, resumed by running the same command again.

Resuming: trials that finished (complete or pruned) are kept and never re-run; the study runs
until it holds `n_trials` finished trials. A trial whose process died (killed, crashed machine)
or was interrupted (Ctrl-C, SIGTERM) is marked failed and retried with the same parameters; the
retry resumes the same run directory from its last checkpoint. A dead process is recognised by
the host and pid recorded on its trial (this machine), or, with `heartbeat_s`, by Optuna's
heartbeat (trials of other machines sharing the storage).
"""

from __future__ import annotations

import json
import logging
import os
import socket
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import optuna
from optuna.study import MaxTrialsCallback
from optuna.trial import FrozenTrial, TrialState

from fedasr.errors import ConfigError
from fedasr.tune.objective import TuneSpec
from fedasr.tune.trial import RETRY_OF, WORKER

log = logging.getLogger(__name__)
FINISHED = (TrialState.COMPLETE, TrialState.PRUNED)
SETTINGS = "fedasr_settings"  # study user attribute: spec, search space and base config
INTERRUPTED = "interrupted"  # trial user attribute set when Ctrl-C or SIGTERM stopped it
SAMPLERS = ("tpe", "random")


@dataclass(frozen=True)
class StudyPlace:
    study_dir: Path
    storage: str | None = None  # an Optuna storage URL; None: sqlite in the study dir
    name: str | None = None  # None: the study dir's name
    heartbeat_s: int | None = None

    @property
    def url(self) -> str:
        return self.storage or f"sqlite:///{(self.study_dir / 'study.db').resolve()}"

    @property
    def study_name(self) -> str:
        return self.name or self.study_dir.resolve().name


def open_study(
    place: StudyPlace, spec: TuneSpec, settings: dict[str, Any], sampler: str, seed: int,
    pruner_max_steps: int, upgrade: Callable[[Any], Any] = lambda stored: stored,
) -> optuna.Study:  # fmt: skip
    """Create the study, or load it and check it was made with the same settings (`upgrade`
    brings settings stored by an earlier version to this one's form)."""
    place.study_dir.mkdir(parents=True, exist_ok=True)
    study = optuna.create_study(
        storage=_storage(place),
        study_name=place.study_name,
        directions=spec.directions,
        sampler=_sampler(sampler, seed),
        pruner=_pruner(spec, pruner_max_steps),
        load_if_exists=True,
    )
    # a resumed study must not propose its first trials again: a sampler seeded as when the
    # study began repeats their draws (Optuna keeps no sampler state in the storage)
    study.sampler = _sampler(sampler, resumed_seed(seed, len(study.get_trials(deepcopy=False))))
    stored = study.user_attrs.get(SETTINGS)
    normalized = json.loads(json.dumps(settings))
    if stored is None:
        study.set_user_attr(SETTINGS, normalized)
    elif (upgraded := upgrade(stored)) != normalized:
        raise ConfigError(
            f"study {place.study_name!r} in {place.url} was made with other settings "
            f"({'; '.join(_differences(upgraded, normalized)[:6])}); run the same command to "
            "resume it, or give a new --study-dir or --study-name"
        )
    return study


def resumed_seed(seed: int, trials: int) -> int:
    """The sampler's seed when the study already holds `trials` trials (`seed` for a new one):
    the same resume point proposes the same trials, another one other trials."""
    if trials == 0:
        return seed
    return int(np.random.SeedSequence([seed, trials]).generate_state(1)[0])


def run_study(study: optuna.Study, objective: Callable[[optuna.Trial], Any], n_trials: int) -> None:
    """Run trials until the study holds `n_trials` finished ones (retrying dead ones first)."""
    retry_dead_trials(study)
    finished = len(study.get_trials(deepcopy=False, states=FINISHED))
    if finished >= n_trials:
        log.info("study %s already holds %d finished trials", study.study_name, finished)
        return
    log.info("study %s: %d finished trials, running up to %d more",
             study.study_name, finished, n_trials - finished)  # fmt: skip
    study.optimize(
        _interruptible(objective),
        n_trials=n_trials - finished,
        callbacks=[MaxTrialsCallback(n_trials, states=FINISHED)],
    )


def retry_dead_trials(study: optuna.Study) -> list[int]:
    """Fail the RUNNING trials of dead processes on this host and queue a retry of each
    trial whose latest attempt died or was interrupted; the retried trial numbers."""
    latest: dict[int, FrozenTrial] = {}
    for trial in study.get_trials(deepcopy=False):
        latest[int(trial.user_attrs.get(RETRY_OF, trial.number))] = trial  # in number order
    retried = []
    for original, trial in latest.items():
        if trial.state == TrialState.RUNNING and _died_here(trial):
            study.tell(trial.number, state=TrialState.FAIL)
        elif not (trial.state == TrialState.FAIL and trial.user_attrs.get(INTERRUPTED)):
            continue
        queue_retry(study, trial)
        retried.append(original)
    if retried:
        log.info("retrying interrupted trial(s) %s (their runs resume)", retried)
    return retried


def queue_retry(study: optuna.Study, trial: FrozenTrial) -> None:
    """A WAITING copy of `trial` (same parameters, its reports so far) that resumes its run."""
    attrs = {k: v for k, v in trial.user_attrs.items() if k not in (INTERRUPTED, WORKER)}
    attrs.setdefault(RETRY_OF, trial.number)
    study.add_trial(
        optuna.trial.create_trial(
            state=TrialState.WAITING,
            params=trial.params,
            distributions=trial.distributions,
            user_attrs=attrs,
            intermediate_values=trial.intermediate_values,
        )
    )


def _died_here(trial: FrozenTrial) -> bool:
    worker = trial.user_attrs.get(WORKER) or {}
    if worker.get("host") != socket.gethostname() or not isinstance(worker.get("pid"), int):
        return False  # another machine's trial: only the heartbeat can tell
    try:
        os.kill(worker["pid"], 0)
    except ProcessLookupError:
        return True
    except PermissionError:
        return False  # alive, another user's
    return False


def _interruptible(objective: Callable[[optuna.Trial], Any]) -> Callable[[optuna.Trial], Any]:
    def run(trial: optuna.Trial) -> Any:
        try:
            return objective(trial)
        except KeyboardInterrupt:
            trial.set_user_attr(INTERRUPTED, True)  # Optuna marks it FAIL; resuming retries it
            raise

    return run


def _storage(place: StudyPlace) -> optuna.storages.BaseStorage | str:
    if place.heartbeat_s is None:
        return place.url
    return optuna.storages.RDBStorage(
        place.url,
        heartbeat_interval=place.heartbeat_s,
        grace_period=4 * place.heartbeat_s,
        heartbeat_stale_trial_callback=queue_retry,
    )


def _sampler(name: str, seed: int) -> optuna.samplers.BaseSampler:
    if name == "random":
        return optuna.samplers.RandomSampler(seed=seed)
    if name == "tpe":
        return optuna.samplers.TPESampler(seed=seed)
    raise ConfigError(f"--sampler {name}: accepted: {', '.join(SAMPLERS)}")


def _pruner(spec: TuneSpec, max_steps: int) -> optuna.pruners.BasePruner:
    if not spec.prunes:
        return optuna.pruners.NopPruner()
    if spec.pruner == "hyperband":
        return optuna.pruners.HyperbandPruner(min_resource=1, max_resource=max_steps)
    # from the first step on, once `prune_startup` trials have finished
    return optuna.pruners.MedianPruner(n_startup_trials=spec.prune_startup, n_warmup_steps=0)


def _differences(old: Any, new: Any, prefix: str = "") -> list[str]:
    if isinstance(old, dict) and isinstance(new, dict):
        out = []
        for key in sorted(set(old) | set(new)):
            out += _differences(old.get(key), new.get(key), f"{prefix}{key}.")
        return out
    return [] if old == new else [f"{prefix.rstrip('.')}: {old!r} then, {new!r} now"]
