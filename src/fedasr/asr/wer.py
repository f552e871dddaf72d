"""WER and CER via jiwer, on normalized text (fedasr.data.text.normalize_text: lowercase,
NFKC, unified apostrophes, punctuation dropped, whitespace collapsed), with per-group tables."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass

import jiwer

from fedasr.data.text import normalize_text


@dataclass
class ErrorCounts:
    substitutions: int = 0
    deletions: int = 0
    insertions: int = 0
    reference: int = 0  # reference words (or characters)

    @property
    def errors(self) -> int:
        return self.substitutions + self.deletions + self.insertions

    @property
    def rate(self) -> float:
        """(S + D + I) / N; an empty reference with insertions counts as rate 1.0."""
        if self.reference == 0:
            return float(self.insertions > 0)
        return self.errors / self.reference

    def __add__(self, other: ErrorCounts) -> ErrorCounts:
        return ErrorCounts(
            self.substitutions + other.substitutions,
            self.deletions + other.deletions,
            self.insertions + other.insertions,
            self.reference + other.reference,
        )


def _counts(refs: Sequence[str], hyps: Sequence[str], chars: bool) -> ErrorCounts:
    total = ErrorCounts()
    pairs = [(normalize_text(r), normalize_text(h)) for r, h in zip(refs, hyps, strict=True)]
    scored = [(r, h) for r, h in pairs if r]
    for ref, hyp in pairs:  # jiwer rejects empty references: count their words as insertions
        if not ref and hyp:
            total.insertions += len(hyp) if chars else len(hyp.split())
    if not scored:
        return total
    refs_, hyps_ = [r for r, _ in scored], [h for _, h in scored]
    out = jiwer.process_characters(refs_, hyps_) if chars else jiwer.process_words(refs_, hyps_)
    return total + ErrorCounts(
        out.substitutions,
        out.deletions,
        out.insertions,
        out.hits + out.substitutions + out.deletions,
    )


def word_errors(refs: Sequence[str], hyps: Sequence[str]) -> ErrorCounts:
    return _counts(refs, hyps, chars=False)


def char_errors(refs: Sequence[str], hyps: Sequence[str]) -> ErrorCounts:
    return _counts(refs, hyps, chars=True)


@dataclass
class Scores:
    wer: float
    cer: float
    words: ErrorCounts
    chars: ErrorCounts
    utterances: int

    def as_dict(self) -> dict[str, float]:
        return {"wer": self.wer, "cer": self.cer, "utterances": float(self.utterances)}


def score(refs: Sequence[str], hyps: Sequence[str]) -> Scores:
    words, chars = word_errors(refs, hyps), char_errors(refs, hyps)
    return Scores(words.rate, chars.rate, words, chars, len(refs))


def score_by_group(
    refs: Sequence[str], hyps: Sequence[str], groups: Sequence[str]
) -> dict[str, Scores]:
    """Scores per group (speaker, engine, client), groups in sorted order."""
    members: dict[str, list[int]] = defaultdict(list)
    for i, group in enumerate(groups):
        members[group].append(i)
    return {
        group: score([refs[i] for i in idx], [hyps[i] for i in idx])
        for group, idx in sorted(members.items())
    }
