// Store::BulkLoad must leave exactly the database IngestBatch leaves: the
// tests load the same records both ways and compare every key and value of
// every column family, then what the store answers, also after reopening.
#include <algorithm>
#include <cstdint>
#include <filesystem>
#include <fstream>
#include <memory>
#include <span>
#include <string>
#include <utility>
#include <vector>

#include <fmt/format.h>
#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <rocksdb/db.h>

#include "engine/include/lineage/revocation.h"
#include "engine/include/lineage/store.h"
#include "tests/engine/test_util.h"

namespace lineage {
namespace {

using testing_util::Digests;
using testing_util::KeyRef;
using testing_util::QuietOptions;
using testing_util::Sha1;
using testing_util::Sha256;
using testing_util::Sha512;
using testing_util::TempDir;

constexpr char kEmptySha256[] =
    "sha256:e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855";

uint64_t Mix(uint64_t x) {
  x += 0x9e3779b97f4a7c15ull;
  x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9ull;
  x = (x ^ (x >> 27)) * 0x94d049bb133111ebull;
  return x ^ (x >> 31);
}

// Records exercising every path of Prepare: aliases (a subject named by two
// digests, a material named by its alias), the empty-content digest, keyids
// (recorded, and refused as fingerprint-shaped), unsigned records, several
// signers and subjects, no builder, and repeated records (duplicates).
std::vector<AttestationRecord> MakeRecords(uint64_t seed, size_t count) {
  uint64_t state = seed;
  auto below = [&](uint64_t n) { return (state = Mix(state)) % n; };
  std::vector<AttestationRecord> records;
  for (size_t i = 0; i < count; ++i) {
    if (i > 0 && below(40) == 0) {
      records.push_back(records[below(records.size())]);
      continue;
    }
    AttestationRecord r;
    r.id = fmt::format("{:016x}{:016x}{:016x}{:016x}", Mix(seed), Mix(i), Mix(i + 1), i);
    r.format = "dsse";
    r.payload_type = "application/vnd.in-toto+json";
    r.statement_type = "https://in-toto.io/Statement/v1";
    r.predicate_type = "https://slsa.dev/provenance/v1";
    r.subjects.push_back(below(8) == 0 ? Digests({Sha512(i), Sha256(i)}) : Digests({Sha256(i)}));
    if (below(20) == 0) r.subjects.push_back(Digests({Sha256(count + i)}));
    const uint64_t materials = below(4);
    for (uint64_t m = 0; m < materials && i > 0; ++m) {
      const uint64_t earlier = below(i);
      switch (below(6)) {
        case 0:
          r.materials.push_back(Digests({Sha1(below(200))}));
          break;
        case 1:
          r.materials.push_back(Digests({Sha512(earlier)}));
          break;
        case 2:
          r.materials.push_back(Digests({kEmptySha256}));
          break;
        default:
          r.materials.push_back(Digests({Sha256(earlier)}));
      }
    }
    if (below(10) == 0) {
      r.format = "statement";
      r.unsigned_ = true;
    } else {
      const uint64_t signers = 1 + (below(10) == 0);
      for (uint64_t s = 0; s < signers; ++s) {
        VerifiedSigner signer;
        const uint64_t key = below(20);
        signer.key_ref = KeyRef(key);
        signer.algorithm = "ecdsa-p256-sha256";
        if (below(3) == 0) signer.keyid = fmt::format("release-{}", key);
        if (below(50) == 0) signer.keyid = KeyRef(key + 1).substr(4);  // refused as an alias
        r.signers.push_back(std::move(signer));
      }
    }
    if (below(5) != 0) r.builder_id = fmt::format("https://ci.example/builders/{}", below(10));
    r.time = absl::FromUnixSeconds(1700000000 + static_cast<int64_t>(i));
    r.source = fmt::format("records.jsonl:{}", i + 1);
    r.raw = fmt::format("{{\"payload\":\"{}\"}}", i);
    records.push_back(std::move(r));
  }
  return records;
}

StoreOptions FixedClockOptions() {
  StoreOptions options = QuietOptions();
  options.clock = [] { return absl::FromUnixSeconds(1800000000); };
  return options;
}

std::unique_ptr<Store> MustOpen(const std::string& path,
                                StoreOptions options = FixedClockOptions()) {
  absl::StatusOr<std::unique_ptr<Store>> store = Store::Open(path, options);
  EXPECT_TRUE(store.ok()) << store.status();
  return store.ok() ? std::move(*store) : nullptr;
}

// Every key and value of every column family, as "cf\0key\0value" lines.
std::vector<std::string> Dump(const std::string& path) {
  std::vector<std::string> names;
  EXPECT_TRUE(rocksdb::DB::ListColumnFamilies(rocksdb::Options(), path, &names).ok());
  std::sort(names.begin(), names.end());
  std::vector<rocksdb::ColumnFamilyDescriptor> descriptors;
  for (const std::string& name : names)
    descriptors.emplace_back(name, rocksdb::ColumnFamilyOptions());
  rocksdb::DB* db = nullptr;
  std::vector<rocksdb::ColumnFamilyHandle*> handles;
  rocksdb::Status s =
      rocksdb::DB::OpenForReadOnly(rocksdb::Options(), path, descriptors, &handles, &db);
  EXPECT_TRUE(s.ok()) << s.ToString();
  std::vector<std::string> out;
  if (!s.ok()) return out;
  for (size_t i = 0; i < handles.size(); ++i) {
    std::unique_ptr<rocksdb::Iterator> it(db->NewIterator(rocksdb::ReadOptions(), handles[i]));
    for (it->SeekToFirst(); it->Valid(); it->Next()) {
      out.push_back(names[i] + '\0' + it->key().ToString() + '\0' + it->value().ToString());
    }
    EXPECT_TRUE(it->status().ok());
  }
  for (rocksdb::ColumnFamilyHandle* h : handles)
    EXPECT_TRUE(db->DestroyColumnFamilyHandle(h).ok());
  delete db;
  return out;
}

std::string Describe(const absl::StatusOr<NodeInfo>& node) {
  if (!node.ok()) return std::string(node.status().message());
  std::string out = fmt::format("{} {} aliases:", node->ref, NodeKindName(node->kind));
  for (const std::string& a : node->aliases)
    out += " " + a;
  for (const auto* edges : {&node->in_edges, &node->out_edges}) {
    out += "\n edges:";
    for (const EdgeInfo& e : *edges) {
      out += fmt::format("\n  {} -{}-> {} by {} at {}", e.from, EdgeKindName(e.kind), e.to,
                         e.attestation, absl::ToUnixMicros(e.time));
    }
  }
  return out;
}

std::string Describe(const absl::StatusOr<TraversalResult>& result) {
  if (!result.ok()) return std::string(result.status().message());
  // Sorted: the order within one depth follows the index's layout (CSR or
  // recent-write delta), which differs between the two ways of loading.
  std::vector<std::string> nodes;
  for (const TraversedNode& n : result->nodes)
    nodes.push_back(fmt::format("{}@{}", n.depth, n.ref));
  std::sort(nodes.begin(), nodes.end());
  std::string out = result->root;
  for (const std::string& n : nodes)
    out += " " + n;
  return out;
}

std::string Describe(const absl::StatusOr<StoreStats>& stats) {
  if (!stats.ok()) return std::string(stats.status().message());
  std::string out =
      fmt::format("assertions {} attestations {} unsigned {} nodes", stats->edge_assertions,
                  stats->attestations, stats->unsigned_attestations);
  for (uint64_t n : stats->nodes_by_kind)
    out += fmt::format(" {}", n);
  out += " edges";
  for (uint64_t n : stats->edges_by_kind)
    out += fmt::format(" {}", n);
  return out;
}

// What the store answers about a sample of the graph.
std::string Answers(Store& store, size_t count) {
  std::string out = Describe(store.Stats()) + "\n";
  std::vector<std::string> refs = {
      Sha256(0),         Sha256(1),       Sha512(8),
      Sha256(count / 2), Sha1(3),         KeyRef(1),
      KeyRef(7),         "key:release-3", "builder:https://ci.example/builders/2"};
  for (size_t i = 0; i < count; i += count / 40)
    refs.push_back(Sha256(i));
  for (const std::string& ref : refs) {
    out += Describe(store.Show(ref)) + "\n";
    out += Describe(store.Descendants(ref, {})) + "\n";
    out += Describe(store.Ancestors(ref, {})) + "\n";
  }
  return out;
}

class BulkLoadTest : public ::testing::Test {
 protected:
  TempDir dir_;
  std::string batched_ = dir_.path() + "/batched";
  std::string bulk_ = dir_.path() + "/bulk";
};

TEST_F(BulkLoadTest, WritesExactlyWhatIngestBatchWrites) {
  constexpr uint64_t kSeed = 20261204;
  constexpr size_t kCount = 3000;
  SCOPED_TRACE(fmt::format("seed {}", kSeed));
  const std::vector<AttestationRecord> records = MakeRecords(kSeed, kCount);
  std::string batched_answers, bulk_answers;
  {
    std::unique_ptr<Store> batched = MustOpen(batched_);
    std::unique_ptr<Store> bulk = MustOpen(bulk_);
    ASSERT_TRUE(batched && bulk);
    for (size_t i = 0; i < records.size(); i += 250) {
      const size_t n = std::min<size_t>(250, records.size() - i);
      ASSERT_TRUE(batched->IngestBatch(std::span(records).subspan(i, n)).ok());
    }
    absl::StatusOr<BulkLoadResult> loaded = bulk->BulkLoad(records);
    ASSERT_TRUE(loaded.ok()) << loaded.status();
    absl::StatusOr<StoreStats> stats = batched->Stats();
    ASSERT_TRUE(stats.ok());
    EXPECT_EQ(loaded->attestations, stats->attestations);
    EXPECT_EQ(loaded->attestations + loaded->duplicates, records.size());
    EXPECT_GT(loaded->duplicates, 0u);
    EXPECT_EQ(loaded->edge_assertions, stats->edge_assertions);
    batched_answers = Answers(*batched, kCount);
    bulk_answers = Answers(*bulk, kCount);
    EXPECT_EQ(bulk_answers, batched_answers);
    EXPECT_NE(bulk_answers.find("aliases: sha512:"), std::string::npos) << "no alias exercised";
    EXPECT_FALSE(std::filesystem::exists(bulk_ + "/bulk-load.tmp"));
  }

  // Byte for byte, once both are closed (and so flushed).
  const std::vector<std::string> batched_dump = Dump(batched_), bulk_dump = Dump(bulk_);
  EXPECT_GT(batched_dump.size(), kCount * 4);
  EXPECT_EQ(bulk_dump.size(), batched_dump.size());
  EXPECT_TRUE(bulk_dump == batched_dump) << "the databases differ";

  // Reopened, the index rebuilt from disk answers as the one BulkLoad built.
  std::unique_ptr<Store> bulk = MustOpen(bulk_);
  ASSERT_TRUE(bulk);
  EXPECT_EQ(Answers(*bulk, kCount), batched_answers);
}

TEST_F(BulkLoadTest, LoadedStoreTakesIngestsAndRevocationsAsABatchedOneDoes) {
  const std::vector<AttestationRecord> records = MakeRecords(7, 800);
  std::unique_ptr<Store> batched = MustOpen(batched_);
  std::unique_ptr<Store> bulk = MustOpen(bulk_);
  ASSERT_TRUE(batched && bulk);
  ASSERT_TRUE(batched->IngestBatch(records).ok());
  ASSERT_TRUE(bulk->BulkLoad(records).ok());

  // A later record linking old nodes to new ones, through the normal path.
  AttestationRecord later =
      testing_util::Record(std::string(64, 'f'), {Sha256(5000)}, {Sha256(10), Sha256(799)});
  ASSERT_TRUE(batched->Ingest(later).ok());
  ASSERT_TRUE(bulk->Ingest(later).ok());
  EXPECT_EQ(Answers(*bulk, 800), Answers(*batched, 800));

  PlanRequest request;
  request.roots = {{Sha256(10)}};
  request.reason = "compromised";
  request.actor = "alice";
  for (Store* store : {batched.get(), bulk.get()}) {
    absl::StatusOr<Plan> plan = store->CreatePlan(request, {});
    ASSERT_TRUE(plan.ok()) << plan.status();
    for (const char* approver : {"bob", "carol"}) {
      if (plan->bulk) {
        ASSERT_TRUE(store->Approve(plan->id, approver).ok());
      }
    }
    absl::StatusOr<EnforceResult> done = store->Enforce(plan->id, {.actor = "dave"});
    ASSERT_TRUE(done.ok()) << done.status();
    absl::StatusOr<CheckResult> verdict = store->Check(Sha256(5000), {});
    ASSERT_TRUE(verdict.ok());
    EXPECT_EQ(verdict->verdict, Verdict::kDeny);
  }
  absl::StatusOr<DenyListSnapshot> a = batched->DenyList(), b = bulk->DenyList();
  ASSERT_TRUE(a.ok() && b.ok());
  EXPECT_EQ(b->digests, a->digests);
  EXPECT_GT(b->digests.size(), 1u);
}

// Several calls into a growing store (also after ordinary ingests) write
// what the same IngestBatch calls write.
TEST_F(BulkLoadTest, SeveralCallsIntoAGrowingStoreWriteWhatIngestBatchWrites) {
  constexpr size_t kCount = 2400;
  const std::vector<AttestationRecord> records = MakeRecords(99, kCount);
  const std::span<const AttestationRecord> all(records);
  std::string batched_answers;
  {
    // A small merge threshold, so that both stores merge their index deltas.
    StoreOptions options = FixedClockOptions();
    options.index_merge_min_edges = 256;
    std::unique_ptr<Store> batched = MustOpen(batched_, options);
    std::unique_ptr<Store> bulk = MustOpen(bulk_, options);
    ASSERT_TRUE(batched && bulk);
    // 0..99 ordinary ingests, then three bulk loads, the last repeating
    // some records of the first (duplicates against the database).
    ASSERT_TRUE(batched->IngestBatch(all.subspan(0, 100)).ok());
    ASSERT_TRUE(bulk->IngestBatch(all.subspan(0, 100)).ok());
    for (auto [from, n] : {std::pair<size_t, size_t>{100, 900}, {1000, 800}, {900, 1500}}) {
      ASSERT_TRUE(batched->IngestBatch(all.subspan(from, n)).ok());
      absl::StatusOr<BulkLoadResult> loaded = bulk->BulkLoad(all.subspan(from, n));
      ASSERT_TRUE(loaded.ok()) << loaded.status();
    }
    batched_answers = Answers(*batched, kCount);
    EXPECT_EQ(Answers(*bulk, kCount), batched_answers);
  }
  EXPECT_TRUE(Dump(bulk_) == Dump(batched_)) << "the databases differ";
  std::unique_ptr<Store> bulk = MustOpen(bulk_);
  ASSERT_TRUE(bulk);
  EXPECT_EQ(Answers(*bulk, kCount), batched_answers);
}

TEST_F(BulkLoadTest, RefusesAStoreWithAnActiveRevocation) {
  std::unique_ptr<Store> store = MustOpen(bulk_);
  ASSERT_TRUE(store);
  ASSERT_TRUE(store->Ingest(testing_util::Record(std::string(64, 'a'), {Sha256(1)})).ok());
  PlanRequest request;
  request.roots = {{Sha256(1)}};
  request.reason = "compromised";
  request.actor = "alice";
  absl::StatusOr<Plan> plan = store->CreatePlan(request, {});
  ASSERT_TRUE(plan.ok()) << plan.status();
  ASSERT_TRUE(store->Enforce(plan->id, {.actor = "dave"}).ok());

  absl::StatusOr<BulkLoadResult> loaded = store->BulkLoad(MakeRecords(1, 10));
  EXPECT_TRUE(absl::IsFailedPrecondition(loaded.status())) << loaded.status();
  absl::StatusOr<StoreStats> stats = store->Stats();
  ASSERT_TRUE(stats.ok());
  EXPECT_EQ(stats->attestations, 1u);
}

TEST_F(BulkLoadTest, MalformedRecordIsNamedAndNothingIsWritten) {
  std::vector<AttestationRecord> records = MakeRecords(3, 10);
  records[2].materials.push_back(Digests({"sha256:abc"}));
  std::unique_ptr<Store> store = MustOpen(bulk_);
  ASSERT_TRUE(store);
  absl::StatusOr<BulkLoadResult> loaded = store->BulkLoad(records);
  EXPECT_TRUE(absl::IsInvalidArgument(loaded.status())) << loaded.status();
  EXPECT_THAT(std::string(loaded.status().message()), ::testing::HasSubstr("record 2"));
  absl::StatusOr<StoreStats> stats = store->Stats();
  ASSERT_TRUE(stats.ok());
  EXPECT_EQ(stats->attestations, 0u);
  EXPECT_EQ(stats->nodes_by_kind[0], 0u);

  // Still empty, so a good load is accepted.
  records.erase(records.begin() + 2);
  EXPECT_TRUE(store->BulkLoad(records).ok());
}

TEST_F(BulkLoadTest, RemovesFilesAKilledLoadLeftBehind) {
  std::filesystem::create_directories(bulk_ + "/bulk-load.tmp");
  std::ofstream(bulk_ + "/bulk-load.tmp/ids.sst") << "half-written";
  std::unique_ptr<Store> store = MustOpen(bulk_);
  ASSERT_TRUE(store);
  ASSERT_TRUE(store->BulkLoad(MakeRecords(4, 50)).ok());
  EXPECT_FALSE(std::filesystem::exists(bulk_ + "/bulk-load.tmp"));
}

TEST_F(BulkLoadTest, NothingNewWritesNothing) {
  std::unique_ptr<Store> store = MustOpen(bulk_);
  ASSERT_TRUE(store);
  absl::StatusOr<BulkLoadResult> loaded = store->BulkLoad({});
  ASSERT_TRUE(loaded.ok());
  EXPECT_EQ(loaded->attestations, 0u);
  // The store is still empty: a real load is accepted afterwards.
  EXPECT_TRUE(store->BulkLoad(MakeRecords(5, 20)).ok());
}

TEST_F(BulkLoadTest, ReadOnlyStoreRefuses) {
  { ASSERT_TRUE(MustOpen(bulk_)); }
  StoreOptions options = FixedClockOptions();
  options.read_only = true;
  std::unique_ptr<Store> store = MustOpen(bulk_, options);
  ASSERT_TRUE(store);
  EXPECT_TRUE(absl::IsFailedPrecondition(store->BulkLoad(MakeRecords(6, 5)).status()));
}

}  // namespace
}  // namespace lineage
