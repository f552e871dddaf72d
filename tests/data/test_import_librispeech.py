"""LibriSpeech layout -> manifest: ids, speakers, chapters, texts, audio referenced in place."""

from __future__ import annotations

import pytest
from helpers import (
    assert_references_in_place,
    assert_same_samples,
    build_librispeech,
    files_under,
    source_clips,
)

from fedasr.data.importers import CorpusImportError, import_librispeech
from fedasr.data.manifest import read_manifest
from fedasr.data.text import normalize_text
from fedasr.data.validate import validate_manifest


@pytest.fixture(scope="module")
def clips():
    return source_clips(6)


def test_imports_every_utterance_in_place(tmp_path, clips):
    split = tmp_path / "LibriSpeech" / "dev-mini"
    originals = build_librispeech(split, clips)
    audio_before = files_under(tmp_path / "LibriSpeech")
    result = import_librispeech(split, tmp_path / "out")

    assert result.manifest == tmp_path / "out" / "dev-mini.jsonl"
    utts = read_manifest(result.manifest)
    assert [u.id for u in utts] == sorted(originals)
    for utt in utts:
        clip, audio = originals[utt.id]
        assert utt.speaker == audio.parent.parent.name
        assert utt.meta == {"chapter": audio.parent.name}
        assert utt.text == normalize_text(clip.text) and utt.text.islower()
        assert utt.sample_rate == 16000 and utt.offset == 0.0 and utt.language == "en"
        assert utt.duration == pytest.approx(clip.seconds, abs=1e-6)
        assert_references_in_place(result.manifest, utt, audio)
        assert_same_samples(result.manifest, utt, clip)
    assert files_under(tmp_path / "LibriSpeech") == audio_before
    assert files_under(tmp_path / "out") == {result.manifest, result.skipped_list}
    assert validate_manifest(result.manifest).ok


def test_skips_are_reported_with_their_place(tmp_path, clips):
    split = tmp_path / "dev-mini"
    build_librispeech(split, clips)
    result = import_librispeech(split, tmp_path / "out", name="custom")
    assert result.manifest.name == "custom.jsonl"
    assert result.skipped_counts() == {"missing-audio": 1, "no-transcript": 1}
    first_trans = sorted(split.glob("*/*/*.trans.txt"))[0]
    last_line = len(first_trans.read_text().splitlines())
    gone = next(s for s in result.skipped if s.kind == "missing-audio")
    assert gone.where == f"{first_trans}:{last_line}"
    assert "19-100-9999" in gone.reason
    orphan = next(s for s in result.skipped if s.kind == "no-transcript")
    assert orphan.where == str(first_trans.parent / "19-100-8888.flac")
    listed = result.skipped_list.read_text().splitlines()  # type: ignore[union-attr]
    assert listed == [str(skip) for skip in result.skipped]


def test_the_tree_can_move_with_its_manifest(tmp_path, clips):
    tree = tmp_path / "tree"
    build_librispeech(tree / "corpus" / "dev-mini", clips)
    result = import_librispeech(tree / "corpus" / "dev-mini", tree / "manifests")
    tree.rename(tmp_path / "moved")
    assert validate_manifest(tmp_path / "moved" / "manifests" / result.manifest.name).ok


def test_wrong_directory_is_a_clear_error(tmp_path, clips):
    build_librispeech(tmp_path / "LibriSpeech" / "dev-mini", clips)
    with pytest.raises(CorpusImportError, match="pass one") as err:
        import_librispeech(tmp_path / "LibriSpeech", tmp_path / "out")
    assert "dev-mini" in str(err.value)
    with pytest.raises(CorpusImportError, match="not a directory"):
        import_librispeech(tmp_path / "nope", tmp_path / "out")
