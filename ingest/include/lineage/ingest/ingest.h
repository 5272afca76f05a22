// Parsing and verification of attestations: DSSE envelopes (JSON and
// .intoto.jsonl), in-toto Statements v0.1/v1 with SLSA provenance v0.1/v0.2/v1
// (and any other predicate, whose subjects are still recorded), in-toto v0.9
// link metadata (classic metablocks and DSSE-wrapped), and the Google Cloud
// Build wrapper that carries DSSE envelopes.
//
// Every input is untrusted. Sizes are bounded (IngestLimits); every error
// names the source and the field, e.g.
//   "build.intoto.jsonl:3: signatures[0]: ECDSA P-256 verification failed with
//    key key:sha256:ab12..."
//
// Example:
//
//   absl::StatusOr<TrustPolicy> policy = TrustPolicy::LoadFile("policy.json");
//   std::vector<ItemResult> items =
//       VerifyDocument("build.intoto.jsonl", contents, *policy, IngestOptions{});
//   for (const ItemResult& item : items)
//     if (item.record.ok()) store->Ingest(*item.record);
//
// Thread safety: free functions are reentrant; a TrustPolicy is immutable
// after loading and may be shared across threads.
#pragma once

#include <cstddef>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/statusor.h"
#include "engine/include/lineage/attestation.h"
#include "ingest/include/lineage/ingest/trust_policy.h"

namespace lineage::ingest {

// Upper bounds on untrusted input. Exceeding one is InvalidArgument naming the
// limit; nothing of the item is stored.
struct IngestLimits {
  size_t max_document_bytes = 32u << 20;  // one file, or one JSONL line
  size_t max_payload_bytes = 16u << 20;   // one decoded DSSE payload
  size_t max_subjects = 100000;
  size_t max_materials = 100000;
  size_t max_signatures = 32;
  size_t max_digests_per_artifact = 16;
  size_t max_items_per_document = 100000;  // JSONL lines or wrapper entries
};

struct IngestOptions {
  // Accept plain (unsigned) in-toto statements and links, recorded as
  // unsigned. Default: false; signed inputs are still verified when set.
  bool allow_unsigned = false;
  // Returns the bytes of the blob with canonical digest `digest`
  // ("sha256:<hex>"), or nullopt when unknown, for documents that name
  // content they do not hold: a cosign attestation manifest names its DSSE
  // envelope layer by digest. The bytes are checked against the digest.
  // Default: none, and such documents are rejected saying which blob is
  // missing. Called from the verifying thread only.
  std::function<std::optional<std::string>(std::string_view digest)> blob_lookup;
  IngestLimits limits;
};

// The verdict for one attestation found in a document.
struct ItemResult {
  std::string source;                        // "file", "file:LINE", or "file#provenance[i]"
  absl::StatusOr<AttestationRecord> record;  // verified record, or the rejection
  std::vector<std::string> warnings;         // e.g. skipped materials; see docs/ingest.md
};

// Finds, parses and verifies every attestation in one document. Dispatch is by
// content, not by file name: a JSON object that is a DSSE envelope, an in-toto
// link metablock, a plain Statement, or a Cloud Build wrapper; otherwise one
// JSON document per non-empty line (JSONL). `source_name` prefixes every
// error. A document that is none of these yields one failed item.
std::vector<ItemResult> VerifyDocument(std::string_view source_name, std::string_view content,
                                       const TrustPolicy& policy, const IngestOptions& options);

}  // namespace lineage::ingest
