#include "cli/revoke_commands.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cctype>
#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <functional>
#include <memory>
#include <set>
#include <string_view>
#include <tuple>

#include <fmt/format.h>

#include "absl/status/statusor.h"
#include "absl/time/clock.h"
#include "cli/output.h"
#include "cli/store_access.h"
#include "engine/include/lineage/ref.h"
#include "engine/include/lineage/store.h"

namespace lineage::cli {
namespace {

namespace fs = std::filesystem;

// Pages for the log readers: big enough to be cheap, small enough that one
// page of a huge log never holds the whole history in memory at once.
constexpr size_t kDenyListPage = 1000;
constexpr size_t kAuditPage = 1000;

// Attestation ids are 64 hex digits; human output shows a prefix that is
// still unique in practice and greppable with `lineage show`.
constexpr size_t kShortIdChars = 12;

int Fail(const Context& ctx, std::string_view command, const absl::Status& status) {
  fmt::print(ctx.err, "lineage {}: {}\n", command, Message(status));
  return RevocationExitCode(status);
}

int Usage(const Context& ctx, std::string_view command, std::string_view message) {
  fmt::print(ctx.err, "lineage {}: {} (see lineage {} --help)\n", command, message, command);
  return kExitUsage;
}

void PrintJson(const Context& ctx, JsonWriter& w) {
  std::string text = w.Take();
  text += '\n';
  std::fwrite(text.data(), 1, text.size(), ctx.out);
}

// RFC 3339 with any offset ("2026-01-02T03:04:05Z", "...+02:00", fractions).
absl::StatusOr<absl::Time> ParseTimeFlag(std::string_view flag, const std::string& text) {
  absl::Time time;
  std::string error;
  if (!absl::ParseTime(absl::RFC3339_full, text, &time, &error)) {
    return absl::InvalidArgumentError(fmt::format(
        "{} {}: not an RFC 3339 time like 2026-01-02T03:04:05Z ({})", flag, text, error));
  }
  return time;
}

bool Unbounded(absl::Time t) {
  return t == absl::InfinitePast() || t == absl::InfiniteFuture();
}

// Human form of a time that may be an open bound or "not yet": whole
// seconds, so that columns line up (JSON keeps the full precision).
std::string TimeOrDash(absl::Time t) {
  if (Unbounded(t)) return "-";
  return absl::FormatTime("%Y-%m-%dT%H:%M:%SZ", t, absl::UTCTimeZone());
}

// JSON form of the same: null for an open bound.
void JsonTime(JsonWriter& w, std::string_view key, absl::Time t) {
  w.Key(key);
  if (Unbounded(t)) {
    w.Null();
  } else {
    w.String(TimeText(t));
  }
}

// Quotes a word for a POSIX shell when it needs it, so that printed next
// commands can be pasted as they are.
std::string ShellQuote(std::string_view word) {
  bool safe = !word.empty() && std::all_of(word.begin(), word.end(), [](char c) {
    return std::isalnum(static_cast<unsigned char>(c)) || std::strchr("@%+=:,./_-", c) != nullptr;
  });
  if (safe) return std::string(word);
  std::string quoted = "'";
  for (char c : word) {
    if (c == '\'') {
      quoted += "'\\''";
    } else {
      quoted += c;
    }
  }
  return quoted + "'";
}

std::string LineagePrefix(const Context& ctx) {
  if (!ctx.server.empty()) return fmt::format("lineage --server {}", ShellQuote(ctx.server));
  return fmt::format("lineage --db {}", ShellQuote(ctx.db_path));
}

std::string ShortId(std::string_view id) {
  return std::string(id.substr(0, kShortIdChars));
}

std::string Join(const std::vector<std::string>& parts, std::string_view separator) {
  std::string joined;
  for (size_t i = 0; i < parts.size(); ++i) {
    if (i > 0) joined += separator;
    joined += parts[i];
  }
  return joined;
}

std::string Plural(uint64_t n, std::string_view singular, std::string_view plural) {
  return fmt::format("{} {}", n, n == 1 ? singular : plural);
}

}  // namespace

absl::Status WriteFileAtomically(const std::string& path, std::string_view content) {
  fs::path target(path);
  fs::path dir = target.has_parent_path() ? target.parent_path() : fs::path(".");
  std::string temp = (dir / ("." + target.filename().string() + ".tmp-XXXXXX")).string();
  int fd = mkstemp(temp.data());
  if (fd < 0) {
    return absl::UnavailableError(fmt::format("{}: cannot create a temporary file in {}: {}", path,
                                              dir.string(), std::strerror(errno)));
  }
  auto fail = [&](std::string_view what) {
    absl::Status status =
        absl::UnavailableError(fmt::format("{}: {}: {}", path, what, std::strerror(errno)));
    close(fd);
    unlink(temp.c_str());
    return status;
  };
  for (size_t done = 0; done < content.size();) {
    ssize_t n = write(fd, content.data() + done, content.size() - done);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) return fail("write");
    done += static_cast<size_t>(n);
  }
  // mkstemp creates 0600; exported deny lists and evidence are meant to be
  // read by other users (gates, auditors).
  if (fchmod(fd, 0644) != 0) return fail("chmod");
  if (fsync(fd) != 0) return fail("fsync");
  if (close(fd) != 0) {
    unlink(temp.c_str());
    return absl::UnavailableError(fmt::format("{}: close: {}", path, std::strerror(errno)));
  }
  if (std::rename(temp.c_str(), path.c_str()) != 0) {
    absl::Status status =
        absl::UnavailableError(fmt::format("{}: rename: {}", path, std::strerror(errno)));
    unlink(temp.c_str());
    return status;
  }
  // Without this the rename itself may not survive a power loss.
  int dir_fd = open(dir.c_str(), O_RDONLY | O_DIRECTORY);
  if (dir_fd >= 0) {
    int synced = fsync(dir_fd);
    close(dir_fd);
    if (synced != 0) {
      return absl::UnavailableError(
          fmt::format("{}: fsync of {}: {}", path, dir.string(), std::strerror(errno)));
    }
  }
  return absl::OkStatus();
}

namespace {

// ------------------------------------------------------------ JSON shapes

void JsonEvidence(JsonWriter& w, std::string_view key, const std::vector<SignerEvidence>& values) {
  w.Key(key);
  w.BeginArray();
  for (const SignerEvidence& e : values)
    WriteSignerEvidence(w, e);
  w.EndArray();
}

void JsonStrings(JsonWriter& w, std::string_view key, const std::vector<std::string>& values) {
  w.Key(key);
  w.BeginArray();
  for (const std::string& v : values)
    w.String(v);
  w.EndArray();
}

void JsonRoots(JsonWriter& w, const std::vector<RevocationRoot>& roots) {
  w.Key("roots");
  w.BeginArray();
  for (const RevocationRoot& root : roots) {
    w.BeginObject();
    w.Member("ref", root.ref);
    JsonTime(w, "since", root.since);
    JsonTime(w, "until", root.until);
    w.EndObject();
  }
  w.EndArray();
}

void JsonApprovals(JsonWriter& w, const std::vector<Approval>& approvals) {
  w.Key("approvals");
  w.BeginArray();
  for (const Approval& a : approvals) {
    w.BeginObject();
    w.Member("principal", a.principal);
    JsonTime(w, "time", a.time);
    w.EndObject();
  }
  w.EndArray();
}

std::string_view PlanStateName(PlanState state) {
  return state == PlanState::kEnforced ? "enforced" : "pending";
}

std::string_view RevocationStateName(RevocationState state) {
  return state == RevocationState::kLifted ? "lifted" : "active";
}

void JsonPlan(JsonWriter& w, const Plan& plan) {
  w.BeginObject();
  w.Member("id", plan.id);
  w.Member("state", PlanStateName(plan.state));
  w.Member("reason", plan.reason);
  w.Member("mode", RevocationModeName(plan.mode));
  w.Member("created_by", plan.created_by);
  JsonTime(w, "created_at", plan.created_at);
  JsonRoots(w, plan.roots);
  w.Key("per_root");
  w.BeginArray();
  for (const RootSummary& r : plan.per_root) {
    w.BeginObject();
    w.Member("ref", r.ref);
    w.Member("kind", NodeKindName(r.kind));
    w.MemberBool("known", r.known);
    w.MemberUint("subjects", r.subjects);
    w.MemberUint("artifacts", r.artifacts);
    w.MemberUint("shared", r.shared);
    w.EndObject();
  }
  w.EndArray();
  w.MemberUint("artifact_count", plan.artifact_count);
  w.Key("artifacts_by_depth");
  w.BeginArray();
  for (uint64_t n : plan.artifacts_by_depth)
    w.Uint(n);
  w.EndArray();
  JsonStrings(w, "artifacts", plan.artifacts);
  w.MemberUint("workload_count", plan.workload_count);
  JsonStrings(w, "workloads", plan.workloads);
  w.MemberBool("bulk", plan.bulk);
  w.MemberUint("approvals_required", plan.bulk ? 2 : 0);
  JsonApprovals(w, plan.approvals);
  w.Key("revocation");
  if (plan.revocation.empty()) {
    w.Null();
  } else {
    w.String(plan.revocation);
  }
  w.EndObject();
}

void JsonRevocation(JsonWriter& w, const Revocation& rev) {
  w.BeginObject();
  w.Member("id", rev.id);
  w.Member("plan_id", rev.plan_id);
  w.Member("state", RevocationStateName(rev.state));
  w.Member("mode", RevocationModeName(rev.mode));
  w.Member("reason", rev.reason);
  JsonRoots(w, rev.roots);
  w.Member("created_by", rev.created_by);
  JsonApprovals(w, rev.approvals);
  w.Member("enforced_by", rev.enforced_by);
  JsonTime(w, "enforced_at", rev.enforced_at);
  w.MemberUint("enforced_seq", rev.enforced_seq);
  w.MemberUint("artifact_count", rev.artifact_count);
  w.Key("lifted_by");
  if (rev.state == RevocationState::kLifted) {
    w.String(rev.lifted_by);
  } else {
    w.Null();
  }
  JsonTime(w, "lifted_at", rev.lifted_at);
  w.Key("lift_reason");
  if (rev.state == RevocationState::kLifted) {
    w.String(rev.lift_reason);
  } else {
    w.Null();
  }
  w.EndObject();
}

void JsonChange(JsonWriter& w, const ClosureChange& change) {
  w.BeginObject();
  w.MemberUint("added", change.added);
  w.MemberUint("removed", change.removed);
  JsonStrings(w, "added_sample", change.added_sample);
  JsonStrings(w, "removed_sample", change.removed_sample);
  w.MemberUint("workloads_added", change.workloads_added);
  w.MemberUint("workloads_removed", change.workloads_removed);
  w.EndObject();
}

void JsonEnforceResult(JsonWriter& w, const EnforceResult& result) {
  w.BeginObject();
  w.MemberBool("enforced", result.enforced);
  w.Key("change");
  JsonChange(w, result.change);
  w.Key("revocation");
  if (result.enforced) {
    JsonRevocation(w, result.revocation);
  } else {
    w.Null();
  }
  w.MemberUint("newly_denied", result.newly_denied);
  w.MemberUint("deny_seq", result.deny_seq);
  JsonStrings(w, "workloads", result.workloads);
  w.MemberUint("duration_us", static_cast<uint64_t>(absl::ToInt64Microseconds(result.duration)));
  w.EndObject();
}

// --------------------------------------------------------- human output

// The root's window as "[since, until)" or "" when it has none.
std::string WindowText(const RevocationRoot& root) {
  if (root.since == absl::InfinitePast() && root.until == absl::InfiniteFuture()) return "";
  return fmt::format("[{}, {})", TimeOrDash(root.since), TimeOrDash(root.until));
}

const RevocationRoot* FindRoot(const std::vector<RevocationRoot>& roots, std::string_view ref) {
  for (const RevocationRoot& root : roots) {
    if (root.ref == ref) return &root;
  }
  return nullptr;
}

std::string ApprovalsText(const std::vector<Approval>& approvals) {
  if (approvals.empty()) return "none";
  std::vector<std::string> parts;
  for (const Approval& a : approvals) {
    parts.push_back(fmt::format("{} ({})", a.principal, TimeOrDash(a.time)));
  }
  return Join(parts, ", ");
}

void PrintNextSteps(const Context& ctx, const Plan& plan) {
  if (plan.state == PlanState::kEnforced) {
    fmt::print(ctx.out, "enforced as {}\n", plan.revocation);
    return;
  }
  std::string prefix = LineagePrefix(ctx);
  fmt::print(ctx.out, "next:\n");
  size_t approvals = plan.approvals.size();
  if (plan.bulk && approvals < 2) {
    fmt::print(ctx.out, "  # {} more approval{} by distinct principals other than the enforcer:\n",
               2 - approvals, approvals == 1 ? "" : "s");
    fmt::print(ctx.out, "  {} approve {} --as <approver>\n", prefix, plan.id);
  } else if (plan.bulk && approvals == 2) {
    // Each approver would leave only one approval that is not their own.
    fmt::print(ctx.out, "  # approved by {} and {}: a third principal enforces:\n",
               plan.approvals[0].principal, plan.approvals[1].principal);
  }
  fmt::print(ctx.out, "  {} enforce {} --as <enforcer>\n", prefix, plan.id);
}

// The review a responder reads before enforcing: what would be denied, how
// each root contributes, and who it hits.
void PrintPlan(const Context& ctx, const Plan& plan, bool dry_run) {
  fmt::print(ctx.out, "plan       {}\n", plan.id);
  fmt::print(ctx.out, "state      {}{}\n", PlanStateName(plan.state),
             dry_run ? " (dry run: nothing was denied)" : "");
  fmt::print(ctx.out, "reason     {}\n", plan.reason);
  fmt::print(ctx.out, "mode       {}\n", RevocationModeName(plan.mode));
  fmt::print(ctx.out, "created    {} by {}\n", TimeOrDash(plan.created_at), plan.created_by);

  size_t ref_width = 4;
  bool any_window = false;
  for (const RootSummary& r : plan.per_root)
    ref_width = std::max(ref_width, r.ref.size());
  for (const RevocationRoot& root : plan.roots)
    any_window |= !WindowText(root).empty();
  fmt::print(ctx.out, "roots ({}):\n", plan.per_root.size());
  fmt::print(ctx.out, "  {:<{}}  {:<8}  {:<5}  {:>8}  {:>9}  {:>6}{}\n", "ref", ref_width, "kind",
             "known", "subjects", "artifacts", "shared", any_window ? "  window" : "");
  for (const RootSummary& r : plan.per_root) {
    const RevocationRoot* root = FindRoot(plan.roots, r.ref);
    std::string subjects = r.kind == NodeKind::kArtifact ? "-" : fmt::format("{}", r.subjects);
    std::string window = root != nullptr ? WindowText(*root) : "";
    fmt::print(ctx.out, "  {:<{}}  {:<8}  {:<5}  {:>8}  {:>9}  {:>6}{}\n", r.ref, ref_width,
               NodeKindName(r.kind), r.known ? "yes" : "no", subjects, r.artifacts, r.shared,
               window.empty() ? "" : "  " + window);
  }

  fmt::print(ctx.out, "closure    {} (union of the roots), {}\n",
             Plural(plan.artifact_count, "artifact", "artifacts"),
             Plural(plan.workload_count, "affected workload", "affected workloads"));
  if (!plan.artifacts_by_depth.empty()) {
    std::vector<std::string> depths;
    for (size_t d = 0; d < plan.artifacts_by_depth.size(); ++d) {
      depths.push_back(fmt::format("{}:{}", d, plan.artifacts_by_depth[d]));
    }
    fmt::print(ctx.out, "by depth   {}\n", Join(depths, "  "));
  }
  if (plan.bulk) {
    fmt::print(ctx.out,
               "bulk       yes: needs approvals by 2 distinct principals other than the "
               "enforcer\n");
  } else {
    fmt::print(ctx.out, "bulk       no: may be enforced without approvals\n");
  }
  fmt::print(ctx.out, "approvals  {}\n", ApprovalsText(plan.approvals));

  fmt::print(ctx.out, "artifacts ({} of {}):\n", plan.artifacts.size(), plan.artifact_count);
  for (const std::string& a : plan.artifacts)
    fmt::print(ctx.out, "  {}\n", a);
  fmt::print(ctx.out, "workloads ({} of {}):\n", plan.workloads.size(), plan.workload_count);
  for (const std::string& wl : plan.workloads)
    fmt::print(ctx.out, "  {}\n", wl);
}

void PrintSamples(const Context& ctx, char sign, uint64_t total,
                  const std::vector<std::string>& sample) {
  for (const std::string& ref : sample)
    fmt::print(ctx.out, "    {}{}\n", sign, ref);
  if (total > sample.size()) {
    fmt::print(ctx.out, "    … and {} more\n", total - sample.size());
  }
}

// The command that re-reviews the same roots against the current graph.
std::string ReplanCommand(const Context& ctx, const Plan& plan) {
  std::string command = LineagePrefix(ctx) + " revoke";
  for (const RevocationRoot& root : plan.roots) {
    absl::StatusOr<Ref> ref = ParseRef(root.ref);
    std::string_view flag = !ref.ok()                         ? "--digest"
                            : ref->kind == NodeKind::kKey     ? "--key"
                            : ref->kind == NodeKind::kBuilder ? "--builder"
                                                              : "--digest";
    command += fmt::format(" {} {}", flag, ShellQuote(root.ref));
  }
  // One window applies to all key and builder roots (the CLI sets them
  // together), so the first windowed root speaks for the rest.
  for (const RevocationRoot& root : plan.roots) {
    if (root.since != absl::InfinitePast()) command += " --since " + TimeText(root.since);
    if (root.until != absl::InfiniteFuture()) command += " --until " + TimeText(root.until);
    if (!WindowText(root).empty()) break;
  }
  command += " --reason " + ShellQuote(plan.reason);
  if (plan.mode == RevocationMode::kAdvisory) command += " --advisory";
  return command + " --dry-run --as <you>";
}

void PrintChange(const Context& ctx, const ClosureChange& change) {
  fmt::print(ctx.out, "closure changed since review:\n");
  fmt::print(ctx.out, "  artifacts  +{} -{}\n", change.added, change.removed);
  PrintSamples(ctx, '+', change.added, change.added_sample);
  PrintSamples(ctx, '-', change.removed, change.removed_sample);
  fmt::print(ctx.out, "  workloads  +{} -{}\n", change.workloads_added, change.workloads_removed);
}

void PrintEnforced(const Context& ctx, const EnforceResult& result) {
  const Revocation& rev = result.revocation;
  fmt::print(ctx.out, "enforced   {} (plan {})\n", rev.id, rev.plan_id);
  fmt::print(ctx.out, "mode       {}\n", RevocationModeName(rev.mode));
  fmt::print(ctx.out, "denied     {} newly denied; deny-list seq {}\n",
             Plural(result.newly_denied, "digest", "digests"), result.deny_seq);
  fmt::print(ctx.out, "took       {:.1f} ms\n", absl::ToDoubleMilliseconds(result.duration));
  if (!result.change.empty()) {
    fmt::print(ctx.out, "accepted   closure change +{} -{} artifacts, +{} -{} workloads\n",
               result.change.added, result.change.removed, result.change.workloads_added,
               result.change.workloads_removed);
  }
  fmt::print(ctx.out, "workloads  {} affected\n", result.workloads.size());
  for (const std::string& wl : result.workloads)
    fmt::print(ctx.out, "  {}\n", wl);
}

// Reports enforced = false: the review no longer matches the graph.
int ClosureChanged(const Context& ctx, std::string_view command, const Plan& plan,
                   const EnforceResult& result) {
  fmt::print(ctx.err,
             "lineage {}: the closure changed since plan {} was reviewed; nothing was enforced\n",
             command, plan.id);
  if (ctx.json) return kExitPrecondition;
  PrintChange(ctx, result.change);
  fmt::print(ctx.out, "to proceed, either review the current closure as a new plan:\n  {}\n",
             ReplanCommand(ctx, plan));
  fmt::print(ctx.out,
             "or enforce the current closure as it is now:\n  {} enforce {} --as {} "
             "--accept-changes\n",
             LineagePrefix(ctx), plan.id, "<enforcer>");
  return kExitPrecondition;
}

// ------------------------------------------------------------ revoke

// Accepts "key:..." or a bare fingerprint/keyid for --key, and
// "builder:..." or a bare builder id for --builder (builder ids are usually
// URLs, which must not be mistaken for digests of an unknown algorithm).
absl::StatusOr<std::string> RootRef(std::string_view flag, std::string_view text, NodeKind kind) {
  std::string candidate(text);
  if (kind == NodeKind::kKey && candidate.rfind("key:", 0) != 0) candidate = "key:" + candidate;
  if (kind == NodeKind::kBuilder && candidate.rfind("builder:", 0) != 0) {
    candidate = "builder:" + candidate;
  }
  absl::StatusOr<Ref> ref = ParseRef(candidate);
  if (!ref.ok())
    return absl::InvalidArgumentError(fmt::format("{} {}: {}", flag, text, Message(ref.status())));
  if (ref->kind != kind) {
    return absl::InvalidArgumentError(fmt::format("{} {}: a {} ref, not a {} ref", flag, text,
                                                  NodeKindName(ref->kind), NodeKindName(kind)));
  }
  return ref->text;
}

std::string_view Trim(std::string_view s) {
  while (!s.empty() && std::isspace(static_cast<unsigned char>(s.front())))
    s.remove_prefix(1);
  while (!s.empty() && std::isspace(static_cast<unsigned char>(s.back())))
    s.remove_suffix(1);
  return s;
}

struct FileRoot {
  std::string ref;  // canonical
  NodeKind kind;
};

// One ref per line. A line whose first non-blank character is '#' is a
// comment, and so is the rest of a line after blank + '#'; a '#' inside a ref
// (a builder URL with a fragment) is kept.
absl::StatusOr<std::vector<FileRoot>> ReadRootsFile(const std::string& path) {
  std::ifstream in(path);
  if (!in) {
    return absl::InvalidArgumentError(
        fmt::format("--roots-from {}: cannot open: {}", path, std::strerror(errno)));
  }
  std::vector<FileRoot> roots;
  std::string line;
  for (size_t number = 1; std::getline(in, line); ++number) {
    std::string_view text = Trim(line);
    for (size_t i = 1; i < text.size(); ++i) {
      if (text[i] == '#' && std::isspace(static_cast<unsigned char>(text[i - 1]))) {
        text = Trim(text.substr(0, i));
        break;
      }
    }
    if (text.empty() || text.front() == '#') continue;
    absl::StatusOr<Ref> ref = ParseRef(text);
    if (!ref.ok()) {
      return absl::InvalidArgumentError(
          fmt::format("{}:{}: {}", path, number, Message(ref.status())));
    }
    if (ref->kind == NodeKind::kWorkload) {
      return absl::InvalidArgumentError(fmt::format(
          "{}:{}: {} is a workload; revoke a digest, key or builder", path, number, ref->text));
    }
    roots.push_back({ref->text, ref->kind});
  }
  if (in.bad()) {
    return absl::InvalidArgumentError(
        fmt::format("--roots-from {}: read error: {}", path, std::strerror(errno)));
  }
  return roots;
}

// The roots named by --digest, --key, --builder and --roots-from, in that
// order, canonical.
absl::StatusOr<std::vector<FileRoot>> CollectRoots(const RevokeArgs& args) {
  std::vector<FileRoot> roots;
  struct Flag {
    const char* name;
    const std::vector<std::string>* values;
    NodeKind kind;
  };
  for (const Flag& flag : {Flag{"--digest", &args.digests, NodeKind::kArtifact},
                           Flag{"--key", &args.keys, NodeKind::kKey},
                           Flag{"--builder", &args.builders, NodeKind::kBuilder}}) {
    for (const std::string& text : *flag.values) {
      absl::StatusOr<std::string> ref = RootRef(flag.name, text, flag.kind);
      if (!ref.ok()) return ref.status();
      roots.push_back({*ref, flag.kind});
    }
  }
  if (!args.roots_from.empty()) {
    absl::StatusOr<std::vector<FileRoot>> from_file = ReadRootsFile(args.roots_from);
    if (!from_file.ok()) return from_file.status();
    roots.insert(roots.end(), from_file->begin(), from_file->end());
  }
  if (roots.empty()) {
    return absl::InvalidArgumentError(
        "give at least one root: --digest D, --key K, --builder B or --roots-from FILE");
  }
  return roots;
}

struct Window {
  absl::Time since = absl::InfinitePast();
  absl::Time until = absl::InfiniteFuture();
};

absl::StatusOr<Window> ParseWindow(const RevokeArgs& args, const std::vector<FileRoot>& roots) {
  Window window;
  for (auto [flag, text, time] : {std::tuple{"--since", &args.since, &window.since},
                                  std::tuple{"--until", &args.until, &window.until}}) {
    if (text->empty()) continue;
    absl::StatusOr<absl::Time> t = ParseTimeFlag(flag, *text);
    if (!t.ok()) return t.status();
    *time = *t;
  }
  bool windowed = !args.since.empty() || !args.until.empty();
  bool has_signer_root = std::any_of(
      roots.begin(), roots.end(), [](const FileRoot& r) { return r.kind != NodeKind::kArtifact; });
  // A window on a digest would silently mean nothing (a digest root is the
  // artifact itself, whenever it was made), so it is refused.
  if (windowed && !has_signer_root) {
    return absl::InvalidArgumentError(
        "--since/--until apply to --key and --builder roots; these roots are all digests");
  }
  if (window.since >= window.until) {
    return absl::InvalidArgumentError(fmt::format("--since {} is not before --until {}",
                                                  TimeText(window.since), TimeText(window.until)));
  }
  return window;
}

}  // namespace

absl::StatusOr<PlanRequest> BuildPlanRequest(const RevokeArgs& args) {
  absl::StatusOr<std::vector<FileRoot>> roots = CollectRoots(args);
  if (!roots.ok()) return roots.status();
  absl::StatusOr<Window> window = ParseWindow(args, *roots);
  if (!window.ok()) return window.status();
  if (args.reason.empty()) {
    return absl::InvalidArgumentError("--reason TEXT is required: every blocked developer sees it");
  }

  PlanRequest request;
  for (const FileRoot& r : *roots) {
    RevocationRoot root{r.ref};
    if (r.kind != NodeKind::kArtifact) {
      root.since = window->since;
      root.until = window->until;
    }
    request.roots.push_back(std::move(root));
  }
  request.reason = args.reason;
  request.mode = args.advisory ? RevocationMode::kAdvisory : RevocationMode::kEnforce;
  request.actor = args.as;
  return request;
}

namespace {

PlanListing Listing(uint64_t list) {
  return PlanListing{list, list};
}

int MissingPrincipal(const Context& ctx, std::string_view command) {
  return Usage(ctx, command, "--as PRINCIPAL is required (or set $LINEAGE_PRINCIPAL)");
}

void JsonRevokeDocument(const Context& ctx, bool dry_run, std::string_view status, const Plan& plan,
                        const EnforceResult* result) {
  JsonWriter w;
  w.BeginObject();
  w.MemberBool("dry_run", dry_run);
  w.Member("status", status);
  w.Key("plan");
  JsonPlan(w, plan);
  if (result != nullptr) {
    w.Key("enforce");
    JsonEnforceResult(w, *result);
  }
  w.EndObject();
  PrintJson(ctx, w);
}

}  // namespace

int ReportFailure(const Context& ctx, std::string_view command, const absl::Status& status) {
  return Fail(ctx, command, status);
}

int ReportUsage(const Context& ctx, std::string_view command, std::string_view message) {
  return Usage(ctx, command, message);
}

int ReportMissingPrincipal(const Context& ctx, std::string_view command) {
  return MissingPrincipal(ctx, command);
}

int RevocationExitCode(const absl::Status& status) {
  switch (status.code()) {
    case absl::StatusCode::kInvalidArgument:
      return kExitUsage;
    case absl::StatusCode::kNotFound:
      return kExitNotFound;
    case absl::StatusCode::kFailedPrecondition:
    case absl::StatusCode::kPermissionDenied:
    case absl::StatusCode::kAlreadyExists:
      return kExitPrecondition;
    default:
      return kExitError;
  }
}

int RunRevoke(const Context& ctx, const RevokeArgs& args) {
  constexpr std::string_view kCmd = "revoke";
  if (args.as.empty()) return MissingPrincipal(ctx, kCmd);
  absl::StatusOr<PlanRequest> request = BuildPlanRequest(args);
  if (!request.ok()) return Usage(ctx, kCmd, Message(request.status()));

  auto store = OpenForWrite(ctx);
  if (!store.ok()) return Fail(ctx, kCmd, store.status());
  absl::StatusOr<Plan> plan = (*store)->CreatePlan(*request, Listing(args.list));
  if (!plan.ok()) return Fail(ctx, kCmd, plan.status());
  return ReportRevoke(ctx, args, *plan, [&](const std::string& plan_id) {
    return (*store)->Enforce(plan_id, EnforceOptions{args.as});
  });
}

int ReportRevoke(const Context& ctx, const RevokeArgs& args, const Plan& made,
                 const std::function<absl::StatusOr<EnforceResult>(const std::string&)>& enforce) {
  constexpr std::string_view kCmd = "revoke";
  const Plan* plan = &made;
  if (args.dry_run) {
    if (ctx.json) {
      JsonRevokeDocument(ctx, true, "planned", *plan, nullptr);
    } else {
      PrintPlan(ctx, *plan, /*dry_run=*/true);
      PrintNextSteps(ctx, *plan);
    }
    return kExitOk;
  }

  // The two-person rule: a bulk plan stops here, stored and reviewable, until
  // two others approve it.
  if (plan->bulk) {
    if (ctx.json) {
      JsonRevokeDocument(ctx, false, "needs_approval", *plan, nullptr);
    } else {
      PrintPlan(ctx, *plan, /*dry_run=*/false);
      PrintNextSteps(ctx, *plan);
    }
    fmt::print(ctx.err,
               "lineage revoke: plan {} is bulk and needs approvals by 2 distinct principals "
               "other than the enforcer; nothing was denied yet\n",
               plan->id);
    return kExitPrecondition;
  }

  absl::StatusOr<EnforceResult> result = enforce(plan->id);
  if (!result.ok()) return Fail(ctx, kCmd, result.status());
  if (!result->enforced) {
    // Another writer changed the graph between our plan and our enforce.
    if (ctx.json) JsonRevokeDocument(ctx, false, "closure_changed", *plan, &*result);
    return ClosureChanged(ctx, kCmd, *plan, *result);
  }
  if (ctx.json) {
    JsonRevokeDocument(ctx, false, "enforced", *plan, &*result);
  } else {
    PrintEnforced(ctx, *result);
  }
  return kExitOk;
}

// ------------------------------------------------------------- plans

int RunPlanShow(const Context& ctx, const PlanShowArgs& args) {
  constexpr std::string_view kCmd = "plan show";
  auto store = OpenForQuery(ctx);
  if (!store.ok()) return Fail(ctx, kCmd, store.status());
  absl::StatusOr<Plan> plan = (*store)->GetPlan(args.id, Listing(args.list));
  if (!plan.ok()) return Fail(ctx, kCmd, plan.status());
  return ReportPlanShow(ctx, *plan);
}

int ReportPlanShow(const Context& ctx, const Plan& plan) {
  if (ctx.json) {
    JsonWriter w;
    JsonPlan(w, plan);
    PrintJson(ctx, w);
    return kExitOk;
  }
  PrintPlan(ctx, plan, /*dry_run=*/false);
  PrintNextSteps(ctx, plan);
  return kExitOk;
}

int RunPlanList(const Context& ctx) {
  constexpr std::string_view kCmd = "plan list";
  auto store = OpenForQuery(ctx);
  if (!store.ok()) return Fail(ctx, kCmd, store.status());
  absl::StatusOr<std::vector<Plan>> plans = (*store)->ListPlans();
  if (!plans.ok()) return Fail(ctx, kCmd, plans.status());
  return ReportPlanList(ctx, *plans);
}

int ReportPlanList(const Context& ctx, const std::vector<Plan>& plans) {
  if (ctx.json) {
    JsonWriter w;
    w.BeginObject();
    w.Key("plans");
    w.BeginArray();
    for (const Plan& plan : plans)
      JsonPlan(w, plan);
    w.EndArray();
    w.EndObject();
    PrintJson(ctx, w);
    return kExitOk;
  }
  if (plans.empty()) {
    fmt::print(ctx.err,
               "lineage plan list: no plans yet (make one with lineage revoke --dry-run)\n");
    return kExitOk;
  }
  // Ids stay whole: they are what approve and enforce take.
  fmt::print(ctx.out, "{:<64}  {:<8}  {:>9}  {:<4}  {:>9}  {:<20}  {:<12}  {}\n", "id", "state",
             "artifacts", "bulk", "approvals", "created", "by", "reason");
  for (const Plan& plan : plans) {
    fmt::print(ctx.out, "{:<64}  {:<8}  {:>9}  {:<4}  {:>9}  {:<20}  {:<12}  {}\n", plan.id,
               PlanStateName(plan.state), plan.artifact_count, plan.bulk ? "yes" : "no",
               plan.approvals.size(), TimeOrDash(plan.created_at), plan.created_by, plan.reason);
  }
  return kExitOk;
}

int RunApprove(const Context& ctx, const ApproveArgs& args) {
  constexpr std::string_view kCmd = "approve";
  if (args.as.empty()) return MissingPrincipal(ctx, kCmd);
  auto store = OpenForWrite(ctx);
  if (!store.ok()) return Fail(ctx, kCmd, store.status());
  absl::StatusOr<Plan> plan = (*store)->Approve(args.id, args.as);
  if (!plan.ok()) return Fail(ctx, kCmd, plan.status());
  return ReportApprove(ctx, args, *plan);
}

int ReportApprove(const Context& ctx, const ApproveArgs& args, const Plan& approved) {
  const Plan* plan = &approved;
  if (ctx.json) {
    JsonWriter w;
    w.BeginObject();
    w.Member("approved_by", args.as);
    w.Key("plan");
    JsonPlan(w, *plan);
    w.EndObject();
    PrintJson(ctx, w);
    return kExitOk;
  }
  fmt::print(ctx.out, "approved   plan {} as {}\n", plan->id, args.as);
  fmt::print(ctx.out, "approvals  {}{}\n", ApprovalsText(plan->approvals),
             plan->bulk ? " (bulk: 2 needed from principals other than the enforcer)" : "");
  PrintNextSteps(ctx, *plan);
  return kExitOk;
}

int RunEnforce(const Context& ctx, const EnforceArgs& args) {
  constexpr std::string_view kCmd = "enforce";
  if (args.as.empty()) return MissingPrincipal(ctx, kCmd);
  auto store = OpenForWrite(ctx);
  if (!store.ok()) return Fail(ctx, kCmd, store.status());
  absl::StatusOr<EnforceResult> result =
      (*store)->Enforce(args.id, EnforceOptions{args.as, args.accept_changes});
  if (!result.ok()) return Fail(ctx, kCmd, result.status());
  return ReportEnforce(ctx, args, *result, [&] {
    return (*store)->GetPlan(args.id, PlanListing{0, 0});
  });
}

int ReportEnforce(const Context& ctx, const EnforceArgs& args, const EnforceResult& enforced,
                  const std::function<absl::StatusOr<Plan>()>& reviewed_plan) {
  constexpr std::string_view kCmd = "enforce";
  const EnforceResult* result = &enforced;
  if (ctx.json) {
    JsonWriter w;
    JsonEnforceResult(w, *result);
    PrintJson(ctx, w);
  }
  if (!result->enforced) {
    absl::StatusOr<Plan> plan = reviewed_plan();
    if (!plan.ok()) return Fail(ctx, kCmd, plan.status());
    return ClosureChanged(ctx, kCmd, *plan, *result);
  }
  if (!ctx.json) PrintEnforced(ctx, *result);
  return kExitOk;
}

int RunLift(const Context& ctx, const LiftArgs& args) {
  constexpr std::string_view kCmd = "lift";
  if (args.as.empty()) return MissingPrincipal(ctx, kCmd);
  if (args.reason.empty()) return Usage(ctx, kCmd, "--reason TEXT is required");
  auto store = OpenForWrite(ctx);
  if (!store.ok()) return Fail(ctx, kCmd, store.status());
  absl::StatusOr<LiftResult> result = (*store)->Lift(args.revocation, args.as, args.reason);
  if (!result.ok()) return Fail(ctx, kCmd, result.status());
  return ReportLift(ctx, args, *result);
}

int ReportLift(const Context& ctx, const LiftArgs& args, const LiftResult& lifted) {
  const LiftResult* result = &lifted;
  if (ctx.json) {
    JsonWriter w;
    w.BeginObject();
    w.Key("revocation");
    JsonRevocation(w, result->revocation);
    w.MemberUint("released", result->released);
    w.MemberUint("still_covered", result->still_covered);
    w.MemberUint("deny_seq", result->deny_seq);
    w.EndObject();
    PrintJson(ctx, w);
    return kExitOk;
  }
  fmt::print(ctx.out, "lifted     {} by {}: {}\n", result->revocation.id, args.as, args.reason);
  fmt::print(ctx.out, "released   {} left the deny list\n",
             Plural(result->released, "digest", "digests"));
  fmt::print(ctx.out, "still      {} still denied by another active revocation\n",
             Plural(result->still_covered, "artifact", "artifacts"));
  fmt::print(ctx.out, "deny seq   {}\n", result->deny_seq);
  return kExitOk;
}

int RunRevocations(const Context& ctx, bool all) {
  constexpr std::string_view kCmd = "revocations";
  auto store = OpenForQuery(ctx);
  if (!store.ok()) return Fail(ctx, kCmd, store.status());
  absl::StatusOr<std::vector<Revocation>> revs = (*store)->ListRevocations();
  if (!revs.ok()) return Fail(ctx, kCmd, revs.status());
  return ReportRevocations(ctx, all, *revs);
}

int ReportRevocations(const Context& ctx, bool all, const std::vector<Revocation>& revs) {
  std::vector<const Revocation*> shown;
  for (const Revocation& rev : revs) {
    if (all || rev.state == RevocationState::kActive) shown.push_back(&rev);
  }
  if (ctx.json) {
    JsonWriter w;
    w.BeginObject();
    w.Key("revocations");
    w.BeginArray();
    for (const Revocation* rev : shown)
      JsonRevocation(w, *rev);
    w.EndArray();
    w.EndObject();
    PrintJson(ctx, w);
    return kExitOk;
  }
  if (shown.empty()) {
    fmt::print(ctx.err, "lineage revocations: no {}revocations\n", all ? "" : "active ");
    return kExitOk;
  }
  size_t id_width = 2, by_width = 2, root_width = 4;
  std::vector<std::string> root_texts;
  for (const Revocation* rev : shown) {
    std::string root = rev->roots.empty() ? "-" : rev->roots.front().ref;
    if (rev->roots.size() > 1) root += fmt::format(" (+{})", rev->roots.size() - 1);
    root_width = std::max(root_width, root.size());
    root_texts.push_back(std::move(root));
    id_width = std::max(id_width, rev->id.size());
    by_width = std::max(by_width, rev->enforced_by.size());
  }
  fmt::print(ctx.out, "{:<{}}  {:<6}  {:<8}  {:>9}  {:<20}  {:<{}}  {:<{}}  {}\n", "id", id_width,
             "state", "mode", "artifacts", "enforced", "by", by_width, "root", root_width,
             "reason");
  for (size_t i = 0; i < shown.size(); ++i) {
    const Revocation& rev = *shown[i];
    fmt::print(ctx.out, "{:<{}}  {:<6}  {:<8}  {:>9}  {:<20}  {:<{}}  {:<{}}  {}\n", rev.id,
               id_width, RevocationStateName(rev.state), RevocationModeName(rev.mode),
               rev.artifact_count, TimeOrDash(rev.enforced_at), rev.enforced_by, by_width,
               root_texts[i], root_width, rev.reason);
  }
  return kExitOk;
}

// -------------------------------------------------------------- check

namespace {

struct NamedRevocation {
  std::string id;
  std::string reason;  // empty when it could not be read
};

// Check names revocations by id; people need their reasons. A failed lookup
// degrades to the bare id rather than hiding the verdict.
std::vector<NamedRevocation> NameRevocations(
    const std::function<std::string(const std::string&)>& reason_of,
    const std::vector<std::string>& ids) {
  std::vector<NamedRevocation> named;
  for (const std::string& id : ids)
    named.push_back({id, reason_of(id)});
  return named;
}

void JsonNamed(JsonWriter& w, std::string_view key, const std::vector<NamedRevocation>& revs) {
  w.Key(key);
  w.BeginArray();
  for (const NamedRevocation& r : revs) {
    w.BeginObject();
    w.Member("id", r.id);
    w.Member("reason", r.reason);
    w.EndObject();
  }
  w.EndArray();
}

}  // namespace

absl::StatusOr<UnknownPolicy> ParseUnknown(std::string_view text) {
  if (text == "allow") return UnknownPolicy::kAllow;
  if (text == "warn") return UnknownPolicy::kWarn;
  if (text == "deny") return UnknownPolicy::kDeny;
  return absl::InvalidArgumentError(
      fmt::format("--unknown {}: expected allow, warn or deny", text));
}

// Gates ask about artifacts only: a key or builder is never deployed.
absl::StatusOr<std::string> ArtifactDigest(std::string_view text) {
  absl::StatusOr<Ref> ref = ParseRef(text);
  if (!ref.ok()) return ref.status();
  if (ref->kind != NodeKind::kArtifact) {
    return absl::InvalidArgumentError(
        fmt::format("{} is a {} ref; give an artifact digest such as sha256:<64 hex>", text,
                    NodeKindName(ref->kind)));
  }
  return ref->text;
}

namespace {

// A check answer with the revocations named, ready to print.
struct CheckReport {
  CheckResult result;
  std::optional<absl::Time> at;
  std::vector<NamedRevocation> denied_by;
  std::vector<NamedRevocation> advisories;
  std::vector<std::string> warnings;
};

void PrintCheck(const Context& ctx, const CheckReport& report) {
  const CheckResult& result = report.result;
  if (ctx.json) {
    JsonWriter w;
    w.BeginObject();
    w.Member("digest", result.digest);
    w.Member("verdict", VerdictName(result.verdict));
    w.MemberBool("known", result.known);
    JsonTime(w, "at", report.at.value_or(absl::InfinitePast()));
    JsonNamed(w, "denied_by", report.denied_by);
    JsonNamed(w, "advisories", report.advisories);
    w.MemberBool("advisory_only", result.advisory_only);
    JsonStrings(w, "warnings", report.warnings);
    w.EndObject();
    PrintJson(ctx, w);
    return;
  }
  fmt::print(ctx.out, "{} {}{}\n", VerdictName(result.verdict), result.digest,
             report.at ? fmt::format(" (as of {})", TimeText(*report.at)) : "");
  for (const NamedRevocation& r : report.denied_by) {
    fmt::print(ctx.out, "  denied by  {}  {}\n", r.id, r.reason);
  }
  for (const NamedRevocation& r : report.advisories) {
    fmt::print(ctx.out, "  advisory   {}  {}\n", r.id, r.reason);
  }
  if (result.advisory_only) {
    fmt::print(ctx.out,
               "  note       advisory-only mode is on: revocations are reported, not "
               "enforced\n");
  }
  if (!result.known) fmt::print(ctx.out, "  note       not in the lineage graph\n");
  if (!report.denied_by.empty()) {
    fmt::print(ctx.out, "  why:       {} why {}\n", LineagePrefix(ctx), result.digest);
  }
}

}  // namespace

int RunCheck(const Context& ctx, const CheckArgs& args) {
  constexpr std::string_view kCmd = "check";
  absl::StatusOr<std::string> digest = ArtifactDigest(args.digest);
  if (!digest.ok()) return Usage(ctx, kCmd, Message(digest.status()));
  absl::StatusOr<UnknownPolicy> unknown = ParseUnknown(args.unknown);
  if (!unknown.ok()) return Usage(ctx, kCmd, Message(unknown.status()));
  CheckOptions options;
  options.unknown = *unknown;
  if (!args.at.empty()) {
    absl::StatusOr<absl::Time> at = ParseAtFlag(args.at);
    if (!at.ok()) return Usage(ctx, kCmd, Message(at.status()));
    options.at = *at;
  }

  auto store = OpenForQuery(ctx);
  if (!store.ok()) return Fail(ctx, kCmd, store.status());
  absl::StatusOr<CheckResult> result = (*store)->Check(*digest, options);
  if (!result.ok()) return Fail(ctx, kCmd, result.status());
  return ReportCheck(ctx, *std::move(result), options, [&](const std::string& id) {
    absl::StatusOr<Revocation> rev = (*store)->GetRevocation(id);
    return rev.ok() ? rev->reason : std::string();
  });
}

absl::StatusOr<absl::Time> ParseAtFlag(const std::string& text) {
  return ParseTimeFlag("--at", text);
}

int ReportCheck(const Context& ctx, CheckResult result, const CheckOptions& options,
                const std::function<std::string(const std::string&)>& reason_of) {
  CheckReport report{std::move(result), options.at};
  report.warnings = report.result.warnings;
  // "warn" promises a warning for an unknown digest whatever the engine says.
  if (!report.result.known && options.unknown == UnknownPolicy::kWarn && report.warnings.empty()) {
    report.warnings.push_back(fmt::format("{} is not in the lineage graph", report.result.digest));
  }
  for (const std::string& warning : report.warnings) {
    fmt::print(ctx.err, "warning: {}\n", warning);
  }
  report.denied_by = NameRevocations(reason_of, report.result.denied_by);
  report.advisories = NameRevocations(reason_of, report.result.advisories);
  PrintCheck(ctx, report);
  return report.result.verdict == Verdict::kDeny ? kExitDenied : kExitOk;
}

// ---------------------------------------------------------------- why

namespace {

void JsonWhy(const Context& ctx, const WhyResult& why) {
  JsonWriter w;
  w.BeginObject();
  w.Member("artifact", why.artifact);
  w.MemberBool("known", why.known);
  w.Member("verdict", VerdictName(why.check.verdict));
  w.MemberBool("advisory_only", why.check.advisory_only);
  w.Key("reasons");
  w.BeginArray();
  for (const WhyReason& reason : why.reasons) {
    w.BeginObject();
    w.Key("revocation");
    JsonRevocation(w, reason.revocation);
    w.Member("root", reason.root);
    w.MemberBool("denies", reason.denies);
    w.Key("chain");
    w.BeginArray();
    for (const ChainHop& hop : reason.chain) {
      w.BeginObject();
      w.Member("from", hop.from);
      w.Member("to", hop.to);
      w.Member("kind", EdgeKindName(hop.kind));
      w.Member("attestation", hop.attestation);
      JsonStrings(w, "signers", hop.signers);
      JsonEvidence(w, "evidence", hop.evidence);
      JsonTime(w, "time", hop.time);
      w.EndObject();
    }
    w.EndArray();
    w.EndObject();
  }
  w.EndArray();
  w.Key("provenance");
  w.BeginObject();
  w.MemberUint("ancestor_artifacts", why.ancestor_artifacts);
  JsonStrings(w, "signers", why.signers);
  JsonEvidence(w, "signer_evidence", why.signer_evidence);
  JsonStrings(w, "builders", why.builders);
  JsonStrings(w, "materials", why.materials);
  JsonStrings(w, "attestations", why.attestations);
  w.EndObject();
  w.EndObject();
  PrintJson(ctx, w);
}

void PrintList(const Context& ctx, std::string_view title, const std::vector<std::string>& items) {
  fmt::print(ctx.out, "  {:<13}{}\n", title, items.empty() ? "none" : Join(items, ", "));
}

void PrintWhy(const Context& ctx, const WhyResult& why) {
  bool denied = why.check.verdict == Verdict::kDeny;
  if (!why.known && why.reasons.empty()) {
    fmt::print(ctx.out,
               "{} is not in the lineage graph: nothing is known about it, and gates apply "
               "their unknown-digest policy\n",
               why.artifact);
  } else if (denied) {
    fmt::print(ctx.out, "{} is DENIED\n", why.artifact);
  } else {
    fmt::print(ctx.out, "{} is promotable: no active revocation denies it{}\n", why.artifact,
               why.reasons.empty() ? "" : " (advisories below)");
  }
  // A digest can be revoked before any attestation names it.
  if (!why.known && !why.reasons.empty()) {
    fmt::print(ctx.out, "note: not in the lineage graph; revoked by digest\n");
  }
  if (why.check.advisory_only) {
    fmt::print(ctx.out, "note: advisory-only mode is on: revocations are reported, not enforced\n");
  }

  for (size_t i = 0; i < why.reasons.size(); ++i) {
    const WhyReason& reason = why.reasons[i];
    const Revocation& rev = reason.revocation;
    fmt::print(ctx.out, "\nreason {}: {} ({}{})\n", i + 1, rev.id, RevocationModeName(rev.mode),
               reason.denies ? ", denies" : ", does not deny");
    fmt::print(ctx.out, "  {:<13}{}\n", "why", rev.reason);
    fmt::print(ctx.out, "  {:<13}{}\n", "root", reason.root);
    fmt::print(ctx.out, "  {:<13}{} at {} (plan {})\n", "enforced by", rev.enforced_by,
               TimeOrDash(rev.enforced_at), rev.plan_id);
    fmt::print(ctx.out, "  {:<13}{}\n", "approvals", ApprovalsText(rev.approvals));
    if (reason.chain.empty()) {
      fmt::print(ctx.out, "  chain        the artifact is the root itself\n");
      continue;
    }
    fmt::print(ctx.out, "  chain        {}\n", reason.root);
    for (const ChainHop& hop : reason.chain) {
      std::string signers = hop.signers.empty() ? "unsigned" : Join(hop.signers, ", ");
      fmt::print(ctx.out, "    --{}--> {}  attestation {}  signed by {}  at {}\n",
                 EdgeKindName(hop.kind), hop.to, ShortId(hop.attestation), signers,
                 TimeOrDash(hop.time));
      for (const SignerEvidence& e : hop.evidence)
        fmt::print(ctx.out, "          {}: {}\n", e.key_ref, SignerEvidenceText(e));
    }
  }

  if (!why.known) return;
  fmt::print(ctx.out, "\nprovenance\n");
  fmt::print(ctx.out, "  {:<13}{}\n", "ancestors",
             Plural(why.ancestor_artifacts, "artifact", "artifacts"));
  PrintList(ctx, "signed by", why.signers);
  for (const SignerEvidence& e : why.signer_evidence)
    fmt::print(ctx.out, "  {:<13}{}: {}\n", "", e.key_ref, SignerEvidenceText(e));
  PrintList(ctx, "built by", why.builders);
  PrintList(ctx, "materials", why.materials);
  std::vector<std::string> short_ids;
  for (const std::string& id : why.attestations)
    short_ids.push_back(ShortId(id));
  PrintList(ctx, "attestations", short_ids);
}

// A DOT string literal: quotes and backslashes escaped, newlines as the
// label line break "\n".
std::string DotQuote(std::string_view text) {
  std::string quoted = "\"";
  for (char c : text) {
    if (c == '"' || c == '\\') {
      quoted += '\\';
      quoted += c;
    } else if (c == '\n') {
      quoted += "\\n";
    } else {
      quoted += c;
    }
  }
  return quoted + "\"";
}

void PrintWhyDot(const Context& ctx, const WhyResult& why) {
  bool denied = why.check.verdict == Verdict::kDeny;
  std::string dot = "digraph lineage_why {\n";
  dot += "  rankdir=LR;\n";
  dot += "  node [shape=box, fontname=\"monospace\", fontsize=10];\n";
  dot += "  edge [fontname=\"monospace\", fontsize=9];\n";
  dot += fmt::format("  {} [style=\"filled,bold\", fillcolor={}, label={}];\n",
                     DotQuote(why.artifact), DotQuote(denied ? "#f4cccc" : "#d9ead3"),
                     DotQuote(fmt::format("{}\n{}", why.artifact, VerdictName(why.check.verdict))));
  // Chains of different revocations share hops; each edge is drawn once.
  std::set<std::tuple<std::string, std::string, std::string>> drawn;
  std::set<std::string> revocations;
  for (const WhyReason& reason : why.reasons) {
    const Revocation& rev = reason.revocation;
    if (revocations.insert(rev.id).second) {
      dot += fmt::format("  {} [shape=octagon, style=filled, fillcolor={}, label={}];\n",
                         DotQuote(rev.id), DotQuote(reason.denies ? "#e06666" : "#ffe599"),
                         DotQuote(fmt::format("{}\n{}\n{}", rev.id, RevocationModeName(rev.mode),
                                              Abbreviate(rev.reason, 40))));
    }
    if (drawn.insert({rev.id, reason.root, "revokes"}).second) {
      dot += fmt::format("  {} -> {} [style=dashed, label=\"revokes\"];\n", DotQuote(rev.id),
                         DotQuote(reason.root));
    }
    for (const ChainHop& hop : reason.chain) {
      std::string kind(EdgeKindName(hop.kind));
      if (!drawn.insert({hop.from, hop.to, kind}).second) continue;
      dot += fmt::format("  {} -> {} [label={}];\n", DotQuote(hop.from), DotQuote(hop.to),
                         DotQuote(fmt::format("{}\n{}", kind, ShortId(hop.attestation))));
    }
  }
  dot += "}\n";
  std::fwrite(dot.data(), 1, dot.size(), ctx.out);
}

}  // namespace

int RunWhy(const Context& ctx, const WhyArgs& args) {
  constexpr std::string_view kCmd = "why";
  if (args.dot && ctx.json) return Usage(ctx, kCmd, "--json and --dot exclude each other");
  absl::StatusOr<std::string> digest = ArtifactDigest(args.digest);
  if (!digest.ok()) return Usage(ctx, kCmd, Message(digest.status()));
  auto store = OpenForQuery(ctx);
  if (!store.ok()) return Fail(ctx, kCmd, store.status());
  absl::StatusOr<WhyResult> why = (*store)->Why(*digest);
  if (!why.ok()) return Fail(ctx, kCmd, why.status());
  return ReportWhy(ctx, args, *why);
}

int ReportWhy(const Context& ctx, const WhyArgs& args, const WhyResult& why) {
  if (ctx.json) {
    JsonWhy(ctx, why);
  } else if (args.dot) {
    PrintWhyDot(ctx, why);
  } else {
    PrintWhy(ctx, why);
  }
  return kExitOk;
}

// ---------------------------------------------------------- deny list

int RunDenyList(const Context& ctx, uint64_t after_seq) {
  constexpr std::string_view kCmd = "deny-list";
  auto store = OpenForQuery(ctx);
  if (!store.ok()) return Fail(ctx, kCmd, store.status());
  return ReportDenyList(ctx, after_seq, [&](uint64_t after, size_t max) {
    return (*store)->DenyListSince(after, max);
  });
}

int ReportDenyList(const Context& ctx, uint64_t after_seq,
                   const std::function<absl::StatusOr<DenyListPage>(uint64_t, size_t)>& fetch) {
  constexpr std::string_view kCmd = "deny-list";
  JsonWriter w;
  if (ctx.json) {
    w.BeginObject();
    w.Key("deltas");
    w.BeginArray();
  }
  uint64_t head = 0, shown = 0;
  for (uint64_t after = after_seq;;) {
    absl::StatusOr<DenyListPage> page = fetch(after, kDenyListPage);
    if (!page.ok()) return Fail(ctx, kCmd, page.status());
    head = page->head_seq;
    for (const DenyDelta& delta : page->deltas) {
      ++shown;
      after = delta.seq;
      if (ctx.json) {
        w.BeginObject();
        w.MemberUint("seq", delta.seq);
        JsonTime(w, "time", delta.time);
        w.Member("cause", delta.cause);
        JsonStrings(w, "added", delta.added);
        JsonStrings(w, "removed", delta.removed);
        w.EndObject();
        continue;
      }
      fmt::print(ctx.out, "{} {} {}\n", delta.seq, TimeOrDash(delta.time), delta.cause);
      for (const std::string& d : delta.added)
        fmt::print(ctx.out, "+{}\n", d);
      for (const std::string& d : delta.removed)
        fmt::print(ctx.out, "-{}\n", d);
    }
    // An empty page that claims truncation would loop forever; treat it as
    // the end.
    if (!page->truncated || page->deltas.empty()) break;
  }
  if (ctx.json) {
    w.EndArray();
    w.MemberUint("head_seq", head);
    w.EndObject();
    PrintJson(ctx, w);
  } else if (shown == 0) {
    fmt::print(ctx.err, "lineage deny-list: no deltas after seq {} (head {})\n", after_seq, head);
  }
  return kExitOk;
}

std::string SnapshotDocument(std::string_view format, const DenyListSnapshot& snapshot,
                             absl::Time now) {
  JsonWriter w;
  w.BeginObject();
  if (format == "opa") {
    w.Key("lineage");
    w.BeginObject();
    w.Key("deny_list");
    w.BeginObject();
  }
  w.MemberUint("seq", snapshot.seq);
  JsonTime(w, "generated_at", now);
  w.Key("digests");
  if (format == "opa") {
    w.BeginObject();
    for (const std::string& d : snapshot.digests)
      w.MemberBool(d, true);
    w.EndObject();
    w.EndObject();
    w.EndObject();
  } else {
    w.BeginArray();
    for (const std::string& d : snapshot.digests)
      w.String(d);
    w.EndArray();
  }
  w.EndObject();
  return w.Take() + "\n";
}

int RunDenyListExport(const Context& ctx, const DenyListExportArgs& args) {
  constexpr std::string_view kCmd = "deny-list export";
  if (args.format != "json" && args.format != "opa") {
    return Usage(ctx, kCmd, fmt::format("--format {}: expected json or opa", args.format));
  }
  auto store = OpenForQuery(ctx);
  if (!store.ok()) return Fail(ctx, kCmd, store.status());
  absl::StatusOr<DenyListSnapshot> snapshot = (*store)->DenyList();
  if (!snapshot.ok()) return Fail(ctx, kCmd, snapshot.status());
  return ReportDenyListExport(ctx, args, *snapshot);
}

int ReportDenyListExport(const Context& ctx, const DenyListExportArgs& args,
                         const DenyListSnapshot& exported) {
  constexpr std::string_view kCmd = "deny-list export";
  const DenyListSnapshot* snapshot = &exported;
  std::string document = SnapshotDocument(args.format, *snapshot, absl::Now());
  if (args.out.empty()) {
    std::fwrite(document.data(), 1, document.size(), ctx.out);
    return kExitOk;
  }
  absl::Status written = WriteFileAtomically(args.out, document);
  if (!written.ok()) return Fail(ctx, kCmd, written);
  if (ctx.json) {
    JsonWriter r;
    r.BeginObject();
    r.Member("path", args.out);
    r.Member("format", args.format);
    r.MemberUint("seq", snapshot->seq);
    r.MemberUint("digests", snapshot->digests.size());
    r.EndObject();
    PrintJson(ctx, r);
  } else {
    fmt::print(ctx.out, "wrote {} ({}, seq {}, {})\n", args.out, args.format, snapshot->seq,
               Plural(snapshot->digests.size(), "digest", "digests"));
  }
  return kExitOk;
}

// ----------------------------------------------------------- evidence

namespace {

// Every field of every record; artifacts and workloads in full, since the
// file is what an auditor keeps.
std::string EvidenceDocument(std::string_view subject, const std::vector<EvidenceRecord>& records) {
  JsonWriter w;
  w.BeginObject();
  w.Member("subject", subject);
  w.Key("records");
  w.BeginArray();
  for (const EvidenceRecord& r : records) {
    w.BeginObject();
    w.MemberUint("seq", r.seq);
    w.Member("action", r.action);
    w.Member("actor", r.actor);
    JsonTime(w, "time", r.time);
    w.Member("plan_id", r.plan_id);
    w.Member("revocation", r.revocation);
    JsonRoots(w, r.roots);
    w.Member("reason", r.reason);
    w.Member("mode", RevocationModeName(r.mode));
    JsonStrings(w, "artifacts", r.artifacts);
    JsonStrings(w, "workloads", r.workloads);
    w.MemberUint("duration_us", static_cast<uint64_t>(absl::ToInt64Microseconds(r.duration)));
    w.MemberUint("deny_seq", r.deny_seq);
    w.Member("details", r.details);
    w.EndObject();
  }
  w.EndArray();
  w.EndObject();
  return w.Take() + "\n";
}

}  // namespace

int CheckEvidenceArgs(const Context& ctx, const EvidenceArgs& args) {
  // The subject becomes a file name under --out: refuse anything that could
  // step outside DIR.
  if (!args.out_dir.empty() && (args.subject.empty() || args.subject.front() == '.' ||
                                args.subject.find('/') != std::string::npos)) {
    return Usage(ctx, "evidence", fmt::format("{} is not a revocation or plan id", args.subject));
  }
  return kExitOk;
}

int RunEvidence(const Context& ctx, const EvidenceArgs& args) {
  constexpr std::string_view kCmd = "evidence";
  if (int code = CheckEvidenceArgs(ctx, args); code != kExitOk) return code;
  auto store = OpenForQuery(ctx);
  if (!store.ok()) return Fail(ctx, kCmd, store.status());
  absl::StatusOr<std::vector<EvidenceRecord>> records = (*store)->Evidence(args.subject);
  if (!records.ok()) return Fail(ctx, kCmd, records.status());
  return ReportEvidence(ctx, args, *records);
}

int ReportEvidence(const Context& ctx, const EvidenceArgs& args,
                   const std::vector<EvidenceRecord>& records) {
  constexpr std::string_view kCmd = "evidence";
  std::string document = EvidenceDocument(args.subject, records);
  if (args.out_dir.empty()) {
    std::fwrite(document.data(), 1, document.size(), ctx.out);
    return kExitOk;
  }

  std::error_code ec;
  fs::create_directories(args.out_dir, ec);
  if (ec) {
    return Fail(ctx, kCmd,
                absl::UnavailableError(fmt::format("--out {}: {}", args.out_dir, ec.message())));
  }
  std::string path = (fs::path(args.out_dir) / (args.subject + ".evidence.json")).string();
  absl::Status written = WriteFileAtomically(path, document);
  if (!written.ok()) return Fail(ctx, kCmd, written);
  if (ctx.json) {
    JsonWriter r;
    r.BeginObject();
    r.Member("path", path);
    r.MemberUint("records", records.size());
    r.EndObject();
    PrintJson(ctx, r);
  } else {
    fmt::print(ctx.out, "{}\n", path);
  }
  return kExitOk;
}

// -------------------------------------------------------------- audit

int RunAuditVerify(const Context& ctx) {
  constexpr std::string_view kCmd = "audit verify";
  auto store = OpenForQuery(ctx);
  if (!store.ok()) return Fail(ctx, kCmd, store.status());
  absl::StatusOr<AuditVerification> verification = (*store)->VerifyAudit();
  if (!verification.ok()) return Fail(ctx, kCmd, verification.status());
  return ReportAuditVerify(ctx, *verification);
}

int ReportAuditVerify(const Context& ctx, const AuditVerification& verification) {
  const AuditVerification* v = &verification;
  int code = v->ok ? kExitOk : kExitAuditFailed;
  if (ctx.json) {
    JsonWriter w;
    w.BeginObject();
    w.MemberBool("ok", v->ok);
    w.MemberUint("entries", v->entries);
    w.Member("head_hash", v->head_hash);
    JsonStrings(w, "problems", v->problems);
    w.EndObject();
    PrintJson(ctx, w);
    return code;
  }
  if (v->ok) {
    fmt::print(ctx.out, "audit log ok: {} verified\n", Plural(v->entries, "entry", "entries"));
  } else {
    fmt::print(ctx.out, "audit log TAMPERED: {} in {}\n",
               Plural(v->problems.size(), "problem", "problems"),
               Plural(v->entries, "entry", "entries"));
    for (const std::string& problem : v->problems)
      fmt::print(ctx.out, "  {}\n", problem);
  }
  fmt::print(ctx.out, "head hash {}\n", v->head_hash);
  return code;
}

int RunAuditLog(const Context& ctx, uint64_t from_seq) {
  constexpr std::string_view kCmd = "audit log";
  auto store = OpenForQuery(ctx);
  if (!store.ok()) return Fail(ctx, kCmd, store.status());
  std::vector<AuditEntry> entries;
  for (uint64_t from = std::max<uint64_t>(from_seq, 1);;) {
    absl::StatusOr<std::vector<AuditEntry>> page = (*store)->AuditLog(from, kAuditPage);
    if (!page.ok()) return Fail(ctx, kCmd, page.status());
    if (page->empty()) break;
    from = page->back().seq + 1;
    size_t got = page->size();
    entries.insert(entries.end(), std::make_move_iterator(page->begin()),
                   std::make_move_iterator(page->end()));
    if (got < kAuditPage) break;
  }
  return ReportAuditLog(ctx, from_seq, entries);
}

int ReportAuditLog(const Context& ctx, uint64_t from_seq, const std::vector<AuditEntry>& entries) {
  if (ctx.json) {
    JsonWriter w;
    w.BeginObject();
    w.Key("entries");
    w.BeginArray();
    for (const AuditEntry& e : entries) {
      w.BeginObject();
      w.MemberUint("seq", e.seq);
      JsonTime(w, "time", e.time);
      w.Member("actor", e.actor);
      w.Member("action", e.action);
      w.Member("subject", e.subject);
      w.Member("evidence_hash", e.evidence_hash);
      w.Member("prev_hash", e.prev_hash);
      w.Member("hash", e.hash);
      w.EndObject();
    }
    w.EndArray();
    w.EndObject();
    PrintJson(ctx, w);
    return kExitOk;
  }
  if (entries.empty()) {
    fmt::print(ctx.err, "lineage audit log: no entries from seq {}\n", from_seq);
    return kExitOk;
  }
  size_t actor_width = 5, action_width = 6;
  for (const AuditEntry& e : entries) {
    actor_width = std::max(actor_width, e.actor.size());
    action_width = std::max(action_width, e.action.size());
  }
  fmt::print(ctx.out, "{:>5}  {:<20}  {:<{}}  {:<{}}  {:<12}  {}\n", "seq", "time", "actor",
             actor_width, "action", action_width, "hash", "subject");
  for (const AuditEntry& e : entries) {
    fmt::print(ctx.out, "{:>5}  {:<20}  {:<{}}  {:<{}}  {:<12}  {}\n", e.seq, TimeOrDash(e.time),
               e.actor, actor_width, e.action, action_width, ShortId(e.hash), e.subject);
  }
  return kExitOk;
}

// ----------------------------------------------------------- settings

int ReportSettings(const Context& ctx, const RevocationSettings& s, bool changed) {
  if (ctx.json) {
    JsonWriter w;
    w.BeginObject();
    w.MemberBool("advisory_only", s.advisory_only);
    w.MemberUint("bulk_threshold", s.bulk_threshold);
    w.MemberBool("changed", changed);
    w.EndObject();
    PrintJson(ctx, w);
    return kExitOk;
  }
  fmt::print(ctx.out, "advisory-only   {}{}\n", s.advisory_only ? "on" : "off",
             s.advisory_only ? " (revocations are reported, nothing is denied)" : "");
  fmt::print(ctx.out, "bulk-threshold  {} (plans with more artifacts need 2 approvals)\n",
             s.bulk_threshold);
  return kExitOk;
}

int CheckSettingsChange(const Context& ctx, const SettingsArgs& args) {
  constexpr std::string_view kCmd = "settings";
  if (args.advisory_only && *args.advisory_only != "on" && *args.advisory_only != "off") {
    return Usage(ctx, kCmd,
                 fmt::format("--advisory-only {}: expected on or off", *args.advisory_only));
  }
  // Settings change what every gate enforces: they are attributed and
  // explained like any revocation.
  if (args.as.empty()) return MissingPrincipal(ctx, kCmd);
  if (args.reason.empty()) return Usage(ctx, kCmd, "a change needs --reason TEXT");
  return kExitOk;
}

int RunSettings(const Context& ctx, const SettingsArgs& args) {
  constexpr std::string_view kCmd = "settings";
  bool change = args.advisory_only.has_value() || args.bulk_threshold.has_value();
  if (!change) {
    auto store = OpenForQuery(ctx);
    if (!store.ok()) return Fail(ctx, kCmd, store.status());
    return ReportSettings(ctx, (*store)->GetSettings(), /*changed=*/false);
  }
  if (int code = CheckSettingsChange(ctx, args); code != kExitOk) return code;

  auto store = OpenForWrite(ctx);
  if (!store.ok()) return Fail(ctx, kCmd, store.status());
  RevocationSettings settings = (*store)->GetSettings();
  if (args.advisory_only) settings.advisory_only = *args.advisory_only == "on";
  if (args.bulk_threshold) settings.bulk_threshold = *args.bulk_threshold;
  absl::Status updated = (*store)->UpdateSettings(settings, args.as, args.reason);
  if (!updated.ok()) return Fail(ctx, kCmd, updated);
  return ReportSettings(ctx, (*store)->GetSettings(), /*changed=*/true);
}

}  // namespace lineage::cli
