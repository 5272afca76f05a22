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
mkdir -p "$seeds"/{envelope,statement,link,verify_document,bundle,certificate,inclusion_proof,inventory} "$artifacts"

# Every corpus file seeds the whole-document target; envelopes, links and
# statements seed their own parsers, and the payloads inside the envelopes
# seed the statement parser. Sigstore bundles seed the bundle target; their
# certificates and the trusted roots seed the certificate target (first byte
# 0: DER, 2: trusted root); their inclusion proofs and checkpoints seed the
# proof target (first byte 0: proof, 1: checkpoint).
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
import struct
def bundles(value):
    if isinstance(value, dict):
        if "verificationMaterial" in value:
            yield value
        for v in value.values():
            yield from bundles(v)
    elif isinstance(value, list):
        for v in value:
            yield from bundles(v)
def raw_bytes(value):
    if isinstance(value, dict):
        for k, v in value.items():
            if k == "rawBytes" and isinstance(v, str):
                yield v
            else:
                yield from raw_bytes(v)
    elif isinstance(value, list):
        for v in value:
            yield from raw_bytes(v)
def b64(text):
    return base64.b64decode(text + "=" * (-len(text) % 4))
def sigstore_seeds(doc):
    for bundle in bundles(doc):
        put("bundle", json.dumps(bundle).encode())
        for der in raw_bytes(bundle):
            put("certificate", b"\x00" + b64(der))
        for entry in (bundle.get("verificationMaterial") or {}).get("tlogEntries") or []:
            proof = entry.get("inclusionProof") or {}
            if not proof:
                continue
            body = b64(entry["canonicalizedBody"])
            leaf = hashlib.sha256(b"\x00" + body).digest()
            data = struct.pack("<QQ", int(proof["logIndex"]), int(proof["treeSize"]))
            data += leaf + b64(proof["rootHash"]) + b"".join(b64(h) for h in proof.get("hashes") or [])
            put("inclusion_proof", b"\x00" + data)
            note = (proof.get("checkpoint") or {}).get("envelope")
            if note:
                put("inclusion_proof", b"\x01" + note.encode())
for file in os.listdir(os.path.join(corpus, "keys")):
    if file.endswith(".json"):
        put("certificate", b"\x02" + open(os.path.join(corpus, "keys", file), "rb").read())
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
            sigstore_seeds(doc)
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

# Workload inventories (kubectl pods JSON and lineage's list) seed their parser.
cp "$root"/tests/data/inventories/*.json "$seeds/inventory/"

status=0
for target in envelope statement link verify_document bundle certificate inclusion_proof inventory; do
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
