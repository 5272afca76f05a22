#include "cli/remote_commands.h"

#include <signal.h>

#include <algorithm>
#include <chrono>
#include <csignal>
#include <cstdio>
#include <limits>
#include <map>
#include <memory>
#include <optional>
#include <set>
#include <thread>
#include <vector>

#include <fmt/format.h>

#include "absl/status/statusor.h"
#include "absl/time/clock.h"
#include "cli/output.h"
#include "cli/workload_commands.h"
#include "engine/include/lineage/ref.h"
#include "engine/include/lineage/revocation.h"
#include "engine/include/lineage/store.h"
#include "rpc/include/lineage/rpc/client.h"

namespace lineage::cli {
namespace {

bool Transport(const absl::Status& status) {
  return status.code() == absl::StatusCode::kUnavailable ||
         status.code() == absl::StatusCode::kDeadlineExceeded;
}

// The remote exit code: the embedded one, except that a daemon out of reach
// has its own code (scripts retry it; they should not retry a DENY), and a
// refused token is an error rather than an engine precondition.
int RemoteExitCode(const absl::Status& status) {
  if (Transport(status)) return kExitUnreachable;
  if (status.code() == absl::StatusCode::kUnauthenticated) return kExitError;
  return RevocationExitCode(status);
}

int RemoteFail(const Context& ctx, std::string_view command, const absl::Status& status) {
  ReportFailure(ctx, command, status);
  return RemoteExitCode(status);
}

rpc::ClientOptions Options(const Context& ctx) {
  rpc::ClientOptions options;
  options.address = ctx.server;
  options.token = ctx.token;
  options.tls_ca = ctx.tls_ca;
  options.tls_cert = ctx.tls_cert;
  options.tls_key = ctx.tls_key;
  options.tls_server_name = ctx.tls_server_name;
  options.max_message_bytes = ctx.max_message_mib << 20;
  return options;
}

absl::StatusOr<std::unique_ptr<rpc::Client>> Connect(const Context& ctx) {
  if (ctx.token.empty()) {
    return absl::InvalidArgumentError(
        "--server needs a token: --token TOKEN or $LINEAGE_TOKEN (lineage admin token create)");
  }
  return rpc::Client::Connect(Options(ctx));
}

// Runs `answer` with a connected client, or reports why there is none.
// A token of the wrong role is refused here, before any call: the engine's
// own PermissionDenied (a bulk plan without approvals) keeps its exit code.
template <typename Answer>
int WithClient(const Context& ctx, std::string_view command, rpc::Role needed, Answer answer) {
  absl::StatusOr<std::unique_ptr<rpc::Client>> client = Connect(ctx);
  if (!client.ok()) {
    if (client.status().code() == absl::StatusCode::kInvalidArgument) {
      return ReportUsage(ctx, command, std::string(client.status().message()));
    }
    return RemoteFail(ctx, command, client.status());
  }
  if ((*client)->role() != needed) {
    fmt::print(ctx.err, "lineage {}: the token's role is {}; {} needs a {} token\n", command,
               rpc::RoleName((*client)->role()), command, rpc::RoleName(needed));
    return kExitError;
  }
  return answer(**client);
}

// Engine statuses travel from the printing code's own Fail; a transport
// status seen on the way decides the exit code afterwards.
struct TransportWatch {
  bool failed = false;
  template <typename T>
  T Seen(T result) {
    if (!result.ok() && Transport(result.status())) failed = true;
    return result;
  }
  int Code(int code) const { return failed ? kExitUnreachable : code; }
};

}  // namespace

int RemoteUnsupported(const Context& ctx, std::string_view command, std::string_view missing) {
  fmt::print(ctx.err,
             "lineage {}: not available with --server yet: {}; run it on the database host with "
             "--db instead (docs/cli.md, \"Remote mode\")\n",
             command, missing);
  return kExitUsage;
}

// ---------------------------------------------------------------- gate

int RunRemoteCheck(const Context& ctx, const CheckArgs& args) {
  constexpr std::string_view kCmd = "check";
  absl::StatusOr<std::string> digest = ArtifactDigest(args.digest);
  if (!digest.ok()) return ReportUsage(ctx, kCmd, std::string(digest.status().message()));
  absl::StatusOr<UnknownPolicy> unknown = ParseUnknown(args.unknown);
  if (!unknown.ok()) return ReportUsage(ctx, kCmd, std::string(unknown.status().message()));
  CheckOptions options;
  options.unknown = *unknown;
  if (!args.at.empty()) {
    absl::StatusOr<absl::Time> at = ParseAtFlag(args.at);
    if (!at.ok()) return ReportUsage(ctx, kCmd, std::string(at.status().message()));
    options.at = *at;
  }
  return WithClient(ctx, kCmd, rpc::Role::kGate, [&](rpc::Client& client) {
    // With --at, the daemon replays its history (Gate.checkAt).
    absl::StatusOr<CheckResult> result = options.at
                                             ? client.CheckAt(*digest, options.unknown, *options.at)
                                             : client.Check(*digest, options.unknown);
    if (!result.ok()) return RemoteFail(ctx, kCmd, result.status());
    // One more call, only when revocations cover the digest, for their
    // reasons; a failed lookup degrades to bare ids, as embedded.
    std::map<std::string, std::string> reasons;
    std::vector<std::string> ids = result->denied_by;
    ids.insert(ids.end(), result->advisories.begin(), result->advisories.end());
    if (!ids.empty()) {
      absl::StatusOr<std::vector<Revocation>> revs = client.Revocations(ids);
      if (revs.ok()) {
        for (const Revocation& rev : *revs)
          reasons[rev.id] = rev.reason;
      }
    }
    return ReportCheck(ctx, *std::move(result), options, [&](const std::string& id) {
      auto it = reasons.find(id);
      return it == reasons.end() ? std::string() : it->second;
    });
  });
}

int RunRemoteDenyList(const Context& ctx, uint64_t after_seq) {
  constexpr std::string_view kCmd = "deny-list";
  return WithClient(ctx, kCmd, rpc::Role::kGate, [&](rpc::Client& client) {
    TransportWatch watch;
    int code = ReportDenyList(ctx, after_seq, [&](uint64_t after, size_t max) {
      return watch.Seen(
          client.DenyListSince(after, static_cast<uint32_t>(std::min<size_t>(max, UINT32_MAX))));
    });
    return watch.Code(code);
  });
}

int RunRemoteDenyListExport(const Context& ctx, const DenyListExportArgs& args) {
  constexpr std::string_view kCmd = "deny-list export";
  if (args.format != "json" && args.format != "opa") {
    return ReportUsage(ctx, kCmd, fmt::format("--format {}: expected json or opa", args.format));
  }
  return WithClient(ctx, kCmd, rpc::Role::kGate, [&](rpc::Client& client) {
    absl::StatusOr<DenyListSnapshot> snapshot = client.Snapshot();
    if (!snapshot.ok()) return RemoteFail(ctx, kCmd, snapshot.status());
    return ReportDenyListExport(ctx, args, *snapshot);
  });
}

// ------------------------------------------------------------ traversal

namespace {
int PrintRemoteTraversal(const Context& ctx, const TraverseArgs& args, const std::string& root,
                         const TraversalResult* result);
}  // namespace

int RunRemoteTraverse(const Context& ctx, const TraverseArgs& args) {
  const char* direction = args.ancestors ? "ancestors" : "descendants";
  // Traversal errors print as embedded ones do: "lineage: <message>".
  auto fail = [&](const absl::Status& status) {
    fmt::print(ctx.err, "lineage: {}\n", std::string(status.message()));
    return RemoteExitCode(status);
  };
  absl::StatusOr<Ref> ref = ParseRef(args.ref);
  if (!ref.ok()) return fail(ref.status());
  absl::StatusOr<EdgeKindMask> kinds = ParseKindsFlag(args.kinds);
  if (!kinds.ok()) return fail(kinds.status());
  return WithClient(ctx, direction, rpc::Role::kReader, [&](rpc::Client& client) {
    absl::StatusOr<TraversalResult> result =
        args.ancestors ? client.Ancestors(ref->text, args.max_depth, args.limit, *kinds)
                       : client.Descendants(ref->text, args.max_depth, args.limit, *kinds);
    if (!result.ok()) return fail(result.status());
    return PrintRemoteTraversal(ctx, args, ref->text, &*result);
  });
}

namespace {

int PrintRemoteTraversal(const Context& ctx, const TraverseArgs& args, const std::string& root,
                         const TraversalResult* result) {
  const char* direction = args.ancestors ? "ancestors" : "descendants";

  // Mirrors RunTraverse's --count of descendants, which embedded counts
  // without listing.
  if (args.count_only && !args.ancestors) {
    if (ctx.json) {
      JsonWriter w;
      w.BeginObject();
      w.Member("root", root);
      w.Member("direction", direction);
      w.MemberUint("count", result->nodes.size());
      w.EndObject();
      fmt::print(ctx.out, "{}\n", w.Take());
    } else {
      fmt::print(ctx.out, "{}\n", result->nodes.size());
    }
    return kExitOk;
  }
  return ReportTraversal(ctx, args, *result);
}

}  // namespace

// ----------------------------------------------------------- revocation

int RunRemoteRevoke(const Context& ctx, const RevokeArgs& args) {
  constexpr std::string_view kCmd = "revoke";
  if (args.as.empty()) return ReportMissingPrincipal(ctx, kCmd);
  absl::StatusOr<PlanRequest> request = BuildPlanRequest(args);
  if (!request.ok()) return ReportUsage(ctx, kCmd, std::string(request.status().message()));
  return WithClient(ctx, kCmd, rpc::Role::kResponder, [&](rpc::Client& client) {
    uint32_t listed = static_cast<uint32_t>(std::min<uint64_t>(args.list, UINT32_MAX));
    absl::StatusOr<Plan> plan = client.MakePlan(*request, listed);
    if (!plan.ok()) return RemoteFail(ctx, kCmd, plan.status());
    TransportWatch watch;
    int code = ReportRevoke(ctx, args, *plan, [&](const std::string& plan_id) {
      absl::StatusOr<EnforceResult> result = watch.Seen(client.Enforce(plan_id, {args.as}));
      if (result.ok()) result->revocation.mode = request->mode;
      return result;
    });
    return watch.Code(code);
  });
}

int RunRemoteApprove(const Context& ctx, const ApproveArgs& args) {
  constexpr std::string_view kCmd = "approve";
  if (args.as.empty()) return ReportMissingPrincipal(ctx, kCmd);
  return WithClient(ctx, kCmd, rpc::Role::kApprover, [&](rpc::Client& client) {
    absl::StatusOr<Plan> plan = client.Approve(args.id, args.as);
    if (!plan.ok()) return RemoteFail(ctx, kCmd, plan.status());
    return ReportApprove(ctx, args, *plan);
  });
}

int RunRemoteEnforce(const Context& ctx, const EnforceArgs& args) {
  constexpr std::string_view kCmd = "enforce";
  if (args.as.empty()) return ReportMissingPrincipal(ctx, kCmd);
  return WithClient(ctx, kCmd, rpc::Role::kResponder, [&](rpc::Client& client) {
    absl::StatusOr<EnforceResult> result =
        client.Enforce(args.id, EnforceOptions{args.as, args.accept_changes});
    if (!result.ok()) return RemoteFail(ctx, kCmd, result.status());
    // The replan hint of a changed closure prints the plan's roots and
    // reason: read back with the responder's own Responder.getPlan.
    TransportWatch watch;
    int code = ReportEnforce(ctx, args, *result,
                             [&] { return watch.Seen(client.GetPlan(args.id, /*max_listed=*/0)); });
    return watch.Code(code);
  });
}

int RunRemoteLift(const Context& ctx, const LiftArgs& args) {
  constexpr std::string_view kCmd = "lift";
  if (args.as.empty()) return ReportMissingPrincipal(ctx, kCmd);
  if (args.reason.empty()) return ReportUsage(ctx, kCmd, "--reason TEXT is required");
  return WithClient(ctx, kCmd, rpc::Role::kResponder, [&](rpc::Client& client) {
    absl::StatusOr<LiftResult> result = client.Lift(args.revocation, args.as, args.reason);
    if (!result.ok()) return RemoteFail(ctx, kCmd, result.status());
    return ReportLift(ctx, args, *result);
  });
}

// ------------------------------------------- why, show, plans, stats

int RunRemoteWhy(const Context& ctx, const WhyArgs& args) {
  constexpr std::string_view kCmd = "why";
  if (args.dot && ctx.json) return ReportUsage(ctx, kCmd, "--json and --dot exclude each other");
  absl::StatusOr<std::string> digest = ArtifactDigest(args.digest);
  if (!digest.ok()) return ReportUsage(ctx, kCmd, std::string(digest.status().message()));
  return WithClient(ctx, kCmd, rpc::Role::kGate, [&](rpc::Client& client) {
    absl::StatusOr<WhyResult> why = client.Why(*digest);
    if (!why.ok()) return RemoteFail(ctx, kCmd, why.status());
    return ReportWhy(ctx, args, *why);
  });
}

int RunRemoteShow(const Context& ctx, const std::string& ref_text) {
  // show's errors print as embedded ones do: "lineage: <message>".
  auto fail = [&](const absl::Status& status) {
    fmt::print(ctx.err, "lineage: {}\n", std::string(status.message()));
    return RemoteExitCode(status);
  };
  absl::StatusOr<Ref> ref = ParseRef(ref_text);
  if (!ref.ok()) return fail(ref.status());
  return WithClient(ctx, "show", rpc::Role::kReader, [&](rpc::Client& client) {
    absl::StatusOr<NodeInfo> node = client.Show(ref->text);
    if (!node.ok()) return fail(node.status());
    return ReportShow(ctx, *node);
  });
}

int RunRemoteStats(const Context& ctx) {
  auto fail = [&](const absl::Status& status) {
    fmt::print(ctx.err, "lineage: {}\n", std::string(status.message()));
    return RemoteExitCode(status);
  };
  return WithClient(ctx, "stats", rpc::Role::kReader, [&](rpc::Client& client) {
    absl::StatusOr<StoreStats> stats = client.Stats();
    if (!stats.ok()) return fail(stats.status());
    return ReportStats(ctx, *stats, "server        " + ctx.server);
  });
}

int RunRemotePlanShow(const Context& ctx, const PlanShowArgs& args) {
  constexpr std::string_view kCmd = "plan show";
  return WithClient(ctx, kCmd, rpc::Role::kReader, [&](rpc::Client& client) {
    uint32_t listed = static_cast<uint32_t>(std::min<uint64_t>(args.list, UINT32_MAX));
    absl::StatusOr<Plan> plan = client.GetPlan(args.id, listed);
    if (!plan.ok()) return RemoteFail(ctx, kCmd, plan.status());
    return ReportPlanShow(ctx, *plan);
  });
}

int RunRemotePlanList(const Context& ctx) {
  constexpr std::string_view kCmd = "plan list";
  return WithClient(ctx, kCmd, rpc::Role::kReader, [&](rpc::Client& client) {
    absl::StatusOr<std::vector<Plan>> plans = client.ListPlans();
    if (!plans.ok()) return RemoteFail(ctx, kCmd, plans.status());
    return ReportPlanList(ctx, *plans);
  });
}

// ------------------------------------ revocations, audit and settings

int RunRemoteRevocations(const Context& ctx, bool all) {
  constexpr std::string_view kCmd = "revocations";
  return WithClient(ctx, kCmd, rpc::Role::kReader, [&](rpc::Client& client) {
    absl::StatusOr<std::vector<Revocation>> revs = client.ListRevocations(all);
    if (!revs.ok()) return RemoteFail(ctx, kCmd, revs.status());
    return ReportRevocations(ctx, all, *revs);
  });
}

int RunRemoteAuditVerify(const Context& ctx) {
  constexpr std::string_view kCmd = "audit verify";
  return WithClient(ctx, kCmd, rpc::Role::kReader, [&](rpc::Client& client) {
    absl::StatusOr<AuditVerification> verification = client.VerifyAudit();
    if (!verification.ok()) return RemoteFail(ctx, kCmd, verification.status());
    return ReportAuditVerify(ctx, *verification);
  });
}

int RunRemoteAuditLog(const Context& ctx, uint64_t from_seq) {
  constexpr std::string_view kCmd = "audit log";
  return WithClient(ctx, kCmd, rpc::Role::kReader, [&](rpc::Client& client) {
    absl::StatusOr<std::vector<AuditEntry>> entries = client.AuditLog(from_seq);
    if (!entries.ok()) return RemoteFail(ctx, kCmd, entries.status());
    return ReportAuditLog(ctx, from_seq, *entries);
  });
}

int RunRemoteSettings(const Context& ctx, const SettingsArgs& args) {
  constexpr std::string_view kCmd = "settings";
  bool change = args.advisory_only.has_value() || args.bulk_threshold.has_value();
  if (!change) {
    return WithClient(ctx, kCmd, rpc::Role::kReader, [&](rpc::Client& client) {
      absl::StatusOr<RevocationSettings> settings = client.GetSettings();
      if (!settings.ok()) return RemoteFail(ctx, kCmd, settings.status());
      return ReportSettings(ctx, *settings, /*changed=*/false);
    });
  }
  if (int code = CheckSettingsChange(ctx, args); code != kExitOk) return code;
  // A change turns blocking off (or on) for every gate: an admin's call.
  return WithClient(ctx, kCmd, rpc::Role::kAdmin, [&](rpc::Client& client) {
    rpc::Client::SettingsChange request;
    if (args.advisory_only) request.advisory_only = *args.advisory_only == "on";
    request.bulk_threshold = args.bulk_threshold;
    request.actor = args.as;
    request.reason = args.reason;
    absl::StatusOr<RevocationSettings> settings = client.UpdateSettings(request);
    if (!settings.ok()) return RemoteFail(ctx, kCmd, settings.status());
    return ReportSettings(ctx, *settings, /*changed=*/true);
  });
}

// --------------------------------------------------------------- ingest

int RunRemoteIngest(const Context& ctx, const IngestArgs& args) {
  if (args.paths.empty()) {
    fmt::print(ctx.err, "lineage ingest: give at least one PATH (a file, a directory or -)\n");
    return kExitUsage;
  }
  if (!args.policy_path.empty() || args.allow_unsigned) {
    return RemoteUnsupported(
        ctx, args.allow_unsigned ? "ingest --allow-unsigned" : "ingest --policy",
        "the daemon verifies against its own trust policy (lineaged --policy)");
  }
  return WithClient(ctx, "ingest", rpc::Role::kIngest, [&](rpc::Client& client) {
    TransportWatch watch;
    int code =
        ReportIngest(ctx, args,
                     [&](const std::string& name,
                         std::string content) -> absl::StatusOr<std::vector<IngestItemReport>> {
                       absl::StatusOr<std::vector<rpc::Client::IngestItem>> items =
                           watch.Seen(client.Ingest(name, content));
                       if (!items.ok()) return items.status();
                       std::vector<IngestItemReport> reports;
                       for (rpc::Client::IngestItem& item : *items) {
                         IngestItemReport r;
                         r.source = std::move(item.source);
                         r.verdict = !item.accepted   ? IngestItemReport::Verdict::kRejected
                                     : item.duplicate ? IngestItemReport::Verdict::kDuplicate
                                                      : IngestItemReport::Verdict::kAccepted;
                         r.attestation = std::move(item.attestation);
                         r.error = std::move(item.reason);
                         r.warnings = std::move(item.warnings);
                         r.new_nodes = item.new_nodes;
                         r.new_edges = item.new_edges;
                         reports.push_back(std::move(r));
                       }
                       return reports;
                     });
    return watch.Code(code);
  });
}

// ---------------------------------------------------- workloads ingest

int RunRemoteWorkloadsIngest(const Context& ctx, const WorkloadsIngestArgs& args) {
  constexpr std::string_view kCmd = "workloads ingest";
  if (args.paths.empty()) {
    fmt::print(ctx.err, "lineage {}: give at least one FILE (or - for stdin)\n", kCmd);
    return kExitUsage;
  }
  // Argument errors print as embedded ones do: "lineage workloads ingest: <message>".
  absl::StatusOr<ingest::InventoryFormat> format = ParseInventoryFormatFlag(args.format);
  if (!format.ok()) {
    fmt::print(ctx.err, "lineage {}: {}\n", kCmd, std::string(format.status().message()));
    return kExitUsage;
  }
  ingest::InventoryOptions options;
  options.cluster = args.cluster;
  options.format = *format;
  return WithClient(ctx, kCmd, rpc::Role::kIngest, [&](rpc::Client& client) {
    TransportWatch watch;
    int code =
        ReportWorkloadsIngest(ctx, args, [&](const std::string& source, std::string content) {
          return watch.Seen(client.IngestInventory(source, content, options));
        });
    return watch.Code(code);
  });
}

// ------------------------------------------------ workloads list, keys

namespace {
// A failure as the embedded workload commands print it, with the remote
// exit code for a daemon out of reach.
int WorkloadsFail(const Context& ctx, std::string_view command, const absl::Status& status) {
  int code = ReportWorkloadsFailure(ctx, command, status);
  return Transport(status) ? kExitUnreachable : code;
}
}  // namespace

int RunRemoteWorkloadsList(const Context& ctx, const WorkloadsListArgs& args) {
  constexpr std::string_view kCmd = "workloads list";
  return WithClient(ctx, kCmd, rpc::Role::kReader, [&](rpc::Client& client) {
    absl::StatusOr<std::vector<ClusterInventory>> clusters = client.Workloads(args.cluster);
    if (!clusters.ok()) return WorkloadsFail(ctx, kCmd, clusters.status());
    return ReportWorkloadsList(ctx, *clusters);
  });
}

int RunRemoteKeys(const Context& ctx, const KeysArgs& args) {
  constexpr std::string_view kCmd = "keys";
  absl::StatusOr<absl::Duration> age = ParseStaleFlag(args.stale);
  if (!age.ok()) return WorkloadsFail(ctx, kCmd, age.status());
  return WithClient(ctx, kCmd, rpc::Role::kReader, [&](rpc::Client& client) {
    absl::StatusOr<KeyUsageReport> report = client.KeyUsage(*age);
    if (!report.ok()) return WorkloadsFail(ctx, kCmd, report.status());
    return ReportKeys(ctx, *report);
  });
}

// --------------------------------------------------------------- backup

int RunRemoteEvidence(const Context& ctx, const EvidenceArgs& args) {
  constexpr std::string_view kCmd = "evidence";
  if (int code = CheckEvidenceArgs(ctx, args); code != kExitOk) return code;
  return WithClient(ctx, kCmd, rpc::Role::kReader, [&](rpc::Client& client) {
    absl::StatusOr<std::vector<EvidenceRecord>> records = client.Evidence(args.subject);
    if (!records.ok()) return RemoteFail(ctx, kCmd, records.status());
    return ReportEvidence(ctx, args, *records);
  });
}

int RunRemoteBackup(const Context& ctx, const std::string& dir) {
  constexpr std::string_view kCmd = "backup";
  return WithClient(ctx, kCmd, rpc::Role::kAdmin, [&](rpc::Client& client) -> int {
    absl::StatusOr<absl::Duration> took = client.Backup(dir);
    if (!took.ok()) {
      // As embedded backup reports it: "lineage: <message>", exit 4 for
      // anything but an unreachable daemon.
      fmt::print(ctx.err, "lineage: {}\n", std::string(took.status().message()));
      return Transport(took.status()) ? kExitUnreachable : kExitError;
    }
    double ms = absl::ToDoubleMilliseconds(*took);
    if (ctx.json) {
      JsonWriter w;
      w.BeginObject();
      w.Member("backup", dir);
      w.Key("duration_ms");
      w.Uint(static_cast<uint64_t>(ms));
      w.EndObject();
      fmt::print(ctx.out, "{}\n", w.Take());
    } else {
      fmt::print(ctx.out,
                 "backup     {} written by {} in {:.0f} ms (on the daemon's machine, as "
                 "--backup-dir/{}; open it with --db there)\n",
                 dir, ctx.server, ms, dir);
    }
    return kExitOk;
  });
}

// ----------------------------------------------------------- gate watch

namespace {

volatile std::sig_atomic_t g_stop_signal = 0;

void OnStopSignal(int signal) {
  g_stop_signal = signal;
}

// SIGTERM and SIGINT end the watch at the next tick; the previous handlers
// come back when it returns.
class StopSignals {
 public:
  StopSignals() {
    g_stop_signal = 0;
    struct sigaction action = {};
    action.sa_handler = OnStopSignal;
    sigemptyset(&action.sa_mask);
    sigaction(SIGTERM, &action, &old_term_);
    sigaction(SIGINT, &action, &old_int_);
  }
  ~StopSignals() {
    sigaction(SIGTERM, &old_term_, nullptr);
    sigaction(SIGINT, &old_int_, nullptr);
  }
  bool stopped() const { return g_stop_signal != 0; }

 private:
  struct sigaction old_term_ = {};
  struct sigaction old_int_ = {};
};

// The deny list the file holds, and the sequence it is the state after.
struct WatchedList {
  uint64_t seq = 0;
  std::set<std::string> digests;

  DenyListSnapshot Snapshot() const {
    return DenyListSnapshot{seq, std::vector<std::string>(digests.begin(), digests.end())};
  }
};

class GateWatch {
 public:
  GateWatch(const Context& ctx, const GateWatchArgs& args) : ctx_(ctx), args_(args) {
    absl::Duration max_offline = absl::Seconds(args.max_offline_seconds);
    max_offline_ = max_offline;
    // A call may take a third of the offline budget, a heartbeat a quarter:
    // a silent daemon is then noticed well before the budget is spent.
    timeout_ = std::clamp(max_offline / 3, absl::Milliseconds(500), absl::Seconds(10));
    heartbeat_ = std::clamp(max_offline / 4, absl::Milliseconds(500), absl::Seconds(5));
    max_backoff_ = std::clamp(max_offline / 4, absl::Milliseconds(200), absl::Seconds(5));
  }

  int Run() {
    absl::Time offline_since = absl::Now();
    absl::Duration backoff = absl::Milliseconds(100);
    for (;;) {
      if (signals_.stopped()) return Stopped();
      if (absl::Now() - offline_since > max_offline_) {
        Log("without the daemon for {:.1f} s (--max-offline {} s): giving up; {} still holds "
            "seq {}",
            absl::ToDoubleSeconds(absl::Now() - offline_since), args_.max_offline_seconds,
            args_.out, list_.seq);
        return kExitUnreachable;
      }

      rpc::ClientOptions options = Options(ctx_);
      options.timeout = timeout_;
      absl::StatusOr<std::unique_ptr<rpc::Client>> client = rpc::Client::Connect(options);
      absl::Status status = client.ok() ? Session(**client, &offline_since) : client.status();
      client = absl::UnavailableError("closed");  // the connection goes before the next one

      if (signals_.stopped()) return Stopped();
      if (failed_) return *failed_;
      if (reached_) {
        // The daemon was there: a new outage starts with a short backoff.
        backoff = absl::Milliseconds(100);
        reached_ = false;
      }
      if (!Transport(status) && status.code() != absl::StatusCode::kAborted && !status.ok()) {
        // A refused token or a missing role does not heal by retrying.
        Log("{}", std::string(status.message()));
        return kExitError;
      }
      if (status.code() == absl::StatusCode::kAborted || status.ok()) {
        // A resync request (or a gap): the daemon is there, so re-snapshot
        // at once.
        Log("{}: taking a new snapshot", std::string(status.message()));
        continue;
      }
      Log("{}; retrying in {}", std::string(status.message()), absl::FormatDuration(backoff));
      Sleep(backoff);
      backoff = std::min(backoff * 2, max_backoff_);
    }
  }

 private:
  // One connection: snapshot, file, subscribe until it ends. Returns why it
  // ended (OK for a gap, Aborted for a resync request).
  absl::Status Session(rpc::Client& client, absl::Time* offline_since) {
    absl::StatusOr<DenyListSnapshot> snapshot = client.Snapshot();
    if (!snapshot.ok()) return snapshot.status();
    list_.seq = snapshot->seq;
    list_.digests = std::set<std::string>(snapshot->digests.begin(), snapshot->digests.end());
    if (!Write()) return absl::OkStatus();
    Log("snapshot at seq {}: {} written to {}", list_.seq, Digests(list_.digests.size()),
        args_.out);
    *offline_since = absl::InfiniteFuture();
    reached_ = true;

    bool gap = false;
    rpc::SubscribeCallbacks callbacks;
    callbacks.should_stop = [this] { return signals_.stopped(); };
    callbacks.on_deltas = [&](const std::vector<DenyDelta>& deltas) {
      for (const DenyDelta& delta : deltas) {
        if (delta.seq <= list_.seq) continue;  // already in the snapshot
        if (delta.seq != list_.seq + 1) {
          Log("deltas jump from seq {} to {}", list_.seq, delta.seq);
          gap = true;
          return false;
        }
        for (const std::string& d : delta.added)
          list_.digests.insert(d);
        for (const std::string& d : delta.removed)
          list_.digests.erase(d);
        list_.seq = delta.seq;
      }
      if (!Write()) return false;
      Log("seq {}: {} written ({} +{} -{})", list_.seq, Digests(list_.digests.size()),
          deltas.empty() ? std::string() : deltas.back().cause, CountAdded(deltas),
          CountRemoved(deltas));
      return true;
    };
    absl::Status ended = client.Subscribe(list_.seq, callbacks, heartbeat_);
    // Offline from now on, unless the next connection succeeds.
    *offline_since = absl::Now();
    if (gap) return absl::AbortedError("a gap in the pushed deltas");
    return ended;
  }

  static std::string Digests(size_t n) { return fmt::format("{} digest{}", n, n == 1 ? "" : "s"); }

  static uint64_t CountAdded(const std::vector<DenyDelta>& deltas) {
    uint64_t n = 0;
    for (const DenyDelta& d : deltas)
      n += d.added.size();
    return n;
  }
  static uint64_t CountRemoved(const std::vector<DenyDelta>& deltas) {
    uint64_t n = 0;
    for (const DenyDelta& d : deltas)
      n += d.removed.size();
    return n;
  }

  // Rewrites the whole file: a file-based gate reads one complete document.
  // The cost stays bounded however fast revocations come: this runs inside
  // the push callback, the daemon sends its next push only after the
  // callback returns, and that push carries every delta pending by then. A
  // rewrite that takes seconds (millions of digests) makes the next batch
  // larger; writes never queue up behind each other.
  bool Write() {
    absl::Status written = WriteFileAtomically(
        args_.out, SnapshotDocument(args_.format, list_.Snapshot(), absl::Now()));
    if (written.ok()) return true;
    Log("{}", std::string(written.message()));
    failed_ = kExitError;
    return false;
  }

  int Stopped() {
    Log("stopped by signal {}; {} holds seq {}", static_cast<int>(g_stop_signal), args_.out,
        list_.seq);
    return kExitOk;
  }

  // Sleeps `d`, waking early for a stop signal.
  void Sleep(absl::Duration d) {
    absl::Time until = absl::Now() + d;
    while (absl::Now() < until && !signals_.stopped())
      std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }

  template <typename... Args>
  void Log(fmt::format_string<Args...> format, Args&&... args) {
    fmt::print(ctx_.err, "lineage gate watch: {}\n",
               fmt::format(format, std::forward<Args>(args)...));
    std::fflush(ctx_.err);
  }

  const Context& ctx_;
  const GateWatchArgs& args_;
  StopSignals signals_;
  absl::Duration max_offline_;
  absl::Duration timeout_;
  absl::Duration heartbeat_;
  absl::Duration max_backoff_;
  WatchedList list_;
  std::optional<int> failed_;
  bool reached_ = false;  // the last session got as far as a snapshot
};

}  // namespace

int RunGateWatch(const Context& ctx, const GateWatchArgs& args) {
  constexpr std::string_view kCmd = "gate watch";
  if (ctx.server.empty()) return ReportUsage(ctx, kCmd, "--server HOST:PORT is required");
  if (ctx.token.empty()) {
    return ReportUsage(ctx, kCmd, "a gate token is required: --token TOKEN or $LINEAGE_TOKEN");
  }
  if (args.out.empty()) return ReportUsage(ctx, kCmd, "--out FILE is required");
  if (args.format != "json" && args.format != "opa") {
    return ReportUsage(ctx, kCmd, fmt::format("--format {}: expected json or opa", args.format));
  }
  if (args.max_offline_seconds <= 0) {
    return ReportUsage(ctx, kCmd, "--max-offline SECONDS must be positive");
  }
  GateWatch watch(ctx, args);
  return watch.Run();
}

}  // namespace lineage::cli
