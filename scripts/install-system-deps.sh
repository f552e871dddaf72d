#!/usr/bin/env bash
# Installs the Debian packages fedasr uses (text-to-speech engines for the embedded corpus,
# libsndfile for soundfile, python3-venv so that `make` can make a venv from Debian's Python).
# Idempotent: does nothing when everything is present.
#   --test                 also installs what `make test` needs: Chromium, in which the HTML
#                          report is opened headless (tests/report/test_report_browser.py).
#   FEDASR_EXTRA_VOICES=1  also installs mbrola voices and pico2wave (contrib/non-free;
#                          their licences forbid commercial use).
set -euo pipefail

packages=(espeak-ng flite festival festvox-kallpc16k festvox-kdlpc16k festvox-us-slt-hts libsndfile1
  python3-venv)
if [ "${1:-}" = "--test" ]; then packages+=(chromium); fi
extra=(mbrola mbrola-us1 mbrola-us2 mbrola-us3 mbrola-en1 libttspico-utils)

missing=()
for pkg in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q "install ok installed" || missing+=("$pkg")
done
if [ "${FEDASR_EXTRA_VOICES:-0}" = "1" ]; then
  for pkg in "${extra[@]}"; do
    dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q "install ok installed" || missing+=("$pkg")
  done
fi

if [ ${#missing[@]} -eq 0 ]; then
  echo "system packages: all present"
  exit 0
fi

if ! command -v apt-get >/dev/null 2>&1; then
  echo "apt-get not found; cannot install: ${missing[*]}" >&2
  echo "fallback: pip install -e '.[espeak]' gives espeak-ng voices only (fedasr data synth --engines espeak)" >&2
  exit 0
fi

sudo=""
if [ "$(id -u)" != "0" ]; then sudo="sudo"; fi
echo "installing: ${missing[*]}"
export DEBIAN_FRONTEND=noninteractive
$sudo apt-get update -qq
$sudo apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
