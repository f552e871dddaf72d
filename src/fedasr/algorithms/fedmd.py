"""FedMD (Li & Wang, "FedMD: Heterogenous Federated Learning via Model Distillation",
arXiv 1910.03581) for CTC models, the baseline FedKAD is compared with (ALGORITHMS.md §3).

A public labelled set (`data.public`: the embedded corpus's public speakers, or any manifest)
is held by the server and readable by every client. Each round FedMD's clients (1) compute
scores on a public subset, (2) the server averages them into a consensus, (3) clients digest
it (fit the consensus on that subset), then (4) revisit (train on their own data). Scores
here are frame posteriors of the client's last exit (every tier subsamples alike, so frames
line up), averaged with equal weight per client; digesting minimises the summed per-frame
KL(consensus || model) with the CTC weight at zero.

One communication per round, as the engine runs rounds: in round r a client digests the
consensus of round r-1's subset, revisits, and then computes its posteriors on round r's
subset with its updated model; the server's consensus of round r goes out in round r+1. The
subset of round r is drawn from (seed, r) by every client alike (`public_subset`). Parameters
are averaged within each tier, as in FedKAD (algorithms/tiers.py), so FedMD and FedKAD differ
only in what the tiers share. FedMD's transfer-learning phase (each party trains on the labelled
public set, then on its own data, before collaborating) is `transfer_epochs`: in the first round
(round 0) each client first trains with CTC on the whole public set for that many epochs; the
tier averages carry it to every later client of the tier. Off by default (0), so that FedMD
uses the public set only through the consensus, as in docs/results/fedkad.md's grid.
"""

from __future__ import annotations

import time
from collections.abc import Iterable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np
import torch
from pydantic import Field

from fedasr.algorithms.aggregate import all_finite
from fedasr.algorithms.base import (
    Algorithm,
    Broadcast,
    ClientCost,
    ClientReport,
    ClientResult,
    ClientTask,
    RoundAccumulator,
    tensor_bytes,
)
from fedasr.algorithms.context import ClientContext, SplitRows
from fedasr.algorithms.fedavg import CountWeighting, FedAvgClient, FedAvgOptions, Weighting
from fedasr.algorithms.spec import held_coordinates
from fedasr.algorithms.tiers import Extras, TierMap, tiered_server
from fedasr.data.batching import Batch
from fedasr.models.conformer import ModelOutput, subsampled_lengths
from fedasr.models.dims import ConformerDims
from fedasr.models.flat import FlatModel
from fedasr.models.flops import batch_flops
from fedasr.train.local import LocalStats
from fedasr.train.objective import Objective

if TYPE_CHECKING:
    from pydantic import BaseModel

    from fedasr.config import ExperimentConfig

PUBLIC = "public"
CONSENSUS, CONSENSUS_ROUND = "consensus", "consensus_round"  # server extras, broadcast
SUM, CLIENTS = "consensus.sum", "consensus.clients"  # the round's aggregate
POSTERIORS = "posteriors"  # a client's upload
SUBSET_TAG = 0xFED3D


class FedMDOptions(FedAvgOptions):
    public_subset: int = Field(32, ge=1)  # public utterances scored per round
    digest_epochs: int = Field(1, ge=0)  # passes over the consensus subset (0: no digest)
    digest_weight: float = Field(1.0, gt=0)
    transfer_epochs: int = Field(0, ge=0)  # round 0: CTC epochs on the whole public set first


def public_subset(seed: int, round_index: int, size: int, count: int) -> np.ndarray:
    """The public rows of round `round_index`: the same for every client, sorted."""
    rng = np.random.default_rng([seed, round_index, SUBSET_TAG])
    return np.sort(rng.choice(size, size=min(count, size), replace=False)).astype(np.int64)


def frames_of(batch: Batch) -> list[int]:
    """Top-level frames of each utterance of a batch (as the model's output lengths)."""
    return [int(n) for n in subsampled_lengths(batch.feat_lens).clamp(min=1)]


def public_posteriors(
    model: FlatModel, batches: Iterable[Batch], rows: np.ndarray
) -> tuple[torch.Tensor, float]:
    """Frame posteriors of the last exit on `rows`, concatenated in row order (flat float32),
    and the forward passes' FLOPs."""
    by_row: dict[int, torch.Tensor] = {}
    flops = 0.0
    module = model.module
    was_training = module.training
    module.eval()
    try:
        with torch.no_grad():
            for batch in batches:
                probs = module(batch.feats, batch.feat_lens).log_probs[-1].exp().cpu()
                for i, (row, frames) in enumerate(zip(batch.rows, frames_of(batch), strict=True)):
                    by_row[row] = probs[i, :frames].reshape(-1)
                flops += batch_flops(model.dims, batch.size, int(batch.feats.shape[1]), None, False)
    finally:
        module.train(was_training)
    return torch.cat([by_row[int(row)] for row in rows]).float(), flops


def split_consensus(
    consensus: torch.Tensor, batches: Iterable[Batch], rows: np.ndarray, vocab: int
) -> dict[int, torch.Tensor]:
    """The flat consensus as (frames, V) per public row (frames from the rows' batches)."""
    frames: dict[int, int] = {}
    for batch in batches:
        frames.update(zip(batch.rows, frames_of(batch), strict=True))
    out, offset = {}, 0
    for row in (int(r) for r in rows):
        size = frames[row] * vocab
        out[row] = consensus[offset : offset + size].view(frames[row], vocab)
        offset += size
    if offset != consensus.numel():
        raise ValueError(f"consensus of {consensus.numel()} values for {offset} expected")
    return out


@dataclass(frozen=True)
class ConsensusFit:
    """Digest: weight x sum over an utterance's frames of KL(consensus || model)."""

    targets: dict[int, torch.Tensor]  # public row -> (frames, V) consensus probabilities
    weight: float = 1.0

    def term(self, output: ModelOutput, batch: Batch) -> torch.Tensor:
        log_probs = output.log_probs[-1]
        target = torch.zeros_like(log_probs)
        for i, row in enumerate(batch.rows):
            values = self.targets[row]
            target[i, : values.shape[0]] = values.to(log_probs.device)
        kl = (torch.xlogy(target, target) - target * log_probs).sum(dim=-1)
        return self.weight * kl.sum(dim=1).mean()


@dataclass(frozen=True)
class FedMDClient:
    weighting: Weighting
    seed: int
    subset: int
    digest_epochs: int
    digest_weight: float
    transfer_epochs: int = 0

    def update(self, ctx: ClientContext, task: ClientTask, broadcast: Broadcast) -> ClientResult:
        started = time.perf_counter()
        assert task.spec is not None, "the server half sets every task's spec"
        spec = task.spec
        model = ctx.model(spec)
        held = held_coordinates(spec, model.layout, broadcast.params[spec.params], broadcast.coords)
        model.load(held.start)
        size = ctx.split_size(PUBLIC)
        received = [
            broadcast.extras[k] for k in (CONSENSUS, CONSENSUS_ROUND) if k in broadcast.extras
        ]
        public = self._public_phase(ctx, model, task, broadcast, received, size)
        stats = ctx.train(model, task, broadcast.lr, Objective())  # revisit: own data, CTC
        delta = held.trained.take(held.start) - held.trained.take(model.flat).cpu()
        rows = public_subset(self.seed, broadcast.round, size, self.subset)
        scored = ctx.batches(model, task, SplitRows(PUBLIC, rows))
        posteriors, flops = public_posteriors(model, scored, rows)
        cost = ClientCost(
            bytes_down=tensor_bytes(held.sent, *received),
            bytes_up=tensor_bytes(delta, posteriors),
            examples=stats.examples + public.examples,
            audio_seconds=stats.audio_seconds + public.audio_seconds,
            steps=stats.steps + public.steps, flops=stats.flops + public.flops + flops,
            wall_s=time.perf_counter() - started,
        )  # fmt: skip
        return ClientResult(
            task.client_id, delta, stats.examples, stats.frames, stats.loss_sum, cost,
            spec.depth, extras={POSTERIORS: posteriors}, where=held.where, params=spec.params,
        )  # fmt: skip

    def _public_phase(
        self, ctx: ClientContext, model: FlatModel, task: ClientTask, broadcast: Broadcast,
        received: list[torch.Tensor], size: int,
    ) -> LocalStats:  # fmt: skip
        """Training on the public set before revisiting the client's own data: FedMD's transfer
        learning in round 0 (CTC on the whole set), then the last round's consensus (digest)."""
        if broadcast.round == 0 and self.transfer_epochs:
            every_row = SplitRows(PUBLIC, np.arange(size, dtype=np.int64))
            epochs = self.transfer_epochs
            return ctx.train(model, task, broadcast.lr, Objective(), data=every_row, epochs=epochs)
        if len(received) == 2 and self.digest_epochs:  # a consensus exists from round 1 on
            return self._digest(ctx, model, task, broadcast, received[0], int(received[1]), size)
        return LocalStats()

    def _digest(
        self, ctx: ClientContext, model: FlatModel, task: ClientTask, broadcast: Broadcast,
        consensus: torch.Tensor, consensus_round: int, size: int,
    ) -> LocalStats:  # fmt: skip
        """Fit the consensus of round `consensus_round`'s subset (no CTC)."""
        data = SplitRows(PUBLIC, public_subset(self.seed, consensus_round, size, self.subset))
        vocab = model.dims.vocab
        targets = split_consensus(consensus, ctx.batches(model, task, data), data.rows, vocab)
        fit = ConsensusFit(targets, self.digest_weight)
        objective = Objective(exit_weights=[0.0] * len(model.dims.exits), terms=(fit.term,))
        return ctx.train(model, task, broadcast.lr, objective, data=data, epochs=self.digest_epochs)

    def fold(self, acc: RoundAccumulator, result: ClientResult) -> ClientReport:
        posteriors = result.extras[POSTERIORS]
        if not all_finite(posteriors):
            report = ClientReport(result.client_id, ok=False, error="non-finite posteriors",
                                  cost=result.cost, depth=result.depth)  # fmt: skip
            acc.reports.append(report)
            return report
        report = FedAvgClient(self.weighting).fold(acc, result)
        if report.ok:
            acc.add_plain(SUM, posteriors)
            acc.add_plain(CLIENTS, torch.ones(1))
        return report


@dataclass(frozen=True)
class ConsensusSharing:
    """The server's side of FedMD: the mean of the round's posteriors, sent the next round."""

    def init(self) -> Extras:
        return {}

    def broadcast(self, extras: Extras, round_index: int) -> Extras:
        return {k: extras[k] for k in (CONSENSUS, CONSENSUS_ROUND) if k in extras}

    def update(
        self, extras: Extras, acc: RoundAccumulator, round_index: int
    ) -> tuple[Extras, dict[str, Any]]:
        total, clients = acc.plain.get(SUM), acc.plain.get(CLIENTS)
        if total is None or clients is None:
            return extras, {"consensus_clients": 0}
        consensus = (total / clients[0]).float()
        fresh = {CONSENSUS: consensus, CONSENSUS_ROUND: torch.tensor([round_index])}
        return {**extras, **fresh}, {"consensus_clients": int(clients[0])}


def build_fedmd(config: ExperimentConfig, options: BaseModel, dims: ConformerDims) -> Algorithm:
    """The registry's builder: `algorithm: {name: fedmd, public_subset: 32, ...}`."""
    assert isinstance(options, FedMDOptions)
    tiers = TierMap.of(config, dims)
    client = FedMDClient(
        CountWeighting(options.weighting), config.seed, options.public_subset,
        options.digest_epochs, options.digest_weight, options.transfer_epochs,
    )  # fmt: skip
    return Algorithm("fedmd", client, tiered_server(config, tiers, ConsensusSharing()), tiers.dims)
