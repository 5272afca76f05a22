#include "engine/src/adjacency_index.h"

#include <algorithm>
#include <iterator>

namespace lineage::internal {
namespace {

bool RowLess(EdgeKind ka, NodeId a, EdgeKind kb, NodeId b) {
  return ka != kb ? ka < kb : a < b;
}

}  // namespace

NodeId AdjacencyIndex::AddNode(NodeKind kind, std::string_view ref) {
  IndexRefs();
  NodeId id = AppendNode(kind, ref);
  by_ref_.insert(id);
  indexed_ = id + 1;
  return id;
}

void AdjacencyIndex::IndexRefs() {
  // Far enough ahead that the probes of several inserts overlap.
  constexpr NodeId kAhead = 8;
  const NodeId n = static_cast<NodeId>(node_count());
  for (NodeId id = indexed_; id < n; ++id) {
    if (id + kAhead < n) by_ref_.prefetch(id + kAhead);
    by_ref_.insert(id);
  }
  indexed_ = n;
}

NodeId AdjacencyIndex::AppendNode(NodeKind kind, std::string_view ref) {
  NodeId id = static_cast<NodeId>(node_kinds_.size());
  node_kinds_.push_back(kind);
  if (kind == NodeKind::kKey) key_nodes_.push_back(id);
  ref_bytes_.append(ref);
  ref_offsets_.push_back(ref_bytes_.size());
  delta_out_slot_.push_back(kNoNode);
  delta_in_slot_.push_back(kNoNode);
  if (id % 64 == 0) {
    delta_out_bits_.push_back(0);
    delta_in_bits_.push_back(0);
  }
  return id;
}

NodeId AdjacencyIndex::Find(std::string_view ref) const {
  // Appended nodes not yet indexed are invisible here (see AppendNode).
  if (auto it = by_ref_.find(ref); it != by_ref_.end()) return *it;
  if (aliases_.empty()) return kNoNode;
  auto it = aliases_.find(std::string(ref));
  return it == aliases_.end() ? kNoNode : it->second;
}

CsrBuilder::CsrBuilder(size_t node_count, size_t edge_hint) : node_count_(node_count) {
  csr_.edges.reserve(edge_hint);
}

bool CsrBuilder::Add(NodeId src, EdgeKind kind, NodeId dst) {
  if (src >= node_count_ || dst >= node_count_) return false;
  // The scan yields one key per assertion, so the same edge arrives once per
  // attestation that asserted it, consecutively.
  if (last_dst_ != kNoNode) {
    if (src < last_src_) return false;
    if (src == last_src_) {
      if (kind == last_kind_ && dst == last_dst_) return true;
      if (RowLess(kind, dst, last_kind_, last_dst_)) return false;
    }
  }
  // Close the rows before src: offsets[u + 1] is the end of row u.
  while (csr_.offsets.size() <= src)
    csr_.offsets.push_back(static_cast<uint32_t>(csr_.edges.size()));
  last_src_ = src;
  last_kind_ = kind;
  last_dst_ = dst;
  csr_.edges.push_back(PackEdge(kind, dst));
  return true;
}

Csr CsrBuilder::Finish() && {
  // Close the last row; InstallBulk adds the empty rows after it, once the
  // node count is known to be true.
  if (last_dst_ != kNoNode) csr_.offsets.push_back(static_cast<uint32_t>(csr_.edges.size()));
  // The reservation was a hint from the stored counters; give back slack
  // only when it is worth the copy.
  if (csr_.edges.capacity() > csr_.edges.size() + csr_.edges.size() / 16)
    csr_.edges.shrink_to_fit();
  return std::move(csr_);
}

void AdjacencyIndex::ReserveNodes(size_t nodes, size_t ref_bytes) {
  size_t total = node_count() + nodes;
  node_kinds_.reserve(total);
  ref_bytes_.reserve(ref_bytes_.size() + ref_bytes);
  ref_offsets_.reserve(total + 1);
  by_ref_.reserve(total);
  delta_out_slot_.reserve(total);
  delta_in_slot_.reserve(total);
  delta_out_bits_.reserve(total / 64 + 1);
  delta_in_bits_.reserve(total / 64 + 1);
}

bool AdjacencyIndex::BulkAddEdge(NodeId src, EdgeKind kind, NodeId dst) {
  if (!bulk_) bulk_.emplace(node_count(), 0);
  return bulk_->Add(src, kind, dst);
}

void AdjacencyIndex::FinishBulk() {
  if (!bulk_) bulk_.emplace(node_count(), 0);
  Csr forward = std::move(*bulk_).Finish();
  bulk_.reset();
  InstallBulk(std::move(forward));
}

void AdjacencyIndex::InstallBulk(Csr forward) {
  forward_ = std::move(forward);
  forward_.offsets.reserve(node_count() + 1);
  while (forward_.offsets.size() <= node_count())
    forward_.offsets.push_back(static_cast<uint32_t>(forward_.edges.size()));
  reverse_ = BuildReverse(forward_, node_count());
  // Appending doubled these on the way; at a million nodes the slack in the
  // ref arena alone is tens of megabytes. (A reserved arena is shrunk only
  // when its slack is worth the copy.)
  if (ref_bytes_.capacity() > ref_bytes_.size() + ref_bytes_.size() / 16)
    ref_bytes_.shrink_to_fit();
  ref_offsets_.shrink_to_fit();
  node_kinds_.shrink_to_fit();
}

bool AdjacencyIndex::HasEdge(NodeId src, EdgeKind kind, NodeId dst) const {
  if (src < forward_.rows()) {
    auto begin = forward_.edges.begin() + forward_.offsets[src];
    auto end = forward_.edges.begin() + forward_.offsets[src + 1];
    if (std::binary_search(begin, end, PackEdge(kind, dst))) return true;
  }
  if (delta_edges_ == 0) return false;
  return delta_set_.contains(
      std::make_pair((uint64_t{src} << 32) | dst, static_cast<uint8_t>(kind)));
}

void AdjacencyIndex::AppendDelta(std::vector<uint64_t>* bits, std::vector<uint32_t>* slots,
                                 std::vector<std::vector<DeltaEdge>>* lists, NodeId near,
                                 NodeId far, EdgeKind kind) {
  uint32_t& slot = (*slots)[near];
  if (slot == kNoNode) {
    slot = static_cast<uint32_t>(lists->size());
    lists->emplace_back();
    (*bits)[near >> 6] |= uint64_t{1} << (near & 63);
  }
  (*lists)[slot].push_back(DeltaEdge{far, kind});
}

bool AdjacencyIndex::AddEdge(NodeId src, EdgeKind kind, NodeId dst) {
  if (HasEdge(src, kind, dst)) return false;
  delta_set_.insert(std::make_pair((uint64_t{src} << 32) | dst, static_cast<uint8_t>(kind)));
  AppendDelta(&delta_out_bits_, &delta_out_slot_, &delta_out_, src, dst, kind);
  AppendDelta(&delta_in_bits_, &delta_in_slot_, &delta_in_, dst, src, kind);
  delta_edges_++;
  return true;
}

bool AdjacencyIndex::ShouldMerge() const {
  // A sixteenth keeps the delta (whose lists cost a cache miss or two per
  // node a traversal crosses) small, while merges stay amortised O(1) per
  // edge: each merge copies at most 17 times the edges added since the last.
  return delta_edges_ >= std::max<uint64_t>(min_merge_edges_, forward_.edges.size() / 16);
}

Csr AdjacencyIndex::BuildReverse(const Csr& forward, size_t node_count) {
  // Counting sort by target: the reverse row of v lists its sources in
  // ascending order, the same whether built on open or by a merge, so a
  // reopened store traverses in exactly the order the running one did.
  Csr reverse;
  reverse.offsets.assign(node_count + 1, 0);
  for (uint32_t packed : forward.edges)
    reverse.offsets[PackedNode(packed) + 1]++;
  for (size_t i = 1; i <= node_count; ++i)
    reverse.offsets[i] += reverse.offsets[i - 1];
  reverse.edges.resize(forward.edges.size());
  std::vector<uint32_t> cursor(reverse.offsets.begin(), reverse.offsets.end() - 1);
  for (NodeId src = 0; src < forward.rows(); ++src) {
    for (uint32_t e = forward.offsets[src]; e < forward.offsets[src + 1]; ++e) {
      uint32_t packed = forward.edges[e];
      reverse.edges[cursor[PackedNode(packed)]++] = PackEdge(PackedKind(packed), src);
    }
  }
  // Rows come out in source order; sort each by (kind, source) like the
  // forward rows.
  for (size_t v = 0; v < node_count; ++v) {
    auto begin = reverse.edges.begin() + reverse.offsets[v];
    auto end = reverse.edges.begin() + reverse.offsets[v + 1];
    if (end - begin > 1 && !std::is_sorted(begin, end)) std::sort(begin, end);
  }
  return reverse;
}

MergedCsr AdjacencyIndex::PrepareMerge() const {
  MergedCsr merged;
  Csr& out = merged.forward;
  size_t n = node_count();
  out.offsets.reserve(n + 1);
  out.edges.reserve(edge_count());

  std::vector<uint32_t> row;
  for (NodeId u = 0; u < n; ++u) {
    row.clear();
    if (delta_out_slot_[u] != kNoNode) {
      for (const DeltaEdge& d : delta_out_[delta_out_slot_[u]])
        row.push_back(PackEdge(d.kind, d.other));
      std::sort(row.begin(), row.end());
    }
    auto csr_begin = forward_.edges.begin() + (u < forward_.rows() ? forward_.offsets[u] : 0);
    auto csr_end = forward_.edges.begin() + (u < forward_.rows() ? forward_.offsets[u + 1] : 0);
    // Both inputs are sorted and disjoint (AddEdge refuses duplicates), so a
    // plain merge keeps the row sorted and unique.
    std::merge(csr_begin, csr_end, row.begin(), row.end(), std::back_inserter(out.edges));
    out.offsets.push_back(static_cast<uint32_t>(out.edges.size()));
  }
  merged.reverse = BuildReverse(out, n);
  return merged;
}

void AdjacencyIndex::InstallMerge(MergedCsr merged) {
  forward_ = std::move(merged.forward);
  reverse_ = std::move(merged.reverse);
  std::fill(delta_out_slot_.begin(), delta_out_slot_.end(), kNoNode);
  std::fill(delta_in_slot_.begin(), delta_in_slot_.end(), kNoNode);
  std::fill(delta_out_bits_.begin(), delta_out_bits_.end(), 0);
  std::fill(delta_in_bits_.begin(), delta_in_bits_.end(), 0);
  delta_out_.clear();
  delta_in_.clear();
  delta_set_.clear();
  delta_edges_ = 0;
}

std::vector<std::tuple<NodeId, EdgeKind, NodeId>> AdjacencyIndex::AllEdges() const {
  std::vector<std::tuple<NodeId, EdgeKind, NodeId>> edges;
  for (NodeId u = 0; u < forward_.rows(); ++u) {
    for (uint32_t e = forward_.offsets[u]; e < forward_.offsets[u + 1]; ++e)
      edges.emplace_back(u, PackedKind(forward_.edges[e]), PackedNode(forward_.edges[e]));
  }
  for (NodeId u = 0; u < node_count(); ++u) {
    if (delta_out_slot_[u] == kNoNode) continue;
    for (const DeltaEdge& d : delta_out_[delta_out_slot_[u]])
      edges.emplace_back(u, d.kind, d.other);
  }
  std::sort(edges.begin(), edges.end());
  return edges;
}

uint64_t AdjacencyIndex::MemoryBytes() const {
  auto csr_bytes = [](const Csr& c) {
    return (c.offsets.capacity() + c.edges.capacity()) * sizeof(uint32_t);
  };
  uint64_t delta = delta_edges_ * 2 * sizeof(DeltaEdge) + delta_set_.capacity() * 24;
  uint64_t lookup = by_ref_.capacity() * (sizeof(NodeId) + 1) + aliases_.capacity() * 48;
  return node_kinds_.capacity() + key_nodes_.capacity() * sizeof(NodeId) + ref_bytes_.capacity() +
         ref_offsets_.capacity() * 8 + lookup + csr_bytes(forward_) + csr_bytes(reverse_) +
         delta_out_slot_.capacity() * 8 + delta;
}

}  // namespace lineage::internal
