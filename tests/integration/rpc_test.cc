// Integration tests: a real lineaged process on loopback (port 0), real
// RocksDB, real sample attestations, and a Cap'n Proto client in the test.
// Every wait is bounded.
#include <fcntl.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <filesystem>
#include <fstream>
#include <functional>
#include <regex>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include <capnp/rpc-twoparty.h>
#include <fmt/format.h>
#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <kj/async-io.h>
#include <kj/compat/tls.h>

#include "rpc/include/lineage/rpc/credentials.h"
#include "rpc/src/convert.h"
#include "schemas/lineage.capnp.h"
#include "tests/integration/daemon_process.h"

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
  int Stop() { return process_.Stop(); }
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
    std::vector<std::string> added;
    int resyncs = 0;
    std::string resync_reason;
    kj::Own<kj::PromiseFulfiller<void>> hold;
    bool hold_first = false;
  };
  explicit RecordingSubscriber(Seen* seen) : seen_(seen) {}

  kj::Promise<void> deltas(DeltasContext context) override {
    for (auto d : context.getParams().getDeltas()) {
      seen_->seqs.push_back(d.getSeq());
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

class RpcTest : public ::testing::Test {
 protected:
  void SetUp() override {
    char pattern[] = "/tmp/lineage-rpc-XXXXXX";
    ASSERT_NE(mkdtemp(pattern), nullptr);
    dir_ = pattern;
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

  void IngestSamples(schema::Ingest::Client& ingest) {
    auto request = ingest.ingestRequest();
    std::vector<std::string> files;
    for (const auto& e : fs::directory_iterator(kSamples + "/attestations"))
      files.push_back(e.path().string());
    std::vector<std::string> contents;
    for (const std::string& f : files)
      contents.push_back(ReadAll(f));
    auto docs = request.initDocuments(files.size());
    for (size_t i = 0; i < files.size(); ++i) {
      docs[i].setName(Text(files[i]));
      docs[i].setContent(capnp::Data::Reader(reinterpret_cast<const kj::byte*>(contents[i].data()),
                                             contents[i].size()));
    }
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
  auto subscribe = gate.subscribeRequest();
  subscribe.setAfterSeq(0);
  subscribe.setSubscriber(kj::heap<RecordingSubscriber>(&seen));
  auto subscription = subscribe.send().wait(io_.waitScope);
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
  auto subscribe = gate.subscribeRequest();
  subscribe.setAfterSeq(2);
  subscribe.setSubscriber(kj::heap<RecordingSubscriber>(&seen));
  auto subscription = subscribe.send().wait(io_.waitScope);
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
    auto subscribe = gate.subscribeRequest();
    subscribe.setAfterSeq(0);
    subscribe.setSubscriber(kj::heap<RecordingSubscriber>(&seen));
    auto subscription = subscribe.send().wait(io_.waitScope);
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
  auto subscribe = gate.subscribeRequest();
  subscribe.setAfterSeq(1);
  subscribe.setSubscriber(kj::heap<RecordingSubscriber>(&seen));
  auto subscription = subscribe.send().wait(io_.waitScope);
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
  auto subscribe = gate.subscribeRequest();
  subscribe.setAfterSeq(0);
  subscribe.setSubscriber(kj::heap<RecordingSubscriber>(&seen));
  auto subscription = subscribe.send().wait(io_.waitScope);
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

// A CA, a server certificate for localhost and a client certificate, made
// with the openssl command line.
void MakeCertificates(const std::string& dir) {
  std::string script = fmt::format(
      "cd {} && set -e && "
      "openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -keyout ca.key "
      "-out ca.pem -days 1 -subj /CN=lineage-test-ca 2>/dev/null && "
      "printf 'subjectAltName=DNS:localhost\\n' > san.ext && "
      "for who in server client; do "
      "openssl req -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -keyout $who.key "
      "-out $who.csr -subj /CN=localhost 2>/dev/null && "
      "openssl x509 -req -in $who.csr -CA ca.pem -CAkey ca.key -CAcreateserial -out $who.pem "
      "-days 1 -extfile san.ext 2>/dev/null; done",
      dir);
  ASSERT_EQ(system(script.c_str()), 0);
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
  auto backup = admin.backupRequest();
  backup.setDir(Text(dir_ + "/backup"));
  ASSERT_EQ(backup.send().wait(io_.waitScope).getStatus().getCode(), 0u);
  EXPECT_TRUE(fs::exists(dir_ + "/backup/CURRENT"));

  // The file holds hashes only.
  EXPECT_EQ(ReadAll(dir_ + "/db/credentials").find(token), std::string::npos);
}

}  // namespace
}  // namespace lineage::rpc
