"""Text-to-speech engines behind one call: `synthesize(spec, workdir) -> (samples, rate)`.

espeak-ng, flite, mbrola (through espeak-ng) and pico2wave are cheap per-call subprocesses
(25-40 ms); festival keeps one process per worker (festival.py) because start-up dominates its
cost; espeak_lib.py drives libespeak-ng in-process for machines without the Debian packages.
"""

from __future__ import annotations

import subprocess
from pathlib import Path
from typing import Protocol

import numpy as np

from fedasr.data.audio import read_audio
from fedasr.data.synth.errors import SynthesisError
from fedasr.data.synth.plan import UtteranceSpec

ESPEAK_BASE_WPM = 175  # espeak-ng's default speed; tempo 1.0 maps to it
SUBPROCESS_TIMEOUT_S = 60


class Engine(Protocol):
    name: str

    def synthesize(self, spec: UtteranceSpec, workdir: Path) -> tuple[np.ndarray, int]: ...

    def close(self) -> None: ...


def engine_tempo(spec: UtteranceSpec) -> float:
    """The rate to ask of the engine: the shift applied afterwards speeds the clip up too."""
    return spec.tempo / spec.shift


def espeak_speed_and_pitch(spec: UtteranceSpec) -> tuple[int, int]:
    """espeak-ng's words per minute and 0-99 pitch for this clip."""
    wpm = int(np.clip(round(ESPEAK_BASE_WPM * engine_tempo(spec)), 80, 450))
    pitch = 50 if spec.pitch is None else int(np.clip(round(spec.pitch), 0, 99))
    return wpm, pitch


def run_engine(command: list[str], spec: UtteranceSpec, wav: Path) -> tuple[np.ndarray, int]:
    """Run one engine command that writes `wav`; a failure names engine, voice and text."""
    try:
        result = subprocess.run(
            command, capture_output=True, text=True, timeout=SUBPROCESS_TIMEOUT_S, check=False
        )
    except (OSError, subprocess.TimeoutExpired) as err:
        raise _clip_error(spec, str(err)) from err
    if result.returncode != 0 or not wav.is_file() or wav.stat().st_size <= 44:
        raise _clip_error(spec, (result.stderr or result.stdout).strip()[-500:])
    samples, rate = read_audio(wav)
    wav.unlink()
    return samples, rate


def _clip_error(spec: UtteranceSpec, detail: str) -> SynthesisError:
    speaker = spec.speaker
    return SynthesisError(
        f"{speaker.engine} (voice {speaker.voice}) failed on {spec.id} {spec.text!r}: {detail}"
    )


class EspeakBinary:
    """espeak-ng voices such as "en-us+f3"; also mbrola voices ("mb-us1") when installed."""

    def __init__(self, name: str = "espeak") -> None:
        self.name = name

    def synthesize(self, spec: UtteranceSpec, workdir: Path) -> tuple[np.ndarray, int]:
        wav = workdir / f"{spec.index}.wav"
        wpm, pitch = espeak_speed_and_pitch(spec)
        command = ["espeak-ng", "-v", spec.speaker.voice, "-s", str(wpm), "-p", str(pitch)]
        return run_engine([*command, "-w", str(wav), spec.text], spec, wav)

    def close(self) -> None:
        pass


class Flite:
    """flite's voices; duration_stretch sets the rate, int_f0_target_mean the pitch.

    flite falls back to its default voice without a word when asked for one it lacks, so
    checks.py compares the voices with `flite -lv` before any synthesis.
    """

    name = "flite"

    def synthesize(self, spec: UtteranceSpec, workdir: Path) -> tuple[np.ndarray, int]:
        wav = workdir / f"{spec.index}.wav"
        command = ["flite", "-voice", spec.speaker.voice, "-t", spec.text, "-o", str(wav)]
        command += ["--setf", f"duration_stretch={1.0 / engine_tempo(spec):.4f}"]
        if spec.pitch is not None:
            command += ["--setf", f"int_f0_target_mean={spec.pitch:.2f}"]
        return run_engine(command, spec, wav)

    def close(self) -> None:
        pass


class Pico:
    """pico2wave (SVOX Pico); rate and pitch through its inline markup, in percent."""

    name = "pico"

    def synthesize(self, spec: UtteranceSpec, workdir: Path) -> tuple[np.ndarray, int]:
        wav = workdir / f"{spec.index}.wav"  # pico2wave insists on a .wav name
        speed = round(100 * engine_tempo(spec))
        pitch = round(spec.pitch or 100)
        markup = f"<speed level='{speed}'><pitch level='{pitch}'>{spec.text}</pitch></speed>"
        command = ["pico2wave", "-l", spec.speaker.voice, "-w", str(wav), markup]
        return run_engine(command, spec, wav)

    def close(self) -> None:
        pass
