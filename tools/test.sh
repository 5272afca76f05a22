#!/usr/bin/env bash
# The test command: installs the packages, builds, and runs the whole suite
# twice (release, then ASan+UBSan), then a short libFuzzer smoke run.
# Long stress runs carry the ctest label "stress" and are skipped here; run
# them with: ctest --preset release -L stress
set -euo pipefail
cd "$(dirname "$0")/.."

tools/setup.sh

echo "== release build and tests"
tools/build.sh release
ctest --preset release -LE stress

echo "== ASan+UBSan build and tests"
tools/build.sh asan
ctest --preset asan -LE stress

echo "== fuzz smoke run"
tests/fuzz/smoke.sh
