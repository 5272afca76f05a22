// lineage_gen: generates a synthetic supply chain (bench/gen/supply_chain.h)
// and reports its shape.
#include <chrono>
#include <cstdio>

#include "CLI/CLI.hpp"
#include "bench/gen/supply_chain.h"
#include "fmt/format.h"

int main(int argc, char** argv) {
  CLI::App app{"Generate a synthetic supply chain"};
  lineage::bench::ChainConfig config;
  app.add_option("--artifacts", config.artifacts, "artifact nodes")->default_val(config.artifacts);
  app.add_option("--seed", config.seed, "seed")->default_val(config.seed);
  CLI11_PARSE(app, argc, argv);

  const auto start = std::chrono::steady_clock::now();
  const lineage::bench::SupplyChain chain = lineage::bench::Generate(config);
  const double seconds =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  uint64_t kinds[4] = {}, edge_kinds[4] = {};
  for (auto k : chain.kinds)
    ++kinds[static_cast<int>(k)];
  for (const auto& e : chain.edges)
    ++edge_kinds[static_cast<int>(e.kind)];
  fmt::print("generated in {:.2f} s: {} nodes ({} artifacts, {} keys, {} builders, {} workloads)\n",
             seconds, chain.refs.size(), kinds[0], kinds[1], kinds[2], kinds[3]);
  fmt::print(
      "{} edges ({} derived, {} signed, {} built, {} runs); {} attestations, {} final images\n",
      chain.edges.size(), edge_kinds[0], edge_kinds[1], edge_kinds[2], edge_kinds[3],
      chain.attestations.size(), chain.final_images.size());
  const auto s2 = std::chrono::steady_clock::now();
  const auto sizes = lineage::bench::ClosureSizes(
      chain, {chain.most_popular_base, chain.busiest_key, chain.busiest_builder});
  fmt::print("closures: most popular OS image {}, busiest key {}, busiest builder {} ({:.2f} s)\n",
             sizes[0], sizes[1], sizes[2],
             std::chrono::duration<double>(std::chrono::steady_clock::now() - s2).count());
  return 0;
}
