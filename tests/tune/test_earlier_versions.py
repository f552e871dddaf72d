"""Runs and studies written before a config key was added are reused, not refused: the new
key at its default computes what the earlier version did. A real difference still counts."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import yaml

from fedasr.config import ExperimentConfig, load_config, with_current_defaults
from fedasr.errors import ConfigError
from fedasr.tune.objective import TuneSpec
from fedasr.tune.runs import config_differences
from fedasr.tune.session import _comparable, _upgrade_settings
from fedasr.tune.study import StudyPlace, open_study

ADDED = "variational_noise"  # a key of `client` added after the first quality/cost runs


def earlier(config: ExperimentConfig) -> dict[str, Any]:
    """The config as a version before ADDED wrote it."""
    data = config.model_dump(mode="json")
    del data["client"][ADDED]
    return data


def test_a_run_of_an_earlier_version_matches_its_config(tmp_path: Path) -> None:
    config = load_config(None, [f"run_dir={tmp_path}"])
    (tmp_path / "config.yaml").write_text(yaml.safe_dump(earlier(config)))
    assert config_differences(tmp_path, config) == []
    noisy = load_config(None, [f"run_dir={tmp_path}", "client.variational_noise.std=0.1"])
    assert config_differences(tmp_path, noisy) == [
        "client.variational_noise.std: 0.0 there, 0.1 now"
    ]


def test_a_removed_key_is_still_a_difference() -> None:
    data = load_config(None).model_dump(mode="json")
    data["client"]["retired_option"] = 1
    assert with_current_defaults(data) is data


def test_a_study_of_an_earlier_version_resumes(tmp_path: Path) -> None:
    place = StudyPlace(tmp_path / "study")
    spec = TuneSpec("wer_at_budget", budget=100.0)
    config = load_config(None)
    before = {"spec": spec.as_dict(), "space": {}, "base": _comparable(config)}
    del before["base"]["client"][ADDED]
    open_study(place, spec, before, "tpe", 0, 10, _upgrade_settings)
    now = {**before, "base": _comparable(config)}
    open_study(place, spec, now, "tpe", 0, 10, _upgrade_settings)  # resumed
    other = {**before, "base": _comparable(load_config(None, ["client.lr=0.5"]))}
    with pytest.raises(ConfigError, match=r"base.client.lr: 0.1 then, 0.5 now"):
        open_study(place, spec, other, "tpe", 0, 10, _upgrade_settings)
