// The `lineage` command: parses arguments and hands them to cli/commands.h.
// All logic lives in the lineage_cli library so tests can reach it.
#include <unistd.h>

#include <cstdint>
#include <cstdlib>
#include <optional>
#include <string>

#include <CLI/CLI.hpp>

#include "cli/admin_commands.h"
#include "cli/commands.h"
#include "cli/remote_commands.h"
#include "cli/revoke_commands.h"
#include "cli/workload_commands.h"

namespace {

std::string DefaultDb() {
  const char* env = std::getenv("LINEAGE_DB");
  return env != nullptr && *env != '\0' ? env : "./var/lineage";
}

// The revocation commands (cli/revoke_commands.h): their arguments and the
// CLI11 subcommands that fill them. Kept together so that main() only adds
// and dispatches them.
struct RevocationCli {
  lineage::cli::RevokeArgs revoke;
  lineage::cli::PlanShowArgs plan_show;
  lineage::cli::ApproveArgs approve;
  lineage::cli::EnforceArgs enforce;
  lineage::cli::LiftArgs lift;
  bool revocations_all = false;
  lineage::cli::CheckArgs check;
  lineage::cli::WhyArgs why;
  uint64_t deny_list_since = 0;
  lineage::cli::DenyListExportArgs deny_list_export;
  lineage::cli::EvidenceArgs evidence;
  uint64_t audit_from = 1;
  lineage::cli::SettingsArgs settings;
  std::string settings_advisory_only;
  uint64_t settings_bulk_threshold = 0;

  CLI::App* revoke_cmd = nullptr;
  CLI::App* plan_show_cmd = nullptr;
  CLI::App* plan_list_cmd = nullptr;
  CLI::App* approve_cmd = nullptr;
  CLI::App* enforce_cmd = nullptr;
  CLI::App* lift_cmd = nullptr;
  CLI::App* revocations_cmd = nullptr;
  CLI::App* check_cmd = nullptr;
  CLI::App* why_cmd = nullptr;
  CLI::App* deny_list_cmd = nullptr;
  CLI::App* deny_list_export_cmd = nullptr;
  CLI::App* evidence_cmd = nullptr;
  CLI::App* audit_verify_cmd = nullptr;
  CLI::App* audit_log_cmd = nullptr;
  CLI::App* settings_cmd = nullptr;
  CLI::Option* advisory_only_opt = nullptr;
  CLI::Option* bulk_threshold_opt = nullptr;

  void Add(CLI::App& app, lineage::cli::Context& ctx);
  // The exit code of the parsed revocation command, or nullopt if none of
  // them was given.
  std::optional<int> Run(const lineage::cli::Context& ctx);
  // settings' arguments with the options given on the command line set.
  lineage::cli::SettingsArgs SettingsGiven() const;
};

// `--as`, falling back to $LINEAGE_PRINCIPAL; the commands report it missing.
void AddPrincipal(CLI::App* cmd, std::string& as) {
  cmd->add_option("--as", as, "Who acts: a principal name (default: $LINEAGE_PRINCIPAL)")
      ->envname("LINEAGE_PRINCIPAL");
}

void AddJson(CLI::App* cmd, lineage::cli::Context& ctx) {
  cmd->add_flag("--json", ctx.json, "Print one JSON document (shapes in docs/cli.md)");
}

void RevocationCli::Add(CLI::App& app, lineage::cli::Context& ctx) {
  revoke_cmd = app.add_subcommand(
      "revoke",
      "Plan a revocation of digests, keys or builders and everything derived from them; "
      "enforce it at once unless it is bulk or --dry-run");
  revoke_cmd->add_option("--digest", revoke.digests, "Revoke this artifact digest (repeatable)");
  revoke_cmd->add_option("--key", revoke.keys,
                         "Revoke what this key signed: key:sha256:<fingerprint>, key:<keyid> or "
                         "a bare keyid (repeatable)");
  revoke_cmd->add_option("--builder", revoke.builders,
                         "Revoke what this builder built: builder:<id> or a bare builder.id "
                         "(repeatable)");
  revoke_cmd->add_option("--roots-from", revoke.roots_from,
                         "Also read refs from FILE, one per line ('#' comments, blank lines ok)");
  revoke_cmd->add_option("--since", revoke.since,
                         "Key/builder roots: only subjects signed/built at or after this RFC 3339 "
                         "time, e.g. 2026-01-02T03:04:05Z");
  revoke_cmd->add_option("--until", revoke.until,
                         "Key/builder roots: only subjects signed/built before this RFC 3339 time");
  revoke_cmd
      ->add_option("--reason", revoke.reason,
                   "Why (shown to every blocked developer), e.g. an incident id")
      ->required();
  revoke_cmd->add_flag("--advisory", revoke.advisory,
                       "Report the closure in check and why, but deny nothing");
  revoke_cmd->add_flag("--dry-run", revoke.dry_run,
                       "Only make and print the plan (closure, workloads, counts); deny nothing");
  AddPrincipal(revoke_cmd, revoke.as);
  revoke_cmd->add_option("--list", revoke.list,
                         "List at most N artifacts and N workloads of the plan (default: 20)");
  AddJson(revoke_cmd, ctx);

  CLI::App* plan_cmd = app.add_subcommand("plan", "Show or list revocation plans");
  plan_cmd->require_subcommand(1);
  plan_show_cmd = plan_cmd->add_subcommand("show", "A plan's review: roots, closure, approvals");
  plan_show_cmd->add_option("id", plan_show.id, "The plan id")->required();
  plan_show_cmd->add_option("--list", plan_show.list,
                            "List at most N artifacts and N workloads (default: 20)");
  AddJson(plan_show_cmd, ctx);
  plan_list_cmd = plan_cmd->add_subcommand("list", "Every plan, newest first");
  AddJson(plan_list_cmd, ctx);

  approve_cmd = app.add_subcommand("approve", "Approve a plan (bulk plans need two approvers)");
  approve_cmd->add_option("id", approve.id, "The plan id")->required();
  AddPrincipal(approve_cmd, approve.as);
  AddJson(approve_cmd, ctx);

  enforce_cmd = app.add_subcommand(
      "enforce", "Enforce a reviewed plan: deny its closure and publish the deny-list delta");
  enforce_cmd->add_option("id", enforce.id, "The plan id")->required();
  AddPrincipal(enforce_cmd, enforce.as);
  enforce_cmd->add_flag("--accept-changes", enforce.accept_changes,
                        "Enforce even though the closure changed since review (recorded)");
  AddJson(enforce_cmd, ctx);

  lift_cmd = app.add_subcommand(
      "lift", "End a revocation; releases what no other active revocation covers");
  lift_cmd->add_option("revocation", lift.revocation, "The revocation id, e.g. rev-3")->required();
  lift_cmd->add_option("--reason", lift.reason, "Why it is lifted")->required();
  AddPrincipal(lift_cmd, lift.as);
  AddJson(lift_cmd, ctx);

  revocations_cmd = app.add_subcommand("revocations", "List active revocations, one per line");
  revocations_cmd->add_flag("--all", revocations_all, "Include lifted revocations");
  AddJson(revocations_cmd, ctx);

  check_cmd = app.add_subcommand(
      "check", "The gate check: ALLOW (exit 0) or DENY (exit 5) for an artifact digest");
  check_cmd->add_option("digest", check.digest, "An artifact digest, e.g. sha256:<64 hex>")
      ->required();
  check_cmd->add_option("--at", check.at, "Answer as of this RFC 3339 time (default: now)");
  check_cmd
      ->add_option("--unknown", check.unknown,
                   "A digest not in the graph: allow, warn (allow with a warning) or deny "
                   "(default: warn)")
      ->check(CLI::IsMember({"allow", "warn", "deny"}));
  AddJson(check_cmd, ctx);

  why_cmd = app.add_subcommand(
      "why", "Why a digest is denied (revocation, root, chain of attestations) or its provenance");
  why_cmd->add_option("digest", why.digest, "An artifact digest")->required();
  why_cmd->add_flag("--dot", why.dot, "Print the chains as a Graphviz digraph");
  AddJson(why_cmd, ctx);

  deny_list_cmd = app.add_subcommand(
      "deny-list", "Deny-list deltas (+digest / -digest) after a sequence number; or export");
  deny_list_cmd->require_subcommand(0, 1);
  deny_list_cmd->add_option("--since", deny_list_since,
                            "Print deltas with a sequence number above SEQ (default: 0, all)");
  AddJson(deny_list_cmd, ctx);
  deny_list_export_cmd = deny_list_cmd->add_subcommand(
      "export", "A complete deny-list snapshot with its sequence, for gates and OPA");
  deny_list_export_cmd
      ->add_option("--format", deny_list_export.format,
                   "json: {seq, generated_at, digests}; opa: an OPA data document")
      ->required()
      ->check(CLI::IsMember({"json", "opa"}));
  deny_list_export_cmd->add_option("--out", deny_list_export.out,
                                   "Write FILE atomically instead of printing (default: stdout)");
  AddJson(deny_list_export_cmd, ctx);

  evidence_cmd = app.add_subcommand(
      "evidence", "Evidence records (who, what, when, closure, timings) of a revocation or plan");
  evidence_cmd->add_option("subject", evidence.subject, "A revocation id or a plan id")->required();
  evidence_cmd->add_option("--out", evidence.out_dir,
                           "Write DIR/<id>.evidence.json atomically and print its path");
  AddJson(evidence_cmd, ctx);

  CLI::App* audit_cmd = app.add_subcommand("audit", "The SHA-256 chained audit log");
  audit_cmd->require_subcommand(1);
  audit_verify_cmd = audit_cmd->add_subcommand(
      "verify", "Re-hash the chain and its evidence: exit 0 ok, 7 tampered");
  AddJson(audit_verify_cmd, ctx);
  audit_log_cmd = audit_cmd->add_subcommand("log", "Audit entries in order");
  audit_log_cmd->add_option("--from", audit_from, "Start at this sequence number (default: 1)");
  AddJson(audit_log_cmd, ctx);

  settings_cmd = app.add_subcommand(
      "settings", "Show or change revocation settings (a change needs --as and --reason)");
  advisory_only_opt =
      settings_cmd
          ->add_option("--advisory-only", settings_advisory_only,
                       "on: the rollback switch, every revocation only advises and the deny "
                       "list empties; off: enforce again")
          ->check(CLI::IsMember({"on", "off"}));
  bulk_threshold_opt = settings_cmd->add_option(
      "--bulk-threshold", settings_bulk_threshold,
      "Plans with more artifacts than N need two approvals (default: 100)");
  AddPrincipal(settings_cmd, settings.as);
  settings_cmd->add_option("--reason", settings.reason, "Why the settings change");
  AddJson(settings_cmd, ctx);
}

std::optional<int> RevocationCli::Run(const lineage::cli::Context& ctx) {
  using namespace lineage::cli;
  if (revoke_cmd->parsed()) return RunRevoke(ctx, revoke);
  if (plan_show_cmd->parsed()) return RunPlanShow(ctx, plan_show);
  if (plan_list_cmd->parsed()) return RunPlanList(ctx);
  if (approve_cmd->parsed()) return RunApprove(ctx, approve);
  if (enforce_cmd->parsed()) return RunEnforce(ctx, enforce);
  if (lift_cmd->parsed()) return RunLift(ctx, lift);
  if (revocations_cmd->parsed()) return RunRevocations(ctx, revocations_all);
  if (check_cmd->parsed()) return RunCheck(ctx, check);
  if (why_cmd->parsed()) return RunWhy(ctx, why);
  if (deny_list_export_cmd->parsed()) return RunDenyListExport(ctx, deny_list_export);
  if (deny_list_cmd->parsed()) return RunDenyList(ctx, deny_list_since);
  if (evidence_cmd->parsed()) return RunEvidence(ctx, evidence);
  if (audit_verify_cmd->parsed()) return RunAuditVerify(ctx);
  if (audit_log_cmd->parsed()) return RunAuditLog(ctx, audit_from);
  if (settings_cmd->parsed()) return RunSettings(ctx, SettingsGiven());
  return std::nullopt;
}

lineage::cli::SettingsArgs RevocationCli::SettingsGiven() const {
  lineage::cli::SettingsArgs args = settings;
  if (advisory_only_opt->count() > 0) args.advisory_only = settings_advisory_only;
  if (bulk_threshold_opt->count() > 0) args.bulk_threshold = settings_bulk_threshold;
  return args;
}

// --server and --token, `admin token` and `gate watch` (cli/remote_commands.h,
// cli/admin_commands.h), and the remote form of the commands the RPC covers.
struct RemoteCli {
  lineage::cli::TokenArgs token;
  lineage::cli::GateWatchArgs watch;
  CLI::App* token_create_cmd = nullptr;
  CLI::App* token_list_cmd = nullptr;
  CLI::App* token_revoke_cmd = nullptr;
  CLI::App* gate_watch_cmd = nullptr;

  void Add(CLI::App& app, lineage::cli::Context& ctx);
  // admin token and gate watch, or nullopt if neither was given.
  std::optional<int> Run(const lineage::cli::Context& ctx);
  // With --server: the remote form of the parsed command, or a usage error
  // naming what the RPC lacks.
  int RunRemote(const CLI::App& app, const lineage::cli::Context& ctx, const RevocationCli& rev,
                lineage::cli::TraverseArgs& traverse, const CLI::App* descendants_cmd,
                const CLI::App* ancestors_cmd);

  // The commands outside RevocationCli that have a remote form; main()
  // fills them in.
  struct Local {
    const CLI::App* show_cmd = nullptr;
    const std::string* show_ref = nullptr;
    const CLI::App* stats_cmd = nullptr;
    const CLI::App* backup_cmd = nullptr;
    const std::string* backup_dir = nullptr;
    const CLI::App* workloads_ingest_cmd = nullptr;
    const lineage::cli::WorkloadsIngestArgs* workloads_ingest = nullptr;
    const CLI::App* ingest_cmd = nullptr;
    const lineage::cli::IngestArgs* ingest = nullptr;
    const CLI::App* workloads_list_cmd = nullptr;
    const lineage::cli::WorkloadsListArgs* workloads_list = nullptr;
    const CLI::App* keys_cmd = nullptr;
    const lineage::cli::KeysArgs* keys = nullptr;
  } local;
};

void RemoteCli::Add(CLI::App& app, lineage::cli::Context& ctx) {
  app.add_option("--server", ctx.server,
                 "Ask a running lineaged at HOST:PORT instead of opening --db "
                 "(default: $LINEAGE_SERVER)")
      ->envname("LINEAGE_SERVER");
  app.add_option("--token", ctx.token, "Token for --server (default: $LINEAGE_TOKEN)")
      ->envname("LINEAGE_TOKEN");
  app.add_option("--tls-ca", ctx.tls_ca,
                 "PEM CA of lineaged's certificate: speak TLS to --server (default: "
                 "$LINEAGE_TLS_CA; without it only a loopback --server is reached)")
      ->envname("LINEAGE_TLS_CA");
  app.add_option("--tls-cert", ctx.tls_cert,
                 "PEM client certificate for a daemon that requires one (default: "
                 "$LINEAGE_TLS_CERT)")
      ->envname("LINEAGE_TLS_CERT");
  app.add_option("--max-message-mib", ctx.max_message_mib,
                 "Largest RPC message --server accepts, in MiB; raise it with lineaged "
                 "--max-message-mib for deltas of ~800,000+ digests (default: 64, "
                 "$LINEAGE_MAX_MESSAGE_MIB)")
      ->envname("LINEAGE_MAX_MESSAGE_MIB")
      ->check(CLI::Range(1, 4096));
  app.add_option("--tls-key", ctx.tls_key,
                 "PEM private key of --tls-cert (default: $LINEAGE_TLS_KEY)")
      ->envname("LINEAGE_TLS_KEY");
  app.add_option("--tls-server-name", ctx.tls_server_name,
                 "The name lineaged's certificate must carry, when --server names it otherwise "
                 "(an IP address, an alias); default: --server's host, $LINEAGE_TLS_SERVER_NAME")
      ->envname("LINEAGE_TLS_SERVER_NAME");

  CLI::App* admin_cmd = app.add_subcommand("admin", "Administration of the lineaged daemon");
  admin_cmd->require_subcommand(1);
  CLI::App* token_cmd = admin_cmd->add_subcommand(
      "token", "Daemon credentials, edited in the credentials file (SIGHUP reloads lineaged)");
  token_cmd->require_subcommand(1);
  auto add_credentials = [&](CLI::App* cmd) {
    cmd->add_option("--credentials", token.credentials,
                    "Credentials file (default: DB/credentials, as lineaged)");
    AddJson(cmd, ctx);
  };
  token_create_cmd =
      token_cmd->add_subcommand("create", "Make a token; prints it once and keeps only its hash");
  token_create_cmd
      ->add_option("--role", token.role, "gate, ingest, reader, responder, approver or admin")
      ->required();
  token_create_cmd->add_option("--name", token.name, "A unique name for the credential")
      ->required();
  add_credentials(token_create_cmd);
  token_list_cmd =
      token_cmd->add_subcommand("list", "Every credential: name, role, created, revoked");
  add_credentials(token_list_cmd);
  token_revoke_cmd = token_cmd->add_subcommand("revoke", "Revoke a credential by name");
  token_revoke_cmd->add_option("name", token.name, "The credential's name")->required();
  add_credentials(token_revoke_cmd);

  CLI::App* gate_cmd = app.add_subcommand("gate", "Gate helpers");
  gate_cmd->require_subcommand(1);
  gate_watch_cmd = gate_cmd->add_subcommand(
      "watch",
      "Keep FILE equal to the daemon's deny list: snapshot, then apply pushed deltas (needs "
      "--server and a gate token)");
  gate_watch_cmd->add_option("--out", watch.out, "The deny-list file, rewritten atomically")
      ->required();
  gate_watch_cmd->add_option("--format", watch.format, "json (default) or opa, as deny-list export")
      ->check(CLI::IsMember({"json", "opa"}));
  gate_watch_cmd->add_option("--max-offline", watch.max_offline_seconds,
                             "Exit 8 after this many seconds without the daemon (default: 60)");
}

std::optional<int> RemoteCli::Run(const lineage::cli::Context& ctx) {
  using namespace lineage::cli;
  if (token_create_cmd->parsed()) return RunTokenCreate(ctx, token);
  if (token_list_cmd->parsed()) return RunTokenList(ctx, token);
  if (token_revoke_cmd->parsed()) return RunTokenRevoke(ctx, token);
  if (gate_watch_cmd->parsed()) return RunGateWatch(ctx, watch);
  return std::nullopt;
}

int RemoteCli::RunRemote(const CLI::App& app, const lineage::cli::Context& ctx,
                         const RevocationCli& rev, lineage::cli::TraverseArgs& traverse,
                         const CLI::App* descendants_cmd, const CLI::App* ancestors_cmd) {
  using namespace lineage::cli;
  if (rev.check_cmd->parsed()) return RunRemoteCheck(ctx, rev.check);
  if (rev.deny_list_export_cmd->parsed()) return RunRemoteDenyListExport(ctx, rev.deny_list_export);
  if (rev.deny_list_cmd->parsed()) return RunRemoteDenyList(ctx, rev.deny_list_since);
  if (descendants_cmd->parsed()) return RunRemoteTraverse(ctx, traverse);
  if (ancestors_cmd->parsed()) {
    traverse.ancestors = true;
    return RunRemoteTraverse(ctx, traverse);
  }
  if (rev.revoke_cmd->parsed()) return RunRemoteRevoke(ctx, rev.revoke);
  if (rev.approve_cmd->parsed()) return RunRemoteApprove(ctx, rev.approve);
  if (rev.enforce_cmd->parsed()) return RunRemoteEnforce(ctx, rev.enforce);
  if (rev.lift_cmd->parsed()) return RunRemoteLift(ctx, rev.lift);
  if (rev.why_cmd->parsed()) return RunRemoteWhy(ctx, rev.why);
  if (rev.plan_show_cmd->parsed()) return RunRemotePlanShow(ctx, rev.plan_show);
  if (rev.plan_list_cmd->parsed()) return RunRemotePlanList(ctx);
  if (rev.evidence_cmd->parsed()) return RunRemoteEvidence(ctx, rev.evidence);
  if (local.show_cmd->parsed()) return RunRemoteShow(ctx, *local.show_ref);
  if (local.stats_cmd->parsed()) return RunRemoteStats(ctx);
  if (local.backup_cmd->parsed()) return RunRemoteBackup(ctx, *local.backup_dir);
  if (local.workloads_ingest_cmd->parsed()) {
    return RunRemoteWorkloadsIngest(ctx, *local.workloads_ingest);
  }
  if (local.ingest_cmd->parsed()) return RunRemoteIngest(ctx, *local.ingest);
  if (rev.revocations_cmd->parsed()) return RunRemoteRevocations(ctx, rev.revocations_all);
  if (rev.audit_verify_cmd->parsed()) return RunRemoteAuditVerify(ctx);
  if (rev.audit_log_cmd->parsed()) return RunRemoteAuditLog(ctx, rev.audit_from);
  if (rev.settings_cmd->parsed()) return RunRemoteSettings(ctx, rev.SettingsGiven());
  if (local.workloads_list_cmd->parsed()) {
    return RunRemoteWorkloadsList(ctx, *local.workloads_list);
  }
  if (local.keys_cmd->parsed()) return RunRemoteKeys(ctx, *local.keys);
  // Name the command as typed, subcommands included ("plan show").
  std::string name;
  for (const CLI::App* cmd = &app; !cmd->get_subcommands().empty();) {
    cmd = cmd->get_subcommands().front();
    name += (name.empty() ? "" : " ") + cmd->get_name();
  }
  return RemoteUnsupported(ctx, name, "the daemon's RPC has no call for it");
}

}  // namespace

int main(int argc, char** argv) {
  using namespace lineage::cli;

  CLI::App app{
      "lineage: the lineage graph of your software supply chain.\n"
      "Ingests verified in-toto/SLSA attestations into an embedded database and answers\n"
      "which artifacts descend from a digest, key or builder.",
      "lineage"};
  app.require_subcommand(1);
  app.set_version_flag("--version", "lineage 0.1.0");

  Context ctx;
  ctx.db_path = DefaultDb();
  ctx.progress = isatty(STDERR_FILENO) == 1;
  app.add_option("--db", ctx.db_path, "Database directory (default: $LINEAGE_DB or ./var/lineage)");
  app.add_flag("--json", ctx.json, "Print one JSON document (shapes in docs/cli.md)");
  app.footer(
      "Refs: sha256:<hex> (or another digest algorithm), key:sha256:<fingerprint> or key:<keyid>,\n"
      "builder:<id>, workload:<cluster>/<namespace>/<kind>/<name>.\n"
      "Exit codes: 0 ok, 1 input rejected, 2 usage error, 3 not found, 4 database error,\n"
      "5 denied (check), 6 precondition (needs approval, closure changed, wrong state),\n"
      "7 audit verification failed, 8 daemon unreachable (--server, gate watch).");

  IngestArgs ingest;
  CLI::App* ingest_cmd = app.add_subcommand(
      "ingest", "Verify attestations and store their lineage (files, directories, - for stdin)");
  ingest_cmd->add_option("paths", ingest.paths, "Files, directories (recursive) or - for stdin")
      ->required();
  ingest_cmd->add_option("--policy", ingest.policy_path,
                         "Trust policy file (docs/trust-policy.md); $LINEAGE_POLICY if unset");
  ingest_cmd->add_flag("--allow-unsigned", ingest.allow_unsigned,
                       "Also accept unsigned statements and links, recorded as unsigned");
  ingest_cmd->add_flag("-q,--quiet", ingest.quiet, "Print only rejections and the summary");
  ingest_cmd->add_flag("--json", ctx.json, "Print one JSON document");

  TraverseArgs traverse;
  auto add_traversal = [&](const char* name, const char* help) {
    CLI::App* cmd = app.add_subcommand(name, help);
    cmd->add_option("ref", traverse.ref, "Where to start: a digest, key, builder or workload ref")
        ->required();
    cmd->add_option("--depth", traverse.max_depth, "Stop at this many hops (default: unlimited)")
        ->check(CLI::NonNegativeNumber);
    cmd->add_option("--kinds", traverse.kinds,
                    "Follow only these edge kinds: derived, signed, built, runs (default: all)")
        ->delimiter(',');
    cmd->add_option("--limit", traverse.limit, "Stop after this many nodes (default: unlimited)");
    cmd->add_flag("--count", traverse.count_only, "Print only the number of nodes");
    cmd->add_flag("--json", ctx.json, "Print one JSON document");
    return cmd;
  };
  CLI::App* descendants_cmd =
      add_traversal("descendants", "Everything derived from, signed by, built by or running REF");
  CLI::App* ancestors_cmd =
      add_traversal("ancestors", "Everything REF was derived from, signed by or built by");

  std::string show_ref;
  CLI::App* show_cmd =
      app.add_subcommand("show", "A node, its aliases and every edge with its attestation");
  show_cmd->add_option("ref", show_ref, "The node's ref")->required();
  show_cmd->add_flag("--json", ctx.json, "Print one JSON document");

  CLI::App* stats_cmd =
      app.add_subcommand("stats", "Node, edge and attestation counts; size on disk");
  stats_cmd->add_flag("--json", ctx.json, "Print one JSON document");

  std::string backup_dir;
  CLI::App* backup_cmd = app.add_subcommand(
      "backup", "Write a consistent copy of the database (a RocksDB checkpoint) to DIR");
  backup_cmd
      ->add_option("dir", backup_dir,
                   "A directory that does not exist yet; with --server, a NAME that the "
                   "daemon creates under its --backup-dir")
      ->required();
  backup_cmd->add_flag("--json", ctx.json, "Print one JSON document");

  RestoreArgs restore;
  CLI::App* restore_cmd = app.add_subcommand(
      "restore",
      "Make a new database at TARGET from a backup (a checkpoint dir), verified before it is "
      "put in place");
  restore_cmd->add_option("backup", restore.backup, "The backup directory (lineage backup DIR)")
      ->required();
  restore_cmd->add_option("target", restore.target, "The new database path: absent or empty")
      ->required();
  restore_cmd->add_option("--expect-head", restore.expect_head,
                          "Refuse unless the backup's audit chain ends at this hash (as printed "
                          "by restore and audit verify)");
  restore_cmd->add_flag("--json", ctx.json, "Print one JSON document");

  // Workload inventories and key hygiene (cli/workload_commands.h).
  WorkloadsIngestArgs workloads_ingest;
  WorkloadsListArgs workloads_list;
  CLI::App* workloads_cmd =
      app.add_subcommand("workloads", "Workload inventories: what each cluster runs");
  workloads_cmd->require_subcommand(1);
  CLI::App* workloads_ingest_cmd = workloads_cmd->add_subcommand(
      "ingest",
      "Store inventories (kubectl get pods -A -o json, or a lineage list); each replaces its "
      "cluster's previous one");
  workloads_ingest_cmd->add_option("files", workloads_ingest.paths, "Files, or - for stdin")
      ->required();
  workloads_ingest_cmd->add_option("--cluster", workloads_ingest.cluster,
                                   "The cluster (required for kubectl output)");
  workloads_ingest_cmd->add_option("--format", workloads_ingest.format,
                                   "auto (default), kubectl or list");
  workloads_ingest_cmd->add_flag("-q,--quiet", workloads_ingest.quiet,
                                 "Print only rejections and the summary");
  workloads_ingest_cmd->add_flag("--json", ctx.json, "Print one JSON document");
  CLI::App* workloads_list_cmd = workloads_cmd->add_subcommand(
      "list", "Each cluster's current inventory: workloads and the images they run");
  workloads_list_cmd->add_option("--cluster", workloads_list.cluster, "Only this cluster");
  workloads_list_cmd->add_flag("--json", ctx.json, "Print one JSON document");

  KeysArgs keys;
  CLI::App* keys_cmd = app.add_subcommand(
      "keys", "Each signer's first and last signing and attestation count; stale keys");
  keys_cmd->add_option("--stale", keys.stale,
                       "Rotation age: flag long-lived keys still signing this long after their "
                       "first signature, e.g. 30d, 2w, 36h (default: 90d)");
  keys_cmd->add_flag("--json", ctx.json, "Print one JSON document");

  RevocationCli revocation;
  revocation.Add(app, ctx);
  RemoteCli remote;
  remote.Add(app, ctx);
  remote.local.show_cmd = show_cmd;
  remote.local.show_ref = &show_ref;
  remote.local.stats_cmd = stats_cmd;
  remote.local.backup_cmd = backup_cmd;
  remote.local.backup_dir = &backup_dir;
  remote.local.workloads_ingest_cmd = workloads_ingest_cmd;
  remote.local.workloads_ingest = &workloads_ingest;
  remote.local.ingest_cmd = ingest_cmd;
  remote.local.ingest = &ingest;
  remote.local.workloads_list_cmd = workloads_list_cmd;
  remote.local.workloads_list = &workloads_list;
  remote.local.keys_cmd = keys_cmd;
  remote.local.keys = &keys;

  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    int code = app.exit(e);
    // --help and --version are successes; anything else is a usage error.
    return code == 0 ? kExitOk : kExitUsage;
  }
  // admin token works on the file and gate watch needs --server: both come
  // before the --server dispatch.
  if (std::optional<int> code = remote.Run(ctx)) return *code;
  // restore works on local directories only, with or without --server.
  if (restore_cmd->parsed()) return RunRestore(ctx, restore);
  if (!ctx.server.empty()) {
    return remote.RunRemote(app, ctx, revocation, traverse, descendants_cmd, ancestors_cmd);
  }

  if (ingest_cmd->parsed()) {
    if (ingest.policy_path.empty()) {
      if (const char* env = std::getenv("LINEAGE_POLICY"); env != nullptr) ingest.policy_path = env;
    }
    return RunIngest(ctx, ingest);
  }
  if (descendants_cmd->parsed()) return RunTraverse(ctx, traverse);
  if (ancestors_cmd->parsed()) {
    traverse.ancestors = true;
    return RunTraverse(ctx, traverse);
  }
  if (show_cmd->parsed()) return RunShow(ctx, show_ref);
  if (stats_cmd->parsed()) return RunStats(ctx);
  if (backup_cmd->parsed()) return RunBackup(ctx, backup_dir);
  if (workloads_ingest_cmd->parsed()) return RunWorkloadsIngest(ctx, workloads_ingest);
  if (workloads_list_cmd->parsed()) return RunWorkloadsList(ctx, workloads_list);
  if (keys_cmd->parsed()) return RunKeys(ctx, keys);
  if (std::optional<int> code = revocation.Run(ctx)) return *code;
  return kExitUsage;
}
