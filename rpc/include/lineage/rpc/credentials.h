// Credentials of the lineaged daemon: bearer tokens, each bound to one role.
//
// A token is printed once when it is created; the file keeps only its
// SHA-256, its name, its role, its creation time and whether it is revoked,
// so a copy of the file grants nothing. The file is rewritten atomically
// (temporary file, fsync, rename) on every change.
//
// File format (docs/operations.md): a header line "# lineage credentials v1",
// then one line per credential, tab-separated:
//   name  role  sha256-hex-of-token  created-unix-micros  revoked(0|1)
//
// Thread safety: none; the daemon guards its CredentialStore with a mutex.
#pragma once

#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/time/time.h"

namespace lineage::rpc {

enum class Role { kGate = 0, kIngest = 1, kReader = 2, kResponder = 3, kApprover = 4, kAdmin = 5 };

// "gate", "ingest", "reader", "responder", "approver", "admin".
std::string_view RoleName(Role role);
std::optional<Role> ParseRole(std::string_view name);

struct Credential {
  std::string name;
  Role role = Role::kGate;
  std::string token_sha256;  // hex
  absl::Time created = absl::InfinitePast();
  bool revoked = false;
};

class CredentialStore {
 public:
  // Reads `path`; a missing file is an empty store. InvalidArgument names the
  // file and line of a malformed entry.
  static absl::StatusOr<CredentialStore> Load(const std::string& path);

  // Creates a credential and returns its token (shown once). AlreadyExists if
  // the name is taken (revoked names stay taken: their history matters);
  // InvalidArgument for a name that is empty, long, or has tabs or control
  // characters.
  absl::StatusOr<std::string> Create(std::string_view name, Role role, absl::Time now);
  // NotFound if no credential has the name.
  absl::Status Revoke(std::string_view name);
  // The live credential the token belongs to, if any. Compares hashes in
  // constant time.
  std::optional<Credential> Authenticate(std::string_view token) const;

  const std::vector<Credential>& credentials() const { return credentials_; }
  const std::string& path() const { return path_; }

 private:
  absl::Status Save() const;

  std::string path_;
  std::vector<Credential> credentials_;
};

}  // namespace lineage::rpc
