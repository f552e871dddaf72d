"""Synthesis with the Debian engines espeak-ng, flite and festival (`make test` installs them)."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf
from typer.testing import CliRunner

from fedasr.cli import app
from fedasr.data.manifest import audio_path, read_manifest
from fedasr.data.synth.corpus import SPLITS, SynthConfig, build_corpus
from fedasr.data.synth.errors import EngineMissingError
from fedasr.data.synth.grammar import number_words

pytestmark = pytest.mark.integration
ENGINES = ("espeak", "flite", "festival")
needs_engines = pytest.mark.skipif(
    not all(shutil.which(p) for p in ("espeak-ng", "flite", "festival")),
    reason="Debian TTS engines not installed (bash scripts/install-system-deps.sh)",
)


def _build(out: Path, workers: int, **options: object) -> Path:
    build_corpus(SynthConfig(out=out, size="fixture", seed=7, workers=workers, **options))  # type: ignore[arg-type]
    return out


@pytest.fixture(scope="module")
def corpus(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return _build(tmp_path_factory.mktemp("synth") / "one_worker", workers=1)


@needs_engines
def test_clips_are_16k_mono_flac_matching_the_manifest(corpus: Path) -> None:
    engines_seen = set()
    for split in SPLITS:
        manifest = corpus / f"{split}.jsonl"
        utterances = read_manifest(manifest)
        assert utterances, split
        for utt in utterances:
            info = sf.info(str(audio_path(manifest, utt)))
            assert (info.format, info.subtype) == ("FLAC", "PCM_16")
            assert (info.samplerate, info.channels, utt.sample_rate) == (16000, 1, 16000)
            assert info.frames == round(utt.duration * 16000)
            samples, _ = sf.read(str(audio_path(manifest, utt)), dtype="float32")
            assert np.max(np.abs(samples)) > 0.05, f"{utt.id} is (nearly) silent"
            assert 0.4 < utt.duration < 6.0
            assert utt.meta["engine"] in ENGINES and utt.meta["voice"] and utt.language == "en"
            engines_seen.add(utt.meta["engine"])
    assert engines_seen == set(ENGINES)
    info = json.loads((corpus / "corpus.json").read_text())
    assert info["seed"] == 7 and set(info["engine_versions"]) == set(ENGINES)
    assert info["counts"]["train"]["utterances"] == len(read_manifest(corpus / "train.jsonl"))


@needs_engines
def test_same_seed_same_bytes_whatever_the_workers(corpus: Path, tmp_path: Path) -> None:
    other = _build(tmp_path / "three_workers", workers=3)
    for split in SPLITS:
        name = f"{split}.jsonl"
        assert (corpus / name).read_bytes() == (other / name).read_bytes()
    clips = sorted(p.relative_to(corpus) for p in corpus.glob("audio/*/*.flac"))
    assert clips == sorted(p.relative_to(other) for p in other.glob("audio/*/*.flac"))
    for clip in clips:
        assert (corpus / clip).read_bytes() == (other / clip).read_bytes(), clip


@needs_engines
def test_cli_builds_digits_with_one_engine(tmp_path: Path) -> None:
    out = tmp_path / "digits"
    args = ["data", "synth", "--out", str(out), "--size", "fixture", "--vocab", "digits"]
    result = CliRunner().invoke(app, [*args, "--engines", "flite", "--no-noise", "--workers", "2"])
    assert result.exit_code == 0, result.output
    assert "flite" in result.output and "heldout" in result.output
    texts = [u.text for u in read_manifest(out / "train.jsonl")]
    digits = {number_words(d) for d in range(10)}
    assert texts and all(set(text.split()) <= digits for text in texts)
    before = (out / "train.jsonl").read_bytes()
    (out / "notes.txt").write_text("mine")
    # a corpus is never replaced unless asked; asked, only the corpus's own files are
    rerun = CliRunner().invoke(app, [*args, "--engines", "flite", "--workers", "1"])
    assert rerun.exit_code == 2 and "--overwrite" in rerun.output
    assert (out / "train.jsonl").read_bytes() == before
    rerun = CliRunner().invoke(app, [*args, "--engines", "flite", "--workers", "1", "--overwrite"])
    assert rerun.exit_code == 0, rerun.output
    assert (out / "notes.txt").read_text() == "mine" and (out / "corpus.json").is_file()
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(".")]  # no temporaries left


def test_missing_engine_names_the_fix(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PATH", str(tmp_path))  # no engine programs at all
    with pytest.raises(EngineMissingError, match=r"flite.*install-system-deps\.sh"):
        _build(tmp_path / "out", workers=1, engines=("flite",))
    result = CliRunner().invoke(
        app, ["data", "synth", "--out", str(tmp_path / "o"), "--engines", "festival"]
    )
    assert result.exit_code == 2 and "festival" in result.output


def test_extra_voices_fail_clearly_when_absent(tmp_path: Path) -> None:
    if shutil.which("pico2wave") and shutil.which("mbrola"):
        pytest.skip("extra voices are installed here")
    with pytest.raises(EngineMissingError, match="contrib/non-free"):
        _build(tmp_path / "out", workers=1, engines=("espeak", "mbrola", "pico"))


def test_refuses_to_clear_a_directory_that_is_not_a_corpus(tmp_path: Path) -> None:
    (tmp_path / "notes.txt").write_text("keep me")
    with pytest.raises(Exception, match="not empty"):
        _build(tmp_path, workers=1, engines=("flite",))
    assert (tmp_path / "notes.txt").exists()


def test_espeak_library_backend(tmp_path: Path) -> None:
    pytest.importorskip("espeakng_loader")
    out = _build(tmp_path / "lib", workers=1, engines=("espeak",), espeak_backend="lib")
    utterances = read_manifest(out / "train.jsonl")
    assert utterances and all(u.meta["engine"] == "espeak" for u in utterances)
    samples, rate = sf.read(str(audio_path(out / "train.jsonl", utterances[0])))
    assert rate == 16000 and np.max(np.abs(samples)) > 0.05
    assert json.loads((out / "corpus.json").read_text())["espeak_backend"] == "lib"
