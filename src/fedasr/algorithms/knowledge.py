"""FedKAD's knowledge: per-label prototypes of the top-level features, and distilling them.

- `local_knowledge`: a client's forward passes over its own data after training; each frame's
  top-level feature h_t (the projection to the shared size D before the last exit) goes to its
  frame label (algorithms/alignment.py), giving the mean feature mu_{c,v} and frame count
  n_{c,v} of every label v.
- `fold_knowledge` / `aggregate_knowledge`: the server's K_v = sum_c n_{c,v} mu_{c,v} /
  sum_c n_{c,v}; a label no client saw this round keeps its previous value (and one never seen
  stays unknown: no client distils towards it).
- `PrototypeDistillation`: L_KD, an objective piece (train/objective.py) bound per client:
  feature level (default) ||h_t - K_{y_t}||^2 / D summed over an utterance's frames, or logit
  level T^2 KL(softmax(W K_{y_t} / T) || softmax(W h_t / T)) through the client's own head W;
  frame labels y_t come from the same alignment, on the step's own (detached) posteriors.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import cast

import torch
import torch.nn.functional as F
from torch import nn

from fedasr.algorithms.alignment import BLANK, frame_labels
from fedasr.algorithms.base import RoundAccumulator
from fedasr.data.batching import Batch
from fedasr.models.conformer import ModelOutput
from fedasr.models.flat import FlatModel
from fedasr.models.flops import batch_flops
from fedasr.train.objective import Objective

SUM, COUNT = "knowledge.sum", "knowledge.count"  # the round's aggregate (add_plain)
PROTOTYPES, KNOWN = "knowledge", "knowledge_known"  # server extras and the broadcast


@dataclass(frozen=True)
class LabelRule:
    """How frames get labels: the alignment, and whether blank frames count as a label."""

    alignment: str = "forced"  # "forced" (Viterbi against the transcript) or "best_path"
    include_blank: bool = True

    def labels(self, output: ModelOutput, batch: Batch) -> torch.Tensor:
        labels = frame_labels(
            self.alignment, output.log_probs[-1], output.lengths, batch.targets, batch.target_lens
        )
        return labels if self.include_blank else labels.masked_fill(labels == BLANK, -1)


@dataclass
class Knowledge:
    mean: torch.Tensor  # (V, D) float32: mean top-level feature per label (0 where unseen)
    count: torch.Tensor  # (V,) float32: frames per label
    flops: float  # the forward passes that computed it


def local_knowledge(
    model: FlatModel, batches: Iterable[Batch], rule: LabelRule, vocab: int
) -> Knowledge:
    """Per-label mean top-level feature and frame count over `batches` (no training)."""
    dims = model.dims
    sums = torch.zeros(vocab, dims.feature_dim(), dtype=torch.float64)
    counts = torch.zeros(vocab, dtype=torch.float64)
    flops = 0.0
    module = model.module
    was_training = module.training
    module.eval()
    try:
        with torch.no_grad():
            for batch in batches:
                output = module(batch.feats, batch.feat_lens)
                labels = rule.labels(output, batch).cpu()
                hidden = output.hidden[-1].cpu().double()
                keep = labels >= 0
                sums.index_add_(0, labels[keep], hidden[keep])
                counts += torch.bincount(labels[keep], minlength=vocab).double()
                flops += batch_flops(dims, batch.size, int(batch.feats.shape[1]), None, False)
    finally:
        module.train(was_training)
    mean = torch.where(counts[:, None] > 0, sums / counts.clamp(min=1)[:, None], 0.0)
    return Knowledge(mean.float(), counts.float(), flops)


def fold_knowledge(acc: RoundAccumulator, mean: torch.Tensor, count: torch.Tensor) -> None:
    """Add one client's uploaded (mean, count) to the round's count-weighted sums."""
    acc.add_plain(SUM, mean.double() * count.double()[:, None])
    acc.add_plain(COUNT, count)


def aggregate_knowledge(
    prototypes: torch.Tensor,
    known: torch.Tensor,
    sums: torch.Tensor | None,
    counts: torch.Tensor | None,
) -> tuple[torch.Tensor, torch.Tensor]:
    """K_v = sums_v / counts_v for every label some client saw; the rest keep their value."""
    if sums is None or counts is None:
        return prototypes, known
    seen = counts > 0
    fresh = (sums / counts.clamp(min=1e-12)[:, None]).float()
    return torch.where(seen[:, None], fresh, prototypes), known | seen


@dataclass(frozen=True)
class PrototypeDistillation:
    """L_KD towards the server's prototypes, as an objective piece (see module doc)."""

    prototypes: torch.Tensor  # (V, D)
    known: torch.Tensor  # (V,) bool: labels with a prototype
    weight: float  # lambda
    rule: LabelRule
    level: str = "feature"  # "feature" or "logit"
    temperature: float = 1.0

    def bind(self, model: FlatModel, start: torch.Tensor) -> Objective:
        device = model.flat.device
        prototypes, known = self.prototypes.to(device), self.known.to(device)
        exits = model.module.exits

        def distillation(output: ModelOutput, batch: Batch) -> torch.Tensor:
            labels = self.rule.labels(output, batch)
            mask = (labels >= 0) & known[labels.clamp(min=0)]
            hidden = output.hidden[-1]
            target = prototypes[labels.clamp(min=0)]
            if self.level == "feature":
                per_frame = (hidden - target).pow(2).mean(dim=-1)
            else:
                head = cast(nn.Linear, exits[len(output.log_probs) - 1].out)
                per_frame = logit_kl(head(hidden), head(target).detach(), self.temperature)
            per_utterance = (per_frame * mask).sum(dim=1)
            return self.weight * per_utterance.mean()

        return Objective(terms=(distillation,))


def logit_kl(student: torch.Tensor, teacher: torch.Tensor, temperature: float) -> torch.Tensor:
    """T^2 KL(softmax(teacher / T) || softmax(student / T)) per frame (last axis: vocabulary)."""
    log_p = F.log_softmax(student / temperature, dim=-1)
    log_q = F.log_softmax(teacher / temperature, dim=-1)
    return temperature**2 * (log_q.exp() * (log_q - log_p)).sum(dim=-1)
