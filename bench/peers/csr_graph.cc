#include "bench/peers/csr_graph.h"

#include <algorithm>

namespace lineage::bench {

CsrGraph CsrGraph::Build(const SupplyChain& chain, uint32_t kinds) {
  CsrGraph g;
  const size_t n = chain.refs.size();
  g.offsets_.assign(n + 1, 0);
  for (const Edge& e : chain.edges)
    if (kinds & EdgeKindBit(e.kind)) g.offsets_[e.from + 1]++;
  for (size_t i = 0; i < n; ++i)
    g.offsets_[i + 1] += g.offsets_[i];
  g.targets_.resize(g.offsets_[n]);
  std::vector<uint64_t> next(g.offsets_.begin(), g.offsets_.end() - 1);
  for (const Edge& e : chain.edges)
    if (kinds & EdgeKindBit(e.kind)) g.targets_[next[e.from]++] = e.to;
  return g;
}

uint64_t CsrGraph::bytes() const {
  return offsets_.size() * sizeof(uint64_t) + targets_.size() * sizeof(uint32_t);
}

namespace {

// One BFS; `visit` sees every reached node once, the root excluded. A
// bitmap (n/8 bytes) rather than a byte per node keeps the visited set in
// cache for as long as possible.
template <typename Visit>
void Bfs(const std::vector<uint64_t>& offsets, const std::vector<uint32_t>& targets,
         std::span<const uint32_t> roots, Visit visit) {
  const size_t n = offsets.size() - 1;
  std::vector<uint64_t> seen((n + 63) / 64, 0);
  std::vector<uint32_t> queue;
  queue.reserve(1024);
  for (uint32_t r : roots) {
    if (seen[r >> 6] & (uint64_t{1} << (r & 63))) continue;
    seen[r >> 6] |= uint64_t{1} << (r & 63);
    queue.push_back(r);
  }
  for (size_t head = 0; head < queue.size(); ++head) {
    uint32_t u = queue[head];
    for (uint64_t i = offsets[u]; i < offsets[u + 1]; ++i) {
      uint32_t v = targets[i];
      uint64_t bit = uint64_t{1} << (v & 63);
      if (seen[v >> 6] & bit) continue;
      seen[v >> 6] |= bit;
      queue.push_back(v);
      visit(v);
    }
  }
}

}  // namespace

uint64_t CsrGraph::Count(uint32_t root) const {
  uint64_t count = 0;
  Bfs(offsets_, targets_, std::span(&root, 1), [&](uint32_t) { count++; });
  return count;
}

std::vector<uint32_t> CsrGraph::List(uint32_t root) const {
  std::vector<uint32_t> out;
  Bfs(offsets_, targets_, std::span(&root, 1), [&](uint32_t v) { out.push_back(v); });
  return out;
}

uint64_t CsrGraph::Mark(uint32_t root, std::span<uint8_t> marks) const {
  uint64_t newly = marks[root] ? 0 : 1;
  marks[root] = 1;
  Bfs(offsets_, targets_, std::span(&root, 1), [&](uint32_t v) {
    newly += marks[v] ? 0 : 1;
    marks[v] = 1;
  });
  return newly;
}

std::vector<uint32_t> CsrGraph::Closure(std::span<const uint32_t> roots) const {
  std::vector<uint32_t> out(roots.begin(), roots.end());
  std::sort(out.begin(), out.end());
  out.erase(std::unique(out.begin(), out.end()), out.end());
  Bfs(offsets_, targets_, roots, [&](uint32_t v) { out.push_back(v); });
  std::sort(out.begin(), out.end());
  return out;
}

std::vector<uint32_t> RevocationClosure(const SupplyChain& chain, const CsrGraph& derived,
                                        uint32_t root, absl::Time since, absl::Time until) {
  if (chain.kinds[root] == NodeKind::kArtifact) return derived.Closure(std::span(&root, 1));
  std::vector<uint32_t> subjects;
  for (const SyntheticAttestation& a : chain.attestations) {
    bool by_root = chain.kinds[root] == NodeKind::kKey ? a.key == root : a.builder == root;
    if (by_root && a.time >= since && a.time < until) subjects.push_back(a.subject);
  }
  return derived.Closure(subjects);
}

}  // namespace lineage::bench
