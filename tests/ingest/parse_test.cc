#include "ingest/include/lineage/ingest/parse.h"

#include <string>

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "absl/time/time.h"

namespace lineage::ingest {
namespace {

using ::testing::ElementsAre;
using ::testing::HasSubstr;
using ::testing::IsEmpty;

constexpr char kSha256A[] = "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa";
constexpr char kSha256B[] = "bbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb";
constexpr char kEmptySha256[] = "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855";
constexpr char kGitSha1[] = "75c21a6224914056801d5be2316d89de3ff24811";

std::string Message(const absl::Status& status) {
  return std::string(status.message());
}

// --- Canonical JSON -------------------------------------------------------

TEST(CanonicalJsonTest, SortsKeysAndDropsWhitespace) {
  absl::StatusOr<std::string> c =
      CanonicalJson(R"( { "b" : [1, 2, {"z":null,"a":true}], "a": "x" } )");
  ASSERT_TRUE(c.ok()) << c.status();
  EXPECT_EQ(*c, R"({"a":"x","b":[1,2,{"a":true,"z":null}]})");
}

TEST(CanonicalJsonTest, EscapesOnlyQuoteAndBackslash) {
  // JSON escapes are decoded; only '"' and '\' are escaped again. A newline
  // and a non-ASCII character are written as raw bytes, as securesystemslib
  // does.
  absl::StatusOr<std::string> c = CanonicalJson(R"({"k":"a\"b\\c\nd\u00e9"})");
  ASSERT_TRUE(c.ok()) << c.status();
  EXPECT_EQ(*c, "{\"k\":\"a\\\"b\\\\c\nd\xc3\xa9\"}");
}

TEST(CanonicalJsonTest, SortsByUtf8Bytes) {
  absl::StatusOr<std::string> c = CanonicalJson(R"({"\u00e9":1,"z":2,"Z":3,"":4})");
  ASSERT_TRUE(c.ok());
  EXPECT_EQ(*c, "{\"\":4,\"Z\":3,\"z\":2,\"\xc3\xa9\":1}");
}

TEST(CanonicalJsonTest, IntegersOnly) {
  EXPECT_EQ(*CanonicalJson("[-5,0,18446744073709551615]"), "[-5,0,18446744073709551615]");
  absl::StatusOr<std::string> f = CanonicalJson(R"({"a":1.5})");
  ASSERT_FALSE(f.ok());
  EXPECT_THAT(Message(f.status()), HasSubstr("integers only"));
}

TEST(CanonicalJsonTest, RejectsDuplicateKeysAndInvalidJson) {
  EXPECT_FALSE(CanonicalJson(R"({"a":1,"a":2})").ok());
  EXPECT_FALSE(CanonicalJson(R"({"a":1)").ok());
}

// --- Envelopes ------------------------------------------------------------

TEST(ParseEnvelopeTest, ReadsFieldsAndDecodesPayload) {
  absl::StatusOr<DsseEnvelope> env = ParseEnvelope(
      R"({"payloadType":"t","payload":"aGVsbG8","signatures":[{"keyid":"k","sig":"AQID"},{"sig":"-_8"}]})",
      IngestLimits{});
  ASSERT_TRUE(env.ok()) << env.status();
  EXPECT_EQ(env->payload_type, "t");
  EXPECT_EQ(env->payload, "hello");
  ASSERT_EQ(env->signatures.size(), 2u);
  EXPECT_EQ(env->signatures[0].keyid, "k");
  EXPECT_EQ(env->signatures[0].sig, std::string("\x01\x02\x03"));
  EXPECT_EQ(env->signatures[1].sig, std::string("\xfb\xff"));
  EXPECT_THAT(env->signatures[1].problem, IsEmpty());
}

TEST(ParseEnvelopeTest, NamesMissingAndMistypedFields) {
  IngestLimits limits;
  EXPECT_THAT(Message(ParseEnvelope(R"({"payload":"","signatures":[]})", limits).status()),
              HasSubstr("payloadType: missing"));
  EXPECT_THAT(
      Message(ParseEnvelope(R"({"payloadType":1,"payload":"","signatures":[]})", limits).status()),
      HasSubstr("payloadType: expected a string, got number"));
  EXPECT_THAT(
      Message(
          ParseEnvelope(R"({"payloadType":"t","payload":"@@","signatures":[]})", limits).status()),
      HasSubstr("payload: invalid base64"));
  EXPECT_THAT(
      Message(
          ParseEnvelope(R"({"payloadType":"t","payload":"","signatures":[1]})", limits).status()),
      HasSubstr("signatures[0]: expected an object"));
  EXPECT_THAT(Message(ParseEnvelope("[]", limits).status()), HasSubstr("expected an object"));
  EXPECT_THAT(Message(ParseEnvelope("{", limits).status()), HasSubstr("not valid JSON"));
}

TEST(ParseEnvelopeTest, SignatureProblemsStayWithTheSignature) {
  absl::StatusOr<DsseEnvelope> env = ParseEnvelope(
      R"({"payloadType":"t","payload":"","signatures":[{"sig":"!!"},{"sig":"AA","cert":"-----BEGIN"}]})",
      IngestLimits{});
  ASSERT_TRUE(env.ok()) << env.status();
  EXPECT_THAT(env->signatures[0].problem, HasSubstr("invalid base64"));
  EXPECT_THAT(env->signatures[1].problem,
              HasSubstr("signing time: a keyless certificate signature without a "
                        "transparency-log entry"));
}

TEST(ParseEnvelopeTest, RejectsSigstoreBundles) {
  absl::StatusOr<DsseEnvelope> env = ParseEnvelope(
      R"({"mediaType":"application/vnd.dev.sigstore.bundle.v0.3+json","dsseEnvelope":{}})",
      IngestLimits{});
  ASSERT_FALSE(env.ok());
  EXPECT_THAT(Message(env.status()), HasSubstr("a Sigstore bundle, not a bare DSSE envelope"));
}

TEST(ParseEnvelopeTest, EnforcesBounds) {
  IngestLimits limits;
  limits.max_signatures = 1;
  EXPECT_THAT(
      Message(ParseEnvelope(
                  R"({"payloadType":"t","payload":"","signatures":[{"sig":"AA"},{"sig":"AA"}]})",
                  limits)
                  .status()),
      HasSubstr("signatures: 2 entries exceed max_signatures (1)"));
  limits = IngestLimits{};
  limits.max_payload_bytes = 4;
  EXPECT_THAT(
      Message(ParseEnvelope(R"({"payloadType":"t","payload":"aGVsbG8gd29ybGQ=","signatures":[]})",
                            limits)
                  .status()),
      HasSubstr("max_payload_bytes"));
  limits = IngestLimits{};
  limits.max_document_bytes = 10;
  EXPECT_THAT(
      Message(
          ParseEnvelope(R"({"payloadType":"t","payload":"","signatures":[]})", limits).status()),
      HasSubstr("max_document_bytes"));
}

// --- Statements -------------------------------------------------------------

std::string Statement(std::string_view predicate_type, std::string_view subjects,
                      std::string_view predicate) {
  return "{\"_type\":\"https://in-toto.io/Statement/v1\",\"predicateType\":\"" +
         std::string(predicate_type) + "\",\"subject\":" + std::string(subjects) +
         ",\"predicate\":" + std::string(predicate) + "}";
}

TEST(ParseStatementTest, SlsaV02MaterialsBuilderAndTime) {
  std::string json = Statement(
      "https://slsa.dev/provenance/v0.2",
      std::string(R"([{"name":"out","digest":{"sha256":")") + kSha256A + R"("}}])",
      std::string(
          R"({"builder":{"id":"https://b/1"},"materials":[{"uri":"git+x","digest":{"sha1":")") +
          kGitSha1 +
          R"("}}],"metadata":{"buildStartedOn":"2024-01-01T00:00:00Z","buildFinishedOn":"2024-01-01T00:10:00Z"}})");
  absl::StatusOr<StatementContent> st = ParseStatement(json, IngestLimits{});
  ASSERT_TRUE(st.ok()) << st.status();
  EXPECT_EQ(st->predicate_type, "https://slsa.dev/provenance/v0.2");
  ASSERT_EQ(st->subjects.size(), 1u);
  EXPECT_THAT(st->subjects[0].digests, ElementsAre(std::string("sha256:") + kSha256A));
  EXPECT_EQ(st->subjects[0].name, "out");
  ASSERT_EQ(st->materials.size(), 1u);
  EXPECT_THAT(st->materials[0].digests, ElementsAre(std::string("sha1:") + kGitSha1));
  EXPECT_EQ(st->materials[0].name, "git+x");
  EXPECT_EQ(st->builder_id, "https://b/1");
  EXPECT_EQ(st->time, absl::FromUnixSeconds(1704067800));
  EXPECT_THAT(st->warnings, IsEmpty());
}

TEST(ParseStatementTest, SlsaV1ResolvedDependenciesAndRunDetails) {
  std::string json = Statement(
      "https://slsa.dev/provenance/v1",
      std::string(R"([{"name":"out","digest":{"sha256":")") + kSha256A + R"("}}])",
      std::string(
          R"({"buildDefinition":{"resolvedDependencies":[{"uri":"git+y","digest":{"gitCommit":")") +
          kGitSha1 + R"("}},{"name":"base","digest":{"sha256":")" + kSha256B +
          R"("}}]},"runDetails":{"builder":{"id":"https://b/2"},"metadata":{"startedOn":"2024-01-01T00:00:00Z"}}})");
  absl::StatusOr<StatementContent> st = ParseStatement(json, IngestLimits{});
  ASSERT_TRUE(st.ok()) << st.status();
  ASSERT_EQ(st->materials.size(), 2u);
  // gitCommit is stored as the sha1 it is.
  EXPECT_THAT(st->materials[0].digests, ElementsAre(std::string("sha1:") + kGitSha1));
  EXPECT_EQ(st->materials[1].name, "base");
  EXPECT_EQ(st->builder_id, "https://b/2");
  EXPECT_EQ(st->time, absl::FromUnixSeconds(1704067200));
}

TEST(ParseStatementTest, DispatchesOnPredicateTypeNotStatementVersion) {
  std::string json =
      std::string(
          R"({"_type":"https://in-toto.io/Statement/v0.1","predicateType":"https://slsa.dev/provenance/v1","subject":[{"digest":{"sha256":")") +
      kSha256A + R"("}}],"predicate":{"runDetails":{"builder":{"id":"https://b/3"}}}})";
  absl::StatusOr<StatementContent> st = ParseStatement(json, IngestLimits{});
  ASSERT_TRUE(st.ok()) << st.status();
  EXPECT_EQ(st->builder_id, "https://b/3");
  EXPECT_EQ(st->time, absl::InfinitePast());
}

TEST(ParseStatementTest, OtherPredicatesGiveSubjectsOnly) {
  std::string json = Statement(
      "https://example.com/custom", std::string(R"([{"digest":{"sha256":")") + kSha256A + R"("}}])",
      R"({"builder":{"id":"ignored"},"materials":[{"digest":{"sha256":"zz"}}]})");
  absl::StatusOr<StatementContent> st = ParseStatement(json, IngestLimits{});
  ASSERT_TRUE(st.ok()) << st.status();
  EXPECT_EQ(st->subjects.size(), 1u);
  EXPECT_THAT(st->materials, IsEmpty());
  EXPECT_EQ(st->builder_id, "");
}

TEST(ParseStatementTest, DropsBadDigestsWithAWarningNamingTheField) {
  std::string json = Statement(
      "https://slsa.dev/provenance/v0.2",
      std::string(R"([{"name":"a","digest":{"sha256":")") + kSha256A + R"(","sha512":"12"}}])",
      std::string(R"({"materials":[{"uri":"git+x","digest":{"sha256":")") + kGitSha1 + R"("}}]})");
  absl::StatusOr<StatementContent> st = ParseStatement(json, IngestLimits{});
  ASSERT_TRUE(st.ok()) << st.status();
  EXPECT_THAT(st->subjects[0].digests, ElementsAre(std::string("sha256:") + kSha256A));
  // A SHA-1 under "sha256" is dropped, never re-labelled as sha1.
  EXPECT_THAT(st->materials, IsEmpty());
  ASSERT_EQ(st->warnings.size(), 3u);
  EXPECT_THAT(st->warnings[0], HasSubstr("subject[0].digest.sha512: "));
  EXPECT_THAT(st->warnings[1], HasSubstr("predicate.materials[0].digest.sha256: "));
  EXPECT_THAT(st->warnings[1], HasSubstr("digest dropped"));
  EXPECT_THAT(st->warnings[2], HasSubstr("predicate.materials[0]: no usable digest; skipped"));
}

TEST(ParseStatementTest, DropsEmptyContentDigests) {
  std::string json = Statement("https://slsa.dev/provenance/v0.2",
                               std::string(R"([{"digest":{"sha256":")") + kSha256A + R"("}}])",
                               std::string(R"({"materials":[{"uri":"empty","digest":{"sha256":")") +
                                   kEmptySha256 + R"("}},{"uri":"also","digest":{"sha256":")" +
                                   kEmptySha256 + R"(","sha1":")" + kGitSha1 + R"("}}]})");
  absl::StatusOr<StatementContent> st = ParseStatement(json, IngestLimits{});
  ASSERT_TRUE(st.ok()) << st.status();
  ASSERT_EQ(st->materials.size(), 1u);
  EXPECT_THAT(st->materials[0].digests, ElementsAre(std::string("sha1:") + kGitSha1));
  EXPECT_THAT(st->warnings[0], HasSubstr("predicate.materials[0].digest.sha256: digest of empty"));
}

TEST(ParseStatementTest, UnknownAlgorithmsAreKeptVerbatimAndOrderedLast) {
  std::string json = Statement(
      "x", std::string(R"([{"digest":{"gce_image_id":"12345","sha256":")") + kSha256A + R"("}}])",
      "{}");
  absl::StatusOr<StatementContent> st = ParseStatement(json, IngestLimits{});
  ASSERT_TRUE(st.ok()) << st.status();
  EXPECT_THAT(st->subjects[0].digests,
              ElementsAre(std::string("sha256:") + kSha256A, "gce_image_id:12345"));
}

TEST(ParseStatementTest, RejectsWhenNoSubjectKeepsADigest) {
  std::string json = Statement("x", R"([{"uri":"pkg:npm/x"},{"digest":{"sha256":"00"}}])", "{}");
  absl::StatusOr<StatementContent> st = ParseStatement(json, IngestLimits{});
  ASSERT_FALSE(st.ok());
  EXPECT_EQ(Message(st.status()), "subject: no subject with a usable digest");
}

TEST(ParseStatementTest, RejectsStructuralErrors) {
  IngestLimits limits;
  EXPECT_THAT(
      Message(ParseStatement(R"({"_type":"https://in-toto.io/Statement/v1"})", limits).status()),
      HasSubstr("predicateType: missing"));
  EXPECT_THAT(Message(ParseStatement(R"({"_type":"nope","subject":[]})", limits).status()),
              HasSubstr("_type: unsupported type"));
  EXPECT_THAT(
      Message(ParseStatement(Statement("x", R"([{"digest":"sha256:00"}])", "{}"), limits).status()),
      HasSubstr("subject[0].digest: expected an object, got string"));
  EXPECT_THAT(
      Message(
          ParseStatement(Statement("x", R"([{"digest":{"sha256":5}}])", "{}"), limits).status()),
      HasSubstr("subject[0].digest.sha256: expected a string, got number"));
  EXPECT_THAT(
      Message(
          ParseStatement(
              R"({"_type":"https://in-toto.io/Statement/v1","_type":"https://in-toto.io/Statement/v1"})",
              limits)
              .status()),
      HasSubstr("_type: duplicate key"));
}

TEST(ParseStatementTest, EnforcesSubjectMaterialAndDigestLimits) {
  IngestLimits limits;
  limits.max_subjects = 2;
  std::string three = std::string("[") + R"({"digest":{"sha256":")" + kSha256A + R"("}},)" +
                      R"({"digest":{"sha256":")" + kSha256A + R"("}},)" +
                      R"({"digest":{"sha256":")" + kSha256A + R"("}}])";
  EXPECT_THAT(Message(ParseStatement(Statement("x", three, "{}"), limits).status()),
              HasSubstr("subject: 3 entries exceed max_subjects (2)"));

  limits = IngestLimits{};
  limits.max_materials = 0;
  EXPECT_THAT(Message(ParseStatement(
                          Statement("https://slsa.dev/provenance/v0.2",
                                    std::string(R"([{"digest":{"sha256":")") + kSha256A + R"("}}])",
                                    std::string(R"({"materials":[{"digest":{"sha256":")") +
                                        kSha256B + R"("}}]})"),
                          limits)
                          .status()),
              HasSubstr("predicate.materials: 1 entries exceed max_materials (0)"));

  limits = IngestLimits{};
  limits.max_digests_per_artifact = 1;
  EXPECT_THAT(Message(ParseStatement(Statement("x",
                                               std::string(R"([{"digest":{"sha256":")") + kSha256A +
                                                   R"(","sha1":")" + kGitSha1 + R"("}}])",
                                               "{}"),
                                     limits)
                          .status()),
              HasSubstr("max_digests_per_artifact"));
}

TEST(ParseStatementTest, LinkPayloadProductsBecomeSubjects) {
  std::string json =
      std::string(R"({"_type":"link","name":"package","materials":{"foo.py":{"sha256":")") +
      kSha256A + R"("}},"products":{"foo.tar.gz":{"sha256":")" + kSha256B + R"("}}})";
  absl::StatusOr<StatementContent> st = ParseStatement(json, IngestLimits{});
  ASSERT_TRUE(st.ok()) << st.status();
  EXPECT_EQ(st->statement_type, "link");
  ASSERT_EQ(st->subjects.size(), 1u);
  EXPECT_EQ(st->subjects[0].name, "foo.tar.gz");
  ASSERT_EQ(st->materials.size(), 1u);
  EXPECT_EQ(st->materials[0].name, "foo.py");

  absl::StatusOr<StatementContent> none =
      ParseStatement(R"({"_type":"link","materials":{},"products":{}})", IngestLimits{});
  ASSERT_FALSE(none.ok());
  EXPECT_EQ(Message(none.status()), "products: no product with a usable digest");
}

TEST(ParseLinkTest, CanonicalizesSignedAndDecodesHexSignatures) {
  std::string json =
      std::string(
          R"({"signatures":[{"keyid":"ab","sig":"0102ff"}],"signed":{"products":{"f":{"sha256":")") +
      kSha256A + R"("}},"_type":"link","materials":{}}})";
  absl::StatusOr<LinkMetablock> link = ParseLink(json, IngestLimits{});
  ASSERT_TRUE(link.ok()) << link.status();
  EXPECT_EQ(link->canonical_signed,
            std::string(R"({"_type":"link","materials":{},"products":{"f":{"sha256":")") +
                kSha256A + R"("}}})");
  ASSERT_EQ(link->signatures.size(), 1u);
  EXPECT_EQ(link->signatures[0].sig, std::string("\x01\x02\xff"));
  EXPECT_EQ(link->content.subjects.size(), 1u);
}

TEST(ParseLinkTest, RejectsLayoutsAndFlagsGpgSignatures) {
  EXPECT_THAT(
      Message(
          ParseLink(R"({"signed":{"_type":"layout"},"signatures":[]})", IngestLimits{}).status()),
      HasSubstr("layout is a policy"));
  std::string gpg = std::string(R"({"signed":{"_type":"link","products":{"f":{"sha256":")") +
                    kSha256A +
                    R"("}}},"signatures":[{"keyid":"x","other_headers":"aa","signature":"bb"}]})";
  absl::StatusOr<LinkMetablock> link = ParseLink(gpg, IngestLimits{});
  ASSERT_TRUE(link.ok()) << link.status();
  EXPECT_EQ(link->signatures[0].problem, "GPG signatures are not supported");
}

}  // namespace
}  // namespace lineage::ingest
