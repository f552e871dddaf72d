"""The committed fixture (tests/fixtures/mini) that other unit tests read: layout and promises."""

from __future__ import annotations

import json
from pathlib import Path

import soundfile as sf

from fedasr.data.manifest import audio_path, read_manifest
from fedasr.data.tokenizer import CharTokenizer

MINI = Path(__file__).resolve().parents[1] / "fixtures" / "mini"


def test_fixture_is_small_and_laid_out_like_a_corpus() -> None:
    files = [p for p in MINI.rglob("*") if p.is_file()]
    assert sum(p.stat().st_size for p in files) < 1.5e6
    assert {p.name for p in MINI.iterdir()} == {
        "train.jsonl", "test.jsonl", "heldout.jsonl", "corpus.json", "audio",
    }  # fmt: skip
    info = json.loads((MINI / "corpus.json").read_text())
    assert info["size"] == "fixture" and info["sample_rate"] == 16000


def test_fixture_speakers_and_engines() -> None:
    train = read_manifest(MINI / "train.jsonl")
    heldout = read_manifest(MINI / "heldout.jsonl")
    test = read_manifest(MINI / "test.jsonl")
    assert len({u.speaker for u in train}) >= 3
    assert len({u.meta["engine"] for u in train}) >= 2
    assert len({u.speaker for u in heldout}) >= 1
    assert not {u.speaker for u in heldout} & {u.speaker for u in train}
    assert {u.speaker for u in test} <= {u.speaker for u in train}
    assert not {u.text for u in test + heldout} & {u.text for u in train}
    all_utts = train + test + heldout
    assert {u.meta["engine"] for u in all_utts} == {"espeak", "flite", "festival"}
    assert 15 <= len(all_utts) <= 25


def test_fixture_audio_matches_its_manifests() -> None:
    tokenizer = CharTokenizer()
    for split in ("train", "test", "heldout"):
        manifest = MINI / f"{split}.jsonl"
        for utt in read_manifest(manifest):
            info = sf.info(str(audio_path(manifest, utt)))
            assert (info.samplerate, info.channels, info.format) == (16000, 1, "FLAC")
            assert info.frames == round(utt.duration * 16000)
            assert utt.text and tokenizer.unsupported_chars(utt.text) == set()
