// Node-unique breadth-first traversals over the adjacency index, run by
// Boost.Graph's breadth_first_visit on an IncidenceGraph adaptor.
#pragma once

#include <cstdint>
#include <memory>
#include <mutex>
#include <span>
#include <vector>

#include "engine/include/lineage/store.h"
#include "engine/src/adjacency_index.h"

namespace lineage::internal {

struct Visit {
  NodeId node;
  uint32_t depth;
};

struct VisitResult {
  std::vector<Visit> nodes;  // BFS order, root excluded, at most options.limit
  bool truncated = false;    // more nodes were reachable than options.limit
};

// Colour buffers (two bits per node, all white between uses) kept for reuse:
// allocating and zeroing n/4 bytes per traversal (0.3 MB at a million nodes,
// fresh pages from mmap each time) cost more than a small traversal itself.
// A traversal resets only the entries it touched before returning its buffer.
// Thread safety: Take and Return may be called concurrently.
class ColorPool {
 public:
  // A buffer of at least (node_count + 3) / 4 zero bytes.
  std::unique_ptr<std::vector<uint8_t>> Take(size_t node_count);
  void Return(std::unique_ptr<std::vector<uint8_t>> buffer);

 private:
  std::mutex mu_;
  std::vector<std::unique_ptr<std::vector<uint8_t>>> free_;
};

// Visits everything reachable from `root` along `view` (forward: descendants,
// reverse: ancestors), following only options.edge_kinds, expanding no node
// at options.max_depth, and stopping once more than options.limit nodes were
// found. REQUIRES: root < view.node_count; the caller holds the index's shared
// lock for the whole call.
VisitResult Traverse(const DirectionView& view, NodeId root, const TraversalOptions& options,
                     ColorPool* colors);

// One breadth-first traversal from several roots at once, each at depth 0, so
// that a node reachable from many roots is visited once (a key's thousands of
// subjects share most of their descendants). Unlike Traverse, the result
// includes the roots. options.limit must be 0. REQUIRES: roots distinct, each
// < view.node_count; the caller holds the index's shared lock (or is its only
// writer).
VisitResult TraverseMany(const DirectionView& view, std::span<const NodeId> roots,
                         const TraversalOptions& options, ColorPool* colors);

// Calls fn(other_end, kind) for every edge of `node` in `view` whose kind is
// in `mask`: its CSR row, then its delta list.
template <typename Fn>
void ForEachEdge(const DirectionView& view, NodeId node, EdgeKindMask mask, Fn&& fn) {
  if (node < view.csr->rows()) {
    const uint32_t* begin = view.csr->edges.data() + view.csr->offsets[node];
    const uint32_t* end = view.csr->edges.data() + view.csr->offsets[node + 1];
    for (const uint32_t* e = begin; e != end; ++e) {
      if (mask.Contains(PackedKind(*e))) fn(PackedNode(*e), PackedKind(*e));
    }
  }
  if (view.has_delta && node < view.node_count &&
      (((*view.delta_bits)[node >> 6] >> (node & 63)) & 1)) {
    for (const DeltaEdge& d : (*view.delta_lists)[(*view.delta_slot)[node]]) {
      if (mask.Contains(d.kind)) fn(d.other, d.kind);
    }
  }
}

}  // namespace lineage::internal
