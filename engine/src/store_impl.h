// StoreImpl: the RocksDB-backed implementation of lineage::Store.
//
// The class is declared here so that its concerns can live in separate files
// (store.cc: open, ingest and graph queries; revocation.cc: plans,
// enforcement, taint and the deny list; audit.cc: evidence and the audit
// chain) while remaining one class.
//
// Locking, in the order they are taken:
//   write_mu_  serialises every writer (ingest, revocation actions). The
//              writer is the only thread that mutates index_ and the taint
//              state, so it may read them without the locks below.
//   index_mu_  guards index_ and counters_: readers share it, the writer takes
//              it exclusively only to apply a committed batch.
//   taint_mu_  guards the materialised taint: checks share it, the writer
//              takes it exclusively only to install a committed change.
#pragma once

#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <shared_mutex>
#include <string>
#include <string_view>
#include <tuple>
#include <utility>
#include <vector>

#include <rocksdb/db.h>
#include <rocksdb/write_batch.h>
#include <roaring/roaring.hh>

#include "absl/container/flat_hash_map.h"
#include "absl/container/flat_hash_set.h"
#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "engine/include/lineage/store.h"
#include "engine/src/adjacency_index.h"
#include "engine/src/encoding.h"
#include "engine/src/revocation_records.h"
#include "engine/src/traversal.h"

namespace lineage::internal {

// Column families, in the order they are opened. "default" is required by
// RocksDB and unused.
enum Cf : int {
  kDefault = 0,
  kIds,
  kNodes,
  kAliases,
  kOut,
  kIn,
  kAttestations,
  kAttestationNumbers,
  kMeta,
  // Added after format version 1 was first written: a writable open creates
  // them in an older database.
  kPlans,
  kRevocations,
  kDenyLog,
  kEvidence,
  kAudit,
  kInventories,
  kCfCount,
};

// Column families every lineage database has had since its first version.
inline constexpr int kCoreCfCount = kMeta + 1;

inline constexpr const char* kCfNames[kCfCount] = {
    "default",   kCfIds,   kCfNodes,        kCfAliases,
    kCfOut,      kCfIn,    kCfAttestations, kCfAttestationNumbers,
    kCfMeta,     kCfPlans, kCfRevocations,  kCfDenyLog,
    kCfEvidence, kCfAudit, kCfInventories,
};

using EdgeTriple = std::tuple<NodeId, EdgeKind, NodeId>;

// Maps a RocksDB status to the most specific absl code, with context.
absl::Status FromRocks(const rocksdb::Status& s, std::string_view context);

// The checks Ingest and IngestBatch make of a record before storing it
// (store.cc); BulkLoad makes the same ones.
absl::Status ValidateAttestationRecord(const AttestationRecord& record);

// A plan's closure as computed now.
struct Closure {
  std::vector<RevocationRoot> roots;  // canonical
  Roaring artifacts;
  Roaring workloads;
  std::vector<std::string> unknown_digests;  // digest roots not in the graph
  std::vector<RootSummary> per_root;
  std::vector<uint64_t> by_depth;
  uint64_t artifact_count() const { return artifacts.cardinality() + unknown_digests.size(); }
};

// Everything one WriteBatch will change, so that the in-memory state is
// updated only after the batch commits, and not at all if it fails.
struct PendingBatch {
  explicit PendingBatch(const Counters& c) : counters(c), first_new_id(c.next_node_id) {}

  rocksdb::WriteBatch batch;
  Counters counters;
  uint64_t first_new_id;
  absl::flat_hash_map<std::string, uint64_t> refs;          // refs mapped by this batch
  std::vector<std::pair<NodeKind, std::string>> new_nodes;  // ids first_new_id, first_new_id+1, ...
  std::vector<std::pair<std::string, NodeId>> new_aliases;
  std::vector<EdgeTriple> new_edges;  // distinct, new to the index
  absl::flat_hash_set<EdgeTriple> new_edge_set;
  absl::flat_hash_set<std::string> attestation_ids;

  // Every edge assertion of the batch (also of edges the index already has):
  // sticky taint compares their times with revoked keys' and builders'
  // windows.
  struct Assertion {
    NodeId src;
    EdgeKind kind;
    NodeId dst;
    absl::Time time;
  };
  std::vector<Assertion> assertions;
  // For the cause of a sticky deny-list record: the batch's first new
  // attestation, and how many it stores in all.
  std::string first_attestation;
  uint64_t attestations = 0;

  // Revocation-state changes, run under taint_mu_ after the batch commits
  // (and not at all if it fails).
  std::vector<std::function<void()>> install_taint;
  bool deny_changed = false;  // tell the deny-list listener after commit
  // Sequence numbers this batch has taken so far (0: none yet).
  uint64_t deny_seq = 0;
  uint64_t audit_seq = 0;
  std::string audit_head;
};

class StoreImpl final : public Store {
 public:
  StoreImpl(std::string path, const StoreOptions& options, rocksdb::DB* db,
            std::vector<rocksdb::ColumnFamilyHandle*> handles, std::shared_ptr<Logger> logger)
      : path_(std::move(path)),
        read_only_(options.read_only),
        clock_(options.clock),
        db_(db),
        handles_(std::move(handles)),
        logger_(std::move(logger)),
        index_(options.index_merge_min_edges) {
    write_options_.sync = options.sync;
  }

  ~StoreImpl() override {
    // Flushing the memtables makes the next open read SST files instead of
    // replaying the whole WAL into memtables, which at a million records
    // takes longer than the index rebuild itself. A failure only makes that
    // next open slower: the WAL still holds every committed write.
    if (!read_only_) {
      rocksdb::FlushOptions flush;
      db_->Flush(flush, handles_).PermitUncheckedError();
    }
    for (rocksdb::ColumnFamilyHandle* h : handles_) {
      // Close-time errors cannot be acted on; the WAL already holds every
      // committed write.
      db_->DestroyColumnFamilyHandle(h).PermitUncheckedError();
    }
    db_->Close().PermitUncheckedError();
    delete db_;
  }

  // Reads the format version and counters and rebuilds the index.
  absl::Status Load();

  absl::StatusOr<IngestOutcome> Ingest(const AttestationRecord& record) override;
  absl::StatusOr<std::vector<IngestOutcome>> IngestBatch(
      std::span<const AttestationRecord> records) override;
  absl::StatusOr<BulkLoadResult> BulkLoad(std::span<const AttestationRecord> records) override;
  absl::StatusOr<IngestOutcome> AddRuns(const RunsRecord& record) override;

  // Workload inventories (inventory.cc) and key usage (key_usage.cc).
  absl::StatusOr<InventoryOutcome> ReplaceInventory(const InventoryRecord& record) override;
  absl::StatusOr<std::vector<ClusterInventory>> Workloads(std::string_view cluster) override;
  absl::StatusOr<KeyUsageReport> KeyUsage(absl::Duration rotation_age) override;

  // Workloads that the clusters' current inventories show running any
  // artifact for which in_closure(artifact) is true; sorted, unique.
  // Thread-safe: takes inventory_mu_ shared and calls in_closure under it, so
  // in_closure must not call back into the inventory methods.
  std::vector<NodeId> RunningWorkloads(const std::function<bool(NodeId)>& in_closure) const;

  absl::StatusOr<TraversalResult> Descendants(std::string_view ref,
                                              const TraversalOptions& options) override {
    return Traverse(ref, options, /*forward=*/true);
  }
  absl::StatusOr<TraversalResult> Ancestors(std::string_view ref,
                                            const TraversalOptions& options) override {
    return Traverse(ref, options, /*forward=*/false);
  }
  absl::StatusOr<uint64_t> CountDescendants(std::string_view ref,
                                            const TraversalOptions& options) override;
  absl::StatusOr<NodeInfo> Show(std::string_view ref) override;
  absl::StatusOr<AttestationSummary> GetAttestation(std::string_view id) override;
  absl::StatusOr<StoreStats> Stats() override;
  absl::Status Checkpoint(const std::string& dir) override;

  // Revocation (revocation.cc).
  absl::StatusOr<Plan> CreatePlan(const PlanRequest& request, const PlanListing& listing) override;
  absl::StatusOr<Plan> GetPlan(std::string_view plan_id, const PlanListing& listing) override;
  absl::StatusOr<std::vector<Plan>> ListPlans() override;
  absl::StatusOr<Plan> Approve(std::string_view plan_id, std::string_view principal) override;
  absl::StatusOr<EnforceResult> Enforce(std::string_view plan_id,
                                        const EnforceOptions& options) override;
  absl::StatusOr<LiftResult> Lift(std::string_view revocation_id, std::string_view actor,
                                  std::string_view reason) override;
  absl::StatusOr<Revocation> GetRevocation(std::string_view revocation_id) override;
  absl::StatusOr<std::vector<Revocation>> ListRevocations() override;
  RevocationSettings GetSettings() override;
  absl::Status UpdateSettings(const RevocationSettings& settings, std::string_view actor,
                              std::string_view reason) override;
  absl::StatusOr<CheckResult> Check(std::string_view digest, const CheckOptions& options) override;
  absl::StatusOr<WhyResult> Why(std::string_view digest) override;
  absl::StatusOr<DenyListPage> DenyListSince(uint64_t after_seq, size_t max_deltas) override;
  absl::StatusOr<DenyListSnapshot> DenyList() override;
  void SetDenyListListener(std::function<void(uint64_t head_seq)> listener) override;

  // Evidence and the audit chain (audit.cc).
  absl::StatusOr<std::vector<EvidenceRecord>> Evidence(
      std::string_view revocation_or_plan) override;
  absl::StatusOr<std::vector<AuditEntry>> AuditLog(uint64_t from_seq, size_t max) override;
  absl::StatusOr<AuditVerification> VerifyAudit() override;

 private:
  rocksdb::ColumnFamilyHandle* cf(Cf which) const { return handles_[which]; }
  absl::Time Now() const { return clock_ ? clock_() : absl::Now(); }

  absl::Status RebuildIndex();

  // Write path. All of these REQUIRE write_mu_.
  absl::StatusOr<bool> IsStored(const std::string& id, PendingBatch* pb);
  absl::StatusOr<std::optional<uint64_t>> LookupRef(const std::string& ref, PendingBatch* pb);
  absl::StatusOr<NodeId> NewNode(NodeKind kind, const std::string& ref, PendingBatch* pb);
  void AddAlias(const std::string& alias, NodeId node, PendingBatch* pb);
  absl::StatusOr<NodeId> ResolveDigests(const std::vector<std::string>& digests, PendingBatch* pb);
  absl::StatusOr<NodeId> ResolveOrCreate(const std::string& ref, NodeKind kind, PendingBatch* pb);
  void Assert(NodeId src, EdgeKind kind, NodeId dst, uint64_t attestation, absl::Time time,
              absl::flat_hash_set<EdgeTriple>* asserted, PendingBatch* pb);
  void PutAttestation(const std::string& id, const StoredAttestation& a, PendingBatch* pb);
  absl::StatusOr<IngestOutcome> Prepare(const AttestationRecord& record, PendingBatch* pb);
  absl::Status Commit(PendingBatch* pb);

  // Read path.
  absl::StatusOr<NodeId> FindNode(std::string_view ref);
  absl::StatusOr<TraversalResult> Traverse(std::string_view ref, const TraversalOptions& options,
                                           bool forward);
  // What Show has read of one attestation number: its id, and (for signed
  // edges) its signers' evidence.
  struct ScannedAttestation {
    std::string id;
    bool evidence_read = false;
    std::vector<SignerEvidence> evidence;
  };
  absl::Status ScanEdges(Cf which, NodeId node, bool outgoing,
                         absl::flat_hash_map<uint64_t, ScannedAttestation>* attestations,
                         std::vector<EdgeInfo>* edges);

  const std::string path_;
  const bool read_only_;
  const std::function<absl::Time()> clock_;
  rocksdb::DB* const db_;  // owned; closed and deleted by the destructor
  std::vector<rocksdb::ColumnFamilyHandle*> handles_;
  rocksdb::WriteOptions write_options_;
  std::shared_ptr<Logger> logger_;

  // Serialises writers. A writer reads the index without index_mu_: it is
  // the only thread that ever mutates it.
  std::mutex write_mu_;

  // Guards index_ and counters_: readers share it, the writer takes it
  // exclusively only to apply a committed batch.
  mutable std::shared_mutex index_mu_;
  AdjacencyIndex index_;
  Counters counters_;

  internal::ColorPool colors_;

  // ---- Workload inventories (inventory.cc) ----

  // Reads every cluster's current inventory; called by Load after the index
  // is rebuilt. DataLoss for a malformed record.
  absl::Status LoadInventories();

  struct CurrentInventory {
    std::string id;  // attestation id of the inventory
    uint64_t number = 0;
    absl::Time time = absl::InfinitePast();
    std::vector<std::pair<NodeId, NodeId>> runs;  // (artifact, workload), sorted, unique
  };
  // Guards inventories_. The writer (holding write_mu_) reads it freely and
  // changes it only under inventory_mu_ held exclusively, after the batch
  // commits. Taken after taint_mu_ and index_mu_ when nested, and nothing
  // else is taken while it is held.
  mutable std::shared_mutex inventory_mu_;
  std::map<std::string, CurrentInventory> inventories_;  // by cluster

  // ---- Revocation (revocation.cc, audit.cc) ----

  struct ActiveRevocation {
    uint64_t number = 0;
    StoredRevocation record;
    Roaring closure;  // artifact node ids, including sticky growth
  };

  // Restores settings, active revocations and their closures (by replaying
  // the deny-list log) and the audit head. Called by Load after the index.
  absl::Status LoadRevocations();
  // REQUIRES write_mu_ (reads the index without index_mu_).
  absl::StatusOr<Closure> ComputeClosure(const std::vector<RevocationRoot>& roots);
  // Subjects that `root` signed or built (kind) with an edge time in
  // [since, until), from the `out` column family.
  absl::StatusOr<Roaring> SubjectsInWindow(NodeId root, EdgeKind kind, absl::Time since,
                                           absl::Time until);
  // Extends active revocations over what the batch's assertions link to
  // their closures, as part of the same batch. REQUIRES write_mu_.
  absl::Status PrepareStickyTaint(PendingBatch* pb);
  // Adds a deny-list record to the batch under the next sequence number.
  uint64_t AppendDenyRecord(PendingBatch* pb, const DenyRecord& record);
  // Adds an evidence record and its chained audit entry to the batch.
  void AppendAudit(PendingBatch* pb, const StoredEvidence& evidence, std::string_view subject);
  absl::StatusOr<StoredPlan> ReadPlan(std::string_view plan_id);
  absl::StatusOr<StoredRevocation> ReadRevocation(uint64_t number);
  Plan ToPlan(std::string_view id, const StoredPlan& stored, const PlanListing& listing);
  Revocation ToRevocation(uint64_t number, const StoredRevocation& record, uint64_t artifacts);
  // Canonical refs of the nodes in `ids`, sorted, at most `max`.
  std::vector<std::string> RefsOf(const Roaring& ids, size_t max);
  absl::StatusOr<CheckResult> CheckHistory(CheckResult result, NodeId node, absl::Time at);
  // The assertion of edge from -kind-> to with the smallest attestation
  // number whose time lies in [since, until).
  absl::StatusOr<ChainHop> FindHop(NodeId from, EdgeKind kind, NodeId to, absl::Time since,
                                   absl::Time until);
  absl::StatusOr<std::vector<ChainHop>> ShortestChain(const ActiveRevocation& rev, NodeId node,
                                                      std::string* root);

  // The materialised taint. The writer (holding write_mu_) reads it freely
  // and changes it only under taint_mu_ held exclusively; readers take
  // taint_mu_ shared. When both are needed, taint_mu_ is taken before
  // index_mu_.
  mutable std::shared_mutex taint_mu_;
  std::map<uint64_t, std::unique_ptr<ActiveRevocation>> active_;
  Roaring denied_;   // the deny list: closures of enforcing revocations, unless advisory_only
  Roaring covered_;  // every active closure, enforcing or advisory
  uint64_t deny_seq_ = 0;
  RevocationSettings settings_;

  // Writer state (write_mu_).
  uint64_t next_revocation_ = 1;
  uint64_t audit_seq_ = 0;
  std::string audit_head_;  // hex hash of the last audit entry, "" if none

  std::mutex listener_mu_;
  std::function<void(uint64_t)> deny_listener_;
};

}  // namespace lineage::internal
