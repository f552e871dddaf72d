"""`fedasr reproduce`: the experiments behind docs/, listed, and run one command each.

Training jobs are reused when finished with the same settings (`runs.ensure_run`); the steps
after them (benchmark scripts that skip their own finished runs, tables, plots) are re-run
every time, so tables and plots are always rebuilt from what the run directories hold.
"""

from __future__ import annotations

import logging
import os
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

from fedasr.errors import FedasrError
from fedasr.reproduce.catalog import Catalog, Experiment, load_catalog, repository_root
from fedasr.reproduce.runs import RunSpec, ensure_run, run_state

__all__ = ["Catalog", "Experiment", "StepFailed", "load_catalog", "repository_root", "reproduce"]
log = logging.getLogger(__name__)


class StepFailed(FedasrError):
    """A step's command exited non-zero; later steps and experiments did not run."""


@dataclass
class Outcome:
    name: str
    runs: dict[str, str]  # run directory -> reused / resumed / trained (or the state, dry run)
    steps: int
    seconds: float


def run_states(experiment: Experiment, root: Path) -> dict[str, str]:
    """Each training job's run directory and whether it is missing, finished, ..."""
    states = {}
    for entry in experiment.runs:
        config = entry.spec(root).load()
        states[str(config.resolved_run_dir())] = run_state(config)
    return states


def reproduce(
    experiment: Experiment, root: Path, dry_run: bool = False, progress: bool = True
) -> Outcome:
    """Train what is missing, then run the steps in `root`. Run directories in the catalog
    are relative: call it with the repository root as the current directory (the CLI does)."""
    started = time.perf_counter()
    specs = [entry.spec(root) for entry in experiment.runs]
    if dry_run:
        for spec in specs:
            print(f"[{run_state(spec.load())}] {spec.command()}")
        for step in experiment.steps:
            print(f"[step] {step}")
        return Outcome(experiment.name, run_states(experiment, root), 0, 0.0)
    done = {str(spec.load().resolved_run_dir()): _train(spec, progress) for spec in specs}
    for step in experiment.steps:
        _step(step, root)
    return Outcome(experiment.name, done, len(experiment.steps), time.perf_counter() - started)


def _train(spec: RunSpec, progress: bool) -> str:
    log.info("run: %s", spec.command())
    return ensure_run(spec, progress=progress)


def _step(command: str, root: Path) -> None:
    """One shell step, with this interpreter's `python` and `fedasr` first on PATH."""
    env = dict(os.environ)
    env["PATH"] = f"{Path(sys.executable).parent}{os.pathsep}{env.get('PATH', '')}"
    log.info("step: %s", command)
    result = subprocess.run(["bash", "-c", command], cwd=root, env=env, check=False)
    if result.returncode != 0:
        raise StepFailed(f"reproduce: step exited with {result.returncode}: {command}")
