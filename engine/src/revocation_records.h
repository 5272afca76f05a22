// On-disk records of revocation state: plans, revocations, deny-list log
// records, evidence and audit entries (docs/storage.md, "Revocations", is the
// reference; keep the two in step).
//
// Every record starts with a one-byte record version. Integers are
// fixed-width big-endian, strings length-prefixed (encoding.h), times signed
// microseconds, and node sets portable-format Roaring bitmaps of node ids.
// Decoders never trust their input: they return false on anything malformed
// and the caller reports DataLoss.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include <roaring/roaring.hh>

#include "absl/time/time.h"
#include "engine/include/lineage/revocation.h"

namespace lineage::internal {

inline constexpr uint8_t kRecordVersion = 1;

// Keys of the `meta` column family used by revocation.
inline constexpr char kMetaRevocationSettings[] = "revocation_settings";

struct StoredPlan {
  std::vector<RevocationRoot> roots;
  std::string reason;
  RevocationMode mode = RevocationMode::kEnforce;
  std::string created_by;
  absl::Time created_at = absl::InfinitePast();
  bool bulk = false;
  PlanState state = PlanState::kPending;
  std::string revocation;
  std::vector<Approval> approvals;
  Roaring artifacts;                         // node ids of the reviewed closure
  Roaring workloads;                         // node ids of the affected workloads
  std::vector<std::string> unknown_digests;  // digest roots not in the graph yet
  std::vector<RootSummary> per_root;
  std::vector<uint64_t> by_depth;
  uint64_t generation = 0;  // revocations enforced before this review
};

struct StoredRevocation {
  std::string plan_id;
  std::vector<RevocationRoot> roots;
  std::string reason;
  RevocationMode mode = RevocationMode::kEnforce;
  std::string created_by;
  std::vector<Approval> approvals;
  std::string enforced_by;
  absl::Time enforced_at = absl::InfinitePast();
  uint64_t enforced_seq = 0;
  RevocationState state = RevocationState::kActive;
  std::string lifted_by;
  absl::Time lifted_at = absl::InfiniteFuture();
  std::string lift_reason;
};

// One deny-list log record. It is also the journal of taint: a revocation's
// closure is the union of its `additions` over the log, so replaying the log
// on open restores every closure, including sticky growth.
struct DenyRecord {
  absl::Time time = absl::InfinitePast();
  std::string cause;
  std::vector<std::pair<uint64_t, Roaring>> additions;  // (revocation number, new closure nodes)
  Roaring denied_added;
  Roaring denied_removed;
  std::vector<uint64_t> lifted;  // revocation numbers lifted by this record
  // The rollback switch after this record: 0 unchanged, 1 off, 2 on.
  uint8_t advisory_only = 0;
};

struct StoredEvidence {
  std::string action;
  std::string actor;
  absl::Time time = absl::InfinitePast();
  std::string plan_id;
  std::string revocation;
  std::vector<RevocationRoot> roots;
  std::string reason;
  RevocationMode mode = RevocationMode::kEnforce;
  Roaring artifacts;
  std::vector<std::string> unknown_digests;
  Roaring workloads;
  absl::Duration duration;
  uint64_t deny_seq = 0;
  std::string details;
};

struct StoredAudit {
  absl::Time time = absl::InfinitePast();
  std::string actor;
  std::string action;
  std::string subject;
  std::string evidence_hash;  // hex
  std::string prev_hash;      // hex
  std::string hash;           // hex
};

std::string EncodePlan(const StoredPlan& p);
bool DecodePlan(std::string_view in, StoredPlan* p);
std::string EncodeRevocation(const StoredRevocation& r);
bool DecodeRevocation(std::string_view in, StoredRevocation* r);
std::string EncodeDenyRecord(const DenyRecord& d);
bool DecodeDenyRecord(std::string_view in, DenyRecord* d);
std::string EncodeEvidence(const StoredEvidence& e);
bool DecodeEvidence(std::string_view in, StoredEvidence* e);
std::string EncodeAudit(const StoredAudit& a);
bool DecodeAudit(std::string_view in, StoredAudit* a);
std::string EncodeSettings(const RevocationSettings& s);
bool DecodeSettings(std::string_view in, RevocationSettings* s);

// The bytes an audit entry's hash covers: everything but the hash itself, with
// its sequence number, so that moving an entry changes its hash.
std::string AuditHashInput(uint64_t seq, const StoredAudit& a);

// Lower-case hex SHA-256 of `data`.
std::string Sha256Hex(std::string_view data);

// "rev-<n>" and back; ParseRevocationId returns 0 for anything else.
std::string RevocationId(uint64_t number);
uint64_t ParseRevocationId(std::string_view id);

}  // namespace lineage::internal
