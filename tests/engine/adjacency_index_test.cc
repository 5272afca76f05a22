#include "engine/src/adjacency_index.h"

#include <random>

#include <fmt/format.h>
#include <gtest/gtest.h>

namespace lineage::internal {
namespace {

void AddNodes(AdjacencyIndex* index, int n) {
  for (int i = 0; i < n; ++i)
    index->AddNode(NodeKind::kArtifact, fmt::format("sha256:{:064x}", i + 1));
}

TEST(AdjacencyIndexTest, AddEdgeRefusesADuplicateButNotAnotherKind) {
  AdjacencyIndex index;
  AddNodes(&index, 3);
  index.FinishBulk();
  EXPECT_TRUE(index.AddEdge(0, EdgeKind::kDerived, 1));
  EXPECT_FALSE(index.AddEdge(0, EdgeKind::kDerived, 1));
  EXPECT_TRUE(index.AddEdge(0, EdgeKind::kSigned, 1));
  EXPECT_TRUE(index.HasEdge(0, EdgeKind::kDerived, 1));
  EXPECT_FALSE(index.HasEdge(1, EdgeKind::kDerived, 0));
  EXPECT_EQ(index.edge_count(), 2u);
}

TEST(AdjacencyIndexTest, BulkLoadIgnoresRepeatedAssertionsAndRejectsDisorder) {
  AdjacencyIndex index;
  AddNodes(&index, 4);
  EXPECT_TRUE(index.BulkAddEdge(0, EdgeKind::kDerived, 2));
  EXPECT_TRUE(index.BulkAddEdge(0, EdgeKind::kDerived, 2));  // second attestation
  EXPECT_TRUE(index.BulkAddEdge(0, EdgeKind::kSigned, 1));
  EXPECT_FALSE(index.BulkAddEdge(0, EdgeKind::kDerived, 3));  // kind order violated
  EXPECT_TRUE(index.BulkAddEdge(2, EdgeKind::kDerived, 3));
  EXPECT_FALSE(index.BulkAddEdge(1, EdgeKind::kDerived, 3));  // src order violated
  EXPECT_FALSE(index.BulkAddEdge(2, EdgeKind::kDerived, 9));  // out of range
  index.FinishBulk();
  EXPECT_EQ(index.edge_count(), 3u);
  EXPECT_TRUE(index.HasEdge(0, EdgeKind::kSigned, 1));
  EXPECT_TRUE(index.HasEdge(2, EdgeKind::kDerived, 3));
  EXPECT_FALSE(index.AddEdge(0, EdgeKind::kDerived, 2));
}

TEST(AdjacencyIndexTest, MergedIndexEqualsOneBuiltFromScratch) {
  std::mt19937_64 rng(7);
  const int n = 300;
  AdjacencyIndex incremental(/*min_merge_edges=*/50);
  AddNodes(&incremental, n / 2);
  incremental.FinishBulk();
  std::vector<std::tuple<NodeId, EdgeKind, NodeId>> edges;
  int merges = 0;
  for (int i = 0; i < 2000; ++i) {
    if (incremental.node_count() < static_cast<size_t>(n) && i % 10 == 0) {
      incremental.AddNode(NodeKind::kArtifact, "x");
    }
    NodeId a = rng() % incremental.node_count(), b = rng() % incremental.node_count();
    EdgeKind kind = static_cast<EdgeKind>(1 + rng() % 4);
    if (incremental.AddEdge(a, kind, b)) edges.emplace_back(a, kind, b);
    if (incremental.ShouldMerge()) {
      incremental.InstallMerge(incremental.PrepareMerge());
      ++merges;
    }
  }
  EXPECT_GT(merges, 0);
  std::sort(edges.begin(), edges.end());
  EXPECT_EQ(incremental.AllEdges(), edges);

  AdjacencyIndex rebuilt;
  for (size_t i = 0; i < incremental.node_count(); ++i)
    rebuilt.AddNode(NodeKind::kArtifact, "x");
  for (const auto& [a, kind, b] : edges)
    ASSERT_TRUE(rebuilt.BulkAddEdge(a, kind, b));
  rebuilt.FinishBulk();
  incremental.InstallMerge(incremental.PrepareMerge());

  for (auto view : {std::make_pair(incremental.forward(), rebuilt.forward()),
                    std::make_pair(incremental.reverse(), rebuilt.reverse())}) {
    EXPECT_EQ(view.first.csr->offsets, view.second.csr->offsets);
    EXPECT_EQ(view.first.csr->edges, view.second.csr->edges);
  }
}

TEST(AdjacencyIndexTest, RefsAreKeptPerNode) {
  AdjacencyIndex index;
  index.AddNode(NodeKind::kKey, "key:a");
  index.AddNode(NodeKind::kBuilder, "builder:b");
  EXPECT_EQ(index.ref(0), "key:a");
  EXPECT_EQ(index.ref(1), "builder:b");
  EXPECT_EQ(index.kind(1), NodeKind::kBuilder);
}

}  // namespace
}  // namespace lineage::internal
