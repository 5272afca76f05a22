#!/usr/bin/env bash
# Configures and builds one CMake preset (default: release) with 2 jobs.
#   tools/build.sh [release|asan|fuzz]
set -euo pipefail
cd "$(dirname "$0")/.."
preset="${1:-release}"
cmake --preset "$preset" >/dev/null
cmake --build --preset "$preset"
