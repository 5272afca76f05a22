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
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "engine/include/lineage/attestation.h"
#include "engine/include/lineage/log.h"
#include "engine/include/lineage/revocation.h"
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

// A cluster's complete workload inventory at one time (ingest/inventory.h
// parses kubectl output and lineage's list into one). Stored like a
// RunsRecord, so its runs edges stay in the graph as history, and it also
// becomes the cluster's *current* inventory: what Store::Workloads and a
// revocation's affected workloads take as running now.
struct InventoryRecord {
  std::string id;       // unique per inventory: SHA-256 of cluster and file (ParseInventory)
  std::string cluster;  // every runs[i].workload is "workload:<cluster>/..."
  std::vector<RunsAssertion> runs;         // may be empty: nothing runs in the cluster
  absl::Time time = absl::InfinitePast();  // when the inventory was taken
  std::string source;                      // informational, e.g. the file name
  std::string raw;                         // the inventory as received; may be empty
};

struct InventoryOutcome {
  bool duplicate = false;  // the id was already stored: nothing changed
  // Taken before the cluster's current inventory (a late delivery): stored
  // as history, but the current inventory stays.
  bool stale = false;
  std::string replaced;  // id of the inventory this one replaced as current; "" if none
  uint64_t new_nodes = 0;
  uint64_t new_edges = 0;
};

struct ClusterWorkload {
  std::string ref;                  // "workload:<cluster>/<namespace>/<kind>/<name>"
  std::vector<std::string> images;  // canonical artifact refs it runs, sorted
};

// A cluster's current inventory.
struct ClusterInventory {
  std::string cluster;
  std::string inventory;                   // its id
  absl::Time time;                         // when it was taken
  std::vector<ClusterWorkload> workloads;  // sorted by ref
};

// How one signing identity has been used, from its `signed` edges. Times
// are those the edges record: the attestation's time (build finish, else
// when it was ingested), not a separately verified signing time.
struct SignerUsage {
  std::string key;            // canonical key ref
  bool keyless = false;       // a keyless identity (key:keyless:...), not a long-lived key
  uint64_t attestations = 0;  // distinct attestations it signed
  absl::Time first_signed = absl::InfinitePast();  // InfinitePast: no known time
  absl::Time last_signed = absl::InfinitePast();
  // A long-lived key still signing more than the rotation age after its
  // first signature: last_signed - first_signed > rotation_age. Never set for
  // keyless identities, whose certificates are short-lived by construction.
  bool beyond_rotation_age = false;
};

struct KeyUsageReport {
  absl::Duration rotation_age;
  std::vector<SignerUsage> signers;      // sorted by key ref
  uint64_t signed_attestations = 0;      // attestations with at least one signer
  uint64_t keyless_attestations = 0;     // ... signed by at least one keyless identity
  uint64_t long_lived_attestations = 0;  // ... signed by at least one long-lived key
};

struct IngestOutcome {
  bool duplicate = false;  // the attestation was already stored; nothing changed
  uint64_t new_nodes = 0;  // nodes created by this attestation
  uint64_t new_edges = 0;  // edges created by this attestation
  // What was stored differently from how the record asked, e.g. a signer's
  // keyid that is not recorded as an alias because it is spelled as a key
  // fingerprint or a keyless identity (see docs/storage.md, "Node resolution").
  std::vector<std::string> warnings;
};

struct BulkLoadResult {
  uint64_t attestations = 0;  // records stored by this call
  uint64_t duplicates = 0;    // records repeating an earlier record's id: not stored again
  uint64_t new_nodes = 0;
  uint64_t new_edges = 0;        // distinct (from, kind, to)
  uint64_t edge_assertions = 0;  // (from, kind, to, attestation)
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
  // Signed edges only: the evidence of this signature as the attestation
  // recorded it (for a keyless identity: its certificate fingerprint and log
  // index). Empty for other kinds, for key-based signatures without a log
  // entry, and for attestations stored before evidence was recorded.
  std::optional<SignerEvidence> evidence;
};

struct AttestationSummary {
  std::string id;
  std::string format;
  std::string predicate_type;
  std::string source;
  absl::Time time;
  absl::Time ingested_at;
  std::vector<std::string> signers;  // key refs
  // The evidence of those signers that have any (SignerEvidence), in
  // signers order; empty for attestations stored before it was recorded.
  std::vector<SignerEvidence> evidence;
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

  // Loads many pre-verified attestations far faster than IngestBatch: the
  // records' keys are sorted in memory, written as one SST file per column
  // family, and added to the database by one RocksDB IngestExternalFiles
  // call, bypassing the WAL and the memtables. For building large stores:
  // into an empty one, or in several calls of up to a few million records.
  //
  // The database ends exactly as IngestBatch(records) would leave it: the
  // same keys and values, node ids, aliases, counters and index (only the
  // attestations' ingested_at times differ, being the time of the call).
  // Atomic, also if the process is killed: nothing is visible until the one
  // MANIFEST write that adds every file at once; a kill before it leaves only
  // unreferenced files in `<path>/bulk-load.tmp`, which the next BulkLoad
  // deletes. Durable when it returns, whatever StoreOptions::sync says.
  // Other writers wait for it; readers see the store as before until it
  // returns.
  //
  // REQUIRES: records came from the ingest library (the store does not
  // re-verify); the whole call fits in memory (keys and values of every
  // record, about twice the encoded size). Returns:
  //   FailedPrecondition  the store is read-only, or has an active
  //                       revocation (whose sticky taint IngestBatch would
  //                       extend over the new edges)
  //   InvalidArgument     a malformed record, naming its index; nothing written
  virtual absl::StatusOr<BulkLoadResult> BulkLoad(std::span<const AttestationRecord> records) = 0;

  // Stores `runs` edges (artifact -> workload) atomically, like an
  // attestation with id record.id: idempotent on the id, unknown artifacts
  // and workloads become nodes. Returns InvalidArgument for an empty id, no
  // runs, or a ref that does not parse as an artifact / workload.
  virtual absl::StatusOr<IngestOutcome> AddRuns(const RunsRecord& record) = 0;

  // Stores a cluster's inventory atomically (its nodes, runs edges, record
  // and, unless stale, its place as the cluster's current inventory, in one
  // WriteBatch) and makes it current unless record.time is before the
  // current one's. Idempotent on record.id. Other clusters' inventories are
  // untouched. Returns InvalidArgument for a bad id or cluster, a ref that
  // does not parse, or a workload outside record.cluster.
  virtual absl::StatusOr<InventoryOutcome> ReplaceInventory(const InventoryRecord& record) = 0;

  // The current inventory of `cluster`, or of every cluster (sorted by name)
  // when it is empty. NotFound when `cluster` has no inventory.
  virtual absl::StatusOr<std::vector<ClusterInventory>> Workloads(std::string_view cluster) = 0;

  // Every key node's usage, and the share of attestations signed keylessly
  // versus by long-lived keys. One scan of the signed edges; an ingest
  // running meanwhile may or may not be counted. InvalidArgument unless
  // rotation_age is positive.
  virtual absl::StatusOr<KeyUsageReport> KeyUsage(absl::Duration rotation_age) = 0;

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

  // Writes a consistent, openable copy of the database to `dir` (a RocksDB
  // checkpoint: hard links where the file system allows, copies otherwise)
  // while readers and writers keep going. `dir` must not exist; its parent
  // must. Restore by opening the copy, or by moving it into place while no
  // process has the database open. AlreadyExists if `dir` exists.
  virtual absl::Status Checkpoint(const std::string& dir) = 0;

  // ---- Revocation (lineage/revocation.h; semantics in docs/revocation.md) ----
  //
  // Writers (CreatePlan, Approve, Enforce, Lift, UpdateSettings) are
  // serialised with ingest; each is one WriteBatch together with its evidence
  // and audit entry, so a killed process leaves all of it or none. Readers
  // (Check, Why, DenyList*) never wait for a writer's I/O.

  // Computes and stores a plan (a dry run: nothing is denied). The same
  // review against the same state returns the same plan. InvalidArgument for
  // no roots, a ref that is not a digest/key/builder, an empty reason or
  // actor, or since >= until.
  virtual absl::StatusOr<Plan> CreatePlan(const PlanRequest& request,
                                          const PlanListing& listing) = 0;
  // NotFound for an unknown id.
  virtual absl::StatusOr<Plan> GetPlan(std::string_view plan_id, const PlanListing& listing) = 0;
  // Every stored plan, newest first, with no artifacts or workloads listed.
  virtual absl::StatusOr<std::vector<Plan>> ListPlans() = 0;
  // Records an approval. FailedPrecondition if the plan is already enforced;
  // AlreadyExists if `principal` already approved it.
  virtual absl::StatusOr<Plan> Approve(std::string_view plan_id, std::string_view principal) = 0;
  // Enforces a plan. PermissionDenied when a bulk plan lacks approvals by two
  // distinct principals other than options.actor; FailedPrecondition when it
  // is already enforced. When the closure changed since review and
  // accept_changes is false, returns enforced = false and writes nothing.
  virtual absl::StatusOr<EnforceResult> Enforce(std::string_view plan_id,
                                                const EnforceOptions& options) = 0;
  // Ends an active revocation. FailedPrecondition if it is already lifted.
  virtual absl::StatusOr<LiftResult> Lift(std::string_view revocation_id, std::string_view actor,
                                          std::string_view reason) = 0;
  virtual absl::StatusOr<Revocation> GetRevocation(std::string_view revocation_id) = 0;
  // All revocations, oldest first.
  virtual absl::StatusOr<std::vector<Revocation>> ListRevocations() = 0;

  virtual RevocationSettings GetSettings() = 0;
  // Changing advisory_only appends a deny-list delta (everything denied
  // leaves, or re-enters, the deny list).
  virtual absl::Status UpdateSettings(const RevocationSettings& settings, std::string_view actor,
                                      std::string_view reason) = 0;

  // The gate check: a point lookup of materialised taint (with options.at, a
  // replay of the history). InvalidArgument when `digest` is not an artifact
  // digest. Never blocks on a writer's I/O.
  virtual absl::StatusOr<CheckResult> Check(std::string_view digest,
                                            const CheckOptions& options) = 0;
  // Why a digest is blocked (each covering revocation with the shortest chain
  // from its root), or its provenance when it is promotable.
  virtual absl::StatusOr<WhyResult> Why(std::string_view digest) = 0;

  // Deltas with seq > `after_seq`, at most `max_deltas` of them.
  virtual absl::StatusOr<DenyListPage> DenyListSince(uint64_t after_seq, size_t max_deltas) = 0;
  // The complete deny list now, with the sequence it reflects.
  virtual absl::StatusOr<DenyListSnapshot> DenyList() = 0;
  // Called (on the writer's thread, after the change is durable and visible)
  // with the new head sequence whenever the deny list log grows. One
  // listener; nullptr removes it. The callback must not call into the store's
  // writers.
  virtual void SetDenyListListener(std::function<void(uint64_t head_seq)> listener) = 0;

  // Evidence records of a revocation (its plan's, its approvals', its
  // enforcement's and its lift's) or of a plan id, oldest first.
  virtual absl::StatusOr<std::vector<EvidenceRecord>> Evidence(
      std::string_view revocation_or_plan) = 0;
  // Audit entries with seq >= from_seq, at most `max`.
  virtual absl::StatusOr<std::vector<AuditEntry>> AuditLog(uint64_t from_seq, size_t max) = 0;
  // Re-hashes the whole chain and every evidence record it covers: finds an
  // edited, deleted, inserted or reordered entry or evidence record.
  virtual absl::StatusOr<AuditVerification> VerifyAudit() = 0;
};

}  // namespace lineage
