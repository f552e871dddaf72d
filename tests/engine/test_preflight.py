"""Every config key is checked — against the other keys and against the data — before a run
writes or deletes anything: a mistake names the key, the value and what is accepted, and leaves
no run directory behind."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from fedasr.errors import ConfigError
from fedasr.experiment import run_federated

# (override, the key the error must name, what it must say is accepted)
MISTAKES = [
    ("rounds.min_clients=5 & rounds.clients_per_round=5", "rounds.min_clients", "accepted: 1..4"),
    ("rounds.clients_per_round=9", "rounds.clients_per_round", "accepted: 1..4"),
    ("client.exit_weights=[1,1]", "client.exit_weights", "accepted: 3 weights"),
    ("client.exit_weights=[0,0,0]", "client.exit_weights", "at least one > 0"),
    ("client.depth=4", "client.depth", "accepted: 1..3"),
    ("eval.metric=heldout_accuracy", "eval.metric", "heldout_wer"),
    ("eval.metric=test_wer & eval.splits=[heldout]", "eval.metric", "accepted: heldout_wer"),
    ("partition.corrupt=[{share: 0.5, noise_snr_db: -4000}]", "noise_snr_db", "-30"),
    ("seed=-1", "seed", "greater than or equal to 0"),
    ("model.init_from=nope.safetensors", "model.init_from", "accepted: a model file"),
    ("partition.scheme=iid", "partition.params.num_clients", "needs"),
    ("faults.hang.rate=0.5", "faults.hang", "client.timeout_s"),
    ("faults.error.clients=[nobody]", "faults.error.clients", "espeak-01"),
    ("faults.error.rate=0.7 & faults.nonfinite.rate=0.5", "faults", "at most 1"),
]


@pytest.mark.parametrize(("override", "key", "accepted"), MISTAKES)
def test_a_mistake_names_the_key_before_anything_is_written(  # type: ignore[no-untyped-def]
    tiny_config, tmp_path, override, key, accepted
) -> None:
    with pytest.raises(ConfigError) as caught:
        run_federated(tiny_config(*override.split(" & ")), progress=False)
    message = str(caught.value)
    assert key in message and accepted in message, message
    assert not (tmp_path / "run").exists()  # no run directory, no config.yaml, no tokenizer


def test_a_model_that_does_not_fit_init_from_is_refused_before_writing(  # type: ignore[no-untyped-def]
    tiny_config, tmp_path
) -> None:
    donor = tiny_config(f"run_dir={tmp_path / 'donor'}", "rounds.total=1")
    run_federated(donor, progress=False)
    config = tiny_config(
        f"model.init_from={tmp_path / 'donor' / 'model.safetensors'}", "model.overrides.ffn=48"
    )
    with pytest.raises(ConfigError, match=r"model.init_from: .* does not fit"):
        run_federated(config, progress=False)
    assert not (tmp_path / "run").exists()
    (tmp_path / "junk.safetensors").write_bytes(b"not a model")
    with pytest.raises(ConfigError, match=r"model.init_from: .*not a readable"):
        run_federated(tiny_config(f"model.init_from={tmp_path / 'junk.safetensors'}"))


def test_a_typo_in_a_manifest_name_never_rebuilds_the_corpus(  # type: ignore[no-untyped-def]
    tiny_config, mini_corpus, tmp_path
) -> None:
    corpus = tmp_path / "mini-copy"
    shutil.copytree(mini_corpus, corpus)
    before = _snapshot(corpus)
    config = tiny_config(
        f"data.corpus={corpus}", "data.train=trian.jsonl", "data.synth_if_missing={size: fixture}"
    )
    with pytest.raises(ConfigError, match=r"data.train: got 'trian.jsonl'.*train.jsonl"):
        run_federated(config, progress=False)
    assert _snapshot(corpus) == before  # not one file deleted, added or changed
    assert not (tmp_path / "run").exists()


def test_synthesis_never_targets_manifest_names_it_would_not_write(  # type: ignore[no-untyped-def]
    tiny_config, tmp_path
) -> None:
    config = tiny_config(
        f"data.corpus={tmp_path / 'new'}", "data.test=dev.jsonl", "data.synth_if_missing={}"
    )
    with pytest.raises(ConfigError, match=r"data.test: got 'dev.jsonl'"):
        run_federated(config, progress=False)
    assert not (tmp_path / "new").exists()


def test_min_clients_above_the_cohort_is_capped_with_a_warning(  # type: ignore[no-untyped-def]
    tiny_config, caplog
) -> None:
    summary = run_federated(tiny_config("rounds.min_clients=4"), progress=False)  # 3 a round
    assert summary.rounds == 2
    assert "rounds.min_clients=4 is above rounds.clients_per_round=3" in caplog.text


def _snapshot(root: Path) -> dict[str, bytes]:
    return {str(p.relative_to(root)): p.read_bytes() for p in root.rglob("*") if p.is_file()}


def test_the_centralized_baseline_checks_before_writing_too(tiny_config, tmp_path) -> None:  # type: ignore[no-untyped-def]
    from fedasr.experiment.central import train_centralized

    with pytest.raises(ConfigError, match=r"client\.exit_weights"):
        train_centralized(tiny_config("client.exit_weights=[1]"), progress=False)
    assert not (tmp_path / "run").exists()
