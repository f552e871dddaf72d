"""Tokenizers for CTC: characters (default) and SentencePiece BPE. Id 0 is always the blank."""

from __future__ import annotations

import json
import string
import tempfile
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Protocol

from fedasr.data.text import normalize_text
from fedasr.errors import ConfigError
from fedasr.fsutil import atomic_write_bytes, atomic_write_text

BLANK = 0
WORD_SEP = "|"  # the character tokenizer spells the space as its own symbol
DEFAULT_ALPHABET = string.ascii_lowercase + "'"


class Tokenizer(Protocol):
    kind: str

    @property
    def vocab_size(self) -> int: ...

    def encode(self, text: str) -> list[int]: ...

    def decode(self, ids: Sequence[int]) -> str: ...

    def unsupported_chars(self, text: str) -> set[str]: ...

    def save(self, directory: str | Path) -> Path: ...


class CharTokenizer:
    """blank, word separator, then one id per letter."""

    kind = "char"

    def __init__(self, alphabet: str = DEFAULT_ALPHABET) -> None:
        self.alphabet = alphabet
        self.symbols = ["<blank>", WORD_SEP, *alphabet]
        self._index = {symbol: i for i, symbol in enumerate(self.symbols)}

    @property
    def vocab_size(self) -> int:
        return len(self.symbols)

    def encode(self, text: str) -> list[int]:
        text = normalize_text(text).replace(" ", WORD_SEP)
        bad = self.unsupported_chars(text)
        if bad:
            raise ValueError(f"characters outside the tokenizer: {''.join(sorted(bad))!r}")
        return [self._index[ch] for ch in text]

    def decode(self, ids: Sequence[int]) -> str:
        chars = [self.symbols[i] for i in ids if i != BLANK]
        return "".join(chars).replace(WORD_SEP, " ").strip()

    def unsupported_chars(self, text: str) -> set[str]:
        normalized = normalize_text(text).replace(" ", WORD_SEP)
        return {ch for ch in normalized if ch not in self._index}

    def save(self, directory: str | Path) -> Path:
        path = Path(directory) / "tokenizer.json"
        atomic_write_text(path, json.dumps({"kind": "char", "alphabet": self.alphabet}))
        return path


class BPETokenizer:
    """SentencePiece BPE over normalized transcripts; ids shifted by one to free 0 for blank."""

    kind = "bpe"

    def __init__(self, model_path: str | Path) -> None:
        import sentencepiece as spm

        self.model_path = Path(model_path)
        self._sp = spm.SentencePieceProcessor(model_file=str(self.model_path))
        self._alphabet = {
            ch for i in range(self._sp.get_piece_size()) for ch in self._sp.id_to_piece(i)
        }

    @property
    def vocab_size(self) -> int:
        return int(self._sp.get_piece_size()) + 1

    def encode(self, text: str) -> list[int]:
        text = normalize_text(text)
        bad = self.unsupported_chars(text)
        if bad:
            raise ValueError(f"characters outside the tokenizer: {''.join(sorted(bad))!r}")
        return [i + 1 for i in self._sp.encode(text)]

    def decode(self, ids: Sequence[int]) -> str:
        return str(self._sp.decode([i - 1 for i in ids if i != BLANK])).strip()

    def unsupported_chars(self, text: str) -> set[str]:
        return {ch for ch in normalize_text(text) if ch != " " and ch not in self._alphabet}

    def save(self, directory: str | Path) -> Path:
        directory = Path(directory)
        directory.mkdir(parents=True, exist_ok=True)
        target = directory / "tokenizer.model"
        if target.resolve() != self.model_path.resolve():
            atomic_write_bytes(target, self.model_path.read_bytes())
        atomic_write_text(directory / "tokenizer.json", json.dumps({"kind": "bpe"}))
        return directory / "tokenizer.json"


def train_bpe(texts: Iterable[str], vocab_size: int, directory: str | Path) -> BPETokenizer:
    """Train SentencePiece BPE on the given transcripts (deterministic for the same input)."""
    import sentencepiece as spm

    directory = Path(directory)
    directory.mkdir(parents=True, exist_ok=True)
    with tempfile.NamedTemporaryFile("w", suffix=".txt", delete=False) as corpus:
        for text in texts:
            if text:
                corpus.write(normalize_text(text) + "\n")
    spm.SentencePieceTrainer.train(
        input=corpus.name,
        model_prefix=str(directory / "tokenizer"),
        vocab_size=vocab_size,
        model_type="bpe",
        character_coverage=1.0,
        num_threads=1,
        minloglevel=2,
        hard_vocab_limit=False,
    )
    Path(corpus.name).unlink()
    return BPETokenizer(directory / "tokenizer.model")


def load_tokenizer(directory: str | Path) -> Tokenizer:
    """Load what `save` wrote: `directory/tokenizer.json` (+ `tokenizer.model` for BPE)."""
    directory = Path(directory)
    spec = json.loads((directory / "tokenizer.json").read_text())
    if spec["kind"] == "char":
        return CharTokenizer(spec.get("alphabet", DEFAULT_ALPHABET))
    if spec["kind"] == "bpe":
        return BPETokenizer(directory / "tokenizer.model")
    raise ConfigError(f"{directory / 'tokenizer.json'}: unknown tokenizer kind {spec['kind']!r}")


def build_tokenizer(
    kind: str, texts: Iterable[str], directory: str | Path, bpe_vocab: int = 128
) -> Tokenizer:
    if kind == "char":
        return CharTokenizer()
    if kind == "bpe":
        return train_bpe(texts, bpe_vocab, directory)
    raise ConfigError(f"tokenizer.kind: got {kind!r}; allowed: 'char', 'bpe'")
