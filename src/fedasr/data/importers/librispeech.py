"""LibriSpeech layout: SRC/<speaker>/<chapter>/<speaker>-<chapter>-<n>.flac + .trans.txt.

SRC is one split directory (train-clean-100, dev-clean, ...): one manifest per import. The
speaker is the speaker directory (a natural federated client); the chapter goes in `meta`.
"""

from __future__ import annotations

from pathlib import Path

from fedasr.data.importers.common import (
    AudioHeader,
    Collector,
    CorpusImportError,
    ImportResult,
    finish_import,
    probe_audio,
    read_text_lines,
    relative_audio,
)
from fedasr.data.manifest import Utterance
from fedasr.data.text import normalize_text

AUDIO_SUFFIXES = (".flac", ".wav")  # converted copies of LibriSpeech are often WAV


def import_librispeech(
    src: str | Path, out_dir: str | Path, name: str | None = None, overwrite: bool = False
) -> ImportResult:
    src, out_dir = Path(src), Path(out_dir)
    chapters = _chapter_dirs(src)
    collector = Collector()
    for chapter_dir in chapters:
        _import_chapter(chapter_dir, out_dir, collector)
    return finish_import(collector, src, out_dir, name or src.name, overwrite)


def _chapter_dirs(src: Path) -> list[Path]:
    if not src.is_dir():
        raise CorpusImportError(f"{src}: not a directory (expected a LibriSpeech split directory)")
    chapters = sorted({path.parent for path in src.glob("*/*/*") if _is_corpus_file(path)})
    if chapters:
        return chapters
    splits = sorted({p.parents[2].name for p in src.glob("*/*/*/*.trans.txt")})
    hint = f"; it holds split directories ({', '.join(splits)}): pass one" if splits else ""
    raise CorpusImportError(f"{src}: no <speaker>/<chapter>/*.trans.txt found{hint}")


def _is_corpus_file(path: Path) -> bool:
    return path.name.endswith(".trans.txt") or path.suffix in AUDIO_SUFFIXES


def _import_chapter(chapter_dir: Path, out_dir: Path, collector: Collector) -> None:
    speaker, chapter = chapter_dir.parent.name, chapter_dir.name
    audio_files: dict[str, Path] = {}
    for path in sorted(chapter_dir.iterdir()):
        if path.suffix in AUDIO_SUFFIXES:
            audio_files.setdefault(path.stem, path)  # .flac sorts before .wav and wins
    listed: set[str] = set()
    for transcript in sorted(chapter_dir.glob("*.trans.txt")):
        lines = read_text_lines(transcript)
        for line_no, line in enumerate(lines, start=1):
            if not line.strip():
                continue
            utt_id, _, text = line.strip().partition(" ")
            listed.add(utt_id)
            where = f"{transcript}:{line_no}"
            audio = audio_files.get(utt_id)
            if audio is None:
                collector.skip(where, "missing-audio", f"no {utt_id}.flac or .wav in {chapter_dir}")
                continue
            found = _utterance(utt_id, text, audio, speaker, chapter, out_dir)
            if isinstance(found, Utterance):
                collector.add(found, where)
            else:
                collector.skip(where, *found)
    for stem, audio in audio_files.items():
        if stem not in listed:
            collector.skip(str(audio), "no-transcript", "audio file not listed in any .trans.txt")


def _utterance(
    utt_id: str, text: str, audio: Path, speaker: str, chapter: str, out_dir: Path
) -> Utterance | tuple[str, str]:
    """The utterance, or (kind, reason) when it cannot be imported."""
    words = normalize_text(text)
    if not words:
        return "no-transcript", f"no transcript after the id {utt_id}"
    header = probe_audio(audio)
    if not isinstance(header, AudioHeader):
        return "unreadable-audio", header
    return Utterance(
        id=utt_id,
        audio=relative_audio(audio, out_dir),
        duration=header.seconds,
        sample_rate=header.sample_rate,
        text=words,
        speaker=speaker,
        language="en",
        meta={"chapter": chapter},
    )
