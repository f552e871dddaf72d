"""Before synthesis: are the requested engines and voices installed, and which versions?

Checked up front so a missing engine fails in a second with the fix, not minutes into a build.
"""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

from fedasr.data.synth.errors import INSTALL_HINT, EngineMissingError
from fedasr.data.synth.speakers import DEFAULT_ENGINES, EXTRA_ENGINES, Speaker
from fedasr.errors import ConfigError

ESPEAK_BACKENDS = ("auto", "binary", "lib")
FESTIVAL_VOICE_DIRS = (
    "/usr/share/festival/voices", "/usr/lib/festival/voices", "/usr/local/share/festival/voices",
)  # fmt: skip
MBROLA_DIRS = ("/usr/share/mbrola", "/usr/local/share/mbrola")
EXTRA_HINT = (
    "the opt-in voices need Debian contrib/non-free: enable them in your apt sources, then "
    "`FEDASR_EXTRA_VOICES=1 bash scripts/install-system-deps.sh` (their voice licences forbid "
    "commercial use)"
)


def parse_engines(text: str, extra_voices: bool) -> tuple[str, ...]:
    """--engines as a tuple in table order; --extra-voices adds mbrola and pico."""
    names = [name.strip() for name in text.split(",") if name.strip()]
    allowed = DEFAULT_ENGINES + EXTRA_ENGINES
    unknown = [name for name in names if name not in allowed]
    if unknown or not names:
        raise ConfigError(f"--engines: got {text!r}; allowed: {', '.join(allowed)}")
    if extra_voices:
        names += list(EXTRA_ENGINES)
    return tuple(name for name in allowed if name in names)


def resolve_espeak_backend(requested: str) -> str:
    """auto: the espeak-ng program if present, else the espeakng-loader wheel."""
    if requested not in ESPEAK_BACKENDS:
        raise ConfigError(f"--espeak-backend: got {requested!r}; allowed: {ESPEAK_BACKENDS}")
    if requested != "auto":
        return requested
    if shutil.which("espeak-ng"):
        return "binary"
    try:
        import espeakng_loader  # noqa: F401
    except ImportError:
        return "binary"  # check_engines then names both fixes
    return "lib"


def check_engines(speakers: list[Speaker], espeak_backend: str) -> None:
    """Raise EngineMissingError naming the first missing engine or voice and its fix."""
    engines = {speaker.engine for speaker in speakers}
    if "espeak" in engines:
        _check_espeak(espeak_backend)
    if "flite" in engines:
        _require_program("flite", "flite")
        _check_flite_voices({s.voice for s in speakers if s.engine == "flite"})
    if "festival" in engines:
        _require_program("festival", "festival")
        _require_program("stdbuf", "festival (stdbuf, from coreutils)")
        _check_festival_voices({s.voice for s in speakers if s.engine == "festival"})
    if "mbrola" in engines:
        _check_mbrola({s.voice for s in speakers if s.engine == "mbrola"})
    if "pico" in engines and not shutil.which("pico2wave"):
        raise EngineMissingError(f"engine pico: pico2wave is not installed; {EXTRA_HINT}")


def _check_espeak(backend: str) -> None:
    if backend == "lib":
        from fedasr.data.synth.espeak_lib import load_espeak_library

        load_espeak_library()
    elif not shutil.which("espeak-ng"):
        raise EngineMissingError(
            f"engine espeak: the espeak-ng program is not installed; {INSTALL_HINT}, "
            "or without apt: pip install -e '.[espeak]' (then --espeak-backend lib)"
        )


def _require_program(program: str, engine: str) -> None:
    if not shutil.which(program):
        others = ",".join(e for e in DEFAULT_ENGINES if e != engine.split()[0])
        raise EngineMissingError(
            f"engine {engine}: `{program}` is not installed; {INSTALL_HINT}, "
            f"or leave it out: --engines {others}"
        )


def _check_flite_voices(voices: set[str]) -> None:
    listed = _output(["flite", "-lv"]).split()
    missing = sorted(voices - set(listed))
    if missing:
        raise EngineMissingError(f"flite has no voice(s) {', '.join(missing)}; {INSTALL_HINT}")


def _check_festival_voices(voices: set[str]) -> None:
    installed = {
        path.name
        for root in FESTIVAL_VOICE_DIRS
        for path in Path(root).glob("*/*")
        if path.is_dir()
    }
    missing = sorted(voices - installed)
    if missing:
        # Not in the usual places: ask festival itself before giving up (non-Debian layouts).
        listed = _output(["festival", "-b", "(print (voice.list))"])
        missing = [voice for voice in missing if voice not in listed]
    if missing:
        raise EngineMissingError(
            f"festival has no voice(s) {', '.join(missing)} (packages festvox-kallpc16k, "
            f"festvox-kdlpc16k, festvox-us-slt-hts); {INSTALL_HINT}"
        )


def _check_mbrola(voices: set[str]) -> None:
    if not shutil.which("espeak-ng") or not shutil.which("mbrola"):
        raise EngineMissingError(f"engine mbrola: espeak-ng and mbrola are needed; {EXTRA_HINT}")
    for voice in sorted(voices):
        name = voice.removeprefix("mb-")
        if not any((Path(root) / name).exists() for root in MBROLA_DIRS):
            raise EngineMissingError(f"mbrola voice {name} is not installed; {EXTRA_HINT}")


def _output(command: list[str]) -> str:
    try:
        result = subprocess.run(command, capture_output=True, text=True, timeout=30, check=False)
    except (OSError, subprocess.TimeoutExpired):
        return ""
    return result.stdout + result.stderr


def engine_versions(engines: tuple[str, ...], espeak_backend: str) -> dict[str, str]:
    """One line per engine for corpus.json, so a corpus says what produced it."""
    versions: dict[str, str] = {}
    for engine in engines:
        if engine == "espeak" and espeak_backend == "lib":
            from fedasr.data.synth.espeak_lib import library_version

            versions[engine] = library_version()
        elif engine in ("espeak", "mbrola"):
            versions[engine] = _first_line(_output(["espeak-ng", "--version"]))
        elif engine == "flite":
            versions[engine] = _first_line(_output(["flite", "--version"]), "version")
        elif engine == "festival":
            versions[engine] = _first_line(_output(["festival", "--version"]))
        else:
            versions[engine] = "pico2wave (version not reported)"
    return versions


def _first_line(text: str, containing: str = "") -> str:
    lines = [line.strip() for line in text.splitlines() if containing in line and line.strip()]
    return lines[0] if lines else "unknown"
