// The writer side of lineaged's ingest pipeline, on a real RocksDB store:
// WorkerThread (a work item that throws), StoreInGroups (group commit gives
// the outcomes, warnings and taint that storing one by one gives; one bad
// record never rejects its neighbours) and IngestSequencer (arrival order,
// grouping of queued calls, shutdown).
#include <atomic>
#include <condition_variable>
#include <memory>
#include <mutex>
#include <stdexcept>
#include <string>
#include <vector>

#include <fmt/format.h>
#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <kj/async-io.h>
#include <kj/async.h>

#include "engine/include/lineage/store.h"
#include "rpc/src/ingest_sequencer.h"
#include "rpc/src/worker_thread.h"
#include "tests/engine/test_util.h"

namespace lineage::rpc {
namespace {

using ::testing::HasSubstr;
using testing_util::KeyRef;
using testing_util::Record;
using testing_util::Sha256;

using Fulfiller = kj::Own<kj::CrossThreadPromiseFulfiller<int>>;

// A kj event loop on the test's thread, for the promises the work items
// fulfil from the worker thread.
class WorkerThreadTest : public ::testing::Test {
 protected:
  // Waits (bounded) for `promise`: its value, or -1 if it was rejected.
  int Outcome(kj::Promise<int>& promise) {
    try {
      return promise
          .exclusiveJoin(timer_.afterDelay(10 * kj::SECONDS).then([]() -> int {
            ADD_FAILURE() << "no answer within 10 s";
            return -2;
          }))
          .wait(wait_scope_);
    } catch (const kj::Exception&) {
      return -1;
    }
  }

  // Held by pointer: kj destructors may throw, which a fixture's destructor
  // must not declare.
  std::unique_ptr<kj::AsyncIoContext> io_ =
      std::make_unique<kj::AsyncIoContext>(kj::setupAsyncIo());
  kj::Timer& timer_ = io_->provider->getTimer();
  kj::WaitScope& wait_scope_ = io_->waitScope;
};

// The fix: an exception escaping a work item used to reach std::thread and
// end the process (std::terminate); now the thread swallows it, the item's
// promise is rejected (its fulfiller dies unfulfilled) and the next item
// runs.
TEST_F(WorkerThreadTest, ThrowingItemRejectsItsPromiseAndTheThreadGoesOn) {
  WorkerThread worker;
  auto std_throw = kj::newPromiseAndCrossThreadFulfiller<int>();
  auto other_throw = kj::newPromiseAndCrossThreadFulfiller<int>();
  auto fine = kj::newPromiseAndCrossThreadFulfiller<int>();
  auto hold = [](Fulfiller f) { return std::make_shared<Fulfiller>(kj::mv(f)); };
  ASSERT_TRUE(worker.Submit([f = hold(kj::mv(std_throw.fulfiller))] {
    throw std::runtime_error("a throwing library call");
  }));
  // Not a std::exception (kj throws kj::Exception; anything may be thrown).
  ASSERT_TRUE(worker.Submit([f = hold(kj::mv(other_throw.fulfiller))] { throw 42; }));
  ASSERT_TRUE(worker.Submit([f = hold(kj::mv(fine.fulfiller))] { (*f)->fulfill(7); }));
  EXPECT_EQ(Outcome(std_throw.promise), -1);
  EXPECT_EQ(Outcome(other_throw.promise), -1);
  EXPECT_EQ(Outcome(fine.promise), 7);
}

// Work submitted once Stop has begun is refused and destroyed unrun, which
// rejects its promise: a call arriving during shutdown fails, never hangs.
TEST_F(WorkerThreadTest, SubmitAfterStopIsRefusedAndRejectsThePromise) {
  WorkerThread worker;
  worker.Stop();
  auto late = kj::newPromiseAndCrossThreadFulfiller<int>();
  bool ran = false;
  EXPECT_FALSE(worker.Submit([f = std::make_shared<Fulfiller>(kj::mv(late.fulfiller)), &ran] {
    ran = true;
    (*f)->fulfill(1);
  }));
  EXPECT_EQ(Outcome(late.promise), -1);
  EXPECT_FALSE(ran);
}

// ---- StoreInGroups ----

// A record signed by key `key` (whose keyid hint is `keyid`), deriving
// `subject` from `material`.
AttestationRecord Signed(std::string id, std::string subject, std::string material, uint64_t key,
                         std::string keyid = "") {
  AttestationRecord r = Record(std::move(id), {std::move(subject)}, {std::move(material)});
  r.unsigned_ = false;
  r.format = "dsse";
  VerifiedSigner signer;
  signer.key_ref = KeyRef(key);
  signer.keyid = std::move(keyid);
  signer.algorithm = "ecdsa-p256-sha256";
  r.signers.push_back(std::move(signer));
  return r;
}

std::unique_ptr<Store> OpenStore(const std::string& path) {
  absl::StatusOr<std::unique_ptr<Store>> s = Store::Open(path, testing_util::QuietOptions());
  EXPECT_TRUE(s.ok()) << s.status();
  return s.ok() ? *std::move(s) : nullptr;
}

// Revokes Sha256(0) and what derives from it.
void RevokeBase(Store& store) {
  PlanRequest request;
  request.roots = {RevocationRoot{.ref = Sha256(0)}};
  request.reason = "INC-1";
  request.actor = "alice";
  absl::StatusOr<Plan> plan = store.CreatePlan(request, {});
  ASSERT_TRUE(plan.ok()) << plan.status();
  absl::StatusOr<EnforceResult> r = store.Enforce(plan->id, {.actor = "dave"});
  ASSERT_TRUE(r.ok()) << r.status();
  ASSERT_TRUE(r->enforced);
}

// Records that exercise what grouping could change: nodes shared between
// records of one group, a record repeated within the group and one already
// stored, keyid hints the store refuses as aliases (warnings), an alias
// taken earlier in the group, and sticky taint that passes from one record
// of the group to the next.
std::vector<AttestationRecord> MixedRecords() {
  std::vector<AttestationRecord> r;
  r.push_back(Signed("r1", Sha256(10), Sha256(0), 1, "build-key"));   // tainted: from the base
  r.push_back(Signed("r2", Sha256(11), Sha256(10), 2, "build-key"));  // alias already taken
  r.push_back(Record("r3", {Sha256(12)}, {Sha256(11)}));              // tainted through r2
  r.push_back(Signed("r4", Sha256(13), Sha256(50), 3,
                     "keyless:https://token.actions.githubusercontent.com|x"));  // warning
  r.push_back(Signed("r5", Sha256(14), Sha256(50), 4, fmt::format("sha256:{:064x}", 99)));
  r.push_back(Record("r1-again", {Sha256(15)}, {Sha256(51)}));
  r.back().id = "r1";                                     // the same id as the first: a duplicate
  r.push_back(Record("seed", {Sha256(1)}, {Sha256(0)}));  // stored before: a duplicate
  r.push_back(Record("r6", {Sha256(16)}, {Sha256(12)}));  // tainted through r3
  return r;
}

void ExpectSameOutcome(const absl::StatusOr<IngestOutcome>& grouped,
                       const absl::StatusOr<IngestOutcome>& alone, const std::string& id) {
  ASSERT_EQ(grouped.ok(), alone.ok()) << id;
  if (!grouped.ok()) {
    EXPECT_EQ(grouped.status(), alone.status()) << id;
    return;
  }
  EXPECT_EQ(grouped->duplicate, alone->duplicate) << id;
  EXPECT_EQ(grouped->new_nodes, alone->new_nodes) << id;
  EXPECT_EQ(grouped->new_edges, alone->new_edges) << id;
  EXPECT_EQ(grouped->warnings, alone->warnings) << id;
}

TEST(StoreInGroupsTest, GroupGivesTheOutcomesWarningsAndTaintOfOneByOne) {
  testing_util::TempDir dir;
  std::unique_ptr<Store> grouped = OpenStore(dir.path() + "/grouped");
  std::unique_ptr<Store> alone = OpenStore(dir.path() + "/alone");
  ASSERT_TRUE(grouped && alone);
  for (Store* s : {grouped.get(), alone.get()}) {
    ASSERT_TRUE(s->Ingest(Record("seed", {Sha256(1)}, {Sha256(0)})).ok());
    ASSERT_NO_FATAL_FAILURE(RevokeBase(*s));
  }

  std::vector<AttestationRecord> records = MixedRecords();
  uint64_t refused = 0;
  std::vector<absl::StatusOr<IngestOutcome>> g =
      StoreInGroups(*grouped, records, 1000, nullptr, &refused);
  EXPECT_EQ(refused, 0u);
  ASSERT_EQ(g.size(), records.size());
  for (size_t i = 0; i < records.size(); ++i)
    ExpectSameOutcome(g[i], alone->Ingest(records[i]), records[i].id);
  // The warnings are there at all (the comparison above is not vacuous).
  EXPECT_THAT(g[3]->warnings, ::testing::ElementsAre(HasSubstr("keyless identity")));
  EXPECT_THAT(g[4]->warnings, ::testing::ElementsAre(HasSubstr("key fingerprint")));
  EXPECT_TRUE(g[5]->duplicate);
  EXPECT_TRUE(g[6]->duplicate);

  // The same graph, aliases and taint.
  absl::StatusOr<StoreStats> gs = grouped->Stats(), as = alone->Stats();
  ASSERT_TRUE(gs.ok() && as.ok());
  for (int k = 0; k < kNodeKindCount; ++k)
    EXPECT_EQ(gs->nodes_by_kind[k], as->nodes_by_kind[k]) << "node kind " << k;
  for (int k = 0; k < kEdgeKindCount; ++k)
    EXPECT_EQ(gs->edges_by_kind[k], as->edges_by_kind[k]) << "edge kind " << k;
  EXPECT_EQ(gs->edge_assertions, as->edge_assertions);
  EXPECT_EQ(gs->attestations, as->attestations);
  absl::StatusOr<NodeInfo> gk = grouped->Show("key:build-key"), ak = alone->Show("key:build-key");
  ASSERT_TRUE(gk.ok() && ak.ok()) << gk.status() << ak.status();
  EXPECT_EQ(gk->ref, KeyRef(1));
  EXPECT_EQ(gk->ref, ak->ref);
  absl::StatusOr<DenyListSnapshot> gd = grouped->DenyList(), ad = alone->DenyList();
  ASSERT_TRUE(gd.ok() && ad.ok());
  EXPECT_EQ(gd->digests, ad->digests);
  for (uint64_t n : {10, 11, 12, 16}) {
    absl::StatusOr<CheckResult> c = grouped->Check(Sha256(n), {});
    ASSERT_TRUE(c.ok());
    EXPECT_EQ(c->verdict, Verdict::kDeny) << Sha256(n);
  }
  absl::StatusOr<CheckResult> clean = grouped->Check(Sha256(13), {});
  ASSERT_TRUE(clean.ok());
  EXPECT_EQ(clean->verdict, Verdict::kAllow);
}

TEST(StoreInGroupsTest, OneMalformedRecordDoesNotRejectItsNeighbours) {
  testing_util::TempDir dir;
  std::unique_ptr<Store> store = OpenStore(dir.db());
  ASSERT_TRUE(store);
  std::vector<AttestationRecord> records;
  for (int i = 0; i < 5; ++i)
    records.push_back(Record(fmt::format("n{}", i), {Sha256(100 + i)}, {Sha256(99)}));
  records[2].subjects.clear();  // malformed: no subject
  absl::Status alone = store->Ingest(records[2]).status();
  ASSERT_FALSE(alone.ok());

  uint64_t refused = 0;
  std::vector<absl::StatusOr<IngestOutcome>> out =
      StoreInGroups(*store, records, 1000, nullptr, &refused);
  EXPECT_EQ(refused, 1u);
  ASSERT_EQ(out.size(), records.size());
  for (size_t i = 0; i < records.size(); ++i) {
    if (i == 2) {
      // The error Ingest gives for it alone, not the batch's "record 2: ...".
      EXPECT_EQ(out[i].status(), alone);
    } else {
      ASSERT_TRUE(out[i].ok()) << i << ": " << out[i].status();
      EXPECT_FALSE(out[i]->duplicate);
    }
  }
  absl::StatusOr<StoreStats> stats = store->Stats();
  ASSERT_TRUE(stats.ok());
  EXPECT_EQ(stats->attestations, 4u);
}

TEST(StoreInGroupsTest, LongRunsAreCutIntoGroupsOfTheBound) {
  testing_util::TempDir dir;
  std::unique_ptr<Store> store = OpenStore(dir.db());
  ASSERT_TRUE(store);
  std::vector<AttestationRecord> records;
  for (int i = 0; i < 10; ++i)
    records.push_back(Record(fmt::format("c{}", i), {Sha256(200 + i)}, {Sha256(199)}));
  records[7].subjects.clear();
  uint64_t refused = 0;
  std::vector<absl::StatusOr<IngestOutcome>> out =
      StoreInGroups(*store, records, 3, nullptr, &refused);
  // Groups [0,3) [3,6) [6,9) [9]: only the third holds the bad record.
  EXPECT_EQ(refused, 1u);
  ASSERT_EQ(out.size(), 10u);
  for (size_t i = 0; i < out.size(); ++i)
    EXPECT_EQ(out[i].ok(), i != 7) << i;
}

// ---- IngestSequencer ----

// A writer that can be held, so that calls queue behind it.
class SequencerTest : public ::testing::Test {
 protected:
  void SetUp() override {
    store_ = OpenStore(dir_.db());
    ASSERT_TRUE(store_);
  }

  void HoldWriter() {
    writer_.Submit([this] {
      std::unique_lock lock(mu_);
      cv_.wait(lock, [this] { return released_; });
    });
  }
  void ReleaseWriter() {
    {
      std::lock_guard lock(mu_);
      released_ = true;
    }
    cv_.notify_all();
  }

  // A job storing `records`, recording the call's outcomes (or failure)
  // under `name` in the order calls finish.
  IngestJob Job(std::string name, std::vector<AttestationRecord> records) {
    auto held = std::make_shared<std::vector<AttestationRecord>>(std::move(records));
    IngestJob job;
    job.collect = [held](std::vector<AttestationRecord>* out) {
      for (AttestationRecord& r : *held)
        out->push_back(std::move(r));
    };
    job.finish = [this, name](std::span<const AttestationRecord> records,
                              std::span<const absl::StatusOr<IngestOutcome>> outcomes) {
      std::lock_guard lock(mu_);
      std::string line = name + ":";
      for (size_t i = 0; i < records.size(); ++i)
        line += fmt::format(" {}={}", records[i].id, outcomes[i].ok() ? "ok" : "refused");
      finished_.push_back(line);
    };
    job.fail = [this, name](const std::string& why) {
      std::lock_guard lock(mu_);
      finished_.push_back(name + " failed: " + why);
    };
    return job;
  }

  std::vector<std::string> Finished() {
    std::lock_guard lock(mu_);
    return finished_;
  }

  testing_util::TempDir dir_;
  std::unique_ptr<Store> store_;
  std::mutex mu_;
  std::condition_variable cv_;
  bool released_ = false;
  std::vector<std::string> finished_;
  WorkerThread writer_;  // after what its work items touch; stopped first in the tests
};

TEST_F(SequencerTest, CallsQueuedBehindTheWriterAreStoredInArrivalOrderAsOneGroup) {
  IngestSequencer sequencer(&writer_, store_.get(), nullptr);
  HoldWriter();
  uint64_t a = sequencer.Take(), b = sequencer.Take(), c = sequencer.Take();
  AttestationRecord bad = Record("b1", {Sha256(301)}, {Sha256(300)});
  bad.subjects.clear();
  // Verified out of order: c, then a, then b.
  sequencer.Ready(c, Job("c", {Record("c1", {Sha256(303)}, {Sha256(300)})}));
  sequencer.Ready(a, Job("a", {Record("a1", {Sha256(301)}, {Sha256(300)}),
                               Record("a2", {Sha256(302)}, {Sha256(301)})}));
  sequencer.Ready(b, Job("b", {bad}));
  ReleaseWriter();
  writer_.Stop();
  EXPECT_THAT(Finished(), ::testing::ElementsAre("a: a1=ok a2=ok", "b: b1=refused", "c: c1=ok"));
  // One group: the store refused it whole (b1), and every neighbour was
  // stored again on its own.
  EXPECT_EQ(sequencer.refused_groups(), 1u);
}

TEST_F(SequencerTest, JobsReadyAfterTheWriterStoppedFailAsShuttingDown) {
  IngestSequencer sequencer(&writer_, store_.get(), nullptr);
  writer_.Stop();
  sequencer.Ready(sequencer.Take(), Job("late", {Record("l1", {Sha256(401)}, {Sha256(400)})}));
  EXPECT_THAT(Finished(), ::testing::ElementsAre("late failed: lineaged is shutting down"));
}

}  // namespace
}  // namespace lineage::rpc
