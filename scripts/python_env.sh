#!/usr/bin/env bash
# Creates (once) and prints the path of the Python virtual environment that ftlib's Python-side
# checks use: fixture generators, interoperability checks, the HuggingFace peer of the benchmarks
# and the PyPI LibTorch 2.x. It lives outside the checkout, in ${FTLIB_CACHE_DIR:-~/.cache/ftlib},
# keyed by the pinned requirements, so a changed pin makes a new one and a second call costs nothing;
# requirements-python-extras.txt adds small packages to it (a changed list installs only them).
#
#   venv=$(scripts/python_env.sh)            # installs when missing, prints the venv's path
#   scripts/python_env.sh --check            # prints the path if it is ready, exits 1 otherwise
#   "$venv/bin/python" -c 'import torch'
#
# Progress goes to stderr; stdout is only the path.
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
requirements="$root/scripts/requirements-python.txt"
cache="${FTLIB_CACHE_DIR:-$HOME/.cache/ftlib}"
key=$(grep -v '^#' "$requirements" | sha256sum | cut -c1-12)
venv="$cache/venv-$key"

extras="$root/scripts/requirements-python-extras.txt"
extras_key=$(grep -v '^#' "$extras" | sha256sum | cut -c1-12)
if [ -f "$venv/.complete" ] && [ -f "$venv/.extras-$extras_key" ]; then
  echo "$venv"
  exit 0
fi
if [ "${1:-}" = "--check" ]; then
  exit 1
fi

python="${FTLIB_PYTHON:-python3}"
if ! "$python" -c 'import venv, ensurepip' 2>/dev/null; then
  echo "python_env: $python lacks venv/ensurepip; installing python3-venv" >&2
  sudo_cmd=()
  [ "$(id -u)" -eq 0 ] || sudo_cmd=(sudo)
  "${sudo_cmd[@]}" apt-get update -qq >&2
  DEBIAN_FRONTEND=noninteractive "${sudo_cmd[@]}" apt-get install -y -qq python3-venv >&2
  python=python3
fi

mkdir -p "$cache"
# One installer at a time (tests and scripts may ask concurrently).
exec 9>"$cache/.venv-$key.lock"
flock 9
if [ ! -f "$venv/.complete" ]; then
  echo "python_env: creating $venv (torch, transformers, ...: several GB, a few minutes)" >&2
  rm -rf "$venv"
  "$python" -m venv "$venv" >&2
  "$venv/bin/python" -m pip install --quiet --disable-pip-version-check --upgrade pip >&2
  "$venv/bin/python" -m pip install --quiet --disable-pip-version-check -r "$requirements" >&2
  touch "$venv/.complete"
fi
if [ ! -f "$venv/.extras-$extras_key" ]; then
  "$venv/bin/python" -m pip install --quiet --disable-pip-version-check -r "$extras" >&2
  touch "$venv/.extras-$extras_key"
fi
echo "$venv"
