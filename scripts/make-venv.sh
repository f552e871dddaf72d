#!/usr/bin/env bash
# make-venv.sh PY DIR — make the virtual environment DIR from the interpreter PY, unless DIR is
# already a venv of that same interpreter. A DIR made by another interpreter is an error, not
# replaced: it may be someone's own environment (remove it, or pass another VENV=DIR to make).
set -euo pipefail
py=${1:?usage: make-venv.sh PY DIR}
dir=${2:?usage: make-venv.sh PY DIR}

if ! base=$("$py" -c 'import os, sys; print(os.path.realpath(sys._base_executable))' 2>/dev/null); then
  echo "make-venv: cannot run '$py' (set PY=/path/to/python3, Python >= 3.10)" >&2
  exit 1
fi

if [ -e "$dir" ]; then
  if [ ! -x "$dir/bin/python" ]; then
    echo "make-venv: $dir exists but is not a virtual environment; move it away or pass VENV=OTHER" >&2
    exit 1
  fi
  made_from=$("$dir/bin/python" -c 'import os, sys; print(os.path.realpath(sys._base_executable))')
  if [ "$made_from" != "$base" ]; then
    echo "make-venv: $dir was made from $made_from, not from $py ($base);" \
      "remove it, or pass VENV=OTHER to use a second environment" >&2
    exit 1
  fi
  exit 0
fi

if ! "$py" -c 'import ensurepip, venv' 2>/dev/null; then
  echo "make-venv: $py has no venv module; on Debian/Ubuntu: apt-get install python3-venv" \
    "(scripts/install-system-deps.sh installs it)" >&2
  exit 1
fi
echo "make-venv: creating $dir from $base"
"$py" -m venv "$dir"
