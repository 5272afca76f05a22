// The taint invariants against a simple reference model, under random
// sequences of ingest, plan, approve, enforce, lift, the advisory-only switch
// and reopen.
//
// The model keeps every edge assertion and the active revocations, and
// recomputes each closure from its roots over the current graph by plain
// breadth-first search: sticky taint means a revocation always covers what
// its roots reach now, however the graph grew after enforcement. The store
// must agree on the deny list and on every check.
#include <cstdint>
#include <deque>
#include <map>
#include <memory>
#include <random>
#include <set>
#include <string>
#include <vector>

#include <gtest/gtest.h>

#include "engine/include/lineage/revocation.h"
#include "engine/include/lineage/store.h"
#include "tests/engine/test_util.h"

namespace lineage {
namespace {

using testing_util::KeyRef;
using testing_util::Sha256;

constexpr int kArtifacts = 40;
constexpr int kKeys = 3;
constexpr int kBuilders = 2;

std::string BuilderId(int b) {
  return fmt::format("https://ci.example/b{}", b);
}

struct ModelAssertion {
  std::string src;
  EdgeKind kind;
  std::string dst;
  int64_t time;
};

struct ModelRevocation {
  std::vector<RevocationRoot> roots;
  RevocationMode mode;
};

class Model {
 public:
  void Add(ModelAssertion a) { assertions_.push_back(std::move(a)); }

  std::set<std::string> Closure(const ModelRevocation& rev) const {
    std::deque<std::string> queue;
    for (const RevocationRoot& root : rev.roots) {
      if (root.ref.rfind("sha256:", 0) == 0) {
        queue.push_back(root.ref);
        continue;
      }
      EdgeKind kind = root.ref.rfind("key:", 0) == 0 ? EdgeKind::kSigned : EdgeKind::kBuilt;
      for (const ModelAssertion& a : assertions_) {
        absl::Time t = absl::FromUnixSeconds(a.time);
        if (a.kind == kind && a.src == root.ref && root.since <= t && t < root.until) {
          queue.push_back(a.dst);
        }
      }
    }
    std::set<std::string> seen;
    while (!queue.empty()) {
      std::string u = queue.front();
      queue.pop_front();
      if (!seen.insert(u).second) continue;
      for (const ModelAssertion& a : assertions_) {
        if (a.kind == EdgeKind::kDerived && a.src == u) queue.push_back(a.dst);
      }
    }
    return seen;
  }

  std::set<std::string> Denied(const std::map<std::string, ModelRevocation>& active,
                               bool advisory_only) const {
    std::set<std::string> denied;
    if (advisory_only) return denied;
    for (const auto& [id, rev] : active) {
      if (rev.mode != RevocationMode::kEnforce) continue;
      std::set<std::string> c = Closure(rev);
      denied.insert(c.begin(), c.end());
    }
    return denied;
  }

 private:
  std::vector<ModelAssertion> assertions_;
};

class TaintPropertyTest : public ::testing::TestWithParam<uint64_t> {
 protected:
  void Reopen() {
    store_.reset();
    absl::StatusOr<std::unique_ptr<Store>> s = Store::Open(dir_.db(), testing_util::QuietOptions());
    ASSERT_TRUE(s.ok()) << s.status();
    store_ = *std::move(s);
  }

  testing_util::TempDir dir_;
  std::unique_ptr<Store> store_;
};

TEST_P(TaintPropertyTest, StoreAgreesWithTheReferenceModel) {
  const uint64_t seed = GetParam();
  SCOPED_TRACE(fmt::format("seed {}", seed));
  std::mt19937_64 rng(seed);
  auto pick = [&](int n) { return static_cast<int>(rng() % static_cast<uint64_t>(n)); };

  Reopen();
  Model model;
  std::map<std::string, ModelRevocation> active;
  bool advisory_only = false;
  int records = 0;

  for (int step = 0; step < 160; ++step) {
    int op = pick(100);
    if (op < 55) {
      // An attestation: one subject, up to two materials, maybe signed and
      // built, at a time that key windows may or may not cover.
      AttestationRecord r =
          testing_util::Record(fmt::format("r{}", records++), {Sha256(pick(kArtifacts))});
      int64_t time = 1000 * (1 + pick(10));
      r.time = absl::FromUnixSeconds(time);
      for (int m = pick(3); m > 0; --m)
        r.materials.push_back(testing_util::Digests({Sha256(pick(kArtifacts))}));
      if (pick(2) == 0) {
        r.unsigned_ = false;
        r.signers.push_back({KeyRef(pick(kKeys)), "", "ed25519"});
      }
      if (pick(3) == 0) r.builder_id = BuilderId(pick(kBuilders));
      ASSERT_TRUE(store_->Ingest(r).ok());
      const std::string& subject = r.subjects[0].digests[0];
      for (const ArtifactDigests& m : r.materials) {
        if (m.digests[0] != subject) model.Add({m.digests[0], EdgeKind::kDerived, subject, time});
      }
      for (const VerifiedSigner& s : r.signers)
        model.Add({s.key_ref, EdgeKind::kSigned, subject, time});
      if (!r.builder_id.empty()) {
        model.Add({"builder:" + r.builder_id, EdgeKind::kBuilt, subject, time});
      }
    } else if (op < 75) {
      // A revocation of one or two roots, possibly windowed, possibly
      // advisory, approved by two others and enforced.
      PlanRequest request;
      request.reason = fmt::format("step {}", step);
      request.actor = "alice";
      request.mode = pick(4) == 0 ? RevocationMode::kAdvisory : RevocationMode::kEnforce;
      for (int n = 1 + pick(2); n > 0; --n) {
        int kind = pick(4);
        RevocationRoot root;
        if (kind <= 1) {
          root.ref = Sha256(pick(kArtifacts + 5));  // sometimes a digest never seen
        } else {
          root.ref = kind == 2 ? KeyRef(pick(kKeys)) : "builder:" + BuilderId(pick(kBuilders));
          if (pick(2) == 0) {
            root.since = absl::FromUnixSeconds(1000 * (1 + pick(5)));
            root.until = root.since + absl::Seconds(1000 * (1 + pick(5)));
          }
        }
        request.roots.push_back(root);
      }
      absl::StatusOr<Plan> plan = store_->CreatePlan(request, {0, 0});
      ASSERT_TRUE(plan.ok()) << plan.status();
      if (plan->state == PlanState::kEnforced) continue;  // the same review, already done
      ASSERT_TRUE(store_->Approve(plan->id, "bob").ok());
      ASSERT_TRUE(store_->Approve(plan->id, "carol").ok());
      absl::StatusOr<EnforceResult> r = store_->Enforce(plan->id, {.actor = "dave"});
      ASSERT_TRUE(r.ok()) << r.status();
      ASSERT_TRUE(r->enforced);
      active[r->revocation.id] = {plan->roots, request.mode};
    } else if (op < 85) {
      if (active.empty()) continue;
      auto it = active.begin();
      std::advance(it, pick(static_cast<int>(active.size())));
      ASSERT_TRUE(store_->Lift(it->first, "erin", "lifted").ok());
      active.erase(it);
    } else if (op < 90) {
      advisory_only = !advisory_only;
      RevocationSettings settings = store_->GetSettings();
      settings.advisory_only = advisory_only;
      ASSERT_TRUE(store_->UpdateSettings(settings, "root", "switch").ok());
    } else if (op < 95) {
      Reopen();
    } else {
      continue;
    }

    std::set<std::string> expected = model.Denied(active, advisory_only);
    absl::StatusOr<DenyListSnapshot> snapshot = store_->DenyList();
    ASSERT_TRUE(snapshot.ok());
    std::set<std::string> actual(snapshot->digests.begin(), snapshot->digests.end());
    ASSERT_EQ(actual, expected) << "step " << step << ", op " << op;
    for (int a = 0; a < kArtifacts + 5; ++a) {
      absl::StatusOr<CheckResult> c = store_->Check(Sha256(a), {.unknown = UnknownPolicy::kAllow});
      ASSERT_TRUE(c.ok());
      ASSERT_EQ(c->verdict == Verdict::kDeny, expected.contains(Sha256(a)))
          << Sha256(a) << " at step " << step;
    }
  }

  // The log replays to the same deny list, with gap-free sequence numbers.
  absl::StatusOr<DenyListPage> page = store_->DenyListSince(0, SIZE_MAX);
  ASSERT_TRUE(page.ok());
  std::set<std::string> replayed;
  for (size_t i = 0; i < page->deltas.size(); ++i) {
    ASSERT_EQ(page->deltas[i].seq, i + 1);
    for (const std::string& d : page->deltas[i].added)
      replayed.insert(d);
    for (const std::string& d : page->deltas[i].removed)
      replayed.erase(d);
  }
  absl::StatusOr<DenyListSnapshot> snapshot = store_->DenyList();
  ASSERT_TRUE(snapshot.ok());
  EXPECT_EQ(replayed, std::set<std::string>(snapshot->digests.begin(), snapshot->digests.end()));
  absl::StatusOr<AuditVerification> audit = store_->VerifyAudit();
  ASSERT_TRUE(audit.ok());
  EXPECT_TRUE(audit->ok);
}

INSTANTIATE_TEST_SUITE_P(Seeds, TaintPropertyTest, ::testing::Values(1, 2, 3, 4, 5, 6, 7, 8));

}  // namespace
}  // namespace lineage
