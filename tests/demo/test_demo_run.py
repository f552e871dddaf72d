"""`run_demo` end to end on the committed mini corpus with a tiny model: five runs, one report
with the story and the labels, and a second call that reuses every finished run."""

from __future__ import annotations

from pathlib import Path

import pytest
from conftest import TINY_MODEL

import fedasr.demo
from fedasr.config import load_config
from fedasr.demo import LABELS, RUNS, demo_configs, run_demo

SHRINK = [
    "eval.max_utterances=4",
    "logging.tensorboard=false",
    "logging.progress=false",
    *TINY_MODEL,
]
FEDERATED = [
    "rounds.total=2",
    "rounds.clients_per_round=2",
    "rounds.min_clients=1",
    "eval.every=1",
    "executor.kind=serial",
]


@pytest.fixture
def small_demo(mini_corpus: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """The demo's own configs, pointed at the mini corpus and cut to seconds."""
    configs = {}
    for name, path in demo_configs().items():
        extra = ["central.epochs=2"] if name == "centralized" else FEDERATED
        data = [f"data.corpus={mini_corpus}", "data.synth_if_missing=null"]
        config = load_config(path, [*data, *SHRINK, *extra])
        configs[name] = tmp_path / f"{name}.yaml"
        configs[name].write_text(config.to_yaml())
    monkeypatch.setattr(fedasr.demo, "demo_configs", lambda: configs)
    return tmp_path / "demo"


def test_demo_trains_reports_and_reuses(small_demo: Path) -> None:
    first = run_demo(small_demo, progress=False)
    assert set(first.outcomes.values()) == {"trained"}
    page = first.report.read_text()
    assert all(LABELS[name] in page for name in RUNS)
    assert "Read it as one story" in page and "What was trained" in page
    assert all((small_demo / name / "model.safetensors").is_file() for name in RUNS)
    again = run_demo(small_demo, progress=False)
    assert set(again.outcomes.values()) == {"reused"}
