#include "cli/admin_commands.h"

#include <algorithm>
#include <filesystem>
#include <string_view>

#include <fmt/format.h>

#include "absl/time/clock.h"
#include "cli/output.h"
#include "rpc/include/lineage/rpc/credentials.h"

namespace lineage::cli {
namespace {

namespace fs = std::filesystem;

std::string CredentialsPath(const Context& ctx, const TokenArgs& args) {
  if (!args.credentials.empty()) return args.credentials;
  return (fs::path(ctx.db_path) / "credentials").string();
}

int Fail(const Context& ctx, std::string_view command, const absl::Status& status,
         int code = kExitError) {
  fmt::print(ctx.err, "lineage admin token {}: {}\n", command, std::string(status.message()));
  return code;
}

int CodeFor(const absl::Status& status) {
  switch (status.code()) {
    case absl::StatusCode::kInvalidArgument:
      return kExitUsage;
    case absl::StatusCode::kNotFound:
      return kExitNotFound;
    case absl::StatusCode::kAlreadyExists:
      return kExitPrecondition;
    default:
      return kExitError;
  }
}

absl::StatusOr<rpc::CredentialStore> Load(const Context& ctx, const TokenArgs& args,
                                          bool create_dir) {
  std::string path = CredentialsPath(ctx, args);
  fs::path dir = fs::path(path).parent_path();
  // The default path lives in the database directory; bootstrapping a token
  // before the first daemon start must not fail on a directory not made yet.
  if (create_dir && !dir.empty()) {
    std::error_code ec;
    fs::create_directories(dir, ec);
  }
  return rpc::CredentialStore::Load(path);
}

void PrintJson(const Context& ctx, JsonWriter& w) {
  std::string text = w.Take();
  fmt::print(ctx.out, "{}\n", text);
}

}  // namespace

int RunTokenCreate(const Context& ctx, const TokenArgs& args) {
  constexpr std::string_view kCmd = "create";
  std::optional<rpc::Role> role = rpc::ParseRole(args.role);
  if (!role) {
    fmt::print(ctx.err,
               "lineage admin token create: --role {}: expected gate, ingest, reader, responder, "
               "approver or admin\n",
               args.role);
    return kExitUsage;
  }
  absl::StatusOr<rpc::CredentialStore> store = Load(ctx, args, /*create_dir=*/true);
  if (!store.ok()) return Fail(ctx, kCmd, store.status());
  absl::StatusOr<std::string> token = store->Create(args.name, *role, absl::Now());
  if (!token.ok()) return Fail(ctx, kCmd, token.status(), CodeFor(token.status()));
  if (ctx.json) {
    JsonWriter w;
    w.BeginObject();
    w.Member("name", args.name);
    w.Member("role", rpc::RoleName(*role));
    w.Member("token", *token);
    w.EndObject();
    PrintJson(ctx, w);
  } else {
    fmt::print(ctx.out, "{}\n", *token);
  }
  // The token is shown this once; the daemon learns of it on SIGHUP.
  fmt::print(ctx.err,
             "lineage admin token create: {} ({}) added to {}; send SIGHUP to a running "
             "lineaged to load it\n",
             args.name, rpc::RoleName(*role), store->path());
  return kExitOk;
}

int RunTokenList(const Context& ctx, const TokenArgs& args) {
  constexpr std::string_view kCmd = "list";
  absl::StatusOr<rpc::CredentialStore> store = Load(ctx, args, /*create_dir=*/false);
  if (!store.ok()) return Fail(ctx, kCmd, store.status());
  const std::vector<rpc::Credential>& all = store->credentials();
  if (ctx.json) {
    JsonWriter w;
    w.BeginObject();
    w.Key("credentials");
    w.BeginArray();
    for (const rpc::Credential& c : all) {
      w.BeginObject();
      w.Member("name", c.name);
      w.Member("role", rpc::RoleName(c.role));
      w.Key("created");
      w.Time(c.created);
      w.MemberBool("revoked", c.revoked);
      w.EndObject();
    }
    w.EndArray();
    w.EndObject();
    PrintJson(ctx, w);
    return kExitOk;
  }
  if (all.empty()) {
    fmt::print(ctx.err, "lineage admin token list: no credentials in {}\n", store->path());
    return kExitOk;
  }
  size_t name_width = 4;
  for (const rpc::Credential& c : all)
    name_width = std::max(name_width, c.name.size());
  fmt::print(ctx.out, "{:<{}}  {:<9}  {:<20}  {}\n", "name", name_width, "role", "created",
             "revoked");
  for (const rpc::Credential& c : all) {
    fmt::print(ctx.out, "{:<{}}  {:<9}  {:<20}  {}\n", c.name, name_width, rpc::RoleName(c.role),
               TimeText(absl::FromUnixSeconds(absl::ToUnixSeconds(c.created))),
               c.revoked ? "yes" : "no");
  }
  return kExitOk;
}

int RunTokenRevoke(const Context& ctx, const TokenArgs& args) {
  constexpr std::string_view kCmd = "revoke";
  absl::StatusOr<rpc::CredentialStore> store = Load(ctx, args, /*create_dir=*/false);
  if (!store.ok()) return Fail(ctx, kCmd, store.status());
  absl::Status revoked = store->Revoke(args.name);
  if (!revoked.ok()) return Fail(ctx, kCmd, revoked, CodeFor(revoked));
  fmt::print(ctx.out, "revoked {}\n", args.name);
  fmt::print(ctx.err,
             "lineage admin token revoke: send SIGHUP to a running lineaged: it accepts the "
             "token until then\n");
  return kExitOk;
}

}  // namespace lineage::cli
