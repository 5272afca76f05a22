// Integration tests: a real lineaged process on loopback (port 0), real
// RocksDB, real sample attestations, and a Cap'n Proto client in the test.
// Every wait is bounded.
#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <condition_variable>
#include <filesystem>
#include <fstream>
#include <functional>
#include <future>
#include <mutex>
#include <regex>
#include <set>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include <capnp/rpc-twoparty.h>
#include <capnp/rpc.capnp.h>
#include <capnp/serialize.h>
#include <fmt/format.h>
#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <kj/async-io.h>
#include <kj/compat/tls.h>

#include "rpc/include/lineage/rpc/client.h"
#include "rpc/include/lineage/rpc/credentials.h"
#include "rpc/include/lineage/rpc/server.h"
#include "rpc/src/convert.h"
#include "schemas/lineage.capnp.h"
#include "tests/cli/subprocess.h"
#include "tests/integration/daemon_process.h"
#include "tests/support/tls_certificates.h"

namespace lineage::rpc {
namespace {

namespace fs = std::filesystem;
using ::testing::ElementsAre;
using ::testing::HasSubstr;

const std::string kSamples = std::string(LINEAGE_SOURCE_DIR) + "/samples";
constexpr char kFooPy[] = "sha256:74dc3727c6e89308b39e4dfedf787e37841198b1fa165a27c013544a60502549";
constexpr char kFooTarGz[] =
    "sha256:52947cb78b91ad01fe81cd6aef42d1f6817e92b9e6936c1e5aabb7c98514f355";

using ::lineage::testing::DaemonProcess;
using ::lineage::testing::ReadAll;

// lineaged on this test's database, on 127.0.0.1:0, with the samples' trust
// policy and any extra flags.
class Daemon {
 public:
  Daemon(std::string dir, std::vector<std::string> extra_args)
      : dir_(std::move(dir)), extra_args_(std::move(extra_args)) {}

  void Start() {
    static int starts = 0;
    std::vector<std::string> args = {LINEAGED_PATH,
                                     "--db",
                                     dir_ + "/db",
                                     "--listen",
                                     "127.0.0.1:0",
                                     "--policy",
                                     kSamples + "/policy.json"};
    args.insert(args.end(), extra_args_.begin(), extra_args_.end());
    process_.Start(args, fmt::format("{}/lineaged-{}.log", dir_, starts++));
  }
  int Stop(std::chrono::seconds timeout = std::chrono::seconds(20)) {
    return process_.Stop(timeout);
  }
  void Kill() { process_.Kill(); }
  unsigned port() const { return process_.port(); }
  unsigned http_port() const { return process_.http_port(); }
  pid_t pid() const { return process_.pid(); }
  std::string log() const { return process_.log(); }

 private:
  std::string dir_;
  std::vector<std::string> extra_args_;
  DaemonProcess process_;
};

// Records what the daemon pushes. Optionally holds the first deltas call
// open until released, to play a slow gate.
class RecordingSubscriber final : public schema::DenyListSubscriber::Server {
 public:
  struct Seen {
    std::vector<uint64_t> seqs;
    std::vector<bool> continued;  // parallel to seqs: a part with more to come
    std::vector<std::string> added;
    int calls = 0;
    int resyncs = 0;
    std::string resync_reason;
    kj::Own<kj::PromiseFulfiller<void>> hold;
    bool hold_first = false;
  };
  explicit RecordingSubscriber(Seen* seen) : seen_(seen) {}

  kj::Promise<void> deltas(DeltasContext context) override {
    seen_->calls++;
    for (auto d : context.getParams().getDeltas()) {
      seen_->seqs.push_back(d.getSeq());
      seen_->continued.push_back(d.getContinued());
      for (auto a : d.getAdded())
        seen_->added.emplace_back(View(a));
    }
    if (seen_->hold_first) {
      seen_->hold_first = false;
      auto paf = kj::newPromiseAndFulfiller<void>();
      seen_->hold = kj::mv(paf.fulfiller);
      return kj::mv(paf.promise);
    }
    return kj::READY_NOW;
  }

  kj::Promise<void> resync(ResyncContext context) override {
    seen_->resyncs++;
    seen_->resync_reason = std::string(View(context.getParams().getReason()));
    return kj::READY_NOW;
  }

 private:
  Seen* seen_;
};

std::string Digest(int n);

class RpcTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = testing::MakeTempDir("lineage-rpc-");
    fs::create_directories(dir_ + "/db");
    absl::StatusOr<CredentialStore> creds = CredentialStore::Load(dir_ + "/db/credentials");
    ASSERT_TRUE(creds.ok()) << creds.status();
    for (Role role : {Role::kGate, Role::kIngest, Role::kReader, Role::kResponder, Role::kApprover,
                      Role::kAdmin}) {
      absl::StatusOr<std::string> token =
          creds->Create(fmt::format("test-{}", RoleName(role)), role, absl::Now());
      ASSERT_TRUE(token.ok()) << token.status();
      tokens_[static_cast<int>(role)] = *token;
    }
    absl::StatusOr<std::string> second =
        creds->Create("second-approver", Role::kApprover, absl::Now());
    ASSERT_TRUE(second.ok());
    second_approver_ = *second;
    StartDaemon({});
  }

  void TearDown() override {
    conn_.reset();
    if (daemon_) daemon_->Kill();
    if (!HasFailure()) fs::remove_all(dir_);
  }

  void StartDaemon(std::vector<std::string> args) {
    daemon_ = std::make_unique<Daemon>(dir_, std::move(args));
    daemon_->Start();
  }

  // Subscribes `seen` from `after_seq`. The answer holds the Subscription:
  // dropping it ends the push.
  capnp::Response<schema::Gate::SubscribeResults> Subscribe(schema::Gate::Client& gate,
                                                            uint64_t after_seq,
                                                            RecordingSubscriber::Seen* seen) {
    auto request = gate.subscribeRequest();
    request.setAfterSeq(after_seq);
    request.setSubscriber(kj::heap<RecordingSubscriber>(seen));
    return request.send().wait(io_.waitScope);
  }

  // Closes the test's connection, stops the daemon (SIGTERM) and starts it
  // again on the same database with `args`.
  void RestartDaemon(std::vector<std::string> args) {
    conn_.reset();
    daemon_->Stop();
    StartDaemon(std::move(args));
  }

  // A fresh connection to the daemon; the previous one is closed.
  schema::Lineage::Client Connect() {
    conn_.reset();
    kj::Own<kj::NetworkAddress> address =
        io_.provider->getNetwork().parseAddress("127.0.0.1", daemon_->port()).wait(io_.waitScope);
    conn_ = std::make_unique<Connection>();
    conn_->stream = address->connect().wait(io_.waitScope);
    conn_->client = kj::heap<capnp::TwoPartyClient>(*conn_->stream);
    return conn_->client->bootstrap().castAs<schema::Lineage>();
  }

  capnp::Response<schema::Lineage::LoginResults> Login(schema::Lineage::Client& lineage,
                                                       const std::string& token) {
    auto request = lineage.loginRequest();
    request.setToken(Text(token));
    return request.send().wait(io_.waitScope);
  }
  const std::string& Token(Role role) { return tokens_[static_cast<int>(role)]; }

  // Waits, bounded, for `done` while the event loop runs.
  bool WaitFor(const std::function<bool()>& done, int millis = 10000) {
    for (int waited = 0; waited < millis; waited += 5) {
      if (done()) return true;
      io_.provider->getTimer().afterDelay(5 * kj::MILLISECONDS).wait(io_.waitScope);
    }
    return done();
  }

  // The request's documents: names[i] with contents[i].
  template <typename Request>
  static void SetDocuments(Request& request, const std::vector<std::string>& names,
                           const std::vector<std::string>& contents) {
    auto docs = request.initDocuments(names.size());
    for (size_t i = 0; i < names.size(); ++i) {
      docs[i].setName(Text(names[i]));
      docs[i].setContent(capnp::Data::Reader(reinterpret_cast<const kj::byte*>(contents[i].data()),
                                             contents[i].size()));
    }
  }

  void IngestSamples(schema::Ingest::Client& ingest) {
    auto request = ingest.ingestRequest();
    std::vector<std::string> files;
    for (const auto& e : fs::directory_iterator(kSamples + "/attestations"))
      files.push_back(e.path().string());
    std::vector<std::string> contents;
    for (const std::string& f : files)
      contents.push_back(ReadAll(f));
    SetDocuments(request, files, contents);
    auto response = request.send().wait(io_.waitScope);
    ASSERT_EQ(response.getStatus().getCode(), 0u);
    for (auto item : response.getItems())
      EXPECT_TRUE(item.getAccepted()) << View(item.getSource()) << ": " << View(item.getReason());
  }

  // Revokes one digest (unknown digests make one-artifact, non-bulk plans)
  // and returns the deny-list sequence of the enforcement.
  uint64_t RevokeDigest(schema::Responder::Client& responder, const std::string& digest) {
    auto plan = responder.planRequest();
    auto roots = plan.initRoots(1);
    roots[0].setRef(Text(digest));
    roots[0].setSinceMicros(std::numeric_limits<int64_t>::min());
    roots[0].setUntilMicros(std::numeric_limits<int64_t>::max());
    plan.setReason("test");
    auto planned = plan.send().wait(io_.waitScope);
    EXPECT_EQ(planned.getStatus().getCode(), 0u) << View(planned.getStatus().getMessage());
    auto enforce = responder.enforceRequest();
    enforce.setPlanId(planned.getPlan().getId());
    auto enforced = enforce.send().wait(io_.waitScope);
    EXPECT_EQ(enforced.getStatus().getCode(), 0u) << View(enforced.getStatus().getMessage());
    EXPECT_TRUE(enforced.getOutcome().getEnforced());
    return enforced.getOutcome().getDenySeq();
  }

  // Revokes `n` digests from Digest(first) in one plan (approved twice
  // when it is bulk); returns the deny-list sequence of the enforcement.
  uint64_t RevokeDigests(schema::Lineage::Client& lineage, schema::Responder::Client& responder,
                         int first, int n) {
    auto plan = responder.planRequest();
    auto roots = plan.initRoots(n);
    for (int i = 0; i < n; ++i) {
      roots[i].setRef(Text(Digest(first + i)));
      roots[i].setSinceMicros(std::numeric_limits<int64_t>::min());
      roots[i].setUntilMicros(std::numeric_limits<int64_t>::max());
    }
    plan.setReason("many");
    auto planned = plan.send().wait(io_.waitScope);
    EXPECT_EQ(planned.getStatus().getCode(), 0u) << View(planned.getStatus().getMessage());
    std::string id(View(planned.getPlan().getId()));
    if (planned.getPlan().getBulk()) {
      for (const std::string& token : {Token(Role::kApprover), second_approver_}) {
        schema::Approver::Client approver = Login(lineage, token).getApprover();
        auto a = approver.approveRequest();
        a.setPlanId(Text(id));
        EXPECT_EQ(a.send().wait(io_.waitScope).getStatus().getCode(), 0u);
      }
    }
    auto enforce = responder.enforceRequest();
    enforce.setPlanId(Text(id));
    auto enforced = enforce.send().wait(io_.waitScope);
    EXPECT_EQ(enforced.getStatus().getCode(), 0u) << View(enforced.getStatus().getMessage());
    EXPECT_TRUE(enforced.getOutcome().getEnforced());
    return enforced.getOutcome().getDenySeq();
  }

  bool Check(schema::Gate::Client& gate, const std::string& digest) {
    auto request = gate.checkRequest();
    request.setDigest(Text(digest));
    auto response = request.send().wait(io_.waitScope);
    EXPECT_EQ(response.getStatus().getCode(), 0u) << View(response.getStatus().getMessage());
    return response.getResult().getDeny();
  }

  template <typename Promise>
  bool Throws(Promise&& p) {
    try {
      p.wait(io_.waitScope);
      return false;
    } catch (const kj::Exception&) {
      return true;
    }
  }

  // Held by pointer: kj destructors may throw, which a test fixture's
  // destructor must not declare. conn_ goes before the event loop.
  std::unique_ptr<kj::AsyncIoContext> io_holder_ =
      std::make_unique<kj::AsyncIoContext>(kj::setupAsyncIo());
  kj::AsyncIoContext& io_ = *io_holder_;
  std::string dir_;
  std::string tokens_[6];
  std::string second_approver_;
  std::unique_ptr<Daemon> daemon_;
  struct Connection {
    kj::Own<kj::TlsContext> tls;  // outlives the stream it wraps
    kj::Own<kj::AsyncIoStream> stream;
    kj::Own<capnp::TwoPartyClient> client;
  };
  std::unique_ptr<Connection> conn_;
};

std::string Digest(int n) {
  return fmt::format("sha256:{:064x}", 0xabc000 + n);
}

TEST_F(RpcTest, UnknownTokenGetsNoCapability) {
  schema::Lineage::Client lineage = Connect();
  auto login = Login(lineage, "lgt_gate_not-a-real-token");
  EXPECT_EQ(login.getStatus().getCode(), static_cast<uint32_t>(absl::StatusCode::kUnauthenticated));
  EXPECT_TRUE(Throws(login.getGate().checkRequest().send()));
}

TEST_F(RpcTest, GateCredentialCannotIngestReviseOrApprove) {
  schema::Lineage::Client lineage = Connect();
  auto login = Login(lineage, Token(Role::kGate));
  ASSERT_EQ(login.getStatus().getCode(), 0u);
  EXPECT_EQ(login.getRole(), schema::Role::GATE);
  EXPECT_TRUE(Throws(login.getIngest().ingestRequest().send()));
  EXPECT_TRUE(Throws(login.getResponder().planRequest().send()));
  EXPECT_TRUE(Throws(login.getResponder().enforceRequest().send()));
  EXPECT_TRUE(Throws(login.getApprover().approveRequest().send()));
  EXPECT_TRUE(Throws(login.getAdmin().createTokenRequest().send()));
  schema::Gate::Client gate = login.getGate();
  EXPECT_FALSE(Check(gate, kFooPy));
}

TEST_F(RpcTest, EachRoleHoldsOnlyItsOwnCapability) {
  schema::Lineage::Client lineage = Connect();
  auto ingest = Login(lineage, Token(Role::kIngest));
  EXPECT_TRUE(Throws(ingest.getResponder().planRequest().send()));
  EXPECT_TRUE(Throws(ingest.getGate().checkRequest().send()));
  auto responder = Login(lineage, Token(Role::kResponder));
  EXPECT_TRUE(Throws(responder.getApprover().approveRequest().send()));
  EXPECT_TRUE(Throws(responder.getIngest().ingestRequest().send()));
  auto approver = Login(lineage, Token(Role::kApprover));
  EXPECT_TRUE(Throws(approver.getResponder().enforceRequest().send()));
  auto reader = Login(lineage, Token(Role::kReader));
  EXPECT_TRUE(Throws(reader.getIngest().ingestRequest().send()));
  EXPECT_TRUE(Throws(reader.getResponder().liftRequest().send()));
}

// The calls added for why, show, plans, stats, inventories and backup sit
// on their role's capability only: no other login holds a reference to them.
TEST_F(RpcTest, NewCallsAreReachableOnlyFromTheirRole) {
  schema::Lineage::Client lineage = Connect();
  auto gate = Login(lineage, Token(Role::kGate));
  EXPECT_TRUE(Throws(gate.getReader().showRequest().send()));
  EXPECT_TRUE(Throws(gate.getReader().getPlanRequest().send()));
  EXPECT_TRUE(Throws(gate.getReader().listPlansRequest().send()));
  EXPECT_TRUE(Throws(gate.getReader().statsRequest().send()));
  EXPECT_TRUE(Throws(gate.getIngest().ingestInventoriesRequest().send()));
  EXPECT_TRUE(Throws(gate.getAdmin().backupRequest().send()));
  auto reader = Login(lineage, Token(Role::kReader));
  EXPECT_TRUE(Throws(reader.getGate().whyRequest().send()));
  EXPECT_TRUE(Throws(reader.getGate().revocationsRequest().send()));
  EXPECT_TRUE(Throws(reader.getIngest().ingestInventoriesRequest().send()));
  auto ingest = Login(lineage, Token(Role::kIngest));
  EXPECT_TRUE(Throws(ingest.getReader().showRequest().send()));
  EXPECT_TRUE(Throws(ingest.getGate().whyRequest().send()));
  auto responder = Login(lineage, Token(Role::kResponder));
  EXPECT_TRUE(Throws(responder.getReader().getPlanRequest().send()));
  EXPECT_TRUE(Throws(responder.getAdmin().backupRequest().send()));
  auto approver = Login(lineage, Token(Role::kApprover));
  EXPECT_TRUE(Throws(approver.getReader().listPlansRequest().send()));

  // And each answers on its own role's capability.
  schema::Ingest::Client ingest_cap = ingest.getIngest();
  IngestSamples(ingest_cap);
  schema::Gate::Client gate_cap = gate.getGate();
  auto why = gate_cap.whyRequest();
  why.setDigest(kFooTarGz);
  auto answer = why.send().wait(io_.waitScope);
  ASSERT_EQ(answer.getStatus().getCode(), 0u) << View(answer.getStatus().getMessage());
  EXPECT_TRUE(answer.getResult().getKnown());
  EXPECT_EQ(answer.getResult().getReasons().size(), 0u);
  schema::Reader::Client reader_cap = reader.getReader();
  auto show = reader_cap.showRequest();
  show.setRef(kFooPy);
  auto node = show.send().wait(io_.waitScope);
  ASSERT_EQ(node.getStatus().getCode(), 0u);
  EXPECT_EQ(View(node.getNode().getRef()), kFooPy);
  EXPECT_GT(node.getNode().getOutEdges().size(), 0u);
  auto unknown = gate_cap.revocationsRequest();
  unknown.initIds(1).set(0, "rev-404");
  EXPECT_EQ(unknown.send().wait(io_.waitScope).getStatus().getCode(),
            static_cast<uint32_t>(absl::StatusCode::kNotFound));
}

// Listing revocations, the audit chain and the settings sit on Reader only;
// changing settings (advisory-only turns off every block) on Admin only;
// reading a plan back on Reader and Responder.
TEST_F(RpcTest, RevocationAuditAndSettingsCallsAreReachableOnlyFromTheirRole) {
  schema::Lineage::Client lineage = Connect();
  for (Role role : {Role::kGate, Role::kIngest, Role::kResponder, Role::kApprover, Role::kAdmin}) {
    auto login = Login(lineage, Token(role));
    ASSERT_EQ(login.getStatus().getCode(), 0u);
    SCOPED_TRACE(std::string(RoleName(role)));
    EXPECT_TRUE(Throws(login.getReader().listRevocationsRequest().send()));
    EXPECT_TRUE(Throws(login.getReader().verifyAuditRequest().send()));
    EXPECT_TRUE(Throws(login.getReader().auditLogRequest().send()));
    EXPECT_TRUE(Throws(login.getReader().getSettingsRequest().send()));
  }
  for (Role role : {Role::kGate, Role::kIngest, Role::kReader, Role::kResponder, Role::kApprover}) {
    auto login = Login(lineage, Token(role));
    SCOPED_TRACE(std::string(RoleName(role)));
    auto change = login.getAdmin().updateSettingsRequest();
    change.setSetAdvisoryOnly(true);
    change.setAdvisoryOnly(true);
    change.setReason("rollback");
    EXPECT_TRUE(Throws(change.send()));
  }
  for (Role role : {Role::kGate, Role::kIngest, Role::kReader, Role::kApprover, Role::kAdmin}) {
    auto login = Login(lineage, Token(role));
    SCOPED_TRACE(std::string(RoleName(role)));
    EXPECT_TRUE(Throws(login.getResponder().getPlanRequest().send()));
  }

  // None of the refused calls changed anything; each answers on its role.
  schema::Reader::Client reader = Login(lineage, Token(Role::kReader)).getReader();
  auto settings = reader.getSettingsRequest().send().wait(io_.waitScope);
  ASSERT_EQ(settings.getStatus().getCode(), 0u);
  EXPECT_FALSE(settings.getSettings().getAdvisoryOnly());
  EXPECT_EQ(settings.getSettings().getBulkThreshold(), 100u);
  auto log = reader.auditLogRequest().send().wait(io_.waitScope);
  ASSERT_EQ(log.getStatus().getCode(), 0u);
  EXPECT_EQ(log.getEntries().size(), 0u);
  auto verified = reader.verifyAuditRequest().send().wait(io_.waitScope);
  ASSERT_EQ(verified.getStatus().getCode(), 0u);
  EXPECT_TRUE(verified.getOk());
  EXPECT_EQ(verified.getEntries(), 0u);
}

// Admin.updateSettings records the change under the credential's name,
// refuses another name, an empty reason and a call that changes nothing,
// and keeps the field it was not asked to change.
TEST_F(RpcTest, UpdateSettingsIsAttributedToTheAdminCredential) {
  schema::Lineage::Client lineage = Connect();
  schema::Admin::Client admin = Login(lineage, Token(Role::kAdmin)).getAdmin();
  auto code = [&](auto& request) {
    return request.send().wait(io_.waitScope).getStatus().getCode();
  };
  auto posing = admin.updateSettingsRequest();
  posing.setSetBulkThreshold(true);
  posing.setBulkThreshold(7);
  posing.setActor("someone-else");
  posing.setReason("r");
  EXPECT_EQ(code(posing), static_cast<uint32_t>(absl::StatusCode::kPermissionDenied));
  auto nothing = admin.updateSettingsRequest();
  nothing.setReason("r");
  EXPECT_EQ(code(nothing), static_cast<uint32_t>(absl::StatusCode::kInvalidArgument));
  auto no_reason = admin.updateSettingsRequest();
  no_reason.setSetBulkThreshold(true);
  no_reason.setBulkThreshold(7);
  EXPECT_EQ(code(no_reason), static_cast<uint32_t>(absl::StatusCode::kInvalidArgument));

  auto change = admin.updateSettingsRequest();
  change.setSetAdvisoryOnly(true);
  change.setAdvisoryOnly(true);
  change.setReason("INC-4 rollback");
  auto changed = change.send().wait(io_.waitScope);
  ASSERT_EQ(changed.getStatus().getCode(), 0u) << View(changed.getStatus().getMessage());
  EXPECT_TRUE(changed.getSettings().getAdvisoryOnly());
  EXPECT_EQ(changed.getSettings().getBulkThreshold(), 100u);  // not asked: kept

  schema::Reader::Client reader = Login(lineage, Token(Role::kReader)).getReader();
  auto log = reader.auditLogRequest().send().wait(io_.waitScope);
  ASSERT_EQ(log.getStatus().getCode(), 0u);
  ASSERT_EQ(log.getEntries().size(), 1u);
  EXPECT_EQ(View(log.getEntries()[0].getActor()), "test-admin");
  EXPECT_EQ(View(log.getEntries()[0].getAction()), "settings");
  schema::Gate::Client gate = Login(lineage, Token(Role::kGate)).getGate();
  auto check = gate.checkRequest();
  check.setDigest(kFooPy);
  EXPECT_TRUE(check.send().wait(io_.waitScope).getResult().getAdvisoryOnly());
}

// The audit log and the revocation list come in pages, cut by count and by
// the caller's message limit; rpc::Client joins them in order. A responder
// reads a plan back with the answer a reader gets.
TEST_F(RpcTest, AuditLogAndRevocationsComeInPagesAndJoinInOrder) {
  schema::Lineage::Client lineage = Connect();
  schema::Responder::Client responder = Login(lineage, Token(Role::kResponder)).getResponder();
  constexpr int kRevocations = 30;
  for (int i = 0; i < kRevocations; ++i)
    RevokeDigest(responder, Digest(900 + i));
  for (int i = 0; i < kRevocations; i += 3) {
    auto lift = responder.liftRequest();
    std::string id = fmt::format("rev-{}", i + 1);
    lift.setRevocation(Text(id));
    lift.setReason("lifted");
    ASSERT_EQ(lift.send().wait(io_.waitScope).getStatus().getCode(), 0u);
  }
  constexpr uint64_t kEntries = 2 * kRevocations + kRevocations / 3;  // plans, enforces, lifts

  schema::Reader::Client reader = Login(lineage, Token(Role::kReader)).getReader();
  auto two = reader.auditLogRequest();
  two.setFromSeq(5);
  two.setMaxEntries(2);
  auto page = two.send().wait(io_.waitScope);
  ASSERT_EQ(page.getStatus().getCode(), 0u);
  ASSERT_EQ(page.getEntries().size(), 2u);
  EXPECT_EQ(page.getEntries()[0].getSeq(), 5u);
  EXPECT_TRUE(page.getTruncated());
  auto last = reader.auditLogRequest();
  last.setFromSeq(kEntries - 1);
  last.setMaxEntries(2);
  auto tail = last.send().wait(io_.waitScope);
  EXPECT_EQ(tail.getEntries().size(), 2u);
  EXPECT_FALSE(tail.getTruncated());
  // 8 KiB: pages of at most 4 KiB, about ten entries or four revocations.
  auto small = reader.auditLogRequest();
  small.setMaxMessageBytes(8192);
  auto cut = small.send().wait(io_.waitScope);
  EXPECT_TRUE(cut.getTruncated());
  EXPECT_GT(cut.getEntries().size(), 0u);
  EXPECT_LT(cut.getEntries().size(), 20u);
  auto revs = reader.listRevocationsRequest();
  revs.setAll(true);
  revs.setMaxMessageBytes(8192);
  auto first_revs = revs.send().wait(io_.waitScope);
  ASSERT_EQ(first_revs.getStatus().getCode(), 0u);
  EXPECT_TRUE(first_revs.getTruncated());
  EXPECT_LT(first_revs.getRevocations().size(), static_cast<uint32_t>(kRevocations));
  auto unknown = reader.listRevocationsRequest();
  unknown.setAfterId("rev-404");
  EXPECT_EQ(unknown.send().wait(io_.waitScope).getStatus().getCode(),
            static_cast<uint32_t>(absl::StatusCode::kNotFound));

  std::string plan_id = [&] {
    auto p = responder.planRequest();
    auto roots = p.initRoots(1);
    roots[0].setRef(Text(Digest(999)));
    roots[0].setSinceMicros(std::numeric_limits<int64_t>::min());
    roots[0].setUntilMicros(std::numeric_limits<int64_t>::max());
    p.setReason("pending");
    return std::string(View(p.send().wait(io_.waitScope).getPlan().getId()));
  }();
  auto as_responder = responder.getPlanRequest();
  as_responder.setPlanId(Text(plan_id));
  auto as_reader = reader.getPlanRequest();
  as_reader.setPlanId(Text(plan_id));
  auto from_responder = as_responder.send().wait(io_.waitScope);
  auto from_reader = as_reader.send().wait(io_.waitScope);
  ASSERT_EQ(from_responder.getStatus().getCode(), 0u);
  EXPECT_EQ(from_responder.getPlan().toString().flatten(),
            from_reader.getPlan().toString().flatten());
  auto missing = responder.getPlanRequest();
  missing.setPlanId(std::string(64, 'a'));
  EXPECT_EQ(missing.send().wait(io_.waitScope).getStatus().getCode(),
            static_cast<uint32_t>(absl::StatusCode::kNotFound));

  // rpc::Client fetches every page (on a thread of its own: a Client owns
  // an event loop). The pending plan is one more entry.
  const uint64_t total = kEntries + 1;
  absl::Status status;
  std::vector<AuditEntry> entries, small_pages;
  std::vector<Revocation> all, active;
  std::thread client_thread([&] {
    ClientOptions options{fmt::format("127.0.0.1:{}", daemon_->port()), Token(Role::kReader)};
    options.max_message_bytes = 8192;
    absl::StatusOr<std::unique_ptr<Client>> client = Client::Connect(options);
    if (!client.ok()) {
      status = client.status();
      return;
    }
    absl::StatusOr<std::vector<AuditEntry>> joined = (*client)->AuditLog(1);
    absl::StatusOr<std::vector<AuditEntry>> by_three = (*client)->AuditLog(2, 3);
    absl::StatusOr<std::vector<Revocation>> listed = (*client)->ListRevocations(true);
    absl::StatusOr<std::vector<Revocation>> listed_active = (*client)->ListRevocations(false);
    for (absl::Status s :
         {joined.status(), by_three.status(), listed.status(), listed_active.status()}) {
      if (!s.ok() && status.ok()) status = s;
    }
    if (!status.ok()) return;
    entries = *joined;
    small_pages = *by_three;
    all = *listed;
    active = *listed_active;
  });
  client_thread.join();
  ASSERT_TRUE(status.ok()) << status;
  ASSERT_EQ(entries.size(), total);
  for (size_t i = 0; i < entries.size(); ++i)
    EXPECT_EQ(entries[i].seq, i + 1);
  ASSERT_EQ(small_pages.size(), total - 1);
  EXPECT_EQ(small_pages.front().seq, 2u);
  EXPECT_EQ(small_pages.back().hash, entries.back().hash);
  ASSERT_EQ(all.size(), static_cast<size_t>(kRevocations));
  for (int i = 0; i < kRevocations; ++i) {
    EXPECT_EQ(all[i].id, fmt::format("rev-{}", i + 1));
    EXPECT_EQ(all[i].state, i % 3 == 0 ? RevocationState::kLifted : RevocationState::kActive);
  }
  ASSERT_EQ(active.size(), static_cast<size_t>(kRevocations - kRevocations / 3));
  for (const Revocation& rev : active)
    EXPECT_EQ(rev.state, RevocationState::kActive);
}

// Reader.evidence and Responder.enforcedWorkloads (the paged answers) sit
// on their role's capability only, and answer there.
TEST_F(RpcTest, PagedEvidenceAndWorkloadCallsAreReachableOnlyFromTheirRole) {
  schema::Lineage::Client lineage = Connect();
  for (Role role : {Role::kGate, Role::kIngest, Role::kResponder, Role::kApprover, Role::kAdmin}) {
    auto login = Login(lineage, Token(role));
    EXPECT_TRUE(Throws(login.getReader().evidenceRequest().send())) << RoleName(role);
  }
  for (Role role : {Role::kGate, Role::kIngest, Role::kReader, Role::kApprover, Role::kAdmin}) {
    auto login = Login(lineage, Token(role));
    EXPECT_TRUE(Throws(login.getResponder().enforcedWorkloadsRequest().send())) << RoleName(role);
  }
  schema::Reader::Client reader = Login(lineage, Token(Role::kReader)).getReader();
  auto evidence = reader.evidenceRequest();
  evidence.setSubject("rev-404");
  EXPECT_EQ(evidence.send().wait(io_.waitScope).getStatus().getCode(),
            static_cast<uint32_t>(absl::StatusCode::kNotFound));
  schema::Responder::Client responder = Login(lineage, Token(Role::kResponder)).getResponder();
  auto workloads = responder.enforcedWorkloadsRequest();
  workloads.setRevocation("rev-404");
  EXPECT_EQ(workloads.send().wait(io_.waitScope).getStatus().getCode(),
            static_cast<uint32_t>(absl::StatusCode::kNotFound));
}

// A lineage workload list of `n` workloads in cluster prod, each running
// `image`.
std::string InventoryList(int n, const std::string& image, const std::string& prefix = "web") {
  std::string json = R"({"cluster":"prod","workloads":[)";
  for (int i = 0; i < n; ++i) {
    json += fmt::format(R"({}{{"namespace":"shop","kind":"Deployment","name":"{}-{}",)"
                        R"("images":["{}"]}})",
                        i == 0 ? "" : ",", prefix, i, image);
  }
  return json + "]}";
}

void ExpectSame(const EvidenceRecord& a, const EvidenceRecord& b) {
  EXPECT_EQ(a.seq, b.seq);
  EXPECT_EQ(a.action, b.action);
  EXPECT_EQ(a.actor, b.actor);
  EXPECT_EQ(a.time, b.time);
  EXPECT_EQ(a.plan_id, b.plan_id);
  EXPECT_EQ(a.revocation, b.revocation);
  EXPECT_EQ(a.roots, b.roots);
  EXPECT_EQ(a.reason, b.reason);
  EXPECT_EQ(a.mode, b.mode);
  EXPECT_EQ(a.artifacts, b.artifacts);
  EXPECT_EQ(a.workloads, b.workloads);
  EXPECT_EQ(a.duration, b.duration);
  EXPECT_EQ(a.deny_seq, b.deny_seq);
  EXPECT_EQ(a.details, b.details);
}

// Under a caller's limit of 16 KiB (answers cut to 8 KiB) an enforcement of
// 300 workloads and its evidence need several answers each: rpc::Client
// joins them into what one large answer holds.
TEST_F(RpcTest, EnforceWorkloadsAndEvidenceArePagedUnderASmallMessageLimit) {
  schema::Lineage::Client lineage = Connect();
  schema::Ingest::Client ingest = Login(lineage, Token(Role::kIngest)).getIngest();
  IngestSamples(ingest);
  auto client = [&](Role role, uint64_t limit) {
    ClientOptions options;
    options.address = fmt::format("127.0.0.1:{}", daemon_->port());
    options.token = Token(role);
    options.max_message_bytes = limit;
    absl::StatusOr<std::unique_ptr<Client>> c = Client::Connect(options);
    EXPECT_TRUE(c.ok()) << c.status();
    return c.ok() ? *std::move(c) : nullptr;
  };
  constexpr uint64_t kSmall = 16 << 10;
  // rpc::Client runs its own event loop, so on a thread of its own: this one
  // holds the fixture's.
  EnforceResult enforced;
  std::thread clients([&] {
    {
      std::unique_ptr<Client> ingester = client(Role::kIngest, 64 << 20);
      ASSERT_NE(ingester, nullptr);
      ingest::InventoryOptions options;
      options.format = ingest::InventoryFormat::kList;
      absl::StatusOr<ingest::InventoryReport> stored =
          ingester->IngestInventory("prod.json", InventoryList(300, kFooTarGz), options);
      ASSERT_TRUE(stored.ok()) << stored.status();
      ASSERT_EQ(stored->workloads, 300u) << stored->error;
    }

    // One Client (one event loop) on this thread at a time.
    std::string plan_id;
    {
      std::unique_ptr<Client> responder = client(Role::kResponder, kSmall);
      ASSERT_NE(responder, nullptr);
      PlanRequest request;
      request.roots = {{kFooPy, absl::InfinitePast(), absl::InfiniteFuture()}};
      request.reason = "INC-12";
      absl::StatusOr<Plan> plan = responder->MakePlan(request, 0);
      ASSERT_TRUE(plan.ok()) << plan.status();
      plan_id = plan->id;
      absl::StatusOr<EnforceResult> done = responder->Enforce(plan->id, {});
      ASSERT_TRUE(done.ok()) << done.status();
      enforced = *done;
    }
    ASSERT_EQ(enforced.workloads.size(), 300u);
    std::set<std::string> names(enforced.workloads.begin(), enforced.workloads.end());
    EXPECT_EQ(names.size(), 300u);
    EXPECT_EQ(names.count("workload:prod/shop/Deployment/web-299"), 1u);

    // The same records through a small limit and through the default one.
    auto evidence = [&](uint64_t limit, const std::string& subject) {
      std::unique_ptr<Client> reader = client(Role::kReader, limit);
      absl::StatusOr<std::vector<EvidenceRecord>> records =
          reader ? reader->Evidence(subject) : absl::UnavailableError("no client");
      EXPECT_TRUE(records.ok()) << records.status();
      return records.ok() ? *std::move(records) : std::vector<EvidenceRecord>{};
    };
    std::vector<EvidenceRecord> parts = evidence(kSmall, enforced.revocation.id);
    std::vector<EvidenceRecord> whole = evidence(64 << 20, enforced.revocation.id);
    ASSERT_EQ(parts.size(), 2u);  // the plan's and the enforcement's
    ASSERT_EQ(whole.size(), 2u);
    for (size_t i = 0; i < parts.size(); ++i)
      ExpectSame(parts[i], whole[i]);
    EXPECT_EQ(parts[1].action, "enforce");
    EXPECT_EQ(parts[1].workloads, enforced.workloads);  // the same order
    EXPECT_EQ(parts[0].workloads.size(), 300u);
    EXPECT_EQ(evidence(kSmall, plan_id).size(), 2u);
  });
  clients.join();
  ASSERT_FALSE(HasFailure());

  // The paging calls check their positions.
  schema::Responder::Client raw = Login(lineage, Token(Role::kResponder)).getResponder();
  auto past = raw.enforcedWorkloadsRequest();
  past.setRevocation(Text(enforced.revocation.id));
  past.setOffset(301);
  EXPECT_EQ(past.send().wait(io_.waitScope).getStatus().getCode(),
            static_cast<uint32_t>(absl::StatusCode::kInvalidArgument));
  auto end = raw.enforcedWorkloadsRequest();
  end.setRevocation(Text(enforced.revocation.id));
  end.setOffset(300);
  auto at_end = end.send().wait(io_.waitScope);
  ASSERT_EQ(at_end.getStatus().getCode(), 0u);
  EXPECT_EQ(at_end.getWorkloads().size(), 0u);
  EXPECT_EQ(at_end.getWorkloadCount(), 300u);
  EXPECT_FALSE(at_end.getTruncated());
  auto first = raw.enforcedWorkloadsRequest();
  first.setRevocation(Text(enforced.revocation.id));
  first.setMaxMessageBytes(kSmall);
  auto page = first.send().wait(io_.waitScope);
  ASSERT_EQ(page.getStatus().getCode(), 0u);
  EXPECT_GT(page.getWorkloads().size(), 0u);
  EXPECT_LT(page.getWorkloads().size(), 300u);
  EXPECT_TRUE(page.getTruncated());
  schema::Reader::Client reader = Login(lineage, Token(Role::kReader)).getReader();
  auto bogus = reader.evidenceRequest();
  bogus.setSubject(Text(enforced.revocation.id));
  bogus.setSkipItems(1000000);  // more items than the record has
  EXPECT_EQ(bogus.send().wait(io_.waitScope).getStatus().getCode(),
            static_cast<uint32_t>(absl::StatusCode::kInvalidArgument));
}

// Verification is spread over verifier threads; the answer still lists the
// items in document order, each with its own verdict, and a document that
// repeats an earlier one in the same call is a duplicate (stored in order).
TEST_F(RpcTest, IngestKeepsDocumentOrderAndVerdictsAcrossVerifiers) {
  daemon_->Stop();
  StartDaemon({"--verify-threads", "3"});
  schema::Lineage::Client lineage = Connect();
  schema::Ingest::Client ingest = Login(lineage, Token(Role::kIngest)).getIngest();
  std::vector<std::string> names, contents;
  for (const auto& e : fs::directory_iterator(kSamples + "/attestations")) {
    names.push_back(e.path().filename().string());
    contents.push_back(ReadAll(e.path().string()));
  }
  std::sort(names.begin(), names.end());
  contents.clear();
  for (const std::string& n : names)
    contents.push_back(ReadAll(kSamples + "/attestations/" + n));
  // A broken document in the middle, and the first one again at the end.
  names.insert(names.begin() + 3, "broken.json");
  contents.insert(contents.begin() + 3, "{\"payloadType\": 7}");
  names.push_back("again-" + names.front());
  contents.push_back(contents.front());

  auto request = ingest.ingestRequest();
  SetDocuments(request, names, contents);
  auto response = request.send().wait(io_.waitScope);
  ASSERT_EQ(response.getStatus().getCode(), 0u);
  // Each item's source starts with its document's name, in document order
  // (a JSON Lines document may yield several items).
  size_t doc = 0;
  std::vector<std::string> order;
  for (auto item : response.getItems()) {
    std::string source(View(item.getSource()));
    while (doc < names.size() && source.rfind(names[doc], 0) != 0)
      doc++;
    ASSERT_LT(doc, names.size()) << source << " out of order";
    order.push_back(names[doc]);
    if (names[doc] == "broken.json") {
      EXPECT_FALSE(item.getAccepted());
      EXPECT_THAT(std::string(View(item.getReason())), HasSubstr("broken.json"));
    } else if (names[doc].rfind("again-", 0) == 0) {
      EXPECT_TRUE(item.getAccepted()) << View(item.getReason());
      EXPECT_TRUE(item.getDuplicate());
    } else {
      EXPECT_TRUE(item.getAccepted()) << source << ": " << View(item.getReason());
      EXPECT_FALSE(item.getDuplicate()) << source;
    }
  }
  EXPECT_EQ(order.back(), names.back());
  EXPECT_THAT(order, ::testing::Contains("broken.json"));
}

// Inventories over RPC: parsed by the daemon, stored in order; a bad one is
// an item with an error, the others are stored.
TEST_F(RpcTest, IngestInventoriesOverRpc) {
  schema::Lineage::Client lineage = Connect();
  schema::Ingest::Client ingest = Login(lineage, Token(Role::kIngest)).getIngest();
  std::string dir = std::string(LINEAGE_SOURCE_DIR) + "/tests/data/inventories/";
  std::vector<std::string> contents = {ReadAll(dir + "pods.json"), "{not json"};
  auto request = ingest.ingestInventoriesRequest();
  auto docs = request.initInventories(2);
  for (size_t i = 0; i < 2; ++i) {
    docs[i].setName(i == 0 ? "pods.json" : "broken.json");
    docs[i].setContent(capnp::Data::Reader(reinterpret_cast<const kj::byte*>(contents[i].data()),
                                           contents[i].size()));
    docs[i].setCluster("prod");
    docs[i].setFormat(schema::InventoryFormat::AUTO);
  }
  auto response = request.send().wait(io_.waitScope);
  ASSERT_EQ(response.getStatus().getCode(), 0u) << View(response.getStatus().getMessage());
  ASSERT_EQ(response.getItems().size(), 2u);
  ingest::InventoryReport stored = ToInventoryReport(response.getItems()[0]);
  EXPECT_EQ(stored.error, "");
  EXPECT_EQ(stored.cluster, "prod");
  EXPECT_EQ(stored.format, ingest::InventoryFormat::kKubectl);
  EXPECT_GT(stored.workloads, 0u);
  EXPECT_GT(stored.outcome.new_edges, 0u);
  ingest::InventoryReport broken = ToInventoryReport(response.getItems()[1]);
  EXPECT_THAT(broken.error, ::testing::StartsWith("broken.json"));
}

TEST_F(RpcTest, IngestTraverseRevokeAndCheckOverRpc) {
  schema::Lineage::Client lineage = Connect();
  schema::Ingest::Client ingest = Login(lineage, Token(Role::kIngest)).getIngest();
  IngestSamples(ingest);

  schema::Reader::Client reader = Login(lineage, Token(Role::kReader)).getReader();
  auto d = reader.descendantsRequest();
  d.setRef(kFooPy);
  d.setMaxDepth(-1);
  auto descendants = d.send().wait(io_.waitScope);
  ASSERT_EQ(descendants.getStatus().getCode(), 0u);
  std::vector<std::string> refs;
  for (auto n : descendants.getNodes())
    refs.emplace_back(View(n.getRef()));
  EXPECT_THAT(refs, ::testing::Contains(kFooTarGz));

  schema::Responder::Client responder = Login(lineage, Token(Role::kResponder)).getResponder();
  RevokeDigest(responder, kFooPy);
  schema::Gate::Client gate = Login(lineage, Token(Role::kGate)).getGate();
  EXPECT_TRUE(Check(gate, kFooTarGz));

  auto batch = gate.checkBatchRequest();
  auto digests = batch.initDigests(2);
  digests.set(0, kFooTarGz);
  digests.set(1, Digest(999));
  batch.setUnknown(schema::UnknownPolicy::ALLOW);
  auto verdicts = batch.send().wait(io_.waitScope);
  ASSERT_EQ(verdicts.getStatus().getCode(), 0u);
  EXPECT_TRUE(verdicts.getResults()[0].getDeny());
  EXPECT_FALSE(verdicts.getResults()[1].getDeny());

  // A malformed digest is an answer in data, not an exception.
  auto bad = gate.checkRequest();
  bad.setDigest("sha256:nothex");
  EXPECT_EQ(bad.send().wait(io_.waitScope).getStatus().getCode(),
            static_cast<uint32_t>(absl::StatusCode::kInvalidArgument));
}

TEST_F(RpcTest, BulkPlanNeedsTwoApproversOverRpc) {
  schema::Lineage::Client lineage = Connect();
  schema::Ingest::Client ingest = Login(lineage, Token(Role::kIngest)).getIngest();
  IngestSamples(ingest);
  schema::Responder::Client responder = Login(lineage, Token(Role::kResponder)).getResponder();

  auto plan = responder.planRequest();
  auto roots = plan.initRoots(1);
  roots[0].setRef("builder:https://cloudbuild.googleapis.com/GoogleHostedWorker");
  roots[0].setSinceMicros(std::numeric_limits<int64_t>::min());
  roots[0].setUntilMicros(std::numeric_limits<int64_t>::max());
  plan.setReason("builder compromised");
  plan.setActor("test-responder");  // its own name: accepted
  auto planned = plan.send().wait(io_.waitScope);
  ASSERT_EQ(planned.getStatus().getCode(), 0u) << View(planned.getStatus().getMessage());
  EXPECT_TRUE(planned.getPlan().getBulk());
  std::string id(View(planned.getPlan().getId()));

  auto enforce = [&] {
    auto r = responder.enforceRequest();
    r.setPlanId(Text(id));
    return r.send().wait(io_.waitScope);
  };
  EXPECT_EQ(enforce().getStatus().getCode(),
            static_cast<uint32_t>(absl::StatusCode::kPermissionDenied));
  // An approver cannot approve under another name, so one token cannot
  // pose as the second person.
  schema::Approver::Client first = Login(lineage, Token(Role::kApprover)).getApprover();
  auto impostor = first.approveRequest();
  impostor.setPlanId(Text(id));
  impostor.setPrincipal("second-approver");
  EXPECT_EQ(impostor.send().wait(io_.waitScope).getStatus().getCode(),
            static_cast<uint32_t>(absl::StatusCode::kPermissionDenied));
  for (const std::string& token : {Token(Role::kApprover), second_approver_}) {
    schema::Approver::Client approver = Login(lineage, token).getApprover();
    auto a = approver.approveRequest();
    a.setPlanId(Text(id));
    ASSERT_EQ(a.send().wait(io_.waitScope).getStatus().getCode(), 0u);
  }
  auto done = enforce();
  ASSERT_EQ(done.getStatus().getCode(), 0u) << View(done.getStatus().getMessage());
  EXPECT_TRUE(done.getOutcome().getEnforced());
}

TEST_F(RpcTest, SubscriberGetsMissedThenLiveDeltasInOrderOnce) {
  schema::Lineage::Client lineage = Connect();
  schema::Responder::Client responder = Login(lineage, Token(Role::kResponder)).getResponder();
  EXPECT_EQ(RevokeDigest(responder, Digest(1)), 1u);
  EXPECT_EQ(RevokeDigest(responder, Digest(2)), 2u);

  schema::Gate::Client gate = Login(lineage, Token(Role::kGate)).getGate();
  RecordingSubscriber::Seen seen;
  auto subscription = Subscribe(gate, 0, &seen);
  ASSERT_EQ(subscription.getStatus().getCode(), 0u);
  ASSERT_TRUE(WaitFor([&] { return seen.seqs.size() >= 2; }));

  RevokeDigest(responder, Digest(3));
  RevokeDigest(responder, Digest(4));
  ASSERT_TRUE(WaitFor([&] { return seen.seqs.size() >= 4; }));
  io_.provider->getTimer().afterDelay(50 * kj::MILLISECONDS).wait(io_.waitScope);
  EXPECT_THAT(seen.seqs, ElementsAre(1, 2, 3, 4));
  EXPECT_THAT(seen.added, ElementsAre(Digest(1), Digest(2), Digest(3), Digest(4)));
}

TEST_F(RpcTest, ResubscribingGateResumesFromItsLastSequence) {
  schema::Lineage::Client lineage = Connect();
  schema::Responder::Client responder = Login(lineage, Token(Role::kResponder)).getResponder();
  schema::Gate::Client gate = Login(lineage, Token(Role::kGate)).getGate();
  RevokeDigest(responder, Digest(1));
  RevokeDigest(responder, Digest(2));
  RevokeDigest(responder, Digest(3));

  RecordingSubscriber::Seen seen;
  auto subscription = Subscribe(gate, 2, &seen);
  ASSERT_TRUE(WaitFor([&] { return !seen.seqs.empty(); }));
  io_.provider->getTimer().afterDelay(50 * kj::MILLISECONDS).wait(io_.waitScope);
  EXPECT_THAT(seen.seqs, ElementsAre(3));
}

TEST_F(RpcTest, DaemonRestartTellsSubscribersAndKeepsState) {
  {
    schema::Lineage::Client lineage = Connect();
    schema::Responder::Client responder = Login(lineage, Token(Role::kResponder)).getResponder();
    schema::Gate::Client gate = Login(lineage, Token(Role::kGate)).getGate();
    RevokeDigest(responder, Digest(1));

    RecordingSubscriber::Seen seen;
    auto subscription = Subscribe(gate, 0, &seen);
    ASSERT_TRUE(WaitFor([&] { return seen.seqs.size() == 1; }));

    // SIGTERM while this connection is open: the daemon drains and asks the
    // subscriber to resync before it exits.
    std::thread stopper([&] { EXPECT_EQ(daemon_->Stop(), 0); });
    bool resynced = WaitFor([&] { return seen.resyncs == 1; });
    stopper.join();
    EXPECT_TRUE(resynced);
    EXPECT_THAT(seen.resync_reason, HasSubstr("shutting down"));
  }
  conn_.reset();

  daemon_->Start();
  schema::Lineage::Client lineage = Connect();
  schema::Gate::Client gate = Login(lineage, Token(Role::kGate)).getGate();
  EXPECT_TRUE(Check(gate, Digest(1)));
  schema::Responder::Client responder = Login(lineage, Token(Role::kResponder)).getResponder();
  RevokeDigest(responder, Digest(2));

  RecordingSubscriber::Seen seen;
  auto subscription = Subscribe(gate, 1, &seen);
  ASSERT_TRUE(WaitFor([&] { return !seen.seqs.empty(); }));
  EXPECT_THAT(seen.seqs, ElementsAre(2));
}

TEST_F(RpcTest, SlowSubscriberIsToldToResync) {
  daemon_->Stop();
  StartDaemon({"--lag-limit", "2"});
  schema::Lineage::Client lineage = Connect();
  schema::Responder::Client responder = Login(lineage, Token(Role::kResponder)).getResponder();
  schema::Gate::Client gate = Login(lineage, Token(Role::kGate)).getGate();

  RecordingSubscriber::Seen seen;
  seen.hold_first = true;
  auto subscription = Subscribe(gate, 0, &seen);
  RevokeDigest(responder, Digest(1));
  ASSERT_TRUE(WaitFor([&] { return seen.hold.get() != nullptr; }));
  // While the gate sits on delta 1, four more arrive: beyond the limit.
  for (int i = 2; i <= 5; ++i)
    RevokeDigest(responder, Digest(i));
  seen.hold->fulfill();
  ASSERT_TRUE(WaitFor([&] { return seen.resyncs == 1; }));
  EXPECT_THAT(seen.seqs, ElementsAre(1));
  EXPECT_THAT(seen.resync_reason, HasSubstr("behind"));
}

// With a 1 MiB message limit a delta of 16,001 digests (about 1.3 MB) is
// pushed in parts under the limit, all with its seq and only the last
// without `continued`: before, the push was refused by Cap'n Proto and the
// gate silently never heard of it. denyListSince and the snapshot are cut
// to the limit too.
TEST_F(RpcTest, LargeDeltaIsPushedInPartsUnderASmallMessageLimit) {
  // The plan of 16,001 roots is itself past 1 MiB: made at the default
  // limit, then pushed by a daemon restarted with the small one.
  constexpr int kN = 16001;
  uint64_t seq = 0;
  {
    schema::Lineage::Client lineage = Connect();
    schema::Responder::Client responder = Login(lineage, Token(Role::kResponder)).getResponder();
    seq = RevokeDigests(lineage, responder, 1, kN);
  }
  RestartDaemon({"--max-message-mib", "1"});
  schema::Lineage::Client lineage = Connect();
  schema::Gate::Client gate = Login(lineage, Token(Role::kGate)).getGate();

  RecordingSubscriber::Seen seen;
  auto subscription = Subscribe(gate, 0, &seen);
  ASSERT_EQ(subscription.getStatus().getCode(), 0u);
  ASSERT_TRUE(WaitFor([&] { return seen.added.size() >= kN; }, 30000))
      << seen.added.size() << " digests pushed\n"
      << daemon_->log();
  ASSERT_GE(seen.seqs.size(), 2u);
  for (size_t i = 0; i < seen.seqs.size(); ++i) {
    EXPECT_EQ(seen.seqs[i], seq);
    EXPECT_EQ(seen.continued[i], i + 1 < seen.seqs.size()) << i;
  }
  std::vector<std::string> added = seen.added;
  std::sort(added.begin(), added.end());
  EXPECT_EQ(std::unique(added.begin(), added.end()), added.end());
  EXPECT_EQ(seen.resyncs, 0);

  // denyListSince: the first part, then the rest with skipDigests.
  uint64_t got = 0;
  int calls = 0;
  for (;;) {
    auto since = gate.denyListSinceRequest();
    since.setAfterSeq(seq - 1);
    since.setSkipDigests(got);
    auto page = since.send().wait(io_.waitScope);
    ASSERT_EQ(page.getStatus().getCode(), 0u) << View(page.getStatus().getMessage());
    ASSERT_EQ(page.getDeltas().size(), 1u);
    got += page.getDeltas()[0].getAdded().size();
    ++calls;
    if (!page.getDeltas()[0].getContinued()) break;
    ASSERT_TRUE(page.getTruncated());
    ASSERT_LT(calls, 100);
  }
  EXPECT_EQ(got, static_cast<uint64_t>(kN));
  EXPECT_GE(calls, 2);

  // The snapshot, page by page in digest order.
  std::vector<std::string> snapshot;
  std::string after;
  for (calls = 0;; ++calls) {
    ASSERT_LT(calls, 100);
    auto request = gate.snapshotRequest();
    request.setAfterDigest(Text(after));
    auto page = request.send().wait(io_.waitScope);
    ASSERT_EQ(page.getStatus().getCode(), 0u) << View(page.getStatus().getMessage());
    EXPECT_EQ(page.getSeq(), seq);
    for (auto d : page.getDigests())
      snapshot.emplace_back(View(d));
    if (!page.getTruncated()) break;
    after = snapshot.back();
  }
  EXPECT_GE(calls, 1);
  EXPECT_EQ(snapshot, added);

  // rpc::Client (gate watch's) joins the parts: whole deltas, one snapshot.
  // On a thread of its own: a Client owns an event loop.
  std::vector<DenyDelta> pushed, listed;
  absl::Status subscribed, paged;
  DenyListSnapshot joined;
  std::thread client_thread([&] {
    ClientOptions options{fmt::format("127.0.0.1:{}", daemon_->port()), Token(Role::kGate)};
    options.max_message_bytes = 1 << 20;
    absl::StatusOr<std::unique_ptr<Client>> client = Client::Connect(options);
    if (!client.ok()) {
      subscribed = client.status();
      return;
    }
    SubscribeCallbacks callbacks;
    callbacks.on_deltas = [&](const std::vector<DenyDelta>& deltas) {
      pushed.insert(pushed.end(), deltas.begin(), deltas.end());
      return false;  // one call is enough
    };
    subscribed = (*client)->Subscribe(seq - 1, callbacks, absl::Seconds(5));
    absl::StatusOr<DenyListPage> page = (*client)->DenyListSince(seq - 1, 10);
    absl::StatusOr<DenyListSnapshot> snap = (*client)->Snapshot();
    paged = !page.ok() ? page.status() : snap.status();
    if (page.ok()) listed = page->deltas;
    if (snap.ok()) joined = *snap;
  });
  client_thread.join();
  ASSERT_TRUE(subscribed.ok()) << subscribed;
  ASSERT_TRUE(paged.ok()) << paged;
  ASSERT_EQ(pushed.size(), 1u);
  EXPECT_EQ(pushed[0].seq, seq);
  EXPECT_EQ(pushed[0].added.size(), static_cast<size_t>(kN));
  ASSERT_EQ(listed.size(), 1u);
  EXPECT_EQ(listed[0].added.size(), static_cast<size_t>(kN));
  EXPECT_EQ(joined.seq, seq);
  EXPECT_EQ(joined.digests, added);
}

// Two deltas of about 600 KB each, behind a 1 MiB limit: the page that
// catches a gate up holds both whole (1.2 MB) unless it is cut to the
// limit.
TEST_F(RpcTest, CatchUpPageOfTwoLargeDeltasFitsTheLimit) {
  uint64_t a = 0, b = 0;
  {
    schema::Lineage::Client lineage = Connect();
    schema::Responder::Client responder = Login(lineage, Token(Role::kResponder)).getResponder();
    a = RevokeDigests(lineage, responder, 1, 7500);
    b = RevokeDigests(lineage, responder, 10001, 7500);
  }
  RestartDaemon({"--max-message-mib", "1"});
  schema::Lineage::Client lineage = Connect();
  schema::Gate::Client gate = Login(lineage, Token(Role::kGate)).getGate();

  RecordingSubscriber::Seen seen;
  auto subscription = Subscribe(gate, 0, &seen);
  ASSERT_TRUE(WaitFor([&] { return seen.added.size() >= 15000; }, 30000))
      << seen.added.size() << " digests pushed\n"
      << daemon_->log();
  EXPECT_EQ(seen.seqs.front(), a);
  EXPECT_EQ(seen.seqs.back(), b);
  EXPECT_GE(seen.calls, 2);
  EXPECT_EQ(seen.resyncs, 0);
  EXPECT_EQ(seen.continued.back(), false);
}

// A login holds at most 16 subscriptions at once.
TEST_F(RpcTest, SubscriptionsPerLoginAreCapped) {
  schema::Lineage::Client lineage = Connect();
  schema::Gate::Client gate = Login(lineage, Token(Role::kGate)).getGate();
  RecordingSubscriber::Seen seen;
  std::vector<capnp::Response<schema::Gate::SubscribeResults>> held;
  auto subscribe = [&] {
    auto request = gate.subscribeRequest();
    request.setSubscriber(kj::heap<RecordingSubscriber>(&seen));
    return request.send().wait(io_.waitScope);
  };
  for (int i = 0; i < 16; ++i) {
    held.push_back(subscribe());
    ASSERT_EQ(held.back().getStatus().getCode(), 0u);
  }
  auto refused = subscribe();
  EXPECT_EQ(refused.getStatus().getCode(),
            static_cast<uint32_t>(absl::StatusCode::kResourceExhausted));
  // Dropping one makes room again.
  held.pop_back();
  ASSERT_TRUE(WaitFor([&] { return subscribe().getStatus().getCode() == 0u; }));
}

// Backups go only to --backup-dir/NAME, NAME one plain component.
TEST_F(RpcTest, BackupIsConfinedToTheBackupDirectory) {
  schema::Lineage::Client lineage = Connect();
  auto backup = [&](schema::Admin::Client& admin, const std::string& name) {
    auto request = admin.backupRequest();
    request.setDir(Text(name));
    auto response = request.send().wait(io_.waitScope);
    return std::make_pair(response.getStatus().getCode(),
                          std::string(View(response.getStatus().getMessage())));
  };
  {
    schema::Admin::Client admin = Login(lineage, Token(Role::kAdmin)).getAdmin();
    auto off = backup(admin, "name1");
    EXPECT_EQ(off.first, static_cast<uint32_t>(absl::StatusCode::kPermissionDenied));
    EXPECT_THAT(off.second, HasSubstr("--backup-dir"));
  }
  daemon_->Stop();
  std::string root = dir_ + "/backups";
  StartDaemon({"--backup-dir", root});
  lineage = Connect();
  schema::Admin::Client admin = Login(lineage, Token(Role::kAdmin)).getAdmin();
  for (std::string bad :
       {dir_ + "/x", std::string("/dev/shm/lineage-x"), std::string("../x"), std::string("a/b"),
        std::string(".."), std::string("."), std::string(""), std::string("db/x")}) {
    auto r = backup(admin, bad);
    EXPECT_EQ(r.first, static_cast<uint32_t>(absl::StatusCode::kInvalidArgument)) << bad;
    EXPECT_THAT(r.second, HasSubstr("--backup-dir/NAME")) << bad;
  }
  EXPECT_FALSE(fs::exists(dir_ + "/x"));
  EXPECT_FALSE(fs::exists("/dev/shm/lineage-x"));
  EXPECT_FALSE(fs::exists(dir_ + "/db/x"));
  auto ok = backup(admin, "name1");
  ASSERT_EQ(ok.first, 0u) << ok.second;
  EXPECT_TRUE(fs::exists(root + "/name1/CURRENT"));
  EXPECT_EQ(fs::status(root + "/name1").permissions() & fs::perms::all, fs::perms::owner_all);
  EXPECT_EQ(fs::status(root).permissions() & fs::perms::all, fs::perms::owner_all);
  EXPECT_NE(backup(admin, "name1").first, 0u);  // exists: refused

  // A backup directory inside the database is refused at start.
  std::string log = dir_ + "/inside.log";
  std::string command =
      fmt::format("{} --db {}/db --listen 127.0.0.1:0 --backup-dir {}/db/bk 2> {}", LINEAGED_PATH,
                  dir_, dir_, log);
  int status = system(command.c_str());
  EXPECT_EQ(WEXITSTATUS(status), 2);
  EXPECT_THAT(ReadAll(log), HasSubstr("must not be inside --db"));
}

// Admin.backup runs beside the writer. The server's before_backup seam
// holds a checkpoint open: meanwhile a plan (a write) is answered and a
// second backup is refused with status 8; released, the first completes.
// An in-process server, since only it offers the seam; the store and the
// RPC are real.
TEST(BackupThreadTest, WritesGoOnWhileABackupRunsAndASecondIsRefused) {
  std::string dir = testing::MakeTempDir("lineage-backup-");
  absl::StatusOr<CredentialStore> creds = CredentialStore::Load(dir + "/credentials");
  ASSERT_TRUE(creds.ok()) << creds.status();
  absl::StatusOr<std::string> admin_token = creds->Create("admin", Role::kAdmin, absl::Now());
  absl::StatusOr<std::string> responder_token =
      creds->Create("responder", Role::kResponder, absl::Now());
  ASSERT_TRUE(admin_token.ok() && responder_token.ok());
  absl::StatusOr<std::unique_ptr<Store>> store = Store::Open(dir + "/db", StoreOptions{});
  ASSERT_TRUE(store.ok()) << store.status();

  std::mutex mu;
  std::condition_variable cv;
  bool held = false, released = false;
  ServerOptions options;
  options.credentials_path = dir + "/credentials";
  options.backup_root = dir + "/backups";
  options.before_backup = [&](const std::string& backup) {
    if (backup != dir + "/backups/b1") return;
    std::unique_lock lock(mu);
    held = true;
    // Bounded: a test that fails does not hang the daemon's thread.
    cv.wait_for(lock, std::chrono::seconds(30), [&] { return released; });
  };
  auto release = [&] {
    {
      std::lock_guard lock(mu);
      released = true;
    }
    cv.notify_all();
  };
  {
    auto io = kj::setupAsyncIo();
    absl::StatusOr<std::unique_ptr<Server>> server = Server::Create(store->get(), options);
    ASSERT_TRUE(server.ok()) << server.status();
    auto pipe = io.provider->newTwoWayPipe();
    capnp::TwoPartyVatNetwork network(*pipe.ends[0], capnp::rpc::twoparty::Side::SERVER);
    auto rpc = capnp::makeRpcServer(network, (*server)->Bootstrap());
    capnp::TwoPartyClient client(*pipe.ends[1]);
    auto lineage = client.bootstrap().castAs<schema::Lineage>();
    auto login = [&](const std::string& token) {
      auto request = lineage.loginRequest();
      request.setToken(Text(token));
      return request.send().wait(io.waitScope);
    };
    schema::Admin::Client admin = login(*admin_token).getAdmin();
    schema::Responder::Client responder = login(*responder_token).getResponder();
    // Waits, bounded, for an answer while the event loop runs.
    auto answered = [&](auto promise, auto on_answer) {
      bool done = false;
      promise
          .then([&](auto&& response) {
            on_answer(response);
            done = true;
          })
          .exclusiveJoin(io.provider->getTimer().afterDelay(10 * kj::SECONDS))
          .wait(io.waitScope);
      return done;
    };

    auto first = admin.backupRequest();
    first.setDir("b1");
    auto first_answer = first.send();
    for (int waited = 0; waited < 10000 && !held; waited += 5) {
      io.provider->getTimer().afterDelay(5 * kj::MILLISECONDS).wait(io.waitScope);
      std::lock_guard lock(mu);
      if (held) break;
    }
    ASSERT_TRUE(held) << "the backup never reached its checkpoint";

    auto second = admin.backupRequest();
    second.setDir("b2");
    uint32_t second_code = 0;
    std::string second_message;
    EXPECT_TRUE(answered(second.send(), [&](auto& r) {
      second_code = r.getStatus().getCode();
      second_message = std::string(View(r.getStatus().getMessage()));
    })) << "a second backup waited for the first";
    EXPECT_EQ(second_code, static_cast<uint32_t>(absl::StatusCode::kResourceExhausted));
    EXPECT_THAT(second_message, HasSubstr("already running"));

    auto plan = responder.planRequest();
    auto roots = plan.initRoots(1);
    roots[0].setRef(Text(Digest(1)));
    roots[0].setSinceMicros(std::numeric_limits<int64_t>::min());
    roots[0].setUntilMicros(std::numeric_limits<int64_t>::max());
    plan.setReason("while backing up");
    uint32_t plan_code = 99;
    EXPECT_TRUE(answered(plan.send(), [&](auto& r) { plan_code = r.getStatus().getCode(); }))
        << "a write waited for the backup";
    EXPECT_EQ(plan_code, 0u);

    release();
    uint32_t first_code = 99;
    EXPECT_TRUE(
        answered(kj::mv(first_answer), [&](auto& r) { first_code = r.getStatus().getCode(); }));
    EXPECT_EQ(first_code, 0u);
    EXPECT_TRUE(fs::exists(dir + "/backups/b1/CURRENT"));
    EXPECT_FALSE(fs::exists(dir + "/backups/b2"));
    // The slot is free again once the answer is out.
    auto third = admin.backupRequest();
    third.setDir("b3");
    uint32_t third_code = 99;
    EXPECT_TRUE(answered(third.send(), [&](auto& r) { third_code = r.getStatus().getCode(); }));
    EXPECT_EQ(third_code, 0u);
    (*server)->Shutdown();
  }
  release();
  store->reset();
  if (!::testing::Test::HasFailure()) fs::remove_all(dir);
}

// GET over a plain socket; returns the whole response (status line,
// headers and body).
std::string HttpGet(kj::AsyncIoContext& io, unsigned port, const std::string& path) {
  auto address = io.provider->getNetwork().parseAddress("127.0.0.1", port).wait(io.waitScope);
  auto stream = address->connect().wait(io.waitScope);
  std::string request =
      fmt::format("GET {} HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n", path);
  stream->write(request.data(), request.size()).wait(io.waitScope);
  std::string response;
  char buffer[4096];
  // Reads until the body announced by Content-Length is complete (the server
  // may keep the connection open for a while after answering).
  size_t want = std::string::npos;
  while (want == std::string::npos || response.size() < want) {
    size_t n = stream->tryRead(buffer, 1, sizeof(buffer)).wait(io.waitScope);
    if (n == 0) break;
    response.append(buffer, n);
    size_t end = response.find("\r\n\r\n");
    std::smatch m;
    if (want == std::string::npos && end != std::string::npos &&
        std::regex_search(response, m, std::regex("[Cc]ontent-[Ll]ength: *([0-9]+)"))) {
      want = end + 4 + std::stoul(m[1]);
    }
  }
  return response;
}

TEST_F(RpcTest, MetricsAreValidPrometheusTextAndCountChecks) {
  daemon_->Stop();
  StartDaemon({"--http", "127.0.0.1:0"});
  ASSERT_NE(daemon_->http_port(), 0u) << daemon_->log();
  schema::Lineage::Client lineage = Connect();
  schema::Responder::Client responder = Login(lineage, Token(Role::kResponder)).getResponder();
  RevokeDigest(responder, Digest(1));
  schema::Gate::Client gate = Login(lineage, Token(Role::kGate)).getGate();
  EXPECT_TRUE(Check(gate, Digest(1)));
  EXPECT_FALSE(Check(gate, Digest(2)));

  std::string response = HttpGet(io_, daemon_->http_port(), "/metrics");
  ASSERT_THAT(response, HasSubstr("200 OK"));
  std::string body = response.substr(response.find("\r\n\r\n") + 4);
  EXPECT_THAT(body, HasSubstr("lineage_checks_total{verdict=\"deny\"} 1\n"));
  EXPECT_THAT(body, HasSubstr("lineage_checks_total{verdict=\"allow\"} 1\n"));
  EXPECT_THAT(body, HasSubstr("lineage_enforcements_total 1\n"));
  EXPECT_THAT(body, HasSubstr("lineage_deny_list_sequence 1\n"));
  EXPECT_THAT(body, HasSubstr("lineage_check_latency_seconds_count 2\n"));

  if (system("command -v promtool >/dev/null 2>&1") != 0) {
    GTEST_SKIP() << "promtool (Debian package prometheus) is not installed";
  }
  std::string file = dir_ + "/metrics.txt";
  std::ofstream(file) << body;
  std::string command =
      fmt::format("promtool check metrics < {} > {}/promtool.out 2>&1", file, dir_);
  EXPECT_EQ(system(command.c_str()), 0) << ReadAll(dir_ + "/promtool.out") << body;

  EXPECT_THAT(HttpGet(io_, daemon_->http_port(), "/healthz"), HasSubstr("200 OK"));
  EXPECT_THAT(HttpGet(io_, daemon_->http_port(), "/readyz"), HasSubstr("200 OK"));
  EXPECT_THAT(HttpGet(io_, daemon_->http_port(), "/nothing"), HasSubstr("404"));
}

// ca.pem, server.pem and client.pem (with keys) in `dir`.
void MakeCertificates(const std::string& dir) {
  ASSERT_TRUE(testing::MakeTestCertificates(dir)) << "openssl failed in " << dir;
}

TEST_F(RpcTest, TlsWithClientCertificatesServesOnlyTrustedClients) {
  MakeCertificates(dir_);
  daemon_->Stop();
  StartDaemon({"--tls-cert", dir_ + "/server.pem", "--tls-key", dir_ + "/server.key",
               "--tls-client-ca", dir_ + "/ca.pem"});
  kj::TlsCertificate ca(kj::heapString(ReadAll(dir_ + "/ca.pem")));
  kj::TlsKeypair client{kj::TlsPrivateKey(kj::heapString(ReadAll(dir_ + "/client.key"))),
                        kj::TlsCertificate(kj::heapString(ReadAll(dir_ + "/client.pem")))};

  auto connect = [&](bool tls, bool with_certificate) {
    conn_.reset();
    conn_ = std::make_unique<Connection>();
    auto address =
        io_.provider->getNetwork().parseAddress("127.0.0.1", daemon_->port()).wait(io_.waitScope);
    conn_->stream = address->connect().wait(io_.waitScope);
    if (tls) {
      kj::TlsContext::Options options;
      options.useSystemTrustStore = false;
      options.trustedCertificates = kj::arrayPtr(&ca, 1);
      if (with_certificate) options.defaultKeypair = client;
      conn_->tls = kj::heap<kj::TlsContext>(kj::mv(options));
      conn_->stream =
          conn_->tls->wrapClient(kj::mv(conn_->stream), "localhost").wait(io_.waitScope);
    }
    conn_->client = kj::heap<capnp::TwoPartyClient>(*conn_->stream);
    return conn_->client->bootstrap().castAs<schema::Lineage>();
  };
  auto login_fails = [&](bool tls, bool with_certificate) {
    try {
      schema::Lineage::Client lineage = connect(tls, with_certificate);
      Login(lineage, Token(Role::kGate));
      return false;
    } catch (const kj::Exception&) {
      return true;
    }
  };

  EXPECT_TRUE(login_fails(/*tls=*/false, false));  // plaintext to a TLS port
  EXPECT_TRUE(login_fails(/*tls=*/true, false));   // no client certificate
  schema::Lineage::Client lineage = connect(/*tls=*/true, /*with_certificate=*/true);
  auto login = Login(lineage, Token(Role::kGate));
  ASSERT_EQ(login.getStatus().getCode(), 0u);
  schema::Gate::Client gate = login.getGate();
  EXPECT_FALSE(Check(gate, Digest(1)));
}

TEST_F(RpcTest, PlaintextOffLoopbackIsRefused) {
  std::string log = dir_ + "/refused.log";
  std::string command =
      fmt::format("{} --db {}/db2 --listen 0.0.0.0:0 2> {}", LINEAGED_PATH, dir_, log);
  int status = system(command.c_str());
  EXPECT_EQ(WEXITSTATUS(status), 2);
  EXPECT_THAT(ReadAll(log), HasSubstr("only loopback"));
  // By address, not by text: a name that starts with "127." is a DNS name.
  for (const char* flags : {"--listen 127.attacker.invalid:0", "--http 127.attacker.invalid:0"}) {
    std::string cmd = fmt::format("{} --db {}/db2 {} 2> {}", LINEAGED_PATH, dir_, flags, log);
    int s = system(cmd.c_str());
    EXPECT_EQ(WEXITSTATUS(s), 2) << flags;
    EXPECT_THAT(ReadAll(log), HasSubstr("only loopback")) << flags;
  }
}

TEST(LoopbackTest, DecidedByAddressNotByText) {
  for (const char* yes : {"127.0.0.1", "127.1.2.3", "::1", "[::1]", "::ffff:127.0.0.1"})
    EXPECT_TRUE(IsLoopbackHost(yes)) << yes;
  for (const char* no : {"127.attacker.invalid", "127.0.0.1.nip.io", "10.0.0.1", "0.0.0.0",
                         "::", "::ffff:10.0.0.1", "example.invalid", ""})
    EXPECT_FALSE(IsLoopbackHost(no)) << no;
  // The client refuses plaintext to such a name before any lookup.
  ClientOptions options{"127.attacker.invalid:1", "token"};
  absl::StatusOr<std::unique_ptr<Client>> client = Client::Connect(options);
  ASSERT_FALSE(client.ok());
  EXPECT_EQ(client.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(client.status().message(), HasSubstr("plaintext is allowed only to a loopback"));
}

TEST_F(RpcTest, HangupReloadsCredentialsWrittenBehindTheDaemonsBack) {
  absl::StatusOr<CredentialStore> creds = CredentialStore::Load(dir_ + "/db/credentials");
  ASSERT_TRUE(creds.ok());
  absl::StatusOr<std::string> late = creds->Create("late-gate", Role::kGate, absl::Now());
  ASSERT_TRUE(late.ok());
  schema::Lineage::Client lineage = Connect();
  EXPECT_EQ(Login(lineage, *late).getStatus().getCode(),
            static_cast<uint32_t>(absl::StatusCode::kUnauthenticated));

  ASSERT_EQ(kill(daemon_->pid(), SIGHUP), 0);
  bool reloaded =
      WaitFor([&] { return daemon_->log().find("SIGHUP: reloaded") != std::string::npos; });
  ASSERT_TRUE(reloaded) << daemon_->log();
  EXPECT_EQ(Login(lineage, *late).getStatus().getCode(), 0u);
  // Tokens that existed before the reload still work.
  EXPECT_EQ(Login(lineage, Token(Role::kGate)).getStatus().getCode(), 0u);
}

// Revoking a credential cuts off the capabilities its live logins hold,
// not only its next login: calls fail, pushes to its subscriber stop, and
// other credentials on the same connection keep working. Both ways of
// revoking: Admin.revokeToken, and the file edited plus SIGHUP.
TEST_F(RpcTest, RevokingATokenCutsOffItsLiveCapabilities) {
  schema::Lineage::Client lineage = Connect();
  schema::Gate::Client gate = Login(lineage, Token(Role::kGate)).getGate();
  schema::Reader::Client reader = Login(lineage, Token(Role::kReader)).getReader();
  schema::Responder::Client responder = Login(lineage, Token(Role::kResponder)).getResponder();
  schema::Admin::Client admin = Login(lineage, Token(Role::kAdmin)).getAdmin();
  RecordingSubscriber::Seen seen;
  auto subscription = Subscribe(gate, 0, &seen);
  ASSERT_EQ(subscription.getStatus().getCode(), 0u);
  RevokeDigest(responder, Digest(1));
  ASSERT_TRUE(WaitFor([&] { return seen.seqs.size() == 1; }));
  EXPECT_FALSE(Check(gate, Digest(2)));
  // The same credential through the library client, on a connection of
  // its own (and a thread: the client runs its own event loop), logged in
  // before the revocation and asked again after it.
  std::promise<absl::Status> before_promise;
  std::promise<void> revoked_promise;
  absl::Status after;
  std::thread library_client(
      [&, address = fmt::format("127.0.0.1:{}", daemon_->port()), token = Token(Role::kGate)] {
        absl::StatusOr<std::unique_ptr<Client>> client = Client::Connect({address, token});
        if (!client.ok()) {
          before_promise.set_value(client.status());
          return;
        }
        before_promise.set_value((*client)->Check(Digest(1), UnknownPolicy::kAllow).status());
        revoked_promise.get_future().wait();
        after = (*client)->Check(Digest(1), UnknownPolicy::kAllow).status();
      });
  absl::Status before = before_promise.get_future().get();
  if (!before.ok()) library_client.join();
  ASSERT_TRUE(before.ok()) << before;

  auto revoke = admin.revokeTokenRequest();
  revoke.setName(Text("test-gate"));
  ASSERT_EQ(revoke.send().wait(io_.waitScope).getStatus().getCode(), 0u);

  auto check = gate.checkRequest();
  check.setDigest(Text(Digest(1)));
  try {
    check.send().wait(io_.waitScope);
    ADD_FAILURE() << "a revoked gate credential still answers checks";
  } catch (const kj::Exception& e) {
    EXPECT_THAT(e.getDescription().cStr(), HasSubstr("\"test-gate\" was revoked"));
  }
  revoked_promise.set_value();
  library_client.join();
  EXPECT_EQ(after.code(), absl::StatusCode::kUnauthenticated) << after;
  RevokeDigest(responder, Digest(2));
  io_.provider->getTimer().afterDelay(200 * kj::MILLISECONDS).wait(io_.waitScope);
  EXPECT_THAT(seen.seqs, ElementsAre(1)) << "pushes continued to a revoked gate";
  EXPECT_EQ(Login(lineage, Token(Role::kGate)).getStatus().getCode(),
            static_cast<uint32_t>(absl::StatusCode::kUnauthenticated));
  // The reader's credential still stands.
  EXPECT_EQ(reader.statsRequest().send().wait(io_.waitScope).getStatus().getCode(), 0u);

  // Behind the daemon's back, then SIGHUP.
  absl::StatusOr<CredentialStore> creds = CredentialStore::Load(dir_ + "/db/credentials");
  ASSERT_TRUE(creds.ok());
  ASSERT_TRUE(creds->Revoke("test-reader").ok());
  ASSERT_EQ(kill(daemon_->pid(), SIGHUP), 0);
  ASSERT_TRUE(WaitFor([&] {
    return daemon_->log().find("cut off 1 live login") != std::string::npos;
  })) << daemon_->log();
  EXPECT_TRUE(Throws(reader.statsRequest().send()));
  // The responder was never revoked.
  EXPECT_EQ(RevokeDigest(responder, Digest(3)), 3u);
}

TEST_F(RpcTest, AdminCreatesAndRevokesTokens) {
  schema::Lineage::Client lineage = Connect();
  schema::Admin::Client admin = Login(lineage, Token(Role::kAdmin)).getAdmin();
  auto create = admin.createTokenRequest();
  create.setName("new-gate");
  create.setRole(schema::Role::GATE);
  auto created = create.send().wait(io_.waitScope);
  ASSERT_EQ(created.getStatus().getCode(), 0u);
  std::string token(View(created.getToken()));
  EXPECT_EQ(Login(lineage, token).getStatus().getCode(), 0u);

  auto revoke = admin.revokeTokenRequest();
  revoke.setName("new-gate");
  ASSERT_EQ(revoke.send().wait(io_.waitScope).getStatus().getCode(), 0u);
  EXPECT_EQ(Login(lineage, token).getStatus().getCode(),
            static_cast<uint32_t>(absl::StatusCode::kUnauthenticated));

  // The file holds hashes only.
  EXPECT_EQ(ReadAll(dir_ + "/db/credentials").find(token), std::string::npos);
}

// Reader.workloads, Reader.keyUsage and Gate.checkAt (lineage workloads
// list, keys, check --at) sit on their role's capability only, and the
// traversals' kinds filter refuses an unknown kind.
TEST_F(RpcTest, WorkloadsKeysAndCheckAtAreReachableOnlyFromTheirRole) {
  schema::Lineage::Client lineage = Connect();
  auto gate = Login(lineage, Token(Role::kGate));
  EXPECT_TRUE(Throws(gate.getReader().workloadsRequest().send()));
  EXPECT_TRUE(Throws(gate.getReader().keyUsageRequest().send()));
  for (Role role :
       {Role::kReader, Role::kIngest, Role::kResponder, Role::kApprover, Role::kAdmin}) {
    auto other = Login(lineage, Token(role));
    EXPECT_TRUE(Throws(other.getGate().checkAtRequest().send())) << RoleName(role);
    if (role != Role::kReader) {
      EXPECT_TRUE(Throws(other.getReader().workloadsRequest().send())) << RoleName(role);
      EXPECT_TRUE(Throws(other.getReader().keyUsageRequest().send())) << RoleName(role);
    }
  }

  // And each answers on its own.
  schema::Ingest::Client ingest = Login(lineage, Token(Role::kIngest)).getIngest();
  IngestSamples(ingest);
  schema::Reader::Client reader = Login(lineage, Token(Role::kReader)).getReader();
  auto keys = reader.keyUsageRequest();
  keys.setRotationAgeMicros(absl::ToInt64Microseconds(absl::Hours(24)));
  auto usage = keys.send().wait(io_.waitScope);
  ASSERT_EQ(usage.getStatus().getCode(), 0u) << View(usage.getStatus().getMessage());
  EXPECT_GT(usage.getSigners().size(), 0u);
  EXPECT_GT(usage.getSignedAttestations(), 0u);
  auto bad_age = reader.keyUsageRequest();
  bad_age.setRotationAgeMicros(0);
  EXPECT_EQ(bad_age.send().wait(io_.waitScope).getStatus().getCode(),
            static_cast<uint32_t>(absl::StatusCode::kInvalidArgument));
  auto none = reader.workloadsRequest();
  none.setCluster("nowhere");
  EXPECT_EQ(none.send().wait(io_.waitScope).getStatus().getCode(),
            static_cast<uint32_t>(absl::StatusCode::kNotFound));
  auto bogus = reader.descendantsRequest();
  bogus.setRef(kFooPy);
  bogus.setMaxDepth(-1);
  bogus.initKinds(1).set(0, "bogus");
  EXPECT_EQ(bogus.send().wait(io_.waitScope).getStatus().getCode(),
            static_cast<uint32_t>(absl::StatusCode::kInvalidArgument));
  schema::Gate::Client gate_cap = gate.getGate();
  auto at = gate_cap.checkAtRequest();
  at.setDigest(kFooTarGz);
  at.setAtMicros(absl::ToUnixMicros(absl::Now()));
  auto verdict = at.send().wait(io_.waitScope);
  ASSERT_EQ(verdict.getStatus().getCode(), 0u) << View(verdict.getStatus().getMessage());
  EXPECT_TRUE(verdict.getResult().getKnown());
  EXPECT_FALSE(verdict.getResult().getDeny());
}

// A cluster whose inventory is replaced between two pages of
// Reader.workloads is not joined across the two: the continuation is
// refused (aborted) and the client lists again.
TEST_F(RpcTest, WorkloadsPageOfAReplacedInventoryIsRefused) {
  schema::Lineage::Client lineage = Connect();
  schema::Ingest::Client ingest = Login(lineage, Token(Role::kIngest)).getIngest();
  const std::string inv = std::string(LINEAGE_SOURCE_DIR) + "/tests/data/inventories/";
  auto store = [&](const std::string& file) {
    auto request = ingest.ingestInventoriesRequest();
    auto docs = request.initInventories(1);
    std::string content = ReadAll(inv + file);
    docs[0].setName(file);
    docs[0].setContent(
        capnp::Data::Reader(reinterpret_cast<const kj::byte*>(content.data()), content.size()));
    docs[0].setCluster("prod");
    auto answer = request.send().wait(io_.waitScope);
    ASSERT_EQ(answer.getStatus().getCode(), 0u);
    ASSERT_EQ(View(answer.getItems()[0].getError()), "");
  };
  store("pods.json");
  schema::Reader::Client reader = Login(lineage, Token(Role::kReader)).getReader();
  auto first = reader.workloadsRequest().send().wait(io_.waitScope);
  ASSERT_EQ(first.getStatus().getCode(), 0u);
  ASSERT_EQ(first.getClusters().size(), 1u);
  std::string id(View(first.getClusters()[0].getInventory()));
  std::string after(View(first.getClusters()[0].getWorkloads()[0].getRef()));
  auto continued = [&] {
    auto request = reader.workloadsRequest();
    request.setAfterCluster("prod");
    request.setAfterInventory(Text(id));
    request.setAfterWorkload(Text(after));
    return request.send().wait(io_.waitScope);
  };
  auto rest = continued();
  ASSERT_EQ(rest.getStatus().getCode(), 0u);
  ASSERT_EQ(rest.getClusters().size(), 1u);
  EXPECT_EQ(rest.getClusters()[0].getWorkloads().size(),
            first.getClusters()[0].getWorkloads().size() - 1);
  store("pods-after-rollout.json");
  EXPECT_EQ(continued().getStatus().getCode(), static_cast<uint32_t>(absl::StatusCode::kAborted));
}

// ---- convert.h: every field survives Fill* then To* (the remote CLI
// prints these structs, so a dropped field would be a silent difference).

SignerEvidence Evidence(int n) {
  return SignerEvidence{fmt::format("key:keyless:iss|san{}", n),
                        "https://issuer",
                        "san@x",
                        std::string(64, 'c'),
                        40 + n,
                        absl::FromUnixSeconds(1700000000 + n)};
}

void ExpectSame(const SignerEvidence& a, const SignerEvidence& b) {
  EXPECT_EQ(a.key_ref, b.key_ref);
  EXPECT_EQ(a.issuer, b.issuer);
  EXPECT_EQ(a.san, b.san);
  EXPECT_EQ(a.certificate_sha256, b.certificate_sha256);
  EXPECT_EQ(a.log_index, b.log_index);
  EXPECT_EQ(a.signed_at, b.signed_at);
}

Revocation SomeRevocation() {
  Revocation rev;
  rev.id = "rev-7";
  rev.plan_id = std::string(64, 'p');
  rev.roots = {{"key:sha256:aa", absl::FromUnixSeconds(10), absl::FromUnixSeconds(20)},
               {kFooPy, absl::InfinitePast(), absl::InfiniteFuture()}};
  rev.reason = "INC-1";
  rev.mode = RevocationMode::kAdvisory;
  rev.created_by = "alice";
  rev.approvals = {{"bob", absl::FromUnixSeconds(30)}, {"carol", absl::FromUnixSeconds(31)}};
  rev.enforced_by = "dave";
  rev.enforced_at = absl::FromUnixSeconds(40);
  rev.enforced_seq = 9;
  rev.state = RevocationState::kLifted;
  rev.lifted_by = "erin";
  rev.lifted_at = absl::FromUnixSeconds(50);
  rev.lift_reason = "fixed";
  rev.artifact_count = 123;
  return rev;
}

void ExpectSame(const Revocation& a, const Revocation& b) {
  EXPECT_EQ(a.id, b.id);
  EXPECT_EQ(a.plan_id, b.plan_id);
  EXPECT_EQ(a.roots, b.roots);
  EXPECT_EQ(a.reason, b.reason);
  EXPECT_EQ(a.mode, b.mode);
  EXPECT_EQ(a.created_by, b.created_by);
  ASSERT_EQ(a.approvals.size(), b.approvals.size());
  for (size_t i = 0; i < a.approvals.size(); ++i) {
    EXPECT_EQ(a.approvals[i].principal, b.approvals[i].principal);
    EXPECT_EQ(a.approvals[i].time, b.approvals[i].time);
  }
  EXPECT_EQ(a.enforced_by, b.enforced_by);
  EXPECT_EQ(a.enforced_at, b.enforced_at);
  EXPECT_EQ(a.enforced_seq, b.enforced_seq);
  EXPECT_EQ(a.state, b.state);
  EXPECT_EQ(a.lifted_by, b.lifted_by);
  EXPECT_EQ(a.lifted_at, b.lifted_at);
  EXPECT_EQ(a.lift_reason, b.lift_reason);
  EXPECT_EQ(a.artifact_count, b.artifact_count);
}

TEST(ConvertTest, WhyResultKeepsEveryField) {
  WhyResult in;
  in.artifact = kFooTarGz;
  in.known = true;
  in.check.digest = kFooTarGz;
  in.check.verdict = Verdict::kDeny;
  in.check.known = true;
  in.check.denied_by = {"rev-7"};
  in.check.advisories = {"rev-8"};
  in.check.advisory_only = true;
  in.check.warnings = {"w"};
  WhyReason reason;
  reason.revocation = SomeRevocation();
  reason.root = kFooPy;
  reason.denies = true;
  reason.chain.push_back(ChainHop{kFooPy,
                                  kFooTarGz,
                                  EdgeKind::kDerived,
                                  "att1",
                                  {"key:a", "key:b"},
                                  {Evidence(1), Evidence(2)},
                                  absl::FromUnixSeconds(99)});
  in.reasons.push_back(reason);
  in.ancestor_artifacts = 5;
  in.signers = {"key:a"};
  in.signer_evidence = {Evidence(3)};
  in.builders = {"builder:b"};
  in.materials = {kFooPy};
  in.attestations = {"att1", "att2"};

  capnp::MallocMessageBuilder message;
  auto builder = message.initRoot<schema::WhyResult>();
  FillWhy(builder, in);
  WhyResult out = ToWhy(builder.asReader());

  EXPECT_EQ(out.artifact, in.artifact);
  EXPECT_EQ(out.known, in.known);
  EXPECT_EQ(out.check.digest, in.check.digest);
  EXPECT_EQ(out.check.verdict, in.check.verdict);
  EXPECT_EQ(out.check.denied_by, in.check.denied_by);
  EXPECT_EQ(out.check.advisories, in.check.advisories);
  EXPECT_EQ(out.check.advisory_only, in.check.advisory_only);
  EXPECT_EQ(out.check.warnings, in.check.warnings);
  ASSERT_EQ(out.reasons.size(), 1u);
  ExpectSame(out.reasons[0].revocation, in.reasons[0].revocation);
  EXPECT_EQ(out.reasons[0].root, reason.root);
  EXPECT_EQ(out.reasons[0].denies, reason.denies);
  ASSERT_EQ(out.reasons[0].chain.size(), 1u);
  const ChainHop& hop = out.reasons[0].chain[0];
  EXPECT_EQ(hop.from, kFooPy);
  EXPECT_EQ(hop.to, kFooTarGz);
  EXPECT_EQ(hop.kind, EdgeKind::kDerived);
  EXPECT_EQ(hop.attestation, "att1");
  EXPECT_EQ(hop.signers, reason.chain[0].signers);
  ASSERT_EQ(hop.evidence.size(), 2u);
  ExpectSame(hop.evidence[1], Evidence(2));
  EXPECT_EQ(hop.time, absl::FromUnixSeconds(99));
  EXPECT_EQ(out.ancestor_artifacts, 5u);
  EXPECT_EQ(out.signers, in.signers);
  ASSERT_EQ(out.signer_evidence.size(), 1u);
  ExpectSame(out.signer_evidence[0], Evidence(3));
  EXPECT_EQ(out.builders, in.builders);
  EXPECT_EQ(out.materials, in.materials);
  EXPECT_EQ(out.attestations, in.attestations);
}

TEST(ConvertTest, NodeInfoKeepsEveryFieldAndEvidenceOnlyWhereThere) {
  NodeInfo in;
  in.ref = "key:keyless:iss|san";
  in.kind = NodeKind::kKey;
  in.aliases = {"key:abc"};
  EdgeInfo signed_edge{in.ref, kFooPy, EdgeKind::kSigned, "att1", absl::FromUnixSeconds(5)};
  signed_edge.evidence = Evidence(4);
  in.out_edges = {signed_edge,
                  EdgeInfo{in.ref, kFooTarGz, EdgeKind::kSigned, "att2", absl::InfinitePast()}};
  in.in_edges = {EdgeInfo{"builder:b", in.ref, EdgeKind::kBuilt, "att3", absl::FromUnixSeconds(6)}};

  capnp::MallocMessageBuilder message;
  auto builder = message.initRoot<schema::NodeInfo>();
  FillNode(builder, in);
  NodeInfo out = ToNode(builder.asReader());
  EXPECT_EQ(out.ref, in.ref);
  EXPECT_EQ(out.kind, NodeKind::kKey);
  EXPECT_EQ(out.aliases, in.aliases);
  ASSERT_EQ(out.out_edges.size(), 2u);
  ASSERT_TRUE(out.out_edges[0].evidence.has_value());
  ExpectSame(*out.out_edges[0].evidence, Evidence(4));
  EXPECT_FALSE(out.out_edges[1].evidence.has_value());
  EXPECT_EQ(out.out_edges[1].time, absl::InfinitePast());
  ASSERT_EQ(out.in_edges.size(), 1u);
  EXPECT_EQ(out.in_edges[0].from, "builder:b");
  EXPECT_EQ(out.in_edges[0].kind, EdgeKind::kBuilt);
  EXPECT_EQ(out.in_edges[0].attestation, "att3");
  EXPECT_EQ(out.in_edges[0].time, absl::FromUnixSeconds(6));
}

TEST(ConvertTest, PlanEnforceAndInventoryReportKeepEveryField) {
  Plan in;
  in.id = std::string(64, 'f');
  in.roots = {{"builder:b", absl::FromUnixSeconds(1), absl::InfiniteFuture()}};
  in.reason = "r";
  in.mode = RevocationMode::kAdvisory;
  in.created_by = "alice";
  in.created_at = absl::FromUnixSeconds(2);
  in.per_root = {RootSummary{"builder:b", NodeKind::kBuilder, true, 3, 4, 1}};
  in.artifact_count = 4;
  in.artifacts_by_depth = {1, 3};
  in.artifacts = {kFooPy};
  in.workload_count = 2;
  in.workloads = {"workload:c/n/k/w"};
  in.bulk = true;
  in.approvals = {{"bob", absl::FromUnixSeconds(3)}};
  in.state = PlanState::kEnforced;
  in.revocation = "rev-2";
  capnp::MallocMessageBuilder message;
  auto builder = message.initRoot<schema::PlanSummary>();
  FillPlan(builder, in);
  Plan out = ToPlan(builder.asReader());
  EXPECT_EQ(out.id, in.id);
  EXPECT_EQ(out.roots, in.roots);
  EXPECT_EQ(out.reason, in.reason);
  EXPECT_EQ(out.mode, in.mode);
  EXPECT_EQ(out.created_by, in.created_by);
  EXPECT_EQ(out.created_at, in.created_at);
  ASSERT_EQ(out.per_root.size(), 1u);
  EXPECT_EQ(out.per_root[0].ref, "builder:b");
  EXPECT_EQ(out.per_root[0].kind, NodeKind::kBuilder);
  EXPECT_TRUE(out.per_root[0].known);
  EXPECT_EQ(out.per_root[0].subjects, 3u);
  EXPECT_EQ(out.per_root[0].artifacts, 4u);
  EXPECT_EQ(out.per_root[0].shared, 1u);
  EXPECT_EQ(out.artifact_count, 4u);
  EXPECT_EQ(out.artifacts_by_depth, in.artifacts_by_depth);
  EXPECT_EQ(out.artifacts, in.artifacts);
  EXPECT_EQ(out.workload_count, 2u);
  EXPECT_EQ(out.workloads, in.workloads);
  EXPECT_TRUE(out.bulk);
  ASSERT_EQ(out.approvals.size(), 1u);
  EXPECT_EQ(out.approvals[0].principal, "bob");
  EXPECT_EQ(out.approvals[0].time, absl::FromUnixSeconds(3));
  EXPECT_EQ(out.state, PlanState::kEnforced);
  EXPECT_EQ(out.revocation, "rev-2");

  EnforceResult done;
  done.enforced = true;
  done.change = ClosureChange{2, 1, {"sha256:a"}, {"sha256:b"}, 3, 4};
  done.revocation = SomeRevocation();
  done.newly_denied = 5;
  done.deny_seq = 6;
  done.workloads = {"workload:c/n/k/w"};
  done.duration = absl::Microseconds(1234);
  capnp::MallocMessageBuilder message2;
  auto enforce = message2.initRoot<schema::EnforceOutcome>();
  FillEnforce(enforce, done);
  EnforceResult back = ToEnforce(enforce.asReader());
  EXPECT_TRUE(back.enforced);
  EXPECT_EQ(back.change.added, 2u);
  EXPECT_EQ(back.change.removed, 1u);
  EXPECT_EQ(back.change.added_sample, done.change.added_sample);
  EXPECT_EQ(back.change.removed_sample, done.change.removed_sample);
  EXPECT_EQ(back.change.workloads_added, 3u);
  EXPECT_EQ(back.change.workloads_removed, 4u);
  ExpectSame(back.revocation, done.revocation);
  EXPECT_EQ(back.newly_denied, 5u);
  EXPECT_EQ(back.deny_seq, 6u);
  EXPECT_EQ(back.workloads, done.workloads);
  EXPECT_EQ(back.duration, done.duration);

  // The server lists only what fits; the count says how many there are.
  done.workloads = {"workload:c/n/k/w1", "workload:c/n/k/w2", "workload:c/n/k/w3"};
  capnp::MallocMessageBuilder message4;
  auto first_part = message4.initRoot<schema::EnforceOutcome>();
  FillEnforce(first_part, done, 2);
  EXPECT_EQ(first_part.getWorkloadCount(), 3u);
  EXPECT_THAT(ToEnforce(first_part.asReader()).workloads,
              ElementsAre("workload:c/n/k/w1", "workload:c/n/k/w2"));

  ingest::InventoryReport report;
  report.error = "";
  report.warnings = {"w1"};
  report.cluster = "prod";
  report.id = std::string(64, 'i');
  report.format = ingest::InventoryFormat::kList;
  report.pods = 7;
  report.workloads = 3;
  report.images = 2;
  report.outcome = InventoryOutcome{false, true, std::string(64, 'o'), 8, 9};
  capnp::MallocMessageBuilder message3;
  auto verdict = message3.initRoot<schema::InventoryVerdict>();
  FillInventoryReport(verdict, report);
  ingest::InventoryReport r = ToInventoryReport(verdict.asReader());
  EXPECT_EQ(r.warnings, report.warnings);
  EXPECT_EQ(r.cluster, "prod");
  EXPECT_EQ(r.id, report.id);
  EXPECT_EQ(r.format, ingest::InventoryFormat::kList);
  EXPECT_EQ(r.pods, 7u);
  EXPECT_EQ(r.workloads, 3u);
  EXPECT_EQ(r.images, 2u);
  EXPECT_TRUE(r.outcome.stale);
  EXPECT_EQ(r.outcome.replaced, report.outcome.replaced);
  EXPECT_EQ(r.outcome.new_nodes, 8u);
  EXPECT_EQ(r.outcome.new_edges, 9u);
}

TEST(ConvertTest, AuditEntrySettingsAndVerificationKeepEveryField) {
  AuditEntry in{7,
                absl::FromUnixMicros(1700000000123456),
                "alice",
                "enforce",
                "rev-3",
                std::string(64, 'e'),
                std::string(64, 'p'),
                std::string(64, 'h')};
  capnp::MallocMessageBuilder message;
  auto entry = message.initRoot<schema::AuditEntry>();
  FillAuditEntry(entry, in);
  AuditEntry out = ToAuditEntry(entry.asReader());
  EXPECT_EQ(out.seq, 7u);
  EXPECT_EQ(out.time, in.time);
  EXPECT_EQ(out.actor, "alice");
  EXPECT_EQ(out.action, "enforce");
  EXPECT_EQ(out.subject, "rev-3");
  EXPECT_EQ(out.evidence_hash, in.evidence_hash);
  EXPECT_EQ(out.prev_hash, in.prev_hash);
  EXPECT_EQ(out.hash, in.hash);

  capnp::MallocMessageBuilder message2;
  auto settings = message2.initRoot<schema::RevocationSettings>();
  FillSettings(settings, RevocationSettings{true, 42});
  RevocationSettings back = ToSettings(settings.asReader());
  EXPECT_TRUE(back.advisory_only);
  EXPECT_EQ(back.bulk_threshold, 42u);

  AuditVerification v{false, 9, std::string(64, 'a'), {"entry 2: edited", "entry 5: missing"}};
  capnp::MallocMessageBuilder message3;
  auto all = message3.initRoot<schema::Reader::VerifyAuditResults>();
  FillAuditVerification(all, v, 2);
  AuditVerification whole = ToAuditVerification(all.asReader());
  EXPECT_FALSE(whole.ok);
  EXPECT_EQ(whole.entries, 9u);
  EXPECT_EQ(whole.head_hash, v.head_hash);
  EXPECT_EQ(whole.problems, v.problems);
  // Problems left out of the answer are counted in one last line.
  capnp::MallocMessageBuilder message4;
  auto cut = message4.initRoot<schema::Reader::VerifyAuditResults>();
  FillAuditVerification(cut, v, 1);
  AuditVerification part = ToAuditVerification(cut.asReader());
  ASSERT_EQ(part.problems.size(), 2u);
  EXPECT_EQ(part.problems[0], "entry 2: edited");
  EXPECT_THAT(part.problems[1], HasSubstr("and 1 more problems, left out of the RPC answer"));
}

TEST(ConvertTest, WorkloadsKeyUsageAndEdgeKindsKeepEveryField) {
  ClusterInventory in{"prod",
                      std::string(64, 'i'),
                      absl::FromUnixSeconds(1700000000),
                      {{"workload:prod/shop/Deployment/web", {kFooPy, kFooTarGz}},
                       {"workload:prod/shop/Pod/empty", {}}}};
  capnp::MallocMessageBuilder message;
  auto builder = message.initRoot<schema::ClusterWorkloads>();
  FillClusterWorkloads(builder, in);
  ClusterInventory out = ToClusterInventory(builder.asReader());
  EXPECT_EQ(out.cluster, in.cluster);
  EXPECT_EQ(out.inventory, in.inventory);
  EXPECT_EQ(out.time, in.time);
  ASSERT_EQ(out.workloads.size(), 2u);
  for (size_t i = 0; i < 2; ++i) {
    EXPECT_EQ(out.workloads[i].ref, in.workloads[i].ref);
    EXPECT_EQ(out.workloads[i].images, in.workloads[i].images);
  }

  KeyUsageReport report;
  report.rotation_age = absl::Hours(24 * 30);
  report.signers = {SignerUsage{"key:sha256:" + std::string(64, 'a'), false, 3,
                                absl::FromUnixSeconds(10), absl::FromUnixSeconds(20), true},
                    SignerUsage{"key:keyless:iss|san", true, 1, absl::InfinitePast(),
                                absl::InfinitePast(), false}};
  report.signed_attestations = 4;
  report.keyless_attestations = 1;
  report.long_lived_attestations = 3;
  capnp::MallocMessageBuilder message2;
  auto results = message2.initRoot<schema::Reader::KeyUsageResults>();
  FillKeyUsage(results, report);
  KeyUsageReport back = ToKeyUsage(results.asReader(), report.rotation_age);
  EXPECT_EQ(back.rotation_age, report.rotation_age);
  ASSERT_EQ(back.signers.size(), 2u);
  for (size_t i = 0; i < 2; ++i) {
    EXPECT_EQ(back.signers[i].key, report.signers[i].key);
    EXPECT_EQ(back.signers[i].keyless, report.signers[i].keyless);
    EXPECT_EQ(back.signers[i].attestations, report.signers[i].attestations);
    EXPECT_EQ(back.signers[i].first_signed, report.signers[i].first_signed);
    EXPECT_EQ(back.signers[i].last_signed, report.signers[i].last_signed);
    EXPECT_EQ(back.signers[i].beyond_rotation_age, report.signers[i].beyond_rotation_age);
  }
  EXPECT_EQ(back.signed_attestations, 4u);
  EXPECT_EQ(back.keyless_attestations, 1u);
  EXPECT_EQ(back.long_lived_attestations, 3u);

  // Every kind travels as no names (an older client's meaning); a subset
  // as its names.
  for (EdgeKindMask mask : {EdgeKindMask::All(), EdgeKindMask::Of(EdgeKind::kSigned),
                            EdgeKindMask::Of(EdgeKind::kDerived).Add(EdgeKind::kRuns)}) {
    capnp::MallocMessageBuilder message3;
    auto params = message3.initRoot<schema::Reader::DescendantsParams>();
    std::vector<EdgeKind> kinds = EdgeKindsOf(mask);
    FillEdgeKinds(params.initKinds(kinds.size()), kinds);
    absl::StatusOr<EdgeKindMask> parsed = ToEdgeKindMask(params.asReader().getKinds());
    ASSERT_TRUE(parsed.ok()) << parsed.status();
    EXPECT_EQ(parsed->bits(), mask.bits());
  }
  EXPECT_TRUE(EdgeKindsOf(EdgeKindMask::All()).empty());
}

// ---- The client's stale-subscription check, the drain on SIGTERM ----

// A TCP relay on 127.0.0.1:0 between one client and the daemon, to play a
// daemon whose push stopped while it goes on answering calls: every Cap'n
// Proto message from the daemon is read whole and forwarded, except
// DenyListSubscriber.deltas calls once DropPushes() is on (the daemon then
// waits forever for their answer, as it would for a push lost on its side).
class PushDroppingRelay {
 public:
  explicit PushDroppingRelay(unsigned daemon_port) : daemon_port_(daemon_port) {
    listen_fd_ = socket(AF_INET, SOCK_STREAM, 0);
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    socklen_t len = sizeof(addr);
    EXPECT_EQ(bind(listen_fd_, reinterpret_cast<sockaddr*>(&addr), len), 0);
    EXPECT_EQ(listen(listen_fd_, 1), 0);
    EXPECT_EQ(getsockname(listen_fd_, reinterpret_cast<sockaddr*>(&addr), &len), 0);
    port_ = ntohs(addr.sin_port);
    accept_ = std::thread([this] { Serve(); });
  }
  ~PushDroppingRelay() {
    stopping_ = true;
    ::shutdown(listen_fd_, SHUT_RDWR);
    for (int fd : {client_fd_.load(), daemon_fd_.load()})
      if (fd >= 0) ::shutdown(fd, SHUT_RDWR);
    accept_.join();
    for (std::thread& t : pumps_)
      t.join();
    for (int fd : {listen_fd_, client_fd_.load(), daemon_fd_.load()})
      if (fd >= 0) close(fd);
  }

  unsigned port() const { return port_; }
  void DropPushes() { drop_ = true; }
  int dropped() const { return dropped_; }

 private:
  void Serve() {
    int client = accept(listen_fd_, nullptr, nullptr);
    if (client < 0 || stopping_) return;
    int daemon = socket(AF_INET, SOCK_STREAM, 0);
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    addr.sin_port = htons(daemon_port_);
    if (connect(daemon, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) != 0) {
      close(daemon);
      close(client);
      return;
    }
    client_fd_ = client;
    daemon_fd_ = daemon;
    pumps_.emplace_back([client, daemon] { Copy(client, daemon); });
    pumps_.emplace_back([this, client, daemon] { Messages(daemon, client); });
  }

  static bool ReadFull(int fd, void* buffer, size_t n) {
    auto* p = static_cast<char*>(buffer);
    while (n > 0) {
      ssize_t got = read(fd, p, n);
      if (got <= 0) return false;
      p += got;
      n -= static_cast<size_t>(got);
    }
    return true;
  }
  static bool WriteFull(int fd, const void* buffer, size_t n) {
    const auto* p = static_cast<const char*>(buffer);
    while (n > 0) {
      ssize_t put = write(fd, p, n);
      if (put <= 0) return false;
      p += put;
      n -= static_cast<size_t>(put);
    }
    return true;
  }

  static void Copy(int from, int to) {
    char buffer[65536];
    for (;;) {
      ssize_t got = read(from, buffer, sizeof(buffer));
      if (got <= 0 || !WriteFull(to, buffer, static_cast<size_t>(got))) break;
    }
    ::shutdown(to, SHUT_WR);
  }

  // Stream framing: a segment count minus one (u32), the segment sizes in
  // words (u32 each), padding to a word, then the segments.
  void Messages(int from, int to) {
    for (;;) {
      uint32_t count_minus_one = 0;
      if (!ReadFull(from, &count_minus_one, 4) || count_minus_one > 512) break;
      uint32_t count = count_minus_one + 1;
      std::vector<uint32_t> sizes(count + (count % 2 == 0 ? 1 : 0));  // + the padding
      if (!ReadFull(from, sizes.data(), sizes.size() * 4)) break;
      size_t words = 0;
      for (uint32_t i = 0; i < count; ++i)
        words += sizes[i];
      std::vector<capnp::word> data(words);
      if (!ReadFull(from, data.data(), words * sizeof(capnp::word))) break;
      std::vector<kj::ArrayPtr<const capnp::word>> segments;
      size_t at = 0;
      for (uint32_t i = 0; i < count; ++i) {
        segments.push_back(kj::arrayPtr(data.data() + at, sizes[i]));
        at += sizes[i];
      }
      capnp::SegmentArrayMessageReader reader(kj::arrayPtr(segments.data(), segments.size()));
      auto message = reader.getRoot<capnp::rpc::Message>();
      if (drop_ && message.isCall() &&
          message.getCall().getInterfaceId() == capnp::typeId<schema::DenyListSubscriber>() &&
          message.getCall().getMethodId() == 0) {
        dropped_++;
        continue;
      }
      if (!WriteFull(to, &count_minus_one, 4) || !WriteFull(to, sizes.data(), sizes.size() * 4) ||
          !WriteFull(to, data.data(), words * sizeof(capnp::word))) {
        break;
      }
    }
    ::shutdown(to, SHUT_WR);
  }

  unsigned daemon_port_;
  unsigned port_ = 0;
  int listen_fd_ = -1;
  std::atomic<int> client_fd_{-1};
  std::atomic<int> daemon_fd_{-1};
  std::atomic<bool> drop_{false};
  std::atomic<bool> stopping_{false};
  std::atomic<int> dropped_{0};
  std::thread accept_;
  std::vector<std::thread> pumps_;  // started by accept_, joined after it
};

// The fix: a daemon that answers every call but whose push to this gate
// stopped (here the relay drops it; in the daemon, a push that never
// completes) looked like a quiet deny list forever, since the heartbeat's
// probe was answered. Now the client compares the daemon's head with the
// last delta it received: two heartbeats behind with nothing arriving ends
// the subscription (Aborted), so that the gate takes a snapshot.
TEST_F(RpcTest, ClientSubscriptionEndsWhenPushesStopWhileTheDaemonAnswers) {
  PushDroppingRelay relay(daemon_->port());
  std::atomic<uint64_t> applied{0};
  absl::Status result = absl::UnknownError("the client thread did not run");
  absl::Duration after_drop = absl::ZeroDuration();
  std::atomic<bool> dropping{false};
  std::thread client([&] {
    ClientOptions options;
    options.address = fmt::format("127.0.0.1:{}", relay.port());
    options.token = Token(Role::kGate);
    options.timeout = absl::Seconds(5);
    absl::StatusOr<std::unique_ptr<Client>> c = Client::Connect(options);
    if (!c.ok()) {
      result = c.status();
      return;
    }
    SubscribeCallbacks callbacks;
    callbacks.on_deltas = [&](const std::vector<DenyDelta>& deltas) {
      applied = deltas.back().seq;
      return true;
    };
    absl::Time start = absl::Now();
    absl::Time dropped_at = absl::InfiniteFuture();
    // The test's own bound: without the check, Subscribe never returns.
    callbacks.should_stop = [&] {
      if (dropping && dropped_at == absl::InfiniteFuture()) dropped_at = absl::Now();
      return absl::Now() - start > absl::Seconds(15);
    };
    result = (*c)->Subscribe(0, callbacks, absl::Milliseconds(200));
    after_drop = absl::Now() - dropped_at;
  });

  schema::Lineage::Client lineage = Connect();
  schema::Responder::Client responder = Login(lineage, Token(Role::kResponder)).getResponder();
  RevokeDigest(responder, Digest(1));
  bool got_first = WaitFor([&] { return applied.load() == 1; });
  EXPECT_TRUE(got_first) << "the first push did not arrive through the relay";
  relay.DropPushes();
  dropping = true;
  RevokeDigest(responder, Digest(2));
  client.join();

  EXPECT_EQ(result.code(), absl::StatusCode::kAborted) << result;
  EXPECT_THAT(std::string(result.message()), HasSubstr("pushes stopped at 1"));
  EXPECT_GE(relay.dropped(), 1);
  EXPECT_EQ(applied.load(), 1u);
  // Within a few heartbeats of the dropped push, not at the test's bound.
  EXPECT_LT(after_drop, absl::Seconds(5));
}

// The fix: the store calls the deny-list listener on the writer thread while
// holding its listener lock, and the listener used to wait (executeSync) for
// the event loop to publish; on SIGTERM the loop takes that lock to clear
// the listener, so a drain with enforcements in flight could hang for good.
// Now the listener only wakes the loop. Many enforcements are in flight
// (each changes the deny list) and a gate is subscribed when SIGTERM
// arrives: the daemon must exit 0 within the bound, every call must be
// answered or failed (none left hanging), and the gate told to resync.
TEST_F(RpcTest, SigtermDrainsWithEnforcementsInFlightAndASubscriber) {
  // The hang needs SIGTERM to land while the writer waits in the listener:
  // each round is one more chance, and the event loop is kept busy with
  // batched checks so that the writer waits for it longer. With the old
  // listener put back, one run in three of a single round without the
  // batches hung; with these four rounds, three runs of three did.
  constexpr int kRounds = 4;
  constexpr int kPlans = 200;
  constexpr int kBatches = 8;
  for (int round = 0; round < kRounds; ++round) {
    SCOPED_TRACE(fmt::format("round {}", round));
    if (round > 0) daemon_->Start();
    schema::Lineage::Client lineage = Connect();
    schema::Responder::Client responder = Login(lineage, Token(Role::kResponder)).getResponder();
    schema::Gate::Client gate = Login(lineage, Token(Role::kGate)).getGate();
    auto head = gate.denyListSinceRequest();
    head.setAfterSeq(std::numeric_limits<uint64_t>::max() - 1);
    head.setMaxDeltas(1);
    uint64_t head_seq = head.send().wait(io_.waitScope).getHeadSeq();
    RecordingSubscriber::Seen seen;
    auto subscribe = gate.subscribeRequest();
    subscribe.setAfterSeq(head_seq);
    subscribe.setSubscriber(kj::heap<RecordingSubscriber>(&seen));
    auto subscription = subscribe.send().wait(io_.waitScope);
    ASSERT_EQ(subscription.getStatus().getCode(), 0u);

    std::vector<std::string> plans;
    for (int i = 0; i < kPlans; ++i) {
      auto plan = responder.planRequest();
      auto roots = plan.initRoots(1);
      roots[0].setRef(Text(Digest(5000 + round * kPlans + i)));
      roots[0].setSinceMicros(std::numeric_limits<int64_t>::min());
      roots[0].setUntilMicros(std::numeric_limits<int64_t>::max());
      plan.setReason("drain");
      auto planned = plan.send().wait(io_.waitScope);
      ASSERT_EQ(planned.getStatus().getCode(), 0u) << View(planned.getStatus().getMessage());
      plans.emplace_back(View(planned.getPlan().getId()));
    }

    int answered = 0, failed = 0;
    kj::Vector<kj::Promise<void>> calls;
    auto count = [&](auto&& promise) {
      calls.add(
          promise
              .then([&answered](auto&&) { answered++; }, [&failed](kj::Exception&&) { failed++; })
              .eagerlyEvaluate(nullptr));
    };
    for (const std::string& id : plans) {
      auto enforce = responder.enforceRequest();
      enforce.setPlanId(Text(id));
      count(enforce.send());
    }
    for (int b = 0; b < kBatches; ++b) {
      auto batch = gate.checkBatchRequest();
      auto digests = batch.initDigests(10000);
      for (uint32_t i = 0; i < 10000; ++i)
        digests.set(i, Text(Digest(100000 + i)));
      count(batch.send());
    }
    // SIGTERM while the writer works through them and the gate is pushed to.
    ASSERT_TRUE(WaitFor([&] { return seen.seqs.size() >= 5; }));
    std::atomic<int> exit_status{-100};
    std::thread stopper([&] { exit_status = daemon_->Stop(std::chrono::seconds(15)); });
    bool exited = WaitFor([&] { return exit_status.load() != -100; }, 20000);
    stopper.join();
    EXPECT_TRUE(exited);
    ASSERT_EQ(exit_status.load(), 0) << "-2: it did not exit within 15 s and was killed";

    // Every call settled: none waits for an answer that will never come.
    bool settled = WaitFor([&] { return answered + failed == kPlans + kBatches; });
    EXPECT_TRUE(settled) << answered << " answered, " << failed << " failed";
    EXPECT_GT(answered, 0);
    EXPECT_EQ(seen.resyncs, 1);
    EXPECT_THAT(seen.resync_reason, HasSubstr("shutting down"));
    // What was pushed arrived in order, without gaps.
    for (size_t i = 0; i < seen.seqs.size(); ++i)
      EXPECT_EQ(seen.seqs[i], head_seq + i + 1);
    conn_.reset();
  }
}

// A restart that reuses its log (the SLO bench does) must learn the new
// daemon's port, not the one an earlier daemon wrote there.
TEST(DaemonProcessTest, AReusedLogNeverYieldsTheOldPort) {
  std::string dir = testing::MakeTempDir("lineage-daemon-log-");
  std::string log = dir + "/lineaged.log";
  {
    std::ofstream stale(log);
    stale << "lineaged: listening on 127.0.0.1:1\n";
  }
  testing::LineagedProcess daemon;
  absl::Status started =
      daemon.Start({LINEAGED_PATH, "--db", dir + "/db", "--listen", "127.0.0.1:0"}, log,
                   std::chrono::seconds(30));
  ASSERT_TRUE(started.ok()) << started.message();
  EXPECT_NE(daemon.port(), 1u);
  EXPECT_EQ(daemon.Stop(std::chrono::seconds(20)), 0);
  fs::remove_all(dir);
}

TEST(ConvertTest, EvidenceRecordKeepsEveryField) {
  EvidenceRecord in;
  in.seq = 4;
  in.action = "enforce";
  in.actor = "dave";
  in.time = absl::FromUnixSeconds(1700000100);
  in.plan_id = std::string(64, 'p');
  in.revocation = "rev-3";
  in.roots = {{"key:sha256:aa", absl::FromUnixSeconds(10), absl::InfiniteFuture()},
              {kFooPy, absl::InfinitePast(), absl::InfiniteFuture()}};
  in.reason = "INC-4";
  in.mode = RevocationMode::kAdvisory;
  in.artifacts = {kFooPy, kFooTarGz};
  in.workloads = {"workload:c/n/k/w"};
  in.duration = absl::Microseconds(987);
  in.deny_seq = 11;
  in.details = "3 newly denied";
  capnp::MallocMessageBuilder message;
  auto builder = message.initRoot<schema::EvidenceRecord>();
  FillEvidenceRecord(builder, in);
  EXPECT_FALSE(builder.getContinued());
  ExpectSame(ToEvidenceRecord(builder.asReader()), in);
}

}  // namespace
}  // namespace lineage::rpc
