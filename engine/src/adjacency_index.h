// The in-memory adjacency index: dense u32 node ids, CSR arrays in both
// directions with the edge kind of every edge, and a delta of recent writes.
//
// Node ids are the store's on-disk node ids, which are allocated densely from
// 0, so no translation table is needed. Each distinct (src, kind, dst) edge
// appears once, however many attestations asserted it.
//
// Thread safety: none of its own. The store guards it with a shared mutex:
// const methods under a shared lock, mutators under the exclusive lock. The
// one exception is PrepareMerge(), a const method that the single writer runs
// without the exclusive lock so that readers keep going during a merge.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <tuple>
#include <utility>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "absl/container/flat_hash_set.h"
#include "engine/include/lineage/types.h"

namespace lineage::internal {

using NodeId = uint32_t;
inline constexpr NodeId kNoNode = UINT32_MAX;

// A CSR entry packs the edge kind into the top 3 bits of the 32-bit target:
// a traversal then reads one array per row instead of two (a separate kinds
// array cost a second cache miss per visited node), and sorting packed
// entries sorts a row by (kind, target).
inline constexpr int kKindShift = 29;
inline constexpr uint32_t kNodeMask = (uint32_t{1} << kKindShift) - 1;
// Limitation: the index addresses at most 2^29 - 1 (536 million) nodes; the
// store refuses to create more (ResourceExhausted).
inline constexpr uint64_t kMaxNodes = kNodeMask;

inline uint32_t PackEdge(EdgeKind kind, NodeId node) {
  return (uint32_t{static_cast<uint8_t>(kind)} << kKindShift) | node;
}
inline NodeId PackedNode(uint32_t packed) {
  return packed & kNodeMask;
}
inline EdgeKind PackedKind(uint32_t packed) {
  return static_cast<EdgeKind>(packed >> kKindShift);
}

// One direction of the graph in compressed sparse row form: the edges of node
// u are [offsets[u], offsets[u + 1]) in `edges` (PackEdge form), each row
// sorted. Nodes added after the CSR was built have no row (their edges are
// all in the delta).
struct Csr {
  std::vector<uint32_t> offsets = {0};
  std::vector<uint32_t> edges;

  size_t rows() const { return offsets.size() - 1; }
};

// An edge as held in the delta: the node at the other end and the kind.
struct DeltaEdge {
  NodeId other;
  EdgeKind kind;
};

// A read-only view of one direction (CSR plus delta), as traversals use it.
struct DirectionView {
  const Csr* csr;
  bool has_delta;                           // false: the delta is empty
  const std::vector<uint64_t>* delta_bits;  // bit u set: node u has delta edges
  const std::vector<uint32_t>* delta_slot;  // node -> index in delta_lists, or kNoNode
  const std::vector<std::vector<DeltaEdge>>* delta_lists;
  size_t node_count;
};

// The result of PrepareMerge(), installed by InstallMerge().
struct MergedCsr {
  Csr forward;
  Csr reverse;
};

// Builds the forward CSR from edges given in (src, kind, dst) order, apart
// from any AdjacencyIndex: the store scans the edge records on a thread of
// its own while the nodes load, and installs the result with InstallBulk().
// Offsets grow as the source advances and stop at the last row with an
// edge, so nothing is sized from `node_count` alone (a damaged node counter
// does not make a scan that is going to fail allocate for it).
class CsrBuilder {
 public:
  // `node_count`: every endpoint must be below it. `edge_hint`: edges to
  // reserve room for; only a hint.
  CsrBuilder(size_t node_count, size_t edge_hint);

  // Repeats of the previous edge are ignored (several attestations asserting
  // it). Returns false if an endpoint is out of range or the order is
  // violated: the caller reports DataLoss.
  bool Add(NodeId src, EdgeKind kind, NodeId dst);
  uint64_t edge_count() const { return csr_.edges.size(); }
  // The CSR up to the last row with an edge (at most node_count rows).
  Csr Finish() &&;

 private:
  size_t node_count_;
  Csr csr_;
  NodeId last_src_ = 0;
  NodeId last_dst_ = kNoNode;  // kNoNode: no edge yet
  EdgeKind last_kind_ = EdgeKind::kDerived;
};

class AdjacencyIndex {
 public:
  // `min_merge_edges`: the delta is merged into the CSR once it holds at least
  // this many edges and at least a sixteenth as many as the CSR.
  explicit AdjacencyIndex(uint64_t min_merge_edges = 8192)
      : by_ref_(0, RefHash{this}, RefEq{this}), min_merge_edges_(min_merge_edges) {}
  AdjacencyIndex(const AdjacencyIndex&) = delete;
  AdjacencyIndex& operator=(const AdjacencyIndex&) = delete;

  // Appends a node; its id is the previous node_count(). REQUIRES:
  // node_count() < kMaxNodes.
  NodeId AddNode(NodeKind kind, std::string_view ref);
  // Bulk loading on open: AddNode without the ref set, which IndexRefs()
  // then fills for every node appended so, prefetching ahead (one insert
  // at a time is a cache miss or two each; at ten million nodes that was a
  // sixth of the open). Find() does not see appended nodes until then.
  NodeId AppendNode(NodeKind kind, std::string_view ref);
  void IndexRefs();
  // Room for `nodes` more nodes with `ref_bytes` bytes of refs, so that a
  // bulk load neither rehashes the ref set nor regrows the arrays. Hints.
  void ReserveNodes(size_t nodes, size_t ref_bytes);

  // Records `alias` as another name of `node`. REQUIRES: the alias names no
  // node yet.
  void AddAlias(std::string_view alias, NodeId node) { aliases_.emplace(alias, node); }

  // The node whose canonical ref or alias is `ref`, or kNoNode.
  NodeId Find(std::string_view ref) const;

  // Bulk loading on open. REQUIRES: every node already added, no other edge
  // added yet, and calls in (src, kind, dst) order; repeats of the previous
  // edge are ignored (several attestations asserting it). Returns false if an
  // endpoint is out of range or the order is violated: the caller reports
  // DataLoss.
  bool BulkAddEdge(NodeId src, EdgeKind kind, NodeId dst);
  // Builds the reverse CSR after the last BulkAddEdge.
  void FinishBulk();
  // The same as BulkAddEdge calls and FinishBulk, for a CSR built apart
  // (rows missing at the end are empty). REQUIRES: no edge added yet;
  // forward.rows() <= node_count().
  void InstallBulk(Csr forward);

  // Adds a distinct edge to the delta. Returns false (and changes nothing) if
  // the edge is already present. REQUIRES: both ends < node_count().
  bool AddEdge(NodeId src, EdgeKind kind, NodeId dst);
  bool HasEdge(NodeId src, EdgeKind kind, NodeId dst) const;

  // True when the delta has grown enough that merging it into the CSR pays.
  bool ShouldMerge() const;
  // Builds CSR arrays holding CSR + delta. Const: may run under a shared lock
  // as long as no mutator runs concurrently.
  MergedCsr PrepareMerge() const;
  // Replaces the CSR with `merged` and clears the delta. REQUIRES: no edge
  // added since the PrepareMerge() that produced it.
  void InstallMerge(MergedCsr merged);

  size_t node_count() const { return node_kinds_.size(); }
  NodeKind kind(NodeId id) const { return node_kinds_[id]; }
  // Every key node, in id order: Store::KeyUsage walks these instead of
  // every node's kind (keys are a few per thousand nodes).
  const std::vector<NodeId>& key_nodes() const { return key_nodes_; }
  std::string_view ref(NodeId id) const {
    return std::string_view(ref_bytes_)
        .substr(ref_offsets_[id], ref_offsets_[id + 1] - ref_offsets_[id]);
  }
  uint64_t edge_count() const { return forward_.edges.size() + delta_edges_; }
  uint64_t delta_edge_count() const { return delta_edges_; }

  DirectionView forward() const {
    return {&forward_,        delta_edges_ != 0, &delta_out_bits_,
            &delta_out_slot_, &delta_out_,       node_count()};
  }
  DirectionView reverse() const {
    return {&reverse_,       delta_edges_ != 0, &delta_in_bits_,
            &delta_in_slot_, &delta_in_,        node_count()};
  }

  // Every distinct edge as (src, kind, dst), sorted; for tests.
  std::vector<std::tuple<NodeId, EdgeKind, NodeId>> AllEdges() const;
  // Approximate heap bytes held, for the open log line.
  uint64_t MemoryBytes() const;

 private:
  static void AppendDelta(std::vector<uint64_t>* bits, std::vector<uint32_t>* slots,
                          std::vector<std::vector<DeltaEdge>>* lists, NodeId near, NodeId far,
                          EdgeKind kind);
  static Csr BuildReverse(const Csr& forward, size_t node_count);

  // Hash and equality of node ids by their ref text, so that the ref -> id
  // map stores 4-byte ids and no second copy of the refs.
  struct RefHash {
    using is_transparent = void;
    const AdjacencyIndex* index;
    size_t operator()(std::string_view ref) const { return std::hash<std::string_view>()(ref); }
    size_t operator()(NodeId id) const { return (*this)(index->ref(id)); }
  };
  struct RefEq {
    using is_transparent = void;
    const AdjacencyIndex* index;
    std::string_view Text(std::string_view ref) const { return ref; }
    std::string_view Text(NodeId id) const { return index->ref(id); }
    template <typename A, typename B>
    bool operator()(const A& a, const B& b) const {
      return Text(a) == Text(b);
    }
  };

  std::vector<NodeKind> node_kinds_;
  std::vector<NodeId> key_nodes_;            // the ids whose kind is kKey, ascending
  std::string ref_bytes_;                    // every node's canonical ref, back to back
  std::vector<uint64_t> ref_offsets_ = {0};  // node_count() + 1 entries
  absl::flat_hash_set<NodeId, RefHash, RefEq> by_ref_;
  NodeId indexed_ = 0;  // nodes [0, indexed_) are in by_ref_
  absl::flat_hash_map<std::string, NodeId> aliases_;

  Csr forward_;
  Csr reverse_;

  // The delta: per-node lists for nodes that gained edges since the last
  // merge. The slot arrays make "does u have delta edges" one array read, so
  // a traversal over a large closure pays no hash lookups.
  std::vector<uint64_t> delta_out_bits_;
  std::vector<uint64_t> delta_in_bits_;
  std::vector<uint32_t> delta_out_slot_;
  std::vector<uint32_t> delta_in_slot_;
  std::vector<std::vector<DeltaEdge>> delta_out_;
  std::vector<std::vector<DeltaEdge>> delta_in_;
  absl::flat_hash_set<std::pair<uint64_t, uint8_t>> delta_set_;  // (src << 32 | dst, kind)
  uint64_t delta_edges_ = 0;
  uint64_t min_merge_edges_;

  // Bulk-load state between the first BulkAddEdge and FinishBulk.
  std::optional<CsrBuilder> bulk_;
};

}  // namespace lineage::internal
