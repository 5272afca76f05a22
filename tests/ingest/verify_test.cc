// VerifyDocument on envelopes signed in the test with freshly generated keys.
#include <string>
#include <vector>

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "ingest/include/lineage/ingest/ingest.h"
#include "ingest/include/lineage/ingest/parse.h"
#include "tests/ingest/signing_helpers.h"

namespace lineage::ingest {
namespace {

using ::testing::ElementsAre;
using ::testing::HasSubstr;
using ::testing::IsEmpty;
using testing::KeyKind;
using testing::MakeEnvelope;
using testing::SignEnvelope;
using testing::SlsaV02Statement;
using testing::TestSigner;

constexpr std::string_view kInToto = "application/vnd.in-toto+json";

std::string Message(const absl::Status& status) {
  return std::string(status.message());
}

TrustPolicy PolicyOf(const std::vector<const TestSigner*>& signers, int threshold = 1,
                     bool raw_payload = false) {
  TrustPolicy policy;
  int i = 0;
  for (const TestSigner* s : signers) {
    policy.AddKey(TrustedKey{"k" + std::to_string(i++), s->public_key(), raw_payload});
  }
  policy.set_threshold(threshold);
  return policy;
}

ItemResult VerifyOne(std::string_view content, const TrustPolicy& policy,
                     IngestOptions options = {}) {
  std::vector<ItemResult> items = VerifyDocument("doc.json", content, policy, options);
  EXPECT_EQ(items.size(), 1u);
  return items.empty() ? ItemResult{"", absl::InternalError("no item"), {}} : items[0];
}

class VerifyByKindTest : public ::testing::TestWithParam<KeyKind> {};

TEST_P(VerifyByKindTest, SignedSlsaStatementVerifiesIntoARecord) {
  TestSigner signer(GetParam());
  std::string payload = SlsaV02Statement(1, 2, 1);
  std::string envelope = SignEnvelope(kInToto, payload, {&signer});
  ItemResult item = VerifyOne(envelope, PolicyOf({&signer}));
  ASSERT_TRUE(item.record.ok()) << item.record.status();
  const AttestationRecord& r = *item.record;
  EXPECT_EQ(item.source, "doc.json");
  EXPECT_EQ(r.format, "dsse");
  EXPECT_EQ(r.payload_type, kInToto);
  EXPECT_EQ(r.statement_type, "https://in-toto.io/Statement/v0.1");
  EXPECT_EQ(r.predicate_type, "https://slsa.dev/provenance/v0.2");
  EXPECT_EQ(r.id, Sha256Hex(Pae(kInToto, payload)));
  EXPECT_EQ(r.subjects.size(), 2u);
  EXPECT_EQ(r.materials.size(), 1u);
  EXPECT_EQ(r.builder_id, "https://ci.example.com/builder@v1");
  EXPECT_EQ(r.time, absl::FromUnixSeconds(1704165245));
  ASSERT_EQ(r.signers.size(), 1u);
  EXPECT_EQ(r.signers[0].key_ref, signer.public_key()->ref());
  EXPECT_EQ(r.signers[0].keyid, signer.public_key()->fingerprint());
  EXPECT_FALSE(r.unsigned_);
  EXPECT_EQ(r.raw, envelope);
  EXPECT_THAT(item.warnings, IsEmpty());
}

INSTANTIATE_TEST_SUITE_P(AllKinds, VerifyByKindTest,
                         ::testing::Values(KeyKind::kP256, KeyKind::kP384, KeyKind::kEd25519,
                                           KeyKind::kRsaPss, KeyKind::kRsaPkcs1),
                         [](const auto& info) { return std::string(KeyKindName(info.param)); });

TEST(VerifyDocumentTest, RecordsTheSchemeThatVerified) {
  TestSigner pss(KeyKind::kRsaPss), ed(KeyKind::kEd25519);
  ItemResult a = VerifyOne(SignEnvelope(kInToto, SlsaV02Statement(1), {&pss}), PolicyOf({&pss}));
  ItemResult b = VerifyOne(SignEnvelope(kInToto, SlsaV02Statement(1), {&ed}), PolicyOf({&ed}));
  ASSERT_TRUE(a.record.ok() && b.record.ok());
  EXPECT_EQ(a.record->signers[0].algorithm, "rsa-pss-sha256");
  EXPECT_EQ(b.record->signers[0].algorithm, "ed25519");
}

TEST(VerifyDocumentTest, TamperedPayloadIsRejected) {
  TestSigner signer(KeyKind::kP256);
  std::string payload = SlsaV02Statement(1);
  std::string sig = signer.Sign(Pae(kInToto, payload));
  std::string tampered = payload;
  tampered[tampered.find("out-0")] = 'X';
  ItemResult item = VerifyOne(MakeEnvelope(kInToto, tampered, {{"", sig}}), PolicyOf({&signer}));
  ASSERT_FALSE(item.record.ok());
  EXPECT_EQ(Message(item.record.status()),
            "doc.json: signatures: 0 of 1 required trusted signatures verified; signatures[0]: "
            "ECDSA P-256 verification failed with key " +
                signer.public_key()->ref());
}

TEST(VerifyDocumentTest, WrongKeyIsRejectedNamingTheKeyid) {
  TestSigner signer(KeyKind::kP256), trusted(KeyKind::kP256), trusted2(KeyKind::kEd25519);
  std::string envelope = SignEnvelope(kInToto, SlsaV02Statement(1), {&signer});
  ItemResult one = VerifyOne(envelope, PolicyOf({&trusted}));
  ASSERT_FALSE(one.record.ok());
  EXPECT_THAT(Message(one.record.status()),
              HasSubstr("signatures[0]: ECDSA P-256 verification failed with key " +
                        trusted.public_key()->ref()));
  ItemResult two = VerifyOne(envelope, PolicyOf({&trusted, &trusted2}));
  ASSERT_FALSE(two.record.ok());
  EXPECT_THAT(Message(two.record.status()),
              HasSubstr("signatures[0]: no trusted key matches keyid \"" +
                        signer.public_key()->fingerprint() +
                        "\" and none of the 2 trusted keys verifies it"));
}

TEST(VerifyDocumentTest, KeyidSelectsTheKeyButDoesNotReplaceVerification) {
  TestSigner a(KeyKind::kP256), b(KeyKind::kP256);
  // Signed by b but claiming a's keyid: only a is tried, and it fails.
  std::string payload = SlsaV02Statement(1);
  std::string envelope = MakeEnvelope(
      kInToto, payload, {{a.public_key()->fingerprint(), b.Sign(Pae(kInToto, payload))}});
  ItemResult item = VerifyOne(envelope, PolicyOf({&a, &b}));
  ASSERT_FALSE(item.record.ok());
  EXPECT_THAT(Message(item.record.status()),
              HasSubstr("verification failed with key " + a.public_key()->ref()));
}

TEST(VerifyDocumentTest, TruncatedSignatureIsRejected) {
  for (KeyKind kind : {KeyKind::kP256, KeyKind::kEd25519, KeyKind::kRsaPss}) {
    TestSigner signer(kind);
    std::string payload = SlsaV02Statement(1);
    std::string sig = signer.Sign(Pae(kInToto, payload));
    ItemResult item = VerifyOne(
        MakeEnvelope(kInToto, payload, {{"", sig.substr(0, sig.size() / 2)}}), PolicyOf({&signer}));
    EXPECT_FALSE(item.record.ok()) << KeyKindName(kind);
  }
}

TEST(VerifyDocumentTest, PaeBindsThePayloadType) {
  TestSigner signer(KeyKind::kEd25519);
  std::string payload = SlsaV02Statement(1);
  // Signed as another type, presented as in-toto.
  std::string sig = signer.Sign(Pae("application/json", payload));
  ItemResult item = VerifyOne(MakeEnvelope(kInToto, payload, {{"", sig}}), PolicyOf({&signer}));
  ASSERT_FALSE(item.record.ok());
  EXPECT_THAT(Message(item.record.status()), HasSubstr("Ed25519 verification failed"));
}

TEST(VerifyDocumentTest, OtherPayloadTypesAreRejectedAfterVerification) {
  TestSigner signer(KeyKind::kP256);
  ItemResult item = VerifyOne(SignEnvelope("application/json", SlsaV02Statement(1), {&signer}),
                              PolicyOf({&signer}));
  ASSERT_FALSE(item.record.ok());
  EXPECT_THAT(Message(item.record.status()),
              HasSubstr("doc.json: payloadType: \"application/json\" is not "
                        "application/vnd.in-toto+json"));
}

TEST(VerifyDocumentTest, ThresholdCountsDistinctKeys) {
  TestSigner a(KeyKind::kP256), b(KeyKind::kEd25519);
  std::string payload = SlsaV02Statement(1);
  TrustPolicy policy = PolicyOf({&a, &b}, /*threshold=*/2);

  ItemResult one = VerifyOne(SignEnvelope(kInToto, payload, {&a}), policy);
  ASSERT_FALSE(one.record.ok());
  EXPECT_THAT(Message(one.record.status()),
              HasSubstr("signatures: 1 of 2 required trusted signatures verified"));

  // The same key twice is still one signer.
  ItemResult twice = VerifyOne(SignEnvelope(kInToto, payload, {&a, &a}), policy);
  ASSERT_FALSE(twice.record.ok());
  EXPECT_THAT(Message(twice.record.status()), HasSubstr("1 of 2 required"));

  ItemResult both = VerifyOne(SignEnvelope(kInToto, payload, {&a, &b}), policy);
  ASSERT_TRUE(both.record.ok()) << both.record.status();
  EXPECT_EQ(both.record->signers.size(), 2u);
}

TEST(VerifyDocumentTest, ExtraUntrustedSignaturesAreWarnings) {
  TestSigner a(KeyKind::kP256), stranger(KeyKind::kP256);
  ItemResult item =
      VerifyOne(SignEnvelope(kInToto, SlsaV02Statement(1), {&stranger, &a}), PolicyOf({&a}));
  ASSERT_TRUE(item.record.ok()) << item.record.status();
  ASSERT_EQ(item.warnings.size(), 1u);
  EXPECT_THAT(item.warnings[0], HasSubstr("signatures[0]: "));
  EXPECT_THAT(item.warnings[0], HasSubstr("ignored: the threshold is met"));
}

TEST(VerifyDocumentTest, RawPayloadSignaturesNeedTheKeyFlag) {
  TestSigner signer(KeyKind::kP256);
  std::string payload = SlsaV02Statement(1);
  std::string envelope = MakeEnvelope(kInToto, payload, {{"", signer.Sign(payload)}});
  ItemResult strict = VerifyOne(envelope, PolicyOf({&signer}));
  EXPECT_FALSE(strict.record.ok());
  ItemResult raw = VerifyOne(envelope, PolicyOf({&signer}, 1, /*raw_payload=*/true));
  ASSERT_TRUE(raw.record.ok()) << raw.record.status();
  EXPECT_EQ(raw.record->signers[0].algorithm, "ecdsa-p256-sha256+raw-payload");
}

TEST(VerifyDocumentTest, UnsignedInputNeedsAllowUnsigned) {
  TestSigner signer(KeyKind::kP256);
  std::string payload = SlsaV02Statement(1);
  std::string unsigned_envelope = MakeEnvelope(kInToto, payload, {});
  IngestOptions allow;
  allow.allow_unsigned = true;

  ItemResult rejected = VerifyOne(unsigned_envelope, PolicyOf({&signer}));
  ASSERT_FALSE(rejected.record.ok());
  EXPECT_THAT(Message(rejected.record.status()), HasSubstr("signatures: none"));
  ItemResult accepted = VerifyOne(unsigned_envelope, PolicyOf({&signer}), allow);
  ASSERT_TRUE(accepted.record.ok()) << accepted.record.status();
  EXPECT_TRUE(accepted.record->unsigned_);
  EXPECT_EQ(accepted.record->format, "dsse");
  EXPECT_THAT(accepted.record->signers, IsEmpty());

  ItemResult plain = VerifyOne(payload, TrustPolicy());
  ASSERT_FALSE(plain.record.ok());
  EXPECT_THAT(Message(plain.record.status()), HasSubstr("unsigned in-toto statement"));
  ItemResult plain_ok = VerifyOne(payload, TrustPolicy(), allow);
  ASSERT_TRUE(plain_ok.record.ok()) << plain_ok.record.status();
  EXPECT_EQ(plain_ok.record->format, "statement");
  EXPECT_TRUE(plain_ok.record->unsigned_);
  EXPECT_EQ(plain_ok.record->id, Sha256Hex(payload));

  // allow_unsigned does not excuse a signature that fails.
  TestSigner other(KeyKind::kP256);
  ItemResult bad = VerifyOne(SignEnvelope(kInToto, payload, {&other}), PolicyOf({&signer}), allow);
  EXPECT_FALSE(bad.record.ok());
}

TEST(VerifyDocumentTest, JsonlGivesAVerdictPerLine) {
  TestSigner signer(KeyKind::kP256), stranger(KeyKind::kP256);
  std::string good1 = SignEnvelope(kInToto, SlsaV02Statement(1), {&signer});
  std::string bad = SignEnvelope(kInToto, SlsaV02Statement(2), {&stranger});
  std::string good2 = SignEnvelope(kInToto, SlsaV02Statement(3), {&signer});
  std::string doc = good1 + "\n" + bad + "\n\n" + good2 + "\n";
  std::vector<ItemResult> items = VerifyDocument("x.jsonl", doc, PolicyOf({&signer}), {});
  ASSERT_EQ(items.size(), 3u);
  EXPECT_EQ(items[0].source, "x.jsonl:1");
  EXPECT_TRUE(items[0].record.ok());
  EXPECT_EQ(items[0].record->source, "x.jsonl:1");
  EXPECT_EQ(items[0].record->raw, good1);
  EXPECT_EQ(items[1].source, "x.jsonl:2");
  ASSERT_FALSE(items[1].record.ok());
  EXPECT_THAT(Message(items[1].record.status()),
              HasSubstr("x.jsonl:2: signatures: 0 of 1 required trusted signatures verified; "
                        "signatures[0]: ECDSA P-256 verification failed with key"));
  EXPECT_EQ(items[2].source, "x.jsonl:4");
  EXPECT_TRUE(items[2].record.ok());
}

TEST(VerifyDocumentTest, JsonlWithACorruptFirstLineStillReadsTheRest) {
  TestSigner signer(KeyKind::kEd25519);
  std::string good = SignEnvelope(kInToto, SlsaV02Statement(1), {&signer});
  std::vector<ItemResult> items =
      VerifyDocument("x.jsonl", "{\"payload\": \n" + good + "\n", PolicyOf({&signer}), {});
  ASSERT_EQ(items.size(), 2u);
  EXPECT_FALSE(items[0].record.ok());
  EXPECT_THAT(Message(items[0].record.status()), HasSubstr("x.jsonl:1: line is not valid JSON"));
  EXPECT_TRUE(items[1].record.ok());
}

TEST(VerifyDocumentTest, NonJsonDocumentGetsOneVerdict) {
  std::vector<ItemResult> items = VerifyDocument(
      "a.tar.gz", std::string("\x1f\x8b\x08\n\xff\xfe\n{not json\n", 12), TrustPolicy(), {});
  ASSERT_EQ(items.size(), 1u);
  EXPECT_EQ(items[0].source, "a.tar.gz");
  EXPECT_EQ(Message(items[0].record.status()), "a.tar.gz: document is neither JSON nor JSON Lines");
}

TEST(VerifyDocumentTest, PrettyPrintedEnvelopeIsOneDocument) {
  TestSigner signer(KeyKind::kP256);
  std::string envelope = SignEnvelope(kInToto, SlsaV02Statement(1), {&signer});
  std::string pretty = envelope;
  for (size_t pos = 0; (pos = pretty.find(",\"", pos)) != std::string::npos; pos += 3) {
    pretty.replace(pos, 1, ",\n ");
  }
  std::vector<ItemResult> items = VerifyDocument("p.json", pretty, PolicyOf({&signer}), {});
  ASSERT_EQ(items.size(), 1u);
  EXPECT_EQ(items[0].source, "p.json");
  EXPECT_TRUE(items[0].record.ok()) << items[0].record.status();
}

TEST(VerifyDocumentTest, CloudBuildWrapperGivesOneItemPerEntry) {
  TestSigner signer(KeyKind::kP256);
  std::string e1 = SignEnvelope(kInToto, SlsaV02Statement(1), {&signer});
  std::string e2 = MakeEnvelope(kInToto, SlsaV02Statement(2), {{"", "garbage"}});
  std::string doc =
      "{\"image_summary\":{},\"provenance_summary\":{\"provenance\":[{\"envelope\":" + e1 +
      "},{\"envelope\":" + e2 + "}]}}";
  std::vector<ItemResult> items = VerifyDocument("gcb.json", doc, PolicyOf({&signer}), {});
  ASSERT_EQ(items.size(), 2u);
  EXPECT_EQ(items[0].source, "gcb.json#provenance[0]");
  ASSERT_TRUE(items[0].record.ok()) << items[0].record.status();
  EXPECT_EQ(items[0].record->raw, e1);  // simdjson's minified form equals ours
  EXPECT_EQ(items[1].source, "gcb.json#provenance[1]");
  ASSERT_FALSE(items[1].record.ok());
  EXPECT_THAT(Message(items[1].record.status()), HasSubstr("gcb.json#provenance[1]: signatures"));
}

TEST(VerifyDocumentTest, RecognisesSigstoreBundlesAndRejectsUnknownShapes) {
  TrustPolicy policy;
  ItemResult bundle = VerifyOne(
      R"({"mediaType":"application/vnd.dev.sigstore.bundle.v0.3+json","verificationMaterial":{},"dsseEnvelope":{}})",
      policy);
  EXPECT_EQ(Message(bundle.record.status()),
            "doc.json: verificationMaterial: exactly one of x509CertificateChain, certificate and "
            "publicKey is required");
  ItemResult npm = VerifyOne(R"({"attestations":[]})", policy);
  EXPECT_THAT(Message(npm.record.status()), HasSubstr("doc.json: attestations: empty"));
  ItemResult other = VerifyOne(R"({"hello":"world"})", policy);
  EXPECT_THAT(Message(other.record.status()), HasSubstr("not a DSSE envelope"));
  ItemResult array = VerifyOne("[1,2]", policy);
  EXPECT_THAT(Message(array.record.status()), HasSubstr("expected a JSON object, got array"));
  ItemResult junk = VerifyOne("not json", policy);
  EXPECT_THAT(Message(junk.record.status()), HasSubstr("doc.json: document is not valid JSON"));
}

TEST(VerifyDocumentTest, KeylessEnvelopeWithoutLogEntryHasNoSigningTime) {
  TestSigner signer(KeyKind::kP256);
  std::string doc = "{\"payloadType\":\"application/vnd.in-toto+json\",\"payload\":\"" +
                    EncodeBase64(SlsaV02Statement(1)) +
                    "\",\"signatures\":[{\"keyid\":\"\",\"sig\":\"AAAA\",\"cert\":\"-----BEGIN "
                    "CERTIFICATE-----\\n\"}]}";
  ItemResult item = VerifyOne(doc, PolicyOf({&signer}));
  ASSERT_FALSE(item.record.ok());
  EXPECT_THAT(Message(item.record.status()),
              HasSubstr("signatures[0]: signing time: a keyless certificate signature without "
                        "a transparency-log entry"));
}

TEST(VerifyDocumentTest, EmptyPolicyExplainsItself) {
  TestSigner signer(KeyKind::kP256);
  ItemResult item = VerifyOne(SignEnvelope(kInToto, SlsaV02Statement(1), {&signer}), TrustPolicy());
  ASSERT_FALSE(item.record.ok());
  EXPECT_THAT(Message(item.record.status()), HasSubstr("the trust policy has no keys"));
}

TEST(VerifyDocumentTest, EnforcesDocumentAndItemBounds) {
  TestSigner signer(KeyKind::kP256);
  IngestOptions options;
  options.limits.max_document_bytes = 100;
  std::string envelope = SignEnvelope(kInToto, SlsaV02Statement(1), {&signer});
  ItemResult big = VerifyOne(envelope, PolicyOf({&signer}), options);
  EXPECT_THAT(Message(big.record.status()), HasSubstr("exceeds max_document_bytes (100)"));

  options = IngestOptions{};
  options.limits.max_subjects = 3;
  ItemResult many = VerifyOne(SignEnvelope(kInToto, SlsaV02Statement(1, 4), {&signer}),
                              PolicyOf({&signer}), options);
  EXPECT_THAT(Message(many.record.status()),
              HasSubstr("doc.json: subject: 4 entries exceed max_subjects (3)"));

  options = IngestOptions{};
  options.limits.max_items_per_document = 2;
  std::string doc = envelope + "\n" + envelope + "\n" + envelope + "\n";
  std::vector<ItemResult> items = VerifyDocument("x.jsonl", doc, PolicyOf({&signer}), options);
  ASSERT_EQ(items.size(), 3u);
  EXPECT_TRUE(items[1].record.ok());
  EXPECT_THAT(Message(items[2].record.status()), HasSubstr("max_items_per_document (2) reached"));
}

TEST(VerifyDocumentTest, DsseWrappedLinkVerifies) {
  TestSigner signer(KeyKind::kRsaPss);
  std::string link =
      std::string(R"({"_type":"link","name":"build","materials":{"a.c":{"sha256":")") +
      Sha256Hex("a.c") + R"("}},"products":{"a.out":{"sha256":")" + Sha256Hex("a.out") + R"("}}})";
  ItemResult item = VerifyOne(SignEnvelope(kInToto, link, {&signer}), PolicyOf({&signer}));
  ASSERT_TRUE(item.record.ok()) << item.record.status();
  EXPECT_EQ(item.record->statement_type, "link");
  EXPECT_THAT(item.record->subjects[0].digests, ElementsAre("sha256:" + Sha256Hex("a.out")));
  EXPECT_THAT(item.record->materials[0].digests, ElementsAre("sha256:" + Sha256Hex("a.c")));
}

TEST(VerifyDocumentTest, ClassicLinkSignedOverCanonicalJson) {
  TestSigner signer(KeyKind::kEd25519);
  std::string signed_part =
      std::string(R"({"_type":"link","name":"x","products":{"f":{"sha256":")") + Sha256Hex("f") +
      R"("}},"materials":{}})";
  absl::StatusOr<std::string> canonical = CanonicalJson(signed_part);
  ASSERT_TRUE(canonical.ok());
  std::string sig_hex;
  for (unsigned char c : signer.Sign(*canonical))
    sig_hex += fmt::format("{:02x}", c);
  std::string doc = "{\"signed\": " + signed_part + ", \"signatures\": [{\"keyid\": \"" +
                    signer.public_key()->fingerprint() + "\", \"sig\": \"" + sig_hex + "\"}]}";
  ItemResult item = VerifyOne(doc, PolicyOf({&signer}));
  ASSERT_TRUE(item.record.ok()) << item.record.status();
  EXPECT_EQ(item.record->format, "intoto-link");
  EXPECT_EQ(item.record->id, Sha256Hex(*canonical));
  EXPECT_EQ(item.record->payload_type, "");

  std::string tampered = doc;
  tampered.replace(tampered.find("\"x\""), 3, "\"y\"");
  EXPECT_FALSE(VerifyOne(tampered, PolicyOf({&signer})).record.ok());
}

}  // namespace
}  // namespace lineage::ingest
