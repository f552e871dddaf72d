"""What a pool worker runs: synthesize one planned clip, render it, write its FLAC.

Engines are created lazily, once per worker process, and reused for every clip it gets (this is
what makes festival cheap). The main process runs the same code when --workers is 1.
"""

from __future__ import annotations

import shutil
import tempfile
from collections.abc import Callable
from dataclasses import dataclass
from multiprocessing.util import Finalize
from pathlib import Path

from fedasr.data.audio import write_flac
from fedasr.data.synth.engines import Engine, EspeakBinary, Flite, Pico
from fedasr.data.synth.plan import UtteranceSpec
from fedasr.data.synth.render import SAMPLE_RATE, render


@dataclass(frozen=True)
class ClipResult:
    index: int
    frames: int


class EngineSet:
    """The engines of one process, created on first use, closed together."""

    def __init__(self, espeak_backend: str) -> None:
        self.espeak_backend = espeak_backend
        self.engines: dict[str, Engine] = {}
        self.workdir = Path(tempfile.mkdtemp(prefix="fedasr-synth-"))

    def get(self, name: str) -> Engine:
        if name not in self.engines:
            self.engines[name] = self._create(name)
        return self.engines[name]

    def _create(self, name: str) -> Engine:
        if name == "espeak" and self.espeak_backend == "lib":
            from fedasr.data.synth.espeak_lib import EspeakLibrary

            return EspeakLibrary()
        if name == "festival":
            from fedasr.data.synth.festival import Festival

            return Festival()
        factories: dict[str, Callable[[], Engine]] = {
            "espeak": EspeakBinary,
            "mbrola": lambda: EspeakBinary("mbrola"),
            "flite": Flite,
            "pico": Pico,
        }
        return factories[name]()

    def close(self) -> None:
        for engine in self.engines.values():
            engine.close()
        self.engines.clear()
        shutil.rmtree(self.workdir, ignore_errors=True)


_engines: EngineSet | None = None
_out_dir: Path | None = None


def init_worker(out_dir: str, espeak_backend: str) -> None:
    """Pool initializer (also called in-process for --workers 1)."""
    global _engines, _out_dir
    _engines, _out_dir = EngineSet(espeak_backend), Path(out_dir)
    # Runs when a pool worker exits normally: ends festival, removes the scratch directory.
    Finalize(None, close_worker, exitpriority=10)


def close_worker() -> None:
    global _engines
    if _engines is not None:
        _engines.close()
        _engines = None


def synthesize_clip(spec: UtteranceSpec) -> ClipResult:
    assert _engines is not None and _out_dir is not None, "init_worker was not called"
    samples, rate = _engines.get(spec.speaker.engine).synthesize(spec, _engines.workdir)
    clip = render(samples, rate, spec)
    write_flac(_out_dir / clip_path(spec), clip, SAMPLE_RATE)
    return ClipResult(spec.index, len(clip))


def clip_path(spec: UtteranceSpec) -> str:
    """The clip's path relative to the corpus directory (and to its manifests)."""
    return f"audio/{spec.speaker.id}/{spec.id}.flac"
