// VerifyDocument on real, published attestations (tests/data/corpus; origin
// and licences in its MANIFEST.tsv). Every signed file whose public key is in
// the corpus verifies with a policy of that key; files upstream expects to
// fail, fail; the edge cases named in the corpus README behave as
// docs/ingest.md says.
#include <algorithm>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>
#include <vector>

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "engine/include/lineage/ref.h"
#include "ingest/include/lineage/ingest/crypto.h"
#include "ingest/include/lineage/ingest/ingest.h"
#include "ingest/include/lineage/ingest/parse.h"

namespace lineage::ingest {
namespace {

using ::testing::Contains;
using ::testing::ElementsAre;
using ::testing::HasSubstr;
using ::testing::IsEmpty;

const std::string kCorpus = std::string(LINEAGE_TEST_DATA) + "/corpus/";

constexpr char kFooPy[] = "sha256:74dc3727c6e89308b39e4dfedf787e37841198b1fa165a27c013544a60502549";
constexpr char kFooTarGz[] =
    "sha256:52947cb78b91ad01fe81cd6aef42d1f6817e92b9e6936c1e5aabb7c98514f355";

std::string ReadFile(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::stringstream buffer;
  buffer << in.rdbuf();
  return buffer.str();
}

std::string Message(const absl::Status& status) {
  return std::string(status.message());
}

struct Key {
  std::string file;  // under keys/
  bool raw_payload = false;
};

TrustPolicy PolicyOf(const std::vector<Key>& keys) {
  TrustPolicy policy;
  for (const Key& k : keys) {
    absl::StatusOr<std::shared_ptr<PublicKey>> key =
        PublicKey::FromPem(ReadFile(kCorpus + "keys/" + k.file));
    EXPECT_TRUE(key.ok()) << k.file << ": " << key.status();
    if (key.ok()) policy.AddKey(TrustedKey{k.file, *key, k.raw_payload});
  }
  return policy;
}

std::vector<ItemResult> Verify(const std::string& relative, const TrustPolicy& policy,
                               bool allow_unsigned = false) {
  IngestOptions options;
  options.allow_unsigned = allow_unsigned;
  return VerifyDocument(relative, ReadFile(kCorpus + relative), policy, options);
}

// The single item of a one-attestation file, which must verify.
AttestationRecord VerifiedRecord(const std::string& relative, const TrustPolicy& policy,
                                 bool allow_unsigned = false) {
  std::vector<ItemResult> items = Verify(relative, policy, allow_unsigned);
  EXPECT_EQ(items.size(), 1u) << relative;
  if (items.empty()) return {};
  EXPECT_TRUE(items[0].record.ok()) << items[0].record.status();
  return items[0].record.ok() ? *items[0].record : AttestationRecord{};
}

std::vector<std::string> FirstDigests(const std::vector<ArtifactDigests>& artifacts) {
  std::vector<std::string> out;
  for (const ArtifactDigests& a : artifacts)
    out.push_back(a.digests.at(0));
  return out;
}

// --- in-toto links ----------------------------------------------------------

TEST(CorpusLinkTest, ClassicWriteCodeLinkVerifiesWithBob) {
  AttestationRecord r = VerifiedRecord("intoto-link/in-toto__in-toto__write-code.776a00e2.link",
                                       PolicyOf({{"in-toto__in-toto__bob.pub"}}));
  EXPECT_EQ(r.format, "intoto-link");
  EXPECT_EQ(r.statement_type, "link");
  EXPECT_THAT(FirstDigests(r.subjects), ElementsAre(kFooPy));
  EXPECT_EQ(r.subjects[0].name, "foo.py");
  EXPECT_THAT(r.materials, IsEmpty());
  ASSERT_EQ(r.signers.size(), 1u);
  EXPECT_EQ(r.signers[0].keyid, "776a00e29f3559e0141b3b096f696abc6cfb0c657ab40f441132b345b08453f5");
  EXPECT_EQ(r.signers[0].algorithm, "rsa-pss-sha256");
  EXPECT_EQ(r.time, absl::InfinitePast());
}

TEST(CorpusLinkTest, ClassicPackageLinkVerifiesWithCarlAndNotBob) {
  AttestationRecord r = VerifiedRecord("intoto-link/in-toto__in-toto__package.2f89b927.link",
                                       PolicyOf({{"in-toto__in-toto__carl.pub"}}));
  EXPECT_THAT(FirstDigests(r.materials), ElementsAre(kFooPy));
  EXPECT_THAT(FirstDigests(r.subjects), ElementsAre(kFooTarGz));

  std::vector<ItemResult> wrong = Verify("intoto-link/in-toto__in-toto__package.2f89b927.link",
                                         PolicyOf({{"in-toto__in-toto__bob.pub"}}));
  ASSERT_FALSE(wrong[0].record.ok());
  EXPECT_THAT(Message(wrong[0].record.status()), HasSubstr("RSA-3072 verification failed"));
}

TEST(CorpusLinkTest, DsseLinksVerify) {
  struct Case {
    std::string file, key;
    std::vector<std::string> subjects, materials;
  };
  const Case cases[] = {
      {"intoto-link/in-toto__in-toto__demo_dsse__write-code.776a00e2.link",
       "in-toto__in-toto__bob.pub",
       {kFooPy},
       {}},
      {"intoto-link/in-toto__in-toto__demo_dsse__package.2f89b927.link",
       "in-toto__in-toto__carl.pub",
       {kFooTarGz},
       {kFooPy}},
      {"intoto-link/in-toto__in-toto-golang__clone-dsse.776a00e2.link",
       "in-toto__in-toto__bob.pub",
       {},
       {}},
      {"intoto-link/in-toto__in-toto-golang__package-dsse.2f89b927.link",
       "in-toto__in-toto__carl.pub",
       {},
       {}},
  };
  for (const Case& c : cases) {
    SCOPED_TRACE(c.file);
    AttestationRecord r = VerifiedRecord(c.file, PolicyOf({{c.key}}));
    EXPECT_EQ(r.format, "dsse");
    EXPECT_EQ(r.statement_type, "link");
    EXPECT_EQ(r.payload_type, "application/vnd.in-toto+json");
    EXPECT_EQ(r.subjects.size(), 1u);
    if (!c.subjects.empty()) {
      EXPECT_EQ(FirstDigests(r.subjects), c.subjects);
    }
    if (!c.materials.empty()) {
      EXPECT_EQ(FirstDigests(r.materials), c.materials);
    }
  }
}

TEST(CorpusLinkTest, DemoChainLinksThroughFooPyToTheTarball) {
  AttestationRecord write_code =
      VerifiedRecord("intoto-link/in-toto__in-toto__write-code.776a00e2.link",
                     PolicyOf({{"in-toto__in-toto__bob.pub"}}));
  AttestationRecord package = VerifiedRecord("intoto-link/in-toto__in-toto__package.2f89b927.link",
                                             PolicyOf({{"in-toto__in-toto__carl.pub"}}));
  ASSERT_FALSE(write_code.subjects.empty());
  ASSERT_FALSE(package.materials.empty());
  EXPECT_EQ(write_code.subjects[0].digests, package.materials[0].digests);
  // The tarball the package step produced is in the corpus, byte for byte.
  EXPECT_EQ("sha256:" + Sha256Hex(ReadFile(kCorpus + "other/in-toto__in-toto__foo.tar.gz")),
            package.subjects.at(0).digests.at(0));
}

TEST(CorpusLinkTest, GpgLinkIsRejectedAsUnsupported) {
  std::vector<ItemResult> items =
      Verify("intoto-link/in-toto__in-toto__gpg__write-code.8288ef56.link",
             PolicyOf({{"in-toto__in-toto__bob.pub"}}));
  ASSERT_EQ(items.size(), 1u);
  ASSERT_FALSE(items[0].record.ok());
  EXPECT_THAT(Message(items[0].record.status()),
              HasSubstr("signatures[0]: GPG signatures are not supported"));
}

TEST(CorpusLinkTest, LayoutIsNotAnAttestation) {
  std::vector<ItemResult> items = Verify("other/in-toto__in-toto-golang__demo.layout",
                                         PolicyOf({{"in-toto__in-toto-golang__alice.pub"}}));
  ASSERT_EQ(items.size(), 1u);
  EXPECT_THAT(Message(items[0].record.status()), HasSubstr("layout is a policy"));
}

// --- DSSE ----------------------------------------------------------------------

TEST(CorpusDsseTest, SpecTestVectorVerifiesButIsNotAnAttestation) {
  const std::string file = "other/secure-systems-lab__dsse__protocol.md__testvector.json";
  TrustPolicy policy = PolicyOf({{"secure-systems-lab__dsse__protocol.md__testvector-key.pem"}});

  // At the crypto level: a raw r||s P-256 signature over the PAE.
  absl::StatusOr<DsseEnvelope> env = ParseEnvelope(ReadFile(kCorpus + file), IngestLimits{});
  ASSERT_TRUE(env.ok()) << env.status();
  EXPECT_EQ(env->payload, "hello world");
  ASSERT_EQ(env->signatures.size(), 1u);
  EXPECT_EQ(env->signatures[0].sig.size(), 64u);
  EXPECT_TRUE(policy.keys()[0]
                  .key->Verify(Pae(env->payload_type, env->payload), env->signatures[0].sig)
                  .ok());

  // As a document: the signature passes, then the payload type rejects it.
  std::vector<ItemResult> items = Verify(file, policy);
  ASSERT_EQ(items.size(), 1u);
  ASSERT_FALSE(items[0].record.ok());
  EXPECT_THAT(Message(items[0].record.status()),
              HasSubstr("payloadType: \"http://example.com/HelloWorld\" is not "
                        "application/vnd.in-toto+json"));
  // Without the key, the signature is what fails first.
  std::vector<ItemResult> untrusted = Verify(file, PolicyOf({{"in-toto__witness__testpub.pem"}}));
  EXPECT_THAT(Message(untrusted[0].record.status()), HasSubstr("Ed25519 verification failed"));
}

TEST(CorpusDsseTest, WitnessCollectionVerifiesWithEd25519) {
  AttestationRecord r = VerifiedRecord("other/in-toto__archivista__build.attestation.json",
                                       PolicyOf({{"in-toto__witness__testpub.pem"}}));
  EXPECT_EQ(r.predicate_type, "https://witness.testifysec.com/attestation-collection/v0.1");
  EXPECT_EQ(r.subjects.size(), 5u);
  EXPECT_EQ(r.signers.at(0).algorithm, "ed25519");
  EXPECT_THAT(r.materials, IsEmpty());
}

TEST(CorpusDsseTest, VsaWithRawEcdsaSignatureVerifies) {
  std::vector<ItemResult> items =
      Verify("other/slsa-framework__slsa-verifier__gke-gce-pre.bcid-vsa.jsonl",
             PolicyOf({{"slsa-framework__slsa-verifier__vsa_signing_public_key.pem"}}));
  ASSERT_EQ(items.size(), 1u);
  ASSERT_TRUE(items[0].record.ok()) << items[0].record.status();
  EXPECT_EQ(items[0].record->predicate_type, "https://slsa.dev/verification_summary/v1");
  EXPECT_THAT(FirstDigests(items[0].record->subjects),
              ElementsAre("gce_image_id:8970095005306000053"));
  EXPECT_EQ(items[0].record->signers.at(0).keyid, "keystore://76574:prod:vsa_signing_public_key");
}

// Limitation: offline, a bare envelope's Fulcio certificate has no verified
// signing time (the log entry is not in the file, nor anywhere else in the
// corpus: no bundle or cosign annotation records these signatures), so it
// cannot count. These are all six such envelopes of the corpus.
TEST(CorpusDsseTest, KeylessJsonlEnvelopesWithoutLogEntryAreRejectedForTime) {
  for (const char* file : {
           "dsse-slsa-v0.2/slsa-framework__slsa-verifier__annotated-tag.intoto.jsonl",
           "dsse-slsa-v0.2/"
           "slsa-framework__slsa-verifier__gha_generic-v1.2.0__binary-linux-amd64-push-v14."
           "intoto.jsonl",
           "dsse-slsa-v0.2/"
           "slsa-framework__slsa-verifier__gha_go-v1.2.2__binary-linux-amd64-workflow_dispatch."
           "intoto.jsonl",
           "dsse-slsa-v0.2/"
           "slsa-framework__slsa-verifier__gha_go-v1.9.0__binary-linux-amd64-push-v14.intoto.jsonl",
           "dsse-slsa-v0.2/slsa-framework__slsa-verifier__workflow-inputs.intoto.jsonl",
           "invalid/slsa-framework__slsa-verifier__binary-linux-amd64-expired-cert.intoto.jsonl",
       }) {
    std::vector<ItemResult> items = Verify(file, PolicyOf({{"in-toto__witness__testpub.pem"}}));
    ASSERT_EQ(items.size(), 1u) << file;
    ASSERT_FALSE(items[0].record.ok());
    EXPECT_THAT(Message(items[0].record.status()),
                HasSubstr("signatures[0]: signing time: a keyless certificate signature without "
                          "a transparency-log entry: a bare DSSE envelope holds no log entry or "
                          "RFC 3161 timestamp"));
  }
}

// --- Google Cloud Build --------------------------------------------------------

constexpr char kWorker[] = "slsa-framework__slsa-verifier__global-pae-google-hosted-worker_1.key";
constexpr char kProvenanceSigner[] =
    "slsa-framework__slsa-verifier__global-pae-provenanceSigner_1.key";
constexpr char kUsWest2[] = "slsa-framework__slsa-verifier__us-west2.key";
constexpr char kGlobal[] = "slsa-framework__slsa-verifier__global.key";

TEST(CorpusCloudBuildTest, SingleSlsaV1EntryVerifiesOverThePae) {
  const std::string file =
      "dsse-slsa-v1/slsa-framework__slsa-verifier__v1.0-gcloud-container-github-single.json";
  std::vector<ItemResult> items = Verify(file, PolicyOf({{kWorker}}));
  ASSERT_EQ(items.size(), 1u);
  EXPECT_EQ(items[0].source, file + "#provenance[0]");
  ASSERT_TRUE(items[0].record.ok()) << items[0].record.status();
  const AttestationRecord& r = *items[0].record;
  EXPECT_EQ(r.statement_type, "https://in-toto.io/Statement/v1");
  EXPECT_EQ(r.predicate_type, "https://slsa.dev/provenance/v1");
  EXPECT_EQ(r.subjects.size(), 2u);
  EXPECT_EQ(r.materials.size(), 2u);
  EXPECT_FALSE(r.builder_id.empty());
  EXPECT_NE(r.time, absl::InfinitePast());
}

TEST(CorpusCloudBuildTest, GlobalKeysSignThePaeRegionalKeysTheRawPayload) {
  const std::string file =
      "dsse-slsa-v1/slsa-framework__slsa-verifier__v1.0-gcloud-container-github.json";

  std::vector<ItemResult> global = Verify(file, PolicyOf({{kWorker}, {kProvenanceSigner}}));
  ASSERT_EQ(global.size(), 2u);
  ASSERT_TRUE(global[0].record.ok()) << global[0].record.status();
  ASSERT_TRUE(global[1].record.ok()) << global[1].record.status();
  EXPECT_EQ(global[0].record->predicate_type, "https://slsa.dev/provenance/v1");
  EXPECT_EQ(global[1].record->predicate_type, "https://slsa.dev/provenance/v0.1");
  EXPECT_EQ(global[1].record->materials.size(), 1u);
  EXPECT_FALSE(global[1].record->builder_id.empty());

  std::vector<ItemResult> regional = Verify(file, PolicyOf({{kUsWest2, /*raw_payload=*/true}}));
  ASSERT_EQ(regional.size(), 2u);
  EXPECT_FALSE(regional[0].record.ok());
  ASSERT_TRUE(regional[1].record.ok()) << regional[1].record.status();
  EXPECT_EQ(regional[1].record->signers.at(0).algorithm, "ecdsa-p256-sha256+raw-payload");

  // Without raw_payload the regional signature does not count.
  std::vector<ItemResult> strict = Verify(file, PolicyOf({{kUsWest2}}));
  ASSERT_EQ(strict.size(), 2u);
  ASSERT_FALSE(strict[1].record.ok());
  EXPECT_THAT(Message(strict[1].record.status()),
              HasSubstr(file + "#provenance[1]: signatures: 0 of 1 required"));
}

TEST(CorpusCloudBuildTest, RegionalOnlyV01ContainerVerifiesWithRawPayload) {
  const std::string file =
      "other/slsa-framework__slsa-verifier__gcb_container-v0.3__gcloud-container-github.json";
  std::vector<ItemResult> items = Verify(file, PolicyOf({{kUsWest2, true}}));
  ASSERT_EQ(items.size(), 1u);
  ASSERT_TRUE(items[0].record.ok()) << items[0].record.status();
  EXPECT_EQ(items[0].record->subjects.size(), 1u);
  EXPECT_FALSE(Verify(file, PolicyOf({{kUsWest2}}))[0].record.ok());
}

TEST(CorpusCloudBuildTest, MultipleSignaturesNeedOnlyTheTrustedOne) {
  std::vector<ItemResult> items = Verify(
      "other/slsa-framework__slsa-verifier__gcloud-container-multiple-signatures-global-pae-"
      "valid.json",
      PolicyOf({{kProvenanceSigner}}));
  ASSERT_EQ(items.size(), 1u);
  ASSERT_TRUE(items[0].record.ok()) << items[0].record.status();
  EXPECT_EQ(items[0].record->subjects.size(), 2u);
  EXPECT_EQ(items[0].record->signers.size(), 1u);
  // The argo-qa signature, whose key is not published, is reported.
  EXPECT_THAT(items[0].warnings, Contains(HasSubstr("signatures[1]")));
}

TEST(CorpusCloudBuildTest, InvalidSignaturesAreRejected) {
  std::vector<ItemResult> v01 =
      Verify("invalid/slsa-framework__slsa-verifier__gcloud-container-invalid-signature.json",
             PolicyOf({{kGlobal, true}}));
  ASSERT_EQ(v01.size(), 1u);
  ASSERT_FALSE(v01[0].record.ok());
  EXPECT_THAT(Message(v01[0].record.status()),
              HasSubstr("signatures: 0 of 1 required trusted signatures verified"));

  std::vector<ItemResult> v1 = Verify(
      "invalid/slsa-framework__slsa-verifier__v1.0-gcloud-container-github-single-invalid-sig.json",
      PolicyOf({{kWorker}}));
  ASSERT_EQ(v1.size(), 1u);
  ASSERT_FALSE(v1[0].record.ok());
  EXPECT_THAT(Message(v1[0].record.status()),
              HasSubstr("ECDSA P-256 verification failed with key"));
}

// --- Plain statements: the digest edge cases --------------------------------

TEST(CorpusStatementTest, PlainStatementsNeedAllowUnsigned) {
  std::vector<ItemResult> items =
      Verify("intoto-statement-plain/sigstore__sigstore-js__statement.json", TrustPolicy());
  ASSERT_FALSE(items.at(0).record.ok());
  EXPECT_THAT(Message(items[0].record.status()), HasSubstr("unsigned"));
}

TEST(CorpusStatementTest, Sha512SubjectIsKept) {
  AttestationRecord r =
      VerifiedRecord("intoto-statement-plain/sigstore__sigstore-js__statement.json", TrustPolicy(),
                     /*allow_unsigned=*/true);
  EXPECT_EQ(r.format, "statement");
  EXPECT_TRUE(r.unsigned_);
  EXPECT_THAT(
      FirstDigests(r.subjects),
      ElementsAre("sha512:7bea9f6e7ff37f5fab0b36bf061200fff03099fd2fd696b91d04bc5e4f225eb9fd6e"
                  "0cadcad54ba980f43fb352a99e8810b4e0abeb5c0ef2cf9108cd1f258b36"));
}

TEST(CorpusStatementTest, SubjectWithoutDigestRejectsTheStatement) {
  std::vector<ItemResult> items =
      Verify("intoto-statement-plain/guacsec__guac__certify-vuln.json", TrustPolicy(), true);
  ASSERT_EQ(items.size(), 1u);
  ASSERT_FALSE(items[0].record.ok());
  EXPECT_THAT(Message(items[0].record.status()),
              HasSubstr("subject: no subject with a usable digest"));
}

TEST(CorpusStatementTest, Sha1UnderSha256IsDroppedWithAWarning) {
  std::vector<ItemResult> items =
      Verify("intoto-statement-plain/guacsec__guac__oci-kubectl-linux-amd64-in-toto.json",
             TrustPolicy(), true);
  ASSERT_EQ(items.size(), 1u);
  ASSERT_TRUE(items[0].record.ok()) << items[0].record.status();
  EXPECT_EQ(items[0].record->subjects.size(), 75u);
  EXPECT_THAT(items[0].record->materials, IsEmpty());
  EXPECT_EQ(items[0].record->builder_id,
            "Project Collection Build Service (AzureContainerUpstream)");
  EXPECT_THAT(items[0].warnings,
              Contains(HasSubstr("predicate.materials[0].digest.sha256: sha256 digest must be 64 "
                                 "hex digits, got 40 characters")));
  EXPECT_THAT(items[0].warnings, Contains(HasSubstr("predicate.materials[0]: no usable digest")));
}

TEST(CorpusStatementTest, BuildKitProvenanceHasBaseImagesAndCommitAsMaterials) {
  AttestationRecord r = VerifiedRecord(
      "intoto-statement-plain/"
      "slsa-framework__slsa-verifier__gha_generic_container-v2.1.0__"
      "8d63b5e440cc7cfa68622b4a3cae2dbe215f8f8dcc9f2fa4ffd3078d40d61a84",
      TrustPolicy(), true);
  EXPECT_THAT(
      FirstDigests(r.subjects),
      ElementsAre("sha256:d1fc0de9c6a33e502c488221644de1736c53d8ddb59b0e41b4946fb26af50e69"));
  EXPECT_THAT(FirstDigests(r.materials),
              ElementsAre("sha256:4746d26432a9117a5f58e95cb9f954ddf0de128e9d5816886514199316e4a2fb",
                          "sha256:3f2b64ef97bd285e36132c684e6b2ae8f2723293d09aae046196cca64251acac",
                          "sha1:4d329c75e7ec1725f7c9ce917a8799d408d06be3"));
  EXPECT_EQ(r.builder_id, "");  // BuildKit writes an empty builder id
  EXPECT_EQ(r.time, absl::FromUnixNanos(1740520649660495390));
}

// --- Sweeps over the whole corpus ---------------------------------------------

std::vector<std::string> CorpusFiles() {
  std::vector<std::string> files;
  for (const auto& entry : std::filesystem::recursive_directory_iterator(kCorpus)) {
    if (!entry.is_regular_file()) continue;
    std::string relative = std::filesystem::relative(entry.path(), kCorpus).string();
    if (relative.find('/') == std::string::npos) continue;  // README, MANIFEST
    if (relative.rfind("keys/", 0) == 0) continue;
    files.push_back(relative);
  }
  std::sort(files.begin(), files.end());
  return files;
}

TEST(CorpusSweepTest, NothingIsAcceptedWithoutTrustedKeys) {
  std::vector<std::string> files = CorpusFiles();
  ASSERT_GT(files.size(), 50u);
  for (const std::string& file : files) {
    std::vector<ItemResult> items = Verify(file, TrustPolicy());
    ASSERT_FALSE(items.empty()) << file;
    for (const ItemResult& item : items) {
      EXPECT_FALSE(item.record.ok()) << file;
      EXPECT_THAT(Message(item.record.status()), HasSubstr(file)) << "errors name the source";
    }
  }
}

}  // namespace
}  // namespace lineage::ingest
