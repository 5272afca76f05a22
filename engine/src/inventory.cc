// StoreImpl: workload inventories (docs/workloads.md; encoding in
// docs/storage.md, "inventories").
//
// Every inventory is stored like an unsigned attestation (format
// "inventory") whose runs edges record it, so the graph keeps the history of
// what ran where. Separately, the `inventories` column family holds each
// cluster's current inventory: its attestation number, time and
// (artifact, workload) pairs. That is what "running now" means for
// Workloads() and for a revocation's affected workloads; an in-memory copy
// (inventories_) answers both without touching RocksDB.
#include <algorithm>
#include <mutex>
#include <shared_mutex>
#include <string>
#include <utility>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "absl/status/status.h"

#include <fmt/format.h>

#include "engine/include/lineage/ref.h"
#include "engine/src/encoding.h"
#include "engine/src/store_impl.h"

namespace lineage::internal {
namespace {

// Leading byte of an `inventories` value, so the layout can evolve without a
// format-version bump of the whole database.
constexpr char kInventoryValueTag = 1;

// Same bound as every record id (store.cc): ids are keys of `attestations`.
constexpr size_t kMaxInventoryIdLength = 1024;

// An inventory is one WriteBatch and one value: bound it well below what
// either can hold. 16 million runs is a 256 MiB value.
constexpr size_t kMaxInventoryRuns = size_t{16} << 20;

using RunPair = std::pair<NodeId, NodeId>;  // (artifact, workload)

// `inventories` value:
//   u8 tag (1), u64 attestation number, time, u32 count,
//   count x (u64 artifact node id, u64 workload node id), sorted, unique.
std::string EncodeInventoryValue(uint64_t number, absl::Time time,
                                 const std::vector<RunPair>& runs) {
  std::string out;
  out.reserve(1 + 8 + 8 + 4 + 16 * runs.size());
  out.push_back(kInventoryValueTag);
  PutFixed64(&out, number);
  PutFixed64(&out, static_cast<uint64_t>(TimeToMicros(time)));
  PutFixed32(&out, static_cast<uint32_t>(runs.size()));
  for (const auto& [artifact, workload] : runs) {
    PutFixed64(&out, artifact);
    PutFixed64(&out, workload);
  }
  return out;
}

// False on a malformed value, including a node id of kMaxNodes or more (a
// NodeId cannot hold it).
bool DecodeInventoryValue(std::string_view in, uint64_t* number, absl::Time* time,
                          std::vector<RunPair>* runs) {
  if (in.empty() || in[0] != kInventoryValueTag) return false;
  in.remove_prefix(1);
  uint64_t micros = 0;
  uint32_t count = 0;
  if (!GetFixed64(&in, number) || !GetFixed64(&in, &micros) || !GetFixed32(&in, &count) ||
      in.size() != uint64_t{count} * 16) {
    return false;
  }
  *time = MicrosToTime(static_cast<int64_t>(micros));
  runs->clear();
  runs->reserve(count);
  for (uint32_t i = 0; i < count; ++i) {
    uint64_t artifact = 0, workload = 0;
    GetFixed64(&in, &artifact);
    GetFixed64(&in, &workload);
    if (artifact >= kMaxNodes || workload >= kMaxNodes) return false;
    runs->emplace_back(static_cast<NodeId>(artifact), static_cast<NodeId>(workload));
  }
  return true;
}

// Canonical (artifact, workload) ref pairs of `record`, sorted and unique, or
// InvalidArgument naming what is wrong. Checks everything ReplaceInventory
// relies on before anything is written.
absl::StatusOr<std::vector<std::pair<std::string, std::string>>> ValidateInventory(
    const InventoryRecord& record) {
  if (record.id.empty() || record.id.size() > kMaxInventoryIdLength ||
      std::any_of(record.id.begin(), record.id.end(),
                  [](char c) { return static_cast<unsigned char>(c) < 0x20 || c == 0x7f; })) {
    return absl::InvalidArgumentError(
        fmt::format("inventory id is empty, longer than {} bytes or has control characters",
                    kMaxInventoryIdLength));
  }
  auto fail = [&](std::string what) {
    return absl::InvalidArgumentError(fmt::format("inventory {}: {}", record.id, what));
  };
  if (!WorkloadRef(record.cluster, "n", "k", "n").ok()) {
    return fail(fmt::format("cluster \"{}\" must be non-empty, without '/' or control characters",
                            record.cluster));
  }
  if (record.runs.size() > kMaxInventoryRuns) {
    return fail(
        fmt::format("{} runs exceed the limit of {}", record.runs.size(), kMaxInventoryRuns));
  }
  const std::string prefix = fmt::format("workload:{}/", record.cluster);
  std::vector<std::pair<std::string, std::string>> runs;
  runs.reserve(record.runs.size());
  for (size_t i = 0; i < record.runs.size(); ++i) {
    absl::StatusOr<Ref> artifact = ParseRef(record.runs[i].artifact);
    absl::StatusOr<Ref> workload = ParseRef(record.runs[i].workload);
    if (!artifact.ok() || artifact->kind != NodeKind::kArtifact ||
        IsEmptyContentDigest(artifact->text) || !workload.ok() ||
        workload->kind != NodeKind::kWorkload) {
      return fail(fmt::format(
          "runs[{}]: expected an artifact digest and a workload ref, got \"{}\" and \"{}\"", i,
          record.runs[i].artifact, record.runs[i].workload));
    }
    // One cluster's inventory must not replace what another cluster runs.
    if (workload->text.compare(0, prefix.size(), prefix) != 0) {
      return fail(fmt::format("runs[{}]: workload {} is not in cluster {}", i, workload->text,
                              record.cluster));
    }
    runs.emplace_back(std::move(artifact->text), std::move(workload->text));
  }
  std::sort(runs.begin(), runs.end());
  runs.erase(std::unique(runs.begin(), runs.end()), runs.end());
  return runs;
}

}  // namespace

absl::StatusOr<InventoryOutcome> StoreImpl::ReplaceInventory(const InventoryRecord& record) {
  if (read_only_) return absl::FailedPreconditionError("the store was opened read-only");
  absl::StatusOr<std::vector<std::pair<std::string, std::string>>> runs = ValidateInventory(record);
  if (!runs.ok()) return runs.status();

  std::lock_guard lock(write_mu_);
  PendingBatch pb(counters_);
  InventoryOutcome outcome;
  absl::StatusOr<bool> stored = IsStored(record.id, &pb);
  if (!stored.ok()) return stored.status();
  if (*stored) {
    // The id hashes the inventory's bytes, so a stored id is this very
    // observation again. It can never be newer than the cluster's current
    // inventory (current times only grow), so it changes nothing.
    outcome.duplicate = true;
    return outcome;
  }

  uint64_t number = pb.counters.next_attestation++;
  absl::flat_hash_set<EdgeTriple> asserted;
  std::vector<RunPair> pairs;
  pairs.reserve(runs->size());
  for (const auto& [artifact_ref, workload_ref] : *runs) {
    absl::StatusOr<NodeId> artifact = ResolveDigests({artifact_ref}, &pb);
    if (!artifact.ok()) return artifact.status();
    absl::StatusOr<NodeId> workload = ResolveOrCreate(workload_ref, NodeKind::kWorkload, &pb);
    if (!workload.ok()) return workload.status();
    Assert(*artifact, EdgeKind::kRuns, *workload, number, record.time, &asserted, &pb);
    pairs.emplace_back(*artifact, *workload);
  }
  // Two digests of one artifact (an alias) give the same pair.
  std::sort(pairs.begin(), pairs.end());
  pairs.erase(std::unique(pairs.begin(), pairs.end()), pairs.end());

  StoredAttestation a;
  a.number = number;
  a.unsigned_ = true;
  a.time = record.time;
  a.ingested_at = Now();
  a.format = "inventory";
  a.source = record.source;
  a.raw = record.raw;
  PutAttestation(record.id, a, &pb);

  // Only this thread (holding write_mu_) changes inventories_, so it reads
  // it without inventory_mu_. An inventory taken before the current one (a
  // late delivery) is kept as history but does not become current: what
  // runs now is the latest observation, not the latest to arrive.
  auto current = inventories_.find(record.cluster);
  outcome.stale = current != inventories_.end() && record.time < current->second.time;
  if (!outcome.stale) {
    if (current != inventories_.end()) outcome.replaced = current->second.id;
    pb.batch.Put(cf(kInventories), record.cluster,
                 EncodeInventoryValue(number, record.time, pairs));
  }
  outcome.new_nodes = pb.new_nodes.size();
  outcome.new_edges = pb.new_edges.size();
  if (absl::Status s = Commit(&pb); !s.ok()) return s;

  if (!outcome.stale) {
    // After the commit, so a reader never sees an inventory that a failed
    // write left out, and after the index update, so every id in it resolves.
    std::unique_lock inventory_lock(inventory_mu_);
    inventories_[record.cluster] =
        CurrentInventory{record.id, number, record.time, std::move(pairs)};
  }
  return outcome;
}

absl::Status StoreImpl::LoadInventories() {
  std::map<std::string, CurrentInventory> loaded;
  rocksdb::ReadOptions read;
  std::unique_ptr<rocksdb::Iterator> it(db_->NewIterator(read, cf(kInventories)));
  for (it->SeekToFirst(); it->Valid(); it->Next()) {
    std::string cluster(it->key().data(), it->key().size());
    CurrentInventory inv;
    bool ok = DecodeInventoryValue(std::string_view(it->value().data(), it->value().size()),
                                   &inv.number, &inv.time, &inv.runs);
    // Written in the batch that created its nodes, so every id must be a
    // node of the right kind; anything else means the data was damaged.
    for (size_t i = 0; ok && i < inv.runs.size(); ++i) {
      const auto& [artifact, workload] = inv.runs[i];
      ok = artifact < index_.node_count() && workload < index_.node_count() &&
           index_.kind(artifact) == NodeKind::kArtifact &&
           index_.kind(workload) == NodeKind::kWorkload;
    }
    if (!ok) {
      return absl::DataLossError(
          fmt::format("{}: malformed inventory record of cluster \"{}\"", path_, cluster));
    }
    rocksdb::Status s = db_->Get(read, cf(kAttestationNumbers), EncodeFixed64(inv.number), &inv.id);
    if (s.IsNotFound()) {
      return absl::DataLossError(fmt::format(
          "{}: inventory of cluster \"{}\" names attestation number {}, which is not stored", path_,
          cluster, inv.number));
    }
    if (!s.ok()) return FromRocks(s, "read inventory attestation id");
    loaded.emplace(std::move(cluster), std::move(inv));
  }
  if (!it->status().ok()) return FromRocks(it->status(), "scan inventories");

  std::unique_lock lock(inventory_mu_);
  inventories_ = std::move(loaded);
  return absl::OkStatus();
}

std::vector<NodeId> StoreImpl::RunningWorkloads(
    const std::function<bool(NodeId)>& in_closure) const {
  std::vector<NodeId> running;
  std::shared_lock lock(inventory_mu_);
  for (const auto& [cluster, inv] : inventories_) {
    // Pairs are sorted by artifact: ask once per distinct artifact.
    NodeId last = kNoNode;
    bool last_in = false;
    for (const auto& [artifact, workload] : inv.runs) {
      if (artifact != last) {
        last = artifact;
        last_in = in_closure(artifact);
      }
      if (last_in) running.push_back(workload);
    }
  }
  std::sort(running.begin(), running.end());
  running.erase(std::unique(running.begin(), running.end()), running.end());
  return running;
}

absl::StatusOr<std::vector<ClusterInventory>> StoreImpl::Workloads(std::string_view cluster) {
  // Copied out so that inventory_mu_ is never held while taking index_mu_.
  std::vector<std::pair<std::string, CurrentInventory>> snapshot;
  {
    std::shared_lock lock(inventory_mu_);
    if (cluster.empty()) {
      snapshot.assign(inventories_.begin(), inventories_.end());
    } else if (auto it = inventories_.find(std::string(cluster)); it != inventories_.end()) {
      snapshot.emplace_back(*it);
    }
  }
  if (!cluster.empty() && snapshot.empty()) {
    return absl::NotFoundError(fmt::format("no inventory for cluster \"{}\"", cluster));
  }

  std::vector<ClusterInventory> result;
  result.reserve(snapshot.size());
  std::shared_lock lock(index_mu_);
  for (const auto& [name, inv] : snapshot) {
    ClusterInventory out;
    out.cluster = name;
    out.inventory = inv.id;
    out.time = inv.time;
    absl::flat_hash_map<NodeId, size_t> slot;  // workload -> index in out.workloads
    for (const auto& [artifact, workload] : inv.runs) {
      auto [pos, inserted] = slot.try_emplace(workload, out.workloads.size());
      if (inserted) out.workloads.push_back({std::string(index_.ref(workload)), {}});
      out.workloads[pos->second].images.emplace_back(index_.ref(artifact));
    }
    for (ClusterWorkload& w : out.workloads)
      std::sort(w.images.begin(), w.images.end());
    std::sort(out.workloads.begin(), out.workloads.end(),
              [](const ClusterWorkload& a, const ClusterWorkload& b) { return a.ref < b.ref; });
    result.push_back(std::move(out));
  }
  return result;
}

}  // namespace lineage::internal
