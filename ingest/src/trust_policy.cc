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

absl::StatusOr<TrustPolicy> ParseBody(std::string_view text, std::string_view base_dir) {
  simdjson::dom::parser parser;
  absl::StatusOr<element> root = json::Parse(parser, text, "policy");
  if (!root.ok()) return root.status();
  object o;
  LINEAGE_RETURN_IF_ERROR(json::AsObject(*root, "", &o));
  LINEAGE_RETURN_IF_ERROR(CheckKnownFields(o, "", {"version", "threshold", "keys"}));

  std::optional<element> version, threshold;
  LINEAGE_RETURN_IF_ERROR(json::Find(o, "", "version", &version));
  LINEAGE_RETURN_IF_ERROR(json::Find(o, "", "threshold", &threshold));
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

  if (threshold_number > static_cast<int64_t>(policy.keys().size())) {
    return json::Error("threshold", fmt::format("{} exceeds the number of keys ({})",
                                                threshold_number, policy.keys().size()));
  }
  policy.set_threshold(static_cast<int>(threshold_number));
  return policy;
}

}  // namespace

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
