"""One persistent festival process per worker: start-up (~1 s) costs 100x a diphone clip.

Commands go to `festival --pipe` on stdin; each is followed by `(print "TAG")`, and stdout is
read until TAG comes back, which tells us festival has finished it. stdbuf makes festival's
stdout line-buffered, else the tag would sit in its buffer. Every clip sets every parameter it
depends on, so a clip sounds the same whatever the process synthesized before it.
"""

from __future__ import annotations

import subprocess
import tempfile
from pathlib import Path
from typing import IO

import numpy as np

from fedasr.data.audio import read_audio
from fedasr.data.synth.engines import engine_tempo
from fedasr.data.synth.errors import INSTALL_HINT, EngineMissingError, SynthesisError
from fedasr.data.synth.plan import UtteranceSpec

# The diphone voices' own intonation model (kal_diphone.scm); we move only the target.
MODEL_F0_MEAN, MODEL_F0_STD = 170, 34
TARGET_F0_STD_RATIO = 0.14  # the voices ship target std 14-15 Hz for a 105 Hz mean


def scheme_string(text: str) -> str:
    """A Scheme string literal (texts are plain words, but quotes must never end it early)."""
    return '"' + text.replace("\\", "\\\\").replace('"', '\\"') + '"'


def voice_commands(spec: UtteranceSpec) -> list[str]:
    """The festival commands that set this clip's rate and pitch for its voice."""
    voice, tempo = spec.speaker.voice, engine_tempo(spec)
    commands = [f"(Parameter.set 'Duration_Stretch {1.0 / tempo:.4f})"]
    if voice.endswith("_hts"):
        # HTS ignores Duration_Stretch and the intonation targets; its own -r sets the rate.
        commands.append(
            f"(set! hts_engine_params (append {voice}::hts_engine_params"
            f' (list \'("-r" {tempo:.4f}))))'
        )
    elif spec.pitch is not None:
        std = spec.pitch * TARGET_F0_STD_RATIO
        commands.append(
            f"(set! int_lr_params '((target_f0_mean {spec.pitch:.2f}) (target_f0_std {std:.2f})"
            f" (model_f0_mean {MODEL_F0_MEAN}) (model_f0_std {MODEL_F0_STD})))"
        )
    return commands


class Festival:
    name = "festival"

    def __init__(self) -> None:
        # Closed in close(); kept open for the life of the process, so no `with`.
        self._stderr: IO[str] = tempfile.TemporaryFile("w+")  # noqa: SIM115
        self._process = subprocess.Popen(
            ["stdbuf", "-oL", "festival", "--pipe"],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=self._stderr,  # a file, not a pipe: an unread pipe could fill and block
            text=True,
        )
        self._voice: str | None = None
        self._tags = 0

    def synthesize(self, spec: UtteranceSpec, workdir: Path) -> tuple[np.ndarray, int]:
        wav = workdir / f"{spec.index}.wav"
        if spec.speaker.voice != self._voice:
            self._select_voice(spec.speaker.voice)
        utterance = f"(Utterance Text {scheme_string(spec.text)})"
        save = f"(utt.save.wave (utt.synth {utterance}) {scheme_string(str(wav))} 'riff)"
        self._send("\n".join([*voice_commands(spec), save]))
        if not wav.is_file():
            detail = self._stderr_tail()
            raise SynthesisError(
                f"festival (voice {spec.speaker.voice}) wrote no audio for {spec.id} "
                f"{spec.text!r}: {detail}"
            )
        samples, rate = read_audio(wav)
        wav.unlink()
        return samples, rate

    def _select_voice(self, voice: str) -> None:
        # A failed (voice_x) only prints to stderr and leaves the old voice active.
        printed = self._send(f"(voice_{voice})\n(print current-voice)")
        if not any(voice in line for line in printed):
            raise EngineMissingError(
                f"festival voice {voice!r} is not installed ({self._stderr_tail()}); "
                f"{INSTALL_HINT}, or leave festival out: --engines espeak,flite"
            )
        self._voice = voice

    def _send(self, commands: str) -> list[str]:
        """Send commands, wait until festival has run them, return what they printed."""
        self._tags += 1
        tag = f"fedasr-done-{self._tags}"
        stdin, stdout = self._process.stdin, self._process.stdout
        assert stdin is not None and stdout is not None
        try:
            stdin.write(f'{commands}\n(print "{tag}")\n')
            stdin.flush()
        except BrokenPipeError as err:
            raise SynthesisError(f"festival exited: {self._stderr_tail()}") from err
        printed: list[str] = []
        for line in stdout:
            if tag in line:
                return printed
            printed.append(line)
        raise SynthesisError(f"festival exited: {self._stderr_tail()}")

    def _stderr_tail(self) -> str:
        self._stderr.seek(0)
        lines = self._stderr.read().strip().splitlines()
        return " | ".join(lines[-3:]) or "no message"

    def close(self) -> None:
        if self._process.poll() is None:
            assert self._process.stdin is not None
            self._process.stdin.close()
            try:
                self._process.wait(timeout=5)
            except subprocess.TimeoutExpired:
                self._process.kill()
                self._process.wait()
        self._stderr.close()
