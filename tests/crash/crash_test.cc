// Crash test: kills a real lineage writer (crash_driver) with SIGKILL at
// random points while it ingests, plans, approves, enforces, lifts and flips
// the advisory-only switch, then reopens the database and checks that every
// change is there whole or not at all:
//
//   1. the store opens (no DataLoss);
//   2. the audit chain verifies and holds exactly the landed revocation
//      actions, in journal order;
//   3. every plan, approval, enforcement and lift the journal marks done is
//      there, in the right state; the one in flight is entirely there or
//      entirely absent (plan state, revocation, deny-list record, audit entry
//      and evidence agree);
//   4. the deny list equals a reference recomputed from scratch: over the
//      graph the journal describes, the union of the closures (roots, or the
//      subjects a key signed / a builder built in the window, plus derived
//      descendants) of the active enforcing revocations, unless advisory-only.
//      Sticky taint makes closures relative to the current graph, so no
//      history is needed;
//   5. Check() of every artifact agrees with that reference;
//   6. the deny-list log has no gaps, replaying its deltas from empty gives
//      DenyList(), and each enforce, lift and switch has exactly its delta;
//   7. every attestation of a landed ingest is stored, none of one that did
//      not land, and the graph's counts match the journal.
//
// A third of the kill points (outside sanitizer builds) are exact instead of
// timed: the driver kills itself at the n-th write() to RocksDB's WAL, before
// it, in the middle of it (a torn record, as SIGKILL can leave a multi-page
// write) or after it; the operation caught must then be absent, absent and
// landed respectively.
//
// The driver is then restarted on the same database and carries on. The base
// seed is printed; LINEAGE_CRASH_SEED reruns the same operation sequences
// (the kill instants depend on timing, so a run is not replayed exactly).
// LINEAGE_CRASH_KILLS sets the number of kill points (default 12; the
// "stress" ctest entry runs 150).
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <stdlib.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdint>
#include <deque>
#include <filesystem>
#include <fstream>
#include <map>
#include <memory>
#include <optional>
#include <random>
#include <set>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include <fmt/format.h>
#include <gtest/gtest.h>

#include "absl/container/flat_hash_map.h"
#include "absl/container/flat_hash_set.h"
#include "engine/include/lineage/log.h"
#include "engine/include/lineage/store.h"
#include "tests/crash/crash_journal.h"

extern char** environ;

namespace lineage::crash {
namespace {

constexpr int kDefaultKills = 12;
// The driver is killed this long after it reports ready.
constexpr int kMinDelayMs = 5;
constexpr int kMaxDelayMs = 80;
constexpr int kReadyTimeoutMs = 60000;  // open and restore, under ASan, of a large database
constexpr int kExitTimeoutMs = 20000;
// An exact kill lands at one of the first this many WAL writes of a run.
constexpr uint64_t kMaxWalWrite = 150;

uint64_t SplitMix(uint64_t x) {
  x += 0x9e3779b97f4a7c15ull;
  x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9ull;
  x = (x ^ (x >> 27)) * 0x94d049bb133111ebull;
  return x ^ (x >> 31);
}

uint64_t EnvOr(const char* name, uint64_t fallback) {
  const char* value = std::getenv(name);
  return value != nullptr && *value != '\0' ? std::strtoull(value, nullptr, 10) : fallback;
}

std::string Tail(const std::string& path, size_t max_bytes = 4000) {
  std::ifstream in(path);
  std::stringstream buffer;
  buffer << in.rdbuf();
  std::string text = buffer.str();
  return text.size() > max_bytes ? text.substr(text.size() - max_bytes) : text;
}

// One running crash_driver. The destructor kills and reaps it, so that a
// failing assertion never leaves a writer running on the database.
class DriverProcess {
 public:
  // `env` is added to the test's environment.
  DriverProcess(const std::string& db, const std::string& journal, uint64_t seed,
                const std::string& stderr_path, const std::vector<std::string>& env) {
    int out[2];
    if (pipe2(out, O_CLOEXEC) != 0) return;
    out_fd_ = out[0];
    posix_spawn_file_actions_t actions;
    posix_spawn_file_actions_init(&actions);
    posix_spawn_file_actions_adddup2(&actions, out[1], STDOUT_FILENO);
    posix_spawn_file_actions_addopen(&actions, STDERR_FILENO, stderr_path.c_str(),
                                     O_WRONLY | O_CREAT | O_TRUNC, 0644);
    std::string seed_text = std::to_string(seed);
    std::string program = LINEAGE_CRASH_DRIVER;
    std::vector<char*> argv = {program.data(), const_cast<char*>(db.c_str()),
                               const_cast<char*>(journal.c_str()), seed_text.data(), nullptr};
    std::vector<std::string> env_strings(env);
    for (char** e = environ; *e != nullptr; ++e)
      env_strings.emplace_back(*e);
    std::vector<char*> envp;
    for (std::string& e : env_strings)
      envp.push_back(e.data());
    envp.push_back(nullptr);
    if (posix_spawn(&pid_, program.c_str(), &actions, nullptr, argv.data(), envp.data()) != 0) {
      pid_ = -1;
    }
    posix_spawn_file_actions_destroy(&actions);
    close(out[1]);
    // A pidfd lets poll() wait for the driver's exit with a timeout.
    if (pid_ > 0) pidfd_ = static_cast<int>(syscall(SYS_pidfd_open, pid_, 0));
  }

  ~DriverProcess() {
    if (pid_ > 0) {
      kill(pid_, SIGKILL);
      // Bounded: nothing survives SIGKILL for long.
      waitpid(pid_, nullptr, 0);
    }
    if (out_fd_ >= 0) close(out_fd_);
    if (pidfd_ >= 0) close(pidfd_);
  }
  DriverProcess(const DriverProcess&) = delete;
  DriverProcess& operator=(const DriverProcess&) = delete;

  bool started() const { return pid_ > 0 && pidfd_ >= 0 && out_fd_ >= 0; }

  // Waits for the driver's "ready" line. An error if it exits first or does
  // not become ready in time.
  absl::Status WaitReady(int timeout_ms) {
    std::string seen;
    auto deadline = std::chrono::steady_clock::now() + std::chrono::milliseconds(timeout_ms);
    while (seen.find("ready\n") == std::string::npos) {
      auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
                      deadline - std::chrono::steady_clock::now())
                      .count();
      if (left <= 0) return absl::DeadlineExceededError("the driver did not become ready");
      pollfd fds[2] = {{out_fd_, POLLIN, 0}, {pidfd_, POLLIN, 0}};
      if (poll(fds, 2, static_cast<int>(left)) < 0 && errno != EINTR) {
        return absl::ErrnoToStatus(errno, "poll");
      }
      if (fds[0].revents & (POLLIN | POLLHUP)) {
        char buf[64];
        ssize_t n = read(out_fd_, buf, sizeof(buf));
        if (n > 0) seen.append(buf, static_cast<size_t>(n));
        if (n == 0) return absl::InternalError("the driver closed stdout before it was ready");
      } else if (fds[1].revents & POLLIN) {
        return absl::InternalError("the driver exited before it was ready");
      }
    }
    return absl::OkStatus();
  }

  // Waits for the driver to kill itself (its WAL hook) and reaps it.
  absl::Status WaitKilled(int timeout_ms) {
    pollfd gone = {pidfd_, POLLIN, 0};
    if (poll(&gone, 1, timeout_ms) != 1) {
      return absl::DeadlineExceededError("the driver did not reach its kill point");
    }
    int status = 0;
    pid_t reaped = waitpid(pid_, &status, 0);
    pid_ = -1;
    if (reaped < 0) return absl::ErrnoToStatus(errno, "waitpid");
    if (!WIFSIGNALED(status) || WTERMSIG(status) != SIGKILL) {
      return absl::InternalError(fmt::format("the driver ended otherwise (status {:#x})", status));
    }
    return absl::OkStatus();
  }

  // SIGKILLs the driver and reaps it. An error if it had already exited by
  // itself (a failed store call, see its stderr) or does not go away.
  absl::Status Kill(int timeout_ms) {
    pollfd early = {pidfd_, POLLIN, 0};
    bool exited_already = poll(&early, 1, 0) == 1;
    kill(pid_, SIGKILL);
    pollfd gone = {pidfd_, POLLIN, 0};
    if (poll(&gone, 1, timeout_ms) != 1) return absl::DeadlineExceededError("driver survived");
    int status = 0;
    pid_t reaped = waitpid(pid_, &status, 0);
    pid_ = -1;
    if (reaped < 0) return absl::ErrnoToStatus(errno, "waitpid");
    if (exited_already || !WIFSIGNALED(status) || WTERMSIG(status) != SIGKILL) {
      return absl::InternalError(
          fmt::format("the driver ended by itself before the kill (status {:#x})", status));
    }
    return absl::OkStatus();
  }

 private:
  pid_t pid_ = -1;
  int out_fd_ = -1;
  int pidfd_ = -1;
};

// What the journal says the store must hold, given which in-flight
// operations landed.
struct Model {
  struct Signature {
    std::string by;  // "key:..." or "builder:..."
    uint32_t subject;
    int64_t time;
  };
  struct PlanState {
    uint64_t op = 0;
    std::vector<RevocationRoot> roots;
    RevocationMode mode = RevocationMode::kEnforce;
    std::vector<std::string> approvals;
    std::string revocation;
    bool lifted = false;
  };
  struct RevState {
    std::string plan_id;
    bool active = true;
  };

  std::vector<std::string> artifacts;
  absl::flat_hash_map<std::string, uint32_t> index;
  std::vector<std::vector<uint32_t>> children;  // derived edges
  absl::flat_hash_set<std::pair<uint32_t, uint32_t>> derived;
  std::vector<Signature> signatures;
  std::set<std::string> keys, builders;
  uint64_t edge_assertions = 0;
  std::vector<std::string> stored_records, absent_records;
  std::map<std::string, PlanState> plans;
  std::map<uint64_t, RevState> revocations;  // by number
  bool advisory_only = false;
  // (action, subject, actor) of every landed revocation action, in order.
  std::vector<std::tuple<std::string, std::string, std::string>> audit;
  std::vector<std::string> deny_causes;  // causes of enforce, lift and switch deltas

  uint32_t AddArtifact(const std::string& digest) {
    auto [it, inserted] = index.try_emplace(digest, static_cast<uint32_t>(artifacts.size()));
    if (inserted) {
      artifacts.push_back(digest);
      children.emplace_back();
    }
    return it->second;
  }

  void AddRecord(const JournalRecord& r) {
    std::vector<uint32_t> materials;
    for (const std::string& m : r.materials)
      materials.push_back(AddArtifact(m));
    for (const std::string& s : r.subjects) {
      uint32_t subject = AddArtifact(s);
      for (uint32_t m : materials) {
        if (derived.insert({m, subject}).second) children[m].push_back(subject);
        edge_assertions++;
      }
      if (!r.key.empty()) {
        signatures.push_back({r.key, subject, r.time});
        edge_assertions++;
      }
      if (!r.builder.empty()) {
        signatures.push_back({"builder:" + r.builder, subject, r.time});
        edge_assertions++;
      }
    }
    if (!r.key.empty()) keys.insert(r.key);
    if (!r.builder.empty()) builders.insert("builder:" + r.builder);
  }

  // The closure of `roots` over the current graph, by plain BFS.
  std::vector<bool> Closure(const std::vector<RevocationRoot>& roots) const {
    std::vector<bool> in(artifacts.size(), false);
    std::deque<uint32_t> queue;
    auto reach = [&](uint32_t n) {
      if (!in[n]) {
        in[n] = true;
        queue.push_back(n);
      }
    };
    for (const RevocationRoot& root : roots) {
      if (root.ref.rfind("sha256:", 0) == 0) {
        if (auto it = index.find(root.ref); it != index.end()) reach(it->second);
        continue;
      }
      for (const Signature& s : signatures) {
        absl::Time t = absl::FromUnixSeconds(s.time);
        if (s.by == root.ref && root.since <= t && t < root.until) reach(s.subject);
      }
    }
    while (!queue.empty()) {
      uint32_t u = queue.front();
      queue.pop_front();
      for (uint32_t v : children[u])
        reach(v);
    }
    return in;
  }
};

std::string RevId(uint64_t number) {
  return fmt::format("rev-{}", number);
}

// Where the driver dies: at a random instant, killed by the test, or by its
// own hook at an exact write() to RocksDB's WAL (crash_driver.cc).
enum class KillMode { kTimed, kWalBefore, kWalTorn, kWalAfter };
constexpr const char* kKillModeNames[] = {"timed", "before a WAL write", "in a torn WAL write",
                                          "after a WAL write"};

#if defined(__SANITIZE_ADDRESS__)
constexpr bool kWalHook = false;  // the driver has none under ASan
#else
constexpr bool kWalHook = true;
#endif

struct Figures {
  std::map<std::string, int> kills_by_mode;
  int kill_points = 0;
  int mid_operation = 0;
  int landed = 0;
  std::map<std::string, int> in_flight_by_kind;
  uint64_t ops_done = 0;
};

class CrashTest : public ::testing::Test {
 protected:
  void SetUp() override {
    std::string pattern = ::testing::TempDir() + "lineage-crash-XXXXXX";
    ASSERT_NE(mkdtemp(pattern.data()), nullptr);
    dir_ = pattern;
    db_ = dir_ + "/db";
    journal_ = dir_ + "/journal";
  }

  void TearDown() override {
    if (HasFailure()) {
      fmt::print("crash test: database, journal and driver logs kept in {}\n", dir_);
      return;
    }
    std::error_code ec;
    std::filesystem::remove_all(dir_, ec);
  }

  // Resolves whether the in-flight `op` landed, from what the store holds.
  // For an ingest, fails unless all of its records or none are stored.
  void Resolve(Store& store, const JournalOp& op) {
    bool landed = false;
    std::string id;
    switch (op.kind) {
      case OpKind::kIngest:
      case OpKind::kIngestBatch: {
        size_t stored = 0;
        for (const JournalRecord& r : op.records) {
          absl::StatusOr<AttestationSummary> a = store.GetAttestation(r.id);
          ASSERT_TRUE(a.ok() || absl::IsNotFound(a.status())) << a.status();
          stored += a.ok();
        }
        ASSERT_TRUE(stored == 0 || stored == op.records.size())
            << "op " << op.number << " " << OpKindName(op.kind) << " is half applied: " << stored
            << " of " << op.records.size() << " attestations stored";
        landed = stored > 0;
        break;
      }
      case OpKind::kPlan: {
        absl::StatusOr<std::vector<Plan>> plans = store.ListPlans();
        ASSERT_TRUE(plans.ok()) << plans.status();
        for (const Plan& p : *plans) {
          if (p.reason != PlanReason(op.number)) continue;
          ASSERT_FALSE(landed) << "two plans for op " << op.number;
          landed = true;
          id = p.id;
        }
        break;
      }
      case OpKind::kApprove: {
        absl::StatusOr<Plan> plan = store.GetPlan(op.plan_id, PlanListing{0, 0});
        ASSERT_TRUE(plan.ok()) << plan.status();
        for (const Approval& a : plan->approvals)
          landed = landed || a.principal == op.principal;
        break;
      }
      case OpKind::kEnforce: {
        absl::StatusOr<Plan> plan = store.GetPlan(op.plan_id, PlanListing{0, 0});
        ASSERT_TRUE(plan.ok()) << plan.status();
        landed = plan->state == PlanState::kEnforced;
        ASSERT_EQ(landed, !plan->revocation.empty()) << "plan " << op.plan_id;
        id = plan->revocation;
        break;
      }
      case OpKind::kLift: {
        absl::StatusOr<Revocation> rev = store.GetRevocation(op.revocation);
        ASSERT_TRUE(rev.ok()) << rev.status();
        landed = rev->state == RevocationState::kLifted;
        break;
      }
      case OpKind::kSettings:
        // Only valid while the op is the journal's last: it is resolved
        // right after the kill that caught it and remembered.
        landed = store.GetSettings().advisory_only == op.advisory_only;
        break;
    }
    auto [it, first] = resolved_.try_emplace(op.number, landed, id);
    ASSERT_EQ(it->second.first, landed)
        << "op " << op.number << " " << OpKindName(op.kind) << " changed from "
        << (it->second.first ? "landed" : "absent") << " to " << (landed ? "landed" : "absent")
        << " across restarts";
    if (first && op.number == journal_ops_) {
      last_landed_ = landed;
      figures_.mid_operation++;
      figures_.landed += landed;
      figures_.in_flight_by_kind[std::string(OpKindName(op.kind))]++;
    }
  }

  // Folds the journal and the resolutions into the model.
  void BuildModel(const Journal& journal, Model* m) {
    for (const JournalOp& op : journal.ops) {
      bool landed = op.done;
      std::string result = op.result;
      if (!op.done) {
        auto it = resolved_.find(op.number);
        ASSERT_NE(it, resolved_.end()) << "op " << op.number << " unresolved";
        landed = it->second.first;
        result = it->second.second;
      }
      if (op.kind == OpKind::kIngest || op.kind == OpKind::kIngestBatch) {
        for (const JournalRecord& r : op.records) {
          (landed ? m->stored_records : m->absent_records).push_back(r.id);
          if (landed) m->AddRecord(r);
        }
        continue;
      }
      if (!landed) continue;
      switch (op.kind) {
        case OpKind::kPlan:
          ASSERT_FALSE(m->plans.contains(result)) << "op " << op.number;
          m->plans[result] = {op.number, op.roots, op.mode, {}, "", false};
          m->audit.emplace_back("plan", result, "alice");
          break;
        case OpKind::kApprove:
          ASSERT_TRUE(m->plans.contains(op.plan_id)) << "op " << op.number;
          m->plans[op.plan_id].approvals.push_back(op.principal);
          m->audit.emplace_back("approve", op.plan_id, op.principal);
          break;
        case OpKind::kEnforce: {
          ASSERT_TRUE(m->plans.contains(op.plan_id)) << "op " << op.number;
          uint64_t number = m->revocations.size() + 1;  // numbered in enforcement order
          ASSERT_EQ(result, RevId(number)) << "op " << op.number;
          m->plans[op.plan_id].revocation = result;
          m->revocations[number] = {op.plan_id, true};
          // A digest root not in the graph becomes a node when enforced.
          for (const RevocationRoot& root : m->plans[op.plan_id].roots) {
            if (root.ref.rfind("sha256:", 0) == 0) m->AddArtifact(root.ref);
          }
          m->audit.emplace_back("enforce", result, "dave");
          m->deny_causes.push_back("enforce " + result);
          break;
        }
        case OpKind::kLift: {
          uint64_t number = std::strtoull(op.revocation.c_str() + 4, nullptr, 10);
          ASSERT_TRUE(m->revocations.contains(number) && m->revocations[number].active)
              << "op " << op.number;
          m->revocations[number].active = false;
          m->plans[m->revocations[number].plan_id].lifted = true;
          m->audit.emplace_back("lift", op.revocation, "erin");
          m->deny_causes.push_back("lift " + op.revocation);
          break;
        }
        case OpKind::kSettings:
          ASSERT_NE(m->advisory_only, op.advisory_only) << "op " << op.number;
          m->advisory_only = op.advisory_only;
          m->audit.emplace_back("settings", "settings", "frank");
          m->deny_causes.push_back(op.advisory_only ? "settings: advisory-only on"
                                                    : "settings: advisory-only off");
          break;
        default:
          break;
      }
    }
  }

  // Every invariant, after kill point `kill`. `full_replay`: replay the
  // deny-list log from its start rather than from the last check.
  void Verify(int kill, bool full_replay) {
    absl::StatusOr<Journal> journal = ReadJournal(journal_);
    ASSERT_TRUE(journal.ok()) << journal.status();
    journal_ops_ = journal->ops.size();
    last_landed_.reset();

    // (1) The store opens: recovery after the kill finds nothing corrupt.
    StoreOptions options;
    options.logger = NewNullLogger();
    options.block_cache_bytes = 8 << 20;
    absl::StatusOr<std::unique_ptr<Store>> opened = Store::Open(db_, options);
    ASSERT_TRUE(opened.ok()) << "reopen after kill " << kill << ": " << opened.status();
    Store& store = **opened;

    for (const JournalOp& op : journal->ops) {
      if (op.done) continue;
      // An ingest found in flight is re-checked for all-or-none every time;
      // other operations are resolved once, when they were in flight (the
      // model's checks below see that they still hold).
      bool ingest = op.kind == OpKind::kIngest || op.kind == OpKind::kIngestBatch;
      if (!ingest && resolved_.contains(op.number)) continue;
      ASSERT_NO_FATAL_FAILURE(Resolve(store, op));
    }
    Model m;
    ASSERT_NO_FATAL_FAILURE(BuildModel(*journal, &m));
    figures_.ops_done = 0;
    for (const JournalOp& op : journal->ops)
      figures_.ops_done += op.done;

    ASSERT_NO_FATAL_FAILURE(CheckAudit(store, m));
    ASSERT_NO_FATAL_FAILURE(CheckAttestations(store, m));
    ASSERT_NO_FATAL_FAILURE(CheckPlansAndRevocations(store, m));
    ASSERT_NO_FATAL_FAILURE(CheckDenyList(store, m, full_replay));
    ASSERT_NO_FATAL_FAILURE(CheckEvidence(store, m, *journal));
    checked_ops_ = journal->ops.size();
  }

  // (2) The audit chain verifies and is exactly the landed actions.
  void CheckAudit(Store& store, const Model& m) {
    absl::StatusOr<AuditVerification> v = store.VerifyAudit();
    ASSERT_TRUE(v.ok()) << v.status();
    std::string problems;
    for (const std::string& p : v->problems)
      problems += p + "; ";
    ASSERT_TRUE(v->ok) << problems;
    ASSERT_EQ(v->entries, m.audit.size());
    absl::StatusOr<std::vector<AuditEntry>> log = store.AuditLog(1, SIZE_MAX);
    ASSERT_TRUE(log.ok()) << log.status();
    ASSERT_EQ(log->size(), m.audit.size());
    for (size_t i = 0; i < log->size(); ++i) {
      const auto& [action, subject, actor] = m.audit[i];
      const AuditEntry& e = (*log)[i];
      ASSERT_EQ(e.seq, i + 1);
      ASSERT_EQ(e.action, action) << "audit entry " << e.seq;
      ASSERT_EQ(e.subject, subject) << "audit entry " << e.seq;
      ASSERT_EQ(e.actor, actor) << "audit entry " << e.seq;
    }
  }

  // (7) Landed attestations are stored, others are not, and the graph's
  // counts are the journal's.
  void CheckAttestations(Store& store, const Model& m) {
    for (const std::string& id : m.stored_records) {
      absl::StatusOr<AttestationSummary> a = store.GetAttestation(id);
      ASSERT_TRUE(a.ok()) << id << ": " << a.status();
    }
    for (const std::string& id : m.absent_records) {
      ASSERT_TRUE(absl::IsNotFound(store.GetAttestation(id).status())) << id << " is stored";
    }
    absl::StatusOr<StoreStats> stats = store.Stats();
    ASSERT_TRUE(stats.ok()) << stats.status();
    auto nodes = [&](NodeKind k) { return stats->nodes_by_kind[static_cast<int>(k) - 1]; };
    auto edges = [&](EdgeKind k) { return stats->edges_by_kind[static_cast<int>(k) - 1]; };
    ASSERT_EQ(stats->attestations, m.stored_records.size());
    ASSERT_EQ(nodes(NodeKind::kArtifact), m.artifacts.size());
    ASSERT_EQ(nodes(NodeKind::kKey), m.keys.size());
    ASSERT_EQ(nodes(NodeKind::kBuilder), m.builders.size());
    ASSERT_EQ(edges(EdgeKind::kDerived), m.derived.size());
    uint64_t signed_edges = 0;
    for (const Model::Signature& s : m.signatures)
      signed_edges += s.by.rfind("key:", 0) == 0;
    ASSERT_EQ(edges(EdgeKind::kSigned), signed_edges);
    ASSERT_EQ(edges(EdgeKind::kBuilt), m.signatures.size() - signed_edges);
    ASSERT_EQ(stats->edge_assertions, m.edge_assertions);
  }

  // (3) Plans and revocations are in the state the landed operations left.
  void CheckPlansAndRevocations(Store& store, const Model& m) {
    absl::StatusOr<std::vector<Plan>> plans = store.ListPlans();
    ASSERT_TRUE(plans.ok()) << plans.status();
    ASSERT_EQ(plans->size(), m.plans.size());
    for (const Plan& p : *plans) {
      auto it = m.plans.find(p.id);
      ASSERT_NE(it, m.plans.end()) << "unexpected plan " << p.id;
      const Model::PlanState& want = it->second;
      ASSERT_EQ(p.reason, PlanReason(want.op));
      ASSERT_EQ(p.roots, want.roots) << "plan " << p.id;
      ASSERT_EQ(p.mode, want.mode);
      std::vector<std::string> approvals;
      for (const Approval& a : p.approvals)
        approvals.push_back(a.principal);
      ASSERT_EQ(approvals, want.approvals) << "plan " << p.id;
      ASSERT_EQ(p.state, want.revocation.empty() ? PlanState::kPending : PlanState::kEnforced);
      ASSERT_EQ(p.revocation, want.revocation);
    }

    absl::StatusOr<std::vector<Revocation>> revs = store.ListRevocations();
    ASSERT_TRUE(revs.ok()) << revs.status();
    ASSERT_EQ(revs->size(), m.revocations.size());
    for (size_t i = 0; i < revs->size(); ++i) {
      const Revocation& r = (*revs)[i];
      const Model::RevState& want = m.revocations.at(i + 1);
      ASSERT_EQ(r.id, RevId(i + 1));
      ASSERT_EQ(r.plan_id, want.plan_id);
      const Model::PlanState& plan = m.plans.at(want.plan_id);
      ASSERT_EQ(r.roots, plan.roots);
      ASSERT_EQ(r.mode, plan.mode);
      ASSERT_EQ(r.enforced_by, "dave");
      ASSERT_EQ(r.approvals.size(), plan.approvals.size());
      ASSERT_EQ(r.state, want.active ? RevocationState::kActive : RevocationState::kLifted) << r.id;
      ASSERT_EQ(r.lifted_by, want.active ? "" : "erin") << r.id;
      if (want.active) {
        std::vector<bool> closure = m.Closure(plan.roots);
        ASSERT_EQ(r.artifact_count, std::count(closure.begin(), closure.end(), true)) << r.id;
      }
    }
  }

  // (4), (5), (6): the deny list, every artifact's check, and the log.
  void CheckDenyList(Store& store, const Model& m, bool full_replay) {
    ASSERT_EQ(store.GetSettings().advisory_only, m.advisory_only);

    // The reference: which active revocations cover each artifact.
    std::vector<std::vector<std::string>> covering(m.artifacts.size());
    std::vector<std::vector<std::string>> denying(m.artifacts.size());
    for (const auto& [number, rev] : m.revocations) {
      if (!rev.active) continue;
      const Model::PlanState& plan = m.plans.at(rev.plan_id);
      std::vector<bool> closure = m.Closure(plan.roots);
      bool denies = plan.mode == RevocationMode::kEnforce && !m.advisory_only;
      for (size_t a = 0; a < closure.size(); ++a) {
        if (!closure[a]) continue;
        (denies ? denying : covering)[a].push_back(RevId(number));
      }
    }
    std::vector<std::string> expected_denied;
    for (size_t a = 0; a < m.artifacts.size(); ++a) {
      if (!denying[a].empty()) expected_denied.push_back(m.artifacts[a]);
    }
    std::sort(expected_denied.begin(), expected_denied.end());

    absl::StatusOr<DenyListSnapshot> snapshot = store.DenyList();
    ASSERT_TRUE(snapshot.ok()) << snapshot.status();
    ASSERT_EQ(snapshot->digests.size(), expected_denied.size());
    ASSERT_TRUE(snapshot->digests == expected_denied) << "the deny list differs from the reference";

    for (size_t a = 0; a < m.artifacts.size(); ++a) {
      absl::StatusOr<CheckResult> c = store.Check(m.artifacts[a], {});
      ASSERT_TRUE(c.ok()) << c.status();
      ASSERT_TRUE(c->known) << m.artifacts[a];
      ASSERT_EQ(c->verdict, denying[a].empty() ? Verdict::kAllow : Verdict::kDeny)
          << m.artifacts[a];
      ASSERT_EQ(c->denied_by, denying[a]) << m.artifacts[a];
      ASSERT_EQ(c->advisories, covering[a]) << m.artifacts[a];
      ASSERT_EQ(c->advisory_only, m.advisory_only);
    }

    // The log: gap-free, strict deltas that replay to the snapshot, and
    // exactly one delta per enforce, lift and switch, in order. Replaying
    // the whole log each time costs as much as the rest together, so most
    // checks go on from the last one's replay: the log below its head was
    // checked then, and a shorter log is caught here.
    if (full_replay) replay_ = Replay();
    ASSERT_GE(snapshot->seq, replay_.seq) << "the deny-list log lost deltas";
    absl::flat_hash_set<std::string>& replayed = replay_.digests;
    std::vector<std::string>& causes = replay_.causes;
    absl::flat_hash_map<std::string, uint64_t>& enforce_seq = replay_.enforce_seq;
    absl::flat_hash_set<std::string> stored(m.stored_records.begin(), m.stored_records.end());
    uint64_t& seq = replay_.seq;
    for (int page = 0; page < 1000000; ++page) {
      absl::StatusOr<DenyListPage> p = store.DenyListSince(seq, 512);
      ASSERT_TRUE(p.ok()) << p.status();
      ASSERT_EQ(p->head_seq, snapshot->seq);
      for (const DenyDelta& d : p->deltas) {
        ASSERT_EQ(d.seq, seq + 1) << "a gap in the deny-list log";
        seq = d.seq;
        for (const std::string& digest : d.added)
          ASSERT_TRUE(replayed.insert(digest).second) << "delta " << d.seq << " re-adds " << digest;
        for (const std::string& digest : d.removed)
          ASSERT_EQ(replayed.erase(digest), 1u) << "delta " << d.seq << " removes " << digest;
        if (d.cause.rfind("ingest ", 0) == 0) {
          // "ingest <id>", or "ingest of N attestations from <id>" for a
          // batch: either way <id> landed.
          std::string id = d.cause.substr(7);
          constexpr std::string_view kFrom = " attestations from ";
          if (size_t from = d.cause.find(kFrom);
              d.cause.rfind("ingest of ", 0) == 0 && from != std::string::npos) {
            id = d.cause.substr(from + kFrom.size());
          }
          ASSERT_TRUE(stored.contains(id)) << "delta " << d.seq << ": " << d.cause;
        } else {
          causes.push_back(d.cause);
          if (d.cause.rfind("enforce ", 0) == 0) enforce_seq[d.cause.substr(8)] = d.seq;
        }
      }
      if (!p->truncated) break;
    }
    ASSERT_EQ(seq, snapshot->seq);
    std::vector<std::string> replayed_sorted(replayed.begin(), replayed.end());
    std::sort(replayed_sorted.begin(), replayed_sorted.end());
    ASSERT_TRUE(replayed_sorted == snapshot->digests)
        << "replaying the deny-list log does not give the deny list";
    ASSERT_EQ(causes, m.deny_causes);
    absl::StatusOr<std::vector<Revocation>> revs = store.ListRevocations();
    ASSERT_TRUE(revs.ok()) << revs.status();
    for (const Revocation& r : *revs)
      ASSERT_EQ(r.enforced_seq, enforce_seq[r.id]) << r.id;
  }

  // (3) continued: the evidence of every plan touched since the last check
  // is exactly its landed actions.
  void CheckEvidence(Store& store, const Model& m, const Journal& journal) {
    std::set<std::string> touched;
    for (size_t i = checked_ops_; i < journal.ops.size(); ++i) {
      const JournalOp& op = journal.ops[i];
      if (op.kind == OpKind::kApprove || op.kind == OpKind::kEnforce) touched.insert(op.plan_id);
      if (op.kind == OpKind::kPlan) {
        std::string id = op.done ? op.result : resolved_.at(op.number).second;
        if (!id.empty()) touched.insert(id);
      }
      if (op.kind == OpKind::kLift) {
        uint64_t number = std::strtoull(op.revocation.c_str() + 4, nullptr, 10);
        touched.insert(m.revocations.at(number).plan_id);
      }
    }
    for (const std::string& plan_id : touched) {
      const Model::PlanState& plan = m.plans.at(plan_id);
      std::vector<std::string> want = {"plan alice"};
      for (const std::string& p : plan.approvals)
        want.push_back("approve " + p);
      if (!plan.revocation.empty()) want.push_back("enforce dave");
      if (plan.lifted) want.push_back("lift erin");
      absl::StatusOr<std::vector<EvidenceRecord>> evidence = store.Evidence(plan_id);
      ASSERT_TRUE(evidence.ok()) << evidence.status();
      std::vector<std::string> got;
      for (const EvidenceRecord& e : *evidence)
        got.push_back(e.action + " " + e.actor);
      ASSERT_EQ(got, want) << "evidence of plan " << plan_id;
    }
  }

  std::string dir_, db_, journal_;
  // op number -> (landed, the plan or revocation id it produced), for every
  // operation found in flight.
  std::map<uint64_t, std::pair<bool, std::string>> resolved_;
  size_t journal_ops_ = 0;
  size_t checked_ops_ = 0;
  // Whether the operation this kill caught in flight landed; empty if the
  // kill fell between operations.
  std::optional<bool> last_landed_;
  // The deny-list log as replayed up to `seq`.
  struct Replay {
    uint64_t seq = 0;
    absl::flat_hash_set<std::string> digests;
    std::vector<std::string> causes;                         // of enforce, lift and switch deltas
    absl::flat_hash_map<std::string, uint64_t> enforce_seq;  // by revocation id
  };
  Replay replay_;
  Figures figures_;
};

TEST_F(CrashTest, KilledWriterLeavesEveryChangeWholeOrAbsent) {
  const uint64_t base_seed = EnvOr("LINEAGE_CRASH_SEED", std::random_device{}());
  const int kills = static_cast<int>(EnvOr("LINEAGE_CRASH_KILLS", kDefaultKills));
  fmt::print("crash test: base seed {} (rerun with LINEAGE_CRASH_SEED={}), {} kill points\n",
             base_seed, base_seed, kills);
  std::fflush(stdout);  // visible even if the run is cut short by a timeout
  RecordProperty("seed", std::to_string(base_seed));
  std::mt19937_64 delays(base_seed);
  auto start = std::chrono::steady_clock::now();

  for (int kill = 0; kill < kills; ++kill) {
    uint64_t seed = SplitMix(base_seed + static_cast<uint64_t>(kill));
    int delay_ms = std::uniform_int_distribution<int>(kMinDelayMs, kMaxDelayMs)(delays);
    // A third of the kill points (where the hook exists) are exact: at the
    // n-th WAL write of the run.
    KillMode mode = KillMode::kTimed;
    if (kWalHook && delays() % 3 == 0) mode = static_cast<KillMode>(1 + delays() % 3);
    uint64_t wal_write = 1 + delays() % kMaxWalWrite;
    SCOPED_TRACE(fmt::format(
        "base seed {}, kill point {} (driver seed {}, {}, {} ms / WAL write {})", base_seed, kill,
        seed, kKillModeNames[static_cast<int>(mode)], delay_ms, wal_write));
    {
      std::string stderr_path = fmt::format("{}/driver-{}.stderr", dir_, kill);
      std::vector<std::string> env;
      if (mode != KillMode::kTimed) {
        const char* how[] = {"", "before", "torn", "after"};
        env.push_back(fmt::format("LINEAGE_CRASH_KILL_AT_WAL_WRITE={}", wal_write));
        env.push_back(fmt::format("LINEAGE_CRASH_WAL_KILL={}", how[static_cast<int>(mode)]));
      }
      DriverProcess driver(db_, journal_, seed, stderr_path, env);
      ASSERT_TRUE(driver.started()) << "cannot start " << LINEAGE_CRASH_DRIVER;
      absl::Status ready = driver.WaitReady(kReadyTimeoutMs);
      ASSERT_TRUE(ready.ok()) << ready << "\n" << Tail(stderr_path);
      if (mode == KillMode::kTimed) {
        // The one deliberate wait: how long the driver writes before the kill.
        std::this_thread::sleep_for(std::chrono::milliseconds(delay_ms));
        absl::Status killed = driver.Kill(kExitTimeoutMs);
        ASSERT_TRUE(killed.ok()) << killed << "\n" << Tail(stderr_path);
      } else {
        absl::Status killed = driver.WaitKilled(kReadyTimeoutMs);
        ASSERT_TRUE(killed.ok()) << killed << "\n" << Tail(stderr_path);
      }
    }
    figures_.kill_points++;
    figures_.kills_by_mode[kKillModeNames[static_cast<int>(mode)]]++;
    ASSERT_NO_FATAL_FAILURE(Verify(kill, kill % 10 == 0 || kill + 1 == kills));
    if (mode != KillMode::kTimed) {
      // Every WAL write is one operation's batch: the kill caught that
      // operation, and only a batch wholly handed to the kernel survives.
      ASSERT_TRUE(last_landed_.has_value()) << "the WAL kill fell between operations";
      ASSERT_EQ(*last_landed_, mode == KillMode::kWalAfter)
          << "a batch killed " << kKillModeNames[static_cast<int>(mode)]
          << (*last_landed_ ? " landed" : " was lost");
    }
  }

  double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  std::string kinds, modes;
  for (const auto& [kind, n] : figures_.in_flight_by_kind)
    kinds += fmt::format(" {} {},", kind, n);
  for (const auto& [m, n] : figures_.kills_by_mode)
    modes += fmt::format(" {} {},", m, n);
  fmt::print(
      "crash test: {} kill points in {:.1f} s ({}); {} mid-operation ({} of them had landed);"
      " in flight:{} {} operations completed\n",
      figures_.kill_points, seconds, modes, figures_.mid_operation, figures_.landed, kinds,
      figures_.ops_done);
  EXPECT_GT(figures_.ops_done, static_cast<uint64_t>(kills)) << "the driver hardly ran";
}

}  // namespace
}  // namespace lineage::crash
