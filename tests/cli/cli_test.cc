// Integration tests: the real `lineage` binary on a temporary database, fed
// the real sample attestations under samples/ and tests/data/corpus/.
#include <filesystem>
#include <string>
#include <vector>

#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <simdjson.h>

#include "absl/status/statusor.h"
#include "ingest/include/lineage/ingest/crypto.h"
#include "tests/cli/cli_fixture.h"
#include "tests/cli/subprocess.h"

namespace lineage {
namespace {

using ::lineage::testing::ProcessResult;
using ::lineage::testing::ReadFile;
using ::lineage::testing::RunProcess;
using ::lineage::testing::WriteFile;
using ::testing::HasSubstr;
using ::testing::Not;

const std::string kSamples = std::string(LINEAGE_SOURCE_DIR) + "/samples";
const std::string kCorpus = std::string(LINEAGE_TEST_DATA) + "/corpus";

// foo.py and foo.tar.gz of the in-toto demo (write-code -> package).
constexpr char kFooPy[] = "sha256:74dc3727c6e89308b39e4dfedf787e37841198b1fa165a27c013544a60502549";
constexpr char kFooTarGz[] =
    "sha256:52947cb78b91ad01fe81cd6aef42d1f6817e92b9e6936c1e5aabb7c98514f355";

class CliTest : public testing::CliFixture {
 protected:
  CliTest() : CliFixture("lineage-cli-") {}
};

TEST_F(CliTest, IngestOfSamplesAcceptsEveryFileAndSummarises) {
  ProcessResult r = IngestSamples();
  EXPECT_EQ(r.exit_code, 0) << r.out << r.err;
  EXPECT_THAT(r.out, HasSubstr("accepted   " + kSamples +
                               "/attestations/in-toto__in-toto__write-code.776a00e2.link"));
  // A verdict line starts with the verdict; the summary counts rejections.
  EXPECT_THAT(r.out, Not(HasSubstr("\nrejected ")));
  EXPECT_THAT(r.out, Not(::testing::StartsWith("rejected ")));
  EXPECT_THAT(r.out,
              HasSubstr("summary: 7 files, 8 attestations accepted, 0 already stored, 0 rejected"));
}

TEST_F(CliTest, DescendantsOfDemoSourceReachPackagedTarball) {
  ASSERT_EQ(IngestSamples().exit_code, 0);
  ProcessResult r = Lineage({"descendants", kFooPy, "--json"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  simdjson::dom::element doc = Json(r);
  EXPECT_EQ(std::string_view(doc["root"]), kFooPy);
  EXPECT_EQ(std::string_view(doc["direction"]), "descendants");
  bool found = false;
  for (simdjson::dom::element node : doc["nodes"].get_array()) {
    if (std::string_view(node["ref"]) == kFooTarGz) {
      found = true;
      EXPECT_EQ(uint64_t(node["depth"]), 1u);
      EXPECT_EQ(std::string_view(node["kind"]), "artifact");
    }
  }
  EXPECT_TRUE(found) << r.out;
  EXPECT_EQ(uint64_t(doc["count"]), doc["nodes"].get_array().size());

  ProcessResult human = Lineage({"descendants", kFooPy});
  EXPECT_THAT(human.out, HasSubstr(kFooTarGz));
}

TEST_F(CliTest, AncestorsOfTarballIncludeSourceAndSigners) {
  ASSERT_EQ(IngestSamples().exit_code, 0);
  ProcessResult r = Lineage({"ancestors", kFooTarGz, "--json"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  simdjson::dom::element doc = Json(r);
  bool source = false, key = false;
  for (simdjson::dom::element node : doc["nodes"].get_array()) {
    std::string_view kind = node["kind"];
    if (std::string_view(node["ref"]) == kFooPy) source = true;
    if (kind == "key") key = true;
  }
  EXPECT_TRUE(source) << r.out;
  EXPECT_TRUE(key) << r.out;
}

TEST_F(CliTest, SecondIngestOfSameFilesChangesNothing) {
  ASSERT_EQ(IngestSamples().exit_code, 0);
  std::string before = Lineage({"stats", "--json"}).out;
  ProcessResult again = IngestSamples();
  EXPECT_EQ(again.exit_code, 0) << again.err;
  EXPECT_THAT(again.out, HasSubstr("duplicate"));
  EXPECT_THAT(again.out, HasSubstr("0 new nodes, 0 new edges"));
  std::string after = Lineage({"stats", "--json"}).out;
  // db_bytes may move with compaction; every count must not.
  simdjson::dom::parser p1, p2;
  simdjson::dom::element a = p1.parse(before), b = p2.parse(after);
  EXPECT_EQ(uint64_t(a["nodes"]["total"]), uint64_t(b["nodes"]["total"]));
  EXPECT_EQ(uint64_t(a["edges"]["assertions"]), uint64_t(b["edges"]["assertions"]));
  EXPECT_EQ(uint64_t(a["attestations"]["total"]), uint64_t(b["attestations"]["total"]));
}

TEST_F(CliTest, TamperedSignatureIsRejectedAndNothingIsStored) {
  std::string link =
      ReadFile(kSamples + "/attestations/in-toto__in-toto__write-code.776a00e2.link");
  size_t sig = link.find("\"sig\": \"");
  ASSERT_NE(sig, std::string::npos);
  char& c = link[sig + 8];
  c = c == '0' ? '1' : '0';
  std::string path = dir_ + "/tampered.link";
  WriteFile(path, link);

  ProcessResult r = Lineage({"ingest", "--policy", kSamples + "/policy.json", path});
  EXPECT_EQ(r.exit_code, 1) << r.out << r.err;
  EXPECT_THAT(r.out, HasSubstr("rejected   " + path));
  EXPECT_THAT(r.out, HasSubstr("signature"));

  ProcessResult stats = Lineage({"stats", "--json"});
  ASSERT_EQ(stats.exit_code, 0) << stats.err;
  simdjson::dom::element doc = Json(stats);
  EXPECT_EQ(uint64_t(doc["attestations"]["total"]), 0u);
  EXPECT_EQ(uint64_t(doc["nodes"]["total"]), 0u);
}

TEST_F(CliTest, RejectedAndAcceptedFilesInOneRunAreReportedSeparately) {
  std::string good = kSamples + "/attestations/in-toto__in-toto__package.2f89b927.link";
  std::string bad =
      kCorpus + "/invalid/slsa-framework__slsa-verifier__gcloud-container-invalid-signature.json";
  ProcessResult r = Lineage({"ingest", "--json", "--policy", kSamples + "/policy.json", good, bad});
  EXPECT_EQ(r.exit_code, 1) << r.out << r.err;
  simdjson::dom::element doc = Json(r);
  EXPECT_EQ(uint64_t(doc["summary"]["accepted"]), 1u);
  EXPECT_GE(uint64_t(doc["summary"]["rejected"]), 1u);
  simdjson::dom::array files = doc["files"];
  ASSERT_EQ(files.size(), 2u);
  EXPECT_EQ(std::string_view(files.at(0)["items"].at(0)["verdict"]), "accepted");
  EXPECT_EQ(std::string_view(files.at(1)["items"].at(0)["verdict"]), "rejected");
  EXPECT_THAT(std::string(std::string_view(files.at(1)["items"].at(0)["error"])),
              HasSubstr("gcloud-container-invalid-signature.json"));
}

TEST_F(CliTest, IngestReadsStdin) {
  std::string link = ReadFile(kSamples + "/attestations/in-toto__in-toto__package.2f89b927.link");
  ProcessResult r = Lineage({"ingest", "--policy", kSamples + "/policy.json", "-"}, link);
  EXPECT_EQ(r.exit_code, 0) << r.out << r.err;
  EXPECT_THAT(r.out, HasSubstr("accepted   <stdin>"));
}

TEST_F(CliTest, IngestWithoutPolicyIsAUsageError) {
  ProcessResult r = Lineage({"ingest", kSamples + "/attestations"});
  EXPECT_EQ(r.exit_code, 2);
  EXPECT_THAT(r.err, HasSubstr("--policy"));
}

TEST_F(CliTest, MissingFileIsRejectedByName) {
  ProcessResult r =
      Lineage({"ingest", "--policy", kSamples + "/policy.json", dir_ + "/does-not-exist.json"});
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_THAT(r.out, HasSubstr("does-not-exist.json"));
}

TEST_F(CliTest, UnknownRefIsNotFoundAndMalformedRefIsUsageError) {
  ASSERT_EQ(IngestSamples().exit_code, 0);
  ProcessResult unknown = Lineage({"descendants", "sha256:" + std::string(64, 'a')});
  EXPECT_EQ(unknown.exit_code, 3) << unknown.err;
  ProcessResult malformed = Lineage({"descendants", "sha256:abc"});
  EXPECT_EQ(malformed.exit_code, 2) << malformed.err;
  EXPECT_THAT(malformed.err, HasSubstr("64 hex"));
}

TEST_F(CliTest, QueryWithoutDatabaseSaysHowToCreateOne) {
  ProcessResult r = Lineage({"stats"});
  EXPECT_EQ(r.exit_code, 3);
  EXPECT_THAT(r.err, HasSubstr("no lineage database"));
}

TEST_F(CliTest, ShowListsAliasesAndEdgesWithAttestations) {
  ASSERT_EQ(IngestSamples().exit_code, 0);
  ProcessResult r = Lineage({"show", kFooPy, "--json"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  simdjson::dom::element doc = Json(r);
  EXPECT_EQ(std::string_view(doc["kind"]), "artifact");
  bool derived_out = false;
  for (simdjson::dom::element e : doc["out_edges"].get_array()) {
    if (std::string_view(e["kind"]) == "derived" && std::string_view(e["to"]) == kFooTarGz) {
      derived_out = true;
      EXPECT_EQ(std::string_view(e["attestation"]).size(), 64u);
    }
  }
  EXPECT_TRUE(derived_out) << r.out;
  bool signed_in = false;
  for (simdjson::dom::element e : doc["in_edges"].get_array()) {
    if (std::string_view(e["kind"]) == "signed") signed_in = true;
  }
  EXPECT_TRUE(signed_in) << r.out;
}

TEST_F(CliTest, DepthAndKindFiltersRestrictTraversal) {
  ASSERT_EQ(IngestSamples().exit_code, 0);
  // From bob's key, following only `signed` edges reaches foo.py but not the
  // tarball, which is derived from it one hop further.
  ProcessResult anc = Lineage({"ancestors", kFooPy, "--json", "--kinds", "signed"});
  ASSERT_EQ(anc.exit_code, 0) << anc.err;
  simdjson::dom::element doc = Json(anc);
  ASSERT_GE(doc["nodes"].get_array().size(), 1u);
  std::string key(std::string_view(doc["nodes"].at(0)["ref"]));
  ASSERT_EQ(key.rfind("key:", 0), 0u) << anc.out;

  ProcessResult signed_only = Lineage({"descendants", key, "--json", "--kinds", "signed"});
  simdjson::dom::parser p;
  simdjson::dom::element d = p.parse(signed_only.out);
  for (simdjson::dom::element node : d["nodes"].get_array()) {
    EXPECT_EQ(uint64_t(node["depth"]), 1u);
  }
  ProcessResult depth1 = Lineage({"descendants", key, "--count", "--depth", "1"});
  ProcessResult all = Lineage({"descendants", key, "--count"});
  EXPECT_LT(std::stoul(depth1.out), std::stoul(all.out)) << depth1.out << all.out;
  ProcessResult limited = Lineage({"descendants", key, "--json", "--limit", "1"});
  simdjson::dom::parser p2;
  simdjson::dom::element l = p2.parse(limited.out);
  EXPECT_EQ(l["nodes"].get_array().size(), 1u);
  EXPECT_TRUE(bool(l["truncated"]));
}

TEST_F(CliTest, BackupWritesAnOpenableCopyAndRefusesToOverwrite) {
  ASSERT_EQ(IngestSamples().exit_code, 0);
  std::string copy = dir_ + "/copy";
  ProcessResult r = Lineage({"backup", copy});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_THAT(r.out, HasSubstr("backup     " + copy));
  ProcessResult again = Lineage({"backup", copy});
  EXPECT_EQ(again.exit_code, 4);
  EXPECT_THAT(again.err, HasSubstr("exists"));

  ProcessResult from_copy = RunProcess({LINEAGE_CLI_PATH, "--db", copy, "descendants", kFooPy});
  ASSERT_EQ(from_copy.exit_code, 0) << from_copy.err;
  EXPECT_THAT(from_copy.out, HasSubstr(kFooTarGz));
}

TEST_F(CliTest, StatsCountsNodesEdgesAndAttestations) {
  ASSERT_EQ(IngestSamples().exit_code, 0);
  ProcessResult r = Lineage({"stats", "--json"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  simdjson::dom::element doc = Json(r);
  EXPECT_GT(uint64_t(doc["nodes"]["artifact"]), 0u);
  EXPECT_GT(uint64_t(doc["nodes"]["key"]), 0u);
  EXPECT_GT(uint64_t(doc["edges"]["derived"]), 0u);
  EXPECT_GT(uint64_t(doc["edges"]["signed"]), 0u);
  EXPECT_GE(uint64_t(doc["attestations"]["total"]), 7u);
  EXPECT_GT(uint64_t(doc["db_bytes"]), 0u);
  ProcessResult human = Lineage({"stats"});
  EXPECT_THAT(human.out, HasSubstr("attestations"));
}

// A keyless signature's node is the workflow identity; `show` and `why` give
// the certificate and log entry behind each signature, read back from the
// database by a new process (so from disk, not from the ingesting one).
TEST_F(CliTest, KeylessBundleEvidenceIsShownByShowAndWhyAfterReopen) {
  const std::string bundle =
      kCorpus + "/sigstore-bundle-v0.3/cli__cli__sigstore-js-2.1.0-bundle.json";
  WriteFile(dir_ + "/policy.json",
            R"({"version": 1, "keys": [],
                "trusted_roots": [{"name": "public-good", "file": ")" +
                kCorpus + R"(/keys/sigstore__sigstore-go__trusted-root-public-good.json"}],
                "identities": [{"name": "any", "issuer_regex": ".*", "san_regex": ".*"}]})");
  ProcessResult ingest = Lineage({"ingest", "--policy", dir_ + "/policy.json", bundle});
  ASSERT_EQ(ingest.exit_code, 0) << ingest.out << ingest.err;

  // What the bundle itself says: its certificate, log index and subject.
  simdjson::dom::parser bundle_parser;
  std::string bundle_text = ReadFile(bundle);
  simdjson::dom::element b = bundle_parser.parse(bundle_text);
  absl::StatusOr<std::string> der =
      ingest::DecodeBase64(std::string_view(b["verificationMaterial"]["certificate"]["rawBytes"]));
  ASSERT_TRUE(der.ok());
  std::string fingerprint = ingest::Sha256Hex(*der);
  int64_t log_index = std::stoll(
      std::string(std::string_view(b["verificationMaterial"]["tlogEntries"].at(0)["logIndex"])));
  absl::StatusOr<std::string> payload =
      ingest::DecodeBase64(std::string_view(b["dsseEnvelope"]["payload"]));
  ASSERT_TRUE(payload.ok());
  simdjson::dom::parser statement_parser;
  simdjson::dom::element statement = statement_parser.parse(*payload);
  std::string subject =
      "sha512:" + std::string(std::string_view(statement["subject"].at(0)["digest"]["sha512"]));

  ProcessResult show = Lineage({"show", subject, "--json"});
  ASSERT_EQ(show.exit_code, 0) << show.err;
  std::string identity;
  for (simdjson::dom::element e : Json(show)["in_edges"].get_array()) {
    if (std::string_view(e["kind"]) != "signed") continue;
    identity = std::string(std::string_view(e["from"]));
    simdjson::dom::element evidence = e["evidence"];
    EXPECT_EQ(std::string_view(evidence["key"]), identity);
    EXPECT_EQ(std::string_view(evidence["certificate_sha256"]), fingerprint);
    EXPECT_EQ(int64_t(evidence["log_index"]), log_index);
    EXPECT_EQ(std::string_view(evidence["issuer"]), "https://token.actions.githubusercontent.com");
    EXPECT_TRUE(evidence["signed_at"].is_string());
  }
  EXPECT_THAT(identity, ::testing::StartsWith("key:keyless:")) << show.out;
  ProcessResult show_text = Lineage({"show", subject});
  EXPECT_THAT(show_text.out, HasSubstr("certificate sha256:" + fingerprint));
  EXPECT_THAT(show_text.out, HasSubstr("log index " + std::to_string(log_index)));

  // Revoke the build's source commit: the chain's hop names the signature.
  std::string material;
  for (simdjson::dom::element e : Json(show)["in_edges"].get_array()) {
    if (std::string_view(e["kind"]) == "derived")
      material = std::string(std::string_view(e["from"]));
  }
  ASSERT_FALSE(material.empty()) << show.out;
  ProcessResult revoke =
      Lineage({"revoke", "--digest", material, "--reason", "INC-1: bad commit", "--as", "alice"});
  ASSERT_EQ(revoke.exit_code, 0) << revoke.out << revoke.err;
  ProcessResult why = Lineage({"why", subject, "--json"});
  ASSERT_EQ(why.exit_code, 0) << why.out << why.err;
  simdjson::dom::element doc = Json(why);
  EXPECT_EQ(std::string_view(doc["verdict"]), "DENY");
  simdjson::dom::element hop = doc["reasons"].at(0)["chain"].at(0);
  EXPECT_EQ(std::string_view(hop["evidence"].at(0)["key"]), identity);
  EXPECT_EQ(std::string_view(hop["evidence"].at(0)["certificate_sha256"]), fingerprint);
  EXPECT_EQ(int64_t(hop["evidence"].at(0)["log_index"]), log_index);
  simdjson::dom::element direct = doc["provenance"]["signer_evidence"].at(0);
  EXPECT_EQ(std::string_view(direct["certificate_sha256"]), fingerprint);
  EXPECT_EQ(int64_t(direct["log_index"]), log_index);
  ProcessResult why_text = Lineage({"why", subject});
  EXPECT_THAT(why_text.out, HasSubstr(identity + ": certificate sha256:" + fingerprint +
                                      ", log index " + std::to_string(log_index)));
}

TEST_F(CliTest, EveryCommandHasHelp) {
  for (const char* cmd : {"ingest", "descendants", "ancestors", "show", "stats"}) {
    ProcessResult r = RunProcess({LINEAGE_CLI_PATH, cmd, "--help"});
    EXPECT_EQ(r.exit_code, 0) << cmd;
    EXPECT_THAT(r.out, HasSubstr("--json")) << cmd;
  }
  ProcessResult top = RunProcess({LINEAGE_CLI_PATH, "--help"});
  EXPECT_EQ(top.exit_code, 0);
  EXPECT_THAT(top.out, HasSubstr("Exit codes"));
  ProcessResult bad = RunProcess({LINEAGE_CLI_PATH, "frobnicate"});
  EXPECT_EQ(bad.exit_code, 2);
}

}  // namespace
}  // namespace lineage
