"""`fedasr eval` with greedy and beam decoding, and `fedasr data lm`, on the fixture corpus."""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
import pytest
from typer.testing import CliRunner

from fedasr.cli.app import app
from fedasr.data.features import FeatureConfig
from fedasr.data.tokenizer import CharTokenizer
from fedasr.models.conformer import build_model
from fedasr.models.dims import ConformerDims
from fedasr.models.io import export_model

MINI = Path(__file__).resolve().parents[1] / "fixtures" / "mini"
DIMS = ConformerDims(
    n_mels=20, d_model=16, heads=1, head_size=16, ffn=16, conv_channels=16, conv_kernel=3,
    layers=2, exits=(1, 2), dropout=0.0, subsampling_channels=4,
)  # fmt: skip


@pytest.fixture
def model_file(tmp_path: Path) -> Path:
    path = tmp_path / "model.safetensors"
    ones = np.ones(DIMS.n_mels, dtype=np.float32)
    features = FeatureConfig(n_mels=DIMS.n_mels)
    export_model(path, build_model(DIMS, seed=0), CharTokenizer(), 0 * ones, ones, features)
    return path


def run(*args: object) -> tuple[int, str]:
    result = CliRunner().invoke(app, [str(a) for a in args])
    return result.exit_code, result.output


def test_greedy_eval_prints_exits_and_speakers(model_file: Path, tmp_path: Path) -> None:
    code, out = run("eval", model_file, MINI / "test.jsonl", "--cache-dir", tmp_path / "cache")
    assert code == 0, out
    assert "decoding: greedy" in out and "test.jsonl: 4 utterances" in out
    assert "espeak-01" in out and "flite-05" in out


def test_beam_without_the_extra_says_how_to_install_it(
    model_file: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setitem(sys.modules, "pyctcdecode", None)
    code, out = run("eval", model_file, MINI / "test.jsonl", "--beam", 4)
    assert code == 2
    assert "pip install -e '.[lm]'" in out


@pytest.mark.lm
def test_data_lm_then_eval_with_beam_and_lm(model_file: Path, tmp_path: Path) -> None:
    arpa = tmp_path / "lm.arpa"
    code, out = run("data", "lm", MINI / "train.jsonl", arpa, "--order", 2)
    assert code == 0, out
    assert arpa.read_text().startswith("\\data\\\nngram 1=")
    pytest.importorskip("pyctcdecode", reason="beam search needs the optional `lm` extra")
    pytest.importorskip("kenlm", reason="beam search needs the optional `lm` extra")
    cache = tmp_path / "cache"
    code, out = run("eval", model_file, MINI / "test.jsonl", "--lm", arpa, "--cache-dir", cache)
    assert code == 0, out
    assert "decoding: beam 32 + LM lm.arpa" in out
