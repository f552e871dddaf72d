"""An ARPA word n-gram language model written from transcripts in pure Python (no KenLM or
SRILM binaries needed), for beam search with shallow fusion.

Estimator: interpolated Kneser-Ney (Chen & Goodman 1998) with one absolute discount per order,
D = n1 / (n1 + 2 n2) from that order's counts of counts. The highest order uses raw counts;
lower orders use continuation counts N1+(. g) (how many distinct words precede g), except
n-grams that start with <s>, which cannot be preceded and keep their raw counts. The unigram
distribution is interpolated with a uniform one over the vocabulary, which includes <unk>, so
an unseen word gets a small, finite probability. Written in ARPA backoff form: a listed n-gram
carries its interpolated probability and each context h its weight gamma(h) = D * types(h) /
total(h), which makes every conditional distribution sum to one.
"""

from __future__ import annotations

import math
from collections import Counter, defaultdict
from collections.abc import Iterable
from pathlib import Path

from fedasr.data.text import normalize_text
from fedasr.errors import FedasrError
from fedasr.fsutil import atomic_write_text

BOS, EOS, UNK = "<s>", "</s>", "<unk>"
NO_PROBABILITY = -99.0  # <s> is never predicted; ARPA's convention for "impossible"
FALLBACK_DISCOUNT = 0.5  # when an order has no singletons or no doubletons to estimate from

Ngram = tuple[str, ...]


def sentences(texts: Iterable[str | None]) -> list[list[str]]:
    """Normalized word sequences (the same normalization as tokenizers and WER)."""
    return [words for text in texts if text and (words := normalize_text(text).split())]


def raw_counts(sents: list[list[str]], order: int) -> list[Counter[Ngram]]:
    """counts[k - 1][g] = occurrences of the k-gram g, sentences padded with <s> ... </s>."""
    counts: list[Counter[Ngram]] = [Counter() for _ in range(order)]
    for words in sents:
        tokens = (BOS, *words, EOS)
        for k in range(1, order + 1):
            for i in range(len(tokens) - k + 1):
                counts[k - 1][tokens[i : i + k]] += 1
    return counts


def kneser_ney_counts(raw: list[Counter[Ngram]]) -> list[Counter[Ngram]]:
    """Raw counts at the highest order; continuation counts below (raw for <s>-initial)."""
    adjusted = [Counter(raw[-1])]
    for k in range(len(raw) - 1, 0, -1):  # order k from the (k + 1)-grams
        left_extensions: Counter[Ngram] = Counter(longer[1:] for longer in raw[k])
        adjusted.insert(
            0,
            Counter({g: raw[k - 1][g] if g[0] == BOS else left_extensions[g] for g in raw[k - 1]}),
        )
    adjusted[0].pop((BOS,), None)  # <s> is context only
    return adjusted


def discount(counts: Counter[Ngram]) -> float:
    histogram = Counter(counts.values())
    n1, n2 = histogram[1], histogram[2]
    if n1 == 0 or n2 == 0:
        return FALLBACK_DISCOUNT
    return n1 / (n1 + 2 * n2)


def context_stats(counts: Counter[Ngram]) -> dict[Ngram, tuple[int, int]]:
    """(total count, number of distinct next words) per context (the n-gram minus its word)."""
    totals: dict[Ngram, int] = defaultdict(int)
    types: dict[Ngram, int] = defaultdict(int)
    for gram, count in counts.items():
        totals[gram[:-1]] += count
        types[gram[:-1]] += 1
    return {h: (totals[h], types[h]) for h in totals}


def estimate(
    counts: list[Counter[Ngram]],
) -> tuple[list[dict[Ngram, float]], list[dict[Ngram, float]]]:
    """Interpolated probabilities of every listed n-gram and backoff weights of every context,
    per order, as plain probabilities (not logs)."""
    vocabulary = {g[0] for g in counts[0]} | {UNK}
    probs: list[dict[Ngram, float]] = []
    backoffs: list[dict[Ngram, float]] = []
    for k, grams in enumerate(counts):
        d = discount(grams)
        stats = context_stats(grams)
        gamma = {h: d * types / total for h, (total, types) in stats.items()}
        lower = probs[k - 1] if k else {}
        level: dict[Ngram, float] = {}
        for gram, count in grams.items():
            total = stats[gram[:-1]][0]
            below = lower[gram[1:]] if k else 1 / len(vocabulary)
            level[gram] = max(count - d, 0) / total + gamma[gram[:-1]] * below
        if k == 0:
            level[(UNK,)] = gamma[()] / len(vocabulary)
        probs.append(level)
        backoffs.append(gamma)
    return probs, backoffs


def write_arpa(texts: Iterable[str | None], order: int, path: str | Path) -> Path:
    """Estimate an interpolated Kneser-Ney `order`-gram LM on `texts` and write it as ARPA."""
    if order < 1:
        raise FedasrError(f"language model order: got {order}; it must be at least 1")
    sents = sentences(texts)
    if not sents:
        raise FedasrError("language model: no non-empty transcripts to estimate it from")
    probs, backoffs = estimate(kneser_ney_counts(raw_counts(sents, order)))
    probs[0][(BOS,)] = 0.0  # listed so that it can carry the backoff weight of the <s> context
    lines = ["\\data\\", *(f"ngram {k + 1}={len(level)}" for k, level in enumerate(probs)), ""]
    for k, level in enumerate(probs):
        contexts = backoffs[k + 1] if k + 1 < order else {}
        lines.append(f"\\{k + 1}-grams:")
        lines.extend(_arpa_line(gram, p, contexts) for gram, p in sorted(level.items()))
        lines.append("")
    lines.append("\\end\\")
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    atomic_write_text(path, "\n".join(lines) + "\n")
    return path


def _arpa_line(gram: Ngram, probability: float, contexts: dict[Ngram, float]) -> str:
    logp = math.log10(probability) if probability > 0 else NO_PROBABILITY
    line = f"{logp:.7f}\t{' '.join(gram)}"
    if gram in contexts:
        line += f"\t{math.log10(contexts[gram]):.7f}"
    return line
