// A synchronous client of the lineaged RPC service (schemas/lineage.capnp,
// docs/rpc.md "Clients"): connects over TCP, logs in with a token, and
// offers typed calls that return the engine's own structs, so that callers
// (the `lineage --server` commands, gates) never see generated capnp names.
//
//   ClientOptions options{"127.0.0.1:7744", token};
//   absl::StatusOr<std::unique_ptr<Client>> client = Client::Connect(options);
//   if (!client.ok()) return client.status();  // Unavailable, DeadlineExceeded, Unauthenticated
//   absl::StatusOr<CheckResult> verdict = (*client)->Check("sha256:...", UnknownPolicy::kWarn);
//
// Statuses at this boundary:
//   - Unavailable: the daemon cannot be reached, or the connection broke.
//   - DeadlineExceeded: a call (or the connect/login) took longer than
//     ClientOptions::timeout; the connection should be considered broken.
//   - Unauthenticated: the token is unknown or revoked.
//   - PermissionDenied with "role": the token's role does not grant the call
//     (checked locally: a login hands out only its role's capability).
//   - anything else: the engine's own outcome, as the daemon reported it.
//
// Limitation: plaintext TCP only. lineaged serves plaintext on loopback and
// TLS elsewhere; this client cannot speak TLS yet, so it reaches loopback
// daemons only.
//
// Threads: a Client owns a kj event loop and must be created, used and
// destroyed on one thread, which may hold no other kj event loop meanwhile.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "engine/include/lineage/revocation.h"
#include "engine/include/lineage/store.h"
#include "rpc/include/lineage/rpc/credentials.h"

namespace lineage::rpc {

struct ClientOptions {
  // HOST:PORT of the daemon, e.g. "127.0.0.1:7744".
  std::string address;
  // The bearer token (lineage admin token create). Never logged.
  std::string token;
  // Bound on connect + login and on every call. Default: 10 s.
  absl::Duration timeout = absl::Seconds(10);
};

// The plan as the RPC reports it. The RPC's PlanSummary carries the id,
// counts, bulk flag, approving principals, state, revocation and listings;
// the fields it does not carry (per-root summaries, counts by depth,
// approval times, created_at) stay empty, InfinitePast for times.
//
// Limitation: the RPC has no "get plan" call yet, so a plan's roots, reason,
// mode and creator are known only to the client that made it (Client::Plan
// fills them from its request).

// What a subscription reports; see Client::Subscribe.
struct SubscribeCallbacks {
  // Deltas in sequence order, each exactly once per subscription. Returns
  // false to end the subscription (Subscribe then returns OK).
  std::function<bool(const std::vector<DenyDelta>&)> on_deltas;
  // Polled between events (at least every 100 ms); true ends the
  // subscription and Subscribe returns OK. May be empty.
  std::function<bool()> should_stop;
};

class Client {
 public:
  // Connects to options.address and logs in. See the file comment for the
  // statuses. InvalidArgument for an address that is not HOST:PORT.
  static absl::StatusOr<std::unique_ptr<Client>> Connect(const ClientOptions& options);
  ~Client();

  // The role of the token this client logged in with.
  Role role() const;

  // ---- gate role
  absl::StatusOr<CheckResult> Check(std::string_view digest, UnknownPolicy unknown);
  // Deltas with seq > after_seq, at most max_deltas (0: the server's default,
  // 1,000; the server caps it at 10,000).
  absl::StatusOr<DenyListPage> DenyListSince(uint64_t after_seq, uint32_t max_deltas);
  absl::StatusOr<DenyListSnapshot> Snapshot();
  // Subscribes from after_seq and runs this client's event loop, calling
  // callbacks.on_deltas for every pushed batch, until a callback ends it
  // (OK), the daemon asks for a resync (Aborted, with the daemon's reason:
  // take a snapshot and subscribe again from its seq), or the connection
  // breaks (Unavailable). Every `heartbeat` without a push the daemon is
  // probed with a cheap call, so that a silent daemon counts as lost
  // (DeadlineExceeded) within heartbeat + timeout.
  absl::Status Subscribe(uint64_t after_seq, const SubscribeCallbacks& callbacks,
                         absl::Duration heartbeat = absl::Seconds(5));

  // ---- reader role
  // max_depth -1: unlimited; limit 0: unlimited. Every edge kind is followed.
  absl::StatusOr<TraversalResult> Descendants(std::string_view ref, int max_depth, uint64_t limit);
  absl::StatusOr<TraversalResult> Ancestors(std::string_view ref, int max_depth, uint64_t limit);

  // ---- responder role
  // The plan (see above); roots, reason, mode and created_by come from
  // `request`.
  absl::StatusOr<Plan> MakePlan(const PlanRequest& request, uint32_t max_listed);
  // EnforceResult with enforced, change counts (no samples), revocation.id,
  // revocation.plan_id, newly_denied, deny_seq, workloads and duration.
  absl::StatusOr<EnforceResult> Enforce(std::string_view plan_id, const EnforceOptions& options);
  // LiftResult with revocation.id, released, still_covered and deny_seq.
  absl::StatusOr<LiftResult> Lift(std::string_view revocation, std::string_view actor,
                                  std::string_view reason);

  // ---- approver role
  absl::StatusOr<Plan> Approve(std::string_view plan_id, std::string_view principal);

 private:
  struct Impl;
  explicit Client(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

// Splits "HOST:PORT" (IPv6 as "[::1]:PORT"). InvalidArgument otherwise.
absl::Status SplitHostPort(std::string_view address, std::string* host, unsigned* port);

}  // namespace lineage::rpc
