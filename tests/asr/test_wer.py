"""WER/CER equal jiwer's on random pairs; group tables add up to the totals."""

from __future__ import annotations

import random

import jiwer
import pytest

from fedasr.asr.wer import ErrorCounts, char_errors, score, score_by_group, word_errors

WORDS = ["turn", "on", "off", "the", "light", "door", "open", "a", "bob", "call"]


def random_sentence(rng: random.Random, max_words: int) -> str:
    return " ".join(rng.choices(WORDS, k=rng.randint(0, max_words)))


def corrupt(rng: random.Random, words: list[str]) -> list[str]:
    """Random substitutions, deletions and insertions (a plausible ASR hypothesis)."""
    out: list[str] = []
    for word in words:
        roll = rng.random()
        if roll < 0.1:
            continue
        out.append(rng.choice(WORDS) if roll < 0.25 else word)
        if rng.random() < 0.1:
            out.append(rng.choice(WORDS))
    return out


def random_pairs(seed: int, count: int = 60) -> tuple[list[str], list[str]]:
    rng = random.Random(seed)
    refs = [random_sentence(rng, 8) or "door" for _ in range(count)]
    hyps = []
    for ref in refs:
        kind = rng.random()
        if kind < 0.15:
            hyps.append("")  # an empty hypothesis: every reference word is a deletion
        elif kind < 0.3:
            hyps.append(random_sentence(rng, 10))  # unrelated
        else:
            hyps.append(" ".join(corrupt(rng, ref.split())))
    return refs, hyps


def random_strings(seed: int, count: int = 40) -> tuple[list[str], list[str]]:
    rng = random.Random(seed)

    def text(n: int) -> str:
        return " ".join("".join(rng.choices("abcde", k=rng.randint(1, 5))) for _ in range(n))

    refs = [text(rng.randint(1, 6)) for _ in range(count)]
    return refs, [text(rng.randint(0, 6)) for _ in range(count)]


@pytest.mark.parametrize("seed", range(5))
def test_word_and_char_error_rates_equal_jiwer(seed: int) -> None:
    for refs, hyps in (random_pairs(seed), random_strings(seed)):
        words = word_errors(refs, hyps)
        chars = char_errors(refs, hyps)
        assert words.rate == pytest.approx(jiwer.wer(refs, hyps), abs=1e-12)
        assert chars.rate == pytest.approx(jiwer.cer(refs, hyps), abs=1e-12)
        expected = jiwer.process_words(refs, hyps)
        assert (words.substitutions, words.deletions, words.insertions) == (
            expected.substitutions,
            expected.deletions,
            expected.insertions,
        )
        assert words.reference == sum(len(r.split()) for r in refs)
        assert chars.reference == sum(len(r) for r in refs)


def test_all_empty_hypotheses_are_all_deletions() -> None:
    refs = ["turn on the light", "open the door"]
    words = word_errors(refs, ["", ""])
    assert (words.deletions, words.substitutions, words.insertions) == (7, 0, 0)
    assert words.rate == 1.0 == jiwer.wer(refs, ["", ""])


def test_normalization_applies_to_both_sides() -> None:
    scores = score(["Turn ON the light."], ["turn on, the   LIGHT"])
    assert scores.wer == 0.0 and scores.cer == 0.0
    assert score(["It’s open"], ["it's open"]).wer == 0.0


def test_empty_references_count_hypothesis_words_as_insertions() -> None:
    words = word_errors(["", "open the door"], ["hello there", "open the door"])
    assert (words.insertions, words.reference) == (2, 3)
    assert words.rate == pytest.approx(2 / 3)
    assert word_errors([""], [""]).rate == 0.0
    assert word_errors([""], ["x"]).rate == 1.0


def test_group_tables_sum_back_to_the_totals() -> None:
    refs, hyps = random_pairs(seed=11)
    rng = random.Random(3)
    groups = [rng.choice(["spk-b", "spk-a", "spk-c"]) for _ in refs]
    by_group = score_by_group(refs, hyps, groups)
    assert list(by_group) == ["spk-a", "spk-b", "spk-c"]
    total = score(refs, hyps)
    summed_words = sum((s.words for s in by_group.values()), ErrorCounts())
    summed_chars = sum((s.chars for s in by_group.values()), ErrorCounts())
    assert summed_words == total.words and summed_chars == total.chars
    assert sum(s.utterances for s in by_group.values()) == total.utterances == len(refs)
    for name, scores in by_group.items():
        members = [i for i, g in enumerate(groups) if g == name]
        alone = jiwer.wer([refs[i] for i in members], [hyps[i] for i in members])
        assert scores.wer == pytest.approx(alone, abs=1e-12)
