// The lineage CLI against a running lineaged (`--server HOST:PORT`), through
// the RPC client of rpc/include/lineage/rpc/client.h, and `gate watch`, which
// keeps a deny-list file in step with the daemon's pushes.
//
// Output contract: the same as the embedded commands (they share the
// printing in cli/revoke_commands.h and cli/commands.h), so the same data
// prints the same bytes. Where the RPC does not carry a field yet, the
// output leaves it out or empty; docs/cli.md lists those places.
//
// Credentials: Context::token (--token, or $LINEAGE_TOKEN); every command
// needs the token of the role that grants its call (check, check --at, why and
// deny-list: gate; ingest and workloads ingest: ingest; descendants, ancestors (with --kinds
// too), show, stats, plan show/list, revocations, audit verify/log, settings (reading),
// workloads list, keys and evidence: reader; revoke, enforce, lift: responder; approve: approver;
// backup and settings changes: admin).
// Transport: TLS with Context::tls_ca (and a client certificate with tls_cert/tls_key), else
// plaintext to a loopback daemon only.
//
// Exit codes: those of the embedded commands, plus kExitUnreachable (8) when
// the daemon cannot be reached or does not answer within the call timeout.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

#include "cli/commands.h"
#include "cli/revoke_commands.h"
#include "cli/workload_commands.h"

namespace lineage::cli {

int RunRemoteCheck(const Context& ctx, const CheckArgs& args);
int RunRemoteDenyList(const Context& ctx, uint64_t after_seq);
int RunRemoteDenyListExport(const Context& ctx, const DenyListExportArgs& args);
int RunRemoteTraverse(const Context& ctx, const TraverseArgs& args);
// Plan, then enforce unless bulk or --dry-run, as embedded revoke does.
int RunRemoteRevoke(const Context& ctx, const RevokeArgs& args);
int RunRemoteApprove(const Context& ctx, const ApproveArgs& args);
int RunRemoteEnforce(const Context& ctx, const EnforceArgs& args);
int RunRemoteLift(const Context& ctx, const LiftArgs& args);
// Each file is verified by the daemon against its own trust policy and
// stored there (ingest token); --policy and --allow-unsigned are refused.
int RunRemoteIngest(const Context& ctx, const IngestArgs& args);
int RunRemoteWhy(const Context& ctx, const WhyArgs& args);
int RunRemoteShow(const Context& ctx, const std::string& ref);
// The same as embedded stats, except the first line, which names the server.
int RunRemoteStats(const Context& ctx);
int RunRemotePlanShow(const Context& ctx, const PlanShowArgs& args);
int RunRemotePlanList(const Context& ctx);
// The evidence document of a revocation or plan, byte for byte the embedded
// one (reader token); records of millions of items arrive in parts.
int RunRemoteEvidence(const Context& ctx, const EvidenceArgs& args);
// Each file is parsed and stored by the daemon (ingest token).
int RunRemoteWorkloadsIngest(const Context& ctx, const WorkloadsIngestArgs& args);
// The current inventories, fetched in pages the client joins (reader token).
int RunRemoteWorkloadsList(const Context& ctx, const WorkloadsListArgs& args);
// The daemon's key-usage report for --stale (reader token).
int RunRemoteKeys(const Context& ctx, const KeysArgs& args);
// An online checkpoint written by the daemon into `dir` on its machine
// (admin token).
int RunRemoteBackup(const Context& ctx, const std::string& dir);
// revocations [--all], audit verify, audit log [--from] (reader token) and
// settings: reading with a reader token, a change with an admin token (a
// global advisory-only switch turns off every block), recorded under the
// credential's name (--as must be that name).
int RunRemoteRevocations(const Context& ctx, bool all);
int RunRemoteAuditVerify(const Context& ctx);
int RunRemoteAuditLog(const Context& ctx, uint64_t from_seq);
int RunRemoteSettings(const Context& ctx, const SettingsArgs& args);

// A command (or flag) the RPC does not offer yet: says so and what is
// missing, and returns kExitUsage. Nothing is faked over the network.
int RemoteUnsupported(const Context& ctx, std::string_view command, std::string_view missing);

struct GateWatchArgs {
  std::string out;                   // required: the deny-list file
  std::string format = "json";       // json | opa, as `deny-list export`
  int64_t max_offline_seconds = 60;  // give up after this long without the daemon
};

// Snapshot -> file, then subscribe from the snapshot's seq and rewrite the
// file (atomically) after every pushed batch. On a resync request, a gap or
// a lost connection: reconnect with bounded backoff and re-snapshot.
// Returns kExitOk after SIGTERM/SIGINT (once the last write is done),
// kExitUnreachable after more than max_offline_seconds without the daemon,
// kExitError when the file cannot be written or the token is refused,
// kExitUsage for bad arguments. Progress goes to Context::err.
//
// While offline the file keeps the last deny list it had: a gate reading it
// stays as strict as it was, and the non-zero exit tells its supervisor.
int RunGateWatch(const Context& ctx, const GateWatchArgs& args);

}  // namespace lineage::cli
