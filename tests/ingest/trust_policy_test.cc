#include "ingest/include/lineage/ingest/trust_policy.h"

#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <string>

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "ingest/include/lineage/ingest/sigstore.h"
#include "tests/ingest/signing_helpers.h"

namespace lineage::ingest {
namespace {

using ::testing::HasSubstr;
using testing::KeyKind;
using testing::TestSigner;

std::string Message(const absl::Status& status) {
  return std::string(status.message());
}

const std::string kKeys = std::string(LINEAGE_TEST_DATA) + "/corpus/keys/";

// A scratch directory per test, so parallel runs do not share files.
class TrustPolicyTest : public ::testing::Test {
 protected:
  void SetUp() override {
    const auto* info = ::testing::UnitTest::GetInstance()->current_test_info();
    dir_ = std::filesystem::path(::testing::TempDir()) /
           fmt::format("lineage_policy_{}_{}", info->name(), getpid());
    std::filesystem::create_directories(dir_ / "keys");
  }
  void TearDown() override { std::filesystem::remove_all(dir_); }

  std::string Write(const std::string& relative, const std::string& text) {
    std::filesystem::path path = dir_ / relative;
    std::ofstream(path) << text;
    return path.string();
  }

  std::filesystem::path dir_;
};

TEST_F(TrustPolicyTest, LoadsKeysFromFilesRelativeToThePolicy) {
  TestSigner a(KeyKind::kP256), b(KeyKind::kEd25519);
  Write("keys/a.pem", a.PublicPem());
  std::string pem_b = b.PublicPem();
  std::string escaped;
  for (char c : pem_b)
    escaped += c == '\n' ? std::string("\\n") : std::string(1, c);
  std::string path = Write("policy.json", R"({"version":1,"threshold":2,"keys":[
      {"name":"a","pem_file":"keys/a.pem"},
      {"name":"b","pem":")" + escaped + R"(","raw_payload":true}]})");
  absl::StatusOr<TrustPolicy> policy = TrustPolicy::LoadFile(path);
  ASSERT_TRUE(policy.ok()) << policy.status();
  EXPECT_EQ(policy->threshold(), 2);
  ASSERT_EQ(policy->keys().size(), 2u);
  EXPECT_EQ(policy->keys()[0].name, "a");
  EXPECT_EQ(policy->keys()[0].key->fingerprint(), a.public_key()->fingerprint());
  EXPECT_FALSE(policy->keys()[0].raw_payload);
  EXPECT_EQ(policy->keys()[1].key->fingerprint(), b.public_key()->fingerprint());
  EXPECT_TRUE(policy->keys()[1].raw_payload);
}

TEST_F(TrustPolicyTest, LoadsCorpusKeys) {
  std::string policy_json = R"({"version":1,"keys":[
      {"name":"bob","pem_file":")" +
                            kKeys + R"(in-toto__in-toto__bob.pub"},
      {"name":"witness","pem_file":")" +
                            kKeys + R"(in-toto__witness__testpub.pem"},
      {"name":"gcb","pem_file":")" +
                            kKeys + R"(slsa-framework__slsa-verifier__us-west2.key"}]})";
  absl::StatusOr<TrustPolicy> policy = TrustPolicy::Parse(policy_json, "/nonexistent", "p.json");
  ASSERT_TRUE(policy.ok()) << policy.status();
  EXPECT_EQ(policy->threshold(), 1);
  EXPECT_EQ(policy->keys()[0].key->description(), "RSA-3072");
  EXPECT_EQ(policy->keys()[1].key->description(), "Ed25519");
  EXPECT_EQ(policy->keys()[2].key->description(), "ECDSA P-256");
}

TEST_F(TrustPolicyTest, ErrorsNameTheFileAndTheField) {
  TestSigner a(KeyKind::kP256);
  Write("keys/a.pem", a.PublicPem());
  Write("keys/junk.pem", "not a key");
  struct Case {
    std::string json;
    std::string expected;
  };
  const Case cases[] = {
      {R"({"version":1,"keys":[{"name":"a","pem_file":"keys/a.pem"},{"name":"b","pem_file":"keys/a.pem"},{"name":"x","pem_file":"keys/x.pem"}]})",
       "policy.json: keys[1]: same key as \"a\""},
      {R"({"version":1,"keys":[{"name":"a","pem_file":"keys/a.pem"},{"name":"x","pem_file":"keys/x.pem"}]})",
       "policy.json: keys[1].pem_file: cannot read keys/x.pem: No such file or directory"},
      {R"({"version":1,"keys":[{"name":"j","pem_file":"keys/junk.pem"}]})",
       "policy.json: keys[0].pem_file: no PEM block found"},
      {R"({"version":1,"keys":[{"name":"a","pem_file":"keys/a.pem","raw_paylod":true}]})",
       "policy.json: keys[0].raw_paylod: unknown field"},
      {R"({"version":1,"keys":[],"extra":1})", "policy.json: extra: unknown field"},
      {R"({"version":2,"keys":[]})", "policy.json: version: must be 1"},
      {R"({"keys":[]})", "policy.json: version: must be 1"},
      {R"({"version":1})", "policy.json: keys: missing"},
      {R"({"version":1,"threshold":2,"keys":[{"name":"a","pem_file":"keys/a.pem"}]})",
       "policy.json: threshold: 2 exceeds the number of keys (1)"},
      {R"({"version":1,"threshold":0,"keys":[]})", "policy.json: threshold: must be an integer"},
      {R"({"version":1,"sct_threshold":-1,"keys":[]})",
       "policy.json: sct_threshold: must be an integer from 0 to 8"},
      {R"({"version":1,"sct_threshold":"1","keys":[]})",
       "policy.json: sct_threshold: must be an integer"},
      {R"({"version":1,"keys":[{"pem_file":"keys/a.pem"}]})", "policy.json: keys[0].name: missing"},
      {R"({"version":1,"keys":[{"name":"a"}]})",
       "policy.json: keys[0]: exactly one of \"pem\" and \"pem_file\" is required"},
      {R"({"version":1,"keys":[{"name":"a","pem_file":"keys/a.pem","raw_payload":"yes"}]})",
       "policy.json: keys[0].raw_payload: expected a boolean, got string"},
      {R"({"version":1,"keys":[{"name":"a","pem_file":7}]})",
       "policy.json: keys[0].pem_file: expected a string, got number"},
      {R"({"version":1,"version":1,"keys":[]})", "policy.json: version: duplicate key"},
      {"{", "policy.json: policy is not valid JSON"},
  };
  for (const Case& c : cases) {
    absl::StatusOr<TrustPolicy> policy = TrustPolicy::Parse(c.json, dir_.string(), "policy.json");
    ASSERT_FALSE(policy.ok()) << c.json;
    EXPECT_THAT(Message(policy.status()), HasSubstr(c.expected)) << c.json;
  }
}

TEST_F(TrustPolicyTest, MissingPolicyFileNamesIt) {
  absl::StatusOr<TrustPolicy> policy = TrustPolicy::LoadFile((dir_ / "nope.json").string());
  ASSERT_FALSE(policy.ok());
  EXPECT_THAT(Message(policy.status()), HasSubstr("nope.json: No such file or directory"));
}

TEST_F(TrustPolicyTest, LoadsTrustedRootsAndKeylessIdentities) {
  std::filesystem::copy_file(kKeys + "sigstore__sigstore-go__trusted-root-public-good.json",
                             dir_ / "keys/trusted_root.json");
  std::string path = Write("policy.json", R"json({
    "version": 1,
    "threshold": 1,
    "keys": [],
    "trusted_roots": [{"name": "public-good", "file": "keys/trusted_root.json"}],
    "identities": [
      {"name": "release", "issuer": "https://token.actions.githubusercontent.com",
       "san_regex": "https://github\\.com/org/repo/\\.github/workflows/release\\.yml@refs/tags/.*"},
      {"name": "maintainer", "san": "me@example.com",
       "issuer_regex": "https://(github\\.com/login/oauth|accounts\\.google\\.com)"}
    ]
  })json");
  absl::StatusOr<TrustPolicy> policy = TrustPolicy::LoadFile(path);
  ASSERT_TRUE(policy.ok()) << policy.status();
  ASSERT_EQ(policy->trusted_roots().size(), 1u);
  EXPECT_EQ(policy->trusted_roots()[0]->tlogs().size(), 1u);
  EXPECT_EQ(policy->sct_threshold(), 1);  // SCTs are checked unless the policy says otherwise
  ASSERT_EQ(policy->identities().size(), 2u);
  const TrustedIdentity& release = policy->identities()[0];
  EXPECT_TRUE(release.Matches("https://token.actions.githubusercontent.com",
                              "https://github.com/org/repo/.github/workflows/release.yml@refs/tags/"
                              "v1"));
  // Whole-value matches only: a branch, another repository, a prefix or a
  // suffix added are all outside.
  EXPECT_FALSE(release.Matches("https://token.actions.githubusercontent.com",
                               "https://github.com/org/repo/.github/workflows/release.yml@refs/"
                               "heads/main"));
  EXPECT_FALSE(release.Matches("https://token.actions.githubusercontent.com",
                               "https://github.com/org/repo2/.github/workflows/release.yml@refs/"
                               "tags/v1"));
  EXPECT_FALSE(release.Matches("https://token.actions.githubusercontent.com.evil",
                               "https://github.com/org/repo/.github/workflows/release.yml@refs/"
                               "tags/v1"));
  const TrustedIdentity& maintainer = policy->identities()[1];
  EXPECT_TRUE(maintainer.Matches("https://accounts.google.com", "me@example.com"));
  EXPECT_FALSE(maintainer.Matches("https://accounts.google.com", "me@example.com.evil"));
  EXPECT_FALSE(maintainer.Matches("https://example.com", "me@example.com"));
  // A huge value is never matched against a pattern (stack-bounded).
  EXPECT_FALSE(release.Matches("https://token.actions.githubusercontent.com",
                               "https://github.com/org/repo/.github/workflows/release.yml@refs/"
                               "tags/" +
                                   std::string(100000, 'v')));
}

TEST_F(TrustPolicyTest, SctThresholdZeroWaivesCertificateTransparency) {
  absl::StatusOr<TrustPolicy> policy = TrustPolicy::Parse(
      R"({"version":1,"sct_threshold":0,"keys":[],"trusted_roots":[{"name":"pg","file":")" + kKeys +
          R"(sigstore__sigstore-go__trusted-root-public-good.json"}],
          "identities":[{"name":"any","issuer_regex":".*","san_regex":".*"}]})",
      dir_.string(), "p.json");
  ASSERT_TRUE(policy.ok()) << policy.status();
  EXPECT_EQ(policy->sct_threshold(), 0);
}

TEST_F(TrustPolicyTest, KeylessFieldsAreStrict) {
  std::filesystem::copy_file(kKeys + "sigstore__sigstore-go__trusted-root-public-good.json",
                             dir_ / "keys/trusted_root.json");
  const std::string root = R"("trusted_roots":[{"name":"r","file":"keys/trusted_root.json"}])";
  struct Case {
    std::string json, expected;
  };
  const Case cases[] = {
      {R"({"version":1,"keys":[],"identities":[{"name":"a","issuer":"i","san":"s"}]})",
       "policy.json: identities: keyless identities need at least one trusted_roots entry"},
      {R"({"version":1,"keys":[],)" + root + R"(,"identities":[{"name":"a","san":"s"}]})",
       "policy.json: identities[0]: exactly one of \"issuer\" and \"issuer_regex\" is "
       "required"},
      {R"({"version":1,"keys":[],)" + root +
           R"(,"identities":[{"name":"a","issuer":"i","san":"s","san_regex":"s"}]})",
       "policy.json: identities[0]: exactly one of \"san\" and \"san_regex\" is required"},
      {R"({"version":1,"keys":[],)" + root +
           R"(,"identities":[{"name":"a","issuer":"i","san_regex":"(unclosed"}]})",
       "policy.json: identities[0]: san_regex: not a valid regular expression"},
      {R"({"version":1,"keys":[],)" + root +
           R"(,"identities":[{"name":"a","issuer":"i","san":"s","subject":"x"}]})",
       "policy.json: identities[0].subject: unknown field"},
      {R"({"version":1,"keys":[],)" + root +
           R"(,"identities":[{"name":"a","issuer":"","san":"s"}]})",
       "policy.json: identities[0].issuer: empty"},
      {R"({"version":1,"keys":[],"trusted_roots":[{"name":"r","file":"keys/none.json"}]})",
       "policy.json: trusted_roots[0].file: cannot read"},
      {R"({"version":1,"keys":[],"trusted_roots":[{"name":"r"}]})",
       "policy.json: trusted_roots[0].file: missing or empty"},
      {R"({"version":1,"threshold":2,"keys":[],)" + root +
           R"(,"identities":[{"name":"a","issuer":"i","san":"s"}]})",
       "policy.json: threshold: 2 exceeds the number of keys and identities (1)"},
  };
  for (const Case& c : cases) {
    absl::StatusOr<TrustPolicy> policy = TrustPolicy::Parse(c.json, dir_.string(), "policy.json");
    ASSERT_FALSE(policy.ok()) << c.json;
    EXPECT_THAT(Message(policy.status()), HasSubstr(c.expected)) << c.json;
  }
}

}  // namespace
}  // namespace lineage::ingest
