// lineage::Store: the embedded lineage graph.
//
// A Store owns a RocksDB database holding nodes, edges and the raw
// attestations, and an in-memory adjacency index (dense integer ids, CSR
// arrays plus a delta of recent writes) that answers traversals without
// touching RocksDB. The index is rebuilt from RocksDB on Open and kept current
// by every write.
//
// Example:
//
//   lineage::StoreOptions options;
//   absl::StatusOr<std::unique_ptr<lineage::Store>> store =
//       lineage::Store::Open("/var/lib/lineage/db", options);
//   if (!store.ok()) return store.status();
//   absl::StatusOr<lineage::IngestOutcome> r = (*store)->Ingest(record);
//   absl::StatusOr<lineage::TraversalResult> d =
//       (*store)->Descendants("sha256:...", lineage::TraversalOptions{});
//
// Thread safety: all methods may be called concurrently from any thread.
// Writes are serialised internally; reads never wait for RocksDB I/O of a
// write in progress, only for the brief in-memory index update.
//
// Durability: each Ingest is one RocksDB WriteBatch, so after a crash or a
// kill either all of an attestation's nodes, edges and record are present, or
// none are. With StoreOptions::sync = false (the default) a power loss may drop
// the last writes, but never half of one.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "engine/include/lineage/attestation.h"
#include "engine/include/lineage/log.h"
#include "engine/include/lineage/types.h"

namespace lineage {

struct StoreOptions {
  // Create the database if it does not exist. Default: true.
  bool create_if_missing = true;

  // fsync the write-ahead log on every write. Default: false (a killed process
  // loses nothing; a power loss may lose the last writes).
  bool sync = false;

  // Where the library logs. Default (nullptr): a LOG-lineage file in the
  // database directory.
  std::shared_ptr<Logger> logger;

  // RocksDB block cache size in bytes. Default: 64 MiB.
  uint64_t block_cache_bytes = 64ull << 20;

  // Open for reading only (no writes; several processes may do this).
  // Default: false.
  bool read_only = false;

  // The clock stamping AttestationSummary::ingested_at. Default (empty):
  // absl::Now. Tests pass a fixed clock.
  std::function<absl::Time()> clock;

  // The in-memory index merges its delta of recent edges into the CSR arrays
  // once the delta holds at least this many edges and at least a sixteenth
  // as many as the CSR. Default: 8192. Tests lower it to exercise merges.
  uint64_t index_merge_min_edges = 8192;
};

// One "artifact runs as workload" observation, e.g. from a deployment record
// or a `kubectl get pods -o json` inventory.
struct RunsAssertion {
  std::string artifact;  // an artifact ref, e.g. "sha256:<hex>" (canonicalised)
  std::string workload;  // "workload:<cluster>/<namespace>/<kind>/<name>"
};

// A batch of runs observations, stored like an attestation (format
// "inventory", unsigned) so that every runs edge records where it came from.
struct RunsRecord {
  std::string id;  // unique per inventory, e.g. a hash of the inventory file
  std::vector<RunsAssertion> runs;
  absl::Time time = absl::InfinitePast();  // when the inventory was taken
  std::string source;                      // informational, e.g. the file name
  std::string raw;                         // the inventory as received; may be empty
};

struct IngestOutcome {
  bool duplicate = false;  // the attestation was already stored; nothing changed
  uint64_t new_nodes = 0;  // nodes created by this attestation
  uint64_t new_edges = 0;  // edges created by this attestation
};

struct TraversalOptions {
  // Follow only these edge kinds. Default: all.
  EdgeKindMask edge_kinds = EdgeKindMask::All();
  // Stop expanding at this depth (the root has depth 0). -1: unlimited.
  int max_depth = -1;
  // Stop after this many nodes besides the root. 0: unlimited.
  uint64_t limit = 0;
};

struct TraversedNode {
  std::string ref;  // canonical ref
  NodeKind kind;
  uint32_t depth;  // hops from the root along the shortest path
};

struct TraversalResult {
  std::string root;                  // canonical ref of the root
  std::vector<TraversedNode> nodes;  // in BFS order, root excluded
  bool truncated = false;            // stopped by `limit`
};

struct EdgeInfo {
  std::string from;  // canonical ref
  std::string to;    // canonical ref
  EdgeKind kind;
  std::string attestation;  // attestation id (hex)
  absl::Time time;
};

struct AttestationSummary {
  std::string id;
  std::string format;
  std::string predicate_type;
  std::string source;
  absl::Time time;
  absl::Time ingested_at;
  std::vector<std::string> signers;  // key refs
  bool unsigned_ = false;
};

struct NodeInfo {
  std::string ref;  // canonical ref
  NodeKind kind;
  std::vector<std::string> aliases;  // other refs naming the same node
  std::vector<EdgeInfo> in_edges;    // every asserted edge, one per attestation
  std::vector<EdgeInfo> out_edges;
};

struct StoreStats {
  uint64_t nodes_by_kind[kNodeKindCount] = {};  // index: kind - 1
  uint64_t edges_by_kind[kEdgeKindCount] = {};  // distinct (from, kind, to)
  uint64_t edge_assertions = 0;                 // (from, kind, to, attestation)
  uint64_t attestations = 0;
  uint64_t unsigned_attestations = 0;
  uint64_t db_bytes = 0;  // on-disk size of the database
};

class Store {
 public:
  // Opens (or creates) the database at `path`. Creates only the last
  // directory component, as RocksDB does. Returns:
  //   InvalidArgument  a bad option or a path that is not a lineage database
  //   DataLoss         the database is corrupt or of an unknown format version
  //   Unavailable      another process (or another Store in this process)
  //                    holds the database lock
  //   NotFound         the database does not exist and create_if_missing is
  //                    false
  static absl::StatusOr<std::unique_ptr<Store>> Open(const std::string& path,
                                                     const StoreOptions& options);

  virtual ~Store() = default;

  // Stores one verified attestation atomically: its nodes, edges (each
  // recording the attestation id and record.time) and the compressed raw
  // record. Idempotent on record.id. REQUIRES: record came from the ingest
  // library (or is equally well-formed): at least one subject, canonical
  // digests. Returns InvalidArgument for a malformed record.
  virtual absl::StatusOr<IngestOutcome> Ingest(const AttestationRecord& record) = 0;

  // Stores many attestations in ONE WriteBatch, for bulk loads: all of them or
  // none. Every record is validated first; if any is malformed, returns
  // InvalidArgument naming its index and nothing is written. Outcomes are in
  // record order; a record repeated within the batch, or already stored, is a
  // duplicate. Keep batches to a few thousand records: the batch is held in
  // memory until it commits.
  virtual absl::StatusOr<std::vector<IngestOutcome>> IngestBatch(
      std::span<const AttestationRecord> records) = 0;

  // Stores `runs` edges (artifact -> workload) atomically, like an
  // attestation with id record.id: idempotent on the id, unknown artifacts
  // and workloads become nodes. Returns InvalidArgument for an empty id, no
  // runs, or a ref that does not parse as an artifact / workload.
  virtual absl::StatusOr<IngestOutcome> AddRuns(const RunsRecord& record) = 0;

  // Node-unique breadth-first traversals from `ref` (any accepted ref form or
  // alias). NotFound when the ref is valid but unknown; InvalidArgument when
  // it does not parse.
  virtual absl::StatusOr<TraversalResult> Descendants(std::string_view ref,
                                                      const TraversalOptions& options) = 0;
  virtual absl::StatusOr<TraversalResult> Ancestors(std::string_view ref,
                                                    const TraversalOptions& options) = 0;

  // Counts descendants without materialising refs (cheap for huge closures).
  virtual absl::StatusOr<uint64_t> CountDescendants(std::string_view ref,
                                                    const TraversalOptions& options) = 0;

  // A node with its aliases and every edge assertion touching it.
  virtual absl::StatusOr<NodeInfo> Show(std::string_view ref) = 0;

  // The stored summary of an attestation (or runs inventory); NotFound if
  // unknown.
  virtual absl::StatusOr<AttestationSummary> GetAttestation(std::string_view id) = 0;

  virtual absl::StatusOr<StoreStats> Stats() = 0;
};

}  // namespace lineage
