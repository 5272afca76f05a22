// The `lineage` command: parses arguments and hands them to cli/commands.h.
// All logic lives in the lineage_cli library so tests can reach it.
#include <unistd.h>

#include <cstdlib>
#include <string>

#include <CLI/CLI.hpp>

#include "cli/commands.h"

namespace {

std::string DefaultDb() {
  const char* env = std::getenv("LINEAGE_DB");
  return env != nullptr && *env != '\0' ? env : "./var/lineage";
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
      "Exit codes: 0 ok, 1 input rejected, 2 usage error, 3 not found, 4 database error.");

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

  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    int code = app.exit(e);
    // --help and --version are successes; anything else is a usage error.
    return code == 0 ? kExitOk : kExitUsage;
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
  return kExitUsage;
}
