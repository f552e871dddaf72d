"""Pseudo-label filtering, hidden transcripts that never reach training, corrupted clients at
batch time, and serial == process pool with all of it switched on."""

from __future__ import annotations

from typing import Any

import pytest
import torch

from fedasr.algorithms.spec import ModelSpec
from fedasr.asr.decode import confidence, token_confidence
from fedasr.client_data.local import ClientDataView
from fedasr.client_data.plugin import ClientDataPlugin
from fedasr.client_data.pseudo_labels import label_rows
from fedasr.engine.cohort import make_tasks
from fedasr.engine.loop import FederatedRun
from fedasr.engine.rundir import read_metrics
from fedasr.engine.worker import WorkerContext
from fedasr.experiment import build_run
from fedasr.models.conformer import ModelOutput
from fedasr.train import local as local_training

VOCAB = 29


def peaked(symbols: list[int], prob: float) -> torch.Tensor:
    """(T, V) log-probs whose best symbol at frame t is symbols[t], with probability prob."""
    out = torch.full((len(symbols), VOCAB), (1 - prob) / (VOCAB - 1))
    out[torch.arange(len(symbols)), torch.tensor(symbols)] = prob
    return out.log()


class StubModel:
    """Answers by utterance length: a confident word, an unsure one, confident silence."""

    def __init__(self, by_length: dict[int, torch.Tensor]) -> None:
        self.by_length = by_length

    def eval(self) -> None:
        pass

    def __call__(self, feats: torch.Tensor, lens: torch.Tensor, depth: Any = None) -> ModelOutput:
        log_probs = torch.stack([self.by_length[int(n)] for n in lens])
        lengths = torch.full((len(lens),), log_probs.shape[1])
        return ModelOutput([log_probs], lengths, [])


def test_only_confident_non_empty_labels_are_kept(tiny_config) -> None:  # type: ignore[no-untyped-def]
    run = build_run(tiny_config(), progress=False)
    data = run.parts.bundle.train
    rows = [0, 1, 2]
    lengths = [int(data.lengths[r]) for r in rows]
    assert len(set(lengths)) == 3
    blank, letter_a, letter_b = 0, 2, 3
    outputs = {
        lengths[0]: peaked([letter_a, letter_a, blank, blank], 0.95),  # "a", sure: kept
        lengths[1]: peaked([letter_b, blank, blank, blank], 0.5),  # "b", unsure: dropped
        lengths[2]: peaked([blank] * 4, 0.99),  # sure of silence, but empty: dropped
    }
    model = StubModel(outputs)
    out = label_rows(
        model,
        data,
        rows,
        dims=run.dims,
        max_frames=10**6,
        threshold=0.8,  # type: ignore[arg-type]
    )
    assert list(out.labels) == [0] and out.labels[0].tolist() == [letter_a]
    assert out.hypotheses == {0: "a", 1: "b", 2: ""}
    assert out.scores[1] == pytest.approx(0.5) and out.flops > 0


def test_token_confidence_ignores_confident_silence() -> None:
    log_probs = peaked([5] + [0] * 9, 0.99)
    log_probs[0] = peaked([5], 0.5)[0]
    lengths = torch.tensor([10])
    assert float(confidence(log_probs[None], lengths)) == pytest.approx((0.5 + 9 * 0.99) / 10)
    assert float(token_confidence(log_probs[None], lengths)) == pytest.approx(0.5)


def client_data(run: FederatedRun) -> ClientDataPlugin:
    return next(p for p in run.plugins if isinstance(p, ClientDataPlugin))


def hidden_truth(run: FederatedRun) -> dict[int, str]:
    """Train row -> hidden transcript, as the workers' data conditions hold it."""
    conditions = run.parts.worker.conditions
    assert isinstance(conditions, ClientDataView)
    return conditions.truth


def record_training_targets(monkeypatch) -> list[dict[int, list[int]]]:  # type: ignore[no-untyped-def]
    """Every batch the local-training loop trains on, as {row: target tokens}."""
    seen: list[dict[int, list[int]]] = []
    original = local_training.train_step

    def recording(model, optimizer, batch, **kwargs):  # type: ignore[no-untyped-def]
        tokens = batch.targets.split(batch.target_lens.tolist())
        seen.append({row: t.tolist() for row, t in zip(batch.rows, tokens, strict=True)})
        return original(model, optimizer, batch, **kwargs)

    monkeypatch.setattr(local_training, "train_step", recording)
    return seen


def test_hidden_transcripts_never_reach_training(tiny_config, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    seen = record_training_targets(monkeypatch)
    config = tiny_config(
        "rounds.total=1", "rounds.clients_per_round=4", "rounds.min_clients=1",
        "partition.hide_transcripts={share: 0.5}", "client.pseudo_labels={threshold: 0.0}",
    )  # fmt: skip
    run = build_run(config, progress=False)
    truth = hidden_truth(run)
    assert len(client_data(run).hidden) == 2 and len(truth) == 6
    ids = run.parts.bundle.train.store.ids
    assert all(run.parts.worker.train.texts[ids[r]] is None for r in truth)  # what workers get
    run.execute()
    encode = run.parts.bundle.tokenizer.encode
    trained_hidden = {row: t for batch in seen for row, t in batch.items() if row in truth}
    assert trained_hidden, "the pseudo-labelled utterances were trained on"
    assert all(tokens and tokens != encode(truth[row]) for row, tokens in trained_hidden.items())
    record = read_metrics(config.resolved_run_dir())[0]
    assert record["pseudo_label_utterances"] == 6 and record["pseudo_label_kept_share"] > 0
    assert 0 < record["pseudo_label_wer_all"] <= 10


def test_without_pseudo_labels_unlabelled_clients_are_not_sampled(tiny_config, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    seen = record_training_targets(monkeypatch)
    config = tiny_config("rounds.total=2", "partition.hide_transcripts={share: 0.5}")
    run = build_run(config, progress=False)
    run.execute()
    hidden_rows = set(hidden_truth(run))
    assert seen and not any(row in hidden_rows for batch in seen for row in batch)
    assert all(m["clients"]["sampled"] == 2 for m in read_metrics(config.resolved_run_dir()))


def test_corruptions_apply_at_batch_time_to_the_chosen_clients(tiny_config) -> None:  # type: ignore[no-untyped-def]
    config = tiny_config(
        "partition.corrupt=[{clients: [espeak-01], noise_snr_db: 0, speed: 1.25},"
        " {clients: [flite-05], transcripts: shuffle}]"
    )
    run = build_run(config, progress=False)
    worker = WorkerContext(run.parts.worker)
    conditions = run.parts.worker.conditions
    assert conditions is not None
    model = worker.model(ModelSpec(run.dims)).module

    def prepare(task):  # type: ignore[no-untyped-def]
        return conditions.prepare(model, worker.data, task, task.rows, worker.max_frames)

    ids = list(run.parts.registry.ids)
    noisy, wrong, clean = (
        make_tasks(run.parts.registry, [ids.index(c)], config.seed, 0)[0]
        for c in ("espeak-01", "flite-05", "festival-01")
    )
    local = prepare(noisy)
    assert local.transform is not None and local.targets is None
    plain = worker.data.collate(noisy.rows)
    corrupted = worker.data.collate(noisy.rows, None, local.transform)
    assert torch.equal(corrupted.feat_lens, (plain.feat_lens.double() / 1.25).round().long())
    again = worker.data.collate(noisy.rows, None, local.transform)
    assert torch.equal(corrupted.feats, again.feats)  # seeded by (seed, client, utterance)
    local = prepare(wrong)
    assert local.targets is not None and local.transform is None
    originals = {int(r): worker.data.targets[int(r)].tolist() for r in wrong.rows}  # type: ignore[union-attr]
    assert all(local.targets[r].tolist() != originals[r] for r in originals)
    shuffled = [t.tolist() for t in local.targets.values()]
    assert sorted(map(str, originals.values())) == sorted(map(str, shuffled))
    local = prepare(clean)
    assert local.targets is None and local.transform is None and local.rows is clean.rows


def test_process_pool_equals_serial_with_everything_on(tiny_config, tmp_path) -> None:  # type: ignore[no-untyped-def]
    everything = (
        "algorithm.name=dga", "algorithm.beta=5", "server.optimizer=adam", "server.lr=0.01",
        "partition.corrupt=[{share: 0.25, noise_snr_db: 0, speed: 1.2},"
        " {share: 0.25, transcripts: random_words}]",
        "partition.hide_transcripts={share: 0.25}", "client.pseudo_labels={threshold: 0.0}",
        "server.replay={steps: 2}", "client.stall_decay={patience: 1}",
    )  # fmt: skip
    params = []
    serial, pool = ["executor.kind=serial"], ["executor.kind=process", "executor.workers=2"]
    for name, executor in (("s", serial), ("p", pool)):
        run = build_run(tiny_config(f"run_dir={tmp_path / name}", *everything, *executor))
        run.execute()
        params.append(run.server.main)
    assert torch.equal(params[0], params[1])
