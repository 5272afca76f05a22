// The lineage CLI's commands, as a library: main.cc parses arguments with
// CLI11 and calls one Run* function. Each returns the process exit code.
//
// Output contract: data goes to Context::out, diagnostics (warnings, errors,
// progress) to Context::err. With Context::json the data is one JSON document
// whose shape docs/cli.md documents.
#pragma once

#include <cstdint>
#include <cstdio>
#include <functional>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "engine/include/lineage/types.h"

namespace lineage {
struct TraversalResult;  // engine/include/lineage/store.h
struct NodeInfo;
struct StoreStats;
}  // namespace lineage

namespace lineage::cli {

// Exit codes, documented in docs/cli.md. Scripts may rely on them.
enum ExitCode : int {
  kExitOk = 0,
  kExitRejected = 1,  // ingest: at least one input was rejected
  kExitUsage = 2,     // bad arguments, including a ref that does not parse
  kExitNotFound = 3,  // the ref (or database) does not exist
  kExitError = 4,     // the database could not be opened, read or written
  kExitDenied = 5,    // check: the digest is denied
  // A state that forbids the action: a bulk plan still needs approvals, the
  // closure changed since review, already approved / enforced / lifted.
  kExitPrecondition = 6,
  kExitAuditFailed = 7,  // audit verify: the chain or its evidence was tampered with
  // --server: the daemon could not be reached, or did not answer in time;
  // gate watch: offline for longer than --max-offline.
  kExitUnreachable = 8,
};

struct Context {
  std::string db_path;
  // --server HOST:PORT: talk to lineaged instead of opening db_path
  // (cli/remote_commands.h); `token` is the credential it logs in with.
  std::string server;
  std::string token;
  // TLS for --server (rpc::ClientOptions): the daemon's CA, and a client
  // certificate and key for a daemon that requires them. Empty tls_ca:
  // plaintext, which the client allows only to loopback.
  std::string tls_ca;
  std::string tls_cert;
  std::string tls_key;
  // The name the daemon's certificate must carry; empty: --server's host.
  std::string tls_server_name;
  // The largest RPC message --server accepts, in MiB (a deny-list delta of
  // a million digests is about 80 MiB). Default: 64, Cap'n Proto's own.
  uint64_t max_message_mib = 64;
  bool json = false;
  std::FILE* out = stdout;
  std::FILE* err = stderr;
  // Draw a progress line on `err` during long work (set when err is a
  // terminal).
  bool progress = false;
};

struct IngestArgs {
  std::vector<std::string> paths;  // files, directories (recursive), or "-" for stdin
  std::string policy_path;         // trust policy file; required unless allow_unsigned
  bool allow_unsigned = false;
  bool quiet = false;  // print only rejections and the summary
};

struct TraverseArgs {
  std::string ref;
  bool ancestors = false;
  int max_depth = -1;              // -1: unlimited
  std::vector<std::string> kinds;  // edge kind names; empty: all
  uint64_t limit = 0;              // 0: unlimited
  bool count_only = false;
};

int RunIngest(const Context& ctx, const IngestArgs& args);

// One attestation's outcome as `lineage ingest` prints it.
struct IngestItemReport {
  enum class Verdict { kAccepted, kDuplicate, kRejected };
  std::string source;
  Verdict verdict = Verdict::kRejected;
  std::string attestation;  // id, when accepted or duplicate
  std::string error;        // when rejected
  std::vector<std::string> warnings;
  uint64_t new_nodes = 0;
  uint64_t new_edges = 0;
};
// Verifies and stores one document read from `name` (a path, or
// "<stdin>"): its items, or a status when the store itself failed.
using IngestFileFn = std::function<absl::StatusOr<std::vector<IngestItemReport>>(
    const std::string& name, std::string content)>;
// ingest once its arguments are checked: expands the paths, reads each file
// in order, hands it to `ingest_file` (the local store, or lineaged), prints
// the verdicts and the summary. Shared with `--server`.
int ReportIngest(const Context& ctx, const IngestArgs& args, const IngestFileFn& ingest_file);
int RunTraverse(const Context& ctx, const TraverseArgs& args);
int RunShow(const Context& ctx, const std::string& ref);

// descendants/ancestors output for a traversal already made (shared with
// the remote commands, so that both modes print the same bytes).
int ReportTraversal(const Context& ctx, const TraverseArgs& args, const TraversalResult& result);
// --kinds NAME,...: the edge kinds to follow; every kind when empty.
// InvalidArgument names an unknown kind.
absl::StatusOr<EdgeKindMask> ParseKindsFlag(const std::vector<std::string>& names);
// show's output for a node already read (shared with the remote commands).
int ReportShow(const Context& ctx, const NodeInfo& node);
int RunStats(const Context& ctx);
// stats' output; `where` is its first line ("database      DIR", or the
// server for the remote command).
int ReportStats(const Context& ctx, const StoreStats& stats, const std::string& where);
// Writes a consistent copy of the database (a RocksDB checkpoint) to `dir`,
// which must not exist. Needs the database lock: not while lineaged runs.
int RunBackup(const Context& ctx, const std::string& dir);

struct RestoreArgs {
  std::string backup;  // a checkpoint directory (lineage backup DIR)
  std::string target;  // the new database path: must not exist, or be an empty directory
  // The audit chain head the backup must end at (lineage audit verify
  // prints it); empty: any head whose chain verifies.
  std::string expect_head;
};

// Copies a backup into a new database at args.target: first into a
// temporary sibling directory, which is opened (read-write, so RocksDB
// replays and checks everything) and whose audit chain must verify; only
// then is it renamed into place, so a failed restore leaves no half
// database behind. Never overwrites: a non-empty target is a usage error.
// Exit codes: kExitOk, kExitUsage (bad target), kExitNotFound (no backup),
// kExitError (copy or open failed), kExitAuditFailed (the chain does not
// verify; nothing is put in place).
int RunRestore(const Context& ctx, const RestoreArgs& args);

}  // namespace lineage::cli
