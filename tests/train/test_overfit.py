"""A tiny Conformer overfits a tiny batch of real speech: the CTC loss collapses and greedy
decoding then reads the transcripts back."""

from __future__ import annotations

from pathlib import Path

import torch
from train_helpers import SMALL, fixture_batch

from fedasr.asr.decode import greedy_decode
from fedasr.asr.wer import score
from fedasr.models.conformer import build_model
from fedasr.train.step import make_optimizer, train_step

MAX_STEPS = 150
TARGET_DROP = 100.0  # stop once the loss is this many times smaller than at the start


def test_a_tiny_batch_is_overfitted_and_decoded_back(tmp_path: Path) -> None:
    torch.manual_seed(0)
    batch, data = fixture_batch(tmp_path / "cache", count=3)
    model = build_model(SMALL, seed=0)
    optimizer = make_optimizer(model.parameters(), "adamw", 3e-3, 0.0, 0.0)
    first = train_step(model, optimizer, batch, grad_clip=5.0).loss_sum
    losses = [first]
    while losses[-1] > first / TARGET_DROP and len(losses) < MAX_STEPS:
        losses.append(train_step(model, optimizer, batch, grad_clip=5.0).loss_sum)
    assert losses[-1] < first / TARGET_DROP, f"loss {first:.1f} -> {losses[-1]:.3f}"

    model.eval()
    with torch.inference_mode():
        output = model(batch.feats, batch.feat_lens)
    references = [str(data.texts[r]) for r in batch.rows]
    for log_probs in output.log_probs:  # every exit was trained, every exit reads it back
        hypotheses = greedy_decode(log_probs, output.lengths, data.tokenizer)
        assert score(references, hypotheses).cer <= 0.05, (references, hypotheses)
