#include "cli/commands.h"

#include <fcntl.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <iterator>
#include <memory>
#include <sstream>
#include <system_error>

#include <fmt/format.h>

#include "absl/status/status.h"
#include "absl/time/clock.h"
#include "cli/output.h"
#include "cli/store_access.h"
#include "engine/include/lineage/ref.h"
#include "engine/include/lineage/store.h"
#include "ingest/include/lineage/ingest/ingest.h"
#include "ingest/include/lineage/ingest/trust_policy.h"

namespace lineage::cli {
namespace {

namespace fs = std::filesystem;

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

int Fail(const Context& ctx, const absl::Status& status) {
  fmt::print(ctx.err, "lineage: {}\n", Message(status));
  return ExitCodeFor(status);
}

void PrintJson(const Context& ctx, JsonWriter& w) {
  std::string text = w.Take();
  text += '\n';
  std::fwrite(text.data(), 1, text.size(), ctx.out);
}

// ---------------------------------------------------------------- ingest

struct InputFile {
  std::string path;  // as given or found; "-" for stdin
};

// Expands directories recursively, in sorted order so runs are reproducible.
// A path that does not exist is kept: reading it fails and is reported as a
// rejection of that path.
std::vector<InputFile> ExpandInputs(const std::vector<std::string>& paths) {
  std::vector<InputFile> files;
  for (const std::string& path : paths) {
    std::error_code ec;
    if (path != "-" && fs::is_directory(path, ec)) {
      std::vector<std::string> found;
      for (fs::recursive_directory_iterator it(path, ec), end; !ec && it != end; it.increment(ec)) {
        if (it->is_regular_file(ec)) found.push_back(it->path().string());
      }
      std::sort(found.begin(), found.end());
      for (std::string& f : found)
        files.push_back({std::move(f)});
    } else {
      files.push_back({path});
    }
  }
  return files;
}

using ItemReport = IngestItemReport;
using Verdict = IngestItemReport::Verdict;

struct IngestTotals {
  uint64_t files = 0;
  uint64_t accepted = 0;
  uint64_t duplicates = 0;
  uint64_t rejected = 0;
  uint64_t new_nodes = 0;
  uint64_t new_edges = 0;
};

// Redraws one status line on a terminal; a no-op elsewhere.
class Progress {
 public:
  Progress(const Context& ctx, size_t total)
      : ctx_(ctx), total_(total), enabled_(ctx.progress && !ctx.json && total >= 20) {}

  void Clear() {
    if (enabled_ && drawn_) fmt::print(ctx_.err, "\r\033[K");
  }
  void Update(size_t done, const IngestTotals& t) {
    if (!enabled_) return;
    auto now = std::chrono::steady_clock::now();
    if (done != total_ && now - last_ < std::chrono::milliseconds(100)) return;
    last_ = now;
    constexpr int kWidth = 30;
    int filled = static_cast<int>(kWidth * done / std::max<size_t>(total_, 1));
    fmt::print(ctx_.err, "\r\033[K[{}{}] {}/{} files, {} accepted, {} rejected",
               std::string(filled, '#'), std::string(kWidth - filled, ' '), done, total_,
               t.accepted + t.duplicates, t.rejected);
    std::fflush(ctx_.err);
    drawn_ = true;
  }

 private:
  const Context& ctx_;
  size_t total_;
  bool enabled_;
  bool drawn_ = false;
  std::chrono::steady_clock::time_point last_{};
};

void PrintFileVerdict(const Context& ctx, const IngestArgs& args, const std::string& path,
                      const std::vector<ItemReport>& items) {
  uint64_t accepted = 0, duplicates = 0, nodes = 0, edges = 0;
  for (const ItemReport& item : items) {
    for (const std::string& w : item.warnings) {
      fmt::print(ctx.err, "warning: {}: {}\n", item.source, w);
    }
    if (item.verdict == Verdict::kRejected) {
      fmt::print(ctx.out, "rejected   {}: {}\n", item.source, item.error);
    } else {
      (item.verdict == Verdict::kAccepted ? accepted : duplicates)++;
      nodes += item.new_nodes;
      edges += item.new_edges;
    }
  }
  if (args.quiet || accepted + duplicates == 0) return;
  if (accepted == 0) {
    fmt::print(ctx.out, "duplicate  {}: {} attestation{} already stored\n", path, duplicates,
               duplicates == 1 ? "" : "s");
    return;
  }
  fmt::print(ctx.out, "accepted   {}: {} attestation{}{}, {} new nodes, {} new edges\n", path,
             accepted, accepted == 1 ? "" : "s",
             duplicates ? fmt::format(" (+{} already stored)", duplicates) : std::string(), nodes,
             edges);
}

void WriteItemJson(JsonWriter& w, const ItemReport& item) {
  static constexpr const char* kNames[] = {"accepted", "duplicate", "rejected"};
  w.BeginObject();
  w.Member("source", item.source);
  w.Member("verdict", kNames[static_cast<int>(item.verdict)]);
  if (item.verdict == Verdict::kRejected) {
    w.Member("error", item.error);
  } else {
    w.Member("attestation", item.attestation);
    w.MemberUint("new_nodes", item.new_nodes);
    w.MemberUint("new_edges", item.new_edges);
  }
  w.Key("warnings");
  w.BeginArray();
  for (const std::string& warning : item.warnings)
    w.String(warning);
  w.EndArray();
  w.EndObject();
}

}  // namespace

int RunIngest(const Context& ctx, const IngestArgs& args) {
  if (args.paths.empty()) {
    fmt::print(ctx.err, "lineage ingest: give at least one PATH (a file, a directory or -)\n");
    return kExitUsage;
  }
  ingest::TrustPolicy policy;
  if (!args.policy_path.empty()) {
    auto loaded = ingest::TrustPolicy::LoadFile(args.policy_path);
    if (!loaded.ok()) return Fail(ctx, loaded.status());
    policy = *std::move(loaded);
  } else if (!args.allow_unsigned) {
    fmt::print(ctx.err,
               "lineage ingest: --policy FILE is required to verify signatures (or pass "
               "--allow-unsigned to accept only unsigned statements)\n");
    return kExitUsage;
  }
  ingest::IngestOptions options;
  options.allow_unsigned = args.allow_unsigned;

  StoreOptions store_options;
  auto store = Store::Open(ctx.db_path, store_options);
  if (!store.ok()) {
    return Fail(ctx, absl::Status(store.status().code(),
                                  fmt::format("{}: {}", ctx.db_path, Message(store.status()))));
  }
  return ReportIngest(
      ctx, args,
      [&](const std::string& name, std::string content) -> absl::StatusOr<std::vector<ItemReport>> {
        std::vector<ItemReport> items;
        for (ingest::ItemResult& result : ingest::VerifyDocument(name, content, policy, options)) {
          ItemReport report{result.source, Verdict::kRejected, "", "", std::move(result.warnings)};
          if (!result.record.ok()) {
            report.error = Message(result.record.status());
          } else {
            AttestationRecord& record = *result.record;
            // The predicate gave no time: the edges record when we learnt of them.
            if (record.time == absl::InfinitePast()) record.time = absl::Now();
            absl::StatusOr<IngestOutcome> outcome = (*store)->Ingest(record);
            if (!outcome.ok()) {
              // A store failure is not the input's fault: stop rather than
              // report every following file as rejected.
              if (outcome.status().code() != absl::StatusCode::kInvalidArgument) {
                return outcome.status();
              }
              report.error = fmt::format("store: {}", Message(outcome.status()));
            } else {
              report.verdict = outcome->duplicate ? Verdict::kDuplicate : Verdict::kAccepted;
              report.attestation = record.id;
              report.new_nodes = outcome->new_nodes;
              report.new_edges = outcome->new_edges;
              for (std::string& warning : outcome->warnings)
                report.warnings.push_back(fmt::format("store: {}", std::move(warning)));
            }
          }
          items.push_back(std::move(report));
        }
        return items;
      });
}

int ReportIngest(const Context& ctx, const IngestArgs& args, const IngestFileFn& ingest_file) {
  std::vector<InputFile> files = ExpandInputs(args.paths);
  Progress progress(ctx, files.size());
  IngestTotals totals;
  JsonWriter json;
  if (ctx.json) {
    json.BeginObject();
    json.Key("files");
    json.BeginArray();
  }

  for (size_t i = 0; i < files.size(); ++i) {
    const std::string& path = files[i].path;
    std::string name = path == "-" ? "<stdin>" : path;
    std::vector<ItemReport> items;

    absl::StatusOr<std::string> content =
        ReadInput(path, ingest::IngestOptions{}.limits.max_document_bytes, "document");
    if (!content.ok()) {
      items.push_back({name, Verdict::kRejected, "", Message(content.status()), {}});
    } else {
      absl::StatusOr<std::vector<ItemReport>> done = ingest_file(name, *std::move(content));
      if (!done.ok()) {
        progress.Clear();
        return Fail(ctx, done.status());
      }
      items = *std::move(done);
    }

    ++totals.files;
    for (const ItemReport& item : items) {
      switch (item.verdict) {
        case Verdict::kAccepted:
          ++totals.accepted;
          break;
        case Verdict::kDuplicate:
          ++totals.duplicates;
          break;
        case Verdict::kRejected:
          ++totals.rejected;
          break;
      }
      totals.new_nodes += item.new_nodes;
      totals.new_edges += item.new_edges;
    }

    if (ctx.json) {
      json.BeginObject();
      json.Member("path", name);
      json.Key("items");
      json.BeginArray();
      for (const ItemReport& item : items)
        WriteItemJson(json, item);
      json.EndArray();
      json.EndObject();
    } else {
      progress.Clear();
      PrintFileVerdict(ctx, args, name, items);
      progress.Update(i + 1, totals);
    }
  }
  progress.Clear();

  if (ctx.json) {
    json.EndArray();
    json.Key("summary");
    json.BeginObject();
    json.MemberUint("files", totals.files);
    json.MemberUint("accepted", totals.accepted);
    json.MemberUint("duplicates", totals.duplicates);
    json.MemberUint("rejected", totals.rejected);
    json.MemberUint("new_nodes", totals.new_nodes);
    json.MemberUint("new_edges", totals.new_edges);
    json.EndObject();
    json.EndObject();
    PrintJson(ctx, json);
  } else {
    fmt::print(ctx.out,
               "summary: {} file{}, {} attestation{} accepted, {} already stored, {} rejected; "
               "{} new nodes, {} new edges\n",
               totals.files, totals.files == 1 ? "" : "s", totals.accepted,
               totals.accepted == 1 ? "" : "s", totals.duplicates, totals.rejected,
               totals.new_nodes, totals.new_edges);
  }
  return totals.rejected > 0 ? kExitRejected : kExitOk;
}

// ------------------------------------------------------------- traversal

int RunTraverse(const Context& ctx, const TraverseArgs& args) {
  absl::StatusOr<Ref> ref = ParseRef(args.ref);
  if (!ref.ok()) return Fail(ctx, ref.status());

  TraversalOptions options;
  options.max_depth = args.max_depth;
  options.limit = args.limit;
  absl::StatusOr<EdgeKindMask> kinds = ParseKindsFlag(args.kinds);
  if (!kinds.ok()) return Fail(ctx, kinds.status());
  options.edge_kinds = *kinds;

  auto store = OpenForQuery(ctx);
  if (!store.ok()) return Fail(ctx, store.status());
  const char* direction = args.ancestors ? "ancestors" : "descendants";

  if (args.count_only && !args.ancestors) {
    absl::StatusOr<uint64_t> count = (*store)->CountDescendants(ref->text, options);
    if (!count.ok()) return Fail(ctx, count.status());
    if (ctx.json) {
      JsonWriter w;
      w.BeginObject();
      w.Member("root", ref->text);
      w.Member("direction", direction);
      w.MemberUint("count", *count);
      w.EndObject();
      PrintJson(ctx, w);
    } else {
      fmt::print(ctx.out, "{}\n", *count);
    }
    return kExitOk;
  }

  absl::StatusOr<TraversalResult> result = args.ancestors
                                               ? (*store)->Ancestors(ref->text, options)
                                               : (*store)->Descendants(ref->text, options);
  if (!result.ok()) return Fail(ctx, result.status());
  return ReportTraversal(ctx, args, *result);
}

absl::StatusOr<EdgeKindMask> ParseKindsFlag(const std::vector<std::string>& names) {
  if (names.empty()) return EdgeKindMask::All();
  EdgeKindMask mask;
  for (const std::string& name : names) {
    std::optional<EdgeKind> kind = ParseEdgeKind(name);
    if (!kind) {
      return absl::InvalidArgumentError(
          fmt::format("--kinds: unknown edge kind \"{}\" (derived, signed, built, runs)", name));
    }
    mask.Add(*kind);
  }
  return mask;
}

int ReportTraversal(const Context& ctx, const TraverseArgs& args, const TraversalResult& found) {
  const char* direction = args.ancestors ? "ancestors" : "descendants";
  const TraversalResult* result = &found;
  if (ctx.json) {
    JsonWriter w;
    w.BeginObject();
    w.Member("root", result->root);
    w.Member("direction", direction);
    w.MemberUint("count", result->nodes.size());
    w.MemberBool("truncated", result->truncated);
    w.Key("nodes");
    w.BeginArray();
    for (const TraversedNode& node : result->nodes) {
      w.BeginObject();
      w.Member("ref", node.ref);
      w.Member("kind", NodeKindName(node.kind));
      w.MemberUint("depth", node.depth);
      w.EndObject();
    }
    w.EndArray();
    w.EndObject();
    PrintJson(ctx, w);
    return kExitOk;
  }

  if (args.count_only) {
    fmt::print(ctx.out, "{}\n", result->nodes.size());
    return kExitOk;
  }
  fmt::print(ctx.out, "{} of {}\n", direction, result->root);
  if (!result->nodes.empty()) fmt::print(ctx.out, "{:>5}  {:<9} {}\n", "depth", "kind", "ref");
  for (const TraversedNode& node : result->nodes) {
    fmt::print(ctx.out, "{:>5}  {:<9} {}\n", node.depth, NodeKindName(node.kind), node.ref);
  }
  fmt::print(ctx.out, "{} {}{}\n", result->nodes.size(), direction,
             result->truncated ? " (truncated by --limit)" : "");
  return kExitOk;
}

// ------------------------------------------------------------------ show

namespace {

void WriteEdgesJson(JsonWriter& w, const char* key, const std::vector<EdgeInfo>& edges) {
  w.Key(key);
  w.BeginArray();
  for (const EdgeInfo& e : edges) {
    w.BeginObject();
    w.Member("from", e.from);
    w.Member("to", e.to);
    w.Member("kind", EdgeKindName(e.kind));
    w.Member("attestation", e.attestation);
    w.Key("time");
    w.Time(e.time);
    if (e.evidence) {
      w.Key("evidence");
      WriteSignerEvidence(w, *e.evidence);
    }
    w.EndObject();
  }
  w.EndArray();
}

void PrintEdges(const Context& ctx, const char* title, const std::vector<EdgeInfo>& edges,
                bool incoming) {
  fmt::print(ctx.out, "{} ({}):\n", title, edges.size());
  for (const EdgeInfo& e : edges) {
    fmt::print(ctx.out, "  {:<8} {} {}\n           attestation {}  {}\n", EdgeKindName(e.kind),
               incoming ? "from" : "to  ", incoming ? e.from : e.to, e.attestation,
               TimeText(e.time));
    if (e.evidence) fmt::print(ctx.out, "           {}\n", SignerEvidenceText(*e.evidence));
  }
}

}  // namespace

int RunShow(const Context& ctx, const std::string& ref_text) {
  absl::StatusOr<Ref> ref = ParseRef(ref_text);
  if (!ref.ok()) return Fail(ctx, ref.status());
  auto store = OpenForQuery(ctx);
  if (!store.ok()) return Fail(ctx, store.status());
  absl::StatusOr<NodeInfo> node = (*store)->Show(ref->text);
  if (!node.ok()) return Fail(ctx, node.status());
  return ReportShow(ctx, *node);
}

int ReportShow(const Context& ctx, const NodeInfo& node) {
  if (ctx.json) {
    JsonWriter w;
    w.BeginObject();
    w.Member("ref", node.ref);
    w.Member("kind", NodeKindName(node.kind));
    w.Key("aliases");
    w.BeginArray();
    for (const std::string& alias : node.aliases)
      w.String(alias);
    w.EndArray();
    WriteEdgesJson(w, "in_edges", node.in_edges);
    WriteEdgesJson(w, "out_edges", node.out_edges);
    w.EndObject();
    PrintJson(ctx, w);
    return kExitOk;
  }
  fmt::print(ctx.out, "{}\nkind: {}\n", node.ref, NodeKindName(node.kind));
  if (!node.aliases.empty()) {
    fmt::print(ctx.out, "aliases:\n");
    for (const std::string& alias : node.aliases)
      fmt::print(ctx.out, "  {}\n", alias);
  }
  PrintEdges(ctx, "in", node.in_edges, /*incoming=*/true);
  PrintEdges(ctx, "out", node.out_edges, /*incoming=*/false);
  return kExitOk;
}

// ----------------------------------------------------------------- stats

int RunBackup(const Context& ctx, const std::string& dir) {
  if (!fs::exists(fs::path(ctx.db_path) / "CURRENT")) {
    return Fail(ctx, absl::NotFoundError(fmt::format("no lineage database at {}", ctx.db_path)));
  }
  // A checkpoint flushes the memtables first, which a read-only open cannot
  // do; so this takes the database lock, and fails while lineaged holds it.
  StoreOptions options;
  options.create_if_missing = false;
  auto store = Store::Open(ctx.db_path, options);
  if (!store.ok()) {
    std::string hint = absl::IsUnavailable(store.status())
                           ? " (a running lineaged holds it: back up through its Admin.backup)"
                           : "";
    return Fail(ctx,
                absl::Status(store.status().code(),
                             fmt::format("{}: {}{}", ctx.db_path, Message(store.status()), hint)));
  }
  auto start = std::chrono::steady_clock::now();
  if (absl::Status s = (*store)->Checkpoint(dir); !s.ok()) return Fail(ctx, s);
  double ms =
      std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - start).count();
  if (ctx.json) {
    JsonWriter w;
    w.BeginObject();
    w.Member("backup", dir);
    w.Key("duration_ms");
    w.Uint(static_cast<uint64_t>(ms));
    w.EndObject();
    PrintJson(ctx, w);
  } else {
    fmt::print(ctx.out, "backup     {} written in {:.0f} ms (open it with --db {})\n", dir, ms,
               dir);
  }
  return kExitOk;
}

namespace {

// fsyncs `path` (a file or a directory), so that what a rename publishes is
// on disk before the rename is.
absl::Status SyncPath(const fs::path& path, bool directory) {
  int fd = ::open(path.c_str(), (directory ? O_DIRECTORY : 0) | O_RDONLY | O_CLOEXEC);
  if (fd < 0) {
    return absl::InternalError(
        fmt::format("{}: open for fsync: {}", path.string(), strerror(errno)));
  }
  int rc = ::fsync(fd);
  int err = errno;
  ::close(fd);
  if (rc != 0) {
    return absl::InternalError(fmt::format("{}: fsync: {}", path.string(), strerror(err)));
  }
  return absl::OkStatus();
}

// Every file of `dir`, then `dir` itself.
absl::Status SyncTree(const fs::path& dir) {
  std::error_code ec;
  for (const auto& e : fs::recursive_directory_iterator(dir, ec)) {
    absl::Status s = SyncPath(e.path(), e.is_directory());
    if (!s.ok()) return s;
  }
  if (ec) return absl::InternalError(fmt::format("{}: {}", dir.string(), ec.message()));
  return SyncPath(dir, true);
}

}  // namespace

int RunRestore(const Context& ctx, const RestoreArgs& args) {
  std::error_code ec;
  fs::path backup(args.backup);
  // "db/" names db: without this the staging copy would be "db/.restoring"
  // inside the target, and the rename would fail.
  fs::path target = fs::path(args.target).lexically_normal();
  if (!target.has_filename()) target = target.parent_path();
  if (!fs::exists(backup / "CURRENT", ec)) {
    return Fail(ctx, absl::NotFoundError(fmt::format(
                         "restore: {}: not a lineage backup (no CURRENT file)", args.backup)));
  }
  if (fs::exists(target, ec) && (!fs::is_directory(target, ec) || !fs::is_empty(target, ec))) {
    return Fail(ctx, absl::InvalidArgumentError(fmt::format(
                         "restore: {} exists and is not an empty directory; restore never "
                         "overwrites: give a new path",
                         args.target)));
  }
  if (target.empty() || target == "." || target == ".." || target.filename() == "..") {
    return Fail(ctx, absl::InvalidArgumentError(fmt::format(
                         "restore: {}: give the new database's own path", args.target)));
  }
  fs::path parent = target.has_parent_path() ? target.parent_path() : fs::path(".");
  if (!fs::is_directory(parent, ec)) {
    return Fail(ctx, absl::InvalidArgumentError(
                         fmt::format("restore: {}: no such directory", parent.string())));
  }
  // A checkpoint holds regular files only; a symlink in one would be
  // followed by the copy and could pull in any file this user can read.
  for (auto it = fs::recursive_directory_iterator(backup, ec); !ec && it != fs::end(it);
       it.increment(ec)) {
    if (it->is_symlink(ec) || (!it->is_regular_file(ec) && !it->is_directory(ec))) {
      return Fail(ctx, absl::InvalidArgumentError(fmt::format(
                           "restore: {}: {} is not a regular file; a lineage backup holds only "
                           "regular files (nothing restored)",
                           args.backup, it->path().string())));
    }
  }
  if (ec) {
    return Fail(ctx, absl::InternalError(
                         fmt::format("restore: reading {}: {}", args.backup, ec.message())));
  }

  // Copy beside the target, so that the final rename stays on one file
  // system and is atomic. Files are copied, not linked: the backup stays
  // untouched by the restored database's compactions.
  auto start = std::chrono::steady_clock::now();
  fs::path staging = parent / fmt::format(".{}.restoring-{}", target.filename().string(), getpid());
  fs::remove_all(staging, ec);
  auto cleanup = [&] { fs::remove_all(staging, ec); };
  fs::copy(backup, staging, fs::copy_options::recursive, ec);
  if (ec) {
    cleanup();
    return Fail(ctx, absl::InternalError(fmt::format("restore: copying {} to {}: {}", args.backup,
                                                     staging.string(), ec.message())));
  }

  uint64_t entries = 0;
  std::string head;
  {
    StoreOptions options;
    options.create_if_missing = false;
    auto store = Store::Open(staging.string(), options);
    if (!store.ok()) {
      cleanup();
      return Fail(ctx, absl::Status(store.status().code(),
                                    fmt::format("restore: {} does not open: {}", args.backup,
                                                Message(store.status()))));
    }
    absl::StatusOr<AuditVerification> verified = (*store)->VerifyAudit();
    // Closed before anything is removed or renamed: RocksDB's background
    // threads may still write files into the directory while it is open.
    store->reset();
    if (!verified.ok() || !verified->ok) {
      std::string why = !verified.ok() ? Message(verified.status())
                        : verified->problems.empty()
                            ? std::string("the audit chain does not verify")
                            : verified->problems.front();
      cleanup();
      fmt::print(ctx.err, "lineage: restore: {}: audit chain: {}; nothing restored\n", args.backup,
                 why);
      return verified.ok() ? kExitAuditFailed : kExitError;
    }
    entries = verified->entries;
    head = verified->head_hash;
  }
  // The chain verifies by itself; --expect-head ties it to the head the
  // operator recorded, so a whole chain rewritten consistently is caught.
  if (!args.expect_head.empty() && args.expect_head != head) {
    cleanup();
    fmt::print(ctx.err,
               "lineage: restore: {}: audit chain head is {}, expected {} (--expect-head); "
               "nothing restored\n",
               args.backup, head, args.expect_head);
    return kExitAuditFailed;
  }
  if (absl::Status synced = SyncTree(staging); !synced.ok()) {
    cleanup();
    return Fail(ctx, absl::InternalError(fmt::format("restore: {}", Message(synced))));
  }

  // An empty target directory is replaced by the verified copy.
  if (fs::exists(target, ec)) fs::remove(target, ec);
  fs::rename(staging, target, ec);
  if (ec) {
    cleanup();
    return Fail(ctx, absl::InternalError(fmt::format("restore: renaming {} to {}: {}",
                                                     staging.string(), args.target, ec.message())));
  }
  if (absl::Status synced = SyncPath(parent, true); !synced.ok()) {
    return Fail(ctx, absl::InternalError(fmt::format("restore: {}", Message(synced))));
  }
  double ms =
      std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - start).count();
  if (ctx.json) {
    JsonWriter w;
    w.BeginObject();
    w.Member("restored", args.target);
    w.Member("from", args.backup);
    w.MemberUint("audit_entries", entries);
    w.Member("audit_head_hash", head);
    w.Key("duration_ms");
    w.Uint(static_cast<uint64_t>(ms));
    w.EndObject();
    PrintJson(ctx, w);
  } else {
    fmt::print(ctx.out,
               "restored   {} from {} in {:.0f} ms; audit chain verified ({} entr{}, head {})\n",
               args.target, args.backup, ms, entries, entries == 1 ? "y" : "ies", head);
  }
  return kExitOk;
}

int RunStats(const Context& ctx) {
  auto store = OpenForQuery(ctx);
  if (!store.ok()) return Fail(ctx, store.status());
  absl::StatusOr<StoreStats> stats = (*store)->Stats();
  if (!stats.ok()) return Fail(ctx, stats.status());
  return ReportStats(ctx, *stats, "database      " + ctx.db_path);
}

int ReportStats(const Context& ctx, const StoreStats& found, const std::string& where) {
  const StoreStats* stats = &found;
  uint64_t nodes = 0, edges = 0;
  for (uint64_t n : stats->nodes_by_kind)
    nodes += n;
  for (uint64_t e : stats->edges_by_kind)
    edges += e;

  if (ctx.json) {
    JsonWriter w;
    w.BeginObject();
    w.Key("nodes");
    w.BeginObject();
    w.MemberUint("total", nodes);
    for (int i = 0; i < kNodeKindCount; ++i) {
      w.MemberUint(NodeKindName(static_cast<NodeKind>(i + 1)), stats->nodes_by_kind[i]);
    }
    w.EndObject();
    w.Key("edges");
    w.BeginObject();
    w.MemberUint("total", edges);
    for (int i = 0; i < kEdgeKindCount; ++i) {
      w.MemberUint(EdgeKindName(static_cast<EdgeKind>(i + 1)), stats->edges_by_kind[i]);
    }
    w.MemberUint("assertions", stats->edge_assertions);
    w.EndObject();
    w.Key("attestations");
    w.BeginObject();
    w.MemberUint("total", stats->attestations);
    w.MemberUint("unsigned", stats->unsigned_attestations);
    w.EndObject();
    w.MemberUint("db_bytes", stats->db_bytes);
    w.EndObject();
    PrintJson(ctx, w);
    return kExitOk;
  }
  fmt::print(ctx.out, "{}\n", where);
  fmt::print(ctx.out, "nodes         {}\n", nodes);
  for (int i = 0; i < kNodeKindCount; ++i) {
    fmt::print(ctx.out, "  {:<11} {}\n", NodeKindName(static_cast<NodeKind>(i + 1)),
               stats->nodes_by_kind[i]);
  }
  fmt::print(ctx.out, "edges         {} ({} assertions)\n", edges, stats->edge_assertions);
  for (int i = 0; i < kEdgeKindCount; ++i) {
    fmt::print(ctx.out, "  {:<11} {}\n", EdgeKindName(static_cast<EdgeKind>(i + 1)),
               stats->edges_by_kind[i]);
  }
  fmt::print(ctx.out, "attestations  {} ({} unsigned)\n", stats->attestations,
             stats->unsigned_attestations);
  fmt::print(ctx.out, "size on disk  {:.1f} MiB\n", stats->db_bytes / (1024.0 * 1024.0));
  return kExitOk;
}

}  // namespace lineage::cli
