"""Every round's record carries the cumulative cost in each unit, checked by hand on real
(tiny) runs in which every client of the fixture corpus takes part in every round."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from safetensors.torch import load_file

from fedasr.engine.rundir import read_metrics
from fedasr.experiment import run_federated
from fedasr.report.cost import UNITS, cost_value, total_costs

RATES = "flops_per_s: 1.0e8, downlink_bytes_per_s: 1.0e6, uplink_bytes_per_s: 2.5e5"
EVERY_CLIENT = ("rounds.total=2", "rounds.clients_per_round=4")  # the mini corpus has 4 speakers


def _train_utterances(corpus: Path) -> tuple[int, float]:
    lines = (corpus / "train.jsonl").read_text().splitlines()
    return len(lines), sum(json.loads(line)["duration"] for line in lines)


def _numel(run_dir: Path) -> int:
    tensors = load_file(str(run_dir / "model.safetensors"))
    return sum(t.numel() for name, t in tensors.items() if not name.startswith("_"))


@pytest.mark.parametrize("local_epochs", [1, 2])
def test_cumulative_cost_per_round_by_hand(tiny_config, mini_corpus, local_epochs) -> None:  # type: ignore[no-untyped-def]
    config = tiny_config(*EVERY_CLIENT, f"client.local_epochs={local_epochs}")
    run_federated(config, progress=False)
    run_dir = config.resolved_run_dir()
    records = read_metrics(run_dir)
    utterances, seconds = _train_utterances(mini_corpus)
    numel = _numel(run_dir)
    for round_, record in enumerate(records, start=1):
        assert record["clients"]["succeeded"] == 4
        cumulative = record["cumulative"]
        # cost C = sum over rounds and clients of local_epochs x n_k = every utterance, E times
        assert cumulative["examples"] == round_ * local_epochs * utterances
        # audio is counted in 10 ms feature frames: a clip's last partial window is no frame
        per_round = records[0]["cost"]["audio_seconds"]
        assert cumulative["audio_hours"] == pytest.approx(round_ * per_round / 3600)
        assert per_round == pytest.approx(local_epochs * seconds, rel=0.03)
        # FedAvg sends the whole float32 model down and a whole delta up, to each of 4 clients
        assert cumulative["bytes_down"] == cumulative["bytes_up"] == round_ * 4 * 4 * numel
        assert cumulative["bytes_total"] == 2 * cumulative["bytes_down"]
        assert cumulative["flops"] > 0 and record["cost"]["flops"] > 0
        assert cost_value(record, UNITS["examples"]) == cumulative["examples"]
        assert cost_value(record, UNITS["rounds"]) == round_
    flops_per_pass = records[-1]["cumulative"]["flops"] / records[-1]["cumulative"]["examples"]
    assert flops_per_pass > 1e5  # a tiny conformer's forward + backward on ~1 s of audio
    assert "sim_hours" not in total_costs(records)  # no devices: no simulated clock


def test_simulated_device_time_is_a_cost_unit_with_devices(tiny_config) -> None:  # type: ignore[no-untyped-def]
    config = tiny_config(
        *EVERY_CLIENT, f"devices.tiers={{phone: {{{RATES}}}}}", "devices.shares={phone: 1}"
    )
    run_federated(config, progress=False)
    records = read_metrics(config.resolved_run_dir())
    rounds = [record["sim_round_s"] for record in records]
    assert all(seconds > 0 for seconds in rounds)
    hours = [cost_value(record, UNITS["sim_hours"]) for record in records]
    assert hours == pytest.approx([rounds[0] / 3600, sum(rounds) / 3600])
    assert total_costs(records)["sim_hours"] == pytest.approx(sum(rounds) / 3600)
