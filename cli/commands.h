// The lineage CLI's commands, as a library: main.cc parses arguments with
// CLI11 and calls one Run* function. Each returns the process exit code.
//
// Output contract: data goes to Context::out, diagnostics (warnings, errors,
// progress) to Context::err. With Context::json the data is one JSON document
// whose shape docs/cli.md documents.
#pragma once

#include <cstdint>
#include <cstdio>
#include <string>
#include <vector>

namespace lineage {
struct TraversalResult;  // engine/include/lineage/store.h
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
int RunTraverse(const Context& ctx, const TraverseArgs& args);
int RunShow(const Context& ctx, const std::string& ref);

// descendants/ancestors output for a traversal already made (shared with
// the remote commands, so that both modes print the same bytes).
int ReportTraversal(const Context& ctx, const TraverseArgs& args, const TraversalResult& result);
int RunStats(const Context& ctx);
// Writes a consistent copy of the database (a RocksDB checkpoint) to `dir`,
// which must not exist. Needs the database lock: not while lineaged runs.
int RunBackup(const Context& ctx, const std::string& dir);

}  // namespace lineage::cli
