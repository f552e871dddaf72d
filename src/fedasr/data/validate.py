"""Check every line of a manifest and report every problem, with `file:line` and a reason.

The validator never stops at the first error: a user fixing a corpus wants the whole list at
once. `validate_manifest` is the full check; `load_validated` (what training calls) keeps only
the good utterances, says what it skipped, and caches the verdict so a second run does not
decode every file again.
"""

from __future__ import annotations

import logging
import math
from collections import Counter
from collections.abc import Iterable
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Literal

from fedasr.data.audio_check import AudioFacts, inspect_many
from fedasr.data.manifest import Utterance, audio_path, iter_manifest_lines
from fedasr.data.text import normalize_text
from fedasr.data.tokenizer import CharTokenizer, Tokenizer
from fedasr.data.validation_cache import (
    cache_file,
    load_verdict,
    save_verdict,
    tokenizer_fingerprint,
    verdict_key,
)
from fedasr.data.validation_report import (
    NOTE_KINDS,
    PROBLEM_KINDS,
    Problem,
    ValidationReport,
    report_from_dict,
    report_to_dict,
)
from fedasr.errors import ConfigError, ManifestError

__all__ = [
    "NOTE_KINDS",
    "PROBLEM_KINDS",
    "Problem",
    "ValidationReport",
    "load_validated",
    "validate_manifest",
]
log = logging.getLogger(__name__)

RateMismatchPolicy = Literal["reject", "resample"]
RATE_POLICIES: tuple[str, ...] = ("reject", "resample")
DURATION_TOLERANCE = 0.05  # seconds; covers codec padding and rounding of `duration`
SHOWN_IN_LOG = 5  # problems spelled out when training skips lines; the CLI shows them all


@dataclass(frozen=True)
class ValidationOptions:
    """Everything besides the files that changes a verdict (part of the cache key)."""

    sample_rate: int = 16000
    on_rate_mismatch: RateMismatchPolicy = "reject"
    duration_tolerance: float = DURATION_TOLERANCE

    def __post_init__(self) -> None:
        if self.on_rate_mismatch not in RATE_POLICIES:
            raise ConfigError(
                f"on_rate_mismatch: got {self.on_rate_mismatch!r}; allowed: 'reject', 'resample'"
            )
        if self.sample_rate <= 0:
            raise ConfigError(f"sample_rate: got {self.sample_rate}; must be a positive integer")


def validate_manifest(
    path: str | Path,
    *,
    tokenizer: Tokenizer | None = None,
    sample_rate: int = 16000,
    on_rate_mismatch: RateMismatchPolicy = "reject",
    duration_tolerance: float = DURATION_TOLERANCE,
    workers: int | None = None,
) -> ValidationReport:
    """Check every line of `path`, decoding every audio file (in parallel threads)."""
    options = ValidationOptions(sample_rate, on_rate_mismatch, duration_tolerance)
    parsed = parse_manifest_lines(path)
    return _validate_parsed(str(path), parsed, tokenizer or CharTokenizer(), options, workers)


def load_validated(
    path: str | Path,
    *,
    tokenizer: Tokenizer | None = None,
    sample_rate: int = 16000,
    on_rate_mismatch: RateMismatchPolicy = "reject",
    duration_tolerance: float = DURATION_TOLERANCE,
    workers: int | None = None,
    cache_dir: str | Path | None = None,
    use_cache: bool = True,
) -> tuple[list[Utterance], ValidationReport]:
    """The valid utterances of `path` (what training reads) and the verdict.

    Skipped lines are logged (count per kind, the first few lines). The verdict is cached
    (see validation_cache) and reused while the manifest, its audio files and the options are
    unchanged. A manifest with no valid utterance at all raises ManifestError.
    """
    options = ValidationOptions(sample_rate, on_rate_mismatch, duration_tolerance)
    tokenizer = tokenizer or CharTokenizer()
    parsed = parse_manifest_lines(path)
    cached = _cache_location(path, parsed, tokenizer, options, cache_dir) if use_cache else None
    record = load_verdict(cached) if cached is not None else None
    if record is not None:
        report = report_from_dict(record, parsed)
    else:
        report = _validate_parsed(str(path), parsed, tokenizer, options, workers)
        if cached is not None:
            save_verdict(cached, report_to_dict(report))
    _log_verdict(report, cached)
    if not report.utterances:
        raise ManifestError(path, 0, f"no valid utterance. {report.summary()}")
    return report.utterances, report


def _validate_parsed(
    manifest: str,
    parsed: list[tuple[int, Utterance | ManifestError]],
    tokenizer: Tokenizer,
    options: ValidationOptions,
    workers: int | None,
) -> ValidationReport:
    files = _audio_files(manifest, parsed)
    facts = inspect_many(files.values(), workers=workers)
    checker = _LineChecker(manifest, tokenizer, options, facts, files)
    for line, item in parsed:
        checker.check(line, item)
    return checker.report(total=len(parsed))


def _audio_files(
    manifest: str | Path, parsed: list[tuple[int, Utterance | ManifestError]]
) -> dict[int, str]:
    """The resolved audio path of every line that parsed, by line number."""
    return {
        line: str(audio_path(manifest, item))
        for line, item in parsed
        if isinstance(item, Utterance)
    }


def _cache_location(
    manifest: str | Path,
    parsed: list[tuple[int, Utterance | ManifestError]],
    tokenizer: Tokenizer,
    options: ValidationOptions,
    cache_dir: str | Path | None,
) -> Path | None:
    fingerprint = tokenizer_fingerprint(tokenizer)
    if fingerprint is None:  # an unknown tokenizer could change under us: never cache
        return None
    settings = f"{asdict(options)}|{fingerprint}"
    key = verdict_key(Path(manifest), _audio_files(manifest, parsed).values(), settings)
    return cache_file(cache_dir, key)


def _log_verdict(report: ValidationReport, cached: Path | None) -> None:
    if report.from_cache:
        log.info("%s: reusing the validation verdict cached in %s", report.manifest, cached)
    if report.problems:
        log.warning("%s", report.summary())
        for problem in report.problems[:SHOWN_IN_LOG]:
            log.warning("  %s", problem)
        if len(report.problems) > SHOWN_IN_LOG:
            more = len(report.problems) - SHOWN_IN_LOG
            log.warning(
                "  ... and %d more; `fedasr data validate %s` lists them all",
                more,
                report.manifest,
            )
    resampled = report.note_counts().get("resampled", 0)
    if resampled:
        log.info("%s: %d utterances are resampled at load", report.manifest, resampled)


def parse_manifest_lines(path: str | Path) -> list[tuple[int, Utterance | ManifestError]]:
    """All lines, parsed; a missing or non-UTF-8 manifest is an error naming the file."""
    path = Path(path)
    if not path.is_file():
        raise ManifestError(path, 0, "manifest file does not exist")
    try:
        return list(iter_manifest_lines(path))
    except UnicodeDecodeError as err:
        raw = path.read_bytes()
        line = raw.count(b"\n", 0, _first_bad_utf8_byte(raw)) + 1
        raise ManifestError(path, line, f"not UTF-8 text ({err.reason})") from err


def _first_bad_utf8_byte(raw: bytes) -> int:
    try:
        raw.decode("utf-8")
    except UnicodeDecodeError as err:
        return err.start
    return len(raw)


class _LineChecker:
    """Applies every per-line check and collects problems; one instance per validation."""

    def __init__(
        self,
        manifest: str,
        tokenizer: Tokenizer,
        options: ValidationOptions,
        facts: dict[str, AudioFacts],
        files: dict[int, str],
    ) -> None:
        self.manifest, self.tokenizer, self.options = manifest, tokenizer, options
        self.facts, self.files = facts, files
        self.users_of_file = Counter(files.values())
        self.first_line_of_id: dict[str, int] = {}
        self.problems: list[Problem] = []
        self.notes: list[Problem] = []
        self.good: list[Utterance] = []

    def check(self, line: int, item: Utterance | ManifestError) -> None:
        if isinstance(item, ManifestError):
            kind = "malformed-json" if item.reason.startswith("malformed JSON") else "bad-field"
            self.problems.append(Problem(self.manifest, line, None, kind, item.reason))
            return
        found = [
            *self._identity(line, item),
            *self._audio(line, item),
            *self._transcript(item),
        ]
        self.problems.extend(Problem(self.manifest, line, item.id, k, r) for k, r in found)
        if not found:
            self.good.append(item)

    def report(self, total: int) -> ValidationReport:
        return ValidationReport(self.manifest, total, self.good, self.problems, self.notes)

    def _identity(self, line: int, utt: Utterance) -> Iterable[tuple[str, str]]:
        first = self.first_line_of_id.setdefault(utt.id, line)
        if first != line:
            yield "duplicate-id", f"id {utt.id!r} already used on line {first}"

    def _audio(self, line: int, utt: Utterance) -> Iterable[tuple[str, str]]:
        path = self.files[line]
        facts = self.facts[path]
        if facts.missing:
            yield "missing-audio", f"audio file not found: {path}"
        elif facts.error is not None:
            yield "corrupt-audio", f"cannot decode {path}: {facts.error}"
        elif facts.frames == 0:
            yield "empty-audio", f"audio file has no samples: {path}"
        else:
            yield from self._sample_rate(line, utt, facts)
            yield from self._extent(line, utt, facts, path)

    def _sample_rate(
        self, line: int, utt: Utterance, facts: AudioFacts
    ) -> Iterable[tuple[str, str]]:
        expected = self.options.sample_rate
        if facts.sample_rate != utt.sample_rate:
            reason = f"file is {facts.sample_rate} Hz but the manifest says {utt.sample_rate} Hz"
        elif facts.sample_rate != expected:
            reason = f"file is {facts.sample_rate} Hz, expected {expected} Hz"
        else:
            return
        if self.options.on_rate_mismatch == "reject":
            yield "sample-rate", reason + " (accept it with --on-rate-mismatch resample)"
        else:
            self.notes.append(Problem(self.manifest, line, utt.id, "resampled", reason))

    def _extent(
        self, line: int, utt: Utterance, facts: AudioFacts, path: str
    ) -> Iterable[tuple[str, str]]:
        tolerance, real = self.options.duration_tolerance, facts.seconds
        if not (math.isfinite(utt.offset) and math.isfinite(utt.duration)):
            yield "bad-field", f"offset and duration must be finite: {utt.offset}, {utt.duration}"
            return  # JSON's NaN would slip through every comparison below
        if utt.offset < 0:
            yield "bad-field", f"offset is negative: {utt.offset}"
        if utt.duration <= 0:
            yield "empty-audio", f"duration is {utt.duration} s: the segment holds no samples"
            return
        end = utt.offset + utt.duration
        if self._is_segment(line, utt):
            if end > real + tolerance:
                where = f"offset {utt.offset:.3f} + duration {utt.duration:.3f}"
                reason = f"segment ends at {end:.3f} s ({where}) but {path} is {real:.3f} s long"
                yield "segment-past-end", reason
        elif abs(utt.duration - real) > tolerance:
            reason = f"manifest says {utt.duration:.3f} s but {path} is {real:.3f} s long"
            hint = (
                "; a cut of a longer recording needs meta.segment: true"
                if utt.duration < real
                else ""
            )
            yield "duration-mismatch", f"{reason} (tolerance {tolerance} s){hint}"

    def _is_segment(self, line: int, utt: Utterance) -> bool:
        # A whole-file utterance must match its file's length; a cut of a longer recording
        # only has to fit inside it. Lines sharing a file, a non-zero offset, or an importer's
        # explicit `meta.segment` mark a cut.
        shared = self.users_of_file[self.files[line]] > 1
        return utt.offset > 0 or shared or bool(utt.meta.get("segment"))

    def _transcript(self, utt: Utterance) -> Iterable[tuple[str, str]]:
        if utt.text is None:  # untranscribed audio is allowed (semi-supervised clients)
            return
        if not utt.text.strip():
            yield "empty-transcript", "transcript is empty (use null for untranscribed audio)"
            return
        if not normalize_text(utt.text):
            yield "empty-transcript", f"no words left after normalization: {utt.text!r}"
            return
        bad = sorted(self.tokenizer.unsupported_chars(utt.text))
        if bad:
            listed = " ".join(repr(ch) for ch in bad)
            kind = getattr(self.tokenizer, "kind", "the")
            yield "unsupported-chars", f"characters outside the {kind} tokenizer: {listed}"
