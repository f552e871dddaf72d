"""Character and BPE tokenizers: blank is 0, round trips, what cannot be encoded."""

from __future__ import annotations

import pytest

from fedasr.data.tokenizer import BLANK, CharTokenizer, build_tokenizer, load_tokenizer

TEXTS = ["turn on the kitchen light", "set a timer for five minutes", "play some jazz"] * 40


def test_char_round_trip_and_normalization() -> None:
    tok = CharTokenizer()
    ids = tok.encode("Turn ON the kitchen's  light!")
    assert BLANK not in ids
    assert tok.decode(ids) == "turn on the kitchen's light"
    assert tok.unsupported_chars("café 5") == {"é", "5"}
    with pytest.raises(ValueError, match="outside the tokenizer"):
        tok.encode("room 5")


def test_bpe_trains_saves_and_loads(tmp_path) -> None:  # type: ignore[no-untyped-def]
    tok = build_tokenizer("bpe", TEXTS, tmp_path, bpe_vocab=40)
    tok.save(tmp_path)
    again = load_tokenizer(tmp_path)
    ids = again.encode("turn on the jazz")
    assert BLANK not in ids and again.decode(ids) == "turn on the jazz"
    assert again.vocab_size == tok.vocab_size
    assert "q" in again.unsupported_chars("quiet")


def test_char_tokenizer_save_load(tmp_path) -> None:  # type: ignore[no-untyped-def]
    CharTokenizer().save(tmp_path)
    assert load_tokenizer(tmp_path).vocab_size == 29
