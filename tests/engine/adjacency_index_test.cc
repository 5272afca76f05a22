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

TEST(AdjacencyIndexTest, CsrBuiltApartHasARowPerNodeAndInstallsLikeBulkEdges) {
  // Rows 0, 2 and 4 of 6 have edges; 1, 3 and 5 (the last) are empty.
  CsrBuilder builder(/*node_count=*/6, /*edge_hint=*/1);
  EXPECT_TRUE(builder.Add(0, EdgeKind::kDerived, 5));
  EXPECT_TRUE(builder.Add(0, EdgeKind::kDerived, 5));  // second attestation
  EXPECT_TRUE(builder.Add(2, EdgeKind::kDerived, 1));
  EXPECT_TRUE(builder.Add(2, EdgeKind::kSigned, 0));
  EXPECT_FALSE(builder.Add(2, EdgeKind::kDerived, 3));  // kind order violated
  EXPECT_FALSE(builder.Add(4, EdgeKind::kDerived, 6));  // out of range
  EXPECT_FALSE(builder.Add(6, EdgeKind::kDerived, 0));  // out of range
  EXPECT_TRUE(builder.Add(4, EdgeKind::kDerived, 2));
  EXPECT_FALSE(builder.Add(3, EdgeKind::kDerived, 2));  // src order violated
  EXPECT_EQ(builder.edge_count(), 4u);
  Csr forward = std::move(builder).Finish();
  // Rows up to the last one with an edge; InstallBulk adds the rest.
  EXPECT_EQ(forward.offsets, (std::vector<uint32_t>{0, 1, 1, 3, 3, 4}));

  AdjacencyIndex apart;
  AddNodes(&apart, 6);
  apart.InstallBulk(std::move(forward));
  AdjacencyIndex bulk;
  AddNodes(&bulk, 6);
  for (auto [a, kind, b] :
       {std::make_tuple(0, EdgeKind::kDerived, 5), std::make_tuple(2, EdgeKind::kDerived, 1),
        std::make_tuple(2, EdgeKind::kSigned, 0), std::make_tuple(4, EdgeKind::kDerived, 2)})
    ASSERT_TRUE(bulk.BulkAddEdge(a, kind, b));
  bulk.FinishBulk();
  EXPECT_EQ(apart.AllEdges(), bulk.AllEdges());
  EXPECT_EQ(apart.reverse().csr->offsets, bulk.reverse().csr->offsets);
  EXPECT_EQ(apart.reverse().csr->edges, bulk.reverse().csr->edges);
  EXPECT_EQ(apart.forward().csr->offsets, (std::vector<uint32_t>{0, 1, 1, 3, 3, 4, 4}));
  EXPECT_EQ(apart.reverse().csr->offsets, (std::vector<uint32_t>{0, 1, 2, 3, 3, 3, 4}));
}

TEST(AdjacencyIndexTest, ReservedNodesAreFoundByRef) {
  AdjacencyIndex index;
  index.ReserveNodes(1000, 64 * 1000);
  AddNodes(&index, 10);
  index.FinishBulk();
  for (int i = 0; i < 10; ++i)
    EXPECT_EQ(index.Find(fmt::format("sha256:{:064x}", i + 1)), static_cast<NodeId>(i));
  EXPECT_EQ(index.Find("sha256:nope"), kNoNode);
}

TEST(AdjacencyIndexTest, AppendedNodesAreFoundOnceIndexed) {
  AdjacencyIndex index;
  const int n = 1000;  // well past the prefetch distance
  for (int i = 0; i < n; ++i)
    index.AppendNode(NodeKind::kArtifact, fmt::format("sha256:{:064x}", i + 1));
  EXPECT_EQ(index.Find(fmt::format("sha256:{:064x}", 1)), kNoNode);
  index.IndexRefs();
  for (int i = 0; i < n; ++i)
    ASSERT_EQ(index.Find(fmt::format("sha256:{:064x}", i + 1)), static_cast<NodeId>(i));
  // AddNode indexes whatever was appended before it.
  index.AppendNode(NodeKind::kKey, "key:a");
  EXPECT_EQ(index.AddNode(NodeKind::kKey, "key:b"), static_cast<NodeId>(n + 1));
  EXPECT_EQ(index.Find("key:a"), static_cast<NodeId>(n));
  EXPECT_EQ(index.Find("key:b"), static_cast<NodeId>(n + 1));
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
