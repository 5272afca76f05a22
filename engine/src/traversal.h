// Node-unique breadth-first traversals over the adjacency index, run by
// Boost.Graph's breadth_first_visit on an IncidenceGraph adaptor.
#pragma once

#include <cstdint>
#include <memory>
#include <mutex>
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

}  // namespace lineage::internal
