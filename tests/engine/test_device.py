"""executor.device: a device this machine cannot use fails at start, naming the key."""

from __future__ import annotations

import pytest
import torch

from fedasr.engine.worker import resolve_device
from fedasr.errors import ConfigError
from fedasr.experiment import build_run


def test_cuda_without_cuda_fails_at_start_naming_the_key(tiny_config, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    config = tiny_config("executor.device=cuda")
    with pytest.raises(ConfigError, match=r"executor\.device: got 'cuda' but CUDA is not avail"):
        build_run(config, progress=False)
    assert not (config.resolved_run_dir() / "metrics.jsonl").exists()


@pytest.mark.parametrize("name", ["tpu", "gpu0", "mps"])
def test_an_unknown_device_names_the_key_and_the_choices(name: str) -> None:
    with pytest.raises(ConfigError, match=r"executor\.device: got .*accepted: 'cpu', 'cuda'"):
        resolve_device(name)


def test_the_cpu_is_always_usable() -> None:
    assert resolve_device("cpu") == torch.device("cpu")
