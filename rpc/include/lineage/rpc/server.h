// The lineaged RPC service (schemas/lineage.capnp, docs/rpc.md): a bootstrap
// capability that trades a token for the capability of its role, and the
// role capabilities over one Store.
//
// Threads: the server runs on the thread of a kj event loop. Gate calls
// (check, deny list) answer on that thread from the store's in-memory taint
// and never wait for a writer. Everything that writes (ingest, plan,
// approve, enforce, lift) runs on one writer thread the server owns, so a
// long enforcement never delays a check; its result returns to the event
// loop through a cross-thread promise. Ingested documents are parsed and
// verified first on `verify_threads` verifier threads, split across them,
// and handed to the writer call by call in the order the calls arrived, each
// call's records in document order. Reads that touch RocksDB (why, show,
// plans, evidence) run on a query thread. Backups (online checkpoints) run
// on a thread of their own, one at a time, so writes never wait for one.
//
// Deny-list push: the store's listener wakes the event loop after each
// durable change; every subscriber is then sent the deltas it has not seen,
// in order, one call at a time, each cut to the message limit (a large
// delta travels as parts). The page is read and the call's message built on
// a reader thread; the event loop only sends it. A subscriber more than
// `lag_limit` sequences behind, or whose push fails on a live connection,
// is told to resync and dropped; one that disconnected is dropped.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <string>

#include <capnp/capability.h>

#include "absl/status/statusor.h"
#include "engine/include/lineage/log.h"
#include "engine/include/lineage/store.h"
#include "ingest/include/lineage/ingest/trust_policy.h"
#include "rpc/include/lineage/rpc/metrics.h"

namespace lineage::rpc {

struct ServerOptions {
  // The credentials file (CredentialStore). Required.
  std::string credentials_path;
  // The trust policy that Ingest verifies against. Null: every attestation
  // is rejected.
  std::shared_ptr<const ingest::TrustPolicy> policy;
  // How many sequences a subscriber may fall behind before it is told to
  // resync. Default: 10,000.
  uint64_t lag_limit = 10000;
  // Threads that parse and verify ingested documents (signature checks
  // are pure given the trust policy) before the writer thread stores them.
  // Default: 2, one per core of the target machine. At least 1.
  int verify_threads = 2;
  // The largest message sent or accepted on a connection (lineaged
  // --max-message-mib). Deny-list pushes, pages and snapshot pages are cut
  // to half of it (or of the caller's own limit, if smaller).
  uint64_t max_message_bytes = 64ull << 20;
  // Where Admin.backup writes: each backup is a new directory ROOT/NAME.
  // Empty: backups over RPC are refused.
  std::string backup_root;
  // Default (nullptr): discard.
  std::shared_ptr<Logger> logger;
  // Test seam: called on the backup thread with the backup's directory just
  // before each checkpoint, so that a test can hold a backup open and watch
  // writes go on. Default (empty): nothing.
  std::function<void(const std::string& dir)> before_backup;
};

class Server {
 public:
  // REQUIRES: called on the thread that runs the kj event loop, which must
  // outlive the server; `store` outlives the server. Fails if the
  // credentials file is malformed.
  static absl::StatusOr<std::unique_ptr<Server>> Create(Store* store, ServerOptions options);
  virtual ~Server() = default;

  // A new reference to the bootstrap capability (schema::Lineage).
  virtual capnp::Capability::Client Bootstrap() = 0;
  // Re-reads the credentials file (SIGHUP); on error the old ones stay.
  // Every live login whose credential the new file revokes, drops or gives
  // another token loses its capabilities at once (their calls fail with
  // "unauthenticated: ..."), not only at its next login. REQUIRES: called on
  // the event loop thread.
  virtual absl::Status ReloadCredentials() = 0;
  // Replaces the trust policy (SIGHUP).
  virtual void SetPolicy(std::shared_ptr<const ingest::TrustPolicy> policy) = 0;
  // Tells every subscriber to resync (the server is going away) and waits
  // for the writer thread to finish its queue.
  virtual void Shutdown() = 0;
  // REQUIRES: called on the event loop thread.
  virtual uint64_t subscriber_count() const = 0;
  // Counters the RPC calls update; rendered by the HTTP endpoint.
  virtual Metrics* metrics() = 0;
};

}  // namespace lineage::rpc
