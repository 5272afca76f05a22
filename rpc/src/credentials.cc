#include "rpc/include/lineage/rpc/credentials.h"

#include <fcntl.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/rand.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <fstream>
#include <sstream>

#include "absl/status/status.h"
#include "absl/strings/str_split.h"

#include <fmt/format.h>

namespace lineage::rpc {
namespace {

constexpr char kHeader[] = "# lineage credentials v1";
constexpr size_t kMaxNameBytes = 128;
constexpr int kTokenBytes = 32;

std::string Hex(const unsigned char* data, size_t size) {
  std::string out;
  out.reserve(size * 2);
  for (size_t i = 0; i < size; ++i)
    out += fmt::format("{:02x}", data[i]);
  return out;
}

std::string Sha256Hex(std::string_view data) {
  unsigned char digest[EVP_MAX_MD_SIZE];
  unsigned int size = 0;
  EVP_Digest(data.data(), data.size(), digest, &size, EVP_sha256(), nullptr);
  return Hex(digest, size);
}

absl::Status ValidateName(std::string_view name) {
  if (name.empty() || name.size() > kMaxNameBytes) {
    return absl::InvalidArgumentError(
        fmt::format("a credential name has 1 to {} bytes", kMaxNameBytes));
  }
  for (unsigned char c : name) {
    if (c < 0x21 || c == 0x7f) {
      return absl::InvalidArgumentError("a credential name has no spaces or control characters");
    }
  }
  return absl::OkStatus();
}

}  // namespace

std::string_view RoleName(Role role) {
  switch (role) {
    case Role::kGate:
      return "gate";
    case Role::kIngest:
      return "ingest";
    case Role::kReader:
      return "reader";
    case Role::kResponder:
      return "responder";
    case Role::kApprover:
      return "approver";
    case Role::kAdmin:
      return "admin";
  }
  return "unknown";
}

std::optional<Role> ParseRole(std::string_view name) {
  for (Role r : {Role::kGate, Role::kIngest, Role::kReader, Role::kResponder, Role::kApprover,
                 Role::kAdmin}) {
    if (RoleName(r) == name) return r;
  }
  return std::nullopt;
}

absl::StatusOr<CredentialStore> CredentialStore::Load(const std::string& path) {
  CredentialStore store;
  store.path_ = path;
  std::ifstream in(path);
  if (!in) {
    if (errno == ENOENT) return store;
    return absl::FailedPreconditionError(fmt::format("{}: {}", path, std::strerror(errno)));
  }
  std::string line;
  int number = 0;
  while (std::getline(in, line)) {
    ++number;
    if (number == 1) {
      if (line != kHeader) {
        return absl::InvalidArgumentError(
            fmt::format("{}:1: not a lineage credentials file (expected \"{}\")", path, kHeader));
      }
      continue;
    }
    if (line.empty()) continue;
    std::vector<std::string> fields = absl::StrSplit(line, '\t');
    auto fail = [&](std::string_view what) {
      return absl::InvalidArgumentError(fmt::format("{}:{}: {}", path, number, what));
    };
    if (fields.size() != 5) return fail("expected 5 tab-separated fields");
    Credential c;
    c.name = fields[0];
    if (!ValidateName(c.name).ok()) return fail("malformed name");
    std::optional<Role> role = ParseRole(fields[1]);
    if (!role) return fail(fmt::format("unknown role \"{}\"", fields[1]));
    c.role = *role;
    c.token_sha256 = fields[2];
    if (c.token_sha256.size() != 64) return fail("the token hash is not 64 hex digits");
    char* end = nullptr;
    long long micros = std::strtoll(fields[3].c_str(), &end, 10);
    if (end == nullptr || *end != '\0') return fail("malformed creation time");
    c.created = absl::FromUnixMicros(micros);
    if (fields[4] != "0" && fields[4] != "1") return fail("revoked must be 0 or 1");
    c.revoked = fields[4] == "1";
    store.credentials_.push_back(std::move(c));
  }
  return store;
}

absl::StatusOr<std::string> CredentialStore::Create(std::string_view name, Role role,
                                                    absl::Time now) {
  if (absl::Status s = ValidateName(name); !s.ok()) return s;
  for (const Credential& c : credentials_) {
    if (c.name == name) {
      return absl::AlreadyExistsError(fmt::format("a credential named {} exists", name));
    }
  }
  unsigned char random[kTokenBytes];
  if (RAND_bytes(random, kTokenBytes) != 1) {
    return absl::InternalError("the random generator failed");
  }
  // The role is in the token so that a leaked token in a log says what it
  // grants; the random part is what authenticates.
  std::string token = fmt::format("lgt_{}_{}", RoleName(role), Hex(random, kTokenBytes));
  Credential c;
  c.name = std::string(name);
  c.role = role;
  c.token_sha256 = Sha256Hex(token);
  c.created = now;
  credentials_.push_back(c);
  if (absl::Status s = Save(); !s.ok()) {
    credentials_.pop_back();
    return s;
  }
  return token;
}

absl::Status CredentialStore::Revoke(std::string_view name) {
  for (Credential& c : credentials_) {
    if (c.name != name) continue;
    bool was = c.revoked;
    c.revoked = true;
    if (absl::Status s = Save(); !s.ok()) {
      c.revoked = was;
      return s;
    }
    return absl::OkStatus();
  }
  return absl::NotFoundError(fmt::format("no credential named {}", name));
}

std::optional<Credential> CredentialStore::Authenticate(std::string_view token) const {
  std::string hash = Sha256Hex(token);
  std::optional<Credential> found;
  for (const Credential& c : credentials_) {
    // Every entry is compared, so timing does not reveal which one matched.
    if (CRYPTO_memcmp(c.token_sha256.data(), hash.data(), hash.size()) == 0 && !c.revoked) {
      found = c;
    }
  }
  return found;
}

absl::Status CredentialStore::Save() const {
  std::ostringstream text;
  text << kHeader << "\n";
  for (const Credential& c : credentials_) {
    text << c.name << '\t' << RoleName(c.role) << '\t' << c.token_sha256 << '\t'
         << absl::ToUnixMicros(c.created) << '\t' << (c.revoked ? 1 : 0) << '\n';
  }
  std::string body = text.str();
  std::string tmp = path_ + ".tmp";
  int fd = ::open(tmp.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
  if (fd < 0)
    return absl::FailedPreconditionError(fmt::format("{}: {}", tmp, std::strerror(errno)));
  size_t done = 0;
  while (done < body.size()) {
    ssize_t n = ::write(fd, body.data() + done, body.size() - done);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) {
      int e = errno;
      ::close(fd);
      return absl::InternalError(fmt::format("write {}: {}", tmp, std::strerror(e)));
    }
    done += static_cast<size_t>(n);
  }
  // The rename publishes the new file only once its bytes are on disk, so a
  // crash leaves the old file or the new one, never a torn one.
  if (::fsync(fd) != 0 || ::close(fd) != 0) {
    return absl::InternalError(fmt::format("fsync {}: {}", tmp, std::strerror(errno)));
  }
  if (::rename(tmp.c_str(), path_.c_str()) != 0) {
    return absl::InternalError(fmt::format("rename {}: {}", path_, std::strerror(errno)));
  }
  return absl::OkStatus();
}

}  // namespace lineage::rpc
