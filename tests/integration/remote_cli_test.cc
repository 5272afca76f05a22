// Integration tests of the remote CLI: the real `lineage` binary with
// --server against a real lineaged on loopback, compared with the embedded
// CLI on the same database; `admin token`; and `gate watch` following
// revocations, lifts, a lost daemon and a restarted one. Every wait is
// bounded.
#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <filesystem>
#include <fstream>
#include <functional>
#include <map>
#include <optional>
#include <regex>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include <fmt/format.h>
#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <rocksdb/db.h>

#include "rpc/include/lineage/rpc/client.h"
#include "tests/cli/subprocess.h"
#include "tests/integration/daemon_process.h"
#include "tests/support/child_process.h"
#include "tests/support/tls_certificates.h"

namespace lineage {
namespace {

namespace fs = std::filesystem;
using ::lineage::testing::ProcessResult;
using ::lineage::testing::ReadAll;
using ::lineage::testing::RunProcess;
using ::testing::HasSubstr;
using ::testing::Not;

const std::string kSamples = std::string(LINEAGE_SOURCE_DIR) + "/samples";
constexpr char kFooPy[] = "sha256:74dc3727c6e89308b39e4dfedf787e37841198b1fa165a27c013544a60502549";
constexpr char kFooTarGz[] =
    "sha256:52947cb78b91ad01fe81cd6aef42d1f6817e92b9e6936c1e5aabb7c98514f355";

std::string Digest(int n) {
  return fmt::format("sha256:{:064x}", 0xfeed000 + n);
}

// A port that was free a moment ago, for a daemon that must come back on
// the same address.
unsigned FreePort() {
  int fd = socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in addr = {};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  addr.sin_port = 0;
  EXPECT_EQ(bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)), 0);
  socklen_t len = sizeof(addr);
  getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &len);
  close(fd);
  return ntohs(addr.sin_port);
}

// A child process whose stderr goes to a file (stdout: /dev/null).
class Child {
 public:
  ~Child() { Kill(); }

  void Start(const std::vector<std::string>& args, const std::string& log,
             const std::vector<std::string>& env = {}) {
    log_ = log;
    pid_ = testing::SpawnChild(args, {.stdout_path = "", .stderr_path = log, .env = env});
    ASSERT_GE(pid_, 0);
  }

  // The exit status if the child ended within `millis`, else nullopt.
  std::optional<int> WaitExit(int millis) {
    auto deadline = std::chrono::steady_clock::now() + std::chrono::milliseconds(millis);
    while (pid_ > 0) {
      int status = 0;
      if (waitpid(pid_, &status, WNOHANG) == pid_) {
        pid_ = -1;
        code_ = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
        break;
      }
      if (std::chrono::steady_clock::now() > deadline) return std::nullopt;
      std::this_thread::sleep_for(std::chrono::milliseconds(10));
    }
    return code_;
  }

  void Signal(int sig) {
    if (pid_ > 0) kill(pid_, sig);
  }

  void Kill() {
    if (pid_ <= 0) return;
    kill(pid_, SIGKILL);
    waitpid(pid_, nullptr, 0);
    pid_ = -1;
  }

  bool running() const { return pid_ > 0; }
  std::string log() const { return ReadAll(log_); }

 private:
  std::string log_;
  pid_t pid_ = -1;
  int code_ = -1;
};

// Polls `done` every 20 ms for at most `millis`.
bool WaitFor(const std::function<bool()>& done, int millis) {
  auto deadline = std::chrono::steady_clock::now() + std::chrono::milliseconds(millis);
  while (std::chrono::steady_clock::now() < deadline) {
    if (done()) return true;
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  return done();
}

class RemoteCliTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = lineage::testing::MakeTempDir("lineage-remote-cli");
    db_ = dir_ + "/db";
    ProcessResult ingest = Embedded(
        {"ingest", "-q", "--policy", kSamples + "/policy.json", kSamples + "/attestations"});
    ASSERT_EQ(ingest.exit_code, 0) << ingest.err;
    for (const char* role : {"gate", "ingest", "reader", "responder", "approver", "admin"}) {
      ProcessResult created =
          Embedded({"admin", "token", "create", "--role", role, "--name", role});
      ASSERT_EQ(created.exit_code, 0) << created.err;
      tokens_[role] = created.out.substr(0, created.out.find('\n'));
    }
  }

  void TearDown() override {
    daemon_.Kill();
    if (!HasFailure()) fs::remove_all(dir_);
  }

  ProcessResult Embedded(std::vector<std::string> args) {
    args.insert(args.begin(), {LINEAGE_CLI_PATH, "--db", db_});
    return RunProcess(args);
  }

  ProcessResult Remote(const std::string& role, std::vector<std::string> args,
                       std::vector<std::string> env = {}) {
    args.insert(args.begin(), {LINEAGE_CLI_PATH, "--server", fmt::format("{}:{}", host_, port_)});
    env.push_back("LINEAGE_TOKEN=" + tokens_[role]);
    return RunProcess(args, "", env);
  }

  // Starts lineaged on `port` (0: any); fails the test unless it listens
  // within 20 s.
  void StartDaemon(unsigned port = 0, std::vector<std::string> extra = {}) {
    std::string log = fmt::format("{}/lineaged-{}.log", dir_, starts_++);
    std::vector<std::string> args = {LINEAGED_PATH, "--db", db_, "--listen",
                                     fmt::format("127.0.0.1:{}", port)};
    args.insert(args.end(), extra.begin(), extra.end());
    daemon_.Start(args, log, std::chrono::seconds(20));
    port_ = daemon_.port();
  }

  // SIGTERM; the exit code, or -2 if it had to be killed after 10 s.
  int StopDaemon() { return daemon_.Stop(std::chrono::seconds(10)); }

  std::string dir_;
  std::string db_;
  std::map<std::string, std::string> tokens_;
  testing::DaemonProcess daemon_;
  std::string host_ = "127.0.0.1";
  unsigned port_ = 0;
  int starts_ = 0;
};

// The export carries the time it was written; everything else must match.
std::string WithoutGeneratedAt(const std::string& text) {
  return std::regex_replace(text, std::regex("\"generated_at\":\"[^\"]*\""), "\"generated_at\":T");
}

// What differs by design between the modes: the printed next steps name
// where they run ("lineage --db DIR" or "lineage --server HOST:PORT"), and
// the size on disk of a database a daemon has open (unflushed memtables)
// is not that of the same database closed.
std::string Comparable(const std::string& text, const std::string& db) {
  std::string out = WithoutGeneratedAt(text);
  out = std::regex_replace(out, std::regex("lineage --server [0-9.]+:[0-9]+"), "lineage <at>");
  out = std::regex_replace(out, std::regex("lineage --db " + db), "lineage <at>");
  out = std::regex_replace(out, std::regex("\"db_bytes\":[0-9]+"), "\"db_bytes\":N");
  return std::regex_replace(out, std::regex("size on disk  [0-9.]+ MiB"), "size on disk  N");
}

TEST_F(RemoteCliTest, RemoteOutputEqualsEmbeddedOutputOnTheSameDatabase) {
  StartDaemon();
  ProcessResult revoked = Remote("responder", {"revoke", "--digest", kFooPy, "--reason",
                                               "INC-7 compromised", "--as", "responder"});
  ASSERT_EQ(revoked.exit_code, 0) << revoked.err;
  EXPECT_THAT(revoked.out, HasSubstr("enforced   rev-1"));
  std::smatch plan;
  ASSERT_TRUE(std::regex_search(revoked.out, plan, std::regex("\\(plan ([0-9a-f]{64})\\)")))
      << revoked.out;
  // A second, pending plan, so that plan list has more than one row.
  ProcessResult planned = Remote(
      "responder", {"revoke", "--builder", "https://cloudbuild.googleapis.com/GoogleHostedWorker",
                    "--reason", "builder review", "--dry-run", "--as", "responder"});
  ASSERT_EQ(planned.exit_code, 0) << planned.err;
  std::smatch pending;
  ASSERT_TRUE(std::regex_search(planned.out, pending, std::regex("plan       ([0-9a-f]{64})")));

  // Each command as a list of arguments, run remotely now and embedded later.
  struct Case {
    std::string role;
    std::vector<std::string> args;
  };
  std::vector<Case> cases = {
      {"gate", {"check", kFooPy + std::string("0")}},  // malformed: usage error
      {"gate", {"check", Digest(1)}},                  // unknown: ALLOW with a warning
      {"gate", {"check", "--unknown", "deny", Digest(1)}},
      {"gate", {"--json", "check", Digest(1)}},
      {"gate", {"check", kFooTarGz}},  // DENY, naming the revocation and its reason
      {"gate", {"check", kFooTarGz, "--json"}},
      {"gate", {"deny-list"}},
      {"gate", {"deny-list", "--json"}},
      {"gate", {"deny-list", "--since", "1"}},
      {"gate", {"deny-list", "export", "--format", "json"}},
      {"gate", {"deny-list", "export", "--format", "opa"}},
      {"gate", {"why", kFooTarGz}},
      {"gate", {"why", kFooTarGz, "--json"}},
      {"gate", {"why", kFooTarGz, "--dot"}},
      {"gate", {"why", kFooPy}},      // the root itself
      {"gate", {"why", Digest(1)}},   // unknown
      {"gate", {"why", "key:nope"}},  // not a digest: usage error
      {"reader", {"descendants", kFooPy}},
      {"reader", {"descendants", kFooPy, "--json"}},
      {"reader", {"descendants", kFooPy, "--count"}},
      {"reader", {"descendants", kFooPy, "--depth", "1", "--limit", "1"}},
      {"reader", {"ancestors", kFooTarGz}},
      {"reader", {"ancestors", kFooTarGz, "--json"}},
      {"reader", {"descendants", "sha256:" + std::string(64, '0')}},  // not found
      {"reader", {"show", kFooPy}},
      {"reader", {"show", kFooTarGz, "--json"}},
      {"reader", {"show", "builder:https://cloudbuild.googleapis.com/GoogleHostedWorker"}},
      {"reader", {"show", "sha256:" + std::string(64, '0')}},  // not found
      {"reader", {"plan", "show", plan[1]}},
      {"reader", {"plan", "show", plan[1], "--json"}},
      {"reader", {"plan", "show", pending[1], "--list", "2"}},
      {"reader", {"plan", "show", std::string(64, 'a')}},  // not found
      {"reader", {"plan", "list"}},
      {"reader", {"plan", "list", "--json"}},
      {"reader", {"stats", "--json"}},
  };
  std::vector<ProcessResult> remote;
  for (const Case& c : cases)
    remote.push_back(Remote(c.role, c.args));
  ProcessResult stats = Remote("reader", {"stats"});
  ASSERT_EQ(StopDaemon(), 0);

  for (size_t i = 0; i < cases.size(); ++i) {
    ProcessResult embedded = Embedded(cases[i].args);
    SCOPED_TRACE(fmt::format("lineage {}", fmt::join(cases[i].args, " ")));
    EXPECT_EQ(remote[i].exit_code, embedded.exit_code) << remote[i].err;
    EXPECT_EQ(Comparable(remote[i].out, db_), Comparable(embedded.out, db_));
    EXPECT_EQ(remote[i].err, embedded.err);
  }
  EXPECT_THAT(remote[4].out, HasSubstr("denied by  rev-1  INC-7 compromised"));
  EXPECT_THAT(remote[11].out, HasSubstr("is DENIED"));
  // stats names the server instead of a database directory; the rest is equal.
  ProcessResult embedded_stats = Embedded({"stats"});
  ASSERT_EQ(stats.exit_code, 0) << stats.err;
  EXPECT_EQ(stats.out.substr(0, stats.out.find('\n')),
            fmt::format("server        127.0.0.1:{}", port_));
  EXPECT_EQ(Comparable(stats.out.substr(stats.out.find('\n')), db_),
            Comparable(embedded_stats.out.substr(embedded_stats.out.find('\n')), db_));
}

// Attestations go to the daemon, which verifies them against its own trust
// policy: the output is the embedded command's on another fresh database.
TEST_F(RemoteCliTest, RemoteIngestEqualsEmbeddedOnAFreshDatabase) {
  std::string credentials = db_ + "/credentials";
  std::string served = dir_ + "/served", local = dir_ + "/local";
  db_ = served;
  StartDaemon(0, {"--credentials", credentials, "--policy", kSamples + "/policy.json"});
  std::vector<std::vector<std::string>> runs = {
      {"ingest", kSamples + "/attestations"},
      {"ingest", kSamples + "/attestations", "--json"},  // all duplicates now
      {"ingest", "-q", kSamples + "/policy.json", kSamples + "/attestations"},
      {"ingest", dir_ + "/missing.json"},
  };
  std::vector<ProcessResult> remote;
  for (const auto& args : runs)
    remote.push_back(Remote("ingest", args));
  ProcessResult with_policy =
      Remote("ingest", {"ingest", "--policy", kSamples + "/policy.json", kSamples});
  EXPECT_EQ(with_policy.exit_code, 2);
  EXPECT_THAT(with_policy.err, HasSubstr("the daemon verifies against its own trust policy"));
  ProcessResult refused = Remote("gate", runs[0]);
  EXPECT_EQ(refused.exit_code, 4);
  EXPECT_THAT(refused.err, HasSubstr("needs a ingest token"));
  ASSERT_EQ(StopDaemon(), 0);

  db_ = local;
  for (size_t i = 0; i < runs.size(); ++i) {
    std::vector<std::string> args = runs[i];
    args.insert(args.begin() + 1, {"--policy", kSamples + "/policy.json"});
    ProcessResult embedded = Embedded(args);
    SCOPED_TRACE(fmt::format("lineage {}", fmt::join(runs[i], " ")));
    EXPECT_EQ(remote[i].exit_code, embedded.exit_code) << remote[i].err;
    EXPECT_EQ(remote[i].out, embedded.out);
    EXPECT_EQ(remote[i].err, embedded.err);
  }
  EXPECT_THAT(remote[0].out, HasSubstr("summary: 7 files"));
  // The same graph on both sides.
  ProcessResult there = RunProcess({LINEAGE_CLI_PATH, "--db", served, "descendants", kFooPy});
  EXPECT_EQ(there.exit_code, 0);
  EXPECT_EQ(there.out, Embedded({"descendants", kFooPy}).out);
}

// Inventories go to the daemon, which parses and stores them: the output is
// the embedded command's on a copy of the same database.
TEST_F(RemoteCliTest, RemoteWorkloadsIngestEqualsEmbeddedOnACopy) {
  std::string copy = dir_ + "/copy";
  fs::copy(db_, copy, fs::copy_options::recursive);
  StartDaemon();
  const std::string inv = std::string(LINEAGE_SOURCE_DIR) + "/tests/data/inventories/";
  std::vector<std::vector<std::string>> runs = {
      {"workloads", "ingest", inv + "pods.json", "--cluster", "prod"},
      {"workloads", "ingest", inv + "workloads.json", inv + "pods.json", "--cluster", "prod"},
      {"workloads", "ingest", inv + "pods-after-rollout.json", "--cluster", "prod", "--json"},
      {"workloads", "ingest", inv + "pods.json"},  // kubectl without --cluster: rejected
      {"workloads", "ingest", inv + "bad-imageid-type.json", "--cluster", "prod"},
      {"workloads", "ingest", inv + "missing.json", "--cluster", "prod"},
      {"workloads", "ingest", inv + "pods.json", "--format", "yaml"},
  };
  std::vector<ProcessResult> remote;
  for (const auto& args : runs)
    remote.push_back(Remote("ingest", args));
  // The role boundary: a reader cannot store inventories.
  ProcessResult refused = Remote("reader", runs[0]);
  EXPECT_EQ(refused.exit_code, 4);
  EXPECT_THAT(refused.err, HasSubstr("needs a ingest token"));
  ASSERT_EQ(StopDaemon(), 0);

  std::string db = db_;
  db_ = copy;
  for (size_t i = 0; i < runs.size(); ++i) {
    ProcessResult embedded = Embedded(runs[i]);
    SCOPED_TRACE(fmt::format("lineage {}", fmt::join(runs[i], " ")));
    EXPECT_EQ(remote[i].exit_code, embedded.exit_code) << remote[i].err;
    EXPECT_EQ(remote[i].out, embedded.out);
    EXPECT_EQ(remote[i].err, embedded.err);
  }
  EXPECT_THAT(remote[0].out, HasSubstr("accepted   "));
  // Both databases now hold the same current inventories (kubectl output is
  // stamped with the time each side stored it).
  auto untimed = [](const std::string& text) {
    return std::regex_replace(text, std::regex("\"time\":\"[^\"]*\""), "\"time\":T");
  };
  ProcessResult embedded_list = Embedded({"workloads", "list", "--json"});
  db_ = db;
  EXPECT_EQ(untimed(Embedded({"workloads", "list", "--json"}).out), untimed(embedded_list.out));
}

TEST_F(RemoteCliTest, BulkRevocationNeedsTwoApproversOverTheServer) {
  ProcessResult second =
      Embedded({"admin", "token", "create", "--role", "approver", "--name", "approver-2"});
  ASSERT_EQ(second.exit_code, 0);
  tokens_["approver-2"] = second.out.substr(0, second.out.find('\n'));
  StartDaemon();

  ProcessResult planned = Remote(
      "responder", {"revoke", "--builder", "https://cloudbuild.googleapis.com/GoogleHostedWorker",
                    "--reason", "builder compromised", "--as", "responder"});
  ASSERT_EQ(planned.exit_code, 6) << planned.err;
  EXPECT_THAT(planned.err, HasSubstr("is bulk and needs approvals"));
  std::smatch id;
  ASSERT_TRUE(std::regex_search(planned.out, id, std::regex("plan       ([0-9a-f]{64})")))
      << planned.out;
  // The printed next step names the daemon, not a database.
  EXPECT_THAT(planned.out, HasSubstr(fmt::format("lineage --server 127.0.0.1:{} approve {}", port_,
                                                 id[1].str())));

  EXPECT_EQ(Remote("responder", {"enforce", id[1], "--as", "responder"}).exit_code, 6);
  // A token approves only under its own credential's name.
  EXPECT_EQ(Remote("approver", {"approve", id[1], "--as", "approver-2"}).exit_code, 6);
  ProcessResult first = Remote("approver", {"approve", id[1], "--as", "approver"});
  ASSERT_EQ(first.exit_code, 0) << first.err;
  EXPECT_THAT(first.out, HasSubstr("approved   plan " + id[1].str() + " as approver"));
  ASSERT_EQ(Remote("approver-2", {"approve", id[1], "--as", "approver-2"}).exit_code, 0);

  ProcessResult enforced = Remote("responder", {"enforce", id[1], "--as", "responder"});
  ASSERT_EQ(enforced.exit_code, 0) << enforced.err;
  EXPECT_THAT(enforced.out, HasSubstr("enforced   rev-1 (plan " + id[1].str() + ")"));
  EXPECT_THAT(Remote("gate", {"deny-list"}).out, HasSubstr(" enforce rev-1\n+sha256:"));
}

TEST_F(RemoteCliTest, UnreachableWrongRoleAndUncoveredCommands) {
  StartDaemon();
  // The wrong role is refused before any call, naming the role needed.
  struct Refused {
    std::string role;
    std::vector<std::string> args;
    std::string needs;
  };
  for (const Refused& r : std::vector<Refused>{
           {"gate", {"descendants", kFooPy}, "reader"},
           {"gate", {"show", kFooPy}, "reader"},
           {"gate", {"plan", "list"}, "reader"},
           {"gate", {"plan", "show", std::string(64, 'a')}, "reader"},
           {"gate", {"stats"}, "reader"},
           {"reader", {"why", kFooPy}, "gate"},
           {"reader", {"check", kFooPy}, "gate"},
           {"responder", {"show", kFooPy}, "reader"},
           {"ingest", {"plan", "list"}, "reader"},
           {"reader", {"backup", dir_ + "/bk"}, "admin"},
           {"gate", {"workloads", "ingest", kSamples + "/policy.json"}, "ingest"},
           {"gate", {"revocations", "--all"}, "reader"},
           {"responder", {"audit", "log"}, "reader"},
           {"admin", {"settings"}, "reader"},
           {"gate", {"evidence", "rev-1"}, "reader"},
       }) {
    ProcessResult wrong_role = Remote(r.role, r.args);
    EXPECT_EQ(wrong_role.exit_code, 4) << r.args[0];
    EXPECT_THAT(wrong_role.err, HasSubstr("needs a " + r.needs + " token")) << r.args[0];
  }
  EXPECT_FALSE(fs::exists(dir_ + "/bk"));
  // Commands and flags the RPC lacks are usage errors, not silent fakes.
  for (std::vector<std::string> args :
       {std::vector<std::string>{"ingest", "--allow-unsigned", kSamples + "/attestations"}}) {
    ProcessResult r = Remote("reader", args);
    EXPECT_EQ(r.exit_code, 2) << args[0];
    EXPECT_THAT(r.err, HasSubstr("not available with --server yet")) << args[0];
  }
  ProcessResult bad_token =
      RunProcess({LINEAGE_CLI_PATH, "--server", fmt::format("127.0.0.1:{}", port_), "--token",
                  "lgt_nope", "check", kFooPy});
  EXPECT_EQ(bad_token.exit_code, 4);
  EXPECT_THAT(bad_token.err, HasSubstr("unknown or revoked token"));
  // Plaintext leaves the machine only through TLS.
  ProcessResult off_loopback = RunProcess(
      {LINEAGE_CLI_PATH, "--server", "192.0.2.1:7744", "--token", "lgt_x", "check", kFooPy});
  EXPECT_EQ(off_loopback.exit_code, 2);
  EXPECT_THAT(off_loopback.err, HasSubstr("plaintext is allowed only to a loopback address"));

  ASSERT_EQ(StopDaemon(), 0);
  ProcessResult gone = Remote("gate", {"check", kFooPy});
  EXPECT_EQ(gone.exit_code, 8);
  EXPECT_THAT(gone.err, HasSubstr("cannot reach lineaged"));
}

// Rewrites `from` to `to` (same length) in audit entry `seq` of the
// database at `db`, behind the store's back: an edit the chain must reveal.
void EditAuditEntry(const std::string& db, uint64_t seq, const std::string& from,
                    const std::string& to) {
  ASSERT_EQ(from.size(), to.size());
  std::vector<std::string> names;
  ASSERT_TRUE(rocksdb::DB::ListColumnFamilies(rocksdb::Options(), db, &names).ok());
  std::vector<rocksdb::ColumnFamilyDescriptor> descriptors;
  for (const std::string& n : names)
    descriptors.emplace_back(n, rocksdb::ColumnFamilyOptions());
  std::vector<rocksdb::ColumnFamilyHandle*> handles;
  rocksdb::DB* raw = nullptr;
  ASSERT_TRUE(rocksdb::DB::Open(rocksdb::Options(), db, descriptors, &handles, &raw).ok());
  std::string key(8, '\0');
  for (int i = 7; i >= 0; --i, seq >>= 8)
    key[i] = static_cast<char>(seq & 0xff);
  bool edited = false;
  for (size_t i = 0; i < names.size(); ++i) {
    if (names[i] != "audit") continue;
    std::string value;
    EXPECT_TRUE(raw->Get(rocksdb::ReadOptions(), handles[i], key, &value).ok());
    size_t at = value.find(from);
    if (at != std::string::npos) {
      value.replace(at, from.size(), to);
      edited = raw->Put(rocksdb::WriteOptions(), handles[i], key, value).ok();
    }
  }
  for (rocksdb::ColumnFamilyHandle* h : handles)
    EXPECT_TRUE(raw->DestroyColumnFamilyHandle(h).ok());
  delete raw;
  EXPECT_TRUE(edited) << "no audit entry to edit";
}

// lineage backup --server writes an online checkpoint through the daemon;
// lineage restore turns it into a new, verified database and never
// overwrites one.
TEST_F(RemoteCliTest, OnlineBackupOverTheServerThenRestore) {
  StartDaemon(0, {"--backup-dir", dir_ + "/backups"});
  ASSERT_EQ(
      Remote("responder", {"revoke", "--digest", kFooPy, "--reason", "INC-9", "--as", "responder"})
          .exit_code,
      0);
  // The daemon writes only under its --backup-dir, by name.
  std::string backup = dir_ + "/backups/bk1";
  ProcessResult backed = Remote("admin", {"backup", "bk1"});
  ASSERT_EQ(backed.exit_code, 0) << backed.err;
  EXPECT_THAT(backed.out, HasSubstr("backup     bk1 written by 127.0.0.1:"));
  EXPECT_TRUE(fs::exists(backup + "/CURRENT"));
  ProcessResult again = Remote("admin", {"backup", "bk1"});  // exists: refused, as embedded
  EXPECT_EQ(again.exit_code, 4) << again.err;
  EXPECT_THAT(again.err, HasSubstr("lineage: "));
  for (std::string bad : {dir_ + "/elsewhere", std::string("../x"), std::string("a/b")}) {
    ProcessResult refused = Remote("admin", {"backup", bad});
    EXPECT_EQ(refused.exit_code, 4) << bad;
    EXPECT_THAT(refused.err, HasSubstr("--backup-dir/NAME")) << bad;
  }
  EXPECT_FALSE(fs::exists(dir_ + "/elsewhere"));
  ProcessResult live_check = Remote("gate", {"check", kFooTarGz});
  ASSERT_EQ(StopDaemon(), 0);

  std::string restored = dir_ + "/restored";
  ProcessResult r = RunProcess({LINEAGE_CLI_PATH, "restore", backup, restored});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_THAT(r.out, ::testing::ContainsRegex("restored   .* audit chain verified \\(2 entries"));
  // The restored database answers as the live one did.
  ProcessResult check = RunProcess({LINEAGE_CLI_PATH, "--db", restored, "check", kFooTarGz});
  EXPECT_EQ(check.exit_code, 5);
  EXPECT_EQ(Comparable(check.out, restored), Comparable(live_check.out, restored));
  EXPECT_EQ(RunProcess({LINEAGE_CLI_PATH, "--db", restored, "audit", "verify"}).exit_code, 0);

  // Never over a database (or anything else), never from a non-backup.
  ProcessResult over = RunProcess({LINEAGE_CLI_PATH, "restore", backup, restored});
  EXPECT_EQ(over.exit_code, 2);
  EXPECT_THAT(over.err, HasSubstr("restore never overwrites"));
  ProcessResult not_backup =
      RunProcess({LINEAGE_CLI_PATH, "restore", dir_ + "/nothing", dir_ + "/x"});
  EXPECT_EQ(not_backup.exit_code, 3);
  EXPECT_FALSE(fs::exists(dir_ + "/x"));
  // A backup whose audit chain was edited is not put in place (the entry of
  // the enforcement names another enforcer), and no staging copy is left.
  std::string tampered = dir_ + "/tampered";
  fs::copy(backup, tampered, fs::copy_options::recursive);
  EditAuditEntry(tampered, 2, "responder", "impostor!");
  ProcessResult refused = RunProcess({LINEAGE_CLI_PATH, "restore", tampered, dir_ + "/t2"});
  EXPECT_EQ(refused.exit_code, 7) << refused.err;
  EXPECT_THAT(refused.err, HasSubstr("audit chain: entry 2"));
  EXPECT_THAT(refused.err, HasSubstr("nothing restored"));
  EXPECT_FALSE(fs::exists(dir_ + "/t2"));
  for (const auto& e : fs::directory_iterator(dir_))
    EXPECT_EQ(e.path().filename().string().find(".restoring-"), std::string::npos) << e.path();
  // An empty directory is a fine target.
  fs::create_directories(dir_ + "/empty");
  EXPECT_EQ(RunProcess({LINEAGE_CLI_PATH, "restore", "--json", backup, dir_ + "/empty"}).exit_code,
            0);
  EXPECT_TRUE(fs::exists(dir_ + "/empty/CURRENT"));

  // A target with a trailing slash names the same directory, empty or new.
  fs::create_directories(dir_ + "/empty1");
  ProcessResult slash = RunProcess({LINEAGE_CLI_PATH, "restore", backup, dir_ + "/empty1/"});
  EXPECT_EQ(slash.exit_code, 0) << slash.err;
  EXPECT_TRUE(fs::exists(dir_ + "/empty1/CURRENT"));
  ProcessResult fresh = RunProcess({LINEAGE_CLI_PATH, "restore", backup, dir_ + "/new2/"});
  EXPECT_EQ(fresh.exit_code, 0) << fresh.err;
  EXPECT_TRUE(fs::exists(dir_ + "/new2/CURRENT"));

  // --expect-head: the head the operator recorded, or nothing restored.
  std::smatch head;
  ASSERT_TRUE(std::regex_search(r.out, head, std::regex("head ([0-9a-f]+)\\)"))) << r.out;
  ProcessResult wrong = RunProcess(
      {LINEAGE_CLI_PATH, "restore", "--expect-head", std::string(64, '0'), backup, dir_ + "/h1"});
  EXPECT_EQ(wrong.exit_code, 7) << wrong.err;
  EXPECT_THAT(wrong.err, HasSubstr("expected " + std::string(64, '0')));
  EXPECT_FALSE(fs::exists(dir_ + "/h1"));
  ProcessResult right =
      RunProcess({LINEAGE_CLI_PATH, "restore", "--expect-head", head[1], backup, dir_ + "/h2"});
  EXPECT_EQ(right.exit_code, 0) << right.err;

  // A symlink inside a backup is refused, not followed.
  std::string linked = dir_ + "/linked";
  fs::copy(backup, linked, fs::copy_options::recursive);
  fs::create_symlink(dir_ + "/db/credentials", linked + "/extra");
  ProcessResult sym = RunProcess({LINEAGE_CLI_PATH, "restore", linked, dir_ + "/s1"});
  EXPECT_EQ(sym.exit_code, 2) << sym.err;
  EXPECT_THAT(sym.err, HasSubstr("not a regular file"));
  EXPECT_FALSE(fs::exists(dir_ + "/s1"));
}

// A deny list larger than the client's receive limit comes in pages cut
// to that limit: here 20,000 digests, a snapshot of about 1.6 MB, against
// a 1 MiB limit, given as --max-message-mib or $LINEAGE_MAX_MESSAGE_MIB.
// (Before, the export failed with "too large" and gate watch could never
// take its snapshot.)
TEST_F(RemoteCliTest, MessageLimitCutsTheExportIntoPages) {
  std::string roots = dir_ + "/roots.txt";
  {
    std::ofstream out(roots);
    for (int i = 0; i < 20000; ++i)
      out << Digest(100000 + i) << "\n";
  }
  // Digest roots only and fewer artifacts than the threshold: not bulk.
  // Revoked embedded, before the daemon starts: a plan of 20,000 roots can
  // take longer than the client's call timeout in a sanitizer build.
  ASSERT_EQ(Embedded({"settings", "--bulk-threshold", "100000", "--as", "admin", "--reason",
                      "a large test revocation"})
                .exit_code,
            0);
  ProcessResult revoked = Embedded(
      {"revoke", "--roots-from", roots, "--reason", "many", "--as", "responder", "--list", "1"});
  ASSERT_EQ(revoked.exit_code, 0) << revoked.err;
  StartDaemon();

  auto digests = [](const std::string& json) {
    return std::regex_replace(json, std::regex("\"generated_at\":\"[^\"]*\""), "");
  };
  ProcessResult whole = Remote("gate", {"deny-list", "export", "--format", "json"});
  ASSERT_EQ(whole.exit_code, 0) << whole.err;
  EXPECT_THAT(whole.out, HasSubstr(Digest(100000 + 19999)));
  ProcessResult small =
      Remote("gate", {"--max-message-mib", "1", "deny-list", "export", "--format", "json"});
  ASSERT_EQ(small.exit_code, 0) << small.err;
  EXPECT_EQ(digests(small.out), digests(whole.out));
  ProcessResult small_env =
      Remote("gate", {"deny-list", "export", "--format", "json"}, {"LINEAGE_MAX_MESSAGE_MIB=1"});
  ASSERT_EQ(small_env.exit_code, 0) << small_env.err;
  EXPECT_EQ(digests(small_env.out), digests(whole.out));
}

// ca.pem, server.pem and client.pem (with keys) in `dir`.
void MakeCertificates(const std::string& dir) {
  ASSERT_TRUE(testing::MakeTestCertificates(dir)) << "openssl failed in " << dir;
}

// The CLI reaches a TLS lineaged that requires client certificates: with
// the CA and a client certificate it gets the same answers; without the
// certificate, with another CA, or in plaintext it gets none.
TEST_F(RemoteCliTest, TlsDaemonWithClientCertificates) {
  MakeCertificates(dir_);
  StartDaemon(0, {"--tls-cert", dir_ + "/server.pem", "--tls-key", dir_ + "/server.key",
                  "--tls-client-ca", dir_ + "/ca.pem"});
  host_ = "localhost";  // the name the server certificate carries
  std::vector<std::string> tls = {"--tls-ca",           dir_ + "/ca.pem", "--tls-cert",
                                  dir_ + "/client.pem", "--tls-key",      dir_ + "/client.key"};
  auto with = [](std::vector<std::string> a, const std::vector<std::string>& b) {
    a.insert(a.begin(), b.begin(), b.end());
    return a;
  };
  ProcessResult ok = Remote("gate", with({"check", Digest(3)}, tls));
  EXPECT_EQ(ok.exit_code, 0) << ok.err;
  EXPECT_THAT(ok.out, HasSubstr("ALLOW " + Digest(3)));
  ProcessResult shown = Remote("reader", with({"show", kFooPy}, tls));
  EXPECT_EQ(shown.exit_code, 0) << shown.err;
  // The same through the environment.
  ProcessResult env =
      Remote("gate", {"check", Digest(3)},
             {"LINEAGE_TLS_CA=" + dir_ + "/ca.pem", "LINEAGE_TLS_CERT=" + dir_ + "/client.pem",
              "LINEAGE_TLS_KEY=" + dir_ + "/client.key"});
  EXPECT_EQ(env.exit_code, 0) << env.err;
  EXPECT_EQ(env.out, ok.out);

  ProcessResult no_cert = Remote("gate", {"--tls-ca", dir_ + "/ca.pem", "check", Digest(3)});
  EXPECT_EQ(no_cert.exit_code, 8) << no_cert.err;
  ProcessResult other_ca =
      Remote("gate",
             with({"check", Digest(3)}, {"--tls-ca", dir_ + "/other.pem", "--tls-cert",
                                         dir_ + "/client.pem", "--tls-key", dir_ + "/client.key"}));
  EXPECT_EQ(other_ca.exit_code, 8) << other_ca.err;
  ProcessResult plaintext = Remote("gate", {"check", Digest(3)});
  EXPECT_EQ(plaintext.exit_code, 8) << plaintext.err;
  ProcessResult half = Remote("gate", {"--tls-ca", dir_ + "/ca.pem", "--tls-cert",
                                       dir_ + "/client.pem", "check", Digest(3)});
  EXPECT_EQ(half.exit_code, 2);
  EXPECT_THAT(half.err, HasSubstr("--tls-cert and --tls-key go together"));
  ProcessResult missing = Remote("gate", {"--tls-ca", dir_ + "/none.pem", "check", Digest(3)});
  EXPECT_EQ(missing.exit_code, 8);
  EXPECT_THAT(missing.err, HasSubstr("none.pem: cannot read the file"));
}

// A daemon whose TLS asks for no client certificate: the CA alone is enough.
TEST_F(RemoteCliTest, TlsDaemonWithoutClientCertificates) {
  MakeCertificates(dir_);
  StartDaemon(0, {"--tls-cert", dir_ + "/server.pem", "--tls-key", dir_ + "/server.key"});
  host_ = "localhost";
  ProcessResult ok = Remote("reader", {"--tls-ca", dir_ + "/ca.pem", "descendants", kFooPy});
  EXPECT_EQ(ok.exit_code, 0) << ok.err;
  EXPECT_EQ(ok.out, Embedded({"descendants", kFooPy}).out);  // read-only open beside the daemon

  // By address, the certificate's name must be given: it names localhost,
  // not 127.0.0.1.
  host_ = "127.0.0.1";
  ProcessResult by_address =
      Remote("reader", {"--tls-ca", dir_ + "/ca.pem", "descendants", kFooPy});
  EXPECT_EQ(by_address.exit_code, 8) << by_address.err;
  ProcessResult named = Remote("reader", {"--tls-ca", dir_ + "/ca.pem", "--tls-server-name",
                                          "localhost", "descendants", kFooPy});
  EXPECT_EQ(named.exit_code, 0) << named.err;
  EXPECT_EQ(named.out, ok.out);
  ProcessResult wrong = Remote("reader", {"--tls-ca", dir_ + "/ca.pem", "--tls-server-name",
                                          "elsewhere.example", "descendants", kFooPy});
  EXPECT_EQ(wrong.exit_code, 8) << wrong.err;
}

TEST_F(RemoteCliTest, AdminTokenCreateListRevoke) {
  ProcessResult created =
      Embedded({"admin", "token", "create", "--role", "gate", "--name", "edge-gate"});
  ASSERT_EQ(created.exit_code, 0) << created.err;
  // The token and nothing else on stdout.
  EXPECT_THAT(created.out, ::testing::MatchesRegex("lgt_gate_[0-9a-f]+\n"));
  std::string token = created.out.substr(0, created.out.size() - 1);

  ProcessResult json =
      Embedded({"admin", "token", "create", "--role", "admin", "--name", "root-admin", "--json"});
  ASSERT_EQ(json.exit_code, 0);
  EXPECT_THAT(json.out, ::testing::MatchesRegex(
                            "\\{\"name\":\"root-admin\",\"role\":\"admin\",\"token\":\"lgt_admin_"
                            "[0-9a-f]+\"\\}\n"));
  EXPECT_EQ(
      Embedded({"admin", "token", "create", "--role", "gate", "--name", "edge-gate"}).exit_code, 6);
  EXPECT_EQ(Embedded({"admin", "token", "create", "--role", "king", "--name", "x"}).exit_code, 2);

  ProcessResult listed = Embedded({"admin", "token", "list"});
  ASSERT_EQ(listed.exit_code, 0);
  EXPECT_THAT(listed.out, ::testing::ContainsRegex("edge-gate +gate +[0-9T:-]+Z +no"));
  std::string file = ReadAll(db_ + "/credentials");
  std::smatch hash;
  ASSERT_TRUE(std::regex_search(file, hash, std::regex("[0-9a-f]{64}")));
  EXPECT_THAT(listed.out, Not(HasSubstr(hash.str())));
  EXPECT_THAT(listed.out, Not(HasSubstr(token)));

  // The daemon accepts the token, then refuses it after revoke + SIGHUP.
  StartDaemon();
  tokens_["edge"] = token;
  EXPECT_EQ(Remote("edge", {"check", Digest(2)}).exit_code, 0);
  ProcessResult revoked = Embedded({"admin", "token", "revoke", "edge-gate"});
  ASSERT_EQ(revoked.exit_code, 0) << revoked.err;
  EXPECT_EQ(Embedded({"admin", "token", "revoke", "nobody"}).exit_code, 3);
  daemon_.Signal(SIGHUP);
  EXPECT_TRUE(WaitFor([&] { return Remote("edge", {"check", Digest(2)}).exit_code == 4; }, 10000));
  ProcessResult listed_json = Embedded({"admin", "token", "list", "--json"});
  EXPECT_THAT(listed_json.out, HasSubstr("\"name\":\"edge-gate\",\"role\":\"gate\""));
  EXPECT_THAT(listed_json.out, ::testing::ContainsRegex("\"edge-gate\"[^}]*\"revoked\":true"));
}

// Runs each case over --server now and keeps the results; Compare later
// runs them embedded on the same database (the daemon stopped) and expects
// the same stdout, stderr and exit code.
struct RemoteCase {
  std::string role;
  std::vector<std::string> args;
};

// An unsigned in-toto Statement v1 (SLSA v1 predicate): Digest(subject)
// built from Digest(material).
std::string UnsignedStatement(int subject, int material) {
  return fmt::format(
      "{{\"_type\":\"https://in-toto.io/Statement/v1\",\"subject\":[{{\"name\":\"s\",\"digest\":"
      "{{\"sha256\":\"{}\"}}}}],\"predicateType\":\"https://slsa.dev/provenance/v1\","
      "\"predicate\":{{\"buildDefinition\":{{\"buildType\":\"https://ci.example/t\","
      "\"resolvedDependencies\":[{{\"uri\":\"m\",\"digest\":{{\"sha256\":\"{}\"}}}}]}},"
      "\"runDetails\":{{\"builder\":{{\"id\":\"https://ci.example/b\"}},\"metadata\":{{"
      "\"finishedOn\":\"2026-01-02T03:04:05Z\"}}}}}}}}",
      Digest(subject).substr(7), Digest(material).substr(7));
}

// revocations (with a lifted and an advisory one), audit verify, audit log
// across pages and settings print over --server what they print embedded.
// The audit log holds more than the daemon's page of 256 entries, so the
// remote form has to fetch and join pages.
TEST_F(RemoteCliTest, RevocationsAuditAndSettingsEqualEmbedded) {
  ASSERT_EQ(Embedded({"revoke", "--digest", kFooPy, "--reason", "INC-1 'quoted'", "--as", "alice"})
                .exit_code,
            0);
  ASSERT_EQ(Embedded({"lift", "rev-1", "--reason", "false alarm", "--as", "bob"}).exit_code, 0);
  ASSERT_EQ(Embedded({"revoke", "--digest", kFooTarGz, "--digest", Digest(7), "--reason", "INC-2",
                      "--as", "carol"})
                .exit_code,
            0);
  ASSERT_EQ(Embedded({"revoke", "--digest", Digest(8), "--reason", "watch it", "--advisory", "--as",
                      "dave"})
                .exit_code,
            0);
  StartDaemon();

  // 260 settings changes over the admin RPC: 267 audit entries in all.
  {
    rpc::ClientOptions options{fmt::format("127.0.0.1:{}", port_), tokens_["admin"]};
    absl::StatusOr<std::unique_ptr<rpc::Client>> admin = rpc::Client::Connect(options);
    ASSERT_TRUE(admin.ok()) << admin.status();
    for (uint64_t i = 0; i < 260; ++i) {
      rpc::Client::SettingsChange change;
      change.bulk_threshold = 1000 + i;
      change.reason = fmt::format("step {}", i);
      absl::StatusOr<RevocationSettings> now = (*admin)->UpdateSettings(change);
      ASSERT_TRUE(now.ok()) << now.status();
      EXPECT_EQ(now->bulk_threshold, 1000 + i);
    }
  }

  std::vector<RemoteCase> cases = {
      {"reader", {"revocations"}},
      {"reader", {"revocations", "--json"}},
      {"reader", {"revocations", "--all"}},
      {"reader", {"revocations", "--all", "--json"}},
      {"reader", {"audit", "verify"}},
      {"reader", {"audit", "verify", "--json"}},
      {"reader", {"audit", "log"}},
      {"reader", {"audit", "log", "--json"}},
      {"reader", {"audit", "log", "--from", "250"}},
      {"reader", {"audit", "log", "--from", "100000"}},  // none: a note on stderr
      {"reader", {"settings"}},
      {"reader", {"settings", "--json"}},
      {"reader", {"settings", "--advisory-only", "maybe"}},  // usage error before any call
      {"admin", {"settings", "--bulk-threshold", "5", "--reason", "r"}},  // no --as
  };
  std::vector<ProcessResult> remote;
  for (const RemoteCase& c : cases)
    remote.push_back(Remote(c.role, c.args));
  ASSERT_EQ(StopDaemon(), 0);

  for (size_t i = 0; i < cases.size(); ++i) {
    ProcessResult embedded = Embedded(cases[i].args);
    SCOPED_TRACE(fmt::format("lineage {}", fmt::join(cases[i].args, " ")));
    EXPECT_EQ(remote[i].exit_code, embedded.exit_code) << remote[i].err;
    EXPECT_EQ(remote[i].out, embedded.out);
    EXPECT_EQ(remote[i].err, embedded.err);
  }
  EXPECT_THAT(remote[0].out, Not(HasSubstr("rev-1 ")));
  EXPECT_THAT(remote[2].out, ::testing::ContainsRegex("rev-1 +lifted"));
  EXPECT_THAT(remote[2].out, ::testing::ContainsRegex("rev-3 +active +advisory"));
  EXPECT_THAT(remote[3].out, HasSubstr("\"lift_reason\":\"false alarm\""));
  EXPECT_THAT(remote[4].out, HasSubstr("audit log ok: 267 entries verified"));
  EXPECT_THAT(remote[6].out, HasSubstr("\n  267  "));
  EXPECT_THAT(remote[6].out, HasSubstr("\n  256  "));
  EXPECT_THAT(remote[10].out, HasSubstr("bulk-threshold  1259 "));
}

// A settings change over --server needs an admin token and is recorded
// under that credential's name; gate, responder and reader tokens are
// refused before any call, and an admin cannot sign as someone else.
TEST_F(RemoteCliTest, SettingsChangeNeedsAnAdminTokenAndIsAudited) {
  StartDaemon();
  std::vector<std::string> change = {"settings", "--advisory-only", "on", "--as", "admin",
                                     "--reason", "INC-3 rollback"};
  for (const char* role : {"gate", "responder", "reader", "approver", "ingest"}) {
    std::vector<std::string> as_self = change;
    as_self[4] = role;
    ProcessResult refused = Remote(role, as_self);
    EXPECT_EQ(refused.exit_code, 4) << role;
    EXPECT_EQ(refused.err, fmt::format("lineage settings: the token's role is {}; settings needs "
                                       "a admin token\n",
                                       role));
  }
  std::vector<std::string> impostor = change;
  impostor[4] = "mallory";
  ProcessResult posing = Remote("admin", impostor);
  EXPECT_EQ(posing.exit_code, 6);
  EXPECT_EQ(posing.err, "lineage settings: this token acts as \"admin\", not as \"mallory\"\n");
  ProcessResult unchanged = Remote("reader", {"settings"});
  EXPECT_THAT(unchanged.out, HasSubstr("advisory-only   off\n"));
  EXPECT_EQ(Remote("reader", {"audit", "log"}).err, "lineage audit log: no entries from seq 1\n");

  std::vector<std::string> json = change;
  json.push_back("--json");
  ProcessResult changed = Remote("admin", json);
  ASSERT_EQ(changed.exit_code, 0) << changed.err;
  EXPECT_EQ(changed.out, "{\"advisory_only\":true,\"bulk_threshold\":100,\"changed\":true}\n");
  ProcessResult shown = Remote("reader", {"settings"});
  EXPECT_THAT(shown.out, HasSubstr("advisory-only   on (revocations are reported"));
  ProcessResult log = Remote("reader", {"audit", "log", "--json"});
  EXPECT_THAT(log.out, ::testing::ContainsRegex(
                           "\\{\"seq\":1,[^}]*\"actor\":\"admin\",\"action\":\"settings\""));
  ASSERT_EQ(StopDaemon(), 0);
  // The change is the database's, recorded as the embedded one would be.
  EXPECT_EQ(Embedded({"settings"}).out, shown.out);
  EXPECT_EQ(Embedded({"audit", "log", "--json"}).out, log.out);
  ProcessResult evidence = Embedded({"audit", "verify"});
  EXPECT_EQ(evidence.exit_code, 0) << evidence.out;
}

// audit verify over --server exits as embedded: 0 for an intact chain, 7
// with the same report once an entry was edited behind the store's back.
TEST_F(RemoteCliTest, RemoteAuditVerifyExitCodesAreEmbeddedOnes) {
  ASSERT_EQ(
      Embedded({"revoke", "--digest", kFooPy, "--reason", "INC-9", "--as", "responder"}).exit_code,
      0);
  StartDaemon();
  ProcessResult intact = Remote("reader", {"audit", "verify"});
  EXPECT_EQ(intact.exit_code, 0) << intact.err;
  EXPECT_THAT(intact.out, HasSubstr("audit log ok: 2 entries verified"));
  ASSERT_EQ(StopDaemon(), 0);

  EditAuditEntry(db_, 2, "responder", "impostor!");
  StartDaemon();
  ProcessResult text = Remote("reader", {"audit", "verify"});
  ProcessResult json = Remote("reader", {"audit", "verify", "--json"});
  ProcessResult gate = Remote("gate", {"audit", "verify"});
  ASSERT_EQ(StopDaemon(), 0);
  EXPECT_EQ(text.exit_code, 7) << text.err;
  EXPECT_THAT(text.out, HasSubstr("audit log TAMPERED: 1 problem in 2 entries"));
  EXPECT_THAT(json.out, HasSubstr("\"ok\":false"));
  EXPECT_EQ(json.exit_code, 7);
  ProcessResult embedded_text = Embedded({"audit", "verify"});
  ProcessResult embedded_json = Embedded({"audit", "verify", "--json"});
  EXPECT_EQ(embedded_text.exit_code, 7);
  EXPECT_EQ(text.out, embedded_text.out);
  EXPECT_EQ(json.out, embedded_json.out);
  EXPECT_EQ(gate.exit_code, 4);
  EXPECT_THAT(gate.err, HasSubstr("audit verify needs a reader token"));
}

// enforce over --server of a plan whose closure grew since review prints
// the same change and the same replan command as embedded enforce: the
// responder reads the plan back itself (Responder.getPlan).
TEST_F(RemoteCliTest, RemoteEnforceOfAChangedPlanPrintsTheReplanCommand) {
  ProcessResult planned = Embedded({"revoke", "--digest", Digest(500), "--reason", "INC-5 it's bad",
                                    "--advisory", "--dry-run", "--as", "responder"});
  ASSERT_EQ(planned.exit_code, 0) << planned.err;
  std::smatch id;
  ASSERT_TRUE(std::regex_search(planned.out, id, std::regex("plan       ([0-9a-f]{64})")));
  std::string statement = dir_ + "/statement.json";
  {
    std::ofstream out(statement);
    out << UnsignedStatement(501, 500);
  }
  ProcessResult grew = Embedded({"ingest", "--allow-unsigned", statement});
  ASSERT_EQ(grew.exit_code, 0) << grew.err;

  StartDaemon();
  std::vector<std::string> enforce = {"enforce", id[1], "--as", "responder"};
  std::vector<std::string> enforce_json = enforce;
  enforce_json.push_back("--json");
  ProcessResult text = Remote("responder", enforce);
  ProcessResult json = Remote("responder", enforce_json);
  ASSERT_EQ(StopDaemon(), 0);
  EXPECT_EQ(text.exit_code, 6) << text.err;
  EXPECT_THAT(text.out,
              HasSubstr(fmt::format("lineage --server 127.0.0.1:{} revoke --digest {} --reason "
                                    "'INC-5 it'\\''s bad' --advisory --dry-run --as <you>",
                                    port_, Digest(500))));
  EXPECT_THAT(text.out, HasSubstr("+" + Digest(501)));

  // Nothing was enforced either way, so the embedded run sees the same plan.
  ProcessResult embedded_text = Embedded(enforce);
  ProcessResult embedded_json = Embedded(enforce_json);
  EXPECT_EQ(embedded_text.exit_code, 6);
  EXPECT_EQ(Comparable(text.out, db_), Comparable(embedded_text.out, db_));
  EXPECT_EQ(text.err, embedded_text.err);
  EXPECT_EQ(json.exit_code, embedded_json.exit_code);
  EXPECT_EQ(json.out, embedded_json.out);
  EXPECT_EQ(json.err, embedded_json.err);
}

class RemoteGateWatchTest : public RemoteCliTest {
 protected:
  void StartWatch(int max_offline) {
    out_ = dir_ + "/gate/deny.json";
    fs::create_directories(dir_ + "/gate");
    watch_.Start({LINEAGE_CLI_PATH, "--server", fmt::format("127.0.0.1:{}", port_), "gate", "watch",
                  "--out", out_, "--max-offline", std::to_string(max_offline)},
                 dir_ + "/watch.log", {"LINEAGE_TOKEN=" + tokens_["gate"]});
    ASSERT_TRUE(WaitFor([&] { return fs::exists(out_); }, 10000)) << watch_.log();
  }
  bool FileHas(const std::string& digest, int millis = 10000) {
    return WaitFor([&] { return ReadAll(out_).find(digest) != std::string::npos; }, millis);
  }
  bool FileLacks(const std::string& digest, int millis = 10000) {
    return WaitFor([&] { return ReadAll(out_).find(digest) == std::string::npos; }, millis);
  }
  void TearDown() override {
    watch_.Kill();
    RemoteCliTest::TearDown();
  }

  std::string out_;
  Child watch_;
};

TEST_F(RemoteGateWatchTest, FollowsRevokeAndLiftThenGivesUpWithoutTheDaemon) {
  StartDaemon();
  StartWatch(/*max_offline=*/2);
  // The first file is the snapshot, in deny-list export's format.
  EXPECT_THAT(
      ReadAll(out_),
      ::testing::MatchesRegex("\\{\"seq\":0,\"generated_at\":\"[^\"]+\",\"digests\":\\[\\]\\}\n"));

  ASSERT_EQ(
      Remote("responder", {"revoke", "--digest", Digest(1), "--reason", "r", "--as", "responder"})
          .exit_code,
      0);
  ASSERT_TRUE(FileHas(Digest(1))) << watch_.log();
  EXPECT_THAT(ReadAll(out_), HasSubstr("\"seq\":1,"));
  ASSERT_EQ(
      Remote("responder", {"lift", "rev-1", "--reason", "fixed", "--as", "responder"}).exit_code,
      0);
  ASSERT_TRUE(FileLacks(Digest(1))) << watch_.log();
  EXPECT_THAT(ReadAll(out_), HasSubstr("\"seq\":2,"));

  // Without the daemon for longer than --max-offline: exit 8, and the file
  // keeps the last deny list.
  auto killed = std::chrono::steady_clock::now();
  daemon_.Kill();
  std::optional<int> code = watch_.WaitExit(2000 + 10000);
  ASSERT_TRUE(code.has_value()) << watch_.log();
  EXPECT_EQ(*code, 8) << watch_.log();
  EXPECT_GE(std::chrono::steady_clock::now() - killed, std::chrono::seconds(2));
  EXPECT_THAT(watch_.log(), HasSubstr("giving up"));
  EXPECT_THAT(ReadAll(out_), HasSubstr("\"seq\":2,"));
}

TEST_F(RemoteGateWatchTest, PicksUpARestartedDaemonAndExitsZeroOnSigterm) {
  unsigned port = FreePort();
  StartDaemon(port);
  StartWatch(/*max_offline=*/30);
  ASSERT_EQ(
      Remote("responder", {"revoke", "--digest", Digest(1), "--reason", "r", "--as", "responder"})
          .exit_code,
      0);
  ASSERT_TRUE(FileHas(Digest(1))) << watch_.log();

  // A drained daemon asks for a resync; the watch reconnects when it is back.
  ASSERT_EQ(StopDaemon(), 0);
  StartDaemon(port);
  ASSERT_EQ(
      Remote("responder", {"revoke", "--digest", Digest(2), "--reason", "r", "--as", "responder"})
          .exit_code,
      0);
  ASSERT_TRUE(FileHas(Digest(2), 20000)) << watch_.log();
  EXPECT_THAT(ReadAll(out_), HasSubstr(Digest(1)));

  // And a daemon that died without a word is picked up as well.
  daemon_.Kill();
  StartDaemon(port);
  ASSERT_EQ(
      Remote("responder", {"revoke", "--digest", Digest(3), "--reason", "r", "--as", "responder"})
          .exit_code,
      0);
  ASSERT_TRUE(FileHas(Digest(3), 20000)) << watch_.log();

  watch_.Signal(SIGTERM);
  std::optional<int> code = watch_.WaitExit(10000);
  ASSERT_TRUE(code.has_value()) << watch_.log();
  EXPECT_EQ(*code, 0) << watch_.log();
  EXPECT_THAT(ReadAll(out_), HasSubstr("\"seq\":3,"));
}

// A gate watch whose receive limit is 1 MiB takes up an enforcement of
// 16,001 digests (about 1.3 MB as one delta) made while the daemon was
// down: its snapshot comes in pages cut to the gate's limit. Before, the
// snapshot was one message too large for the gate: deny.json never left
// seq 0. (The live push in parts is RpcTest.LargeDeltaIsPushedInParts...;
// the enforcement is made embedded, as a plan of 16,001 roots outlasts the
// CLI's call timeout in a sanitizer build.)
TEST_F(RemoteGateWatchTest, TakesUpADenyListLargerThanItsMessageLimit) {
  ASSERT_EQ(Embedded({"settings", "--bulk-threshold", "100000", "--as", "admin", "--reason",
                      "a large test revocation"})
                .exit_code,
            0);
  unsigned port = FreePort();
  StartDaemon(port);
  out_ = dir_ + "/gate/deny.json";
  fs::create_directories(dir_ + "/gate");
  watch_.Start({LINEAGE_CLI_PATH, "--server", fmt::format("127.0.0.1:{}", port_),
                "--max-message-mib", "1", "gate", "watch", "--out", out_, "--max-offline", "60"},
               dir_ + "/watch.log", {"LINEAGE_TOKEN=" + tokens_["gate"]});
  ASSERT_TRUE(WaitFor([&] { return fs::exists(out_); }, 10000)) << watch_.log();
  ASSERT_EQ(StopDaemon(), 0);

  std::string roots = dir_ + "/roots.txt";
  {
    std::ofstream out(roots);
    for (int i = 0; i < 16001; ++i)
      out << Digest(200000 + i) << "\n";
  }
  ProcessResult revoked = Embedded(
      {"revoke", "--roots-from", roots, "--reason", "many", "--as", "responder", "--list", "1"});
  ASSERT_EQ(revoked.exit_code, 0) << revoked.err;
  StartDaemon(port);
  ASSERT_TRUE(FileHas(Digest(200000 + 16000), 60000)) << watch_.log();
  std::string text = ReadAll(out_);
  EXPECT_THAT(text, HasSubstr(Digest(200000)));
  EXPECT_THAT(text, Not(HasSubstr("\"seq\":0,")));
  EXPECT_FALSE(watch_.WaitExit(0).has_value()) << watch_.log();
}

// A daemon that stops answering without closing its sockets (here: frozen
// by SIGSTOP) is noticed by the heartbeat, not waited on forever.
TEST_F(RemoteGateWatchTest, GivesUpOnAFrozenDaemon) {
  StartDaemon();
  StartWatch(/*max_offline=*/2);
  auto frozen = std::chrono::steady_clock::now();
  daemon_.Signal(SIGSTOP);
  std::optional<int> code = watch_.WaitExit(2000 + 10000);
  daemon_.Signal(SIGCONT);
  ASSERT_TRUE(code.has_value()) << watch_.log();
  EXPECT_EQ(*code, 8) << watch_.log();
  EXPECT_GE(std::chrono::steady_clock::now() - frozen, std::chrono::seconds(2));
}

// A lineage workload list of `n` workloads in cluster prod whose names are
// about 1,500 bytes long, each running `image`: at --max-message-mib 1
// (answers cut to 512 KiB) about 340 of their refs fit one answer.
std::string LongNamedWorkloads(int n, const std::string& image) {
  std::string json = R"({"cluster":"prod","workloads":[)";
  for (int i = 0; i < n; ++i) {
    json += fmt::format(R"({}{{"namespace":"shop","kind":"Deployment","name":"{}-{}",)"
                        R"("images":["{}"]}})",
                        i == 0 ? "" : ",", std::string(1500, 'w'), i, image);
  }
  return json + "]}";
}

// What differs between two runs of the same revocations: times and
// durations. Ids, lists and their order must match.
std::string Untimed(const std::string& text) {
  std::string out =
      std::regex_replace(text, std::regex("[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9:.]+Z"), "T");
  out = std::regex_replace(out, std::regex("\"duration_us\":[0-9]+"), "\"duration_us\":D");
  return std::regex_replace(out, std::regex("took       [0-9.]+ ms"), "took       D ms");
}

// Enforcements that affect more workloads than one answer holds (900 refs
// of about 1.5 KB against a 1 MiB limit on both sides): revoke and enforce
// over --server fetch the rest (Responder.enforcedWorkloads) and print what
// the embedded commands print on a copy of the same database, text and
// --json. (Before, the enforce answer was past the limit: the revocation
// was made, and the command failed.)
TEST_F(RemoteCliTest, EnforceAndRevokeListWorkloadsPastOneMessage) {
  std::string inventory = dir_ + "/prod.json";
  {
    std::ofstream out(inventory);
    out << LongNamedWorkloads(900, kFooTarGz);
  }
  ProcessResult stored = Embedded({"workloads", "ingest", inventory});
  ASSERT_EQ(stored.exit_code, 0) << stored.err;
  std::string copy = dir_ + "/copy";
  fs::copy(db_, copy, fs::copy_options::recursive);

  // The same steps in each mode; the plans' ids come from each run's own
  // dry runs (the same review of the same state makes the same id).
  auto steps = [&](const std::function<ProcessResult(std::vector<std::string>)>& run) {
    std::vector<ProcessResult> out;
    out.push_back(run({"revoke", "--digest", kFooPy, "--reason", "INC-20", "--as", "responder"}));
    out.push_back(
        run({"revoke", "--digest", kFooPy, "--reason", "INC-21", "--as", "responder", "--json"}));
    for (const char* json : {"", "--json"}) {
      ProcessResult planned =
          run({"revoke", "--digest", kFooTarGz, "--reason", fmt::format("INC-22{}", json),
               "--dry-run", "--as", "responder"});
      out.push_back(planned);
      std::smatch id;
      EXPECT_TRUE(std::regex_search(planned.out, id, std::regex("plan       ([0-9a-f]{64})")))
          << planned.out;
      std::vector<std::string> enforce = {"enforce", id[1], "--as", "responder"};
      if (*json) enforce.push_back(json);
      out.push_back(run(enforce));
    }
    return out;
  };
  StartDaemon(0, {"--max-message-mib", "1"});
  std::vector<ProcessResult> remote = steps([&](std::vector<std::string> args) {
    return Remote("responder", std::move(args), {"LINEAGE_MAX_MESSAGE_MIB=1"});
  });
  ASSERT_EQ(StopDaemon(), 0);
  db_ = copy;
  std::vector<ProcessResult> embedded =
      steps([&](std::vector<std::string> args) { return Embedded(std::move(args)); });

  ASSERT_EQ(remote.size(), embedded.size());
  for (size_t i = 0; i < remote.size(); ++i) {
    SCOPED_TRACE(fmt::format("step {}", i));
    EXPECT_EQ(remote[i].exit_code, 0) << remote[i].err;
    EXPECT_EQ(remote[i].exit_code, embedded[i].exit_code);
    EXPECT_EQ(Comparable(Untimed(remote[i].out), copy), Comparable(Untimed(embedded[i].out), copy));
    EXPECT_EQ(remote[i].err, embedded[i].err);
  }
  EXPECT_THAT(remote[0].out, HasSubstr("workloads  900 affected\n"));
  EXPECT_THAT(remote[0].out, HasSubstr(fmt::format("-{}\n", 899)));
  EXPECT_THAT(remote[3].out, HasSubstr("enforced   rev-3"));
  EXPECT_THAT(remote[5].out, HasSubstr("\"workloads\":["));
}

// An answer that the daemon sends whole but that is past the client's own
// receive limit (here 900 workloads of about 1.5 KB under descendants,
// against 1 MiB) is an error with advice, not a crash of the CLI.
TEST_F(RemoteCliTest, AnAnswerPastTheClientsLimitIsAnErrorNotACrash) {
  std::string inventory = dir_ + "/prod.json";
  {
    std::ofstream out(inventory);
    out << LongNamedWorkloads(900, kFooTarGz);
  }
  ProcessResult stored = Embedded({"workloads", "ingest", inventory});
  ASSERT_EQ(stored.exit_code, 0) << stored.err;
  StartDaemon();
  ProcessResult whole = Remote("reader", {"descendants", kFooPy});
  ASSERT_EQ(whole.exit_code, 0) << whole.err;
  ProcessResult limited = Remote("reader", {"--max-message-mib", "1", "descendants", kFooPy});
  EXPECT_EQ(limited.exit_code, 4) << limited.err;
  EXPECT_THAT(limited.err, HasSubstr("larger than this client's receive limit"));
  EXPECT_THAT(limited.err, HasSubstr("--max-message-mib"));
  EXPECT_EQ(limited.out, "");
  ASSERT_EQ(StopDaemon(), 0);
}

// lineage evidence over --server writes the embedded command's document
// byte for byte (stdout, --out DIR and its --json summary) though its
// records hold more than one answer: each of the two records lists 900
// workloads of about 1.5 KB, against a 1 MiB limit on both sides.
TEST_F(RemoteCliTest, EvidenceOverTheServerIsTheEmbeddedDocument) {
  std::string inventory = dir_ + "/prod.json";
  {
    std::ofstream out(inventory);
    out << LongNamedWorkloads(900, kFooTarGz);
  }
  ASSERT_EQ(Embedded({"workloads", "ingest", inventory}).exit_code, 0);
  ProcessResult revoked =
      Embedded({"revoke", "--digest", kFooPy, "--reason", "INC-30", "--as", "responder"});
  ASSERT_EQ(revoked.exit_code, 0) << revoked.err;
  std::smatch plan;
  ASSERT_TRUE(std::regex_search(revoked.out, plan, std::regex("\\(plan ([0-9a-f]{64})\\)")));
  ASSERT_EQ(Embedded({"lift", "rev-1", "--reason", "fixed", "--as", "responder"}).exit_code, 0);

  std::string out_dir = dir_ + "/evidence";
  std::vector<std::vector<std::string>> cases = {
      {"evidence", "rev-1"},
      {"evidence", plan[1]},
      {"evidence", "rev-1", "--out", out_dir},
      {"evidence", "rev-1", "--out", out_dir, "--json"},
      {"evidence", plan[1], "--out", out_dir, "--json"},
      {"evidence", "rev-404"},                     // not found
      {"evidence", "../rev-1", "--out", out_dir},  // usage: not a file name
  };
  // Each run's output, and the file it wrote.
  auto run_all = [&](const std::function<ProcessResult(std::vector<std::string>)>& run) {
    std::vector<std::pair<ProcessResult, std::string>> out;
    for (const auto& args : cases) {
      fs::remove_all(out_dir);
      ProcessResult r = run(args);
      std::string written;
      if (args.size() > 2) {
        std::string path = out_dir + "/" + args[1] + ".evidence.json";
        if (fs::exists(path)) written = ReadAll(path);
      }
      out.emplace_back(std::move(r), std::move(written));
    }
    return out;
  };
  StartDaemon(0, {"--max-message-mib", "1"});
  auto remote = run_all([&](std::vector<std::string> args) {
    return Remote("reader", std::move(args), {"LINEAGE_MAX_MESSAGE_MIB=1"});
  });
  ASSERT_EQ(StopDaemon(), 0);
  auto embedded = run_all([&](std::vector<std::string> args) { return Embedded(std::move(args)); });

  for (size_t i = 0; i < cases.size(); ++i) {
    SCOPED_TRACE(fmt::format("lineage {}", fmt::join(cases[i], " ")));
    EXPECT_EQ(remote[i].first.exit_code, embedded[i].first.exit_code) << remote[i].first.err;
    EXPECT_EQ(remote[i].first.out, embedded[i].first.out);
    EXPECT_EQ(remote[i].first.err, embedded[i].first.err);
    EXPECT_EQ(remote[i].second, embedded[i].second);
  }
  // The records, in full: plan, enforce and lift, each workload listed.
  EXPECT_EQ(remote[0].first.exit_code, 0);
  EXPECT_THAT(remote[0].first.out, HasSubstr("\"action\":\"lift\""));
  EXPECT_THAT(remote[0].first.out, HasSubstr(fmt::format("{}-899\"", std::string(1500, 'w'))));
  EXPECT_GT(remote[0].first.out.size(), 2u * 900 * 1500);
  EXPECT_THAT(remote[3].first.out, HasSubstr("\"records\":3"));
  EXPECT_EQ(remote[2].second, remote[0].first.out);
  EXPECT_EQ(remote[5].first.exit_code, 3);
  EXPECT_EQ(remote[6].first.exit_code, 2);
}

// Backups run beside the writer now: taken while inventories and
// revocations stream in, each one restores and its audit chain verifies
// (lineage restore checks it), and the writes all went through.
TEST_F(RemoteCliTest, BackupsTakenDuringWritesRestoreAndVerify) {
  StartDaemon(0, {"--backup-dir", dir_ + "/backups"});
  std::atomic<bool> stop{false};
  std::atomic<int> written{0};
  std::thread writer([&] {
    for (int i = 0; i < 60 && !stop; ++i) {
      std::string inventory = fmt::format("{}/inv-{}.json", dir_, i);
      {
        std::ofstream out(inventory);
        out << fmt::format(
            R"({{"cluster":"c{}","workloads":[{{"namespace":"n","kind":"Job","name":"j",)"
            R"("images":["{}"]}}]}})",
            i % 3, kFooTarGz);
      }
      EXPECT_EQ(Remote("ingest", {"workloads", "ingest", inventory}).exit_code, 0);
      ProcessResult revoked = Remote("responder", {"revoke", "--digest", Digest(i), "--reason",
                                                   fmt::format("INC-{}", i), "--as", "responder"});
      EXPECT_EQ(revoked.exit_code, 0) << revoked.err;
      written = i + 1;
    }
  });
  // Backups while the writer runs: each after at least one more write.
  std::vector<std::string> names;
  for (int b = 0; b < 3; ++b) {
    int before = written;
    ASSERT_TRUE(WaitFor([&] { return written > before; }, 60000));
    names.push_back(fmt::format("bk{}", b));
    ProcessResult backed = Remote("admin", {"backup", names.back()});
    EXPECT_EQ(backed.exit_code, 0) << backed.err;
  }
  stop = true;
  writer.join();
  int total = written;
  ASSERT_EQ(StopDaemon(), 0);

  for (const std::string& name : names) {
    SCOPED_TRACE(name);
    std::string restored = dir_ + "/restored-" + name;
    ProcessResult r =
        RunProcess({LINEAGE_CLI_PATH, "restore", dir_ + "/backups/" + name, restored});
    ASSERT_EQ(r.exit_code, 0) << r.err;
    EXPECT_THAT(r.out, HasSubstr("audit chain verified"));
    ProcessResult revocations = RunProcess({LINEAGE_CLI_PATH, "--db", restored, "revocations"});
    EXPECT_EQ(revocations.exit_code, 0) << revocations.err;
  }
  // Nothing written was lost behind the backups.
  ProcessResult all = Embedded({"revocations", "--json"});
  ASSERT_EQ(all.exit_code, 0) << all.err;
  EXPECT_THAT(all.out, HasSubstr(fmt::format("\"rev-{}\"", total)));
}

// "127.something" is a DNS name, not a loopback address: plaintext to it
// is refused before any lookup.
TEST(RemoteClientTest, PlaintextToANameThatLooksLikeLoopbackIsRefused) {
  ProcessResult r = RunProcess({LINEAGE_CLI_PATH, "--server", "127.attacker.invalid:1", "--token",
                                "lgt_x", "check", kFooPy});
  EXPECT_NE(r.exit_code, 0);
  EXPECT_THAT(r.err, HasSubstr("plaintext is allowed only to a loopback address")) << r.err;
}

// A peer that accepts the connection and never answers: the client gives up
// at its timeout instead of hanging.
TEST(RemoteClientTest, SilentPeerIsDeadlineExceededWithinTheTimeout) {
  int fd = socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in addr = {};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  ASSERT_EQ(bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)), 0);
  ASSERT_EQ(listen(fd, 4), 0);  // the kernel completes the handshake; nobody reads
  socklen_t len = sizeof(addr);
  getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &len);

  rpc::ClientOptions options;
  options.address = fmt::format("127.0.0.1:{}", ntohs(addr.sin_port));
  options.token = "lgt_gate_whatever";
  options.timeout = absl::Milliseconds(300);
  auto started = std::chrono::steady_clock::now();
  absl::StatusOr<std::unique_ptr<rpc::Client>> client = rpc::Client::Connect(options);
  auto took = std::chrono::steady_clock::now() - started;
  close(fd);
  EXPECT_EQ(client.status().code(), absl::StatusCode::kDeadlineExceeded) << client.status();
  EXPECT_LT(took, std::chrono::seconds(5));
}

TEST(RemoteClientTest, NoDaemonIsUnavailableAndABadAddressIsInvalid) {
  rpc::ClientOptions options;
  options.address = fmt::format("127.0.0.1:{}", FreePort());
  EXPECT_EQ(rpc::Client::Connect(options).status().code(), absl::StatusCode::kUnavailable);
  for (const char* bad : {"localhost", "127.0.0.1:", ":7744", "127.0.0.1:99999", "[::1:7"}) {
    options.address = bad;
    EXPECT_EQ(rpc::Client::Connect(options).status().code(), absl::StatusCode::kInvalidArgument)
        << bad;
  }
}

// ---- workloads list, keys, check --at, --kinds over the server

// Runs each case remotely while the daemon is up, then embedded on the same
// database, and expects the same exit code, stdout and stderr.
struct SameCase {
  std::string role;
  std::vector<std::string> args;
};

void ExpectSameBothWays(const std::vector<SameCase>& cases,
                        const std::vector<ProcessResult>& remote,
                        const std::function<ProcessResult(std::vector<std::string>)>& embedded,
                        const std::string& db) {
  ASSERT_EQ(cases.size(), remote.size());
  for (size_t i = 0; i < cases.size(); ++i) {
    ProcessResult local = embedded(cases[i].args);
    SCOPED_TRACE(fmt::format("lineage {}", fmt::join(cases[i].args, " ")));
    EXPECT_EQ(remote[i].exit_code, local.exit_code) << remote[i].err;
    EXPECT_EQ(Comparable(remote[i].out, db), Comparable(local.out, db));
    EXPECT_EQ(remote[i].err, local.err);
  }
}

// A lineage list inventory of `n` workloads in cluster `cluster`, each
// running two images: big enough that its listing needs several pages
// under a 1 MiB message limit.
std::string BigInventory(const std::string& cluster, int n) {
  std::string out = fmt::format(
      "{{\"cluster\":\"{}\",\"time\":\"2026-03-01T00:00:00Z\","
      "\"workloads\":[",
      cluster);
  for (int i = 0; i < n; ++i) {
    out += fmt::format(
        "{}{{\"namespace\":\"ns{}\",\"kind\":\"Deployment\",\"name\":\"service-{:06d}\","
        "\"images\":[\"sha256:{:064x}\",\"sha256:{:064x}\"]}}",
        i == 0 ? "" : ",", i % 7, i, 0xabc00000 + i, 0xdef00000 + i % 50);
  }
  return out + "]}";
}

TEST_F(RemoteCliTest, WorkloadsListEqualsEmbeddedAndPagesUnderASmallMessageLimit) {
  const std::string inv = std::string(LINEAGE_SOURCE_DIR) + "/tests/data/inventories/";
  std::string big = dir_ + "/big.json";
  {
    std::ofstream out(big);
    out << BigInventory("bulk", 8000);
  }
  for (std::vector<std::string> args : std::vector<std::vector<std::string>>{
           {"workloads", "ingest", "-q", inv + "pods.json", "--cluster", "prod"},
           {"workloads", "ingest", "-q", inv + "pods-and-owners.json", "--cluster", "staging"},
           {"workloads", "ingest", "-q", inv + "workloads.json", big}}) {
    ProcessResult stored = Embedded(args);
    ASSERT_EQ(stored.exit_code, 0) << stored.err;
  }
  StartDaemon();
  // The 8,000-workload listing is about 2 MB as one message (1.2 MB of JSON): at a 1 MiB
  // limit it arrives only in pages (one message that large would be refused).
  std::vector<SameCase> cases = {
      {"reader", {"workloads", "list"}},
      {"reader", {"workloads", "list", "--json"}},
      {"reader", {"workloads", "list", "--cluster", "prod"}},
      {"reader", {"workloads", "list", "--cluster", "edge-1", "--json"}},
      {"reader", {"workloads", "list", "--cluster", "nowhere"}},  // not found: exit 3
      {"reader", {"--max-message-mib", "1", "workloads", "list", "--json"}},
      {"reader", {"--max-message-mib", "1", "workloads", "list"}},
      {"reader", {"--max-message-mib", "1", "workloads", "list", "--cluster", "bulk"}},
  };
  std::vector<ProcessResult> remote;
  for (const SameCase& c : cases)
    remote.push_back(Remote(c.role, c.args));
  ProcessResult refused = Remote("gate", {"workloads", "list"});
  EXPECT_EQ(refused.exit_code, 4);
  EXPECT_THAT(refused.err, HasSubstr("needs a reader token"));
  ASSERT_EQ(StopDaemon(), 0);

  ExpectSameBothWays(
      cases, remote, [&](std::vector<std::string> a) { return Embedded(a); }, db_);
  EXPECT_EQ(remote[4].exit_code, 3);
  EXPECT_THAT(remote[4].err, HasSubstr("no inventory for cluster \"nowhere\""));
  EXPECT_GT(remote[5].out.size(), size_t{1} << 20) << "too small to need pages";
  // Checked without printing the megabytes on a failure.
  for (const char* line :
       {"cluster bulk: inventory ", "8000 workloads\n", "cluster edge-1: inventory ",
        "cluster staging: inventory ", "  workload:bulk/ns5/Deployment/service-007999\n"}) {
    EXPECT_NE(remote[6].out.find(line), std::string::npos) << line;
  }
}

// The samples' key 776a00e2 (fingerprint 30af4282...) signs two in-toto
// links; storing them 1.2 s apart makes it a key still signing beyond a 1 s
// rotation age, with the real signatures of the samples.
TEST_F(RemoteCliTest, KeysEqualsEmbeddedWithAStaleKey) {
  std::string credentials = db_ + "/credentials";
  db_ = dir_ + "/keys-db";
  const std::string att = kSamples + "/attestations/";
  ProcessResult first = Embedded({"ingest", "-q", "--policy", kSamples + "/policy.json",
                                  att + "in-toto__in-toto__write-code.776a00e2.link"});
  ASSERT_EQ(first.exit_code, 0) << first.err;
  std::this_thread::sleep_for(std::chrono::milliseconds(1200));
  ProcessResult rest =
      Embedded({"ingest", "-q", "--policy", kSamples + "/policy.json", kSamples + "/attestations"});
  ASSERT_EQ(rest.exit_code, 0) << rest.err;
  StartDaemon(0, {"--credentials", credentials});
  std::vector<SameCase> cases = {
      {"reader", {"keys"}},
      {"reader", {"keys", "--json"}},
      {"reader", {"keys", "--stale", "1s"}},
      {"reader", {"keys", "--stale", "1s", "--json"}},
      {"reader", {"keys", "--stale", "2w"}},
      {"reader", {"keys", "--stale", "soon"}},  // usage error, before any call
  };
  std::vector<ProcessResult> remote;
  for (const SameCase& c : cases)
    remote.push_back(Remote(c.role, c.args));
  ProcessResult refused = Remote("gate", {"keys"});
  EXPECT_EQ(refused.exit_code, 4);
  EXPECT_THAT(refused.err, HasSubstr("needs a reader token"));
  ASSERT_EQ(StopDaemon(), 0);

  ExpectSameBothWays(
      cases, remote, [&](std::vector<std::string> a) { return Embedded(a); }, db_);
  EXPECT_THAT(remote[2].out,
              HasSubstr("STALE   key:sha256:30af4282a269639cf72e2903d43cd7510d06c3"));
  EXPECT_THAT(remote[2].out, HasSubstr("1 long-lived key signed beyond the rotation age of 1s"));
  EXPECT_THAT(remote[0].out, HasSubstr("0 long-lived keys signed beyond"));
  EXPECT_THAT(remote[3].out, HasSubstr("\"beyond_rotation_age\":1,"));
  EXPECT_EQ(remote[5].exit_code, 2);
}

TEST_F(RemoteCliTest, CheckAtEqualsEmbeddedBeforeDuringAndAfterARevocation) {
  StartDaemon();
  ProcessResult revoked = Remote("responder", {"revoke", "--digest", kFooPy, "--reason",
                                               "INC-9 history", "--as", "responder", "--json"});
  ASSERT_EQ(revoked.exit_code, 0) << revoked.err;
  std::smatch enforced;
  ASSERT_TRUE(
      std::regex_search(revoked.out, enforced, std::regex("\"enforced_at\":\"([0-9T:.Z-]+)\"")))
      << revoked.out;
  std::this_thread::sleep_for(std::chrono::milliseconds(50));
  ProcessResult lifted =
      Remote("responder", {"lift", "rev-1", "--reason", "false alarm", "--as", "responder"});
  ASSERT_EQ(lifted.exit_code, 0) << lifted.err;

  const std::string during = enforced[1];
  std::vector<SameCase> cases = {
      {"gate", {"check", kFooTarGz, "--at", "2020-01-01T00:00:00Z"}},  // before: ALLOW
      {"gate", {"check", kFooTarGz, "--at", "2020-01-01T00:00:00Z", "--json"}},
      {"gate", {"check", kFooTarGz, "--at", during}},  // DENY (exit 5), with the reason
      {"gate", {"check", kFooTarGz, "--at", during, "--json"}},
      {"gate", {"check", kFooPy, "--at", during}},
      {"gate", {"check", kFooTarGz, "--at", "2100-01-01T00:00:00Z"}},  // after the lift
      {"gate", {"check", kFooTarGz}},                                  // now, for comparison
      {"gate", {"check", Digest(1), "--at", during, "--unknown", "deny"}},
      {"gate", {"check", Digest(1), "--at", during}},
      {"gate", {"check", kFooTarGz, "--at", "yesterday"}},  // usage error
  };
  std::vector<ProcessResult> remote;
  for (const SameCase& c : cases)
    remote.push_back(Remote(c.role, c.args));
  ProcessResult refused = Remote("reader", {"check", kFooTarGz, "--at", during});
  EXPECT_EQ(refused.exit_code, 4);
  EXPECT_THAT(refused.err, HasSubstr("needs a gate token"));
  ASSERT_EQ(StopDaemon(), 0);

  ExpectSameBothWays(
      cases, remote, [&](std::vector<std::string> a) { return Embedded(a); }, db_);
  EXPECT_EQ(remote[0].exit_code, 0);
  EXPECT_THAT(remote[0].out, HasSubstr("ALLOW " + std::string(kFooTarGz)));
  EXPECT_EQ(remote[2].exit_code, 5);
  EXPECT_THAT(remote[2].out, HasSubstr("denied by  rev-1  INC-9 history"));
  EXPECT_EQ(remote[4].exit_code, 5);
  EXPECT_EQ(remote[5].exit_code, 0);
  EXPECT_EQ(remote[6].exit_code, 0);
  EXPECT_EQ(remote[7].exit_code, 5);
  EXPECT_EQ(remote[9].exit_code, 2);
}

TEST_F(RemoteCliTest, TraversalKindsEqualEmbeddedInBothDirections) {
  StartDaemon();
  const std::string key =
      "key:sha256:30af4282a269639cf72e2903d43cd7510d06c32df37a349c7fa4157373e63f09";
  std::vector<SameCase> cases = {
      {"reader", {"descendants", kFooPy, "--kinds", "derived"}},
      {"reader", {"descendants", kFooPy, "--kinds", "signed"}},  // none from an artifact
      {"reader", {"descendants", key, "--kinds", "signed", "--json"}},
      {"reader", {"descendants", key, "--kinds", "signed,derived"}},
      {"reader", {"descendants", key, "--kinds", "signed,derived", "--count"}},
      {"reader", {"descendants", key, "--kinds", "built,runs"}},
      {"reader", {"ancestors", kFooTarGz, "--kinds", "derived"}},
      {"reader", {"ancestors", kFooTarGz, "--kinds", "signed", "--json"}},
      {"reader", {"ancestors", kFooTarGz, "--kinds", "derived,signed,built,runs"}},
      {"reader", {"ancestors", kFooTarGz, "--kinds", "signed", "--count"}},
      {"reader", {"descendants", kFooPy, "--kinds", "derived,bogus"}},  // usage error
  };
  std::vector<ProcessResult> remote;
  for (const SameCase& c : cases)
    remote.push_back(Remote(c.role, c.args));
  ASSERT_EQ(StopDaemon(), 0);

  ExpectSameBothWays(
      cases, remote, [&](std::vector<std::string> a) { return Embedded(a); }, db_);
  // The filter is applied: signed edges alone reach less than every kind.
  ProcessResult all = Embedded({"ancestors", kFooTarGz});
  EXPECT_NE(remote[7].out, Embedded({"ancestors", kFooTarGz, "--json"}).out);
  EXPECT_THAT(remote[3].out, HasSubstr(kFooTarGz));
  EXPECT_THAT(remote[2].out, Not(HasSubstr(kFooTarGz)));
  EXPECT_EQ(remote[8].out, all.out);
  EXPECT_EQ(remote[10].exit_code, 2);
  EXPECT_THAT(remote[10].err, HasSubstr("--kinds: unknown edge kind \"bogus\""));
}

}  // namespace
}  // namespace lineage
