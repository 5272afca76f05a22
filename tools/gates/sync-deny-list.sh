#!/usr/bin/env bash
# Publishes lineage's deny list for gates that hold a copy of it (docs/gates.md):
#
#   sync-deny-list.sh configmap [NAMESPACE [NAME]]
#       applies ConfigMap NAME (default lineage-deny-list) in NAMESPACE
#       (default lineage-system) with key deny-list.json holding
#       `lineage deny-list export --format opa`, for Gatekeeper
#       (tools/gates/gatekeeper-template.yaml). Needs kubectl and its context.
#
#   sync-deny-list.sh bundle DIR
#       writes DIR/deny-list.tar.gz, an OPA bundle whose data.json is the same
#       export (so a policy reads data.lineage.deny_list.digests) and whose
#       .manifest revision is the deny-list sequence. Serve DIR to OPA.
#
# Run it after every revocation action and on a timer (every 10-60 s), so that
# gates follow sticky taint from new attestations too. It prints the sequence
# it published. It exits non-zero, publishing nothing, if the export fails.
#
# Environment: LINEAGE (the binary, default lineage), LINEAGE_DB.
set -euo pipefail

lineage=${LINEAGE:-lineage}
mode=${1:-}

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

# Exports into $work/data.json and sets $seq to the sequence it reflects.
# (Called directly, not in $(...), so that set -e sees a failed export.)
export_opa() {
  local summary
  summary=$("$lineage" deny-list export --format opa --out "$work/data.json" --json)
  seq=$(sed -n 's/.*"seq":\([0-9][0-9]*\).*/\1/p' <<<"$summary")
  if [ -z "$seq" ]; then
    echo "sync-deny-list: unexpected export summary: $summary" >&2
    exit 1
  fi
}

case $mode in
  configmap)
    namespace=${2:-lineage-system}
    name=${3:-lineage-deny-list}
    export_opa
    # A ConfigMap holds at most 1 MiB; past that, use the bundle.
    size=$(wc -c <"$work/data.json")
    if [ "$size" -gt 1000000 ]; then
      echo "sync-deny-list: the export is $size bytes, too large for a ConfigMap; use bundle" >&2
      exit 1
    fi
    # Server-side apply: a client-side apply would copy the whole list into
    # an annotation, which is limited to 256 KiB.
    kubectl create configmap "$name" --namespace "$namespace" \
      --from-file=deny-list.json="$work/data.json" --dry-run=client -o yaml |
      kubectl apply --server-side --force-conflicts --field-manager=lineage-deny-list -f - >/dev/null
    echo "published deny list seq $seq to configmap $namespace/$name"
    ;;
  bundle)
    dir=${2:?usage: sync-deny-list.sh bundle DIR}
    mkdir -p "$dir"
    export_opa
    printf '{"revision": "%s", "roots": ["lineage"]}\n' "$seq" >"$work/.manifest"
    tar -czf "$work/deny-list.tar.gz" -C "$work" .manifest data.json
    # Same directory, then rename: a server never hands out half a bundle.
    cp "$work/deny-list.tar.gz" "$dir/.deny-list.tar.gz.tmp"
    mv -f "$dir/.deny-list.tar.gz.tmp" "$dir/deny-list.tar.gz"
    echo "published deny list seq $seq to $dir/deny-list.tar.gz"
    ;;
  *)
    echo "usage: sync-deny-list.sh configmap [NAMESPACE [NAME]] | bundle DIR" >&2
    exit 2
    ;;
esac
