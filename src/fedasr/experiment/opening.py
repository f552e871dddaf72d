"""Opening a run directory: every check first, the first write last.

    static checks (config keys against each other)   -> nothing read but the config
    lock the run directory if it exists               -> a live run is never joined
    load the data, build the setup (tokenizer staged) -> reads, and the feature cache
    checks against the data; build the algorithm, its initial parameters and the plug-ins
    checks of eval.metric; on --resume, against the checkpoint
    create + lock the run directory, write config.yaml atomically, install the tokenizer

A config error therefore leaves no run directory, no config.yaml and nothing deleted, and a
refused `--resume` leaves the run exactly as it was, resumable.
"""

from __future__ import annotations

import contextlib
import shutil
import tempfile
from collections.abc import Callable, Iterator
from pathlib import Path

from fedasr.algorithms.base import Algorithm
from fedasr.algorithms.registry import build_algorithm
from fedasr.algorithms.spec import MAIN
from fedasr.config import ExperimentConfig
from fedasr.data.bundle import DataBundle, load_data
from fedasr.data.tokenizer import BPETokenizer, Tokenizer
from fedasr.engine.loop import RunParts
from fedasr.engine.run_state import server_tensors
from fedasr.engine.rundir import RunDir
from fedasr.engine.runlock import RunLock
from fedasr.errors import ConfigError
from fedasr.experiment.plugins import build_plugins
from fedasr.experiment.preflight import (
    check_config,
    check_eval_metric,
    check_model_and_eval,
    check_resume,
    check_with_data,
)
from fedasr.experiment.setup import Setup, build_setup, initial_sets
from fedasr.experiment.trust import with_trust_parts
from fedasr.fsutil import fsync_dir, fsync_tree

AlgorithmFactory = Callable[[ExperimentConfig, Setup], Algorithm]


def registered_algorithm(config: ExperimentConfig, setup: Setup) -> Algorithm:
    return build_algorithm(config, setup.dims)


def open_run(
    config: ExperimentConfig,
    *,
    resume: bool,
    progress: bool,
    algorithm: AlgorithmFactory = registered_algorithm,
) -> RunParts:
    """Everything a run is made of; the run directory (locked, config.yaml written) comes
    last, once every check passed."""
    path = config.resolved_run_dir()
    check_config(config)
    check_not_a_finished_run(path, resume)
    lock = RunLock.acquire(path) if path.is_dir() else None
    try:
        with staged_tokenizer(path / "tokenizer") as source:
            setup = build_setup(config, source, progress, tokenizer_home=path / "tokenizer")
            check_with_data(config, setup)
            chosen, trust_plugins = with_trust_parts(config, setup, algorithm(config, setup))
            check_eval_metric(config, list(chosen.param_dims))
            init = initial_sets(config, setup, chosen)
            plugins = [*build_plugins(config, setup), *trust_plugins]
            if resume:
                check_resume(config, path, server_tensors(chosen.server.init(init)))
            run = RunDir(path, config, resume=resume, lock=lock)
            install_tokenizer(setup.bundle.tokenizer, source, run.tokenizer_dir)
    except BaseException:
        if lock is not None:
            lock.release()
        raise
    return RunParts(
        config, run, setup.bundle, setup.registry, chosen, init, setup.spec, setup.workers,
        plugins,
    )  # fmt: skip


def open_central_run(config: ExperimentConfig, *, progress: bool) -> tuple[RunDir, DataBundle]:
    """The same order for the centralized baseline (`fedasr train`): checks, data, then the
    run directory."""
    path = config.resolved_run_dir()
    check_model_and_eval(config)
    check_eval_metric(config, [MAIN])
    check_not_a_finished_run(path, resume=False)
    with staged_tokenizer(path / "tokenizer") as source:
        bundle = load_data(config.data, source, progress=progress)
        run = RunDir(path, config)
        install_tokenizer(bundle.tokenizer, source, run.tokenizer_dir)
    bundle.tokenizer_dir = run.tokenizer_dir
    return run, bundle


def check_not_a_finished_run(path: Path, resume: bool) -> None:
    if not resume and (path / "metrics.jsonl").exists():
        raise ConfigError(
            f"run_dir: {path} already holds a run; continue it with "
            f"`fedasr run --resume {path}` or choose another run_dir"
        )


@contextlib.contextmanager
def staged_tokenizer(home: Path) -> Iterator[Path]:
    """Where to read or build the run's tokenizer: its home when one is there already (a
    resumed run keeps its own), else a temporary directory this command creates and removes."""
    if (home / "tokenizer.json").is_file():
        yield home
        return
    staging = Path(tempfile.mkdtemp(prefix="fedasr-tokenizer-"))
    try:
        yield staging
    finally:
        shutil.rmtree(staging, ignore_errors=True)


def install_tokenizer(tokenizer: Tokenizer, source: Path, home: Path) -> None:
    """Copy a staged tokenizer into the run directory, atomically (a copy, fsync, a rename)."""
    if source == home:
        return
    tmp = Path(tempfile.mkdtemp(prefix=".tokenizer-", dir=home.parent))
    try:
        shutil.copytree(source, tmp, dirs_exist_ok=True)
        fsync_tree(tmp)
        if home.exists():  # a tokenizer an older fedasr left half-written: keep it, aside
            home.rename(home.with_name(f".tokenizer-incomplete-{tmp.name}"))
        tmp.rename(home)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)  # created just above
        raise
    fsync_dir(home.parent)
    if isinstance(tokenizer, BPETokenizer):  # the staged file is about to go
        tokenizer.model_path = home / "tokenizer.model"
