#!/usr/bin/env bash
# bench/run.sh: the whole bench suite in one command (bench/README.md).
#
#   bench/run.sh [--artifacts N] [--out DIR] [--no-pg] [--no-micro] [--no-peers]
#
# Builds the release configuration (RelWithDebInfo, Ninja), then runs
#   1. the micro-benchmarks (lineage_bench) at LINEAGE_BENCH_SIZES (default
#      N) with short minimum times,
#   2. lineage_slo at N artifacts (default 1,000,000): build, peers (CSR,
#      lineage, SQLite, and PostgreSQL 15 when its binaries are installed),
#      the three revocation scenarios against a real lineaged, restart,
#      peak RSS, signed ingest.
# Everything lands in DIR (default bench/out/<UTC time>): micro.json,
# micro.txt, slo.json, slo.txt, run.txt (machine, load average, commands).
#
# Environment: LINEAGE_BUILD_DIR (default build/release), PG_BIN (default
# /usr/lib/postgresql/15/bin), LINEAGE_BENCH_SIZES, JOBS (default 2).
set -euo pipefail

cd "$(dirname "$0")/.."
ROOT=$(pwd)
ARTIFACTS=1000000
OUT=""
PG=1
MICRO=1
PEERS="csr,lineage,sqlite"
SLO_ARGS=()
while [ $# -gt 0 ]; do
  case "$1" in
    --artifacts) ARTIFACTS="$2"; shift 2 ;;
    --out) OUT="$2"; shift 2 ;;
    --no-pg) PG=0; shift ;;
    --no-micro) MICRO=0; shift ;;
    --no-peers) PEERS=""; PG=0; shift ;;
    --) shift; SLO_ARGS+=("$@"); break ;;
    -h|--help) sed -n '2,17p' "$0"; exit 0 ;;
    *) echo "bench/run.sh: unknown argument $1 (see --help)" >&2; exit 2 ;;
  esac
done
BUILD=${LINEAGE_BUILD_DIR:-build/release}
PG_BIN=${PG_BIN:-/usr/lib/postgresql/15/bin}
JOBS=${JOBS:-2}
OUT=${OUT:-bench/out/$(date -u +%Y%m%dT%H%M%SZ)}
mkdir -p "$OUT"
OUT=$(cd "$OUT" && pwd)

log() { echo "[$(date -u +%H:%M:%S)] $*" | tee -a "$OUT/run.txt" >&2; }

{
  echo "date: $(date -u +%Y-%m-%dT%H:%M:%SZ)"
  echo "commit: $(git rev-parse --short HEAD 2>/dev/null || echo unknown)"
  echo "machine: $(nproc) cores, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | xargs)," \
       "$(awk '/MemTotal/ {printf "%.0f GiB", $2 / 1048576}' /proc/meminfo)"
  echo "load average at start: $(cat /proc/loadavg)"
  echo "artifacts: $ARTIFACTS"
} > "$OUT/run.txt"
cat "$OUT/run.txt" >&2

log "build: $BUILD (RelWithDebInfo)"
cmake -S . -B "$BUILD" -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo > "$OUT/cmake.txt"
cmake --build "$BUILD" -j"$JOBS" --target lineage_slo lineaged lineage lineage_bench \
  > "$OUT/build.txt"

# PostgreSQL 15, optional: a throwaway cluster on 127.0.0.1, a free port,
# stopped and deleted on exit. postgres refuses to run as root, so as root
# the cluster belongs to the postgres user.
PG_DIR=""
PG_AS=""
stop_pg() {
  if [ -n "$PG_DIR" ]; then
    $PG_AS "$PG_BIN/pg_ctl" -D "$PG_DIR/data" -m fast -w stop > /dev/null 2>&1 || true
    rm -rf "$PG_DIR"
  fi
}
trap stop_pg EXIT
PG_CONN=""
if [ "$PG" = 1 ] && [ -x "$PG_BIN/initdb" ]; then
  PG_DIR=$(mktemp -d /tmp/lineage-bench-pg-XXXXXX)

  if [ "$(id -u)" -eq 0 ]; then
    chown postgres "$PG_DIR"
    PG_AS="runuser -u postgres --"
  fi
  PG_PORT=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])' 2>/dev/null || echo 54329)
  log "postgresql: initdb in $PG_DIR, port $PG_PORT"
  $PG_AS "$PG_BIN/initdb" -D "$PG_DIR/data" -U bench -A trust > "$OUT/pg-initdb.txt"
  # The SQL peer sets synchronous_commit = off itself; the cache is sized
  # so that the 1M-artifact tables stay in memory, as the engine's do.
  $PG_AS "$PG_BIN/pg_ctl" -D "$PG_DIR/data" -l "$PG_DIR/server.log" -w \
    -o "-c listen_addresses=127.0.0.1 -p $PG_PORT -c unix_socket_directories=$PG_DIR -c shared_buffers=1GB -c work_mem=256MB -c max_wal_size=4GB" \
    start > /dev/null
  PG_CONN="host=127.0.0.1 port=$PG_PORT dbname=postgres user=bench"
  PEERS="$PEERS,postgres"
elif [ "$PG" = 1 ]; then
  log "postgresql: skipped: no $PG_BIN/initdb (apt-get install postgresql-15 to include it)"
fi

if [ "$MICRO" = 1 ]; then
  SIZES=${LINEAGE_BENCH_SIZES:-$ARTIFACTS}
  log "micro-benchmarks: LINEAGE_BENCH_SIZES=$SIZES"
  LINEAGE_BENCH_SIZES=$SIZES "$BUILD/bench/lineage_bench" --benchmark_min_time=0.5 \
    --benchmark_counters_tabular=true --benchmark_out="$OUT/micro.json" \
    --benchmark_out_format=json | tee "$OUT/micro.txt"
fi

log "lineage_slo: $ARTIFACTS artifacts, peers ${PEERS:-none}"
SLO=("$BUILD/bench/slo/lineage_slo" --artifacts "$ARTIFACTS" --json "$OUT/slo.json" --sql-reps 3)
if [ -n "$PEERS" ]; then SLO+=(--peers "$PEERS"); else SLO+=(--peers none); fi
if [ -n "$PG_CONN" ]; then SLO+=(--pg "$PG_CONN"); fi
set +e
"${SLO[@]}" "${SLO_ARGS[@]}" 2> "$OUT/slo.log" | tee "$OUT/slo.txt"
rc=${PIPESTATUS[0]}
set -e
log "load average at end: $(cat /proc/loadavg)"
log "results in $OUT (lineage_slo exit $rc)"
exit "$rc"
