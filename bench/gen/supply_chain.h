// A deterministic synthetic software supply chain, the graph every scale
// benchmark and every peer comparison runs on.
//
// Generate(config) is a pure function of the config (seeded): the same
// config gives the same nodes, edges, attestations and workloads on every
// machine, so lineage and its peers (SQLite, PostgreSQL, the in-memory CSR
// reference) are measured on exactly the same graph. The distributions are
// documented in bench/README.md.
//
// Node ids are dense u32 indices into SupplyChain::refs. Edges point from
// an upstream node (material, signing key, builder, image) to the node that
// derives from it, with the engine's semantics (lineage/types.h EdgeKind):
// material -> subject ("derived"), key -> subject ("signed"), builder ->
// subject ("built"), image -> workload ("runs").
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "absl/time/time.h"

namespace lineage::bench {

struct ChainConfig {
  uint64_t artifacts = 1'000'000;  // artifact nodes (images, layers, libraries, commits)
  uint64_t seed = 1;
};

enum class NodeKind : uint8_t { kArtifact, kKey, kBuilder, kWorkload };
enum class EdgeKind : uint8_t { kDerived, kSigned, kBuilt, kRuns };

struct Edge {
  uint32_t from;  // upstream
  uint32_t to;    // downstream
  EdgeKind kind;
};

// One attestation per built artifact: what the engine ingests. Its edges
// are exactly the kDerived/kSigned/kBuilt edges into `subject`.
struct SyntheticAttestation {
  uint32_t subject;
  std::vector<uint32_t> materials;
  uint32_t key;      // NodeKind::kKey
  uint32_t builder;  // NodeKind::kBuilder
  absl::Time time;   // build time; builders and keys are active over windows
};

struct SyntheticWorkload {
  uint32_t workload;  // NodeKind::kWorkload, ref "workload:<cluster>/<ns>/Deployment/<name>"
  std::string cluster;
  uint32_t image;
};

// What an artifact node is in the synthetic chain (kNone for keys, builders
// and workloads). For kLayer and kFinalImage attestations, materials[0] is
// the parent image (the FROM); for kBaseImage it is the root OS image.
enum class ArtifactRole : uint8_t {
  kNone,
  kCommit,      // a git commit ("sha1:<40 hex>"); never a subject
  kOsImage,     // a root OS image, built from a distribution commit
  kBaseImage,   // FROM an OS image, e.g. a language runtime
  kLayer,       // an intermediate image of a chain (a build stage)
  kFinalImage,  // the last image of a chain: what workloads run
  kLibrary,     // a package in the library dependency DAG
};

struct SupplyChain {
  std::vector<std::string> refs;  // engine ref syntax: "sha256:<hex>", "key:sha256:<hex>", ...
  std::vector<NodeKind> kinds;
  std::vector<ArtifactRole> roles;  // per node, parallel to refs
  std::vector<Edge> edges;
  std::vector<SyntheticAttestation> attestations;
  std::vector<SyntheticWorkload> workloads;

  // The SLO scenarios' roots.
  uint32_t most_popular_base = 0;  // the root OS image upstream of the most artifacts
  uint32_t busiest_key = 0;        // the key that signs the most artifacts
  uint32_t busiest_builder = 0;    // the builder that built the most artifacts

  std::vector<uint32_t> os_images;     // every kOsImage node, most popular (Zipf rank 0) first
  std::vector<uint32_t> final_images;  // every kFinalImage node, in build order
};

// Generates the chain. Node ids are assigned in this order: keys, builders,
// artifacts (in build order, so every material has a smaller id than its
// subject and the graph is acyclic), workloads. Exactly config.artifacts
// artifact nodes are made (at least 16 are, whatever is asked). Attestation
// times increase with the subject's id over two years from 2025-01-01 UTC.
SupplyChain Generate(const ChainConfig& config);

// The number of nodes reachable downstream of each root along every edge
// kind, the root excluded (what a revocation of that root would taint,
// workloads included). Builds one adjacency array for all roots.
std::vector<uint64_t> ClosureSizes(const SupplyChain& chain, const std::vector<uint32_t>& roots);

}  // namespace lineage::bench
