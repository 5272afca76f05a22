// Traversal options over small hand-built graphs.
#include <map>

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "engine/include/lineage/store.h"
#include "tests/engine/test_util.h"

namespace lineage {
namespace {

using ::testing::ElementsAre;
using ::testing::Pair;
using ::testing::UnorderedElementsAre;
using testing_util::Digests;
using testing_util::KeyRef;
using testing_util::QuietOptions;
using testing_util::Record;
using testing_util::Sha256;
using testing_util::Sha512;

class TraversalTest : public ::testing::Test {
 protected:
  void SetUp() override {
    absl::StatusOr<std::unique_ptr<Store>> store = Store::Open(dir_.db(), QuietOptions());
    ASSERT_TRUE(store.ok()) << store.status();
    store_ = *std::move(store);
  }

  // Adds material -derived-> subject for each (material, subject) pair.
  void Derive(std::vector<std::pair<int, int>> edges) {
    for (auto [m, s] : edges) {
      ASSERT_TRUE(
          store_->Ingest(Record(fmt::format("e{}-{}", m, s), {Sha256(s)}, {Sha256(m)})).ok());
    }
  }

  // ref -> depth, checking that depths never decrease in BFS order.
  std::map<std::string, uint32_t> Depths(const absl::StatusOr<TraversalResult>& r) {
    EXPECT_TRUE(r.ok()) << r.status();
    std::map<std::string, uint32_t> out;
    if (!r.ok()) return out;
    uint32_t last = 0;
    for (const TraversedNode& n : r->nodes) {
      EXPECT_GE(n.depth, last);
      last = n.depth;
      EXPECT_TRUE(out.emplace(n.ref, n.depth).second) << "visited twice: " << n.ref;
    }
    return out;
  }

  testing_util::TempDir dir_;
  std::unique_ptr<Store> store_;
};

TEST_F(TraversalTest, DescendantsOfAChainCarryTheirDepth) {
  Derive({{1, 2}, {2, 3}, {3, 4}});
  absl::StatusOr<TraversalResult> r = store_->Descendants(Sha256(1), {});
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(r->root, Sha256(1));
  EXPECT_FALSE(r->truncated);
  EXPECT_THAT(Depths(r),
              UnorderedElementsAre(Pair(Sha256(2), 1), Pair(Sha256(3), 2), Pair(Sha256(4), 3)));
  ASSERT_EQ(r->nodes.size(), 3u);
  EXPECT_EQ(r->nodes[0].kind, NodeKind::kArtifact);
}

TEST_F(TraversalTest, AncestorsFollowEdgesBackwards) {
  Derive({{1, 2}, {2, 3}, {3, 4}});
  EXPECT_THAT(Depths(store_->Ancestors(Sha256(4), {})),
              UnorderedElementsAre(Pair(Sha256(3), 1), Pair(Sha256(2), 2), Pair(Sha256(1), 3)));
  EXPECT_TRUE(Depths(store_->Ancestors(Sha256(1), {})).empty());
}

TEST_F(TraversalTest, MaxDepthStopsExpansion) {
  Derive({{1, 2}, {2, 3}, {3, 4}});
  TraversalOptions options;
  options.max_depth = 2;
  EXPECT_THAT(Depths(store_->Descendants(Sha256(1), options)),
              UnorderedElementsAre(Pair(Sha256(2), 1), Pair(Sha256(3), 2)));
  options.max_depth = 0;
  EXPECT_TRUE(Depths(store_->Descendants(Sha256(1), options)).empty());
  options.max_depth = -2;
  EXPECT_EQ(store_->Descendants(Sha256(1), options).status().code(),
            absl::StatusCode::kInvalidArgument);
}

TEST_F(TraversalTest, DiamondVisitsTheJoinOnceAtItsShortestDepth) {
  // 1 -> 2 -> 4, 1 -> 3 -> 4, 1 -> 4 -> 5 via a longer arm too.
  Derive({{1, 2}, {1, 3}, {2, 4}, {3, 4}, {4, 5}, {2, 6}, {6, 7}, {7, 5}});
  EXPECT_THAT(Depths(store_->Descendants(Sha256(1), {})),
              UnorderedElementsAre(Pair(Sha256(2), 1), Pair(Sha256(3), 1), Pair(Sha256(4), 2),
                                   Pair(Sha256(6), 2), Pair(Sha256(5), 3), Pair(Sha256(7), 3)));
}

TEST_F(TraversalTest, CycleTerminatesAndExcludesTheRoot) {
  Derive({{1, 2}, {2, 3}, {3, 1}});
  EXPECT_THAT(Depths(store_->Descendants(Sha256(1), {})),
              UnorderedElementsAre(Pair(Sha256(2), 1), Pair(Sha256(3), 2)));
  EXPECT_THAT(Depths(store_->Ancestors(Sha256(1), {})),
              UnorderedElementsAre(Pair(Sha256(3), 1), Pair(Sha256(2), 2)));
}

TEST_F(TraversalTest, EdgeKindMaskRestrictsWhatIsFollowed) {
  AttestationRecord r = Record("signed", {Sha256(1)});
  r.unsigned_ = false;
  r.signers.push_back({KeyRef(1), "", "ed25519"});
  r.builder_id = "builder-1";
  ASSERT_TRUE(store_->Ingest(r).ok());
  Derive({{1, 2}});

  TraversalOptions derived_only;
  derived_only.edge_kinds = EdgeKindMask::Of(EdgeKind::kDerived);
  EXPECT_TRUE(Depths(store_->Descendants(KeyRef(1), derived_only)).empty());

  TraversalOptions signed_only;
  signed_only.edge_kinds = EdgeKindMask::Of(EdgeKind::kSigned);
  EXPECT_THAT(Depths(store_->Descendants(KeyRef(1), signed_only)),
              UnorderedElementsAre(Pair(Sha256(1), 1)));

  TraversalOptions both;
  both.edge_kinds = EdgeKindMask::Of(EdgeKind::kSigned).Add(EdgeKind::kDerived);
  EXPECT_THAT(Depths(store_->Descendants(KeyRef(1), both)),
              UnorderedElementsAre(Pair(Sha256(1), 1), Pair(Sha256(2), 2)));

  TraversalOptions none;
  none.edge_kinds = EdgeKindMask();
  EXPECT_TRUE(Depths(store_->Descendants(KeyRef(1), none)).empty());

  // Ancestors of 2 along every kind reach the key and the builder.
  std::map<std::string, uint32_t> up = Depths(store_->Ancestors(Sha256(2), {}));
  EXPECT_THAT(up, UnorderedElementsAre(Pair(Sha256(1), 1), Pair(KeyRef(1), 2),
                                       Pair("builder:builder-1", 2)));
  absl::StatusOr<TraversalResult> typed = store_->Ancestors(Sha256(2), {});
  for (const TraversedNode& n : typed->nodes) {
    if (n.ref == KeyRef(1)) {
      EXPECT_EQ(n.kind, NodeKind::kKey);
    }
    if (n.ref == "builder:builder-1") {
      EXPECT_EQ(n.kind, NodeKind::kBuilder);
    }
  }
}

TEST_F(TraversalTest, LimitTruncatesOnlyWhenMoreNodesExist) {
  for (int i = 2; i <= 11; ++i)
    Derive({{1, i}});
  TraversalOptions options;
  options.limit = 3;
  absl::StatusOr<TraversalResult> r = store_->Descendants(Sha256(1), options);
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(r->nodes.size(), 3u);
  EXPECT_TRUE(r->truncated);

  options.limit = 10;
  r = store_->Descendants(Sha256(1), options);
  EXPECT_EQ(r->nodes.size(), 10u);
  EXPECT_FALSE(r->truncated);

  options.limit = 11;
  r = store_->Descendants(Sha256(1), options);
  EXPECT_EQ(r->nodes.size(), 10u);
  EXPECT_FALSE(r->truncated);

  options.limit = 3;
  absl::StatusOr<uint64_t> count = store_->CountDescendants(Sha256(1), options);
  ASSERT_TRUE(count.ok());
  EXPECT_EQ(*count, 3u);
}

TEST_F(TraversalTest, LimitKeepsTheShallowestNodes) {
  Derive({{1, 2}, {2, 3}, {3, 4}, {1, 5}});
  TraversalOptions options;
  options.limit = 2;
  EXPECT_THAT(Depths(store_->Descendants(Sha256(1), options)),
              UnorderedElementsAre(Pair(Sha256(2), 1), Pair(Sha256(5), 1)));
}

TEST_F(TraversalTest, CountMatchesTheMaterialisedTraversal) {
  Derive({{1, 2}, {1, 3}, {2, 4}, {3, 4}, {4, 5}});
  absl::StatusOr<uint64_t> count = store_->CountDescendants(Sha256(1), {});
  ASSERT_TRUE(count.ok());
  EXPECT_EQ(*count, 4u);
  TraversalOptions options;
  options.max_depth = 1;
  EXPECT_EQ(*store_->CountDescendants(Sha256(1), options), 2u);
}

TEST_F(TraversalTest, AliasWorksAsRootAndResultUsesCanonicalRefs) {
  AttestationRecord r = Record("a", {}, {Sha256(1)});
  r.subjects.push_back(Digests({Sha512(2), Sha256(2)}));
  ASSERT_TRUE(store_->Ingest(r).ok());
  absl::StatusOr<TraversalResult> up = store_->Ancestors(Sha512(2), {});
  ASSERT_TRUE(up.ok()) << up.status();
  EXPECT_EQ(up->root, Sha256(2));
  absl::StatusOr<TraversalResult> down = store_->Descendants(Sha256(1), {});
  ASSERT_TRUE(down.ok());
  ASSERT_EQ(down->nodes.size(), 1u);
  EXPECT_EQ(down->nodes[0].ref, Sha256(2));
  // A ref in non-canonical spelling is canonicalised before lookup.
  EXPECT_TRUE(store_->Descendants("SHA256:" + Sha256(1).substr(7), {}).ok());
}

}  // namespace
}  // namespace lineage
