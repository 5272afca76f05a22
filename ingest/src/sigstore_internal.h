// Internal entry points shared by the Sigstore code and verify.cc. Not part
// of the public API.
#pragma once

#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "engine/include/lineage/attestation.h"
#include "ingest/include/lineage/ingest/ingest.h"
#include "ingest/include/lineage/ingest/parse.h"
#include "ingest/include/lineage/ingest/sigstore.h"
#include "ingest/include/lineage/ingest/trust_policy.h"

#include <simdjson.h>

namespace lineage::ingest::internal {

// RFC 3339 with optional fractional seconds ("2021-03-07T03:20:29.000Z").
absl::StatusOr<absl::Time> ParseRfc3339(std::string_view text);

// As ParseBundle, on an already-parsed object.
absl::StatusOr<SigstoreBundle> ParseBundleObject(const simdjson::dom::object& object,
                                                 const IngestLimits& limits);

// Verifies one Sigstore bundle and turns its content into a record (see
// docs/trust-policy.md, "Keyless verification"). `raw` is stored with it.
ItemResult VerifyBundle(std::string_view source, const simdjson::dom::object& object,
                        std::string raw, const TrustPolicy& policy, const IngestOptions& options);

// Verifies a bundle already parsed (or assembled from another container,
// such as cosign's OCI annotations).
ItemResult VerifyParsedBundle(std::string_view source, const SigstoreBundle& bundle,
                              std::string raw, const TrustPolicy& policy,
                              const IngestOptions& options);

// npm's registry wrapper {"attestations": [{"predicateType", "bundle"}]}:
// one item per bundle, source "file#attestations[i]".
void VerifyNpmAttestations(std::string_view source, const simdjson::dom::object& wrapper,
                           const TrustPolicy& policy, const IngestOptions& options,
                           std::vector<ItemResult>* out);

// True for a cosign attestation manifest: an OCI image manifest whose layers
// are DSSE envelopes with dev.sigstore.cosign/* annotations.
bool IsCosignAttestationManifest(const simdjson::dom::object& object);

// Verifies each DSSE layer of a cosign attestation manifest, fetching the
// layer blob through options.blob_lookup.
void VerifyCosignManifest(std::string_view source, const simdjson::dom::object& manifest,
                          const TrustPolicy& policy, const IngestOptions& options,
                          std::vector<ItemResult>* out);

// The key-policy signature check of verify.cc (docs/trust-policy.md, "How
// signatures are counted"), shared with public-key bundles.
absl::Status VerifySignatures(const std::vector<EnvelopeSignature>& signatures,
                              std::string_view signed_bytes,
                              std::optional<std::string_view> raw_payload,
                              const TrustPolicy& policy, std::vector<VerifiedSigner>* signers,
                              std::vector<std::string>* warnings);

// Fills the record from a verified envelope's payload: the payload type must
// be in-toto, and the statement must parse.
absl::Status FillFromPayload(const DsseEnvelope& envelope, const IngestLimits& limits,
                             AttestationRecord* record, std::vector<std::string>* warnings);

ItemResult Failed(std::string_view source, const absl::Status& status,
                  std::vector<std::string> warnings = {});

}  // namespace lineage::ingest::internal
