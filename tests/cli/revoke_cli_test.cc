// Integration tests of the revocation commands: the real `lineage` binary on a
// temporary database. Graphs come from unsigned SLSA statements written here
// (ingested with --allow-unsigned) and, for key revocation, from the signed
// samples under samples/.
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <memory>
#include <string>
#include <vector>

#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <simdjson.h>

#include "absl/time/clock.h"

#include "engine/include/lineage/store.h"
#include "tests/cli/cli_fixture.h"
#include "tests/cli/subprocess.h"

namespace lineage {
namespace {

namespace fs = std::filesystem;
using ::lineage::testing::ProcessResult;
using ::lineage::testing::ReadFile;
using ::lineage::testing::RunProcess;
using ::lineage::testing::WriteFile;
using ::testing::HasSubstr;
using ::testing::Not;
using ::testing::StartsWith;

const std::string kSamples = std::string(LINEAGE_SOURCE_DIR) + "/samples";

// foo.py and foo.tar.gz of the in-toto demo (write-code -> package).
constexpr char kFooPy[] = "sha256:74dc3727c6e89308b39e4dfedf787e37841198b1fa165a27c013544a60502549";

constexpr char kBuilderA[] = "https://ci.example/builder-a";
constexpr char kBuilderB[] = "https://ci.example/builder-b";

// A distinct artifact digest per number.
std::string Hex(int n) {
  char buf[65];
  std::snprintf(buf, sizeof buf, "%064x", 0x1000 + n);
  return buf;
}
std::string D(int n) {
  return "sha256:" + Hex(n);
}

// An unsigned in-toto Statement v1 with an SLSA v1 predicate: `subject`
// built by `builder` from `materials`.
std::string Statement(int subject, const std::vector<int>& materials, const std::string& builder) {
  std::string deps;
  for (int m : materials) {
    if (!deps.empty()) deps += ",";
    deps += "{\"uri\":\"m" + std::to_string(m) + "\",\"digest\":{\"sha256\":\"" + Hex(m) + "\"}}";
  }
  return "{\"_type\":\"https://in-toto.io/Statement/v1\","
         "\"subject\":[{\"name\":\"s" +
         std::to_string(subject) + "\",\"digest\":{\"sha256\":\"" + Hex(subject) +
         "\"}}],"
         "\"predicateType\":\"https://slsa.dev/provenance/v1\","
         "\"predicate\":{\"buildDefinition\":{\"buildType\":\"https://ci.example/t\","
         "\"resolvedDependencies\":[" +
         deps +
         "]},"
         "\"runDetails\":{\"builder\":{\"id\":\"" +
         builder + "\"},\"metadata\":{\"finishedOn\":\"2026-01-02T03:04:05Z\"}}}}";
}

// The absolute path of `dot` on PATH, or "" when graphviz is not installed.
std::string FindDot() {
  const char* path = std::getenv("PATH");
  std::string dirs = path != nullptr ? path : "/usr/bin:/bin";
  size_t start = 0;
  while (start <= dirs.size()) {
    size_t end = dirs.find(':', start);
    if (end == std::string::npos) end = dirs.size();
    fs::path candidate = fs::path(dirs.substr(start, end - start)) / "dot";
    if (!candidate.parent_path().empty() && fs::exists(candidate)) return candidate.string();
    start = end + 1;
  }
  return "";
}

class RevokeCliTest : public testing::CliFixture {
 protected:
  RevokeCliTest() : CliFixture("lineage-revoke-cli-") {}

  // The test's env entries, no stdin.
  ProcessResult Lineage(std::vector<std::string> args, const std::vector<std::string>& env = {}) {
    return CliFixture::Lineage(std::move(args), "", env);
  }

  void IngestStatement(int subject, const std::vector<int>& materials,
                       const std::string& builder = kBuilderA) {
    std::string path = dir_ + "/s" + std::to_string(subject) + ".json";
    WriteFile(path, Statement(subject, materials, builder));
    ProcessResult r = Lineage({"ingest", "--allow-unsigned", path});
    ASSERT_EQ(r.exit_code, 0) << r.out << r.err;
  }

  // D1 -> D2 -> D3 by builder A; D11 -> D10 by builder B, unrelated.
  void BuildGraph() {
    IngestStatement(2, {1});
    IngestStatement(3, {2});
    IngestStatement(10, {11}, kBuilderB);
  }

  // Revokes `digest` at once (small closure) and expects success.
  void RevokeDigest(const std::string& digest, const std::string& reason = "INC-1: bad base") {
    ProcessResult r = Lineage({"revoke", "--digest", digest, "--reason", reason, "--as", "alice"});
    ASSERT_EQ(r.exit_code, 0) << r.out << r.err;
  }
};

std::string Str(simdjson::dom::element e) {
  return std::string(std::string_view(e));
}

std::vector<std::string> Strings(simdjson::dom::element array) {
  std::vector<std::string> out;
  for (simdjson::dom::element e : array.get_array())
    out.emplace_back(std::string_view(e));
  return out;
}

TEST_F(RevokeCliTest, DryRunPrintsThePlanAndDeniesNothing) {
  BuildGraph();
  ProcessResult r = Lineage(
      {"revoke", "--digest", D(1), "--reason", "INC-1: bad base", "--dry-run", "--as", "alice"});
  ASSERT_EQ(r.exit_code, 0) << r.out << r.err;
  EXPECT_THAT(r.out, StartsWith("plan       "));
  EXPECT_THAT(r.out, HasSubstr("dry run: nothing was denied"));
  EXPECT_THAT(r.out, HasSubstr("closure    3 artifacts"));
  EXPECT_THAT(r.out, HasSubstr("by depth   0:1  1:1  2:1"));
  EXPECT_THAT(r.out, HasSubstr("bulk       no"));
  EXPECT_THAT(r.out, HasSubstr(D(3)));
  EXPECT_THAT(r.out, HasSubstr(" enforce "));

  ProcessResult json = Lineage({"revoke", "--digest", D(1), "--reason", "INC-1: bad base",
                                "--dry-run", "--as", "alice", "--json"});
  ASSERT_EQ(json.exit_code, 0) << json.err;
  simdjson::dom::element doc = Json(json);
  EXPECT_TRUE(bool(doc["dry_run"]));
  EXPECT_EQ(std::string_view(doc["status"]), "planned");
  simdjson::dom::element plan = doc["plan"];
  EXPECT_EQ(std::string_view(plan["id"]).size(), 64u);
  EXPECT_EQ(uint64_t(plan["artifact_count"]), 3u);
  EXPECT_FALSE(bool(plan["bulk"]));
  EXPECT_EQ(uint64_t(plan["per_root"].at(0)["artifacts"]), 3u);
  EXPECT_EQ(std::string_view(plan["per_root"].at(0)["kind"]), "artifact");
  EXPECT_EQ(plan["artifacts_by_depth"].get_array().size(), 3u);

  ProcessResult check = Lineage({"check", D(3)});
  EXPECT_EQ(check.exit_code, 0) << check.out << check.err;
  EXPECT_THAT(check.out, StartsWith("ALLOW"));
  ProcessResult deny = Lineage({"deny-list", "--json"});
  ASSERT_EQ(deny.exit_code, 0) << deny.err;
  EXPECT_EQ(Json(deny)["deltas"].get_array().size(), 0u);
}

TEST_F(RevokeCliTest, SmallDigestRevokeEnforcesAtOnce) {
  BuildGraph();
  ProcessResult r =
      Lineage({"revoke", "--digest", D(1), "--reason", "INC-1: bad base", "--as", "alice"});
  ASSERT_EQ(r.exit_code, 0) << r.out << r.err;
  EXPECT_THAT(r.out, HasSubstr("enforced   rev-1"));
  EXPECT_THAT(r.out, HasSubstr("3 digests newly denied; deny-list seq 1"));

  for (const std::string& denied : {D(1), D(3)}) {
    ProcessResult check = Lineage({"check", denied});
    EXPECT_EQ(check.exit_code, 5) << check.out << check.err;
    EXPECT_THAT(check.out, StartsWith("DENY " + denied));
    EXPECT_THAT(check.out, HasSubstr("rev-1  INC-1: bad base"));
  }
  ProcessResult unrelated = Lineage({"check", D(10)});
  EXPECT_EQ(unrelated.exit_code, 0) << unrelated.out << unrelated.err;
  EXPECT_THAT(unrelated.out, StartsWith("ALLOW"));

  ProcessResult json = Lineage({"check", D(2), "--json"});
  EXPECT_EQ(json.exit_code, 5);
  simdjson::dom::element doc = Json(json);
  EXPECT_EQ(std::string_view(doc["verdict"]), "DENY");
  EXPECT_EQ(std::string_view(doc["denied_by"].at(0)["id"]), "rev-1");
  EXPECT_EQ(std::string_view(doc["denied_by"].at(0)["reason"]), "INC-1: bad base");
}

TEST_F(RevokeCliTest, KeyRevokeIsBulkAndNeedsTwoApproversOtherThanTheEnforcer) {
  ASSERT_EQ(IngestSamples().exit_code, 0);
  ProcessResult anc = Lineage({"ancestors", kFooPy, "--json", "--kinds", "signed"});
  ASSERT_EQ(anc.exit_code, 0) << anc.err;
  std::string key = Str(Json(anc)["nodes"].at(0)["ref"]);
  ASSERT_THAT(key, StartsWith("key:"));

  ProcessResult r =
      Lineage({"revoke", "--key", key, "--reason", "INC-2: key leaked", "--as", "alice", "--json"});
  ASSERT_EQ(r.exit_code, 6) << r.out << r.err;
  EXPECT_THAT(r.err, HasSubstr("needs approvals"));
  simdjson::dom::element doc = Json(r);
  EXPECT_EQ(std::string_view(doc["status"]), "needs_approval");
  EXPECT_TRUE(bool(doc["plan"]["bulk"]));
  EXPECT_GE(uint64_t(doc["plan"]["per_root"].at(0)["subjects"]), 1u);
  std::string id = Str(doc["plan"]["id"]);
  EXPECT_EQ(Lineage({"check", kFooPy}).exit_code, 0);

  ProcessResult bob = Lineage({"approve", id, "--as", "bob"});
  ASSERT_EQ(bob.exit_code, 0) << bob.out << bob.err;
  EXPECT_THAT(bob.out, HasSubstr("approved   plan " + id + " as bob"));
  ProcessResult twice = Lineage({"approve", id, "--as", "bob"});
  EXPECT_EQ(twice.exit_code, 6) << twice.out << twice.err;

  ProcessResult one = Lineage({"enforce", id, "--as", "carol"});
  EXPECT_EQ(one.exit_code, 6) << one.out << one.err;
  EXPECT_THAT(one.err, HasSubstr("lineage enforce: "));

  // alice approves too, but as the enforcer her own approval does not count.
  ASSERT_EQ(Lineage({"approve", id, "--as", "alice"}).exit_code, 0);
  ProcessResult own = Lineage({"enforce", id, "--as", "alice"});
  EXPECT_EQ(own.exit_code, 6) << own.out << own.err;
  EXPECT_EQ(Lineage({"check", kFooPy}).exit_code, 0);

  ProcessResult done = Lineage({"enforce", id, "--as", "carol"});
  ASSERT_EQ(done.exit_code, 0) << done.out << done.err;
  EXPECT_THAT(done.out, HasSubstr("enforced   rev-1"));
  EXPECT_EQ(Lineage({"check", kFooPy}).exit_code, 5);

  ProcessResult again = Lineage({"enforce", id, "--as", "carol"});
  EXPECT_EQ(again.exit_code, 6) << again.out << again.err;
}

TEST_F(RevokeCliTest, BuilderRevokeIsBulk) {
  BuildGraph();
  ProcessResult r =
      Lineage({"revoke", "--builder", kBuilderB, "--reason", "INC-3: runner owned", "--as", "a"});
  EXPECT_EQ(r.exit_code, 6) << r.out << r.err;
  EXPECT_THAT(r.out, HasSubstr("builder:" + std::string(kBuilderB)));
  EXPECT_THAT(r.out, HasSubstr(" approve "));
  EXPECT_EQ(Lineage({"check", D(10)}).exit_code, 0);
}

TEST_F(RevokeCliTest, ClosureChangeBetweenPlanAndEnforceIsReportedAndCanBeAccepted) {
  BuildGraph();
  ProcessResult plan = Lineage(
      {"revoke", "--digest", D(1), "--reason", "INC-4", "--dry-run", "--as", "alice", "--json"});
  ASSERT_EQ(plan.exit_code, 0) << plan.err;
  std::string id = Str(Json(plan)["plan"]["id"]);
  IngestStatement(4, {3});

  ProcessResult changed = Lineage({"enforce", id, "--as", "alice"});
  EXPECT_EQ(changed.exit_code, 6) << changed.out << changed.err;
  EXPECT_THAT(changed.err, HasSubstr("closure changed"));
  EXPECT_THAT(changed.out, HasSubstr("artifacts  +1 -0"));
  EXPECT_THAT(changed.out, HasSubstr("+" + D(4)));
  EXPECT_THAT(changed.out, HasSubstr("--accept-changes"));
  EXPECT_THAT(changed.out, HasSubstr("revoke --digest " + D(1)));
  EXPECT_EQ(Lineage({"check", D(1)}).exit_code, 0);

  ProcessResult json = Lineage({"enforce", id, "--as", "alice", "--json"});
  EXPECT_EQ(json.exit_code, 6);
  simdjson::dom::element doc = Json(json);
  EXPECT_FALSE(bool(doc["enforced"]));
  EXPECT_EQ(uint64_t(doc["change"]["added"]), 1u);
  EXPECT_EQ(Strings(doc["change"]["added_sample"]), std::vector<std::string>{D(4)});

  ProcessResult accepted = Lineage({"enforce", id, "--as", "alice", "--accept-changes"});
  ASSERT_EQ(accepted.exit_code, 0) << accepted.out << accepted.err;
  EXPECT_THAT(accepted.out, HasSubstr("enforced   rev-1"));
  EXPECT_EQ(Lineage({"check", D(4)}).exit_code, 5);
}

TEST_F(RevokeCliTest, LiftReleasesWhatNoOtherRevocationCovers) {
  BuildGraph();
  RevokeDigest(D(1), "INC-5: base");
  RevokeDigest(D(2), "INC-6: app");

  ProcessResult lift =
      Lineage({"lift", "rev-1", "--reason", "false alarm", "--as", "bob", "--json"});
  ASSERT_EQ(lift.exit_code, 0) << lift.out << lift.err;
  simdjson::dom::element doc = Json(lift);
  EXPECT_EQ(uint64_t(doc["released"]), 1u);
  EXPECT_EQ(uint64_t(doc["still_covered"]), 2u);
  EXPECT_EQ(std::string_view(doc["revocation"]["state"]), "lifted");
  EXPECT_EQ(std::string_view(doc["revocation"]["lifted_by"]), "bob");

  EXPECT_EQ(Lineage({"check", D(1)}).exit_code, 0);
  ProcessResult still = Lineage({"check", D(3), "--json"});
  EXPECT_EQ(still.exit_code, 5);
  EXPECT_EQ(std::string_view(Json(still)["denied_by"].at(0)["id"]), "rev-2");

  ProcessResult active = Lineage({"revocations"});
  ASSERT_EQ(active.exit_code, 0) << active.err;
  EXPECT_THAT(active.out, HasSubstr("rev-2"));
  EXPECT_THAT(active.out, Not(HasSubstr("rev-1 ")));
  ProcessResult all = Lineage({"revocations", "--all", "--json"});
  ASSERT_EQ(all.exit_code, 0);
  EXPECT_EQ(Json(all)["revocations"].get_array().size(), 2u);

  ProcessResult twice = Lineage({"lift", "rev-1", "--reason", "again", "--as", "bob"});
  EXPECT_EQ(twice.exit_code, 6) << twice.out << twice.err;
  ProcessResult unknown = Lineage({"lift", "rev-99", "--reason", "x", "--as", "bob"});
  EXPECT_EQ(unknown.exit_code, 3) << unknown.out << unknown.err;
}

TEST_F(RevokeCliTest, AdvisoryRevocationAllowsAndIsListed) {
  BuildGraph();
  ProcessResult r = Lineage(
      {"revoke", "--digest", D(10), "--reason", "CVE-1: watch", "--advisory", "--as", "alice"});
  ASSERT_EQ(r.exit_code, 0) << r.out << r.err;
  ProcessResult check = Lineage({"check", D(10)});
  EXPECT_EQ(check.exit_code, 0) << check.out << check.err;
  EXPECT_THAT(check.out, StartsWith("ALLOW"));
  EXPECT_THAT(check.out, HasSubstr("advisory   rev-1  CVE-1: watch"));
  ProcessResult json = Lineage({"check", D(10), "--json"});
  simdjson::dom::element doc = Json(json);
  EXPECT_EQ(std::string_view(doc["advisories"].at(0)["id"]), "rev-1");
  EXPECT_EQ(doc["denied_by"].get_array().size(), 0u);
}

TEST_F(RevokeCliTest, AdvisoryOnlySettingAllowsAndPublishesTheRemoval) {
  BuildGraph();
  RevokeDigest(D(1));
  EXPECT_EQ(Lineage({"settings", "--advisory-only", "on", "--reason", "rollback"}).exit_code, 2);
  EXPECT_EQ(Lineage({"settings", "--advisory-only", "on", "--as", "root"}).exit_code, 2);
  ProcessResult on = Lineage(
      {"settings", "--advisory-only", "on", "--as", "root", "--reason", "rollback", "--json"});
  ASSERT_EQ(on.exit_code, 0) << on.out << on.err;
  EXPECT_TRUE(bool(Json(on)["advisory_only"]));
  ProcessResult show = Lineage({"settings"});
  EXPECT_THAT(show.out, HasSubstr("advisory-only   on"));

  ProcessResult check = Lineage({"check", D(2), "--json"});
  EXPECT_EQ(check.exit_code, 0) << check.out << check.err;
  EXPECT_TRUE(bool(Json(check)["advisory_only"]));

  ProcessResult deny = Lineage({"deny-list", "--json"});
  ASSERT_EQ(deny.exit_code, 0) << deny.err;
  simdjson::dom::element doc = Json(deny);
  EXPECT_EQ(uint64_t(doc["head_seq"]), 2u);
  simdjson::dom::element last = doc["deltas"].at(1);
  EXPECT_EQ(uint64_t(last["seq"]), 2u);
  EXPECT_THAT(std::string(std::string_view(last["cause"])), HasSubstr("settings"));
  EXPECT_THAT(Strings(last["removed"]), ::testing::UnorderedElementsAre(D(1), D(2), D(3)));
}

TEST_F(RevokeCliTest, ChildIngestedAfterEnforcementIsDenied) {
  BuildGraph();
  RevokeDigest(D(1));
  IngestStatement(5, {3});
  ProcessResult check = Lineage({"check", D(5)});
  EXPECT_EQ(check.exit_code, 5) << check.out << check.err;
  EXPECT_THAT(check.out, HasSubstr("rev-1"));
  ProcessResult deny = Lineage({"deny-list", "--since", "1"});
  ASSERT_EQ(deny.exit_code, 0) << deny.err;
  EXPECT_THAT(deny.out, StartsWith("2 "));
  EXPECT_THAT(deny.out, HasSubstr("\n+" + D(5) + "\n"));
}

TEST_F(RevokeCliTest, DigestCanBeRevokedBeforeAnyAttestationNamesIt) {
  BuildGraph();
  ProcessResult r =
      Lineage({"revoke", "--digest", D(50), "--reason", "CVE-2: pre-emptive", "--as", "alice"});
  ASSERT_EQ(r.exit_code, 0) << r.out << r.err;
  EXPECT_EQ(Lineage({"check", D(50), "--unknown", "allow"}).exit_code, 5);
  IngestStatement(51, {50});
  ProcessResult child = Lineage({"check", D(51)});
  EXPECT_EQ(child.exit_code, 5) << child.out << child.err;
  ProcessResult why = Lineage({"why", D(51)});
  EXPECT_THAT(why.out, HasSubstr("--derived--> " + D(51)));
}

TEST_F(RevokeCliTest, WhyShowsTheChainWithAttestations) {
  BuildGraph();
  RevokeDigest(D(1));
  ProcessResult why = Lineage({"why", D(3)});
  ASSERT_EQ(why.exit_code, 0) << why.out << why.err;
  EXPECT_THAT(why.out, StartsWith(D(3) + " is DENIED"));
  EXPECT_THAT(why.out, HasSubstr("reason 1: rev-1 (enforce, denies)"));
  EXPECT_THAT(why.out, HasSubstr("root         " + D(1)));
  EXPECT_THAT(why.out, HasSubstr("enforced by  alice"));
  EXPECT_THAT(why.out, HasSubstr("--derived--> " + D(2) + "  attestation "));
  EXPECT_THAT(why.out, HasSubstr("--derived--> " + D(3) + "  attestation "));
  EXPECT_THAT(why.out, HasSubstr("signed by unsigned"));

  ProcessResult json = Lineage({"why", D(3), "--json"});
  ASSERT_EQ(json.exit_code, 0) << json.err;
  simdjson::dom::element doc = Json(json);
  EXPECT_EQ(std::string_view(doc["verdict"]), "DENY");
  simdjson::dom::element reason = doc["reasons"].at(0);
  EXPECT_EQ(std::string_view(reason["revocation"]["id"]), "rev-1");
  EXPECT_TRUE(bool(reason["denies"]));
  simdjson::dom::array chain = reason["chain"];
  ASSERT_EQ(chain.size(), 2u);
  EXPECT_EQ(std::string_view(chain.at(0)["from"]), D(1));
  EXPECT_EQ(std::string_view(chain.at(0)["kind"]), "derived");
  EXPECT_EQ(std::string_view(chain.at(1)["to"]), D(3));
  EXPECT_EQ(std::string_view(chain.at(1)["attestation"]).size(), 64u);
  // The human form abbreviates the attestation id to its first 12 digits.
  std::string attestation = Str(chain.at(1)["attestation"]);
  EXPECT_THAT(why.out, HasSubstr("attestation " + attestation.substr(0, 12) + "  "));

  ProcessResult promotable = Lineage({"why", D(10)});
  ASSERT_EQ(promotable.exit_code, 0) << promotable.err;
  EXPECT_THAT(promotable.out, HasSubstr("is promotable"));
  EXPECT_THAT(promotable.out, HasSubstr("built by     builder:" + std::string(kBuilderB)));
  EXPECT_THAT(promotable.out, HasSubstr("materials    " + D(11)));

  EXPECT_EQ(Lineage({"why", "builder:x"}).exit_code, 2);
  EXPECT_EQ(Lineage({"why", D(3), "--json", "--dot"}).exit_code, 2);
}

TEST_F(RevokeCliTest, WhyDotPrintsADigraphOfTheChains) {
  BuildGraph();
  RevokeDigest(D(1), "INC-7: \"quoted\" reason");
  ProcessResult dot = Lineage({"why", D(3), "--dot"});
  ASSERT_EQ(dot.exit_code, 0) << dot.out << dot.err;
  EXPECT_THAT(dot.out, StartsWith("digraph lineage_why {\n"));
  EXPECT_THAT(dot.out, HasSubstr("\"" + D(1) + "\" -> \"" + D(2) + "\""));
  EXPECT_THAT(dot.out, HasSubstr("\"" + D(2) + "\" -> \"" + D(3) + "\""));
  EXPECT_THAT(dot.out, HasSubstr("\"rev-1\" -> \"" + D(1) + "\""));
  EXPECT_THAT(dot.out, HasSubstr("\\\"quoted\\\""));
  EXPECT_THAT(dot.out, ::testing::EndsWith("}\n"));
}

TEST_F(RevokeCliTest, WhyDotParsesWithGraphviz) {
  std::string dot_binary = FindDot();
  if (dot_binary.empty()) GTEST_SKIP() << "graphviz `dot` is not installed";
  BuildGraph();
  RevokeDigest(D(1), "INC-7: \"quoted\" \\ reason");
  ProcessResult dot = Lineage({"why", D(3), "--dot"});
  ASSERT_EQ(dot.exit_code, 0) << dot.err;
  ProcessResult svg = RunProcess({dot_binary, "-Tsvg"}, dot.out);
  EXPECT_EQ(svg.exit_code, 0) << svg.err << dot.out;
  EXPECT_THAT(svg.out, HasSubstr("<svg"));
  EXPECT_THAT(svg.err, Not(HasSubstr("syntax error"))) << dot.out;
}

TEST_F(RevokeCliTest, DenyListPrintsDeltasWithSequenceNumbers) {
  BuildGraph();
  RevokeDigest(D(1));
  RevokeDigest(D(10));
  ASSERT_EQ(Lineage({"lift", "rev-1", "--reason", "fixed", "--as", "bob"}).exit_code, 0);

  ProcessResult human = Lineage({"deny-list"});
  ASSERT_EQ(human.exit_code, 0) << human.err;
  EXPECT_THAT(human.out, StartsWith("1 "));
  EXPECT_THAT(human.out, HasSubstr(" enforce rev-1\n+"));
  EXPECT_THAT(human.out, HasSubstr("\n+" + D(1) + "\n"));
  EXPECT_THAT(human.out, HasSubstr(" lift rev-1\n-"));
  EXPECT_THAT(human.out, HasSubstr("\n-" + D(1) + "\n"));

  ProcessResult json = Lineage({"deny-list", "--json"});
  simdjson::dom::element doc = Json(json);
  EXPECT_EQ(uint64_t(doc["head_seq"]), 3u);
  simdjson::dom::array deltas = doc["deltas"];
  ASSERT_EQ(deltas.size(), 3u);
  for (uint64_t i = 0; i < 3; ++i)
    EXPECT_EQ(uint64_t(deltas.at(i)["seq"]), i + 1);
  EXPECT_THAT(Strings(deltas.at(0)["added"]), ::testing::UnorderedElementsAre(D(1), D(2), D(3)));
  EXPECT_EQ(std::string_view(deltas.at(1)["cause"]), "enforce rev-2");
  EXPECT_THAT(Strings(deltas.at(2)["removed"]), ::testing::UnorderedElementsAre(D(1), D(2), D(3)));

  ProcessResult since = Lineage({"deny-list", "--since", "2", "--json"});
  simdjson::dom::element tail = Json(since);
  ASSERT_EQ(tail["deltas"].get_array().size(), 1u);
  EXPECT_EQ(uint64_t(tail["deltas"].at(0)["seq"]), 3u);
  EXPECT_EQ(uint64_t(tail["head_seq"]), 3u);
}

TEST_F(RevokeCliTest, ExportWritesJsonAndOpaSnapshots) {
  BuildGraph();
  RevokeDigest(D(1));

  ProcessResult json = Lineage({"deny-list", "export", "--format", "json"});
  ASSERT_EQ(json.exit_code, 0) << json.err;
  simdjson::dom::element doc = Json(json);
  EXPECT_EQ(uint64_t(doc["seq"]), 1u);
  EXPECT_THAT(std::string(std::string_view(doc["generated_at"])), StartsWith("20"));
  EXPECT_THAT(Strings(doc["digests"]), ::testing::ElementsAre(D(1), D(2), D(3)));

  std::string out = dir_ + "/gate/deny.opa.json";
  fs::create_directories(dir_ + "/gate");
  ProcessResult opa = Lineage({"deny-list", "export", "--format", "opa", "--out", out});
  ASSERT_EQ(opa.exit_code, 0) << opa.out << opa.err;
  EXPECT_THAT(opa.out, HasSubstr(out));
  simdjson::dom::parser parser;
  std::string text = ReadFile(out);
  simdjson::dom::element data;
  ASSERT_EQ(parser.parse(text).get(data), simdjson::SUCCESS) << text;
  simdjson::dom::element deny_list = data["lineage"]["deny_list"];
  EXPECT_EQ(uint64_t(deny_list["seq"]), 1u);
  for (const std::string& d : {D(1), D(2), D(3)}) {
    EXPECT_TRUE(bool(deny_list["digests"][d])) << d;
  }
  EXPECT_EQ(deny_list["digests"][D(10)].error(), simdjson::NO_SUCH_FIELD);
  // No temporary file is left beside the output.
  size_t files = 0;
  for ([[maybe_unused]] const auto& entry : fs::directory_iterator(dir_ + "/gate"))
    ++files;
  EXPECT_EQ(files, 1u);

  EXPECT_EQ(Lineage({"deny-list", "export", "--format", "xml"}).exit_code, 2);
  EXPECT_EQ(Lineage({"deny-list", "export"}).exit_code, 2);
}

TEST_F(RevokeCliTest, EvidenceOutWritesTheRecordsWithTheClosure) {
  BuildGraph();
  RevokeDigest(D(1));
  std::string out = dir_ + "/evidence";
  ProcessResult r = Lineage({"evidence", "rev-1", "--out", out});
  ASSERT_EQ(r.exit_code, 0) << r.out << r.err;
  std::string path = out + "/rev-1.evidence.json";
  EXPECT_EQ(r.out, path + "\n");
  std::string text = ReadFile(path);
  simdjson::dom::parser parser;
  simdjson::dom::element doc;
  ASSERT_EQ(parser.parse(text).get(doc), simdjson::SUCCESS) << text;
  EXPECT_EQ(std::string_view(doc["subject"]), "rev-1");
  bool enforce = false;
  for (simdjson::dom::element record : doc["records"].get_array()) {
    if (std::string_view(record["action"]) != "enforce") continue;
    enforce = true;
    EXPECT_EQ(std::string_view(record["actor"]), "alice");
    EXPECT_EQ(std::string_view(record["revocation"]), "rev-1");
    EXPECT_THAT(Strings(record["artifacts"]), ::testing::UnorderedElementsAre(D(1), D(2), D(3)));
    EXPECT_EQ(uint64_t(record["deny_seq"]), 1u);
  }
  EXPECT_TRUE(enforce) << text;

  ProcessResult stdout_json = Lineage({"evidence", "rev-1"});
  ASSERT_EQ(stdout_json.exit_code, 0);
  EXPECT_GE(Json(stdout_json)["records"].get_array().size(), 2u);
  EXPECT_EQ(Lineage({"evidence", "rev-42"}).exit_code, 3);
  EXPECT_EQ(Lineage({"evidence", "../x", "--out", out}).exit_code, 2);
}

TEST_F(RevokeCliTest, AuditVerifiesAndLogsTheChain) {
  BuildGraph();
  RevokeDigest(D(1));
  ASSERT_EQ(Lineage({"lift", "rev-1", "--reason", "fixed", "--as", "bob"}).exit_code, 0);

  ProcessResult verify = Lineage({"audit", "verify"});
  EXPECT_EQ(verify.exit_code, 0) << verify.out << verify.err;
  EXPECT_THAT(verify.out, StartsWith("audit log ok: "));
  EXPECT_THAT(verify.out, HasSubstr("head hash "));
  ProcessResult json = Lineage({"audit", "verify", "--json"});
  EXPECT_EQ(json.exit_code, 0);
  simdjson::dom::element doc = Json(json);
  EXPECT_TRUE(bool(doc["ok"]));
  EXPECT_GE(uint64_t(doc["entries"]), 3u);
  std::string head = Str(doc["head_hash"]);
  EXPECT_EQ(head.size(), 64u);

  ProcessResult log = Lineage({"audit", "log", "--json"});
  ASSERT_EQ(log.exit_code, 0) << log.err;
  simdjson::dom::array entries = Json(log)["entries"];
  ASSERT_GE(entries.size(), 3u);
  EXPECT_EQ(std::string_view(entries.at(0)["prev_hash"]), std::string(64, '0'));
  for (size_t i = 1; i < entries.size(); ++i) {
    EXPECT_EQ(uint64_t(entries.at(i)["seq"]), i + 1);
    EXPECT_EQ(std::string_view(entries.at(i)["prev_hash"]),
              std::string_view(entries.at(i - 1)["hash"]));
  }
  EXPECT_EQ(std::string_view(entries.at(entries.size() - 1)["hash"]), head);

  ProcessResult from = Lineage({"audit", "log", "--from", "2"});
  ASSERT_EQ(from.exit_code, 0);
  EXPECT_THAT(from.out, Not(HasSubstr("\n    1  ")));
  EXPECT_THAT(from.out, HasSubstr("\n    2  "));
}

TEST_F(RevokeCliTest, CheckAtATimeBeforeEnforcementAllows) {
  BuildGraph();
  RevokeDigest(D(1));
  ProcessResult before = Lineage({"check", D(2), "--at", "2020-01-01T00:00:00Z"});
  EXPECT_EQ(before.exit_code, 0) << before.out << before.err;
  EXPECT_THAT(before.out, StartsWith("ALLOW"));
  ProcessResult after = Lineage({"check", D(2), "--at", "2999-01-01T00:00:00Z"});
  EXPECT_EQ(after.exit_code, 5) << after.out << after.err;
  EXPECT_EQ(Lineage({"check", D(2), "--at", "yesterday"}).exit_code, 2);
}

TEST_F(RevokeCliTest, CheckAppliesTheUnknownDigestPolicy) {
  BuildGraph();
  ProcessResult deny = Lineage({"check", D(99), "--unknown", "deny"});
  EXPECT_EQ(deny.exit_code, 5) << deny.out << deny.err;
  EXPECT_THAT(deny.out, StartsWith("DENY"));
  ProcessResult warn = Lineage({"check", D(99)});
  EXPECT_EQ(warn.exit_code, 0) << warn.out << warn.err;
  EXPECT_THAT(warn.err, HasSubstr("warning: "));
  ProcessResult allow = Lineage({"check", D(99), "--unknown", "allow", "--json"});
  EXPECT_EQ(allow.exit_code, 0);
  EXPECT_FALSE(bool(Json(allow)["known"]));
  EXPECT_EQ(Lineage({"check", D(99), "--unknown", "maybe"}).exit_code, 2);
}

TEST_F(RevokeCliTest, CheckRejectsRefsThatAreNotDigests) {
  BuildGraph();
  EXPECT_EQ(Lineage({"check", "builder:" + std::string(kBuilderA)}).exit_code, 2);
  EXPECT_EQ(Lineage({"check", "sha256:abc"}).exit_code, 2);
  ProcessResult nodb = RunProcess({LINEAGE_CLI_PATH, "--db", dir_ + "/none", "check", D(1)});
  EXPECT_EQ(nodb.exit_code, 3) << nodb.err;
  EXPECT_FALSE(fs::exists(dir_ + "/none"));
}

TEST_F(RevokeCliTest, RootsFromFileSkipsCommentsAndNamesTheBadLine) {
  BuildGraph();
  std::string roots = dir_ + "/roots.txt";
  WriteFile(roots, "# incident 8\n\n" + D(1) + "   # the base\n  " + D(10) + "\n");
  ProcessResult r = Lineage({"revoke", "--roots-from", roots, "--reason", "INC-8", "--dry-run",
                             "--as", "alice", "--json"});
  ASSERT_EQ(r.exit_code, 0) << r.out << r.err;
  simdjson::dom::element plan = Json(r)["plan"];
  EXPECT_EQ(plan["per_root"].get_array().size(), 2u);
  EXPECT_EQ(uint64_t(plan["artifact_count"]), 4u);

  WriteFile(roots, D(1) + "\n# ok\nsha256:nothex\n");
  ProcessResult bad =
      Lineage({"revoke", "--roots-from", roots, "--reason", "INC-8", "--dry-run", "--as", "alice"});
  EXPECT_EQ(bad.exit_code, 2);
  EXPECT_THAT(bad.err, HasSubstr(roots + ":3: "));
}

TEST_F(RevokeCliTest, TimeWindowAppliesOnlyToKeyAndBuilderRoots) {
  BuildGraph();
  ProcessResult digest_only = Lineage({"revoke", "--digest", D(1), "--since",
                                       "2026-01-01T00:00:00Z", "--reason", "x", "--as", "a"});
  EXPECT_EQ(digest_only.exit_code, 2);
  EXPECT_THAT(digest_only.err, HasSubstr("--since/--until"));

  // Builder B's only build finished on 2026-01-02: a window ending before it
  // covers nothing.
  ProcessResult early =
      Lineage({"revoke", "--builder", kBuilderB, "--until", "2026-01-01T00:00:00Z", "--reason", "x",
               "--dry-run", "--as", "a", "--json"});
  ASSERT_EQ(early.exit_code, 0) << early.out << early.err;
  simdjson::dom::element plan = Json(early)["plan"];
  EXPECT_EQ(uint64_t(plan["per_root"].at(0)["subjects"]), 0u);
  EXPECT_EQ(std::string_view(plan["roots"].at(0)["until"]), "2026-01-01T00:00:00Z");
  EXPECT_TRUE(plan["roots"].at(0)["since"].is_null());

  ProcessResult covering =
      Lineage({"revoke", "--builder", kBuilderB, "--since", "2026-01-02T00:00:00Z", "--until",
               "2026-01-03T00:00:00Z", "--reason", "x", "--dry-run", "--as", "a", "--json"});
  ASSERT_EQ(covering.exit_code, 0) << covering.err;
  EXPECT_EQ(uint64_t(Json(covering)["plan"]["per_root"].at(0)["subjects"]), 1u);
  EXPECT_EQ(Lineage({"revoke", "--builder", kBuilderB, "--since", "2026-13-01T00:00:00Z",
                     "--reason", "x", "--as", "a"})
                .exit_code,
            2);
}

TEST_F(RevokeCliTest, PrincipalComesFromFlagOrEnvironment) {
  BuildGraph();
  ProcessResult missing = Lineage({"revoke", "--digest", D(1), "--reason", "x", "--dry-run"});
  EXPECT_EQ(missing.exit_code, 2);
  EXPECT_THAT(missing.err, HasSubstr("--as"));
  EXPECT_EQ(Lineage({"approve", std::string(64, 'a')}).exit_code, 2);
  EXPECT_EQ(Lineage({"enforce", std::string(64, 'a')}).exit_code, 2);
  EXPECT_EQ(Lineage({"lift", "rev-1", "--reason", "x"}).exit_code, 2);

  ProcessResult env =
      Lineage({"revoke", "--digest", D(1), "--reason", "x", "--json"}, {"LINEAGE_PRINCIPAL=dana"});
  ASSERT_EQ(env.exit_code, 0) << env.out << env.err;
  EXPECT_EQ(std::string_view(Json(env)["enforce"]["revocation"]["enforced_by"]), "dana");
}

TEST_F(RevokeCliTest, PlansCanBeShownAndListed) {
  BuildGraph();
  ProcessResult r = Lineage(
      {"revoke", "--digest", D(1), "--reason", "INC-9", "--dry-run", "--as", "alice", "--json"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  std::string id = Str(Json(r)["plan"]["id"]);

  ProcessResult show = Lineage({"plan", "show", id, "--list", "1", "--json"});
  ASSERT_EQ(show.exit_code, 0) << show.err;
  simdjson::dom::element plan = Json(show);
  EXPECT_EQ(std::string_view(plan["id"]), id);
  EXPECT_EQ(uint64_t(plan["artifact_count"]), 3u);
  EXPECT_EQ(plan["artifacts"].get_array().size(), 1u);
  EXPECT_EQ(std::string_view(plan["state"]), "pending");

  ProcessResult human = Lineage({"plan", "show", id});
  EXPECT_THAT(human.out, HasSubstr("plan       " + id));
  ProcessResult list = Lineage({"plan", "list", "--json"});
  ASSERT_EQ(list.exit_code, 0) << list.err;
  EXPECT_EQ(std::string_view(Json(list)["plans"].at(0)["id"]), id);
  ProcessResult list_human = Lineage({"plan", "list"});
  EXPECT_THAT(list_human.out, HasSubstr(id + "  pending"));
  EXPECT_EQ(Lineage({"plan", "show", std::string(64, 'f')}).exit_code, 3);
}

TEST_F(RevokeCliTest, BulkThresholdSettingMakesLargeDigestPlansNeedApprovals) {
  BuildGraph();
  ProcessResult set =
      Lineage({"settings", "--bulk-threshold", "2", "--as", "root", "--reason", "tighten review"});
  ASSERT_EQ(set.exit_code, 0) << set.out << set.err;
  EXPECT_THAT(set.out, HasSubstr("bulk-threshold  2"));
  ProcessResult r = Lineage({"revoke", "--digest", D(1), "--reason", "x", "--as", "alice"});
  EXPECT_EQ(r.exit_code, 6) << r.out << r.err;
  ProcessResult small = Lineage({"revoke", "--digest", D(3), "--reason", "x", "--as", "alice"});
  EXPECT_EQ(small.exit_code, 0) << small.out << small.err;
}

TEST_F(RevokeCliTest, AffectedWorkloadsAreReviewedAndReported) {
  BuildGraph();
  {
    // Affected workloads are those a cluster's current inventory runs;
    // written through the engine so that this test does not depend on the
    // inventory commands.
    absl::StatusOr<std::unique_ptr<Store>> store = Store::Open(db_, StoreOptions{});
    ASSERT_TRUE(store.ok()) << store.status();
    InventoryRecord inventory;
    inventory.id = "inventory-prod-1";
    inventory.cluster = "prod";
    inventory.time = absl::Now();
    inventory.runs.push_back({D(3), "workload:prod/web/Deployment/svc"});
    inventory.runs.push_back({D(10), "workload:prod/web/Deployment/other"});
    absl::StatusOr<InventoryOutcome> stored = (*store)->ReplaceInventory(inventory);
    ASSERT_TRUE(stored.ok()) << stored.status();
  }
  ProcessResult plan =
      Lineage({"revoke", "--digest", D(1), "--reason", "INC-10", "--dry-run", "--as", "alice"});
  ASSERT_EQ(plan.exit_code, 0) << plan.out << plan.err;
  EXPECT_THAT(plan.out, HasSubstr("3 artifacts (union of the roots), 1 affected workload"));
  EXPECT_THAT(plan.out, HasSubstr("workloads (1 of 1):\n  workload:prod/web/Deployment/svc\n"));

  ProcessResult r =
      Lineage({"revoke", "--digest", D(1), "--reason", "INC-10", "--as", "alice", "--json"});
  ASSERT_EQ(r.exit_code, 0) << r.out << r.err;
  EXPECT_EQ(Strings(Json(r)["enforce"]["workloads"]),
            std::vector<std::string>{"workload:prod/web/Deployment/svc"});
}

TEST_F(RevokeCliTest, EveryRevocationCommandHasHelp) {
  const std::vector<std::vector<std::string>> commands = {{"revoke"},
                                                          {"plan", "show"},
                                                          {"plan", "list"},
                                                          {"approve"},
                                                          {"enforce"},
                                                          {"lift"},
                                                          {"revocations"},
                                                          {"check"},
                                                          {"why"},
                                                          {"deny-list"},
                                                          {"deny-list", "export"},
                                                          {"evidence"},
                                                          {"audit", "verify"},
                                                          {"audit", "log"},
                                                          {"settings"}};
  for (std::vector<std::string> args : commands) {
    std::string name = args.back();
    args.insert(args.begin(), LINEAGE_CLI_PATH);
    args.push_back("--help");
    ProcessResult r = RunProcess(args);
    EXPECT_EQ(r.exit_code, 0) << name;
    EXPECT_THAT(r.out, HasSubstr("--json")) << name;
  }
  ProcessResult top = RunProcess({LINEAGE_CLI_PATH, "--help"});
  EXPECT_THAT(top.out, HasSubstr("5 denied"));
  EXPECT_THAT(top.out, HasSubstr("7 audit"));
}

}  // namespace
}  // namespace lineage
