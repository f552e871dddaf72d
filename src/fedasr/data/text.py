"""Transcript normalization shared by tokenizers, importers, the validator and WER."""

from __future__ import annotations

import re
import unicodedata

_APOSTROPHES = str.maketrans({"’": "'", "‘": "'", "`": "'", "´": "'"})
# Punctuation that carries no spoken word; it is dropped rather than flagged.
_PUNCT = re.compile(r"[.,;:!?\"()\[\]{}<>«»“”…–—/\\-]+")
_SPACES = re.compile(r"\s+")


def normalize_text(text: str) -> str:
    """Lowercase, NFKC, unify apostrophes, drop punctuation, collapse whitespace.

    Digits and letters outside the tokenizer's alphabet are kept, so that the validator can
    report them instead of silently deleting words.
    """
    text = unicodedata.normalize("NFKC", text).translate(_APOSTROPHES).lower()
    text = _PUNCT.sub(" ", text)
    return _SPACES.sub(" ", text).strip()
