"""Validation speed: full decode check with 1..N threads, then the cached verdict.

    python -m benchmarks.bench_validate MANIFEST [--workers 1 2 4]

Prints seconds, utterances/s and x real time (audio seconds checked per wall second).
"""

from __future__ import annotations

import argparse
import tempfile
import time

from fedasr.data.validate import load_validated, validate_manifest


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("manifest")
    parser.add_argument("--workers", type=int, nargs="+", default=[1, 2])
    args = parser.parse_args()
    for workers in args.workers:
        started = time.perf_counter()
        report = validate_manifest(args.manifest, workers=workers)
        _print(f"validate, {workers} thread(s)", time.perf_counter() - started, report)
    with tempfile.TemporaryDirectory() as cache:
        load_validated(args.manifest, cache_dir=cache)
        started = time.perf_counter()
        _, report = load_validated(args.manifest, cache_dir=cache)
        assert report.from_cache
        _print("load_validated, cached verdict", time.perf_counter() - started, report)


def _print(label: str, seconds: float, report: object) -> None:
    utterances = report.utterances  # type: ignore[attr-defined]
    audio = sum(utt.duration for utt in utterances)
    print(
        f"{label:32s} {seconds:7.2f} s  {len(utterances) / seconds:8.0f} utt/s  "
        f"{audio / seconds:8.0f}x real time  ({len(utterances)} utts, {audio / 3600:.2f} h)"
    )


if __name__ == "__main__":
    main()
