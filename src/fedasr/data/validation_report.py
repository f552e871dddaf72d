"""The validator's verdict: problems (rejected lines), notes (accepted with a remark), counts."""

from __future__ import annotations

from collections import Counter
from dataclasses import asdict, dataclass, field
from typing import Any

from fedasr.data.manifest import Utterance
from fedasr.errors import ManifestError

# Every kind the validator can report, with what it means (shown in the CLI summary and docs).
PROBLEM_KINDS: dict[str, str] = {
    "malformed-json": "the line is not valid JSON",
    "bad-field": "a required field is missing, unknown or has the wrong type",
    "duplicate-id": "the id was already used on an earlier line",
    "missing-audio": "the audio file does not exist",
    "corrupt-audio": "the audio file cannot be decoded to the end",
    "empty-audio": "the audio file or segment holds no samples",
    "segment-past-end": "offset + duration runs past the end of the audio file",
    "duration-mismatch": "the manifest duration disagrees with the audio file",
    "sample-rate": "the file's rate differs from the manifest's or the expected rate",
    "empty-transcript": "the transcript is empty (use null for untranscribed audio)",
    "unsupported-chars": "the transcript has characters outside the tokenizer",
}
NOTE_KINDS: dict[str, str] = {"resampled": "accepted; resampled to the expected rate at load"}


@dataclass(frozen=True)
class Problem:
    """One finding about one manifest line."""

    path: str
    line: int
    utt_id: str | None
    kind: str
    reason: str

    def __str__(self) -> str:
        return f"{self.path}:{self.line}: [{self.kind}] {self.reason}"


@dataclass
class ValidationReport:
    """The verdict on one manifest: good utterances, problems (rejects) and notes (accepted)."""

    manifest: str
    lines: int
    utterances: list[Utterance]
    problems: list[Problem]
    notes: list[Problem] = field(default_factory=list)
    from_cache: bool = False

    @property
    def ok(self) -> bool:
        return not self.problems

    def counts(self) -> Counter[str]:
        return Counter(problem.kind for problem in self.problems)

    def note_counts(self) -> Counter[str]:
        return Counter(note.kind for note in self.notes)

    def bad_lines(self) -> list[int]:
        return sorted({problem.line for problem in self.problems})

    def summary(self) -> str:
        skipped = self.lines - len(self.utterances)
        kinds = ", ".join(f"{n} {kind}" for kind, n in sorted(self.counts().items()))
        text = f"{self.manifest}: {len(self.utterances)} of {self.lines} utterances valid"
        return text + (f"; {skipped} rejected ({kinds})" if skipped else "")


def report_to_dict(report: ValidationReport) -> dict[str, Any]:
    """The verdict without the utterances: a line is good iff it parsed and has no problem."""
    return {
        "manifest": report.manifest,
        "lines": report.lines,
        "problems": [asdict(p) for p in report.problems],
        "notes": [asdict(n) for n in report.notes],
    }


def report_from_dict(
    record: dict[str, Any], parsed: list[tuple[int, Utterance | ManifestError]]
) -> ValidationReport:
    problems = [Problem(**p) for p in record["problems"]]
    bad_lines = {problem.line for problem in problems}
    good = [item for line, item in parsed if isinstance(item, Utterance) and line not in bad_lines]
    return ValidationReport(
        manifest=record["manifest"],
        lines=record["lines"],
        utterances=good,
        problems=problems,
        notes=[Problem(**n) for n in record["notes"]],
        from_cache=True,
    )
