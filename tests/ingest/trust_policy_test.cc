#include "ingest/include/lineage/ingest/trust_policy.h"

#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <string>

#include <gmock/gmock.h>
#include <gtest/gtest.h>

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

}  // namespace
}  // namespace lineage::ingest
