// A bounded RPC load test of a real lineaged (labels "stress;load", so the
// default `ctest -LE stress` run skips it):
//
//   ctest -L load --output-on-failure      (from the build directory)
//
// Setup: a synthetic graph of about 120,000 artifacts is bulk-loaded with the
// engine library (component A: one root whose derived closure has 100,500
// artifacts; component B: 20,000 unrelated artifacts), then lineaged serves
// it on 127.0.0.1:0 with a trust policy holding a freshly generated P-256 key.
//
// Phases, each bounded in time and in count (about 17 s in all):
//   warm-up    0.5 s of checks, not reported
//   baseline   4 gate connections alternate Gate.denyListSince past the head
//              (the cheapest existing call: the server reads only the head
//              sequence and answers with no deltas) with checks
//   idle       4 gate connections check continuously, one call in flight each
//   load       the same checks while one ingest connection streams signed
//              DSSE attestations (100 per call, 4 calls in flight) and, after 2 s, a responder
//              plans the 100k closure, two approvers approve and the responder enforces; a
//              subscribed gate records every pushed delta
//   pipelined  64 checks in flight per gate connection
//   batched    Gate.checkBatch of 10,000 digests per call
//
// Then it verifies that nothing was lost (every call answered with status 0;
// every check of a closure digest that started after enforce returned is
// DENY; every ingested attestation accepted, known, with the right verdict;
// the subscriber's deltas gap-free, in order, and equal to Gate.snapshot())
// and prints a table of the figures. It asserts correctness only: timing
// figures are reported, never asserted, because the machine may be shared.
#include <fcntl.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdint>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <random>
#include <regex>
#include <sstream>
#include <string>
#include <thread>
#include <unordered_set>
#include <vector>

#include <capnp/rpc-twoparty.h>
#include <fmt/format.h>
#include <gtest/gtest.h>
#include <kj/async-io.h>

#include "engine/include/lineage/store.h"
#include "rpc/include/lineage/rpc/credentials.h"
#include "rpc/src/convert.h"
#include "schemas/lineage.capnp.h"
#include "tests/ingest/signing_helpers.h"
#include "tests/integration/daemon_process.h"
#include "tests/support/child_process.h"

namespace lineage::rpc {
namespace {

namespace fs = std::filesystem;
using Clock = std::chrono::steady_clock;

// ---- Sizes and bounds ----

constexpr uint64_t kClosureArtifacts = 100500;   // component A, all derived from A's root
constexpr uint64_t kUnrelatedArtifacts = 20000;  // component B
constexpr int kGateThreads = 4;
constexpr int kPipelineDepth = 64;
constexpr uint32_t kBatchDigests = 10000;
constexpr int kIngestDocsPerCall = 100;
constexpr int kIngestInFlight = 4;  // $LINEAGE_LOAD_INGEST_IN_FLIGHT overrides it

// Ingest calls kept in flight: kIngestInFlight, or $LINEAGE_LOAD_INGEST_IN_FLIGHT
// (to compare with another depth under the same conditions).
int IngestInFlight() {
  const char* n = std::getenv("LINEAGE_LOAD_INGEST_IN_FLIGHT");
  int v = n != nullptr ? std::atoi(n) : 0;
  return v > 0 ? v : kIngestInFlight;
}
constexpr int kMaxAttestations = 160000;  // pre-signed; the ingest stream stops when they run out
constexpr size_t kMaxRecordsPerThread = 4000000;  // bounds memory if the daemon is very fast

constexpr auto kWarmupPhase = std::chrono::milliseconds(500);
constexpr auto kBaselinePhase = std::chrono::seconds(3);
constexpr auto kIdlePhase = std::chrono::seconds(2);
constexpr auto kLoadPhase = std::chrono::seconds(7);
constexpr auto kEnforceAfter = std::chrono::seconds(2);  // into the load phase
constexpr auto kPipelinedPhase = std::chrono::seconds(2);
constexpr auto kBatchedPhase = std::chrono::seconds(2);

// kWarmup: checks, not reported (first calls pay for connection and cache
// warm-up). kBaseline: each connection alternates the baseline call with a
// check, so both see the same conditions.
enum Phase : int { kSetup, kWarmup, kBaseline, kIdle, kLoad, kPipelined, kBatched, kStop };

uint64_t SplitMix(uint64_t x) {
  x += 0x9e3779b97f4a7c15ull;
  x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9ull;
  x = (x ^ (x >> 27)) * 0x94d049bb133111ebull;
  return x ^ (x >> 31);
}

// Reproducible, random-looking digests. Component B uses a disjoint seed
// space (the high bit), unknown digests another one.
std::string Hex64(uint64_t seed) {
  return fmt::format("{:016x}{:016x}{:016x}{:016x}", SplitMix(4 * seed), SplitMix(4 * seed + 1),
                     SplitMix(4 * seed + 2), SplitMix(4 * seed + 3));
}
std::string ClosureDigest(uint64_t i) {
  return "sha256:" + Hex64(i);
}
std::string UnrelatedDigest(uint64_t i) {
  return "sha256:" + Hex64((1ull << 40) + i);
}
std::string UnknownDigest(uint64_t i) {
  return "sha256:" + Hex64((2ull << 40) + i);
}

int64_t Nanos(Clock::time_point t, Clock::time_point t0) {
  return std::chrono::duration_cast<std::chrono::nanoseconds>(t - t0).count();
}

// Loads one component: artifact 0 is its root; every later artifact derives
// from one artifact of a recent window and, with probability 0.4, from a
// second earlier one, so everything descends from the root (diamonds
// included). Unsigned records through IngestBatch, as bench/bm_traversal.cc.
void LoadComponent(Store* store, uint64_t n, std::string (*digest)(uint64_t), uint64_t id_salt,
                   uint64_t seed) {
  std::mt19937_64 rng(seed);
  const uint64_t window = std::max<uint64_t>(1000, n / 10);
  std::vector<AttestationRecord> batch;
  for (uint64_t i = 0; i < n; ++i) {
    AttestationRecord r;
    r.id = fmt::format("{:016x}{:016x}", SplitMix(i ^ id_salt), i);
    r.format = "dsse";
    r.predicate_type = "https://slsa.dev/provenance/v1";
    r.time = absl::FromUnixSeconds(1700000000 + static_cast<int64_t>(i));
    r.unsigned_ = true;
    r.subjects.push_back({{digest(i)}, ""});
    if (i > 0) {
      uint64_t lo = i > window ? i - window : 0;
      uint64_t p1 = lo + rng() % (i - lo);
      r.materials.push_back({{digest(p1)}, ""});
      if (rng() % 10 < 4) {
        uint64_t p2 = rng() % i;
        if (p2 != p1) r.materials.push_back({{digest(p2)}, ""});
      }
    }
    batch.push_back(std::move(r));
    if (batch.size() == 5000 || i + 1 == n) {
      absl::StatusOr<std::vector<IngestOutcome>> done = store->IngestBatch(batch);
      ASSERT_TRUE(done.ok()) << done.status();
      batch.clear();
    }
  }
}

// An in-toto v0.1 statement with SLSA v0.2 provenance: one subject, one
// sha256 material (an artifact of the loaded graph).
std::string Statement(const std::string& subject_hex, const std::string& material_digest) {
  return fmt::format(
      R"({{"_type":"https://in-toto.io/Statement/v0.1","predicateType":"https://slsa.dev/provenance/v0.2","subject":[{{"name":"load-out","digest":{{"sha256":"{}"}}}}],"predicate":{{"builder":{{"id":"https://ci.example.com/load@v1"}},"buildType":"https://example.com/build","materials":[{{"uri":"pkg:generic/base","digest":{{"sha256":"{}"}}}}],"metadata":{{"buildFinishedOn":"2024-01-02T03:14:05Z"}}}}}})",
      subject_hex, material_digest.substr(7));
}

// lineaged on 127.0.0.1:0 over the test's database, with its trust policy.
class Daemon {
 public:
  explicit Daemon(std::string dir) : dir_(std::move(dir)) {}

  // $LINEAGE_LOAD_VERIFY_THREADS, when set, is passed as --verify-threads,
  // to compare the ingest figure with another number of verifier threads.
  void Start(const std::string& policy) {
    std::vector<std::string> args = {LINEAGED_PATH, "--db",     dir_ + "/db", "--listen",
                                     "127.0.0.1:0", "--policy", policy};
    if (const char* n = std::getenv("LINEAGE_LOAD_VERIFY_THREADS"); n != nullptr && *n != '\0') {
      args.insert(args.end(), {"--verify-threads", n});
    }
    process_.Start(args, dir_ + "/lineaged.log", std::chrono::seconds(60));
  }
  int Stop() { return process_.Stop(); }
  unsigned port() const { return process_.port(); }
  std::string log() const { return process_.log(); }

 private:
  std::string dir_;
  ::lineage::testing::DaemonProcess process_;
};

// One logged-in connection on the calling thread's event loop (`io` must
// outlive it and belong to this thread). Throws a kj exception if the
// daemon is unreachable; fails the test if the login is refused.
struct Session {
  Session(kj::AsyncIoContext& io, unsigned port, const std::string& token) : io(io) {
    auto address = io.provider->getNetwork().parseAddress("127.0.0.1", port).wait(io.waitScope);
    stream = address->connect().wait(io.waitScope);
    client = kj::heap<capnp::TwoPartyClient>(*stream);
    schema::Lineage::Client lineage = client->bootstrap().castAs<schema::Lineage>();
    auto request = lineage.loginRequest();
    request.setToken(Text(token));
    auto login = request.send().wait(io.waitScope);
    login_code = login.getStatus().getCode();
    gate = login.getGate();
    ingest = login.getIngest();
    responder = login.getResponder();
    approver = login.getApprover();
  }

  kj::AsyncIoContext& io;
  kj::Own<kj::AsyncIoStream> stream;
  kj::Own<capnp::TwoPartyClient> client;
  uint32_t login_code = 0;
  schema::Gate::Client gate = nullptr;
  schema::Ingest::Client ingest = nullptr;
  schema::Responder::Client responder = nullptr;
  schema::Approver::Client approver = nullptr;
};

// What each gate thread recorded. Digest classes: the closure-to-be,
// unrelated known artifacts, and digests nobody ingested.
enum DigestClass : uint8_t { kClosure, kUnrelated, kUnknown, kNoDigest };

struct CallRecord {
  int64_t start_ns;  // since the run's t0
  uint32_t latency_ns;
  uint8_t phase;
  uint8_t cls;
  bool ok;  // status 0
  bool deny;
  bool known;
};

struct GateStats {
  std::vector<CallRecord> calls;  // baseline, idle and load phases: one call in flight
  uint64_t pipelined_checks = 0;
  double pipelined_seconds = 0;
  uint64_t batched_digests = 0;
  uint64_t batched_calls = 0;
  double batched_seconds = 0;
  uint64_t bad_status = 0;      // pipelined/batched answers whose status was not 0
  uint64_t wrong_verdicts = 0;  // pipelined/batched closure digests not DENY, unrelated not ALLOW
  std::vector<std::string> errors;  // kj exceptions: there must be none
};

// Shared state of one run.
struct LoadRun {
  Clock::time_point t0 = Clock::now();
  std::atomic<int> phase{kSetup};
  std::atomic<bool> enforced{false};  // set once enforce returned: later checks of A must deny
  unsigned port = 0;
};

// The digest a gate thread checks next: half closure members, 40% unrelated
// known artifacts, 10% unknown.
std::pair<std::string, DigestClass> PickDigest(std::mt19937_64& rng) {
  uint64_t r = rng() % 10;
  if (r < 5) return {ClosureDigest(rng() % kClosureArtifacts), kClosure};
  if (r < 9) return {UnrelatedDigest(rng() % kUnrelatedArtifacts), kUnrelated};
  return {UnknownDigest(rng() % 1000000), kUnknown};
}

// One pipelined slot: sends a check, and on its answer the next, until the
// phase ends or the count bound is reached.
kj::Promise<void> PipelineSlot(schema::Gate::Client gate, LoadRun* run, GateStats* stats,
                               std::mt19937_64* rng, bool enforced) {
  if (run->phase.load() != kPipelined || stats->pipelined_checks >= kMaxRecordsPerThread) {
    return kj::READY_NOW;
  }
  auto [digest, cls] = PickDigest(*rng);
  auto request = gate.checkRequest();
  request.setDigest(Text(digest));
  request.setUnknown(schema::UnknownPolicy::WARN);
  return request.send().then([gate, run, stats, rng, enforced, cls = cls](auto&& response) mutable {
    stats->pipelined_checks++;
    if (response.getStatus().getCode() != 0) stats->bad_status++;
    bool deny = response.getResult().getDeny();
    if ((cls == kClosure && enforced && !deny) || (cls != kClosure && deny)) {
      stats->wrong_verdicts++;
    }
    return PipelineSlot(kj::mv(gate), run, stats, rng, enforced);
  });
}

void GateThread(LoadRun* run, std::string token, int index, GateStats* stats) {
  try {
    auto io = kj::setupAsyncIo();
    Session s(io, run->port, token);
    if (s.login_code != 0) {
      stats->errors.push_back(fmt::format("login refused: {}", s.login_code));
      return;
    }
    std::mt19937_64 rng(1000 + index);
    stats->calls.reserve(1 << 20);
    uint64_t count = 0;
    while (run->phase.load() < kWarmup)
      std::this_thread::sleep_for(std::chrono::milliseconds(1));

    // Phases with one call in flight: every call timed.
    for (int phase; (phase = run->phase.load()) <= kLoad;) {
      if (stats->calls.size() >= kMaxRecordsPerThread) {
        std::this_thread::sleep_for(std::chrono::milliseconds(1));
        continue;
      }
      CallRecord rec{};
      rec.phase = static_cast<uint8_t>(phase);
      Clock::time_point start = Clock::now();
      rec.start_ns = Nanos(start, run->t0);
      if (phase == kBaseline && count++ % 2 == 0) {
        // The cheapest call there is: past the head, the server reads only
        // the head sequence and answers with no deltas.
        auto request = s.gate.denyListSinceRequest();
        request.setAfterSeq(uint64_t{1} << 62);
        request.setMaxDeltas(1);
        auto response = request.send().wait(io.waitScope);
        rec.latency_ns = static_cast<uint32_t>(Nanos(Clock::now(), start));
        rec.cls = kNoDigest;
        rec.ok = response.getStatus().getCode() == 0 && response.getDeltas().size() == 0;
      } else {
        auto [digest, cls] = PickDigest(rng);
        auto request = s.gate.checkRequest();
        request.setDigest(Text(digest));
        request.setUnknown(schema::UnknownPolicy::WARN);
        auto response = request.send().wait(io.waitScope);
        rec.latency_ns = static_cast<uint32_t>(Nanos(Clock::now(), start));
        rec.cls = cls;
        rec.ok = response.getStatus().getCode() == 0;
        rec.deny = response.getResult().getDeny();
        rec.known = response.getResult().getKnown();
      }
      stats->calls.push_back(rec);
    }

    // Pipelined: kPipelineDepth checks in flight on this connection.
    while (run->phase.load() < kPipelined)
      std::this_thread::sleep_for(std::chrono::milliseconds(1));
    bool enforced = run->enforced.load();
    Clock::time_point start = Clock::now();
    kj::Vector<kj::Promise<void>> slots;
    for (int i = 0; i < kPipelineDepth; ++i)
      slots.add(PipelineSlot(s.gate, run, stats, &rng, enforced));
    kj::joinPromises(slots.releaseAsArray()).wait(io.waitScope);
    stats->pipelined_seconds = std::chrono::duration<double>(Clock::now() - start).count();

    // Batched: checkBatch of kBatchDigests, one call in flight.
    while (run->phase.load() < kBatched)
      std::this_thread::sleep_for(std::chrono::milliseconds(1));
    start = Clock::now();
    while (run->phase.load() == kBatched && stats->batched_calls < 10000) {
      auto request = s.gate.checkBatchRequest();
      request.setUnknown(schema::UnknownPolicy::WARN);
      auto list = request.initDigests(kBatchDigests);
      std::vector<DigestClass> classes(kBatchDigests);
      for (uint32_t i = 0; i < kBatchDigests; ++i) {
        auto [digest, cls] = PickDigest(rng);
        list.set(i, Text(digest));
        classes[i] = cls;
      }
      auto response = request.send().wait(io.waitScope);
      stats->batched_calls++;
      if (response.getStatus().getCode() != 0 || response.getResults().size() != kBatchDigests) {
        stats->bad_status++;
        continue;
      }
      auto results = response.getResults();
      for (uint32_t i = 0; i < kBatchDigests; ++i) {
        bool deny = results[i].getDeny();
        if ((classes[i] == kClosure && enforced && !deny) || (classes[i] != kClosure && deny)) {
          stats->wrong_verdicts++;
        }
      }
      stats->batched_digests += kBatchDigests;
    }
    stats->batched_seconds = std::chrono::duration<double>(Clock::now() - start).count();
  } catch (const kj::Exception& e) {
    stats->errors.push_back(e.getDescription().cStr());
  }
}

// ---- Ingest stream ----

struct Attestation {
  std::string envelope;
  std::string subject;    // "sha256:..."
  bool closure_material;  // its material is in the closure: must end up DENY
};

struct IngestStats {
  uint64_t sent = 0;
  uint64_t accepted = 0;
  uint64_t duplicates = 0;
  uint64_t calls = 0;
  double seconds = 0;
  std::vector<std::string> problems;  // rejected items, bad statuses, exceptions
};

void IngestThread(LoadRun* run, std::string token, const std::vector<Attestation>* docs,
                  IngestStats* stats) {
  try {
    auto io = kj::setupAsyncIo();
    Session s(io, run->port, token);
    if (s.login_code != 0) {
      stats->problems.push_back("ingest login refused");
      return;
    }
    while (run->phase.load() < kLoad)
      std::this_thread::sleep_for(std::chrono::milliseconds(1));
    Clock::time_point start = Clock::now();
    size_t next = 0;
    // IngestInFlight() calls in flight, as a CI fleet pushing at once would
    // have: the daemon verifies one while it stores another. Each slot sends
    // its next call when its answer arrives, until the phase ends.
    std::function<kj::Promise<void>()> slot = [&]() -> kj::Promise<void> {
      if (run->phase.load() != kLoad || next >= docs->size()) return kj::READY_NOW;
      size_t from = next, n = std::min<size_t>(kIngestDocsPerCall, docs->size() - next);
      next += n;
      auto request = s.ingest.ingestRequest();
      auto list = request.initDocuments(n);
      for (size_t i = 0; i < n; ++i) {
        const std::string& e = (*docs)[from + i].envelope;
        list[i].setName(Text(fmt::format("load-{}", from + i)));
        list[i].setContent(
            capnp::Data::Reader(reinterpret_cast<const kj::byte*>(e.data()), e.size()));
      }
      return request.send().then([&, n](auto&& response) {
        stats->calls++;
        stats->sent += n;
        if (response.getStatus().getCode() != 0) {
          stats->problems.push_back(std::string(View(response.getStatus().getMessage())));
          return slot();
        }
        if (response.getItems().size() != n) {
          stats->problems.push_back(
              fmt::format("{} documents answered with {} items", n, response.getItems().size()));
        }
        for (auto item : response.getItems()) {
          if (item.getAccepted()) stats->accepted++;
          if (item.getDuplicate()) stats->duplicates++;
          if (!item.getAccepted() && stats->problems.size() < 20) {
            stats->problems.push_back(std::string(View(item.getReason())));
          }
        }
        return slot();
      });
    };
    kj::Vector<kj::Promise<void>> slots;
    for (int i = 0; i < IngestInFlight(); ++i)
      slots.add(slot());
    kj::joinPromises(slots.releaseAsArray()).wait(io.waitScope);
    stats->seconds = std::chrono::duration<double>(Clock::now() - start).count();
  } catch (const kj::Exception& e) {
    stats->problems.push_back(e.getDescription().cStr());
  }
}

// ---- Subscriber ----

struct SubscriberState {
  std::mutex mu;
  std::vector<uint64_t> seqs;
  std::vector<int64_t> arrival_ns;         // per seq: when its deltas call arrived, since t0
  std::unordered_set<std::string> denied;  // the deny list as applied from the deltas
  int resyncs = 0;
  std::string resync_reason;
};

class Recorder final : public schema::DenyListSubscriber::Server {
 public:
  Recorder(SubscriberState* state, Clock::time_point t0) : state_(state), t0_(t0) {}

  kj::Promise<void> deltas(DeltasContext context) override {
    int64_t now = Nanos(Clock::now(), t0_);
    std::lock_guard lock(state_->mu);
    for (auto d : context.getParams().getDeltas()) {
      state_->seqs.push_back(d.getSeq());
      state_->arrival_ns.push_back(now);
      for (auto a : d.getAdded())
        state_->denied.emplace(View(a));
      for (auto r : d.getRemoved())
        state_->denied.erase(std::string(View(r)));
    }
    return kj::READY_NOW;
  }

  kj::Promise<void> resync(ResyncContext context) override {
    std::lock_guard lock(state_->mu);
    state_->resyncs++;
    state_->resync_reason = std::string(View(context.getParams().getReason()));
    return kj::READY_NOW;
  }

 private:
  SubscriberState* state_;
  Clock::time_point t0_;
};

struct SubscriberResult {
  bool caught_up = false;  // reached the snapshot's sequence within the bound
  uint64_t snapshot_seq = 0;
  size_t snapshot_size = 0;
  bool equal_to_snapshot = false;
  std::vector<std::string> errors;
};

// Subscribes from 0, runs its event loop until the run stops, then takes a
// snapshot (no writer is running by then) and waits, bounded, until it has
// applied every delta up to the snapshot's sequence.
void SubscriberThread(LoadRun* run, std::string token, SubscriberState* state,
                      SubscriberResult* result) {
  try {
    auto io = kj::setupAsyncIo();
    Session s(io, run->port, token);
    auto request = s.gate.subscribeRequest();
    request.setAfterSeq(0);
    request.setSubscriber(kj::heap<Recorder>(state, run->t0));
    auto subscribed = request.send().wait(io.waitScope);
    if (subscribed.getStatus().getCode() != 0) {
      result->errors.push_back("subscribe refused");
      return;
    }
    auto subscription = subscribed.getSubscription();
    auto& timer = io.provider->getTimer();
    while (run->phase.load() < kStop)
      timer.afterDelay(5 * kj::MILLISECONDS).wait(io.waitScope);

    auto snap = s.gate.snapshotRequest().send().wait(io.waitScope);
    result->snapshot_seq = snap.getSeq();
    result->snapshot_size = snap.getDigests().size();
    std::unordered_set<std::string> expected;
    for (auto d : snap.getDigests())
      expected.emplace(View(d));
    for (int i = 0; i < 2000; ++i) {
      {
        std::lock_guard lock(state->mu);
        if (!state->seqs.empty() && state->seqs.back() >= result->snapshot_seq) break;
        if (result->snapshot_seq == 0) break;
      }
      timer.afterDelay(5 * kj::MILLISECONDS).wait(io.waitScope);
    }
    std::lock_guard lock(state->mu);
    result->caught_up = result->snapshot_seq == 0 ||
                        (!state->seqs.empty() && state->seqs.back() == result->snapshot_seq);
    result->equal_to_snapshot = state->denied == expected;
  } catch (const kj::Exception& e) {
    result->errors.push_back(e.getDescription().cStr());
  }
}

// ---- Figures ----

struct Percentiles {
  size_t n = 0;
  double p50_us = 0, p99_us = 0, max_us = 0;
};

Percentiles Summarise(std::vector<uint32_t> latencies) {
  Percentiles p;
  p.n = latencies.size();
  if (latencies.empty()) return p;
  std::sort(latencies.begin(), latencies.end());
  auto at = [&](double q) {
    size_t i = static_cast<size_t>(q * static_cast<double>(latencies.size() - 1));
    return latencies[i] / 1000.0;
  };
  p.p50_us = at(0.50);
  p.p99_us = at(0.99);
  p.max_us = latencies.back() / 1000.0;
  return p;
}

TEST(RpcLoadTest, GatesKeepAnsweringThroughIngestAndA100kEnforcement) {
  char pattern[] = "/tmp/lineage-load-XXXXXX";
  ASSERT_NE(mkdtemp(pattern), nullptr);
  const std::string dir = pattern;
  fs::create_directories(dir + "/db");
  std::string load_before = testing::LoadAverage();

  // ---- Graph ----
  Clock::time_point setup_start = Clock::now();
  {
    StoreOptions options;
    options.logger = NewNullLogger();
    absl::StatusOr<std::unique_ptr<Store>> store = Store::Open(dir + "/db", options);
    ASSERT_TRUE(store.ok()) << store.status();
    ASSERT_NO_FATAL_FAILURE(
        LoadComponent(store->get(), kClosureArtifacts, ClosureDigest, 0x5555, 42));
    ASSERT_NO_FATAL_FAILURE(
        LoadComponent(store->get(), kUnrelatedArtifacts, UnrelatedDigest, 0xaaaa, 43));
    absl::StatusOr<uint64_t> closure = (*store)->CountDescendants(ClosureDigest(0), {});
    ASSERT_TRUE(closure.ok()) << closure.status();
    ASSERT_EQ(*closure + 1, kClosureArtifacts);  // + the root itself
  }
  double load_seconds = std::chrono::duration<double>(Clock::now() - setup_start).count();

  // ---- Trust policy, attestations, credentials ----
  ingest::testing::TestSigner signer(ingest::testing::KeyKind::kP256);
  {
    std::ofstream(dir + "/load.pub") << signer.PublicPem();
    std::ofstream(dir + "/policy.json")
        << R"({"version": 1, "keys": [{"name": "load test", "pem_file": "load.pub"}]})";
  }
  std::vector<Attestation> attestations;
  attestations.reserve(kMaxAttestations);
  std::mt19937_64 pick(7);
  for (int i = 0; i < kMaxAttestations; ++i) {
    Attestation a;
    std::string hex = ingest::Sha256Hex(fmt::format("load-subject-{}", i));
    a.subject = "sha256:" + hex;
    // A quarter derive from the closure-to-be: ingested before the
    // enforcement they join the closure (enforce accepts changes), after it
    // sticky taint must deny them as they land.
    a.closure_material = i % 4 == 0;
    std::string material = a.closure_material ? ClosureDigest(pick() % kClosureArtifacts)
                                              : UnrelatedDigest(pick() % kUnrelatedArtifacts);
    a.envelope = ingest::testing::SignEnvelope("application/vnd.in-toto+json",
                                               Statement(hex, material), {&signer});
    attestations.push_back(std::move(a));
  }

  std::map<std::string, std::string> tokens;
  {
    absl::StatusOr<CredentialStore> creds = CredentialStore::Load(dir + "/db/credentials");
    ASSERT_TRUE(creds.ok()) << creds.status();
    auto add = [&](const std::string& name, Role role) {
      absl::StatusOr<std::string> t = creds->Create(name, role, absl::Now());
      ASSERT_TRUE(t.ok()) << t.status();
      tokens[name] = *t;
    };
    for (int i = 0; i < kGateThreads; ++i)
      add(fmt::format("load-gate-{}", i), Role::kGate);
    add("load-subscriber", Role::kGate);
    add("load-ingest", Role::kIngest);
    add("load-responder", Role::kResponder);
    add("load-approver-1", Role::kApprover);
    add("load-approver-2", Role::kApprover);
  }
  double setup_seconds = std::chrono::duration<double>(Clock::now() - setup_start).count();

  Daemon daemon(dir);
  ASSERT_NO_FATAL_FAILURE(daemon.Start(dir + "/policy.json"));

  // ---- LoadRun ----
  LoadRun run;
  run.port = daemon.port();
  std::vector<GateStats> gates(kGateThreads);
  IngestStats ingest_stats;
  SubscriberState sub_state;
  SubscriberResult sub_result;
  std::vector<std::thread> threads;
  // Whatever way this test leaves (a failed ASSERT included), the threads
  // are told to stop and joined: each of them is bounded by the phase.
  struct Joiner {
    LoadRun* run;
    std::vector<std::thread>* threads;
    ~Joiner() {
      run->phase = kStop;
      for (std::thread& t : *threads)
        if (t.joinable()) t.join();
    }
  } joiner{&run, &threads};
  for (int i = 0; i < kGateThreads; ++i)
    threads.emplace_back(GateThread, &run, tokens[fmt::format("load-gate-{}", i)], i, &gates[i]);
  threads.emplace_back(IngestThread, &run, tokens["load-ingest"], &attestations, &ingest_stats);
  threads.emplace_back(SubscriberThread, &run, tokens["load-subscriber"], &sub_state, &sub_result);

  // The responder and approvers run here, on this thread's event loop.
  auto io = kj::setupAsyncIo();
  Session responder(io, run.port, tokens["load-responder"]);
  Session approver1(io, run.port, tokens["load-approver-1"]);
  Session approver2(io, run.port, tokens["load-approver-2"]);
  ASSERT_EQ(responder.login_code, 0u);
  ASSERT_EQ(approver1.login_code, 0u);
  ASSERT_EQ(approver2.login_code, 0u);

  auto sleep_for = [](auto d) { std::this_thread::sleep_for(d); };
  run.phase = kWarmup;
  sleep_for(kWarmupPhase);
  run.phase = kBaseline;
  sleep_for(kBaselinePhase);
  run.phase = kIdle;
  sleep_for(kIdlePhase);
  Clock::time_point load_start = Clock::now();
  run.phase = kLoad;
  sleep_for(kEnforceAfter);

  uint64_t plan_artifacts = 0, newly_denied = 0, changed_added = 0, deny_seq = 0;
  int64_t server_enforce_us = 0;
  double plan_ms = 0, enforce_ms = 0;
  int64_t enforce_send_ns = 0, enforce_return_ns = 0;
  {
    Clock::time_point t = Clock::now();
    auto plan = responder.responder.planRequest();
    auto roots = plan.initRoots(1);
    roots[0].setRef(Text(ClosureDigest(0)));
    roots[0].setSinceMicros(std::numeric_limits<int64_t>::min());
    roots[0].setUntilMicros(std::numeric_limits<int64_t>::max());
    plan.setReason("load test: compromised base");
    plan.setMaxListed(0);
    auto planned = plan.send().wait(io.waitScope);
    plan_ms = std::chrono::duration<double, std::milli>(Clock::now() - t).count();
    ASSERT_EQ(planned.getStatus().getCode(), 0u) << View(planned.getStatus().getMessage());
    ASSERT_TRUE(planned.getPlan().getBulk());
    plan_artifacts = planned.getPlan().getArtifactCount();
    std::string plan_id(View(planned.getPlan().getId()));
    for (Session* a : {&approver1, &approver2}) {
      auto approve = a->approver.approveRequest();
      approve.setPlanId(Text(plan_id));
      auto approved = approve.send().wait(io.waitScope);
      ASSERT_EQ(approved.getStatus().getCode(), 0u) << View(approved.getStatus().getMessage());
    }
    // Attestations ingested since the plan extend the closure: accept them.
    auto enforce = responder.responder.enforceRequest();
    enforce.setPlanId(Text(plan_id));
    enforce.setAcceptChanges(true);
    Clock::time_point e = Clock::now();
    enforce_send_ns = Nanos(e, run.t0);
    auto enforced = enforce.send().wait(io.waitScope);
    Clock::time_point done = Clock::now();
    enforce_return_ns = Nanos(done, run.t0);
    run.enforced = true;
    enforce_ms = std::chrono::duration<double, std::milli>(done - e).count();
    ASSERT_EQ(enforced.getStatus().getCode(), 0u) << View(enforced.getStatus().getMessage());
    ASSERT_TRUE(enforced.getOutcome().getEnforced());
    newly_denied = enforced.getOutcome().getNewlyDenied();
    changed_added = enforced.getOutcome().getChangedAdded();
    deny_seq = enforced.getOutcome().getDenySeq();
    server_enforce_us = enforced.getOutcome().getDurationMicros();
  }
  std::this_thread::sleep_until(load_start + kLoadPhase);
  run.phase = kPipelined;
  sleep_for(kPipelinedPhase);
  run.phase = kBatched;
  sleep_for(kBatchedPhase);
  run.phase = kStop;
  for (std::thread& t : threads)
    t.join();
  std::string load_after = testing::LoadAverage();

  // ---- Nothing lost ----
  // Every call answered, with status 0.
  for (int i = 0; i < kGateThreads; ++i) {
    EXPECT_TRUE(gates[i].errors.empty()) << "gate " << i << ": " << gates[i].errors.front();
    EXPECT_EQ(gates[i].bad_status, 0u) << "gate " << i;
    EXPECT_EQ(gates[i].wrong_verdicts, 0u) << "gate " << i;
  }
  uint64_t not_ok = 0, early_deny = 0, late_allow = 0, unrelated_deny = 0, unknown_known = 0,
           unrelated_unknown = 0, closure_after = 0;
  std::vector<uint32_t> baseline, interleaved, idle, loaded, during_enforce;
  uint64_t idle_calls = 0;
  for (const GateStats& g : gates) {
    for (const CallRecord& c : g.calls) {
      if (!c.ok) not_ok++;
      if (c.phase == kBaseline && c.cls == kNoDigest) {
        baseline.push_back(c.latency_ns);
        continue;
      }
      if (c.phase == kBaseline) {
        interleaved.push_back(c.latency_ns);
      } else if (c.phase == kIdle) {
        idle.push_back(c.latency_ns);
        idle_calls++;
      } else if (c.phase == kLoad) {
        loaded.push_back(c.latency_ns);
        if (c.start_ns + c.latency_ns >= enforce_send_ns && c.start_ns <= enforce_return_ns) {
          during_enforce.push_back(c.latency_ns);
        }
      }
      if (c.cls == kClosure) {
        // Answered before enforce was sent: not denied yet. Started after it
        // returned: denied.
        if (c.start_ns + c.latency_ns < enforce_send_ns && c.deny) early_deny++;
        if (c.start_ns > enforce_return_ns) {
          closure_after++;
          if (!c.deny) late_allow++;
        }
      } else if (c.cls == kUnrelated) {
        if (c.deny) unrelated_deny++;
        if (!c.known) unrelated_unknown++;
      } else if (c.cls == kUnknown && c.known) {
        unknown_known++;
      }
    }
  }
  EXPECT_EQ(not_ok, 0u) << "calls answered with a non-zero status";
  EXPECT_EQ(early_deny, 0u) << "closure digests denied before the enforcement";
  EXPECT_GT(closure_after, 0u);
  EXPECT_EQ(late_allow, 0u) << "closure digests allowed after enforce returned";
  EXPECT_EQ(unrelated_deny, 0u);
  EXPECT_EQ(unrelated_unknown, 0u);
  EXPECT_EQ(unknown_known, 0u);

  // Every attestation sent was accepted (none a duplicate), is in the store
  // and has the right verdict.
  EXPECT_TRUE(ingest_stats.problems.empty()) << ingest_stats.problems.front();
  EXPECT_GT(ingest_stats.sent, 0u);
  EXPECT_EQ(ingest_stats.accepted, ingest_stats.sent);
  EXPECT_EQ(ingest_stats.duplicates, 0u);
  uint64_t sticky_denied = 0, ingested_unknown = 0, wrong_ingested = 0, closure_allowed = 0;
  Session verifier(io, run.port, tokens["load-gate-0"]);
  auto check_all = [&](size_t count, const std::function<std::string(size_t)>& digest,
                       const std::function<void(size_t, bool deny, bool known)>& verdict) {
    for (size_t from = 0; from < count; from += kBatchDigests) {
      size_t n = std::min<size_t>(kBatchDigests, count - from);
      auto request = verifier.gate.checkBatchRequest();
      request.setUnknown(schema::UnknownPolicy::WARN);
      auto list = request.initDigests(n);
      for (size_t i = 0; i < n; ++i)
        list.set(i, Text(digest(from + i)));
      auto response = request.send().wait(io.waitScope);
      ASSERT_EQ(response.getStatus().getCode(), 0u) << View(response.getStatus().getMessage());
      // One getResults(): every call counts against the traversal limit.
      auto results = response.getResults();
      ASSERT_EQ(results.size(), n);
      for (size_t i = 0; i < n; ++i)
        verdict(from + i, results[i].getDeny(), results[i].getKnown());
    }
  };
  check_all(
      ingest_stats.sent, [&](size_t i) { return attestations[i].subject; },
      [&](size_t i, bool deny, bool known) {
        if (!known) ingested_unknown++;
        if (deny != attestations[i].closure_material) wrong_ingested++;
        if (deny) sticky_denied++;
      });
  check_all(
      kClosureArtifacts, [](size_t i) { return ClosureDigest(i); },
      [&](size_t, bool deny, bool) {
        if (!deny) closure_allowed++;
      });
  EXPECT_EQ(ingested_unknown, 0u) << "accepted attestations whose subject the store does not know";
  EXPECT_EQ(wrong_ingested, 0u) << "ingested subjects with the wrong verdict";
  EXPECT_EQ(closure_allowed, 0u) << "closure digests not denied after the run";

  // The subscriber: gap-free from 1, in order, no resync, equal to the snapshot.
  uint64_t gaps = 0;
  double push_ms = -1;  // enforce sent -> its delta at the subscriber
  {
    std::lock_guard lock(sub_state.mu);
    for (size_t i = 0; i < sub_state.seqs.size(); ++i) {
      if (sub_state.seqs[i] == deny_seq)
        push_ms = (sub_state.arrival_ns[i] - enforce_send_ns) / 1e6;
    }
    for (size_t i = 0; i < sub_state.seqs.size(); ++i)
      if (sub_state.seqs[i] != i + 1) gaps++;
    EXPECT_EQ(gaps, 0u) << "subscriber sequences not 1, 2, 3, ...";
    EXPECT_EQ(sub_state.resyncs, 0) << sub_state.resync_reason;
  }
  EXPECT_TRUE(sub_result.errors.empty()) << sub_result.errors.front();
  EXPECT_TRUE(sub_result.caught_up) << "subscriber did not reach seq " << sub_result.snapshot_seq;
  EXPECT_TRUE(sub_result.equal_to_snapshot) << "applied deltas differ from Gate.snapshot()";
  EXPECT_EQ(sub_result.snapshot_size, kClosureArtifacts + sticky_denied);
  EXPECT_GE(sub_result.snapshot_seq, deny_seq);

  EXPECT_EQ(daemon.Stop(), 0) << daemon.log();

  // ---- Figures ----
  Percentiles b = Summarise(baseline), c = Summarise(interleaved), i = Summarise(idle),
              l = Summarise(loaded), e = Summarise(during_enforce);
  uint64_t pipelined = 0, batched = 0;
  double pipelined_s = 0, batched_s = 0;
  for (const GateStats& g : gates) {
    pipelined += g.pipelined_checks;
    batched += g.batched_digests;
    pipelined_s = std::max(pipelined_s, g.pipelined_seconds);
    batched_s = std::max(batched_s, g.batched_seconds);
  }
  auto row = [](std::string_view what, const Percentiles& p) {
    return fmt::format("| {} | {} | {:.0f} µs | {:.0f} µs | {:.0f} µs |\n", what, p.n, p.p50_us,
                       p.p99_us, p.max_us);
  };
  double idle_s = std::chrono::duration<double>(kIdlePhase).count();
  std::string table =
      "\n| latency, 4 gate connections, one call in flight each | calls | p50 | p99 | max |\n"
      "| --- | ---: | ---: | ---: | ---: |\n" +
      row("baseline: Gate.denyListSince past the head (alternating with checks)", b) +
      row("check, alternating with the baseline call", c) + row("check, idle", i) +
      row("check, during the ingest stream and plan/approve/enforce", l) +
      row("check, overlapping the enforce call", e) +
      fmt::format(
          "\n| throughput and durations | figure |\n| --- | ---: |\n"
          "| single checks/s (4 connections, one in flight each, idle) | {:.0f} |\n"
          "| pipelined checks/s (4 connections, {} in flight each) | {:.0f} |\n"
          "| batched digests/s (4 connections, checkBatch of {}) | {:.0f} |\n"
          "| enforce of {} artifacts: RPC round trip / server durationMicros | {:.0f} ms / {:.1f} "
          "ms |\n"
          "| enforce sent to its delta received by the subscribed gate | {:.0f} ms |\n"
          "| plan of the closure (RPC round trip) | {:.0f} ms |\n"
          "| ingest: {} signed DSSE attestations accepted in {:.2f} s ({} per call, {} in flight) "
          "| {:.0f}/s "
          "|\n\n"
          "check p99 / baseline p99 (alternating): {:.2f}x; under load / baseline: {:.2f}x\n"
          "enforce: newly denied {}, changed (added since the plan) {}, deny seq {}; "
          "sticky-denied ingested subjects {}; subscriber deltas {} (seq 1..{}), snapshot {} "
          "digests\n"
          "setup {:.1f} s (graph load {:.1f} s); /proc/loadavg before: {}; after: {}\n",
          idle_calls / idle_s, kPipelineDepth, pipelined_s > 0 ? pipelined / pipelined_s : 0.0,
          kBatchDigests, batched_s > 0 ? batched / batched_s : 0.0, plan_artifacts, enforce_ms,
          server_enforce_us / 1000.0, push_ms, plan_ms, ingest_stats.accepted, ingest_stats.seconds,
          kIngestDocsPerCall, IngestInFlight(),
          ingest_stats.seconds > 0 ? ingest_stats.accepted / ingest_stats.seconds : 0.0,
          b.p99_us > 0 ? c.p99_us / b.p99_us : 0.0, b.p99_us > 0 ? l.p99_us / b.p99_us : 0.0,
          newly_denied, changed_added, deny_seq, sticky_denied, sub_state.seqs.size(),
          sub_state.seqs.empty() ? 0 : sub_state.seqs.back(), sub_result.snapshot_size,
          setup_seconds, load_seconds, load_before, load_after);
  std::printf("%s", table.c_str());
  std::fflush(stdout);
  if (!HasFailure()) fs::remove_all(dir);
}

}  // namespace
}  // namespace lineage::rpc
