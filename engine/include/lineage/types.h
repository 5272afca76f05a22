// Node and edge kinds of the lineage graph, and their names.
//
// The graph has four node kinds and four edge kinds:
//
//   artifact --derived--> artifact     (material -> subject)
//   key      --signed---> artifact     (signer -> subject)
//   builder  --built----> artifact     (builder -> subject)
//   artifact --runs-----> workload     (image -> running workload)
//
// The numeric values are part of the on-disk format (docs/storage.md): never
// renumber them.
#pragma once

#include <cstdint>
#include <optional>
#include <string_view>

namespace lineage {

enum class NodeKind : uint8_t {
  kArtifact = 1,
  kKey = 2,
  kBuilder = 3,
  kWorkload = 4,
};

enum class EdgeKind : uint8_t {
  kDerived = 1,
  kSigned = 2,
  kBuilt = 3,
  kRuns = 4,
};

inline constexpr int kNodeKindCount = 4;
inline constexpr int kEdgeKindCount = 4;

// Lower-case names as used in refs, CLI flags and JSON: "artifact", "key",
// "builder", "workload" and "derived", "signed", "built", "runs".
std::string_view NodeKindName(NodeKind kind);
std::string_view EdgeKindName(EdgeKind kind);
std::optional<NodeKind> ParseNodeKind(std::string_view name);
std::optional<EdgeKind> ParseEdgeKind(std::string_view name);

// A set of edge kinds, used to restrict traversals. Bit (1 << kind).
class EdgeKindMask {
 public:
  constexpr EdgeKindMask() = default;
  static constexpr EdgeKindMask All() { return EdgeKindMask(0x1e); }
  static constexpr EdgeKindMask Of(EdgeKind kind) {
    return EdgeKindMask(uint8_t{1} << static_cast<uint8_t>(kind));
  }

  constexpr EdgeKindMask& Add(EdgeKind kind) {
    bits_ |= uint8_t{1} << static_cast<uint8_t>(kind);
    return *this;
  }
  constexpr bool Contains(EdgeKind kind) const { return (bits_ >> static_cast<uint8_t>(kind)) & 1; }
  constexpr bool empty() const { return bits_ == 0; }
  constexpr uint8_t bits() const { return bits_; }

 private:
  constexpr explicit EdgeKindMask(uint8_t bits) : bits_(bits) {}
  uint8_t bits_ = 0;
};

}  // namespace lineage
