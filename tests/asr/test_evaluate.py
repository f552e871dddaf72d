"""evaluate(): every exit scored, groups, entropy exits, and a pluggable decoder."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch

from fedasr.asr.evaluate import evaluate
from fedasr.data.batching import SpeechData
from fedasr.data.feature_cache import load_or_build
from fedasr.data.features import FeatureConfig
from fedasr.data.manifest import read_manifest
from fedasr.data.tokenizer import CharTokenizer
from fedasr.models.conformer import build_model
from fedasr.models.dims import ConformerDims

MINI = Path(__file__).resolve().parents[1] / "fixtures" / "mini"
DIMS = ConformerDims(
    n_mels=20, d_model=16, heads=1, head_size=16, ffn=16, conv_channels=16, conv_kernel=3,
    layers=3, exits=(1, 2, 3), dropout=0.0, subsampling_channels=4,
)  # fmt: skip


@pytest.fixture(scope="module")
def data(tmp_path_factory: pytest.TempPathFactory) -> SpeechData:
    manifest = MINI / "test.jsonl"
    utts = read_manifest(manifest)
    store = load_or_build(
        manifest,
        FeatureConfig(n_mels=DIMS.n_mels),
        cache_root=tmp_path_factory.mktemp("cache"),
        workers=1,
        progress=False,
    )
    mean, std = store.mean_std()
    return SpeechData(store, {u.id: u.text for u in utts}, CharTokenizer(), mean, std)


def test_every_exit_and_group_is_scored(data: SpeechData) -> None:
    model = build_model(DIMS, seed=0)
    groups = [utt_id.rsplit("-", 1)[0] for utt_id in data.store.ids]
    result = evaluate(model, data, max_frames=300, groups=groups)
    assert len(result.per_exit) == len(result.hypotheses) == 3
    assert sorted(result.rows) == list(range(len(data)))
    assert result.references == [data.texts[r] for r in result.rows]
    assert sum(s.utterances for s in result.by_group.values()) == len(data)
    shallow = evaluate(model, data, [0, 1], depth=1)
    assert len(shallow.per_exit) == 1 and shallow.final.utterances == 2


def test_a_custom_decoder_replaces_greedy_decoding(data: SpeechData) -> None:
    calls: list[tuple[int, ...]] = []

    def placeholder(log_probs: torch.Tensor, lengths: torch.Tensor) -> list[str]:
        calls.append(tuple(log_probs.shape))
        return ["<placeholder>"] * log_probs.shape[0]

    model = build_model(DIMS, seed=0)
    result = evaluate(model, data, depth=2, decoder=placeholder, max_frames=10**6)  # one batch
    assert [shape[0] for shape in calls] == [len(data)] * 2  # once per exit that ran
    assert all(h == "<placeholder>" for hyps in result.hypotheses for h in hyps)
    assert result.final.wer == 1.0


def test_entropy_exits_are_reported(data: SpeechData) -> None:
    model = build_model(DIMS, seed=0)
    never = evaluate(model, data, entropy_threshold=0.0)
    always = evaluate(model, data, entropy_threshold=1e9)
    assert never.mean_exit == 3.0 and always.mean_exit == 1.0
    assert never.entropy is not None and never.entropy.wer == never.final.wer
    assert always.entropy is not None and always.entropy.wer == always.per_exit[0].wer
