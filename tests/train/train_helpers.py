"""A tiny batch of real speech from the fixture corpus, featurized into a tmp cache."""

from __future__ import annotations

from pathlib import Path

from fedasr.data.batching import Batch, SpeechData
from fedasr.data.feature_cache import load_or_build
from fedasr.data.features import FeatureConfig
from fedasr.data.manifest import read_manifest
from fedasr.data.tokenizer import CharTokenizer
from fedasr.models.dims import ConformerDims

MINI = Path(__file__).resolve().parents[1] / "fixtures" / "mini"
N_MELS = 40
SMALL = ConformerDims(
    n_mels=N_MELS,
    d_model=64,
    heads=2,
    head_size=32,
    ffn=128,
    conv_channels=64,
    conv_kernel=5,
    layers=2,
    exits=(1, 2),
    dropout=0.0,
    subsampling_channels=16,
)


def shortest_clips(cache_root: Path, count: int) -> SpeechData:
    """The `count` shortest training clips, log-mel features with CMVN from themselves."""
    manifest = MINI / "train.jsonl"
    utts = sorted(read_manifest(manifest), key=lambda u: u.duration)[:count]
    store = load_or_build(
        manifest,
        FeatureConfig(n_mels=N_MELS),
        cache_root=cache_root,
        utterances=utts,
        workers=1,
        progress=False,
    )
    mean, std = store.mean_std()
    return SpeechData(store, {u.id: u.text for u in utts}, CharTokenizer(), mean, std)


def fixture_batch(cache_root: Path, count: int) -> tuple[Batch, SpeechData]:
    data = shortest_clips(cache_root, count)
    return data.collate(range(len(data))), data
