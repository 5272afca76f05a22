#include "cli/workload_commands.h"

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <iterator>
#include <memory>
#include <set>
#include <system_error>

#include <fmt/format.h>

#include "absl/status/status.h"
#include "absl/time/clock.h"
#include "cli/output.h"
#include "cli/store_access.h"
#include "engine/include/lineage/ref.h"
#include "engine/include/lineage/store.h"
#include "ingest/include/lineage/ingest/inventory.h"

namespace lineage::cli {
namespace {

namespace fs = std::filesystem;

// Inventory ids are SHA-256 hex; human output shows their first 12 digits.
constexpr size_t kShortId = 12;

int ExitCodeFor(const absl::Status& status) {
  switch (status.code()) {
    case absl::StatusCode::kInvalidArgument:
      return kExitUsage;
    case absl::StatusCode::kNotFound:
      return kExitNotFound;
    default:
      return kExitError;
  }
}

int Fail(const Context& ctx, std::string_view command, const absl::Status& status) {
  fmt::print(ctx.err, "lineage {}: {}\n", command, Message(status));
  return ExitCodeFor(status);
}

void PrintJson(const Context& ctx, JsonWriter& w) {
  std::string text = w.Take();
  text += '\n';
  std::fwrite(text.data(), 1, text.size(), ctx.out);
}

std::string ShortId(std::string_view id) {
  return std::string(id.substr(0, kShortId));
}

// Queries open the database read-only so they can run beside a writer.

// ------------------------------------------------------- workloads ingest

enum class Verdict { kAccepted, kDuplicate, kStale, kRejected };
constexpr const char* kVerdictNames[] = {"accepted", "duplicate", "stale", "rejected"};

struct FileReport {
  std::string path;
  Verdict verdict = Verdict::kRejected;
  ingest::InventoryReport report;  // error set when rejected; starts with the file name
};

void PrintReport(const Context& ctx, const WorkloadsIngestArgs& args, const FileReport& r) {
  for (const std::string& w : r.report.warnings)
    fmt::print(ctx.err, "warning: {}: {}\n", r.path, w);
  const ingest::InventoryReport& inv = r.report;
  switch (r.verdict) {
    case Verdict::kRejected:
      fmt::print(ctx.out, "rejected   {}\n", inv.error);  // the error names the file
      return;
    case Verdict::kDuplicate:
      if (!args.quiet) {
        fmt::print(ctx.out, "duplicate  {}: cluster {}: inventory {} already stored\n", r.path,
                   inv.cluster, ShortId(inv.id));
      }
      return;
    case Verdict::kStale:
      if (!args.quiet) {
        fmt::print(ctx.out,
                   "stale      {}: cluster {}: inventory {} was taken before the cluster's "
                   "current one; stored as history only\n",
                   r.path, inv.cluster, ShortId(inv.id));
      }
      return;
    case Verdict::kAccepted:
      if (!args.quiet) {
        fmt::print(ctx.out,
                   "accepted   {}: cluster {}: inventory {}, {} workload{}, {} image{} ({} {}){}\n",
                   r.path, inv.cluster, ShortId(inv.id), inv.workloads,
                   inv.workloads == 1 ? "" : "s", inv.images, inv.images == 1 ? "" : "s", inv.pods,
                   inv.format == ingest::InventoryFormat::kKubectl ? "pods" : "entries",
                   inv.outcome.replaced.empty()
                       ? std::string()
                       : fmt::format("; replaced {}", ShortId(inv.outcome.replaced)));
      }
      return;
  }
}

void WriteReportJson(JsonWriter& w, const FileReport& r) {
  w.BeginObject();
  w.Member("path", r.path);
  w.Member("verdict", kVerdictNames[static_cast<int>(r.verdict)]);
  const ingest::InventoryReport& inv = r.report;
  if (r.verdict == Verdict::kRejected) {
    w.Member("error", inv.error);
  } else {
    w.Member("cluster", inv.cluster);
    w.Member("inventory", inv.id);
    w.Member("format", ingest::InventoryFormatName(inv.format));
    w.MemberUint("pods", inv.pods);
    w.MemberUint("workloads", inv.workloads);
    w.MemberUint("images", inv.images);
    w.Key("replaced");
    if (inv.outcome.replaced.empty()) {
      w.Null();
    } else {
      w.String(inv.outcome.replaced);
    }
    w.MemberUint("new_nodes", inv.outcome.new_nodes);
    w.MemberUint("new_edges", inv.outcome.new_edges);
  }
  w.Key("warnings");
  w.BeginArray();
  for (const std::string& warning : inv.warnings)
    w.String(warning);
  w.EndArray();
  w.EndObject();
}

// A time to the second, for table columns; "unknown" for InfinitePast.
std::string SecondsText(absl::Time time) {
  if (time == absl::InfinitePast()) return "unknown";
  return absl::FormatTime("%Y-%m-%dT%H:%M:%SZ", time, absl::UTCTimeZone());
}

std::string DisplayAge(absl::Duration age) {
  const absl::Duration kDay = absl::Hours(24);
  if (age % kDay == absl::ZeroDuration()) return fmt::format("{}d", age / kDay);
  return absl::FormatDuration(age);
}

}  // namespace

absl::StatusOr<ingest::InventoryFormat> ParseInventoryFormatFlag(std::string_view text) {
  if (text == "auto") return ingest::InventoryFormat::kAuto;
  if (text == "kubectl") return ingest::InventoryFormat::kKubectl;
  if (text == "list") return ingest::InventoryFormat::kList;
  return absl::InvalidArgumentError(
      fmt::format("--format: unknown format \"{}\" (auto, kubectl, list)", text));
}

int RunWorkloadsIngest(const Context& ctx, const WorkloadsIngestArgs& args) {
  constexpr std::string_view kCmd = "workloads ingest";
  if (args.paths.empty()) {
    return Fail(ctx, kCmd, absl::InvalidArgumentError("give at least one FILE (or - for stdin)"));
  }
  absl::StatusOr<ingest::InventoryFormat> format = ParseInventoryFormatFlag(args.format);
  if (!format.ok()) return Fail(ctx, kCmd, format.status());
  ingest::InventoryOptions options;
  options.cluster = args.cluster;
  options.format = *format;

  auto store = Store::Open(ctx.db_path, StoreOptions{});
  if (!store.ok()) {
    return Fail(ctx, kCmd,
                absl::Status(store.status().code(),
                             fmt::format("{}: {}", ctx.db_path, Message(store.status()))));
  }
  return ReportWorkloadsIngest(ctx, args, [&](const std::string& source, std::string content) {
    return ingest::StoreInventory(**store, source, std::move(content), options, absl::Now());
  });
}

int ReportWorkloadsIngest(const Context& ctx, const WorkloadsIngestArgs& args,
                          const StoreInventoryFn& store_one) {
  constexpr std::string_view kCmd = "workloads ingest";
  uint64_t counts[4] = {};
  JsonWriter json;
  if (ctx.json) {
    json.BeginObject();
    json.Key("files");
    json.BeginArray();
  }
  for (const std::string& path : args.paths) {
    FileReport r;
    r.path = path == "-" ? "<stdin>" : path;
    absl::StatusOr<std::string> content =
        ReadInput(path, ingest::InventoryLimits{}.max_document_bytes, "inventory");
    if (!content.ok()) {
      r.report.error = Message(content.status());
    } else {
      absl::StatusOr<ingest::InventoryReport> stored = store_one(r.path, *std::move(content));
      // A store failure is not the input's fault: stop rather than report
      // every following file as rejected.
      if (!stored.ok()) return Fail(ctx, kCmd, stored.status());
      r.report = *std::move(stored);
      // kubectl output never names its cluster: say how to give it.
      if (!r.report.error.empty() && args.cluster.empty() &&
          r.report.error.find(": store: ") == std::string::npos &&
          r.report.error.find("cluster:") != std::string::npos) {
        r.report.error += " (pass --cluster NAME)";
      }
      if (r.report.error.empty()) {
        r.verdict = r.report.outcome.duplicate ? Verdict::kDuplicate
                    : r.report.outcome.stale   ? Verdict::kStale
                                               : Verdict::kAccepted;
      }
    }
    counts[static_cast<int>(r.verdict)]++;
    if (ctx.json) {
      WriteReportJson(json, r);
    } else {
      PrintReport(ctx, args, r);
    }
  }

  uint64_t rejected = counts[static_cast<int>(Verdict::kRejected)];
  if (ctx.json) {
    json.EndArray();
    json.Key("summary");
    json.BeginObject();
    json.MemberUint("files", args.paths.size());
    json.MemberUint("accepted", counts[static_cast<int>(Verdict::kAccepted)]);
    json.MemberUint("duplicates", counts[static_cast<int>(Verdict::kDuplicate)]);
    json.MemberUint("stale", counts[static_cast<int>(Verdict::kStale)]);
    json.MemberUint("rejected", rejected);
    json.EndObject();
    json.EndObject();
    PrintJson(ctx, json);
  } else {
    fmt::print(ctx.out,
               "summary: {} file{}, {} inventor{} accepted, {} already stored, {} stale, {} "
               "rejected\n",
               args.paths.size(), args.paths.size() == 1 ? "" : "s",
               counts[static_cast<int>(Verdict::kAccepted)],
               counts[static_cast<int>(Verdict::kAccepted)] == 1 ? "y" : "ies",
               counts[static_cast<int>(Verdict::kDuplicate)],
               counts[static_cast<int>(Verdict::kStale)], rejected);
  }
  return rejected > 0 ? kExitRejected : kExitOk;
}

// --------------------------------------------------------- workloads list

namespace {

// (namespace, kind, name) of a canonical workload ref; the parts hold no '/'.
std::vector<std::string_view> WorkloadParts(std::string_view ref) {
  std::vector<std::string_view> parts;
  ref.remove_prefix(std::min(ref.size(), std::string_view("workload:").size()));
  while (!ref.empty()) {
    size_t slash = ref.find('/');
    parts.push_back(ref.substr(0, slash));
    if (slash == std::string_view::npos) break;
    ref.remove_prefix(slash + 1);
  }
  return parts;
}

}  // namespace

int RunWorkloadsList(const Context& ctx, const WorkloadsListArgs& args) {
  constexpr std::string_view kCmd = "workloads list";
  auto store = OpenForQuery(ctx);
  if (!store.ok()) return Fail(ctx, kCmd, store.status());
  absl::StatusOr<std::vector<ClusterInventory>> clusters = (*store)->Workloads(args.cluster);
  if (!clusters.ok()) return Fail(ctx, kCmd, clusters.status());
  return ReportWorkloadsList(ctx, *clusters);
}

int ReportWorkloadsFailure(const Context& ctx, std::string_view command,
                           const absl::Status& status) {
  return Fail(ctx, command, status);
}

int ReportWorkloadsList(const Context& ctx, const std::vector<ClusterInventory>& found) {
  const std::vector<ClusterInventory>* clusters = &found;
  if (ctx.json) {
    JsonWriter w;
    w.BeginObject();
    w.Key("clusters");
    w.BeginArray();
    for (const ClusterInventory& c : *clusters) {
      w.BeginObject();
      w.Member("cluster", c.cluster);
      w.Member("inventory", c.inventory);
      w.Key("time");
      w.Time(c.time);
      w.Key("workloads");
      w.BeginArray();
      for (const ClusterWorkload& workload : c.workloads) {
        std::vector<std::string_view> parts = WorkloadParts(workload.ref);
        w.BeginObject();
        w.Member("ref", workload.ref);
        if (parts.size() == 4) {
          w.Member("namespace", parts[1]);
          w.Member("kind", parts[2]);
          w.Member("name", parts[3]);
        }
        w.Key("images");
        w.BeginArray();
        for (const std::string& image : workload.images)
          w.String(image);
        w.EndArray();
        w.EndObject();
      }
      w.EndArray();
      w.EndObject();
    }
    w.EndArray();
    w.EndObject();
    PrintJson(ctx, w);
    return kExitOk;
  }

  if (clusters->empty()) {
    fmt::print(ctx.out, "no workload inventories\n");
    return kExitOk;
  }
  for (const ClusterInventory& c : *clusters) {
    fmt::print(ctx.out, "cluster {}: inventory {}, taken {}, {} workload{}\n", c.cluster,
               ShortId(c.inventory), TimeText(c.time), c.workloads.size(),
               c.workloads.size() == 1 ? "" : "s");
    for (const ClusterWorkload& workload : c.workloads) {
      fmt::print(ctx.out, "  {}\n", workload.ref);
      for (const std::string& image : workload.images)
        fmt::print(ctx.out, "      {}\n", image);
    }
  }
  return kExitOk;
}

// ------------------------------------------------------------------ keys

absl::StatusOr<absl::Duration> ParseAge(std::string_view text) {
  absl::Duration age;
  char unit = text.empty() ? '\0' : text.back();
  std::string_view number = text.substr(0, text.empty() ? 0 : text.size() - 1);
  bool all_digits =
      !number.empty() && number.size() <= 9 &&
      std::all_of(number.begin(), number.end(), [](char c) { return c >= '0' && c <= '9'; });
  if ((unit == 'd' || unit == 'w') && all_digits) {
    age = absl::Hours(24 * (unit == 'w' ? 7 : 1)) * std::stoll(std::string(number));
  } else if (!absl::ParseDuration(absl::string_view(text.data(), text.size()), &age)) {
    return absl::InvalidArgumentError(
        fmt::format("\"{}\" is not an age: use <N>d, <N>w or a duration such as 36h or 90m", text));
  }
  if (age <= absl::ZeroDuration() || age == absl::InfiniteDuration()) {
    return absl::InvalidArgumentError(fmt::format("age \"{}\" must be positive and finite", text));
  }
  return age;
}

int RunKeys(const Context& ctx, const KeysArgs& args) {
  constexpr std::string_view kCmd = "keys";
  absl::StatusOr<absl::Duration> age = ParseStaleFlag(args.stale);
  if (!age.ok()) return Fail(ctx, kCmd, age.status());
  auto store = OpenForQuery(ctx);
  if (!store.ok()) return Fail(ctx, kCmd, store.status());
  absl::StatusOr<KeyUsageReport> report = (*store)->KeyUsage(*age);
  if (!report.ok()) return Fail(ctx, kCmd, report.status());
  return ReportKeys(ctx, *report);
}

absl::StatusOr<absl::Duration> ParseStaleFlag(std::string_view text) {
  absl::StatusOr<absl::Duration> age = ParseAge(text);
  if (!age.ok()) {
    return absl::InvalidArgumentError(fmt::format("--stale: {}", Message(age.status())));
  }
  return age;
}

int ReportKeys(const Context& ctx, const KeyUsageReport& usage) {
  const KeyUsageReport* report = &usage;
  const absl::Duration* age = &usage.rotation_age;
  auto share = [&](uint64_t n) {
    return report->signed_attestations == 0
               ? 0.0
               : static_cast<double>(n) / static_cast<double>(report->signed_attestations);
  };
  uint64_t flagged = 0;
  for (const SignerUsage& s : report->signers)
    flagged += s.beyond_rotation_age ? 1 : 0;

  if (ctx.json) {
    JsonWriter w;
    w.BeginObject();
    w.Member("rotation_age", DisplayAge(*age));
    w.MemberUint("rotation_age_seconds", static_cast<uint64_t>(*age / absl::Seconds(1)));
    w.Key("signers");
    w.BeginArray();
    for (const SignerUsage& s : report->signers) {
      w.BeginObject();
      w.Member("key", s.key);
      w.Member("type", s.keyless ? "keyless" : "long-lived");
      w.MemberUint("attestations", s.attestations);
      w.Key("first_signed");
      w.Time(s.first_signed);
      w.Key("last_signed");
      w.Time(s.last_signed);
      w.MemberBool("beyond_rotation_age", s.beyond_rotation_age);
      w.EndObject();
    }
    w.EndArray();
    w.MemberUint("beyond_rotation_age", flagged);
    w.Key("attestations");
    w.BeginObject();
    w.MemberUint("signed", report->signed_attestations);
    w.MemberUint("keyless", report->keyless_attestations);
    w.MemberUint("long_lived", report->long_lived_attestations);
    w.Key("keyless_share");
    w.Double(share(report->keyless_attestations));
    w.Key("long_lived_share");
    w.Double(share(report->long_lived_attestations));
    w.EndObject();
    w.EndObject();
    PrintJson(ctx, w);
    return kExitOk;
  }

  fmt::print(ctx.out, "{:<11} {:>12}  {:<20}  {:<20}  {:<6}  {}\n", "type", "attestations",
             "first signed", "last signed", "rotate", "key");
  for (const SignerUsage& s : report->signers) {
    fmt::print(ctx.out, "{:<11} {:>12}  {:<20}  {:<20}  {:<6}  {}\n",
               s.keyless ? "keyless" : "long-lived", s.attestations, SecondsText(s.first_signed),
               SecondsText(s.last_signed), s.beyond_rotation_age ? "STALE" : "ok", s.key);
  }
  fmt::print(ctx.out,
             "{} signer{}; {} long-lived key{} signed beyond the rotation age of {} (more than {} "
             "after their first signature)\n",
             report->signers.size(), report->signers.size() == 1 ? "" : "s", flagged,
             flagged == 1 ? "" : "s", DisplayAge(*age), DisplayAge(*age));
  fmt::print(ctx.out,
             "signed attestations: {}; signed keylessly: {} ({:.1f}%); by long-lived keys: {} "
             "({:.1f}%)\n",
             report->signed_attestations, report->keyless_attestations,
             100 * share(report->keyless_attestations), report->long_lived_attestations,
             100 * share(report->long_lived_attestations));
  return kExitOk;
}

}  // namespace lineage::cli
