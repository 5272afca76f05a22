// Traversal and ingest micro-benchmarks of the store, against a plain
// in-memory CSR BFS on the same graph measured in the same run.
//
// The synthetic supply-chain graph (seeded, generated in-process and loaded
// through Store::BulkLoad) has, for N artifacts: N/20 keys and N/20
// builders (1.1 N nodes); every artifact but the first derives from one
// material in a window of recent artifacts and, with probability 0.4, from a
// second (diamonds); 30% are signed by a key and 30% built by a builder
// (about 2 N edges). Artifact 0 is the base everything descends from: its
// closure is the largest. Small closures are roots with 1..1000 descendants.
//
// Sizes: LINEAGE_BENCH_SIZES (comma-separated artifact counts, default
// "100000"). The DESIGN.md scale is 1000000:
//   LINEAGE_BENCH_SIZES=1000000 lineage_bench --benchmark_filter='Descendants|Csr'
#include <sys/resource.h>

#include <algorithm>
#include <chrono>
#include <cstdlib>
#include <filesystem>
#include <map>
#include <memory>
#include <random>
#include <string>
#include <vector>

#include <benchmark/benchmark.h>
#include <fmt/format.h>

#include "engine/include/lineage/store.h"

namespace lineage {
namespace {

uint64_t SplitMix(uint64_t x) {
  x += 0x9e3779b97f4a7c15ull;
  x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9ull;
  x = (x ^ (x >> 27)) * 0x94d049bb133111ebull;
  return x ^ (x >> 31);
}

// Random-looking (so keys spread like real digests) but reproducible.
std::string ArtifactRef(uint64_t i) {
  return fmt::format("sha256:{:016x}{:016x}{:016x}{:016x}", SplitMix(4 * i), SplitMix(4 * i + 1),
                     SplitMix(4 * i + 2), SplitMix(4 * i + 3));
}
std::string KeyRef(uint64_t k) {
  return fmt::format("key:sha256:{:016x}{:016x}{:016x}{:016x}", SplitMix(~(4 * k)),
                     SplitMix(~(4 * k + 1)), SplitMix(~(4 * k + 2)), SplitMix(~(4 * k + 3)));
}
std::string BuilderId(uint64_t b) {
  return fmt::format("https://builders.example/b{}", b);
}

uint64_t PeakRssMiB() {
  rusage usage{};
  getrusage(RUSAGE_SELF, &usage);
  return static_cast<uint64_t>(usage.ru_maxrss) / 1024;
}

// The graph as plain arrays: the reference the store is compared against.
struct ReferenceCsr {
  std::vector<uint32_t> offsets;
  std::vector<uint32_t> targets;

  uint64_t CountFrom(uint32_t root, std::vector<uint32_t>* seen, uint32_t stamp,
                     std::vector<uint32_t>* queue) const {
    queue->clear();
    queue->push_back(root);
    (*seen)[root] = stamp;
    for (size_t head = 0; head < queue->size(); ++head) {
      uint32_t u = (*queue)[head];
      for (uint32_t e = offsets[u]; e < offsets[u + 1]; ++e) {
        uint32_t v = targets[e];
        if ((*seen)[v] != stamp) {
          (*seen)[v] = stamp;
          queue->push_back(v);
        }
      }
    }
    return queue->size() - 1;
  }
};

// One loaded graph of a given size, shared by every benchmark of that size.
struct Graph {
  std::filesystem::path dir;
  std::unique_ptr<Store> store;
  ReferenceCsr csr;
  uint32_t largest_root = 0;          // node index of artifact 0
  std::vector<uint64_t> small_roots;  // artifact numbers with 1..1000 descendants
  uint64_t edges = 0;
  double load_seconds = 0;
  uint64_t rss_after_load_mib = 0;

  ~Graph() {
    store.reset();
    std::error_code ec;
    std::filesystem::remove_all(dir, ec);
  }
};

std::filesystem::path MakeTempDir(const char* tag) {
  std::string pattern =
      (std::filesystem::temp_directory_path() / fmt::format("lineage-bench-{}-XXXXXX", tag))
          .string();
  if (mkdtemp(pattern.data()) == nullptr) std::abort();
  return pattern;
}

StoreOptions BenchOptions() {
  StoreOptions options;
  // LINEAGE_BENCH_LOG=1 shows the store's milestones (index rebuild times).
  options.logger =
      std::getenv("LINEAGE_BENCH_LOG") != nullptr ? NewStderrLogger() : NewNullLogger();
  if (const char* m = std::getenv("LINEAGE_BENCH_MERGE_MIN"))
    options.index_merge_min_edges = std::atoll(m);
  return options;
}

// Generates and loads the graph. Node numbering for the reference CSR:
// artifacts 0..N-1, keys N.., builders N+N/20...
std::unique_ptr<Graph> BuildGraph(uint64_t n) {
  auto g = std::make_unique<Graph>();
  g->dir = MakeTempDir("traversal");
  absl::StatusOr<std::unique_ptr<Store>> store =
      Store::Open((g->dir / "db").string(), BenchOptions());
  if (!store.ok()) std::abort();
  g->store = *std::move(store);

  const uint64_t keys = std::max<uint64_t>(1, n / 20), builders = std::max<uint64_t>(1, n / 20);
  const uint64_t window = std::max<uint64_t>(1000, n / 10);
  const uint64_t nodes = n + keys + builders;
  std::vector<std::pair<uint32_t, uint32_t>> edges;
  edges.reserve(2 * n + 16);
  std::mt19937_64 rng(42);

  auto start = std::chrono::steady_clock::now();
  std::vector<AttestationRecord> batch;
  for (uint64_t i = 0; i < n; ++i) {
    AttestationRecord r;
    r.id = fmt::format("{:016x}{:016x}", SplitMix(i ^ 0x5555), i);
    r.format = "dsse";
    r.predicate_type = "https://slsa.dev/provenance/v1";
    r.time = absl::FromUnixSeconds(1700000000 + static_cast<int64_t>(i));
    r.subjects.push_back({{ArtifactRef(i)}, ""});
    if (i > 0) {
      uint64_t lo = i > window ? i - window : 0;
      uint64_t p1 = lo + rng() % (i - lo);
      r.materials.push_back({{ArtifactRef(p1)}, ""});
      edges.emplace_back(p1, i);
      if (rng() % 10 < 4) {
        uint64_t p2 = rng() % i;
        if (p2 != p1) {
          r.materials.push_back({{ArtifactRef(p2)}, ""});
          edges.emplace_back(p2, i);
        }
      }
    }
    if (rng() % 10 < 3) {
      uint64_t k = rng() % keys;
      r.signers.push_back({KeyRef(k), "", "ecdsa-p256-sha256"});
      edges.emplace_back(n + k, i);
    } else {
      r.unsigned_ = true;
    }
    if (rng() % 10 < 3) {
      uint64_t b = rng() % builders;
      r.builder_id = BuilderId(b);
      edges.emplace_back(n + keys + b, i);
    }
    batch.push_back(std::move(r));
  }
  // One Store::BulkLoad (sorted SST files) rather than IngestBatch calls:
  // the same database, built faster (bench/RESULTS.md).
  if (!g->store->BulkLoad(batch).ok()) std::abort();
  batch = {};
  g->load_seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  g->rss_after_load_mib = PeakRssMiB();

  std::sort(edges.begin(), edges.end());
  edges.erase(std::unique(edges.begin(), edges.end()), edges.end());
  g->edges = edges.size();
  g->csr.offsets.assign(nodes + 1, 0);
  for (auto [src, dst] : edges)
    g->csr.offsets[src + 1]++;
  for (size_t i = 1; i <= nodes; ++i)
    g->csr.offsets[i] += g->csr.offsets[i - 1];
  g->csr.targets.reserve(edges.size());
  for (auto [src, dst] : edges)
    g->csr.targets.push_back(dst);

  // Small closures: roots with 50..1000 descendants, sampled from the newest
  // artifacts (older ones mostly reach most of the graph). If the graph has
  // too few, roots with 1..49 descendants make up the set.
  std::vector<uint32_t> seen(nodes, 0), queue;
  std::vector<uint64_t> tiny;
  uint32_t stamp = 0;
  for (int tries = 0; tries < 200000 && g->small_roots.size() < 200; ++tries) {
    uint64_t i = n - 1 - rng() % std::min<uint64_t>(n, 3 * window);
    uint64_t size = g->csr.CountFrom(static_cast<uint32_t>(i), &seen, ++stamp, &queue);
    if (size >= 50 && size <= 1000) g->small_roots.push_back(i);
    if (size >= 1 && size < 50 && tiny.size() < 200) tiny.push_back(i);
  }
  for (size_t i = 0; g->small_roots.size() < 200 && i < tiny.size(); ++i)
    g->small_roots.push_back(tiny[i]);
  return g;
}

// Heap-allocated and emptied by an atexit handler registered after the first
// database opened: RocksDB creates function-local statics on open, and a store
// closed after their destruction (by a plain static map) crashes at exit.
std::map<uint64_t, std::unique_ptr<Graph>>* graphs = nullptr;

void DestroyGraphs() {
  delete graphs;
  graphs = nullptr;
}

Graph& GetGraph(uint64_t n) {
  if (graphs == nullptr) graphs = new std::map<uint64_t, std::unique_ptr<Graph>>;
  std::unique_ptr<Graph>& g = (*graphs)[n];
  if (!g) {
    g = BuildGraph(n);
    static const bool registered = (std::atexit(DestroyGraphs), true);
    (void)registered;
  }
  return *g;
}

void ReportGraph(benchmark::State& state, const Graph& g) {
  state.counters["load_s"] = g.load_seconds;
  state.counters["bulk_edges_per_s"] = static_cast<double>(g.edges) / g.load_seconds;
  state.counters["peak_rss_MiB"] = static_cast<double>(PeakRssMiB());
}

// Latency percentiles over per-iteration timings.
void ReportPercentiles(benchmark::State& state, std::vector<double>* micros) {
  if (micros->empty()) return;
  std::sort(micros->begin(), micros->end());
  state.counters["p50_us"] = (*micros)[micros->size() / 2];
  state.counters["p99_us"] = (*micros)[std::min(micros->size() - 1, micros->size() * 99 / 100)];
}

void BM_Descendants_Largest(benchmark::State& state) {
  Graph& g = GetGraph(state.range(0));
  uint64_t nodes = 0;
  for (auto _ : state) {
    absl::StatusOr<TraversalResult> r = g.store->Descendants(ArtifactRef(0), {});
    if (!r.ok()) state.SkipWithError("traversal failed");
    nodes = r->nodes.size();
    benchmark::DoNotOptimize(r);
  }
  state.counters["closure"] = static_cast<double>(nodes);
  ReportGraph(state, g);
}

void BM_CountDescendants_Largest(benchmark::State& state) {
  Graph& g = GetGraph(state.range(0));
  uint64_t count = 0;
  for (auto _ : state) {
    absl::StatusOr<uint64_t> r = g.store->CountDescendants(ArtifactRef(0), {});
    if (!r.ok()) state.SkipWithError("count failed");
    count = *r;
  }
  state.counters["closure"] = static_cast<double>(count);
  ReportGraph(state, g);
}

void BM_ReferenceCsrBfs_Largest(benchmark::State& state) {
  Graph& g = GetGraph(state.range(0));
  std::vector<uint32_t> seen(g.csr.offsets.size() - 1, 0), queue;
  uint32_t stamp = 0;
  uint64_t count = 0;
  for (auto _ : state) {
    // Fresh visited marks per run, as the store pays for its colour map.
    std::fill(seen.begin(), seen.end(), 0);
    count = g.csr.CountFrom(g.largest_root, &seen, ++stamp, &queue);
    benchmark::DoNotOptimize(count);
  }
  state.counters["closure"] = static_cast<double>(count);
  ReportGraph(state, g);
}

template <bool kCountOnly>
void BM_Small(benchmark::State& state) {
  Graph& g = GetGraph(state.range(0));
  if (g.small_roots.empty()) {
    state.SkipWithError("no small closures in this graph");
    return;
  }
  std::vector<std::string> roots;
  for (uint64_t i : g.small_roots)
    roots.push_back(ArtifactRef(i));
  std::vector<double> micros;
  size_t next = 0;
  uint64_t total = 0;
  for (auto _ : state) {
    const std::string& root = roots[next++ % roots.size()];
    auto start = std::chrono::steady_clock::now();
    if constexpr (kCountOnly) {
      absl::StatusOr<uint64_t> r = g.store->CountDescendants(root, {});
      total += r.ok() ? *r : 0;
    } else {
      absl::StatusOr<TraversalResult> r = g.store->Descendants(root, {});
      total += r.ok() ? r->nodes.size() : 0;
      benchmark::DoNotOptimize(r);
    }
    micros.push_back(
        std::chrono::duration<double, std::micro>(std::chrono::steady_clock::now() - start)
            .count());
  }
  state.counters["mean_closure"] =
      static_cast<double>(total) / static_cast<double>(std::max<size_t>(1, micros.size()));
  ReportPercentiles(state, &micros);
}

// A root whose closure (derived descendants, itself included) is close to
// `target` artifacts. Older artifacts tend to reach more, so a binary search
// over artifact numbers lands near the size; closure sizes are noisy from
// one artifact to the next, so the neighbourhood is then probed for the
// nearest. Returns the artifact number.
uint64_t RootWithClosure(Graph& g, uint64_t n, uint64_t target) {
  std::vector<uint32_t> seen(g.csr.offsets.size() - 1, 0), queue;
  uint32_t stamp = 0;
  auto size_of = [&](uint64_t i) {
    return g.csr.CountFrom(static_cast<uint32_t>(i), &seen, ++stamp, &queue) + 1;
  };
  uint64_t lo = 0, hi = n - 1;
  while (lo < hi) {
    uint64_t mid = lo + (hi - lo) / 2;
    if (size_of(mid) > target) {
      lo = mid + 1;
    } else {
      hi = mid;
    }
  }
  uint64_t best = lo;
  uint64_t best_gap = UINT64_MAX;
  uint64_t span = std::min<uint64_t>(n, 4000);
  uint64_t from = lo > span / 2 ? lo - span / 2 : 0;
  for (uint64_t i = from; i < std::min(n, from + span); i += std::max<uint64_t>(1, span / 400)) {
    uint64_t size = size_of(i);
    uint64_t gap = size > target ? size - target : target - size;
    if (gap < best_gap) {
      best = i;
      best_gap = gap;
    }
  }
  return best;
}

// Plan (the dry run), two approvals, enforce, and lift, for a digest root
// whose closure is about state.range(1) artifacts. Times are per phase; the
// lift restores the state for the next iteration. The bench store writes
// without fsync (durable against a killed process, not a power cut).
void BM_Revoke(benchmark::State& state) {
  Graph& g = GetGraph(state.range(0));
  std::string root = ArtifactRef(RootWithClosure(g, state.range(0), state.range(1)));
  std::vector<double> plan_ms, enforce_ms, lift_ms;
  uint64_t closure = 0;
  for (auto _ : state) {
    auto t0 = std::chrono::steady_clock::now();
    PlanRequest request{{{root}}, "bench", RevocationMode::kEnforce, "alice"};
    absl::StatusOr<Plan> plan = g.store->CreatePlan(request, PlanListing{0, 0});
    auto t1 = std::chrono::steady_clock::now();
    if (!plan.ok() || !g.store->Approve(plan->id, "bob").ok() ||
        !g.store->Approve(plan->id, "carol").ok()) {
      state.SkipWithError("plan failed");
      return;
    }
    auto t2 = std::chrono::steady_clock::now();
    absl::StatusOr<EnforceResult> enforced = g.store->Enforce(plan->id, {.actor = "dave"});
    auto t3 = std::chrono::steady_clock::now();
    if (!enforced.ok() || !enforced->enforced) {
      state.SkipWithError("enforce failed");
      return;
    }
    closure = enforced->revocation.artifact_count;
    if (!g.store->Lift(enforced->revocation.id, "erin", "bench").ok()) {
      state.SkipWithError("lift failed");
      return;
    }
    auto t4 = std::chrono::steady_clock::now();
    auto ms = [](auto a, auto b) {
      return std::chrono::duration<double, std::milli>(b - a).count();
    };
    plan_ms.push_back(ms(t0, t1));
    enforce_ms.push_back(ms(t2, t3));
    lift_ms.push_back(ms(t3, t4));
  }
  auto median = [](std::vector<double> v) {
    std::sort(v.begin(), v.end());
    return v.empty() ? 0.0 : v[v.size() / 2];
  };
  state.counters["closure"] = static_cast<double>(closure);
  state.counters["plan_ms"] = median(plan_ms);
  state.counters["enforce_ms"] = median(enforce_ms);
  state.counters["lift_ms"] = median(lift_ms);
  state.counters["peak_rss_MiB"] = static_cast<double>(PeakRssMiB());
}

// The gate check in process. state.range(1) = 0: known digests with no
// revocation active (the common ALLOW); 1: digests inside an active
// revocation of the largest closure (DENY with its reason). The revocation
// stays active, so BM_Open after it measures a restart that restores a
// closure of the whole graph.
void BM_Check(benchmark::State& state) {
  Graph& g = GetGraph(state.range(0));
  static std::map<int64_t, std::string> active;  // graph size -> revocation id
  if (state.range(1) == 1 && !active.contains(state.range(0))) {
    PlanRequest request{{{ArtifactRef(0)}}, "bench check", RevocationMode::kEnforce, "alice"};
    absl::StatusOr<Plan> plan = g.store->CreatePlan(request, PlanListing{0, 0});
    if (!plan.ok() || !g.store->Approve(plan->id, "bob").ok() ||
        !g.store->Approve(plan->id, "carol").ok()) {
      state.SkipWithError("plan failed");
      return;
    }
    absl::StatusOr<EnforceResult> r = g.store->Enforce(plan->id, {.actor = "dave"});
    if (!r.ok() || !r->enforced) {
      state.SkipWithError("enforce failed");
      return;
    }
    active[state.range(0)] = r->revocation.id;
  }
  std::vector<std::string> digests;
  for (uint64_t i = 0; i < 1000; ++i)
    digests.push_back(ArtifactRef(1 + (i * 7919) % (state.range(0) - 1)));
  std::vector<double> micros;
  size_t next = 0;
  uint64_t denied = 0;
  CheckOptions options;
  options.unknown = UnknownPolicy::kAllow;
  for (auto _ : state) {
    auto start = std::chrono::steady_clock::now();
    absl::StatusOr<CheckResult> r = g.store->Check(digests[next++ % digests.size()], options);
    micros.push_back(
        std::chrono::duration<double, std::micro>(std::chrono::steady_clock::now() - start)
            .count());
    denied += r.ok() && r->verdict == Verdict::kDeny;
  }
  state.counters["denied_share"] =
      static_cast<double>(denied) / static_cast<double>(std::max<size_t>(1, micros.size()));
  ReportPercentiles(state, &micros);
}

// Close and reopen the loaded store: the open rebuilds the index by scanning
// RocksDB. Registered after the traversals, which therefore ran on the index
// as ingest left it (CSR plus a delta); afterwards the delta is empty.
// Store::KeyUsage over the whole graph (N/20 keys, 30% of the artifacts
// signed): what `lineage keys` and Reader.keyUsage cost at that size.
void BM_KeyUsage(benchmark::State& state) {
  Graph& g = GetGraph(state.range(0));
  uint64_t signers = 0;
  for (auto _ : state) {
    absl::StatusOr<KeyUsageReport> report = g.store->KeyUsage(absl::Hours(24 * 90));
    if (!report.ok()) {
      state.SkipWithError("KeyUsage failed");
      return;
    }
    signers = report->signers.size();
    benchmark::DoNotOptimize(report->signed_attestations);
  }
  state.counters["signers"] = static_cast<double>(signers);
}

void BM_Open(benchmark::State& state) {
  Graph& g = GetGraph(state.range(0));
  for (auto _ : state) {
    g.store.reset();
    absl::StatusOr<std::unique_ptr<Store>> store =
        Store::Open((g.dir / "db").string(), BenchOptions());
    if (!store.ok()) {
      state.SkipWithError("open failed");
      return;
    }
    g.store = *std::move(store);
  }
  ReportGraph(state, g);
}

// One record per Ingest call (its own WriteBatch), into a store that already
// holds a small graph: subject new, two existing materials, a signer and a
// builder.
void BM_IngestRecord(benchmark::State& state) {
  std::filesystem::path dir = MakeTempDir("ingest");
  {
    absl::StatusOr<std::unique_ptr<Store>> opened =
        Store::Open((dir / "db").string(), BenchOptions());
    if (!opened.ok()) std::abort();
    std::unique_ptr<Store> store = *std::move(opened);
    std::mt19937_64 rng(1);
    uint64_t i = 0;
    uint64_t edges = 0;
    for (auto _ : state) {
      state.PauseTiming();
      AttestationRecord r;
      r.id = fmt::format("ingest-{}", i);
      r.format = "dsse";
      r.time = absl::FromUnixSeconds(1700000000);
      r.subjects.push_back({{ArtifactRef(i + 1000000000)}, ""});
      if (i > 0) {
        r.materials.push_back({{ArtifactRef(rng() % i + 1000000000)}, ""});
        r.materials.push_back({{ArtifactRef(rng() % i + 1000000000)}, ""});
      }
      r.signers.push_back({KeyRef(rng() % 100), "", "ed25519"});
      r.builder_id = BuilderId(rng() % 10);
      r.raw = std::string(1500, 'x');
      state.ResumeTiming();
      absl::StatusOr<IngestOutcome> outcome = store->Ingest(r);
      if (!outcome.ok()) state.SkipWithError("ingest failed");
      edges += outcome->new_edges;
      ++i;
    }
    state.SetItemsProcessed(static_cast<int64_t>(i));
    state.counters["edges"] = static_cast<double>(edges);
  }
  std::error_code ec;
  std::filesystem::remove_all(dir, ec);
}

std::vector<int64_t> Sizes() {
  std::vector<int64_t> sizes;
  const char* env = std::getenv("LINEAGE_BENCH_SIZES");
  std::string text = env != nullptr ? env : "100000";
  size_t start = 0;
  while (start < text.size()) {
    size_t comma = text.find(',', start);
    if (comma == std::string::npos) comma = text.size();
    int64_t n = std::atoll(text.substr(start, comma - start).c_str());
    if (n > 0) sizes.push_back(n);
    start = comma + 1;
  }
  return sizes;
}

int RegisterAll() {
  for (int64_t n : Sizes()) {
    benchmark::RegisterBenchmark("BM_ReferenceCsrBfs/largest", BM_ReferenceCsrBfs_Largest)
        ->Arg(n)
        ->Unit(benchmark::kMillisecond)
        ->MinTime(2);
    benchmark::RegisterBenchmark("BM_CountDescendants/largest", BM_CountDescendants_Largest)
        ->Arg(n)
        ->Unit(benchmark::kMillisecond)
        ->MinTime(2);
    benchmark::RegisterBenchmark("BM_Descendants/largest", BM_Descendants_Largest)
        ->Arg(n)
        ->Unit(benchmark::kMillisecond)
        ->MinTime(2);
    benchmark::RegisterBenchmark("BM_Descendants/small", BM_Small<false>)
        ->Arg(n)
        ->Unit(benchmark::kMicrosecond);
    benchmark::RegisterBenchmark("BM_CountDescendants/small", BM_Small<true>)
        ->Arg(n)
        ->Unit(benchmark::kMicrosecond);
  }
  for (int64_t n : Sizes()) {
    for (int64_t closure : {int64_t{1000}, int64_t{100000}, int64_t{1000000}}) {
      if (closure > n) continue;
      benchmark::RegisterBenchmark("BM_Revoke", BM_Revoke)
          ->Args({n, closure})
          ->Unit(benchmark::kMillisecond)
          ->Iterations(closure >= 100000 ? 5 : 20);
    }
    benchmark::RegisterBenchmark("BM_Check/allow", BM_Check)->Args({n, 0});
    benchmark::RegisterBenchmark("BM_Check/deny", BM_Check)->Args({n, 1});
  }
  for (int64_t n : Sizes()) {
    benchmark::RegisterBenchmark("BM_KeyUsage", BM_KeyUsage)
        ->Arg(n)
        ->Unit(benchmark::kMillisecond)
        ->MinTime(2);
  }
  for (int64_t n : Sizes()) {
    benchmark::RegisterBenchmark("BM_Open", BM_Open)
        ->Arg(n)
        ->Unit(benchmark::kMillisecond)
        ->Iterations(3);
  }
  benchmark::RegisterBenchmark("BM_IngestRecord", BM_IngestRecord)->Unit(benchmark::kMicrosecond);
  return 0;
}

const int kRegistered = RegisterAll();

}  // namespace
}  // namespace lineage
