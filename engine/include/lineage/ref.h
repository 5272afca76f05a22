// Canonical references to graph nodes.
//
// Every place that takes a node (CLI arguments, RPC, the store API) takes a
// ref string in one of these forms:
//
//   sha256:<64 hex>          an artifact by digest (also sha512:, sha384:,
//                            sha1:, and other algorithms; see below)
//   key:<fingerprint>        a signing key: "key:sha256:<64 hex>" is the
//                            SHA-256 of the DER SubjectPublicKeyInfo; a DSSE
//                            keyid seen with a verified signature is an alias
//   key:keyless:<issuer>|<san>
//                            a keyless (Fulcio) signing identity: the OIDC
//                            issuer and the certificate's subject alternative
//                            name, each with '%', '|' and bytes below 0x21 or
//                            0x7f written as %XX (upper-case hex); see
//                            KeylessRef
//   builder:<id>             an SLSA builder.id, verbatim
//   workload:<cluster>/<namespace>/<kind>/<name>
//
// Example:
//
//   absl::StatusOr<lineage::Ref> ref = lineage::ParseRef("SHA256:ABCD...");
//   // ref->text == "sha256:abcd...", ref->kind == NodeKind::kArtifact
//
// Digest rules (docs/digests.md explains why):
//   * Algorithm names and hex values are lower-cased. Known algorithms
//     (sha1, sha224, sha256, sha384, sha512, sha512_224, sha512_256,
//     sha3_256, sha3_512) must carry exactly the hex length of that
//     algorithm; a mismatch (for example a 40-hex git SHA-1 under "sha256") is
//     an error, never re-labelled.
//   * "gitCommit" is a git object id: 40 hex is stored as sha1, 64 hex as
//     sha256, since that is what git hashes with.
//   * Other algorithm names ([a-z0-9_.-], at most 64 characters) are kept under
//     their own name with a value of at most 256 printable characters, so they
//     can never alias a known algorithm.
#pragma once

#include <string>
#include <string_view>
#include <utility>

#include "absl/status/statusor.h"
#include "engine/include/lineage/types.h"

namespace lineage {

struct Ref {
  NodeKind kind = NodeKind::kArtifact;
  std::string text;  // canonical form, e.g. "sha256:<hex>" or "builder:<id>"

  bool operator==(const Ref&) const = default;
};

// Parses and canonicalises a ref. Returns InvalidArgument naming what is wrong
// (unknown prefix, bad hex, wrong length, empty id).
absl::StatusOr<Ref> ParseRef(std::string_view text);

// Canonicalises one digest given as (algorithm name, value), as they appear in
// in-toto DigestSets. Returns "algo:hex" or InvalidArgument.
absl::StatusOr<std::string> CanonicalDigest(std::string_view algorithm, std::string_view value);

// True for the digest of empty content under a known algorithm (for example
// sha256:e3b0c442...). Such a digest identifies no particular artifact: every
// empty file has it, so ingest never makes it a node (it would link unrelated
// artifacts as siblings of one shared ancestor).
bool IsEmptyContentDigest(std::string_view canonical_digest);

// Rank of a canonical digest's algorithm when choosing a node's primary ref
// among aliases: lower is preferred (sha256 first, unknown algorithms last).
int DigestPreference(std::string_view canonical_digest);

// "key:sha256:<hex>" for a DER SubjectPublicKeyInfo's SHA-256.
std::string KeyRefFromFingerprint(std::string_view sha256_hex);

// The canonical ref of a keyless signing identity:
//   "key:keyless:" + Escape(issuer) + "|" + Escape(san)
// where Escape writes '%', '|', space, control bytes and 0x7f as %XX with
// upper-case hex and every other byte as it is. So the form is unambiguous
// (the one '|' separates issuer from SAN), printable, and one identity has
// exactly one spelling: ParseRef decodes any %XX (either case) and
// re-escapes. Both parts must be non-empty and at most 2048 bytes before
// escaping. Example:
//   KeylessRef("https://token.actions.githubusercontent.com",
//              "https://github.com/o/r/.github/workflows/rel.yml@refs/tags/v1")
//   == "key:keyless:https://token.actions.githubusercontent.com|"
//      "https://github.com/o/r/.github/workflows/rel.yml@refs/tags/v1"
absl::StatusOr<Ref> KeylessRef(std::string_view issuer, std::string_view san);

// The (issuer, SAN) of a canonical or non-canonical keyless ref text
// ("key:keyless:..."). InvalidArgument when `text` is not of that form.
absl::StatusOr<std::pair<std::string, std::string>> ParseKeylessRef(std::string_view text);

// Builds refs for the other kinds, validating them like ParseRef.
absl::StatusOr<Ref> BuilderRef(std::string_view builder_id);
absl::StatusOr<Ref> WorkloadRef(std::string_view cluster, std::string_view ns,
                                std::string_view kind, std::string_view name);

}  // namespace lineage
