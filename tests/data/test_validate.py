"""The validator finds exactly the seeded faults, at exactly their lines, and nothing else."""

from __future__ import annotations

import logging
from pathlib import Path

import numpy as np
import pytest
from helpers import MINI, build_clean_corpus, build_faulty_corpus, source_clips, write_pcm

import fedasr.data.validate as validate_module
from fedasr.data.manifest import Utterance, write_manifest
from fedasr.data.tokenizer import CharTokenizer
from fedasr.data.validate import load_validated, validate_manifest
from fedasr.errors import ConfigError, ManifestError


@pytest.fixture(scope="module")
def clips():
    return source_clips(6)


@pytest.fixture
def faulty(tmp_path, clips):
    return build_faulty_corpus(tmp_path, clips)


def test_clean_corpus_has_no_problem(tmp_path, clips):
    manifest = build_clean_corpus(tmp_path, clips)
    report = validate_manifest(manifest)
    assert report.ok, [str(p) for p in report.problems]
    assert report.lines == len(clips) + 2
    assert len(report.utterances) == report.lines
    assert not report.notes


@pytest.mark.skipif(not (MINI / "train.jsonl").is_file(), reason="fixture corpus not built yet")
@pytest.mark.parametrize("split", ["train", "test", "heldout"])
def test_committed_fixture_corpus_is_clean(split):
    report = validate_manifest(MINI / f"{split}.jsonl")
    assert report.ok, [str(p) for p in report.problems]


def test_finds_exactly_the_seeded_faults(faulty):
    manifest, expected, good = faulty
    report = validate_manifest(manifest, workers=2)
    found = {problem.line: problem.kind for problem in report.problems}
    assert found == expected
    assert len(report.problems) == len(expected), "one problem per faulty line, no extras"
    assert {utt.id for utt in report.utterances} == good
    assert report.counts()["corrupt-audio"] == 2
    assert all(str(p).startswith(f"{manifest}:{p.line}: [{p.kind}] ") for p in report.problems)


def test_reasons_name_what_is_wrong(faulty):
    manifest, _, _ = faulty
    by_kind = {p.kind: p for p in validate_manifest(manifest, workers=1).problems}
    assert "'ok-1' already used on line 1" in by_kind["duplicate-id"].reason
    assert "'2' '4' 'é'" in by_kind["unsupported-chars"].reason
    assert "8000 Hz, expected 16000 Hz" in by_kind["sample-rate"].reason
    assert "not-there.flac" in by_kind["missing-audio"].reason
    assert "speaker" in by_kind["bad-field"].reason
    assert by_kind["malformed-json"].utt_id is None


def test_resample_mode_accepts_the_rate_mismatch_as_a_note(faulty):
    manifest, expected, good = faulty
    report = validate_manifest(manifest, on_rate_mismatch="resample")
    rate_line = next(line for line, kind in expected.items() if kind == "sample-rate")
    assert {p.line: p.kind for p in report.problems} == {
        line: kind for line, kind in expected.items() if line != rate_line
    }
    assert [(n.line, n.kind) for n in report.notes] == [(rate_line, "resampled")]
    assert {utt.id for utt in report.utterances} == good | {"rate"}


def test_manifest_rate_must_match_the_file(tmp_path, clips):
    write_pcm(tmp_path / "a.flac", clips[0].pcm)
    utt = Utterance("a", "a.flac", clips[0].seconds, 8000, "hi", "s")
    write_manifest(tmp_path / "m.jsonl", [utt])
    report = validate_manifest(tmp_path / "m.jsonl")
    assert [p.kind for p in report.problems] == ["sample-rate"]
    assert "manifest says 8000 Hz" in report.problems[0].reason


def test_a_lone_cut_at_offset_zero_needs_the_segment_marker(tmp_path, clips):
    """Offset 0 alone on its file reads as the whole file, unless meta.segment says otherwise."""
    write_pcm(tmp_path / "long.flac", np.concatenate([clips[0].pcm, clips[1].pcm]))
    cut = Utterance("a", "long.flac", clips[0].seconds, 16000, "hi", "s")
    write_manifest(tmp_path / "m.jsonl", [cut])
    problems = validate_manifest(tmp_path / "m.jsonl").problems
    assert [p.kind for p in problems] == ["duration-mismatch"]
    assert "meta.segment" in problems[0].reason
    marked = Utterance("a", "long.flac", clips[0].seconds, 16000, "hi", "s", meta={"segment": True})
    write_manifest(tmp_path / "m.jsonl", [marked])
    assert validate_manifest(tmp_path / "m.jsonl").ok


def test_nan_duration_is_a_bad_field(tmp_path, clips):
    write_pcm(tmp_path / "a.flac", clips[0].pcm)
    line = Utterance("a", "a.flac", clips[0].seconds, 16000, "hi", "s").to_json()
    (tmp_path / "m.jsonl").write_text(line.replace(str(clips[0].seconds), "NaN") + "\n")
    assert [p.kind for p in validate_manifest(tmp_path / "m.jsonl").problems] == ["bad-field"]


def test_tokenizer_decides_which_characters_are_supported(faulty):
    manifest, expected, _ = faulty
    wide = CharTokenizer("abcdefghijklmnopqrstuvwxyz'é0123456789")
    kinds = {p.kind for p in validate_manifest(manifest, tokenizer=wide).problems}
    assert "unsupported-chars" not in kinds
    assert kinds == set(expected.values()) - {"unsupported-chars"}


def test_bad_options_and_missing_manifest_are_clear_errors(tmp_path):
    with pytest.raises(ManifestError, match="does not exist"):
        validate_manifest(tmp_path / "nope.jsonl")
    (tmp_path / "m.jsonl").write_text("")
    with pytest.raises(ConfigError, match="allowed: 'reject', 'resample'"):
        validate_manifest(tmp_path / "m.jsonl", on_rate_mismatch="drop")  # type: ignore[arg-type]


def test_non_utf8_manifest_names_the_line(tmp_path):
    (tmp_path / "m.jsonl").write_bytes(b'{"id": 1}\n{"id": "caf\xe9"}\n')
    with pytest.raises(ManifestError, match=r"m.jsonl:2: not UTF-8"):
        validate_manifest(tmp_path / "m.jsonl")


def _count_decodes(monkeypatch) -> list[int]:
    calls: list[int] = []
    real = validate_module.inspect_many

    def counting(paths, workers=None):
        paths = list(paths)
        calls.append(len(set(paths)))
        return real(paths, workers=workers)

    monkeypatch.setattr(validate_module, "inspect_many", counting)
    return calls


def test_load_validated_keeps_good_lines_and_logs_the_skips(faulty, tmp_path, caplog):
    manifest, expected, good = faulty
    with caplog.at_level(logging.WARNING, logger="fedasr.data.validate"):
        utterances, _ = load_validated(manifest, cache_dir=tmp_path / "cache")
    assert {utt.id for utt in utterances} == good
    assert f"{len(expected)} rejected" in caplog.text
    assert "1 duplicate-id" in caplog.text and "2 corrupt-audio" in caplog.text
    first_bad = min(expected)
    assert f"{manifest}:{first_bad}: [{expected[first_bad]}]" in caplog.text
    assert "lists them all" in caplog.text  # more problems than the log spells out


def test_verdict_cache_is_hit_then_invalidated(tmp_path, clips, monkeypatch):
    manifest = build_clean_corpus(tmp_path / "corpus", clips)
    cache = tmp_path / "cache"
    calls = _count_decodes(monkeypatch)
    first, report = load_validated(manifest, cache_dir=cache)
    assert not report.from_cache and len(calls) == 1
    second, report = load_validated(manifest, cache_dir=cache)
    assert report.from_cache and len(calls) == 1, "the second call must not decode again"
    assert second == first

    load_validated(manifest, cache_dir=cache, on_rate_mismatch="resample")
    assert len(calls) == 2, "other options, other verdict"

    # a clip re-synthesized in place (another length) must be decoded again
    victim = tmp_path / "corpus" / first[0].audio
    write_pcm(victim, clips[0].pcm[: len(clips[0].pcm) // 2])
    _, report = load_validated(manifest, cache_dir=cache)
    assert not report.from_cache and len(calls) == 3
    assert [p.kind for p in report.problems] == ["duration-mismatch"]
    assert len(list((cache / "validation").glob("*.json"))) == 3


def test_edited_manifest_misses_the_cache(tmp_path, clips, monkeypatch):
    manifest = build_clean_corpus(tmp_path / "corpus", clips)
    calls = _count_decodes(monkeypatch)
    load_validated(manifest, cache_dir=tmp_path / "cache")
    lines = manifest.read_text().splitlines()
    manifest.write_text("\n".join(lines[1:]) + "\n")
    utterances, report = load_validated(manifest, cache_dir=tmp_path / "cache")
    assert not report.from_cache and len(calls) == 2
    assert len(utterances) == len(lines) - 1


def test_load_validated_refuses_a_manifest_with_nothing_valid(tmp_path):
    manifest = Path(tmp_path / "m.jsonl")
    manifest.write_text('{"broken\n')
    with pytest.raises(ManifestError, match="no valid utterance"):
        load_validated(manifest, cache_dir=tmp_path / "cache")
