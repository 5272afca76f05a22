// The synthetic chain, bulk-loaded into a real store, is the graph the
// generator describes: the engine's closures of the SLO roots have the
// sizes the generator computes on its own edge list.
#include <string>
#include <vector>

#include "bench/gen/records.h"
#include "bench/gen/supply_chain.h"
#include "engine/include/lineage/store.h"
#include "gtest/gtest.h"
#include "tests/engine/test_util.h"

namespace lineage::bench {
namespace {

TEST(ChainStoreTest, BulkLoadedChainHasTheGeneratorsClosures) {
  const SupplyChain chain = Generate({20'000, 5});
  testing_util::TempDir dir;
  absl::StatusOr<std::unique_ptr<Store>> store =
      Store::Open(dir.db(), testing_util::QuietOptions());
  ASSERT_TRUE(store.ok()) << store.status();
  absl::StatusOr<BulkLoadResult> loaded = (*store)->BulkLoad(ToRecords(chain));
  ASSERT_TRUE(loaded.ok()) << loaded.status();
  EXPECT_EQ(loaded->attestations, chain.attestations.size());

  RunsRecord runs;
  runs.id = "synthetic-runs";
  for (const SyntheticWorkload& w : chain.workloads) {
    runs.runs.push_back({chain.refs[w.image], chain.refs[w.workload]});
  }
  ASSERT_TRUE((*store)->AddRuns(runs).ok());

  absl::StatusOr<StoreStats> stats = (*store)->Stats();
  ASSERT_TRUE(stats.ok());
  uint64_t nodes = 0, edges = 0;
  for (uint64_t n : stats->nodes_by_kind)
    nodes += n;
  for (uint64_t e : stats->edges_by_kind)
    edges += e;
  // Every node but the commits no step ended up using is in some edge.
  EXPECT_LE(nodes, chain.refs.size());
  EXPECT_GT(nodes, chain.refs.size() - 50);
  EXPECT_EQ(edges, chain.edges.size());

  const std::vector<uint32_t> roots = {chain.most_popular_base, chain.busiest_key,
                                       chain.busiest_builder, chain.final_images[0]};
  const std::vector<uint64_t> want = ClosureSizes(chain, roots);
  for (size_t i = 0; i < roots.size(); ++i) {
    absl::StatusOr<uint64_t> got = (*store)->CountDescendants(chain.refs[roots[i]], {});
    ASSERT_TRUE(got.ok()) << got.status();
    EXPECT_EQ(*got, want[i]) << chain.refs[roots[i]];
  }
}

}  // namespace
}  // namespace lineage::bench
