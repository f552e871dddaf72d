"""A small on-disk cache of validation verdicts, so training does not decode every file twice.

One JSON file per verdict under `<cache root>/validation/<key>.json`. The key hashes the
manifest's path and bytes, the size and mtime of every audio file it names, the tokenizer and
the options: an edited manifest, a re-synthesized clip or another tokenizer all miss the cache.
The cache lives outside the corpus so that read-only or committed corpora stay untouched.
"""

from __future__ import annotations

import hashlib
import json
import os
import tempfile
from collections.abc import Iterable
from pathlib import Path
from typing import Any

CACHE_VERSION = 1


def default_cache_root() -> Path:
    """$FEDASR_CACHE, else $XDG_CACHE_HOME/fedasr, else ~/.cache/fedasr (as the feature cache)."""
    base = (
        os.environ.get("FEDASR_CACHE")
        or Path(os.environ.get("XDG_CACHE_HOME", Path.home() / ".cache")) / "fedasr"
    )
    return Path(base)


def tokenizer_fingerprint(tokenizer: object) -> str | None:
    """What identifies a tokenizer's alphabet; None for kinds we cannot fingerprint (no cache)."""
    kind = getattr(tokenizer, "kind", type(tokenizer).__name__)
    alphabet = getattr(tokenizer, "alphabet", None)
    if isinstance(alphabet, str):
        return f"{kind}:{alphabet}"
    model_path = getattr(tokenizer, "model_path", None)
    if model_path is not None and Path(model_path).is_file():
        return f"{kind}:{hashlib.sha256(Path(model_path).read_bytes()).hexdigest()}"
    return None


def verdict_key(manifest: Path, audio_files: Iterable[str], settings: str) -> str:
    digest = hashlib.sha256(f"v{CACHE_VERSION}\n{settings}\n{manifest.resolve()}\n".encode())
    digest.update(manifest.read_bytes())
    for path in sorted(set(audio_files)):
        try:
            stat = os.stat(path)
            digest.update(f"\n{path}:{stat.st_size}:{stat.st_mtime_ns}".encode())
        except OSError:
            digest.update(f"\n{path}:missing".encode())
    return digest.hexdigest()[:32]


def cache_file(cache_dir: str | Path | None, key: str) -> Path:
    """Verdicts live in <cache root>/validation/, beside <cache root>/features/."""
    root = Path(cache_dir) if cache_dir is not None else default_cache_root()
    return root / "validation" / f"{key}.json"


def load_verdict(path: Path) -> dict[str, Any] | None:
    """The cached verdict, or None when absent or unreadable (a broken cache is just a miss)."""
    try:
        record = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    return record if isinstance(record, dict) and record.get("version") == CACHE_VERSION else None


def save_verdict(path: Path, record: dict[str, Any]) -> bool:
    """Write atomically; False (and no exception) when the cache dir is not writable."""
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        with tempfile.NamedTemporaryFile(
            "w", dir=path.parent, suffix=".tmp", delete=False, encoding="utf-8"
        ) as handle:
            json.dump({"version": CACHE_VERSION, **record}, handle)
        os.replace(handle.name, path)
    except OSError:
        return False
    return True
