#include "bench/slo/gate_subscriber.h"

#include <capnp/rpc-twoparty.h>
#include <kj/async-io.h>

#include <fmt/format.h>

#include "rpc/src/convert.h"
#include "schemas/lineage.capnp.h"

namespace lineage::bench {

namespace schema = ::lineage::rpc::schema;
using ::lineage::rpc::Text;
using ::lineage::rpc::View;

class GateSubscriber::Receiver final : public schema::DenyListSubscriber::Server {
 public:
  explicit Receiver(GateSubscriber* gate) : gate_(gate) {}

  kj::Promise<void> deltas(DeltasContext context) override {
    SteadyClock::time_point arrived = SteadyClock::now();
    std::unique_lock lock(gate_->mu_);
    for (auto d : context.getParams().getDeltas()) {
      auto added = d.getAdded();
      gate_->sha256_.reserve(gate_->sha256_.size() + added.size());
      for (auto a : added)
        gate_->Add(View(a));
      for (auto r : d.getRemoved())
        gate_->Remove(View(r));
      // A delta larger than the daemon's message budget comes in parts
      // (DenyDelta.continued): it arrived with its first part and is
      // applied, and its seq reached, only with its last.
      auto [times, first_part] = gate_->times_.try_emplace(d.getSeq(), DeltaTimes{arrived, {}});
      (void)first_part;
      if (d.getContinued()) continue;
      times->second.applied = SteadyClock::now();
      gate_->seq_ = d.getSeq();
    }
    gate_->cv_.notify_all();
    return kj::READY_NOW;
  }

  kj::Promise<void> resync(ResyncContext context) override {
    std::unique_lock lock(gate_->mu_);
    gate_->error_ = fmt::format("resync: {}", View(context.getParams().getReason()));
    gate_->cv_.notify_all();
    return kj::READY_NOW;
  }

 private:
  GateSubscriber* gate_;
};

absl::StatusOr<std::unique_ptr<GateSubscriber>> GateSubscriber::Start(
    unsigned port, std::string token, uint64_t after_seq, uint64_t receive_limit_words) {
  std::unique_ptr<GateSubscriber> gate(new GateSubscriber());
  GateSubscriber* g = gate.get();
  g->thread_ = std::thread([g, port, token = std::move(token), after_seq, receive_limit_words] {
    g->Run(port, token, after_seq, receive_limit_words);
  });
  std::unique_lock lock(g->mu_);
  if (!g->cv_.wait_for(lock, std::chrono::seconds(30),
                       [&] { return g->subscribed_ || !g->error_.empty(); })) {
    g->error_ = "not subscribed within 30 s";
  }
  if (!g->error_.empty()) {
    std::string error = g->error_;
    lock.unlock();
    return absl::UnavailableError(fmt::format("gate subscriber: {}", error));
  }
  return gate;
}

GateSubscriber::~GateSubscriber() {
  {
    std::lock_guard lock(mu_);
    stop_ = true;
  }
  if (thread_.joinable()) thread_.join();
}

void GateSubscriber::Run(unsigned port, std::string token, uint64_t after_seq,
                         uint64_t receive_limit_words) {
  try {
    auto io = kj::setupAsyncIo();
    auto address = io.provider->getNetwork().parseAddress("127.0.0.1", port).wait(io.waitScope);
    kj::Own<kj::AsyncIoStream> stream = address->connect().wait(io.waitScope);
    capnp::ReaderOptions options;
    options.traversalLimitInWords = receive_limit_words;
    capnp::TwoPartyVatNetwork network(*stream, capnp::rpc::twoparty::Side::CLIENT, options);
    auto rpc = capnp::makeRpcClient(network);
    capnp::MallocMessageBuilder vat_message;
    auto vat = vat_message.initRoot<capnp::rpc::twoparty::VatId>();
    vat.setSide(capnp::rpc::twoparty::Side::SERVER);
    auto lineage = rpc.bootstrap(vat).castAs<schema::Lineage>();

    auto login = lineage.loginRequest();
    login.setToken(Text(token));
    auto logged_in = login.send().wait(io.waitScope);
    if (logged_in.getStatus().getCode() != 0) {
      std::lock_guard lock(mu_);
      error_ = fmt::format("login: {}", View(logged_in.getStatus().getMessage()));
      cv_.notify_all();
      return;
    }
    auto request = logged_in.getGate().subscribeRequest();
    request.setAfterSeq(after_seq);
    request.setSubscriber(kj::heap<Receiver>(this));
    // The daemon cuts pushes to half of this (and of its own limit).
    request.setMaxMessageBytes(receive_limit_words * sizeof(capnp::word));
    auto subscribed = request.send().wait(io.waitScope);
    if (subscribed.getStatus().getCode() != 0) {
      std::lock_guard lock(mu_);
      error_ = fmt::format("subscribe: {}", View(subscribed.getStatus().getMessage()));
      cv_.notify_all();
      return;
    }
    auto subscription = subscribed.getSubscription();
    {
      std::lock_guard lock(mu_);
      subscribed_ = true;
      cv_.notify_all();
    }
    // A broken connection ends the loop through onDisconnect; otherwise the
    // loop turns every few milliseconds to notice stop_. Pushed deltas are
    // handled while it waits, so the poll adds nothing to their latency.
    auto disconnected = network.onDisconnect().fork();
    bool broken = false;
    auto watch =
        disconnected.addBranch().then([&broken] { broken = true; }).eagerlyEvaluate(nullptr);
    auto& timer = io.provider->getTimer();
    for (;;) {
      {
        std::lock_guard lock(mu_);
        if (stop_) break;
      }
      if (broken) {
        std::lock_guard lock(mu_);
        if (error_.empty()) error_ = "disconnected";
        cv_.notify_all();
        break;
      }
      timer.afterDelay(5 * kj::MILLISECONDS).wait(io.waitScope);
    }
  } catch (const kj::Exception& e) {
    std::lock_guard lock(mu_);
    error_ = e.getDescription().cStr();
    cv_.notify_all();
  }
}

bool GateSubscriber::WaitUntil(const std::function<bool(size_t, uint64_t)>& done,
                               std::chrono::milliseconds timeout) {
  std::unique_lock lock(mu_);
  return cv_.wait_for(lock, timeout, [&] {
    return !error_.empty() || done(sha256_.size() + other_.size(), seq_);
  }) && error_.empty();
}

bool GateSubscriber::ParseSha256(std::string_view digest, Sha256* out) {
  constexpr std::string_view kPrefix = "sha256:";
  if (digest.size() != kPrefix.size() + 64 || digest.substr(0, kPrefix.size()) != kPrefix) {
    return false;
  }
  auto nibble = [](char c) -> int {
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    return -1;
  };
  const char* hex = digest.data() + kPrefix.size();
  for (size_t i = 0; i < 32; ++i) {
    int hi = nibble(hex[2 * i]), lo = nibble(hex[2 * i + 1]);
    if (hi < 0 || lo < 0) return false;
    (*out)[i] = static_cast<uint8_t>(hi << 4 | lo);
  }
  return true;
}

void GateSubscriber::Add(std::string_view digest) {
  Sha256 bytes;
  if (ParseSha256(digest, &bytes)) {
    sha256_.insert(bytes);
  } else {
    other_.emplace(digest);
  }
}

void GateSubscriber::Remove(std::string_view digest) {
  Sha256 bytes;
  if (ParseSha256(digest, &bytes)) {
    sha256_.erase(bytes);
  } else {
    other_.erase(std::string(digest));
  }
}

size_t GateSubscriber::size() {
  std::lock_guard lock(mu_);
  return sha256_.size() + other_.size();
}

bool GateSubscriber::Contains(std::string_view digest) {
  Sha256 bytes;
  std::lock_guard lock(mu_);
  if (ParseSha256(digest, &bytes)) return sha256_.contains(bytes);
  return other_.contains(std::string(digest));
}

bool GateSubscriber::TimesOf(uint64_t seq, DeltaTimes* out) {
  std::lock_guard lock(mu_);
  auto it = times_.find(seq);
  // Not there, or only some of its parts: not applied yet.
  if (it == times_.end() || it->second.applied == SteadyClock::time_point{}) return false;
  *out = it->second;
  return true;
}

std::string GateSubscriber::error() {
  std::lock_guard lock(mu_);
  return error_;
}

}  // namespace lineage::bench
