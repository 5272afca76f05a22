// Sigstore bundles and keyless signatures from the real corpus
// (tests/data/corpus; origins in its MANIFEST.tsv), verified offline against
// the trusted roots in its keys/ folder. Every bundle the corpus marks valid
// verifies, unless its trust material is not in the corpus (said per case);
// every file in invalid/ is rejected for the reason upstream gives.
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <map>
#include <sstream>
#include <string>
#include <vector>

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "engine/include/lineage/ref.h"
#include "engine/include/lineage/store.h"
#include "ingest/include/lineage/ingest/crypto.h"
#include "ingest/include/lineage/ingest/ingest.h"
#include "ingest/include/lineage/ingest/sigstore.h"
#include "ingest/include/lineage/ingest/trust_policy.h"

namespace lineage::ingest {
namespace {

using ::testing::HasSubstr;
using ::testing::StartsWith;

const std::string kCorpus = std::string(LINEAGE_TEST_DATA) + "/corpus/";
constexpr char kPublicGood[] = "sigstore__sigstore-go__trusted-root-public-good.json";
constexpr char kCustomRoot[] =
    "sigstore__sigstore-conformance__intoto-with-custom-trust-root__trusted_root.json";
constexpr char kStaging[] =
    "sigstore__sigstore-python__tuf-repo-cdn.sigstage.dev__trusted_root.json";
constexpr char kGithubIssuer[] = "https://token.actions.githubusercontent.com";

std::string ReadFile(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::stringstream buffer;
  buffer << in.rdbuf();
  return buffer.str();
}

std::string Message(const absl::Status& status) {
  return std::string(status.message());
}

std::shared_ptr<const TrustedRoot> Root(const std::string& file) {
  absl::StatusOr<std::shared_ptr<const TrustedRoot>> root =
      TrustedRoot::LoadFile(kCorpus + "keys/" + file);
  EXPECT_TRUE(root.ok()) << root.status();
  return root.ok() ? *root : nullptr;
}

TrustedKey Key(const std::string& file) {
  absl::StatusOr<std::shared_ptr<PublicKey>> key =
      PublicKey::FromPem(ReadFile(kCorpus + "keys/" + file));
  EXPECT_TRUE(key.ok()) << key.status();
  return TrustedKey{file, key.ok() ? *key : nullptr, false};
}

TrustedIdentity Identity(const std::string& issuer, bool issuer_regex, const std::string& san,
                         bool san_regex) {
  absl::StatusOr<TrustedIdentity> identity =
      MakeTrustedIdentity("test", issuer, issuer_regex, san, san_regex);
  EXPECT_TRUE(identity.ok()) << identity.status();
  return *identity;
}

// Every trusted root of the corpus, the npm registry's key, the managed key
// of sigstore-go's public-key bundle, and any identity: what decides the
// verdicts below is the chain, the log, the time and the signature.
TrustPolicy CorpusPolicy() {
  TrustPolicy policy;
  for (const char* root : {kPublicGood, kCustomRoot, kStaging})
    policy.AddTrustedRoot(Root(root));
  policy.AddKey(Key("sigstore__sigstore-go__publish_key.pub"));
  policy.AddKey(Key("sigstore__sigstore-go__public-key-validity.pem"));
  policy.AddIdentity(Identity(".*", true, ".*", true));
  return policy;
}

// Finds corpus files by their 64-hex digest suffix, as an OCI layout does.
std::optional<std::string> CorpusBlob(std::string_view digest) {
  std::string hex(digest.substr(digest.find(':') + 1));
  for (const auto& entry : std::filesystem::recursive_directory_iterator(kCorpus)) {
    std::string name = entry.path().filename().string();
    if (name.size() >= hex.size() && name.substr(name.size() - hex.size()) == hex) {
      return ReadFile(entry.path().string());
    }
  }
  return std::nullopt;
}

std::vector<ItemResult> Verify(const std::string& relative, const TrustPolicy& policy,
                               bool allow_unsigned = false) {
  IngestOptions options;
  options.allow_unsigned = allow_unsigned;
  options.blob_lookup = CorpusBlob;
  return VerifyDocument(relative, ReadFile(kCorpus + relative), policy, options);
}

// --- Trusted roots ----------------------------------------------------------

TEST(TrustedRootTest, CorpusRootsParseWithTheirAuthoritiesAndLogs) {
  std::shared_ptr<const TrustedRoot> good = Root(kPublicGood);
  ASSERT_NE(good, nullptr);
  EXPECT_EQ(good->tlogs().size(), 1u);
  EXPECT_EQ(good->certificate_authorities().size(), 2u);
  EXPECT_EQ(good->ctlogs().size(), 2u);
  EXPECT_EQ(good->timestamp_authorities().size(), 1u);
  EXPECT_EQ(good->tlogs()[0].base_url, "https://rekor.sigstore.dev");
  EXPECT_EQ(EncodeBase64(good->tlogs()[0].log_id), "wNI9atQGlz+VWfO6LRygH4QUfY/8W4RFwiT5i5WRgB0=");
  // The first Fulcio CA was retired at the end of 2022.
  EXPECT_EQ(good->certificate_authorities()[0].valid_for.end, absl::FromUnixMillis(1672531199999));
  EXPECT_EQ(good->certificate_authorities()[1].valid_for.end, absl::InfiniteFuture());
  EXPECT_EQ(good->certificate_authorities()[1].chain.size(), 2u);

  // Staging: Rekor v2 logs with Ed25519 keys.
  std::shared_ptr<const TrustedRoot> staging = Root(kStaging);
  ASSERT_NE(staging, nullptr);
  EXPECT_EQ(staging->tlogs().size(), 4u);
  EXPECT_EQ(staging->tlogs()[3].key->algorithm(), "ed25519");
  ASSERT_NE(Root("cli__cli__trusted_root.json"), nullptr);
  ASSERT_NE(Root(kCustomRoot), nullptr);
}

TEST(TrustedRootTest, ErrorsNameTheFileAndField) {
  absl::StatusOr<std::shared_ptr<const TrustedRoot>> root = TrustedRoot::Parse(
      R"({"mediaType":"application/vnd.dev.sigstore.trustedroot+json;version=0.1",
        "tlogs":[{"publicKey":{"rawBytes":"AAAA","validFor":{"start":"2021-01-01T00:00:00Z"}},
                  "logId":{"keyId":"AA=="}}]})",
      "root.json");
  ASSERT_FALSE(root.ok());
  EXPECT_THAT(Message(root.status()),
              HasSubstr("root.json: tlogs[0].publicKey.rawBytes: not a DER SubjectPublicKeyInfo"));
  EXPECT_THAT(Message(TrustedRoot::Parse(R"({"mediaType":"x"})", "r.json").status()),
              HasSubstr("r.json: mediaType: not a Sigstore trusted root"));
}

// --- Valid bundles ------------------------------------------------------------

struct Expected {
  std::string file;
  // Per item, in order: "" for verified, else a substring of the rejection.
  std::vector<std::string> items;
  std::string why;  // for a rejection of a file the corpus marks valid
};

const std::vector<Expected>& ValidBundles() {
  static const std::vector<Expected> kCases = {
      {"sigstore-bundle-v0.1/cli__cli__sigstore-js-2.1.0-bundle-v0.1.json", {""}, ""},
      {"sigstore-bundle-v0.1/sigstore__sigstore-conformance__happy-path-v0.1__bundle.sigstore.json",
       {""},
       ""},
      {"sigstore-bundle-v0.1/sigstore__sigstore-go__bundle-provenance.json", {""}, ""},
      {"sigstore-bundle-v0.1/sigstore__sigstore-go__bundle-publish.json", {""}, ""},
      {"sigstore-bundle-v0.1/sigstore__sigstore-js__bundleV01-dsse-with-proof.sigstore", {""}, ""},
      {"sigstore-bundle-v0.1/sigstore__sigstore-js__bundleV01-full-cert-chain.sigstore", {""}, ""},
      {"sigstore-bundle-v0.1/sigstore__sigstore-python__Python-3.12.5.tgz.sigstore", {""}, ""},
      {"sigstore-bundle-v0.1/slsa-framework__slsa-verifier__provenance-npm-test-ossf.tgz.json",
       {"", ""},
       ""},
      {"sigstore-bundle-v0.1/slsa-framework__slsa-verifier__supreme-googles-cli-v02-tag.tgz.json",
       {"", ""},
       ""},
      {"sigstore-bundle-v0.2/"
       "sigstore__sigstore-conformance__intoto-with-custom-trust-root__bundle.sigstore.json",
       {""},
       ""},
      {"sigstore-bundle-v0.2/sigstore__sigstore-js__bundleV02-dsse.sigstore", {""}, ""},
      {"sigstore-bundle-v0.2/sigstore__sigstore-python__bundle_v3_github.whl.sigstore", {""}, ""},
      {"sigstore-bundle-v0.2/"
       "slsa-framework__slsa-verifier__gha_container-based-v2.1.0__binary-linux-amd64-push-v14."
       "intoto.build.slsa",
       {"subject: no subject with a usable digest"},
       "the signature verifies, but the only subject is the empty-file digest, which ingest "
       "never makes a node (docs/ingest.md, digest rule 3)"},
      {"sigstore-bundle-v0.2/"
       "slsa-framework__slsa-verifier__gha_delegator-v2.1.0__binary-linux-amd64-push-v14.build."
       "slsa",
       {""},
       ""},
      {"sigstore-bundle-v0.2/"
       "slsa-framework__slsa-verifier__gha_gradle-v2.1.0__binary-linux-amd64-push-v14.build.slsa",
       {""},
       ""},
      {"sigstore-bundle-v0.2/"
       "slsa-framework__slsa-verifier__provenance-npm-test-cli-v1-prega.tgz.json",
       {"", ""},
       ""},
      {"sigstore-bundle-v0.3/cli__cli__custom-issuer.sigstore.json", {""}, ""},
      {"sigstore-bundle-v0.3/cli__cli__github_provenance_demo-0.0.12-py3-none-any-bundle.jsonl",
       {"certificate chain: "},
       "issued by GitHub's own Fulcio, whose trusted root is not in the corpus"},
      {"sigstore-bundle-v0.3/cli__cli__sigstore-js-2.1.0-bundle.json", {""}, ""},
      {"sigstore-bundle-v0.3/sigstore__cosign__oci-attestation.sigstore.json", {""}, ""},
      {"sigstore-bundle-v0.3/"
       "sigstore__sigstore-conformance__happy-path-intoto-in-dsse-v3__bundle.sigstore.json",
       {""},
       ""},
      {"sigstore-bundle-v0.3/sigstore__sigstore-conformance__happy-path-v0.3__bundle.sigstore.json",
       {""},
       ""},
      {"sigstore-bundle-v0.3/sigstore__sigstore-go__othername.sigstore.json",
       {"certificate chain: "},
       "issued by sigstore-go's test CA and logged in a test Rekor, neither of which is in the "
       "corpus (the manifest's note is wrong: it is not the public-good Fulcio)"},
      {"sigstore-bundle-v0.3/sigstore__sigstore-go__public-key-validity.sigstore.json", {""}, ""},
      {"sigstore-bundle-v0.3/sigstore__sigstore-js__bundleV03-dsse.sigstore", {""}, ""},
      {"sigstore-bundle-v0.3/sigstore__sigstore-python__a.dsse.staging-rekor-v2.txt.sigstore.json",
       {""},
       ""},
      {"sigstore-bundle-v0.3/sigstore__sigstore-python__bundle_v3.txt.sigstore", {""}, ""},
      {"sigstore-bundle-v0.3/sigstore__sigstore-python__tsa__bundle.txt.sigstore", {""}, ""},
      {"sigstore-bundle-v0.3/slsa-framework__slsa-verifier__bcr__MODULE.bazel.intoto.jsonl",
       {""},
       ""},
      {"sigstore-bundle-v0.3/"
       "slsa-framework__slsa-verifier__gha_go-v2.1.0__binary-linux-amd64-push-v14.intoto.jsonl",
       {""},
       ""},
      {"other/slsa-framework__slsa-verifier__gha_generic_container-v2.1.0__"
       "21454caf3a160dfbe6359f0501aa8401c6c0f2c7a8b71380ea21f8c4b48b64fe",
       {""},
       ""},
  };
  return kCases;
}

TEST(SigstoreCorpusTest, EveryValidBundleVerifiesOrFailsForItsStatedReason) {
  TrustPolicy policy = CorpusPolicy();
  for (const Expected& c : ValidBundles()) {
    SCOPED_TRACE(c.file);
    std::vector<ItemResult> items = Verify(c.file, policy);
    ASSERT_EQ(items.size(), c.items.size());
    for (size_t i = 0; i < items.size(); ++i) {
      if (c.items[i].empty()) {
        ASSERT_TRUE(items[i].record.ok()) << items[i].record.status();
        const AttestationRecord& r = *items[i].record;
        ASSERT_EQ(r.signers.size(), 1u);
        EXPECT_FALSE(r.subjects.empty());
        EXPECT_EQ(r.source, items[i].source);
        absl::StatusOr<Ref> ref = ParseRef(r.signers[0].key_ref);
        ASSERT_TRUE(ref.ok()) << ref.status();
        EXPECT_EQ(ref->text, r.signers[0].key_ref) << "signer refs are canonical";
        if (r.signers[0].key_ref.rfind("key:keyless:", 0) == 0) {
          EXPECT_EQ(r.signers[0].certificate_sha256.size(), 64u);
          EXPECT_GE(r.signers[0].log_index, 0);
          EXPECT_NE(r.signers[0].signed_at, absl::InfinitePast());
        }
      } else {
        ASSERT_FALSE(items[i].record.ok()) << c.why;
        EXPECT_THAT(Message(items[i].record.status()), HasSubstr(c.items[i])) << c.why;
      }
    }
  }
}

TEST(SigstoreCorpusTest, KeylessSignerIsTheWorkflowIdentityWithCertificateAndLogIndex) {
  std::vector<ItemResult> items =
      Verify("sigstore-bundle-v0.3/cli__cli__sigstore-js-2.1.0-bundle.json", CorpusPolicy());
  ASSERT_EQ(items.size(), 1u);
  ASSERT_TRUE(items[0].record.ok()) << items[0].record.status();
  const AttestationRecord& r = *items[0].record;
  EXPECT_EQ(r.format, "sigstore-bundle");
  EXPECT_EQ(r.predicate_type, "https://slsa.dev/provenance/v1");
  const VerifiedSigner& s = r.signers.at(0);
  EXPECT_EQ(
      s.key_ref,
      "key:keyless:https://token.actions.githubusercontent.com|"
      "https://github.com/sigstore/sigstore-js/.github/workflows/release.yml@refs/heads/main");
  EXPECT_EQ(s.issuer, kGithubIssuer);
  EXPECT_EQ(s.log_index, 33351527);
  EXPECT_EQ(s.signed_at, absl::FromUnixSeconds(1693323623));
  EXPECT_EQ(s.algorithm, "ecdsa-p256-sha256");
  // The same envelope in the v0.1 bundle is the same attestation.
  std::vector<ItemResult> v01 =
      Verify("sigstore-bundle-v0.1/cli__cli__sigstore-js-2.1.0-bundle-v0.1.json", CorpusPolicy());
  ASSERT_TRUE(v01.at(0).record.ok());
  EXPECT_EQ(v01[0].record->id, r.id);
  EXPECT_EQ(v01[0].record->signers.at(0).key_ref, s.key_ref);
}

// The trusted root's JSON with its "ctlogs" array emptied.
std::string WithoutCtLogs(std::string json) {
  size_t key = json.find("\"ctlogs\"");
  size_t open = json.find('[', key);
  EXPECT_NE(key, std::string::npos);
  int depth = 0;
  size_t close = open;
  for (; close < json.size(); ++close) {
    if (json[close] == '[') ++depth;
    if (json[close] == ']' && --depth == 0) break;
  }
  return json.substr(0, open) + "[]" + json.substr(close + 1);
}

TEST(SigstoreCorpusTest, CertificateTransparencyNeedsTheCtLogOfTheTrustedRoot) {
  const std::string file = "sigstore-bundle-v0.3/cli__cli__sigstore-js-2.1.0-bundle.json";
  absl::StatusOr<std::shared_ptr<const TrustedRoot>> stripped = TrustedRoot::Parse(
      WithoutCtLogs(ReadFile(kCorpus + "keys/" + kPublicGood)), "public-good without ctlogs");
  ASSERT_TRUE(stripped.ok()) << stripped.status();
  ASSERT_TRUE((*stripped)->ctlogs().empty());
  ASSERT_FALSE(Root(kPublicGood)->ctlogs().empty());
  TrustPolicy policy;
  policy.AddTrustedRoot(*stripped);
  policy.AddIdentity(Identity(".*", true, ".*", true));

  // Everything else verifies (chain, log, signature): only the SCT is left
  // without a log to check it against.
  std::vector<ItemResult> items = Verify(file, policy);
  ASSERT_FALSE(items.at(0).record.ok());
  EXPECT_THAT(Message(items[0].record.status()),
              HasSubstr("sct: 0 of the certificate's 1 signed certificate timestamps verify with "
                        "a CT log of the trusted roots (0 CT logs)"));
  EXPECT_THAT(Message(items[0].record.status()), HasSubstr("is not a CT log of the trusted roots"));

  policy.set_sct_threshold(0);
  items = Verify(file, policy);
  EXPECT_TRUE(items.at(0).record.ok()) << items[0].record.status();
  // Two SCTs cannot be found in a certificate that embeds one.
  TrustPolicy strict = CorpusPolicy();
  strict.set_sct_threshold(2);
  items = Verify(file, strict);
  ASSERT_FALSE(items.at(0).record.ok());
  EXPECT_THAT(Message(items[0].record.status()),
              HasSubstr("sct: 1 of the certificate's 1 signed certificate timestamps verify"));
}

TEST(SigstoreCorpusTest, RekorV2EntryIsTimedByItsRfc3161Timestamp) {
  // Rekor v2 (staging) gives an inclusion proof with an Ed25519-signed
  // checkpoint but no signed entry timestamp: the time comes from the
  // timestamp authority of the staging root.
  std::vector<ItemResult> items = Verify(
      "sigstore-bundle-v0.3/sigstore__sigstore-python__a.dsse.staging-rekor-v2.txt.sigstore.json",
      CorpusPolicy());
  ASSERT_TRUE(items.at(0).record.ok()) << items[0].record.status();
  EXPECT_TRUE(items[0].warnings.empty()) << items[0].warnings[0];
  EXPECT_EQ(items[0].record->signers.at(0).signed_at,
            absl::FromCivil(absl::CivilSecond(2026, 5, 13, 19, 23, 33), absl::UTCTimeZone()));

  // Without the staging root, neither its log nor its TSA is trusted.
  TrustPolicy public_good;
  public_good.AddTrustedRoot(Root(kPublicGood));
  public_good.AddIdentity(Identity(".*", true, ".*", true));
  items = Verify(
      "sigstore-bundle-v0.3/sigstore__sigstore-python__a.dsse.staging-rekor-v2.txt.sigstore.json",
      public_good);
  ASSERT_FALSE(items.at(0).record.ok());
  EXPECT_THAT(Message(items[0].record.status()), HasSubstr("certificate chain: "));
}

TEST(SigstoreCorpusTest, TimestampsFromUnknownAuthoritiesAddNoTimeButWarn) {
  // sigstore-python's TSA test bundle: its two timestamps come from a TSA
  // whose root is not in the corpus; the log's promise gives the time.
  std::vector<ItemResult> items = Verify(
      "sigstore-bundle-v0.3/sigstore__sigstore-python__tsa__bundle.txt.sigstore", CorpusPolicy());
  ASSERT_TRUE(items.at(0).record.ok()) << items[0].record.status();
  ASSERT_EQ(items[0].warnings.size(), 2u);
  EXPECT_THAT(items[0].warnings[0], HasSubstr("rfc3161Timestamps[0]: timestamp of "
                                              "2024-10-31T10:23:39Z does not verify"));
  // The conformance custom root's own TSA does verify: no warning.
  items = Verify(
      "sigstore-bundle-v0.2/"
      "sigstore__sigstore-conformance__intoto-with-custom-trust-root__bundle.sigstore.json",
      CorpusPolicy());
  ASSERT_TRUE(items.at(0).record.ok()) << items[0].record.status();
  EXPECT_TRUE(items[0].warnings.empty()) << items[0].warnings[0];
}

TEST(SigstoreCorpusTest, MessageSignatureNamesTheArtifactByDigest) {
  std::vector<ItemResult> items = Verify(
      "sigstore-bundle-v0.3/sigstore__sigstore-python__bundle_v3.txt.sigstore", CorpusPolicy());
  ASSERT_TRUE(items.at(0).record.ok()) << items[0].record.status();
  const AttestationRecord& r = *items[0].record;
  EXPECT_EQ(r.format, "sigstore-message-signature");
  // The artifact is in the corpus: its digest is the subject.
  EXPECT_EQ(
      r.subjects.at(0).digests.at(0),
      "sha256:" + Sha256Hex(ReadFile(kCorpus + "other/sigstore__sigstore-python__bundle_v3.txt")));
  EXPECT_EQ(r.signers.at(0).key_ref,
            "key:keyless:https://github.com/login/oauth|william@yossarian.net");
}

TEST(SigstoreCorpusTest, PublicKeyBundlesGoThroughTheKeyPolicy) {
  const std::string file = "sigstore-bundle-v0.1/sigstore__sigstore-go__bundle-publish.json";
  TrustPolicy with_key;
  with_key.AddTrustedRoot(Root(kPublicGood));
  with_key.AddKey(Key("sigstore__sigstore-go__publish_key.pub"));
  std::vector<ItemResult> items = Verify(file, with_key);
  ASSERT_TRUE(items.at(0).record.ok()) << items[0].record.status();
  EXPECT_EQ(items[0].record->signers.at(0).key_ref, with_key.keys()[0].key->ref());
  // npm's hint "SHA256:<base64>" names that key.
  EXPECT_EQ(items[0].record->signers[0].keyid,
            "SHA256:jl3bwswu80PjjokCgh0o2w5c2U4LhQAE57gj9cz1kzA");

  TrustPolicy without_key;
  without_key.AddTrustedRoot(Root(kPublicGood));
  without_key.AddKey(Key("in-toto__witness__testpub.pem"));
  items = Verify(file, without_key);
  ASSERT_FALSE(items.at(0).record.ok());
  EXPECT_THAT(Message(items[0].record.status()), HasSubstr("signature: "));
}

// --- Identity policy -------------------------------------------------------

TEST(SigstoreIdentityTest, GithubWorkflowAtATagMatchesByRegex) {
  const std::string file =
      "sigstore-bundle-v0.2/sigstore__sigstore-python__bundle_v3_github.whl.sigstore";
  TrustPolicy policy;
  policy.AddTrustedRoot(Root(kPublicGood));
  policy.AddIdentity(Identity(kGithubIssuer, false,
                              R"(https://github\.com/trailofbits/rfc8785\.py/\.github/workflows/)"
                              R"(release\.yml@refs/tags/.*)",
                              true));
  std::vector<ItemResult> items = Verify(file, policy);
  ASSERT_TRUE(items.at(0).record.ok()) << items[0].record.status();
  EXPECT_EQ(items[0].record->signers.at(0).san,
            "https://github.com/trailofbits/rfc8785.py/.github/workflows/release.yml@refs/tags/"
            "v0.1.2");
}

TEST(SigstoreIdentityTest, IdentityOutsideThePolicyIsRejected) {
  const std::string file =
      "sigstore-bundle-v0.2/sigstore__sigstore-python__bundle_v3_github.whl.sigstore";
  struct Case {
    std::string issuer, san;
    bool san_regex;
  };
  // Another repository; a branch instead of a tag; the right SAN from
  // another issuer; a regex that would match only as a substring.
  const Case cases[] = {
      {kGithubIssuer, R"(https://github\.com/other/repo/.*)", true},
      {kGithubIssuer, R"(https://github\.com/trailofbits/rfc8785\.py/.*@refs/heads/.*)", true},
      {"https://accounts.google.com", ".*", true},
      {kGithubIssuer, "release\\.yml", true},
  };
  for (const Case& c : cases) {
    SCOPED_TRACE(c.san);
    TrustPolicy policy;
    policy.AddTrustedRoot(Root(kPublicGood));
    policy.AddIdentity(Identity(c.issuer, false, c.san, c.san_regex));
    std::vector<ItemResult> items = Verify(file, policy);
    ASSERT_FALSE(items.at(0).record.ok());
    EXPECT_THAT(
        Message(items[0].record.status()),
        HasSubstr(file + ": identity: issuer \"https://token.actions.githubusercontent.com\""));
  }
}

TEST(SigstoreIdentityTest, KeylessNeedsATrustedRoot) {
  TrustPolicy policy;
  policy.AddIdentity(Identity(".*", true, ".*", true));
  std::vector<ItemResult> items =
      Verify("sigstore-bundle-v0.3/cli__cli__sigstore-js-2.1.0-bundle.json", policy);
  ASSERT_FALSE(items.at(0).record.ok());
  EXPECT_THAT(Message(items[0].record.status()),
              HasSubstr("certificate chain: the trust policy names no trusted_roots"));
}

// --- Invalid files -------------------------------------------------------------

TEST(SigstoreCorpusTest, EveryInvalidFileIsRejectedForTheUpstreamReason) {
  TrustPolicy policy = CorpusPolicy();
  policy.AddKey(Key("slsa-framework__slsa-verifier__global.key"));
  policy.AddKey(Key("slsa-framework__slsa-verifier__global-pae-google-hosted-worker_1.key"));
  // file -> the reason expected of its (last) rejected item
  const std::map<std::string, std::string> kReasons = {
      {"cli__cli__github_provenance_demo-0.0.12-py3-none-any-bundle-missing-cert.jsonl",
       "exactly one of dsseEnvelope and messageSignature is required"},
      {"sigstore__sigstore-conformance__dsse-invalid-sig_fail__bundle.sigstore.json",
       "signature: dsseEnvelope.signatures[0]: ECDSA P-256 verification failed"},
      {"sigstore__sigstore-conformance__dsse-mismatch-envelope_fail__bundle.sigstore.json",
       "log entry: verificationMaterial.tlogEntries[0]: the dsse 0.0.1 entry records a "
       "different payload"},
      // The certificate was issued after the custom root's CA expired.
      {"sigstore__sigstore-conformance__intoto-expired-certificate_fail__bundle.sigstore.json",
       "certificate chain: the certificate (issued 2030-01-01T00:00:00Z) does not chain"},
      {"sigstore__sigstore-go__dsse-2sigs.sigstore.json",
       "dsseEnvelope.signatures: signature count: 2 signatures"},
      {"sigstore__sigstore-python__bundle_invalid_version.txt.sigstore",
       "mediaType: unsupported Sigstore bundle media type"},
      // Offline, a bare envelope's certificate has no signing time.
      {"slsa-framework__slsa-verifier__binary-linux-amd64-expired-cert.intoto.jsonl",
       "signatures[0]: signing time: a keyless certificate signature without a "
       "transparency-log entry"},
      {"slsa-framework__slsa-verifier__gcloud-container-invalid-signature.json",
       "signatures: 0 of 1 required trusted signatures verified"},
      {"slsa-framework__slsa-verifier__mismatch-tlog.intoto.sigstore",
       "log entry: verificationMaterial.tlogEntries[0]: the intoto 0.0.2 entry records a "
       "different payload"},
      // The provenance bundle's payload was tampered; the publish one is fine.
      {"slsa-framework__slsa-verifier__provenance-npm-test-ossf-invalidsigprov.tgz.json",
       "#attestations[1]: signature: dsseEnvelope.signatures[0]: ECDSA P-256 verification "
       "failed"},
      {"slsa-framework__slsa-verifier__v1.0-gcloud-container-github-single-invalid-sig.json",
       "signatures: 0 of 1 required trusted signatures verified"},
  };
  size_t seen = 0;
  for (const auto& entry : std::filesystem::directory_iterator(kCorpus + "invalid")) {
    std::string name = entry.path().filename().string();
    SCOPED_TRACE(name);
    auto expected = kReasons.find(name);
    ASSERT_NE(expected, kReasons.end()) << "a new invalid file needs its expected reason";
    ++seen;
    std::vector<ItemResult> items = Verify("invalid/" + name, policy);
    ASSERT_FALSE(items.empty());
    const ItemResult* rejected = nullptr;
    for (const ItemResult& item : items) {
      if (!item.record.ok()) rejected = &item;
    }
    ASSERT_NE(rejected, nullptr) << "nothing in it was rejected";
    EXPECT_THAT(Message(rejected->record.status()), HasSubstr(expected->second));
    EXPECT_THAT(Message(rejected->record.status()), StartsWith("invalid/" + name));
  }
  EXPECT_EQ(seen, kReasons.size());

  // Of the npm wrapper, only the untampered publish attestation verifies.
  std::vector<ItemResult> npm = Verify(
      "invalid/slsa-framework__slsa-verifier__provenance-npm-test-ossf-invalidsigprov.tgz.json",
      policy);
  ASSERT_EQ(npm.size(), 2u);
  EXPECT_TRUE(npm[0].record.ok()) << npm[0].record.status();
  EXPECT_FALSE(npm[1].record.ok());
}

TEST(SigstoreCorpusTest, CosignManifestNeedsItsEnvelopeBlob) {
  const std::string file =
      "other/slsa-framework__slsa-verifier__gha_generic_container-v2.1.0__"
      "21454caf3a160dfbe6359f0501aa8401c6c0f2c7a8b71380ea21f8c4b48b64fe";
  IngestOptions options;  // no blob_lookup
  std::vector<ItemResult> items =
      VerifyDocument(file, ReadFile(kCorpus + file), CorpusPolicy(), options);
  ASSERT_EQ(items.size(), 1u);
  ASSERT_FALSE(items[0].record.ok());
  EXPECT_THAT(Message(items[0].record.status()),
              HasSubstr("layers[0].digest: the DSSE envelope blob sha256:e163b472"));

  // A blob that is not the named one is refused.
  options.blob_lookup = [](std::string_view) { return std::optional<std::string>("{}"); };
  items = VerifyDocument(file, ReadFile(kCorpus + file), CorpusPolicy(), options);
  EXPECT_THAT(Message(items.at(0).record.status()), HasSubstr("not the layer digest"));
}

// --- The container chain: cosign attestation -> image index -> platform
// manifest -> BuildKit provenance -> base images and git commit ----------------

TEST(SigstoreChainTest, GitCommitDescendantsReachTheImageIndex) {
  char pattern[] = "/tmp/lineage-sigstore-XXXXXX";
  ASSERT_NE(mkdtemp(pattern), nullptr);
  std::string dir = pattern;
  {
    absl::StatusOr<std::unique_ptr<Store>> store = Store::Open(dir + "/db", StoreOptions{});
    ASSERT_TRUE(store.ok()) << store.status();
    const std::string prefix = "slsa-framework__slsa-verifier__gha_generic_container-v2.1.0__";
    const std::vector<std::string> files = {
        // cosign attestation (keyless, Rekor SET in the manifest's annotations)
        "other/" + prefix + "21454caf3a160dfbe6359f0501aa8401c6c0f2c7a8b71380ea21f8c4b48b64fe",
        // the OCI image index it attests
        "other/" + prefix + "234e2c830c2fb31ac5671789d22adfe44d30c3ee831d01beae5e237841a13122",
        // BuildKit's provenance of the platform manifest (unsigned in the image)
        "intoto-statement-plain/" + prefix +
            "8d63b5e440cc7cfa68622b4a3cae2dbe215f8f8dcc9f2fa4ffd3078d40d61a84",
    };
    TrustPolicy policy;
    policy.AddTrustedRoot(Root(kPublicGood));
    policy.AddIdentity(
        Identity(kGithubIssuer, false,
                 R"(https://github\.com/slsa-framework/slsa-github-generator/\.github/workflows/)"
                 R"(generator_container_slsa3\.yml@refs/tags/v.*)",
                 true));
    for (const std::string& file : files) {
      std::vector<ItemResult> items = Verify(file, policy, /*allow_unsigned=*/true);
      ASSERT_EQ(items.size(), 1u) << file;
      ASSERT_TRUE(items[0].record.ok()) << items[0].record.status();
      absl::StatusOr<IngestOutcome> outcome = (*store)->Ingest(*items[0].record);
      ASSERT_TRUE(outcome.ok()) << file << ": " << outcome.status();
    }

    const std::string index =
        "sha256:234e2c830c2fb31ac5671789d22adfe44d30c3ee831d01beae5e237841a13122";
    const std::string platform =
        "sha256:d1fc0de9c6a33e502c488221644de1736c53d8ddb59b0e41b4946fb26af50e69";
    for (const std::string& root :
         {std::string("sha1:4d329c75e7ec1725f7c9ce917a8799d408d06be3"),
          std::string("sha256:4746d26432a9117a5f58e95cb9f954ddf0de128e9d5816886514199316e4a2fb")}) {
      SCOPED_TRACE(root);
      absl::StatusOr<TraversalResult> d = (*store)->Descendants(root, TraversalOptions{});
      ASSERT_TRUE(d.ok()) << d.status();
      std::vector<std::string> refs;
      for (const TraversedNode& n : d->nodes)
        refs.push_back(n.ref);
      EXPECT_THAT(refs, ::testing::IsSupersetOf({platform, index}));
    }

    // The keyless workflow identity signed the index.
    absl::StatusOr<TraversalResult> signed_by = (*store)->Descendants(
        "key:keyless:https://token.actions.githubusercontent.com|https://github.com/"
        "slsa-framework/slsa-github-generator/.github/workflows/"
        "generator_container_slsa3.yml@refs/tags/v2.1.0",
        TraversalOptions{});
    ASSERT_TRUE(signed_by.ok()) << signed_by.status();
    ASSERT_FALSE(signed_by->nodes.empty());
    EXPECT_EQ(signed_by->nodes[0].ref, index);
  }
  std::filesystem::remove_all(dir);
}

// --- Cross-check against sigstore-js -------------------------------------------

// Runs `command` through the shell; returns its stdout and sets *status.
std::string RunShell(const std::string& command, int* status) {
  std::string out;
  FILE* pipe = popen(command.c_str(), "r");
  if (pipe == nullptr) {
    *status = -1;
    return out;
  }
  char buffer[4096];
  size_t n;
  while ((n = fread(buffer, 1, sizeof(buffer), pipe)) > 0)
    out.append(buffer, n);
  *status = pclose(pipe);
  return out;
}

// sigstore-js (the npm package @sigstore/verify, the reference verifier of
// npm's provenance) runs offline over every bundle of the corpus with the
// same trusted roots and keys (tests/ingest/sigstore_js/crosscheck.js), and
// its verdicts must agree with lineage's, except where the difference is
// known and explained below. The package is installed at test time into a
// cache directory (LINEAGE_SIGSTORE_JS_MODULES, default under /tmp); the
// test skips, saying why, without node or without the registry. Version
// 2.1.1 is pinned: it is the newest that supports Debian 12's Node.js 18.
TEST(SigstoreJsCrossCheckTest, VerdictsAgreeWithSigstoreJs) {
  int status = 0;
  RunShell("node --version >/dev/null 2>&1", &status);
  if (status != 0) GTEST_SKIP() << "node is not installed (tools/setup.sh installs nodejs, npm)";

  const char* env = std::getenv("LINEAGE_SIGSTORE_JS_MODULES");
  std::string prefix = env != nullptr ? env : "/tmp/lineage-sigstore-js-2.1.1";
  std::string modules = prefix + "/node_modules";
  if (!std::filesystem::exists(modules + "/@sigstore/verify/package.json")) {
    std::string log = RunShell("npm install --silent --no-audit --no-fund --prefix '" + prefix +
                                   "' @sigstore/verify@2.1.1 @sigstore/bundle@3.1.0 "
                                   "@sigstore/protobuf-specs@0.4.3 2>&1",
                               &status);
    if (status != 0) GTEST_SKIP() << "cannot install @sigstore/verify with npm: " << log;
  }
  std::string script = std::string(LINEAGE_TEST_DATA) + "/../ingest/sigstore_js/crosscheck.js";
  std::string output =
      RunShell("node '" + script + "' '" + kCorpus + "' '" + modules + "' 2>&1", &status);
  ASSERT_EQ(status, 0) << output;

  // Known differences, each for a reason lineage documents.
  const std::map<std::string, std::string> kKnown = {
      {"sigstore-bundle-v0.2/"
       "slsa-framework__slsa-verifier__gha_container-based-v2.1.0__binary-linux-amd64-push-v14."
       "intoto.build.slsa",
       "both verify the signature; lineage then rejects the empty-file subject digest (an "
       "ingest rule, not verification)"},
      {"sigstore-bundle-v0.3/sigstore__sigstore-python__tsa__bundle.txt.sigstore",
       "its timestamps' TSA is not in the corpus: sigstore-js fails the bundle, lineage ignores "
       "the timestamps with a warning and uses the log's time"},
      {"sigstore-bundle-v0.3/sigstore__sigstore-python__a.dsse.staging-rekor-v2.txt.sigstore.json",
       "a Rekor v2 entry (hashedrekord 0.0.2 over the DSSE PAE, Ed25519-signed checkpoint, "
       "time from an RFC 3161 timestamp): sigstore-js 2.1.1 does not verify Ed25519 "
       "checkpoints (3.1.1 rejects the digest of the PAE); sigstore-python, which produced "
       "it, and lineage accept it"},
  };

  TrustPolicy policy = CorpusPolicy();
  std::map<std::string, bool> lineage_verdicts;
  size_t compared = 0, not_comparable = 0;
  std::istringstream lines(output);
  std::string line;
  while (std::getline(lines, line)) {
    size_t tab = line.find('\t');
    ASSERT_NE(tab, std::string::npos) << line;
    std::string source = line.substr(0, tab);
    std::string verdict = line.substr(tab + 1, line.find('\t', tab + 1) - tab - 1);
    if (verdict == "na") {
      ++not_comparable;
      continue;
    }
    std::string file = source.substr(0, source.find_first_of(":#"));
    if (lineage_verdicts.count(source) == 0) {
      for (const ItemResult& item : Verify(file, policy)) {
        lineage_verdicts[item.source] = item.record.ok();
      }
    }
    ASSERT_EQ(lineage_verdicts.count(source), 1u) << "lineage has no item " << source;
    bool sigstore_js_ok = verdict == "ok";
    auto known = kKnown.find(source);
    if (known != kKnown.end()) {
      EXPECT_NE(lineage_verdicts[source], sigstore_js_ok)
          << source << ": a known difference that no longer differs: " << known->second;
      continue;
    }
    ++compared;
    EXPECT_EQ(lineage_verdicts[source], sigstore_js_ok) << line;
  }
  EXPECT_GE(compared, 30u);
  std::cout << "compared " << compared << " bundles with sigstore-js; " << kKnown.size()
            << " known differences; " << not_comparable
            << " message signatures without their artifact not comparable\n";
}

}  // namespace
}  // namespace lineage::ingest
