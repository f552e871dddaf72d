"""On the worker: the data one client trains on this round.

`ClientDataView.prepare` runs at the start of every local update (the worker's `train`), with
the client's starting model already loaded. The view is built once in the main process and
travels to every worker inside its WorkerSpec. It applies the client's corruptions (a feature
transform used for every batch, corrupted transcripts), pseudo-labels its untranscribed
utterances when `client.pseudo_labels` is set, and drops every utterance left without a label:
an utterance without a transcript is never trained on against an empty target.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np

from fedasr.client_data.corrupt import (
    add_noise,
    change_tempo,
    choose,
    random_word_texts,
    shuffled_texts,
    vocabulary_of,
)
from fedasr.client_data.plan import ClientDataPlan, Quality
from fedasr.client_data.pseudo_labels import FeatureTransform, label_report, label_rows
from fedasr.train.local import LocalData

if TYPE_CHECKING:
    from fedasr.algorithms.base import ClientTask
    from fedasr.config import ExperimentConfig
    from fedasr.data.batching import SpeechData
    from fedasr.models.conformer import ConformerCTC

Labels = dict[int, np.ndarray | None]


def feature_transform(quality: Quality, seed: int, client: int) -> FeatureTransform | None:
    """The client's feature corruption; its noise is seeded by (seed, client, row), so an
    utterance sounds the same every round, like a recording made once."""
    if quality.noise_snr_db is None and quality.speed is None:
        return None

    def transform(row: int, frames: np.ndarray) -> np.ndarray:
        out = frames if quality.speed is None else change_tempo(frames, quality.speed)
        if quality.noise_snr_db is not None:
            rng = np.random.default_rng([seed, client, row, 0x4015E])
            out = add_noise(out, quality.noise_snr_db, rng)
        return out

    return transform


def corrupt_transcripts(
    quality: Quality, data: SpeechData, rows: list[int], rng: np.random.Generator, vocab: list[str]
) -> dict[int, np.ndarray]:
    """Wrong token targets for a share of the client's transcribed rows."""
    chosen = choose(rows, quality.transcript_share, rng)
    texts = {row: str(data.texts[row]) for row in chosen}
    if quality.transcripts == "shuffle":
        wrong = shuffled_texts(texts, rng)
    else:
        wrong = random_word_texts(texts, vocab, rng)
    return {row: np.asarray(data.tokenizer.encode(t), dtype=np.int64) for row, t in wrong.items()}


class ClientDataView:
    """The workers' side of a ClientDataPlan (engine.worker.DataConditions)."""

    def __init__(self, plan: ClientDataPlan, config: ExperimentConfig) -> None:
        self.quality: dict[str, Quality] = dict(plan.quality)
        self.truth: dict[int, str] = dict(plan.truth)  # only to score pseudo-labels
        self.pseudo = config.client.pseudo_labels
        self.seed = config.seed
        self._vocabulary: list[str] | None = None

    def vocabulary(self, data: SpeechData) -> list[str]:
        if self._vocabulary is None:
            self._vocabulary = vocabulary_of(data.texts)
        return self._vocabulary

    def prepare(
        self,
        model: ConformerCTC,
        data: SpeechData,
        task: ClientTask,
        rows: np.ndarray,
        max_frames: int,
    ) -> LocalData:
        quality = self.quality.get(task.client_id)
        transform = feature_transform(quality, self.seed, task.index) if quality else None
        labels: Labels = {int(r): data.targets[int(r)] for r in rows}
        changed = False
        if quality is not None and quality.transcripts is not None:
            rng = np.random.default_rng([self.seed, task.index, 0x7E47])
            transcribed = [row for row, label in labels.items() if label is not None]
            vocabulary = self.vocabulary(data)
            labels.update(corrupt_transcripts(quality, data, transcribed, rng, vocabulary))
            changed = True
        local = LocalData(rows, None, transform)
        missing = [row for row, label in labels.items() if label is None]
        if missing and self.pseudo is not None:
            depth = task.spec.depth if task.spec is not None else task.depth
            pseudo = label_rows(
                model, data, missing, dims=model.dims, max_frames=max_frames, depth=depth,
                transform=transform, score=self.pseudo.score, threshold=self.pseudo.threshold,
            )  # fmt: skip
            labels.update(pseudo.labels)
            local.flops, local.report = pseudo.flops, label_report(pseudo, self.truth)
            changed = True
        kept = [row for row, label in labels.items() if label is not None]
        local.rows = rows if len(kept) == len(rows) else np.asarray(kept, dtype=rows.dtype)
        if changed:
            local.targets = {row: label for row, label in labels.items() if label is not None}
        return local
