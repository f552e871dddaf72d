"""Server replay: after each aggregation, a few training steps on a server-held labelled set,
applied to the new global parameters (Dimitriadis et al.: it anchors the model on trusted
data; with `model.init_from` it is the transfer-learning / adaptation step).

The server trains its own model (bound to a flat buffer, like a worker's) with the same local
training loop as every client (fedasr.train.local), a fresh optimizer at each replay (nothing to
checkpoint), and a data order seeded by (seed, round). Only the `trainable` parameters get
gradients and an optimizer slot, so the others come out bit-identical. The compute is server
compute: logged as replay_flops, not in the clients' costs (counted as full training steps, an
upper bound when parameters are frozen).
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import torch

from fedasr.algorithms.base import ServerState
from fedasr.algorithms.spec import MAIN
from fedasr.data.batching import SpeechData, batch_rows, seconds_to_frames
from fedasr.data.bundle import DataBundle, feature_config
from fedasr.data.feature_cache import load_or_build
from fedasr.data.manifest import Utterance
from fedasr.data.specaugment import SpecAugmentConfig
from fedasr.data.validate import load_validated
from fedasr.engine.plugins import Change, Plugin
from fedasr.errors import ConfigError
from fedasr.models.conformer import ConformerCTC
from fedasr.models.dims import ConformerDims
from fedasr.models.flat import FlatModel
from fedasr.server.schema import ReplaySection
from fedasr.train.local import LocalPlan, local_train
from fedasr.train.objective import Objective
from fedasr.train.step import ctc_losses, make_optimizer, reset_optimizer

if TYPE_CHECKING:
    from fedasr.config import ExperimentConfig

PREFIXES = {"all": [""], "exits": ["exits."], "frontend": ["frontend."]}


@dataclass
class ReplaySet:
    data: SpeechData
    rows: list[int]


def trainable_names(names: tuple[str, ...], trainable: str | list[str]) -> list[str]:
    prefixes = PREFIXES[trainable] if isinstance(trainable, str) else list(trainable)
    chosen = [name for name in names if any(name.startswith(p) for p in prefixes)]
    if not chosen:
        raise ConfigError(
            f"server.replay.trainable: {trainable!r} matches no parameter; accepted: all, "
            f"exits, frontend, or name prefixes such as {', '.join(names[:2])}"
        )
    return chosen


def load_replay_set(
    config: ExperimentConfig, bundle: DataBundle, section: ReplaySection
) -> ReplaySet:
    """The transcribed utterances of the replay manifest (default: the training split, whose
    hidden transcripts are already gone), filtered by speaker and count."""
    if section.manifest is None:
        data, utts = bundle.train, bundle.utterances["train"]
    else:
        data, utts = _open_manifest(config, bundle, section.manifest)
    speaker_of = {utt.id: utt.speaker for utt in utts}
    rows = [r for r in range(len(data)) if data.targets[r] is not None]
    if section.speakers is not None:
        unknown = sorted(set(section.speakers) - {speaker_of[data.store.ids[r]] for r in rows})
        if unknown:
            raise ConfigError(
                f"server.replay.speakers: no transcribed utterance of {', '.join(unknown)} in "
                f"the replay set"
            )
        wanted = set(section.speakers)
        rows = [r for r in rows if speaker_of[data.store.ids[r]] in wanted]
    rows = rows[: section.max_utterances] if section.max_utterances else rows
    if not rows:
        raise ConfigError("server.replay: the replay set has no transcribed utterance")
    return ReplaySet(data, rows)


def _open_manifest(
    config: ExperimentConfig, bundle: DataBundle, name: str
) -> tuple[SpeechData, list[Utterance]]:
    path = Path(name) if Path(name).is_absolute() else Path(config.data.corpus) / name
    if not path.is_file():
        raise ConfigError(f"server.replay.manifest: {path} does not exist")
    utts, _ = load_validated(
        path, tokenizer=bundle.tokenizer, sample_rate=config.data.features.sample_rate,
        on_rate_mismatch=config.data.on_rate_mismatch, cache_dir=config.data.cache_dir,
    )  # fmt: skip
    utts = [u for u in utts if u.duration <= config.data.max_utterance_seconds]
    store = load_or_build(
        path, feature_config(config.data), cache_root=config.data.cache_dir, utterances=utts,
        progress=False,
    )  # fmt: skip
    kept = set(store.ids)
    utts = [u for u in utts if u.id in kept]
    train = bundle.train
    texts = {u.id: u.text for u in utts}
    return SpeechData(store, texts, bundle.tokenizer, train.mean, 1 / train.inv_std), utts


@torch.inference_mode()
def replay_set_loss(model: ConformerCTC, replay: ReplaySet, max_frames: int) -> float:
    """Summed-over-exits CTC loss per frame on the whole replay set (eval mode)."""
    model.eval()
    loss, frames = 0.0, 0
    for rows in batch_rows(replay.rows, replay.data.lengths, max_frames):
        batch = replay.data.collate(rows)
        loss += float(sum(ctc_losses(model(batch.feats, batch.feat_lens), batch)))
        frames += batch.frames
    return loss / max(frames, 1)


class ServerReplay(Plugin):
    name = "replay"

    def __init__(self, config: ExperimentConfig, bundle: DataBundle, dims: ConformerDims) -> None:
        section = config.server.replay
        assert section is not None
        self.section, self.seed = section, config.seed
        self.replay = load_replay_set(config, bundle, section)
        self.model = FlatModel(dims)
        chosen = set(trainable_names(self.model.layout.names, section.trainable))
        params = []
        for name, param in zip(self.model.layout.names, self.model.parameters_in_order(),
                               strict=True):  # fmt: skip
            param.requires_grad_(name in chosen)
            if name in chosen:
                params.append(param)
        self.optimizer = make_optimizer(params, section.optimizer, section.lr, 0.0, 0.0)
        client = config.client
        specaug = SpecAugmentConfig(**client.specaugment.model_dump())
        self.plan = LocalPlan(
            max_frames=seconds_to_frames(section.batch_seconds, self.replay.data.store),
            epochs=None, max_steps=section.steps, grad_clip=client.grad_clip,
            specaugment=specaug if section.specaugment else None, skip_nonfinite=True,
            frozen_frontend_saves=False,  # counted as full steps: an upper bound
        )  # fmt: skip
        exit_weights = client.exit_weights
        self.objective = Objective(tuple(exit_weights) if exit_weights else None)

    def after_aggregate(self, round_index: int, server: ServerState) -> Change:
        if (round_index + 1) % self.section.every:
            return Change()
        started = time.perf_counter()
        self.model.load(server.main)
        seed = int(np.random.SeedSequence([self.seed, round_index, 0x5E7]).generate_state(1)[0])
        with torch.random.fork_rng():  # dropout draws must not disturb the main process
            metrics = self.train(seed)
        metrics["replay_wall_s"] = time.perf_counter() - started
        return Change(metrics, server=server.replace_params(MAIN, self.model.flat.detach().clone()))

    def train(self, seed: int) -> dict[str, Any]:
        reset_optimizer(self.optimizer, self.section.lr)
        torch.manual_seed(seed)
        stats = local_train(
            self.model.module, self.optimizer, self.replay.data, self.replay.rows, self.plan,
            rng=np.random.default_rng(seed), generator=torch.Generator().manual_seed(seed),
            objective=self.objective,
        )  # fmt: skip
        return {
            "replay_steps": stats.steps,
            "replay_loss_per_frame": stats.loss_sum / max(stats.frames, 1),
            "replay_skipped_steps": stats.skipped,
            "replay_flops": stats.flops,
        }
