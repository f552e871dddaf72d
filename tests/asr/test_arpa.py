"""The pure-Python ARPA writer: valid format, normalized distributions, KN counts, KenLM."""

from __future__ import annotations

import math
import random
import re
from pathlib import Path

import pytest

from fedasr.asr.arpa import BOS, EOS, UNK, kneser_ney_counts, raw_counts, write_arpa
from fedasr.errors import FedasrError

MINI = Path(__file__).resolve().parents[1] / "fixtures" / "mini"
WORDS = ["turn", "on", "off", "the", "light", "door", "open", "close", "play", "music", "stop"]


def random_texts(count: int, seed: int) -> list[str]:
    rng = random.Random(seed)
    return [" ".join(rng.choices(WORDS, k=rng.randint(1, 6))) for _ in range(count)]


Arpa = list[dict[tuple[str, ...], tuple[float, float]]]  # per order: gram -> (log10 p, bow)


def parse_arpa(path: Path) -> Arpa:
    """A strict reader: header counts, sections in order, 2 or 3 tab-separated fields."""
    lines = path.read_text(encoding="utf-8").splitlines()
    assert lines[0] == "\\data\\" and lines[-1] == "\\end\\"
    declared = [
        int(m.group(2)) for line in lines if (m := re.fullmatch(r"ngram (\d+)=(\d+)", line))
    ]
    levels: Arpa = []
    for line in lines[1:-1]:
        if section := re.fullmatch(r"\\(\d+)-grams:", line):
            assert int(section.group(1)) == len(levels) + 1
            levels.append({})
        elif levels and line:
            fields = line.split("\t")
            assert len(fields) in (2, 3), line
            gram = tuple(fields[1].split(" "))
            assert len(gram) == len(levels) and gram not in levels[-1], line
            bow = float(fields[2]) if len(fields) == 3 else 0.0
            levels[-1][gram] = (float(fields[0]), bow)
    assert [len(level) for level in levels] == declared
    return levels


def prob(levels: Arpa, context: tuple[str, ...], word: str) -> float:
    """ARPA backoff semantics: listed probability, else bow(context) x P(word | shorter)."""
    order = len(context) + 1
    if order <= len(levels) and (*context, word) in levels[order - 1]:
        return 10 ** levels[order - 1][(*context, word)][0]
    if not context:
        raise AssertionError(f"{word!r} is not a unigram")
    bow = levels[len(context) - 1].get(context, (0.0, 0.0))[1]
    return 10**bow * prob(levels, context[1:], word)


@pytest.mark.parametrize("order", [1, 2, 3, 4])
def test_every_context_distribution_sums_to_one(tmp_path: Path, order: int) -> None:
    levels = parse_arpa(write_arpa(random_texts(300, seed=order), order, tmp_path / "lm.arpa"))
    vocabulary = [g[0] for g in levels[0] if g[0] != BOS]
    assert EOS in vocabulary and UNK in vocabulary
    assert levels[0][(BOS,)][0] == -99.0
    contexts = [()] + [g for level in levels[:-1] for g in level]
    for context in contexts:
        if EOS in context:
            continue
        total = sum(prob(levels, context, w) for w in vocabulary)
        assert total == pytest.approx(1.0, abs=1e-5), context


def test_backoffs_are_weights_of_real_contexts_and_grams_are_closed(tmp_path: Path) -> None:
    levels = parse_arpa(write_arpa(random_texts(200, seed=5), 3, tmp_path / "lm.arpa"))
    for k, level in enumerate(levels):
        for gram, (logp, bow) in level.items():
            assert logp <= 0 and bow <= 0, gram
            if k:  # the prefix (a context) and the suffix (its backoff) are listed too
                assert gram[:-1] in levels[k - 1] and gram[1:] in levels[k - 1], gram
        if k + 1 < len(levels):
            contexts = {g[:-1] for g in levels[k + 1]}
            with_weight = {g for g, (_, bow) in level.items() if bow != 0.0}
            assert with_weight <= contexts
    assert levels[-1] and all(bow == 0.0 for _, bow in levels[-1].values())


def test_kneser_ney_lower_orders_count_distinct_left_neighbours() -> None:
    sents = [["a", "b"], ["c", "b"], ["a", "b"]]
    counts = kneser_ney_counts(raw_counts(sents, 2))
    assert counts[1][("a", "b")] == 2  # highest order: raw
    assert counts[0][("b",)] == 2  # preceded by "a" and "c"
    assert counts[0][("a",)] == 1  # only ever after <s>
    assert (BOS,) not in counts[0]


def test_a_frequent_continuation_outranks_a_frequent_word(tmp_path: Path) -> None:
    # "francisco" is frequent but only after "san": KN gives it a low unigram probability.
    texts = ["san francisco"] * 20 + ["the door", "a door", "open door", "red door"]
    levels = parse_arpa(write_arpa(texts, 2, tmp_path / "lm.arpa"))
    assert prob(levels, (), "door") > prob(levels, (), "francisco")
    assert prob(levels, ("san",), "francisco") > 0.9


def test_fixture_transcripts_and_bad_input(tmp_path: Path) -> None:
    from fedasr.data.manifest import read_manifest

    texts = [u.text for u in read_manifest(MINI / "train.jsonl")]
    levels = parse_arpa(write_arpa(texts, 3, tmp_path / "sub" / "lm.arpa"))
    assert ("nursery",) in levels[0] and (BOS, "turn") in levels[1]
    with pytest.raises(FedasrError, match="at least 1"):
        write_arpa(texts, 0, tmp_path / "x.arpa")
    with pytest.raises(FedasrError, match="no non-empty transcripts"):
        write_arpa(["", None, " ... "], 3, tmp_path / "x.arpa")


@pytest.mark.lm
def test_kenlm_reads_it_and_agrees(tmp_path: Path) -> None:
    kenlm = pytest.importorskip("kenlm", reason="KenLM is in the optional `lm` extra")
    path = write_arpa(random_texts(300, seed=11), 3, tmp_path / "lm.arpa")
    levels = parse_arpa(path)
    model = kenlm.Model(str(path))
    assert model.order == 3
    for sentence in [*random_texts(20, seed=12), "turn zebra on"]:
        words = sentence.split()
        tokens = [BOS, *(w if (w,) in levels[0] else UNK for w in words), EOS]
        ours = sum(
            math.log10(prob(levels, tuple(tokens[max(0, i - 2) : i]), tokens[i]))
            for i in range(1, len(tokens))
        )
        assert model.score(sentence, bos=True, eos=True) == pytest.approx(ours, abs=1e-4)
