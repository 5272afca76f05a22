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
  NodeId id = static_cast<NodeId>(node_kinds_.size());
  node_kinds_.push_back(kind);
  ref_bytes_.append(ref);
  ref_offsets_.push_back(ref_bytes_.size());
  by_ref_.insert(id);
  delta_out_slot_.push_back(kNoNode);
  delta_in_slot_.push_back(kNoNode);
  if (id % 64 == 0) {
    delta_out_bits_.push_back(0);
    delta_in_bits_.push_back(0);
  }
  return id;
}

NodeId AdjacencyIndex::Find(std::string_view ref) const {
  if (auto it = by_ref_.find(ref); it != by_ref_.end()) return *it;
  if (aliases_.empty()) return kNoNode;
  auto it = aliases_.find(std::string(ref));
  return it == aliases_.end() ? kNoNode : it->second;
}

bool AdjacencyIndex::BulkAddEdge(NodeId src, EdgeKind kind, NodeId dst) {
  if (src >= node_count() || dst >= node_count()) return false;
  if (bulk_counts_.empty()) bulk_counts_.assign(node_count() + 1, 0);

  // The scan yields one key per assertion, so the same edge arrives once per
  // attestation that asserted it, consecutively.
  if (bulk_last_dst_ != kNoNode) {
    if (src < bulk_src_) return false;
    if (src == bulk_src_) {
      if (kind == bulk_last_kind_ && dst == bulk_last_dst_) return true;
      if (RowLess(kind, dst, bulk_last_kind_, bulk_last_dst_)) return false;
    }
  }
  bulk_src_ = src;
  bulk_last_kind_ = kind;
  bulk_last_dst_ = dst;
  bulk_counts_[src + 1]++;
  forward_.edges.push_back(PackEdge(kind, dst));
  return true;
}

void AdjacencyIndex::FinishBulk() {
  if (bulk_counts_.empty()) bulk_counts_.assign(node_count() + 1, 0);
  for (size_t i = 1; i < bulk_counts_.size(); ++i)
    bulk_counts_[i] += bulk_counts_[i - 1];
  forward_.offsets = std::move(bulk_counts_);
  bulk_counts_ = {};
  reverse_ = BuildReverse(forward_, node_count());
  bulk_last_dst_ = kNoNode;
  // Appending doubled these on the way; at a million nodes the slack in the
  // ref arena alone is tens of megabytes.
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
    std::sort(reverse.edges.begin() + reverse.offsets[v],
              reverse.edges.begin() + reverse.offsets[v + 1]);
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
  return node_kinds_.capacity() + ref_bytes_.capacity() + ref_offsets_.capacity() * 8 + lookup +
         csr_bytes(forward_) + csr_bytes(reverse_) + delta_out_slot_.capacity() * 8 + delta;
}

}  // namespace lineage::internal
