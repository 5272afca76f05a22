#include "engine/include/lineage/store.h"

#include <algorithm>
#include <atomic>
#include <fstream>
#include <functional>
#include <sstream>
#include <thread>

#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <rocksdb/db.h>

#include "engine/include/lineage/ref.h"
#include "engine/src/encoding.h"
#include "tests/engine/test_util.h"

namespace lineage {
namespace {

using ::testing::ElementsAre;
using ::testing::UnorderedElementsAre;
using testing_util::Digests;
using testing_util::KeyRef;
using testing_util::QuietOptions;
using testing_util::Record;
using testing_util::Sha1;
using testing_util::Sha256;
using testing_util::Sha512;

constexpr char kBuilder[] = "https://github.com/slsa-framework/slsa-github-generator@v2";

class StoreTest : public ::testing::Test {
 protected:
  void SetUp() override { Reopen(); }

  void Reopen(StoreOptions options = QuietOptions()) {
    store_.reset();
    absl::StatusOr<std::unique_ptr<Store>> store = Store::Open(dir_.db(), options);
    ASSERT_TRUE(store.ok()) << store.status();
    store_ = *std::move(store);
  }

  // A signed record: subject (sha256 and sha512 of `subject`), one material,
  // one signer with a keyid, a builder.
  AttestationRecord SignedRecord(std::string id, int subject, int material, int key) {
    AttestationRecord r = Record(std::move(id), {}, {Sha256(material)});
    r.subjects.push_back(Digests({Sha512(subject), Sha256(subject)}));
    r.unsigned_ = false;
    r.signers.push_back({KeyRef(key), fmt::format("keyid-{}", key), "ecdsa-p256-sha256"});
    r.builder_id = kBuilder;
    return r;
  }

  StoreStats GetStats() {
    absl::StatusOr<StoreStats> stats = store_->Stats();
    EXPECT_TRUE(stats.ok()) << stats.status();
    return stats.ok() ? *stats : StoreStats{};
  }

  NodeInfo MustShow(const std::string& ref) {
    absl::StatusOr<NodeInfo> info = store_->Show(ref);
    EXPECT_TRUE(info.ok()) << ref << ": " << info.status();
    return info.ok() ? *info : NodeInfo{};
  }

  testing_util::TempDir dir_;
  std::unique_ptr<Store> store_;
};

uint64_t Node(const StoreStats& s, NodeKind k) {
  return s.nodes_by_kind[static_cast<int>(k) - 1];
}
uint64_t Edges(const StoreStats& s, EdgeKind k) {
  return s.edges_by_kind[static_cast<int>(k) - 1];
}

TEST_F(StoreTest, IngestCreatesNodesEdgesAndCounters) {
  absl::StatusOr<IngestOutcome> outcome = store_->Ingest(SignedRecord("att1", 1, 2, 3));
  ASSERT_TRUE(outcome.ok()) << outcome.status();
  EXPECT_FALSE(outcome->duplicate);
  EXPECT_EQ(outcome->new_nodes, 4u);  // subject, material, key, builder
  EXPECT_EQ(outcome->new_edges, 3u);  // derived, signed, built

  StoreStats stats = GetStats();
  EXPECT_EQ(Node(stats, NodeKind::kArtifact), 2u);
  EXPECT_EQ(Node(stats, NodeKind::kKey), 1u);
  EXPECT_EQ(Node(stats, NodeKind::kBuilder), 1u);
  EXPECT_EQ(Node(stats, NodeKind::kWorkload), 0u);
  EXPECT_EQ(Edges(stats, EdgeKind::kDerived), 1u);
  EXPECT_EQ(Edges(stats, EdgeKind::kSigned), 1u);
  EXPECT_EQ(Edges(stats, EdgeKind::kBuilt), 1u);
  EXPECT_EQ(stats.edge_assertions, 3u);
  EXPECT_EQ(stats.attestations, 1u);
  EXPECT_EQ(stats.unsigned_attestations, 0u);
  EXPECT_GT(stats.db_bytes, 0u);
}

TEST_F(StoreTest, SecondIngestOfSameAttestationChangesNothing) {
  ASSERT_TRUE(store_->Ingest(SignedRecord("att1", 1, 2, 3)).ok());
  StoreStats before = GetStats();
  NodeInfo show_before = MustShow(Sha256(1));

  absl::StatusOr<IngestOutcome> again = store_->Ingest(SignedRecord("att1", 1, 2, 3));
  ASSERT_TRUE(again.ok()) << again.status();
  EXPECT_TRUE(again->duplicate);
  EXPECT_EQ(again->new_nodes, 0u);
  EXPECT_EQ(again->new_edges, 0u);

  // Even a different body under the same id is a duplicate: the id is the
  // hash of the signed bytes.
  absl::StatusOr<IngestOutcome> other = store_->Ingest(SignedRecord("att1", 7, 8, 9));
  ASSERT_TRUE(other.ok());
  EXPECT_TRUE(other->duplicate);

  StoreStats after = GetStats();
  EXPECT_EQ(after.attestations, before.attestations);
  EXPECT_EQ(after.edge_assertions, before.edge_assertions);
  EXPECT_EQ(Node(after, NodeKind::kArtifact), Node(before, NodeKind::kArtifact));
  EXPECT_EQ(MustShow(Sha256(1)).in_edges.size(), show_before.in_edges.size());
  EXPECT_EQ(store_->Show(Sha256(7)).status().code(), absl::StatusCode::kNotFound);
}

TEST_F(StoreTest, PrimaryRefIsMostPreferredDigestAndOthersAreAliases) {
  ASSERT_TRUE(store_->Ingest(SignedRecord("att1", 1, 2, 3)).ok());
  NodeInfo by_alias = MustShow(Sha512(1));
  EXPECT_EQ(by_alias.ref, Sha256(1));
  EXPECT_EQ(by_alias.kind, NodeKind::kArtifact);
  EXPECT_THAT(by_alias.aliases, ElementsAre(Sha512(1)));
}

TEST_F(StoreTest, MaterialNamedByAliasLinksToTheSameNode) {
  ASSERT_TRUE(store_->Ingest(SignedRecord("att1", 1, 2, 3)).ok());
  ASSERT_TRUE(store_->Ingest(Record("att2", {Sha256(10)}, {Sha512(1)})).ok());
  absl::StatusOr<TraversalResult> d = store_->Descendants(Sha256(2), {});
  ASSERT_TRUE(d.ok()) << d.status();
  ASSERT_EQ(d->nodes.size(), 2u);
  EXPECT_EQ(d->nodes[0].ref, Sha256(1));
  EXPECT_EQ(d->nodes[1].ref, Sha256(10));
}

TEST_F(StoreTest, NodeFoundByLessPreferredDigestKeepsItsRefAndGainsAlias) {
  ASSERT_TRUE(store_->Ingest(Record("att1", {Sha1(5)})).ok());
  AttestationRecord r = Record("att2", {});
  r.subjects.push_back(Digests({Sha256(5), Sha1(5)}));
  absl::StatusOr<IngestOutcome> outcome = store_->Ingest(r);
  ASSERT_TRUE(outcome.ok()) << outcome.status();
  EXPECT_EQ(outcome->new_nodes, 0u);
  NodeInfo info = MustShow(Sha256(5));
  EXPECT_EQ(info.ref, Sha1(5));
  EXPECT_THAT(info.aliases, ElementsAre(Sha256(5)));
}

TEST_F(StoreTest, DigestsOfTwoExistingNodesDoNotMergeThem) {
  ASSERT_TRUE(store_->Ingest(Record("att1", {Sha256(1)})).ok());
  ASSERT_TRUE(store_->Ingest(Record("att2", {Sha512(2)})).ok());
  AttestationRecord r = Record("att3", {}, {Sha256(3)});
  r.subjects.push_back(Digests({Sha512(2), Sha256(1)}));
  ASSERT_TRUE(store_->Ingest(r).ok());

  // The sha256 node is preferred and gets the edge; the sha512 node stays.
  EXPECT_EQ(MustShow(Sha256(1)).in_edges.size(), 1u);
  NodeInfo other = MustShow(Sha512(2));
  EXPECT_EQ(other.ref, Sha512(2));
  EXPECT_TRUE(other.in_edges.empty());
  EXPECT_EQ(Node(GetStats(), NodeKind::kArtifact), 3u);
}

TEST_F(StoreTest, KeyIdBecomesAliasOfTheKey) {
  ASSERT_TRUE(store_->Ingest(SignedRecord("att1", 1, 2, 3)).ok());
  NodeInfo key = MustShow("key:keyid-3");
  EXPECT_EQ(key.ref, KeyRef(3));
  EXPECT_EQ(key.kind, NodeKind::kKey);
  EXPECT_THAT(key.aliases, ElementsAre("key:keyid-3"));
  ASSERT_EQ(key.out_edges.size(), 1u);
  EXPECT_EQ(key.out_edges[0].kind, EdgeKind::kSigned);
  EXPECT_EQ(key.out_edges[0].to, Sha256(1));
}

TEST_F(StoreTest, KeyIdAlreadyTakenStaysWithItsFirstKey) {
  ASSERT_TRUE(store_->Ingest(SignedRecord("att1", 1, 2, 3)).ok());
  AttestationRecord r = SignedRecord("att2", 4, 5, 6);
  r.signers[0].keyid = "keyid-3";
  ASSERT_TRUE(store_->Ingest(r).ok());
  EXPECT_EQ(MustShow("key:keyid-3").ref, KeyRef(3));
  EXPECT_TRUE(MustShow(KeyRef(6)).aliases.empty());
}

TEST_F(StoreTest, KeyIdShapedLikeAnotherKeysFingerprintIsNotRecorded) {
  AttestationRecord r = SignedRecord("att1", 1, 2, 3);
  r.signers[0].keyid = KeyRef(99).substr(4);  // "sha256:<hex>"
  ASSERT_TRUE(store_->Ingest(r).ok());
  EXPECT_EQ(store_->Show(KeyRef(99)).status().code(), absl::StatusCode::kNotFound);
  EXPECT_TRUE(MustShow(KeyRef(3)).aliases.empty());
}

TEST_F(StoreTest, KeyIdSpelledAsKeylessIdentityCannotAliasIntoIt) {
  // The workflow's identity node exists first; a key-based signer then
  // claims its name as a keyid.
  constexpr char kIssuer[] = "https://token.actions.githubusercontent.com";
  constexpr char kSan[] = "https://github.com/o/r/.github/workflows/rel.yml@refs/tags/v1";
  absl::StatusOr<Ref> identity = KeylessRef(kIssuer, kSan);
  ASSERT_TRUE(identity.ok());
  std::string keyid = identity->text.substr(4);  // "keyless:<issuer>|<san>"

  // Before and after the identity node exists: neither may alias into it.
  AttestationRecord early = SignedRecord("att0", 7, 8, 9);
  early.signers[0].keyid = keyid;
  absl::StatusOr<IngestOutcome> outcome = store_->Ingest(early);
  ASSERT_TRUE(outcome.ok()) << outcome.status();
  ASSERT_EQ(outcome->warnings.size(), 1u);
  EXPECT_THAT(outcome->warnings[0], ::testing::HasSubstr("keyless identity"));
  EXPECT_TRUE(MustShow(KeyRef(9)).aliases.empty());
  EXPECT_EQ(store_->Show(identity->text).status().code(), absl::StatusCode::kNotFound);

  AttestationRecord keyless = Record("att1", {Sha256(1)}, {});
  keyless.unsigned_ = false;
  keyless.signers.push_back({identity->text, "", "ecdsa-p256-sha256"});
  ASSERT_TRUE(store_->Ingest(keyless).ok());
  AttestationRecord squatter = SignedRecord("att2", 4, 5, 6);
  squatter.signers[0].keyid = keyid;
  outcome = store_->Ingest(squatter);
  ASSERT_TRUE(outcome.ok()) << outcome.status();
  EXPECT_EQ(outcome->warnings.size(), 1u);

  NodeInfo node = MustShow(identity->text);
  EXPECT_EQ(node.ref, identity->text);
  ASSERT_EQ(node.out_edges.size(), 1u);
  EXPECT_EQ(node.out_edges[0].to, Sha256(1));
  EXPECT_TRUE(MustShow(KeyRef(6)).aliases.empty());
}

// A keyless signer as sigstore verification produces it.
VerifiedSigner KeylessSigner(std::string_view san, std::string fingerprint, int64_t log_index) {
  VerifiedSigner signer;
  signer.issuer = "https://token.actions.githubusercontent.com";
  signer.san = std::string(san);
  signer.key_ref = KeylessRef(signer.issuer, signer.san)->text;
  signer.algorithm = "ecdsa-p256-sha256";
  signer.certificate_sha256 = std::move(fingerprint);
  signer.log_index = log_index;
  signer.signed_at = absl::FromUnixSeconds(1700000000 + log_index);
  return signer;
}

TEST_F(StoreTest, KeylessEvidenceIsStoredWithTheAttestationAndSurvivesReopen) {
  constexpr char kSan[] = "https://github.com/o/r/.github/workflows/rel.yml@refs/tags/v1";
  // One identity, two signatures with different short-lived certificates.
  std::string fp1(64, 'a'), fp2(64, 'b');
  AttestationRecord first = Record("att1", {Sha256(1)}, {});
  first.unsigned_ = false;
  first.signers.push_back(KeylessSigner(kSan, fp1, 11));
  AttestationRecord second = Record("att2", {Sha256(2)}, {});
  second.unsigned_ = false;
  second.signers.push_back(KeylessSigner(kSan, fp2, 22));
  second.signers.push_back({KeyRef(3), "", "ed25519"});  // key-based, no evidence
  ASSERT_TRUE(store_->Ingest(first).ok());
  ASSERT_TRUE(store_->Ingest(second).ok());
  Reopen();

  std::string identity = first.signers[0].key_ref;
  absl::StatusOr<AttestationSummary> summary = store_->GetAttestation("att2");
  ASSERT_TRUE(summary.ok()) << summary.status();
  EXPECT_THAT(summary->signers, ElementsAre(identity, KeyRef(3)));
  ASSERT_EQ(summary->evidence.size(), 1u);
  const SignerEvidence& e = summary->evidence[0];
  EXPECT_EQ(e.key_ref, identity);
  EXPECT_EQ(e.issuer, "https://token.actions.githubusercontent.com");
  EXPECT_EQ(e.san, kSan);
  EXPECT_EQ(e.certificate_sha256, fp2);
  EXPECT_EQ(e.log_index, 22);
  EXPECT_EQ(e.signed_at, absl::FromUnixSeconds(1700000022));

  // The identity is one node; each signed edge carries its own certificate.
  NodeInfo node = MustShow(identity);
  ASSERT_EQ(node.out_edges.size(), 2u);
  for (const EdgeInfo& edge : node.out_edges) {
    ASSERT_TRUE(edge.evidence.has_value()) << edge.to;
    EXPECT_EQ(edge.evidence->certificate_sha256, edge.to == Sha256(1) ? fp1 : fp2);
    EXPECT_EQ(edge.evidence->log_index, edge.to == Sha256(1) ? 11 : 22);
  }
  NodeInfo artifact = MustShow(Sha256(2));
  int with_evidence = 0;
  for (const EdgeInfo& edge : artifact.in_edges) {
    if (edge.from == KeyRef(3)) EXPECT_FALSE(edge.evidence.has_value());
    if (edge.evidence) ++with_evidence;
  }
  EXPECT_EQ(with_evidence, 1);
}

TEST_F(StoreTest, InconsistentSignerEvidenceIsRejected) {
  constexpr char kSan[] = "https://github.com/o/r/.github/workflows/rel.yml@refs/tags/v1";
  struct Case {
    const char* what;
    std::function<void(VerifiedSigner&)> spoil;
  };
  std::vector<Case> cases = {
      {"certificate on a key", [](VerifiedSigner& s) { s.key_ref = KeyRef(1); }},
      {"short fingerprint", [](VerifiedSigner& s) { s.certificate_sha256 = "abc"; }},
      {"upper-case fingerprint",
       [](VerifiedSigner& s) { s.certificate_sha256 = std::string(64, 'A'); }},
      {"other identity", [](VerifiedSigner& s) { s.san = "https://github.com/evil"; }},
      {"san without certificate", [](VerifiedSigner& s) { s.certificate_sha256.clear(); }},
      {"log index below -1", [](VerifiedSigner& s) { s.log_index = -2; }},
  };
  for (const Case& c : cases) {
    AttestationRecord r = Record("att1", {Sha256(1)}, {});
    r.unsigned_ = false;
    r.signers.push_back(KeylessSigner(kSan, std::string(64, 'c'), 5));
    c.spoil(r.signers[0]);
    absl::StatusOr<IngestOutcome> outcome = store_->Ingest(r);
    EXPECT_EQ(outcome.status().code(), absl::StatusCode::kInvalidArgument) << c.what;
    EXPECT_THAT(std::string(outcome.status().message()), ::testing::HasSubstr("signers[0]"))
        << c.what;
  }
  EXPECT_EQ(GetStats().attestations, 0u);
}

TEST_F(StoreTest, SameEdgeFromTwoAttestationsIsTwoAssertionsOfOneEdge) {
  ASSERT_TRUE(store_->Ingest(Record("att1", {Sha256(1)}, {Sha256(2)})).ok());
  AttestationRecord second = Record("att2", {Sha256(1)}, {Sha256(2)});
  second.time = absl::FromUnixSeconds(1800000000);
  absl::StatusOr<IngestOutcome> outcome = store_->Ingest(second);
  ASSERT_TRUE(outcome.ok());
  EXPECT_EQ(outcome->new_edges, 0u);
  EXPECT_EQ(outcome->new_nodes, 0u);

  StoreStats stats = GetStats();
  EXPECT_EQ(Edges(stats, EdgeKind::kDerived), 1u);
  EXPECT_EQ(stats.edge_assertions, 2u);

  NodeInfo info = MustShow(Sha256(1));
  ASSERT_EQ(info.in_edges.size(), 2u);
  EXPECT_EQ(info.in_edges[0].attestation, "att1");
  EXPECT_EQ(info.in_edges[0].time, absl::FromUnixSeconds(1700000000));
  EXPECT_EQ(info.in_edges[1].attestation, "att2");
  EXPECT_EQ(info.in_edges[1].time, absl::FromUnixSeconds(1800000000));
  for (const EdgeInfo& e : info.in_edges) {
    EXPECT_EQ(e.from, Sha256(2));
    EXPECT_EQ(e.to, Sha256(1));
    EXPECT_EQ(e.kind, EdgeKind::kDerived);
  }
  EXPECT_TRUE(info.out_edges.empty());
  EXPECT_EQ(MustShow(Sha256(2)).out_edges.size(), 2u);
}

TEST_F(StoreTest, MaterialEqualToSubjectMakesNoSelfLoop) {
  absl::StatusOr<IngestOutcome> outcome =
      store_->Ingest(Record("att1", {Sha256(1)}, {Sha256(1), Sha256(2)}));
  ASSERT_TRUE(outcome.ok());
  EXPECT_EQ(outcome->new_edges, 1u);
  EXPECT_EQ(GetStats().edge_assertions, 1u);
}

TEST_F(StoreTest, EmptyContentMaterialIsNotANode) {
  const std::string empty =
      "sha256:e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855";
  absl::StatusOr<IngestOutcome> outcome = store_->Ingest(Record("att1", {Sha256(1)}, {empty}));
  ASSERT_TRUE(outcome.ok()) << outcome.status();
  EXPECT_EQ(outcome->new_nodes, 1u);
  EXPECT_EQ(store_->Show(empty).status().code(), absl::StatusCode::kNotFound);
}

TEST_F(StoreTest, MalformedRecordsAreRejectedAndWriteNothing) {
  std::vector<AttestationRecord> bad;
  bad.push_back(Record("", {Sha256(1)}));
  bad.push_back(Record("no-subjects", {}));
  bad.push_back(Record("upper", {"SHA256:" + Sha256(1).substr(7)}));
  bad.push_back(Record("sha1-under-sha256", {"sha256:" + Sha1(1).substr(5)}));
  bad.push_back(Record("bad-material", {Sha256(1)}, {"nonsense"}));
  bad.push_back(Record("key-as-subject", {KeyRef(1)}));
  bad.push_back(Record(
      "only-empty", {"sha256:e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"}));
  AttestationRecord no_signers = Record("no-signers", {Sha256(1)});
  no_signers.unsigned_ = false;
  bad.push_back(no_signers);
  AttestationRecord bad_key = SignedRecord("bad-key", 1, 2, 3);
  bad_key.signers[0].key_ref = "sha256:" + Sha256(1).substr(7);
  bad.push_back(bad_key);
  AttestationRecord bad_builder = SignedRecord("bad-builder", 1, 2, 3);
  bad_builder.builder_id = "a\nb";
  bad.push_back(bad_builder);

  for (const AttestationRecord& r : bad) {
    SCOPED_TRACE(r.id);
    EXPECT_EQ(store_->Ingest(r).status().code(), absl::StatusCode::kInvalidArgument);
  }
  StoreStats stats = GetStats();
  EXPECT_EQ(stats.attestations, 0u);
  EXPECT_EQ(stats.edge_assertions, 0u);
  EXPECT_EQ(Node(stats, NodeKind::kArtifact), 0u);
  EXPECT_EQ(store_->Show(Sha256(1)).status().code(), absl::StatusCode::kNotFound);
}

TEST_F(StoreTest, BatchWithOneMalformedRecordWritesNothing) {
  std::vector<AttestationRecord> batch = {Record("good", {Sha256(1)}, {Sha256(2)}),
                                          Record("bad", {})};
  absl::StatusOr<std::vector<IngestOutcome>> outcomes = store_->IngestBatch(batch);
  EXPECT_EQ(outcomes.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_NE(std::string(outcomes.status().message()).find("record 1"), std::string::npos);
  EXPECT_EQ(GetStats().attestations, 0u);
  EXPECT_EQ(store_->GetAttestation("good").status().code(), absl::StatusCode::kNotFound);
}

TEST_F(StoreTest, BatchStoresEveryRecordAndTreatsRepeatsAsDuplicates) {
  std::vector<AttestationRecord> batch = {Record("a", {Sha256(1)}, {Sha256(2)}),
                                          Record("b", {Sha256(3)}, {Sha256(1)}),
                                          Record("a", {Sha256(1)}, {Sha256(2)})};
  absl::StatusOr<std::vector<IngestOutcome>> outcomes = store_->IngestBatch(batch);
  ASSERT_TRUE(outcomes.ok()) << outcomes.status();
  ASSERT_EQ(outcomes->size(), 3u);
  EXPECT_EQ((*outcomes)[0].new_nodes, 2u);
  EXPECT_EQ((*outcomes)[1].new_nodes, 1u);  // sha256(1) was created earlier in the batch
  EXPECT_EQ((*outcomes)[1].new_edges, 1u);
  EXPECT_TRUE((*outcomes)[2].duplicate);
  EXPECT_EQ(GetStats().attestations, 2u);
  absl::StatusOr<uint64_t> count = store_->CountDescendants(Sha256(2), {});
  ASSERT_TRUE(count.ok());
  EXPECT_EQ(*count, 2u);
}

TEST_F(StoreTest, GetAttestationReturnsTheSummary) {
  StoreOptions options = QuietOptions();
  options.clock = [] { return absl::FromUnixSeconds(1234); };
  Reopen(options);
  AttestationRecord r = SignedRecord("att1", 1, 2, 3);
  r.format = "dsse";
  r.source = "file.jsonl:3";
  ASSERT_TRUE(store_->Ingest(r).ok());
  absl::StatusOr<AttestationSummary> summary = store_->GetAttestation("att1");
  ASSERT_TRUE(summary.ok()) << summary.status();
  EXPECT_EQ(summary->id, "att1");
  EXPECT_EQ(summary->format, "dsse");
  EXPECT_EQ(summary->predicate_type, "https://slsa.dev/provenance/v1");
  EXPECT_EQ(summary->source, "file.jsonl:3");
  EXPECT_EQ(summary->time, absl::FromUnixSeconds(1700000000));
  EXPECT_EQ(summary->ingested_at, absl::FromUnixSeconds(1234));
  EXPECT_THAT(summary->signers, ElementsAre(KeyRef(3)));
  EXPECT_FALSE(summary->unsigned_);
  EXPECT_EQ(store_->GetAttestation("nope").status().code(), absl::StatusCode::kNotFound);
}

TEST_F(StoreTest, UnsignedRecordsAreCounted) {
  ASSERT_TRUE(store_->Ingest(Record("u1", {Sha256(1)})).ok());
  ASSERT_TRUE(store_->Ingest(SignedRecord("s1", 2, 3, 4)).ok());
  StoreStats stats = GetStats();
  EXPECT_EQ(stats.attestations, 2u);
  EXPECT_EQ(stats.unsigned_attestations, 1u);
}

TEST_F(StoreTest, AddRunsLinksArtifactsToWorkloads) {
  ASSERT_TRUE(store_->Ingest(Record("att1", {Sha256(1)}, {Sha256(2)})).ok());
  RunsRecord runs;
  runs.id = "inventory-1";
  runs.time = absl::FromUnixSeconds(1750000000);
  runs.runs = {{"SHA256:" + Sha256(1).substr(7), "workload:prod/pay/Deployment/api"},
               {Sha256(1), "workload:prod/pay/Deployment/worker"},
               {Sha256(9), "workload:prod/pay/Deployment/api"}};
  absl::StatusOr<IngestOutcome> outcome = store_->AddRuns(runs);
  ASSERT_TRUE(outcome.ok()) << outcome.status();
  EXPECT_EQ(outcome->new_nodes, 3u);  // two workloads and sha256(9)
  EXPECT_EQ(outcome->new_edges, 3u);

  TraversalOptions options;
  options.edge_kinds = EdgeKindMask::Of(EdgeKind::kDerived).Add(EdgeKind::kRuns);
  absl::StatusOr<TraversalResult> d = store_->Descendants(Sha256(2), options);
  ASSERT_TRUE(d.ok());
  std::vector<std::string> refs;
  for (const TraversedNode& n : d->nodes)
    refs.push_back(n.ref);
  EXPECT_THAT(refs, UnorderedElementsAre(Sha256(1), "workload:prod/pay/Deployment/api",
                                         "workload:prod/pay/Deployment/worker"));

  NodeInfo api = MustShow("workload:prod/pay/Deployment/api");
  EXPECT_EQ(api.kind, NodeKind::kWorkload);
  ASSERT_EQ(api.in_edges.size(), 2u);
  EXPECT_EQ(api.in_edges[0].attestation, "inventory-1");
  EXPECT_EQ(api.in_edges[0].kind, EdgeKind::kRuns);
  EXPECT_EQ(api.in_edges[0].time, absl::FromUnixSeconds(1750000000));

  absl::StatusOr<AttestationSummary> summary = store_->GetAttestation("inventory-1");
  ASSERT_TRUE(summary.ok());
  EXPECT_EQ(summary->format, "inventory");

  absl::StatusOr<IngestOutcome> again = store_->AddRuns(runs);
  ASSERT_TRUE(again.ok());
  EXPECT_TRUE(again->duplicate);
  EXPECT_EQ(Edges(GetStats(), EdgeKind::kRuns), 3u);
}

TEST_F(StoreTest, AddRunsRejectsMalformedRefsAndWritesNothing) {
  RunsRecord runs;
  runs.id = "inv";
  runs.runs = {{Sha256(1), "workload:prod/pay/api"}};
  EXPECT_EQ(store_->AddRuns(runs).status().code(), absl::StatusCode::kInvalidArgument);
  runs.runs = {{"builder:x", "workload:a/b/c/d"}};
  EXPECT_EQ(store_->AddRuns(runs).status().code(), absl::StatusCode::kInvalidArgument);
  runs.runs.clear();
  EXPECT_EQ(store_->AddRuns(runs).status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(GetStats().attestations, 0u);
}

TEST_F(StoreTest, ReopenPersistsEverythingAndRebuildsTheSameIndex) {
  ASSERT_TRUE(store_->Ingest(SignedRecord("att1", 1, 2, 3)).ok());
  ASSERT_TRUE(store_->Ingest(Record("att2", {Sha256(4)}, {Sha256(1), Sha512(2)})).ok());
  ASSERT_TRUE(store_->Ingest(Record("att3", {Sha256(4)}, {Sha256(1)})).ok());
  StoreStats before = GetStats();
  absl::StatusOr<TraversalResult> d_before = store_->Descendants(KeyRef(3), {});
  absl::StatusOr<TraversalResult> a_before = store_->Ancestors(Sha256(4), {});
  NodeInfo show_before = MustShow(Sha256(1));
  ASSERT_TRUE(d_before.ok() && a_before.ok());

  Reopen();
  StoreStats after = GetStats();
  for (int i = 0; i < kNodeKindCount; ++i)
    EXPECT_EQ(after.nodes_by_kind[i], before.nodes_by_kind[i]);
  for (int i = 0; i < kEdgeKindCount; ++i)
    EXPECT_EQ(after.edges_by_kind[i], before.edges_by_kind[i]);
  EXPECT_EQ(after.edge_assertions, before.edge_assertions);
  EXPECT_EQ(after.attestations, before.attestations);

  absl::StatusOr<TraversalResult> d_after = store_->Descendants(KeyRef(3), {});
  absl::StatusOr<TraversalResult> a_after = store_->Ancestors(Sha256(4), {});
  ASSERT_TRUE(d_after.ok() && a_after.ok());
  ASSERT_EQ(d_after->nodes.size(), d_before->nodes.size());
  for (size_t i = 0; i < d_after->nodes.size(); ++i) {
    EXPECT_EQ(d_after->nodes[i].ref, d_before->nodes[i].ref);
    EXPECT_EQ(d_after->nodes[i].depth, d_before->nodes[i].depth);
  }
  ASSERT_EQ(a_after->nodes.size(), a_before->nodes.size());
  NodeInfo show_after = MustShow(Sha256(1));
  EXPECT_EQ(show_after.aliases, show_before.aliases);
  EXPECT_EQ(show_after.in_edges.size(), show_before.in_edges.size());
  EXPECT_EQ(show_after.out_edges.size(), show_before.out_edges.size());

  // Ids keep counting after a reopen: a new record does not reuse any.
  ASSERT_TRUE(store_->Ingest(Record("att4", {Sha256(5)}, {Sha256(4)})).ok());
  absl::StatusOr<uint64_t> count = store_->CountDescendants(KeyRef(3), {});
  ASSERT_TRUE(count.ok());
  EXPECT_EQ(*count, 3u);
  EXPECT_EQ(MustShow(Sha256(5)).in_edges[0].attestation, "att4");
}

TEST_F(StoreTest, SecondOpenOfTheSameDatabaseIsUnavailable) {
  absl::StatusOr<std::unique_ptr<Store>> second = Store::Open(dir_.db(), QuietOptions());
  EXPECT_EQ(second.status().code(), absl::StatusCode::kUnavailable) << second.status();
}

TEST_F(StoreTest, ReadOnlyOpenSeesDataAndRefusesWrites) {
  ASSERT_TRUE(store_->Ingest(Record("att1", {Sha256(1)}, {Sha256(2)})).ok());
  store_.reset();
  StoreOptions options = QuietOptions();
  options.read_only = true;
  Reopen(options);
  absl::StatusOr<uint64_t> count = store_->CountDescendants(Sha256(2), {});
  ASSERT_TRUE(count.ok()) << count.status();
  EXPECT_EQ(*count, 1u);
  EXPECT_EQ(store_->Ingest(Record("att2", {Sha256(3)})).status().code(),
            absl::StatusCode::kFailedPrecondition);
}

TEST_F(StoreTest, OpenWithoutCreateOfMissingDatabaseIsNotFound) {
  StoreOptions options = QuietOptions();
  options.create_if_missing = false;
  absl::StatusOr<std::unique_ptr<Store>> store = Store::Open(dir_.path() + "/missing", options);
  EXPECT_EQ(store.status().code(), absl::StatusCode::kNotFound) << store.status();
}

TEST_F(StoreTest, ForeignRocksDbIsNotALineageDatabase) {
  std::string path = dir_.path() + "/foreign";
  rocksdb::Options options;
  options.create_if_missing = true;
  rocksdb::DB* db = nullptr;
  ASSERT_TRUE(rocksdb::DB::Open(options, path, &db).ok());
  ASSERT_TRUE(db->Put(rocksdb::WriteOptions(), "k", "v").ok());
  delete db;
  absl::StatusOr<std::unique_ptr<Store>> store = Store::Open(path, QuietOptions());
  EXPECT_EQ(store.status().code(), absl::StatusCode::kInvalidArgument) << store.status();
}

// What a process killed while Store::Open created a database leaves:
// "default" and some of lineage's column families, all empty.
void CreateRocksDb(const std::string& path, const std::vector<std::string>& families,
                   bool put_in_default) {
  rocksdb::Options options;
  options.create_if_missing = true;
  rocksdb::DB* db = nullptr;
  ASSERT_TRUE(rocksdb::DB::Open(options, path, &db).ok());
  for (const std::string& name : families) {
    rocksdb::ColumnFamilyHandle* handle = nullptr;
    ASSERT_TRUE(db->CreateColumnFamily(rocksdb::ColumnFamilyOptions(), name, &handle).ok());
    ASSERT_TRUE(db->DestroyColumnFamilyHandle(handle).ok());
  }
  if (put_in_default) ASSERT_TRUE(db->Put(rocksdb::WriteOptions(), "k", "v").ok());
  delete db;
}

TEST_F(StoreTest, DatabaseWhoseCreationWasInterruptedIsFinishedOnOpen) {
  std::string path = dir_.path() + "/interrupted";
  CreateRocksDb(path, {"ids", "nodes"}, /*put_in_default=*/false);

  StoreOptions read_only = QuietOptions();
  read_only.read_only = true;
  EXPECT_EQ(Store::Open(path, read_only).status().code(), absl::StatusCode::kFailedPrecondition);

  absl::StatusOr<std::unique_ptr<Store>> store = Store::Open(path, QuietOptions());
  ASSERT_TRUE(store.ok()) << store.status();
  ASSERT_TRUE((*store)->Ingest(Record("first", {Sha256(1)}, {Sha256(0)})).ok());
  store->reset();
  store = Store::Open(path, QuietOptions());
  ASSERT_TRUE(store.ok()) << store.status();
  absl::StatusOr<uint64_t> count = (*store)->CountDescendants(Sha256(0), {});
  ASSERT_TRUE(count.ok()) << count.status();
  EXPECT_EQ(*count, 1u);
}

TEST_F(StoreTest, RocksDbWithDataOrForeignFamiliesIsNotAdoptedAsInterruptedCreation) {
  std::string with_data = dir_.path() + "/with-data";
  CreateRocksDb(with_data, {"ids"}, /*put_in_default=*/true);
  EXPECT_EQ(Store::Open(with_data, QuietOptions()).status().code(),
            absl::StatusCode::kInvalidArgument);

  std::string foreign = dir_.path() + "/foreign-family";
  CreateRocksDb(foreign, {"ids", "somebody-elses"}, /*put_in_default=*/false);
  EXPECT_EQ(Store::Open(foreign, QuietOptions()).status().code(),
            absl::StatusCode::kInvalidArgument);
}

TEST_F(StoreTest, UnknownFormatVersionIsDataLoss) {
  store_.reset();
  std::vector<std::string> names;
  rocksdb::Options options;
  ASSERT_TRUE(rocksdb::DB::ListColumnFamilies(options, dir_.db(), &names).ok());
  std::vector<rocksdb::ColumnFamilyDescriptor> descriptors;
  for (const std::string& name : names)
    descriptors.emplace_back(name, rocksdb::ColumnFamilyOptions());
  std::vector<rocksdb::ColumnFamilyHandle*> handles;
  rocksdb::DB* db = nullptr;
  ASSERT_TRUE(rocksdb::DB::Open(options, dir_.db(), descriptors, &handles, &db).ok());
  size_t meta = std::find(names.begin(), names.end(), "meta") - names.begin();
  ASSERT_LT(meta, names.size());
  ASSERT_TRUE(db->Put(rocksdb::WriteOptions(), handles[meta], "format_version",
                      std::string("\0\0\0\x63", 4))
                  .ok());
  for (auto* h : handles)
    ASSERT_TRUE(db->DestroyColumnFamilyHandle(h).ok());
  delete db;

  absl::StatusOr<std::unique_ptr<Store>> store = Store::Open(dir_.db(), QuietOptions());
  EXPECT_EQ(store.status().code(), absl::StatusCode::kDataLoss) << store.status();
}

// Opens the closed store's RocksDB directly and lets `edit` change it, as
// damage from outside lineage would.
void EditRawDb(const std::string& path,
               const std::function<void(rocksdb::DB*, const std::vector<std::string>&,
                                        const std::vector<rocksdb::ColumnFamilyHandle*>&)>& edit) {
  std::vector<std::string> names;
  rocksdb::Options options;
  ASSERT_TRUE(rocksdb::DB::ListColumnFamilies(options, path, &names).ok());
  std::vector<rocksdb::ColumnFamilyDescriptor> descriptors;
  for (const std::string& name : names)
    descriptors.emplace_back(name, rocksdb::ColumnFamilyOptions());
  std::vector<rocksdb::ColumnFamilyHandle*> handles;
  rocksdb::DB* db = nullptr;
  ASSERT_TRUE(rocksdb::DB::Open(options, path, descriptors, &handles, &db).ok());
  edit(db, names, handles);
  for (auto* h : handles)
    ASSERT_TRUE(db->DestroyColumnFamilyHandle(h).ok());
  delete db;
}

rocksdb::ColumnFamilyHandle* Family(const std::vector<std::string>& names,
                                    const std::vector<rocksdb::ColumnFamilyHandle*>& handles,
                                    std::string_view name) {
  size_t i = std::find(names.begin(), names.end(), name) - names.begin();
  return i < names.size() ? handles[i] : nullptr;
}

// The edge scan runs on a second thread during open; its checks must still
// turn damage into DataLoss, and the node checks must still come first.
TEST_F(StoreTest, EdgeRecordNamingNoNodeIsDataLossOnOpen) {
  ASSERT_TRUE(store_->Ingest(Record("a", {Sha256(1)}, {Sha256(2)})).ok());
  store_.reset();
  // A damaged edge from the first and from the last source, each removed
  // again after its open failed.
  for (uint64_t near : {0, 1}) {
    internal::EdgeKey key;
    key.near = near;
    key.far = 1000;  // past the last node
    auto edit = [&](bool put) {
      EditRawDb(dir_.db(), [&](rocksdb::DB* db, const auto& names, const auto& handles) {
        rocksdb::ColumnFamilyHandle* out = Family(names, handles, internal::kCfOut);
        rocksdb::Status s =
            put ? db->Put(rocksdb::WriteOptions(), out, internal::EncodeEdgeKey(key),
                          internal::EncodeEdgeValue(absl::Now()))
                : db->Delete(rocksdb::WriteOptions(), out, internal::EncodeEdgeKey(key));
        ASSERT_TRUE(s.ok()) << s.ToString();
      });
    };
    edit(/*put=*/true);
    absl::StatusOr<std::unique_ptr<Store>> store = Store::Open(dir_.db(), QuietOptions());
    EXPECT_EQ(store.status().code(), absl::StatusCode::kDataLoss) << near << ": " << store.status();
    EXPECT_THAT(store.status().message(), ::testing::HasSubstr("malformed edge record"));
    edit(/*put=*/false);
    store = Store::Open(dir_.db(), QuietOptions());
    EXPECT_TRUE(store.ok()) << near << ": " << store.status();
  }
}

TEST_F(StoreTest, MalformedEdgeKeyIsDataLossOnOpen) {
  ASSERT_TRUE(store_->Ingest(Record("a", {Sha256(1)}, {Sha256(2)})).ok());
  store_.reset();
  EditRawDb(dir_.db(), [](rocksdb::DB* db, const auto& names, const auto& handles) {
    ASSERT_TRUE(db->Put(rocksdb::WriteOptions(), Family(names, handles, internal::kCfOut),
                        std::string(7, '\0'), "")
                    .ok());
  });
  absl::StatusOr<std::unique_ptr<Store>> store = Store::Open(dir_.db(), QuietOptions());
  EXPECT_EQ(store.status().code(), absl::StatusCode::kDataLoss) << store.status();
}

TEST_F(StoreTest, MissingNodeRecordIsDataLossOnOpenBeforeAnyEdgeCheck) {
  ASSERT_TRUE(store_->Ingest(Record("a", {Sha256(1)}, {Sha256(2)})).ok());
  ASSERT_TRUE(store_->Ingest(Record("b", {Sha256(3)}, {Sha256(1)})).ok());
  store_.reset();
  // Node 0 goes: the rest are no longer dense, and edges name it.
  EditRawDb(dir_.db(), [](rocksdb::DB* db, const auto& names, const auto& handles) {
    ASSERT_TRUE(db->Delete(rocksdb::WriteOptions(), Family(names, handles, internal::kCfNodes),
                           internal::EncodeFixed64(0))
                    .ok());
  });
  absl::StatusOr<std::unique_ptr<Store>> store = Store::Open(dir_.db(), QuietOptions());
  EXPECT_EQ(store.status().code(), absl::StatusCode::kDataLoss) << store.status();
  EXPECT_THAT(store.status().message(), ::testing::HasSubstr("non-dense node record"));
}

TEST_F(StoreTest, LastNodeRecordMissingIsDataLossOnOpen) {
  ASSERT_TRUE(store_->Ingest(Record("a", {Sha256(1)}, {Sha256(2)})).ok());
  store_.reset();
  // The records stay dense, but fall short of the stored next node id.
  EditRawDb(dir_.db(), [](rocksdb::DB* db, const auto& names, const auto& handles) {
    rocksdb::ColumnFamilyHandle* nodes = Family(names, handles, internal::kCfNodes);
    std::unique_ptr<rocksdb::Iterator> it(db->NewIterator(rocksdb::ReadOptions(), nodes));
    it->SeekToLast();
    ASSERT_TRUE(it->Valid());
    std::string last = it->key().ToString();
    it.reset();
    ASSERT_TRUE(db->Delete(rocksdb::WriteOptions(), nodes, last).ok());
  });
  absl::StatusOr<std::unique_ptr<Store>> store = Store::Open(dir_.db(), QuietOptions());
  EXPECT_EQ(store.status().code(), absl::StatusCode::kDataLoss) << store.status();
  EXPECT_THAT(store.status().message(), ::testing::HasSubstr("but next node id is"));
}

TEST_F(StoreTest, ReopenedIndexAnswersAsTheRunningOne) {
  // Rows with gaps (nodes without out-edges) and several edge kinds.
  for (int i = 0; i < 50; ++i) {
    AttestationRecord r = SignedRecord(fmt::format("r{}", i), 100 + i, i % 7, i % 3);
    ASSERT_TRUE(store_->Ingest(r).ok());
  }
  std::vector<uint64_t> before;
  for (int m = 0; m < 7; ++m) {
    absl::StatusOr<uint64_t> count = store_->CountDescendants(Sha256(m), {});
    ASSERT_TRUE(count.ok()) << count.status();
    before.push_back(*count);
  }
  StoreStats stats_before = GetStats();
  Reopen();
  for (int m = 0; m < 7; ++m) {
    absl::StatusOr<uint64_t> count = store_->CountDescendants(Sha256(m), {});
    ASSERT_TRUE(count.ok()) << count.status();
    EXPECT_EQ(*count, before[m]) << m;
  }
  StoreStats stats_after = GetStats();
  EXPECT_THAT(stats_after.nodes_by_kind, ::testing::ElementsAreArray(stats_before.nodes_by_kind));
  EXPECT_THAT(stats_after.edges_by_kind, ::testing::ElementsAreArray(stats_before.edges_by_kind));
  EXPECT_EQ(stats_after.edge_assertions, stats_before.edge_assertions);
}

TEST_F(StoreTest, DefaultLoggerWritesTheOpenMilestoneToLogLineage) {
  store_.reset();
  StoreOptions options = QuietOptions();
  options.logger = nullptr;
  Reopen(options);
  std::ifstream log(dir_.db() + "/LOG-lineage");
  std::stringstream text;
  text << log.rdbuf();
  EXPECT_NE(text.str().find("index rebuilt"), std::string::npos) << text.str();
}

TEST_F(StoreTest, TraversalOfUnknownOrMalformedRefIsReported) {
  EXPECT_EQ(store_->Descendants(Sha256(1), {}).status().code(), absl::StatusCode::kNotFound);
  EXPECT_EQ(store_->Ancestors("nonsense", {}).status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(store_->Show("sha256:abc").status().code(), absl::StatusCode::kInvalidArgument);
}

TEST_F(StoreTest, ReadersTraverseWhileAWriterIngests) {
  StoreOptions options = QuietOptions();
  options.index_merge_min_edges = 16;  // merge often while readers run
  Reopen(options);
  ASSERT_TRUE(store_->Ingest(Record("root", {Sha256(1)}, {Sha256(0)})).ok());
  std::atomic<bool> done{false};
  std::atomic<int> failures{0};
  std::vector<std::thread> readers;
  for (int t = 0; t < 2; ++t) {
    readers.emplace_back([&] {
      uint64_t last = 0;
      while (!done.load()) {
        absl::StatusOr<uint64_t> n = store_->CountDescendants(Sha256(0), {});
        // The chain only grows, so the count never goes down.
        if (!n.ok() || *n < last) failures++;
        if (n.ok()) last = *n;
      }
    });
  }
  for (int i = 1; i < 300; ++i)
    ASSERT_TRUE(store_->Ingest(Record(fmt::format("att{}", i), {Sha256(i + 1)}, {Sha256(i)})).ok());
  done = true;
  for (std::thread& t : readers)
    t.join();
  EXPECT_EQ(failures.load(), 0);
  absl::StatusOr<uint64_t> n = store_->CountDescendants(Sha256(0), {});
  ASSERT_TRUE(n.ok());
  EXPECT_EQ(*n, 300u);
}

}  // namespace
}  // namespace lineage
