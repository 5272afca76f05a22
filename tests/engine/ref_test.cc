#include "engine/include/lineage/ref.h"

#include <string>

#include <gtest/gtest.h>

namespace lineage {
namespace {

const std::string kSha256Hex = "9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08";
const std::string kSha1Hex = "a94a8fe5ccb19ba61c4c0873d391e987982fbbd3";

TEST(RefTest, Sha256DigestIsLowerCased) {
  absl::StatusOr<Ref> ref =
      ParseRef("SHA256:9F86D081884C7D659A2FEAA0C55AD015A3BF4F1B2B0B822CD15D6C15B0F00A08");
  ASSERT_TRUE(ref.ok()) << ref.status();
  EXPECT_EQ(ref->kind, NodeKind::kArtifact);
  EXPECT_EQ(ref->text, "sha256:" + kSha256Hex);
}

TEST(RefTest, CanonicalDigestAcceptsDigestSetSpelling) {
  absl::StatusOr<std::string> d = CanonicalDigest("sha512", std::string(128, 'A'));
  ASSERT_TRUE(d.ok()) << d.status();
  EXPECT_EQ(*d, "sha512:" + std::string(128, 'a'));
}

TEST(RefTest, GitCommitOf40HexIsStoredAsSha1) {
  absl::StatusOr<std::string> d = CanonicalDigest("gitCommit", kSha1Hex);
  ASSERT_TRUE(d.ok()) << d.status();
  EXPECT_EQ(*d, "sha1:" + kSha1Hex);
}

TEST(RefTest, GitCommitOf64HexIsStoredAsSha256) {
  absl::StatusOr<std::string> d = CanonicalDigest("gitCommit", kSha256Hex);
  ASSERT_TRUE(d.ok()) << d.status();
  EXPECT_EQ(*d, "sha256:" + kSha256Hex);
}

TEST(RefTest, GitCommitOfOtherLengthIsRejected) {
  EXPECT_EQ(CanonicalDigest("gitCommit", "abc123").status().code(),
            absl::StatusCode::kInvalidArgument);
}

TEST(RefTest, Sha256WithSha1LengthIsRejectedNotRelabelled) {
  absl::StatusOr<Ref> ref = ParseRef("sha256:" + kSha1Hex);
  EXPECT_EQ(ref.status().code(), absl::StatusCode::kInvalidArgument);
}

TEST(RefTest, NonHexDigestIsRejected) {
  std::string bad = kSha256Hex;
  bad[10] = 'g';
  EXPECT_FALSE(ParseRef("sha256:" + bad).ok());
}

TEST(RefTest, DashedAlgorithmNameIsNormalised) {
  absl::StatusOr<std::string> d = CanonicalDigest("sha3-256", kSha256Hex);
  ASSERT_TRUE(d.ok()) << d.status();
  EXPECT_EQ(*d, "sha3_256:" + kSha256Hex);
}

TEST(RefTest, UnknownAlgorithmIsKeptVerbatim) {
  absl::StatusOr<Ref> ref = ParseRef("dirHash:AbC/123+=");
  ASSERT_TRUE(ref.ok()) << ref.status();
  EXPECT_EQ(ref->kind, NodeKind::kArtifact);
  EXPECT_EQ(ref->text, "dirhash:AbC/123+=");
  EXPECT_EQ(DigestPreference(ref->text), DigestPreference("other:x"));
  EXPECT_GT(DigestPreference(ref->text), DigestPreference("sha1:" + kSha1Hex));
}

TEST(RefTest, UnknownAlgorithmWithSpaceInValueIsRejected) {
  EXPECT_FALSE(ParseRef("foo:a b").ok());
}

TEST(RefTest, PreferenceRanksSha256First) {
  EXPECT_LT(DigestPreference("sha256:" + kSha256Hex),
            DigestPreference("sha512:" + std::string(128, 'a')));
  EXPECT_LT(DigestPreference("sha512:" + std::string(128, 'a')),
            DigestPreference("sha1:" + kSha1Hex));
}

TEST(RefTest, EmptyContentDigestsAreDetected) {
  EXPECT_TRUE(IsEmptyContentDigest(
      "sha256:e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"));
  EXPECT_TRUE(IsEmptyContentDigest("sha1:da39a3ee5e6b4b0d3255bfef95601890afd80709"));
  EXPECT_FALSE(IsEmptyContentDigest("sha256:" + kSha256Hex));
  EXPECT_FALSE(IsEmptyContentDigest("unknown:e3b0"));
  EXPECT_FALSE(IsEmptyContentDigest("nocolon"));
}

TEST(RefTest, KeyFingerprintIsCanonicalised) {
  absl::StatusOr<Ref> ref = ParseRef("KEY:SHA256:" + std::string(64, 'F'));
  ASSERT_TRUE(ref.ok()) << ref.status();
  EXPECT_EQ(ref->kind, NodeKind::kKey);
  EXPECT_EQ(ref->text, "key:sha256:" + std::string(64, 'f'));
  EXPECT_EQ(KeyRefFromFingerprint(std::string(64, 'F')), ref->text);
}

TEST(RefTest, KeyIdAliasIsKeptVerbatim) {
  absl::StatusOr<Ref> ref = ParseRef("key:SHA256:AbCd+/=");
  ASSERT_TRUE(ref.ok()) << ref.status();
  EXPECT_EQ(ref->kind, NodeKind::kKey);
  EXPECT_EQ(ref->text, "key:SHA256:AbCd+/=");
}

TEST(RefTest, BuilderIdIsVerbatim) {
  absl::StatusOr<Ref> ref =
      ParseRef("builder:https://github.com/Attestations/GitHubHostedActions@v1");
  ASSERT_TRUE(ref.ok()) << ref.status();
  EXPECT_EQ(ref->kind, NodeKind::kBuilder);
  EXPECT_EQ(ref->text, "builder:https://github.com/Attestations/GitHubHostedActions@v1");
  EXPECT_FALSE(ParseRef("builder:").ok());
  EXPECT_FALSE(BuilderRef("a\nb").ok());
}

TEST(RefTest, WorkloadNeedsFourParts) {
  absl::StatusOr<Ref> ref = ParseRef("workload:prod/payments/Deployment/api");
  ASSERT_TRUE(ref.ok()) << ref.status();
  EXPECT_EQ(ref->kind, NodeKind::kWorkload);
  EXPECT_EQ(ref->text, "workload:prod/payments/Deployment/api");
  EXPECT_FALSE(ParseRef("workload:prod/payments/api").ok());
  EXPECT_FALSE(ParseRef("workload:prod//Deployment/api").ok());
  absl::StatusOr<Ref> built = WorkloadRef("prod", "payments", "Deployment", "api");
  ASSERT_TRUE(built.ok());
  EXPECT_EQ(*built, *ref);
}

TEST(RefTest, RefWithoutPrefixIsRejected) {
  EXPECT_EQ(ParseRef(kSha256Hex).status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_FALSE(ParseRef(":abc").ok());
  EXPECT_FALSE(ParseRef("").ok());
}

TEST(RefTest, DigestAlgorithmNamedLikeAnotherKindIsRejected) {
  EXPECT_FALSE(CanonicalDigest("builder", "x").ok());
  EXPECT_FALSE(CanonicalDigest("key", "x").ok());
}

// --- Keyless identities ---------------------------------------------------------

constexpr char kIssuer[] = "https://token.actions.githubusercontent.com";
constexpr char kSan[] = "https://github.com/o/r/.github/workflows/rel.yml@refs/tags/v1";

TEST(KeylessRefTest, PlainIdentityIsWrittenAsIs) {
  absl::StatusOr<Ref> ref = KeylessRef(kIssuer, kSan);
  ASSERT_TRUE(ref.ok()) << ref.status();
  EXPECT_EQ(ref->kind, NodeKind::kKey);
  EXPECT_EQ(ref->text, std::string("key:keyless:") + kIssuer + "|" + kSan);
}

TEST(KeylessRefTest, SeparatorPercentSpaceAndControlsAreEscaped) {
  absl::StatusOr<Ref> ref = KeylessRef("https://a|b", "x y%z\n");
  ASSERT_TRUE(ref.ok()) << ref.status();
  EXPECT_EQ(ref->text, "key:keyless:https://a%7Cb|x%20y%25z%0A");
}

TEST(KeylessRefTest, ParseRefRoundTripsAndCanonicalises) {
  absl::StatusOr<Ref> canonical = KeylessRef("https://a|b", "me@example.com");
  ASSERT_TRUE(canonical.ok());
  // Lower-case escapes, an escaped ordinary character and an upper-case
  // prefix are other spellings of the same identity.
  for (const char* spelling :
       {"key:keyless:https://a%7Cb|me@example.com", "KEY:KEYLESS:https://a%7cb|me%40example.com"}) {
    absl::StatusOr<Ref> parsed = ParseRef(spelling);
    ASSERT_TRUE(parsed.ok()) << spelling << ": " << parsed.status();
    EXPECT_EQ(parsed->text, canonical->text) << spelling;
    EXPECT_EQ(parsed->kind, NodeKind::kKey);
  }
  absl::StatusOr<std::pair<std::string, std::string>> parts = ParseKeylessRef(canonical->text);
  ASSERT_TRUE(parts.ok());
  EXPECT_EQ(parts->first, "https://a|b");
  EXPECT_EQ(parts->second, "me@example.com");
}

TEST(KeylessRefTest, MalformedKeylessRefsAreRejected) {
  for (const char* bad :
       {"key:keyless:", "key:keyless:issuer", "key:keyless:|san", "key:keyless:issuer|",
        "key:keyless:a|b|c", "key:keyless:a%4|b", "key:keyless:a%zz|b"}) {
    EXPECT_FALSE(ParseRef(bad).ok()) << bad;
  }
  EXPECT_FALSE(KeylessRef("", "san").ok());
  EXPECT_FALSE(KeylessRef("issuer", std::string(3000, 'a')).ok());
}

TEST(KeylessRefTest, FingerprintRefsAreUnaffected) {
  absl::StatusOr<Ref> ref = ParseRef("key:sha256:" + kSha256Hex);
  ASSERT_TRUE(ref.ok());
  EXPECT_EQ(ref->text, "key:sha256:" + kSha256Hex);
}

}  // namespace
}  // namespace lineage
