// The physical-limit reference of the peer comparison: a breadth-first
// search over compressed sparse row arrays with dense u32 node ids, entirely
// in memory. Nothing is durable and no ref string is ever touched, so no
// store can beat it; lineage and the SQL peers are reported as ratios of it.
//
// Thread safety: a built CsrGraph is immutable; Count/List/Mark may run
// concurrently (each call allocates its own visited bitmap).
#pragma once

#include <cstdint>
#include <span>
#include <vector>

#include "absl/time/time.h"
#include "bench/gen/supply_chain.h"

namespace lineage::bench {

class CsrGraph {
 public:
  // Out-edges of every node of `chain` whose kind is in `kinds` (bit 1 <<
  // EdgeKind). Duplicate (from, to) pairs are kept: BFS is node-unique, so
  // they only cost a visit.
  static CsrGraph Build(const SupplyChain& chain, uint32_t kinds);

  // Nodes reachable from `root`, the root excluded (as Store::CountDescendants).
  uint64_t Count(uint32_t root) const;
  // The same nodes, in BFS order.
  std::vector<uint32_t> List(uint32_t root) const;
  // Sets marks[n] = 1 for `root` and every node reachable from it: the
  // reference "mark non-promotable" (in memory, not durable). Returns how
  // many were newly marked. REQUIRES: marks.size() == nodes().
  uint64_t Mark(uint32_t root, std::span<uint8_t> marks) const;
  // Every node reachable from any of `roots`, the roots included, sorted.
  std::vector<uint32_t> Closure(std::span<const uint32_t> roots) const;

  uint32_t nodes() const { return static_cast<uint32_t>(offsets_.size() - 1); }
  uint64_t edges() const { return targets_.size(); }
  // Bytes held by the arrays (offsets and targets).
  uint64_t bytes() const;

 private:
  std::vector<uint64_t> offsets_;  // nodes() + 1 entries
  std::vector<uint32_t> targets_;
};

inline constexpr uint32_t EdgeKindBit(EdgeKind kind) {
  return uint32_t{1} << static_cast<uint32_t>(kind);
}
inline constexpr uint32_t kAllEdgeKinds =
    EdgeKindBit(EdgeKind::kDerived) | EdgeKindBit(EdgeKind::kSigned) |
    EdgeKindBit(EdgeKind::kBuilt) | EdgeKindBit(EdgeKind::kRuns);

// The artifacts a revocation of `root` covers, computed independently of the
// engine from the generator's own graph (docs/revocation.md semantics): for
// an artifact root, the root and its derived descendants; for a key or
// builder root, every subject of an attestation it signed / built with
// time in [since, until), plus their derived descendants. Sorted node ids.
// `derived` must be CsrGraph::Build(chain, EdgeKindBit(kDerived)).
std::vector<uint32_t> RevocationClosure(const SupplyChain& chain, const CsrGraph& derived,
                                        uint32_t root, absl::Time since = absl::InfinitePast(),
                                        absl::Time until = absl::InfiniteFuture());

}  // namespace lineage::bench
