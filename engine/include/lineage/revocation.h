// Revocation: what happens when a digest, a signing key or a builder is
// compromised.
//
// A responder first makes a Plan, a dry run: the closure (the root artifacts,
// or every subject the key signed / the builder built in a time window, plus
// every artifact derived from them), the affected running workloads and the
// counts, stored under an id that hashes what was reviewed. Bulk plans need
// two approvals by distinct principals other than the enforcer. Enforcing a
// plan creates a Revocation, taints its closure and appends the newly denied
// digests to the deny-list log that gates read. Lifting a revocation releases
// only what no other active revocation still covers.
//
// Taint is materialised (a gate check is a point lookup) and sticky: an
// attestation ingested later whose material is tainted, or that the revoked
// key signed or the revoked builder built inside the window, taints its
// subjects and their descendants in the same write batch as the attestation.
//
// Every plan, approval, enforcement, lift and settings change writes an
// evidence record and an audit entry chained by SHA-256 (VerifyAudit).
//
// Example:
//
//   lineage::PlanRequest request;
//   request.roots.push_back({"sha256:..."});
//   request.reason = "INC-42: compromised base image";
//   request.actor = "alice";
//   absl::StatusOr<lineage::Plan> plan = store->CreatePlan(request, {});
//   store->Approve(plan->id, "bob");
//   store->Approve(plan->id, "carol");
//   absl::StatusOr<lineage::EnforceResult> done =
//       store->Enforce(plan->id, {.actor = "dave"});
//   absl::StatusOr<lineage::CheckResult> verdict = store->Check("sha256:...", {});
//
// Semantics in full: docs/revocation.md.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "absl/time/time.h"
#include "engine/include/lineage/attestation.h"
#include "engine/include/lineage/types.h"

namespace lineage {

// kEnforce revocations deny; kAdvisory ones are reported by Check and Why but
// do not deny. The numeric values are part of the on-disk format.
enum class RevocationMode : uint8_t { kEnforce = 1, kAdvisory = 2 };
std::string_view RevocationModeName(RevocationMode mode);  // "enforce", "advisory"

// One root. `ref` is any accepted ref form of an artifact digest, a key or a
// builder (canonicalised when the plan is made). For keys and builders only
// subjects whose signed/built edge time (the attestation's signing or build
// time) lies in [since, until) are covered; digest roots ignore the window.
struct RevocationRoot {
  std::string ref;
  absl::Time since = absl::InfinitePast();
  absl::Time until = absl::InfiniteFuture();

  bool operator==(const RevocationRoot&) const = default;
};

struct PlanRequest {
  std::vector<RevocationRoot> roots;  // at least one, at most kMaxPlanRoots
  std::string reason;                 // required: shown to every blocked developer
  RevocationMode mode = RevocationMode::kEnforce;
  std::string actor;  // who made the plan; required
};

inline constexpr size_t kMaxPlanRoots = 100000;

// How much of a plan's closure to list. Counts are always complete.
struct PlanListing {
  size_t max_artifacts = SIZE_MAX;
  size_t max_workloads = SIZE_MAX;
};

// One root's own share of a plan.
struct RootSummary {
  std::string ref;  // canonical
  NodeKind kind = NodeKind::kArtifact;
  bool known = false;      // the root is in the graph
  uint64_t subjects = 0;   // key/builder roots: subjects signed/built in the window
  uint64_t artifacts = 0;  // artifacts in this root's own closure
  uint64_t shared = 0;     // of those, also in another root's closure
};

struct Approval {
  std::string principal;
  absl::Time time;
};

enum class PlanState : uint8_t { kPending = 1, kEnforced = 2 };

struct Plan {
  // Hex SHA-256 over the roots, windows, reason, mode and the sorted closure
  // and workloads: the same review always has the same id, and a plan whose
  // closure changed is a different review.
  std::string id;
  std::vector<RevocationRoot> roots;  // canonical refs
  std::string reason;
  RevocationMode mode = RevocationMode::kEnforce;
  std::string created_by;
  absl::Time created_at;

  std::vector<RootSummary> per_root;
  uint64_t artifact_count = 0;               // the union of the roots' closures
  std::vector<uint64_t> artifacts_by_depth;  // index: hops from the nearest root
  std::vector<std::string> artifacts;        // sorted; at most PlanListing::max_artifacts
  uint64_t workload_count = 0;
  std::vector<std::string> workloads;  // sorted; at most PlanListing::max_workloads

  // Needs approvals by two distinct principals other than the enforcer: a key
  // or builder root, or more artifacts than the bulk threshold.
  bool bulk = false;
  std::vector<Approval> approvals;
  PlanState state = PlanState::kPending;
  std::string revocation;  // the revocation it became, once enforced
};

struct EnforceOptions {
  std::string actor;  // required
  // Enforce even if the closure changed since the plan was reviewed (the
  // current closure is enforced and the difference is recorded as evidence).
  bool accept_changes = false;
};

// The difference between a plan's reviewed closure and the current one.
struct ClosureChange {
  uint64_t added = 0;
  uint64_t removed = 0;
  std::vector<std::string> added_sample;    // at most 20 refs
  std::vector<std::string> removed_sample;  // at most 20 refs
  uint64_t workloads_added = 0;
  uint64_t workloads_removed = 0;

  bool empty() const {
    return added == 0 && removed == 0 && workloads_added == 0 && workloads_removed == 0;
  }
};

enum class RevocationState : uint8_t { kActive = 1, kLifted = 2 };

struct Revocation {
  std::string id;  // "rev-<n>", n counting from 1
  std::string plan_id;
  std::vector<RevocationRoot> roots;
  std::string reason;
  RevocationMode mode = RevocationMode::kEnforce;
  std::string created_by;
  std::vector<Approval> approvals;
  std::string enforced_by;
  absl::Time enforced_at;
  uint64_t enforced_seq = 0;  // deny-list sequence of the enforcement
  RevocationState state = RevocationState::kActive;
  std::string lifted_by;
  absl::Time lifted_at = absl::InfiniteFuture();
  std::string lift_reason;
  uint64_t artifact_count = 0;  // current closure, including sticky taint
};

struct EnforceResult {
  // False when the closure changed and accept_changes was not given: nothing
  // was written and `change` says what differs.
  bool enforced = false;
  ClosureChange change;
  Revocation revocation;
  uint64_t newly_denied = 0;  // digests that entered the deny list
  uint64_t deny_seq = 0;      // the deny-list sequence after this enforcement
  std::vector<std::string> workloads;
  absl::Duration duration;  // plan recheck + durable write + install
};

struct LiftResult {
  Revocation revocation;
  uint64_t released = 0;       // digests that left the deny list
  uint64_t still_covered = 0;  // closure artifacts another active revocation keeps denied
  uint64_t deny_seq = 0;
};

// Database-wide revocation settings, persisted and audited.
struct RevocationSettings {
  // Rollback switch: while set, every revocation is treated as advisory and
  // the deny list is empty (a delta removes everything that was denied).
  bool advisory_only = false;
  // A plan with more artifacts than this is bulk. Default: 100.
  uint64_t bulk_threshold = 100;
};

enum class Verdict : uint8_t { kAllow = 1, kDeny = 2 };
std::string_view VerdictName(Verdict verdict);  // "ALLOW", "DENY"

// What a gate does with a digest the graph has never seen.
enum class UnknownPolicy : uint8_t { kAllow = 1, kWarn = 2, kDeny = 3 };

struct CheckOptions {
  UnknownPolicy unknown = UnknownPolicy::kWarn;
  // Answer as of this time, from the revocation history (slower: replays the
  // deny-list log). Default: now, from memory.
  std::optional<absl::Time> at;
};

struct CheckResult {
  std::string digest;  // canonical, as asked
  Verdict verdict = Verdict::kAllow;
  bool known = false;                   // the digest is in the graph
  std::vector<std::string> denied_by;   // active enforcing revocations covering it
  std::vector<std::string> advisories;  // advisory (or, in advisory-only mode, all) covering it
  bool advisory_only = false;           // the rollback switch is on
  std::vector<std::string> warnings;    // e.g. the digest is unknown
};

// One hop of a why-chain: an edge with the attestation that asserted it.
struct ChainHop {
  std::string from;
  std::string to;
  EdgeKind kind = EdgeKind::kDerived;
  std::string attestation;               // id
  std::vector<std::string> signers;      // of that attestation
  std::vector<SignerEvidence> evidence;  // of those signers, as AttestationSummary::evidence
  absl::Time time;                       // the edge's time
};

struct WhyReason {
  Revocation revocation;
  std::string root;             // the root the chain starts from
  std::vector<ChainHop> chain;  // root ... artifact; empty when the artifact is the root
  bool denies = false;          // false for advisory revocations
};

struct WhyResult {
  std::string artifact;
  bool known = false;
  CheckResult check;
  std::vector<WhyReason> reasons;  // one per active revocation covering it
  // Provenance, for a promotable artifact (and useful for a blocked one).
  uint64_t ancestor_artifacts = 0;
  std::vector<std::string> signers;  // keys that signed it directly
  // The evidence of each recorded direct signature (one per signer and
  // attestation: a keyless identity's certificate fingerprint and log index),
  // sorted by key ref, then signing time.
  std::vector<SignerEvidence> signer_evidence;
  std::vector<std::string> builders;      // builders that built it directly
  std::vector<std::string> materials;     // direct materials
  std::vector<std::string> attestations;  // ids asserting its incoming edges
};

// One change of the deny list. Sequence numbers start at 1 and have no gaps.
struct DenyDelta {
  uint64_t seq = 0;
  absl::Time time;
  std::string cause;  // "enforce rev-3", "lift rev-3", "ingest <attestation>", "settings"
  std::vector<std::string> added;    // digests now denied, sorted
  std::vector<std::string> removed;  // digests no longer denied, sorted
};

struct DenyListPage {
  uint64_t head_seq = 0;  // the latest sequence
  std::vector<DenyDelta> deltas;
  bool truncated = false;  // more deltas follow (ask again from the last seq)
};

struct DenyListSnapshot {
  uint64_t seq = 0;                  // the snapshot is the state after this delta
  std::vector<std::string> digests;  // sorted
};

// Evidence for auditors: one record per action.
struct EvidenceRecord {
  uint64_t seq = 0;    // its audit-log sequence
  std::string action;  // "plan", "approve", "enforce", "lift", "settings"
  std::string actor;
  absl::Time time;
  std::string plan_id;
  std::string revocation;
  std::vector<RevocationRoot> roots;
  std::string reason;
  RevocationMode mode = RevocationMode::kEnforce;
  std::vector<std::string> artifacts;  // the closure's digests at that moment
  std::vector<std::string> workloads;
  absl::Duration duration;
  uint64_t deny_seq = 0;
  std::string details;  // e.g. the accepted closure change
};

struct AuditEntry {
  uint64_t seq = 0;  // from 1, no gaps
  absl::Time time;
  std::string actor;
  std::string action;
  std::string subject;        // plan id or revocation id
  std::string evidence_hash;  // hex SHA-256 of the stored evidence record
  std::string prev_hash;      // hex; 64 zeros for the first entry
  std::string hash;           // hex SHA-256 over prev_hash and this entry
};

struct AuditVerification {
  bool ok = false;
  uint64_t entries = 0;
  std::string head_hash;              // anchor it elsewhere to detect truncation
  std::vector<std::string> problems;  // each names the sequence and what is wrong
};

}  // namespace lineage
