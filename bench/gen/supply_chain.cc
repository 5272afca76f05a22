#include "bench/gen/supply_chain.h"

#include <algorithm>
#include <array>
#include <cmath>
#include <cstring>
#include <utility>

#include "fmt/format.h"

namespace lineage::bench {
namespace {

// The generator's own PRNG and distributions (xoshiro256**, seeded through
// splitmix64) rather than <random>'s: the standard distributions are not
// specified bit for bit, and the graph must be the same on every machine.
uint64_t SplitMix64(uint64_t& state) {
  uint64_t z = (state += 0x9e3779b97f4a7c15ull);
  z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
  z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
  return z ^ (z >> 31);
}

class Rng {
 public:
  explicit Rng(uint64_t seed) {
    for (uint64_t& word : s_)
      word = SplitMix64(seed);
  }

  uint64_t Next() {
    const uint64_t result = Rotl(s_[1] * 5, 7) * 9;
    const uint64_t t = s_[1] << 17;
    s_[2] ^= s_[0];
    s_[3] ^= s_[1];
    s_[1] ^= s_[2];
    s_[0] ^= s_[3];
    s_[2] ^= t;
    s_[3] = Rotl(s_[3], 45);
    return result;
  }

  // Uniform in [0, n), n > 0 (Lemire's multiply; the tiny bias is irrelevant here).
  uint64_t Below(uint64_t n) { return static_cast<uint64_t>((__uint128_t{Next()} * n) >> 64); }

  // Uniform in [0, 1).
  double Unit() { return static_cast<double>(Next() >> 11) * 0x1.0p-53; }

  bool Chance(double p) { return Unit() < p; }

  // Failures before the first success, capped.
  uint32_t Geometric(double success, uint32_t cap) {
    uint32_t n = 0;
    while (n < cap && !Chance(success))
      ++n;
    return n;
  }

 private:
  static uint64_t Rotl(uint64_t x, int k) { return (x << k) | (x >> (64 - k)); }
  std::array<uint64_t, 4> s_;
};

// Samples rank r of [0, n) with probability proportional to 1 / (r + 1)^s.
class Zipf {
 public:
  Zipf() = default;
  Zipf(uint64_t n, double s) { Reset(n, s); }

  void Reset(uint64_t n, double s) {
    cdf_.resize(n);
    double total = 0;
    for (uint64_t r = 0; r < n; ++r)
      cdf_[r] = total += std::pow(static_cast<double>(r + 1), -s);
  }

  uint32_t Sample(Rng& rng) const {
    const double u = rng.Unit() * cdf_.back();
    return static_cast<uint32_t>(std::upper_bound(cdf_.begin(), cdf_.end(), u) - cdf_.begin());
  }

 private:
  std::vector<double> cdf_;
};

// Signers or builders with Zipf popularity that are each active over a window
// of epochs (weeks): a few (the hosted builders, the release keys) all the
// time, the others for a few weeks to a year. Sampling at an epoch draws from
// the members active then, weighted by their global popularity.
class WindowedPopularity {
 public:
  WindowedPopularity(uint32_t members, uint32_t always_on, uint32_t epochs, double s, Rng& rng)
      : epochs_(epochs) {
    std::vector<std::pair<uint32_t, uint32_t>> windows(members);
    for (uint32_t m = 0; m < members; ++m) {
      if (m < always_on) {
        windows[m] = {0, epochs};
        continue;
      }
      const uint32_t start = static_cast<uint32_t>(rng.Below(epochs));
      const uint32_t length = 4 + static_cast<uint32_t>(rng.Below(48));
      windows[m] = {start, std::min(epochs, start + length)};
    }
    active_.resize(epochs);
    cdf_.resize(epochs);
    for (uint32_t m = 0; m < members; ++m) {
      const double weight = std::pow(static_cast<double>(m + 1), -s);
      for (uint32_t e = windows[m].first; e < windows[m].second; ++e) {
        active_[e].push_back(m);
        cdf_[e].push_back((cdf_[e].empty() ? 0.0 : cdf_[e].back()) + weight);
      }
    }
  }

  uint32_t Sample(uint32_t epoch, Rng& rng) const {
    const std::vector<double>& cdf = cdf_[std::min(epoch, epochs_ - 1)];
    const double u = rng.Unit() * cdf.back();
    const size_t i = std::upper_bound(cdf.begin(), cdf.end(), u) - cdf.begin();
    return active_[std::min(epoch, epochs_ - 1)][std::min(i, cdf.size() - 1)];
  }

 private:
  uint32_t epochs_;
  std::vector<std::vector<uint32_t>> active_;  // per epoch, member ids by rank
  std::vector<std::vector<double>> cdf_;       // per epoch, cumulative weights
};

// A digest-like hex string that is a pure function of (seed, salt, index).
void AppendHex(std::string& out, uint64_t seed, uint64_t salt, uint64_t index, size_t hex_chars) {
  static constexpr char kHex[] = "0123456789abcdef";
  uint64_t state = seed ^ (salt * 0xd1b54a32d192ed03ull) ^ (index * 0x9e3779b97f4a7c15ull);
  const size_t start = out.size();
  out.resize(start + hex_chars);
  for (size_t i = 0; i < hex_chars; i += 16) {
    uint64_t word = SplitMix64(state);
    for (size_t j = 0; j < 16 && i + j < hex_chars; ++j, word >>= 4) {
      out[start + i + j] = kHex[word & 15];
    }
  }
}

constexpr uint32_t kEpochs = 104;                               // two years of weeks
constexpr int64_t kStartUnixSeconds = 1735689600;               // 2025-01-01T00:00:00Z
constexpr int64_t kSpanSeconds = int64_t{kEpochs} * 7 * 86400;  // the build times' range
constexpr std::array<const char*, 4> kClusters = {"prod-us-east", "prod-eu-west", "staging",
                                                  "edge"};

class Generator {
 public:
  explicit Generator(const ChainConfig& config)
      : config_(config),
        n_(std::max<uint64_t>(config.artifacts, 16)),
        rng_(config.seed),
        keys_(static_cast<uint32_t>(std::max<uint64_t>(8, n_ / 200))),
        builders_(static_cast<uint32_t>(std::max<uint64_t>(8, n_ / 500))),
        key_popularity_(keys_, 3, kEpochs, 1.3, rng_),
        builder_popularity_(builders_, 4, kEpochs, 1.1, rng_) {}

  SupplyChain Run() {
    Reserve();
    MakeKeysAndBuilders();
    MakeOsAndBaseImages();
    while (made_ < n_) {
      const uint64_t left = n_ - made_;
      if (left < 2) {
        NewCommit();
      } else if (rng_.Chance(0.55) || !MakeChain(left)) {
        MakeLibrary();
      }
    }
    MakeWorkloads();
    PickSloRoots();
    return std::move(out_);
  }

 private:
  void Reserve() {
    const size_t nodes = n_ + keys_ + builders_ + n_ / 10;
    out_.refs.reserve(nodes);
    out_.kinds.reserve(nodes);
    out_.roles.reserve(nodes);
    out_.edges.reserve(n_ * 27 / 10);
    out_.attestations.reserve(n_ * 6 / 10);
    parent_depth_.reserve(n_ + keys_ + builders_);
  }

  uint32_t AddNode(NodeKind kind, ArtifactRole role, std::string ref) {
    const uint32_t id = static_cast<uint32_t>(out_.refs.size());
    out_.refs.push_back(std::move(ref));
    out_.kinds.push_back(kind);
    out_.roles.push_back(role);
    parent_depth_.push_back(0);
    return id;
  }

  void MakeKeysAndBuilders() {
    for (uint32_t k = 0; k < keys_; ++k) {
      std::string ref = "key:sha256:";
      AppendHex(ref, config_.seed, 1, k, 64);
      AddNode(NodeKind::kKey, ArtifactRole::kNone, std::move(ref));
    }
    first_builder_ = keys_;
    for (uint32_t b = 0; b < builders_; ++b) {
      AddNode(NodeKind::kBuilder, ArtifactRole::kNone,
              fmt::format("builder:https://ci.example/builders/{}/v1", b));
    }
  }

  uint32_t NewArtifact(ArtifactRole role) {
    std::string ref;
    ref.reserve(71);
    if (role == ArtifactRole::kCommit) {
      ref = "sha1:";
      AppendHex(ref, config_.seed, 2, made_, 40);
    } else {
      ref = "sha256:";
      AppendHex(ref, config_.seed, 3, made_, 64);
    }
    ++made_;
    return AddNode(NodeKind::kArtifact, role, std::move(ref));
  }

  uint32_t NewCommit() { return NewArtifact(ArtifactRole::kCommit); }

  // The source commit of a build: usually (70%) one a recent build used too
  // (a monorepo or a multi-image repository builds several things from one
  // commit), which keeps commits a small share of the artifacts.
  uint32_t SourceCommit() {
    constexpr size_t kRecent = 256;
    if (recent_commits_.size() == kRecent && rng_.Chance(0.7)) {
      return recent_commits_[rng_.Below(kRecent)];
    }
    const uint32_t commit = NewCommit();
    if (recent_commits_.size() < kRecent) {
      recent_commits_.push_back(commit);
    } else {
      recent_commits_[next_commit_++ % kRecent] = commit;
    }
    return commit;
  }

  // The epoch and time of the artifact just made, from its place in the
  // build order: materials are always built before their subjects.
  uint32_t Epoch() const { return static_cast<uint32_t>((made_ - 1) * kEpochs / n_); }

  void Attest(uint32_t subject, std::vector<uint32_t> materials) {
    SyntheticAttestation a;
    a.subject = subject;
    a.materials = std::move(materials);
    a.key = key_popularity_.Sample(Epoch(), rng_);
    a.builder = first_builder_ + builder_popularity_.Sample(Epoch(), rng_);
    a.time = absl::FromUnixSeconds(kStartUnixSeconds) +
             absl::Seconds(static_cast<int64_t>((made_ - 1) * kSpanSeconds / n_));
    for (uint32_t m : a.materials)
      out_.edges.push_back({m, subject, EdgeKind::kDerived});
    out_.edges.push_back({a.key, subject, EdgeKind::kSigned});
    out_.edges.push_back({a.builder, subject, EdgeKind::kBuilt});
    out_.attestations.push_back(std::move(a));
  }

  static void AddUnique(std::vector<uint32_t>& materials, uint32_t id) {
    if (std::find(materials.begin(), materials.end(), id) == materials.end()) {
      materials.push_back(id);
    }
  }

  // Root OS images (Zipf popularity among the base images FROM them) and the
  // base images (Zipf popularity among the chains and library toolchains).
  void MakeOsAndBaseImages() {
    const uint64_t os_count = std::clamp<uint64_t>(n_ / 50'000, 3, 200);
    const uint64_t base_count = std::clamp<uint64_t>(n_ / 1'000, os_count, 20'000);
    for (uint64_t i = 0; i < os_count; ++i) {
      const uint32_t commit = NewCommit();
      const uint32_t os = NewArtifact(ArtifactRole::kOsImage);
      Attest(os, {commit});
      out_.os_images.push_back(os);
    }
    Zipf os_zipf(os_count, 1.5);
    os_fan_out_.assign(os_count, 0);
    for (uint64_t i = 0; i < base_count && made_ + 2 <= n_ / 4; ++i) {
      const uint32_t commit = NewCommit();
      const uint32_t base = NewArtifact(ArtifactRole::kBaseImage);
      // The first base image is FROM the most popular OS image, so the
      // toolchain the earliest libraries (the future hubs) are built in
      // descends from it.
      const uint32_t rank = i == 0 ? 0 : os_zipf.Sample(rng_);
      ++os_fan_out_[rank];
      Attest(base, {out_.os_images[rank], commit});
      parent_depth_[base] = 1;
      bases_.push_back(base);
    }
    base_zipf_.Reset(bases_.size(), 1.0);
  }

  uint32_t PickLibrary() { return library_pool_[rng_.Below(library_pool_.size())]; }

  // A library: its source commit, usually a toolchain image, and dependencies
  // chosen by preferential attachment (a library is picked in proportion to
  // 1 + the times it was picked before), so a few become hubs.
  void MakeLibrary() {
    const uint32_t commit = SourceCommit();
    const uint32_t lib = NewArtifact(ArtifactRole::kLibrary);
    std::vector<uint32_t> materials = {commit};
    if (!bases_.empty() && rng_.Chance(0.9)) materials.push_back(bases_[base_zipf_.Sample(rng_)]);
    if (!library_pool_.empty()) {
      const uint32_t deps = rng_.Geometric(0.4, 8);
      for (uint32_t d = 0; d < deps; ++d) {
        const uint32_t dep = PickLibrary();
        AddUnique(materials, dep);
        library_pool_.push_back(dep);
      }
    }
    Attest(lib, std::move(materials));
    library_pool_.push_back(lib);
  }

  // One layered image chain of depth 3..12 (hops from its OS image): FROM a
  // base image, or forked from an intermediate layer of a recent chain (a
  // shared build stage). Returns false, making nothing, when fewer artifacts
  // are left than the chain needs.
  bool MakeChain(uint64_t left) {
    if (bases_.empty()) return false;
    uint32_t depth = 3;
    for (int i = 0; i < 9; ++i)
      depth += rng_.Chance(0.3);

    uint32_t parent = bases_[base_zipf_.Sample(rng_)];
    if (!recent_layers_.empty() && rng_.Chance(0.35)) {
      for (int attempt = 0; attempt < 4; ++attempt) {
        const uint32_t candidate = recent_layers_[rng_.Below(recent_layers_.size())];
        if (parent_depth_[candidate] < depth) {
          parent = candidate;
          break;
        }
      }
    }
    const uint32_t from_depth = parent_depth_[parent];
    if (left < depth - from_depth + 1) return false;

    const uint32_t commit = SourceCommit();
    for (uint32_t d = from_depth + 1; d <= depth; ++d) {
      const bool final = d == depth;
      const uint32_t layer = NewArtifact(final ? ArtifactRole::kFinalImage : ArtifactRole::kLayer);
      std::vector<uint32_t> materials = {parent};
      if (d == from_depth + 1 || final) materials.push_back(commit);
      if (!library_pool_.empty()) {
        const uint32_t libs = final ? 1 + static_cast<uint32_t>(rng_.Below(2)) : rng_.Chance(0.2);
        for (uint32_t i = 0; i < libs; ++i)
          AddUnique(materials, PickLibrary());
      }
      // COPY --from a sibling build stage: a diamond with a shared base.
      if (final && !recent_layers_.empty() && rng_.Chance(0.25)) {
        AddUnique(materials, recent_layers_[rng_.Below(recent_layers_.size())]);
      }
      Attest(layer, std::move(materials));
      parent_depth_[layer] = d;
      if (final) {
        out_.final_images.push_back(layer);
      } else {
        RememberLayer(layer);
      }
      parent = layer;
    }
    return true;
  }

  void RememberLayer(uint32_t layer) {
    constexpr size_t kRecent = 4096;
    if (recent_layers_.size() < kRecent) {
      recent_layers_.push_back(layer);
    } else {
      recent_layers_[next_recent_++ % kRecent] = layer;
    }
  }

  // About half of the final images run, each as one to a few deployments
  // spread over the clusters.
  void MakeWorkloads() {
    for (size_t f = 0; f < out_.final_images.size(); ++f) {
      if (!rng_.Chance(0.5)) continue;
      const uint32_t image = out_.final_images[f];
      const uint32_t replicas = 1 + rng_.Geometric(0.7, 3);
      for (uint32_t r = 0; r < replicas; ++r) {
        const char* cluster = kClusters[rng_.Below(kClusters.size())];
        const uint32_t ns = static_cast<uint32_t>(rng_.Below(48));
        const uint32_t workload =
            AddNode(NodeKind::kWorkload, ArtifactRole::kNone,
                    fmt::format("workload:{}/team-{}/Deployment/svc-{}-{}", cluster, ns, f, r));
        out_.workloads.push_back({workload, cluster, image});
        out_.edges.push_back({image, workload, EdgeKind::kRuns});
      }
    }
  }

  void PickSloRoots() {
    std::vector<uint64_t> signed_by(keys_), built_by(builders_);
    for (const SyntheticAttestation& a : out_.attestations) {
      ++signed_by[a.key];
      ++built_by[a.builder - first_builder_];
    }
    out_.busiest_key = static_cast<uint32_t>(std::max_element(signed_by.begin(), signed_by.end()) -
                                             signed_by.begin());
    out_.busiest_builder =
        first_builder_ + static_cast<uint32_t>(std::max_element(built_by.begin(), built_by.end()) -
                                               built_by.begin());

    // The closure of every OS image is a traversal of most of the graph, so
    // only the three with the most base images FROM them are measured.
    std::vector<std::pair<uint64_t, uint32_t>> by_fan_out;
    for (size_t i = 0; i < out_.os_images.size(); ++i) {
      by_fan_out.push_back({os_fan_out_[i], out_.os_images[i]});
    }
    std::stable_sort(by_fan_out.begin(), by_fan_out.end(),
                     [](const auto& a, const auto& b) { return a.first > b.first; });
    std::vector<uint32_t> candidates;
    for (size_t i = 0; i < by_fan_out.size() && i < 3; ++i) {
      candidates.push_back(by_fan_out[i].second);
    }
    const std::vector<uint64_t> sizes = ClosureSizes(out_, candidates);
    out_.most_popular_base =
        candidates[std::max_element(sizes.begin(), sizes.end()) - sizes.begin()];
  }

  const ChainConfig config_;
  const uint64_t n_;
  Rng rng_;
  const uint32_t keys_;
  const uint32_t builders_;
  WindowedPopularity key_popularity_;
  WindowedPopularity builder_popularity_;
  uint32_t first_builder_ = 0;
  uint64_t made_ = 0;  // artifacts made so far

  SupplyChain out_;
  std::vector<uint8_t> parent_depth_;  // per node: image depth below its OS image
  std::vector<uint32_t> bases_;
  std::vector<uint64_t> os_fan_out_;  // per OS image rank: base images FROM it
  Zipf base_zipf_;
  std::vector<uint32_t> library_pool_;
  std::vector<uint32_t> recent_layers_;
  size_t next_recent_ = 0;
  std::vector<uint32_t> recent_commits_;
  size_t next_commit_ = 0;
};

}  // namespace

std::vector<uint64_t> ClosureSizes(const SupplyChain& chain, const std::vector<uint32_t>& roots) {
  const size_t nodes = chain.refs.size();
  std::vector<uint32_t> offsets(nodes + 1, 0);
  for (const Edge& e : chain.edges)
    ++offsets[e.from + 1];
  for (size_t i = 0; i < nodes; ++i)
    offsets[i + 1] += offsets[i];
  std::vector<uint32_t> targets(chain.edges.size());
  std::vector<uint32_t> fill(offsets.begin(), offsets.end() - 1);
  for (const Edge& e : chain.edges)
    targets[fill[e.from]++] = e.to;

  std::vector<uint64_t> sizes;
  std::vector<uint32_t> seen(nodes, 0);
  std::vector<uint32_t> frontier;
  uint32_t mark = 0;
  for (uint32_t root : roots) {
    ++mark;
    seen[root] = mark;
    frontier.assign(1, root);
    uint64_t count = 0;
    for (size_t head = 0; head < frontier.size(); ++head) {
      const uint32_t node = frontier[head];
      for (uint32_t i = offsets[node]; i < offsets[node + 1]; ++i) {
        if (seen[targets[i]] != mark) {
          seen[targets[i]] = mark;
          frontier.push_back(targets[i]);
          ++count;
        }
      }
    }
    sizes.push_back(count);
  }
  return sizes;
}

SupplyChain Generate(const ChainConfig& config) {
  return Generator(config).Run();
}

}  // namespace lineage::bench
