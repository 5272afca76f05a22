// Store tests of workload inventories (ReplaceInventory, Workloads,
// RunningWorkloads) and of KeyUsage, on a real RocksDB in a temp dir.
#include <atomic>
#include <thread>

#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <rocksdb/db.h>

#include "engine/include/lineage/store.h"
#include "engine/src/store_impl.h"
#include "tests/engine/test_util.h"

namespace lineage {
namespace {

using internal::NodeId;
using ::testing::ElementsAre;
using ::testing::HasSubstr;
using ::testing::IsEmpty;
using testing_util::KeyRef;
using testing_util::QuietOptions;
using testing_util::Record;
using testing_util::Sha256;

constexpr char kWebProd[] = "workload:prod/shop/Deployment/web";
constexpr char kDbProd[] = "workload:prod/shop/StatefulSet/db";
constexpr char kWebStaging[] = "workload:staging/shop/Deployment/web";

absl::Time T(int64_t seconds) {
  return absl::FromUnixSeconds(1772400000 + seconds);
}

InventoryRecord Inventory(std::string id, std::string cluster,
                          std::vector<std::pair<std::string, std::string>> runs, absl::Time time) {
  InventoryRecord r;
  r.id = std::move(id);
  r.cluster = std::move(cluster);
  for (auto& [artifact, workload] : runs)
    r.runs.push_back({std::move(artifact), std::move(workload)});
  r.time = time;
  r.source = "test";
  r.raw = "{}";
  return r;
}

class InventoryTest : public ::testing::Test {
 protected:
  void SetUp() override { Reopen(); }

  void Reopen(StoreOptions options = QuietOptions()) {
    store_.reset();
    absl::StatusOr<std::unique_ptr<Store>> store = Store::Open(dir_.db(), options);
    ASSERT_TRUE(store.ok()) << store.status();
    store_ = *std::move(store);
  }

  // RunningWorkloads is internal: the revocation code calls it on the
  // StoreImpl that Store::Open returns.
  const internal::StoreImpl& impl() { return static_cast<const internal::StoreImpl&>(*store_); }

  uint64_t TotalNodes() {
    absl::StatusOr<StoreStats> stats = store_->Stats();
    EXPECT_TRUE(stats.ok()) << stats.status();
    uint64_t n = 0;
    for (uint64_t k : stats->nodes_by_kind)
      n += k;
    return n;
  }

  // Creates the artifact node `digest` and returns its id: node ids are
  // dense in ingest order (docs/storage.md), so it is the newest.
  NodeId NewArtifact(const std::string& digest) {
    EXPECT_TRUE(store_->Ingest(Record("seed-" + digest, {digest})).ok());
    return static_cast<NodeId>(TotalNodes() - 1);
  }

  absl::StatusOr<InventoryOutcome> Replace(const InventoryRecord& r) {
    return store_->ReplaceInventory(r);
  }

  // The refs RunningWorkloads returns when `closure` is the closure.
  std::vector<NodeId> Running(std::vector<NodeId> closure) {
    return impl().RunningWorkloads(
        [&](NodeId id) { return std::find(closure.begin(), closure.end(), id) != closure.end(); });
  }

  // "cluster inventory-id: workload=image,image; ..." for compact checks.
  std::vector<std::string> Listing(std::string_view cluster = "") {
    absl::StatusOr<std::vector<ClusterInventory>> all = store_->Workloads(cluster);
    EXPECT_TRUE(all.ok()) << all.status();
    std::vector<std::string> out;
    if (!all.ok()) return out;
    for (const ClusterInventory& c : *all) {
      for (const ClusterWorkload& w : c.workloads) {
        std::string line = c.cluster + " " + c.inventory + " " + w.ref + " =";
        for (const std::string& image : w.images)
          line += " " + image;
        out.push_back(line);
      }
    }
    return out;
  }

  testing_util::TempDir dir_;
  std::unique_ptr<Store> store_;
};

TEST_F(InventoryTest, InventoryBecomesTheClustersCurrentOne) {
  absl::StatusOr<InventoryOutcome> outcome = Replace(Inventory(
      "inv1", "prod", {{Sha256(1), kWebProd}, {Sha256(2), kWebProd}, {Sha256(3), kDbProd}}, T(0)));
  ASSERT_TRUE(outcome.ok()) << outcome.status();
  EXPECT_FALSE(outcome->duplicate);
  EXPECT_FALSE(outcome->stale);
  EXPECT_EQ(outcome->replaced, "");
  EXPECT_EQ(outcome->new_nodes, 5u);  // three artifacts, two workloads
  EXPECT_EQ(outcome->new_edges, 3u);

  absl::StatusOr<std::vector<ClusterInventory>> all = store_->Workloads("");
  ASSERT_TRUE(all.ok()) << all.status();
  ASSERT_EQ(all->size(), 1u);
  EXPECT_EQ((*all)[0].cluster, "prod");
  EXPECT_EQ((*all)[0].inventory, "inv1");
  EXPECT_EQ((*all)[0].time, T(0));
  EXPECT_THAT(Listing(), ElementsAre("prod inv1 " + std::string(kWebProd) + " = " + Sha256(1) +
                                         " " + Sha256(2),
                                     "prod inv1 " + std::string(kDbProd) + " = " + Sha256(3)));

  // The inventory is stored like an attestation, and its edges are in the graph.
  absl::StatusOr<AttestationSummary> summary = store_->GetAttestation("inv1");
  ASSERT_TRUE(summary.ok()) << summary.status();
  EXPECT_EQ(summary->format, "inventory");
  EXPECT_TRUE(summary->unsigned_);
  absl::StatusOr<TraversalResult> d = store_->Descendants(Sha256(3), TraversalOptions{});
  ASSERT_TRUE(d.ok());
  ASSERT_EQ(d->nodes.size(), 1u);
  EXPECT_EQ(d->nodes[0].ref, kDbProd);
}

TEST_F(InventoryTest, NewInventoryReplacesOnlyItsOwnCluster) {
  NodeId a1 = NewArtifact(Sha256(1));
  NodeId a2 = NewArtifact(Sha256(2));
  NodeId a3 = NewArtifact(Sha256(3));
  ASSERT_TRUE(
      Replace(Inventory("prod-1", "prod", {{Sha256(1), kWebProd}, {Sha256(2), kDbProd}}, T(0)))
          .ok());
  ASSERT_TRUE(Replace(Inventory("staging-1", "staging", {{Sha256(1), kWebStaging}}, T(0))).ok());
  EXPECT_EQ(Running({a1}).size(), 2u);  // prod's web and staging's web

  // prod rolls web forward to a3 and db goes away.
  absl::StatusOr<InventoryOutcome> outcome =
      Replace(Inventory("prod-2", "prod", {{Sha256(3), kWebProd}}, T(60)));
  ASSERT_TRUE(outcome.ok()) << outcome.status();
  EXPECT_EQ(outcome->replaced, "prod-1");
  EXPECT_FALSE(outcome->stale);

  EXPECT_THAT(Listing("prod"),
              ElementsAre("prod prod-2 " + std::string(kWebProd) + " = " + Sha256(3)));
  EXPECT_THAT(Listing("staging"),
              ElementsAre("staging staging-1 " + std::string(kWebStaging) + " = " + Sha256(1)));

  // a1 now runs only in staging; a2 nowhere; a3 in prod.
  std::vector<NodeId> by_a1 = Running({a1});
  ASSERT_EQ(by_a1.size(), 1u);
  std::vector<NodeId> by_a3 = Running({a3});
  ASSERT_EQ(by_a3.size(), 1u);
  EXPECT_NE(by_a1[0], by_a3[0]);
  EXPECT_THAT(Running({a2}), IsEmpty());
  EXPECT_EQ(Running({a1, a2, a3}).size(), 2u);
  std::vector<NodeId> all = Running({a1, a2, a3});
  EXPECT_TRUE(std::is_sorted(all.begin(), all.end()));

  // The graph keeps history: a2 still has its runs edge, recorded by prod-1.
  absl::StatusOr<NodeInfo> info = store_->Show(Sha256(2));
  ASSERT_TRUE(info.ok());
  ASSERT_EQ(info->out_edges.size(), 1u);
  EXPECT_EQ(info->out_edges[0].to, kDbProd);
  EXPECT_EQ(info->out_edges[0].attestation, "prod-1");
}

TEST_F(InventoryTest, SameInventoryTwiceChangesNothing) {
  InventoryRecord r = Inventory("inv1", "prod", {{Sha256(1), kWebProd}}, T(0));
  ASSERT_TRUE(Replace(r).ok());
  absl::StatusOr<StoreStats> before = store_->Stats();
  ASSERT_TRUE(Replace(Inventory("inv2", "prod", {{Sha256(2), kWebProd}}, T(10))).ok());

  // inv1 again, even with a later time: the id is the same observation, so
  // it neither becomes current again nor adds anything.
  r.time = T(20);
  absl::StatusOr<InventoryOutcome> again = Replace(r);
  ASSERT_TRUE(again.ok()) << again.status();
  EXPECT_TRUE(again->duplicate);
  EXPECT_EQ(again->new_nodes, 0u);
  EXPECT_EQ(again->new_edges, 0u);
  EXPECT_THAT(Listing("prod"),
              ElementsAre("prod inv2 " + std::string(kWebProd) + " = " + Sha256(2)));
  absl::StatusOr<StoreStats> after = store_->Stats();
  EXPECT_EQ(after->attestations, before->attestations + 1);  // only inv2
}

TEST_F(InventoryTest, InventoryTakenBeforeTheCurrentOneIsHistoryOnly) {
  ASSERT_TRUE(Replace(Inventory("new", "prod", {{Sha256(2), kWebProd}}, T(100))).ok());
  absl::StatusOr<InventoryOutcome> late =
      Replace(Inventory("old", "prod", {{Sha256(1), kWebProd}}, T(50)));
  ASSERT_TRUE(late.ok()) << late.status();
  EXPECT_TRUE(late->stale);
  EXPECT_FALSE(late->duplicate);
  EXPECT_EQ(late->replaced, "");
  EXPECT_THAT(Listing("prod"),
              ElementsAre("prod new " + std::string(kWebProd) + " = " + Sha256(2)));
  // Its edge is stored as history.
  absl::StatusOr<NodeInfo> info = store_->Show(Sha256(1));
  ASSERT_TRUE(info.ok());
  ASSERT_EQ(info->out_edges.size(), 1u);
  EXPECT_EQ(info->out_edges[0].attestation, "old");

  // An inventory of the same time as the current one is a newer observation.
  absl::StatusOr<InventoryOutcome> tie =
      Replace(Inventory("tie", "prod", {{Sha256(3), kWebProd}}, T(100)));
  ASSERT_TRUE(tie.ok());
  EXPECT_FALSE(tie->stale);
  EXPECT_EQ(tie->replaced, "new");
}

TEST_F(InventoryTest, EmptyInventoryMeansNothingRuns) {
  NodeId a1 = NewArtifact(Sha256(1));
  ASSERT_TRUE(Replace(Inventory("inv1", "prod", {{Sha256(1), kWebProd}}, T(0))).ok());
  absl::StatusOr<InventoryOutcome> drained = Replace(Inventory("inv2", "prod", {}, T(10)));
  ASSERT_TRUE(drained.ok()) << drained.status();
  EXPECT_EQ(drained->replaced, "inv1");
  EXPECT_THAT(Running({a1}), IsEmpty());
  absl::StatusOr<std::vector<ClusterInventory>> prod = store_->Workloads("prod");
  ASSERT_TRUE(prod.ok());
  ASSERT_EQ(prod->size(), 1u);
  EXPECT_EQ((*prod)[0].inventory, "inv2");
  EXPECT_THAT((*prod)[0].workloads, IsEmpty());
}

TEST_F(InventoryTest, MalformedInventoryIsRejectedAndWritesNothing) {
  ASSERT_TRUE(Replace(Inventory("good", "prod", {{Sha256(1), kWebProd}}, T(0))).ok());
  absl::StatusOr<StoreStats> before = store_->Stats();

  struct Case {
    InventoryRecord record;
    std::string error;
  };
  std::vector<Case> cases = {
      // A valid first run must not be half-stored when a later one is bad.
      {Inventory("bad1", "prod", {{Sha256(2), kWebProd}, {Sha256(3), kWebStaging}}, T(10)),
       "runs[1]: workload workload:staging/shop/Deployment/web is not in cluster prod"},
      {Inventory("bad2", "prod", {{"sha256:abc", kWebProd}}, T(10)), "runs[0]: expected"},
      {Inventory("bad3", "prod", {{Sha256(2), "builder:x"}}, T(10)), "runs[0]: expected"},
      {Inventory(
           "bad4", "prod",
           {{"sha256:e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855", kWebProd}},
           T(10)),
       "runs[0]: expected"},
      {Inventory("bad5", "a/b", {}, T(10)), "cluster \"a/b\""},
      {Inventory("", "prod", {}, T(10)), "inventory id is empty"},
  };
  for (const Case& c : cases) {
    absl::StatusOr<InventoryOutcome> r = Replace(c.record);
    ASSERT_FALSE(r.ok()) << c.record.id;
    EXPECT_EQ(r.status().code(), absl::StatusCode::kInvalidArgument);
    EXPECT_THAT(std::string(r.status().message()), HasSubstr(c.error));
  }
  absl::StatusOr<StoreStats> after = store_->Stats();
  EXPECT_EQ(after->attestations, before->attestations);
  EXPECT_EQ(after->edge_assertions, before->edge_assertions);
  EXPECT_EQ(store_->Show(Sha256(2)).status().code(), absl::StatusCode::kNotFound);
  EXPECT_THAT(Listing("prod"),
              ElementsAre("prod good " + std::string(kWebProd) + " = " + Sha256(1)));
}

TEST_F(InventoryTest, CurrentInventoriesSurviveReopen) {
  NodeId a1 = NewArtifact(Sha256(1));
  NodeId a2 = NewArtifact(Sha256(2));
  ASSERT_TRUE(Replace(Inventory("prod-1", "prod", {{Sha256(1), kWebProd}}, T(0))).ok());
  ASSERT_TRUE(Replace(Inventory("prod-2", "prod", {{Sha256(2), kWebProd}}, T(10))).ok());
  ASSERT_TRUE(Replace(Inventory("staging-1", "staging", {{Sha256(1), kWebStaging}}, T(0))).ok());
  std::vector<std::string> listing = Listing();
  std::vector<NodeId> running = Running({a1, a2});

  Reopen();
  EXPECT_EQ(Listing(), listing);
  EXPECT_EQ(Running({a1, a2}), running);
  absl::StatusOr<std::vector<ClusterInventory>> prod = store_->Workloads("prod");
  ASSERT_TRUE(prod.ok());
  EXPECT_EQ((*prod)[0].time, T(10));
  // A stale one after reopen is still judged against the loaded time.
  absl::StatusOr<InventoryOutcome> late =
      Replace(Inventory("prod-0", "prod", {{Sha256(3), kWebProd}}, T(5)));
  ASSERT_TRUE(late.ok());
  EXPECT_TRUE(late->stale);

  StoreOptions read_only = QuietOptions();
  read_only.read_only = true;
  Reopen(read_only);
  EXPECT_EQ(Listing(), listing);
  EXPECT_EQ(Replace(Inventory("x", "prod", {}, T(99))).status().code(),
            absl::StatusCode::kFailedPrecondition);
}

TEST_F(InventoryTest, UnknownClusterIsNotFound) {
  EXPECT_THAT(Listing(), IsEmpty());
  EXPECT_EQ(store_->Workloads("nowhere").status().code(), absl::StatusCode::kNotFound);
}

TEST_F(InventoryTest, MalformedInventoryRecordOnDiskIsDataLoss) {
  ASSERT_TRUE(Replace(Inventory("inv1", "prod", {{Sha256(1), kWebProd}}, T(0))).ok());
  store_.reset();

  // Damage the record from outside lineage: a node id past the last node.
  {
    std::vector<rocksdb::ColumnFamilyDescriptor> descriptors;
    std::vector<std::string> names;
    ASSERT_TRUE(rocksdb::DB::ListColumnFamilies(rocksdb::Options(), dir_.db(), &names).ok());
    for (const std::string& name : names)
      descriptors.emplace_back(name, rocksdb::ColumnFamilyOptions());
    std::vector<rocksdb::ColumnFamilyHandle*> handles;
    rocksdb::DB* raw = nullptr;
    ASSERT_TRUE(rocksdb::DB::Open(rocksdb::Options(), dir_.db(), descriptors, &handles, &raw).ok());
    size_t cf = std::find(names.begin(), names.end(), "inventories") - names.begin();
    ASSERT_LT(cf, names.size());
    std::string value;
    ASSERT_TRUE(raw->Get(rocksdb::ReadOptions(), handles[cf], "prod", &value).ok());
    value[value.size() - 1] = '\x7f';  // workload id of the one pair: far past the nodes
    ASSERT_TRUE(raw->Put(rocksdb::WriteOptions(), handles[cf], "prod", value).ok());
    for (rocksdb::ColumnFamilyHandle* h : handles)
      ASSERT_TRUE(raw->DestroyColumnFamilyHandle(h).ok());
    delete raw;
  }
  absl::StatusOr<std::unique_ptr<Store>> reopened = Store::Open(dir_.db(), QuietOptions());
  ASSERT_FALSE(reopened.ok());
  EXPECT_EQ(reopened.status().code(), absl::StatusCode::kDataLoss);
  EXPECT_THAT(std::string(reopened.status().message()),
              HasSubstr("malformed inventory record of cluster \"prod\""));
}

TEST_F(InventoryTest, ReadersSeeWholeInventoriesWhileAWriterReplacesThem) {
  // Two alternating inventories of one cluster, each with 50 workloads all
  // running one artifact: a reader must always see exactly 50.
  NodeId a = NewArtifact(Sha256(1));
  NodeId b = NewArtifact(Sha256(2));
  auto make = [&](int round) {
    std::vector<std::pair<std::string, std::string>> runs;
    for (int w = 0; w < 50; ++w) {
      runs.emplace_back(round % 2 ? Sha256(2) : Sha256(1),
                        fmt::format("workload:prod/ns/Deployment/w{}-{}", round % 2, w));
    }
    return Inventory(fmt::format("inv{}", round), "prod", std::move(runs), T(round));
  };
  ASSERT_TRUE(Replace(make(0)).ok());
  std::atomic<bool> done{false};
  std::atomic<int> bad{0};
  std::thread reader([&] {
    while (!done.load()) {
      size_t n = Running({a, b}).size();
      if (n != 50) bad++;
    }
  });
  for (int round = 1; round < 40; ++round)
    ASSERT_TRUE(Replace(make(round)).ok());
  done = true;
  reader.join();
  EXPECT_EQ(bad.load(), 0);
}

// ------------------------------------------------------------- key usage

class KeyUsageTest : public InventoryTest {
 protected:
  // An attestation `id` at time t signed by `keys`, with one subject.
  void Signed(const std::string& id, int subject, std::vector<std::string> keys, absl::Time t) {
    AttestationRecord r = Record(id, {Sha256(subject)});
    r.unsigned_ = false;
    r.time = t;
    for (std::string& key : keys)
      r.signers.push_back({std::move(key), "", "ecdsa-p256-sha256"});
    absl::StatusOr<IngestOutcome> outcome = store_->Ingest(r);
    ASSERT_TRUE(outcome.ok()) << outcome.status();
  }

  const SignerUsage* Find(const KeyUsageReport& report, const std::string& key) {
    for (const SignerUsage& s : report.signers)
      if (s.key == key) return &s;
    ADD_FAILURE() << key << " not in the report";
    return nullptr;
  }
};

constexpr char kKeyless[] =
    "key:keyless:https://token.actions.githubusercontent.com|https://github.com/o/r/.github/"
    "workflows/release.yml@refs/heads/main";

TEST_F(KeyUsageTest, CountsDistinctAttestationsAndFirstAndLastSigning) {
  const absl::Duration kDay = absl::Hours(24);
  Signed("a1", 1, {KeyRef(1)}, T(0));
  Signed("a2", 2, {KeyRef(1)}, T(0) + 10 * kDay);
  Signed("a3", 3, {KeyRef(1), kKeyless}, T(0) + 40 * kDay);
  // Two subjects are two edges but one attestation.
  AttestationRecord two = Record("a4", {Sha256(4), Sha256(5)});
  two.unsigned_ = false;
  two.time = T(0) + 5 * kDay;
  two.signers.push_back({KeyRef(2), "", "ed25519"});
  ASSERT_TRUE(store_->Ingest(two).ok());
  ASSERT_TRUE(store_->Ingest(Record("unsigned", {Sha256(6)})).ok());

  absl::StatusOr<KeyUsageReport> report = store_->KeyUsage(30 * kDay);
  ASSERT_TRUE(report.ok()) << report.status();
  EXPECT_EQ(report->rotation_age, 30 * kDay);
  ASSERT_EQ(report->signers.size(), 3u);
  EXPECT_TRUE(
      std::is_sorted(report->signers.begin(), report->signers.end(),
                     [](const SignerUsage& a, const SignerUsage& b) { return a.key < b.key; }));

  const SignerUsage* k1 = Find(*report, KeyRef(1));
  ASSERT_NE(k1, nullptr);
  EXPECT_FALSE(k1->keyless);
  EXPECT_EQ(k1->attestations, 3u);
  EXPECT_EQ(k1->first_signed, T(0));
  EXPECT_EQ(k1->last_signed, T(0) + 40 * kDay);
  EXPECT_TRUE(k1->beyond_rotation_age);  // still signing 40 days after its first signature

  const SignerUsage* k2 = Find(*report, KeyRef(2));
  ASSERT_NE(k2, nullptr);
  EXPECT_EQ(k2->attestations, 1u);
  EXPECT_FALSE(k2->beyond_rotation_age);

  const SignerUsage* keyless = Find(*report, kKeyless);
  ASSERT_NE(keyless, nullptr);
  EXPECT_TRUE(keyless->keyless);
  EXPECT_EQ(keyless->attestations, 1u);
  EXPECT_FALSE(keyless->beyond_rotation_age);  // never flagged

  EXPECT_EQ(report->signed_attestations, 4u);  // a1..a4; "unsigned" is not
  EXPECT_EQ(report->keyless_attestations, 1u);
  EXPECT_EQ(report->long_lived_attestations, 4u);
}

// KeyUsage walks the index's list of key nodes: the list must be the same
// when the index is rebuilt on open, and grow with keys added after it.
TEST_F(KeyUsageTest, KeyListSurvivesReopenAndGrowsAfterIt) {
  const absl::Duration kDay = absl::Hours(24);
  Signed("a1", 1, {KeyRef(1)}, T(0));
  Signed("a2", 2, {KeyRef(2), kKeyless}, T(0) + kDay);
  Signed("a3", 3, {KeyRef(1)}, T(0) + 2 * kDay);
  auto summary = [&](const KeyUsageReport& r) {
    std::vector<std::string> out;
    for (const SignerUsage& s : r.signers)
      out.push_back(fmt::format("{} {} {} {} {}", s.key, s.attestations,
                                absl::FormatTime(s.first_signed), absl::FormatTime(s.last_signed),
                                s.beyond_rotation_age));
    return out;
  };
  absl::StatusOr<KeyUsageReport> before = store_->KeyUsage(kDay);
  ASSERT_TRUE(before.ok()) << before.status();
  ASSERT_EQ(before->signers.size(), 3u);
  Reopen();
  absl::StatusOr<KeyUsageReport> after = store_->KeyUsage(kDay);
  ASSERT_TRUE(after.ok()) << after.status();
  EXPECT_EQ(summary(*after), summary(*before));
  EXPECT_EQ(after->signed_attestations, 3u);

  Signed("a4", 4, {KeyRef(3)}, T(0) + 3 * kDay);
  absl::StatusOr<KeyUsageReport> grown = store_->KeyUsage(kDay);
  ASSERT_TRUE(grown.ok()) << grown.status();
  ASSERT_EQ(grown->signers.size(), 4u);
  EXPECT_EQ(Find(*grown, KeyRef(3))->attestations, 1u);
  EXPECT_EQ(Find(*grown, KeyRef(1))->attestations, 2u);
  EXPECT_TRUE(Find(*grown, KeyRef(1))->beyond_rotation_age);
  EXPECT_EQ(grown->signed_attestations, 4u);
}

TEST_F(KeyUsageTest, RotationAgeIsExclusiveAndMustBePositive) {
  const absl::Duration kDay = absl::Hours(24);
  Signed("a1", 1, {KeyRef(1)}, T(0));
  Signed("a2", 2, {KeyRef(1)}, T(0) + 30 * kDay);
  absl::StatusOr<KeyUsageReport> at = store_->KeyUsage(30 * kDay);
  ASSERT_TRUE(at.ok());
  EXPECT_FALSE(at->signers[0].beyond_rotation_age);  // exactly the age: still within it
  absl::StatusOr<KeyUsageReport> under = store_->KeyUsage(30 * kDay - absl::Seconds(1));
  ASSERT_TRUE(under.ok());
  EXPECT_TRUE(under->signers[0].beyond_rotation_age);

  EXPECT_EQ(store_->KeyUsage(absl::ZeroDuration()).status().code(),
            absl::StatusCode::kInvalidArgument);
}

TEST_F(KeyUsageTest, OnlyKeylessIdentitiesAreKeyless) {
  // A signer named by something other than a fingerprint (possible through
  // the API) still names one key: long-lived, subject to rotation.
  const absl::Duration kDay = absl::Hours(24);
  Signed("a1", 1, {"key:kms-signing-key"}, T(0));
  Signed("a2", 2, {"key:kms-signing-key"}, T(0) + 100 * kDay);
  absl::StatusOr<KeyUsageReport> report = store_->KeyUsage(90 * kDay);
  ASSERT_TRUE(report.ok()) << report.status();
  ASSERT_EQ(report->signers.size(), 1u);
  EXPECT_FALSE(report->signers[0].keyless);
  EXPECT_TRUE(report->signers[0].beyond_rotation_age);
  EXPECT_EQ(report->long_lived_attestations, 2u);
  EXPECT_EQ(report->keyless_attestations, 0u);
}

TEST_F(KeyUsageTest, EmptyStoreHasNoSigners) {
  absl::StatusOr<KeyUsageReport> report = store_->KeyUsage(absl::Hours(1));
  ASSERT_TRUE(report.ok());
  EXPECT_THAT(report->signers, IsEmpty());
  EXPECT_EQ(report->signed_attestations, 0u);
}

}  // namespace
}  // namespace lineage
