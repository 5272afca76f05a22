// The SLO driver and the peers, end to end at a small scale: lineage_slo
// runs at 2,000 artifacts against a real lineaged (spawned on 127.0.0.1:0),
// and its JSON must show every scenario enforced and pushed, the gate's set
// equal to the closure, a restart that answers, and peers that agree. The
// peers are also checked directly against the store on the same chain.
#include <sys/wait.h>
#include <unistd.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <set>
#include <sstream>
#include <string>

#include <gtest/gtest.h>
#include <simdjson.h>

#include "bench/gen/records.h"
#include "bench/gen/supply_chain.h"
#include "bench/peers/csr_graph.h"
#include "bench/peers/sql_peers.h"
#include "engine/include/lineage/store.h"

namespace lineage::bench {
namespace {

namespace fs = std::filesystem;

std::string TempDir(const char* name) {
  std::string pattern = fs::temp_directory_path() / (std::string(name) + "-XXXXXX");
  char* made = mkdtemp(pattern.data());
  EXPECT_NE(made, nullptr);
  return pattern;
}

TEST(SloDriverTest, EveryScenarioReachesTheGateCompleteAtTwoThousandArtifacts) {
  const std::string dir = TempDir("lineage-slo-test");
  const std::string json = dir + "/slo.json";
  const std::string command = std::string(LINEAGE_SLO_PATH) +
                              " --artifacts 2000 --reps 1 --signed 500 --timeout 60 --work " + dir +
                              "/work --json " + json + " > " + dir + "/out.txt 2>&1";
  int rc = std::system(command.c_str());
  std::ifstream out_file(dir + "/out.txt");
  std::stringstream out;
  out << out_file.rdbuf();
  ASSERT_TRUE(WIFEXITED(rc)) << out.str();
  EXPECT_EQ(WEXITSTATUS(rc), 0) << out.str();

  simdjson::dom::parser parser;
  simdjson::dom::element doc;
  ASSERT_EQ(parser.load(json).get(doc), simdjson::SUCCESS) << out.str();
  EXPECT_TRUE(doc["ok"].get_bool().value()) << out.str();
  EXPECT_EQ(doc["graph"]["artifacts"].get_uint64().value(), 2000u);

  std::set<std::string> names;
  for (simdjson::dom::element s : doc["scenarios"].get_array()) {
    std::string name(s["name"].get_string().value());
    names.insert(name);
    SCOPED_TRACE(name);
    EXPECT_TRUE(s["ran"].get_bool().value());
    uint64_t closure = s["closure"].get_uint64().value();
    EXPECT_GT(closure, 0u);
    EXPECT_EQ(closure, s["expected_closure"].get_uint64().value());
    EXPECT_EQ(s["gate_size"].get_uint64().value(), closure);
    EXPECT_EQ(s["newly_denied"].get_uint64().value(), closure);
    EXPECT_TRUE(s["gate_equals_closure"].get_bool().value());
    EXPECT_EQ(std::string(s["stock_client_gate"].get_string().value()), "complete");
    EXPECT_GT(s["total_ms"].get_double().value(), 0);
  }
  EXPECT_EQ(names, (std::set<std::string>{"base-image", "key", "builder-window"}));

  simdjson::dom::element daemon = doc["daemon"];
  EXPECT_TRUE(daemon["ran"].get_bool().value());
  EXPECT_EQ(std::string(daemon["restart_verdict"].get_string().value()), "DENY");
  EXPECT_GT(daemon["lineaged_peak_rss_bytes"].get_uint64().value(), 0u);

  // Signed envelopes went in through the CLI and over RPC, every one.
  simdjson::dom::element ingest = doc["signed_ingest"];
  EXPECT_TRUE(ingest["ran"].get_bool().value());
  EXPECT_EQ(ingest["envelopes"].get_uint64().value(), 500u);
  EXPECT_EQ(ingest["cli_stored"].get_uint64().value(), 500u);
  EXPECT_EQ(ingest["rpc_accepted"].get_uint64().value(), 500u);

  // Every peer that ran counted, listed and marked the same closure.
  uint64_t count = 0, ran = 0;
  for (simdjson::dom::element p : doc["peers"].get_array()) {
    if (!p["ran"].get_bool().value()) continue;
    ran++;
    if (count == 0) count = p["count"].get_uint64().value();
    EXPECT_EQ(p["count"].get_uint64().value(), count) << p["name"].get_string().value();
    EXPECT_EQ(p["listed"].get_uint64().value(), count) << p["name"].get_string().value();
  }
  EXPECT_EQ(ran, 3u);  // csr, lineage, sqlite
  fs::remove_all(dir);
}

// The peers answer exactly what the store answers, root by root.
TEST(SloPeersTest, CsrAndSqliteAgreeWithTheStoreOnEveryScenarioRoot) {
  const std::string dir = TempDir("lineage-peers-test");
  const SupplyChain chain = Generate({.artifacts = 2000, .seed = 7});
  StoreOptions options;
  options.logger = NewNullLogger();
  absl::StatusOr<std::unique_ptr<Store>> store = Store::Open(dir + "/db", options);
  ASSERT_TRUE(store.ok()) << store.status();
  std::vector<AttestationRecord> records = ToRecords(chain);
  ASSERT_TRUE((*store)->IngestBatch(records).ok());

  absl::StatusOr<std::unique_ptr<SqlPeer>> sqlite = OpenSqlitePeer(dir + "/peer.sqlite");
  ASSERT_TRUE(sqlite.ok()) << sqlite.status();
  ASSERT_TRUE((*sqlite)->Load(chain).ok());
  // Without workloads in the store, compare over the edges it holds.
  SupplyChain no_runs = chain;
  std::erase_if(no_runs.edges, [](const Edge& e) { return e.kind == EdgeKind::kRuns; });
  CsrGraph csr = CsrGraph::Build(no_runs, kAllEdgeKinds);
  CsrGraph derived = CsrGraph::Build(chain, EdgeKindBit(EdgeKind::kDerived));

  for (uint32_t root : {chain.most_popular_base, chain.busiest_key, chain.busiest_builder}) {
    SCOPED_TRACE(chain.refs[root]);
    absl::StatusOr<uint64_t> stored = (*store)->CountDescendants(chain.refs[root], {});
    ASSERT_TRUE(stored.ok()) << stored.status();
    EXPECT_EQ(csr.Count(root), *stored);
    EXPECT_EQ(csr.List(root).size(), *stored);
    // SQLite holds the runs edges too: its count is the CSR's over them.
    absl::StatusOr<uint64_t> counted = (*sqlite)->Count(root);
    ASSERT_TRUE(counted.ok()) << counted.status();
    EXPECT_EQ(*counted, CsrGraph::Build(chain, kAllEdgeKinds).Count(root));
    absl::StatusOr<std::vector<std::string>> listed = (*sqlite)->List(root);
    ASSERT_TRUE(listed.ok()) << listed.status();
    EXPECT_EQ(listed->size(), *counted);
  }

  // Mark: the root and its derived descendants, as a revocation's closure.
  const uint32_t base = chain.most_popular_base;
  std::vector<uint32_t> closure = RevocationClosure(chain, derived, base);
  ASSERT_TRUE((*sqlite)->Clear().ok());
  absl::StatusOr<uint64_t> marked = (*sqlite)->Mark(base);
  ASSERT_TRUE(marked.ok()) << marked.status();
  EXPECT_EQ(*marked, closure.size());
  std::vector<uint8_t> marks(chain.refs.size());
  EXPECT_EQ(derived.Mark(base, marks), closure.size());

  PlanRequest request;
  request.roots.push_back({chain.refs[base]});
  request.reason = "peers test";
  request.actor = "alice";
  absl::StatusOr<Plan> plan = (*store)->CreatePlan(request, {});
  ASSERT_TRUE(plan.ok()) << plan.status();
  EXPECT_EQ(plan->artifact_count, closure.size());
  std::set<std::string> expected;
  for (uint32_t id : closure)
    expected.insert(chain.refs[id]);
  EXPECT_EQ(std::set<std::string>(plan->artifacts.begin(), plan->artifacts.end()), expected);
  fs::remove_all(dir);
}

}  // namespace
}  // namespace lineage::bench
