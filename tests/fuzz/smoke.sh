#!/usr/bin/env bash
# Builds the fuzz preset and runs every libFuzzer target for a bounded time
# over seeds taken from tests/data/corpus. Fails on the first crash, leak,
# sanitizer report or timeout.
#
#   tests/fuzz/smoke.sh            # 20 s per target
#   FUZZ_SECONDS=300 tests/fuzz/smoke.sh
#
# Seeds are copied to a scratch directory per run, so new inputs found by the
# fuzzer never land in the source tree. Crash reproducers are kept in
# build/fuzz/artifacts/.
set -euo pipefail

root="$(cd "$(dirname "$0")/../.." && pwd)"
seconds="${FUZZ_SECONDS:-20}"
cd "$root"

cmake --preset fuzz >/dev/null
cmake --build --preset fuzz

build="$root/build/fuzz"
corpus="$root/tests/data/corpus"
seeds="$build/seeds"
artifacts="$build/artifacts"
rm -rf "$seeds"
mkdir -p "$seeds"/{envelope,statement,link,verify_document} "$artifacts"

# Every corpus file seeds the whole-document target; envelopes, links and
# statements seed their own parsers, and the payloads inside the envelopes
# seed the statement parser.
python3 - "$corpus" "$seeds" <<'PY'
import base64, hashlib, json, os, sys
corpus, seeds = sys.argv[1], sys.argv[2]
def put(kind, data):
    name = hashlib.sha256(data).hexdigest()[:16]
    with open(os.path.join(seeds, kind, name), "wb") as f:
        f.write(data)
def envelopes(value):
    if isinstance(value, dict):
        if "payloadType" in value and "payload" in value:
            yield value
        for v in value.values():
            yield from envelopes(v)
    elif isinstance(value, list):
        for v in value:
            yield from envelopes(v)
for folder, _, files in os.walk(corpus):
    for file in files:
        path = os.path.join(folder, file)
        if "/keys/" in path or file in ("README.md", "MANIFEST.tsv"):
            continue
        data = open(path, "rb").read()
        if len(data) > 256 * 1024:
            continue
        put("verify_document", data)
        docs = []
        for line in data.splitlines() or [data]:
            try:
                docs.append(json.loads(line))
            except Exception:
                pass
        try:
            docs.append(json.loads(data))
        except Exception:
            pass
        for doc in docs:
            if isinstance(doc, dict) and "signed" in doc:
                put("link", json.dumps(doc).encode())
            if isinstance(doc, dict) and "_type" in doc:
                put("statement", json.dumps(doc).encode())
            for env in envelopes(doc):
                put("envelope", json.dumps(env).encode())
                try:
                    put("statement", base64.b64decode(env["payload"] + "=="))
                except Exception:
                    pass
PY

status=0
for target in envelope statement link verify_document; do
  work="$build/work-$target"
  rm -rf "$work"
  cp -r "$seeds/$target" "$work"
  echo "== fuzz_$target: $(ls "$work" | wc -l) seeds, ${seconds}s"
  if ! "$build/tests/fuzz/fuzz_$target" "$work" -max_total_time="$seconds" -max_len=131072 \
      -timeout=10 -rss_limit_mb=2048 -artifact_prefix="$artifacts/$target-" -print_final_stats=1 \
      2>"$build/fuzz_$target.log"; then
    echo "fuzz_$target FAILED; log: $build/fuzz_$target.log"
    tail -40 "$build/fuzz_$target.log"
    status=1
  else
    grep -E "^stat::(number_of_executed_units|peak_rss_mb)|^Done" "$build/fuzz_$target.log" || true
  fi
done
exit $status
