#!/usr/bin/env bash
# Installs every Debian 12 package that lineage's build, tests, fuzzers and
# benchmarks need. Skips the work when everything is already installed, so it
# is cheap to call from the quick-start and CI commands. Nothing else is
# downloaded at build time.
set -euo pipefail

PACKAGES=(
  cmake ninja-build pkg-config g++ ccache
  librocksdb-dev libboost-graph-dev capnproto libcapnp-dev libabsl-dev libfmt-dev
  libssl-dev openssl libsimdjson-dev libcli11-dev libroaring-dev
  libgtest-dev libgmock-dev libbenchmark-dev
  clang-14 libclang-rt-14-dev clang-format
  # promtool validates the daemon's /metrics exposition in the tests.
  prometheus
  graphviz
  # The bench's SQL peers (bench/peers): SQLite, and PostgreSQL through libpq.
  libsqlite3-dev libpq-dev
)

missing=()
for p in "${PACKAGES[@]}"; do
  if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed"; then
    missing+=("$p")
  fi
done

# Node.js and npm run the sigstore-js cross-check test (it installs
# @sigstore/verify from the npm registry at test time, and skips without
# node). A node already on the PATH is used as it is: NodeSource's nodejs,
# for one, bundles npm and conflicts with Debian's npm package.
if ! command -v node >/dev/null 2>&1 || ! command -v npm >/dev/null 2>&1; then
  missing+=(nodejs npm)
fi

if [ ${#missing[@]} -eq 0 ]; then
  echo "setup: all ${#PACKAGES[@]} packages present (and node)"
  exit 0
fi

SUDO=""
if [ "$(id -u)" -ne 0 ]; then SUDO="sudo"; fi
echo "setup: installing ${missing[*]}"
export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get update -qq
$SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}"
