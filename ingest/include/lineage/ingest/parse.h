// The parsers behind VerifyDocument, exposed for tests, fuzzers and tools
// that need one layer at a time. They check structure and bounds only: none
// of them verifies a signature (see ingest.h for that).
//
// Errors are InvalidArgument naming the field ("subject[0].digest: expected
// an object, got string"); callers prefix the source. Nothing here throws.
//
// Example:
//
//   absl::StatusOr<DsseEnvelope> env = ParseEnvelope(text, IngestLimits{});
//   if (env.ok() && env->payload_type == kInTotoPayloadType) {
//     absl::StatusOr<StatementContent> st = ParseStatement(env->payload, IngestLimits{});
//   }
#pragma once

#include <string>
#include <string_view>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "engine/include/lineage/attestation.h"
#include "ingest/include/lineage/ingest/ingest.h"

namespace lineage::ingest {

// The DSSE payload type of in-toto statements and DSSE-wrapped links.
inline constexpr std::string_view kInTotoPayloadType = "application/vnd.in-toto+json";

// One signature of a DSSE envelope or an in-toto link metablock.
struct EnvelopeSignature {
  std::string keyid;  // the envelope's hint, "" when absent
  std::string sig;    // decoded signature bytes (base64 for DSSE, hex for links)
  // Why this signature cannot be checked, "" when it can: a malformed
  // encoding, a keyless certificate, a GPG signature. A problem with one
  // signature does not fail the envelope: another may still verify.
  std::string problem;
};

struct DsseEnvelope {
  std::string payload_type;
  std::string payload;  // decoded bytes, as signed
  std::vector<EnvelopeSignature> signatures;
};

// Parses a DSSE envelope: {"payloadType", "payload" (base64), "signatures":
// [{"keyid"?, "sig"}]}. Sigstore bundles are recognised and rejected as not
// supported yet. Bounds: max_document_bytes, max_payload_bytes,
// max_signatures.
absl::StatusOr<DsseEnvelope> ParseEnvelope(std::string_view json, const IngestLimits& limits);

// What an in-toto statement or link asserts, before any signature check.
struct StatementContent {
  std::string statement_type;              // "_type": a Statement URI, or "link"
  std::string predicate_type;              // "" for links
  std::vector<ArtifactDigests> subjects;   // at least one (else an error)
  std::vector<ArtifactDigests> materials;  // may be empty
  std::string builder_id;                  // "" when the predicate names none
  // Build finish (else start) time from an SLSA predicate; InfinitePast when
  // the predicate has none, meaning "unknown" (the store substitutes the
  // ingest time).
  absl::Time time = absl::InfinitePast();
  // Digests and artifacts that were dropped, each naming its field
  // (docs/ingest.md, "Digest rules").
  std::vector<std::string> warnings;
};

// Parses an in-toto Statement v0.1/v1 (SLSA provenance v0.1/v0.2/v1
// predicates contribute materials, builder and time; other predicates only
// subjects) or an in-toto v0.9 link payload ({"_type": "link", ...}: products
// become subjects). Dispatch is on predicateType, not on the statement
// version. InvalidArgument when no subject keeps a usable digest.
absl::StatusOr<StatementContent> ParseStatement(std::string_view json, const IngestLimits& limits);

// A classic in-toto v0.9 link metablock: {"signed": {...}, "signatures":
// [{"keyid", "sig" (hex)}]}.
struct LinkMetablock {
  std::string canonical_signed;  // canonical JSON of "signed": the signed bytes
  std::vector<EnvelopeSignature> signatures;
  StatementContent content;
};

absl::StatusOr<LinkMetablock> ParseLink(std::string_view json, const IngestLimits& limits);

// Canonical JSON of a whole document, as in-toto signs links (sorted keys, no
// whitespace, only '"' and '\' escaped, integers only). InvalidArgument for
// invalid JSON, floats or duplicate keys.
absl::StatusOr<std::string> CanonicalJson(std::string_view json);

}  // namespace lineage::ingest
