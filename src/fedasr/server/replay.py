"""Server replay: after each aggregation, a few training steps on a server-held labelled set,
applied to the new global parameters (Dimitriadis et al.: it anchors the model on trusted
data; with `model.init_from` it is the transfer-learning / adaptation step).

The server trains its own model (bound to a flat buffer, like a worker's) with the same
training step as every client, a fresh optimizer at each replay (nothing to checkpoint), and a
data order seeded by (seed, round). Only the `trainable` parameters get gradients and an
optimizer slot, so the others come out bit-identical. The compute is server compute: logged
as replay_flops, not in the clients' costs (counted as full training steps, an upper bound
when parameters are frozen).
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import torch

from fedasr.data.batching import SpeechData, batch_rows, seconds_to_frames
from fedasr.data.bundle import DataBundle, feature_config
from fedasr.data.feature_cache import load_or_build
from fedasr.data.manifest import Utterance
from fedasr.data.specaugment import SpecAugmentConfig
from fedasr.data.validate import load_validated
from fedasr.engine.flat import bind_flat
from fedasr.engine.hooks import RoundHook
from fedasr.errors import ConfigError
from fedasr.models.conformer import ConformerCTC, build_model
from fedasr.models.flops import batch_flops
from fedasr.server.schema import ReplaySection
from fedasr.train.step import ctc_losses, make_optimizer, reset_optimizer, train_step

if TYPE_CHECKING:
    from fedasr.config import ExperimentConfig
    from fedasr.engine.loop import FederatedRun

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


class ServerReplayHook(RoundHook):
    name = "replay"

    def __init__(self, section: ReplaySection) -> None:
        self.section = section

    def prepare(self, run: FederatedRun) -> None:
        setup, config, section = run.setup, run.config, self.section
        self.replay = load_replay_set(config, setup.bundle, section)
        self.dims, self.seed = setup.dims, config.seed
        self.model = build_model(setup.dims)
        self.flat = bind_flat(self.model, setup.layout)
        named = dict(self.model.named_parameters())
        chosen = set(trainable_names(setup.layout.names, section.trainable))
        for name, param in named.items():
            param.requires_grad_(name in chosen)
        params = [named[name] for name in setup.layout.names if name in chosen]
        self.optimizer = make_optimizer(params, section.optimizer, section.lr, 0.0, 0.0)
        self.max_frames = seconds_to_frames(section.batch_seconds, self.replay.data.store)
        client = config.client
        self.specaug = (
            SpecAugmentConfig(**client.specaugment.model_dump()) if section.specaugment else None
        )
        self.grad_clip, self.exit_weights = client.grad_clip, client.exit_weights

    def after_aggregate(self, run: FederatedRun, round_index: int) -> dict[str, Any]:
        if (round_index + 1) % self.section.every:
            return {}
        started = time.perf_counter()
        self.flat.copy_(run.server.params)
        seed = int(np.random.SeedSequence([self.seed, round_index, 0x5E7]).generate_state(1)[0])
        with torch.random.fork_rng():  # dropout draws must not disturb the main process
            metrics = self.train(seed)
        run.server.params = self.flat.detach().clone()
        metrics["replay_wall_s"] = time.perf_counter() - started
        return metrics

    def train(self, seed: int) -> dict[str, Any]:
        section, data = self.section, self.replay.data
        reset_optimizer(self.optimizer, section.lr)
        rng, generator = np.random.default_rng(seed), torch.Generator().manual_seed(seed)
        torch.manual_seed(seed)
        steps, loss, frames, flops, skipped = 0, 0.0, 0, 0.0, 0
        while steps < section.steps:  # as many passes over the set as the steps need
            for rows in batch_rows(self.replay.rows, data.lengths, self.max_frames, rng):
                batch = data.collate(rows)
                result = train_step(
                    self.model, self.optimizer, batch, exit_weights=self.exit_weights,
                    grad_clip=self.grad_clip, specaugment=self.specaug, generator=generator,
                )  # fmt: skip
                steps, skipped = steps + 1, skipped + (not result.finite)
                loss, frames = loss + result.loss_sum, frames + result.frames
                padded = int(batch.feats.shape[1])
                flops += batch_flops(self.dims, batch.size, padded, None, train=True)
                if steps == section.steps:
                    break
        return {
            "replay_steps": steps,
            "replay_loss_per_frame": loss / max(frames, 1),
            "replay_skipped_steps": skipped,
            "replay_flops": flops,
        }
