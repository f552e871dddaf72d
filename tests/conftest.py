"""Shared test fixtures: the committed mini corpus and tiny experiment configs.

Every test writes caches under a per-session temp dir (FEDASR_CACHE), never ~/.cache.
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Callable
from pathlib import Path

import pytest

from fedasr.config import ExperimentConfig, load_config

FIXTURE = Path(__file__).parent / "fixtures" / "mini"

# A model small enough that a federated round on the mini corpus takes well under a second.
TINY_MODEL = [
    "model.overrides.d_model=32",
    "model.overrides.head_size=8",
    "model.overrides.heads=2",
    "model.overrides.ffn=64",
    "model.overrides.conv_channels=32",
    "model.overrides.conv_kernel=5",
    "model.overrides.layers=3",
    "model.overrides.exits=[1,2,3]",
    "model.overrides.subsampling_channels=8",
]


@pytest.fixture(scope="session", autouse=True)
def _isolated_cache(tmp_path_factory: pytest.TempPathFactory) -> None:
    root = tmp_path_factory.mktemp("fedasr-cache")
    mp = pytest.MonkeyPatch()
    mp.setenv("FEDASR_CACHE", str(root))
    yield
    mp.undo()


@pytest.fixture(scope="session")
def mini_corpus(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A private copy of the fixture corpus (tests may not write into the repository)."""
    target = tmp_path_factory.mktemp("corpus") / "mini"
    shutil.copytree(FIXTURE, target)
    return target


@pytest.fixture(scope="session")
def tiny_model_overrides() -> list[str]:
    """TINY_MODEL, for fixtures wider than one test that cannot use `tiny_config`."""
    return list(TINY_MODEL)


@pytest.fixture
def tiny_model() -> list[str]:
    """The overrides of TINY_MODEL, for tests that pass them on a command line."""
    return list(TINY_MODEL)


@pytest.fixture
def tiny_config(mini_corpus: Path, tmp_path: Path) -> Callable[..., ExperimentConfig]:
    """Build a tiny federated experiment on the mini corpus; extra key=value overrides win."""

    def make(*overrides: str) -> ExperimentConfig:
        base = [
            f"data.corpus={mini_corpus}",
            "data.synth_if_missing=null",
            f"run_dir={tmp_path / 'run'}",
            "rounds.total=2",
            "rounds.clients_per_round=3",
            "eval.every=1",
            "executor.kind=serial",
            "executor.shards=2",
            "logging.progress=false",
            "logging.tensorboard=false",
            "client.optimizer=adamw",
            "client.lr=0.003",
            *TINY_MODEL,
        ]
        return load_config(None, [*base, *overrides])

    return make


# CI (FEDASR_NO_SKIPS=1) must run every test it selects: a skip there means a missing install
# step (an extra, a Debian package), which would otherwise pass unnoticed.
def pytest_terminal_summary(terminalreporter: pytest.TerminalReporter) -> None:
    skipped = terminalreporter.stats.get("skipped", [])
    if os.environ.get("FEDASR_NO_SKIPS") == "1" and skipped:
        terminalreporter.write_line(
            f"FEDASR_NO_SKIPS=1: {len(skipped)} test(s) skipped; each must run here", red=True
        )


def pytest_sessionfinish(session: pytest.Session, exitstatus: int) -> None:
    reporter = session.config.pluginmanager.get_plugin("terminalreporter")
    skipped = reporter.stats.get("skipped", []) if reporter is not None else []
    if os.environ.get("FEDASR_NO_SKIPS") == "1" and skipped and exitstatus == 0:
        session.exitstatus = pytest.ExitCode.TESTS_FAILED
