"""Exact round trips: engine checkpoints and self-contained model files (char and BPE)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch
from model_helpers import TINY, UNEVEN

from fedasr.data.features import FeatureConfig
from fedasr.data.manifest import read_manifest
from fedasr.data.tokenizer import BPETokenizer, CharTokenizer, Tokenizer, train_bpe
from fedasr.engine.checkpoint import latest_checkpoint, load_checkpoint, save_checkpoint
from fedasr.models.conformer import build_model
from fedasr.models.io import export_model, import_model

MINI = Path(__file__).resolve().parents[1] / "fixtures" / "mini"


def transcripts() -> list[str]:
    return [str(u.text) for u in read_manifest(MINI / "train.jsonl")]


def assert_same_tensors(a: dict[str, torch.Tensor], b: dict[str, torch.Tensor]) -> None:
    assert a.keys() == b.keys()
    for name in a:
        assert a[name].dtype == b[name].dtype, name
        assert torch.equal(a[name], b[name]), name


def test_checkpoint_round_trip_is_exact_and_keeps_the_latest(tmp_path: Path) -> None:
    tensors = {
        **build_model(UNEVEN, seed=0).state_dict(),
        "server.momentum": torch.randn(7, dtype=torch.float64),
        "server.step": torch.tensor(12, dtype=torch.int64),
    }
    state = {"round": 3, "best": {"wer": 0.125}, "rng": [1, 2, 3]}
    for step in (1, 2, 3):
        save_checkpoint(tmp_path, step, tensors, {**state, "round": step}, keep=2)
    latest = latest_checkpoint(tmp_path)
    assert latest is not None and latest.name == "round-000003"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["round-000002", "round-000003"]
    loaded, loaded_state = load_checkpoint(latest)
    assert_same_tensors(loaded, tensors)
    assert loaded_state == {**state, "round": 3}


def bpe_tokenizer(directory: Path) -> BPETokenizer:
    return train_bpe(transcripts(), vocab_size=48, directory=directory)


@pytest.mark.parametrize("kind", ["char", "bpe"])
def test_model_file_round_trip_is_exact(tmp_path: Path, kind: str) -> None:
    tokenizer: Tokenizer = (
        CharTokenizer() if kind == "char" else bpe_tokenizer(tmp_path / "bpe-train")
    )
    dims = UNEVEN.with_(vocab=tokenizer.vocab_size)
    model = build_model(dims, seed=1)
    rng = np.random.default_rng(0)
    mean = rng.normal(size=dims.n_mels).astype(np.float32)
    std = rng.uniform(0.5, 2.0, size=dims.n_mels).astype(np.float32)
    features = FeatureConfig(n_mels=dims.n_mels, frame_shift_ms=12.5)
    path = tmp_path / "model.safetensors"
    export_model(path, model, tokenizer, mean, std, features, {"run": "x"})

    loaded, loaded_tok, loaded_mean, loaded_std, loaded_features = import_model(
        path, tmp_path / "unpacked"
    )
    assert loaded.dims == dims
    assert_same_tensors(loaded.state_dict(), model.state_dict())
    assert loaded_mean.tobytes() == mean.tobytes() and loaded_std.tobytes() == std.tobytes()
    assert loaded_features == features
    assert type(loaded_tok) is type(tokenizer)
    assert loaded_tok.vocab_size == tokenizer.vocab_size
    for text in transcripts():
        ids = tokenizer.encode(text)
        assert loaded_tok.encode(text) == ids
        assert loaded_tok.decode(ids) == tokenizer.decode(ids)
    if isinstance(tokenizer, BPETokenizer):
        assert isinstance(loaded_tok, BPETokenizer)
        assert loaded_tok.model_path.read_bytes() == tokenizer.model_path.read_bytes()


def test_a_custom_alphabet_survives_the_model_file(tmp_path: Path) -> None:
    tokenizer = CharTokenizer("abcdefghijklmnopqrstuvwxyz'0123456789")
    model = build_model(TINY.with_(vocab=tokenizer.vocab_size), seed=0)
    ones = np.ones(TINY.n_mels, dtype=np.float32)
    path = tmp_path / "m.safetensors"
    export_model(path, model, tokenizer, 0 * ones, ones, FeatureConfig(n_mels=TINY.n_mels))
    _, loaded, *_ = import_model(path, tmp_path / "tok")
    assert isinstance(loaded, CharTokenizer) and loaded.alphabet == tokenizer.alphabet
