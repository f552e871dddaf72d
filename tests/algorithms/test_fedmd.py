"""FedMD: the consensus by hand, the digest loss, the public subset, and a run whose public set
is an imported manifest, with the posteriors' bytes counted exactly."""

from __future__ import annotations

import pytest
import torch
from tiered import FEDMD

from fedasr.algorithms.base import ClientCost, ClientResult, RoundAccumulator
from fedasr.algorithms.fedavg import CountWeighting
from fedasr.algorithms.fedmd import (
    CONSENSUS,
    CONSENSUS_ROUND,
    POSTERIORS,
    ConsensusFit,
    ConsensusSharing,
    FedMDClient,
    public_subset,
)
from fedasr.data.batching import Batch
from fedasr.engine.rundir import read_metrics
from fedasr.errors import ConfigError
from fedasr.experiment import build_run
from fedasr.models.conformer import ModelOutput, subsampled_lengths
from fedasr.models.flat import ParamLayout

CLIENT = FedMDClient(CountWeighting("examples"), seed=0, subset=2, digest_epochs=1, digest_weight=1)


def scored(name: str, posteriors: list[float], examples: int) -> ClientResult:
    return ClientResult(name, torch.zeros(1), examples, 10, 1.0, ClientCost(),
                        extras={POSTERIORS: torch.tensor(posteriors)})  # fmt: skip


def test_the_consensus_is_the_plain_mean_of_the_clients_posteriors() -> None:
    acc = RoundAccumulator({"global": 1})
    CLIENT.fold(acc, scored("a", [0.2, 0.8, 1.0, 0.0], examples=1))
    CLIENT.fold(acc, scored("b", [0.6, 0.4, 0.0, 1.0], examples=9))  # weights do not matter
    extras, metrics = ConsensusSharing().update({}, acc, round_index=4)
    assert torch.allclose(extras[CONSENSUS], torch.tensor([0.4, 0.6, 0.5, 0.5]))
    assert extras[CONSENSUS_ROUND].tolist() == [4] and metrics == {"consensus_clients": 2}
    kept, metrics = ConsensusSharing().update(extras, RoundAccumulator({}), round_index=5)
    assert kept is extras and metrics == {"consensus_clients": 0}  # nobody scored: kept


def test_digesting_is_zero_at_the_consensus_and_positive_elsewhere() -> None:
    consensus = torch.tensor([[0.7, 0.2, 0.1], [0.1, 0.1, 0.8]])
    fit = ConsensusFit({5: consensus, 9: consensus[:1]}, weight=2.0)
    log_probs = torch.stack([consensus.log(), torch.full((2, 3), 1 / 3).log()])
    batch = Batch(torch.zeros(2, 12, 8), torch.tensor([12, 8]), torch.tensor([1]),
                  torch.tensor([1, 0]), [5, 9], 100.0)  # fmt: skip
    output = ModelOutput([log_probs], torch.tensor([2, 1]), [])
    alone = Batch(batch.feats[:1], batch.feat_lens[:1], batch.targets, batch.target_lens[:1],
                  [5], 100.0)  # fmt: skip
    first = fit.term(ModelOutput([log_probs[:1]], torch.tensor([2]), []), alone)
    assert float(first) == pytest.approx(0.0, abs=1e-6)
    both = fit.term(output, batch)  # the second utterance is uniform: KL > 0 on its one frame
    expected = 2.0 * float((consensus[0] * (consensus[0] * 3).log()).sum()) / 2
    assert float(both) == pytest.approx(expected, rel=1e-5)


def test_the_public_subset_is_a_function_of_seed_and_round() -> None:
    first = public_subset(3, 7, size=50, count=10)
    assert first.tolist() == public_subset(3, 7, size=50, count=10).tolist()
    assert first.tolist() == sorted(set(first.tolist())) and len(first) == 10
    assert first.tolist() != public_subset(3, 8, size=50, count=10).tolist()
    assert len(public_subset(3, 7, size=4, count=10)) == 4


def test_a_fedmd_run_scores_any_manifest_as_its_public_set(tiny_config) -> None:  # type: ignore[no-untyped-def]
    config = tiny_config(*FEDMD, "rounds.total=2")
    run = build_run(config, progress=False)
    run.execute()
    public = run.parts.bundle.splits["public"]
    vocab = run.algorithm.param_dims["S"].vocab
    small = ParamLayout.for_dims(run.algorithm.param_dims["S"]).numel

    def posterior_bytes(round_index: int) -> int:
        rows = public_subset(config.seed, round_index, len(public), 3)
        frames = subsampled_lengths(torch.from_numpy(public.lengths[rows]).long()).clamp(min=1)
        return 4 * vocab * int(frames.sum())

    records = read_metrics(config.resolved_run_dir())
    for r, record in enumerate(records):
        row = record["devices"]["tiers"]["S"]
        assert row["succeeded"] == 2
        assert row["bytes_up"] == 2 * (4 * small + posterior_bytes(r))
    # round 2 brings round 1's consensus (and its round number) down with the parameters
    assert records[0]["devices"]["tiers"]["S"]["bytes_down"] == 2 * 4 * small
    assert records[1]["devices"]["tiers"]["S"]["bytes_down"] == 2 * (
        4 * small + posterior_bytes(0) + 8
    )
    assert records[1]["server_consensus_clients"] == 4


def test_a_missing_public_set_is_named(tiny_config) -> None:  # type: ignore[no-untyped-def]
    config = tiny_config(*FEDMD, "data.public=nowhere.jsonl")
    with pytest.raises(ConfigError, match=r"data\.public"):
        build_run(config, progress=False)


def test_transfer_learning_is_round_zero_on_the_public_set(tiny_config, tmp_path) -> None:  # type: ignore[no-untyped-def]
    examples = {}
    for epochs in (0, 2):
        config = tiny_config(*FEDMD, "rounds.total=2", f"algorithm.transfer_epochs={epochs}",
                             f"run_dir={tmp_path / str(epochs)}")  # fmt: skip
        run = build_run(config, progress=False)
        run.execute()
        public = len(run.parts.bundle.splits["public"])
        records = read_metrics(config.resolved_run_dir())
        examples[epochs] = [record["cost"]["examples"] for record in records]
        clients = [record["clients"]["aggregated"] for record in records]
    # four clients a round, each two passes over the whole public set before its own data
    assert examples[2][0] - examples[0][0] == 4 * 2 * public
    assert examples[2][1] == examples[0][1] and clients == [4, 4]
