#include "rpc/include/lineage/rpc/client.h"

#include <arpa/inet.h>
#include <netdb.h>
#include <netinet/in.h>
#include <sys/socket.h>

#include <algorithm>
#include <chrono>
#include <cstdint>
#include <fstream>
#include <limits>
#include <optional>
#include <sstream>

#include <capnp/message.h>
#include <capnp/rpc-twoparty.h>
#include <kj/async-io.h>
#include <kj/async.h>
#include <kj/compat/tls.h>
#include <kj/debug.h>
#include <kj/timer.h>

#include "absl/status/status.h"
#include "absl/time/clock.h"

#include <fmt/format.h>

#include "rpc/src/convert.h"
#include "schemas/lineage.capnp.h"

namespace lineage::rpc {
namespace {

// The tick of Subscribe's loop: how quickly should_stop and the end of a
// subscription are noticed. Pushed deltas are handled at once regardless.
constexpr kj::Duration kTick = 100 * kj::MILLISECONDS;

kj::Duration ToKj(absl::Duration d) {
  return absl::ToInt64Milliseconds(d) * kj::MILLISECONDS;
}

std::string Describe(const kj::Exception& e) {
  return std::string(e.getDescription().cStr());
}

// KJ's exception types carry the retry advice; a client maps them once,
// here. Disconnects and overload are the daemon being (temporarily) gone.
absl::Status FromKj(const kj::Exception& e, std::string_view what, std::string_view address) {
  // The daemon cuts off the capabilities of a credential revoked while its
  // connection was open with this marker (rpc/src/server.cc GrantPolicy):
  // a refused token, not a broken daemon.
  if (std::string_view(e.getDescription().cStr()).find("unauthenticated: ") !=
      std::string_view::npos) {
    return absl::UnauthenticatedError(fmt::format("{}: {}", what, Describe(e)));
  }
  // Cap'n Proto's reader refuses an answer past ReaderOptions'
  // traversal limit, the client's receive limit: not a broken daemon either.
  // A message past it breaks the connection ("traversalLimitInWords"); one
  // within it whose reading goes past it throws from an accessor ("traversal
  // limit"). Both are this client's limit, not a broken or absent daemon.
  if (std::string_view description = e.getDescription().cStr();
      description.find("traversalLimitInWords") != std::string_view::npos ||
      description.find("traversal limit") != std::string_view::npos) {
    return absl::ResourceExhaustedError(fmt::format(
        "{}: the answer from {} is larger than this client's receive limit (raise it with "
        "--max-message-mib, ClientOptions::max_message_bytes): {}",
        what, address, Describe(e)));
  }
  switch (e.getType()) {
    case kj::Exception::Type::DISCONNECTED:
    case kj::Exception::Type::OVERLOADED:
      return absl::UnavailableError(fmt::format("{} ({}): {}", what, address, Describe(e)));
    case kj::Exception::Type::UNIMPLEMENTED:
      return absl::UnimplementedError(
          fmt::format("{}: {} does not implement it: {}", what, address, Describe(e)));
    default:
      return absl::InternalError(fmt::format("{}: rpc failure: {}", what, Describe(e)));
  }
}

std::string_view RoleFor(std::string_view call) {
  if (call == "check" || call == "deny-list" || call == "snapshot" || call == "subscribe" ||
      call == "why" || call == "revocations" || call == "check --at")
    return "gate";
  if (call == "descendants" || call == "ancestors" || call == "show" || call == "stats" ||
      call == "plan show" || call == "plan list" || call == "list revocations" ||
      call == "audit verify" || call == "audit log" || call == "settings" ||
      call == "workloads list" || call == "keys" || call == "evidence")
    return "reader";
  if (call == "settings change") return "admin";
  if (call == "workloads ingest" || call == "ingest") return "ingest";
  if (call == "approve") return "approver";
  if (call == "backup") return "admin";
  return "responder";
}

absl::StatusOr<std::string> ReadPem(const std::string& path, std::string_view flag) {
  std::ifstream in(path, std::ios::binary);
  if (!in) {
    return absl::UnavailableError(fmt::format("{} {}: cannot read the file", flag, path));
  }
  std::ostringstream text;
  text << in.rdbuf();
  return text.str();
}

}  // namespace

bool IsLoopbackHost(std::string_view host) {
  std::string h(host);
  if (h.size() >= 2 && h.front() == '[' && h.back() == ']') h = h.substr(1, h.size() - 2);
  auto loopback = [](const sockaddr* sa) {
    if (sa->sa_family == AF_INET) {
      const auto* in = reinterpret_cast<const sockaddr_in*>(sa);
      return (ntohl(in->sin_addr.s_addr) >> 24) == 127;
    }
    if (sa->sa_family == AF_INET6) {
      const in6_addr& a = reinterpret_cast<const sockaddr_in6*>(sa)->sin6_addr;
      if (IN6_IS_ADDR_LOOPBACK(&a)) return true;
      return IN6_IS_ADDR_V4MAPPED(&a) && a.s6_addr[12] == 127;
    }
    return false;
  };
  // A literal address decides by itself: "127.attacker.example" is a name,
  // not an address, and takes the branch below.
  in_addr v4;
  if (::inet_pton(AF_INET, h.c_str(), &v4) == 1) {
    sockaddr_in sa{};
    sa.sin_family = AF_INET;
    sa.sin_addr = v4;
    return loopback(reinterpret_cast<const sockaddr*>(&sa));
  }
  in6_addr v6;
  if (::inet_pton(AF_INET6, h.c_str(), &v6) == 1) {
    sockaddr_in6 sa{};
    sa.sin6_family = AF_INET6;
    sa.sin6_addr = v6;
    return loopback(reinterpret_cast<const sockaddr*>(&sa));
  }
  // Only the name "localhost" is resolved (from the hosts file, without
  // asking DNS for any other name), and every address it has must be
  // loopback.
  if (h != "localhost") return false;
  addrinfo hints{};
  hints.ai_family = AF_UNSPEC;
  hints.ai_socktype = SOCK_STREAM;
  addrinfo* found = nullptr;
  if (::getaddrinfo(h.c_str(), nullptr, &hints, &found) != 0 || found == nullptr) return false;
  bool all = true;
  for (addrinfo* a = found; a != nullptr; a = a->ai_next)
    all = all && loopback(a->ai_addr);
  ::freeaddrinfo(found);
  return all;
}

absl::Status SplitHostPort(std::string_view address, std::string* host, unsigned* port) {
  size_t colon = address.rfind(':');
  auto bad = [&] {
    return absl::InvalidArgumentError(
        fmt::format("{}: expected HOST:PORT, e.g. 127.0.0.1:7744", std::string(address)));
  };
  if (colon == std::string_view::npos || colon == 0 || colon + 1 == address.size()) return bad();
  std::string_view h = address.substr(0, colon);
  if (h.front() == '[') {
    if (h.back() != ']' || h.size() < 3) return bad();
    h = h.substr(1, h.size() - 2);
  }
  uint64_t p = 0;
  for (char c : address.substr(colon + 1)) {
    if (c < '0' || c > '9') return bad();
    p = p * 10 + static_cast<unsigned>(c - '0');
    if (p > 65535) return bad();
  }
  if (p == 0) return bad();
  *host = std::string(h);
  *port = static_cast<unsigned>(p);
  return absl::OkStatus();
}

// Members are destroyed in reverse order: capabilities, then the RPC system,
// then the stream, then the event loop they all live on.
struct Client::Impl {
  kj::AsyncIoContext io = kj::setupAsyncIo();
  ClientOptions options;
  // TLS state outlives the stream it wraps.
  std::vector<kj::TlsCertificate> trusted;
  kj::Maybe<kj::TlsKeypair> keypair;
  kj::Own<kj::TlsContext> tls;
  kj::Own<kj::AsyncIoStream> stream;
  kj::Own<capnp::TwoPartyVatNetwork> network;
  kj::Own<capnp::RpcSystem<capnp::rpc::twoparty::VatId>> rpc;
  Role role = Role::kGate;
  schema::Gate::Client gate = nullptr;
  schema::Ingest::Client ingest = nullptr;
  schema::Reader::Client reader = nullptr;
  schema::Admin::Client admin = nullptr;
  schema::Responder::Client responder = nullptr;
  schema::Approver::Client approver = nullptr;

  // Waits for `promise` at most options.timeout. Failures become statuses
  // (see client.h); `what` names the call in messages.
  // `limit` overrides the timeout (Connect shares one among its steps).
  template <typename T>
  absl::StatusOr<T> Wait(kj::Promise<T> promise, std::string_view what,
                         std::optional<absl::Duration> limit = std::nullopt) {
    absl::Duration bound = std::max(limit.value_or(options.timeout), absl::ZeroDuration());
    kj::Promise<kj::Maybe<T>> timed =
        promise.then([](T&& value) { return kj::Maybe<T>(kj::mv(value)); })
            .exclusiveJoin(io.provider->getTimer().afterDelay(ToKj(bound)).then([] {
              return kj::Maybe<T>(nullptr);
            }));
    try {
      kj::Maybe<T> result = timed.wait(io.waitScope);
      KJ_IF_MAYBE (value, result) {
        return kj::mv(*value);
      }
      return absl::DeadlineExceededError(fmt::format("{}: no answer from {} within {}", what,
                                                     options.address,
                                                     absl::FormatDuration(options.timeout)));
    } catch (const kj::Exception& e) {
      return FromKj(e, what, options.address);
    }
  }

  // Reads the PEM files and makes the TLS context: the CA as the only trust
  // anchor, and the client keypair if given. kj reports bad PEM as an
  // exception, which becomes InvalidArgument naming the file.
  absl::Status SetUpTls() {
    absl::StatusOr<std::string> ca = ReadPem(options.tls_ca, "--tls-ca");
    if (!ca.ok()) return ca.status();
    std::string what = "--tls-ca " + options.tls_ca;
    try {
      trusted.push_back(kj::TlsCertificate(kj::heapString(ca->data(), ca->size())));
      if (!options.tls_cert.empty()) {
        absl::StatusOr<std::string> cert = ReadPem(options.tls_cert, "--tls-cert");
        if (!cert.ok()) return cert.status();
        absl::StatusOr<std::string> key = ReadPem(options.tls_key, "--tls-key");
        if (!key.ok()) return key.status();
        what = fmt::format("--tls-cert {} / --tls-key {}", options.tls_cert, options.tls_key);
        keypair = kj::TlsKeypair{kj::TlsPrivateKey(kj::heapString(key->data(), key->size())),
                                 kj::TlsCertificate(kj::heapString(cert->data(), cert->size()))};
      }
      kj::TlsContext::Options tls_options;
      tls_options.useSystemTrustStore = false;
      tls_options.trustedCertificates = kj::arrayPtr(trusted.data(), trusted.size());
      KJ_IF_MAYBE (pair, keypair) {
        tls_options.defaultKeypair = *pair;
      }
      tls = kj::heap<kj::TlsContext>(kj::mv(tls_options));
    } catch (const kj::Exception& e) {
      return absl::InvalidArgumentError(fmt::format("{}: {}", what, Describe(e)));
    }
    return absl::OkStatus();
  }

  // The login hands out one capability; calling another role's is refused
  // here, with a message that names the role needed.
  absl::Status Need(Role needed, std::string_view call) const {
    if (role == needed) return absl::OkStatus();
    return absl::PermissionDeniedError(
        fmt::format("{}: the token's role is {}; {} needs a {} token", call, RoleName(role), call,
                    RoleFor(call)));
  }
};

// Runs a call's body. A kj exception that escapes it after Wait (reading an
// answer trips the receive limit in the accessors, not in Wait) becomes a
// status like Wait's own: nothing but statuses leaves this class.
template <typename F>
auto Guarded(std::string_view address, std::string_view what, F&& body) -> decltype(body()) {
  try {
    return body();
  } catch (const kj::Exception& e) {
    return FromKj(e, what, address);
  }
}

Client::Client(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
Client::~Client() = default;

Role Client::role() const {
  return impl_->role;
}

absl::StatusOr<std::unique_ptr<Client>> Client::Connect(const ClientOptions& options) {
  std::string host;
  unsigned port = 0;
  if (absl::Status s = SplitHostPort(options.address, &host, &port); !s.ok()) return s;
  if (options.tls_ca.empty() && !IsLoopbackHost(host)) {
    return absl::InvalidArgumentError(fmt::format(
        "{}: plaintext is allowed only to a loopback address; give the daemon's CA with "
        "--tls-ca FILE",
        options.address));
  }
  if (options.tls_cert.empty() != options.tls_key.empty()) {
    return absl::InvalidArgumentError("--tls-cert and --tls-key go together");
  }
  if (!options.tls_cert.empty() && options.tls_ca.empty()) {
    return absl::InvalidArgumentError("--tls-cert needs --tls-ca (the daemon's CA)");
  }
  auto impl = std::make_unique<Impl>();
  impl->options = options;
  Impl& c = *impl;
  if (!options.tls_ca.empty()) {
    if (absl::Status s = c.SetUpTls(); !s.ok()) return s;
  }

  // Everything before the login is reaching the daemon at all: any failure
  // is Unavailable, however KJ classifies it (refused, no route, DNS).
  auto unreachable = [&](const absl::Status& s) {
    if (s.code() == absl::StatusCode::kDeadlineExceeded) return s;
    return absl::UnavailableError(
        fmt::format("cannot reach lineaged: {}", std::string(s.message())));
  };
  // One timeout for the whole of resolve + connect + login, so that a
  // caller's bound on Connect is the timeout, not three of them.
  absl::Time deadline = absl::Now() + options.timeout;
  absl::StatusOr<kj::Own<kj::NetworkAddress>> address = c.Wait(
      c.io.provider->getNetwork().parseAddress(host, port), "resolve", deadline - absl::Now());
  if (!address.ok()) return unreachable(address.status());
  absl::StatusOr<kj::Own<kj::AsyncIoStream>> stream =
      c.Wait((*address)->connect(), "connect", deadline - absl::Now());
  if (!stream.ok()) return unreachable(stream.status());
  c.stream = *std::move(stream);
  if (c.tls) {
    // The handshake is part of reaching the daemon: an untrusted certificate
    // or a refused client certificate is Unavailable, under the same deadline.
    std::string name = options.tls_server_name.empty() ? host : options.tls_server_name;
    absl::StatusOr<kj::Own<kj::AsyncIoStream>> secured =
        c.Wait(c.tls->wrapClient(kj::mv(c.stream), name), "TLS handshake", deadline - absl::Now());
    if (!secured.ok()) return unreachable(secured.status());
    c.stream = *std::move(secured);
  }
  // What TwoPartyClient does, with this client's receive limit: a deny-list
  // delta of a million digests (about 80 MiB) is past Cap'n Proto's default
  // 64 MiB, and a message over the limit breaks the connection.
  capnp::ReaderOptions reader_options;
  reader_options.traversalLimitInWords = options.max_message_bytes / sizeof(capnp::word);
  c.network = kj::heap<capnp::TwoPartyVatNetwork>(*c.stream, capnp::rpc::twoparty::Side::CLIENT,
                                                  reader_options);
  c.rpc = kj::heap(capnp::makeRpcClient(*c.network));
  capnp::MallocMessageBuilder vat_message(8);
  auto server_vat = vat_message.initRoot<capnp::rpc::twoparty::VatId>();
  server_vat.setSide(capnp::rpc::twoparty::Side::SERVER);

  auto request = c.rpc->bootstrap(server_vat).castAs<schema::Lineage>().loginRequest();
  request.setToken(Text(options.token));
  auto login = c.Wait(request.send(), "login", deadline - absl::Now());
  if (!login.ok()) return unreachable(login.status());
  if (absl::Status s = ToStatus(login->getStatus()); !s.ok()) return s;
  c.role = FromSchema(login->getRole());
  switch (c.role) {
    case Role::kGate:
      c.gate = login->getGate();
      break;
    case Role::kReader:
      c.reader = login->getReader();
      break;
    case Role::kResponder:
      c.responder = login->getResponder();
      break;
    case Role::kApprover:
      c.approver = login->getApprover();
      break;
    case Role::kIngest:
      c.ingest = login->getIngest();
      break;
    case Role::kAdmin:
      c.admin = login->getAdmin();
      break;
  }
  return std::unique_ptr<Client>(new Client(std::move(impl)));
}

// ---- gate

absl::StatusOr<CheckResult> Client::Check(std::string_view digest, UnknownPolicy unknown) {
  return Guarded(impl_->options.address, "Check", [&]() -> absl::StatusOr<CheckResult> {
    if (absl::Status s = impl_->Need(Role::kGate, "check"); !s.ok()) return s;
    auto request = impl_->gate.checkRequest();
    std::string text(digest);
    request.setDigest(Text(text));
    request.setUnknown(ToSchema(unknown));
    auto response = impl_->Wait(request.send(), "check");
    if (!response.ok()) return response.status();
    if (absl::Status s = ToStatus(response->getStatus()); !s.ok()) return s;
    return ToCheck(response->getResult());
  });
}

namespace {

// Joins the parts of a delta (DenyDelta.continued in the schema). Holds
// the delta whose last part has not arrived yet.
class PartJoiner {
 public:
  // Adds one received part; appends every delta now whole to `out`.
  // InvalidArgument when a part does not continue the held one.
  absl::Status Add(schema::DenyDelta::Reader part, std::vector<DenyDelta>* out) {
    if (pending_ && pending_->seq != part.getSeq()) {
      return absl::DataLossError(
          fmt::format("deny list: delta {} is incomplete: its next part never came (got {})",
                      pending_->seq, part.getSeq()));
    }
    if (!pending_) {
      pending_ = ToDelta(part);
    } else {
      for (auto a : part.getAdded())
        pending_->added.emplace_back(View(a));
      for (auto r : part.getRemoved())
        pending_->removed.emplace_back(View(r));
    }
    if (!part.getContinued()) {
      out->push_back(std::move(*pending_));
      pending_.reset();
    }
    return absl::OkStatus();
  }
  bool holding() const { return pending_.has_value(); }
  // Digests of the held delta received so far: what to skip when asking
  // for the rest.
  uint64_t held_digests() const {
    return pending_ ? pending_->added.size() + pending_->removed.size() : 0;
  }
  uint64_t held_seq() const { return pending_ ? pending_->seq : 0; }

 private:
  std::optional<DenyDelta> pending_;
};

}  // namespace

absl::StatusOr<DenyListPage> Client::DenyListSince(uint64_t after_seq, uint32_t max_deltas) {
  return Guarded(impl_->options.address, "DenyListSince", [&]() -> absl::StatusOr<DenyListPage> {
    if (absl::Status s = impl_->Need(Role::kGate, "deny-list"); !s.ok()) return s;
    DenyListPage page;
    PartJoiner joiner;
    // A delta larger than one message comes in parts: ask for the rest of it
    // until it is whole, so that the page holds whole deltas only.
    for (;;) {
      auto request = impl_->gate.denyListSinceRequest();
      request.setAfterSeq(joiner.holding() ? joiner.held_seq() - 1 : after_seq);
      request.setSkipDigests(joiner.held_digests());
      request.setMaxDeltas(max_deltas);
      request.setMaxMessageBytes(impl_->options.max_message_bytes);
      auto response = impl_->Wait(request.send(), "deny-list");
      if (!response.ok()) return response.status();
      if (absl::Status s = ToStatus(response->getStatus()); !s.ok()) return s;
      page.head_seq = response->getHeadSeq();
      page.truncated = response->getTruncated();
      for (auto delta : response->getDeltas()) {
        if (absl::Status s = joiner.Add(delta, &page.deltas); !s.ok()) return s;
      }
      if (!joiner.holding()) return page;
      if (response->getDeltas().size() == 0) {
        return absl::DataLossError("deny-list: the daemon stopped in the middle of a delta");
      }
    }
  });
}

absl::StatusOr<DenyListSnapshot> Client::Snapshot() {
  return Guarded(impl_->options.address, "Snapshot", [&]() -> absl::StatusOr<DenyListSnapshot> {
    if (absl::Status s = impl_->Need(Role::kGate, "snapshot"); !s.ok()) return s;
    // Page by page (a deny list of a million digests is past any one
    // message). Pages are read at their own seq; the snapshot takes the
    // smallest, so that the deltas after it, applied as the set operations
    // they are, bring every page to the head (see the schema).
    DenyListSnapshot snapshot;
    bool first = true;
    std::string after;
    for (;;) {
      auto request = impl_->gate.snapshotRequest();
      request.setAfterDigest(Text(after));
      request.setMaxMessageBytes(impl_->options.max_message_bytes);
      auto response = impl_->Wait(request.send(), "snapshot");
      if (!response.ok()) return response.status();
      if (absl::Status s = ToStatus(response->getStatus()); !s.ok()) return s;
      snapshot.seq = first ? response->getSeq() : std::min(snapshot.seq, response->getSeq());
      first = false;
      auto digests = response->getDigests();
      for (auto d : digests)
        snapshot.digests.emplace_back(View(d));
      if (!response->getTruncated()) return snapshot;
      if (digests.size() == 0) {
        return absl::DataLossError("snapshot: the daemon sent an empty page that is not the last");
      }
      after = snapshot.digests.back();
    }
  });
}

namespace {

// Receives pushes on the client's event loop. The daemon sends the next
// call only after this one returns, so the callback sees batches in order.
class SubscriberImpl final : public schema::DenyListSubscriber::Server {
 public:
  struct State {
    const SubscribeCallbacks* callbacks = nullptr;
    std::optional<absl::Status> result;  // set once the subscription is over
    absl::Time last_heard = absl::Now();
    uint64_t applied_seq = 0;  // the last whole delta handed to on_deltas
    uint64_t parts = 0;        // parts received, whole or not
    PartJoiner joiner;
  };
  explicit SubscriberImpl(std::shared_ptr<State> state) : state_(std::move(state)) {}

  kj::Promise<void> deltas(DeltasContext context) override {
    state_->last_heard = absl::Now();
    if (state_->result) return kj::READY_NOW;
    std::vector<DenyDelta> batch;
    for (auto delta : context.getParams().getDeltas()) {
      ++state_->parts;
      if (absl::Status s = state_->joiner.Add(delta, &batch); !s.ok()) {
        state_->result = s;
        return kj::READY_NOW;
      }
    }
    // A call that holds only the first parts of a delta: nothing is whole
    // yet; the callback sees the delta when its last part arrives.
    if (batch.empty()) return kj::READY_NOW;
    state_->applied_seq = batch.back().seq;
    if (!state_->callbacks->on_deltas(batch)) state_->result = absl::OkStatus();
    return kj::READY_NOW;
  }

  kj::Promise<void> resync(ResyncContext context) override {
    auto params = context.getParams();
    if (!state_->result) {
      state_->result = absl::AbortedError(fmt::format("the daemon asked for a resync at seq {}: {}",
                                                      params.getHeadSeq(),
                                                      std::string(View(params.getReason()))));
    }
    return kj::READY_NOW;
  }

 private:
  // Shared: the RPC system may keep this object past Subscribe's return.
  std::shared_ptr<State> state_;
};

}  // namespace

absl::Status Client::Subscribe(uint64_t after_seq, const SubscribeCallbacks& callbacks,
                               absl::Duration heartbeat) {
  if (absl::Status s = impl_->Need(Role::kGate, "subscribe"); !s.ok()) return s;
  Impl& c = *impl_;
  auto state = std::make_shared<SubscriberImpl::State>();
  state->callbacks = &callbacks;
  state->applied_seq = after_seq;

  auto request = c.gate.subscribeRequest();
  request.setAfterSeq(after_seq);
  request.setSubscriber(kj::heap<SubscriberImpl>(state));
  request.setMaxMessageBytes(c.options.max_message_bytes);
  // Holding the response holds the Subscription: dropping it ends the push.
  auto subscribed = c.Wait(request.send(), "subscribe");
  if (!subscribed.ok()) return subscribed.status();
  if (absl::Status s = ToStatus(subscribed->getStatus()); !s.ok()) return s;

  bool disconnected = false;
  kj::ForkedPromise<void> disconnect =
      c.network->onDisconnect()
          .then([&disconnected] { disconnected = true; },
                [&disconnected](kj::Exception&&) { disconnected = true; })
          .fork();
  state->last_heard = absl::Now();
  // Heartbeats in a row that found the daemon's head past what arrived
  // here, with nothing arriving in between.
  int behind = 0;
  uint64_t parts_at_probe = 0;
  for (;;) {
    try {
      disconnect.addBranch()
          .exclusiveJoin(c.io.provider->getTimer().afterDelay(kTick))
          .wait(c.io.waitScope);
    } catch (const kj::Exception& e) {
      return FromKj(e, "subscribe", c.options.address);
    }
    if (state->result) return *state->result;
    if (disconnected) {
      return absl::UnavailableError(
          fmt::format("subscribe: lost the connection to {}", c.options.address));
    }
    if (callbacks.should_stop && callbacks.should_stop()) return absl::OkStatus();
    if (absl::Now() - state->last_heard >= heartbeat) {
      // A daemon that vanished without closing the socket (a partition, a
      // frozen process) would otherwise look like a quiet deny list forever.
      absl::StatusOr<DenyListPage> probe =
          DenyListSince(std::numeric_limits<uint64_t>::max() - 1, 1);
      if (!probe.ok()) return probe.status();
      state->last_heard = absl::Now();
      // A daemon that answers but whose push stopped (a push it could not
      // send, a subscription it lost) would look just as quiet: its head
      // moved on and nothing came. Two heartbeats of that ends the
      // subscription, so that the caller takes a snapshot.
      if (probe->head_seq > state->applied_seq && state->parts == parts_at_probe) {
        if (++behind >= 2) {
          return absl::AbortedError(fmt::format(
              "subscribe: the daemon is at seq {} but pushes stopped at {} for {} heartbeats",
              probe->head_seq, state->applied_seq, behind));
        }
      } else {
        behind = 0;
      }
      parts_at_probe = state->parts;
    }
  }
}

// ---- reader

namespace {

// descendants and ancestors take the same parameters and give the same
// answer.
template <typename Request>
void FillTraversal(Request& request, std::string_view ref, int max_depth, uint64_t limit,
                   EdgeKindMask kinds) {
  std::string text(ref);
  request.setRef(Text(text));
  request.setMaxDepth(max_depth);
  request.setLimit(limit);
  std::vector<EdgeKind> followed = EdgeKindsOf(kinds);
  FillEdgeKinds(request.initKinds(followed.size()), followed);
}

template <typename Response>
absl::StatusOr<TraversalResult> TraversalAnswer(absl::StatusOr<Response> response) {
  if (!response.ok()) return response.status();
  if (absl::Status s = ToStatus(response->getStatus()); !s.ok()) return s;
  return ToTraversal(*response);
}

}  // namespace

absl::StatusOr<TraversalResult> Client::Descendants(std::string_view ref, int max_depth,
                                                    uint64_t limit, EdgeKindMask kinds) {
  return Guarded(impl_->options.address, "Descendants", [&]() -> absl::StatusOr<TraversalResult> {
    if (absl::Status s = impl_->Need(Role::kReader, "descendants"); !s.ok()) return s;
    auto request = impl_->reader.descendantsRequest();
    FillTraversal(request, ref, max_depth, limit, kinds);
    return TraversalAnswer(impl_->Wait(request.send(), "descendants"));
  });
}

absl::StatusOr<TraversalResult> Client::Ancestors(std::string_view ref, int max_depth,
                                                  uint64_t limit, EdgeKindMask kinds) {
  return Guarded(impl_->options.address, "Ancestors", [&]() -> absl::StatusOr<TraversalResult> {
    if (absl::Status s = impl_->Need(Role::kReader, "ancestors"); !s.ok()) return s;
    auto request = impl_->reader.ancestorsRequest();
    FillTraversal(request, ref, max_depth, limit, kinds);
    return TraversalAnswer(impl_->Wait(request.send(), "ancestors"));
  });
}

// ---- responder, approver

absl::StatusOr<Plan> Client::MakePlan(const PlanRequest& request, uint32_t max_listed) {
  return Guarded(impl_->options.address, "MakePlan", [&]() -> absl::StatusOr<Plan> {
    if (absl::Status s = impl_->Need(Role::kResponder, "plan"); !s.ok()) return s;
    auto call = impl_->responder.planRequest();
    auto roots = call.initRoots(request.roots.size());
    for (size_t i = 0; i < request.roots.size(); ++i)
      FillRoot(roots[i], request.roots[i]);
    call.setReason(Text(request.reason));
    call.setAdvisory(request.mode == RevocationMode::kAdvisory);
    call.setActor(Text(request.actor));
    call.setMaxListed(max_listed);
    auto response = impl_->Wait(call.send(), "plan");
    if (!response.ok()) return response.status();
    if (absl::Status s = ToStatus(response->getStatus()); !s.ok()) return s;
    return ToPlan(response->getPlan());
  });
}

absl::StatusOr<EnforceResult> Client::Enforce(std::string_view plan_id,
                                              const EnforceOptions& options) {
  return Guarded(impl_->options.address, "Enforce", [&]() -> absl::StatusOr<EnforceResult> {
    if (absl::Status s = impl_->Need(Role::kResponder, "enforce"); !s.ok()) return s;
    auto call = impl_->responder.enforceRequest();
    std::string id(plan_id);
    call.setPlanId(Text(id));
    call.setActor(Text(options.actor));
    call.setAcceptChanges(options.accept_changes);
    call.setMaxMessageBytes(impl_->options.max_message_bytes);
    auto response = impl_->Wait(call.send(), "enforce");
    if (!response.ok()) return response.status();
    if (absl::Status s = ToStatus(response->getStatus()); !s.ok()) return s;
    EnforceResult result = ToEnforce(response->getOutcome());
    uint64_t count = response->getOutcome().getWorkloadCount();
    // A daemon older than workloadCount sends 0 and every workload.
    if (count <= result.workloads.size()) return result;

    // The enforcement is done; what did not fit its answer comes page by
    // page from its evidence record, in the same order.
    for (;;) {
      auto page = impl_->responder.enforcedWorkloadsRequest();
      page.setRevocation(Text(result.revocation.id));
      page.setOffset(result.workloads.size());
      page.setMaxMessageBytes(impl_->options.max_message_bytes);
      auto more = impl_->Wait(page.send(), "enforce");
      if (!more.ok()) return more.status();
      if (absl::Status s = ToStatus(more->getStatus()); !s.ok()) {
        return absl::Status(s.code(), fmt::format("enforced {}, but listing its workloads: {}",
                                                  result.revocation.id, std::string(s.message())));
      }
      for (auto w : more->getWorkloads())
        result.workloads.emplace_back(View(w));
      if (more->getWorkloadCount() != count) {
        return absl::DataLossError(
            fmt::format("enforced {}: the enforcement affected {} workloads, its evidence lists {}",
                        result.revocation.id, count, more->getWorkloadCount()));
      }
      if (!more->getTruncated()) break;
      if (more->getWorkloads().size() == 0) {
        return absl::DataLossError("enforce: the daemon sent an empty page of workloads");
      }
    }
    if (result.workloads.size() != count) {
      return absl::DataLossError(fmt::format("enforced {}: {} of its {} workloads arrived",
                                             result.revocation.id, result.workloads.size(), count));
    }
    return result;
  });
}

absl::StatusOr<LiftResult> Client::Lift(std::string_view revocation, std::string_view actor,
                                        std::string_view reason) {
  return Guarded(impl_->options.address, "Lift", [&]() -> absl::StatusOr<LiftResult> {
    if (absl::Status s = impl_->Need(Role::kResponder, "lift"); !s.ok()) return s;
    auto call = impl_->responder.liftRequest();
    std::string rev(revocation), who(actor), why(reason);
    call.setRevocation(Text(rev));
    call.setActor(Text(who));
    call.setReason(Text(why));
    auto response = impl_->Wait(call.send(), "lift");
    if (!response.ok()) return response.status();
    if (absl::Status s = ToStatus(response->getStatus()); !s.ok()) return s;
    LiftResult result;
    result.revocation = ToRevocation(response->getRecord());
    result.released = response->getReleased();
    result.still_covered = response->getStillCovered();
    result.deny_seq = response->getDenySeq();
    return result;
  });
}

absl::StatusOr<Plan> Client::Approve(std::string_view plan_id, std::string_view principal) {
  return Guarded(impl_->options.address, "Approve", [&]() -> absl::StatusOr<Plan> {
    if (absl::Status s = impl_->Need(Role::kApprover, "approve"); !s.ok()) return s;
    auto call = impl_->approver.approveRequest();
    std::string id(plan_id), who(principal);
    call.setPlanId(Text(id));
    call.setPrincipal(Text(who));
    auto response = impl_->Wait(call.send(), "approve");
    if (!response.ok()) return response.status();
    if (absl::Status s = ToStatus(response->getStatus()); !s.ok()) return s;
    return ToPlan(response->getPlan());
  });
}

// ---- gate: why, revocations

absl::StatusOr<WhyResult> Client::Why(std::string_view digest) {
  return Guarded(impl_->options.address, "Why", [&]() -> absl::StatusOr<WhyResult> {
    if (absl::Status s = impl_->Need(Role::kGate, "why"); !s.ok()) return s;
    auto request = impl_->gate.whyRequest();
    std::string text(digest);
    request.setDigest(Text(text));
    auto response = impl_->Wait(request.send(), "why");
    if (!response.ok()) return response.status();
    if (absl::Status s = ToStatus(response->getStatus()); !s.ok()) return s;
    return ToWhy(response->getResult());
  });
}

absl::StatusOr<std::vector<Revocation>> Client::Revocations(const std::vector<std::string>& ids) {
  return Guarded(impl_->options.address, "Revocations",
                 [&]() -> absl::StatusOr<std::vector<Revocation>> {
                   if (absl::Status s = impl_->Need(Role::kGate, "revocations"); !s.ok()) return s;
                   auto request = impl_->gate.revocationsRequest();
                   FillTexts(request.initIds(ids.size()), ids);
                   auto response = impl_->Wait(request.send(), "revocations");
                   if (!response.ok()) return response.status();
                   if (absl::Status s = ToStatus(response->getStatus()); !s.ok()) return s;
                   std::vector<Revocation> out;
                   for (auto rev : response->getRevocations())
                     out.push_back(ToRevocation(rev));
                   return out;
                 });
}

// ---- ingest

absl::StatusOr<std::vector<Client::IngestItem>> Client::Ingest(std::string_view name,
                                                               std::string_view content) {
  return Guarded(
      impl_->options.address, "Ingest", [&]() -> absl::StatusOr<std::vector<Client::IngestItem>> {
        if (absl::Status s = impl_->Need(Role::kIngest, "ingest"); !s.ok()) return s;
        auto request = impl_->ingest.ingestRequest();
        auto docs = request.initDocuments(1);
        std::string n(name);
        docs[0].setName(Text(n));
        docs[0].setContent(
            capnp::Data::Reader(reinterpret_cast<const kj::byte*>(content.data()), content.size()));
        auto response = impl_->Wait(request.send(), "ingest");
        if (!response.ok()) return response.status();
        if (absl::Status s = ToStatus(response->getStatus()); !s.ok()) return s;
        std::vector<IngestItem> out;
        for (auto item : response->getItems()) {
          IngestItem i;
          i.source = std::string(View(item.getSource()));
          i.accepted = item.getAccepted();
          i.duplicate = item.getDuplicate();
          i.reason = std::string(View(item.getReason()));
          i.attestation = std::string(View(item.getAttestation()));
          i.warnings = ToStrings(item.getWarnings());
          i.new_nodes = item.getNewNodes();
          i.new_edges = item.getNewEdges();
          out.push_back(std::move(i));
        }
        return out;
      });
}

absl::StatusOr<ingest::InventoryReport> Client::IngestInventory(
    std::string_view name, std::string_view content, const ingest::InventoryOptions& options) {
  return Guarded(
      impl_->options.address, "IngestInventory", [&]() -> absl::StatusOr<ingest::InventoryReport> {
        if (absl::Status s = impl_->Need(Role::kIngest, "workloads ingest"); !s.ok()) return s;
        auto request = impl_->ingest.ingestInventoriesRequest();
        auto docs = request.initInventories(1);
        std::string n(name), cluster(options.cluster);
        docs[0].setName(Text(n));
        docs[0].setContent(
            capnp::Data::Reader(reinterpret_cast<const kj::byte*>(content.data()), content.size()));
        docs[0].setCluster(Text(cluster));
        docs[0].setFormat(ToSchema(options.format));
        auto response = impl_->Wait(request.send(), "workloads ingest");
        if (!response.ok()) return response.status();
        if (absl::Status s = ToStatus(response->getStatus()); !s.ok()) return s;
        if (response->getItems().size() != 1) {
          return absl::InternalError(fmt::format("workloads ingest: {} answered {} items for 1",
                                                 impl_->options.address,
                                                 response->getItems().size()));
        }
        return ToInventoryReport(response->getItems()[0]);
      });
}

// ---- reader: show, stats, plans

absl::StatusOr<NodeInfo> Client::Show(std::string_view ref) {
  return Guarded(impl_->options.address, "Show", [&]() -> absl::StatusOr<NodeInfo> {
    if (absl::Status s = impl_->Need(Role::kReader, "show"); !s.ok()) return s;
    auto request = impl_->reader.showRequest();
    std::string text(ref);
    request.setRef(Text(text));
    auto response = impl_->Wait(request.send(), "show");
    if (!response.ok()) return response.status();
    if (absl::Status s = ToStatus(response->getStatus()); !s.ok()) return s;
    return ToNode(response->getNode());
  });
}

absl::StatusOr<StoreStats> Client::Stats() {
  return Guarded(impl_->options.address, "Stats", [&]() -> absl::StatusOr<StoreStats> {
    if (absl::Status s = impl_->Need(Role::kReader, "stats"); !s.ok()) return s;
    auto response = impl_->Wait(impl_->reader.statsRequest().send(), "stats");
    if (!response.ok()) return response.status();
    if (absl::Status s = ToStatus(response->getStatus()); !s.ok()) return s;
    return ToStats(*response);
  });
}

namespace {

template <typename Request>
void SetGetPlan(Request& request, const std::string& id, uint32_t max_listed) {
  request.setPlanId(Text(id));
  request.setMaxListed(max_listed);
}

}  // namespace

absl::StatusOr<Plan> Client::GetPlan(std::string_view plan_id, uint32_t max_listed) {
  return Guarded(impl_->options.address, "GetPlan", [&]() -> absl::StatusOr<Plan> {
    std::string id(plan_id);
    // A responder reads its plans back too (Responder.getPlan, the same answer).
    if (impl_->role == Role::kResponder) {
      auto request = impl_->responder.getPlanRequest();
      SetGetPlan(request, id, max_listed);
      auto response = impl_->Wait(request.send(), "plan show");
      if (!response.ok()) return response.status();
      if (absl::Status s = ToStatus(response->getStatus()); !s.ok()) return s;
      return ToPlan(response->getPlan());
    }
    if (absl::Status s = impl_->Need(Role::kReader, "plan show"); !s.ok()) return s;
    auto request = impl_->reader.getPlanRequest();
    SetGetPlan(request, id, max_listed);
    auto response = impl_->Wait(request.send(), "plan show");
    if (!response.ok()) return response.status();
    if (absl::Status s = ToStatus(response->getStatus()); !s.ok()) return s;
    return ToPlan(response->getPlan());
  });
}

absl::StatusOr<std::vector<Plan>> Client::ListPlans() {
  return Guarded(impl_->options.address, "ListPlans", [&]() -> absl::StatusOr<std::vector<Plan>> {
    if (absl::Status s = impl_->Need(Role::kReader, "plan list"); !s.ok()) return s;
    auto response = impl_->Wait(impl_->reader.listPlansRequest().send(), "plan list");
    if (!response.ok()) return response.status();
    if (absl::Status s = ToStatus(response->getStatus()); !s.ok()) return s;
    std::vector<Plan> out;
    for (auto plan : response->getPlans())
      out.push_back(ToPlan(plan));
    return out;
  });
}

// ---- reader: revocations, audit, settings

absl::StatusOr<std::vector<Revocation>> Client::ListRevocations(bool all) {
  return Guarded(impl_->options.address, "ListRevocations",
                 [&]() -> absl::StatusOr<std::vector<Revocation>> {
                   if (absl::Status s = impl_->Need(Role::kReader, "list revocations"); !s.ok())
                     return s;
                   std::vector<Revocation> out;
                   std::string after;
                   for (;;) {
                     auto request = impl_->reader.listRevocationsRequest();
                     request.setAll(all);
                     request.setAfterId(Text(after));
                     request.setMaxMessageBytes(impl_->options.max_message_bytes);
                     auto response = impl_->Wait(request.send(), "list revocations");
                     if (!response.ok()) return response.status();
                     if (absl::Status s = ToStatus(response->getStatus()); !s.ok()) return s;
                     auto page = response->getRevocations();
                     for (auto rev : page)
                       out.push_back(ToRevocation(rev));
                     if (!response->getTruncated()) return out;
                     if (page.size() == 0) {
                       return absl::DataLossError(
                           "list revocations: the daemon sent an empty page that is not the last");
                     }
                     after = out.back().id;
                   }
                 });
}

absl::StatusOr<AuditVerification> Client::VerifyAudit() {
  return Guarded(impl_->options.address, "VerifyAudit", [&]() -> absl::StatusOr<AuditVerification> {
    if (absl::Status s = impl_->Need(Role::kReader, "audit verify"); !s.ok()) return s;
    auto response = impl_->Wait(impl_->reader.verifyAuditRequest().send(), "audit verify");
    if (!response.ok()) return response.status();
    if (absl::Status s = ToStatus(response->getStatus()); !s.ok()) return s;
    return ToAuditVerification(*response);
  });
}

absl::StatusOr<std::vector<AuditEntry>> Client::AuditLog(uint64_t from_seq, uint32_t page_entries) {
  return Guarded(impl_->options.address, "AuditLog",
                 [&]() -> absl::StatusOr<std::vector<AuditEntry>> {
                   if (absl::Status s = impl_->Need(Role::kReader, "audit log"); !s.ok()) return s;
                   std::vector<AuditEntry> out;
                   for (uint64_t from = std::max<uint64_t>(from_seq, 1);;) {
                     auto request = impl_->reader.auditLogRequest();
                     request.setFromSeq(from);
                     request.setMaxEntries(page_entries);
                     request.setMaxMessageBytes(impl_->options.max_message_bytes);
                     auto response = impl_->Wait(request.send(), "audit log");
                     if (!response.ok()) return response.status();
                     if (absl::Status s = ToStatus(response->getStatus()); !s.ok()) return s;
                     auto page = response->getEntries();
                     for (auto e : page)
                       out.push_back(ToAuditEntry(e));
                     if (!response->getTruncated()) return out;
                     // Seqs only grow: a page that does not move on would loop forever.
                     if (page.size() == 0 || out.back().seq < from) {
                       return absl::DataLossError("audit log: the daemon's page does not move on");
                     }
                     from = out.back().seq + 1;
                   }
                 });
}

absl::StatusOr<RevocationSettings> Client::GetSettings() {
  return Guarded(
      impl_->options.address, "GetSettings", [&]() -> absl::StatusOr<RevocationSettings> {
        if (absl::Status s = impl_->Need(Role::kReader, "settings"); !s.ok()) return s;
        auto response = impl_->Wait(impl_->reader.getSettingsRequest().send(), "settings");
        if (!response.ok()) return response.status();
        if (absl::Status s = ToStatus(response->getStatus()); !s.ok()) return s;
        return ToSettings(response->getSettings());
      });
}

// ---- reader: workloads, keys; gate: check --at

absl::StatusOr<std::vector<ClusterInventory>> Client::Workloads(std::string_view cluster) {
  return Guarded(
      impl_->options.address, "Workloads", [&]() -> absl::StatusOr<std::vector<ClusterInventory>> {
        if (absl::Status s = impl_->Need(Role::kReader, "workloads list"); !s.ok()) return s;
        std::string name(cluster);
        constexpr int kAttempts = 3;
        absl::Status last;
        for (int attempt = 0; attempt < kAttempts; ++attempt) {
          std::vector<ClusterInventory> out;
          std::string after_workload;  // the last workload of out.back() received
          for (;;) {
            auto request = impl_->reader.workloadsRequest();
            request.setCluster(Text(name));
            std::string after_cluster = out.empty() ? std::string() : out.back().cluster;
            std::string after_inventory = out.empty() ? std::string() : out.back().inventory;
            request.setAfterCluster(Text(after_cluster));
            request.setAfterInventory(Text(after_inventory));
            request.setAfterWorkload(Text(after_workload));
            request.setMaxMessageBytes(impl_->options.max_message_bytes);
            auto response = impl_->Wait(request.send(), "workloads list");
            if (!response.ok()) return response.status();
            absl::Status status = ToStatus(response->getStatus());
            if (status.code() == absl::StatusCode::kAborted) {
              // An inventory was replaced between pages: a joined listing would
              // mix two of them.
              last = status;
              break;
            }
            if (!status.ok()) return status;
            auto clusters = response->getClusters();
            for (auto c : clusters) {
              ClusterInventory page = ToClusterInventory(c);
              if (!out.empty() && out.back().cluster == page.cluster) {
                for (ClusterWorkload& w : page.workloads)
                  out.back().workloads.push_back(std::move(w));
              } else {
                out.push_back(std::move(page));
              }
            }
            after_workload = out.empty() || out.back().workloads.empty()
                                 ? std::string()
                                 : out.back().workloads.back().ref;
            if (!response->getTruncated()) return out;
            if (clusters.size() == 0) {
              return absl::DataLossError(
                  "workloads list: the daemon sent an empty page that is not "
                  "the last");
            }
          }
        }
        return absl::AbortedError(
            fmt::format("workloads list: inventories kept changing while they "
                        "were listed ({} attempts): {}",
                        kAttempts, std::string(last.message())));
      });
}

absl::StatusOr<KeyUsageReport> Client::KeyUsage(absl::Duration rotation_age) {
  return Guarded(impl_->options.address, "KeyUsage", [&]() -> absl::StatusOr<KeyUsageReport> {
    if (absl::Status s = impl_->Need(Role::kReader, "keys"); !s.ok()) return s;
    auto request = impl_->reader.keyUsageRequest();
    request.setRotationAgeMicros(absl::ToInt64Microseconds(rotation_age));
    request.setMaxMessageBytes(impl_->options.max_message_bytes);
    auto response = impl_->Wait(request.send(), "keys");
    if (!response.ok()) return response.status();
    if (absl::Status s = ToStatus(response->getStatus()); !s.ok()) return s;
    return ToKeyUsage(*response, rotation_age);
  });
}

absl::StatusOr<CheckResult> Client::CheckAt(std::string_view digest, UnknownPolicy unknown,
                                            absl::Time at) {
  return Guarded(impl_->options.address, "CheckAt", [&]() -> absl::StatusOr<CheckResult> {
    if (absl::Status s = impl_->Need(Role::kGate, "check --at"); !s.ok()) return s;
    auto request = impl_->gate.checkAtRequest();
    std::string text(digest);
    request.setDigest(Text(text));
    request.setUnknown(ToSchema(unknown));
    request.setAtMicros(ToMicros(at));
    auto response = impl_->Wait(request.send(), "check --at");
    if (!response.ok()) return response.status();
    if (absl::Status s = ToStatus(response->getStatus()); !s.ok()) return s;
    return ToCheck(response->getResult());
  });
}

absl::StatusOr<std::vector<EvidenceRecord>> Client::Evidence(std::string_view subject) {
  return Guarded(
      impl_->options.address, "Evidence", [&]() -> absl::StatusOr<std::vector<EvidenceRecord>> {
        if (absl::Status s = impl_->Need(Role::kReader, "evidence"); !s.ok()) return s;
        std::vector<EvidenceRecord> records;
        // The record whose last part has not arrived yet, as PartJoiner holds a
        // delta: ask again from its seq, skipping the items already here.
        std::optional<EvidenceRecord> held;
        std::string text(subject);
        for (;;) {
          auto request = impl_->reader.evidenceRequest();
          request.setSubject(Text(text));
          uint64_t after = records.empty() ? 0 : records.back().seq;
          if (held) after = held->seq - 1;
          request.setAfterSeq(after);
          request.setSkipItems(held ? held->artifacts.size() + held->workloads.size() : 0);
          request.setMaxMessageBytes(impl_->options.max_message_bytes);
          auto response = impl_->Wait(request.send(), "evidence");
          if (!response.ok()) return response.status();
          if (absl::Status s = ToStatus(response->getStatus()); !s.ok()) return s;
          for (auto part : response->getRecords()) {
            if (held && held->seq != part.getSeq()) {
              return absl::DataLossError(fmt::format(
                  "evidence: record {} is incomplete: its next part never came (got {})", held->seq,
                  part.getSeq()));
            }
            if (!held) {
              held = ToEvidenceRecord(part);
            } else {
              for (auto a : part.getArtifacts())
                held->artifacts.emplace_back(View(a));
              for (auto w : part.getWorkloads())
                held->workloads.emplace_back(View(w));
            }
            if (!part.getContinued()) {
              records.push_back(*std::move(held));
              held.reset();
            }
          }
          if (!response->getTruncated() && !held) return records;
          if (response->getRecords().size() == 0) {
            return absl::DataLossError(
                "evidence: the daemon sent an empty page that is not the last");
          }
        }
      });
}

// ---- admin

absl::StatusOr<RevocationSettings> Client::UpdateSettings(const SettingsChange& change) {
  return Guarded(impl_->options.address, "UpdateSettings",
                 [&]() -> absl::StatusOr<RevocationSettings> {
                   if (absl::Status s = impl_->Need(Role::kAdmin, "settings change"); !s.ok())
                     return s;
                   auto request = impl_->admin.updateSettingsRequest();
                   request.setSetAdvisoryOnly(change.advisory_only.has_value());
                   request.setAdvisoryOnly(change.advisory_only.value_or(false));
                   request.setSetBulkThreshold(change.bulk_threshold.has_value());
                   request.setBulkThreshold(change.bulk_threshold.value_or(0));
                   request.setActor(Text(change.actor));
                   request.setReason(Text(change.reason));
                   auto response = impl_->Wait(request.send(), "settings change");
                   if (!response.ok()) return response.status();
                   if (absl::Status s = ToStatus(response->getStatus()); !s.ok()) return s;
                   return ToSettings(response->getSettings());
                 });
}

absl::StatusOr<absl::Duration> Client::Backup(std::string_view dir) {
  return Guarded(impl_->options.address, "Backup", [&]() -> absl::StatusOr<absl::Duration> {
    if (absl::Status s = impl_->Need(Role::kAdmin, "backup"); !s.ok()) return s;
    auto request = impl_->admin.backupRequest();
    std::string d(dir);
    request.setDir(Text(d));
    auto response = impl_->Wait(request.send(), "backup");
    if (!response.ok()) return response.status();
    if (absl::Status s = ToStatus(response->getStatus()); !s.ok()) return s;
    return absl::Microseconds(response->getDurationMicros());
  });
}

}  // namespace lineage::rpc
