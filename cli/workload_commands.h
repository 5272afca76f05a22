// The lineage CLI's workload inventory and key hygiene commands:
//
//   lineage workloads ingest FILE... [--cluster NAME] [--format auto|kubectl|list]
//   lineage workloads list [--cluster NAME]
//   lineage keys [--stale AGE]
//
// Like cli/commands.h, each Run* function takes parsed arguments (main.cc
// owns CLI11) and returns the process exit code (ExitCode); data goes to
// Context::out, diagnostics to Context::err, and with Context::json the data
// is one JSON document whose shape docs/cli.md documents.
#pragma once

#include <functional>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "cli/commands.h"
#include "ingest/include/lineage/ingest/inventory.h"

namespace lineage::cli {

struct WorkloadsIngestArgs {
  std::vector<std::string> paths;  // inventory files, or "-" for stdin; applied in order
  std::string cluster;             // required for kubectl output; checked against a list's
  std::string format = "auto";     // auto | kubectl | list
  bool quiet = false;              // print only rejections and the summary
};

struct WorkloadsListArgs {
  std::string cluster;  // empty: every cluster
};

// The rotation age `lineage keys` uses without --stale.
inline constexpr char kDefaultRotationAge[] = "90d";

struct KeysArgs {
  std::string stale = kDefaultRotationAge;  // the rotation age, e.g. "30d"
};

// Stores each file's inventory as its cluster's current one. Exit codes:
// kExitOk, kExitRejected (a file was rejected; the others were stored),
// kExitUsage, kExitError.
int RunWorkloadsIngest(const Context& ctx, const WorkloadsIngestArgs& args);

// Stores one inventory document read from `source` (the file name, or
// "<stdin>"): a report, or a status when the store itself failed.
using StoreInventoryFn = std::function<absl::StatusOr<ingest::InventoryReport>(
    const std::string& source, std::string content)>;
// workloads ingest once its arguments are checked: reads each file in order,
// hands it to `store_one` (the local store, or lineaged), prints the reports
// and the summary. Shared with `--server`, so both print the same bytes.
int ReportWorkloadsIngest(const Context& ctx, const WorkloadsIngestArgs& args,
                          const StoreInventoryFn& store_one);
// --format: "auto", "kubectl" or "list"; InvalidArgument otherwise.
absl::StatusOr<ingest::InventoryFormat> ParseInventoryFormatFlag(std::string_view text);

// Lists the current inventories. kExitNotFound for an unknown --cluster.
int RunWorkloadsList(const Context& ctx, const WorkloadsListArgs& args);

// Each signer's usage, flagging long-lived keys still signing more than the
// rotation age after their first signature.
int RunKeys(const Context& ctx, const KeysArgs& args);

// ---- Shared with the remote commands (cli/remote_commands.h), so that
// the same data prints the same bytes in both modes.

// "lineage <command>: <message>" on err and the exit code these commands
// give `status` (kExitUsage, kExitNotFound or kExitError).
int ReportWorkloadsFailure(const Context& ctx, std::string_view command,
                           const absl::Status& status);
// workloads list's output for inventories already read; kExitOk.
int ReportWorkloadsList(const Context& ctx, const std::vector<ClusterInventory>& clusters);
// keys' output for a report already made (its rotation_age is the one
// printed); kExitOk.
int ReportKeys(const Context& ctx, const KeyUsageReport& report);
// --stale AGE: ParseAge, with InvalidArgument naming the flag.
absl::StatusOr<absl::Duration> ParseStaleFlag(std::string_view text);

// A positive age: "<N>d" (days), "<N>w" (weeks), or an absl duration such as
// "36h", "90m", "1h30m". InvalidArgument otherwise.
absl::StatusOr<absl::Duration> ParseAge(std::string_view text);

}  // namespace lineage::cli
