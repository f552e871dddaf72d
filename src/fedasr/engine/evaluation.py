"""Server-side evaluation of the global parameters: WER/CER per split and exit, per client."""

from __future__ import annotations

from typing import Any

import torch

from fedasr.algorithms.spec import MAIN, View
from fedasr.asr.evaluate import EvalResult, evaluate
from fedasr.config import EvalSection
from fedasr.data.batching import seconds_to_frames
from fedasr.data.bundle import DataBundle
from fedasr.models.dims import ConformerDims
from fedasr.models.flat import FlatModel


class ServerEvaluator:
    def __init__(
        self,
        dims: ConformerDims,
        bundle: DataBundle,
        section: EvalSection,
        device: torch.device | str = "cpu",
    ) -> None:
        self.flat_model = FlatModel(dims, device)
        self.model = self.flat_model.module
        self.bundle = bundle
        self.section = section
        self.max_frames = seconds_to_frames(section.batch_seconds, bundle.train.store)
        self.speakers = {
            split: [speaker_of[u] for u in bundle.splits[split].store.ids]
            for split in bundle.splits
            for speaker_of in [{utt.id: utt.speaker for utt in bundle.utterances[split]}]
        }

    def load(self, params: torch.Tensor) -> None:
        self.flat_model.flat.copy_(params)

    def evaluate(
        self, params: torch.Tensor, splits: list[str] | None = None
    ) -> tuple[dict[str, Any], dict[str, EvalResult]]:
        """A metrics record ({split}_wer, {split}_cer, {split}_wer_per_exit, ...) and results."""
        self.load(params)
        record: dict[str, Any] = {}
        results: dict[str, EvalResult] = {}
        for split in splits or list(self.section.splits):
            data = self.bundle.splits.get(split)
            if data is None:
                continue
            rows = (
                list(range(len(data)))[: self.section.max_utterances]
                if self.section.max_utterances
                else None
            )
            result = evaluate(
                self.model, data, rows, max_frames=self.max_frames, groups=self.speakers[split]
            )
            results[split] = result
            record[f"{split}_wer"] = result.final.wer
            record[f"{split}_cer"] = result.final.cer
            record[f"{split}_wer_per_exit"] = [s.wer for s in result.per_exit]
            if self.section.per_client:
                record[f"{split}_wer_per_speaker"] = {g: s.wer for g, s in result.by_group.items()}
        return record, results


class SetEvaluators:
    """One evaluator per server parameter set (a tier's model, or the one global model) and per
    view (a sub-model of a set, e.g. a HeteroFL tier's width slice). The main set's metrics
    keep their plain names (`heldout_wer`); another set's or view's are prefixed with its name
    (`S_heldout_wer`), so `eval.metric` can name either."""

    def __init__(
        self,
        param_dims: dict[str, ConformerDims],
        bundle: DataBundle,
        section: EvalSection,
        device: torch.device | str = "cpu",
        views: dict[str, View] | None = None,
    ) -> None:
        self.views = dict(views or {})
        dims = {**param_dims, **{name: view.dims for name, view in self.views.items()}}
        self.by_set = {
            name: ServerEvaluator(model_dims, bundle, section, device)
            for name, model_dims in dims.items()
        }

    def values(self, params: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
        """The flat values of every evaluated model: a set's own, or a view's share of its set."""
        return {
            name: self.views[name].take(params) if name in self.views else params[name]
            for name in self.by_set
        }

    def evaluate(self, params: dict[str, torch.Tensor]) -> dict[str, Any]:
        record: dict[str, Any] = {}
        for name, values in self.values(params).items():
            metrics, _ = self.by_set[name].evaluate(values)
            prefix = "" if name == MAIN else f"{name}_"
            record.update({prefix + key: value for key, value in metrics.items()})
        return record
