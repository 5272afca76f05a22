#include "ingest/include/lineage/ingest/trust_policy.h"

#include <cerrno>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <optional>
#include <string>

#include "absl/status/status.h"

#include <fmt/format.h>
#include <simdjson.h>

#include "ingest/include/lineage/ingest/sigstore.h"
#include "ingest/src/json_util.h"

namespace lineage::ingest {
namespace {

using simdjson::dom::array;
using simdjson::dom::element;
using simdjson::dom::object;

// A policy or PEM file larger than this is a mistake (a wrong path), not a
// policy: refuse it rather than read it whole.
constexpr size_t kMaxPolicyFileBytes = 1 << 20;
constexpr int64_t kMaxThreshold = 64;
// More SCTs than any certificate embeds (Fulcio embeds one).
constexpr int64_t kMaxSctThreshold = 8;
// Longest issuer or SAN a regular expression is matched against.
constexpr size_t kMaxRegexInput = 4096;

// Reads a whole small file. The error message is only the reason ("No such
// file or directory"); callers say which file.
absl::StatusOr<std::string> ReadSmallFile(const std::string& path) {
  std::FILE* file = std::fopen(path.c_str(), "rb");
  if (file == nullptr) {
    return absl::NotFoundError(std::strerror(errno));
  }
  std::string data;
  char buffer[8192];
  size_t n;
  while ((n = std::fread(buffer, 1, sizeof(buffer), file)) > 0) {
    data.append(buffer, n);
    if (data.size() > kMaxPolicyFileBytes) {
      std::fclose(file);
      return absl::InvalidArgumentError(fmt::format("larger than {} bytes", kMaxPolicyFileBytes));
    }
  }
  bool failed = std::ferror(file) != 0;
  std::fclose(file);
  if (failed) return absl::DataLossError("read error");
  return data;
}

std::string ResolvePath(std::string_view base_dir, std::string_view path) {
  if (path.empty() || path.front() == '/' || base_dir.empty()) return std::string(path);
  if (base_dir.back() == '/') return fmt::format("{}{}", base_dir, path);
  return fmt::format("{}/{}", base_dir, path);
}

// Every field of the object must be one of `allowed`: a misspelt
// "raw_paylod" silently ignored would change what is trusted.
absl::Status CheckKnownFields(const object& o, std::string_view path,
                              std::initializer_list<std::string_view> allowed) {
  for (simdjson::dom::key_value_pair field : o) {
    bool known = false;
    for (std::string_view a : allowed)
      known = known || field.key == a;
    if (!known) return json::Error(json::Join(path, field.key), "unknown field");
  }
  return json::CheckNoDuplicateKeys(o, path);
}

absl::StatusOr<TrustedKey> ParseKey(const element& e, std::string_view path,
                                    std::string_view base_dir) {
  object o;
  LINEAGE_RETURN_IF_ERROR(json::AsObject(e, path, &o));
  LINEAGE_RETURN_IF_ERROR(CheckKnownFields(o, path, {"name", "pem", "pem_file", "raw_payload"}));

  TrustedKey key;
  std::optional<std::string_view> name, pem, pem_file;
  LINEAGE_RETURN_IF_ERROR(json::FindString(o, path, "name", &name));
  LINEAGE_RETURN_IF_ERROR(json::FindString(o, path, "pem", &pem));
  LINEAGE_RETURN_IF_ERROR(json::FindString(o, path, "pem_file", &pem_file));
  if (!name || name->empty()) return json::Error(json::Join(path, "name"), "missing or empty");
  key.name = std::string(*name);

  std::optional<element> raw;
  LINEAGE_RETURN_IF_ERROR(json::Find(o, path, "raw_payload", &raw));
  if (raw && raw->get_bool().get(key.raw_payload) != simdjson::SUCCESS) {
    return json::Error(json::Join(path, "raw_payload"),
                       fmt::format("expected a boolean, got {}", json::TypeName(*raw)));
  }

  if (pem.has_value() == pem_file.has_value()) {
    return json::Error(path, "exactly one of \"pem\" and \"pem_file\" is required");
  }
  std::string pem_text;
  std::string pem_path = json::Join(path, pem ? "pem" : "pem_file");
  if (pem) {
    pem_text = std::string(*pem);
  } else {
    absl::StatusOr<std::string> contents = ReadSmallFile(ResolvePath(base_dir, *pem_file));
    if (!contents.ok()) {
      return json::Error(pem_path, fmt::format("cannot read {}: {}", *pem_file,
                                               std::string(contents.status().message())));
    }
    pem_text = *std::move(contents);
  }
  absl::StatusOr<std::shared_ptr<PublicKey>> parsed = PublicKey::FromPem(pem_text);
  if (!parsed.ok()) return json::Error(pem_path, std::string(parsed.status().message()));
  key.key = *std::move(parsed);
  return key;
}

absl::StatusOr<std::shared_ptr<const TrustedRoot>> ParseTrustedRootRef(const element& e,
                                                                       std::string_view path,
                                                                       std::string_view base_dir) {
  object o;
  LINEAGE_RETURN_IF_ERROR(json::AsObject(e, path, &o));
  LINEAGE_RETURN_IF_ERROR(CheckKnownFields(o, path, {"name", "file"}));
  std::optional<std::string_view> name, file;
  LINEAGE_RETURN_IF_ERROR(json::FindString(o, path, "name", &name));
  LINEAGE_RETURN_IF_ERROR(json::FindString(o, path, "file", &file));
  if (!name || name->empty()) return json::Error(json::Join(path, "name"), "missing or empty");
  if (!file || file->empty()) return json::Error(json::Join(path, "file"), "missing or empty");
  absl::StatusOr<std::shared_ptr<const TrustedRoot>> root =
      TrustedRoot::LoadFile(ResolvePath(base_dir, *file));
  if (!root.ok())
    return json::Error(json::Join(path, "file"), std::string(root.status().message()));
  return root;
}

absl::StatusOr<TrustedIdentity> ParseIdentity(const element& e, std::string_view path) {
  object o;
  LINEAGE_RETURN_IF_ERROR(json::AsObject(e, path, &o));
  LINEAGE_RETURN_IF_ERROR(
      CheckKnownFields(o, path, {"name", "issuer", "issuer_regex", "san", "san_regex"}));
  std::optional<std::string_view> name, issuer, issuer_regex, san, san_regex;
  LINEAGE_RETURN_IF_ERROR(json::FindString(o, path, "name", &name));
  LINEAGE_RETURN_IF_ERROR(json::FindString(o, path, "issuer", &issuer));
  LINEAGE_RETURN_IF_ERROR(json::FindString(o, path, "issuer_regex", &issuer_regex));
  LINEAGE_RETURN_IF_ERROR(json::FindString(o, path, "san", &san));
  LINEAGE_RETURN_IF_ERROR(json::FindString(o, path, "san_regex", &san_regex));
  if (!name || name->empty()) return json::Error(json::Join(path, "name"), "missing or empty");
  // Both parts are required: an identity without an issuer would trust any
  // OIDC provider that can mint the SAN, and one without a SAN anyone that
  // provider signs in.
  if (issuer.has_value() == issuer_regex.has_value()) {
    return json::Error(path, "exactly one of \"issuer\" and \"issuer_regex\" is required");
  }
  if (san.has_value() == san_regex.has_value()) {
    return json::Error(path, "exactly one of \"san\" and \"san_regex\" is required");
  }
  std::string_view issuer_text = issuer ? *issuer : *issuer_regex;
  std::string_view san_text = san ? *san : *san_regex;
  if (issuer_text.empty())
    return json::Error(json::Join(path, issuer ? "issuer" : "issuer_regex"), "empty");
  if (san_text.empty()) return json::Error(json::Join(path, san ? "san" : "san_regex"), "empty");
  absl::StatusOr<TrustedIdentity> identity =
      MakeTrustedIdentity(std::string(*name), std::string(issuer_text), issuer_regex.has_value(),
                          std::string(san_text), san_regex.has_value());
  if (!identity.ok()) return json::Error(path, std::string(identity.status().message()));
  return identity;
}

absl::StatusOr<TrustPolicy> ParseBody(std::string_view text, std::string_view base_dir) {
  simdjson::dom::parser parser;
  absl::StatusOr<element> root = json::Parse(parser, text, "policy");
  if (!root.ok()) return root.status();
  object o;
  LINEAGE_RETURN_IF_ERROR(json::AsObject(*root, "", &o));
  LINEAGE_RETURN_IF_ERROR(CheckKnownFields(
      o, "", {"version", "threshold", "keys", "trusted_roots", "identities", "sct_threshold"}));

  std::optional<element> version, threshold, sct_threshold;
  LINEAGE_RETURN_IF_ERROR(json::Find(o, "", "version", &version));
  LINEAGE_RETURN_IF_ERROR(json::Find(o, "", "threshold", &threshold));
  LINEAGE_RETURN_IF_ERROR(json::Find(o, "", "sct_threshold", &sct_threshold));
  int64_t version_number = 0;
  if (!version || version->get_int64().get(version_number) != simdjson::SUCCESS ||
      version_number != 1) {
    return json::Error("version", "must be 1");
  }

  TrustPolicy policy;
  int64_t threshold_number = 1;
  if (threshold && (threshold->get_int64().get(threshold_number) != simdjson::SUCCESS ||
                    threshold_number < 1 || threshold_number > kMaxThreshold)) {
    return json::Error("threshold", fmt::format("must be an integer from 1 to {}", kMaxThreshold));
  }
  int64_t sct_threshold_number = 1;
  if (sct_threshold && (sct_threshold->get_int64().get(sct_threshold_number) != simdjson::SUCCESS ||
                        sct_threshold_number < 0 || sct_threshold_number > kMaxSctThreshold)) {
    return json::Error("sct_threshold",
                       fmt::format("must be an integer from 0 to {}", kMaxSctThreshold));
  }
  policy.set_sct_threshold(static_cast<int>(sct_threshold_number));

  std::optional<array> keys;
  LINEAGE_RETURN_IF_ERROR(json::FindArray(o, "", "keys", &keys));
  if (!keys) return json::Error("keys", "missing");
  size_t index = 0;
  for (element item : *keys) {
    std::string path = json::Index("keys", index++);
    absl::StatusOr<TrustedKey> key = ParseKey(item, path, base_dir);
    if (!key.ok()) return key.status();
    // The threshold counts distinct keys; one key listed twice would look
    // like two to a reader of the policy.
    for (const TrustedKey& existing : policy.keys()) {
      if (existing.key->fingerprint() == key->key->fingerprint()) {
        return json::Error(
            path, fmt::format("same key as \"{}\" ({})", existing.name, existing.key->ref()));
      }
    }
    policy.AddKey(*std::move(key));
  }

  std::optional<array> roots, identities;
  LINEAGE_RETURN_IF_ERROR(json::FindArray(o, "", "trusted_roots", &roots));
  LINEAGE_RETURN_IF_ERROR(json::FindArray(o, "", "identities", &identities));
  index = 0;
  if (roots) {
    for (element item : *roots) {
      absl::StatusOr<std::shared_ptr<const TrustedRoot>> root =
          ParseTrustedRootRef(item, json::Index("trusted_roots", index++), base_dir);
      if (!root.ok()) return root.status();
      policy.AddTrustedRoot(*std::move(root));
    }
  }
  index = 0;
  if (identities) {
    for (element item : *identities) {
      absl::StatusOr<TrustedIdentity> identity =
          ParseIdentity(item, json::Index("identities", index++));
      if (!identity.ok()) return identity.status();
      policy.AddIdentity(*std::move(identity));
    }
  }
  // An identity is useless without a root to chain its certificate to; say
  // so now rather than reject every keyless attestation later.
  if (!policy.identities().empty() && policy.trusted_roots().empty()) {
    return json::Error("identities", "keyless identities need at least one trusted_roots entry");
  }

  const size_t signers = policy.keys().size() + policy.identities().size();
  if (threshold_number > static_cast<int64_t>(signers)) {
    return json::Error(
        "threshold",
        policy.identities().empty()
            ? fmt::format("{} exceeds the number of keys ({})", threshold_number, signers)
            : fmt::format("{} exceeds the number of keys and identities ({})", threshold_number,
                          signers));
  }
  policy.set_threshold(static_cast<int>(threshold_number));
  return policy;
}

}  // namespace

bool TrustedIdentity::Matches(std::string_view cert_issuer, std::string_view cert_san) const {
  auto matches = [](const std::string& exact, const std::shared_ptr<const std::regex>& re,
                    std::string_view value) {
    if (!re) return value == exact;
    // libstdc++'s std::regex recurses once per character, so a huge value
    // could exhaust the stack; no real issuer or SAN comes near this bound.
    if (value.size() > kMaxRegexInput) return false;
    try {
      return std::regex_match(value.begin(), value.end(), *re);
    } catch (const std::regex_error&) {
      return false;
    }
  };
  return matches(issuer, issuer_regex, cert_issuer) && matches(san, san_regex, cert_san);
}

absl::StatusOr<TrustedIdentity> MakeTrustedIdentity(std::string name, std::string issuer,
                                                    bool issuer_is_regex, std::string san,
                                                    bool san_is_regex) {
  TrustedIdentity identity;
  identity.name = std::move(name);
  identity.issuer = std::move(issuer);
  identity.san = std::move(san);
  auto compile = [](const std::string& pattern, std::string_view field,
                    std::shared_ptr<const std::regex>* out) -> absl::Status {
    try {
      *out = std::make_shared<const std::regex>(pattern, std::regex::ECMAScript);
    } catch (const std::regex_error& e) {
      return absl::InvalidArgumentError(
          fmt::format("{}: not a valid regular expression: {}", field, e.what()));
    }
    return absl::OkStatus();
  };
  if (issuer_is_regex) {
    LINEAGE_RETURN_IF_ERROR(compile(identity.issuer, "issuer_regex", &identity.issuer_regex));
  }
  if (san_is_regex) {
    LINEAGE_RETURN_IF_ERROR(compile(identity.san, "san_regex", &identity.san_regex));
  }
  return identity;
}

absl::StatusOr<TrustPolicy> TrustPolicy::Parse(std::string_view text, std::string_view base_dir,
                                               std::string_view source_name) {
  if (text.size() > kMaxPolicyFileBytes) {
    return absl::InvalidArgumentError(
        fmt::format("{}: larger than {} bytes", source_name, kMaxPolicyFileBytes));
  }
  absl::StatusOr<TrustPolicy> policy = ParseBody(text, base_dir);
  if (!policy.ok()) {
    return absl::Status(policy.status().code(),
                        fmt::format("{}: {}", source_name, std::string(policy.status().message())));
  }
  return policy;
}

absl::StatusOr<TrustPolicy> TrustPolicy::LoadFile(const std::string& path) {
  absl::StatusOr<std::string> text = ReadSmallFile(path);
  if (!text.ok()) {
    return absl::Status(text.status().code(), fmt::format("cannot read {}: {}", path,
                                                          std::string(text.status().message())));
  }
  size_t slash = path.rfind('/');
  std::string base_dir = slash == std::string::npos ? "" : path.substr(0, slash + 1);
  return Parse(*text, base_dir, path);
}

}  // namespace lineage::ingest
