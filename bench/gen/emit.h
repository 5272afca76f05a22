// Signed attestations for the synthetic chain: DSSE envelopes holding in-toto
// v1 statements with SLSA provenance v1 predicates, signed with ECDSA P-256
// keys made by OpenSSL, and the trust policy that accepts them. For the
// ingest benchmarks, which must verify real signatures.
//
// Example:
//
//   SupplyChain chain = Generate({.artifacts = 100'000, .seed = 1});
//   absl::StatusOr<EmitResult> emitted = EmitAttestations(chain, {.out_dir = "out"});
//   // lineage ingest --policy out/policy.json out/attestations
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "bench/gen/supply_chain.h"

namespace lineage::bench {

struct EmitOptions {
  std::string out_dir;         // created if missing; files in it are replaced
  uint64_t attestations = 0;   // the first this many, in build order; 0: all
  uint32_t keys = 32;          // P-256 keys generated; see EmitResult::key_refs
  uint64_t per_file = 10'000;  // envelopes per JSONL file (and at most 16 MiB each)
};

struct EmitResult {
  uint64_t envelopes = 0;
  std::vector<std::string> files;  // the JSONL files, in order
  std::string policy;              // <out_dir>/policy.json
  // The generated keys' refs ("key:sha256:<fingerprint>"). The chain's key
  // of Zipf rank r signs with key_refs[r % key_refs.size()], so the busiest
  // chain key's attestations are all signed by key_refs[0] (among others').
  std::vector<std::string> key_refs;
};

// The statement (JSON) of chain.attestations[i]: subject with its sha256,
// resolvedDependencies = its materials (git commits as gitCommit digests),
// runDetails.builder.id and metadata.finishedOn = its time.
std::string StatementJson(const SupplyChain& chain, size_t i);

// Writes <out_dir>/attestations/NNNNN.jsonl (one envelope per line, each
// with one signature whose keyid is the signing key's fingerprint),
// <out_dir>/keys/key-N.pub (PEM), <out_dir>/policy.json (those keys,
// threshold 1; docs/trust-policy.md) and <out_dir>/key-map.tsv (chain key
// ref, then the ref of the key that signs for it). Each file is written to
// a temporary name and renamed. Returns InvalidArgument for bad options,
// Internal for an OpenSSL or file error, naming the file.
absl::StatusOr<EmitResult> EmitAttestations(const SupplyChain& chain, const EmitOptions& options);

}  // namespace lineage::bench
