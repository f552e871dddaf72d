"""Variational noise in whole runs: off by default, from its start round, the same weights on
every executor, with every algorithm (it is the worker's step hook, not an algorithm's)."""

from __future__ import annotations

import pytest
import torch

from fedasr.errors import ConfigError
from fedasr.experiment import build_run

NOISE = ["client.variational_noise.std=0.02"]


def final_params(config) -> torch.Tensor:  # type: ignore[no-untyped-def]
    run = build_run(config, progress=False)
    run.execute()
    return run.server.main


def test_noise_is_off_by_default_and_std_zero_changes_nothing(tiny_config, tmp_path) -> None:  # type: ignore[no-untyped-def]
    default = final_params(tiny_config(f"run_dir={tmp_path / 'a'}"))
    zero = final_params(tiny_config(
        f"run_dir={tmp_path / 'b'}", "client.variational_noise.std=0",
        "client.variational_noise.scale=rms",
    ))  # fmt: skip
    noisy = final_params(tiny_config(f"run_dir={tmp_path / 'c'}", *NOISE))
    assert torch.equal(default, zero)
    assert not torch.equal(default, noisy)


def test_noise_starts_at_its_round(tiny_config, tmp_path) -> None:  # type: ignore[no-untyped-def]
    plain = final_params(tiny_config(f"run_dir={tmp_path / 'a'}"))
    never = final_params(tiny_config(
        f"run_dir={tmp_path / 'b'}", *NOISE, "client.variational_noise.start_round=3"
    ))  # fmt: skip
    second = final_params(tiny_config(
        f"run_dir={tmp_path / 'c'}", *NOISE, "client.variational_noise.start_round=2"
    ))  # fmt: skip
    assert torch.equal(plain, never)  # 2 rounds: a start at round 3 never comes
    assert not torch.equal(plain, second)


@pytest.mark.parametrize("algorithm", ["fedavg", "fedprox", "fednova"])
def test_noisy_runs_are_identical_on_every_executor(tiny_config, tmp_path, algorithm) -> None:  # type: ignore[no-untyped-def]
    extra = ["algorithm.mu=0.1"] if algorithm == "fedprox" else []
    # several steps a client, so that FedProx's term and FedNova's normalization act
    common = [*NOISE, f"algorithm.name={algorithm}", *extra, "executor.shards=3",
              "client.batch_seconds=3"]  # fmt: skip
    serial = final_params(tiny_config(f"run_dir={tmp_path / 's'}", *common))
    pooled = final_params(tiny_config(
        f"run_dir={tmp_path / 'p'}", *common, "executor.kind=process", "executor.workers=2"
    ))  # fmt: skip
    again = final_params(tiny_config(f"run_dir={tmp_path / 'r'}", *common))
    assert torch.equal(serial, pooled) and torch.equal(serial, again)


@pytest.mark.slow
def test_a_noisy_run_on_local_ray_equals_the_serial_one(tiny_config, tmp_path) -> None:  # type: ignore[no-untyped-def]
    pytest.importorskip("ray", reason="pip install -e '.[ray]' (`make test` installs it)")
    common = [*NOISE, "executor.shards=3", "client.batch_seconds=3"]  # several steps a client
    serial = final_params(tiny_config(f"run_dir={tmp_path / 's'}", *common))
    on_ray = final_params(tiny_config(
        f"run_dir={tmp_path / 'r'}", *common, "executor.kind=ray", "executor.workers=2"
    ))  # fmt: skip
    assert torch.equal(serial, on_ray)


@pytest.mark.parametrize(
    ("override", "accepted"),
    [
        ("client.variational_noise.std=-0.1", "greater than or equal to 0"),
        ("client.variational_noise.start_round=0", "greater than or equal to 1"),
        ("client.variational_noise.scale=relative", "'absolute' or 'rms'"),
        ("client.variational_noise.sigma=0.1", "allowed keys here: std, start_round, scale"),
    ],
)
def test_a_bad_noise_setting_names_the_key_the_value_and_what_is_accepted(
    tiny_config, override, accepted
) -> None:  # type: ignore[no-untyped-def]
    key, value = override.split("=")
    with pytest.raises(ConfigError) as caught:
        tiny_config(override)
    message = str(caught.value)
    assert key in message and accepted in message
    assert value in message or "unknown key" in message


def test_the_centralized_trainer_takes_the_same_noise_setting(tiny_config, tmp_path) -> None:  # type: ignore[no-untyped-def]
    """For the comparison with federated runs: seeded, and from its start epoch."""
    from safetensors.torch import load_file

    from fedasr.experiment.central import train_centralized

    def central(name: str, *overrides: str) -> dict[str, torch.Tensor]:
        config = tiny_config(f"run_dir={tmp_path / name}", "central.epochs=2", *overrides)
        train_centralized(config, progress=False)
        return load_file(tmp_path / name / "model.safetensors")

    def same(a: dict[str, torch.Tensor], b: dict[str, torch.Tensor]) -> bool:
        return all(torch.equal(a[key], b[key]) for key in a)

    plain, late = central("a"), central("b", *NOISE, "client.variational_noise.start_round=3")
    noisy, again = central("c", *NOISE), central("d", *NOISE)
    assert same(plain, late) and same(noisy, again) and not same(plain, noisy)
