"""espeak-ng in-process through ctypes, for machines without the Debian packages.

The `espeakng-loader` wheel (`pip install -e '.[espeak]'`) ships libespeak-ng and its data, so
espeak voices work where apt does not. Synchronous output: espeak_Synth returns once every
sample has gone through our callback. The library keeps global state, hence one instance per
process (each pool worker has its own).
"""

from __future__ import annotations

import ctypes
from pathlib import Path

import numpy as np

from fedasr.data.synth.engines import espeak_speed_and_pitch
from fedasr.data.synth.errors import EngineMissingError, SynthesisError
from fedasr.data.synth.plan import UtteranceSpec
from fedasr.errors import MissingExtraError

AUDIO_OUTPUT_SYNCHRONOUS = 2
INITIALIZE_DONT_EXIT = 0x8000  # report errors instead of calling exit()
ESPEAK_RATE, ESPEAK_PITCH = 1, 3
POS_CHARACTER, CHARS_UTF8 = 1, 1
EE_OK = 0

SYNTH_CALLBACK = ctypes.CFUNCTYPE(
    ctypes.c_int, ctypes.POINTER(ctypes.c_short), ctypes.c_int, ctypes.c_void_p
)


def load_espeak_library() -> tuple[ctypes.CDLL, str]:
    """The wheel's libespeak-ng and data directory; a clear error when it is not installed."""
    try:
        import espeakng_loader
    except ImportError as err:
        raise MissingExtraError(
            "espeak-ng without the Debian package", "espeak", "espeakng-loader"
        ) from err
    try:
        return ctypes.CDLL(espeakng_loader.get_library_path()), espeakng_loader.get_data_path()
    except (OSError, RuntimeError) as err:
        raise EngineMissingError(f"espeakng-loader is installed but unusable: {err}") from err


def library_version() -> str:
    library, _ = load_espeak_library()
    library.espeak_Info.restype = ctypes.c_char_p
    version = library.espeak_Info(None)
    return f"libespeak-ng {version.decode() if version else 'unknown'} (espeakng-loader)"


class EspeakLibrary:
    name = "espeak"

    def __init__(self) -> None:
        self._lib, data_path = load_espeak_library()
        self._chunks: list[np.ndarray] = []
        # Keep a reference: ctypes frees the trampoline if the Python object is collected.
        self._callback = SYNTH_CALLBACK(self._collect)
        rate = self._lib.espeak_Initialize(
            AUDIO_OUTPUT_SYNCHRONOUS, 0, data_path.encode(), INITIALIZE_DONT_EXIT
        )
        if rate <= 0:
            raise EngineMissingError(f"libespeak-ng failed to initialize with data {data_path}")
        self.sample_rate = int(rate)
        self._lib.espeak_SetSynthCallback(self._callback)
        self._lib.espeak_Synth.argtypes = [
            ctypes.c_char_p, ctypes.c_size_t, ctypes.c_uint, ctypes.c_int, ctypes.c_uint,
            ctypes.c_uint, ctypes.c_void_p, ctypes.c_void_p,
        ]  # fmt: skip

    def _collect(self, wav: ctypes._Pointer, count: int, _events: int) -> int:
        if count > 0 and wav:
            self._chunks.append(np.ctypeslib.as_array(wav, shape=(count,)).copy())
        return 0  # 0 = go on synthesizing

    def synthesize(self, spec: UtteranceSpec, workdir: Path) -> tuple[np.ndarray, int]:
        wpm, pitch = espeak_speed_and_pitch(spec)
        if self._lib.espeak_SetVoiceByName(spec.speaker.voice.encode()) != EE_OK:
            raise SynthesisError(f"libespeak-ng has no voice {spec.speaker.voice!r}")
        self._lib.espeak_SetParameter(ESPEAK_RATE, wpm, 0)
        self._lib.espeak_SetParameter(ESPEAK_PITCH, pitch, 0)
        self._chunks = []
        text = spec.text.encode()
        status = self._lib.espeak_Synth(
            text, len(text) + 1, 0, POS_CHARACTER, 0, CHARS_UTF8, None, None
        )
        if status != EE_OK or not self._chunks:
            raise SynthesisError(f"libespeak-ng failed on {spec.id} {spec.text!r} ({status})")
        samples = np.concatenate(self._chunks).astype(np.float32) / 32768.0
        return samples, self.sample_rate

    def close(self) -> None:
        self._lib.espeak_Terminate()
