#!/usr/bin/env bash
# A deploy gate: asks lineage whether an image digest may be deployed, and
# runs the deploy command only if the answer is ALLOW. It fails closed: any
# answer other than ALLOW (a DENY, a missing database, a lineage error, a
# killed check) stops the deploy. On DENY it prints `lineage why` so that the
# developer sees which revocation blocks the image and through which chain.
#
# usage: deploy.sh IMAGE [COMMAND [ARG...]]
#
#   IMAGE    an image pinned by digest, registry/repo@sha256:<hex>, or a bare
#            sha256:<hex>. A tag alone cannot be checked and is refused.
#   COMMAND  what deploys the image, run only on ALLOW, with the digest in
#            $LINEAGE_DIGEST and the image in $LINEAGE_IMAGE. Without COMMAND
#            the script only gates: exit 0 means the image may be deployed.
#
# Environment:
#   LINEAGE          the lineage binary (default: lineage on PATH)
#   LINEAGE_DB       the database directory (read by lineage itself)
#   LINEAGE_SERVER, LINEAGE_TOKEN
#                    ask a running lineaged instead, with a gate token (read by
#                    lineage itself; exit 8 when it cannot be reached)
#   LINEAGE_UNKNOWN  what to do with a digest lineage has never seen:
#                    allow, warn or deny (default: deny)
#
# Exit codes: 0 allowed (and COMMAND succeeded), 5 denied, 2 usage, any other
# lineage exit code as it is (3 no database, 4 database error, 8 daemon
# unreachable), else COMMAND's own exit code.
#
# Docs: docs/gates.md.
set -u

lineage=${LINEAGE:-lineage}
unknown=${LINEAGE_UNKNOWN:-deny}

if [ $# -lt 1 ] || [ -z "$1" ]; then
  echo "usage: deploy.sh IMAGE [COMMAND [ARG...]]" >&2
  exit 2
fi
image=$1
shift

# The digest is what follows the last '@'; a bare digest is its own digest.
case $image in
  *@*) digest=${image##*@} ;;
  *) digest=$image ;;
esac
case $digest in
  sha256:* | sha512:*) ;;
  *)
    echo "deploy: $image is not pinned by digest (want repo@sha256:<hex>); refusing to deploy" >&2
    exit 2
    ;;
esac

"$lineage" check "$digest" --unknown "$unknown"
status=$?

case $status in
  0) ;;
  5)
    echo "deploy: lineage denies $digest; not deploying $image" >&2
    # Best effort: the deploy is refused whether or not why succeeds.
    "$lineage" why "$digest" >&2 ||
      echo "deploy: for the reason and the chain, run: lineage --db <database> why $digest" >&2
    exit 5
    ;;
  *)
    echo "deploy: lineage check failed with exit code $status; not deploying $image (fail closed)" >&2
    exit "$status"
    ;;
esac

if [ $# -eq 0 ]; then
  echo "deploy: $image may be deployed"
  exit 0
fi
export LINEAGE_DIGEST=$digest LINEAGE_IMAGE=$image
exec "$@"
