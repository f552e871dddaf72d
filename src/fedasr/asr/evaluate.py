"""Evaluate a model on a split: WER/CER per exit, per speaker (or any group), by confidence."""

from __future__ import annotations

import functools
from collections.abc import Sequence
from dataclasses import dataclass, field

import torch

from fedasr.asr.decode import Decoder, choose_exit_by_entropy, greedy_decode
from fedasr.asr.wer import Scores, score, score_by_group
from fedasr.data.batching import SpeechData, batch_rows
from fedasr.models.conformer import ConformerCTC, model_device, on_host


@dataclass
class EvalResult:
    per_exit: list[Scores]  # shallow exit first
    hypotheses: list[list[str]]  # per exit, per utterance (in `rows` order)
    references: list[str]
    rows: list[int]
    by_group: dict[str, Scores] = field(default_factory=dict)  # deepest exit evaluated
    entropy: Scores | None = None
    mean_exit: float | None = None  # 1-based average exit chosen by entropy

    @property
    def final(self) -> Scores:
        return self.per_exit[-1]


@torch.inference_mode()
def evaluate(
    model: ConformerCTC,
    data: SpeechData,
    rows: Sequence[int] | None = None,
    *,
    max_frames: int = 20000,
    depth: int | None = None,
    groups: Sequence[str] | None = None,
    entropy_threshold: float | None = None,
    decoder: Decoder | None = None,
) -> EvalResult:
    """Decode every labelled utterance in `rows` (default: the whole split) at every exit
    that runs, greedily unless `decoder` (e.g. asr.beam.BeamDecoder) is given.

    `groups` gives a group name per row of the split (e.g. its speaker) for per-group tables.
    """
    model.eval()
    device = model_device(model)
    decode = decoder or functools.partial(greedy_decode, tokenizer=data.tokenizer)
    rows = [
        r for r in (rows if rows is not None else range(len(data))) if data.texts[r] is not None
    ]
    order: list[int] = []
    hyps: list[list[str]] = []
    chosen_hyps: list[str] = []
    chosen_exits: list[int] = []
    for batch_rows_ in batch_rows(rows, data.lengths, max_frames):
        batch = data.collate(batch_rows_).to(device)
        output = on_host(model(batch.feats, batch.feat_lens, depth=depth))
        decoded = [decode(lp, output.lengths) for lp in output.log_probs]
        if not hyps:
            hyps = [[] for _ in decoded]
        for exit_hyps, new in zip(hyps, decoded, strict=True):
            exit_hyps.extend(new)
        order.extend(batch_rows_)
        if entropy_threshold is not None:
            exits = choose_exit_by_entropy(output.log_probs, output.lengths, entropy_threshold)
            chosen_exits.extend(int(e) for e in exits)
            chosen_hyps.extend(decoded[int(e)][i] for i, e in enumerate(exits))
    refs = [str(data.texts[r]) for r in order]
    result = EvalResult(
        per_exit=[score(refs, exit_hyps) for exit_hyps in hyps],
        hypotheses=hyps,
        references=refs,
        rows=order,
    )
    if groups is not None and hyps:
        result.by_group = score_by_group(refs, hyps[-1], [groups[r] for r in order])
    if entropy_threshold is not None and chosen_exits:
        result.entropy = score(refs, chosen_hyps)
        result.mean_exit = 1 + sum(chosen_exits) / len(chosen_exits)
    return result
