#!/usr/bin/env bash
# The test suite under AddressSanitizer + UndefinedBehaviorSanitizer (CMake preset "asan": every test
# but the LibTorch backend's, whose prebuilt libraries are not instrumented), in build-asan/.
#
#   scripts/sanitize.sh [extra ctest args]
#
# ASAN_OPTIONS: a leak or any report fails its test (detect_leaks, abort_on_error); UBSAN_OPTIONS:
# the first undefined behaviour stops the test with its stack.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
"$root/scripts/install-deps.sh"
(cd "$root" && cmake --preset asan > /dev/null)
cmake --build "$root/build-asan" --parallel "${FTLIB_JOBS:-$(nproc)}"
export ASAN_OPTIONS="detect_leaks=1:abort_on_error=1:strict_string_checks=1:detect_stack_use_after_return=1"
export UBSAN_OPTIONS="print_stacktrace=1:halt_on_error=1"
# ASan reserves terabytes of address space for its shadow memory: the catalogue cannot limit it.
export FTLIB_CATALOGUE_MEMORY_KB=unlimited
ctest --test-dir "$root/build-asan" --output-on-failure --timeout 1800 "$@"
