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

#include "absl/container/flat_hash_map.h"
#include "absl/container/flat_hash_set.h"
#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "engine/include/lineage/store.h"
#include "engine/src/adjacency_index.h"
#include "engine/src/encoding.h"
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
  kCfCount,
};

inline constexpr const char* kCfNames[kCfCount] = {
    "default", kCfIds, kCfNodes, kCfAliases, kCfOut, kCfIn, kCfAttestations, kCfAttestationNumbers,
    kCfMeta,
};

using EdgeTriple = std::tuple<NodeId, EdgeKind, NodeId>;

// Maps a RocksDB status to the most specific absl code, with context.
absl::Status FromRocks(const rocksdb::Status& s, std::string_view context);

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
  absl::StatusOr<IngestOutcome> AddRuns(const RunsRecord& record) override;

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
  absl::Status ScanEdges(Cf which, NodeId node, bool outgoing,
                         absl::flat_hash_map<uint64_t, std::string>* attestation_ids,
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
};

}  // namespace lineage::internal
