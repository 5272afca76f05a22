// crash_driver: a real lineage writer for the crash test to kill.
//
//   crash_driver <database dir> <journal file> <seed>
//
// Opens the Store, continues from whatever the database and the journal hold,
// prints "ready" on stdout and then runs a deterministic (seeded) loop of
// writes until it is killed: single and batched ingests of unsigned and
// key-signed records that extend a DAG (also below revoked artifacts, so that
// sticky taint grows), plans for digest, key and builder roots with their
// approvals and enforcement, lifts, and the advisory-only switch. Every
// operation is announced in the journal (crash_journal.h) before the store is
// called and marked done after it returned success.
//
// Besides being killed from outside at a random instant, the driver can kill
// itself at an exact point of RocksDB's write-ahead log: with
// LINEAGE_CRASH_KILL_AT_WAL_WRITE=N it raises SIGKILL at the N-th write() to
// a WAL file after "ready": before writing anything (LINEAGE_CRASH_WAL_KILL=
// before), after writing the part that ends on a page boundary inside the
// first half, as a kill during a multi-page write() leaves it (torn), or
// after the whole write (after). Not in sanitizer builds, whose runtime
// intercepts write() itself.
//
// Exit codes: 0 never (the loop ends only by a kill or its bounds), 1 bad
// usage or journal, 2 a store call failed, 3 the loop reached its bounds.
#include <fcntl.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <memory>
#include <random>
#include <string>
#include <string_view>
#include <vector>

#include <fmt/format.h>

#include "absl/container/flat_hash_set.h"
#include "absl/status/statusor.h"
#include "engine/include/lineage/store.h"
#include "tests/crash/crash_journal.h"

#if defined(__SANITIZE_ADDRESS__)
#define LINEAGE_CRASH_WAL_HOOK 0
#else
#define LINEAGE_CRASH_WAL_HOOK 1
#endif

namespace lineage::crash {
namespace {

// The WAL hook's state: set once before the loop starts, read by write() on
// any thread (only the writer thread writes the WAL).
enum class WalKill { kBefore, kTorn, kAfter };
std::atomic<uint64_t> g_kill_at_wal_write{0};  // 0: off
WalKill g_wal_kill = WalKill::kBefore;
[[maybe_unused]] uint64_t g_wal_writes = 0;  // WAL writes since armed

// Times of records and windows: op n's records carry kEpoch + 10 n seconds,
// so windows can be placed between operations.
constexpr int64_t kEpoch = 1700000000;
constexpr int kKeys = 4;
constexpr int kBuilders = 3;
constexpr int kMaxActive = 8;  // above this, a revocation step lifts instead
// Bounds of one run: the test kills the driver within a second; these only
// stop an orphan.
constexpr uint64_t kMaxOpsPerRun = 200000;
constexpr auto kMaxRunTime = std::chrono::seconds(120);

std::string KeyRef(int n) {
  return fmt::format("key:sha256:{:064x}", 0xc0ffee00 + n);
}
std::string BuilderId(int n) {
  return fmt::format("https://ci.example/crash-builder-{}@v1", n);
}
int64_t OpTime(uint64_t op) {
  return kEpoch + 10 * static_cast<int64_t>(op);
}

[[noreturn]] void Fail(std::string_view what, const absl::Status& status) {
  fmt::print(stderr, "crash_driver: {}: {}\n", what, status.ToString());
  std::exit(2);
}

class Driver {
 public:
  Driver(std::unique_ptr<Store> store, int journal_fd, uint64_t run, uint64_t seed)
      : store_(std::move(store)), fd_(journal_fd), run_(run), rng_(seed) {}

  // Rebuilds what the loop draws from (artifacts, unknown digests, active
  // revocations, the switch, the next op number) from the journal, asking
  // the store whether an operation that was in flight at the last kill
  // landed.
  void Restore(const Journal& journal) {
    next_op_ = journal.ops.size() + 1;
    std::vector<std::string> digest_roots;
    for (const JournalOp& op : journal.ops) {
      if (op.kind == OpKind::kPlan) {
        for (const RevocationRoot& root : op.roots) {
          if (root.ref.rfind("sha256:", 0) == 0) digest_roots.push_back(root.ref);
        }
      }
      if (op.kind != OpKind::kIngest && op.kind != OpKind::kIngestBatch) continue;
      bool landed = op.done;
      if (!landed) {
        absl::StatusOr<AttestationSummary> a = store_->GetAttestation(op.records[0].id);
        if (!a.ok() && !absl::IsNotFound(a.status())) Fail("restore", a.status());
        landed = a.ok();
      }
      if (!landed) continue;
      for (const JournalRecord& r : op.records) {
        for (const std::string& m : r.materials)
          AddArtifact(m);
        for (const std::string& s : r.subjects)
          AddArtifact(s);
      }
    }
    for (const std::string& d : digest_roots) {
      if (!known_.contains(d)) unknown_.push_back(d);
    }
    absl::StatusOr<std::vector<Revocation>> revocations = store_->ListRevocations();
    if (!revocations.ok()) Fail("restore", revocations.status());
    for (const Revocation& r : *revocations) {
      if (r.state == RevocationState::kActive) active_.push_back(r.id);
    }
    advisory_only_ = store_->GetSettings().advisory_only;
  }

  // Runs until killed, or exits 3 at the bounds.
  [[noreturn]] void Loop() {
    auto deadline = std::chrono::steady_clock::now() + kMaxRunTime;
    for (uint64_t steps = 0; steps < kMaxOpsPerRun; ++steps) {
      if (std::chrono::steady_clock::now() > deadline) break;
      Step();
    }
    fmt::print(stderr, "crash_driver: reached its bounds without being killed\n");
    std::exit(3);
  }

 private:
  uint64_t Rand(uint64_t n) { return std::uniform_int_distribution<uint64_t>(0, n - 1)(rng_); }
  bool Chance(int percent) { return Rand(100) < static_cast<uint64_t>(percent); }

  void AddArtifact(const std::string& digest) {
    if (known_.insert(digest).second) artifacts_.push_back(digest);
  }

  // Digests no other run or op can produce: the run and a counter.
  std::string FreshDigest() { return fmt::format("sha256:{:016x}{:048x}", run_ + 1, ++digests_); }

  // Picks an existing artifact, half the time a recent one so that chains
  // grow deep, not only wide.
  const std::string& PickArtifact() {
    size_t n = artifacts_.size();
    if (n > 64 && Chance(50)) return artifacts_[n - 1 - Rand(64)];
    return artifacts_[Rand(n)];
  }

  void Write(const std::string& text) {
    // No fsync: the reader is the parent after a SIGKILL, which sees
    // everything write() handed to the kernel, as RocksDB's WAL (below).
    // Syncing would only make the kill land in fsync instead of the store.
    size_t off = 0;
    while (off < text.size()) {
      ssize_t n = ::write(fd_, text.data() + off, text.size() - off);
      if (n < 0 && errno == EINTR) continue;
      if (n <= 0) Fail("write journal", absl::ErrnoToStatus(errno, "write"));
      off += static_cast<size_t>(n);
    }
  }

  JournalOp Begin(OpKind kind) {
    JournalOp op;
    op.number = next_op_++;
    op.run = run_;
    op.kind = kind;
    return op;
  }
  void Announce(const JournalOp& op) { Write(FormatBegin(op)); }
  void Done(JournalOp& op, std::string result = "") {
    op.result = std::move(result);
    Write(FormatDone(op));
  }

  void Step() {
    if (artifacts_.empty()) return IngestStep(/*batch=*/false);
    if (advisory_only_ && Chance(25)) return SettingsStep();
    uint64_t r = Rand(100);
    if (r < 30) return IngestStep(/*batch=*/false);
    if (r < 55) return IngestStep(/*batch=*/true);
    if (r < 77) return active_.size() >= kMaxActive ? LiftStep() : RevokeStep();
    if (r < 93) return active_.empty() ? IngestStep(true) : LiftStep();
    if (r < 96) return SettingsStep();
    return IngestStep(/*batch=*/true);
  }

  JournalRecord MakeRecord(uint64_t op, std::vector<std::string>* batch_subjects) {
    JournalRecord r;
    r.id = fmt::format("crash-{}-{}", run_, ++records_);
    r.time = OpTime(op);
    int subjects = Chance(25) ? 2 : 1;
    for (int i = 0; i < subjects; ++i)
      r.subjects.push_back(FreshDigest());
    int materials = static_cast<int>(Rand(4));
    for (int i = 0; i < materials; ++i) {
      std::string m;
      if (!batch_subjects->empty() && Chance(30)) {
        m = (*batch_subjects)[Rand(batch_subjects->size())];  // a chain inside the batch
      } else if (!unknown_.empty() && Chance(10)) {
        m = unknown_[Rand(unknown_.size())];  // a digest revoked before it existed
      } else if (!artifacts_.empty()) {
        m = PickArtifact();
      } else {
        continue;  // the first record of the database has no materials
      }
      if (std::find(r.materials.begin(), r.materials.end(), m) == r.materials.end()) {
        r.materials.push_back(std::move(m));
      }
    }
    if (Chance(60)) r.key = KeyRef(static_cast<int>(Rand(kKeys)));
    if (Chance(70)) r.builder = BuilderId(static_cast<int>(Rand(kBuilders)));
    batch_subjects->insert(batch_subjects->end(), r.subjects.begin(), r.subjects.end());
    return r;
  }

  void IngestStep(bool batch) {
    JournalOp op = Begin(batch ? OpKind::kIngestBatch : OpKind::kIngest);
    size_t count = batch ? 2 + Rand(23) : 1;
    std::vector<std::string> subjects;
    for (size_t i = 0; i < count; ++i)
      op.records.push_back(MakeRecord(op.number, &subjects));
    std::vector<AttestationRecord> records;
    for (const JournalRecord& r : op.records)
      records.push_back(ToAttestation(r));

    Announce(op);
    if (batch) {
      absl::StatusOr<std::vector<IngestOutcome>> outcomes = store_->IngestBatch(records);
      if (!outcomes.ok()) Fail(fmt::format("op {} ingest-batch", op.number), outcomes.status());
    } else {
      absl::StatusOr<IngestOutcome> outcome = store_->Ingest(records[0]);
      if (!outcome.ok()) Fail(fmt::format("op {} ingest", op.number), outcome.status());
    }
    Done(op);

    for (const JournalRecord& r : op.records) {
      for (const std::string& m : r.materials)
        AddArtifact(m);
      for (const std::string& s : r.subjects)
        AddArtifact(s);
    }
  }

  // A key or builder window: unbounded, open-ended from some past op (so
  // later signatures are caught by sticky taint), or closed.
  void PickWindow(RevocationRoot* root, uint64_t op) {
    uint64_t shape = Rand(4);
    if (shape == 0) return;
    int64_t since = OpTime(Rand(op + 1));
    if (shape == 1 || shape == 3) root->since = absl::FromUnixSeconds(since);
    if (shape >= 2) root->until = absl::FromUnixSeconds(since + 10 * (1 + Rand(40)));
  }

  RevocationRoot DigestRoot() {
    RevocationRoot root;
    if (Chance(12)) {
      root.ref = FreshDigest();  // not in the graph yet: enforcement creates it
      unknown_.push_back(root.ref);
    } else {
      root.ref = PickArtifact();
    }
    return root;
  }

  // A plan, its two approvals and its enforcement: four journaled
  // operations, so a kill can also leave a plan pending.
  void RevokeStep() {
    JournalOp plan = Begin(OpKind::kPlan);
    uint64_t shape = Rand(100);
    if (shape < 50 || shape >= 95) plan.roots.push_back(DigestRoot());
    if ((shape >= 50 && shape < 72) || shape >= 95) {
      RevocationRoot key;
      key.ref = KeyRef(static_cast<int>(Rand(kKeys)));
      PickWindow(&key, plan.number);
      plan.roots.push_back(key);
    }
    if (shape >= 72 && shape < 95) {
      RevocationRoot builder;
      builder.ref = "builder:" + BuilderId(static_cast<int>(Rand(kBuilders)));
      PickWindow(&builder, plan.number);
      plan.roots.push_back(builder);
    }
    plan.mode = Chance(85) ? RevocationMode::kEnforce : RevocationMode::kAdvisory;

    PlanRequest request;
    request.roots = plan.roots;
    request.reason = PlanReason(plan.number);
    request.mode = plan.mode;
    request.actor = "alice";
    Announce(plan);
    absl::StatusOr<Plan> made = store_->CreatePlan(request, PlanListing{0, 0});
    if (!made.ok()) Fail(fmt::format("op {} plan", plan.number), made.status());
    Done(plan, made->id);

    for (const char* principal : {"bob", "carol"}) {
      JournalOp approve = Begin(OpKind::kApprove);
      approve.plan_id = made->id;
      approve.principal = principal;
      Announce(approve);
      absl::StatusOr<Plan> approved = store_->Approve(made->id, principal);
      if (!approved.ok()) Fail(fmt::format("op {} approve", approve.number), approved.status());
      Done(approve);
    }

    JournalOp enforce = Begin(OpKind::kEnforce);
    enforce.plan_id = made->id;
    Announce(enforce);
    // Nothing else writes between the plan and here; accept_changes only
    // keeps a surprise from turning into a silent no-op.
    absl::StatusOr<EnforceResult> enforced =
        store_->Enforce(made->id, {.actor = "dave", .accept_changes = true});
    if (!enforced.ok()) Fail(fmt::format("op {} enforce", enforce.number), enforced.status());
    if (!enforced->enforced) {
      Fail(fmt::format("op {} enforce", enforce.number),
           absl::InternalError("Enforce returned enforced = false with accept_changes"));
    }
    Done(enforce, enforced->revocation.id);
    active_.push_back(enforced->revocation.id);
  }

  void LiftStep() {
    JournalOp op = Begin(OpKind::kLift);
    size_t i = Rand(active_.size());
    op.revocation = active_[i];
    Announce(op);
    absl::StatusOr<LiftResult> lifted =
        store_->Lift(op.revocation, "erin", fmt::format("crash-driver lift op {}", op.number));
    if (!lifted.ok()) Fail(fmt::format("op {} lift {}", op.number, op.revocation), lifted.status());
    Done(op);
    active_.erase(active_.begin() + static_cast<ptrdiff_t>(i));
  }

  void SettingsStep() {
    JournalOp op = Begin(OpKind::kSettings);
    op.advisory_only = !advisory_only_;
    RevocationSettings settings = store_->GetSettings();
    settings.advisory_only = op.advisory_only;
    Announce(op);
    absl::Status s =
        store_->UpdateSettings(settings, "frank", fmt::format("crash-driver op {}", op.number));
    if (!s.ok()) Fail(fmt::format("op {} settings", op.number), s);
    Done(op);
    advisory_only_ = op.advisory_only;
  }

  std::unique_ptr<Store> store_;
  const int fd_;
  const uint64_t run_;
  std::mt19937_64 rng_;
  uint64_t next_op_ = 1;
  uint64_t digests_ = 0;
  uint64_t records_ = 0;
  std::vector<std::string> artifacts_;
  absl::flat_hash_set<std::string> known_;
  std::vector<std::string> unknown_;  // digest roots drawn before they existed
  std::vector<std::string> active_;   // revocation ids
  bool advisory_only_ = false;
};

int Main(int argc, char** argv) {
  if (argc != 4) {
    fmt::print(stderr, "usage: crash_driver <database dir> <journal file> <seed>\n");
    return 1;
  }
  // An orphaned driver (the test died) must not write on forever.
  prctl(PR_SET_PDEATHSIG, SIGKILL);
  const std::string db = argv[1];
  const std::string journal_path = argv[2];
  const uint64_t seed = std::strtoull(argv[3], nullptr, 10);

  absl::StatusOr<Journal> journal = ReadJournal(journal_path);
  if (!journal.ok()) {
    fmt::print(stderr, "crash_driver: {}\n", journal.status().ToString());
    return 1;
  }
  int fd = ::open(journal_path.c_str(), O_WRONLY | O_CREAT | O_CLOEXEC, 0644);
  if (fd < 0 || ::ftruncate(fd, static_cast<off_t>(journal->valid_bytes)) != 0 ||
      ::lseek(fd, 0, SEEK_END) < 0) {
    Fail("open journal", absl::ErrnoToStatus(errno, journal_path));
  }

  // The default StoreOptions::sync = false is what a SIGKILL test wants:
  // RocksDB hands each committed batch to the kernel with write() before
  // Write returns (manual_wal_flush is off), and a killed process loses
  // nothing the kernel holds. Only a power loss could drop acknowledged
  // writes, which this test does not simulate.
  StoreOptions options;
  absl::StatusOr<std::unique_ptr<Store>> store = Store::Open(db, options);
  if (!store.ok()) Fail("open " + db, store.status());

  Driver driver(*std::move(store), fd, journal->runs, seed);
  driver.Restore(*journal);
  std::string start = FormatStart(journal->runs, seed);
  if (::write(fd, start.data(), start.size()) != static_cast<ssize_t>(start.size())) {
    Fail("write journal", absl::ErrnoToStatus(errno, "write"));
  }
  std::fputs("ready\n", stdout);
  std::fflush(stdout);
  // Armed only now, so that the kill lands among the loop's writes.
  if (LINEAGE_CRASH_WAL_HOOK) {
    const char* at = std::getenv("LINEAGE_CRASH_KILL_AT_WAL_WRITE");
    std::string_view how =
        std::getenv("LINEAGE_CRASH_WAL_KILL") ? std::getenv("LINEAGE_CRASH_WAL_KILL") : "";
    g_wal_kill = how == "torn"    ? WalKill::kTorn
                 : how == "after" ? WalKill::kAfter
                                  : WalKill::kBefore;
    if (at != nullptr) g_kill_at_wal_write.store(std::strtoull(at, nullptr, 10));
  }
  driver.Loop();
}

}  // namespace
}  // namespace lineage::crash

#if LINEAGE_CRASH_WAL_HOOK
// Interposes libc's write() for the whole process (librocksdb.so calls it
// through the PLT, and the linker exports this definition because the
// library references it). Unarmed, it is the plain system call.
extern "C" ssize_t write(int fd, const void* buf, size_t n) {
  using lineage::crash::WalKill;
  uint64_t kill_at = lineage::crash::g_kill_at_wal_write.load(std::memory_order_acquire);
  if (kill_at == 0) return syscall(SYS_write, fd, buf, n);
  char link[64], target[4096];
  std::snprintf(link, sizeof(link), "/proc/self/fd/%d", fd);
  ssize_t len = readlink(link, target, sizeof(target) - 1);
  std::string_view path(target, len > 0 ? static_cast<size_t>(len) : 0);
  bool wal = path.size() > 4 && path.substr(path.size() - 4) == ".log";
  if (!wal || ++lineage::crash::g_wal_writes != kill_at) return syscall(SYS_write, fd, buf, n);

  switch (lineage::crash::g_wal_kill) {
    case WalKill::kBefore:
      break;
    case WalKill::kTorn: {
      // The pages a kill could have let through: up to the last page
      // boundary inside the first half of this write.
      off_t at = lseek(fd, 0, SEEK_CUR);
      off_t end = ((at + static_cast<off_t>(n / 2)) / 4096) * 4096;
      if (at >= 0 && end > at) syscall(SYS_write, fd, buf, static_cast<size_t>(end - at));
      break;
    }
    case WalKill::kAfter:
      syscall(SYS_write, fd, buf, n);
      break;
  }
  kill(getpid(), SIGKILL);
  return -1;  // not reached
}
#endif

int main(int argc, char** argv) {
  return lineage::crash::Main(argc, argv);
}
