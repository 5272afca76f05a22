#include "engine/include/lineage/types.h"

namespace lineage {

std::string_view NodeKindName(NodeKind kind) {
  switch (kind) {
    case NodeKind::kArtifact:
      return "artifact";
    case NodeKind::kKey:
      return "key";
    case NodeKind::kBuilder:
      return "builder";
    case NodeKind::kWorkload:
      return "workload";
  }
  return "unknown";
}

std::string_view EdgeKindName(EdgeKind kind) {
  switch (kind) {
    case EdgeKind::kDerived:
      return "derived";
    case EdgeKind::kSigned:
      return "signed";
    case EdgeKind::kBuilt:
      return "built";
    case EdgeKind::kRuns:
      return "runs";
  }
  return "unknown";
}

std::optional<NodeKind> ParseNodeKind(std::string_view name) {
  for (int i = 1; i <= kNodeKindCount; ++i) {
    auto kind = static_cast<NodeKind>(i);
    if (NodeKindName(kind) == name) return kind;
  }
  return std::nullopt;
}

std::optional<EdgeKind> ParseEdgeKind(std::string_view name) {
  for (int i = 1; i <= kEdgeKindCount; ++i) {
    auto kind = static_cast<EdgeKind>(i);
    if (EdgeKindName(kind) == name) return kind;
  }
  return std::nullopt;
}

}  // namespace lineage
