#!/usr/bin/env bash
# check-wheel.sh [PYTHON] — build fedasr's wheel (`python -m build`), install it with its
# dependencies into a new, empty venv, and run the installed `fedasr --version` and
# `fedasr demo --help` from outside the source tree: what a `pip install fedasr` user gets.
# Everything goes into a temporary directory that is removed at the end.
set -euo pipefail
python=${1:-python3}
root=$(cd "$(dirname "$0")/.." && pwd)
work=$(mktemp -d "${TMPDIR:-/tmp}/fedasr-wheel.XXXXXX")
trap 'rm -rf "$work"' EXIT

"$python" -m build --wheel --outdir "$work/dist" "$root" > "$work/build.log" 2>&1 ||
  { cat "$work/build.log" >&2; echo "check-wheel: the wheel did not build" >&2; exit 1; }
wheel=$(ls "$work/dist/"fedasr-*.whl)
echo "check-wheel: built $(basename "$wheel")"

"$python" -m venv "$work/venv"
"$work/venv/bin/python" -m pip install -q -c "$root/constraints.txt" "$wheel"

cd "$work"  # not the checkout: the wheel alone must carry what the commands need
version=$("$work/venv/bin/fedasr" --version)
expected=$(sed -n 's/^version = "\(.*\)"$/\1/p' "$root/pyproject.toml")
[ "$version" = "fedasr $expected" ] ||
  { echo "check-wheel: fedasr --version printed '$version', expected 'fedasr $expected'" >&2; exit 1; }
"$work/venv/bin/fedasr" demo --help > "$work/demo-help.txt"
grep -q "Usage: fedasr demo" "$work/demo-help.txt" ||
  { cat "$work/demo-help.txt" >&2; echo "check-wheel: fedasr demo --help failed" >&2; exit 1; }
# the demo's configs are package data: each must be in the wheel and load
"$work/venv/bin/python" -c 'from fedasr.demo import demo_configs; from fedasr.config import load_config
paths = demo_configs()
assert paths, "no demo configs in the wheel"
for p in paths.values(): load_config(p)
print("check-wheel: demo configs in the wheel:", ", ".join(sorted(paths)))'
echo "check-wheel: ok ($version; fedasr demo --help; installed in a clean venv)"
