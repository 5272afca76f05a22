#include "engine/src/traversal.h"

#include <boost/graph/breadth_first_search.hpp>
#include <boost/graph/graph_traits.hpp>
#include <boost/graph/two_bit_color_map.hpp>  // two_bit_color_type and its color_traits
#include <boost/iterator/iterator_facade.hpp>
#include <boost/property_map/property_map.hpp>

namespace lineage::internal {
namespace {

// Per-traversal state shared between the visitor (which learns depths) and
// the graph adaptor (which hides the out-edges of nodes that must not be
// expanded). Depth and limit are enforced by offering no edges rather than by
// throwing out of the algorithm.
struct TraversalState {
  uint8_t mask;
  int max_depth;   // -1: unlimited
  uint64_t limit;  // 0: unlimited
  bool expand_current = true;
  bool stopped = false;
};

struct IndexEdgeDesc {
  NodeId source;
  NodeId target;
  EdgeKind kind;

  bool operator==(const IndexEdgeDesc&) const = default;
};

// Walks one node's CSR row and then its delta list, skipping edges whose kind
// is not in the mask.
class OutEdgeIterator : public boost::iterator_facade<OutEdgeIterator, IndexEdgeDesc,
                                                      boost::forward_traversal_tag, IndexEdgeDesc> {
 public:
  OutEdgeIterator() = default;
  OutEdgeIterator(NodeId source, const uint32_t* pos, const uint32_t* end, const DeltaEdge* delta,
                  const DeltaEdge* delta_end, uint8_t mask)
      : source_(source), pos_(pos), end_(end), delta_(delta), delta_end_(delta_end), mask_(mask) {
    SkipFiltered();
  }

 private:
  friend class boost::iterator_core_access;

  bool Wanted(EdgeKind kind) const { return (mask_ >> static_cast<uint8_t>(kind)) & 1; }

  void SkipFiltered() {
    if (mask_ == EdgeKindMask::All().bits()) return;  // the common case: no kind is skipped
    while (pos_ != end_ && !Wanted(PackedKind(*pos_)))
      ++pos_;
    if (pos_ != end_) return;
    while (delta_ != delta_end_ && !Wanted(delta_->kind))
      ++delta_;
  }

  void increment() {
    if (pos_ != end_) {
      ++pos_;
    } else {
      ++delta_;
    }
    SkipFiltered();
  }

  bool equal(const OutEdgeIterator& other) const {
    return pos_ == other.pos_ && delta_ == other.delta_;
  }

  IndexEdgeDesc dereference() const {
    if (pos_ != end_) return {source_, PackedNode(*pos_), PackedKind(*pos_)};
    return {source_, delta_->other, delta_->kind};
  }

  NodeId source_ = 0;
  const uint32_t* pos_ = nullptr;
  const uint32_t* end_ = nullptr;
  const DeltaEdge* delta_ = nullptr;
  const DeltaEdge* delta_end_ = nullptr;
  uint8_t mask_ = 0;
};

// A read/write property map of two-bit colours over a borrowed byte buffer
// (boost::two_bit_color_map owns and zeroes its storage, which is what the
// pool avoids).
struct ScratchColorMap {
  uint8_t* data;
};

// The IncidenceGraph that Boost traverses: one direction of the index.
struct IndexGraph {
  DirectionView view;
  TraversalState* state;
};

}  // namespace
}  // namespace lineage::internal

namespace boost {

template <>
struct graph_traits<lineage::internal::IndexGraph> {
  using vertex_descriptor = lineage::internal::NodeId;
  using edge_descriptor = lineage::internal::IndexEdgeDesc;
  using out_edge_iterator = lineage::internal::OutEdgeIterator;
  using directed_category = directed_tag;
  using edge_parallel_category = disallow_parallel_edge_tag;
  using traversal_category = incidence_graph_tag;
  using degree_size_type = uint32_t;
  using vertices_size_type = uint32_t;
  using edges_size_type = uint64_t;
  static vertex_descriptor null_vertex() { return lineage::internal::kNoNode; }
};

template <>
struct property_traits<lineage::internal::ScratchColorMap> {
  using value_type = two_bit_color_type;
  using reference = two_bit_color_type;
  using key_type = lineage::internal::NodeId;
  using category = read_write_property_map_tag;
};

}  // namespace boost

namespace lineage::internal {
namespace {

boost::two_bit_color_type get(const ScratchColorMap& map, NodeId v) {
  return static_cast<boost::two_bit_color_type>((map.data[v >> 2] >> ((v & 3) * 2)) & 3);
}

void put(const ScratchColorMap& map, NodeId v, boost::two_bit_color_type color) {
  uint8_t& byte = map.data[v >> 2];
  int shift = (v & 3) * 2;
  byte = static_cast<uint8_t>((byte & ~(3 << shift)) | (static_cast<int>(color) << shift));
}

NodeId source(const IndexEdgeDesc& e, const IndexGraph&) {
  return e.source;
}
NodeId target(const IndexEdgeDesc& e, const IndexGraph&) {
  return e.target;
}

std::pair<OutEdgeIterator, OutEdgeIterator> out_edges(NodeId u, const IndexGraph& g) {
  const Csr& csr = *g.view.csr;
  const uint32_t* begin = nullptr;
  const uint32_t* end = nullptr;
  if (g.state->expand_current && u < csr.rows()) {
    begin = csr.edges.data() + csr.offsets[u];
    end = csr.edges.data() + csr.offsets[u + 1];
  }
  const DeltaEdge* delta = nullptr;
  const DeltaEdge* delta_end = nullptr;
  // The bitmap (n/8 bytes, cache-resident) spares the slot array lookup for
  // the nodes without recent edges, which is nearly all of them.
  if (g.state->expand_current && g.view.has_delta &&
      ((*g.view.delta_bits)[u >> 6] >> (u & 63)) & 1) {
    const std::vector<DeltaEdge>& list = (*g.view.delta_lists)[(*g.view.delta_slot)[u]];
    delta = list.data();
    delta_end = list.data() + list.size();
  }
  uint8_t mask = g.state->mask;
  return {OutEdgeIterator(u, begin, end, delta, delta_end, mask),
          OutEdgeIterator(u, end, end, delta_end, delta_end, mask)};
}

uint32_t out_degree(NodeId u, const IndexGraph& g) {
  auto [first, last] = out_edges(u, g);
  return static_cast<uint32_t>(std::distance(first, last));
}

// The BFS queue and the result in one. Nodes are appended in discovery order
// and the queue is a read cursor over them, so no separate queue is kept and
// a node's depth is found without a per-node depth array (which would cost a
// full-graph allocation per query): it is its parent's depth plus one, and
// the parent is the node popped last.
class VisitQueue {
 public:
  using value_type = NodeId;

  explicit VisitQueue(std::vector<Visit>* visits) : visits_(visits) {}

  void push(NodeId v) {
    uint32_t depth = head_ == 0 ? 0 : (*visits_)[head_ - 1].depth + 1;
    visits_->push_back({v, depth});
  }
  NodeId top() const { return (*visits_)[head_].node; }
  void pop() { ++head_; }
  bool empty() const { return head_ == visits_->size(); }

  // Depth of the node popped last.
  uint32_t current_depth() const { return (*visits_)[head_ - 1].depth; }
  size_t discovered() const { return visits_->size(); }

 private:
  std::vector<Visit>* visits_;
  size_t head_ = 0;
};

// Decides, for each node about to be expanded, whether its edges are offered
// (depth and limit), by way of the state the graph adaptor reads.
class LimitingVisitor : public boost::default_bfs_visitor {
 public:
  LimitingVisitor(const VisitQueue* queue, TraversalState* state) : queue_(queue), state_(state) {}

  void examine_vertex(NodeId, const IndexGraph&) {
    // One node beyond the limit (the root is in the queue too) proves the
    // result is truncated; expanding further would only waste time.
    if (state_->limit != 0 && queue_->discovered() > state_->limit + 1) state_->stopped = true;
    state_->expand_current =
        !state_->stopped && (state_->max_depth < 0 ||
                             queue_->current_depth() < static_cast<uint32_t>(state_->max_depth));
  }

 private:
  const VisitQueue* queue_;
  TraversalState* state_;
};

}  // namespace

std::unique_ptr<std::vector<uint8_t>> ColorPool::Take(size_t node_count) {
  std::unique_ptr<std::vector<uint8_t>> buffer;
  {
    std::lock_guard lock(mu_);
    if (!free_.empty()) {
      buffer = std::move(free_.back());
      free_.pop_back();
    }
  }
  if (buffer == nullptr) buffer = std::make_unique<std::vector<uint8_t>>();
  // Growth appends zeros, so the buffer stays all white.
  if (buffer->size() < (node_count + 3) / 4) buffer->resize((node_count + 3) / 4 + 1024, 0);
  return buffer;
}

void ColorPool::Return(std::unique_ptr<std::vector<uint8_t>> buffer) {
  std::lock_guard lock(mu_);
  free_.push_back(std::move(buffer));
}

VisitResult Traverse(const DirectionView& view, NodeId root, const TraversalOptions& options,
                     ColorPool* colors) {
  TraversalState state{options.edge_kinds.bits(), options.max_depth, options.limit};
  IndexGraph graph{view, &state};

  std::vector<Visit> visits;
  VisitQueue queue(&visits);
  LimitingVisitor visitor(&queue, &state);

  std::unique_ptr<std::vector<uint8_t>> buffer = colors->Take(view.node_count);
  ScratchColorMap color{buffer->data()};
  boost::breadth_first_visit(graph, root, queue, visitor, color);

  // Every node that was coloured is in `visits` (discovered nodes are pushed
  // as they turn grey), so clearing their bytes makes the buffer all white.
  for (const Visit& v : visits)
    (*buffer)[v.node >> 2] = 0;
  colors->Return(std::move(buffer));

  VisitResult result;
  if (options.limit != 0 && visits.size() - 1 > options.limit) {
    result.truncated = true;
    visits.resize(options.limit + 1);
  }
  visits.erase(visits.begin());
  result.nodes = std::move(visits);
  return result;
}

VisitResult TraverseMany(const DirectionView& view, std::span<const NodeId> roots,
                         const TraversalOptions& options, ColorPool* colors) {
  TraversalState state{options.edge_kinds.bits(), options.max_depth, /*limit=*/0};
  IndexGraph graph{view, &state};

  std::vector<Visit> visits;
  visits.reserve(roots.size());
  VisitQueue queue(&visits);
  LimitingVisitor visitor(&queue, &state);

  std::unique_ptr<std::vector<uint8_t>> buffer = colors->Take(view.node_count);
  ScratchColorMap color{buffer->data()};
  boost::breadth_first_visit(graph, roots.begin(), roots.end(), queue, visitor, color);

  for (const Visit& v : visits)
    (*buffer)[v.node >> 2] = 0;
  colors->Return(std::move(buffer));

  VisitResult result;
  result.nodes = std::move(visits);
  return result;
}

}  // namespace lineage::internal
