#!/usr/bin/env bash
# Quick start: installs the packages, builds lineage, ingests the bundled
# sample attestations into an embedded database and shows their lineage.
#   tools/quickstart.sh [DB_DIR]      (default: ./var/lineage)
set -euo pipefail
cd "$(dirname "$0")/.."
db="${1:-./var/lineage}"

tools/setup.sh
tools/build.sh release
lineage=build/release/cli/lineage
mkdir -p "$(dirname "$db")"

echo
echo "== lineage --db $db ingest --policy samples/policy.json samples/attestations"
"$lineage" --db "$db" ingest --policy samples/policy.json samples/attestations

# foo.py, written by the in-toto demo's write-code step and packaged into
# foo.tar.gz by its package step.
foo_py=sha256:74dc3727c6e89308b39e4dfedf787e37841198b1fa165a27c013544a60502549
echo
echo "== lineage --db $db descendants $foo_py"
"$lineage" --db "$db" descendants "$foo_py"
echo
echo "== lineage --db $db ancestors sha256:52947cb78b91ad01fe81cd6aef42d1f6817e92b9e6936c1e5aabb7c98514f355"
"$lineage" --db "$db" ancestors sha256:52947cb78b91ad01fe81cd6aef42d1f6817e92b9e6936c1e5aabb7c98514f355
echo
echo "== lineage --db $db stats"
"$lineage" --db "$db" stats
echo
echo "Database: $db   (try: $lineage --db $db --help)"
