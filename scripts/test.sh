#!/usr/bin/env bash
# Builds ftlib with every component and runs every test.
#
#   scripts/test.sh [--libtorch debian|pypi] [extra ctest args]
#
# Then the fuzz targets for a short budget (scripts/fuzz.sh; FTLIB_FUZZ_SECONDS, default 20 s each).
# With FTLIB_REQUIRE_SHARED_DATA=1 (as .ci/run sets it when ../shared is present) a test that would
# skip for missing shared data fails instead.
#
# The LibTorch (also FTLIB_LIBTORCH=debian|pypi; the flag wins):
#   debian  Debian's libtorch-dev 1.13, CPU only (the default), in build/
#   pypi    PyPI's torch 2.15 (a CUDA 13 build that also runs on the CPU) from the virtual environment
#           of scripts/python_env.sh (created on first use, several GB), in build-pypi/; its CMake
#           config needs the CUDA toolkit's nvcc (/usr/local/cuda or on PATH), not a GPU
# Each has its own build directory (FTLIB_BUILD_DIR overrides it). CMake finds LibTorch through
# Torch_DIR, as it would any LibTorch (see README.md).
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
libtorch="${FTLIB_LIBTORCH:-debian}"
if [[ "${1:-}" == --libtorch ]]; then
  libtorch="${2:?--libtorch needs debian or pypi}"
  shift 2
elif [[ "${1:-}" == --libtorch=* ]]; then
  libtorch="${1#--libtorch=}"
  shift
fi

"$root/scripts/install-deps.sh"
case "$libtorch" in
  debian)
    build="${FTLIB_BUILD_DIR:-$root/build}"
    torch_dir="/usr/lib/$(gcc -print-multiarch)/cmake/Torch"
    ;;
  pypi)
    build="${FTLIB_BUILD_DIR:-$root/build-pypi}"
    venv=$("$root/scripts/python_env.sh")
    torch_dir="$("$venv/bin/python" -c 'import torch; print(torch.utils.cmake_prefix_path)')/Torch"
    ;;
  *)
    echo "test.sh: unknown LibTorch '$libtorch' (FTLIB_LIBTORCH / --libtorch: debian or pypi)" >&2
    exit 2
    ;;
esac
if [[ ! -f "$torch_dir/TorchConfig.cmake" ]]; then
  echo "test.sh: no TorchConfig.cmake in $torch_dir (LibTorch '$libtorch')" >&2
  exit 1
fi
echo "test.sh: LibTorch '$libtorch' ($torch_dir), build directory $build"

# ccache (when installed; install-deps.sh installs it): the other LibTorch's build reuses every object
# that does not include LibTorch (the tool, the Eigen backend, most tests), about half of the build.
launcher=()
if command -v ccache > /dev/null; then
  launcher=(-DCMAKE_CXX_COMPILER_LAUNCHER=ccache -DCMAKE_C_COMPILER_LAUNCHER=ccache)
fi
# Explicit ON: the demo configures the same build dir without tests.
cmake -S "$root" -B "$build" -G Ninja -DCMAKE_BUILD_TYPE=Release -DTorch_DIR="$torch_dir" "${launcher[@]}" \
  -DFTLIB_BUILD_TESTS=ON -DFTLIB_BUILD_EXAMPLES=ON -DFTLIB_BUILD_BENCHMARKS=ON
build_start=$SECONDS
cmake --build "$build" --parallel "${FTLIB_JOBS:-$(nproc)}"
echo "test.sh: build took $((SECONDS - build_start)) s"
test_start=$SECONDS
ctest --test-dir "$build" --output-on-failure --timeout 900 "$@"

# The parsers under libFuzzer with ASan + UBSan (a clang build of its own, LibTorch-free): the kept
# regression inputs, then a short fixed budget per target (FTLIB_FUZZ_SECONDS, default 20; 0 replays
# the regressions only). scripts/fuzz.sh runs longer on demand.
echo "test.sh: ctest took $((SECONDS - test_start)) s"
"$root/scripts/fuzz.sh" --seconds "${FTLIB_FUZZ_SECONDS:-20}"
