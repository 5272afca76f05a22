// lineage_gen: generates a synthetic supply chain (bench/gen/supply_chain.h),
// reports its shape, and optionally writes its attestations as signed DSSE
// envelopes with the trust policy that accepts them (--out), or bulk-loads
// it into a new database (--bulk-load). Usage: bench/README.md.
#include <sys/resource.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <span>
#include <string>
#include <vector>

#include "CLI/CLI.hpp"
#include "bench/gen/emit.h"
#include "bench/gen/records.h"
#include "bench/gen/supply_chain.h"
#include "engine/include/lineage/log.h"
#include "engine/include/lineage/store.h"
#include "fmt/format.h"

namespace {

double SecondsSince(std::chrono::steady_clock::time_point start) {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
}

double CpuSeconds() {
  struct rusage usage;
  getrusage(RUSAGE_SELF, &usage);
  return usage.ru_utime.tv_sec + usage.ru_stime.tv_sec +
         (usage.ru_utime.tv_usec + usage.ru_stime.tv_usec) / 1e6;
}

// Loads the chain's attestations into a new database at `path` with
// BulkLoad (`chunk` records per call) or with IngestBatch (5,000 per batch),
// and prints the rate by wall time and by this process's CPU time (the
// machine may be shared). Records are made one chunk at a time, outside the
// timed calls, so that a 10M-artifact chain fits in memory.
bool Load(const std::string& path, const lineage::bench::SupplyChain& chain, bool bulk,
          size_t chunk) {
  lineage::StoreOptions options;
  options.logger = lineage::NewStderrLogger(lineage::LogLevel::kInfo);
  absl::StatusOr<std::unique_ptr<lineage::Store>> store = lineage::Store::Open(path, options);
  if (!store.ok()) {
    fmt::print(stderr, "lineage_gen: {}\n", std::string(store.status().message()));
    return false;
  }
  if (!bulk) chunk = 5000;
  double seconds = 0, cpu = 0;
  absl::Status status;
  std::vector<lineage::AttestationRecord> records;
  for (size_t i = 0; status.ok() && i < chain.attestations.size(); i += chunk) {
    const size_t n = std::min(chunk, chain.attestations.size() - i);
    records.clear();
    for (size_t j = i; j < i + n; ++j)
      records.push_back(lineage::bench::ToRecord(chain, j));
    const auto start = std::chrono::steady_clock::now();
    const double cpu_start = CpuSeconds();
    status = bulk ? (*store)->BulkLoad(records).status() : (*store)->IngestBatch(records).status();
    seconds += SecondsSince(start);
    cpu += CpuSeconds() - cpu_start;
  }
  if (!status.ok()) {
    fmt::print(stderr, "lineage_gen: {}\n", std::string(status.message()));
    return false;
  }
  absl::StatusOr<lineage::StoreStats> stats = (*store)->Stats();
  if (!stats.ok()) return false;
  fmt::print(
      "{}: {} attestations, {} edge assertions in {:.2f} s wall ({:.0f} edges/s), {:.2f} s CPU "
      "({:.0f} edges/s per CPU second)\n",
      bulk ? "BulkLoad" : "IngestBatch", stats->attestations, stats->edge_assertions, seconds,
      stats->edge_assertions / seconds, cpu, stats->edge_assertions / cpu);
  return true;
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{"Generate a synthetic supply chain"};
  lineage::bench::ChainConfig config;
  std::string bulk_load, ingest_batch;
  size_t bulk_chunk = 2'000'000;
  lineage::bench::EmitOptions emit;
  app.add_option("--artifacts", config.artifacts, "artifact nodes")->default_val(config.artifacts);
  app.add_option("--seed", config.seed, "seed")->default_val(config.seed);
  app.add_option("--bulk-load", bulk_load,
                 "bulk-load every attestation into a new (or empty) database at this path");
  app.add_option("--bulk-chunk", bulk_chunk,
                 "with --bulk-load: attestations per BulkLoad call (each call holds its records' "
                 "keys and values in memory)")
      ->default_val(bulk_chunk)
      ->check(CLI::PositiveNumber);
  app.add_option("--ingest-batch", ingest_batch,
                 "for comparison: create a database here and load it with IngestBatch, 5,000 "
                 "records per batch");
  app.add_option("--out", emit.out_dir,
                 "write signed DSSE envelopes (JSONL), the keys and policy.json here");
  app.add_option("--attestations", emit.attestations,
                 "with --out: only the first this many attestations (0: all)")
      ->default_val(emit.attestations);
  app.add_option("--keys", emit.keys, "with --out: P-256 signing keys to generate")
      ->default_val(emit.keys)
      ->check(CLI::Range(1u, 4096u));
  app.add_option("--per-file", emit.per_file, "with --out: envelopes per JSONL file")
      ->default_val(emit.per_file)
      ->check(CLI::PositiveNumber);
  CLI11_PARSE(app, argc, argv);

  auto start = std::chrono::steady_clock::now();
  const lineage::bench::SupplyChain chain = lineage::bench::Generate(config);
  const double generate_seconds = SecondsSince(start);
  uint64_t kinds[4] = {}, edge_kinds[4] = {};
  for (auto k : chain.kinds)
    ++kinds[static_cast<int>(k)];
  for (const auto& e : chain.edges)
    ++edge_kinds[static_cast<int>(e.kind)];
  fmt::print("generated in {:.2f} s: {} nodes ({} artifacts, {} keys, {} builders, {} workloads)\n",
             generate_seconds, chain.refs.size(), kinds[0], kinds[1], kinds[2], kinds[3]);
  fmt::print(
      "{} edges ({} derived, {} signed, {} built, {} runs); {} attestations, {} final images\n",
      chain.edges.size(), edge_kinds[0], edge_kinds[1], edge_kinds[2], edge_kinds[3],
      chain.attestations.size(), chain.final_images.size());
  start = std::chrono::steady_clock::now();
  const auto sizes = lineage::bench::ClosureSizes(
      chain, {chain.most_popular_base, chain.busiest_key, chain.busiest_builder});
  fmt::print(
      "closures: most popular OS image {} ({}), busiest key {}, busiest builder {} ({:.2f} s)\n",
      sizes[0], chain.refs[chain.most_popular_base], sizes[1], sizes[2], SecondsSince(start));

  if (!emit.out_dir.empty()) {
    start = std::chrono::steady_clock::now();
    absl::StatusOr<lineage::bench::EmitResult> emitted =
        lineage::bench::EmitAttestations(chain, emit);
    if (!emitted.ok()) {
      fmt::print(stderr, "lineage_gen: {}\n", std::string(emitted.status().message()));
      return 1;
    }
    const double seconds = SecondsSince(start);
    fmt::print(
        "wrote {} signed envelopes in {} files with {} keys in {:.2f} s ({:.0f}/s); policy {}\n",
        emitted->envelopes, emitted->files.size(), emitted->key_refs.size(), seconds,
        emitted->envelopes / seconds, emitted->policy);
  }

  if (!bulk_load.empty() && !Load(bulk_load, chain, /*bulk=*/true, bulk_chunk)) return 1;
  if (!ingest_batch.empty() && !Load(ingest_batch, chain, /*bulk=*/false, 0)) return 1;
  return 0;
}
