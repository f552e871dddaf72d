"""Greedy CTC decoding and entropy-based exit choice on hand-made log-probs."""

from __future__ import annotations

import math

import pytest
import torch
from asr_helpers import CHARS, _, ids, lengths_of, peaked

from fedasr.asr.decode import (
    choose_exit_by_entropy,
    confidence,
    greedy_decode,
    greedy_ids,
    mean_frame_entropy,
)

A, B, EL, OH, SEP = (CHARS.symbols.index(c) for c in "ablo|")


def test_repeats_merge_blanks_drop_and_a_blank_separates_doubles() -> None:
    paths = [
        [_, B, B, _, OH, OH, _, OH, EL, EL, _],  # "bool": o _ o keeps both o's, b b merges
        [A, A, A, _, _, A],  # "aa"
        [_, _, _],  # nothing
        [B, OH, SEP, SEP, A, EL, EL],  # "bo al": separators merge too
    ]
    log_probs, lengths = peaked(paths), lengths_of(paths)
    assert greedy_ids(log_probs, lengths) == [[B, OH, OH, EL], [A, A], [], [B, OH, SEP, A, EL]]
    assert greedy_decode(log_probs, lengths, CHARS) == ["bool", "aa", "", "bo al"]


def test_frames_past_the_length_are_ignored() -> None:
    paths = [[B, _, OH], ids("hello world")]
    log_probs = peaked(paths)  # row 0 is padded with frames that favour 'a'
    assert greedy_decode(log_probs, lengths_of(paths), CHARS) == ["bo", "helo world"]
    cut = torch.tensor([1, 4])
    assert greedy_decode(log_probs, cut, CHARS) == ["b", "hel"]


def test_entropy_is_zero_when_certain_and_log_v_when_uniform() -> None:
    vocab = CHARS.vocab_size
    certain = torch.full((1, 4, vocab), -1e4)
    certain[..., 3] = 0.0
    uniform = torch.full((1, 4, vocab), -math.log(vocab))
    lengths = torch.tensor([4])
    assert float(mean_frame_entropy(certain.log_softmax(-1), lengths)) < 1e-6
    assert float(mean_frame_entropy(uniform, lengths)) == pytest.approx(math.log(vocab))
    assert float(confidence(uniform, lengths)) == pytest.approx(1 / vocab)


def test_padding_frames_do_not_count_in_the_mean_entropy() -> None:
    vocab = CHARS.vocab_size
    log_probs = torch.full((1, 6, vocab), -math.log(vocab))  # uniform everywhere ...
    log_probs[0, :2] = peaked([[A, B]])[0]  # ... but the 2 valid frames are peaked
    entropy = mean_frame_entropy(log_probs, torch.tensor([2]))
    expected = mean_frame_entropy(peaked([[A, B]]), torch.tensor([2]))
    assert torch.allclose(entropy, expected)


def test_each_utterance_stops_at_its_first_confident_exit() -> None:
    vocab = CHARS.vocab_size
    sure, unsure = peaked([[A, B, _]], peak=0.99)[0], peaked([[A, B, _]], peak=0.3)[0]
    uniform = torch.full((3, vocab), -math.log(vocab))
    per_exit = [
        torch.stack([sure, unsure, uniform]),  # utterance 0 is confident here
        torch.stack([sure, sure, uniform]),  # utterance 1 here
        torch.stack([sure, sure, unsure]),  # utterance 2 never: it takes the last exit
    ]
    threshold = float(mean_frame_entropy(sure[None], torch.tensor([3]))) + 0.01
    chosen = choose_exit_by_entropy(per_exit, torch.tensor([3, 3, 3]), threshold)
    assert chosen.tolist() == [0, 1, 2]
    assert choose_exit_by_entropy(per_exit, torch.tensor([3, 3, 3]), 0.0).tolist() == [2, 2, 2]
    assert choose_exit_by_entropy(per_exit, torch.tensor([3, 3, 3]), 99.0).tolist() == [0, 0, 0]
