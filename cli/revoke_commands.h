// The lineage CLI's revocation commands: revoke (dry run, plan, enforce),
// plan show/list, approve, enforce, lift, revocations, check, why, deny-list
// (deltas and export), evidence, audit verify/log and settings.
//
// Like cli/commands.h, each Run* function takes parsed arguments (main.cc
// owns CLI11) and returns the process exit code; data goes to Context::out,
// diagnostics to Context::err, and with Context::json the data is one JSON
// document whose shape docs/cli.md documents.
//
// Writers (revoke, approve, enforce, lift, settings changes) open the
// database read-write and so wait for no one but fail with exit code 4 while
// another process holds it; readers open it read-only and may run beside a
// writer.
//
// Principals: `--as` is who acts. main.cc fills it from $LINEAGE_PRINCIPAL
// when the flag is absent; a command that needs it and has none is a usage
// error (kExitUsage).
#pragma once

#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "cli/commands.h"
#include "engine/include/lineage/revocation.h"

namespace lineage::cli {

// The exit code for a failed engine call, the same for every revocation
// command: InvalidArgument -> kExitUsage, NotFound -> kExitNotFound,
// FailedPrecondition / PermissionDenied / AlreadyExists -> kExitPrecondition,
// anything else -> kExitError. REQUIRES: !status.ok().
int RevocationExitCode(const absl::Status& status);

// Default for `--list`: how many artifacts and workloads a plan review lists.
inline constexpr uint64_t kDefaultListLimit = 20;

struct RevokeArgs {
  std::vector<std::string> digests;   // artifact refs
  std::vector<std::string> keys;      // key refs; "key:" may be omitted
  std::vector<std::string> builders;  // builder refs; "builder:" may be omitted
  std::string roots_from;             // file of refs, one per line; empty: none
  std::string since;                  // RFC 3339; empty: unbounded (keys and builders only)
  std::string until;                  // RFC 3339; empty: unbounded
  std::string reason;                 // required
  bool advisory = false;
  bool dry_run = false;
  std::string as;  // required: the planner, and the enforcer of a non-bulk plan
  uint64_t list = kDefaultListLimit;
};

struct PlanShowArgs {
  std::string id;
  uint64_t list = kDefaultListLimit;
};

struct ApproveArgs {
  std::string id;
  std::string as;  // required
};

struct EnforceArgs {
  std::string id;
  std::string as;  // required
  bool accept_changes = false;
};

struct LiftArgs {
  std::string revocation;
  std::string reason;  // required
  std::string as;      // required
};

struct CheckArgs {
  std::string digest;
  std::string at;                // RFC 3339; empty: now
  std::string unknown = "warn";  // allow | warn | deny
};

struct WhyArgs {
  std::string digest;
  bool dot = false;  // print a Graphviz digraph of the chains instead of text
};

struct DenyListExportArgs {
  std::string format;  // json | opa
  std::string out;     // file written atomically; empty: stdout
};

struct EvidenceArgs {
  std::string subject;  // a revocation id or a plan id
  std::string out_dir;  // writes <out_dir>/<subject>.evidence.json; empty: stdout
};

struct SettingsArgs {
  std::optional<std::string> advisory_only;  // "on" | "off"
  std::optional<uint64_t> bulk_threshold;
  std::string as;      // required with a change
  std::string reason;  // required with a change
};

int RunRevoke(const Context& ctx, const RevokeArgs& args);
int RunPlanShow(const Context& ctx, const PlanShowArgs& args);
int RunPlanList(const Context& ctx);
int RunApprove(const Context& ctx, const ApproveArgs& args);
int RunEnforce(const Context& ctx, const EnforceArgs& args);
int RunLift(const Context& ctx, const LiftArgs& args);
// Active revocations, or all of them with `all`.
int RunRevocations(const Context& ctx, bool all);
// Exit kExitOk for ALLOW, kExitDenied for DENY.
int RunCheck(const Context& ctx, const CheckArgs& args);
int RunWhy(const Context& ctx, const WhyArgs& args);
// Deny-list deltas with seq > after_seq, every page of them.
int RunDenyList(const Context& ctx, uint64_t after_seq);
int RunDenyListExport(const Context& ctx, const DenyListExportArgs& args);
int RunEvidence(const Context& ctx, const EvidenceArgs& args);
// Exit kExitOk when the chain verifies, kExitAuditFailed when it does not.
int RunAuditVerify(const Context& ctx);
// Audit entries with seq >= from_seq, every page of them.
int RunAuditLog(const Context& ctx, uint64_t from_seq);
int RunSettings(const Context& ctx, const SettingsArgs& args);

// ---- Shared with the remote commands (cli/remote_commands.h) ----
//
// The Run* functions above get their data from the store and hand it to
// these; the remote commands hand them RPC answers, so that both modes print
// the same bytes for the same data. Each returns the exit code.

// "lineage <command>: <message>" on err, and RevocationExitCode(status).
int ReportFailure(const Context& ctx, std::string_view command, const absl::Status& status);
// A usage error on err; kExitUsage.
int ReportUsage(const Context& ctx, std::string_view command, std::string_view message);
int ReportMissingPrincipal(const Context& ctx, std::string_view command);

// The canonical digest of an artifact ref; InvalidArgument for anything else.
absl::StatusOr<std::string> ArtifactDigest(std::string_view text);
// "allow", "warn" or "deny"; InvalidArgument otherwise.
absl::StatusOr<UnknownPolicy> ParseUnknown(std::string_view text);
// revoke's flags as a request; every error is a usage error.
absl::StatusOr<PlanRequest> BuildPlanRequest(const RevokeArgs& args);

// Writes `content` to `path` so that a reader (a gate polling the file, an
// auditor's sync job) sees either the old file or the complete new one: a
// temporary file in the same directory, fsync, rename, fsync of the
// directory. Unavailable names the step that failed.
absl::Status WriteFileAtomically(const std::string& path, std::string_view content);
// The deny-list snapshot as a file: "json" {seq, generated_at, digests} or
// "opa", an OPA data document where a map gives Rego an O(1) membership
// test, data.lineage.deny_list.digests[digest]. Ends with a newline.
std::string SnapshotDocument(std::string_view format, const DenyListSnapshot& snapshot,
                             absl::Time now);

// check --at TIME: an RFC 3339 time; InvalidArgument names the flag.
absl::StatusOr<absl::Time> ParseAtFlag(const std::string& text);
// check's answer: warnings, the verdict, the denying and advising revocations
// named by `reason_of` (empty when unknown); kExitOk or kExitDenied.
int ReportCheck(const Context& ctx, CheckResult result, const CheckOptions& options,
                const std::function<std::string(const std::string&)>& reason_of);
// Every page of deltas after after_seq, read through `fetch(after, max)`.
int ReportDenyList(const Context& ctx, uint64_t after_seq,
                   const std::function<absl::StatusOr<DenyListPage>(uint64_t, size_t)>& fetch);
int ReportDenyListExport(const Context& ctx, const DenyListExportArgs& args,
                         const DenyListSnapshot& snapshot);
// revoke after its plan was made: the dry run, the bulk stop, or `enforce`
// of the plan id and its result.
int ReportRevoke(const Context& ctx, const RevokeArgs& args, const Plan& plan,
                 const std::function<absl::StatusOr<EnforceResult>(const std::string&)>& enforce);
int ReportApprove(const Context& ctx, const ApproveArgs& args, const Plan& plan);
// `reviewed_plan` is asked only when the closure changed, for the replan hint.
int ReportEnforce(const Context& ctx, const EnforceArgs& args, const EnforceResult& result,
                  const std::function<absl::StatusOr<Plan>()>& reviewed_plan);
int ReportLift(const Context& ctx, const LiftArgs& args, const LiftResult& result);
// plan show, plan list and why once their data is at hand.
int ReportPlanShow(const Context& ctx, const Plan& plan);
int ReportPlanList(const Context& ctx, const std::vector<Plan>& plans);
int ReportWhy(const Context& ctx, const WhyArgs& args, const WhyResult& why);
// revocations, audit verify, audit log and settings once their data is at
// hand. `revs`: every revocation (or the active ones), oldest first; those
// not shown without `all` are skipped. `entries`: every entry from from_seq.
int ReportRevocations(const Context& ctx, bool all, const std::vector<Revocation>& revs);
// kExitOk when the chain verified, kExitAuditFailed when not.
int ReportAuditVerify(const Context& ctx, const AuditVerification& verification);
int ReportAuditLog(const Context& ctx, uint64_t from_seq, const std::vector<AuditEntry>& entries);
int ReportSettings(const Context& ctx, const RevocationSettings& settings, bool changed);
// The checks of a settings change before anything is opened or asked:
// kExitOk, or the usage error it reported (a bad --advisory-only, no --as,
// no --reason).
int CheckSettingsChange(const Context& ctx, const SettingsArgs& args);

// evidence: its arguments checked before any read (kExitOk, or a usage
// error reported), then the document of the records, on stdout or as
// --out DIR/<subject>.evidence.json (the path, or with --json a summary).
int CheckEvidenceArgs(const Context& ctx, const EvidenceArgs& args);
int ReportEvidence(const Context& ctx, const EvidenceArgs& args,
                   const std::vector<EvidenceRecord>& records);

}  // namespace lineage::cli
