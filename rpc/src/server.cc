#include "rpc/include/lineage/rpc/server.h"

#include <sys/stat.h>

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <condition_variable>
#include <cstring>
#include <deque>
#include <functional>
#include <map>
#include <mutex>
#include <optional>
#include <set>
#include <thread>

#include <capnp/membrane.h>
#include <capnp/message.h>
#include <kj/async.h>
#include <kj/debug.h>

#include "absl/status/status.h"
#include "absl/time/clock.h"

#include <fmt/format.h>

#include "engine/include/lineage/revocation.h"
#include "ingest/include/lineage/ingest/ingest.h"
#include "ingest/include/lineage/ingest/inventory.h"
#include "rpc/include/lineage/rpc/credentials.h"
#include "rpc/src/convert.h"
#include "rpc/src/ingest_sequencer.h"
#include "rpc/src/worker_thread.h"
#include "schemas/lineage.capnp.h"

namespace lineage::rpc {
namespace {

// The nice value of the threads that do bulk work (signature checks of
// ingested documents, backups): see WorkerThread. 10 gives a thread at 0
// (the event loop) about ten times their share of a contended core.
constexpr int kBulkNice = 10;

// ---- Revocable logins ----

class GrantRegistry;

// What one login granted. Every capability a login hands out sits behind a
// Cap'n Proto membrane with this policy, so revoking the credential cuts
// all of them at once: calls in flight are cancelled, later calls fail with
// an exception naming the revocation, and the subscriber capabilities the
// holder passed in (its deny-list pushes) are dropped with them. Without
// it a revoked token's live connection would keep its role until it
// disconnected. Event loop thread only, as is the registry.
class GrantPolicy final : public capnp::MembranePolicy, public kj::Refcounted {
 public:
  GrantPolicy(std::shared_ptr<GrantRegistry> registry, std::string name, std::string token_sha256);
  ~GrantPolicy() noexcept(false) override;

  kj::Maybe<capnp::Capability::Client> inboundCall(uint64_t, uint16_t,
                                                   capnp::Capability::Client) override {
    return nullptr;  // every call passes until the grant is revoked
  }
  kj::Maybe<capnp::Capability::Client> outboundCall(uint64_t, uint16_t,
                                                    capnp::Capability::Client) override {
    return nullptr;
  }
  kj::Own<capnp::MembranePolicy> addRef() override { return kj::addRef(*this); }
  kj::Maybe<kj::Promise<void>> onRevoked() override { return revoked_.addBranch(); }

  const std::string& name() const { return name_; }
  const std::string& token_sha256() const { return token_sha256_; }
  void Revoke();

 private:
  std::shared_ptr<GrantRegistry> registry_;
  std::string name_;
  std::string token_sha256_;
  kj::Own<kj::PromiseFulfiller<void>> fulfiller_;
  kj::ForkedPromise<void> revoked_;
};

// The live grants, so that a credential change can revoke those it no
// longer backs. Shared by the server and every policy (a capability may
// outlive the server object while its connection winds down).
class GrantRegistry {
 public:
  void Add(GrantPolicy* grant) { grants_.insert(grant); }
  void Remove(GrantPolicy* grant) { grants_.erase(grant); }

  // Revokes every live grant whose credential `stands` no longer vouches
  // for (revoked, deleted, or re-created with another token); returns how
  // many.
  size_t RevokeUnless(const std::function<bool(const GrantPolicy&)>& stands) {
    std::vector<GrantPolicy*> gone;
    for (GrantPolicy* grant : grants_) {
      if (!stands(*grant)) gone.push_back(grant);
    }
    for (GrantPolicy* grant : gone) {
      grants_.erase(grant);
      grant->Revoke();
    }
    return gone.size();
  }

 private:
  std::set<GrantPolicy*> grants_;
};

GrantPolicy::GrantPolicy(std::shared_ptr<GrantRegistry> registry, std::string name,
                         std::string token_sha256)
    : registry_(std::move(registry)),
      name_(std::move(name)),
      token_sha256_(std::move(token_sha256)),
      revoked_(nullptr) {
  auto paf = kj::newPromiseAndFulfiller<void>();
  fulfiller_ = kj::mv(paf.fulfiller);
  revoked_ = paf.promise.fork();
  registry_->Add(this);
}

GrantPolicy::~GrantPolicy() noexcept(false) {
  registry_->Remove(this);
}

void GrantPolicy::Revoke() {
  // The client maps "unauthenticated:" to absl's Unauthenticated.
  fulfiller_->reject(KJ_EXCEPTION(
      FAILED, kj::str("unauthenticated: the credential \"", name_.c_str(), "\" was revoked")));
}

class ServerImpl;

// ---- Deny-list pages that fit a message ----
//
// Cap'n Proto refuses to send a message larger than the connection's limit
// (lineaged --max-message-mib) and a receiver drops the connection on one
// larger than its own. Every deny-list answer and push is therefore cut to a
// byte budget: a delta that does not fit travels as parts (DenyDelta.
// continued), a snapshot as pages.

// What one digest adds to a message: its text (NUL-terminated, padded to a
// word) and its list pointer.
size_t DigestBytes(const std::string& digest) {
  return (digest.size() + 1 + 7) / 8 * 8 + 8;
}

// The budget for one message: half the smaller of the daemon's limit and
// the caller's (0: the daemon's), leaving room for the RPC framing; never
// below 4 KiB, so that a page always holds some digests.
size_t PageBudget(uint64_t server_limit, uint64_t caller_limit) {
  uint64_t limit = caller_limit == 0 ? server_limit : std::min(server_limit, caller_limit);
  return static_cast<size_t>(std::max<uint64_t>(limit / 2, 4096));
}

// A position in the deny-list log: every delta up to `done_seq` is whole at
// the receiver, and of delta done_seq + 1 the first `skip` digests (added,
// then removed).
struct LogPosition {
  uint64_t done_seq = 0;
  uint64_t skip = 0;
};

// Deltas cut to a budget, with where they end.
struct CutPage {
  std::vector<DenyDelta> parts;
  std::vector<bool> continued;  // parallel to parts
  LogPosition next;
  bool more = false;  // `deltas` held more than fits
};

// Cuts `deltas` (those after from.done_seq, in order; the first with
// from.skip digests already sent) into parts of at most `budget` bytes in
// all. Moves the digests out of `deltas`. Always makes progress: the first
// part holds at least one digest even over the budget (a digest is far
// smaller than any budget).
CutPage Cut(std::vector<DenyDelta>& deltas, LogPosition from, size_t budget) {
  CutPage out;
  out.next = from;
  size_t used = 0;
  for (size_t i = 0; i < deltas.size(); ++i) {
    DenyDelta& delta = deltas[i];
    size_t start = i == 0 ? from.skip : 0;
    size_t total = delta.added.size() + delta.removed.size();
    size_t fixed = 64 + delta.cause.size();  // the struct and its cause
    if (!out.parts.empty() && used + fixed > budget) {
      out.more = true;
      break;
    }
    used += fixed;
    DenyDelta part;
    part.seq = delta.seq;
    part.time = delta.time;
    part.cause = delta.cause;
    size_t k = start;
    for (; k < total; ++k) {
      std::string& d =
          k < delta.added.size() ? delta.added[k] : delta.removed[k - delta.added.size()];
      size_t bytes = DigestBytes(d);
      if (used + bytes > budget && (k > start || !out.parts.empty())) break;
      used += bytes;
      (k < delta.added.size() ? part.added : part.removed).push_back(std::move(d));
    }
    if (k == start && start < total) {
      // Not one digest of this delta fits after the earlier parts: it
      // starts the next page.
      out.more = true;
      break;
    }
    bool continued = k < total;
    out.parts.push_back(std::move(part));
    out.continued.push_back(continued);
    if (continued) {
      out.next = {delta.seq - 1, k};
      out.more = true;
      break;
    }
    out.next = {delta.seq, 0};
  }
  return out;
}

// Reads the deltas after `from` (at most max_deltas) and cuts them to
// `budget`. InvalidArgument when from.skip names digests of a delta that is
// not there. Runs off the event loop: a large delta's digests take tens of
// milliseconds to read.
absl::StatusOr<std::pair<CutPage, DenyListPage>> ReadCut(Store* store, LogPosition from,
                                                         size_t max_deltas, size_t budget) {
  absl::StatusOr<DenyListPage> page = store->DenyListSince(from.done_seq, max_deltas);
  if (!page.ok()) return page.status();
  if (from.skip > 0 &&
      (page->deltas.empty() || page->deltas.front().seq != from.done_seq + 1 ||
       page->deltas.front().added.size() + page->deltas.front().removed.size() < from.skip)) {
    return absl::InvalidArgumentError(
        fmt::format("skipDigests {}: delta {} has no such part", from.skip, from.done_seq + 1));
  }
  CutPage cut = Cut(page->deltas, from, budget);
  page->deltas.clear();
  return std::make_pair(std::move(cut), *std::move(page));
}

void FillParts(capnp::List<schema::DenyDelta>::Builder out, const CutPage& cut) {
  FillDeltas(out, cut.parts);
  for (size_t i = 0; i < cut.parts.size(); ++i)
    out[i].setContinued(cut.continued[i]);
}

// ---- Other answers that fit a message ----
//
// The same rule for answers that list what a 10M-artifact graph can hold
// millions of (an enforcement's workloads, evidence records): the first
// part fits PageBudget, and the caller asks for the rest.

// How many of `texts`, from `start`, fit in `budget` bytes. With
// `at_least_one`, never 0 while any is left, so that paging makes progress
// (a ref is far smaller than any budget).
size_t FitTexts(const std::vector<std::string>& texts, size_t start, size_t budget,
                bool at_least_one) {
  size_t used = 0, k = start;
  for (; k < texts.size(); ++k) {
    size_t bytes = DigestBytes(texts[k]);
    if (used + bytes > budget && !(at_least_one && k == start)) break;
    used += bytes;
  }
  return k - start;
}

// What an evidence record adds to a message without its artifacts and
// workloads: the struct, its texts and its roots.
size_t RecordFixedBytes(const EvidenceRecord& r) {
  size_t bytes = 160;
  for (const std::string* text :
       {&r.action, &r.actor, &r.plan_id, &r.revocation, &r.reason, &r.details})
    bytes += DigestBytes(*text);
  for (const RevocationRoot& root : r.roots)
    bytes += 32 + DigestBytes(root.ref);
  return bytes;
}

// Evidence records cut to a budget (Reader.evidence), as Cut does deltas.
struct EvidenceCut {
  std::vector<EvidenceRecord> parts;
  std::vector<bool> continued;  // parallel to parts
  bool more = false;            // records held more than fits
};

// Cuts `records` (those after the caller's position, oldest first; of the
// first, `skip` items already sent: artifacts, then workloads) into parts of
// at most `budget` bytes in all. Moves the items out of `records`. Always
// makes progress: the first part holds at least one item.
EvidenceCut CutEvidence(std::vector<EvidenceRecord>& records, uint64_t skip, size_t budget) {
  EvidenceCut out;
  size_t used = 0;
  for (size_t i = 0; i < records.size(); ++i) {
    EvidenceRecord& record = records[i];
    size_t start = i == 0 ? skip : 0;
    size_t total = record.artifacts.size() + record.workloads.size();
    size_t fixed = RecordFixedBytes(record);
    if (!out.parts.empty() && used + fixed > budget) {
      out.more = true;
      break;
    }
    used += fixed;
    // The part takes the record's fields, then the items that fit.
    std::vector<std::string> artifacts = std::move(record.artifacts);
    std::vector<std::string> workloads = std::move(record.workloads);
    EvidenceRecord part = std::move(record);
    part.artifacts.clear();
    part.workloads.clear();
    size_t k = start;
    for (; k < total; ++k) {
      bool artifact = k < artifacts.size();
      std::string& item = artifact ? artifacts[k] : workloads[k - artifacts.size()];
      size_t bytes = DigestBytes(item);
      if (used + bytes > budget && (k > start || !out.parts.empty())) break;
      used += bytes;
      (artifact ? part.artifacts : part.workloads).push_back(std::move(item));
    }
    if (k == start && start < total) {
      // Not one item of this record fits after the earlier ones: it starts
      // the next answer.
      out.more = true;
      break;
    }
    bool continued = k < total;
    out.parts.push_back(std::move(part));
    out.continued.push_back(continued);
    if (continued) {
      out.more = true;
      break;
    }
  }
  return out;
}

// Pushes deny-list deltas to subscribers. Lives on the event loop thread.
class DenyListHub : private kj::TaskSet::ErrorHandler {
 public:
  using DeltasRequest = capnp::Request<schema::DenyListSubscriber::DeltasParams,
                                       schema::DenyListSubscriber::DeltasResults>;

  // One page of deltas read for a subscriber, with the push call already
  // built when there is something to send.
  struct Prepared {
    absl::Status status;
    uint64_t head_seq = 0;
    bool any = false;  // `request` holds parts to send
    LogPosition next;  // the subscriber's position once they arrived
    std::optional<DeltasRequest> request;
  };
  // Runs `work` on the reader thread; the promise resolves on the event
  // loop. Reading the page (a large delta's bitmap becomes sorted digests),
  // building the call's message from it and freeing the page all take long
  // enough for a delta of a million digests (tens of milliseconds each) to
  // hold up checks, so none of them happens on the loop.
  using RunOffLoop =
      std::function<kj::Promise<std::shared_ptr<Prepared>>(std::function<Prepared()> work)>;

  DenyListHub(Store* store, RunOffLoop run, uint64_t lag_limit, uint64_t max_message_bytes,
              Logger* logger)
      : store_(store),
        run_(std::move(run)),
        lag_limit_(lag_limit),
        max_message_bytes_(max_message_bytes),
        logger_(logger),
        tasks_(*this) {}

  // `max_message_bytes`: the subscriber's receive limit (0: the daemon's).
  uint64_t Add(schema::DenyListSubscriber::Client client, uint64_t after_seq,
               uint64_t max_message_bytes) {
    uint64_t id = next_id_++;
    Subscriber sub{kj::mv(client), LogPosition{after_seq, 0}};
    sub.budget = PageBudget(max_message_bytes_, max_message_bytes);
    subscribers_.emplace(id, kj::mv(sub));
    Pump(id);
    return id;
  }

  void Remove(uint64_t id) { subscribers_.erase(id); }

  // A new head sequence is durable: wake every idle subscriber.
  void Publish() {
    std::vector<uint64_t> ids;
    for (const auto& [id, sub] : subscribers_)
      ids.push_back(id);
    for (uint64_t id : ids)
      Pump(id);
  }

  // Asks everyone to resync elsewhere; used on shutdown.
  void ResyncAll(std::string_view reason) {
    uint64_t head = HeadSeq();
    for (auto& [id, sub] : subscribers_) {
      auto request = sub.client.resyncRequest();
      request.setHeadSeq(head);
      request.setReason(Text(std::string(reason)));
      tasks_.add(request.send().ignoreResult());
    }
    subscribers_.clear();
  }

  size_t size() const { return subscribers_.size(); }

 private:
  struct Subscriber {
    schema::DenyListSubscriber::Client client;
    LogPosition sent;
    size_t budget = 0;
    bool in_flight = false;  // a fetch or a deltas call is under way
    bool dirty = false;      // a Publish arrived meanwhile: look again afterwards
  };

  static constexpr uint32_t kBatch = 256;

  uint64_t HeadSeq() {
    absl::StatusOr<DenyListPage> page = store_->DenyListSince(UINT64_MAX - 1, 0);
    return page.ok() ? page->head_seq : 0;
  }

  void Pump(uint64_t id) {
    auto it = subscribers_.find(id);
    if (it == subscribers_.end()) return;
    if (it->second.in_flight) {
      it->second.dirty = true;
      return;
    }
    it->second.in_flight = true;
    it->second.dirty = false;

    // The call is made here (it belongs to the subscriber's connection) and
    // filled on the reader thread, which touches only its message; it comes
    // back to the loop inside Prepared, so it is sent and destroyed here.
    // The box gives the request up as it moves into Prepared: the reader's
    // closure keeps no reference that could drop it off the loop.
    auto box = std::make_shared<std::optional<DeltasRequest>>(it->second.client.deltasRequest());
    Store* store = store_;
    LogPosition from = it->second.sent;
    uint64_t lag_limit = lag_limit_;
    size_t budget = it->second.budget;
    std::function<Prepared()> work = [store, box, from, lag_limit, budget]() -> Prepared {
      Prepared out;
      out.request = std::move(*box);
      box->reset();
      absl::StatusOr<std::pair<CutPage, DenyListPage>> read = ReadCut(store, from, kBatch, budget);
      out.status = read.status();
      if (!read.ok()) return out;
      auto& [cut, page] = *read;
      out.head_seq = page.head_seq;
      if (page.head_seq > from.done_seq + lag_limit || cut.parts.empty()) return out;
      FillParts(out.request->initDeltas(cut.parts.size()), cut);
      // The estimate above is conservative; this is the contract Cap'n
      // Proto enforces on send, checked so that a miss is an error here
      // (and a resync) rather than a push that silently never leaves.
      uint64_t bytes = out.request->asReader().totalSize().wordCount * sizeof(capnp::word);
      if (bytes > budget * 2) {
        out.status = absl::InternalError(
            fmt::format("a push of {} bytes is over the {} byte limit", bytes, budget * 2));
        return out;
      }
      out.any = true;
      out.next = cut.next;
      return out;
    };
    tasks_.add(run_(std::move(work)).then([this, id](std::shared_ptr<Prepared> prepared) {
      Send(id, std::move(prepared));
    }));
  }

  // Tells the subscriber to take a snapshot and forgets it. A gate is never
  // left subscribed to a push that stopped.
  void Resync(std::map<uint64_t, Subscriber>::iterator it, uint64_t head, std::string reason) {
    auto request = it->second.client.resyncRequest();
    request.setHeadSeq(head);
    request.setReason(Text(reason));
    tasks_.add(request.send().ignoreResult());
    LINEAGE_LOG(logger_, kWarning, "subscriber {} told to resync: {}", it->first, reason);
    subscribers_.erase(it);
  }

  // Back on the event loop with the prepared call: resync, send, or go idle.
  void Send(uint64_t id, std::shared_ptr<Prepared> prepared) {
    auto it = subscribers_.find(id);
    if (it == subscribers_.end()) return;
    Subscriber& sub = it->second;
    if (!prepared->status.ok()) {
      LINEAGE_LOG(logger_, kError, "deny-list push: {}", std::string(prepared->status.message()));
      Resync(it, prepared->head_seq,
             fmt::format("the push failed: {}", std::string(prepared->status.message())));
      return;
    }
    if (prepared->head_seq > sub.sent.done_seq + lag_limit_) {
      // Bounded: a subscriber this far behind takes a snapshot instead of
      // replaying the log delta by delta.
      Resync(it, prepared->head_seq,
             fmt::format("{} sequences behind (limit {})", prepared->head_seq - sub.sent.done_seq,
                         lag_limit_));
      return;
    }
    if (!prepared->any) {
      Idle(id);
      return;
    }

    LogPosition next = prepared->next;
    uint64_t head = prepared->head_seq;
    tasks_.add(prepared->request->send().then(
        [this, id, next](auto&&) {
          auto found = subscribers_.find(id);
          if (found == subscribers_.end()) return;
          found->second.sent = next;
          found->second.in_flight = false;
          Pump(id);
        },
        [this, id, head](kj::Exception&& e) {
          auto found = subscribers_.find(id);
          if (found == subscribers_.end()) return;
          if (e.getType() == kj::Exception::Type::DISCONNECTED) {
            // Gone: it resumes from its last sequence when it subscribes
            // again.
            LINEAGE_LOG(logger_, kInfo, "subscriber {} disconnected: {}", id,
                        e.getDescription().cStr());
            subscribers_.erase(found);
            return;
          }
          // The connection may be alive (a message refused, the
          // subscriber's method threw): dropping it silently would leave a
          // gate holding a stale list while its heartbeat passes.
          Resync(found, head, fmt::format("the push failed: {}", e.getDescription().cStr()));
        }));
  }

  void Idle(uint64_t id) {
    auto it = subscribers_.find(id);
    if (it == subscribers_.end()) return;
    it->second.in_flight = false;
    if (it->second.dirty) Pump(id);
  }

  void taskFailed(kj::Exception&& exception) override {
    LINEAGE_LOG(logger_, kInfo, "deny-list push task: {}", exception.getDescription().cStr());
  }

  Store* store_;
  RunOffLoop run_;
  uint64_t lag_limit_;
  uint64_t max_message_bytes_;
  Logger* logger_;
  std::map<uint64_t, Subscriber> subscribers_;
  uint64_t next_id_ = 1;
  kj::TaskSet tasks_;
};

class SubscriptionImpl final : public schema::Subscription::Server {
 public:
  // `live` counts the login's subscriptions (GateImpl's cap).
  SubscriptionImpl(DenyListHub* hub, uint64_t id, std::shared_ptr<int> live)
      : hub_(hub), id_(id), live_(std::move(live)) {
    ++*live_;
  }
  // The client dropped its Subscription (or disconnected): stop pushing.
  ~SubscriptionImpl() {
    hub_->Remove(id_);
    --*live_;
  }

 private:
  DenyListHub* hub_;
  uint64_t id_;
  std::shared_ptr<int> live_;
};

class ServerImpl final : public Server {
 public:
  ServerImpl(Store* store, ServerOptions options, CredentialStore credentials)
      : store_(store),
        options_(std::move(options)),
        logger_(options_.logger ? options_.logger : NewNullLogger()),
        credentials_(std::move(credentials)),
        // Held by pointer: kj types may throw from destructors, which a
        // noexcept destructor of ours must not declare.
        hub_(std::make_unique<DenyListHub>(
            store,
            [this](std::function<DenyListHub::Prepared()> work) {
              return OffLoop(&reader_, std::move(work));
            },
            options_.lag_limit, options_.max_message_bytes, logger_.get())) {
    for (int i = 0; i < std::max(1, options_.verify_threads); ++i)
      verifiers_.push_back(std::make_unique<WorkerThread>(kBulkNice));
    // The store calls this on the writer thread after each durable change,
    // holding its listener lock. It must not wait for the event loop: the
    // loop takes that lock to clear the listener (Shutdown), and a writer
    // blocked in executeSync would wait for a loop that waits for it. So it
    // only fulfils the cross-thread promise the loop is waiting on; the
    // push itself runs on the loop.
    std::shared_ptr<Wakeup> wakeup = wakeup_;
    store_->SetDenyListListener([wakeup](uint64_t) {
      kj::Own<kj::CrossThreadPromiseFulfiller<void>> fulfiller;
      {
        std::lock_guard lock(wakeup->mu);
        fulfiller = kj::mv(wakeup->fulfiller);
      }
      // Null: the loop is awake already and re-armed after this change was
      // durable, so the Publish it is about to run reads it.
      if (fulfiller.get() != nullptr) fulfiller->fulfill();
    });
    watch_ = std::make_unique<kj::Promise<void>>(
        WatchDenyList().eagerlyEvaluate([this](kj::Exception&& e) {
          LINEAGE_LOG(logger_.get(), kInfo, "deny-list wakeups: {}", e.getDescription().cStr());
        }));
  }

  ~ServerImpl() override {
    store_->SetDenyListListener(nullptr);
    StopVerifiers();
    worker_.Stop();
    reader_.Stop();
    query_.Stop();
    backup_.Stop();
  }

  capnp::Capability::Client Bootstrap() override;

  // Arms a wakeup, then waits for it; on it, re-arms before publishing, so
  // that a change made while Publish runs wakes the loop again.
  kj::Promise<void> WatchDenyList() {
    auto paf = kj::newPromiseAndCrossThreadFulfiller<void>();
    {
      std::lock_guard lock(wakeup_->mu);
      wakeup_->fulfiller = kj::mv(paf.fulfiller);
    }
    return paf.promise.then([this] {
      kj::Promise<void> next = WatchDenyList();
      hub_->Publish();
      return next;
    });
  }

  absl::Status ReloadCredentials() override {
    absl::StatusOr<CredentialStore> fresh = CredentialStore::Load(options_.credentials_path);
    if (!fresh.ok()) return fresh.status();
    {
      std::lock_guard lock(mu_);
      credentials_ = *std::move(fresh);
    }
    RevokeStaleGrants();
    return absl::OkStatus();
  }

  void SetPolicy(std::shared_ptr<const ingest::TrustPolicy> policy) override {
    std::lock_guard lock(mu_);
    options_.policy = std::move(policy);
  }

  void Shutdown() override {
    store_->SetDenyListListener(nullptr);
    StopVerifiers();
    worker_.Stop();
    reader_.Stop();
    query_.Stop();
    // A checkpoint under way is finished, not cut short.
    backup_.Stop();
    hub_->ResyncAll("the server is shutting down");
  }

  uint64_t subscriber_count() const override { return hub_->size(); }
  Metrics* metrics() override { return &metrics_; }

  std::optional<Credential> Authenticate(std::string_view token) {
    std::lock_guard lock(mu_);
    return credentials_.Authenticate(token);
  }

  // Runs `fn` on the writer thread; the promise resolves on the event loop.
  // `what` names the request in the log, with a request id and its duration.
  template <typename T>
  kj::Promise<std::shared_ptr<T>> OffLoop(std::function<T()> fn, std::string what = "") {
    return OffLoop(&worker_, std::move(fn), std::move(what));
  }

  // Verifiers finish their queues first: what they verified still reaches
  // the writer, which then drains.
  void StopVerifiers() {
    for (auto& v : verifiers_)
      v->Stop();
  }

  // The ingest pipeline: `verify(i)` runs for every i < n, spread over the
  // verifier threads; then the call joins the writer's group commit
  // (IngestSequencer), after every call that arrived earlier: `collect`
  // hands over its verified records and `finish` turns their outcomes into
  // the answer, which resolves the promise on the event loop. `what` names
  // the request in the log.
  template <typename Answer>
  kj::Promise<std::shared_ptr<Answer>> VerifyThenIngest(
      size_t n, std::function<void(size_t)> verify,
      std::function<void(std::vector<AttestationRecord>*)> collect,
      std::function<Answer(std::span<const AttestationRecord>,
                           std::span<const absl::StatusOr<IngestOutcome>>)>
          finish,
      std::string what) {
    auto paf = kj::newPromiseAndCrossThreadFulfiller<std::shared_ptr<Answer>>();
    auto fulfiller =
        std::make_shared<kj::Own<kj::CrossThreadPromiseFulfiller<std::shared_ptr<Answer>>>>(
            kj::mv(paf.fulfiller));
    uint64_t id = ++next_request_;
    LINEAGE_LOG(logger_.get(), kInfo, "req {}: {}", id, what);
    Logger* logger = logger_.get();
    absl::Time start = absl::Now();
    uint64_t ticket = sequencer_.Take();
    IngestSequencer* sequencer = &sequencer_;
    // A verifier that throws (bad_alloc in a parser, ...) fails the call:
    // its slice is marked and the call, still handed on in ticket order so
    // that later calls are not held up, stores nothing and rejects.
    auto failure = std::make_shared<std::pair<std::mutex, std::string>>();
    auto failed = [failure] {
      std::lock_guard lock(failure->first);
      return failure->second;
    };
    IngestJob job;
    job.collect = [collect = std::move(collect), failed](std::vector<AttestationRecord>* records) {
      if (failed().empty()) collect(records);
    };
    job.fail = [fulfiller, id, logger](const std::string& why) {
      LINEAGE_LOG(logger, kError, "req {}: failed: {}", id, why);
      (*fulfiller)->reject(KJ_EXCEPTION(FAILED, "lineaged: the request failed", why));
    };
    job.finish = [finish = std::move(finish), fail = job.fail, fulfiller, id, logger, start,
                  failed](std::span<const AttestationRecord> records,
                          std::span<const absl::StatusOr<IngestOutcome>> outcomes) {
      if (std::string why = failed(); !why.empty()) {
        fail(why);
        return;
      }
      auto answer = std::make_shared<Answer>(finish(records, outcomes));
      LINEAGE_LOG(logger, kInfo, "req {}: done in {:.1f} ms", id,
                  absl::ToDoubleMilliseconds(absl::Now() - start));
      (*fulfiller)->fulfill(std::move(answer));
    };
    size_t chunks = std::min(n, verifiers_.size());
    if (chunks == 0) {
      sequencer->Ready(ticket, std::move(job));
      return kj::mv(paf.promise);
    }
    // Contiguous slices, one per verifier; the last slice to finish hands
    // the call to the sequencer.
    auto remaining = std::make_shared<std::atomic<size_t>>(chunks);
    auto shared_verify = std::make_shared<std::function<void(size_t)>>(std::move(verify));
    auto shared_job = std::make_shared<IngestJob>(std::move(job));
    auto fail = [failure](std::string why) {
      std::lock_guard lock(failure->first);
      if (failure->second.empty()) failure->second = std::move(why);
    };
    for (size_t c = 0; c < chunks; ++c) {
      size_t begin = n * c / chunks, end = n * (c + 1) / chunks;
      bool queued = verifiers_[c]->Submit([=] {
        try {
          for (size_t i = begin; i < end; ++i)
            (*shared_verify)(i);
        } catch (const std::exception& e) {
          fail(fmt::format("verifying: {}", e.what()));
        } catch (...) {
          fail("verifying: an unknown exception");
        }
        if (remaining->fetch_sub(1) == 1) sequencer->Ready(ticket, std::move(*shared_job));
      });
      if (!queued) {
        // Shutting down: the ticket must still be handed on, or every later
        // call would wait for it.
        fail("lineaged is shutting down");
        if (remaining->fetch_sub(1) == 1) sequencer->Ready(ticket, std::move(*shared_job));
      }
    }
    return kj::mv(paf.promise);
  }

  // Runs a read on the query thread.
  template <typename T>
  kj::Promise<std::shared_ptr<T>> Query(std::function<T()> fn) {
    return OffLoop(&query_, std::move(fn));
  }

  // Runs a backup on the backup thread, beside the writer: a RocksDB
  // checkpoint is consistent while writes go on, so ingest and enforcement
  // need not wait for one.
  template <typename T>
  kj::Promise<std::shared_ptr<T>> OnBackupThread(std::function<T()> fn, std::string what) {
    return OffLoop(&backup_, std::move(fn), std::move(what));
  }

  // Takes the one backup slot for `dir`: nullopt, or the directory of the
  // backup that holds it. Thread-safe.
  std::optional<std::string> BeginBackup(const std::string& dir) {
    std::lock_guard lock(backup_mu_);
    if (backup_running_) return backup_dir_;
    backup_running_ = true;
    backup_dir_ = dir;
    return std::nullopt;
  }
  void EndBackup() {
    std::lock_guard lock(backup_mu_);
    backup_running_ = false;
  }

  template <typename T>
  kj::Promise<std::shared_ptr<T>> OffLoop(WorkerThread* thread, std::function<T()> fn,
                                          std::string what = "") {
    auto paf = kj::newPromiseAndCrossThreadFulfiller<std::shared_ptr<T>>();
    auto fulfiller = std::make_shared<kj::Own<kj::CrossThreadPromiseFulfiller<std::shared_ptr<T>>>>(
        kj::mv(paf.fulfiller));
    uint64_t id = what.empty() ? 0 : ++next_request_;
    if (id != 0) LINEAGE_LOG(logger_.get(), kInfo, "req {}: {}", id, what);
    Logger* logger = logger_.get();
    bool queued = thread->Submit([fn = std::move(fn), fulfiller, id, logger] {
      absl::Time start = absl::Now();
      std::shared_ptr<T> result;
      try {
        result = std::make_shared<T>(fn());
      } catch (const std::exception& e) {
        // bad_alloc, or a throwing library call: this request fails, the
        // daemon goes on.
        LINEAGE_LOG(logger, kError, "req {}: failed: {}", id, e.what());
        (*fulfiller)->reject(KJ_EXCEPTION(FAILED, "lineaged: the request failed", e.what()));
        return;
      }
      if (id != 0) {
        LINEAGE_LOG(logger, kInfo, "req {}: done in {:.1f} ms", id,
                    absl::ToDoubleMilliseconds(absl::Now() - start));
      }
      (*fulfiller)->fulfill(std::move(result));
    });
    if (!queued) RejectShuttingDown(**fulfiller);
    return kj::mv(paf.promise);
  }

  template <typename F>
  static void RejectShuttingDown(F& fulfiller) {
    fulfiller.reject(KJ_EXCEPTION(DISCONNECTED, "lineaged is shutting down"));
  }

  std::shared_ptr<const ingest::TrustPolicy> policy() {
    std::lock_guard lock(mu_);
    return options_.policy;
  }

  absl::StatusOr<std::string> CreateToken(std::string_view name, Role role) {
    std::lock_guard lock(mu_);
    return credentials_.Create(name, role, absl::Now());
  }
  absl::Status RevokeToken(std::string_view name) {
    absl::Status revoked;
    {
      std::lock_guard lock(mu_);
      revoked = credentials_.Revoke(name);
    }
    if (revoked.ok()) RevokeStaleGrants();
    return revoked;
  }

  // A new login's policy: its capabilities live until the credential is
  // revoked (RevokeToken, or ReloadCredentials of a file that revoked it).
  kj::Own<GrantPolicy> NewGrant(const Credential& who) {
    return kj::refcounted<GrantPolicy>(grants_, who.name, who.token_sha256);
  }

  // Cuts off every live login whose credential no longer stands.
  void RevokeStaleGrants() {
    std::set<std::pair<std::string, std::string>> standing;
    {
      std::lock_guard lock(mu_);
      for (const Credential& c : credentials_.credentials()) {
        if (!c.revoked) standing.emplace(c.name, c.token_sha256);
      }
    }
    size_t n = grants_->RevokeUnless([&](const GrantPolicy& grant) {
      return standing.contains({grant.name(), grant.token_sha256()});
    });
    if (n > 0) {
      LINEAGE_LOG(logger_.get(), kInfo, "cut off {} live login{} of revoked credentials", n,
                  n == 1 ? "" : "s");
    }
  }
  std::vector<Credential> ListTokens() {
    std::lock_guard lock(mu_);
    return credentials_.credentials();
  }

  Store* store() { return store_; }
  uint64_t max_message_bytes() const { return options_.max_message_bytes; }
  const std::string& backup_root() const { return options_.backup_root; }
  const std::function<void(const std::string&)>& before_backup() const {
    return options_.before_backup;
  }
  DenyListHub* hub() { return hub_.get(); }
  Logger* logger() { return logger_.get(); }

 private:
  Store* store_;
  ServerOptions options_;
  std::shared_ptr<Logger> logger_;
  uint64_t next_request_ = 0;  // event loop thread only
  std::mutex mu_;              // guards credentials_ and options_.policy
  CredentialStore credentials_;
  std::shared_ptr<GrantRegistry> grants_ = std::make_shared<GrantRegistry>();
  Metrics metrics_;
  std::unique_ptr<DenyListHub> hub_;
  // The listener's wakeup of the event loop (see the constructor). Declared
  // after hub_: the waiting promise goes first.
  struct Wakeup {
    std::mutex mu;
    kj::Own<kj::CrossThreadPromiseFulfiller<void>> fulfiller;  // null: none armed
  };
  std::shared_ptr<Wakeup> wakeup_ = std::make_shared<Wakeup>();
  std::unique_ptr<kj::Promise<void>> watch_;  // by pointer, as hub_
  WorkerThread worker_;
  // Reads for the deny-list push, apart from the writer so that a long
  // enforcement does not delay the push of the previous one.
  WorkerThread reader_;
  // Reads that touch RocksDB (why, show, plans): off the event loop, so
  // that checks never wait for them, and apart from the writer, so that they
  // never wait for an enforcement.
  WorkerThread query_;
  // Parse and verify ingested documents; see IngestSequencer. Declared
  // after worker_, so destroyed (joined) before it: a finished verifier may
  // still submit to the writer.
  std::vector<std::unique_ptr<WorkerThread>> verifiers_;
  IngestSequencer sequencer_{&worker_, store_, logger_.get()};
  // Backups (Admin.backup), one at a time, apart from the writer.
  std::mutex backup_mu_;
  bool backup_running_ = false;  // guarded by backup_mu_
  std::string backup_dir_;       // guarded by backup_mu_: the running one's
  WorkerThread backup_{kBulkNice};
};

// ---- Gate ----

class GateImpl final : public schema::Gate::Server {
 public:
  explicit GateImpl(ServerImpl* server) : server_(server) {}

  kj::Promise<void> check(CheckContext context) override {
    auto params = context.getParams();
    CheckOptions options;
    options.unknown = FromSchema(params.getUnknown());
    absl::Time start = absl::Now();
    absl::StatusOr<CheckResult> r = server_->store()->Check(View(params.getDigest()), options);
    server_->metrics()->CountCheck(r.ok() && r->verdict == Verdict::kDeny, !r.ok(),
                                   absl::Now() - start);
    auto results = context.getResults();
    FillStatus(results.initStatus(), r.status());
    if (r.ok()) FillCheck(results.initResult(), *r);
    return kj::READY_NOW;
  }

  kj::Promise<void> checkBatch(CheckBatchContext context) override {
    auto params = context.getParams();
    auto digests = params.getDigests();
    auto results = context.getResults();
    if (digests.size() > kMaxBatchDigests) {
      FillStatus(results.initStatus(), absl::InvalidArgumentError(fmt::format(
                                           "at most {} digests per checkBatch", kMaxBatchDigests)));
      return kj::READY_NOW;
    }
    CheckOptions options;
    options.unknown = FromSchema(params.getUnknown());
    auto list = results.initResults(digests.size());
    absl::Status first_error;
    for (uint32_t i = 0; i < digests.size(); ++i) {
      absl::Time start = absl::Now();
      absl::StatusOr<CheckResult> r = server_->store()->Check(View(digests[i]), options);
      server_->metrics()->CountCheck(r.ok() && r->verdict == Verdict::kDeny, !r.ok(),
                                     absl::Now() - start);
      if (!r.ok()) {
        // One malformed digest fails the batch: a gate must not mistake a
        // typo for an answer.
        first_error =
            absl::Status(r.status().code(),
                         fmt::format("digests[{}]: {}", i, std::string(r.status().message())));
        break;
      }
      FillCheck(list[i], *r);
    }
    FillStatus(results.initStatus(), first_error);
    return kj::READY_NOW;
  }

  // denyListSince and snapshot read RocksDB and sort up to millions of
  // digests: on the query thread, never on the loop that answers checks.
  kj::Promise<void> denyListSince(DenyListSinceContext context) override {
    auto params = context.getParams();
    uint32_t max =
        std::min<uint32_t>(params.getMaxDeltas() == 0 ? 1000 : params.getMaxDeltas(), 10000);
    LogPosition from{params.getAfterSeq(), params.getSkipDigests()};
    size_t budget = PageBudget(server_->max_message_bytes(), params.getMaxMessageBytes());
    Store* store = server_->store();
    using Read = absl::StatusOr<std::pair<CutPage, DenyListPage>>;
    std::function<Read()> work = [store, from, max, budget] {
      return ReadCut(store, from, max, budget);
    };
    return server_->Query(std::move(work)).then([context](std::shared_ptr<Read> r) mutable {
      auto results = context.getResults();
      FillStatus(results.initStatus(), r->status());
      if (!r->ok()) return;
      auto& [cut, page] = **r;
      results.setHeadSeq(page.head_seq);
      results.setTruncated(page.truncated || cut.more);
      FillParts(results.initDeltas(cut.parts.size()), cut);
    });
  }

  kj::Promise<void> snapshot(SnapshotContext context) override {
    auto params = context.getParams();
    std::string after(View(params.getAfterDigest()));
    size_t budget = PageBudget(server_->max_message_bytes(), params.getMaxMessageBytes());
    Store* store = server_->store();
    struct Page {
      absl::Status status;
      uint64_t seq = 0;
      std::vector<std::string> digests;
      bool truncated = false;
    };
    std::function<Page()> work = [store, after, budget] {
      Page out;
      absl::StatusOr<DenyListSnapshot> snap = store->DenyList();
      out.status = snap.status();
      if (!snap.ok()) return out;
      out.seq = snap->seq;
      auto it = std::upper_bound(snap->digests.begin(), snap->digests.end(), after);
      size_t used = 0;
      for (; it != snap->digests.end(); ++it) {
        size_t bytes = DigestBytes(*it);
        if (used + bytes > budget && !out.digests.empty()) break;
        used += bytes;
        out.digests.push_back(std::move(*it));
      }
      out.truncated = it != snap->digests.end();
      return out;
    };
    return server_->Query(std::move(work)).then([context](std::shared_ptr<Page> page) mutable {
      auto results = context.getResults();
      FillStatus(results.initStatus(), page->status);
      if (!page->status.ok()) return;
      results.setSeq(page->seq);
      results.setTruncated(page->truncated);
      FillTexts(results.initDigests(page->digests.size()), page->digests);
    });
  }

  kj::Promise<void> subscribe(SubscribeContext context) override {
    auto params = context.getParams();
    auto results = context.getResults();
    if (*live_subscriptions_ >= kMaxSubscriptions) {
      FillStatus(results.initStatus(),
                 absl::ResourceExhaustedError(fmt::format(
                     "at most {} subscriptions per login; drop one first", kMaxSubscriptions)));
      return kj::READY_NOW;
    }
    uint64_t id = server_->hub()->Add(params.getSubscriber(), params.getAfterSeq(),
                                      params.getMaxMessageBytes());
    FillStatus(results.initStatus(), absl::OkStatus());
    results.setSubscription(kj::heap<SubscriptionImpl>(server_->hub(), id, live_subscriptions_));
    return kj::READY_NOW;
  }

  kj::Promise<void> why(WhyContext context) override {
    std::string digest(View(context.getParams().getDigest()));
    Store* store = server_->store();
    std::function<absl::StatusOr<WhyResult>()> work = [store, digest] {
      return store->Why(digest);
    };
    return server_->Query(std::move(work))
        .then([context](std::shared_ptr<absl::StatusOr<WhyResult>> r) mutable {
          auto results = context.getResults();
          FillStatus(results.initStatus(), r->status());
          if (r->ok()) FillWhy(results.initResult(), **r);
        });
  }

  kj::Promise<void> revocations(RevocationsContext context) override {
    std::vector<std::string> ids = ToStrings(context.getParams().getIds());
    if (ids.size() > kMaxRevocationIds) {
      FillStatus(context.getResults().initStatus(),
                 absl::InvalidArgumentError(
                     fmt::format("at most {} ids per revocations call", kMaxRevocationIds)));
      return kj::READY_NOW;
    }
    Store* store = server_->store();
    std::function<absl::StatusOr<std::vector<Revocation>>()> work =
        [store, ids]() -> absl::StatusOr<std::vector<Revocation>> {
      std::vector<Revocation> out;
      for (const std::string& id : ids) {
        absl::StatusOr<Revocation> rev = store->GetRevocation(id);
        if (!rev.ok()) return rev.status();
        out.push_back(*std::move(rev));
      }
      return out;
    };
    return server_->Query(std::move(work))
        .then([context](std::shared_ptr<absl::StatusOr<std::vector<Revocation>>> r) mutable {
          auto results = context.getResults();
          FillStatus(results.initStatus(), r->status());
          if (!r->ok()) return;
          auto list = results.initRevocations((*r)->size());
          for (size_t i = 0; i < (*r)->size(); ++i)
            FillRevocation(list[i], (**r)[i]);
        });
  }

  // A replay of the deny-list log up to the time asked: it reads RocksDB,
  // so it runs on the query thread and a plain check never waits for it.
  kj::Promise<void> checkAt(CheckAtContext context) override {
    auto params = context.getParams();
    std::string digest(View(params.getDigest()));
    CheckOptions options;
    options.unknown = FromSchema(params.getUnknown());
    options.at = FromMicros(params.getAtMicros());
    Store* store = server_->store();
    std::function<absl::StatusOr<CheckResult>()> work = [store, digest, options] {
      return store->Check(digest, options);
    };
    return server_->Query(std::move(work))
        .then([context](std::shared_ptr<absl::StatusOr<CheckResult>> r) mutable {
          auto results = context.getResults();
          FillStatus(results.initStatus(), r->status());
          if (r->ok()) FillCheck(results.initResult(), **r);
        });
  }

 private:
  static constexpr uint32_t kMaxBatchDigests = 100000;
  static constexpr uint32_t kMaxRevocationIds = 1000;
  static constexpr int kMaxSubscriptions = 16;
  ServerImpl* server_;
  // Subscriptions of this login still alive (shared with each one, which
  // may outlive this object).
  std::shared_ptr<int> live_subscriptions_ = std::make_shared<int>(0);
};

// ---- Ingest ----

class IngestImpl final : public schema::Ingest::Server {
 public:
  explicit IngestImpl(ServerImpl* server) : server_(server) {}

  kj::Promise<void> ingest(IngestContext context) override {
    // Copies out of the request: verification runs on other threads, after
    // this call's message may be gone.
    struct Doc {
      std::string name;
      std::string content;
      std::vector<ingest::ItemResult> items;  // filled by a verifier
    };
    auto docs = std::make_shared<std::vector<Doc>>();
    for (auto d : context.getParams().getDocuments()) {
      auto bytes = d.getContent();
      docs->push_back({std::string(View(d.getName())),
                       std::string(reinterpret_cast<const char*>(bytes.begin()), bytes.size()),
                       {}});
    }
    std::shared_ptr<const ingest::TrustPolicy> policy = server_->policy();
    size_t n_docs = docs->size();

    // Parsing and signature checks are pure given the policy: they run on
    // the verifier threads, each document once. Only the store step, in
    // document order, runs on the writer, grouped with the calls queued
    // with it; atomicity (each attestation whole or not at all) and
    // per-item verdicts are those of the serial path (IngestSequencer).
    std::function<void(size_t)> verify = [docs, policy](size_t i) {
      static const ingest::TrustPolicy kEmpty;
      Doc& doc = (*docs)[i];
      doc.items = ingest::VerifyDocument(doc.name, doc.content, policy ? *policy : kEmpty,
                                         ingest::IngestOptions{});
      doc.content = std::string();  // not needed any more; free it early
    };
    // On the writer, in the call's turn: the verified records go into the
    // group commit (IngestSequencer), and come back with their outcomes.
    std::function<void(std::vector<AttestationRecord>*)> collect =
        [docs](std::vector<AttestationRecord>* records) {
          for (Doc& doc : *docs) {
            for (ingest::ItemResult& item : doc.items) {
              if (!item.record.ok()) continue;
              // As `lineage ingest`: a predicate without a time gets the
              // time the attestation was learnt of.
              if (item.record->time == absl::InfinitePast()) item.record->time = absl::Now();
              records->push_back(*std::move(item.record));
            }
          }
        };
    std::function<std::vector<ItemOutcome>(std::span<const AttestationRecord>,
                                           std::span<const absl::StatusOr<IngestOutcome>>)>
        finish = [docs](std::span<const AttestationRecord> records,
                        std::span<const absl::StatusOr<IngestOutcome>> outcomes) {
          std::vector<ItemOutcome> out;
          size_t k = 0;  // the next of `records`: the ok items, in order
          for (Doc& doc : *docs) {
            for (ingest::ItemResult& item : doc.items) {
              ItemOutcome o;
              o.source = item.source;
              o.warnings = std::move(item.warnings);
              if (!item.record.ok()) {
                o.reason = std::string(item.record.status().message());
                out.push_back(std::move(o));
                continue;
              }
              const absl::StatusOr<IngestOutcome>& r = outcomes[k];
              const AttestationRecord& record = records[k];
              k++;
              if (!r.ok()) {
                o.reason = fmt::format("store: {}", std::string(r.status().message()));
              } else {
                o.accepted = true;
                o.duplicate = r->duplicate;
                o.new_nodes = r->new_nodes;
                o.new_edges = r->new_edges;
                o.attestation = record.id;
                for (const std::string& warning : r->warnings)
                  o.warnings.push_back(fmt::format("store: {}", warning));
              }
              out.push_back(std::move(o));
            }
          }
          return out;
        };
    return server_
        ->VerifyThenIngest<std::vector<ItemOutcome>>(n_docs, std::move(verify), std::move(collect),
                                                     std::move(finish),
                                                     fmt::format("ingest {} documents", n_docs))
        .then([context, metrics = server_->metrics()](
                  std::shared_ptr<std::vector<ItemOutcome>> items) mutable {
          for (const ItemOutcome& o : *items) {
            metrics->CountIngest(o.accepted, o.duplicate,
                                 o.accepted ? "" : Metrics::RejectionReason(o.reason));
          }
          auto results = context.getResults();
          FillStatus(results.initStatus(), absl::OkStatus());
          auto list = results.initItems(items->size());
          for (size_t i = 0; i < items->size(); ++i) {
            const ItemOutcome& o = (*items)[i];
            list[i].setSource(Text(o.source));
            list[i].setAccepted(o.accepted);
            list[i].setDuplicate(o.duplicate);
            list[i].setReason(Text(o.reason));
            list[i].setNewNodes(o.new_nodes);
            list[i].setNewEdges(o.new_edges);
            list[i].setAttestation(Text(o.attestation));
            FillTexts(list[i].initWarnings(o.warnings.size()), o.warnings);
          }
        });
  }

  kj::Promise<void> ingestInventories(IngestInventoriesContext context) override {
    struct Doc {
      std::string name;
      std::string content;
      ingest::InventoryOptions options;
    };
    std::vector<Doc> docs;
    for (auto d : context.getParams().getInventories()) {
      auto bytes = d.getContent();
      Doc doc{std::string(View(d.getName())),
              std::string(reinterpret_cast<const char*>(bytes.begin()), bytes.size()),
              {}};
      doc.options.cluster = std::string(View(d.getCluster()));
      doc.options.format = FromSchema(d.getFormat());
      docs.push_back(std::move(doc));
    }
    Store* store = server_->store();
    size_t n_docs = docs.size();
    using Reports = absl::StatusOr<std::vector<ingest::InventoryReport>>;
    std::function<Reports()> work = [docs = std::move(docs), store]() mutable -> Reports {
      std::vector<ingest::InventoryReport> out;
      for (Doc& doc : docs) {
        absl::StatusOr<ingest::InventoryReport> r = ingest::StoreInventory(
            *store, doc.name, std::move(doc.content), doc.options, absl::Now());
        // A store failure is not the document's fault: stop, as the CLI does.
        if (!r.ok()) return r.status();
        out.push_back(*std::move(r));
      }
      return out;
    };
    return server_->OffLoop(std::move(work), fmt::format("ingest {} inventories", n_docs))
        .then([context](std::shared_ptr<Reports> r) mutable {
          auto results = context.getResults();
          FillStatus(results.initStatus(), r->status());
          if (!r->ok()) return;
          auto list = results.initItems((*r)->size());
          for (size_t i = 0; i < (*r)->size(); ++i)
            FillInventoryReport(list[i], (**r)[i]);
        });
  }

 private:
  struct ItemOutcome {
    std::string source;
    bool accepted = false;
    bool duplicate = false;
    std::string reason;
    uint64_t new_nodes = 0;
    uint64_t new_edges = 0;
    std::string attestation;
    std::vector<std::string> warnings;
  };
  ServerImpl* server_;
};

// ---- Reader ----

// Reader.getPlan and Responder.getPlan: one answer for both (their
// contexts differ only by interface). On the query thread.
template <typename Context>
kj::Promise<void> AnswerGetPlan(ServerImpl* server, Context& context) {
  auto p = context.getParams();
  std::string id(View(p.getPlanId()));
  PlanListing listing{p.getMaxListed(), p.getMaxListed()};
  Store* store = server->store();
  std::function<absl::StatusOr<Plan>()> work = [store, id, listing] {
    return store->GetPlan(id, listing);
  };
  return server->Query(std::move(work))
      .then([context](std::shared_ptr<absl::StatusOr<Plan>> r) mutable {
        auto results = context.getResults();
        FillStatus(results.initStatus(), r->status());
        if (r->ok()) FillPlan(results.initPlan(), **r);
      });
}

// What one text adds to a message (as DigestBytes: its bytes, NUL, padding
// and pointer); the sizes below are conservative estimates of the encoded
// structs, so that a page cut to a budget never passes it.
size_t TextBytes(const std::string& text) {
  return DigestBytes(text);
}

size_t RevocationBytes(const Revocation& rev) {
  size_t bytes = 128;  // the struct: 6 data words, 9 pointers
  for (const std::string* text : {&rev.id, &rev.plan_id, &rev.reason, &rev.created_by,
                                  &rev.enforced_by, &rev.lifted_by, &rev.lift_reason})
    bytes += TextBytes(*text);
  for (const RevocationRoot& root : rev.roots)
    bytes += 32 + TextBytes(root.ref);
  for (const Approval& approval : rev.approvals)
    bytes += 24 + TextBytes(approval.principal);
  return bytes;
}

size_t AuditEntryBytes(const AuditEntry& e) {
  size_t bytes = 72;  // the struct: 2 data words, 6 pointers
  for (const std::string* text :
       {&e.actor, &e.action, &e.subject, &e.evidence_hash, &e.prev_hash, &e.hash})
    bytes += TextBytes(*text);
  return bytes;
}

// One page of revocations (Reader.listRevocations): those after `after_id`
// in the store's order (oldest first), active ones only unless `all`, cut
// to `budget` bytes but never empty while any are left. Reads the whole
// list for each page. TODO(perf): a store with many thousands of
// revocations would want a seek by id; today's lists are far smaller.
//
// Limitation: a revocation is never split across pages, so one whose roots
// alone are past the connection's message limit (hundreds of thousands of
// roots at the default 64 MiB) fails the call until the limits are raised.
struct RevocationPage {
  std::vector<Revocation> revocations;
  bool truncated = false;
};
absl::StatusOr<RevocationPage> ReadRevocationPage(Store* store, bool all,
                                                  const std::string& after_id, size_t budget) {
  absl::StatusOr<std::vector<Revocation>> list = store->ListRevocations();
  if (!list.ok()) return list.status();
  auto it = list->begin();
  if (!after_id.empty()) {
    it = std::find_if(list->begin(), list->end(),
                      [&](const Revocation& rev) { return rev.id == after_id; });
    if (it == list->end()) {
      return absl::NotFoundError(fmt::format("afterId {}: no such revocation", after_id));
    }
    ++it;
  }
  RevocationPage page;
  size_t used = 0;
  for (; it != list->end(); ++it) {
    if (!all && it->state != RevocationState::kActive) continue;
    size_t bytes = RevocationBytes(*it);
    if (used + bytes > budget && !page.revocations.empty()) {
      page.truncated = true;
      break;
    }
    used += bytes;
    page.revocations.push_back(std::move(*it));
  }
  return page;
}

// Where a Reader.workloads page starts (the schema's afterCluster,
// afterInventory, afterWorkload): cluster empty means the beginning.
struct WorkloadsFrom {
  std::string cluster;
  std::string inventory;
  std::string workload;
};

struct WorkloadsPage {
  absl::Status status;
  std::vector<ClusterInventory> clusters;
  bool truncated = false;
};

// The next page of `cluster`'s (or, empty, every cluster's) current
// inventories after `from`, at most `budget` bytes but never without a
// workload when one remains. Limitation: each page copies every inventory
// out of the store (Store::Workloads) and skips to `from`, so a listing of
// n pages costs n full copies; at the default limit a page holds about
// 200,000 workloads, so only forced small pages pay that.
WorkloadsPage ReadWorkloadsPage(Store* store, const std::string& cluster, const WorkloadsFrom& from,
                                size_t budget) {
  WorkloadsPage page;
  absl::StatusOr<std::vector<ClusterInventory>> all = store->Workloads(cluster);
  if (!all.ok()) {
    page.status = all.status();
    return page;
  }
  size_t used = 0;
  bool any_workload = false;
  for (ClusterInventory& inv : *all) {
    if (!from.cluster.empty() && inv.cluster < from.cluster) continue;
    bool continuing = !from.cluster.empty() && inv.cluster == from.cluster;
    if (continuing && inv.inventory != from.inventory) {
      page.status = absl::AbortedError(fmt::format(
          "cluster {}: its current inventory changed from {} to {} between pages; list again",
          inv.cluster, from.inventory, inv.inventory));
      page.clusters.clear();
      return page;
    }
    auto begin = inv.workloads.begin();
    if (continuing) {
      begin = std::upper_bound(
          inv.workloads.begin(), inv.workloads.end(), from.workload,
          [](const std::string& ref, const ClusterWorkload& w) { return ref < w.ref; });
      // The header was sent with the earlier page: nothing more to say.
      if (begin == inv.workloads.end()) continue;
    }
    size_t header = 64 + TextBytes(inv.cluster) + TextBytes(inv.inventory);
    if (!page.clusters.empty() && used + header > budget) {
      page.truncated = true;
      break;
    }
    used += header;
    ClusterInventory out{inv.cluster, inv.inventory, inv.time, {}};
    auto it = begin;
    for (; it != inv.workloads.end(); ++it) {
      size_t bytes = 24 + TextBytes(it->ref);
      for (const std::string& image : it->images)
        bytes += TextBytes(image);
      if (used + bytes > budget && any_workload) break;
      used += bytes;
      any_workload = true;
      out.workloads.push_back(std::move(*it));
    }
    page.clusters.push_back(std::move(out));
    if (it != inv.workloads.end()) {
      page.truncated = true;
      break;
    }
  }
  return page;
}

class ReaderImpl final : public schema::Reader::Server {
 public:
  explicit ReaderImpl(ServerImpl* server) : server_(server) {}

  // Limitation: a traversal answer is not cut to the message limit. With
  // limit 0 a closure of more than about 700,000 nodes (100 bytes each) is
  // past a 64 MiB limit and the call breaks instead of answering; callers
  // pass a limit (the CLI's --limit) or count (--count) instead.
  kj::Promise<void> descendants(DescendantsContext context) override {
    auto p = context.getParams();
    absl::StatusOr<TraversalOptions> options = Options(p);
    Answer(context, options.ok() ? server_->store()->Descendants(View(p.getRef()), *options)
                                 : absl::StatusOr<TraversalResult>(options.status()));
    return kj::READY_NOW;
  }
  kj::Promise<void> ancestors(AncestorsContext context) override {
    auto p = context.getParams();
    absl::StatusOr<TraversalOptions> options = Options(p);
    Answer(context, options.ok() ? server_->store()->Ancestors(View(p.getRef()), *options)
                                 : absl::StatusOr<TraversalResult>(options.status()));
    return kj::READY_NOW;
  }
  kj::Promise<void> stats(StatsContext context) override {
    absl::StatusOr<StoreStats> s = server_->store()->Stats();
    auto results = context.getResults();
    FillStatus(results.initStatus(), s.status());
    if (s.ok()) FillStats(results, *s);
    return kj::READY_NOW;
  }

  // Limitation: a node's edges are not paged. A key that signed hundreds of
  // thousands of artifacts (about 200 bytes an edge) has an answer past a
  // 64 MiB limit, and the call breaks.
  kj::Promise<void> show(ShowContext context) override {
    std::string ref(View(context.getParams().getRef()));
    Store* store = server_->store();
    std::function<absl::StatusOr<NodeInfo>()> work = [store, ref] { return store->Show(ref); };
    return server_->Query(std::move(work))
        .then([context](std::shared_ptr<absl::StatusOr<NodeInfo>> r) mutable {
          auto results = context.getResults();
          FillStatus(results.initStatus(), r->status());
          if (r->ok()) FillNode(results.initNode(), **r);
        });
  }

  // Limitation: maxListed is trusted; one in the hundreds of thousands can
  // make an answer past the message limit. plan takes the same bound.
  kj::Promise<void> getPlan(GetPlanContext context) override {
    return AnswerGetPlan(server_, context);
  }

  kj::Promise<void> listPlans(ListPlansContext context) override {
    Store* store = server_->store();
    std::function<absl::StatusOr<std::vector<Plan>>()> work = [store] {
      return store->ListPlans();
    };
    return server_->Query(std::move(work))
        .then([context](std::shared_ptr<absl::StatusOr<std::vector<Plan>>> r) mutable {
          auto results = context.getResults();
          FillStatus(results.initStatus(), r->status());
          if (!r->ok()) return;
          auto list = results.initPlans((*r)->size());
          for (size_t i = 0; i < (*r)->size(); ++i)
            FillPlan(list[i], (**r)[i]);
        });
  }

  // ---- revocations, audit and settings

  kj::Promise<void> listRevocations(ListRevocationsContext context) override {
    auto p = context.getParams();
    bool all = p.getAll();
    std::string after(View(p.getAfterId()));
    size_t budget = PageBudget(server_->max_message_bytes(), p.getMaxMessageBytes());
    Store* store = server_->store();
    std::function<absl::StatusOr<RevocationPage>()> work = [store, all, after, budget] {
      return ReadRevocationPage(store, all, after, budget);
    };
    return server_->Query(std::move(work))
        .then([context](std::shared_ptr<absl::StatusOr<RevocationPage>> r) mutable {
          auto results = context.getResults();
          FillStatus(results.initStatus(), r->status());
          if (!r->ok()) return;
          const std::vector<Revocation>& revs = (*r)->revocations;
          auto list = results.initRevocations(revs.size());
          for (size_t i = 0; i < revs.size(); ++i)
            FillRevocation(list[i], revs[i]);
          results.setTruncated((*r)->truncated);
        });
  }

  // Re-hashes the whole chain: seconds for a long one, so never on the loop.
  kj::Promise<void> verifyAudit(VerifyAuditContext context) override {
    size_t budget = PageBudget(server_->max_message_bytes(), 0);
    Store* store = server_->store();
    std::function<absl::StatusOr<AuditVerification>()> work = [store] {
      return store->VerifyAudit();
    };
    return server_->Query(std::move(work))
        .then([context, budget](std::shared_ptr<absl::StatusOr<AuditVerification>> r) mutable {
          auto results = context.getResults();
          FillStatus(results.initStatus(), r->status());
          if (!r->ok()) return;
          const AuditVerification& v = **r;
          // Problems fit the budget: a chain edited throughout has one
          // problem per entry, more than any message holds.
          size_t used = 256 + TextBytes(v.head_hash), listed = 0;
          for (; listed < v.problems.size(); ++listed) {
            used += TextBytes(v.problems[listed]);
            if (used > budget) break;
          }
          FillAuditVerification(results, v, listed);
        });
  }

  kj::Promise<void> auditLog(AuditLogContext context) override {
    auto p = context.getParams();
    uint64_t from = std::max<uint64_t>(p.getFromSeq(), 1);
    uint32_t max =
        p.getMaxEntries() == 0 ? kMaxAuditEntries : std::min(p.getMaxEntries(), kMaxAuditEntries);
    size_t budget = PageBudget(server_->max_message_bytes(), p.getMaxMessageBytes());
    struct Page {
      std::vector<AuditEntry> entries;
      bool truncated = false;
    };
    Store* store = server_->store();
    std::function<absl::StatusOr<Page>()> work = [store, from, max,
                                                  budget]() -> absl::StatusOr<Page> {
      // One more than the page, to know whether more follow.
      absl::StatusOr<std::vector<AuditEntry>> read = store->AuditLog(from, size_t{max} + 1);
      if (!read.ok()) return read.status();
      Page page;
      size_t used = 0;
      for (AuditEntry& e : *read) {
        size_t bytes = AuditEntryBytes(e);
        if (page.entries.size() == max || (used + bytes > budget && !page.entries.empty())) {
          page.truncated = true;
          break;
        }
        used += bytes;
        page.entries.push_back(std::move(e));
      }
      return page;
    };
    return server_->Query(std::move(work))
        .then([context](std::shared_ptr<absl::StatusOr<Page>> r) mutable {
          auto results = context.getResults();
          FillStatus(results.initStatus(), r->status());
          if (!r->ok()) return;
          auto list = results.initEntries((*r)->entries.size());
          for (size_t i = 0; i < (*r)->entries.size(); ++i)
            FillAuditEntry(list[i], (*r)->entries[i]);
          results.setTruncated((*r)->truncated);
        });
  }

  // In memory (the store's settings, under the lock checks take shared).
  kj::Promise<void> getSettings(GetSettingsContext context) override {
    auto results = context.getResults();
    FillStatus(results.initStatus(), absl::OkStatus());
    FillSettings(results.initSettings(), server_->store()->GetSettings());
    return kj::READY_NOW;
  }

  // The inventories are in memory, but a page of them is built by copying
  // up to the whole budget of refs: on the query thread.
  kj::Promise<void> workloads(WorkloadsContext context) override {
    auto p = context.getParams();
    WorkloadsFrom from{std::string(View(p.getAfterCluster())),
                       std::string(View(p.getAfterInventory())),
                       std::string(View(p.getAfterWorkload()))};
    std::string cluster(View(p.getCluster()));
    size_t budget = PageBudget(server_->max_message_bytes(), p.getMaxMessageBytes());
    Store* store = server_->store();
    std::function<WorkloadsPage()> work = [store, cluster, from, budget] {
      return ReadWorkloadsPage(store, cluster, from, budget);
    };
    return server_->Query(std::move(work))
        .then([context](std::shared_ptr<WorkloadsPage> page) mutable {
          auto results = context.getResults();
          FillStatus(results.initStatus(), page->status);
          if (!page->status.ok()) return;
          results.setTruncated(page->truncated);
          auto list = results.initClusters(page->clusters.size());
          for (size_t i = 0; i < page->clusters.size(); ++i)
            FillClusterWorkloads(list[i], page->clusters[i]);
        });
  }

  kj::Promise<void> keyUsage(KeyUsageContext context) override {
    auto p = context.getParams();
    absl::Duration age = absl::Microseconds(p.getRotationAgeMicros());
    size_t budget = PageBudget(server_->max_message_bytes(), p.getMaxMessageBytes());
    Store* store = server_->store();
    std::function<absl::StatusOr<KeyUsageReport>()> work =
        [store, age, budget]() -> absl::StatusOr<KeyUsageReport> {
      absl::StatusOr<KeyUsageReport> report = store->KeyUsage(age);
      if (!report.ok()) return report;
      size_t bytes = 64;
      for (const SignerUsage& s : report->signers)
        bytes += 48 + TextBytes(s.key);
      if (bytes > budget) {
        // Limitation: no paging; a report this large (hundreds of
        // thousands of signers) needs a larger --max-message-mib.
        return absl::ResourceExhaustedError(
            fmt::format("keys: {} signers need about {} bytes, over the {} byte page limit (raise "
                        "--max-message-mib on both sides)",
                        report->signers.size(), bytes, budget));
      }
      return report;
    };
    return server_->Query(std::move(work))
        .then([context](std::shared_ptr<absl::StatusOr<KeyUsageReport>> r) mutable {
          auto results = context.getResults();
          FillStatus(results.initStatus(), r->status());
          if (r->ok()) FillKeyUsage(results, **r);
        });
  }

  // Evidence records in full are what an auditor keeps, and at 10M
  // artifacts one record lists 8.5M of them: answered in parts that fit the
  // message limit, read on the query thread.
  kj::Promise<void> evidence(EvidenceContext context) override {
    auto p = context.getParams();
    std::string subject(View(p.getSubject()));
    uint64_t after = p.getAfterSeq(), skip = p.getSkipItems();
    size_t budget = PageBudget(server_->max_message_bytes(), p.getMaxMessageBytes());
    Store* store = server_->store();
    using Read = absl::StatusOr<EvidenceCut>;
    std::function<Read()> work = [store, subject, after, skip, budget]() -> Read {
      // TODO(perf): every page reads and decodes all of the subject's
      // records (at 10M artifacts, two closures of 8.5M refs: seconds per
      // page); a cursor in the store would read only the page's items.
      absl::StatusOr<std::vector<EvidenceRecord>> all = store->Evidence(subject);
      if (!all.ok()) return all.status();
      std::vector<EvidenceRecord> records;
      for (EvidenceRecord& r : *all) {
        if (r.seq > after) records.push_back(std::move(r));
      }
      if (skip > 0 &&
          (records.empty() || records.front().seq != after + 1 ||
           records.front().artifacts.size() + records.front().workloads.size() < skip)) {
        return absl::InvalidArgumentError(
            fmt::format("skipItems {}: evidence record {} has no such part", skip, after + 1));
      }
      return CutEvidence(records, skip, budget);
    };
    return server_->Query(std::move(work)).then([context](std::shared_ptr<Read> r) mutable {
      auto results = context.getResults();
      FillStatus(results.initStatus(), r->status());
      if (!r->ok()) return;
      const EvidenceCut& cut = **r;
      auto list = results.initRecords(cut.parts.size());
      for (size_t i = 0; i < cut.parts.size(); ++i) {
        FillEvidenceRecord(list[i], cut.parts[i]);
        list[i].setContinued(cut.continued[i]);
      }
      results.setTruncated(cut.more);
    });
  }

 private:
  static constexpr uint32_t kMaxAuditEntries = 256;

  template <typename Params>
  static absl::StatusOr<TraversalOptions> Options(Params p) {
    TraversalOptions options;
    options.max_depth = p.getMaxDepth();
    options.limit = p.getLimit();
    absl::StatusOr<EdgeKindMask> kinds = ToEdgeKindMask(p.getKinds());
    if (!kinds.ok()) return kinds.status();
    options.edge_kinds = *kinds;
    return options;
  }
  template <typename Context>
  static void Answer(Context& context, const absl::StatusOr<TraversalResult>& r) {
    auto results = context.getResults();
    FillStatus(results.initStatus(), r.status());
    if (!r.ok()) return;
    results.setRoot(Text(r->root));
    results.setTruncated(r->truncated);
    auto list = results.initNodes(r->nodes.size());
    for (size_t i = 0; i < r->nodes.size(); ++i) {
      list[i].setRef(Text(r->nodes[i].ref));
      list[i].setKind(Text(std::string(NodeKindName(r->nodes[i].kind))));
      list[i].setDepth(r->nodes[i].depth);
    }
  }
  ServerImpl* server_;
};

// ---- Responder, Approver ----

// The principal of a revocation action is the credential's name: a token
// cannot act, or approve, under anyone else's name. A caller that passes a
// principal must pass its own.
absl::StatusOr<std::string> Principal(std::string_view given, const std::string& credential) {
  if (!given.empty() && given != credential) {
    return absl::PermissionDeniedError(
        fmt::format("this token acts as \"{}\", not as \"{}\"", credential, std::string(given)));
  }
  return credential;
}

class ResponderImpl final : public schema::Responder::Server {
 public:
  ResponderImpl(ServerImpl* server, std::string principal)
      : server_(server), principal_(std::move(principal)) {}

  kj::Promise<void> plan(PlanContext context) override {
    auto p = context.getParams();
    PlanRequest request;
    for (auto root : p.getRoots())
      request.roots.push_back(FromSchema(root));
    request.reason = std::string(View(p.getReason()));
    request.mode = p.getAdvisory() ? RevocationMode::kAdvisory : RevocationMode::kEnforce;
    absl::StatusOr<std::string> actor = Principal(View(p.getActor()), principal_);
    if (!actor.ok()) {
      FillStatus(context.getResults().initStatus(), actor.status());
      return kj::READY_NOW;
    }
    request.actor = *actor;
    PlanListing listing{p.getMaxListed(), p.getMaxListed()};
    Store* store = server_->store();
    std::function<absl::StatusOr<Plan>()> work = [store, request, listing] {
      return store->CreatePlan(request, listing);
    };
    return server_
        ->OffLoop(std::move(work),
                  fmt::format("plan {} roots by {}", request.roots.size(), request.actor))
        .then([context](std::shared_ptr<absl::StatusOr<Plan>> plan) mutable {
          auto results = context.getResults();
          FillStatus(results.initStatus(), plan->status());
          if (plan->ok()) FillPlan(results.initPlan(), **plan);
        });
  }

  kj::Promise<void> enforce(EnforceContext context) override {
    auto p = context.getParams();
    std::string plan_id(View(p.getPlanId()));
    absl::StatusOr<std::string> actor = Principal(View(p.getActor()), principal_);
    if (!actor.ok()) {
      FillStatus(context.getResults().initStatus(), actor.status());
      return kj::READY_NOW;
    }
    EnforceOptions options{*actor, p.getAcceptChanges()};
    size_t budget = PageBudget(server_->max_message_bytes(), p.getMaxMessageBytes());
    Store* store = server_->store();
    std::function<absl::StatusOr<EnforceResult>()> work = [store, plan_id, options] {
      return store->Enforce(plan_id, options);
    };
    return server_
        ->OffLoop(std::move(work),
                  fmt::format("enforce plan {} by {}", plan_id.substr(0, 12), options.actor))
        .then([context, budget, metrics = server_->metrics()](
                  std::shared_ptr<absl::StatusOr<EnforceResult>> r) mutable {
          if (r->ok() && (*r)->enforced) metrics->CountEnforce((*r)->duration);
          auto results = context.getResults();
          FillStatus(results.initStatus(), r->status());
          if (!r->ok()) return;
          // The enforcement is done and durable whatever happens to this
          // answer, so it must not be one the caller cannot receive: the
          // workloads that fit after the rest of the outcome, and
          // workloadCount; enforcedWorkloads gives the others.
          capnp::MallocMessageBuilder scratch;
          auto rest = scratch.initRoot<schema::EnforceOutcome>();
          FillEnforce(rest, **r, 0);
          size_t fixed = rest.totalSize().wordCount * sizeof(capnp::word);
          size_t room = budget > fixed ? budget - fixed : 0;
          FillEnforce(results.initOutcome(), **r,
                      FitTexts((*r)->workloads, 0, room, /*at_least_one=*/false));
        });
  }

  // The rest of an enforcement's workloads, read from its evidence record
  // (the same closure, listed in the same order as the enforce answer).
  kj::Promise<void> enforcedWorkloads(EnforcedWorkloadsContext context) override {
    auto p = context.getParams();
    std::string rev(View(p.getRevocation()));
    uint64_t offset = p.getOffset();
    size_t budget = PageBudget(server_->max_message_bytes(), p.getMaxMessageBytes());
    Store* store = server_->store();
    struct Page {
      std::vector<std::string> workloads;
      uint64_t count = 0;
      bool truncated = false;
    };
    using Read = absl::StatusOr<Page>;
    std::function<Read()> work = [store, rev, offset, budget]() -> Read {
      // TODO(perf): Store::Evidence decodes the plan's and the
      // enforcement's closures in full for every page (seconds at 10M
      // artifacts); a store read of one record's workloads would not.
      absl::StatusOr<std::vector<EvidenceRecord>> records = store->Evidence(rev);
      if (!records.ok()) return records.status();
      for (EvidenceRecord& record : *records) {
        if (record.action != "enforce" || record.revocation != rev) continue;
        Page page;
        page.count = record.workloads.size();
        if (offset > page.count) {
          return absl::InvalidArgumentError(
              fmt::format("offset {}: {} affected {} workloads", offset, rev, page.count));
        }
        // Room for the answer's own fields besides the list.
        size_t n = FitTexts(record.workloads, offset, budget > 256 ? budget - 256 : 0,
                            /*at_least_one=*/true);
        page.workloads.assign(std::make_move_iterator(record.workloads.begin() + offset),
                              std::make_move_iterator(record.workloads.begin() + offset + n));
        page.truncated = offset + n < page.count;
        return page;
      }
      return absl::NotFoundError(fmt::format("{} is not an enforced revocation", rev));
    };
    return server_->Query(std::move(work)).then([context](std::shared_ptr<Read> r) mutable {
      auto results = context.getResults();
      FillStatus(results.initStatus(), r->status());
      if (!r->ok()) return;
      results.setWorkloadCount((*r)->count);
      results.setTruncated((*r)->truncated);
      FillTexts(results.initWorkloads((*r)->workloads.size()), (*r)->workloads);
    });
  }

  kj::Promise<void> lift(LiftContext context) override {
    auto p = context.getParams();
    absl::StatusOr<std::string> principal = Principal(View(p.getActor()), principal_);
    if (!principal.ok()) {
      FillStatus(context.getResults().initStatus(), principal.status());
      return kj::READY_NOW;
    }
    std::string rev(View(p.getRevocation())), actor = *principal, reason(View(p.getReason()));
    Store* store = server_->store();
    std::function<absl::StatusOr<LiftResult>()> work = [store, rev, actor, reason] {
      return store->Lift(rev, actor, reason);
    };
    return server_->OffLoop(std::move(work), fmt::format("lift {} by {}", rev, actor))
        .then([context](std::shared_ptr<absl::StatusOr<LiftResult>> r) mutable {
          auto results = context.getResults();
          FillStatus(results.initStatus(), r->status());
          if (!r->ok()) return;
          results.setReleased((*r)->released);
          results.setStillCovered((*r)->still_covered);
          results.setDenySeq((*r)->deny_seq);
          FillRevocation(results.initRecord(), (*r)->revocation);
        });
  }

  // ---- reading a plan back

  // The replan hint of an enforce that found the closure changed prints the
  // plan's roots and reason: the responder that enforces may read it.
  kj::Promise<void> getPlan(GetPlanContext context) override {
    return AnswerGetPlan(server_, context);
  }

 private:
  ServerImpl* server_;
  std::string principal_;
};

class ApproverImpl final : public schema::Approver::Server {
 public:
  ApproverImpl(ServerImpl* server, std::string principal)
      : server_(server), principal_(std::move(principal)) {}

  kj::Promise<void> approve(ApproveContext context) override {
    auto p = context.getParams();
    absl::StatusOr<std::string> who = Principal(View(p.getPrincipal()), principal_);
    if (!who.ok()) {
      FillStatus(context.getResults().initStatus(), who.status());
      return kj::READY_NOW;
    }
    std::string plan_id(View(p.getPlanId())), principal = *who;
    Store* store = server_->store();
    std::function<absl::StatusOr<Plan>()> work = [store, plan_id, principal] {
      return store->Approve(plan_id, principal);
    };
    return server_
        ->OffLoop(std::move(work),
                  fmt::format("approve plan {} by {}", plan_id.substr(0, 12), principal))
        .then([context](std::shared_ptr<absl::StatusOr<Plan>> plan) mutable {
          auto results = context.getResults();
          FillStatus(results.initStatus(), plan->status());
          if (plan->ok()) FillPlan(results.initPlan(), **plan);
        });
  }

 private:
  ServerImpl* server_;
  std::string principal_;
};

// ---- Admin ----

// ROOT/NAME for a backup called `name`: PermissionDenied when the daemon
// has no backup root; InvalidArgument unless `name` is one path component
// of [A-Za-z0-9._-] (no "/", not "." or ".."), so that it cannot leave ROOT.
// ROOT is created 0700 if missing: a backup holds every record.
absl::StatusOr<std::string> BackupPath(const std::string& root, std::string_view name) {
  if (root.empty()) {
    return absl::PermissionDeniedError(
        "backups over RPC are off: start lineaged with --backup-dir ROOT");
  }
  bool ok = !name.empty() && name != "." && name != ".." && name.size() <= 255;
  for (char c : name) {
    bool allowed = (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
                   c == '.' || c == '_' || c == '-';
    ok = ok && allowed;
  }
  if (!ok) {
    return absl::InvalidArgumentError(fmt::format(
        "backup name \"{}\": expected one name of letters, digits, '.', '_' or '-' (the "
        "backup goes to --backup-dir/NAME)",
        std::string(name)));
  }
  if (::mkdir(root.c_str(), 0700) != 0 && errno != EEXIST) {
    return absl::InternalError(
        fmt::format("--backup-dir {}: cannot create it: {}", root, std::strerror(errno)));
  }
  return fmt::format("{}/{}", root, std::string(name));
}

class AdminImpl final : public schema::Admin::Server {
 public:
  AdminImpl(ServerImpl* server, std::string principal)
      : server_(server), principal_(std::move(principal)) {}

  kj::Promise<void> listTokens(ListTokensContext context) override {
    std::vector<Credential> list = server_->ListTokens();
    auto results = context.getResults();
    FillStatus(results.initStatus(), absl::OkStatus());
    auto out = results.initCredentials(list.size());
    for (size_t i = 0; i < list.size(); ++i) {
      out[i].setName(Text(list[i].name));
      out[i].setRole(ToSchema(list[i].role));
      out[i].setCreatedMicros(absl::ToUnixMicros(list[i].created));
      out[i].setRevoked(list[i].revoked);
    }
    return kj::READY_NOW;
  }

  kj::Promise<void> createToken(CreateTokenContext context) override {
    auto p = context.getParams();
    absl::StatusOr<std::string> token =
        server_->CreateToken(View(p.getName()), FromSchema(p.getRole()));
    auto results = context.getResults();
    FillStatus(results.initStatus(), token.status());
    if (token.ok()) results.setToken(Text(*token));
    return kj::READY_NOW;
  }

  // A backup is a full copy of the database: it goes only where the
  // operator said backups go (lineaged --backup-dir), as one new directory
  // named by the caller, never to a path the caller picks.
  kj::Promise<void> backup(BackupContext context) override {
    std::string name(View(context.getParams().getDir()));
    absl::StatusOr<std::string> dir = BackupPath(server_->backup_root(), name);
    if (!dir.ok()) {
      FillStatus(context.getResults().initStatus(), dir.status());
      return kj::READY_NOW;
    }
    // One backup at a time: two checkpoints at once would only compete for
    // the disk, and an operator's script that retries should hear so.
    std::optional<std::string> running = server_->BeginBackup(*dir);
    if (running) {
      FillStatus(context.getResults().initStatus(),
                 absl::ResourceExhaustedError(fmt::format(
                     "a backup is already running (to {}); one at a time: ask again when it is "
                     "done",
                     *running)));
      return kj::READY_NOW;
    }
    // The slot is given back when the checkpoint is done, before the answer
    // leaves (or when the work is dropped unrun at shutdown).
    auto slot = std::shared_ptr<void>(nullptr, [server = server_](void*) { server->EndBackup(); });
    Store* store = server_->store();
    std::function<void(const std::string&)> seam = server_->before_backup();
    std::function<std::pair<absl::Status, absl::Duration>()> work = [store, dir = *dir, seam,
                                                                     slot]() mutable {
      absl::Time start = absl::Now();
      if (seam) seam(dir);
      absl::Status s = store->Checkpoint(dir);
      if (s.ok() && ::chmod(dir.c_str(), 0700) != 0) {
        s = absl::InternalError(fmt::format("{}: chmod 0700: {}", dir, std::strerror(errno)));
      }
      slot.reset();
      return std::make_pair(s, absl::Now() - start);
    };
    return server_->OnBackupThread(std::move(work), fmt::format("backup to {}", *dir))
        .then([context](std::shared_ptr<std::pair<absl::Status, absl::Duration>> r) mutable {
          auto results = context.getResults();
          FillStatus(results.initStatus(), r->first);
          results.setDurationMicros(absl::ToInt64Microseconds(r->second));
        });
  }

  kj::Promise<void> revokeToken(RevokeTokenContext context) override {
    FillStatus(context.getResults().initStatus(),
               server_->RevokeToken(View(context.getParams().getName())));
    return kj::READY_NOW;
  }

  // ---- settings changes

  // Admin only: advisory-only empties every gate's deny list. Attributed to
  // the credential, as a Responder's actions are; read, changed and written
  // on the writer thread, so that two changes never undo each other.
  kj::Promise<void> updateSettings(UpdateSettingsContext context) override {
    auto p = context.getParams();
    auto fail = [&](const absl::Status& status) {
      FillStatus(context.getResults().initStatus(), status);
      return kj::READY_NOW;
    };
    absl::StatusOr<std::string> actor = Principal(View(p.getActor()), principal_);
    if (!actor.ok()) return fail(actor.status());
    if (!p.getSetAdvisoryOnly() && !p.getSetBulkThreshold()) {
      return fail(absl::InvalidArgumentError(
          "updateSettings: nothing to change (set setAdvisoryOnly or setBulkThreshold)"));
    }
    std::optional<bool> advisory_only;
    if (p.getSetAdvisoryOnly()) advisory_only = p.getAdvisoryOnly();
    std::optional<uint64_t> bulk_threshold;
    if (p.getSetBulkThreshold()) bulk_threshold = p.getBulkThreshold();
    std::string reason(View(p.getReason()));
    Store* store = server_->store();
    using Answer = absl::StatusOr<RevocationSettings>;
    std::function<Answer()> work = [store, advisory_only, bulk_threshold, who = *actor,
                                    reason]() -> Answer {
      RevocationSettings settings = store->GetSettings();
      if (advisory_only) settings.advisory_only = *advisory_only;
      if (bulk_threshold) settings.bulk_threshold = *bulk_threshold;
      if (absl::Status s = store->UpdateSettings(settings, who, reason); !s.ok()) return s;
      return store->GetSettings();
    };
    return server_->OffLoop(std::move(work), fmt::format("settings by {}", *actor))
        .then([context](std::shared_ptr<Answer> r) mutable {
          auto results = context.getResults();
          FillStatus(results.initStatus(), r->status());
          if (r->ok()) FillSettings(results.initSettings(), **r);
        });
  }

 private:
  ServerImpl* server_;
  std::string principal_;
};

// ---- Bootstrap ----

class LineageImpl final : public schema::Lineage::Server {
 public:
  explicit LineageImpl(ServerImpl* server) : server_(server) {}

  kj::Promise<void> login(LoginContext context) override {
    std::optional<Credential> who = server_->Authenticate(View(context.getParams().getToken()));
    auto results = context.getResults();
    if (!who) {
      FillStatus(results.initStatus(), absl::UnauthenticatedError("unknown or revoked token"));
      return kj::READY_NOW;
    }
    FillStatus(results.initStatus(), absl::OkStatus());
    results.setRole(ToSchema(who->role));
    // Exactly one capability: what a token's role does not grant, its holder
    // has no reference to. It is revocable (GrantPolicy).
    kj::Own<GrantPolicy> grant = server_->NewGrant(*who);
    switch (who->role) {
      case Role::kGate:
        results.setGate(capnp::membrane(kj::heap<GateImpl>(server_), kj::mv(grant)));
        break;
      case Role::kIngest:
        results.setIngest(capnp::membrane(kj::heap<IngestImpl>(server_), kj::mv(grant)));
        break;
      case Role::kReader:
        results.setReader(capnp::membrane(kj::heap<ReaderImpl>(server_), kj::mv(grant)));
        break;
      case Role::kResponder:
        results.setResponder(
            capnp::membrane(kj::heap<ResponderImpl>(server_, who->name), kj::mv(grant)));
        break;
      case Role::kApprover:
        results.setApprover(
            capnp::membrane(kj::heap<ApproverImpl>(server_, who->name), kj::mv(grant)));
        break;
      case Role::kAdmin:
        results.setAdmin(capnp::membrane(kj::heap<AdminImpl>(server_, who->name), kj::mv(grant)));
        break;
    }
    LINEAGE_LOG(server_->logger(), kInfo, "login: {} as {}", who->name, RoleName(who->role));
    return kj::READY_NOW;
  }

 private:
  ServerImpl* server_;
};

capnp::Capability::Client ServerImpl::Bootstrap() {
  return schema::Lineage::Client(kj::heap<LineageImpl>(this));
}

}  // namespace

absl::StatusOr<std::unique_ptr<Server>> Server::Create(Store* store, ServerOptions options) {
  if (options.credentials_path.empty()) {
    return absl::InvalidArgumentError("a credentials file is required");
  }
  absl::StatusOr<CredentialStore> credentials = CredentialStore::Load(options.credentials_path);
  if (!credentials.ok()) return credentials.status();
  return std::unique_ptr<Server>(
      new ServerImpl(store, std::move(options), *std::move(credentials)));
}

}  // namespace lineage::rpc
