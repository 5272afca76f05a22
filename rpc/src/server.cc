#include "rpc/include/lineage/rpc/server.h"

#include <algorithm>
#include <atomic>
#include <condition_variable>
#include <deque>
#include <functional>
#include <map>
#include <mutex>
#include <optional>
#include <thread>

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
#include "schemas/lineage.capnp.h"

namespace lineage::rpc {
namespace {

// One thread that runs submitted work in order. Writes to the store are
// serialised there anyway (the store's writer lock), so one thread loses
// nothing and keeps the event loop free.
class WorkerThread {
 public:
  WorkerThread() : thread_([this] { Run(); }) {}
  ~WorkerThread() { Stop(); }

  void Submit(std::function<void()> work) {
    {
      std::lock_guard lock(mu_);
      queue_.push_back(std::move(work));
    }
    cv_.notify_one();
  }

  // Finishes the queue, then joins.
  void Stop() {
    {
      std::lock_guard lock(mu_);
      if (stopping_) return;
      stopping_ = true;
    }
    cv_.notify_one();
    if (thread_.joinable()) thread_.join();
  }

 private:
  void Run() {
    for (;;) {
      std::function<void()> work;
      {
        std::unique_lock lock(mu_);
        cv_.wait(lock, [this] { return stopping_ || !queue_.empty(); });
        if (queue_.empty()) return;
        work = std::move(queue_.front());
        queue_.pop_front();
      }
      work();
    }
  }

  std::mutex mu_;
  std::condition_variable cv_;
  std::deque<std::function<void()>> queue_;
  bool stopping_ = false;
  std::thread thread_;
};

// Hands each ingest call's verified documents to the writer in the order
// the calls arrived, whatever order their verification finished in, so that
// a client streaming calls sees them stored as it sent them.
class IngestSequencer {
 public:
  explicit IngestSequencer(WorkerThread* writer) : writer_(writer) {}

  // A ticket per call, taken on arrival. Thread-safe.
  uint64_t Take() {
    std::lock_guard lock(mu_);
    return next_ticket_++;
  }

  // The call with `ticket` is verified: `store` runs on the writer after
  // every earlier ticket's. Thread-safe.
  void Ready(uint64_t ticket, std::function<void()> store) {
    std::lock_guard lock(mu_);
    ready_.emplace(ticket, std::move(store));
    while (!ready_.empty() && ready_.begin()->first == next_to_store_) {
      writer_->Submit(std::move(ready_.begin()->second));
      ready_.erase(ready_.begin());
      next_to_store_++;
    }
  }

 private:
  WorkerThread* writer_;
  std::mutex mu_;
  uint64_t next_ticket_ = 0;
  uint64_t next_to_store_ = 0;
  std::map<uint64_t, std::function<void()>> ready_;
};

class ServerImpl;

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
    uint64_t last_seq = 0;  // of the deltas in `request`; 0: none
    std::optional<DeltasRequest> request;
  };
  // Runs `work` on the reader thread; the promise resolves on the event
  // loop. Reading the page (a large delta's bitmap becomes sorted digests),
  // building the call's message from it and freeing the page all take long
  // enough for a delta of a million digests (tens of milliseconds each) to
  // hold up checks, so none of them happens on the loop.
  using RunOffLoop =
      std::function<kj::Promise<std::shared_ptr<Prepared>>(std::function<Prepared()> work)>;

  DenyListHub(Store* store, RunOffLoop run, uint64_t lag_limit, Logger* logger)
      : store_(store),
        run_(std::move(run)),
        lag_limit_(lag_limit),
        logger_(logger),
        tasks_(*this) {}

  uint64_t Add(schema::DenyListSubscriber::Client client, uint64_t after_seq) {
    uint64_t id = next_id_++;
    subscribers_.emplace(id, Subscriber{kj::mv(client), after_seq});
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
    uint64_t sent_seq;
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
    uint64_t after = it->second.sent_seq, lag_limit = lag_limit_;
    std::function<Prepared()> work = [store, box, after, lag_limit]() -> Prepared {
      Prepared out;
      out.request = std::move(*box);
      box->reset();
      absl::StatusOr<DenyListPage> page = store->DenyListSince(after, kBatch);
      out.status = page.status();
      if (!page.ok()) return out;
      out.head_seq = page->head_seq;
      if (page->head_seq > after + lag_limit || page->deltas.empty()) return out;
      FillDeltas(out.request->initDeltas(page->deltas.size()), page->deltas);
      out.last_seq = page->deltas.back().seq;
      return out;
    };
    tasks_.add(run_(std::move(work)).then([this, id](std::shared_ptr<Prepared> prepared) {
      Send(id, std::move(prepared));
    }));
  }

  // Back on the event loop with the prepared call: resync, send, or go idle.
  void Send(uint64_t id, std::shared_ptr<Prepared> prepared) {
    auto it = subscribers_.find(id);
    if (it == subscribers_.end()) return;
    Subscriber& sub = it->second;
    if (!prepared->status.ok()) {
      LINEAGE_LOG(logger_, kError, "deny-list push: {}", std::string(prepared->status.message()));
      Idle(id);
      return;
    }
    if (prepared->head_seq > sub.sent_seq + lag_limit_) {
      // Bounded: a subscriber this far behind takes a snapshot instead of
      // replaying the log delta by delta.
      auto request = sub.client.resyncRequest();
      request.setHeadSeq(prepared->head_seq);
      request.setReason(Text(fmt::format("{} sequences behind (limit {})",
                                         prepared->head_seq - sub.sent_seq, lag_limit_)));
      tasks_.add(request.send().ignoreResult());
      LINEAGE_LOG(logger_, kWarning, "subscriber {} fell {} behind: told to resync", id,
                  prepared->head_seq - sub.sent_seq);
      subscribers_.erase(it);
      return;
    }
    if (prepared->last_seq == 0) {
      Idle(id);
      return;
    }

    uint64_t last = prepared->last_seq;
    tasks_.add(prepared->request->send().then(
        [this, id, last](auto&&) {
          auto found = subscribers_.find(id);
          if (found == subscribers_.end()) return;
          found->second.sent_seq = last;
          found->second.in_flight = false;
          Pump(id);
        },
        [this, id](kj::Exception&& e) {
          // Disconnected or failing: drop it; it resumes from its last
          // sequence when it subscribes again.
          LINEAGE_LOG(logger_, kInfo, "subscriber {} dropped: {}", id, e.getDescription().cStr());
          subscribers_.erase(id);
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
  Logger* logger_;
  std::map<uint64_t, Subscriber> subscribers_;
  uint64_t next_id_ = 1;
  kj::TaskSet tasks_;
};

class SubscriptionImpl final : public schema::Subscription::Server {
 public:
  SubscriptionImpl(DenyListHub* hub, uint64_t id) : hub_(hub), id_(id) {}
  // The client dropped its Subscription (or disconnected): stop pushing.
  ~SubscriptionImpl() { hub_->Remove(id_); }

 private:
  DenyListHub* hub_;
  uint64_t id_;
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
            options_.lag_limit, logger_.get())) {
    // The store calls this on the writer thread after each durable change;
    // the push itself runs on the event loop.
    auto executor = std::shared_ptr<kj::Own<const kj::Executor>>(
        new kj::Own<const kj::Executor>(kj::getCurrentThreadExecutor().addRef()));
    for (int i = 0; i < std::max(1, options_.verify_threads); ++i)
      verifiers_.push_back(std::make_unique<WorkerThread>());
    store_->SetDenyListListener([this, executor](uint64_t) {
      try {
        (*executor)->executeSync([this] { hub_->Publish(); });
      } catch (const kj::Exception&) {
        // The event loop is gone (shutting down): nobody is left to tell.
      }
    });
  }

  ~ServerImpl() override {
    store_->SetDenyListListener(nullptr);
    StopVerifiers();
    worker_.Stop();
    reader_.Stop();
    query_.Stop();
  }

  capnp::Capability::Client Bootstrap() override;

  absl::Status ReloadCredentials() override {
    absl::StatusOr<CredentialStore> fresh = CredentialStore::Load(options_.credentials_path);
    if (!fresh.ok()) return fresh.status();
    std::lock_guard lock(mu_);
    credentials_ = *std::move(fresh);
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
  // verifier threads; then `store()` runs on the writer thread, after the
  // store steps of every call that arrived earlier; its result resolves the
  // promise on the event loop. `what` names the request in the log.
  template <typename T>
  kj::Promise<std::shared_ptr<T>> VerifyThenStore(size_t n, std::function<void(size_t)> verify,
                                                  std::function<T()> store, std::string what) {
    auto paf = kj::newPromiseAndCrossThreadFulfiller<std::shared_ptr<T>>();
    auto fulfiller = std::make_shared<kj::Own<kj::CrossThreadPromiseFulfiller<std::shared_ptr<T>>>>(
        kj::mv(paf.fulfiller));
    uint64_t id = ++next_request_;
    LINEAGE_LOG(logger_.get(), kInfo, "req {}: {}", id, what);
    Logger* logger = logger_.get();
    absl::Time start = absl::Now();
    uint64_t ticket = sequencer_.Take();
    IngestSequencer* sequencer = &sequencer_;
    auto store_step = [store = std::move(store), fulfiller, id, logger, start] {
      auto result = std::make_shared<T>(store());
      LINEAGE_LOG(logger, kInfo, "req {}: done in {:.1f} ms", id,
                  absl::ToDoubleMilliseconds(absl::Now() - start));
      (*fulfiller)->fulfill(std::move(result));
    };
    size_t chunks = std::min(n, verifiers_.size());
    if (chunks == 0) {
      sequencer->Ready(ticket, std::move(store_step));
      return kj::mv(paf.promise);
    }
    // Contiguous slices, one per verifier; the last slice to finish hands
    // the call to the sequencer.
    auto remaining = std::make_shared<std::atomic<size_t>>(chunks);
    auto shared_verify = std::make_shared<std::function<void(size_t)>>(std::move(verify));
    auto shared_store = std::make_shared<std::function<void()>>(std::move(store_step));
    for (size_t c = 0; c < chunks; ++c) {
      size_t begin = n * c / chunks, end = n * (c + 1) / chunks;
      verifiers_[c]->Submit([=] {
        for (size_t i = begin; i < end; ++i)
          (*shared_verify)(i);
        if (remaining->fetch_sub(1) == 1) sequencer->Ready(ticket, std::move(*shared_store));
      });
    }
    return kj::mv(paf.promise);
  }

  // Runs a read on the query thread.
  template <typename T>
  kj::Promise<std::shared_ptr<T>> Query(std::function<T()> fn) {
    return OffLoop(&query_, std::move(fn));
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
    thread->Submit([fn = std::move(fn), fulfiller, id, logger] {
      absl::Time start = absl::Now();
      auto result = std::make_shared<T>(fn());
      if (id != 0) {
        LINEAGE_LOG(logger, kInfo, "req {}: done in {:.1f} ms", id,
                    absl::ToDoubleMilliseconds(absl::Now() - start));
      }
      (*fulfiller)->fulfill(std::move(result));
    });
    return kj::mv(paf.promise);
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
    std::lock_guard lock(mu_);
    return credentials_.Revoke(name);
  }
  std::vector<Credential> ListTokens() {
    std::lock_guard lock(mu_);
    return credentials_.credentials();
  }

  Store* store() { return store_; }
  DenyListHub* hub() { return hub_.get(); }
  Logger* logger() { return logger_.get(); }

 private:
  Store* store_;
  ServerOptions options_;
  std::shared_ptr<Logger> logger_;
  uint64_t next_request_ = 0;  // event loop thread only
  std::mutex mu_;              // guards credentials_ and options_.policy
  CredentialStore credentials_;
  Metrics metrics_;
  std::unique_ptr<DenyListHub> hub_;
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
  IngestSequencer sequencer_{&worker_};
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

  kj::Promise<void> denyListSince(DenyListSinceContext context) override {
    auto params = context.getParams();
    uint32_t max =
        std::min<uint32_t>(params.getMaxDeltas() == 0 ? 1000 : params.getMaxDeltas(), 10000);
    absl::StatusOr<DenyListPage> page = server_->store()->DenyListSince(params.getAfterSeq(), max);
    auto results = context.getResults();
    FillStatus(results.initStatus(), page.status());
    if (!page.ok()) return kj::READY_NOW;
    results.setHeadSeq(page->head_seq);
    results.setTruncated(page->truncated);
    FillDeltas(results.initDeltas(page->deltas.size()), page->deltas);
    return kj::READY_NOW;
  }

  kj::Promise<void> snapshot(SnapshotContext context) override {
    absl::StatusOr<DenyListSnapshot> snap = server_->store()->DenyList();
    auto results = context.getResults();
    FillStatus(results.initStatus(), snap.status());
    if (!snap.ok()) return kj::READY_NOW;
    results.setSeq(snap->seq);
    FillTexts(results.initDigests(snap->digests.size()), snap->digests);
    return kj::READY_NOW;
  }

  kj::Promise<void> subscribe(SubscribeContext context) override {
    auto params = context.getParams();
    uint64_t id = server_->hub()->Add(params.getSubscriber(), params.getAfterSeq());
    auto results = context.getResults();
    FillStatus(results.initStatus(), absl::OkStatus());
    results.setSubscription(kj::heap<SubscriptionImpl>(server_->hub(), id));
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

 private:
  static constexpr uint32_t kMaxBatchDigests = 100000;
  static constexpr uint32_t kMaxRevocationIds = 1000;
  ServerImpl* server_;
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
    Store* store = server_->store();
    size_t n_docs = docs->size();

    // Parsing and signature checks are pure given the policy: they run on
    // the verifier threads, each document once. Only the store step, in
    // document order, runs on the writer, so atomicity (each attestation
    // whole or not at all, one WriteBatch) and per-item verdicts are those
    // of the serial path.
    std::function<void(size_t)> verify = [docs, policy](size_t i) {
      static const ingest::TrustPolicy kEmpty;
      Doc& doc = (*docs)[i];
      doc.items = ingest::VerifyDocument(doc.name, doc.content, policy ? *policy : kEmpty,
                                         ingest::IngestOptions{});
      doc.content = std::string();  // not needed any more; free it early
    };
    std::function<std::vector<ItemOutcome>()> persist = [docs, store] {
      std::vector<ItemOutcome> out;
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
          AttestationRecord& record = *item.record;
          // As `lineage ingest`: a predicate without a time gets the time
          // the attestation was learnt of.
          if (record.time == absl::InfinitePast()) record.time = absl::Now();
          if (absl::StatusOr<IngestOutcome> r = store->Ingest(record); !r.ok()) {
            o.reason = fmt::format("store: {}", std::string(r.status().message()));
          } else {
            o.accepted = true;
            o.duplicate = r->duplicate;
            o.new_nodes = r->new_nodes;
            o.new_edges = r->new_edges;
            o.attestation = record.id;
            for (std::string& warning : r->warnings)
              o.warnings.push_back(fmt::format("store: {}", warning));
          }
          out.push_back(std::move(o));
        }
      }
      return out;
    };
    return server_
        ->VerifyThenStore(n_docs, std::move(verify), std::move(persist),
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

class ReaderImpl final : public schema::Reader::Server {
 public:
  explicit ReaderImpl(ServerImpl* server) : server_(server) {}

  kj::Promise<void> descendants(DescendantsContext context) override {
    auto p = context.getParams();
    Answer(context, server_->store()->Descendants(View(p.getRef()), Options(p)));
    return kj::READY_NOW;
  }
  kj::Promise<void> ancestors(AncestorsContext context) override {
    auto p = context.getParams();
    Answer(context, server_->store()->Ancestors(View(p.getRef()), Options(p)));
    return kj::READY_NOW;
  }
  kj::Promise<void> stats(StatsContext context) override {
    absl::StatusOr<StoreStats> s = server_->store()->Stats();
    auto results = context.getResults();
    FillStatus(results.initStatus(), s.status());
    if (s.ok()) FillStats(results, *s);
    return kj::READY_NOW;
  }

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

  kj::Promise<void> getPlan(GetPlanContext context) override {
    auto p = context.getParams();
    std::string id(View(p.getPlanId()));
    PlanListing listing{p.getMaxListed(), p.getMaxListed()};
    Store* store = server_->store();
    std::function<absl::StatusOr<Plan>()> work = [store, id, listing] {
      return store->GetPlan(id, listing);
    };
    return server_->Query(std::move(work))
        .then([context](std::shared_ptr<absl::StatusOr<Plan>> r) mutable {
          auto results = context.getResults();
          FillStatus(results.initStatus(), r->status());
          if (r->ok()) FillPlan(results.initPlan(), **r);
        });
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

 private:
  template <typename Params>
  static TraversalOptions Options(Params p) {
    TraversalOptions options;
    options.max_depth = p.getMaxDepth();
    options.limit = p.getLimit();
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
    Store* store = server_->store();
    std::function<absl::StatusOr<EnforceResult>()> work = [store, plan_id, options] {
      return store->Enforce(plan_id, options);
    };
    return server_
        ->OffLoop(std::move(work),
                  fmt::format("enforce plan {} by {}", plan_id.substr(0, 12), options.actor))
        .then([context, metrics = server_->metrics()](
                  std::shared_ptr<absl::StatusOr<EnforceResult>> r) mutable {
          if (r->ok() && (*r)->enforced) metrics->CountEnforce((*r)->duration);
          auto results = context.getResults();
          FillStatus(results.initStatus(), r->status());
          if (r->ok()) FillEnforce(results.initOutcome(), **r);
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

class AdminImpl final : public schema::Admin::Server {
 public:
  explicit AdminImpl(ServerImpl* server) : server_(server) {}

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

  kj::Promise<void> backup(BackupContext context) override {
    std::string dir(View(context.getParams().getDir()));
    Store* store = server_->store();
    std::function<std::pair<absl::Status, absl::Duration>()> work = [store, dir] {
      absl::Time start = absl::Now();
      absl::Status s = store->Checkpoint(dir);
      return std::make_pair(s, absl::Now() - start);
    };
    return server_->OffLoop(std::move(work), fmt::format("backup to {}", dir))
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

 private:
  ServerImpl* server_;
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
    // has no reference to.
    switch (who->role) {
      case Role::kGate:
        results.setGate(kj::heap<GateImpl>(server_));
        break;
      case Role::kIngest:
        results.setIngest(kj::heap<IngestImpl>(server_));
        break;
      case Role::kReader:
        results.setReader(kj::heap<ReaderImpl>(server_));
        break;
      case Role::kResponder:
        results.setResponder(kj::heap<ResponderImpl>(server_, who->name));
        break;
      case Role::kApprover:
        results.setApprover(kj::heap<ApproverImpl>(server_, who->name));
        break;
      case Role::kAdmin:
        results.setAdmin(kj::heap<AdminImpl>(server_));
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
