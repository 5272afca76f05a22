// Revocation: plans, approvals, enforcement, lift, settings, sticky taint,
// the gate check, why-chains and the deny-list log. Evidence and the audit
// chain are in audit.cc. Semantics: docs/revocation.md; encodings:
// docs/storage.md.
#include <algorithm>
#include <chrono>
#include <deque>
#include <mutex>
#include <shared_mutex>
#include <tuple>
#include <utility>

#include <rocksdb/db.h>
#include <rocksdb/iterator.h>

#include "absl/container/flat_hash_map.h"
#include "absl/status/status.h"
#include "absl/time/clock.h"

#include <fmt/format.h>

#include "engine/include/lineage/ref.h"
#include "engine/src/store_impl.h"

namespace lineage {

std::string_view RevocationModeName(RevocationMode mode) {
  return mode == RevocationMode::kAdvisory ? "advisory" : "enforce";
}

std::string_view VerdictName(Verdict verdict) {
  return verdict == Verdict::kDeny ? "DENY" : "ALLOW";
}

namespace internal {
namespace {

constexpr EdgeKindMask kDerivedOnly = EdgeKindMask::Of(EdgeKind::kDerived);
constexpr size_t kMaxPrincipalBytes = 256;
constexpr size_t kMaxReasonBytes = 4096;
constexpr size_t kChangeSample = 20;

absl::Status ValidateText(std::string_view text, std::string_view what, size_t max_bytes) {
  if (text.empty()) return absl::InvalidArgumentError(fmt::format("{} is required", what));
  if (text.size() > max_bytes) {
    return absl::InvalidArgumentError(fmt::format("{} is longer than {} bytes", what, max_bytes));
  }
  for (unsigned char c : text) {
    if ((c < 0x20 && c != '\t') || c == 0x7f) {
      return absl::InvalidArgumentError(fmt::format("{} has control characters", what));
    }
  }
  return absl::OkStatus();
}

bool InWindow(absl::Time t, absl::Time since, absl::Time until) {
  return since <= t && t < until;
}

std::vector<uint32_t> Ids(const Roaring& bitmap) {
  std::vector<uint32_t> ids(bitmap.cardinality());
  if (!ids.empty()) bitmap.toUint32Array(ids.data());
  return ids;
}

// Distinct principals that approved, other than `enforcer`.
size_t CountApprovers(const std::vector<Approval>& approvals, std::string_view enforcer) {
  std::vector<std::string_view> seen;
  for (const Approval& a : approvals) {
    if (a.principal == enforcer) continue;
    if (std::find(seen.begin(), seen.end(), a.principal) == seen.end()) seen.push_back(a.principal);
  }
  return seen.size();
}

double MillisSince(std::chrono::steady_clock::time_point start) {
  return std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - start)
      .count();
}

}  // namespace

absl::StatusOr<Roaring> StoreImpl::SubjectsInWindow(NodeId root, EdgeKind kind, absl::Time since,
                                                    absl::Time until) {
  std::string prefix = EncodeFixed64(root);
  prefix.push_back(static_cast<char>(kind));
  std::string upper = prefix;
  upper.back() = static_cast<char>(static_cast<uint8_t>(kind) + 1);
  rocksdb::Slice upper_slice(upper);
  rocksdb::ReadOptions read;
  read.iterate_upper_bound = &upper_slice;
  std::unique_ptr<rocksdb::Iterator> it(db_->NewIterator(read, cf(kOut)));

  Roaring subjects;
  for (it->Seek(prefix); it->Valid(); it->Next()) {
    EdgeKey key;
    absl::Time time;
    if (!DecodeEdgeKey(std::string_view(it->key().data(), it->key().size()), &key) ||
        !DecodeEdgeValue(std::string_view(it->value().data(), it->value().size()), &time) ||
        key.far >= kMaxNodes) {
      return absl::DataLossError(fmt::format("malformed edge record of node {}", root));
    }
    if (InWindow(time, since, until)) subjects.add(static_cast<uint32_t>(key.far));
  }
  if (!it->status().ok()) return FromRocks(it->status(), "scan signed/built edges");
  return subjects;
}

absl::StatusOr<Closure> StoreImpl::ComputeClosure(const std::vector<RevocationRoot>& roots) {
  Closure closure;
  std::vector<Roaring> seeds(roots.size());
  for (size_t i = 0; i < roots.size(); ++i) {
    const RevocationRoot& root = roots[i];
    absl::StatusOr<Ref> ref = ParseRef(root.ref);
    if (!ref.ok()) {
      return absl::InvalidArgumentError(
          fmt::format("roots[{}]: {}", i, std::string(ref.status().message())));
    }
    if (ref->kind == NodeKind::kWorkload) {
      return absl::InvalidArgumentError(
          fmt::format("roots[{}]: {} is a workload; revoke the artifact it runs", i, ref->text));
    }
    if (root.since >= root.until) {
      return absl::InvalidArgumentError(fmt::format("roots[{}]: since must be before until", i));
    }
    bool windowed = root.since != absl::InfinitePast() || root.until != absl::InfiniteFuture();
    if (ref->kind == NodeKind::kArtifact && windowed) {
      return absl::InvalidArgumentError(
          fmt::format("roots[{}]: a time window applies to key and builder roots, not to digest {}",
                      i, ref->text));
    }

    RevocationRoot canonical = root;
    canonical.ref = ref->text;
    RootSummary summary;
    summary.ref = ref->text;
    summary.kind = ref->kind;
    NodeId node = index_.Find(ref->text);
    summary.known = node != kNoNode && node < index_.node_count();
    // A root given under an alias is recorded under the node's canonical ref.
    if (summary.known) canonical.ref = summary.ref = std::string(index_.ref(node));

    bool duplicate =
        std::find(closure.roots.begin(), closure.roots.end(), canonical) != closure.roots.end();
    if (duplicate) continue;
    closure.roots.push_back(canonical);
    if (!summary.known) {
      if (ref->kind == NodeKind::kArtifact) closure.unknown_digests.push_back(ref->text);
    } else if (ref->kind == NodeKind::kArtifact) {
      seeds[closure.per_root.size()].add(node);
    } else {
      EdgeKind kind = ref->kind == NodeKind::kKey ? EdgeKind::kSigned : EdgeKind::kBuilt;
      absl::StatusOr<Roaring> subjects = SubjectsInWindow(node, kind, root.since, root.until);
      if (!subjects.ok()) return subjects.status();
      seeds[closure.per_root.size()] = *std::move(subjects);
      summary.subjects = seeds[closure.per_root.size()].cardinality();
    }
    closure.per_root.push_back(std::move(summary));
  }
  seeds.resize(closure.per_root.size());

  // Each root's own closure (the review shows them side by side), then the
  // union and which artifacts more than one root reaches.
  TraversalOptions derived;
  derived.edge_kinds = kDerivedOnly;
  Roaring once, twice;
  std::vector<Roaring> own(seeds.size());
  Roaring all_seeds;
  for (size_t i = 0; i < seeds.size(); ++i) {
    std::vector<NodeId> roots_i = Ids(seeds[i]);
    VisitResult visits = TraverseMany(index_.forward(), roots_i, derived, &colors_);
    std::vector<uint32_t> ids;
    ids.reserve(visits.nodes.size());
    for (const Visit& v : visits.nodes)
      ids.push_back(v.node);
    own[i].addMany(ids.size(), ids.data());
    closure.per_root[i].artifacts = own[i].cardinality();
    twice |= once & own[i];
    once |= own[i];
    all_seeds |= seeds[i];
    if (seeds.size() == 1) {
      for (const Visit& v : visits.nodes) {
        if (closure.by_depth.size() <= v.depth) closure.by_depth.resize(v.depth + 1);
        closure.by_depth[v.depth]++;
      }
    }
  }
  for (size_t i = 0; i < own.size(); ++i)
    closure.per_root[i].shared = own[i].and_cardinality(twice);
  for (const std::string& unknown : closure.unknown_digests) {
    for (RootSummary& r : closure.per_root) {
      if (r.ref == unknown) r.artifacts = 1;
    }
  }
  closure.artifacts = std::move(once);

  if (seeds.size() > 1) {
    // Depth from the nearest root needs one traversal from all of them.
    std::vector<NodeId> roots_all = Ids(all_seeds);
    VisitResult visits = TraverseMany(index_.forward(), roots_all, derived, &colors_);
    for (const Visit& v : visits.nodes) {
      if (closure.by_depth.size() <= v.depth) closure.by_depth.resize(v.depth + 1);
      closure.by_depth[v.depth]++;
    }
  }
  if (!closure.unknown_digests.empty()) {
    if (closure.by_depth.empty()) closure.by_depth.resize(1);
    closure.by_depth[0] += closure.unknown_digests.size();
  }

  std::vector<NodeId> workloads =
      RunningWorkloads([&](NodeId n) { return closure.artifacts.contains(n); });
  closure.workloads.addMany(workloads.size(), workloads.data());
  return closure;
}

namespace {

// The plan id: what was reviewed, against which revocation generation.
std::string PlanHashInput(const Closure& c, const PlanRequest& request, uint64_t generation) {
  std::string in = "lineage-plan-v1";
  PutFixed64(&in, generation);
  PutFixed32(&in, static_cast<uint32_t>(c.roots.size()));
  for (const RevocationRoot& r : c.roots) {
    PutLengthPrefixed(&in, r.ref);
    PutFixed64(&in, static_cast<uint64_t>(TimeToMicros(r.since)));
    PutFixed64(&in, static_cast<uint64_t>(TimeToMicros(r.until)));
  }
  PutLengthPrefixed(&in, request.reason);
  in.push_back(static_cast<char>(request.mode));
  for (uint32_t id : Ids(c.artifacts))
    PutFixed32(&in, id);
  in.push_back('|');
  for (const std::string& d : c.unknown_digests)
    PutLengthPrefixed(&in, d);
  in.push_back('|');
  for (uint32_t id : Ids(c.workloads))
    PutFixed32(&in, id);
  return in;
}

}  // namespace

std::vector<std::string> StoreImpl::RefsOf(const Roaring& ids, size_t max) {
  std::vector<std::string> refs;
  refs.reserve(std::min<uint64_t>(ids.cardinality(), max == SIZE_MAX ? ids.cardinality() : max));
  {
    std::shared_lock lock(index_mu_);
    for (uint32_t id : ids) {
      if (id < index_.node_count()) refs.emplace_back(index_.ref(id));
    }
  }
  std::sort(refs.begin(), refs.end());
  if (refs.size() > max) refs.resize(max);
  return refs;
}

Plan StoreImpl::ToPlan(std::string_view id, const StoredPlan& stored, const PlanListing& listing) {
  Plan plan;
  plan.id = std::string(id);
  plan.roots = stored.roots;
  plan.reason = stored.reason;
  plan.mode = stored.mode;
  plan.created_by = stored.created_by;
  plan.created_at = stored.created_at;
  plan.per_root = stored.per_root;
  plan.artifact_count = stored.artifacts.cardinality() + stored.unknown_digests.size();
  plan.artifacts_by_depth = stored.by_depth;
  if (listing.max_artifacts > 0) {
    plan.artifacts = RefsOf(stored.artifacts, SIZE_MAX);
    plan.artifacts.insert(plan.artifacts.end(), stored.unknown_digests.begin(),
                          stored.unknown_digests.end());
    std::sort(plan.artifacts.begin(), plan.artifacts.end());
    if (plan.artifacts.size() > listing.max_artifacts) plan.artifacts.resize(listing.max_artifacts);
  }
  plan.workload_count = stored.workloads.cardinality();
  if (listing.max_workloads > 0) plan.workloads = RefsOf(stored.workloads, listing.max_workloads);
  plan.bulk = stored.bulk;
  plan.approvals = stored.approvals;
  plan.state = stored.state;
  plan.revocation = stored.revocation;
  return plan;
}

Revocation StoreImpl::ToRevocation(uint64_t number, const StoredRevocation& r, uint64_t artifacts) {
  Revocation rev;
  rev.id = RevocationId(number);
  rev.plan_id = r.plan_id;
  rev.roots = r.roots;
  rev.reason = r.reason;
  rev.mode = r.mode;
  rev.created_by = r.created_by;
  rev.approvals = r.approvals;
  rev.enforced_by = r.enforced_by;
  rev.enforced_at = r.enforced_at;
  rev.enforced_seq = r.enforced_seq;
  rev.state = r.state;
  rev.lifted_by = r.lifted_by;
  rev.lifted_at = r.lifted_at;
  rev.lift_reason = r.lift_reason;
  rev.artifact_count = artifacts;
  return rev;
}

absl::StatusOr<StoredPlan> StoreImpl::ReadPlan(std::string_view plan_id) {
  std::string value;
  rocksdb::Status s = db_->Get(rocksdb::ReadOptions(), cf(kPlans),
                               rocksdb::Slice(plan_id.data(), plan_id.size()), &value);
  if (s.IsNotFound()) return absl::NotFoundError(fmt::format("no plan {}", plan_id));
  if (!s.ok()) return FromRocks(s, "read plan");
  StoredPlan plan;
  if (!DecodePlan(value, &plan)) {
    return absl::DataLossError(fmt::format("plan {} is malformed", plan_id));
  }
  return plan;
}

absl::StatusOr<StoredRevocation> StoreImpl::ReadRevocation(uint64_t number) {
  std::string value;
  rocksdb::Status s =
      db_->Get(rocksdb::ReadOptions(), cf(kRevocations), EncodeFixed64(number), &value);
  if (s.IsNotFound()) {
    return absl::NotFoundError(fmt::format("no revocation {}", RevocationId(number)));
  }
  if (!s.ok()) return FromRocks(s, "read revocation");
  StoredRevocation r;
  if (!DecodeRevocation(value, &r)) {
    return absl::DataLossError(fmt::format("revocation {} is malformed", RevocationId(number)));
  }
  return r;
}

uint64_t StoreImpl::AppendDenyRecord(PendingBatch* pb, const DenyRecord& record) {
  if (pb->deny_seq == 0) pb->deny_seq = deny_seq_;
  uint64_t seq = ++pb->deny_seq;
  pb->batch.Put(cf(kDenyLog), EncodeFixed64(seq), EncodeDenyRecord(record));
  pb->deny_changed = true;
  pb->install_taint.push_back([this, seq] { deny_seq_ = seq; });
  return seq;
}

absl::StatusOr<Plan> StoreImpl::CreatePlan(const PlanRequest& request, const PlanListing& listing) {
  if (read_only_) return absl::FailedPreconditionError("the store was opened read-only");
  if (request.roots.empty()) return absl::InvalidArgumentError("a plan needs at least one root");
  if (request.roots.size() > kMaxPlanRoots) {
    return absl::InvalidArgumentError(fmt::format("a plan holds at most {} roots", kMaxPlanRoots));
  }
  if (absl::Status s = ValidateText(request.reason, "reason", kMaxReasonBytes); !s.ok()) return s;
  if (absl::Status s = ValidateText(request.actor, "actor", kMaxPrincipalBytes); !s.ok()) return s;
  if (request.mode != RevocationMode::kEnforce && request.mode != RevocationMode::kAdvisory) {
    return absl::InvalidArgumentError("unknown revocation mode");
  }
  auto start = std::chrono::steady_clock::now();

  std::lock_guard lock(write_mu_);
  absl::StatusOr<Closure> closure = ComputeClosure(request.roots);
  if (!closure.ok()) return closure.status();
  std::string id = Sha256Hex(PlanHashInput(*closure, request, next_revocation_));

  // The same review against the same state is the same plan, approvals and
  // all.
  absl::StatusOr<StoredPlan> existing = ReadPlan(id);
  if (existing.ok()) return ToPlan(id, *existing, listing);
  if (!absl::IsNotFound(existing.status())) return existing.status();

  StoredPlan plan;
  plan.roots = closure->roots;
  plan.reason = request.reason;
  plan.mode = request.mode;
  plan.created_by = request.actor;
  plan.created_at = Now();
  plan.bulk = closure->artifact_count() > settings_.bulk_threshold ||
              std::any_of(closure->per_root.begin(), closure->per_root.end(),
                          [](const RootSummary& r) { return r.kind != NodeKind::kArtifact; });
  plan.artifacts = closure->artifacts;
  plan.workloads = closure->workloads;
  plan.unknown_digests = closure->unknown_digests;
  plan.per_root = closure->per_root;
  plan.by_depth = closure->by_depth;
  plan.generation = next_revocation_;

  PendingBatch pb(counters_);
  pb.batch.Put(cf(kPlans), id, EncodePlan(plan));
  StoredEvidence evidence;
  evidence.action = "plan";
  evidence.actor = request.actor;
  evidence.time = plan.created_at;
  evidence.plan_id = id;
  evidence.roots = plan.roots;
  evidence.reason = plan.reason;
  evidence.mode = plan.mode;
  evidence.artifacts = plan.artifacts;
  evidence.unknown_digests = plan.unknown_digests;
  evidence.workloads = plan.workloads;
  evidence.duration = absl::FromChrono(std::chrono::steady_clock::now() - start);
  evidence.deny_seq = deny_seq_;
  evidence.details = plan.bulk ? "bulk: needs two approvals" : "";
  AppendAudit(&pb, evidence, id);
  if (absl::Status s = Commit(&pb); !s.ok()) return s;
  LINEAGE_LOG(logger_.get(), kInfo,
              "plan {} by {}: {} roots, {} artifacts, {} workloads in {:.1f} ms", id.substr(0, 12),
              request.actor, plan.roots.size(), closure->artifact_count(),
              plan.workloads.cardinality(), MillisSince(start));
  return ToPlan(id, plan, listing);
}

absl::StatusOr<Plan> StoreImpl::GetPlan(std::string_view plan_id, const PlanListing& listing) {
  absl::StatusOr<StoredPlan> plan = ReadPlan(plan_id);
  if (!plan.ok()) return plan.status();
  return ToPlan(plan_id, *plan, listing);
}

absl::StatusOr<std::vector<Plan>> StoreImpl::ListPlans() {
  std::vector<Plan> plans;
  std::unique_ptr<rocksdb::Iterator> it(db_->NewIterator(rocksdb::ReadOptions(), cf(kPlans)));
  for (it->SeekToFirst(); it->Valid(); it->Next()) {
    StoredPlan stored;
    std::string id = it->key().ToString();
    if (!DecodePlan(std::string_view(it->value().data(), it->value().size()), &stored)) {
      return absl::DataLossError(fmt::format("plan {} is malformed", id));
    }
    plans.push_back(ToPlan(id, stored, PlanListing{0, 0}));
  }
  if (!it->status().ok()) return FromRocks(it->status(), "scan plans");
  std::sort(plans.begin(), plans.end(),
            [](const Plan& a, const Plan& b) { return a.created_at > b.created_at; });
  return plans;
}

absl::StatusOr<Plan> StoreImpl::Approve(std::string_view plan_id, std::string_view principal) {
  if (read_only_) return absl::FailedPreconditionError("the store was opened read-only");
  if (absl::Status s = ValidateText(principal, "principal", kMaxPrincipalBytes); !s.ok()) return s;
  std::lock_guard lock(write_mu_);
  absl::StatusOr<StoredPlan> plan = ReadPlan(plan_id);
  if (!plan.ok()) return plan.status();
  if (plan->state == PlanState::kEnforced) {
    return absl::FailedPreconditionError(
        fmt::format("plan {} is already enforced as {}", plan_id, plan->revocation));
  }
  for (const Approval& a : plan->approvals) {
    if (a.principal == principal) {
      return absl::AlreadyExistsError(
          fmt::format("{} already approved plan {}", principal, plan_id));
    }
  }
  Approval approval{std::string(principal), Now()};
  plan->approvals.push_back(approval);

  PendingBatch pb(counters_);
  pb.batch.Put(cf(kPlans), rocksdb::Slice(plan_id.data(), plan_id.size()), EncodePlan(*plan));
  StoredEvidence evidence;
  evidence.action = "approve";
  evidence.actor = approval.principal;
  evidence.time = approval.time;
  evidence.plan_id = std::string(plan_id);
  evidence.roots = plan->roots;
  evidence.reason = plan->reason;
  evidence.mode = plan->mode;
  evidence.deny_seq = deny_seq_;
  evidence.details = fmt::format("approval {} of {}", plan->approvals.size(),
                                 plan->bulk ? "2 required" : "none required");
  AppendAudit(&pb, evidence, plan_id);
  if (absl::Status s = Commit(&pb); !s.ok()) return s;
  return ToPlan(plan_id, *plan, PlanListing{0, 0});
}

absl::StatusOr<EnforceResult> StoreImpl::Enforce(std::string_view plan_id,
                                                 const EnforceOptions& options) {
  if (read_only_) return absl::FailedPreconditionError("the store was opened read-only");
  if (absl::Status s = ValidateText(options.actor, "actor", kMaxPrincipalBytes); !s.ok()) return s;
  auto start = std::chrono::steady_clock::now();

  std::lock_guard lock(write_mu_);
  absl::StatusOr<StoredPlan> plan = ReadPlan(plan_id);
  if (!plan.ok()) return plan.status();
  if (plan->state == PlanState::kEnforced) {
    return absl::FailedPreconditionError(
        fmt::format("plan {} is already enforced as {}", plan_id, plan->revocation));
  }

  absl::StatusOr<Closure> closure = ComputeClosure(plan->roots);
  if (!closure.ok()) return closure.status();

  EnforceResult result;
  // A digest root that was unknown when reviewed and has been ingested since
  // was reviewed: only what descends from it is new.
  Roaring reviewed = plan->artifacts;
  for (const std::string& d : plan->unknown_digests) {
    NodeId node = index_.Find(d);
    if (node != kNoNode && node < index_.node_count()) reviewed.add(node);
  }
  Roaring added = closure->artifacts - reviewed;
  Roaring removed = reviewed - closure->artifacts;
  result.change.added = added.cardinality();
  result.change.removed = removed.cardinality();
  result.change.added_sample = RefsOf(added, kChangeSample);
  result.change.removed_sample = RefsOf(removed, kChangeSample);
  result.change.workloads_added = (closure->workloads - plan->workloads).cardinality();
  result.change.workloads_removed = (plan->workloads - closure->workloads).cardinality();
  if (!result.change.empty() && !options.accept_changes) return result;

  // The approval rule is checked against what will actually be enforced: a
  // closure that grew past the bulk threshold needs approvals too.
  bool bulk = plan->bulk || closure->artifact_count() > settings_.bulk_threshold;
  size_t approvers = CountApprovers(plan->approvals, options.actor);
  if (bulk && approvers < 2) {
    return absl::PermissionDeniedError(fmt::format(
        "plan {} is a bulk revocation: it needs approvals by two distinct principals other than "
        "the enforcer {}; it has {}",
        plan_id, options.actor, approvers));
  }

  PendingBatch pb(counters_);
  // Digest roots that are still unknown become nodes, so that the deny list
  // holds them and an attestation naming them later is tainted at once.
  for (const std::string& d : closure->unknown_digests) {
    absl::StatusOr<NodeId> node = NewNode(NodeKind::kArtifact, d, &pb);
    if (!node.ok()) return node.status();
    closure->artifacts.add(*node);
  }

  uint64_t number = next_revocation_;
  std::string rev_id = RevocationId(number);
  absl::Time now = Now();
  StoredRevocation record;
  record.plan_id = std::string(plan_id);
  record.roots = plan->roots;
  record.reason = plan->reason;
  record.mode = plan->mode;
  record.created_by = plan->created_by;
  record.approvals = plan->approvals;
  record.enforced_by = options.actor;
  record.enforced_at = now;
  record.state = RevocationState::kActive;

  bool denies = plan->mode == RevocationMode::kEnforce && !settings_.advisory_only;
  DenyRecord deny;
  deny.time = now;
  deny.cause = fmt::format("enforce {}", rev_id);
  deny.additions.emplace_back(number, closure->artifacts);
  if (denies) deny.denied_added = closure->artifacts - denied_;
  record.enforced_seq = AppendDenyRecord(&pb, deny);
  pb.batch.Put(cf(kRevocations), EncodeFixed64(number), EncodeRevocation(record));

  plan->state = PlanState::kEnforced;
  plan->revocation = rev_id;
  pb.batch.Put(cf(kPlans), rocksdb::Slice(plan_id.data(), plan_id.size()), EncodePlan(*plan));

  StoredEvidence evidence;
  evidence.action = "enforce";
  evidence.actor = options.actor;
  evidence.time = now;
  evidence.plan_id = std::string(plan_id);
  evidence.revocation = rev_id;
  evidence.roots = plan->roots;
  evidence.reason = plan->reason;
  evidence.mode = plan->mode;
  evidence.artifacts = closure->artifacts;
  evidence.workloads = closure->workloads;
  evidence.duration = absl::FromChrono(std::chrono::steady_clock::now() - start);
  evidence.deny_seq = record.enforced_seq;
  evidence.details =
      result.change.empty()
          ? fmt::format("{} newly denied", deny.denied_added.cardinality())
          : fmt::format(
                "accepted closure change since review: +{} -{} artifacts, +{} -{} "
                "workloads; {} newly denied",
                result.change.added, result.change.removed, result.change.workloads_added,
                result.change.workloads_removed, deny.denied_added.cardinality());
  AppendAudit(&pb, evidence, rev_id);

  auto active = std::make_shared<ActiveRevocation>();
  active->number = number;
  active->record = record;
  active->closure = closure->artifacts;
  Roaring newly_denied = deny.denied_added;
  pb.install_taint.push_back([this, active, newly_denied] {
    covered_ |= active->closure;
    denied_ |= newly_denied;
    active_[active->number] = std::make_unique<ActiveRevocation>(std::move(*active));
  });
  if (absl::Status s = Commit(&pb); !s.ok()) return s;
  next_revocation_ = number + 1;

  result.enforced = true;
  result.revocation = ToRevocation(number, record, closure->artifacts.cardinality());
  result.newly_denied = newly_denied.cardinality();
  result.deny_seq = record.enforced_seq;
  result.workloads = RefsOf(closure->workloads, SIZE_MAX);
  result.duration = absl::FromChrono(std::chrono::steady_clock::now() - start);
  LINEAGE_LOG(logger_.get(), kInfo,
              "enforced {} (plan {}) by {}: {} artifacts, {} newly denied, deny seq {}, {} "
              "workloads, {:.1f} ms",
              rev_id, plan_id.substr(0, 12), options.actor, closure->artifacts.cardinality(),
              result.newly_denied, result.deny_seq, result.workloads.size(),
              absl::ToDoubleMilliseconds(result.duration));
  return result;
}

absl::StatusOr<LiftResult> StoreImpl::Lift(std::string_view revocation_id, std::string_view actor,
                                           std::string_view reason) {
  if (read_only_) return absl::FailedPreconditionError("the store was opened read-only");
  if (absl::Status s = ValidateText(actor, "actor", kMaxPrincipalBytes); !s.ok()) return s;
  if (absl::Status s = ValidateText(reason, "reason", kMaxReasonBytes); !s.ok()) return s;
  uint64_t number = ParseRevocationId(revocation_id);
  if (number == 0) {
    return absl::InvalidArgumentError(
        fmt::format("\"{}\" is not a revocation id (rev-<n>)", revocation_id));
  }
  auto start = std::chrono::steady_clock::now();

  std::lock_guard lock(write_mu_);
  auto found = active_.find(number);
  if (found == active_.end()) {
    absl::StatusOr<StoredRevocation> stored = ReadRevocation(number);
    if (!stored.ok()) return stored.status();
    return absl::FailedPreconditionError(
        fmt::format("{} was already lifted by {}", revocation_id, stored->lifted_by));
  }
  const ActiveRevocation& rev = *found->second;

  // What stays denied, and what any other revocation still covers.
  Roaring still_denied, still_covered;
  for (const auto& [n, other] : active_) {
    if (n == number) continue;
    still_covered |= other->closure;
    if (other->record.mode == RevocationMode::kEnforce && !settings_.advisory_only) {
      still_denied |= other->closure;
    }
  }
  Roaring released = denied_ - still_denied;

  absl::Time now = Now();
  StoredRevocation record = rev.record;
  record.state = RevocationState::kLifted;
  record.lifted_by = std::string(actor);
  record.lifted_at = now;
  record.lift_reason = std::string(reason);

  PendingBatch pb(counters_);
  DenyRecord deny;
  deny.time = now;
  deny.cause = fmt::format("lift {}", revocation_id);
  deny.denied_removed = released;
  deny.lifted.push_back(number);
  uint64_t seq = AppendDenyRecord(&pb, deny);
  pb.batch.Put(cf(kRevocations), EncodeFixed64(number), EncodeRevocation(record));

  StoredEvidence evidence;
  evidence.action = "lift";
  evidence.actor = std::string(actor);
  evidence.time = now;
  evidence.plan_id = record.plan_id;
  evidence.revocation = std::string(revocation_id);
  evidence.roots = record.roots;
  evidence.reason = std::string(reason);
  evidence.mode = record.mode;
  evidence.artifacts = released;
  evidence.duration = absl::FromChrono(std::chrono::steady_clock::now() - start);
  evidence.deny_seq = seq;
  uint64_t kept = rev.closure.and_cardinality(still_covered);
  evidence.details = fmt::format("{} released; {} still covered by another active revocation",
                                 released.cardinality(), kept);
  AppendAudit(&pb, evidence, revocation_id);

  pb.install_taint.push_back([this, number, still_denied, still_covered]() mutable {
    active_.erase(number);
    denied_ = std::move(still_denied);
    covered_ = std::move(still_covered);
  });
  uint64_t closure_size = rev.closure.cardinality();
  if (absl::Status s = Commit(&pb); !s.ok()) return s;

  LiftResult result;
  result.revocation = ToRevocation(number, record, closure_size);
  result.released = released.cardinality();
  result.still_covered = kept;
  result.deny_seq = seq;
  LINEAGE_LOG(logger_.get(), kInfo, "lifted {} by {}: {} released, {} still covered, deny seq {}",
              revocation_id, actor, result.released, kept, seq);
  return result;
}

absl::StatusOr<Revocation> StoreImpl::GetRevocation(std::string_view revocation_id) {
  uint64_t number = ParseRevocationId(revocation_id);
  if (number == 0) {
    return absl::InvalidArgumentError(
        fmt::format("\"{}\" is not a revocation id (rev-<n>)", revocation_id));
  }
  {
    std::shared_lock lock(taint_mu_);
    auto it = active_.find(number);
    if (it != active_.end()) {
      return ToRevocation(number, it->second->record, it->second->closure.cardinality());
    }
  }
  absl::StatusOr<StoredRevocation> stored = ReadRevocation(number);
  if (!stored.ok()) return stored.status();
  return ToRevocation(number, *stored, 0);
}

absl::StatusOr<std::vector<Revocation>> StoreImpl::ListRevocations() {
  std::vector<Revocation> list;
  std::unique_ptr<rocksdb::Iterator> it(db_->NewIterator(rocksdb::ReadOptions(), cf(kRevocations)));
  for (it->SeekToFirst(); it->Valid(); it->Next()) {
    if (it->key().size() != 8) return absl::DataLossError("malformed revocation key");
    uint64_t number = DecodeFixed64(it->key().data());
    StoredRevocation r;
    if (!DecodeRevocation(std::string_view(it->value().data(), it->value().size()), &r)) {
      return absl::DataLossError(fmt::format("revocation {} is malformed", RevocationId(number)));
    }
    uint64_t artifacts = 0;
    {
      std::shared_lock lock(taint_mu_);
      auto found = active_.find(number);
      if (found != active_.end()) artifacts = found->second->closure.cardinality();
    }
    list.push_back(ToRevocation(number, r, artifacts));
  }
  if (!it->status().ok()) return FromRocks(it->status(), "scan revocations");
  return list;
}

RevocationSettings StoreImpl::GetSettings() {
  std::shared_lock lock(taint_mu_);
  return settings_;
}

absl::Status StoreImpl::UpdateSettings(const RevocationSettings& settings, std::string_view actor,
                                       std::string_view reason) {
  if (read_only_) return absl::FailedPreconditionError("the store was opened read-only");
  if (absl::Status s = ValidateText(actor, "actor", kMaxPrincipalBytes); !s.ok()) return s;
  if (absl::Status s = ValidateText(reason, "reason", kMaxReasonBytes); !s.ok()) return s;
  std::lock_guard lock(write_mu_);
  if (settings.advisory_only == settings_.advisory_only &&
      settings.bulk_threshold == settings_.bulk_threshold) {
    return absl::OkStatus();
  }
  absl::Time now = Now();
  PendingBatch pb(counters_);
  pb.batch.Put(cf(kMeta), kMetaRevocationSettings, EncodeSettings(settings));

  // The rollback switch empties (or refills) the deny list: gates that hold
  // it follow the switch through ordinary deltas.
  Roaring new_denied = denied_;
  uint64_t seq = deny_seq_;
  if (settings.advisory_only != settings_.advisory_only) {
    DenyRecord deny;
    deny.time = now;
    deny.cause =
        settings.advisory_only ? "settings: advisory-only on" : "settings: advisory-only off";
    deny.advisory_only = settings.advisory_only ? 2 : 1;
    if (settings.advisory_only) {
      deny.denied_removed = denied_;
      new_denied = Roaring();
    } else {
      for (const auto& [n, rev] : active_) {
        if (rev->record.mode == RevocationMode::kEnforce) new_denied |= rev->closure;
      }
      deny.denied_added = new_denied - denied_;
    }
    seq = AppendDenyRecord(&pb, deny);
  }

  StoredEvidence evidence;
  evidence.action = "settings";
  evidence.actor = std::string(actor);
  evidence.time = now;
  evidence.reason = std::string(reason);
  evidence.deny_seq = seq;
  evidence.details = fmt::format(
      "advisory_only {} -> {}; bulk_threshold {} -> {}", settings_.advisory_only ? "on" : "off",
      settings.advisory_only ? "on" : "off", settings_.bulk_threshold, settings.bulk_threshold);
  AppendAudit(&pb, evidence, "settings");
  pb.install_taint.push_back([this, settings, new_denied]() mutable {
    settings_ = settings;
    denied_ = std::move(new_denied);
  });
  if (absl::Status s = Commit(&pb); !s.ok()) return s;
  LINEAGE_LOG(logger_.get(), kWarning, "settings changed by {}: {} ({})", actor, evidence.details,
              reason);
  return absl::OkStatus();
}

absl::Status StoreImpl::PrepareStickyTaint(PendingBatch* pb) {
  if (active_.empty() || pb->assertions.empty()) return absl::OkStatus();

  // Derived edges of this batch, which the index does not hold yet.
  absl::flat_hash_map<NodeId, std::vector<NodeId>> pending;
  for (const PendingBatch::Assertion& a : pb->assertions) {
    if (a.kind == EdgeKind::kDerived) pending[a.src].push_back(a.dst);
  }

  DenyRecord deny;
  std::vector<std::pair<uint64_t, Roaring>> growth;
  Roaring denied_now = denied_;
  for (const auto& [number, rev] : active_) {
    // The revoked keys and builders, with their windows, as nodes (a key may
    // be new in this very batch).
    struct Watch {
      NodeId node;
      EdgeKind kind;
      absl::Time since, until;
    };
    std::vector<Watch> watches;
    for (const RevocationRoot& root : rev->record.roots) {
      if (root.ref.rfind("key:", 0) != 0 && root.ref.rfind("builder:", 0) != 0) continue;
      absl::StatusOr<std::optional<uint64_t>> node = LookupRef(root.ref, pb);
      if (!node.ok()) return node.status();
      if (!*node) continue;
      EdgeKind kind = root.ref.rfind("key:", 0) == 0 ? EdgeKind::kSigned : EdgeKind::kBuilt;
      watches.push_back({static_cast<NodeId>(**node), kind, root.since, root.until});
    }

    Roaring added;
    auto covered = [&](NodeId n) { return rev->closure.contains(n) || added.contains(n); };
    std::vector<NodeId> stack;
    for (const PendingBatch::Assertion& a : pb->assertions) {
      if (a.kind == EdgeKind::kDerived) {
        if (covered(a.src) && !covered(a.dst)) stack.push_back(a.dst);
        continue;
      }
      for (const Watch& w : watches) {
        if (a.src == w.node && a.kind == w.kind && InWindow(a.time, w.since, w.until) &&
            !covered(a.dst)) {
          stack.push_back(a.dst);
        }
      }
    }
    // Everything derived from the newly tainted nodes, along the index's
    // edges and this batch's. Limitation: this walk is the one traversal not
    // run by Boost.Graph, because half of its edges are not in the index yet.
    DirectionView forward = index_.forward();
    while (!stack.empty()) {
      NodeId u = stack.back();
      stack.pop_back();
      if (covered(u)) continue;
      added.add(u);
      ForEachEdge(forward, u, kDerivedOnly, [&](NodeId v, EdgeKind) {
        if (!covered(v)) stack.push_back(v);
      });
      if (auto it = pending.find(u); it != pending.end()) {
        for (NodeId v : it->second) {
          if (!covered(v)) stack.push_back(v);
        }
      }
    }
    if (added.isEmpty()) continue;
    if (rev->record.mode == RevocationMode::kEnforce && !settings_.advisory_only) {
      Roaring fresh = added - denied_now;
      deny.denied_added |= fresh;
      denied_now |= fresh;
    }
    growth.emplace_back(number, added);
  }
  if (growth.empty()) return absl::OkStatus();

  deny.time = Now();
  // One record for the whole batch (IngestBatch, the daemon's group
  // commit): the cause says so rather than pin the taint on its first
  // attestation, which need not be the one that extended it.
  deny.cause = pb->attestations <= 1 ? fmt::format("ingest {}", pb->first_attestation)
                                     : fmt::format("ingest of {} attestations from {}",
                                                   pb->attestations, pb->first_attestation);
  deny.additions = growth;
  AppendDenyRecord(pb, deny);
  Roaring newly_denied = deny.denied_added;
  pb->install_taint.push_back([this, growth = std::move(growth), newly_denied] {
    for (const auto& [number, nodes] : growth) {
      auto it = active_.find(number);
      if (it == active_.end()) continue;
      it->second->closure |= nodes;
      covered_ |= nodes;
    }
    denied_ |= newly_denied;
  });
  return absl::OkStatus();
}

absl::StatusOr<CheckResult> StoreImpl::Check(std::string_view digest, const CheckOptions& options) {
  absl::StatusOr<Ref> ref = ParseRef(digest);
  if (!ref.ok()) return ref.status();
  if (ref->kind != NodeKind::kArtifact) {
    return absl::InvalidArgumentError(fmt::format("{} is a {} ref; check takes an artifact digest",
                                                  ref->text, NodeKindName(ref->kind)));
  }
  CheckResult result;
  result.digest = ref->text;
  NodeId node;
  {
    std::shared_lock lock(index_mu_);
    node = index_.Find(ref->text);
    if (node != kNoNode && node >= index_.node_count()) node = kNoNode;
  }
  result.known = node != kNoNode;
  if (!result.known) {
    switch (options.unknown) {
      case UnknownPolicy::kDeny:
        result.verdict = Verdict::kDeny;
        result.warnings.push_back("unknown digest: no attestation names it (policy: deny)");
        break;
      case UnknownPolicy::kWarn:
        result.warnings.push_back("unknown digest: no attestation names it (policy: warn)");
        break;
      case UnknownPolicy::kAllow:
        break;
    }
    std::shared_lock lock(taint_mu_);
    result.advisory_only = settings_.advisory_only;
    return result;
  }
  if (options.at) return CheckHistory(std::move(result), node, *options.at);

  std::shared_lock lock(taint_mu_);
  result.advisory_only = settings_.advisory_only;
  if (!covered_.contains(node)) return result;
  for (const auto& [number, rev] : active_) {
    if (!rev->closure.contains(node)) continue;
    if (rev->record.mode == RevocationMode::kEnforce && !settings_.advisory_only) {
      result.denied_by.push_back(RevocationId(number));
    } else {
      result.advisories.push_back(RevocationId(number));
    }
  }
  if (!result.denied_by.empty()) result.verdict = Verdict::kDeny;
  return result;
}

absl::StatusOr<CheckResult> StoreImpl::CheckHistory(CheckResult result, NodeId node,
                                                    absl::Time at) {
  // Replays the deny-list log up to `at`: which revocations covered the node
  // then, and whether it was on the deny list.
  std::map<uint64_t, RevocationMode> covering;
  bool denied = false;
  bool advisory_only = false;
  std::unique_ptr<rocksdb::Iterator> it(db_->NewIterator(rocksdb::ReadOptions(), cf(kDenyLog)));
  for (it->SeekToFirst(); it->Valid(); it->Next()) {
    DenyRecord record;
    if (!DecodeDenyRecord(std::string_view(it->value().data(), it->value().size()), &record)) {
      return absl::DataLossError("malformed deny-list record");
    }
    if (record.time > at) break;
    for (const auto& [number, nodes] : record.additions) {
      if (!nodes.contains(node) || covering.contains(number)) continue;
      absl::StatusOr<StoredRevocation> rev = ReadRevocation(number);
      if (!rev.ok()) return rev.status();
      covering[number] = rev->mode;
    }
    for (uint64_t number : record.lifted)
      covering.erase(number);
    if (record.denied_added.contains(node)) denied = true;
    if (record.denied_removed.contains(node)) denied = false;
    if (record.advisory_only != 0) advisory_only = record.advisory_only == 2;
  }
  if (!it->status().ok()) return FromRocks(it->status(), "scan deny-list log");
  result.advisory_only = advisory_only;
  for (const auto& [number, mode] : covering) {
    if (mode == RevocationMode::kEnforce && !advisory_only) {
      result.denied_by.push_back(RevocationId(number));
    } else {
      result.advisories.push_back(RevocationId(number));
    }
  }
  result.verdict = denied ? Verdict::kDeny : Verdict::kAllow;
  return result;
}

absl::StatusOr<ChainHop> StoreImpl::FindHop(NodeId from, EdgeKind kind, NodeId to, absl::Time since,
                                            absl::Time until) {
  // `in` keys are dst(8) kind(1) src(8) attestation(8): the edge's
  // assertions are one prefix, in attestation order.
  std::string prefix = EncodeEdgeKey({to, kind, from, 0}).substr(0, 17);
  std::unique_ptr<rocksdb::Iterator> it(db_->NewIterator(rocksdb::ReadOptions(), cf(kIn)));
  for (it->Seek(prefix); it->Valid() && it->key().starts_with(prefix); it->Next()) {
    EdgeKey key;
    absl::Time time;
    if (!DecodeEdgeKey(std::string_view(it->key().data(), it->key().size()), &key) ||
        !DecodeEdgeValue(std::string_view(it->value().data(), it->value().size()), &time)) {
      return absl::DataLossError(fmt::format("malformed edge record of node {}", to));
    }
    if (!InWindow(time, since, until)) continue;
    ChainHop hop;
    {
      std::shared_lock lock(index_mu_);
      hop.from = std::string(index_.ref(from));
      hop.to = std::string(index_.ref(to));
    }
    hop.kind = kind;
    hop.time = time;
    rocksdb::Status s = db_->Get(rocksdb::ReadOptions(), cf(kAttestationNumbers),
                                 EncodeFixed64(key.attestation), &hop.attestation);
    if (!s.ok()) return FromRocks(s, fmt::format("attestation number {}", key.attestation));
    absl::StatusOr<AttestationSummary> summary = GetAttestation(hop.attestation);
    if (!summary.ok()) return summary.status();
    hop.signers = summary->signers;
    hop.evidence = summary->evidence;
    return hop;
  }
  if (!it->status().ok()) return FromRocks(it->status(), "scan edges");
  return absl::DataLossError(fmt::format("edge {} -> {} is indexed but has no record", from, to));
}

absl::StatusOr<std::vector<ChainHop>> StoreImpl::ShortestChain(const ActiveRevocation& rev,
                                                               NodeId node, std::string* root) {
  // Where a chain may start: the digest roots, and each key/builder root's
  // subjects in its window (remembering which root reached them).
  struct Start {
    size_t root;
    NodeId via = kNoNode;  // the key or builder node, for the first hop
  };
  absl::flat_hash_map<NodeId, Start> starts;
  for (size_t i = 0; i < rev.record.roots.size(); ++i) {
    const RevocationRoot& r = rev.record.roots[i];
    NodeId root_node;
    {
      std::shared_lock lock(index_mu_);
      root_node = index_.Find(r.ref);
    }
    if (root_node == kNoNode) continue;
    if (r.ref.rfind("key:", 0) == 0 || r.ref.rfind("builder:", 0) == 0) {
      EdgeKind kind = r.ref.rfind("key:", 0) == 0 ? EdgeKind::kSigned : EdgeKind::kBuilt;
      absl::StatusOr<Roaring> subjects = SubjectsInWindow(root_node, kind, r.since, r.until);
      if (!subjects.ok()) return subjects.status();
      for (uint32_t s : *subjects)
        starts.try_emplace(s, Start{i, root_node});
    } else {
      starts.try_emplace(root_node, Start{i, kNoNode});
    }
  }

  // Breadth-first up the derived edges, inside the closure only, until a
  // start: the first one found is nearest.
  absl::flat_hash_map<NodeId, NodeId> child_of;  // node -> the node it was reached from
  std::deque<NodeId> queue{node};
  child_of[node] = kNoNode;
  NodeId found = kNoNode;
  {
    std::shared_lock lock(index_mu_);
    DirectionView reverse = index_.reverse();
    while (!queue.empty() && found == kNoNode) {
      NodeId u = queue.front();
      queue.pop_front();
      if (starts.contains(u)) {
        found = u;
        break;
      }
      ForEachEdge(reverse, u, kDerivedOnly, [&](NodeId parent, EdgeKind) {
        if (rev.closure.contains(parent) && child_of.try_emplace(parent, u).second) {
          queue.push_back(parent);
        }
      });
    }
  }
  if (found == kNoNode) {
    return absl::InternalError("no chain from the revocation's roots reaches the artifact");
  }

  const Start& start = starts.at(found);
  const RevocationRoot& r = rev.record.roots[start.root];
  *root = r.ref;
  std::vector<ChainHop> chain;
  if (start.via != kNoNode) {
    EdgeKind kind = r.ref.rfind("key:", 0) == 0 ? EdgeKind::kSigned : EdgeKind::kBuilt;
    absl::StatusOr<ChainHop> hop = FindHop(start.via, kind, found, r.since, r.until);
    if (!hop.ok()) return hop.status();
    chain.push_back(*std::move(hop));
  }
  for (NodeId u = found; child_of.at(u) != kNoNode; u = child_of.at(u)) {
    absl::StatusOr<ChainHop> hop = FindHop(u, EdgeKind::kDerived, child_of.at(u),
                                           absl::InfinitePast(), absl::InfiniteFuture());
    if (!hop.ok()) return hop.status();
    chain.push_back(*std::move(hop));
  }
  return chain;
}

absl::StatusOr<WhyResult> StoreImpl::Why(std::string_view digest) {
  CheckOptions options;
  options.unknown = UnknownPolicy::kAllow;
  absl::StatusOr<CheckResult> check = Check(digest, options);
  if (!check.ok()) return check.status();
  WhyResult result;
  result.artifact = check->digest;
  result.known = check->known;
  result.check = *check;
  if (!result.known) return result;

  NodeId node;
  std::vector<std::shared_ptr<ActiveRevocation>> covering;
  {
    // Copies, so that the chains are searched without holding taint_mu_.
    std::shared_lock taint(taint_mu_);
    std::shared_lock index(index_mu_);
    node = index_.Find(result.artifact);
    for (const auto& [number, rev] : active_) {
      if (rev->closure.contains(node)) covering.push_back(std::make_shared<ActiveRevocation>(*rev));
    }
  }
  for (const std::shared_ptr<ActiveRevocation>& rev : covering) {
    WhyReason reason;
    reason.revocation = ToRevocation(rev->number, rev->record, rev->closure.cardinality());
    reason.denies = std::find(check->denied_by.begin(), check->denied_by.end(),
                              reason.revocation.id) != check->denied_by.end();
    absl::StatusOr<std::vector<ChainHop>> chain = ShortestChain(*rev, node, &reason.root);
    if (!chain.ok()) return chain.status();
    reason.chain = *std::move(chain);
    result.reasons.push_back(std::move(reason));
  }

  // Provenance: what the artifact was made from and by whom.
  {
    std::shared_lock lock(index_mu_);
    DirectionView reverse = index_.reverse();
    ForEachEdge(reverse, node, EdgeKindMask::All(), [&](NodeId other, EdgeKind kind) {
      std::string ref(index_.ref(other));
      if (kind == EdgeKind::kSigned) result.signers.push_back(std::move(ref));
      if (kind == EdgeKind::kBuilt) result.builders.push_back(std::move(ref));
      if (kind == EdgeKind::kDerived) result.materials.push_back(std::move(ref));
    });
    TraversalOptions derived;
    derived.edge_kinds = kDerivedOnly;
    result.ancestor_artifacts = internal::Traverse(reverse, node, derived, &colors_).nodes.size();
  }
  for (std::vector<std::string>* list : {&result.signers, &result.builders, &result.materials})
    std::sort(list->begin(), list->end());
  absl::StatusOr<NodeInfo> info = Show(result.artifact);
  if (!info.ok()) return info.status();
  for (const EdgeInfo& e : info->in_edges) {
    if (std::find(result.attestations.begin(), result.attestations.end(), e.attestation) ==
        result.attestations.end()) {
      result.attestations.push_back(e.attestation);
    }
    if (e.evidence) result.signer_evidence.push_back(*e.evidence);
  }
  std::sort(result.signer_evidence.begin(), result.signer_evidence.end(),
            [](const SignerEvidence& a, const SignerEvidence& b) {
              return std::tie(a.key_ref, a.signed_at, a.log_index) <
                     std::tie(b.key_ref, b.signed_at, b.log_index);
            });
  return result;
}

absl::StatusOr<DenyListPage> StoreImpl::DenyListSince(uint64_t after_seq, size_t max_deltas) {
  DenyListPage page;
  {
    std::shared_lock lock(taint_mu_);
    page.head_seq = deny_seq_;
  }
  std::unique_ptr<rocksdb::Iterator> it(db_->NewIterator(rocksdb::ReadOptions(), cf(kDenyLog)));
  for (it->Seek(EncodeFixed64(after_seq + 1)); it->Valid(); it->Next()) {
    if (it->key().size() != 8) return absl::DataLossError("malformed deny-list key");
    uint64_t seq = DecodeFixed64(it->key().data());
    if (seq > page.head_seq) break;  // written, not yet installed
    if (page.deltas.size() == max_deltas) {
      page.truncated = true;
      break;
    }
    DenyRecord record;
    if (!DecodeDenyRecord(std::string_view(it->value().data(), it->value().size()), &record)) {
      return absl::DataLossError(fmt::format("deny-list record {} is malformed", seq));
    }
    DenyDelta delta;
    delta.seq = seq;
    delta.time = record.time;
    delta.cause = record.cause;
    delta.added = RefsOf(record.denied_added, SIZE_MAX);
    delta.removed = RefsOf(record.denied_removed, SIZE_MAX);
    page.deltas.push_back(std::move(delta));
  }
  if (!it->status().ok()) return FromRocks(it->status(), "scan deny-list log");
  return page;
}

absl::StatusOr<DenyListSnapshot> StoreImpl::DenyList() {
  DenyListSnapshot snapshot;
  Roaring denied;
  {
    std::shared_lock lock(taint_mu_);
    denied = denied_;
    snapshot.seq = deny_seq_;
  }
  snapshot.digests = RefsOf(denied, SIZE_MAX);
  return snapshot;
}

void StoreImpl::SetDenyListListener(std::function<void(uint64_t)> listener) {
  std::lock_guard lock(listener_mu_);
  deny_listener_ = std::move(listener);
}

absl::Status StoreImpl::LoadRevocations() {
  auto start = std::chrono::steady_clock::now();
  rocksdb::ReadOptions read;
  std::string value;
  rocksdb::Status s = db_->Get(read, cf(kMeta), kMetaRevocationSettings, &value);
  if (s.ok()) {
    if (!DecodeSettings(value, &settings_)) {
      return absl::DataLossError(fmt::format("{}: revocation settings are malformed", path_));
    }
  } else if (!s.IsNotFound()) {
    return FromRocks(s, "read revocation settings");
  }

  std::unique_ptr<rocksdb::Iterator> it(db_->NewIterator(read, cf(kRevocations)));
  for (it->SeekToFirst(); it->Valid(); it->Next()) {
    StoredRevocation record;
    if (it->key().size() != 8 ||
        !DecodeRevocation(std::string_view(it->value().data(), it->value().size()), &record)) {
      return absl::DataLossError(fmt::format("{}: malformed revocation record", path_));
    }
    uint64_t number = DecodeFixed64(it->key().data());
    next_revocation_ = std::max(next_revocation_, number + 1);
    if (record.state != RevocationState::kActive) continue;
    auto rev = std::make_unique<ActiveRevocation>();
    rev->number = number;
    rev->record = std::move(record);
    active_[number] = std::move(rev);
  }
  if (!it->status().ok()) return FromRocks(it->status(), "scan revocations");

  // The log is the journal of every closure: replaying it restores them.
  Roaring replayed_denied;
  it.reset(db_->NewIterator(read, cf(kDenyLog)));
  for (it->SeekToFirst(); it->Valid(); it->Next()) {
    DenyRecord record;
    if (it->key().size() != 8 || DecodeFixed64(it->key().data()) != deny_seq_ + 1 ||
        !DecodeDenyRecord(std::string_view(it->value().data(), it->value().size()), &record)) {
      return absl::DataLossError(
          fmt::format("{}: deny-list log is malformed or has a gap after {}", path_, deny_seq_));
    }
    deny_seq_++;
    for (const auto& [number, nodes] : record.additions) {
      if (!nodes.isEmpty() && nodes.maximum() >= index_.node_count()) {
        return absl::DataLossError(
            fmt::format("{}: deny-list record {} names unknown nodes", path_, deny_seq_));
      }
      if (auto found = active_.find(number); found != active_.end()) {
        found->second->closure |= nodes;
      }
    }
    replayed_denied |= record.denied_added;
    replayed_denied -= record.denied_removed;
  }
  if (!it->status().ok()) return FromRocks(it->status(), "scan deny-list log");

  for (const auto& [number, rev] : active_) {
    covered_ |= rev->closure;
    if (rev->record.mode == RevocationMode::kEnforce && !settings_.advisory_only) {
      denied_ |= rev->closure;
    }
  }
  if (denied_ != replayed_denied) {
    // Both come from the same batches, so only an outside edit separates
    // them. The closures decide; gates resynchronise from a snapshot.
    LINEAGE_LOG(logger_.get(), kWarning,
                "{}: the deny-list deltas disagree with the active revocations; the deny list "
                "follows the revocations ({} digests, deltas say {})",
                path_, denied_.cardinality(), replayed_denied.cardinality());
  }

  it.reset(db_->NewIterator(read, cf(kAudit)));
  it->SeekToLast();
  if (it->Valid()) {
    StoredAudit last;
    if (it->key().size() != 8 ||
        !DecodeAudit(std::string_view(it->value().data(), it->value().size()), &last)) {
      return absl::DataLossError(fmt::format("{}: the last audit entry is malformed", path_));
    }
    audit_seq_ = DecodeFixed64(it->key().data());
    audit_head_ = last.hash;
  }
  if (!it->status().ok()) return FromRocks(it->status(), "read audit head");

  if (!active_.empty() || deny_seq_ != 0) {
    LINEAGE_LOG(logger_.get(), kInfo,
                "{}: {} active revocations, {} digests denied, deny seq {}, loaded in {:.1f} ms",
                path_, active_.size(), denied_.cardinality(), deny_seq_, MillisSince(start));
  }
  return absl::OkStatus();
}

}  // namespace internal
}  // namespace lineage
