"""Pseudo-labels: a client labels its untranscribed utterances with the global model it just
received (greedy CTC at the deepest exit it runs) and keeps the confident ones.

The labelling forward passes are real client compute: their FLOPs are returned and counted in
the client's cost. Where a hidden truth exists (simulated unlabelled clients) the labels are
scored against it, for the logs only.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field

import numpy as np
import torch

from fedasr.asr.decode import confidence, greedy_ids, token_confidence
from fedasr.asr.wer import word_errors
from fedasr.data.batching import SpeechData, batch_rows
from fedasr.models.conformer import ConformerCTC, model_device, on_host
from fedasr.models.dims import ConformerDims
from fedasr.models.flops import batch_flops

FeatureTransform = Callable[[int, np.ndarray], np.ndarray]
SCORES = {"confidence": confidence, "token_confidence": token_confidence}


@dataclass
class PseudoLabels:
    labels: dict[int, np.ndarray] = field(default_factory=dict)  # row -> token ids (kept only)
    hypotheses: dict[int, str] = field(default_factory=dict)  # every labelled row
    scores: dict[int, float] = field(default_factory=dict)
    flops: float = 0.0


@torch.inference_mode()
def label_rows(
    model: ConformerCTC,
    data: SpeechData,
    rows: Sequence[int],
    *,
    dims: ConformerDims,
    max_frames: int,
    depth: int | None = None,
    transform: FeatureTransform | None = None,
    score: str = "confidence",
    threshold: float = 0.0,
) -> PseudoLabels:
    """Greedy labels of `rows`; `labels` keeps those scoring >= threshold and not empty."""
    model.eval()
    out = PseudoLabels()
    for group in batch_rows(rows, data.lengths, max_frames):  # no rng: a fixed grouping
        batch = data.collate(group, None, transform).to(model_device(model))
        output = on_host(model(batch.feats, batch.feat_lens, depth=depth))
        log_probs = output.log_probs[-1]
        ids = greedy_ids(log_probs, output.lengths)
        values = SCORES[score](log_probs, output.lengths).tolist()
        out.flops += batch_flops(dims, batch.size, int(batch.feats.shape[1]), depth, train=False)
        for row, tokens, value in zip(group, ids, values, strict=True):
            out.hypotheses[row] = data.tokenizer.decode(tokens)
            out.scores[row] = float(value)
            if tokens and value >= threshold:
                out.labels[row] = np.asarray(tokens, dtype=np.int64)
    return out


def label_report(labels: PseudoLabels, truth: Mapping[int, str]) -> dict[str, float]:
    """Counts a round hook sums over clients: labelled, kept, and word errors against the
    hidden truth (all labelled rows, and the kept ones) where the truth exists."""
    report = {"pl_utterances": float(len(labels.hypotheses)), "pl_kept": float(len(labels.labels))}
    scored = [row for row in labels.hypotheses if row in truth]
    for prefix, rows in (("pl", scored), ("pl_kept", [r for r in scored if r in labels.labels])):
        counts = word_errors([truth[r] for r in rows], [labels.hypotheses[r] for r in rows])
        report[f"{prefix}_errors"] = float(counts.errors)
        report[f"{prefix}_ref_words"] = float(counts.reference)
    return report
