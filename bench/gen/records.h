// The synthetic chain's attestations as the store ingests them: one verified
// AttestationRecord per SyntheticAttestation, for loading a store directly
// (Store::BulkLoad or IngestBatch) without signing and verifying envelopes.
#pragma once

#include <cstddef>
#include <vector>

#include "bench/gen/supply_chain.h"
#include "engine/include/lineage/attestation.h"

namespace lineage::bench {

// Record i describes chain.attestations[i]: its subject and materials by
// their refs, one signer (the key's ref, algorithm ecdsa-p256-sha256), the
// builder's id and the build time. The id is the subject's hex digest (one
// attestation per subject, so ids are unique); raw is empty. Records are as
// the ingest library would produce for an in-toto v1 statement with an SLSA
// provenance v1 predicate in a DSSE envelope.
AttestationRecord ToRecord(const SupplyChain& chain, size_t i);
std::vector<AttestationRecord> ToRecords(const SupplyChain& chain);

}  // namespace lineage::bench
