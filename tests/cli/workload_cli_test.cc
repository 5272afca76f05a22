// Integration tests of `lineage workloads ingest|list` and `lineage keys`:
// the real binary on a temporary database, fed tests/data/inventories/ and
// the sample attestations under samples/.
#include <filesystem>
#include <map>
#include <string>
#include <vector>

#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <simdjson.h>

#include "engine/include/lineage/store.h"
#include "tests/cli/cli_fixture.h"
#include "tests/cli/subprocess.h"

namespace lineage {
namespace {

using ::lineage::testing::ProcessResult;
using ::lineage::testing::ReadFile;
using ::lineage::testing::RunProcess;
using ::testing::HasSubstr;
using ::testing::Not;

const std::string kSamples = std::string(LINEAGE_SOURCE_DIR) + "/samples";
const std::string kInventories = std::string(LINEAGE_TEST_DATA) + "/inventories";

// Images of tests/data/inventories (SHA-256 of short names).
constexpr char kWeb[] = "sha256:4b5e57f6eb2f42b9039b3d1e13929295f231749c510cbe341cd68036d9af97e2";
constexpr char kWebAfterRollout[] =
    "sha256:826b67675c319607d39129f4ead85a609ec3e220b5a5ea620494b4ec0b06ff75";

class WorkloadCliTest : public testing::CliFixture {
 protected:
  WorkloadCliTest() : CliFixture("lineage-workload-cli-") {}

  std::string Data(const std::string& name) { return kInventories + "/" + name; }

  // "cluster workload-ref" -> images, from `workloads list --json`.
  std::map<std::string, std::vector<std::string>> ListWorkloads() {
    ProcessResult r = Lineage({"workloads", "list", "--json"});
    EXPECT_EQ(r.exit_code, 0) << r.err;
    std::map<std::string, std::vector<std::string>> out;
    for (simdjson::dom::element c : Json(r)["clusters"].get_array()) {
      for (simdjson::dom::element w : c["workloads"].get_array()) {
        std::vector<std::string>& images = out[std::string(std::string_view(c["cluster"])) + " " +
                                               std::string(std::string_view(w["ref"]))];
        for (simdjson::dom::element image : w["images"].get_array())
          images.emplace_back(std::string_view(image));
      }
    }
    return out;
  }
};

TEST_F(WorkloadCliTest, IngestOfKubectlInventoryStoresItsWorkloads) {
  ProcessResult r = Lineage({"workloads", "ingest", "--cluster", "prod-eu", Data("pods.json")});
  ASSERT_EQ(r.exit_code, 0) << r.out << r.err;
  EXPECT_THAT(r.out,
              HasSubstr("accepted   " + Data("pods.json") + ": cluster prod-eu: inventory "));
  EXPECT_THAT(r.out, HasSubstr("7 workloads, 9 images (9 pods)"));
  EXPECT_THAT(r.out, HasSubstr("summary: 1 file, 1 inventory accepted, 0 already stored, 0 "
                               "stale, 0 rejected"));
  // Containers without a digest are reported, on stderr.
  EXPECT_THAT(r.err, HasSubstr("warning: " + Data("pods.json") +
                               ": items[7].status.containerStatuses[0].imageID: no sha256 digest"));
  EXPECT_THAT(r.out, Not(HasSubstr("warning")));

  auto workloads = ListWorkloads();
  EXPECT_EQ(workloads.size(), 7u);
  EXPECT_THAT(workloads["prod-eu workload:prod-eu/shop/Deployment/web"], ::testing::Contains(kWeb));

  // The runs edges are in the graph: the image's descendants include its workload.
  ProcessResult d = Lineage({"descendants", kWeb});
  EXPECT_THAT(d.out, HasSubstr("workload:prod-eu/shop/Deployment/web"));
}

TEST_F(WorkloadCliTest, NewInventoryReplacesItsClusterOnly) {
  ASSERT_EQ(Lineage({"workloads", "ingest", "--cluster", "prod-eu", Data("pods.json")}).exit_code,
            0);
  ASSERT_EQ(Lineage({"workloads", "ingest", Data("workloads.json")}).exit_code, 0);
  ProcessResult r = Lineage(
      {"workloads", "ingest", "--cluster", "prod-eu", Data("pods-after-rollout.json"), "--json"});
  ASSERT_EQ(r.exit_code, 0) << r.out << r.err;
  simdjson::dom::element doc = Json(r);
  simdjson::dom::element file = doc["files"].at(0);
  EXPECT_EQ(std::string_view(file["verdict"]), "accepted");
  EXPECT_EQ(std::string_view(file["cluster"]), "prod-eu");
  EXPECT_EQ(std::string_view(file["format"]), "kubectl");
  EXPECT_EQ(uint64_t(file["workloads"]), 2u);
  EXPECT_EQ(std::string_view(file["inventory"]).size(), 64u);
  EXPECT_EQ(std::string_view(file["replaced"]).size(), 64u);
  EXPECT_EQ(uint64_t(doc["summary"]["accepted"]), 1u);

  auto workloads = ListWorkloads();
  std::vector<std::string> keys;
  for (const auto& [key, images] : workloads)
    keys.push_back(key);
  EXPECT_THAT(keys, ::testing::ElementsAre("edge-1 workload:edge-1/iot/Deployment/collector",
                                           "edge-1 workload:edge-1/iot/VirtualMachine/gateway",
                                           "prod-eu workload:prod-eu/shop/Deployment/web",
                                           "prod-eu workload:prod-eu/shop/StatefulSet/db"));
  EXPECT_THAT(workloads["prod-eu workload:prod-eu/shop/Deployment/web"],
              ::testing::Contains(kWebAfterRollout));
  EXPECT_THAT(workloads["prod-eu workload:prod-eu/shop/Deployment/web"],
              Not(::testing::Contains(kWeb)));

  ProcessResult one = Lineage({"workloads", "list", "--cluster", "edge-1"});
  ASSERT_EQ(one.exit_code, 0) << one.err;
  EXPECT_THAT(one.out, HasSubstr("cluster edge-1: inventory "));
  EXPECT_THAT(one.out, HasSubstr("taken 2026-03-02T08:00:00Z, 2 workloads"));
  EXPECT_THAT(one.out, Not(HasSubstr("prod-eu")));
}

TEST_F(WorkloadCliTest, SameInventoryTwiceIsADuplicate) {
  std::vector<std::string> args = {"workloads", "ingest", "--cluster", "prod-eu",
                                   Data("pods.json")};
  ASSERT_EQ(Lineage(args).exit_code, 0);
  ProcessResult again = Lineage(args);
  EXPECT_EQ(again.exit_code, 0) << again.err;
  EXPECT_THAT(again.out, HasSubstr("duplicate  " + Data("pods.json") + ": cluster prod-eu"));
  EXPECT_THAT(again.out, HasSubstr("0 inventories accepted, 1 already stored"));
}

TEST_F(WorkloadCliTest, KubectlInventoryWithoutClusterIsRejectedWithAHint) {
  ProcessResult r = Lineage({"workloads", "ingest", Data("pods.json")});
  EXPECT_EQ(r.exit_code, 1) << r.out << r.err;
  EXPECT_THAT(r.out, HasSubstr("rejected   " + Data("pods.json") +
                               ": cluster: kubectl output does not name its cluster"));
  EXPECT_THAT(r.out, HasSubstr("(pass --cluster NAME)"));
}

TEST_F(WorkloadCliTest, BadFilesAreRejectedNamingFileAndFieldAndOthersAreStored) {
  ProcessResult r =
      Lineage({"workloads", "ingest", "--cluster", "prod-eu", Data("bad-imageid-type.json"),
               Data("pods.json"), dir_ + "/missing", "--json"});
  EXPECT_EQ(r.exit_code, 1) << r.out << r.err;
  simdjson::dom::element doc = Json(r);
  simdjson::dom::array files = doc["files"].get_array();
  ASSERT_EQ(files.size(), 3u);
  EXPECT_EQ(std::string_view(files.at(0)["verdict"]), "rejected");
  EXPECT_EQ(std::string_view(files.at(0)["error"]),
            Data("bad-imageid-type.json") +
                ": items[3].status.containerStatuses[0].imageID: expected a string, got number");
  EXPECT_EQ(std::string_view(files.at(1)["verdict"]), "accepted");
  EXPECT_EQ(files.at(1)["warnings"].get_array().size(), 2u);
  EXPECT_EQ(std::string_view(files.at(2)["verdict"]), "rejected");
  EXPECT_THAT(std::string(std::string_view(files.at(2)["error"])), HasSubstr(dir_ + "/missing"));
  EXPECT_EQ(uint64_t(doc["summary"]["rejected"]), 2u);
  EXPECT_EQ(ListWorkloads().size(), 7u);
}

TEST_F(WorkloadCliTest, ListClusterMismatchIsRejected) {
  ProcessResult r =
      Lineage({"workloads", "ingest", "--cluster", "prod-eu", Data("workloads.json")});
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_THAT(r.out, HasSubstr("cluster: the document names \"edge-1\" but \"prod-eu\" was given"));
}

TEST_F(WorkloadCliTest, InventoryFromStdinWithExplicitFormat) {
  ProcessResult r =
      Lineage({"workloads", "ingest", "--format", "list", "-"}, ReadFile(Data("workloads.json")));
  EXPECT_EQ(r.exit_code, 0) << r.out << r.err;
  EXPECT_THAT(r.out, HasSubstr("accepted   <stdin>: cluster edge-1"));
  EXPECT_THAT(r.err, HasSubstr("warning: <stdin>: workloads[2]: no usable image digest"));
}

TEST_F(WorkloadCliTest, UsageErrorsAndUnknownClusters) {
  EXPECT_EQ(Lineage({"workloads", "ingest", "--format", "yaml", Data("pods.json")}).exit_code, 2);
  EXPECT_EQ(Lineage({"workloads"}).exit_code, 2);
  // No database yet.
  EXPECT_EQ(Lineage({"workloads", "list"}).exit_code, 3);
  ASSERT_EQ(Lineage({"workloads", "ingest", Data("workloads.json")}).exit_code, 0);
  ProcessResult unknown = Lineage({"workloads", "list", "--cluster", "nowhere"});
  EXPECT_EQ(unknown.exit_code, 3);
  EXPECT_THAT(unknown.err, HasSubstr("no inventory for cluster \"nowhere\""));
}

TEST_F(WorkloadCliTest, KeysListsSignersAndTheKeylessShare) {
  ASSERT_EQ(Lineage({"ingest", "--policy", kSamples + "/policy.json", kSamples + "/attestations"})
                .exit_code,
            0);
  ProcessResult r = Lineage({"keys", "--json"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  simdjson::dom::element doc = Json(r);
  EXPECT_EQ(std::string_view(doc["rotation_age"]), "90d");
  EXPECT_EQ(uint64_t(doc["rotation_age_seconds"]), 90u * 24 * 3600);
  simdjson::dom::array signers = doc["signers"].get_array();
  EXPECT_EQ(signers.size(), 7u);
  uint64_t attestations = 0;
  for (simdjson::dom::element s : signers) {
    EXPECT_EQ(std::string_view(s["type"]), "long-lived");
    EXPECT_FALSE(bool(s["beyond_rotation_age"]));
    EXPECT_TRUE(s["first_signed"].is_string());
    attestations += uint64_t(s["attestations"]);
  }
  EXPECT_GE(attestations, 8u);
  EXPECT_EQ(uint64_t(doc["attestations"]["signed"]), 8u);
  EXPECT_EQ(uint64_t(doc["attestations"]["keyless"]), 0u);
  EXPECT_EQ(double(doc["attestations"]["keyless_share"]), 0.0);
  EXPECT_EQ(double(doc["attestations"]["long_lived_share"]), 1.0);

  ProcessResult human = Lineage({"keys", "--stale", "30d"});
  ASSERT_EQ(human.exit_code, 0);
  EXPECT_THAT(human.out, HasSubstr("7 signers; 0 long-lived keys signed beyond the rotation age "
                                   "of 30d"));
  EXPECT_THAT(human.out,
              HasSubstr("signed attestations: 8; signed keylessly: 0 (0.0%); by long-lived keys: "
                        "8 (100.0%)"));
}

TEST_F(WorkloadCliTest, KeysFlagsALongLivedKeyBeyondTheRotationAge) {
  // Seeded through the library: the sample attestations' signers each sign
  // within seconds, and a keyless bundle needs a Sigstore trust root.
  const std::string kKey = "key:sha256:" + std::string(64, 'a');
  const std::string kKeyless =
      "key:keyless:https://token.actions.githubusercontent.com|https://github.com/o/r/.github/"
      "workflows/release.yml@refs/heads/main";
  {
    absl::StatusOr<std::unique_ptr<Store>> store = Store::Open(db_, StoreOptions{});
    ASSERT_TRUE(store.ok()) << store.status();
    const absl::Time t0 = absl::FromUnixSeconds(1767225600);  // 2026-01-01T00:00:00Z
    int n = 0;
    for (auto [key, days] : std::vector<std::pair<std::string, int>>{
             {kKey, 0}, {kKey, 40}, {kKeyless, 1}, {kKeyless, 2}}) {
      AttestationRecord r;
      r.id = "att" + std::to_string(n);
      r.format = "dsse";
      r.subjects.push_back({{"sha256:" + std::string(63, 'b') + std::to_string(n)}, ""});
      r.signers.push_back({key, "", "ecdsa-p256-sha256"});
      r.time = t0 + absl::Hours(24) * days;
      ++n;
      absl::StatusOr<IngestOutcome> outcome = (*store)->Ingest(r);
      ASSERT_TRUE(outcome.ok()) << outcome.status();
    }
  }
  ProcessResult r = Lineage({"keys", "--stale", "30d", "--json"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  simdjson::dom::element doc = Json(r);
  EXPECT_EQ(uint64_t(doc["beyond_rotation_age"]), 1u);
  for (simdjson::dom::element s : doc["signers"].get_array()) {
    bool keyless = std::string_view(s["key"]) == kKeyless;
    EXPECT_EQ(std::string_view(s["type"]), keyless ? "keyless" : "long-lived");
    EXPECT_EQ(bool(s["beyond_rotation_age"]), !keyless);
    EXPECT_EQ(uint64_t(s["attestations"]), 2u);
  }
  EXPECT_EQ(double(doc["attestations"]["keyless_share"]), 0.5);

  ProcessResult human = Lineage({"keys", "--stale", "30d"});
  EXPECT_THAT(human.out, HasSubstr("2026-01-01T00:00:00Z  2026-02-10T00:00:00Z  STALE   " + kKey));
  EXPECT_THAT(human.out, HasSubstr("signed keylessly: 2 (50.0%); by long-lived keys: 2 (50.0%)"));
  // With a longer rotation age nothing is flagged.
  EXPECT_THAT(Lineage({"keys", "--stale", "6w"}).out, HasSubstr("0 long-lived keys signed beyond"));
}

TEST_F(WorkloadCliTest, KeysRejectsABadAge) {
  ASSERT_EQ(Lineage({"workloads", "ingest", Data("workloads.json")}).exit_code, 0);
  ProcessResult r = Lineage({"keys", "--stale", "soon"});
  EXPECT_EQ(r.exit_code, 2);
  EXPECT_THAT(r.err, HasSubstr("--stale: \"soon\" is not an age"));
  EXPECT_EQ(Lineage({"keys", "--stale", "0d"}).exit_code, 2);
  EXPECT_EQ(Lineage({"keys", "--stale", "2w"}).exit_code, 0);
}

TEST_F(WorkloadCliTest, NewCommandsHaveHelp) {
  for (std::vector<std::string> args :
       std::vector<std::vector<std::string>>{{"workloads", "ingest", "--help"},
                                             {"workloads", "list", "--help"},
                                             {"keys", "--help"}}) {
    ProcessResult r = Lineage(args);
    EXPECT_EQ(r.exit_code, 0) << args[0];
    EXPECT_THAT(r.out, HasSubstr("--json")) << args[0];
  }
}

}  // namespace
}  // namespace lineage
