#!/usr/bin/env bash
# Builds and runs the host tests of the Unreal plugin's protocol core (no engine needed).
#
#   bash plugins/unreal/test.sh            # configure, build, ctest; the exit code gates
#   YUME_SANITIZE=OFF bash plugins/unreal/test.sh
#
# Needs cmake, g++ (or clang++), doctest-dev, nlohmann-json3-dev and libturbojpeg0-dev.
# The build goes to plugins/unreal/tests/build (gitignored); it also produces
# plugins/unreal/tests/build/yume_interop for the live check against `yume-bridge serve`.
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
build="$here/tests/build"
jobs="$(nproc 2>/dev/null || echo 2)"

cmake -S "$here/tests" -B "$build" -DCMAKE_BUILD_TYPE=Debug -DYUME_SANITIZE="${YUME_SANITIZE:-ON}" >/dev/null
cmake --build "$build" --parallel "$jobs"
ctest --test-dir "$build" --output-on-failure --parallel "$jobs"
