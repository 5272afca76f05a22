// Runs the deploy-gate example of docs/gates.md, tools/gates/deploy.sh, against
// the real `lineage` binary on a temporary database of the sample
// attestations, and checks the deny-list exports that the other gate examples
// (OPA, Gatekeeper) load.
#include <algorithm>
#include <cstdlib>
#include <filesystem>
#include <string>
#include <vector>

#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <simdjson.h>

#include "tests/cli/cli_fixture.h"
#include "tests/cli/subprocess.h"

namespace lineage {
namespace {

namespace fs = std::filesystem;
using ::lineage::testing::ProcessResult;
using ::lineage::testing::ReadFile;
using ::lineage::testing::RunProcess;
using ::testing::HasSubstr;
using ::testing::Not;

const std::string kSamples = std::string(LINEAGE_SOURCE_DIR) + "/samples";
const std::string kDeployScript = std::string(LINEAGE_SOURCE_DIR) + "/tools/gates/deploy.sh";

// The in-toto demo: write-code makes foo.py, package turns it into
// foo.tar.gz. Revoking foo.py must block foo.tar.gz.
constexpr char kFooPy[] = "sha256:74dc3727c6e89308b39e4dfedf787e37841198b1fa165a27c013544a60502549";
constexpr char kFooTarGz[] =
    "sha256:52947cb78b91ad01fe81cd6aef42d1f6817e92b9e6936c1e5aabb7c98514f355";

constexpr char kReason[] = "INC-7: foo.py was tampered with";

class GateExampleTest : public testing::CliFixture {
 protected:
  GateExampleTest() : CliFixture("lineage-gate-") {}

  void SetUp() override {
    CliFixture::SetUp();
    ProcessResult r = IngestSamples();
    ASSERT_EQ(r.exit_code, 0) << r.out << r.err;
  }

  // Runs tools/gates/deploy.sh as a pipeline would: the binary and the
  // database come from the environment.
  ProcessResult Deploy(const std::vector<std::string>& args, const std::string& db = "") {
    std::vector<std::string> argv = {"/bin/bash", kDeployScript};
    argv.insert(argv.end(), args.begin(), args.end());
    return RunProcess(
        argv, "",
        {std::string("LINEAGE=") + LINEAGE_CLI_PATH, "LINEAGE_DB=" + (db.empty() ? db_ : db)});
  }

  // A deploy command that leaves a trace on stdout.
  static std::vector<std::string> DeployCommand(const std::string& image) {
    return {image, "/bin/sh", "-c", "echo \"deployed $LINEAGE_IMAGE ($LINEAGE_DIGEST)\""};
  }

  void RevokeFooPy() {
    ProcessResult r = Lineage({"revoke", "--digest", kFooPy, "--reason", kReason, "--as", "alice"});
    ASSERT_EQ(r.exit_code, 0) << r.out << r.err;
    ASSERT_THAT(r.out, HasSubstr("enforced   rev-1"));
  }
};

TEST_F(GateExampleTest, DeployScriptDeploysAnAllowedDigest) {
  std::string image = std::string("registry.example.com/demo/foo@") + kFooTarGz;
  ProcessResult r = Deploy(DeployCommand(image));
  EXPECT_EQ(r.exit_code, 0) << r.out << r.err;
  EXPECT_THAT(r.out, HasSubstr("ALLOW " + std::string(kFooTarGz)));
  EXPECT_THAT(r.out, HasSubstr("deployed " + image + " (" + kFooTarGz + ")"));
}

TEST_F(GateExampleTest, DeployScriptWithoutCommandOnlyGates) {
  ProcessResult r = Deploy({kFooTarGz});
  EXPECT_EQ(r.exit_code, 0) << r.out << r.err;
  EXPECT_THAT(r.out, HasSubstr("may be deployed"));
}

TEST_F(GateExampleTest, DeployScriptRefusesARevokedDescendantAndShowsWhy) {
  RevokeFooPy();
  std::string image = std::string("registry.example.com/demo/foo@") + kFooTarGz;
  ProcessResult r = Deploy(DeployCommand(image));
  EXPECT_EQ(r.exit_code, 5) << r.out << r.err;
  EXPECT_THAT(r.out, Not(HasSubstr("deployed")));
  EXPECT_THAT(r.out, HasSubstr("DENY " + std::string(kFooTarGz)));
  // The developer sees the reason and the chain from the revoked root.
  EXPECT_THAT(r.err, HasSubstr("not deploying " + image));
  EXPECT_THAT(r.err, HasSubstr(std::string(kFooTarGz) + " is DENIED"));
  EXPECT_THAT(r.err, HasSubstr(kReason));
  EXPECT_THAT(r.err, HasSubstr("root         " + std::string(kFooPy)));
  EXPECT_THAT(r.err, HasSubstr("--derived--> " + std::string(kFooTarGz)));

  // The revoked root itself is refused too.
  ProcessResult root = Deploy(DeployCommand(kFooPy));
  EXPECT_EQ(root.exit_code, 5) << root.out << root.err;
  EXPECT_THAT(root.out, Not(HasSubstr("deployed")));
}

TEST_F(GateExampleTest, DeployScriptFailsClosedWithoutADatabase) {
  ProcessResult r = Deploy(DeployCommand(kFooTarGz), dir_ + "/no-such-db");
  EXPECT_NE(r.exit_code, 0) << r.out << r.err;
  EXPECT_THAT(r.out, Not(HasSubstr("deployed")));
  EXPECT_THAT(r.err, HasSubstr("fail closed"));
}

TEST_F(GateExampleTest, DeployScriptFailsClosedWhenLineageIsMissing) {
  std::vector<std::string> argv = {"/bin/bash", kDeployScript, kFooTarGz, "/bin/echo", "deployed"};
  ProcessResult r =
      RunProcess(argv, "", {"LINEAGE=" + dir_ + "/no-such-binary", "LINEAGE_DB=" + db_});
  EXPECT_NE(r.exit_code, 0) << r.out << r.err;
  EXPECT_THAT(r.out, Not(HasSubstr("deployed")));
}

TEST_F(GateExampleTest, DeployScriptRefusesAnImageNotPinnedByDigest) {
  ProcessResult r = Deploy(DeployCommand("registry.example.com/demo/foo:latest"));
  EXPECT_EQ(r.exit_code, 2) << r.out << r.err;
  EXPECT_THAT(r.out, Not(HasSubstr("deployed")));
  EXPECT_THAT(r.err, HasSubstr("not pinned by digest"));
}

TEST_F(GateExampleTest, DeployScriptDeniesUnknownDigestsByDefault) {
  std::string unknown = "sha256:" + std::string(64, 'a');
  ProcessResult r = Deploy(DeployCommand(unknown));
  EXPECT_EQ(r.exit_code, 5) << r.out << r.err;
  EXPECT_THAT(r.out, Not(HasSubstr("deployed")));

  std::vector<std::string> argv = {"/bin/bash", kDeployScript, unknown, "/bin/echo", "deployed"};
  ProcessResult warn = RunProcess(
      argv, "",
      {std::string("LINEAGE=") + LINEAGE_CLI_PATH, "LINEAGE_DB=" + db_, "LINEAGE_UNKNOWN=warn"});
  EXPECT_EQ(warn.exit_code, 0) << warn.out << warn.err;
  EXPECT_THAT(warn.out, HasSubstr("deployed"));
  EXPECT_THAT(warn.err, HasSubstr("warning: "));
}

TEST_F(GateExampleTest, OpaExportHoldsTheDenyListUnderLineageDenyList) {
  RevokeFooPy();
  ProcessResult r = Lineage({"deny-list", "export", "--format", "opa"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  simdjson::dom::element doc = Json(r.out);
  simdjson::dom::object root = doc.get_object();
  ASSERT_EQ(root.size(), 1u) << r.out;
  simdjson::dom::element deny_list = doc["lineage"]["deny_list"];
  EXPECT_EQ(uint64_t(deny_list["seq"]), 1u);
  EXPECT_FALSE(std::string_view(deny_list["generated_at"]).empty());
  simdjson::dom::object digests = deny_list["digests"].get_object();
  EXPECT_TRUE(bool(digests[kFooPy])) << r.out;
  EXPECT_TRUE(bool(digests[kFooTarGz])) << r.out;
  for (auto [digest, value] : digests) {
    EXPECT_EQ(digest.substr(0, 7), "sha256:");
    EXPECT_TRUE(bool(value));
  }

  // The json format lists the same digests, sorted, under the same sequence.
  ProcessResult plain = Lineage({"deny-list", "export", "--format", "json"});
  ASSERT_EQ(plain.exit_code, 0) << plain.err;
  size_t opa_digests = digests.size();
  simdjson::dom::element list = Json(plain.out);
  EXPECT_EQ(uint64_t(list["seq"]), 1u);
  std::vector<std::string> listed;
  for (simdjson::dom::element d : list["digests"].get_array())
    listed.emplace_back(std::string_view(d));
  EXPECT_EQ(listed.size(), opa_digests);
  EXPECT_TRUE(std::is_sorted(listed.begin(), listed.end()));
  EXPECT_THAT(listed, ::testing::Contains(kFooTarGz));

  // --out writes the same document to a file, as the sync jobs use it.
  std::string out = dir_ + "/deny-list.json";
  ProcessResult written = Lineage({"deny-list", "export", "--format", "opa", "--out", out});
  ASSERT_EQ(written.exit_code, 0) << written.err;
  EXPECT_THAT(written.out, HasSubstr("seq 1"));
  simdjson::dom::element file = Json(ReadFile(out));
  EXPECT_EQ(uint64_t(file["lineage"]["deny_list"]["seq"]), 1u);
  EXPECT_TRUE(bool(file["lineage"]["deny_list"]["digests"][kFooTarGz]));
}

TEST_F(GateExampleTest, OpaExportOfAnEmptyDenyListHasSequenceZero) {
  ProcessResult r = Lineage({"deny-list", "export", "--format", "opa"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  simdjson::dom::element deny_list = Json(r.out)["lineage"]["deny_list"];
  EXPECT_EQ(uint64_t(deny_list["seq"]), 0u);
  EXPECT_EQ(deny_list["digests"].get_object().size(), 0u);
}

// docs/gates.md shows each example file whole; a change to one must reach the
// page (regenerate the block from the file).
TEST(GateExampleDocTest, GatesPageShowsEveryExampleFileAsItIs) {
  std::string page = ReadFile(std::string(LINEAGE_SOURCE_DIR) + "/docs/gates.md");
  size_t files = 0;
  for (const fs::directory_entry& entry :
       fs::directory_iterator(std::string(LINEAGE_SOURCE_DIR) + "/tools/gates")) {
    if (!entry.is_regular_file()) continue;
    ++files;
    std::string name = "tools/gates/" + entry.path().filename().string();
    EXPECT_THAT(page, HasSubstr("`" + name + "`:\n\n```")) << name << " is not shown";
    EXPECT_THAT(page, HasSubstr("\n" + ReadFile(entry.path().string()) + "```\n"))
        << name << " differs from its copy in docs/gates.md";
  }
  EXPECT_GE(files, 5u);
}

}  // namespace
}  // namespace lineage
