#include "engine/src/encoding.h"

#include <gtest/gtest.h>

namespace lineage::internal {
namespace {

TEST(EncodingTest, Fixed64IsBigEndianSoKeysSortNumerically) {
  EXPECT_EQ(EncodeFixed64(1), std::string("\0\0\0\0\0\0\0\1", 8));
  EXPECT_LT(EncodeFixed64(255), EncodeFixed64(256));
  EXPECT_LT(EncodeFixed64(0xff00000000), EncodeFixed64(0x0100000000000000));
  EXPECT_EQ(DecodeFixed64(EncodeFixed64(0x0123456789abcdef).data()), 0x0123456789abcdefu);
}

TEST(EncodingTest, EdgeKeyRoundTripsAndGroupsByNodeThenKind) {
  EdgeKey key{7, EdgeKind::kSigned, uint64_t{1} << 40, 99};
  std::string encoded = EncodeEdgeKey(key);
  ASSERT_EQ(encoded.size(), kEdgeKeySize);
  EdgeKey decoded;
  ASSERT_TRUE(DecodeEdgeKey(encoded, &decoded));
  EXPECT_EQ(decoded.near, 7u);
  EXPECT_EQ(decoded.kind, EdgeKind::kSigned);
  EXPECT_EQ(decoded.far, uint64_t{1} << 40);
  EXPECT_EQ(decoded.attestation, 99u);
  EXPECT_LT(EncodeEdgeKey({7, EdgeKind::kDerived, 1000, 5}), encoded);
  EXPECT_LT(encoded, EncodeEdgeKey({8, EdgeKind::kDerived, 0, 0}));
}

TEST(EncodingTest, MalformedEdgeKeyIsRefused) {
  EdgeKey key;
  EXPECT_FALSE(DecodeEdgeKey("short", &key));
  std::string encoded = EncodeEdgeKey({1, EdgeKind::kBuilt, 2, 3});
  encoded[8] = 9;  // no such kind
  EXPECT_FALSE(DecodeEdgeKey(encoded, &key));
}

TEST(EncodingTest, TimesRoundTripIncludingInfinities) {
  for (absl::Time t : {absl::InfinitePast(), absl::InfiniteFuture(), absl::UnixEpoch(),
                       absl::FromUnixMicros(-5), absl::FromUnixMicros(1700000000123456)}) {
    absl::Time back;
    ASSERT_TRUE(DecodeEdgeValue(EncodeEdgeValue(t), &back));
    EXPECT_EQ(back, t);
  }
}

TEST(EncodingTest, AttestationValueRoundTrips) {
  StoredAttestation a;
  a.number = 42;
  a.unsigned_ = true;
  a.time = absl::FromUnixSeconds(100);
  a.ingested_at = absl::FromUnixSeconds(200);
  a.format = "dsse";
  a.payload_type = "application/vnd.in-toto+json";
  a.statement_type = "https://in-toto.io/Statement/v1";
  a.predicate_type = "https://slsa.dev/provenance/v1";
  a.source = "file.jsonl:3";
  a.signers = {"key:sha256:aa", "key:sha256:bb"};
  a.raw = std::string("raw\0bytes", 9);
  StoredAttestation b;
  ASSERT_TRUE(DecodeAttestationValue(EncodeAttestationValue(a), &b));
  EXPECT_EQ(b.number, 42u);
  EXPECT_TRUE(b.unsigned_);
  EXPECT_EQ(b.time, a.time);
  EXPECT_EQ(b.ingested_at, a.ingested_at);
  EXPECT_EQ(b.format, a.format);
  EXPECT_EQ(b.payload_type, a.payload_type);
  EXPECT_EQ(b.statement_type, a.statement_type);
  EXPECT_EQ(b.predicate_type, a.predicate_type);
  EXPECT_EQ(b.source, a.source);
  EXPECT_EQ(b.signers, a.signers);
  EXPECT_EQ(b.raw, a.raw);
}

TEST(EncodingTest, SignerEvidenceRoundTrips) {
  StoredAttestation a;
  a.signers = {"key:keyless:https://issuer|https://san", "key:sha256:bb"};
  SignerEvidence keyless{"key:keyless:https://issuer|https://san",
                         "https://issuer",
                         "https://san",
                         std::string(64, 'f'),
                         123456789,
                         absl::FromUnixMicros(1700000000123456)};
  SignerEvidence timed_key{"key:sha256:bb", "", "", "", -1, absl::FromUnixSeconds(5)};
  a.evidence = {keyless, timed_key};
  a.raw = "raw";
  StoredAttestation b;
  b.evidence.push_back({});  // decoding replaces, never appends
  ASSERT_TRUE(DecodeAttestationValue(EncodeAttestationValue(a), &b));
  ASSERT_EQ(b.evidence.size(), 2u);
  for (size_t i = 0; i < 2; ++i) {
    EXPECT_EQ(b.evidence[i].key_ref, a.evidence[i].key_ref);
    EXPECT_EQ(b.evidence[i].issuer, a.evidence[i].issuer);
    EXPECT_EQ(b.evidence[i].san, a.evidence[i].san);
    EXPECT_EQ(b.evidence[i].certificate_sha256, a.evidence[i].certificate_sha256);
    EXPECT_EQ(b.evidence[i].log_index, a.evidence[i].log_index);
    EXPECT_EQ(b.evidence[i].signed_at, a.evidence[i].signed_at);
  }
  EXPECT_EQ(b.raw, "raw");
}

// A value as written before signer evidence existed (tag 1, docs/storage.md),
// spelled out byte by byte so the test does not depend on today's encoder.
TEST(EncodingTest, AttestationValueWithoutEvidenceFromOlderStoresDecodes) {
  std::string v1;
  v1.push_back(1);
  PutFixed64(&v1, 7);  // number
  v1.push_back(0);     // signed
  PutFixed64(&v1, static_cast<uint64_t>(TimeToMicros(absl::FromUnixSeconds(100))));
  PutFixed64(&v1, static_cast<uint64_t>(TimeToMicros(absl::FromUnixSeconds(200))));
  for (std::string_view s : {"dsse", "application/vnd.in-toto+json", "st", "pt", "src"})
    PutLengthPrefixed(&v1, s);
  PutFixed32(&v1, 1);
  PutLengthPrefixed(&v1, "key:keyless:https://issuer|https://san");
  PutLengthPrefixed(&v1, "raw");
  StoredAttestation a;
  a.evidence.push_back({});
  ASSERT_TRUE(DecodeAttestationValue(v1, &a));
  EXPECT_EQ(a.number, 7u);
  EXPECT_EQ(a.source, "src");
  EXPECT_EQ(a.signers, std::vector<std::string>{"key:keyless:https://issuer|https://san"});
  EXPECT_TRUE(a.evidence.empty());
  EXPECT_EQ(a.raw, "raw");
  v1[0] = 3;  // an unknown tag
  EXPECT_FALSE(DecodeAttestationValue(v1, &a));
}

TEST(EncodingTest, SetSignersKeepsEvidenceOnlyForSignersThatHaveIt) {
  VerifiedSigner plain{"key:sha256:aa", "kid", "ed25519"};
  VerifiedSigner keyless{"key:keyless:https://issuer|https://san", "", "ecdsa-p256-sha256"};
  keyless.issuer = "https://issuer";
  keyless.san = "https://san";
  keyless.certificate_sha256 = std::string(64, 'e');
  keyless.log_index = 9;
  keyless.signed_at = absl::FromUnixSeconds(9);
  StoredAttestation a;
  SetSigners({plain, keyless}, &a);
  EXPECT_EQ(a.signers, (std::vector<std::string>{plain.key_ref, keyless.key_ref}));
  ASSERT_EQ(a.evidence.size(), 1u);
  EXPECT_EQ(a.evidence[0].key_ref, keyless.key_ref);
  EXPECT_EQ(a.evidence[0].log_index, 9);
}

TEST(EncodingTest, TruncatedAttestationValueIsRefused) {
  StoredAttestation a;
  a.signers = {"key:keyless:https://issuer|https://san"};
  a.evidence = {{"key:keyless:https://issuer|https://san", "https://issuer", "https://san",
                 std::string(64, 'f'), 1, absl::FromUnixSeconds(1)}};
  a.raw = "payload";
  std::string encoded = EncodeAttestationValue(a);
  StoredAttestation b;
  for (size_t n = 0; n < encoded.size(); ++n)
    EXPECT_FALSE(DecodeAttestationValue(std::string_view(encoded).substr(0, n), &b)) << n;
  EXPECT_FALSE(DecodeAttestationValue(encoded + "x", &b));
}

TEST(EncodingTest, NodeValueRoundTrips) {
  NodeKind kind;
  std::string_view ref;
  std::string encoded = EncodeNodeValue(NodeKind::kBuilder, "builder:x");
  ASSERT_TRUE(DecodeNodeValue(encoded, &kind, &ref));
  EXPECT_EQ(kind, NodeKind::kBuilder);
  EXPECT_EQ(ref, "builder:x");
  EXPECT_FALSE(DecodeNodeValue(std::string("\x07y"), &kind, &ref));
  EXPECT_FALSE(DecodeNodeValue(std::string("\x01"), &kind, &ref));
}

}  // namespace
}  // namespace lineage::internal
