"""Everything a run needs from its data, prepared once: validated utterances, a tokenizer,
memory-mapped features per split, global CMVN statistics.

Workers (processes, Ray actors) do not repeat this: they receive a small `SplitHandle` (cache
path, texts, statistics) and open the memory-mapped store themselves.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from fedasr.config import DataSection
from fedasr.data.batching import SpeechData
from fedasr.data.feature_cache import FeatureStore, load_or_build, open_store
from fedasr.data.features import FeatureConfig
from fedasr.data.manifest import Utterance, iter_manifest_lines
from fedasr.data.tokenizer import Tokenizer, build_tokenizer, load_tokenizer
from fedasr.data.validate import ValidationReport, load_validated
from fedasr.errors import ConfigError

log = logging.getLogger(__name__)
SPLITS = ("train", "test", "heldout")


@dataclass(frozen=True)
class SplitHandle:
    """What a worker needs to open one split without re-validating or re-extracting."""

    store_root: str
    texts: dict[str, str | None]
    tokenizer_dir: str
    mean: np.ndarray
    std: np.ndarray

    def open(self) -> SpeechData:
        store = open_store(self.store_root)
        return SpeechData(
            store, self.texts, load_tokenizer(self.tokenizer_dir), self.mean, self.std
        )


@dataclass
class DataBundle:
    corpus: Path
    tokenizer: Tokenizer
    tokenizer_dir: Path
    splits: dict[str, SpeechData]
    utterances: dict[str, list[Utterance]]
    reports: dict[str, ValidationReport] = field(default_factory=dict)

    @property
    def train(self) -> SpeechData:
        return self.splits["train"]

    def handle(self, split: str) -> SplitHandle:
        data = self.splits[split]
        texts = {utt.id: utt.text for utt in self.utterances[split]}
        inv = data.inv_std
        return SplitHandle(str(data.store.root), texts, str(self.tokenizer_dir), data.mean, 1 / inv)


def feature_config(section: DataSection) -> FeatureConfig:
    f = section.features
    return FeatureConfig(
        sample_rate=f.sample_rate,
        n_mels=f.n_mels,
        frame_length_ms=f.frame_length_ms,
        frame_shift_ms=f.frame_shift_ms,
    )


def ensure_corpus(section: DataSection) -> Path:
    """The corpus directory; the embedded corpus is synthesized first if the directory is
    missing or empty. A directory that holds anything is never synthesized into: a manifest
    name that is not there is an error naming the key (a typo must not rebuild a corpus)."""
    corpus = Path(section.corpus)
    if (corpus / section.train).is_file():
        return corpus
    if corpus.is_dir() and any(corpus.iterdir()):
        found = sorted(path.name for path in corpus.glob("*.jsonl")) or ["none"]
        raise ConfigError(
            f"data.train: got {section.train!r} but {corpus} has no such file; manifests there: "
            f"{', '.join(found)} (data.train is relative to data.corpus)"
        )
    if section.synth_if_missing is None:
        raise ConfigError(
            f"data.corpus: {corpus / section.train} does not exist (and data.synth_if_missing "
            "is off); build one with `fedasr data synth --out DIR` or import yours"
        )
    for split in SPLITS:
        if getattr(section, split) != f"{split}.jsonl":
            raise ConfigError(
                f"data.{split}: got {getattr(section, split)!r} but the corpus "
                f"data.synth_if_missing would build in {corpus} names it {split}.jsonl; "
                f"accepted: {split}.jsonl, or data.synth_if_missing=null with your own corpus"
            )
    from fedasr.data.synth.corpus import SynthConfig, build_corpus

    synth = section.synth_if_missing
    log.info("building the embedded corpus (%s, %s) in %s", synth.size, synth.vocab, corpus)
    build_corpus(SynthConfig(out=corpus, size=synth.size, vocab=synth.vocab, seed=synth.seed))
    return corpus


def load_data(
    section: DataSection,
    tokenizer_dir: Path,
    splits: tuple[str, ...] = SPLITS,
    progress: bool = True,
) -> DataBundle:
    """Validate, tokenize and featurize the requested splits (train first: it sets CMVN)."""
    corpus = ensure_corpus(section)
    manifests = {name: corpus / getattr(section, name) for name in splits}
    missing = [
        str(path) for name, path in manifests.items() if name != "train" and not path.is_file()
    ]
    if missing:
        hint = (
            "; data.public names the public set (the embedded corpus writes public.jsonl for "
            "--size small and default: rebuild it with `fedasr data synth`, or point "
            "data.public at any manifest)"
            if "public" in manifests and str(manifests["public"]) in missing
            else ""
        )
        raise ConfigError(f"data: manifest(s) not found: {', '.join(missing)}{hint}")
    tokenizer = _tokenizer(section, manifests["train"], tokenizer_dir)
    fconfig = feature_config(section)
    utterances, reports, stores = {}, {}, {}
    for name, manifest in manifests.items():
        utts, report = load_validated(
            manifest,
            tokenizer=tokenizer,
            sample_rate=fconfig.sample_rate,
            on_rate_mismatch=section.on_rate_mismatch,
            cache_dir=section.cache_dir,
        )
        utts = _drop_long(utts, section.max_utterance_seconds, manifest)
        store = load_or_build(
            manifest, fconfig, cache_root=section.cache_dir, utterances=utts, progress=progress
        )
        _report_extraction_failures(store, manifest)
        kept = set(store.ids)
        utterances[name] = [utt for utt in utts if utt.id in kept]
        reports[name], stores[name] = report, store
    mean, std = stores["train"].mean_std()
    data = {
        name: SpeechData(
            stores[name], {u.id: u.text for u in utterances[name]}, tokenizer, mean, std
        )
        for name in manifests
    }
    return DataBundle(corpus, tokenizer, tokenizer_dir, data, utterances, reports)


def _tokenizer(section: DataSection, train_manifest: Path, directory: Path) -> Tokenizer:
    if (directory / "tokenizer.json").is_file():
        return load_tokenizer(directory)  # a resumed run keeps its own tokenizer
    # Lines that fail to parse are skipped here; validation reports them right after.
    parsed = (item for _, item in iter_manifest_lines(train_manifest))
    texts = [item.text for item in parsed if isinstance(item, Utterance) and item.text]
    kind = section.tokenizer.kind
    tokenizer = build_tokenizer(kind, texts, directory, bpe_vocab=section.tokenizer.bpe_vocab)
    tokenizer.save(directory)
    return tokenizer


def _drop_long(utts: list[Utterance], limit: float, manifest: Path) -> list[Utterance]:
    kept = [utt for utt in utts if utt.duration <= limit]
    if len(kept) < len(utts):
        log.warning(
            "%s: skipped %d utterance(s) longer than data.max_utterance_seconds=%s",
            manifest,
            len(utts) - len(kept),
            limit,
        )
    return kept


def _report_extraction_failures(store: FeatureStore, manifest: Path) -> None:
    if store.skipped:
        first = ", ".join(f"{k} ({v})" for k, v in list(store.skipped.items())[:3])
        log.warning(
            "%s: %d utterance(s) failed feature extraction: %s", manifest, len(store.skipped), first
        )
