#!/usr/bin/env bash
# Installs ftlib's build and test dependencies from Debian 12 packages. Idempotent: packages
# already present are skipped, and apt is not touched at all when nothing is missing.
set -euo pipefail

# libopenblas-dev: without it Debian's LibTorch multiplies matrices with reference BLAS, ~45x slower.
# libdnnl-dev: oneDNN's headers for the float32 CPU Linear layers (the library itself comes with libtorch-dev).
# libsentencepiece-dev: only the oracle of tests/test_sentencepiece_vs_library.cpp (ftlib has its own).
# clang, libclang-rt-14-dev: libFuzzer and the sanitizers of the fuzz targets (scripts/fuzz.sh).
# chromium: renders report.html headless in tests/reports/ (as a user's browser would).
# libgloo-dev: the Gloo headers LibTorch's c10d ProcessGroupGloo needs (data-parallel training on CPU);
#   Debian's LibTorch links libgloo0 already, pip's torch carries Gloo inside but ships no headers.
# ccache: the second LibTorch build of .ci/run reuses the objects that do not depend on LibTorch.
packages=(
  g++ cmake ninja-build pkg-config
  libtorch-dev libopenblas-dev libdnnl-dev libgloo-dev
  libeigen3-dev libutf8proc-dev nlohmann-json3-dev libcli11-dev libcurl4-openssl-dev
  doctest-dev libsentencepiece-dev
  clang libclang-rt-14-dev
  chromium ccache
)

missing=()
for p in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ ${#missing[@]} -eq 0 ]; then
  exit 0
fi

echo "install-deps: installing ${missing[*]}"
sudo_cmd=()
[ "$(id -u)" -eq 0 ] || sudo_cmd=(sudo)
"${sudo_cmd[@]}" apt-get update -qq
DEBIAN_FRONTEND=noninteractive "${sudo_cmd[@]}" apt-get install -y -qq --no-install-recommends "${missing[@]}"
