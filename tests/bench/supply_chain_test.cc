#include "bench/gen/supply_chain.h"

#include <algorithm>
#include <cstdint>
#include <vector>

#include "absl/container/flat_hash_set.h"
#include "gtest/gtest.h"

namespace lineage::bench {
namespace {

constexpr uint64_t kArtifacts = 20'000;

class SupplyChainTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() { chain_ = new SupplyChain(Generate({kArtifacts, 7})); }
  static void TearDownTestSuite() { delete chain_; }
  static const SupplyChain& chain() { return *chain_; }

 private:
  static SupplyChain* chain_;
};

SupplyChain* SupplyChainTest::chain_ = nullptr;

TEST_F(SupplyChainTest, SameSeedGivesTheSameGraph) {
  const SupplyChain again = Generate({kArtifacts, 7});
  EXPECT_EQ(again.refs, chain().refs);
  ASSERT_EQ(again.edges.size(), chain().edges.size());
  for (size_t i = 0; i < again.edges.size(); ++i) {
    ASSERT_EQ(again.edges[i].from, chain().edges[i].from) << i;
    ASSERT_EQ(again.edges[i].to, chain().edges[i].to) << i;
    ASSERT_EQ(again.edges[i].kind, chain().edges[i].kind) << i;
  }
  ASSERT_EQ(again.attestations.size(), chain().attestations.size());
  for (size_t i = 0; i < again.attestations.size(); ++i) {
    EXPECT_EQ(again.attestations[i].time, chain().attestations[i].time) << i;
    EXPECT_EQ(again.attestations[i].key, chain().attestations[i].key) << i;
  }
  EXPECT_EQ(again.most_popular_base, chain().most_popular_base);
  EXPECT_EQ(again.busiest_key, chain().busiest_key);
  EXPECT_EQ(again.busiest_builder, chain().busiest_builder);
}

TEST_F(SupplyChainTest, DifferentSeedGivesADifferentGraph) {
  const SupplyChain other = Generate({kArtifacts, 8});
  EXPECT_NE(other.refs, chain().refs);
  size_t same_edges = 0;
  const size_t n = std::min(other.edges.size(), chain().edges.size());
  for (size_t i = 0; i < n; ++i) {
    same_edges +=
        other.edges[i].from == chain().edges[i].from && other.edges[i].to == chain().edges[i].to;
  }
  EXPECT_LT(same_edges, n * 9 / 10);
}

TEST_F(SupplyChainTest, MakesExactlyTheAskedArtifactsWithUniqueRefs) {
  const SupplyChain& c = chain();
  ASSERT_EQ(c.kinds.size(), c.refs.size());
  ASSERT_EQ(c.roles.size(), c.refs.size());
  EXPECT_EQ(std::count(c.kinds.begin(), c.kinds.end(), NodeKind::kArtifact), kArtifacts);
  absl::flat_hash_set<std::string> unique(c.refs.begin(), c.refs.end());
  EXPECT_EQ(unique.size(), c.refs.size());
  for (size_t i = 0; i < c.refs.size(); ++i) {
    const std::string& ref = c.refs[i];
    switch (c.kinds[i]) {
      case NodeKind::kArtifact:
        if (c.roles[i] == ArtifactRole::kCommit) {
          EXPECT_EQ(ref.size(), 5u + 40) << ref;
          EXPECT_EQ(ref.rfind("sha1:", 0), 0u) << ref;
        } else {
          EXPECT_EQ(ref.size(), 7u + 64) << ref;
          EXPECT_EQ(ref.rfind("sha256:", 0), 0u) << ref;
        }
        break;
      case NodeKind::kKey:
        EXPECT_EQ(ref.rfind("key:sha256:", 0), 0u) << ref;
        break;
      case NodeKind::kBuilder:
        EXPECT_EQ(ref.rfind("builder:", 0), 0u) << ref;
        break;
      case NodeKind::kWorkload:
        EXPECT_EQ(ref.rfind("workload:", 0), 0u) << ref;
        break;
    }
  }
}

TEST_F(SupplyChainTest, EdgesMatchNodeKindsAndPointForwardSoTheGraphIsAcyclic) {
  const SupplyChain& c = chain();
  for (const Edge& e : c.edges) {
    ASSERT_LT(e.from, c.refs.size());
    ASSERT_LT(e.to, c.refs.size());
    // Ids are in build order (workloads last), so every edge going from a
    // smaller to a larger id proves there is no cycle.
    ASSERT_LT(e.from, e.to) << c.refs[e.from] << " -> " << c.refs[e.to];
    const NodeKind from = c.kinds[e.from], to = c.kinds[e.to];
    switch (e.kind) {
      case EdgeKind::kDerived:
        EXPECT_TRUE(from == NodeKind::kArtifact && to == NodeKind::kArtifact);
        break;
      case EdgeKind::kSigned:
        EXPECT_TRUE(from == NodeKind::kKey && to == NodeKind::kArtifact);
        break;
      case EdgeKind::kBuilt:
        EXPECT_TRUE(from == NodeKind::kBuilder && to == NodeKind::kArtifact);
        break;
      case EdgeKind::kRuns:
        EXPECT_TRUE(from == NodeKind::kArtifact && to == NodeKind::kWorkload);
        EXPECT_EQ(c.roles[e.from], ArtifactRole::kFinalImage);
        break;
    }
  }
}

TEST_F(SupplyChainTest, AttestationsAreExactlyTheEdgesIntoTheirSubjects) {
  const SupplyChain& c = chain();
  size_t derived = 0, signed_edges = 0, built = 0;
  absl::flat_hash_set<uint32_t> subjects;
  absl::Time previous = absl::InfinitePast();
  for (const SyntheticAttestation& a : c.attestations) {
    EXPECT_TRUE(subjects.insert(a.subject).second) << "two attestations for " << c.refs[a.subject];
    EXPECT_NE(c.roles[a.subject], ArtifactRole::kCommit);
    EXPECT_EQ(c.kinds[a.key], NodeKind::kKey);
    EXPECT_EQ(c.kinds[a.builder], NodeKind::kBuilder);
    EXPECT_FALSE(a.materials.empty());
    absl::flat_hash_set<uint32_t> unique(a.materials.begin(), a.materials.end());
    EXPECT_EQ(unique.size(), a.materials.size());
    EXPECT_GE(a.time, previous);
    previous = a.time;
    derived += a.materials.size();
    ++signed_edges;
    ++built;
  }
  for (const SyntheticAttestation& a : c.attestations) {
    if (c.roles[a.subject] == ArtifactRole::kCommit) ADD_FAILURE();
  }
  size_t got_derived = 0, got_signed = 0, got_built = 0, got_runs = 0;
  for (const Edge& e : c.edges) {
    got_derived += e.kind == EdgeKind::kDerived;
    got_signed += e.kind == EdgeKind::kSigned;
    got_built += e.kind == EdgeKind::kBuilt;
    got_runs += e.kind == EdgeKind::kRuns;
  }
  EXPECT_EQ(got_derived, derived);
  EXPECT_EQ(got_signed, signed_edges);
  EXPECT_EQ(got_built, built);
  EXPECT_EQ(got_runs, c.workloads.size());
  // Every artifact that is not a commit has its attestation.
  const size_t commits = std::count(c.roles.begin(), c.roles.end(), ArtifactRole::kCommit);
  EXPECT_EQ(subjects.size() + commits, kArtifacts);
}

// Following materials[0] (the FROM) from a final image reaches an OS image
// in 3 to 12 hops.
TEST_F(SupplyChainTest, ImageChainsAreThreeToTwelveDeep) {
  const SupplyChain& c = chain();
  std::vector<int64_t> attestation_of(c.refs.size(), -1);
  for (size_t i = 0; i < c.attestations.size(); ++i)
    attestation_of[c.attestations[i].subject] = i;
  ASSERT_FALSE(c.final_images.empty());
  std::vector<size_t> depth_count(13, 0);
  for (uint32_t image : c.final_images) {
    ASSERT_EQ(c.roles[image], ArtifactRole::kFinalImage);
    uint32_t node = image;
    size_t depth = 0;
    while (c.roles[node] != ArtifactRole::kOsImage) {
      ASSERT_LT(depth, 13u) << c.refs[image];
      ASSERT_GE(attestation_of[node], 0);
      node = c.attestations[attestation_of[node]].materials[0];
      ++depth;
    }
    ASSERT_GE(depth, 3u) << c.refs[image];
    ASSERT_LE(depth, 12u) << c.refs[image];
    ++depth_count[depth];
  }
  // The depths are spread, not all one value.
  EXPECT_LT(*std::max_element(depth_count.begin(), depth_count.end()), c.final_images.size() / 2);
}

TEST_F(SupplyChainTest, AboutHalfOfTheFinalImagesRunOverSeveralClusters) {
  const SupplyChain& c = chain();
  absl::flat_hash_set<uint32_t> running;
  absl::flat_hash_set<std::string> clusters;
  for (const SyntheticWorkload& w : c.workloads) {
    EXPECT_EQ(c.kinds[w.workload], NodeKind::kWorkload);
    EXPECT_EQ(c.refs[w.workload].rfind("workload:" + w.cluster + "/", 0), 0u) << c.refs[w.workload];
    EXPECT_NE(c.refs[w.workload].find("/Deployment/"), std::string::npos);
    running.insert(w.image);
    clusters.insert(w.cluster);
  }
  const double share = static_cast<double>(running.size()) / c.final_images.size();
  EXPECT_GT(share, 0.45);
  EXPECT_LT(share, 0.55);
  EXPECT_GE(clusters.size(), 3u);
}

TEST_F(SupplyChainTest, AFewKeysSignMostAndTheBusiestKeySignsTheMost) {
  const SupplyChain& c = chain();
  std::vector<uint64_t> per_key(c.refs.size(), 0), per_builder(c.refs.size(), 0);
  for (const SyntheticAttestation& a : c.attestations) {
    ++per_key[a.key];
    ++per_builder[a.builder];
  }
  EXPECT_EQ(std::max_element(per_key.begin(), per_key.end()) - per_key.begin(), c.busiest_key);
  EXPECT_EQ(std::max_element(per_builder.begin(), per_builder.end()) - per_builder.begin(),
            c.busiest_builder);
  std::vector<uint64_t> sorted = per_key;
  std::sort(sorted.rbegin(), sorted.rend());
  uint64_t top10 = 0;
  for (int i = 0; i < 10; ++i)
    top10 += sorted[i];
  const size_t keys = std::count(c.kinds.begin(), c.kinds.end(), NodeKind::kKey);
  EXPECT_GT(keys, 50u);
  EXPECT_GT(top10 * 2, c.attestations.size()) << "the top 10 keys sign most attestations";
  EXPECT_GT(sorted[0] * 10, c.attestations.size()) << "the busiest key signs over 10%";
}

// A builder is active over windows of time: most builders build nothing in
// most weeks, so a "builder over a time window" revocation selects a slice.
TEST_F(SupplyChainTest, BuildersAreActiveOverWindows) {
  const SupplyChain& c = chain();
  absl::flat_hash_set<uint32_t> builders_first_half, builders_second_half;
  const absl::Time middle = c.attestations[c.attestations.size() / 2].time;
  for (const SyntheticAttestation& a : c.attestations) {
    (a.time < middle ? builders_first_half : builders_second_half).insert(a.builder);
  }
  size_t in_both = 0;
  for (uint32_t b : builders_first_half)
    in_both += builders_second_half.contains(b);
  EXPECT_LT(in_both, builders_first_half.size() / 2);
  EXPECT_TRUE(builders_first_half.contains(c.busiest_builder));
  EXPECT_TRUE(builders_second_half.contains(c.busiest_builder));
}

// Diamonds: some artifact is reached from the most popular OS image along
// more than one path, and its closure holds most of the graph.
TEST_F(SupplyChainTest, MostPopularOsImageIsUpstreamOfMostArtifactsWithDiamonds) {
  const SupplyChain& c = chain();
  ASSERT_FALSE(c.os_images.empty());
  const std::vector<uint64_t> sizes = ClosureSizes(c, c.os_images);
  const auto best = std::max_element(sizes.begin(), sizes.end()) - sizes.begin();
  EXPECT_EQ(c.os_images[best], c.most_popular_base);
  EXPECT_GT(sizes[best], c.refs.size() / 2);

  // Count in-paths from the root over derived edges in id order: a node with
  // more than one upstream path inside the closure is a diamond's bottom.
  std::vector<uint64_t> paths(c.refs.size(), 0);
  paths[c.most_popular_base] = 1;
  std::vector<const Edge*> derived;
  for (const Edge& e : c.edges) {
    if (e.kind == EdgeKind::kDerived) derived.push_back(&e);
  }
  std::stable_sort(derived.begin(), derived.end(),
                   [](const Edge* a, const Edge* b) { return a->from < b->from; });
  for (const Edge* e : derived)
    paths[e->to] = std::min<uint64_t>(paths[e->to] + paths[e->from], 1u << 30);
  const size_t diamonds =
      std::count_if(paths.begin(), paths.end(), [](uint64_t p) { return p > 1; });
  EXPECT_GT(diamonds, kArtifacts / 10);
}

TEST(SupplyChainSmallTest, TinyConfigsStillMakeAConsistentGraph) {
  for (uint64_t n : {0ull, 1ull, 16ull, 100ull, 1000ull}) {
    const SupplyChain c = Generate({n, 3});
    const uint64_t artifacts = std::count(c.kinds.begin(), c.kinds.end(), NodeKind::kArtifact);
    EXPECT_EQ(artifacts, std::max<uint64_t>(n, 16)) << n;
    for (const Edge& e : c.edges)
      EXPECT_LT(e.from, e.to) << n;
  }
}

}  // namespace
}  // namespace lineage::bench
