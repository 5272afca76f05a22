// Property test: on a seeded random DAG, every node's descendants and
// ancestors (sets and depths) match a plain reference BFS, before and after a
// reopen, with the index kept as a delta or merged often.
#include <deque>
#include <map>
#include <random>
#include <set>

#include <gtest/gtest.h>

#include "engine/include/lineage/store.h"
#include "tests/engine/test_util.h"

namespace lineage {
namespace {

using testing_util::KeyRef;
using testing_util::QuietOptions;
using testing_util::Record;
using testing_util::Sha256;

constexpr int kArtifacts = 3000;
constexpr int kKeys = 20;

struct ReferenceGraph {
  std::vector<std::string> refs;                        // node -> ref
  std::vector<std::set<std::pair<int, EdgeKind>>> out;  // node -> (dst, kind)
  std::vector<std::set<std::pair<int, EdgeKind>>> in;

  int Add(std::string ref) {
    refs.push_back(std::move(ref));
    out.emplace_back();
    in.emplace_back();
    return static_cast<int>(refs.size()) - 1;
  }
  void Edge(int src, EdgeKind kind, int dst) {
    out[src].insert({dst, kind});
    in[dst].insert({src, kind});
  }

  std::map<std::string, uint32_t> Bfs(int root, bool forward, EdgeKindMask mask) const {
    std::vector<int> depth(refs.size(), -1);
    std::deque<int> queue = {root};
    depth[root] = 0;
    std::map<std::string, uint32_t> result;
    while (!queue.empty()) {
      int u = queue.front();
      queue.pop_front();
      for (auto [v, kind] : forward ? out[u] : in[u]) {
        if (!mask.Contains(kind) || depth[v] >= 0) continue;
        depth[v] = depth[u] + 1;
        result[refs[v]] = depth[v];
        queue.push_back(v);
      }
    }
    return result;
  }
};

std::map<std::string, uint32_t> AsMap(const TraversalResult& r) {
  std::map<std::string, uint32_t> out;
  for (const TraversedNode& n : r.nodes)
    out[n.ref] = n.depth;
  return out;
}

class GraphPropertyTest : public ::testing::TestWithParam<uint64_t> {
 protected:
  std::unique_ptr<Store> Open() {
    StoreOptions options = QuietOptions();
    options.index_merge_min_edges = GetParam();
    absl::StatusOr<std::unique_ptr<Store>> store = Store::Open(dir_.db(), options);
    EXPECT_TRUE(store.ok()) << store.status();
    return store.ok() ? *std::move(store) : nullptr;
  }

  // Builds the same random graph in the store and in `ref`.
  void Populate(Store* store, ReferenceGraph* ref, uint64_t seed) {
    std::mt19937_64 rng(seed);
    std::vector<int> keys, artifacts;
    for (int k = 0; k < kKeys; ++k)
      keys.push_back(ref->Add(KeyRef(k)));

    std::vector<AttestationRecord> batch;
    for (int i = 0; i < kArtifacts; ++i) {
      int node = ref->Add(Sha256(i));
      artifacts.push_back(node);
      // Parents come from a window of recent artifacts, which makes long
      // chains and many diamonds.
      std::vector<std::string> materials;
      int parents = i == 0 ? 0 : static_cast<int>(rng() % 4);
      for (int p = 0; p < parents; ++p) {
        int lo = std::max(0, i - 300);
        int parent = lo + static_cast<int>(rng() % (i - lo));
        materials.push_back(Sha256(parent));
        ref->Edge(artifacts[parent], EdgeKind::kDerived, node);
      }
      AttestationRecord r = Record(fmt::format("att-{}", i), {Sha256(i)}, materials);
      if (rng() % 3 == 0) {
        int k = static_cast<int>(rng() % kKeys);
        r.unsigned_ = false;
        r.signers.push_back({KeyRef(k), "", "ed25519"});
        ref->Edge(keys[k], EdgeKind::kSigned, node);
      }
      batch.push_back(std::move(r));

      // Now and then another attestation repeats an existing claim.
      if (i > 10 && rng() % 10 == 0) {
        int parent = static_cast<int>(rng() % i);
        int child = parent + 1 + static_cast<int>(rng() % (i - parent));
        batch.push_back(Record(fmt::format("repeat-{}", i), {Sha256(child)}, {Sha256(parent)}));
        if (child != parent) ref->Edge(artifacts[parent], EdgeKind::kDerived, artifacts[child]);
      }

      // Half the graph arrives one record at a time, half in batches.
      if (i < kArtifacts / 2 || batch.size() >= 50 || i == kArtifacts - 1) {
        if (batch.size() == 1) {
          ASSERT_TRUE(store->Ingest(batch[0]).ok());
        } else {
          ASSERT_TRUE(store->IngestBatch(batch).ok());
        }
        batch.clear();
      }
    }
  }

  void CheckEveryNode(Store* store, const ReferenceGraph& ref) {
    for (size_t u = 0; u < ref.refs.size(); ++u) {
      SCOPED_TRACE(ref.refs[u]);
      absl::StatusOr<TraversalResult> down = store->Descendants(ref.refs[u], {});
      absl::StatusOr<TraversalResult> up = store->Ancestors(ref.refs[u], {});
      ASSERT_TRUE(down.ok() && up.ok());
      ASSERT_EQ(AsMap(*down), ref.Bfs(static_cast<int>(u), true, EdgeKindMask::All()));
      ASSERT_EQ(AsMap(*up), ref.Bfs(static_cast<int>(u), false, EdgeKindMask::All()));
      ASSERT_EQ(AsMap(*down).size(), down->nodes.size());  // node-unique
      absl::StatusOr<uint64_t> count = store->CountDescendants(ref.refs[u], {});
      ASSERT_TRUE(count.ok());
      ASSERT_EQ(*count, down->nodes.size());
    }
    // Keys under a derived-only mask reach nothing; artifacts the same set.
    TraversalOptions derived;
    derived.edge_kinds = EdgeKindMask::Of(EdgeKind::kDerived);
    for (size_t u = 0; u < ref.refs.size(); u += 7) {
      absl::StatusOr<TraversalResult> down = store->Descendants(ref.refs[u], derived);
      ASSERT_TRUE(down.ok());
      ASSERT_EQ(AsMap(*down), ref.Bfs(static_cast<int>(u), true, derived.edge_kinds));
    }
  }

  testing_util::TempDir dir_;
};

TEST_P(GraphPropertyTest, TraversalsMatchReferenceBfsBeforeAndAfterReopen) {
  uint64_t seed = std::random_device()();
  SCOPED_TRACE(fmt::format("seed {}", seed));
  ReferenceGraph ref;
  {
    std::unique_ptr<Store> store = Open();
    ASSERT_NE(store, nullptr);
    Populate(store.get(), &ref, seed);
    if (HasFatalFailure()) return;
    CheckEveryNode(store.get(), ref);
    if (HasFatalFailure()) return;
  }
  std::unique_ptr<Store> reopened = Open();
  ASSERT_NE(reopened, nullptr);
  CheckEveryNode(reopened.get(), ref);
}

// Index merge thresholds: never (all edges stay in the delta until reopen)
// and often (many merges while ingesting).
INSTANTIATE_TEST_SUITE_P(MergePolicies, GraphPropertyTest,
                         ::testing::Values(uint64_t{1} << 40, uint64_t{64}));

}  // namespace
}  // namespace lineage
