// Revocation semantics on a real RocksDB store: plans, approvals, enforce,
// lift, advisory mode, sticky taint, the deny-list log, history, why-chains,
// evidence and the audit chain.
#include <algorithm>
#include <memory>
#include <string>
#include <vector>

#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <rocksdb/db.h>

#include "engine/include/lineage/revocation.h"
#include "engine/include/lineage/store.h"
#include "tests/engine/test_util.h"

namespace lineage {
namespace {

using ::testing::ElementsAre;
using ::testing::HasSubstr;
using ::testing::IsEmpty;
using ::testing::UnorderedElementsAre;
using testing_util::KeyRef;
using testing_util::Record;
using testing_util::Sha256;

constexpr char kBuilder[] = "https://ci.example/builder@v1";

AttestationRecord Signed(std::string id, std::vector<std::string> subjects,
                         std::vector<std::string> materials, uint64_t key, int64_t unix_time) {
  AttestationRecord r = Record(std::move(id), std::move(subjects), std::move(materials));
  r.unsigned_ = false;
  r.format = "dsse";
  r.signers.push_back({KeyRef(key), "", "ed25519"});
  r.builder_id = kBuilder;
  r.time = absl::FromUnixSeconds(unix_time);
  return r;
}

class RevocationTest : public ::testing::Test {
 protected:
  void SetUp() override {
    Reopen();
    // base(0) -> app(1) -> image(2) -> deployed(3); base -> tool(4);
    // unrelated(9). Key 1 signs 1 and 2 at t=1000, key 2 signs 4 at t=3000.
    Ingest(Signed("a1", {Sha256(1)}, {Sha256(0)}, 1, 1000));
    Ingest(Signed("a2", {Sha256(2)}, {Sha256(1)}, 1, 1000));
    Ingest(Record("a3", {Sha256(3)}, {Sha256(2)}));
    Ingest(Signed("a4", {Sha256(4)}, {Sha256(0)}, 2, 3000));
    Ingest(Record("a9", {Sha256(9)}, {Sha256(8)}));
  }

  void Reopen() {
    store_.reset();
    absl::StatusOr<std::unique_ptr<Store>> s = Store::Open(dir_.db(), testing_util::QuietOptions());
    ASSERT_TRUE(s.ok()) << s.status();
    store_ = *std::move(s);
  }

  void Ingest(const AttestationRecord& r) {
    absl::StatusOr<IngestOutcome> o = store_->Ingest(r);
    ASSERT_TRUE(o.ok()) << o.status();
  }

  Plan MakePlan(std::vector<RevocationRoot> roots, RevocationMode mode = RevocationMode::kEnforce,
                std::string reason = "INC-1: compromised") {
    PlanRequest request;
    request.roots = std::move(roots);
    request.reason = std::move(reason);
    request.mode = mode;
    request.actor = "alice";
    absl::StatusOr<Plan> plan = store_->CreatePlan(request, {});
    EXPECT_TRUE(plan.ok()) << plan.status();
    return plan.ok() ? *plan : Plan{};
  }

  EnforceResult MustEnforce(const Plan& plan, std::string actor = "dave") {
    absl::StatusOr<EnforceResult> r = store_->Enforce(plan.id, {.actor = actor});
    EXPECT_TRUE(r.ok()) << r.status();
    EXPECT_TRUE(r.ok() && r->enforced);
    return r.ok() ? *r : EnforceResult{};
  }

  Verdict VerdictOf(const std::string& digest) {
    absl::StatusOr<CheckResult> c = store_->Check(digest, {});
    EXPECT_TRUE(c.ok()) << c.status();
    return c.ok() ? c->verdict : Verdict::kAllow;
  }

  std::vector<std::string> DenyList() {
    absl::StatusOr<DenyListSnapshot> snapshot = store_->DenyList();
    EXPECT_TRUE(snapshot.ok()) << snapshot.status();
    return snapshot.ok() ? snapshot->digests : std::vector<std::string>{};
  }

  testing_util::TempDir dir_;
  std::unique_ptr<Store> store_;
};

TEST_F(RevocationTest, PlanIsADryRunThatDeniesNothing) {
  Plan plan = MakePlan({{Sha256(1)}});
  EXPECT_EQ(plan.artifact_count, 3u);
  EXPECT_THAT(plan.artifacts, UnorderedElementsAre(Sha256(1), Sha256(2), Sha256(3)));
  EXPECT_THAT(plan.artifacts_by_depth, ElementsAre(1, 1, 1));
  EXPECT_FALSE(plan.bulk);
  EXPECT_EQ(plan.state, PlanState::kPending);
  EXPECT_EQ(plan.id.size(), 64u);
  EXPECT_EQ(VerdictOf(Sha256(2)), Verdict::kAllow);
  EXPECT_THAT(DenyList(), IsEmpty());
}

TEST_F(RevocationTest, SameReviewHasTheSamePlanId) {
  Plan a = MakePlan({{Sha256(1)}});
  Plan b = MakePlan({{Sha256(1)}});
  Plan c = MakePlan({{Sha256(1)}}, RevocationMode::kEnforce, "another reason");
  EXPECT_EQ(a.id, b.id);
  EXPECT_NE(a.id, c.id);
}

TEST_F(RevocationTest, DigestRevocationDeniesRootAndDescendantsOnly) {
  EnforceResult r = MustEnforce(MakePlan({{Sha256(1)}}));
  EXPECT_EQ(r.revocation.id, "rev-1");
  EXPECT_EQ(r.newly_denied, 3u);
  EXPECT_EQ(r.deny_seq, 1u);
  EXPECT_EQ(VerdictOf(Sha256(1)), Verdict::kDeny);
  EXPECT_EQ(VerdictOf(Sha256(3)), Verdict::kDeny);
  EXPECT_EQ(VerdictOf(Sha256(0)), Verdict::kAllow);  // the material it came from
  EXPECT_EQ(VerdictOf(Sha256(4)), Verdict::kAllow);  // a sibling
  EXPECT_THAT(DenyList(), UnorderedElementsAre(Sha256(1), Sha256(2), Sha256(3)));

  absl::StatusOr<CheckResult> c = store_->Check(Sha256(2), {});
  ASSERT_TRUE(c.ok());
  EXPECT_THAT(c->denied_by, ElementsAre("rev-1"));
}

TEST_F(RevocationTest, EnforcedPlanCannotBeEnforcedOrApprovedAgain) {
  Plan plan = MakePlan({{Sha256(1)}});
  MustEnforce(plan);
  EXPECT_TRUE(absl::IsFailedPrecondition(store_->Enforce(plan.id, {.actor = "dave"}).status()));
  EXPECT_TRUE(absl::IsFailedPrecondition(store_->Approve(plan.id, "bob").status()));
}

TEST_F(RevocationTest, KeyRevocationNeedsTwoApprovalsByPrincipalsOtherThanTheEnforcer) {
  Plan plan = MakePlan({{KeyRef(1)}});
  EXPECT_TRUE(plan.bulk);
  EXPECT_EQ(plan.per_root[0].subjects, 2u);
  EXPECT_THAT(plan.artifacts, UnorderedElementsAre(Sha256(1), Sha256(2), Sha256(3)));

  EXPECT_TRUE(absl::IsPermissionDenied(store_->Enforce(plan.id, {.actor = "dave"}).status()));
  ASSERT_TRUE(store_->Approve(plan.id, "bob").ok());
  EXPECT_TRUE(absl::IsAlreadyExists(store_->Approve(plan.id, "bob").status()));
  ASSERT_TRUE(store_->Approve(plan.id, "dave").ok());
  // dave's own approval does not count when dave enforces.
  EXPECT_TRUE(absl::IsPermissionDenied(store_->Enforce(plan.id, {.actor = "dave"}).status()));
  EXPECT_EQ(VerdictOf(Sha256(1)), Verdict::kAllow);
  ASSERT_TRUE(store_->Approve(plan.id, "carol").ok());
  MustEnforce(plan, "dave");
  EXPECT_EQ(VerdictOf(Sha256(2)), Verdict::kDeny);
  EXPECT_EQ(VerdictOf(Sha256(4)), Verdict::kAllow);  // signed by key 2
}

TEST_F(RevocationTest, LargeDigestClosureIsBulk) {
  ASSERT_TRUE(store_
                  ->UpdateSettings({.advisory_only = false, .bulk_threshold = 2}, "root",
                                   "tighten for the test")
                  .ok());
  Plan plan = MakePlan({{Sha256(1)}});
  EXPECT_TRUE(plan.bulk);
  EXPECT_TRUE(absl::IsPermissionDenied(store_->Enforce(plan.id, {.actor = "dave"}).status()));
}

TEST_F(RevocationTest, KeyWindowCoversOnlySubjectsSignedInsideIt) {
  Ingest(Signed("a5", {Sha256(5)}, {}, 1, 5000));
  RevocationRoot root{KeyRef(1), absl::FromUnixSeconds(4000), absl::FromUnixSeconds(6000)};
  Plan plan = MakePlan({root});
  EXPECT_THAT(plan.artifacts, ElementsAre(Sha256(5)));
}

TEST_F(RevocationTest, BuilderRevocationCoversWhatItBuilt) {
  Plan plan = MakePlan({{std::string("builder:") + kBuilder}});
  EXPECT_TRUE(plan.bulk);
  EXPECT_THAT(plan.artifacts, UnorderedElementsAre(Sha256(1), Sha256(2), Sha256(3), Sha256(4)));
}

TEST_F(RevocationTest, WindowOnADigestRootIsRejected) {
  PlanRequest request{{{Sha256(1), absl::FromUnixSeconds(1), absl::InfiniteFuture()}},
                      "reason",
                      RevocationMode::kEnforce,
                      "alice"};
  EXPECT_TRUE(absl::IsInvalidArgument(store_->CreatePlan(request, {}).status()));
  request.roots = {{"workload:c/ns/Deployment/web"}};
  EXPECT_TRUE(absl::IsInvalidArgument(store_->CreatePlan(request, {}).status()));
  request.roots = {{Sha256(1)}};
  request.reason = "";
  EXPECT_TRUE(absl::IsInvalidArgument(store_->CreatePlan(request, {}).status()));
}

TEST_F(RevocationTest, ClosureChangeSinceReviewIsReportedAndNeedsAcceptance) {
  Plan plan = MakePlan({{Sha256(1)}});
  Ingest(Record("a6", {Sha256(6)}, {Sha256(3)}));

  absl::StatusOr<EnforceResult> r = store_->Enforce(plan.id, {.actor = "dave"});
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_FALSE(r->enforced);
  EXPECT_EQ(r->change.added, 1u);
  EXPECT_THAT(r->change.added_sample, ElementsAre(Sha256(6)));
  EXPECT_EQ(VerdictOf(Sha256(1)), Verdict::kAllow);  // nothing was written

  r = store_->Enforce(plan.id, {.actor = "dave", .accept_changes = true});
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_TRUE(r->enforced);
  EXPECT_EQ(VerdictOf(Sha256(6)), Verdict::kDeny);
}

TEST_F(RevocationTest, LiftKeepsArtifactBlockedByAnotherRevocation) {
  EnforceResult by_app = MustEnforce(MakePlan({{Sha256(1)}}));
  EnforceResult by_image = MustEnforce(MakePlan({{Sha256(2)}}));
  EXPECT_EQ(by_image.newly_denied, 0u);  // already denied by rev-1

  absl::StatusOr<LiftResult> lifted = store_->Lift(by_app.revocation.id, "erin", "false alarm");
  ASSERT_TRUE(lifted.ok()) << lifted.status();
  EXPECT_EQ(lifted->released, 1u);  // only app itself
  EXPECT_EQ(lifted->still_covered, 2u);
  EXPECT_EQ(VerdictOf(Sha256(1)), Verdict::kAllow);
  EXPECT_EQ(VerdictOf(Sha256(2)), Verdict::kDeny);
  EXPECT_EQ(VerdictOf(Sha256(3)), Verdict::kDeny);
  EXPECT_TRUE(
      absl::IsFailedPrecondition(store_->Lift(by_app.revocation.id, "erin", "again").status()));

  absl::StatusOr<Revocation> rev = store_->GetRevocation(by_app.revocation.id);
  ASSERT_TRUE(rev.ok());
  EXPECT_EQ(rev->state, RevocationState::kLifted);
  EXPECT_EQ(rev->lifted_by, "erin");
}

TEST_F(RevocationTest, AdvisoryRevocationIsReportedButDoesNotDeny) {
  MustEnforce(MakePlan({{Sha256(1)}}, RevocationMode::kAdvisory));
  absl::StatusOr<CheckResult> c = store_->Check(Sha256(3), {});
  ASSERT_TRUE(c.ok());
  EXPECT_EQ(c->verdict, Verdict::kAllow);
  EXPECT_THAT(c->advisories, ElementsAre("rev-1"));
  EXPECT_THAT(DenyList(), IsEmpty());
}

TEST_F(RevocationTest, AdvisoryOnlySwitchEmptiesAndRefillsTheDenyList) {
  MustEnforce(MakePlan({{Sha256(1)}}));
  ASSERT_TRUE(store_->UpdateSettings({.advisory_only = true}, "root", "rollback").ok());
  EXPECT_EQ(VerdictOf(Sha256(2)), Verdict::kAllow);
  EXPECT_THAT(DenyList(), IsEmpty());
  absl::StatusOr<DenyListPage> page = store_->DenyListSince(1, 100);
  ASSERT_TRUE(page.ok());
  ASSERT_EQ(page->deltas.size(), 1u);
  EXPECT_THAT(page->deltas[0].removed, UnorderedElementsAre(Sha256(1), Sha256(2), Sha256(3)));

  ASSERT_TRUE(store_->UpdateSettings({.advisory_only = false}, "root", "roll forward").ok());
  EXPECT_EQ(VerdictOf(Sha256(2)), Verdict::kDeny);
  EXPECT_EQ(DenyList().size(), 3u);
}

TEST_F(RevocationTest, LaterAttestationFromATaintedMaterialIsTaintedAtOnce) {
  MustEnforce(MakePlan({{Sha256(1)}}));
  Ingest(Record("a7", {Sha256(7)}, {Sha256(3)}));
  EXPECT_EQ(VerdictOf(Sha256(7)), Verdict::kDeny);
  absl::StatusOr<DenyListPage> page = store_->DenyListSince(1, 100);
  ASSERT_TRUE(page.ok());
  ASSERT_EQ(page->deltas.size(), 1u);
  EXPECT_THAT(page->deltas[0].added, ElementsAre(Sha256(7)));
  EXPECT_THAT(page->deltas[0].cause, HasSubstr("ingest a7"));
}

// A batch stored as one WriteBatch makes one delta; its cause names the
// batch, not only its first attestation (which here taints nothing).
TEST_F(RevocationTest, TaintFromABatchIsOneDeltaNamingTheBatch) {
  MustEnforce(MakePlan({{Sha256(1)}}));
  std::vector<AttestationRecord> batch = {Record("b20", {Sha256(20)}, {Sha256(21)}),
                                          Record("b8", {Sha256(8)}, {Sha256(3)}),
                                          Record("b9", {Sha256(9)}, {Sha256(8)})};
  ASSERT_TRUE(store_->IngestBatch(batch).ok());
  EXPECT_EQ(VerdictOf(Sha256(9)), Verdict::kDeny);
  EXPECT_EQ(VerdictOf(Sha256(20)), Verdict::kAllow);
  absl::StatusOr<DenyListPage> page = store_->DenyListSince(1, 100);
  ASSERT_TRUE(page.ok());
  ASSERT_EQ(page->deltas.size(), 1u);
  EXPECT_THAT(page->deltas[0].added, UnorderedElementsAre(Sha256(8), Sha256(9)));
  EXPECT_EQ(page->deltas[0].cause, "ingest of 3 attestations from b20");
}

TEST_F(RevocationTest, OutOfOrderEdgeTaintsTheChildAndItsExistingDescendants) {
  MustEnforce(MakePlan({{Sha256(1)}}));
  // child(20) -> grandchild(21) exists before anything links child to app.
  Ingest(Record("b1", {Sha256(21)}, {Sha256(20)}));
  EXPECT_EQ(VerdictOf(Sha256(21)), Verdict::kAllow);
  Ingest(Record("b2", {Sha256(20)}, {Sha256(1)}));
  EXPECT_EQ(VerdictOf(Sha256(20)), Verdict::kDeny);
  EXPECT_EQ(VerdictOf(Sha256(21)), Verdict::kDeny);
}

TEST_F(RevocationTest, RevokedKeySigningLaterInItsWindowTaintsTheSubject) {
  Plan plan = MakePlan({{KeyRef(1), absl::FromUnixSeconds(0), absl::FromUnixSeconds(10000)}});
  ASSERT_TRUE(store_->Approve(plan.id, "bob").ok());
  ASSERT_TRUE(store_->Approve(plan.id, "carol").ok());
  MustEnforce(plan);
  Ingest(Signed("c1", {Sha256(30)}, {}, 1, 9000));   // inside the window
  Ingest(Signed("c2", {Sha256(31)}, {}, 1, 20000));  // after it
  EXPECT_EQ(VerdictOf(Sha256(30)), Verdict::kDeny);
  EXPECT_EQ(VerdictOf(Sha256(31)), Verdict::kAllow);
}

TEST_F(RevocationTest, UnknownDigestRootIsDeniedAndTaintsWhatArrivesLater) {
  std::string unknown = Sha256(500);
  Plan plan = MakePlan({{unknown}});
  ASSERT_EQ(plan.per_root.size(), 1u);
  EXPECT_FALSE(plan.per_root[0].known);
  EXPECT_THAT(plan.artifacts, ElementsAre(unknown));
  MustEnforce(plan);
  EXPECT_EQ(VerdictOf(unknown), Verdict::kDeny);
  Ingest(Record("d1", {Sha256(501)}, {unknown}));
  EXPECT_EQ(VerdictOf(Sha256(501)), Verdict::kDeny);
}

TEST_F(RevocationTest, RevocationStateSurvivesReopen) {
  MustEnforce(MakePlan({{Sha256(1)}}));
  Ingest(Record("a7", {Sha256(7)}, {Sha256(3)}));
  MustEnforce(MakePlan({{Sha256(4)}}, RevocationMode::kAdvisory));
  Reopen();
  EXPECT_EQ(VerdictOf(Sha256(7)), Verdict::kDeny);  // sticky growth came back from the log
  EXPECT_EQ(VerdictOf(Sha256(4)), Verdict::kAllow);
  EXPECT_THAT(DenyList(), UnorderedElementsAre(Sha256(1), Sha256(2), Sha256(3), Sha256(7)));
  absl::StatusOr<DenyListSnapshot> snapshot = store_->DenyList();
  ASSERT_TRUE(snapshot.ok());
  EXPECT_EQ(snapshot->seq, 3u);
  // The next revocation continues the numbering.
  EXPECT_EQ(MustEnforce(MakePlan({{Sha256(9)}})).revocation.id, "rev-3");
}

TEST_F(RevocationTest, DenyListDeltasAreOrderedWithoutGaps) {
  EnforceResult first = MustEnforce(MakePlan({{Sha256(2)}}));
  MustEnforce(MakePlan({{Sha256(9)}}));
  ASSERT_TRUE(store_->Lift(first.revocation.id, "erin", "fixed").ok());
  absl::StatusOr<DenyListPage> page = store_->DenyListSince(0, 100);
  ASSERT_TRUE(page.ok());
  EXPECT_EQ(page->head_seq, 3u);
  ASSERT_EQ(page->deltas.size(), 3u);
  for (size_t i = 0; i < page->deltas.size(); ++i)
    EXPECT_EQ(page->deltas[i].seq, i + 1);
  EXPECT_THAT(page->deltas[0].added, UnorderedElementsAre(Sha256(2), Sha256(3)));
  EXPECT_THAT(page->deltas[1].added, ElementsAre(Sha256(9)));
  EXPECT_THAT(page->deltas[2].removed, UnorderedElementsAre(Sha256(2), Sha256(3)));

  page = store_->DenyListSince(1, 1);
  ASSERT_TRUE(page.ok());
  ASSERT_EQ(page->deltas.size(), 1u);
  EXPECT_EQ(page->deltas[0].seq, 2u);
  EXPECT_TRUE(page->truncated);
}

TEST_F(RevocationTest, DenyListListenerHearsEveryNewSequence) {
  std::vector<uint64_t> heard;
  store_->SetDenyListListener([&](uint64_t seq) { heard.push_back(seq); });
  MustEnforce(MakePlan({{Sha256(1)}}));
  Ingest(Record("a7", {Sha256(7)}, {Sha256(3)}));
  Ingest(Record("a8", {Sha256(40)}, {Sha256(41)}));  // untainted: no delta
  EXPECT_THAT(heard, ElementsAre(1, 2));
  store_->SetDenyListListener(nullptr);
}

TEST_F(RevocationTest, CheckAtAnswersFromTheHistory) {
  absl::Time before = absl::Now() - absl::Seconds(1);
  EnforceResult r = MustEnforce(MakePlan({{Sha256(1)}}));
  // The store's own enforcement time, not this thread's absl::Now(): the two
  // clocks are read on different sides of the enforcement, and absl::Now()
  // is not guaranteed to be monotonic between them on a loaded machine.
  absl::Time during = r.revocation.enforced_at;
  ASSERT_TRUE(store_->Lift(r.revocation.id, "erin", "fixed").ok());
  absl::StatusOr<Revocation> lifted = store_->GetRevocation(r.revocation.id);
  ASSERT_TRUE(lifted.ok()) << lifted.status();
  ASSERT_GT(lifted->lifted_at, during);

  absl::StatusOr<CheckResult> then = store_->Check(Sha256(2), {.at = before});
  ASSERT_TRUE(then.ok());
  EXPECT_EQ(then->verdict, Verdict::kAllow);
  then = store_->Check(Sha256(2), {.at = during});
  ASSERT_TRUE(then.ok());
  EXPECT_EQ(then->verdict, Verdict::kDeny);
  EXPECT_THAT(then->denied_by, ElementsAre("rev-1"));
  EXPECT_EQ(VerdictOf(Sha256(2)), Verdict::kAllow);
}

TEST_F(RevocationTest, UnknownDigestFollowsThePolicy) {
  std::string never_seen = Sha256(777);
  absl::StatusOr<CheckResult> c = store_->Check(never_seen, {.unknown = UnknownPolicy::kDeny});
  ASSERT_TRUE(c.ok());
  EXPECT_FALSE(c->known);
  EXPECT_EQ(c->verdict, Verdict::kDeny);
  c = store_->Check(never_seen, {.unknown = UnknownPolicy::kWarn});
  ASSERT_TRUE(c.ok());
  EXPECT_EQ(c->verdict, Verdict::kAllow);
  EXPECT_THAT(c->warnings, ::testing::Not(IsEmpty()));
  EXPECT_TRUE(absl::IsInvalidArgument(store_->Check(KeyRef(1), {}).status()));
  EXPECT_TRUE(absl::IsInvalidArgument(store_->Check("sha256:zz", {}).status()));
}

TEST_F(RevocationTest, WhyGivesTheShortestChainWithItsAttestations) {
  MustEnforce(MakePlan({{Sha256(0)}}));
  absl::StatusOr<WhyResult> why = store_->Why(Sha256(3));
  ASSERT_TRUE(why.ok()) << why.status();
  EXPECT_EQ(why->check.verdict, Verdict::kDeny);
  ASSERT_EQ(why->reasons.size(), 1u);
  const WhyReason& reason = why->reasons[0];
  EXPECT_EQ(reason.revocation.id, "rev-1");
  EXPECT_EQ(reason.revocation.reason, "INC-1: compromised");
  EXPECT_EQ(reason.root, Sha256(0));
  ASSERT_EQ(reason.chain.size(), 3u);
  EXPECT_EQ(reason.chain[0].from, Sha256(0));
  EXPECT_EQ(reason.chain[0].to, Sha256(1));
  EXPECT_EQ(reason.chain[2].to, Sha256(3));
  absl::StatusOr<AttestationSummary> first = store_->GetAttestation(reason.chain[0].attestation);
  ASSERT_TRUE(first.ok()) << first.status();
  EXPECT_EQ(first->id, "a1");
  EXPECT_THAT(reason.chain[0].signers, ElementsAre(KeyRef(1)));
}

TEST_F(RevocationTest, WhyOfAKeyRevocationStartsWithTheSignature) {
  Plan plan = MakePlan({{KeyRef(1)}});
  ASSERT_TRUE(store_->Approve(plan.id, "bob").ok());
  ASSERT_TRUE(store_->Approve(plan.id, "carol").ok());
  MustEnforce(plan);
  absl::StatusOr<WhyResult> why = store_->Why(Sha256(3));
  ASSERT_TRUE(why.ok()) << why.status();
  ASSERT_EQ(why->reasons.size(), 1u);
  const std::vector<ChainHop>& chain = why->reasons[0].chain;
  ASSERT_EQ(chain.size(), 2u);  // key -signed-> image(2) -derived-> deployed(3)
  EXPECT_EQ(chain[0].from, KeyRef(1));
  EXPECT_EQ(chain[0].kind, EdgeKind::kSigned);
  EXPECT_EQ(chain[0].to, Sha256(2));
  EXPECT_EQ(chain[1].to, Sha256(3));
}

TEST_F(RevocationTest, WhyOfAPromotableArtifactSummarisesItsProvenance) {
  absl::StatusOr<WhyResult> why = store_->Why(Sha256(2));
  ASSERT_TRUE(why.ok()) << why.status();
  EXPECT_EQ(why->check.verdict, Verdict::kAllow);
  EXPECT_THAT(why->reasons, IsEmpty());
  EXPECT_EQ(why->ancestor_artifacts, 2u);
  EXPECT_THAT(why->signers, ElementsAre(KeyRef(1)));
  EXPECT_THAT(why->builders, ElementsAre(std::string("builder:") + kBuilder));
  EXPECT_THAT(why->materials, ElementsAre(Sha256(1)));
  EXPECT_THAT(why->attestations, ElementsAre("a2"));
}

TEST_F(RevocationTest, MultiRootPlanShowsEachRootsClosureAndTheOverlap) {
  Plan plan = MakePlan({{Sha256(1)}, {Sha256(2)}, {Sha256(9)}});
  ASSERT_EQ(plan.per_root.size(), 3u);
  EXPECT_EQ(plan.per_root[0].artifacts, 3u);
  EXPECT_EQ(plan.per_root[0].shared, 2u);  // image and deployed are also under root 2
  EXPECT_EQ(plan.per_root[1].artifacts, 2u);
  EXPECT_EQ(plan.per_root[1].shared, 2u);
  EXPECT_EQ(plan.per_root[2].shared, 0u);
  EXPECT_EQ(plan.artifact_count, 4u);
  EXPECT_THAT(plan.artifacts_by_depth, ElementsAre(3, 1));  // 1, 2, 9 are roots
}

TEST_F(RevocationTest, EvidenceRecordsEveryActionWithTheClosure) {
  Plan plan = MakePlan({{KeyRef(1)}});
  ASSERT_TRUE(store_->Approve(plan.id, "bob").ok());
  ASSERT_TRUE(store_->Approve(plan.id, "carol").ok());
  EnforceResult r = MustEnforce(plan);
  ASSERT_TRUE(store_->Lift(r.revocation.id, "erin", "rotated").ok());

  absl::StatusOr<std::vector<EvidenceRecord>> evidence = store_->Evidence(r.revocation.id);
  ASSERT_TRUE(evidence.ok()) << evidence.status();
  std::vector<std::string> actions;
  for (const EvidenceRecord& e : *evidence)
    actions.push_back(e.action + ":" + e.actor);
  EXPECT_THAT(actions, ElementsAre("plan:alice", "approve:bob", "approve:carol", "enforce:dave",
                                   "lift:erin"));
  EXPECT_THAT((*evidence)[3].artifacts, UnorderedElementsAre(Sha256(1), Sha256(2), Sha256(3)));
  EXPECT_EQ((*evidence)[3].deny_seq, 1u);
  EXPECT_EQ((*evidence)[3].plan_id, plan.id);
}

TEST_F(RevocationTest, CheckpointIsAConsistentCopyTakenWhileOpen) {
  MustEnforce(MakePlan({{Sha256(1)}}));
  std::string copy = dir_.path() + "/backup";
  ASSERT_TRUE(store_->Checkpoint(copy).ok());
  EXPECT_TRUE(absl::IsAlreadyExists(store_->Checkpoint(copy)));
  Ingest(Record("after", {Sha256(50)}, {Sha256(3)}));  // only in the original

  absl::StatusOr<std::unique_ptr<Store>> restored = Store::Open(copy, testing_util::QuietOptions());
  ASSERT_TRUE(restored.ok()) << restored.status();
  absl::StatusOr<DenyListSnapshot> snapshot = (*restored)->DenyList();
  ASSERT_TRUE(snapshot.ok());
  EXPECT_THAT(snapshot->digests, UnorderedElementsAre(Sha256(1), Sha256(2), Sha256(3)));
  EXPECT_TRUE(absl::IsNotFound((*restored)->Check(Sha256(50), {}).status()) ||
              !(*restored)->Check(Sha256(50), {})->known);
  absl::StatusOr<AuditVerification> audit = (*restored)->VerifyAudit();
  ASSERT_TRUE(audit.ok());
  EXPECT_TRUE(audit->ok);
}

class AuditTamperTest : public RevocationTest {
 protected:
  // Closes the store and runs `edit` on the raw RocksDB column family.
  void Tamper(const std::string& cf_name,
              const std::function<void(rocksdb::DB*, rocksdb::ColumnFamilyHandle*)>& edit) {
    store_.reset();
    std::vector<std::string> names;
    ASSERT_TRUE(rocksdb::DB::ListColumnFamilies(rocksdb::Options(), dir_.db(), &names).ok());
    std::vector<rocksdb::ColumnFamilyDescriptor> descriptors;
    for (const std::string& n : names)
      descriptors.emplace_back(n, rocksdb::ColumnFamilyOptions());
    std::vector<rocksdb::ColumnFamilyHandle*> handles;
    rocksdb::DB* db = nullptr;
    ASSERT_TRUE(rocksdb::DB::Open(rocksdb::Options(), dir_.db(), descriptors, &handles, &db).ok());
    for (size_t i = 0; i < names.size(); ++i) {
      if (names[i] == cf_name) edit(db, handles[i]);
    }
    for (rocksdb::ColumnFamilyHandle* h : handles)
      ASSERT_TRUE(db->DestroyColumnFamilyHandle(h).ok());
    delete db;
    Reopen();
  }

  static std::string Key(uint64_t seq) {
    std::string k(8, '\0');
    for (int i = 7; i >= 0; --i, seq >>= 8)
      k[i] = static_cast<char>(seq & 0xff);
    return k;
  }

  void MakeHistory() {
    EnforceResult r = MustEnforce(MakePlan({{Sha256(1)}}));  // audit 1 (plan), 2 (enforce)
    ASSERT_TRUE(store_->Lift(r.revocation.id, "erin", "fixed").ok());  // 3
    absl::StatusOr<AuditVerification> v = store_->VerifyAudit();
    ASSERT_TRUE(v.ok());
    ASSERT_TRUE(v->ok) << ::testing::PrintToString(v->problems);
    ASSERT_EQ(v->entries, 3u);
  }

  std::vector<std::string> Problems() {
    absl::StatusOr<AuditVerification> v = store_->VerifyAudit();
    EXPECT_TRUE(v.ok());
    EXPECT_FALSE(v->ok);
    return v->problems;
  }
};

TEST_F(AuditTamperTest, EditedEntryIsFound) {
  MakeHistory();
  Tamper("audit", [](rocksdb::DB* db, rocksdb::ColumnFamilyHandle* cf) {
    std::string value;
    ASSERT_TRUE(db->Get(rocksdb::ReadOptions(), cf, Key(2), &value).ok());
    size_t at = value.find("dave");
    ASSERT_NE(at, std::string::npos);
    value.replace(at, 4, "mall");
    ASSERT_TRUE(db->Put(rocksdb::WriteOptions(), cf, Key(2), value).ok());
  });
  EXPECT_THAT(Problems(), ElementsAre(HasSubstr("entry 2: its hash does not match")));
}

TEST_F(AuditTamperTest, EditedEvidenceIsFound) {
  MakeHistory();
  Tamper("evidence", [](rocksdb::DB* db, rocksdb::ColumnFamilyHandle* cf) {
    std::string value;
    ASSERT_TRUE(db->Get(rocksdb::ReadOptions(), cf, Key(3), &value).ok());
    size_t at = value.find("fixed");
    ASSERT_NE(at, std::string::npos);
    value.replace(at, 5, "fixeD");
    ASSERT_TRUE(db->Put(rocksdb::WriteOptions(), cf, Key(3), value).ok());
  });
  EXPECT_THAT(Problems(), ElementsAre(HasSubstr("entry 3: its evidence record was edited")));
}

TEST_F(AuditTamperTest, DeletedEntryIsFound) {
  MakeHistory();
  Tamper("audit", [](rocksdb::DB* db, rocksdb::ColumnFamilyHandle* cf) {
    ASSERT_TRUE(db->Delete(rocksdb::WriteOptions(), cf, Key(2)).ok());
  });
  std::vector<std::string> problems = Problems();
  EXPECT_THAT(problems, ::testing::Contains(HasSubstr("entries are missing")));
  EXPECT_THAT(problems, ::testing::Contains(HasSubstr("evidence record 2 has no audit entry")));
}

TEST_F(AuditTamperTest, ReorderedEntriesAreFound) {
  MakeHistory();
  Tamper("audit", [](rocksdb::DB* db, rocksdb::ColumnFamilyHandle* cf) {
    std::string one, two;
    ASSERT_TRUE(db->Get(rocksdb::ReadOptions(), cf, Key(1), &one).ok());
    ASSERT_TRUE(db->Get(rocksdb::ReadOptions(), cf, Key(2), &two).ok());
    ASSERT_TRUE(db->Put(rocksdb::WriteOptions(), cf, Key(1), two).ok());
    ASSERT_TRUE(db->Put(rocksdb::WriteOptions(), cf, Key(2), one).ok());
  });
  EXPECT_THAT(Problems(), ::testing::Contains(HasSubstr("does not follow the previous entry")));
}

}  // namespace
}  // namespace lineage
