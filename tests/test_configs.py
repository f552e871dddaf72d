"""Every shipped config loads and validates; bad keys and values fail naming the key."""

from __future__ import annotations

from pathlib import Path

import pytest

from fedasr.config import load_config
from fedasr.errors import ConfigError

ROOT = Path(__file__).parents[1]
# configs/ and the demo's, which ship inside the package; configs/tune/ holds search spaces and
# configs/sweeps/ grids, not experiments: tests/tune/ validates them against the experiment
# configs they are written for
CONFIGS = sorted(
    path
    for path in [
        *(ROOT / "configs").rglob("*.yaml"),
        *(ROOT / "src/fedasr/demo/configs").glob("*.yaml"),
    ]
    if path.parent.name not in ("tune", "sweeps")
)


def test_there_are_shipped_configs() -> None:
    assert len(CONFIGS) >= 5


@pytest.mark.parametrize("path", CONFIGS, ids=lambda p: str(p.relative_to(ROOT)))
def test_shipped_config_is_valid(path: Path) -> None:
    config = load_config(path)
    assert config.name and config.resolved_run_dir()


def test_overrides_are_typed_and_nested() -> None:
    config = load_config(None, ["rounds.total=7", "client.exit_weights=[1, 0.5]", "seed=3"])
    assert config.rounds.total == 7 and config.client.exit_weights == [1, 0.5] and config.seed == 3


@pytest.mark.parametrize(
    ("override", "named", "accepted"),
    [
        ("client.optimzer=sgd", "client.optimzer", "optimizer"),
        ("server.optimizer=adamm", "server.optimizer", "'adam'"),
        ("executor.kind=mpi", "executor.kind", "'ray'"),
        ("rounds.total=-1", "rounds.total", "greater than or equal to 1"),
        ("algorithm.name=fedsgd", "algorithm.name", "fedavg"),
        ("algorithm.mu=0.1", "algorithm.mu", "weighting"),
        ("bogus=1", "bogus", "rounds"),
        ("rounds", "rounds", "key=value"),
    ],
)
def test_bad_keys_and_values_name_the_key_and_what_is_accepted(
    override: str, named: str, accepted: str
) -> None:
    with pytest.raises(ConfigError) as info:
        load_config(None, [override])
    assert named in str(info.value) and accepted in str(info.value)


def test_yaml_syntax_error_names_the_line(tmp_path: Path) -> None:
    bad = tmp_path / "bad.yaml"
    bad.write_text("rounds:\n  total: 3\n  clients_per_round: [1,\n")
    with pytest.raises(ConfigError, match=r"bad\.yaml:\d+"):
        load_config(bad)


def test_config_reference_is_up_to_date() -> None:
    from fedasr.config_doc import render_config_reference

    doc = Path(__file__).parents[1] / "docs" / "config.md"
    assert doc.read_text() == render_config_reference(), (
        "docs/config.md is out of date: python -m fedasr.config_doc > docs/config.md"
    )
