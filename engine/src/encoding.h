// On-disk key and value encodings of the store (docs/storage.md is the
// reference; keep the two in step).
//
// Integers are fixed-width big-endian so that the byte order of keys is their
// numeric order and prefix scans over (node id) or (node id, edge kind) work.
// Decoders never trust their input: they return false on a short or malformed
// buffer and the caller reports DataLoss.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "absl/time/time.h"
#include "engine/include/lineage/attestation.h"
#include "engine/include/lineage/types.h"

namespace lineage::internal {

// Bumped on any incompatible change to the encodings below.
inline constexpr uint32_t kFormatVersion = 1;

// Column family names.
inline constexpr char kCfIds[] = "ids";
inline constexpr char kCfNodes[] = "nodes";
inline constexpr char kCfAliases[] = "aliases";
inline constexpr char kCfOut[] = "out";
inline constexpr char kCfIn[] = "in";
inline constexpr char kCfAttestations[] = "attestations";
inline constexpr char kCfAttestationNumbers[] = "attestation_numbers";
inline constexpr char kCfMeta[] = "meta";
// Revocation state (docs/storage.md, "Revocations"): reviewed plans, enforced
// revocations, the deny-list log (which also journals taint), evidence and
// the hash-chained audit log.
inline constexpr char kCfPlans[] = "plans";
inline constexpr char kCfRevocations[] = "revocations";
inline constexpr char kCfDenyLog[] = "deny_log";
inline constexpr char kCfEvidence[] = "evidence";
inline constexpr char kCfAudit[] = "audit";
// The current workload inventory of each cluster.
inline constexpr char kCfInventories[] = "inventories";

// Keys of the `meta` column family.
inline constexpr char kMetaFormatVersion[] = "format_version";
// All counters in one value (one Put per WriteBatch: a key per counter would
// put a dozen versions into the memtable on every write).
inline constexpr char kMetaCounters[] = "counters";

// The `counters` value: kCounterCount fixed64 fields in this order.
struct Counters {
  uint64_t next_node_id = 0;
  uint64_t next_attestation = 0;
  uint64_t edge_assertions = 0;
  uint64_t attestations = 0;
  uint64_t unsigned_attestations = 0;
  uint64_t nodes_by_kind[kNodeKindCount] = {};  // index: kind - 1
  uint64_t edges_by_kind[kEdgeKindCount] = {};  // distinct (src, kind, dst)
};
inline constexpr size_t kCounterCount = 5 + kNodeKindCount + kEdgeKindCount;
std::string EncodeCounters(const Counters& c);
bool DecodeCounters(std::string_view in, Counters* c);

void PutFixed32(std::string* dst, uint32_t v);
void PutFixed64(std::string* dst, uint64_t v);
uint32_t DecodeFixed32(const char* p);
uint64_t DecodeFixed64(const char* p);
std::string EncodeFixed64(uint64_t v);

// Length-prefixed (fixed32) byte string.
void PutLengthPrefixed(std::string* dst, std::string_view s);

// Reads from the front of *in and advances it; false on a short buffer.
bool GetFixed32(std::string_view* in, uint32_t* v);
bool GetFixed64(std::string_view* in, uint64_t* v);
bool GetLengthPrefixed(std::string_view* in, std::string_view* s);

// Times are stored as signed microseconds since the Unix epoch (two's
// complement in a fixed64); the infinite past and future saturate.
int64_t TimeToMicros(absl::Time t);
absl::Time MicrosToTime(int64_t micros);

// `nodes` value: kind (1 byte) + canonical ref bytes.
std::string EncodeNodeValue(NodeKind kind, std::string_view ref);
bool DecodeNodeValue(std::string_view in, NodeKind* kind, std::string_view* ref);

// `out` key: src(8) kind(1) dst(8) attestation(8); `in` key: dst(8) kind(1)
// src(8) attestation(8). `near` is the node the key is filed under.
inline constexpr size_t kEdgeKeySize = 25;
struct EdgeKey {
  uint64_t near = 0;
  EdgeKind kind = EdgeKind::kDerived;
  uint64_t far = 0;
  uint64_t attestation = 0;
};
std::string EncodeEdgeKey(const EdgeKey& key);
bool DecodeEdgeKey(std::string_view in, EdgeKey* key);
// Value of both edge CFs: time as fixed64 micros.
std::string EncodeEdgeValue(absl::Time time);
bool DecodeEdgeValue(std::string_view in, absl::Time* time);

bool IsValidNodeKind(uint8_t kind);
bool IsValidEdgeKind(uint8_t kind);

// `attestations` value. `raw` is the record as received.
struct StoredAttestation {
  uint64_t number = 0;
  bool unsigned_ = false;
  absl::Time time = absl::InfinitePast();
  absl::Time ingested_at = absl::InfinitePast();
  std::string format;
  std::string payload_type;
  std::string statement_type;
  std::string predicate_type;
  std::string source;
  std::vector<std::string> signers;  // key refs, in the record's order
  // The evidence of each signer that has any (SignerEvidence), in signers
  // order. Values written before this existed (tag 1) decode with none.
  std::vector<SignerEvidence> evidence;
  std::string raw;
};
// Writes the current layout (tag 2). Every writer of `attestations` values
// (Ingest, IngestBatch, bulk loads) must go through this and SetSigners.
std::string EncodeAttestationValue(const StoredAttestation& a);
// Accepts tag 1 (no evidence) and tag 2 values.
bool DecodeAttestationValue(std::string_view in, StoredAttestation* a);

// Fills a->signers and a->evidence from a verified record's signers: every
// key ref, and the evidence of those that carry a certificate, a log index
// or a signing time.
void SetSigners(const std::vector<VerifiedSigner>& signers, StoredAttestation* a);

}  // namespace lineage::internal
