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
//   - Unauthenticated: the token is unknown or revoked (also for a login
//     whose credential was revoked while its connection was open).
//   - ResourceExhausted: an answer was larger than this client's receive
//     limit (ClientOptions::max_message_bytes); the connection may be broken.
//   - PermissionDenied with "role": the token's role does not grant the call
//     (checked locally: a login hands out only its role's capability).
//   - anything else: the engine's own outcome, as the daemon reported it.
// No method throws: kj exceptions become these statuses.
//
// Transport: TLS when ClientOptions::tls_ca is set (the daemon's certificate
// must chain to it and name tls_server_name, default the host), optionally
// with a client certificate; plaintext TCP otherwise, which Connect allows
// only to a loopback address (lineaged refuses plaintext elsewhere too).
//
// Threads: a Client owns a kj event loop and must be created, used and
// destroyed on one thread, which may hold no other kj event loop meanwhile.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "engine/include/lineage/revocation.h"
#include "engine/include/lineage/store.h"
#include "ingest/include/lineage/ingest/inventory.h"
#include "rpc/include/lineage/rpc/credentials.h"

namespace lineage::rpc {

struct ClientOptions {
  // HOST:PORT of the daemon, e.g. "127.0.0.1:7744".
  std::string address;
  // The bearer token (lineage admin token create). Never logged.
  std::string token;
  // Bound on connect + login and on every call. Default: 10 s.
  absl::Duration timeout = absl::Seconds(10);
  // PEM file of the CA(s) the daemon's certificate must chain to. Set: speak
  // TLS (the system trust store is not used). Empty: plaintext, loopback only.
  std::string tls_ca;
  // PEM client certificate chain and its private key, for a daemon that
  // requires client certificates (lineaged --tls-client-ca). Both or neither;
  // only with tls_ca.
  std::string tls_cert;
  std::string tls_key;
  // The name the daemon's certificate must carry. Default (empty): the host
  // of `address`.
  std::string tls_server_name;
  // The largest message this client accepts (Cap'n Proto's receive limit).
  // A deny-list delta is one message of about 80 bytes per digest: raise it,
  // together with lineaged --max-message-mib, when closures reach about
  // 800,000 digests. Default: 64 MiB, Cap'n Proto's own.
  uint64_t max_message_bytes = 64ull << 20;
};

// Plans, revocations, why and show results carry every field of the engine's
// structs (rpc/src/convert.h maps them), so a caller prints them as it would
// the embedded store's.

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
  // statuses. InvalidArgument for an address that is not HOST:PORT, for
  // plaintext to a host that is not loopback, and for half a client
  // certificate; Unavailable for a TLS file that cannot be read or a failed
  // handshake (an untrusted certificate, a client certificate required).
  static absl::StatusOr<std::unique_ptr<Client>> Connect(const ClientOptions& options);
  ~Client();

  // The role of the token this client logged in with.
  Role role() const;

  // ---- gate role
  absl::StatusOr<CheckResult> Check(std::string_view digest, UnknownPolicy unknown);
  // Deltas with seq > after_seq, at most max_deltas (0: the server's default,
  // 1,000; the server caps it at 10,000).
  // A delta too large for one message is fetched part by part and returned
  // whole.
  absl::StatusOr<DenyListPage> DenyListSince(uint64_t after_seq, uint32_t max_deltas);
  // The whole deny list, fetched in pages of at most half the smaller
  // receive limit. Pages are read at their own sequence: `seq` is the
  // smallest, and applying the deltas after it (as gate watch does) brings
  // the list to the head.
  absl::StatusOr<DenyListSnapshot> Snapshot();
  // Subscribes from after_seq and runs this client's event loop, calling
  // callbacks.on_deltas for every pushed batch, until a callback ends it
  // (OK), the daemon asks for a resync (Aborted, with the daemon's reason:
  // take a snapshot and subscribe again from its seq), or the connection
  // breaks (Unavailable). Every `heartbeat` without a push the daemon is
  // probed with a cheap call, so that a silent daemon counts as lost
  // (DeadlineExceeded) within heartbeat + timeout; a probe that finds the
  // daemon's head past the last delta received, twice in a row with nothing
  // received in between, ends it too (Aborted: the push stopped; take a
  // snapshot). Deltas sent in parts reach on_deltas whole.
  absl::Status Subscribe(uint64_t after_seq, const SubscribeCallbacks& callbacks,
                         absl::Duration heartbeat = absl::Seconds(5));

  // Store::Why over the RPC.
  absl::StatusOr<WhyResult> Why(std::string_view digest);
  // The named revocations, in order (at most 1,000 ids; NotFound for an
  // unknown one).
  absl::StatusOr<std::vector<Revocation>> Revocations(const std::vector<std::string>& ids);
  // Store::Check with CheckOptions::at: the verdict as of `at`, replayed by
  // the daemon from its revocation history.
  absl::StatusOr<CheckResult> CheckAt(std::string_view digest, UnknownPolicy unknown,
                                      absl::Time at);

  // ---- ingest role
  // One attestation's verdict from Ingest.ingest.
  struct IngestItem {
    std::string source;
    bool accepted = false;
    bool duplicate = false;
    std::string reason;       // when rejected
    std::string attestation;  // id, when accepted or a duplicate
    std::vector<std::string> warnings;
    uint64_t new_nodes = 0;
    uint64_t new_edges = 0;
  };
  // Verify (against the daemon's trust policy) and store one document; one
  // item per attestation found, in order.
  absl::StatusOr<std::vector<IngestItem>> Ingest(std::string_view name, std::string_view content);
  // Store one inventory document (parsed by the daemon, as
  // ingest::StoreInventory): a report, or the daemon's store failure.
  absl::StatusOr<ingest::InventoryReport> IngestInventory(std::string_view name,
                                                          std::string_view content,
                                                          const ingest::InventoryOptions& options);

  // ---- reader role
  // max_depth -1: unlimited; limit 0: unlimited; `kinds`: the edge kinds
  // followed (default: every kind).
  absl::StatusOr<TraversalResult> Descendants(std::string_view ref, int max_depth, uint64_t limit,
                                              EdgeKindMask kinds = EdgeKindMask::All());
  absl::StatusOr<TraversalResult> Ancestors(std::string_view ref, int max_depth, uint64_t limit,
                                            EdgeKindMask kinds = EdgeKindMask::All());
  absl::StatusOr<NodeInfo> Show(std::string_view ref);
  absl::StatusOr<StoreStats> Stats();
  // max_listed bounds the artifact and workload listings. Also with a
  // responder token (Responder.getPlan, the same answer).
  absl::StatusOr<Plan> GetPlan(std::string_view plan_id, uint32_t max_listed);
  // Newest first, nothing listed.
  absl::StatusOr<std::vector<Plan>> ListPlans();
  // Store::Workloads: the current inventory of `cluster`, or of every
  // cluster when empty (NotFound when `cluster` has none). Fetched in pages
  // of at most half the smaller receive limit and joined; if a cluster's
  // inventory is replaced between two pages the listing starts again (at
  // most 3 times, then Aborted). Each cluster is one inventory, whole;
  // different clusters may be read moments apart.
  absl::StatusOr<std::vector<ClusterInventory>> Workloads(std::string_view cluster);
  // Store::KeyUsage with `rotation_age`. One message: ResourceExhausted
  // when the daemon's report is larger than half the smaller receive limit.
  absl::StatusOr<KeyUsageReport> KeyUsage(absl::Duration rotation_age);

  // Revocations oldest first: the active ones, or with `all` lifted ones too.
  // Fetched in pages of at most half the smaller receive limit.
  absl::StatusOr<std::vector<Revocation>> ListRevocations(bool all);
  // Store::VerifyAudit, run by the daemon. Problems beyond what one message
  // holds arrive as one last problem that counts them.
  absl::StatusOr<AuditVerification> VerifyAudit();
  // Every audit entry with seq >= from_seq, fetched page by page: at most
  // page_entries each (0: the daemon's 256) and at most half the smaller
  // receive limit.
  absl::StatusOr<std::vector<AuditEntry>> AuditLog(uint64_t from_seq, uint32_t page_entries = 0);
  absl::StatusOr<RevocationSettings> GetSettings();
  // Store::Evidence over the RPC: every record of a revocation or plan id,
  // oldest first, each whole with every artifact and workload. Fetched in
  // answers of at most half the smaller receive limit (a record of millions
  // of artifacts comes in parts, joined here). NotFound for an unknown id.
  absl::StatusOr<std::vector<EvidenceRecord>> Evidence(std::string_view subject);

  // ---- responder role
  absl::StatusOr<Plan> MakePlan(const PlanRequest& request, uint32_t max_listed);
  // The result lists every affected workload, as Store::Enforce does: what
  // does not fit the enforce answer is fetched (Responder.enforcedWorkloads)
  // in answers of at most half the smaller receive limit.
  absl::StatusOr<EnforceResult> Enforce(std::string_view plan_id, const EnforceOptions& options);
  absl::StatusOr<LiftResult> Lift(std::string_view revocation, std::string_view actor,
                                  std::string_view reason);

  // ---- approver role
  absl::StatusOr<Plan> Approve(std::string_view plan_id, std::string_view principal);

  // ---- admin role
  // An online checkpoint into `dir` on the daemon's machine (Store::
  // Checkpoint); returns how long it took there.
  absl::StatusOr<absl::Duration> Backup(std::string_view dir);

  // A settings change (Admin.updateSettings): the fields given change, the
  // others stay. `actor` must be empty or the credential's own name
  // (PermissionDenied otherwise); InvalidArgument for an empty reason or no
  // field. Returns the settings now in force.
  struct SettingsChange {
    std::optional<bool> advisory_only;
    std::optional<uint64_t> bulk_threshold;
    std::string actor;
    std::string reason;
  };
  absl::StatusOr<RevocationSettings> UpdateSettings(const SettingsChange& change);

 private:
  struct Impl;
  explicit Client(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

// True when plaintext to `host` stays on the machine: an IPv4 address in
// 127.0.0.0/8, ::1 (or a v4-mapped 127.x), with or without brackets, or
// "localhost" when every address it resolves to is one of those. Any other
// name is false, whatever its text ("127.example" is a DNS name).
bool IsLoopbackHost(std::string_view host);

// Splits "HOST:PORT" (IPv6 as "[::1]:PORT"). InvalidArgument otherwise.
absl::Status SplitHostPort(std::string_view address, std::string* host, unsigned* port);

}  // namespace lineage::rpc
