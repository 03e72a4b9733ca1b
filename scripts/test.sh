#!/usr/bin/env bash
# Builds ftlib with every component and runs every test. Usage: scripts/test.sh [extra ctest args]
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
"$root/scripts/install-deps.sh"
build="${FTLIB_BUILD_DIR:-$root/build}"
# Explicit ON: the demo configures the same build dir without tests.
cmake -S "$root" -B "$build" -G Ninja -DCMAKE_BUILD_TYPE=Release \
  -DFTLIB_BUILD_TESTS=ON -DFTLIB_BUILD_EXAMPLES=ON -DFTLIB_BUILD_BENCHMARKS=ON
cmake --build "$build" --parallel "${FTLIB_JOBS:-$(nproc)}"
ctest --test-dir "$build" --output-on-failure --timeout 900 "$@"
