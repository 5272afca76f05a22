// lineage_slo: the revocation SLO run and the peer comparison, on one
// synthetic supply chain (bench/gen/supply_chain.h), in one process.
//
//   lineage_slo --artifacts 1000000 --work /tmp/slo --json slo.json
//
// Steps (bench/README.md has the full description):
//   1. Generate the chain; load it into a fresh database (attestations as
//      pre-verified records through Store::IngestBatch, workloads as one
//      inventory per cluster); its size on disk after close.
//   2. Peers, same graph, same process: the in-memory CSR BFS reference,
//      SQLite, optionally PostgreSQL (--pg), and lineage itself (in-process
//      Store), each timed for count descendants, list descendants and mark
//      the closure non-promotable, on the largest closure. Every system must
//      agree on the counts.
//   3. The SLO: a real lineaged on 127.0.0.1:0 over a checkpoint of the
//      database; a gate subscribed over RPC; for each scenario (the most
//      popular base image, the busiest key, the busiest builder over a time
//      window) a responder plans, two approvers approve, the responder
//      enforces, and the clock stops when the gate holds the complete deny
//      list, checked digest by digest against the closure computed
//      independently from the generator's graph. Lifted between scenarios.
//   4. Restart: lineaged is killed (SIGKILL) and restarted on the database;
//      time until the first Gate.check is answered.
//   5. Peak RSS of lineaged and of this process.
//
// Exit status: 0 when every verification held, 1 when one failed (the JSON
// and the table say which), 2 for bad arguments or a setup error.
#include <fcntl.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include <fmt/format.h>
#include <CLI/CLI.hpp>

#include "absl/container/flat_hash_set.h"
#include "bench/gen/emit.h"
#include "bench/gen/records.h"
#include "bench/gen/supply_chain.h"
#include "bench/peers/csr_graph.h"
#include "bench/peers/sql_peers.h"
#include "bench/slo/gate_subscriber.h"
#include "bench/slo/json_writer.h"
#include "bench/slo/rpc_session.h"
#include "engine/include/lineage/store.h"
#include "rpc/include/lineage/rpc/client.h"
#include "rpc/include/lineage/rpc/credentials.h"
#include "tests/support/child_process.h"

namespace lineage::bench {
namespace {

namespace fs = std::filesystem;
using ::lineage::testing::DirectoryBytes;
using ::lineage::testing::LineagedProcess;
using ::lineage::testing::LoadAverage;
using ::lineage::testing::ReadPeakRss;
using ::lineage::testing::RunToExit;

constexpr double kSloSeconds = 600;

struct Args {
  uint64_t artifacts = 1'000'000;
  uint64_t seed = 1;
  std::string work;
  std::string json;
  std::string lineaged = LINEAGED_PATH;
  std::string lineage_cli = LINEAGE_CLI_PATH;
  uint64_t signed_attestations = 100'000;
  std::vector<std::string> peers = {"csr", "sqlite", "lineage"};
  std::string pg;  // libpq conninfo; empty: PostgreSQL skipped
  std::string load = "bulk";
  size_t bulk_chunk = 1'000'000;
  int reps = 3;
  int sql_reps = 1;
  bool skip_slo = false;
  bool keep = false;
  bool reuse_db = false;
  bool stock_gate = true;
  uint64_t receive_limit_mib = 1024;
  uint64_t daemon_max_message_mib = 1024;
  int push_timeout_s = 120;
  int timeout_s = 600;
};

double Ms(SteadyClock::duration d) {
  return std::chrono::duration<double, std::milli>(d).count();
}

void Progress(std::string_view what) {
  static const SteadyClock::time_point start = SteadyClock::now();
  fmt::print(stderr, "[{:8.1f} s] {}\n", Ms(SteadyClock::now() - start) / 1000, what);
}

double Median(std::vector<double> v) {
  if (v.empty()) return NAN;
  std::sort(v.begin(), v.end());
  return v[v.size() / 2];
}

// Problems found by the run's verifications; any makes the exit status 1.
std::vector<std::string> g_failures;

void Fail(std::string what) {
  fmt::print(stderr, "FAILED: {}\n", what);
  g_failures.push_back(std::move(what));
}

// ---- 1. The database ----

// A deterministic 64-hex id for a cluster's inventory.
std::string InventoryId(uint64_t seed, const std::string& cluster) {
  auto mix = [](uint64_t x) {
    x += 0x9e3779b97f4a7c15ull;
    x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9ull;
    x = (x ^ (x >> 27)) * 0x94d049bb133111ebull;
    return x ^ (x >> 31);
  };
  uint64_t s = mix(seed) ^ std::hash<std::string>()(cluster);
  return fmt::format("{:016x}{:016x}{:016x}{:016x}", mix(4 * s), mix(4 * s + 1), mix(4 * s + 2),
                     mix(4 * s + 3));
}

struct BuildFigures {
  bool reused = false;  // --reuse-db: an earlier run's database, not built here
  double seconds = 0;
  uint64_t records = 0;
  uint64_t edges = 0;  // edges asserted by the records and inventories
  uint64_t db_bytes = 0;
  double open_ms = 0;  // in-process Store::Open of the built database
};

// Attestations go in as the pre-verified records of bench/gen/records.h,
// through Store::BulkLoad (`bulk`: sorted SST files, `bulk_chunk` records
// a call) or IngestBatch in batches of 5,000 (`batch`, the WAL path);
// workloads as one inventory per cluster.
absl::StatusOr<BuildFigures> BuildDatabase(const SupplyChain& chain, uint64_t seed,
                                           const std::string& path, const std::string& load,
                                           size_t bulk_chunk) {
  BuildFigures f;
  SteadyClock::time_point start = SteadyClock::now();
  {
    StoreOptions options;
    options.logger = NewNullLogger();
    absl::StatusOr<std::unique_ptr<Store>> store = Store::Open(path, options);
    if (!store.ok()) return store.status();
    if (load == "bulk") {
      // BulkLoad in calls of `bulk_chunk` records, each made just before its
      // call, so that memory holds one chunk of records at a time.
      for (size_t from = 0; from < chain.attestations.size(); from += bulk_chunk) {
        const size_t to = std::min(chain.attestations.size(), from + bulk_chunk);
        std::vector<AttestationRecord> records;
        records.reserve(to - from);
        for (size_t i = from; i < to; ++i) {
          records.push_back(ToRecord(chain, i));
          const AttestationRecord& r = records.back();
          f.edges += r.materials.size() + r.signers.size() + (r.builder_id.empty() ? 0 : 1);
        }
        absl::StatusOr<BulkLoadResult> done = (*store)->BulkLoad(records);
        if (!done.ok()) return done.status();
        f.records += records.size();
      }
    } else {
      // Batches made as they go, so that memory stays flat at 10M.
      std::vector<AttestationRecord> batch;
      for (size_t i = 0; i < chain.attestations.size(); ++i) {
        batch.push_back(ToRecord(chain, i));
        const AttestationRecord& r = batch.back();
        f.edges += r.materials.size() + r.signers.size() + (r.builder_id.empty() ? 0 : 1);
        if (batch.size() == 5000 || i + 1 == chain.attestations.size()) {
          absl::StatusOr<std::vector<IngestOutcome>> done = (*store)->IngestBatch(batch);
          if (!done.ok()) return done.status();
          f.records += batch.size();
          batch.clear();
        }
      }
    }
    std::map<std::string, InventoryRecord> clusters;
    for (const SyntheticWorkload& w : chain.workloads) {
      InventoryRecord& inv = clusters[w.cluster];
      inv.cluster = w.cluster;
      inv.runs.push_back({chain.refs[w.image], chain.refs[w.workload]});
    }
    for (auto& [name, inv] : clusters) {
      inv.id = InventoryId(seed, name);
      inv.time = absl::FromUnixSeconds(1800000000);
      inv.source = "lineage_slo";
      f.edges += inv.runs.size();
      absl::StatusOr<InventoryOutcome> done = (*store)->ReplaceInventory(inv);
      if (!done.ok()) return done.status();
    }
  }
  // Closing flushed the memtables (RocksDB's default on close); nothing
  // was compacted by hand.
  f.seconds = Ms(SteadyClock::now() - start) / 1000;
  f.db_bytes = DirectoryBytes(path);
  return f;
}

// A copy of a closed database as a checkpoint makes one: SST files, which
// RocksDB never changes once written, hard-linked; every other file (the
// MANIFEST, CURRENT, OPTIONS, logs) copied, since the copy's owner writes
// to them. Without opening the store, which at 10M artifacts would spend
// a minute rebuilding its index just to take the checkpoint.
absl::Status CopyClosedDatabase(const std::string& from, const std::string& to) {
  std::error_code ec;
  fs::create_directories(to, ec);
  for (const fs::directory_entry& e : fs::directory_iterator(from, ec)) {
    if (!e.is_regular_file()) continue;
    fs::path target = fs::path(to) / e.path().filename();
    if (e.path().extension() == ".sst") {
      fs::create_hard_link(e.path(), target, ec);
    } else {
      fs::copy_file(e.path(), target, fs::copy_options::overwrite_existing, ec);
    }
    if (ec) {
      return absl::InternalError(
          fmt::format("copy {} to {}: {}", e.path().string(), target.string(), ec.message()));
    }
  }
  if (ec) return absl::InternalError(fmt::format("copy {}: {}", from, ec.message()));
  return absl::OkStatus();
}

std::string ReadMarker(const std::string& path) {
  std::ifstream in(path);
  std::string text;
  std::getline(in, text);
  return text;
}

// ---- 2. Peers ----

struct PeerFigures {
  std::string name;
  bool ran = false;
  std::string skipped;  // why not, when it did not run
  double count_ms = NAN, list_ms = NAN, mark_ms = NAN;
  uint64_t count = 0, listed = 0, marked = 0;
  double load_s = NAN;
  uint64_t disk_bytes = 0;
  uint64_t memory_bytes = 0;  // csr: its arrays and the refs, computed from their sizes
};

template <typename F>
double TimeMs(F&& f) {
  SteadyClock::time_point t = SteadyClock::now();
  f();
  return Ms(SteadyClock::now() - t);
}

PeerFigures RunCsr(const SupplyChain& chain, uint32_t root, int reps) {
  PeerFigures p;
  p.name = "csr";
  SteadyClock::time_point t = SteadyClock::now();
  CsrGraph all = CsrGraph::Build(chain, kAllEdgeKinds);
  CsrGraph derived = CsrGraph::Build(chain, EdgeKindBit(EdgeKind::kDerived));
  p.load_s = Ms(SteadyClock::now() - t) / 1000;
  p.memory_bytes = all.bytes() + derived.bytes();
  for (const std::string& r : chain.refs)
    p.memory_bytes += sizeof(std::string) + (r.size() > 15 ? r.capacity() + 1 : 0);
  std::vector<double> count, list, mark;
  std::vector<uint8_t> marks(chain.refs.size());
  for (int i = 0; i < reps; ++i) {
    count.push_back(TimeMs([&] { p.count = all.Count(root); }));
    list.push_back(TimeMs([&] { p.listed = all.List(root).size(); }));
    std::fill(marks.begin(), marks.end(), 0);
    mark.push_back(TimeMs([&] { p.marked = derived.Mark(root, marks); }));
  }
  p.count_ms = Median(count);
  p.list_ms = Median(list);
  p.mark_ms = Median(mark);
  p.ran = true;
  return p;
}

PeerFigures RunSql(absl::StatusOr<std::unique_ptr<SqlPeer>> opened, const std::string& name,
                   const SupplyChain& chain, uint32_t root, int reps) {
  PeerFigures p;
  p.name = name;
  if (!opened.ok()) {
    p.skipped = std::string(opened.status().message());
    return p;
  }
  SqlPeer& peer = **opened;
  SteadyClock::time_point t = SteadyClock::now();
  if (absl::Status s = peer.Load(chain); !s.ok()) {
    p.skipped = std::string(s.message());
    Fail(fmt::format("{}: load: {}", name, p.skipped));
    return p;
  }
  p.load_s = Ms(SteadyClock::now() - t) / 1000;
  Progress(fmt::format("{}: loaded in {:.1f} s", name, p.load_s));
  std::vector<double> count, list, mark;
  for (int i = 0; i < reps; ++i) {
    absl::StatusOr<uint64_t> c;
    count.push_back(TimeMs([&] { c = peer.Count(root); }));
    absl::StatusOr<std::vector<std::string>> l;
    list.push_back(TimeMs([&] { l = peer.List(root); }));
    absl::Status cleared = peer.Clear();
    absl::StatusOr<uint64_t> m;
    mark.push_back(TimeMs([&] { m = peer.Mark(root); }));
    for (const absl::Status& s : {c.status(), l.status(), cleared, m.status()}) {
      if (!s.ok()) {
        Fail(fmt::format("{}: {}", name, std::string(s.message())));
        return p;
      }
    }
    p.count = *c;
    p.listed = l->size();
    p.marked = *m;
    Progress(fmt::format("{}: rep {}: count {:.0f} ms, list {:.0f} ms, mark {:.0f} ms", name, i,
                         count.back(), list.back(), mark.back()));
  }
  p.count_ms = Median(count);
  p.list_ms = Median(list);
  p.mark_ms = Median(mark);
  p.disk_bytes = peer.DiskBytes();
  p.ran = true;
  return p;
}

// lineage in-process: CountDescendants, Descendants and a durable revocation
// enforce (plan and approvals untimed, lifted after each rep). On its own
// copy of the database, so the SLO run starts from the built state.
PeerFigures RunLineage(const std::string& db, const SupplyChain& chain, uint32_t root, int reps,
                       double* open_ms) {
  PeerFigures p;
  p.name = "lineage";
  StoreOptions options;
  options.logger = NewNullLogger();
  SteadyClock::time_point t = SteadyClock::now();
  absl::StatusOr<std::unique_ptr<Store>> store = Store::Open(db, options);
  *open_ms = Ms(SteadyClock::now() - t);
  if (!store.ok()) {
    Fail(fmt::format("lineage: open {}: {}", db, std::string(store.status().message())));
    return p;
  }
  const std::string& ref = chain.refs[root];
  std::vector<double> count, list, mark;
  for (int i = 0; i < reps; ++i) {
    absl::StatusOr<uint64_t> c;
    count.push_back(TimeMs([&] { c = (*store)->CountDescendants(ref, {}); }));
    absl::StatusOr<TraversalResult> l;
    list.push_back(TimeMs([&] { l = (*store)->Descendants(ref, {}); }));
    PlanRequest request;
    request.roots.push_back({ref});
    request.reason = fmt::format("lineage_slo peer comparison, rep {}", i);
    request.actor = "peer-responder";
    absl::StatusOr<Plan> plan = (*store)->CreatePlan(request, {0, 0});
    absl::Status s = plan.status();
    if (s.ok() && plan->bulk) s = (*store)->Approve(plan->id, "peer-approver-1").status();
    if (s.ok() && plan->bulk) s = (*store)->Approve(plan->id, "peer-approver-2").status();
    absl::StatusOr<EnforceResult> e;
    if (s.ok()) {
      mark.push_back(TimeMs([&] { e = (*store)->Enforce(plan->id, {.actor = "peer-responder"}); }));
      s = e.status();
    }
    if (s.ok()) s = (*store)->Lift(e->revocation.id, "peer-responder", "rep done").status();
    for (const absl::Status& st : {c.status(), l.status(), s}) {
      if (!st.ok()) {
        Fail(fmt::format("lineage: {}", std::string(st.message())));
        return p;
      }
    }
    p.count = *c;
    p.listed = l->nodes.size();
    p.marked = e->newly_denied;
  }
  p.count_ms = Median(count);
  p.list_ms = Median(list);
  p.mark_ms = Median(mark);
  p.ran = true;
  return p;
}

// ---- 3. The SLO ----

struct Scenario {
  std::string name;
  std::string description;
  uint32_t root = 0;
  absl::Time since = absl::InfinitePast();
  absl::Time until = absl::InfiniteFuture();
  std::vector<uint32_t> expected;  // the closure, from the generator's graph

  // Measured.
  bool ran = false;
  double plan_ms = NAN, approve_ms = NAN, enforce_ms = NAN, push_ms = NAN, total_ms = NAN;
  double enforce_server_ms = NAN;  // the daemon's own account (EnforceResult::duration)
  double gate_apply_ms = NAN;      // the gate's share: applying the delta to its set
  uint64_t closure = 0, workloads = 0, newly_denied = 0, gate_size = 0;
  bool gate_equal = false;
  std::string stock_gate;  // what a gate on rpc::Client (default limits) saw
};

// A second gate on the stock rpc::Client, with Cap'n Proto's default
// receive limit, subscribed alongside: it records whether it could hold the
// same deny list. Its own thread, as the client requires.
class StockGate {
 public:
  StockGate(unsigned port, std::string token) {
    thread_ = std::thread([this, port, token = std::move(token)] {
      rpc::ClientOptions options;
      options.address = fmt::format("127.0.0.1:{}", port);
      options.token = token;
      options.timeout = absl::Seconds(60);
      absl::StatusOr<std::unique_ptr<rpc::Client>> client = rpc::Client::Connect(options);
      absl::Status s = client.status();
      if (s.ok()) {
        absl::StatusOr<DenyListSnapshot> snap = (*client)->Snapshot();
        s = snap.status();
        if (s.ok()) {
          Apply(snap->seq, snap->digests, {});
          s = (*client)->Subscribe(snap->seq,
                                   {.on_deltas =
                                        [this](const std::vector<DenyDelta>& deltas) {
                                          for (const DenyDelta& d : deltas)
                                            Apply(d.seq, d.added, d.removed);
                                          return true;
                                        },
                                    .should_stop = [this] { return stop_.load(); }},
                                   absl::Seconds(30));
        }
      }
      std::lock_guard lock(mu_);
      ended_ = s.ok() ? "ended" : std::string(s.message());
    });
  }
  ~StockGate() {
    stop_ = true;
    thread_.join();
  }

  // After the main gate completed `seq`: waits up to `timeout` for this one.
  std::string Report(uint64_t seq, size_t expected, std::chrono::seconds timeout) {
    auto deadline = SteadyClock::now() + timeout;
    for (;;) {
      {
        std::lock_guard lock(mu_);
        if (seq_ >= seq) {
          return set_.size() == expected ? "complete"
                                         : fmt::format("holds {} of {}", set_.size(), expected);
        }
        if (!ended_.empty()) return fmt::format("failed: {}", ended_);
      }
      if (SteadyClock::now() > deadline) return "no delta within the bound";
      std::this_thread::sleep_for(std::chrono::milliseconds(10));
    }
  }

 private:
  void Apply(uint64_t seq, const std::vector<std::string>& added,
             const std::vector<std::string>& removed) {
    std::lock_guard lock(mu_);
    for (const std::string& a : added)
      set_.insert(a);
    for (const std::string& r : removed)
      set_.erase(r);
    seq_ = seq;
  }

  std::mutex mu_;
  absl::flat_hash_set<std::string> set_;
  uint64_t seq_ = 0;
  std::string ended_;
  std::atomic<bool> stop_{false};
  std::thread thread_;
};

struct SloFigures {
  bool ran = false;
  std::string skipped;
  double first_start_ms = NAN;  // lineaged spawn to the first answered check
  double restart_ms = NAN;      // after SIGKILL: spawn to the first answered check
  std::string restart_verdict;
  uint64_t lineaged_peak_rss = 0;
  uint64_t db_bytes_after = 0;
};

absl::StatusOr<std::map<std::string, std::string>> MakeTokens(const std::string& path) {
  absl::StatusOr<rpc::CredentialStore> creds = rpc::CredentialStore::Load(path);
  if (!creds.ok()) return creds.status();
  std::map<std::string, std::string> tokens;
  for (auto [name, role] :
       std::vector<std::pair<std::string, rpc::Role>>{{"slo-gate", rpc::Role::kGate},
                                                      {"slo-stock-gate", rpc::Role::kGate},
                                                      {"slo-responder", rpc::Role::kResponder},
                                                      {"slo-approver-1", rpc::Role::kApprover},
                                                      {"slo-approver-2", rpc::Role::kApprover}}) {
    absl::StatusOr<std::string> t = creds->Create(name, role, absl::Now());
    if (!t.ok()) return t.status();
    tokens[name] = *t;
  }
  return tokens;
}

// Spawns lineaged and times until a check of `digest` is answered on a new
// session on `io`; the verdict lands in *verdict.
absl::StatusOr<double> StartAndFirstCheck(kj::AsyncIoContext& io, LineagedProcess& daemon,
                                          const Args& args, const std::string& db,
                                          const std::string& log, const std::string& gate_token,
                                          const std::string& digest, std::string* verdict) {
  SteadyClock::time_point t = SteadyClock::now();
  absl::Status s = daemon.Start({args.lineaged, "--db", db, "--listen", "127.0.0.1:0",
                                 "--max-message-mib", std::to_string(args.daemon_max_message_mib)},
                                log, std::chrono::seconds(args.timeout_s),
                                // Short: the restart figure includes the poll's granularity.
                                std::chrono::milliseconds(2));
  if (!s.ok()) return s;
  RpcSession gate(io, daemon.port());
  if (s = gate.Login(gate_token); !s.ok()) return s;
  absl::StatusOr<std::string> check = gate.Check(digest);
  if (!check.ok()) return check.status();
  double ms = Ms(SteadyClock::now() - t);
  *verdict = *check;
  return ms;
}

// The daemon's last "subscriber N dropped" log line, or "".
std::string DroppedLine(const std::string& log) {
  std::ifstream in(log);
  std::string line, last;
  while (std::getline(in, line))
    if (line.find("subscriber") != std::string::npos && line.find("dropped") != std::string::npos)
      last = line.substr(0, 300);
  return last.empty() ? "no subscriber dropped" : last;
}

void RunScenario(Scenario& sc, const SupplyChain& chain, RpcSession& responder,
                 RpcSession& approver1, RpcSession& approver2, GateSubscriber& gate,
                 StockGate* stock, const Args& args, const std::string& log_path, bool lift_after) {
  auto fail = [&](std::string_view what, const absl::Status& s) {
    Fail(fmt::format("scenario {}: {}: {}", sc.name, what, std::string(s.message())));
  };
  const RevocationRoot root{chain.refs[sc.root], sc.since, sc.until};
  const std::string reason = fmt::format("lineage_slo scenario {}", sc.name);

  SteadyClock::time_point t0 = SteadyClock::now();
  absl::StatusOr<RpcSession::PlanOutcome> plan = responder.Plan(root, reason);
  SteadyClock::time_point t1 = SteadyClock::now();
  if (!plan.ok()) return fail("plan", plan.status());
  if (absl::Status s = approver1.Approve(plan->id); !s.ok()) return fail("approve 1", s);
  if (absl::Status s = approver2.Approve(plan->id); !s.ok()) return fail("approve 2", s);
  SteadyClock::time_point t2 = SteadyClock::now();
  absl::StatusOr<RpcSession::EnforceOutcome> enforced = responder.Enforce(plan->id);
  SteadyClock::time_point t3 = SteadyClock::now();
  if (!enforced.ok()) return fail("enforce", enforced.status());
  const uint64_t seq = enforced->deny_seq;
  bool complete = gate.WaitUntil([&](size_t, uint64_t head) { return head >= seq; },
                                 std::chrono::seconds(args.push_timeout_s));
  if (!complete) {
    // The daemon drops a subscriber whose delta it cannot send without
    // telling it; its log says why.
    sc.enforce_ms = Ms(t3 - t2);
    sc.closure = plan->artifacts;
    sc.workloads = plan->workloads;
    sc.newly_denied = enforced->newly_denied;
    std::string why = gate.error().empty() ? "still subscribed" : gate.error();
    return fail("gate", absl::DeadlineExceededError(
                            fmt::format("no delta {} within {} s ({}); daemon log: {}", seq,
                                        args.push_timeout_s, why, DroppedLine(log_path))));
  }
  GateSubscriber::DeltaTimes times;
  gate.TimesOf(seq, &times);

  sc.ran = true;
  sc.plan_ms = Ms(t1 - t0);
  sc.approve_ms = Ms(t2 - t1);
  sc.enforce_ms = Ms(t3 - t2);
  sc.enforce_server_ms = enforced->server_ms;
  sc.push_ms = Ms(times.applied - t2);
  sc.gate_apply_ms = Ms(times.applied - times.arrived);
  sc.total_ms = Ms(times.applied - t0);
  sc.closure = plan->artifacts;
  sc.workloads = plan->workloads;
  sc.newly_denied = enforced->newly_denied;

  // The gate's set against the closure computed from the generator's graph:
  // the same size and every digest in it.
  sc.gate_size = gate.size();
  sc.gate_equal = sc.gate_size == sc.expected.size() &&
                  std::all_of(sc.expected.begin(), sc.expected.end(),
                              [&](uint32_t id) { return gate.Contains(chain.refs[id]); });
  if (!sc.gate_equal) {
    Fail(fmt::format("scenario {}: the gate holds {} digests, the closure has {}{}", sc.name,
                     sc.gate_size, sc.expected.size(),
                     sc.gate_size == sc.expected.size() ? " (different digests)" : ""));
  }
  if (sc.closure != sc.expected.size()) {
    Fail(fmt::format("scenario {}: the plan's closure has {} artifacts, the generator's {}",
                     sc.name, sc.closure, sc.expected.size()));
  }
  if (stock) sc.stock_gate = stock->Report(seq, sc.expected.size(), std::chrono::seconds(60));
  Progress(fmt::format(
      "scenario {}: closure {}, workloads {}: plan {:.0f} ms, approve {:.0f} ms, enforce {:.0f} "
      "ms, pushed {:.0f} ms after enforce was sent; total {:.0f} ms; stock gate: {}",
      sc.name, sc.closure, sc.workloads, sc.plan_ms, sc.approve_ms, sc.enforce_ms, sc.push_ms,
      sc.total_ms, sc.stock_gate));

  if (!lift_after) return;
  absl::StatusOr<uint64_t> lift_seq = responder.Lift(enforced->revocation, "next scenario");
  if (!lift_seq.ok()) return fail("lift", lift_seq.status());
  if (!gate.WaitUntil([&](size_t size, uint64_t head) { return head >= *lift_seq && size == 0; },
                      std::chrono::seconds(args.push_timeout_s))) {
    fail("lift", absl::DeadlineExceededError("the gate's deny list did not empty"));
  }
  // The stock gate must have caught up too, or its next report would be
  // about this lift.
  if (stock) stock->Report(*lift_seq, 0, std::chrono::seconds(60));
}

// The builder scenario's window: the middle half of the busiest builder's
// active period.
void BuilderWindow(const SupplyChain& chain, uint32_t builder, absl::Time* since,
                   absl::Time* until) {
  absl::Time lo = absl::InfiniteFuture(), hi = absl::InfinitePast();
  for (const SyntheticAttestation& a : chain.attestations) {
    if (a.builder != builder) continue;
    lo = std::min(lo, a.time);
    hi = std::max(hi, a.time);
  }
  absl::Duration span = hi - lo;
  *since = lo + span / 4;
  *until = lo + span * 3 / 4;
}

void RunSloOn(kj::AsyncIoContext& io, const Args& args, const SupplyChain& chain,
              const std::string& db, std::vector<Scenario>& scenarios,
              std::map<std::string, std::string>& tok, SloFigures& f) {
  LineagedProcess daemon;
  const std::string log = args.work + "/lineaged.log";
  std::string verdict;
  absl::StatusOr<double> started = StartAndFirstCheck(io, daemon, args, db, log, tok["slo-gate"],
                                                      chain.refs[scenarios[0].root], &verdict);
  if (!started.ok()) {
    Fail(fmt::format("lineaged: {}", std::string(started.status().message())));
    return;
  }
  f.first_start_ms = *started;
  Progress(fmt::format("lineaged up on port {}, first check answered after {:.0f} ms",
                       daemon.port(), f.first_start_ms));
  {
    const uint64_t limit = args.receive_limit_mib << 17;  // MiB -> 8-byte words
    RpcSession responder(io, daemon.port(), limit), approver1(io, daemon.port(), limit),
        approver2(io, daemon.port(), limit);
    for (auto [session, name] :
         {std::pair{&responder, "slo-responder"}, std::pair{&approver1, "slo-approver-1"},
          std::pair{&approver2, "slo-approver-2"}}) {
      if (absl::Status s = session->Login(tok[name]); !s.ok()) {
        Fail(fmt::format("login {}: {}", name, std::string(s.message())));
        return;
      }
    }
    absl::StatusOr<std::unique_ptr<GateSubscriber>> gate = GateSubscriber::Start(
        daemon.port(), tok["slo-gate"], 0, args.receive_limit_mib << 17);  // MiB -> 8-byte words
    if (!gate.ok()) {
      Fail(std::string(gate.status().message()));
      return;
    }
    // The stock gate is a second subscriber: the daemon pushes every delta
    // to it too, which at 10M artifacts competes with the measured push.
    std::unique_ptr<StockGate> stock;
    if (args.stock_gate) stock = std::make_unique<StockGate>(daemon.port(), tok["slo-stock-gate"]);
    for (size_t i = 0; i < scenarios.size(); ++i) {
      RunScenario(scenarios[i], chain, responder, approver1, approver2, **gate, stock.get(), args,
                  log, i + 1 < scenarios.size());
    }
  }
  f.lineaged_peak_rss = daemon.PeakRssBytes();
  f.ran = true;

  // ---- 4. Restart after a crash: the last scenario stays enforced, so the
  // first check must deny.
  daemon.Kill();
  const Scenario& last = scenarios.back();
  if (!last.expected.empty()) {
    absl::StatusOr<double> restarted =
        StartAndFirstCheck(io, daemon, args, db, args.work + "/lineaged-restart.log",
                           tok["slo-gate"], chain.refs[last.expected.front()], &f.restart_verdict);
    if (!restarted.ok()) {
      Fail(fmt::format("restart: {}", std::string(restarted.status().message())));
    } else {
      f.restart_ms = *restarted;
      if (last.ran && f.restart_verdict != "DENY") {
        Fail(fmt::format("restart: a digest of scenario {} was answered {}", last.name,
                         f.restart_verdict));
      }
      Progress(fmt::format("restarted after SIGKILL: first check answered {} after {:.0f} ms",
                           f.restart_verdict, f.restart_ms));
    }
    f.lineaged_peak_rss = std::max(f.lineaged_peak_rss, daemon.PeakRssBytes());
    daemon.Stop();
  }
}

SloFigures RunSlo(const Args& args, const SupplyChain& chain, const std::string& db,
                  std::vector<Scenario>& scenarios) {
  SloFigures f;
  absl::StatusOr<std::map<std::string, std::string>> tokens = MakeTokens(db + "/credentials");
  if (!tokens.ok()) {
    Fail(fmt::format("credentials: {}", std::string(tokens.status().message())));
    return f;
  }
  try {
    auto io = kj::setupAsyncIo();
    RunSloOn(io, args, chain, db, scenarios, *tokens, f);
  } catch (const kj::Exception& e) {
    Fail(fmt::format("rpc: {}", e.getDescription().cStr()));
  }
  f.db_bytes_after = DirectoryBytes(db);
  return f;
}

// ---- 6. Ingest rate of signed attestations ----

struct IngestFigures {
  bool ran = false;
  std::string skipped;
  uint64_t envelopes = 0;
  double emit_s = NAN;
  double cli_s = NAN;  // lineage ingest --policy, embedded, into a new database
  uint64_t cli_stored = 0;
  double rpc_s = NAN;  // Ingest.ingest to lineaged with --policy, into a new database
  uint64_t rpc_accepted = 0;
  std::string rpc_rejection;
};

// Runs argv to completion with stdout and stderr to `log`; its exit status.

IngestFigures MeasureSignedIngest(const Args& args, const SupplyChain& chain) {
  IngestFigures f;
  if (args.signed_attestations == 0) {
    f.skipped = "--signed 0";
    return f;
  }
  const std::string out = args.work + "/signed";
  SteadyClock::time_point t = SteadyClock::now();
  absl::StatusOr<EmitResult> emitted = EmitAttestations(
      chain,
      {.out_dir = out, .attestations = args.signed_attestations, .keys = 32, .per_file = 10'000});
  if (!emitted.ok()) {
    Fail(fmt::format("emit: {}", std::string(emitted.status().message())));
    return f;
  }
  f.emit_s = Ms(SteadyClock::now() - t) / 1000;
  f.envelopes = emitted->envelopes;
  Progress(fmt::format("signed {} envelopes in {:.1f} s", f.envelopes, f.emit_s));

  // Embedded: the CLI verifies and stores file by file.
  const std::string cli_db = args.work + "/ingest-cli-db";
  t = SteadyClock::now();
  const std::string cli_log = args.work + "/ingest-cli.log";
  int rc = RunToExit({args.lineage_cli, "--db", cli_db, "ingest", "--policy", emitted->policy, "-q",
                      out + "/attestations"},
                     {.stdout_path = cli_log, .stderr_path = cli_log});
  f.cli_s = Ms(SteadyClock::now() - t) / 1000;
  if (rc != 0) Fail(fmt::format("lineage ingest exited {}; see {}/ingest-cli.log", rc, args.work));
  {
    StoreOptions options;
    options.logger = NewNullLogger();
    absl::StatusOr<std::unique_ptr<Store>> store = Store::Open(cli_db, options);
    absl::StatusOr<StoreStats> stats =
        store.ok() ? (*store)->Stats() : absl::StatusOr<StoreStats>(store.status());
    if (stats.ok()) f.cli_stored = stats->attestations;
  }
  if (f.cli_stored != f.envelopes) {
    Fail(fmt::format("lineage ingest stored {} of {} attestations", f.cli_stored, f.envelopes));
  }
  Progress(fmt::format("lineage ingest: {} in {:.1f} s ({:.0f}/s)", f.cli_stored, f.cli_s,
                       f.cli_stored / f.cli_s));

  // Over RPC: every envelope line, sent in calls of 500 with 4 in flight.
  std::vector<std::string> documents;
  for (const std::string& file : emitted->files) {
    std::ifstream in(file);
    for (std::string line; std::getline(in, line);)
      if (!line.empty()) documents.push_back(std::move(line));
  }
  const std::string rpc_db = args.work + "/ingest-rpc-db";
  fs::create_directories(rpc_db);
  absl::StatusOr<rpc::CredentialStore> creds = rpc::CredentialStore::Load(rpc_db + "/credentials");
  absl::StatusOr<std::string> token =
      creds.ok() ? creds->Create("slo-ingest", rpc::Role::kIngest, absl::Now())
                 : absl::StatusOr<std::string>(creds.status());
  if (!token.ok()) {
    Fail(fmt::format("ingest credentials: {}", std::string(token.status().message())));
    return f;
  }
  LineagedProcess daemon;
  absl::Status s = daemon.Start(
      {args.lineaged, "--db", rpc_db, "--listen", "127.0.0.1:0", "--policy", emitted->policy},
      args.work + "/lineaged-ingest.log", std::chrono::seconds(args.timeout_s));
  if (!s.ok()) {
    Fail(fmt::format("lineaged for ingest: {}", std::string(s.message())));
    return f;
  }
  try {
    auto io = kj::setupAsyncIo();
    RpcSession session(io, daemon.port());
    if (s = session.Login(*token); !s.ok()) {
      Fail(fmt::format("ingest login: {}", std::string(s.message())));
      return f;
    }
    t = SteadyClock::now();
    absl::StatusOr<RpcSession::IngestOutcome> done = session.IngestAll(documents, 500, 4);
    f.rpc_s = Ms(SteadyClock::now() - t) / 1000;
    if (!done.ok()) {
      Fail(fmt::format("rpc ingest: {}", std::string(done.status().message())));
    } else {
      f.rpc_accepted = done->accepted;
      f.rpc_rejection = done->first_rejection;
      if (done->accepted != documents.size()) {
        Fail(fmt::format("rpc ingest accepted {} of {}: {}", done->accepted, documents.size(),
                         done->first_rejection));
      }
    }
  } catch (const kj::Exception& e) {
    Fail(fmt::format("rpc ingest: {}", e.getDescription().cStr()));
  }
  daemon.Stop();
  Progress(fmt::format("rpc ingest: {} in {:.1f} s ({:.0f}/s)", f.rpc_accepted, f.rpc_s,
                       f.rpc_accepted / f.rpc_s));
  f.ran = true;
  return f;
}

// ---- Report ----

std::string Mib(uint64_t bytes) {
  return fmt::format("{:.0f} MiB", static_cast<double>(bytes) / (1 << 20));
}

void WriteReport(const Args& args, const SupplyChain& chain, const BuildFigures& build,
                 const std::vector<PeerFigures>& peers, const std::vector<Scenario>& scenarios,
                 const SloFigures& slo, const IngestFigures& ingest, const std::string& load_start,
                 double gen_s) {
  uint64_t edges_by_kind[4] = {};
  for (const Edge& e : chain.edges)
    edges_by_kind[static_cast<int>(e.kind)]++;
  const double millions = static_cast<double>(args.artifacts) / 1e6;
  const uint64_t self_rss = ReadPeakRss("self");

  JsonWriter j;
  j.BeginObject();
  j.Str("tool", "lineage_slo");
  j.Str("date_utc", absl::FormatTime("%Y-%m-%dT%H:%M:%SZ", absl::Now(), absl::UTCTimeZone()));
  j.Str("loadavg_start", load_start).Str("loadavg_end", LoadAverage());
  j.BeginObject("graph")
      .Int("artifacts", args.artifacts)
      .Int("seed", args.seed)
      .Int("nodes", chain.refs.size())
      .Int("edges", chain.edges.size())
      .Int("derived", edges_by_kind[0])
      .Int("signed", edges_by_kind[1])
      .Int("built", edges_by_kind[2])
      .Int("runs", edges_by_kind[3])
      .Int("attestations", chain.attestations.size())
      .Int("workloads", chain.workloads.size())
      .Num("generate_s", gen_s)
      .EndObject();
  j.BeginObject("build")
      .Num("seconds", build.seconds)
      .Int("records", build.records)
      .Str("load", args.load)
      .Int("bulk_chunk", args.bulk_chunk)
      .Bool("reused", build.reused)
      .Int("edges", build.edges)
      .Num("edges_per_s", build.edges / build.seconds)
      .Int("db_bytes", build.db_bytes)
      .Num("db_bytes_per_million_artifacts", build.db_bytes / millions)
      .Str("db_bytes_measured", "after close (memtables flushed), no manual compaction")
      .Num("open_ms", build.open_ms)
      .EndObject();
  j.BeginArray("peers");
  for (const PeerFigures& p : peers) {
    j.BeginObject().Str("name", p.name).Bool("ran", p.ran).Str("skipped", p.skipped);
    j.Num("count_ms", p.count_ms).Num("list_ms", p.list_ms).Num("mark_ms", p.mark_ms);
    j.Int("count", p.count).Int("listed", p.listed).Int("marked", p.marked);
    j.Num("load_s", p.load_s).Int("disk_bytes", p.disk_bytes);
    j.Int("memory_bytes", p.memory_bytes).EndObject();
  }
  j.EndArray();
  j.BeginArray("scenarios");
  for (const Scenario& s : scenarios) {
    j.BeginObject().Str("name", s.name).Str("root", chain.refs[s.root]);
    j.Str("description", s.description).Bool("ran", s.ran);
    j.Num("plan_ms", s.plan_ms).Num("approve_ms", s.approve_ms).Num("enforce_ms", s.enforce_ms);
    j.Num("enforce_server_ms", s.enforce_server_ms).Num("push_complete_ms", s.push_ms);
    j.Num("gate_apply_ms", s.gate_apply_ms).Num("total_ms", s.total_ms);
    j.Num("slo_s", kSloSeconds).Bool("within_slo", s.ran && s.total_ms <= kSloSeconds * 1000);
    j.Int("closure", s.closure).Int("expected_closure", s.expected.size());
    j.Int("workloads", s.workloads).Int("newly_denied", s.newly_denied);
    j.Int("gate_size", s.gate_size).Bool("gate_equals_closure", s.gate_equal);
    j.Str("stock_client_gate", s.stock_gate).EndObject();
  }
  j.EndArray();
  j.BeginObject("daemon")
      .Bool("ran", slo.ran)
      .Num("first_start_to_check_ms", slo.first_start_ms)
      .Num("restart_after_kill_to_check_ms", slo.restart_ms)
      .Str("restart_verdict", slo.restart_verdict)
      .Int("lineaged_peak_rss_bytes", slo.lineaged_peak_rss)
      .Int("db_bytes_after", slo.db_bytes_after)
      .EndObject();
  j.BeginObject("signed_ingest")
      .Bool("ran", ingest.ran)
      .Str("skipped", ingest.skipped)
      .Int("envelopes", ingest.envelopes)
      .Str("signature", "ecdsa-p256-sha256, DSSE, in-toto v1 + SLSA provenance v1")
      .Num("emit_s", ingest.emit_s)
      .Num("cli_s", ingest.cli_s)
      .Int("cli_stored", ingest.cli_stored)
      .Num("cli_per_s", ingest.cli_stored / ingest.cli_s)
      .Num("rpc_s", ingest.rpc_s)
      .Int("rpc_accepted", ingest.rpc_accepted)
      .Num("rpc_per_s", ingest.rpc_accepted / ingest.rpc_s)
      .EndObject();
  j.Int("bench_peak_rss_bytes", self_rss);
  j.BeginArray("failures");
  for (const std::string& f : g_failures)
    j.BeginObject().Str("what", f).EndObject();
  j.EndArray();
  j.Bool("ok", g_failures.empty());
  j.EndObject();
  if (!args.json.empty()) {
    std::ofstream(args.json) << j.str() << "\n";
  }

  // The table, for people.
  fmt::print("\nlineage_slo: {} artifacts, {} nodes, {} edges (load average at start {})\n",
             args.artifacts, chain.refs.size(), chain.edges.size(), load_start);
  fmt::print("build: {}, database {} ({} per million artifacts)\n",
             build.reused ? std::string("reused from an earlier run")
                          : fmt::format("{:.1f} s ({:.0f} edges/s, {})", build.seconds,
                                        build.edges / build.seconds, args.load),
             Mib(build.db_bytes), Mib(static_cast<uint64_t>(build.db_bytes / millions)));
  fmt::print(
      "\n| scenario | closure | workloads | plan | approve | enforce | push complete | "
      "total | vs 600 s SLO | gate = closure | stock client gate |\n");
  fmt::print("| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | --- | --- | --- |\n");
  for (const Scenario& s : scenarios) {
    fmt::print(
        "| {} | {} | {} | {:.0f} ms | {:.0f} ms | {:.0f} ms | {:.0f} ms | {:.0f} ms | {} | "
        "{} | {} |\n",
        s.name, s.closure, s.workloads, s.plan_ms, s.approve_ms, s.enforce_ms, s.push_ms,
        s.total_ms,
        !s.ran                             ? "not run"
        : s.total_ms <= kSloSeconds * 1000 ? "met"
                                           : "miss",
        s.gate_equal ? "yes" : "NO", s.stock_gate);
  }
  const PeerFigures* lineage = nullptr;
  for (const PeerFigures& p : peers)
    if (p.name == "lineage" && p.ran) lineage = &p;
  fmt::print("\n| system | count | list | mark | lineage ÷ system (count / list / mark) |\n");
  fmt::print("| --- | ---: | ---: | ---: | --- |\n");
  for (const PeerFigures& p : peers) {
    if (!p.ran) {
      fmt::print("| {} | skipped: {} | | | |\n", p.name, p.skipped);
      continue;
    }
    std::string ratios =
        lineage ? fmt::format("{:.2f} / {:.2f} / {:.2f}", lineage->count_ms / p.count_ms,
                              lineage->list_ms / p.list_ms, lineage->mark_ms / p.mark_ms)
                : "";
    fmt::print("| {} | {:.1f} ms | {:.1f} ms | {:.1f} ms | {} |\n", p.name, p.count_ms, p.list_ms,
               p.mark_ms, ratios);
  }
  fmt::print(
      "\nlineaged: first check {:.0f} ms after spawn; {:.0f} ms after a SIGKILL restart "
      "({}); peak RSS {}; this process peak RSS {}\n",
      slo.first_start_ms, slo.restart_ms, slo.restart_verdict, Mib(slo.lineaged_peak_rss),
      Mib(self_rss));
  if (ingest.ran) {
    fmt::print(
        "signed ingest ({} P-256 DSSE envelopes): lineage ingest {:.0f}/s, RPC Ingest "
        "{:.0f}/s\n",
        ingest.envelopes, ingest.cli_stored / ingest.cli_s, ingest.rpc_accepted / ingest.rpc_s);
  }
  fmt::print("{}\n", g_failures.empty() ? "all verifications held"
                                        : fmt::format("{} FAILURES", g_failures.size()));
}

int Main(int argc, char** argv) {
  Args args;
  CLI::App app{"lineage_slo: the revocation SLO run and the peer comparison", "lineage_slo"};
  app.add_option("--artifacts", args.artifacts, "Artifacts in the synthetic chain")
      ->capture_default_str();
  app.add_option("--seed", args.seed, "Generator seed")->capture_default_str();
  app.add_option("--work", args.work, "Working directory (default: a new one under /tmp)");
  app.add_option("--json", args.json, "Write the figures as JSON to this file");
  app.add_option("--lineaged", args.lineaged, "The lineaged binary")->capture_default_str();
  app.add_option("--peers", args.peers, "Systems compared: csr, sqlite, lineage, postgres")
      ->delimiter(',')
      ->capture_default_str();
  app.add_option("--signed", args.signed_attestations,
                 "Signed attestations for the ingest-rate measurement (0: skip it)")
      ->capture_default_str();
  app.add_option("--lineage", args.lineage_cli, "The lineage CLI binary")->capture_default_str();
  app.add_option("--pg", args.pg, "libpq conninfo of a PostgreSQL server for the postgres peer");
  app.add_option("--reps", args.reps, "Repetitions for csr and lineage (median reported)")
      ->capture_default_str();
  app.add_option("--sql-reps", args.sql_reps, "Repetitions for the SQL peers")
      ->capture_default_str();
  app.add_option("--load", args.load, "How the database is built: bulk (Store::BulkLoad) or batch")
      ->check(CLI::IsMember({"bulk", "batch"}))
      ->capture_default_str();
  app.add_option("--bulk-chunk", args.bulk_chunk, "Records per BulkLoad call")
      ->check(CLI::PositiveNumber)
      ->capture_default_str();
  app.add_flag("--skip-slo", args.skip_slo, "Peers only: no lineaged");
  app.add_flag("--keep", args.keep, "Keep the working directory");
  app.add_flag("!--no-stock-gate", args.stock_gate,
               "No second gate on the stock rpc::Client (it shares the daemon's push)");
  app.add_flag("--reuse-db", args.reuse_db,
               "Take WORK/db as built by an earlier run of the same --artifacts and --seed");
  app.add_option("--receive-limit-mib", args.receive_limit_mib,
                 "The gate's Cap'n Proto receive limit")
      ->capture_default_str();
  app.add_option("--daemon-max-message-mib", args.daemon_max_message_mib,
                 "lineaged --max-message-mib (64 is Cap'n Proto's default)")
      ->capture_default_str();
  app.add_option("--push-timeout", args.push_timeout_s,
                 "Bound on the wait for a pushed delta, in seconds")
      ->capture_default_str();
  app.add_option("--timeout", args.timeout_s, "Bound on each wait, in seconds")
      ->capture_default_str();
  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    return app.exit(e) == 0 ? 0 : 2;
  }
  const std::string load_start = LoadAverage();
  bool made_work = false;
  if (args.work.empty()) {
    char pattern[] = "/tmp/lineage-slo-XXXXXX";
    if (mkdtemp(pattern) == nullptr) {
      fmt::print(stderr, "lineage_slo: cannot create a directory under /tmp\n");
      return 2;
    }
    args.work = pattern;
    made_work = true;
  } else {
    std::error_code ec;
    // What an earlier run left; nothing else in the directory is touched.
    for (const char* old : {"db", "slo-db", "peer-db", "peer.sqlite", "peer.sqlite-wal",
                            "peer.sqlite-shm", "signed", "ingest-cli-db", "ingest-rpc-db"}) {
      if (args.reuse_db && std::string_view(old) == "db") continue;
      fs::remove_all(args.work + "/" + old, ec);
    }
    fs::create_directories(args.work, ec);
  }
  Progress(fmt::format("working in {}; load average {}", args.work, load_start));

  // ---- 1.
  SteadyClock::time_point t = SteadyClock::now();
  const SupplyChain chain = Generate({.artifacts = args.artifacts, .seed = args.seed});
  const double gen_s = Ms(SteadyClock::now() - t) / 1000;
  Progress(fmt::format("generated {} nodes, {} edges in {:.1f} s", chain.refs.size(),
                       chain.edges.size(), gen_s));
  const std::string db = args.work + "/db";
  // A completed build leaves a marker naming its chain; --reuse-db takes
  // such a database as it is (its build figures are then not measured).
  const std::string marker = db + "/lineage_slo.built";
  const std::string chain_id = fmt::format("artifacts={} seed={}", args.artifacts, args.seed);
  absl::StatusOr<BuildFigures> build;
  if (args.reuse_db && ReadMarker(marker) == chain_id) {
    build = BuildFigures{};
    build->seconds = NAN;
    build->reused = true;
    build->db_bytes = DirectoryBytes(db);
    build->records = chain.attestations.size();
    Progress(fmt::format("reusing {} ({})", db, chain_id));
  } else {
    std::error_code ec;
    fs::remove_all(db, ec);
    build = BuildDatabase(chain, args.seed, db, args.load, args.bulk_chunk);
    if (build.ok()) std::ofstream(marker) << chain_id;
  }
  if (!build.ok()) {
    fmt::print(stderr, "lineage_slo: build {}: {}\n", db, std::string(build.status().message()));
    return 2;
  }
  Progress(fmt::format("database built in {:.1f} s: {} records, {}", build->seconds, build->records,
                       Mib(build->db_bytes)));

  // Separate copies for the in-process peer run and the daemon, so each
  // starts from the built state.
  for (const char* copy : {"/slo-db", "/peer-db"}) {
    if (absl::Status s = CopyClosedDatabase(db, args.work + copy); !s.ok()) {
      fmt::print(stderr, "lineage_slo: {}\n", std::string(s.message()));
      return 2;
    }
  }

  // The scenarios and their closures, from the generator's own graph.
  CsrGraph derived = CsrGraph::Build(chain, EdgeKindBit(EdgeKind::kDerived));
  std::vector<Scenario> scenarios(3);
  scenarios[0].name = "base-image";
  scenarios[0].description = "the most popular root OS image";
  scenarios[0].root = chain.most_popular_base;
  scenarios[1].name = "key";
  scenarios[1].description = "the key that signs the most artifacts, all time";
  scenarios[1].root = chain.busiest_key;
  scenarios[2].name = "builder-window";
  scenarios[2].description = "the busiest builder, the middle half of its active period";
  scenarios[2].root = chain.busiest_builder;
  BuilderWindow(chain, chain.busiest_builder, &scenarios[2].since, &scenarios[2].until);
  for (Scenario& s : scenarios)
    s.expected = RevocationClosure(chain, derived, s.root, s.since, s.until);

  // ---- 2.
  std::vector<PeerFigures> peers;
  const uint32_t largest = chain.most_popular_base;
  auto wanted = [&](std::string_view name) {
    return std::find(args.peers.begin(), args.peers.end(), name) != args.peers.end();
  };
  if (wanted("csr")) {
    peers.push_back(RunCsr(chain, largest, args.reps));
    Progress(fmt::format("csr: count {:.1f} ms, list {:.1f} ms, mark {:.1f} ms",
                         peers.back().count_ms, peers.back().list_ms, peers.back().mark_ms));
  }
  if (wanted("lineage")) {
    peers.push_back(RunLineage(args.work + "/peer-db", chain, largest, args.reps, &build->open_ms));
    Progress(fmt::format("lineage: count {:.1f} ms, list {:.1f} ms, mark {:.1f} ms",
                         peers.back().count_ms, peers.back().list_ms, peers.back().mark_ms));
  }
  if (wanted("sqlite")) {
    peers.push_back(RunSql(OpenSqlitePeer(args.work + "/peer.sqlite"), "sqlite", chain, largest,
                           args.sql_reps));
  }
  if (wanted("postgres")) {
    if (args.pg.empty()) {
      PeerFigures skipped;
      skipped.name = "postgresql";
      skipped.skipped = "no --pg server given";
      peers.push_back(skipped);
    } else {
      peers.push_back(
          RunSql(OpenPostgresPeer(args.pg), "postgresql", chain, largest, args.sql_reps));
    }
  }
  // Every system that ran must agree on the closure.
  for (const PeerFigures& p : peers) {
    if (!p.ran) continue;
    const PeerFigures& ref = peers.front();
    if (p.count != ref.count || p.listed != ref.listed ||
        p.marked != scenarios[0].expected.size()) {
      Fail(fmt::format("{} disagrees: count {} listed {} marked {}, expected {} / {} / {}", p.name,
                       p.count, p.listed, p.marked, ref.count, ref.listed,
                       scenarios[0].expected.size()));
    }
  }

  // ---- 3-5.
  SloFigures slo;
  if (args.skip_slo) {
    slo.skipped = "--skip-slo";
  } else {
    slo = RunSlo(args, chain, args.work + "/slo-db", scenarios);
  }
  IngestFigures ingest = MeasureSignedIngest(args, chain);
  WriteReport(args, chain, *build, peers, scenarios, slo, ingest, load_start, gen_s);
  if (made_work && !args.keep) {
    std::error_code ec;
    fs::remove_all(args.work, ec);
  }
  return g_failures.empty() ? 0 : 1;
}

}  // namespace
}  // namespace lineage::bench

int main(int argc, char** argv) {
  return lineage::bench::Main(argc, argv);
}
