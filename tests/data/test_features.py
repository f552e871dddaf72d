"""Log-mel features against kaldi-native-fbank, and the memory-mapped cache."""

from __future__ import annotations

import numpy as np
import pytest

from fedasr.data.audio import read_audio
from fedasr.data.feature_cache import load_or_build, open_store
from fedasr.data.features import FeatureConfig, log_mel, num_frames
from fedasr.data.manifest import audio_path, read_manifest

knf = pytest.importorskip("kaldi_native_fbank")

# Stated tolerance against the reference extractor (float32 FFT vs Kaldi's own FFT):
# the largest per-bin difference of log energies stays below 1e-3 on real speech.
TOLERANCE = 1e-3


def kaldi_fbank(samples: np.ndarray, config: FeatureConfig) -> np.ndarray:
    options = knf.FbankOptions()
    options.frame_opts.dither = 0.0
    options.frame_opts.samp_freq = config.sample_rate
    options.mel_opts.num_bins = config.n_mels
    fbank = knf.OnlineFbank(options)
    fbank.accept_waveform(config.sample_rate, samples.tolist())
    fbank.input_finished()
    return np.stack([fbank.get_frame(i) for i in range(fbank.num_frames_ready)])


def test_log_mel_matches_kaldi_native_fbank_on_real_speech(mini_corpus) -> None:  # type: ignore[no-untyped-def]
    manifest = mini_corpus / "train.jsonl"
    config = FeatureConfig()
    for utt in read_manifest(manifest)[:5]:
        samples, rate = read_audio(audio_path(manifest, utt))
        assert rate == config.sample_rate
        ours, reference = log_mel(samples, config).numpy(), kaldi_fbank(samples, config)
        assert ours.shape == reference.shape == (num_frames(len(samples), config), 80)
        assert np.abs(ours - reference).max() < TOLERANCE


def test_too_short_audio_gives_no_frames() -> None:
    assert log_mel(np.zeros(100, dtype=np.float32), FeatureConfig()).shape == (0, 80)


def test_cache_is_built_once_and_memory_mapped(mini_corpus, tmp_path) -> None:  # type: ignore[no-untyped-def]
    manifest = mini_corpus / "train.jsonl"
    store = load_or_build(manifest, cache_root=tmp_path, workers=1, progress=False)
    utts = read_manifest(manifest)
    assert store.ids == [u.id for u in utts]
    assert isinstance(store.feats, np.memmap) or isinstance(store.feats.base, np.memmap)
    samples, _ = read_audio(audio_path(manifest, utts[0]))
    direct = log_mel(samples, FeatureConfig()).numpy()
    assert np.abs(store.frames(0).astype(np.float32) - direct).max() < 0.02  # float16 storage
    built = sorted(p.name for p in (tmp_path / "features").iterdir())
    again = load_or_build(manifest, cache_root=tmp_path, workers=1, progress=False)
    assert (
        again.root == store.root
        and sorted(p.name for p in (tmp_path / "features").iterdir()) == built
    )
    mean, std = store.mean_std()
    assert mean.shape == std.shape == (80,) and (std > 0).all()


def test_editing_the_manifest_gives_a_new_cache_entry(mini_corpus, tmp_path) -> None:  # type: ignore[no-untyped-def]
    corpus = tmp_path / "copy"
    import shutil

    shutil.copytree(mini_corpus, corpus)
    first = load_or_build(corpus / "train.jsonl", cache_root=tmp_path, workers=1, progress=False)
    lines = (corpus / "train.jsonl").read_text().splitlines()
    (corpus / "train.jsonl").write_text("\n".join(lines[:-1]) + "\n")
    second = load_or_build(corpus / "train.jsonl", cache_root=tmp_path, workers=1, progress=False)
    assert second.root != first.root and len(second) == len(first) - 1


def test_a_bad_file_is_skipped_with_its_reason_not_fatal(mini_corpus, tmp_path) -> None:  # type: ignore[no-untyped-def]
    import shutil

    corpus = tmp_path / "broken"
    shutil.copytree(mini_corpus, corpus)
    utts = read_manifest(corpus / "train.jsonl")
    audio_path(corpus / "train.jsonl", utts[1]).write_bytes(b"not audio at all")
    store = load_or_build(corpus / "train.jsonl", cache_root=tmp_path, workers=2, progress=False)
    assert utts[1].id in store.skipped and utts[1].id not in store.ids
    assert len(store) == len(utts) - 1
    assert open_store(store.root).skipped == store.skipped
