"""Beam search (the optional `lm` extra): labels from our tokenizers, prefix merging that
greedy decoding lacks, an n-gram LM that resolves acoustic ambiguity, a clear missing-extra
error. The tests that decode need pyctcdecode (and kenlm for the LM) and are skipped without."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest
import torch
from asr_helpers import CHARS, _, ids, lengths_of, peaked

from fedasr.asr.arpa import write_arpa
from fedasr.asr.beam import BeamConfig, BeamDecoder, ctc_labels
from fedasr.asr.decode import greedy_decode
from fedasr.data.manifest import read_manifest
from fedasr.data.tokenizer import train_bpe
from fedasr.errors import ConfigError, MissingExtraError

MINI = Path(__file__).resolve().parents[1] / "fixtures" / "mini"
NEEDS_EXTRA = "beam search needs the optional `lm` extra: pip install -e '.[lm]'"


def test_char_labels_map_blank_and_word_separator() -> None:
    labels = ctc_labels(CHARS)
    assert labels[:3] == ["", " ", "a"] and labels[-1] == "'"
    assert len(labels) == CHARS.vocab_size


def test_bpe_labels_are_the_pieces_after_the_blank(tmp_path: Path) -> None:
    texts = [str(u.text) for u in read_manifest(MINI / "train.jsonl")]
    bpe = train_bpe(texts, vocab_size=48, directory=tmp_path)
    labels = ctc_labels(bpe)
    assert len(labels) == bpe.vocab_size and labels[0] == ""
    assert len(set(labels)) == len(labels)
    word = bpe.encode("turn")
    assert labels[word[0]].startswith("▁")


def test_missing_pyctcdecode_is_a_clear_error(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "pyctcdecode", None)  # import now raises ImportError
    with pytest.raises(MissingExtraError, match=r"pip install -e '\.\[lm\]'"):
        BeamDecoder(CHARS)


def test_beam_config_checks_width_and_lm_path(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="at least 1"):
        BeamConfig(width=0)
    with pytest.raises(ConfigError, match="does not exist"):
        BeamConfig(lm=tmp_path / "missing.arpa")


@pytest.mark.lm
def test_beam_agrees_with_greedy_on_confident_outputs() -> None:
    pytest.importorskip("pyctcdecode", reason=NEEDS_EXTRA)
    paths = [[*ids("turn on"), _], [_, *ids("the"), _, _], ids("a|b")]
    log_probs, lengths = peaked(paths, peak=0.95), lengths_of(paths)
    beam = BeamDecoder(CHARS, BeamConfig(width=8))
    assert beam(log_probs, lengths) == greedy_decode(log_probs, lengths, CHARS)
    assert beam(log_probs, lengths) == ["turn on", "the", "a b"]


@pytest.mark.lm
def test_beam_sums_paths_that_greedy_decoding_cannot() -> None:
    """Two frames of P(blank) = 0.6, P('a') = 0.4: the best path is blank-blank (0.36), but the
    label "a" has three paths (0.16 + 0.24 + 0.24 = 0.64)."""
    pytest.importorskip("pyctcdecode", reason=NEEDS_EXTRA)
    probs = torch.full((1, 2, CHARS.vocab_size), 1e-6)
    probs[..., 0], probs[..., ids("a")[0]] = 0.6, 0.4
    log_probs, lengths = (probs / probs.sum(-1, keepdim=True)).log(), torch.tensor([2])
    assert greedy_decode(log_probs, lengths, CHARS) == [""]
    assert BeamDecoder(CHARS, BeamConfig(width=4))(log_probs, lengths) == ["a"]


def ambiguous_cat() -> tuple[torch.Tensor, torch.Tensor]:
    """ "the c?t", the vowel frame leaning to 'o' (0.55) over 'a' (0.45)."""
    log_probs = peaked([[*ids("the c"), _, _, *ids("t"), _]], peak=0.97)
    vowel = torch.full((CHARS.vocab_size,), 1e-4)
    vowel[ids("o")[0]], vowel[ids("a")[0]] = 0.55, 0.45
    log_probs[0, len(ids("the c"))] = (vowel / vowel.sum()).log()
    return log_probs, torch.tensor([log_probs.shape[1]])


@pytest.mark.lm
def test_a_language_model_resolves_an_acoustic_ambiguity(tmp_path: Path) -> None:
    pytest.importorskip("pyctcdecode", reason=NEEDS_EXTRA)
    pytest.importorskip("kenlm", reason=NEEDS_EXTRA)
    log_probs, lengths = ambiguous_cat()
    assert greedy_decode(log_probs, lengths, CHARS) == ["the cot"]
    assert BeamDecoder(CHARS, BeamConfig(width=8))(log_probs, lengths) == ["the cot"]
    arpa = write_arpa(
        ["the cat", "a cat sat", "the cat sat", "the dog"] * 3, 3, tmp_path / "lm.arpa"
    )
    with_lm = BeamDecoder(CHARS, BeamConfig(width=8, lm=arpa, alpha=1.0, beta=0.5))
    assert with_lm(log_probs, lengths) == ["the cat"]
    assert "LM lm.arpa" in with_lm.describe()


@pytest.mark.lm
def test_bpe_beam_decodes_like_the_tokenizer(tmp_path: Path) -> None:
    pytest.importorskip("pyctcdecode", reason=NEEDS_EXTRA)
    texts = [str(u.text) for u in read_manifest(MINI / "train.jsonl")]
    bpe = train_bpe(texts, vocab_size=48, directory=tmp_path)
    # a blank after every piece, so that a doubled piece is not merged into one
    paths = [[i for piece in bpe.encode(text) for i in (piece, _)] for text in texts[:4]]
    log_probs = peaked(paths, vocab=bpe.vocab_size, peak=0.95)
    decoded = BeamDecoder(bpe, BeamConfig(width=8))(log_probs, lengths_of(paths))
    assert decoded == [bpe.decode(bpe.encode(t)) for t in texts[:4]]
