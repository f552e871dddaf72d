"""Corpus importers: other layouts into our manifest, audio referenced in place, never copied.

Each importer is `import_x(src, out_dir, name=None, **options) -> ImportResult`; it writes
`out_dir/<name>.jsonl` (plus `<name>.skipped.txt` when entries were skipped).
"""

from __future__ import annotations

from collections.abc import Callable

from fedasr.data.importers.common import CorpusImportError, ImportResult, Skipped
from fedasr.data.importers.commonvoice import import_commonvoice
from fedasr.data.importers.lhotse_manifest import import_lhotse
from fedasr.data.importers.librispeech import import_librispeech
from fedasr.data.importers.stm import import_stm

IMPORTERS: dict[str, Callable[..., ImportResult]] = {
    "librispeech": import_librispeech,
    "stm": import_stm,
    "commonvoice": import_commonvoice,
    "lhotse": import_lhotse,
}

__all__ = ["IMPORTERS", "CorpusImportError", "ImportResult", "Skipped"]
