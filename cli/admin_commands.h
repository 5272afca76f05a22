// `lineage admin token create|list|revoke`: the daemon's credentials, edited
// in the credentials file directly (rpc::CredentialStore), not over RPC.
// This is how the first admin token is made: whoever can write the database
// directory can mint tokens. A running lineaged reads the file again on
// SIGHUP; until then it keeps the credentials it loaded.
//
// Output: data to Context::out (the token itself, once, for create),
// diagnostics to Context::err; --json for scripts (shapes in docs/cli.md).
// The file holds token hashes only; no command ever prints a hash.
#pragma once

#include <string>

#include "cli/commands.h"

namespace lineage::cli {

struct TokenArgs {
  // The credentials file; empty: <db>/credentials, the default of lineaged.
  std::string credentials;
  std::string name;
  std::string role;  // gate | ingest | reader | responder | approver | admin
};

// Prints the new token and nothing else (with --json: {"name","role","token"}).
// kExitUsage for a bad role or name, kExitPrecondition if the name is taken
// (revoked names stay taken), kExitError if the file cannot be read or written.
int RunTokenCreate(const Context& ctx, const TokenArgs& args);
// Name, role, created, revoked; one line each after a header.
int RunTokenList(const Context& ctx, const TokenArgs& args);
// kExitNotFound if no credential has the name.
int RunTokenRevoke(const Context& ctx, const TokenArgs& args);

}  // namespace lineage::cli
