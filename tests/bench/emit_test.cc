#include "bench/gen/emit.h"

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>
#include <vector>

#include "bench/gen/records.h"
#include "bench/gen/supply_chain.h"
#include "gtest/gtest.h"
#include "ingest/include/lineage/ingest/ingest.h"
#include "ingest/include/lineage/ingest/trust_policy.h"
#include "tests/engine/test_util.h"

namespace lineage::bench {
namespace {

std::string ReadFile(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::stringstream buffer;
  buffer << in.rdbuf();
  return buffer.str();
}

class EmitTest : public ::testing::Test {
 protected:
  void SetUp() override {
    chain_ = Generate({3000, 11});
    options_.out_dir = dir_.path() + "/out";
    options_.attestations = 400;
    options_.keys = 4;
    options_.per_file = 150;
  }

  testing_util::TempDir dir_;
  SupplyChain chain_;
  EmitOptions options_;
};

TEST_F(EmitTest, EnvelopesVerifyUnderTheEmittedPolicyAndCarryTheChain) {
  absl::StatusOr<EmitResult> emitted = EmitAttestations(chain_, options_);
  ASSERT_TRUE(emitted.ok()) << emitted.status();
  EXPECT_EQ(emitted->envelopes, 400u);
  ASSERT_EQ(emitted->files.size(), 3u);
  ASSERT_EQ(emitted->key_refs.size(), 4u);

  absl::StatusOr<ingest::TrustPolicy> policy = ingest::TrustPolicy::LoadFile(emitted->policy);
  ASSERT_TRUE(policy.ok()) << policy.status();
  size_t i = 0;
  for (const std::string& file : emitted->files) {
    const std::vector<ingest::ItemResult> items =
        ingest::VerifyDocument(file, ReadFile(file), *policy, ingest::IngestOptions{});
    for (const ingest::ItemResult& item : items) {
      ASSERT_TRUE(item.record.ok()) << item.source << ": " << item.record.status();
      EXPECT_TRUE(item.warnings.empty()) << item.source << ": " << item.warnings[0];
      const AttestationRecord& got = *item.record;
      const AttestationRecord want = ToRecord(chain_, i);
      ASSERT_EQ(got.subjects.size(), 1u);
      EXPECT_EQ(got.subjects[0].digests, want.subjects[0].digests) << item.source;
      ASSERT_EQ(got.materials.size(), want.materials.size()) << item.source;
      for (size_t m = 0; m < got.materials.size(); ++m) {
        EXPECT_EQ(got.materials[m].digests, want.materials[m].digests) << item.source;
      }
      EXPECT_EQ(got.builder_id, want.builder_id);
      EXPECT_EQ(got.time, want.time);
      EXPECT_EQ(got.predicate_type, "https://slsa.dev/provenance/v1");
      ASSERT_EQ(got.signers.size(), 1u);
      EXPECT_EQ(got.signers[0].key_ref, emitted->key_refs[chain_.attestations[i].key % 4]);
      EXPECT_EQ(got.signers[0].algorithm, "ecdsa-p256-sha256");
      ++i;
    }
  }
  EXPECT_EQ(i, 400u);
  EXPECT_TRUE(std::filesystem::exists(options_.out_dir + "/key-map.tsv"));
}

TEST_F(EmitTest, ATamperedEnvelopeIsRejected) {
  absl::StatusOr<EmitResult> emitted = EmitAttestations(chain_, options_);
  ASSERT_TRUE(emitted.ok()) << emitted.status();
  absl::StatusOr<ingest::TrustPolicy> policy = ingest::TrustPolicy::LoadFile(emitted->policy);
  ASSERT_TRUE(policy.ok()) << policy.status();
  std::string content = ReadFile(emitted->files[0]);
  const std::string first_line = content.substr(0, content.find('\n'));

  // Swap the payload of line 1 for the statement of attestation 1: still
  // well-formed, but not what the signature covers.
  const size_t start = first_line.find("\"payload\":\"") + 11;
  const size_t end = first_line.find('"', start);
  std::string forged = first_line;
  forged.replace(start, end - start, ingest::EncodeBase64(StatementJson(chain_, 1)));
  const std::vector<ingest::ItemResult> items =
      ingest::VerifyDocument("forged.json", forged, *policy, ingest::IngestOptions{});
  ASSERT_EQ(items.size(), 1u);
  EXPECT_FALSE(items[0].record.ok());
  EXPECT_NE(std::string(items[0].record.status().message()).find("verification failed"),
            std::string::npos)
      << items[0].record.status();
}

TEST_F(EmitTest, BadOptionsAreRejected) {
  options_.keys = 0;
  EXPECT_TRUE(absl::IsInvalidArgument(EmitAttestations(chain_, options_).status()));
  options_.keys = 1;
  options_.out_dir.clear();
  EXPECT_TRUE(absl::IsInvalidArgument(EmitAttestations(chain_, options_).status()));
}

}  // namespace
}  // namespace lineage::bench
