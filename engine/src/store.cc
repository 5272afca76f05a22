#include "engine/include/lineage/store.h"

#include <algorithm>
#include <chrono>
#include <filesystem>
#include <map>
#include <mutex>
#include <optional>
#include <shared_mutex>
#include <thread>
#include <tuple>
#include <utility>

#include <rocksdb/cache.h>
#include <rocksdb/convenience.h>
#include <rocksdb/db.h>
#include <rocksdb/filter_policy.h>
#include <rocksdb/options.h>
#include <rocksdb/table.h>
#include <rocksdb/utilities/checkpoint.h>
#include <rocksdb/write_batch.h>

#include "absl/container/flat_hash_map.h"
#include "absl/container/flat_hash_set.h"
#include "absl/status/status.h"
#include "absl/strings/numbers.h"
#include "absl/time/clock.h"

#include <fmt/format.h>

#include "engine/include/lineage/ref.h"
#include "engine/src/adjacency_index.h"
#include "engine/src/encoding.h"
#include "engine/src/store_impl.h"
#include "engine/src/traversal.h"

namespace lineage {
namespace {

using internal::AdjacencyIndex;
using internal::EdgeKey;
using internal::NodeId;
using internal::StoredAttestation;

constexpr size_t kMaxRecordIdLength = 1024;

using internal::Cf;
using internal::Counters;
using internal::EdgeTriple;
using internal::FromRocks;
using internal::kAttestations;
using internal::kCfCount;
using internal::kCfNames;
using internal::PendingBatch;
using internal::StoreImpl;

std::vector<std::string> NonEmptyContent(const std::vector<std::string>& digests) {
  std::vector<std::string> kept;
  for (const std::string& d : digests) {
    if (!IsEmptyContentDigest(d) && std::find(kept.begin(), kept.end(), d) == kept.end()) {
      kept.push_back(d);
    }
  }
  return kept;
}

absl::Status ValidateCanonical(std::string_view text, NodeKind kind, std::string_view what) {
  absl::StatusOr<Ref> ref = ParseRef(text);
  if (!ref.ok()) {
    return absl::InvalidArgumentError(
        fmt::format("{}: {}", what, std::string(ref.status().message())));
  }
  if (ref->kind != kind) {
    return absl::InvalidArgumentError(fmt::format("{}: \"{}\" is a {} ref, expected a {}", what,
                                                  text, NodeKindName(ref->kind),
                                                  NodeKindName(kind)));
  }
  if (ref->text != text) {
    return absl::InvalidArgumentError(
        fmt::format("{}: \"{}\" is not canonical (expected \"{}\")", what, text, ref->text));
  }
  return absl::OkStatus();
}

absl::Status ValidateRecordId(std::string_view id) {
  if (id.empty() || id.size() > kMaxRecordIdLength) {
    return absl::InvalidArgumentError(
        fmt::format("record id is empty or longer than {} bytes", kMaxRecordIdLength));
  }
  for (unsigned char c : id) {
    if (c < 0x20 || c == 0x7f)
      return absl::InvalidArgumentError("record id has control characters");
  }
  return absl::OkStatus();
}

absl::Status ValidateDigestSet(const ArtifactDigests& set, std::string_view what) {
  if (set.digests.empty()) return absl::InvalidArgumentError(fmt::format("{}: no digests", what));
  for (size_t i = 0; i < set.digests.size(); ++i) {
    absl::Status s =
        ValidateCanonical(set.digests[i], NodeKind::kArtifact, fmt::format("{}[{}]", what, i));
    if (!s.ok()) return s;
  }
  return absl::OkStatus();
}

bool IsKeylessKeyRef(std::string_view ref) {
  return ref.substr(0, 12) == "key:keyless:";
}

bool IsLowerHexSha256(std::string_view hex) {
  return hex.size() == 64 && std::all_of(hex.begin(), hex.end(), [](char c) {
           return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f');
         });
}

// The evidence is stored and shown as the audit trail of a keyless node, so
// it must describe that node: a certificate names exactly the identity the
// signer is filed under, and only a keyless identity has a certificate.
absl::Status ValidateEvidence(const VerifiedSigner& signer, std::string_view what) {
  auto fail = [&](std::string_view why) {
    return absl::InvalidArgumentError(fmt::format("{}: {}", what, why));
  };
  if (signer.log_index < -1) return fail("log_index below -1");
  bool keyless = IsKeylessKeyRef(signer.key_ref);
  if (signer.certificate_sha256.empty()) {
    if (!signer.issuer.empty() || !signer.san.empty()) {
      return fail("issuer or san given without certificate_sha256");
    }
    return absl::OkStatus();
  }
  if (!keyless) return fail("certificate_sha256 given for a signer that is not a keyless identity");
  if (!IsLowerHexSha256(signer.certificate_sha256)) {
    return fail("certificate_sha256 is not 64 lower-case hex digits");
  }
  absl::StatusOr<Ref> identity = KeylessRef(signer.issuer, signer.san);
  if (!identity.ok() || identity->text != signer.key_ref) {
    return fail(fmt::format("issuer and san do not name key_ref {}", signer.key_ref));
  }
  return absl::OkStatus();
}

// Checks everything Ingest relies on, before anything is written.
absl::Status ValidateRecord(const AttestationRecord& record) {
  if (absl::Status s = ValidateRecordId(record.id); !s.ok()) return s;
  auto fail = [&](const absl::Status& s) {
    return absl::InvalidArgumentError(
        fmt::format("attestation {}: {}", record.id, std::string(s.message())));
  };
  if (record.subjects.empty()) return fail(absl::InvalidArgumentError("no subjects"));
  bool any_subject = false;
  for (size_t i = 0; i < record.subjects.size(); ++i) {
    absl::Status s = ValidateDigestSet(record.subjects[i], fmt::format("subjects[{}]", i));
    if (!s.ok()) return fail(s);
    any_subject = any_subject || !NonEmptyContent(record.subjects[i].digests).empty();
  }
  if (!any_subject) {
    return fail(absl::InvalidArgumentError(
        "every subject is the digest of empty content, which identifies no artifact"));
  }
  for (size_t i = 0; i < record.materials.size(); ++i) {
    absl::Status s = ValidateDigestSet(record.materials[i], fmt::format("materials[{}]", i));
    if (!s.ok()) return fail(s);
  }
  if (!record.builder_id.empty()) {
    absl::StatusOr<Ref> builder = BuilderRef(record.builder_id);
    if (!builder.ok()) return fail(builder.status());
  }
  for (size_t i = 0; i < record.signers.size(); ++i) {
    absl::Status s = ValidateCanonical(record.signers[i].key_ref, NodeKind::kKey,
                                       fmt::format("signers[{}].key_ref", i));
    if (s.ok()) s = ValidateEvidence(record.signers[i], fmt::format("signers[{}]", i));
    if (!s.ok()) return fail(s);
  }
  if (record.unsigned_ != record.signers.empty()) {
    return fail(absl::InvalidArgumentError(record.unsigned_
                                               ? "marked unsigned but has signers"
                                               : "not marked unsigned but has no signers"));
  }
  return absl::OkStatus();
}

// A fingerprint-shaped key ref ("key:sha256:<64 hex>") names exactly one
// public key. A DSSE keyid is an unsigned hint chosen by the signer, so it
// must never become such a ref: otherwise a signer could claim another key's
// fingerprint as its keyid and capture that key's future signatures.
bool IsFingerprintKeyRef(std::string_view ref) {
  return ref.size() == 4 + 7 + 64 && ref.substr(0, 11) == "key:sha256:";
}

}  // namespace

namespace internal {

absl::Status ValidateAttestationRecord(const AttestationRecord& record) {
  return ValidateRecord(record);
}

absl::Status FromRocks(const rocksdb::Status& s, std::string_view context) {
  if (s.ok()) return absl::OkStatus();
  std::string message = fmt::format("{}: {}", context, s.ToString());
  // RocksDB reports a held LOCK file as an IOError ("lock hold by current
  // process" or "While lock file ... Resource temporarily unavailable").
  if (s.IsIOError() &&
      (message.find("lock") != std::string::npos || message.find("LOCK") != std::string::npos)) {
    return absl::UnavailableError(message);
  }
  if (s.IsCorruption()) return absl::DataLossError(message);
  if (s.IsInvalidArgument()) return absl::InvalidArgumentError(message);
  if (s.IsNotFound()) return absl::NotFoundError(message);
  if (s.IsNoSpace()) return absl::ResourceExhaustedError(message);
  if (s.IsBusy() || s.IsTimedOut() || s.IsTryAgain()) return absl::UnavailableError(message);
  return absl::InternalError(message);
}

absl::Status StoreImpl::Load() {
  rocksdb::ReadOptions read;
  std::string value;
  rocksdb::Status s = db_->Get(read, cf(kMeta), internal::kMetaFormatVersion, &value);
  if (s.IsNotFound()) {
    // A fresh database (or one whose creation was interrupted before its
    // first write): it must hold no nodes yet.
    std::unique_ptr<rocksdb::Iterator> it(db_->NewIterator(read, cf(kNodes)));
    it->SeekToFirst();
    if (it->Valid()) {
      return absl::DataLossError(fmt::format("{}: nodes present but no format version", path_));
    }
    if (read_only_) {
      if (absl::Status st = RebuildIndex(); !st.ok()) return st;
      return LoadRevocations();
    }
    std::string version;
    internal::PutFixed32(&version, internal::kFormatVersion);
    rocksdb::WriteBatch batch;
    batch.Put(cf(kMeta), internal::kMetaFormatVersion, version);
    rocksdb::WriteOptions sync_write;
    sync_write.sync = true;
    if (absl::Status st = FromRocks(db_->Write(sync_write, &batch), "write format version");
        !st.ok()) {
      return st;
    }
  } else if (!s.ok()) {
    return FromRocks(s, "read format version");
  } else if (value.size() != 4 ||
             internal::DecodeFixed32(value.data()) != internal::kFormatVersion) {
    return absl::DataLossError(
        fmt::format("{}: unknown format version (this build reads version {})", path_,
                    internal::kFormatVersion));
  }

  s = db_->Get(read, cf(kMeta), internal::kMetaCounters, &value);
  if (s.ok()) {
    if (!internal::DecodeCounters(value, &counters_)) {
      return absl::DataLossError(fmt::format("{}: counters are malformed", path_));
    }
  } else if (!s.IsNotFound()) {
    return FromRocks(s, "read counters");
  }
  if (absl::Status st = RebuildIndex(); !st.ok()) return st;
  if (absl::Status st = LoadInventories(); !st.ok()) return st;
  return LoadRevocations();
}

namespace {

// A RocksDB estimate of the keys in one column family, for reservations.
uint64_t EstimateKeys(rocksdb::DB* db, rocksdb::ColumnFamilyHandle* cf) {
  uint64_t keys = 0;
  if (!db->GetIntProperty(cf, rocksdb::DB::Properties::kEstimateNumKeys, &keys)) return 0;
  return keys;
}

// The reservation for a scan of about `estimate` records whose stored counter
// says `counted`: the counter when the estimate backs it up, so that a damaged
// counter cannot make the open allocate without bound.
size_t ReserveHint(uint64_t counted, uint64_t estimate) {
  return static_cast<size_t>(std::min(counted, estimate + estimate / 4 + 1024));
}

double MillisSince(std::chrono::steady_clock::time_point start) {
  return std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - start)
      .count();
}

}  // namespace

absl::Status StoreImpl::RebuildIndex() {
  auto start = std::chrono::steady_clock::now();
  rocksdb::ReadOptions read;
  read.fill_cache = false;  // a one-off full scan should not evict the working set
  read.readahead_size = 8 << 20;
  read.adaptive_readahead = true;

  // The edge records are scanned on a second thread while this one loads the
  // nodes and aliases: the two scans share nothing but the (thread-safe) DB
  // and the counters, which neither writes. Edge endpoints are checked
  // against the stored next node id; that it equals the number of node
  // records is checked after the join and before the edges are used, so the
  // checks are those of a scan of edges after nodes. Results are read only
  // after the join.
  const uint64_t node_bound = counters_.next_node_id;
  struct EdgeScan {
    absl::Status status;
    std::optional<Csr> forward;
    uint64_t assertions = 0;
    uint64_t edges_by_kind[kEdgeKindCount] = {};
    double ms = 0;
  } edges;
  auto scan_edges = [&] {
    auto edge_start = std::chrono::steady_clock::now();
    // Bounded by kMaxNodes here too, so that no id past it is packed.
    internal::CsrBuilder builder(
        std::min<uint64_t>(node_bound, internal::kMaxNodes),
        ReserveHint(counters_.edge_assertions, EstimateKeys(db_, cf(kOut))));
    std::unique_ptr<rocksdb::Iterator> it(db_->NewIterator(read, cf(kOut)));
    for (it->SeekToFirst(); it->Valid(); it->Next()) {
      EdgeKey key;
      uint64_t before = builder.edge_count();
      if (!internal::DecodeEdgeKey(std::string_view(it->key().data(), it->key().size()), &key) ||
          key.near >= node_bound || key.far >= node_bound ||
          !builder.Add(static_cast<NodeId>(key.near), key.kind, static_cast<NodeId>(key.far))) {
        edges.status = absl::DataLossError(fmt::format("{}: malformed edge record", path_));
        return;
      }
      if (builder.edge_count() != before) edges.edges_by_kind[static_cast<int>(key.kind) - 1]++;
      edges.assertions++;
    }
    if (!it->status().ok()) {
      edges.status = FromRocks(it->status(), "scan out edges");
      return;
    }
    edges.forward = std::move(builder).Finish();
    edges.ms = MillisSince(edge_start);
  };
  std::thread edge_thread(scan_edges);
  // Joined on every path out of this function, before anything it wrote is
  // read.
  struct Joiner {
    std::thread& t;
    ~Joiner() {
      if (t.joinable()) t.join();
    }
  } joiner{edge_thread};

  uint64_t nodes_by_kind[kNodeKindCount] = {};
  {
    uint64_t estimate = EstimateKeys(db_, cf(kNodes));
    size_t nodes = ReserveHint(counters_.next_node_id, estimate);
    // The node values are a kind byte and the ref, so the SST files' raw
    // value bytes bound the refs (memtable data aside: a low guess only
    // means one regrowth). Without that property, refs of about 64 bytes.
    uint64_t ref_bytes = nodes * 64;
    std::map<std::string, std::string> props;
    if (db_->GetMapProperty(cf(kNodes), rocksdb::DB::Properties::kAggregatedTableProperties,
                            &props)) {
      if (auto raw = props.find("raw_value_size"); raw != props.end()) {
        uint64_t bytes = 0;
        if (absl::SimpleAtoi(raw->second, &bytes)) {
          ref_bytes = std::min<uint64_t>(bytes + bytes / 32 + 4096, nodes * 256);
        }
      }
    }
    index_.ReserveNodes(nodes, static_cast<size_t>(ref_bytes));
  }
  std::unique_ptr<rocksdb::Iterator> it(db_->NewIterator(read, cf(kNodes)));
  for (it->SeekToFirst(); it->Valid(); it->Next()) {
    NodeKind kind;
    std::string_view ref;
    rocksdb::Slice key = it->key();
    if (key.size() != 8 || internal::DecodeFixed64(key.data()) != index_.node_count() ||
        index_.node_count() >= internal::kMaxNodes ||
        !internal::DecodeNodeValue(std::string_view(it->value().data(), it->value().size()), &kind,
                                   &ref)) {
      return absl::DataLossError(fmt::format("{}: malformed or non-dense node record after node {}",
                                             path_, index_.node_count()));
    }
    index_.AppendNode(kind, ref);
    nodes_by_kind[static_cast<int>(kind) - 1]++;
  }
  if (!it->status().ok()) return FromRocks(it->status(), "scan nodes");
  index_.IndexRefs();

  it.reset(db_->NewIterator(read, cf(kAliases)));
  for (it->SeekToFirst(); it->Valid(); it->Next()) {
    rocksdb::Slice key = it->key();
    uint64_t node = key.size() > 8 ? internal::DecodeFixed64(key.data()) : ~uint64_t{0};
    if (node >= index_.node_count()) {
      return absl::DataLossError(fmt::format("{}: malformed alias record", path_));
    }
    index_.AddAlias(std::string_view(key.data() + 8, key.size() - 8), static_cast<NodeId>(node));
  }
  if (!it->status().ok()) return FromRocks(it->status(), "scan aliases");
  it.reset();
  const double nodes_ms = MillisSince(start);
  if (index_.node_count() != counters_.next_node_id) {
    return absl::DataLossError(fmt::format("{}: {} node records but next node id is {}", path_,
                                           index_.node_count(), counters_.next_node_id));
  }

  edge_thread.join();
  const double joined_ms = MillisSince(start);
  if (!edges.status.ok()) return edges.status;
  index_.InstallBulk(std::move(*edges.forward));
  uint64_t assertions = edges.assertions;
  const uint64_t* edges_by_kind = edges.edges_by_kind;

  // The counters are written in the same batches as the data, so they agree
  // unless something outside lineage changed the database. The scan is the
  // truth; say so if they differ.
  bool agree = assertions == counters_.edge_assertions &&
               std::equal(std::begin(nodes_by_kind), std::end(nodes_by_kind),
                          std::begin(counters_.nodes_by_kind)) &&
               std::equal(edges_by_kind, edges_by_kind + kEdgeKindCount,
                          std::begin(counters_.edges_by_kind));
  if (!agree) {
    LINEAGE_LOG(logger_.get(), kWarning,
                "{}: stored counters disagree with the data; using counts from the scan", path_);
    counters_.edge_assertions = assertions;
    std::copy(std::begin(nodes_by_kind), std::end(nodes_by_kind), counters_.nodes_by_kind);
    std::copy(edges_by_kind, edges_by_kind + kEdgeKindCount, counters_.edges_by_kind);
  }

  LINEAGE_LOG(logger_.get(), kInfo,
              "opened {}{}: index rebuilt in {:.1f} ms (nodes and aliases {:.1f} ms, edges {:.1f} "
              "ms on a second thread, joined at {:.1f} ms): {} nodes, {} edges ({} assertions), {} "
              "attestations, index {:.1f} MiB",
              path_, read_only_ ? " read-only" : "", MillisSince(start), nodes_ms, edges.ms,
              joined_ms, index_.node_count(), index_.edge_count(), assertions,
              counters_.attestations, index_.MemoryBytes() / 1048576.0);
  return absl::OkStatus();
}

absl::StatusOr<bool> StoreImpl::IsStored(const std::string& id, PendingBatch* pb) {
  if (pb->attestation_ids.contains(id)) return true;
  rocksdb::PinnableSlice value;
  rocksdb::Status s = db_->Get(rocksdb::ReadOptions(), cf(kAttestations), id, &value);
  if (s.IsNotFound()) return false;
  if (!s.ok()) return FromRocks(s, "look up attestation");
  return true;
}

absl::StatusOr<std::optional<uint64_t>> StoreImpl::LookupRef(const std::string& ref,
                                                             PendingBatch* pb) {
  if (auto it = pb->refs.find(ref); it != pb->refs.end()) return it->second;
  // The index maps every ref and alias; the writer reads it without
  // index_mu_ since it is the only thread that changes it.
  NodeId id = index_.Find(ref);
  if (id == internal::kNoNode) return std::optional<uint64_t>();
  return std::optional<uint64_t>(id);
}

absl::StatusOr<NodeId> StoreImpl::NewNode(NodeKind kind, const std::string& ref, PendingBatch* pb) {
  uint64_t id = pb->counters.next_node_id;
  if (id >= internal::kMaxNodes) {
    return absl::ResourceExhaustedError("the index addresses at most 2^32-1 nodes");
  }
  pb->counters.next_node_id++;
  pb->counters.nodes_by_kind[static_cast<int>(kind) - 1]++;
  std::string key = internal::EncodeFixed64(id);
  pb->batch.Put(cf(kIds), ref, key);
  pb->batch.Put(cf(kNodes), key, internal::EncodeNodeValue(kind, ref));
  pb->refs[ref] = id;
  pb->new_nodes.emplace_back(kind, ref);
  return static_cast<NodeId>(id);
}

void StoreImpl::AddAlias(const std::string& alias, NodeId node, PendingBatch* pb) {
  std::string key = internal::EncodeFixed64(node);
  pb->batch.Put(cf(kIds), alias, key);
  key.append(alias);
  pb->batch.Put(cf(kAliases), key, rocksdb::Slice());
  pb->refs[alias] = node;
  pb->new_aliases.emplace_back(alias, node);
}

absl::StatusOr<NodeId> StoreImpl::ResolveDigests(const std::vector<std::string>& digests,
                                                 PendingBatch* pb) {
  std::vector<std::string> kept = NonEmptyContent(digests);
  if (kept.empty()) return internal::kNoNode;

  // Most preferred first (ties by text, so the choice is deterministic).
  std::sort(kept.begin(), kept.end(), [](const std::string& a, const std::string& b) {
    int pa = DigestPreference(a), pb = DigestPreference(b);
    return pa != pb ? pa < pb : a < b;
  });
  std::vector<std::optional<uint64_t>> found;
  std::optional<uint64_t> node;
  for (const std::string& d : kept) {
    absl::StatusOr<std::optional<uint64_t>> id = LookupRef(d, pb);
    if (!id.ok()) return id.status();
    found.push_back(*id);
    if (!node && *id) node = *id;
  }

  if (!node) {
    absl::StatusOr<NodeId> created = NewNode(NodeKind::kArtifact, kept[0], pb);
    if (!created.ok()) return created.status();
    node = *created;
    found[0] = node;
  }
  for (size_t i = 0; i < kept.size(); ++i) {
    // Limitation: a digest already naming a different node is left there; the
    // two nodes are not merged (docs/storage.md, "Aliases"), so this claim
    // that they are one artifact is only visible in the raw attestation.
    if (!found[i]) AddAlias(kept[i], static_cast<NodeId>(*node), pb);
  }
  return static_cast<NodeId>(*node);
}

absl::StatusOr<NodeId> StoreImpl::ResolveOrCreate(const std::string& ref, NodeKind kind,
                                                  PendingBatch* pb) {
  absl::StatusOr<std::optional<uint64_t>> id = LookupRef(ref, pb);
  if (!id.ok()) return id.status();
  if (*id) return static_cast<NodeId>(**id);
  return NewNode(kind, ref, pb);
}

void StoreImpl::Assert(NodeId src, EdgeKind kind, NodeId dst, uint64_t attestation, absl::Time time,
                       absl::flat_hash_set<EdgeTriple>* asserted, PendingBatch* pb) {
  // A self-loop says nothing about lineage and would make every traversal
  // from the node revisit it.
  if (src == dst || src == internal::kNoNode || dst == internal::kNoNode) return;
  EdgeTriple edge{src, kind, dst};
  if (!asserted->insert(edge).second) return;  // said twice by one record: one assertion
  pb->assertions.push_back({src, kind, dst, time});

  std::string value = internal::EncodeEdgeValue(time);
  pb->batch.Put(cf(kOut), internal::EncodeEdgeKey({src, kind, dst, attestation}), value);
  pb->batch.Put(cf(kIn), internal::EncodeEdgeKey({dst, kind, src, attestation}), value);
  pb->counters.edge_assertions++;

  bool in_index =
      src < index_.node_count() && dst < index_.node_count() && index_.HasEdge(src, kind, dst);
  if (!in_index && pb->new_edge_set.insert(edge).second) {
    pb->new_edges.push_back(edge);
    pb->counters.edges_by_kind[static_cast<int>(kind) - 1]++;
  }
}

void StoreImpl::PutAttestation(const std::string& id, const StoredAttestation& a,
                               PendingBatch* pb) {
  pb->batch.Put(cf(kAttestations), id, internal::EncodeAttestationValue(a));
  pb->batch.Put(cf(kAttestationNumbers), internal::EncodeFixed64(a.number), id);
  pb->attestation_ids.insert(id);
  pb->counters.attestations++;
  if (a.unsigned_) pb->counters.unsigned_attestations++;
}

absl::StatusOr<IngestOutcome> StoreImpl::Prepare(const AttestationRecord& record,
                                                 PendingBatch* pb) {
  IngestOutcome outcome;
  absl::StatusOr<bool> stored = IsStored(record.id, pb);
  if (!stored.ok()) return stored.status();
  if (*stored) {
    outcome.duplicate = true;
    return outcome;
  }
  if (pb->first_attestation.empty()) pb->first_attestation = record.id;
  pb->attestations++;
  size_t nodes_before = pb->new_nodes.size();
  size_t edges_before = pb->new_edges.size();
  uint64_t number = pb->counters.next_attestation++;

  // Resolve every node first; edges come after, so that the subject of one
  // entry and the material of another resolve to the same node.
  std::vector<NodeId> subjects, materials, signers;
  for (const ArtifactDigests& s : record.subjects) {
    absl::StatusOr<NodeId> id = ResolveDigests(s.digests, pb);
    if (!id.ok()) return id.status();
    if (*id != internal::kNoNode) subjects.push_back(*id);
  }
  for (const ArtifactDigests& m : record.materials) {
    absl::StatusOr<NodeId> id = ResolveDigests(m.digests, pb);
    if (!id.ok()) return id.status();
    if (*id != internal::kNoNode) materials.push_back(*id);
  }
  for (const VerifiedSigner& signer : record.signers) {
    absl::StatusOr<NodeId> id = ResolveOrCreate(signer.key_ref, NodeKind::kKey, pb);
    if (!id.ok()) return id.status();
    signers.push_back(*id);
    if (signer.keyid.empty()) continue;

    // The keyid is a hint: one that does not make a valid ref, or is taken, or
    // looks like another key's fingerprint is not recorded (and does not fail
    // the record). Nor is one spelled as a keyless identity: a key-based
    // signer must not capture the node of a workflow's identity, whose
    // signatures keyless verification files under that name.
    absl::StatusOr<Ref> alias = ParseRef(fmt::format("key:{}", signer.keyid));
    if (!alias.ok() || alias->kind != NodeKind::kKey) continue;
    if (IsFingerprintKeyRef(alias->text) || IsKeylessKeyRef(alias->text)) {
      outcome.warnings.push_back(
          fmt::format("keyid \"{}\" of {} is spelled as {} ref; not recorded as an alias",
                      signer.keyid.substr(0, 200), signer.key_ref,
                      IsKeylessKeyRef(alias->text) ? "a keyless identity" : "a key fingerprint"));
      continue;
    }
    absl::StatusOr<std::optional<uint64_t>> taken = LookupRef(alias->text, pb);
    if (!taken.ok()) return taken.status();
    if (!*taken) AddAlias(alias->text, *id, pb);
  }
  NodeId builder = internal::kNoNode;
  if (!record.builder_id.empty()) {
    absl::StatusOr<Ref> ref = BuilderRef(record.builder_id);
    if (!ref.ok()) return ref.status();
    absl::StatusOr<NodeId> id = ResolveOrCreate(ref->text, NodeKind::kBuilder, pb);
    if (!id.ok()) return id.status();
    builder = *id;
  }

  absl::flat_hash_set<EdgeTriple> asserted;
  for (NodeId subject : subjects) {
    for (NodeId material : materials)
      Assert(material, EdgeKind::kDerived, subject, number, record.time, &asserted, pb);
    for (NodeId signer : signers)
      Assert(signer, EdgeKind::kSigned, subject, number, record.time, &asserted, pb);
    Assert(builder, EdgeKind::kBuilt, subject, number, record.time, &asserted, pb);
  }

  StoredAttestation a;
  a.number = number;
  a.unsigned_ = record.unsigned_;
  a.time = record.time;
  a.ingested_at = Now();
  a.format = record.format;
  a.payload_type = record.payload_type;
  a.statement_type = record.statement_type;
  a.predicate_type = record.predicate_type;
  a.source = record.source;
  internal::SetSigners(record.signers, &a);
  a.raw = record.raw;
  PutAttestation(record.id, a, pb);

  outcome.new_nodes = pb->new_nodes.size() - nodes_before;
  outcome.new_edges = pb->new_edges.size() - edges_before;
  return outcome;
}

absl::Status StoreImpl::Commit(PendingBatch* pb) {
  pb->batch.Put(cf(kMeta), internal::kMetaCounters, internal::EncodeCounters(pb->counters));
  if (absl::Status s = FromRocks(db_->Write(write_options_, &pb->batch), "write batch"); !s.ok()) {
    LINEAGE_LOG(logger_.get(), kError, "{}: {}", path_, std::string(s.message()));
    return s;
  }

  // The batch is durable (to the configured level); only now does the index
  // see it, so a reader never finds an edge that a failed write left out.
  {
    // A taint change is installed together with the edges that cause it: a
    // check waits on taint_mu_ and so never sees the new edges untainted.
    std::unique_lock taint_lock(taint_mu_, std::defer_lock);
    if (!pb->install_taint.empty()) taint_lock.lock();
    {
      std::unique_lock lock(index_mu_);
      for (const auto& [kind, ref] : pb->new_nodes)
        index_.AddNode(kind, ref);
      for (const auto& [alias, node] : pb->new_aliases)
        index_.AddAlias(alias, node);
      for (const auto& [src, kind, dst] : pb->new_edges)
        index_.AddEdge(src, kind, dst);
      counters_ = pb->counters;
    }
    for (const std::function<void()>& install : pb->install_taint)
      install();
  }
  if (pb->deny_changed) {
    std::lock_guard lock(listener_mu_);
    if (deny_listener_) deny_listener_(pb->deny_seq);
  }

  if (index_.ShouldMerge()) {
    // Built while readers keep traversing (only this thread mutates the
    // index, and it holds write_mu_); readers wait only for the swap.
    auto start = std::chrono::steady_clock::now();
    internal::MergedCsr merged = index_.PrepareMerge();
    uint64_t delta = index_.delta_edge_count();
    {
      std::unique_lock lock(index_mu_);
      index_.InstallMerge(std::move(merged));
    }
    auto ms = std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - start);
    LINEAGE_LOG(logger_.get(), kDebug, "merged {} delta edges into the index in {:.1f} ms", delta,
                ms.count());
  }
  return absl::OkStatus();
}

absl::StatusOr<IngestOutcome> StoreImpl::Ingest(const AttestationRecord& record) {
  absl::StatusOr<std::vector<IngestOutcome>> outcomes =
      IngestBatch(std::span<const AttestationRecord>(&record, 1));
  if (!outcomes.ok()) return outcomes.status();
  return (*outcomes)[0];
}

absl::StatusOr<std::vector<IngestOutcome>> StoreImpl::IngestBatch(
    std::span<const AttestationRecord> records) {
  if (read_only_) return absl::FailedPreconditionError("the store was opened read-only");
  for (size_t i = 0; i < records.size(); ++i) {
    absl::Status s = ValidateRecord(records[i]);
    if (!s.ok()) {
      if (records.size() == 1) return s;
      return absl::InvalidArgumentError(fmt::format("record {}: {}", i, std::string(s.message())));
    }
  }

  std::lock_guard lock(write_mu_);
  PendingBatch pb(counters_);
  std::vector<IngestOutcome> outcomes;
  outcomes.reserve(records.size());
  for (const AttestationRecord& record : records) {
    absl::StatusOr<IngestOutcome> outcome = Prepare(record, &pb);
    if (!outcome.ok()) return outcome.status();
    outcomes.push_back(*outcome);
  }
  if (pb.attestation_ids.empty()) return outcomes;  // all duplicates: nothing to write
  // Taint that these attestations extend is written in the same batch, so a
  // killed process leaves neither or both.
  if (absl::Status s = PrepareStickyTaint(&pb); !s.ok()) return s;
  if (absl::Status s = Commit(&pb); !s.ok()) return s;
  return outcomes;
}

absl::StatusOr<IngestOutcome> StoreImpl::AddRuns(const RunsRecord& record) {
  if (read_only_) return absl::FailedPreconditionError("the store was opened read-only");
  if (absl::Status s = ValidateRecordId(record.id); !s.ok()) return s;
  if (record.runs.empty()) {
    return absl::InvalidArgumentError(fmt::format("inventory {}: no runs", record.id));
  }
  std::vector<std::pair<std::string, std::string>> runs;
  for (size_t i = 0; i < record.runs.size(); ++i) {
    absl::StatusOr<Ref> artifact = ParseRef(record.runs[i].artifact);
    absl::StatusOr<Ref> workload = ParseRef(record.runs[i].workload);
    if (!artifact.ok() || artifact->kind != NodeKind::kArtifact ||
        IsEmptyContentDigest(artifact->text) || !workload.ok() ||
        workload->kind != NodeKind::kWorkload) {
      return absl::InvalidArgumentError(fmt::format(
          "inventory {}: runs[{}]: expected an artifact digest and a workload ref, got \"{}\" and "
          "\"{}\"",
          record.id, i, record.runs[i].artifact, record.runs[i].workload));
    }
    runs.emplace_back(artifact->text, workload->text);
  }

  std::lock_guard lock(write_mu_);
  PendingBatch pb(counters_);
  IngestOutcome outcome;
  absl::StatusOr<bool> stored = IsStored(record.id, &pb);
  if (!stored.ok()) return stored.status();
  if (*stored) {
    outcome.duplicate = true;
    return outcome;
  }
  uint64_t number = pb.counters.next_attestation++;
  absl::flat_hash_set<EdgeTriple> asserted;
  for (const auto& [artifact_ref, workload_ref] : runs) {
    absl::StatusOr<NodeId> artifact = ResolveDigests({artifact_ref}, &pb);
    if (!artifact.ok()) return artifact.status();
    absl::StatusOr<NodeId> workload = ResolveOrCreate(workload_ref, NodeKind::kWorkload, &pb);
    if (!workload.ok()) return workload.status();
    Assert(*artifact, EdgeKind::kRuns, *workload, number, record.time, &asserted, &pb);
  }
  StoredAttestation a;
  a.number = number;
  a.unsigned_ = true;
  a.time = record.time;
  a.ingested_at = Now();
  a.format = "inventory";
  a.source = record.source;
  a.raw = record.raw;
  PutAttestation(record.id, a, &pb);
  outcome.new_nodes = pb.new_nodes.size();
  outcome.new_edges = pb.new_edges.size();
  if (absl::Status s = Commit(&pb); !s.ok()) return s;
  return outcome;
}

absl::StatusOr<NodeId> StoreImpl::FindNode(std::string_view text) {
  absl::StatusOr<Ref> ref = ParseRef(text);
  if (!ref.ok()) return ref.status();
  std::shared_lock lock(index_mu_);
  NodeId id = index_.Find(ref->text);
  if (id == internal::kNoNode) {
    return absl::NotFoundError(fmt::format("{} is not in the graph", ref->text));
  }
  return id;
}

absl::StatusOr<TraversalResult> StoreImpl::Traverse(std::string_view ref,
                                                    const TraversalOptions& options, bool forward) {
  if (options.max_depth < -1) return absl::InvalidArgumentError("max_depth must be -1 or more");
  absl::StatusOr<NodeId> root = FindNode(ref);
  if (!root.ok()) return root.status();

  std::shared_lock lock(index_mu_);
  // The ids entry is written before the index learns of the node; for that
  // instant the node is treated as not yet present.
  if (*root >= index_.node_count()) {
    return absl::NotFoundError(fmt::format("{} is not in the graph yet", ref));
  }
  internal::VisitResult visits =
      internal::Traverse(forward ? index_.forward() : index_.reverse(), *root, options, &colors_);
  TraversalResult result;
  result.root = std::string(index_.ref(*root));
  result.truncated = visits.truncated;
  result.nodes.reserve(visits.nodes.size());
  for (const internal::Visit& v : visits.nodes)
    result.nodes.push_back({std::string(index_.ref(v.node)), index_.kind(v.node), v.depth});
  return result;
}

absl::StatusOr<uint64_t> StoreImpl::CountDescendants(std::string_view ref,
                                                     const TraversalOptions& options) {
  if (options.max_depth < -1) return absl::InvalidArgumentError("max_depth must be -1 or more");
  absl::StatusOr<NodeId> root = FindNode(ref);
  if (!root.ok()) return root.status();
  std::shared_lock lock(index_mu_);
  if (*root >= index_.node_count()) {
    return absl::NotFoundError(fmt::format("{} is not in the graph yet", ref));
  }
  return internal::Traverse(index_.forward(), *root, options, &colors_).nodes.size();
}

absl::Status StoreImpl::ScanEdges(Cf which, NodeId node, bool outgoing,
                                  absl::flat_hash_map<uint64_t, ScannedAttestation>* attestations,
                                  std::vector<EdgeInfo>* edges) {
  std::string lower = internal::EncodeFixed64(node);
  std::string upper = internal::EncodeFixed64(uint64_t{node} + 1);
  rocksdb::Slice upper_slice(upper);
  rocksdb::ReadOptions read;
  read.iterate_upper_bound = &upper_slice;
  std::unique_ptr<rocksdb::Iterator> it(db_->NewIterator(read, cf(which)));
  for (it->Seek(lower); it->Valid(); it->Next()) {
    EdgeKey key;
    absl::Time time;
    if (!internal::DecodeEdgeKey(std::string_view(it->key().data(), it->key().size()), &key) ||
        !internal::DecodeEdgeValue(std::string_view(it->value().data(), it->value().size()),
                                   &time)) {
      return absl::DataLossError(fmt::format("malformed edge record of node {}", node));
    }
    auto [pos, inserted] = attestations->try_emplace(key.attestation);
    ScannedAttestation& scanned = pos->second;
    if (inserted) {
      rocksdb::Status s = db_->Get(rocksdb::ReadOptions(), cf(kAttestationNumbers),
                                   internal::EncodeFixed64(key.attestation), &scanned.id);
      if (!s.ok()) return FromRocks(s, fmt::format("attestation number {}", key.attestation));
    }
    // Only signed edges carry evidence, so only they pay for reading the
    // attestation record, once per attestation.
    if (key.kind == EdgeKind::kSigned && !scanned.evidence_read) {
      absl::StatusOr<AttestationSummary> summary = GetAttestation(scanned.id);
      if (!summary.ok()) return summary.status();
      scanned.evidence = std::move(summary->evidence);
      scanned.evidence_read = true;
    }
    EdgeInfo edge;
    std::string near_ref, far_ref;
    {
      std::shared_lock lock(index_mu_);
      if (key.far >= index_.node_count()) continue;  // written, not yet indexed
      near_ref = std::string(index_.ref(node));
      far_ref = std::string(index_.ref(static_cast<NodeId>(key.far)));
    }
    edge.from = outgoing ? near_ref : far_ref;
    edge.to = outgoing ? far_ref : near_ref;
    edge.kind = key.kind;
    edge.attestation = scanned.id;
    edge.time = time;
    if (key.kind == EdgeKind::kSigned) {
      for (const SignerEvidence& e : scanned.evidence) {
        if (e.key_ref == edge.from) edge.evidence = e;
      }
    }
    edges->push_back(std::move(edge));
  }
  return FromRocks(it->status(), "scan edges");
}

absl::StatusOr<NodeInfo> StoreImpl::Show(std::string_view ref) {
  absl::StatusOr<NodeId> id = FindNode(ref);
  if (!id.ok()) return id.status();
  NodeInfo info;
  {
    std::shared_lock lock(index_mu_);
    if (*id >= index_.node_count()) {
      return absl::NotFoundError(fmt::format("{} is not in the graph yet", ref));
    }
    info.ref = std::string(index_.ref(*id));
    info.kind = index_.kind(*id);
  }

  std::string prefix = internal::EncodeFixed64(*id);
  std::string upper = internal::EncodeFixed64(uint64_t{*id} + 1);
  rocksdb::Slice upper_slice(upper);
  rocksdb::ReadOptions read;
  read.iterate_upper_bound = &upper_slice;
  std::unique_ptr<rocksdb::Iterator> it(db_->NewIterator(read, cf(kAliases)));
  for (it->Seek(prefix); it->Valid(); it->Next()) {
    info.aliases.emplace_back(it->key().data() + 8, it->key().size() - 8);
  }
  if (!it->status().ok()) return FromRocks(it->status(), "scan aliases");

  absl::flat_hash_map<uint64_t, ScannedAttestation> attestations;
  if (absl::Status s = ScanEdges(kOut, *id, true, &attestations, &info.out_edges); !s.ok()) {
    return s;
  }
  if (absl::Status s = ScanEdges(kIn, *id, false, &attestations, &info.in_edges); !s.ok()) {
    return s;
  }
  return info;
}

absl::StatusOr<AttestationSummary> StoreImpl::GetAttestation(std::string_view id) {
  rocksdb::PinnableSlice value;
  rocksdb::Status s = db_->Get(rocksdb::ReadOptions(), cf(kAttestations),
                               rocksdb::Slice(id.data(), id.size()), &value);
  if (s.IsNotFound()) return absl::NotFoundError(fmt::format("attestation {} is not stored", id));
  if (!s.ok()) return FromRocks(s, "read attestation");
  StoredAttestation a;
  if (!internal::DecodeAttestationValue(std::string_view(value.data(), value.size()), &a)) {
    return absl::DataLossError(fmt::format("attestation {} is malformed", id));
  }
  AttestationSummary summary;
  summary.id = std::string(id);
  summary.format = std::move(a.format);
  summary.predicate_type = std::move(a.predicate_type);
  summary.source = std::move(a.source);
  summary.time = a.time;
  summary.ingested_at = a.ingested_at;
  summary.signers = std::move(a.signers);
  summary.evidence = std::move(a.evidence);
  summary.unsigned_ = a.unsigned_;
  return summary;
}

absl::Status StoreImpl::Checkpoint(const std::string& dir) {
  std::error_code ec;
  if (std::filesystem::exists(dir, ec)) {
    return absl::AlreadyExistsError(
        fmt::format("{} exists; a checkpoint needs a new directory", dir));
  }
  rocksdb::Checkpoint* raw = nullptr;
  if (absl::Status s = FromRocks(rocksdb::Checkpoint::Create(db_, &raw), "checkpoint"); !s.ok()) {
    return s;
  }
  std::unique_ptr<rocksdb::Checkpoint> checkpoint(raw);
  auto start = std::chrono::steady_clock::now();
  // The memtables are flushed first, so the copy needs no WAL replay.
  absl::Status s = FromRocks(checkpoint->CreateCheckpoint(dir, /*log_size_for_flush=*/0),
                             fmt::format("checkpoint to {}", dir));
  if (s.ok()) {
    auto ms = std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - start);
    LINEAGE_LOG(logger_.get(), kInfo, "checkpoint of {} written to {} in {:.1f} ms", path_, dir,
                ms.count());
  }
  return s;
}

absl::StatusOr<StoreStats> StoreImpl::Stats() {
  StoreStats stats;
  {
    std::shared_lock lock(index_mu_);
    std::copy(std::begin(counters_.nodes_by_kind), std::end(counters_.nodes_by_kind),
              stats.nodes_by_kind);
    std::copy(std::begin(counters_.edges_by_kind), std::end(counters_.edges_by_kind),
              stats.edges_by_kind);
    stats.edge_assertions = counters_.edge_assertions;
    stats.attestations = counters_.attestations;
    stats.unsigned_attestations = counters_.unsigned_attestations;
  }
  // Every file in the directory: SST files, the live WAL, manifests and logs
  // all occupy the disk.
  std::error_code ec;
  for (const auto& entry : std::filesystem::directory_iterator(path_, ec)) {
    std::error_code size_ec;
    uintmax_t size = entry.is_regular_file(size_ec) ? entry.file_size(size_ec) : 0;
    if (!size_ec) stats.db_bytes += size;
  }
  if (ec) return absl::InternalError(fmt::format("list {}: {}", path_, ec.message()));
  return stats;
}

}  // namespace internal

namespace {

rocksdb::CompressionType PickCompression(bool prefer_zstd) {
  std::vector<rocksdb::CompressionType> supported = rocksdb::GetSupportedCompressions();
  auto has = [&](rocksdb::CompressionType t) {
    return std::find(supported.begin(), supported.end(), t) != supported.end();
  };
  if (prefer_zstd && has(rocksdb::kZSTD)) return rocksdb::kZSTD;
  if (has(rocksdb::kLZ4Compression)) return rocksdb::kLZ4Compression;
  if (has(rocksdb::kSnappyCompression)) return rocksdb::kSnappyCompression;
  return rocksdb::kNoCompression;
}

// Whether a RocksDB database that lacks some of lineage's core column
// families is a lineage database whose creation was interrupted: RocksDB
// creates the missing column families one MANIFEST write at a time, so a
// process killed while creating a database leaves "default" and a prefix of
// ours. Such a database is adopted only when every column family it has is
// one of ours and all of them are empty, so that somebody else's data is
// never taken over.
absl::StatusOr<bool> IsInterruptedCreation(const rocksdb::Options& db_options,
                                           const std::string& path,
                                           const std::vector<std::string>& existing) {
  std::vector<rocksdb::ColumnFamilyDescriptor> descriptors;
  for (const std::string& name : existing) {
    if (std::find(std::begin(kCfNames), std::end(kCfNames), name) == std::end(kCfNames)) {
      return false;
    }
    descriptors.emplace_back(name, rocksdb::ColumnFamilyOptions());
  }
  rocksdb::DB* raw_db = nullptr;
  std::vector<rocksdb::ColumnFamilyHandle*> handles;
  rocksdb::Status s =
      rocksdb::DB::OpenForReadOnly(db_options, path, descriptors, &handles, &raw_db);
  if (!s.ok()) return FromRocks(s, fmt::format("open {}", path));
  std::unique_ptr<rocksdb::DB> db(raw_db);
  bool empty = true;
  rocksdb::Status read_status;
  for (rocksdb::ColumnFamilyHandle* handle : handles) {
    std::unique_ptr<rocksdb::Iterator> it(db->NewIterator(rocksdb::ReadOptions(), handle));
    it->SeekToFirst();
    if (it->Valid()) empty = false;
    if (read_status.ok()) read_status = it->status();
  }
  for (rocksdb::ColumnFamilyHandle* handle : handles) {
    (void)db->DestroyColumnFamilyHandle(handle);
  }
  if (!read_status.ok()) return FromRocks(read_status, fmt::format("read {}", path));
  return empty;
}

}  // namespace

absl::StatusOr<std::unique_ptr<Store>> Store::Open(const std::string& path,
                                                   const StoreOptions& options) {
  if (path.empty()) return absl::InvalidArgumentError("database path is empty");
  if (options.block_cache_bytes == 0) {
    return absl::InvalidArgumentError("block_cache_bytes must be positive");
  }

  rocksdb::Options db_options;
  db_options.create_if_missing = options.create_if_missing;
  db_options.create_missing_column_families = true;
  db_options.max_background_jobs = 2;
  db_options.keep_log_file_num = 4;

  // A database that exists must be a lineage database: refuse to add our
  // column families to somebody else's RocksDB.
  std::vector<std::string> existing;
  bool exists = rocksdb::DB::ListColumnFamilies(db_options, path, &existing).ok();
  if (exists) {
    for (int i = 1; i < kCfCount; ++i) {
      if (std::find(existing.begin(), existing.end(), kCfNames[i]) != existing.end()) continue;
      if (i < internal::kCoreCfCount) {
        absl::StatusOr<bool> interrupted = IsInterruptedCreation(db_options, path, existing);
        if (!interrupted.ok()) return interrupted.status();
        if (!*interrupted) {
          return absl::InvalidArgumentError(fmt::format(
              "{} is a RocksDB database but not a lineage database (no column family \"{}\")", path,
              kCfNames[i]));
        }
        if (options.read_only) {
          return absl::FailedPreconditionError(fmt::format(
              "{}: its creation was interrupted; open it once read-write to finish it", path));
        }
        break;  // empty: the writable open below creates every missing column family
      }
      if (options.read_only) {
        return absl::FailedPreconditionError(
            fmt::format("{} predates column family \"{}\": open it once read-write to upgrade it",
                        path, kCfNames[i]));
      }
    }
  } else if (!options.create_if_missing || options.read_only) {
    return absl::NotFoundError(fmt::format("{}: no database here", path));
  }

  rocksdb::BlockBasedTableOptions table;
  table.block_cache = rocksdb::NewLRUCache(options.block_cache_bytes);
  table.filter_policy.reset(rocksdb::NewBloomFilterPolicy(10));
  table.format_version = 5;
  auto table_factory =
      std::shared_ptr<rocksdb::TableFactory>(rocksdb::NewBlockBasedTableFactory(table));

  std::vector<rocksdb::ColumnFamilyDescriptor> descriptors;
  for (int i = 0; i < kCfCount; ++i) {
    rocksdb::ColumnFamilyOptions cf_options;
    cf_options.table_factory = table_factory;
    // Raw records are the bulk of the bytes and compress well; keys and ids
    // are mostly hex digests and fixed-width integers, where a cheap codec
    // is enough.
    cf_options.compression = PickCompression(/*prefer_zstd=*/i == kAttestations);
    if (i == kAttestations) {
      // Every ingest asks whether its id is already stored, and the answer is
      // nearly always no: a memtable bloom filter answers that without a
      // skiplist search.
      cf_options.memtable_whole_key_filtering = true;
      cf_options.memtable_prefix_bloom_size_ratio = 0.02;
    }
    descriptors.emplace_back(kCfNames[i], cf_options);
  }

  rocksdb::DB* raw_db = nullptr;
  std::vector<rocksdb::ColumnFamilyHandle*> handles;
  rocksdb::Status s =
      options.read_only
          ? rocksdb::DB::OpenForReadOnly(db_options, path, descriptors, &handles, &raw_db)
          : rocksdb::DB::Open(db_options, path, descriptors, &handles, &raw_db);
  if (!s.ok()) return FromRocks(s, fmt::format("open {}", path));

  std::shared_ptr<Logger> logger =
      options.logger ? options.logger : NewFileLogger(path + "/LOG-lineage");
  auto store = std::make_unique<StoreImpl>(path, options, raw_db, std::move(handles), logger);
  if (absl::Status status = store->Load(); !status.ok()) {
    LINEAGE_LOG(logger.get(), kError, "open {} failed: {}", path, std::string(status.message()));
    return status;
  }
  return std::unique_ptr<Store>(std::move(store));
}

}  // namespace lineage
