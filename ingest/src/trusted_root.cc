// Sigstore trusted_root.json: the Fulcio CAs, Rekor logs, CT logs and
// timestamp authorities an offline verifier trusts, each with its validity.
#include <cerrno>
#include <cstring>
#include <fstream>
#include <optional>
#include <sstream>
#include <string>

#include "absl/status/status.h"

#include <fmt/format.h>
#include <simdjson.h>

#include "ingest/include/lineage/ingest/sigstore.h"
#include "ingest/src/json_util.h"
#include "ingest/src/sigstore_internal.h"

namespace lineage::ingest {
namespace {

using simdjson::dom::array;
using simdjson::dom::element;
using simdjson::dom::object;

constexpr size_t kMaxTrustedRootBytes = 4 << 20;
constexpr size_t kMaxEntries = 256;

absl::Status ParseValidity(const object& parent, std::string_view path, ValidityPeriod* out) {
  std::optional<object> valid_for;
  LINEAGE_RETURN_IF_ERROR(json::FindObject(parent, path, "validFor", &valid_for));
  std::string valid_path = json::Join(path, "validFor");
  if (!valid_for) return json::Error(valid_path, "missing");
  std::optional<std::string_view> start, end;
  LINEAGE_RETURN_IF_ERROR(json::FindString(*valid_for, valid_path, "start", &start));
  LINEAGE_RETURN_IF_ERROR(json::FindString(*valid_for, valid_path, "end", &end));
  // A period without a start would trust the key for any past signature:
  // the format requires it, and so do we.
  if (!start) return json::Error(json::Join(valid_path, "start"), "missing");
  absl::StatusOr<absl::Time> s = internal::ParseRfc3339(*start);
  if (!s.ok())
    return json::Error(json::Join(valid_path, "start"), std::string(s.status().message()));
  out->start = *s;
  if (end) {
    absl::StatusOr<absl::Time> e = internal::ParseRfc3339(*end);
    if (!e.ok())
      return json::Error(json::Join(valid_path, "end"), std::string(e.status().message()));
    out->end = *e;
  }
  return absl::OkStatus();
}

absl::StatusOr<std::string> DecodeBytesField(const object& parent, std::string_view path,
                                             std::string_view key) {
  std::optional<std::string_view> text;
  LINEAGE_RETURN_IF_ERROR(json::FindString(parent, path, key, &text));
  std::string field = json::Join(path, key);
  if (!text || text->empty()) return json::Error(field, "missing or empty");
  absl::StatusOr<std::string> bytes = DecodeBase64(*text);
  if (!bytes.ok()) return json::Error(field, std::string(bytes.status().message()));
  return bytes;
}

// `key_required` is false for CT logs: they are not used in verification
// (docs/trust-policy.md, limitations), so a key in a format we do not read
// (staging's PKCS#1 RSA CT key) leaves `key` null instead of failing the
// whole root.
absl::StatusOr<TransparencyLog> ParseLog(const element& e, std::string_view path,
                                         bool key_required) {
  object o;
  LINEAGE_RETURN_IF_ERROR(json::AsObject(e, path, &o));
  TransparencyLog log;
  std::optional<std::string_view> base_url;
  LINEAGE_RETURN_IF_ERROR(json::FindString(o, path, "baseUrl", &base_url));
  if (base_url) log.base_url = std::string(*base_url);

  std::optional<object> public_key, log_id;
  LINEAGE_RETURN_IF_ERROR(json::FindObject(o, path, "publicKey", &public_key));
  LINEAGE_RETURN_IF_ERROR(json::FindObject(o, path, "logId", &log_id));
  std::string key_path = json::Join(path, "publicKey");
  if (!public_key) return json::Error(key_path, "missing");
  if (!log_id) return json::Error(json::Join(path, "logId"), "missing");

  absl::StatusOr<std::string> der = DecodeBytesField(*public_key, key_path, "rawBytes");
  if (!der.ok()) return der.status();
  absl::StatusOr<std::shared_ptr<PublicKey>> key = PublicKey::FromDer(*der);
  if (key.ok()) {
    log.key = *std::move(key);
  } else if (key_required) {
    return json::Error(json::Join(key_path, "rawBytes"), std::string(key.status().message()));
  }
  LINEAGE_RETURN_IF_ERROR(ParseValidity(*public_key, key_path, &log.valid_for));

  absl::StatusOr<std::string> id = DecodeBytesField(*log_id, json::Join(path, "logId"), "keyId");
  if (!id.ok()) return id.status();
  log.log_id = *std::move(id);
  return log;
}

absl::StatusOr<CertificateAuthority> ParseAuthority(const element& e, std::string_view path) {
  object o;
  LINEAGE_RETURN_IF_ERROR(json::AsObject(e, path, &o));
  CertificateAuthority ca;
  std::optional<std::string_view> uri;
  LINEAGE_RETURN_IF_ERROR(json::FindString(o, path, "uri", &uri));
  if (uri) ca.uri = std::string(*uri);

  std::optional<object> chain;
  LINEAGE_RETURN_IF_ERROR(json::FindObject(o, path, "certChain", &chain));
  std::string chain_path = json::Join(path, "certChain");
  if (!chain) return json::Error(chain_path, "missing");
  std::optional<array> certificates;
  LINEAGE_RETURN_IF_ERROR(json::FindArray(*chain, chain_path, "certificates", &certificates));
  std::string certs_path = json::Join(chain_path, "certificates");
  if (!certificates || certificates->size() == 0)
    return json::Error(certs_path, "missing or empty");
  if (certificates->size() > 16) return json::Error(certs_path, "more than 16 certificates");
  size_t index = 0;
  for (element item : *certificates) {
    std::string cert_path = json::Index(certs_path, index++);
    object c;
    LINEAGE_RETURN_IF_ERROR(json::AsObject(item, cert_path, &c));
    absl::StatusOr<std::string> der = DecodeBytesField(c, cert_path, "rawBytes");
    if (!der.ok()) return der.status();
    absl::StatusOr<std::shared_ptr<const Certificate>> cert = Certificate::FromDer(*der);
    if (!cert.ok())
      return json::Error(json::Join(cert_path, "rawBytes"), std::string(cert.status().message()));
    ca.chain.push_back(*std::move(cert));
  }
  LINEAGE_RETURN_IF_ERROR(ParseValidity(o, path, &ca.valid_for));
  return ca;
}

template <typename T, typename F>
absl::Status ParseList(const object& root, std::string_view key, F parse, std::vector<T>* out) {
  std::optional<array> items;
  LINEAGE_RETURN_IF_ERROR(json::FindArray(root, "", key, &items));
  if (!items) return absl::OkStatus();
  if (items->size() > kMaxEntries) {
    return json::Error(key, fmt::format("more than {} entries", kMaxEntries));
  }
  size_t index = 0;
  for (element item : *items) {
    absl::StatusOr<T> parsed = parse(item, json::Index(key, index++));
    if (!parsed.ok()) return parsed.status();
    out->push_back(*std::move(parsed));
  }
  return absl::OkStatus();
}

}  // namespace

absl::StatusOr<std::shared_ptr<const TrustedRoot>> TrustedRoot::Parse(
    std::string_view text, std::string_view source_name) {
  auto fail = [&](const absl::Status& status) {
    return absl::Status(status.code(),
                        fmt::format("{}: {}", source_name, std::string(status.message())));
  };
  if (text.size() > kMaxTrustedRootBytes) {
    return fail(
        absl::InvalidArgumentError(fmt::format("larger than {} bytes", kMaxTrustedRootBytes)));
  }
  simdjson::dom::parser parser;
  absl::StatusOr<element> root = json::Parse(parser, text, "trusted root");
  if (!root.ok()) return fail(root.status());
  object o;
  absl::Status status = json::AsObject(*root, "", &o);
  if (!status.ok()) return fail(status);
  std::optional<std::string_view> media_type;
  status = json::FindString(o, "", "mediaType", &media_type);
  if (!status.ok()) return fail(status);
  if (!media_type || media_type->find("sigstore.trustedroot") == std::string_view::npos) {
    return fail(json::Error("mediaType",
                            "not a Sigstore trusted root "
                            "(application/vnd.dev.sigstore.trustedroot+json)"));
  }

  auto result = std::make_shared<TrustedRoot>();
  result->source_ = std::string(source_name);
  status = ParseList<TransparencyLog>(
      o, "tlogs", [](const element& e, std::string_view p) { return ParseLog(e, p, true); },
      &result->tlogs_);
  if (status.ok()) {
    status = ParseList<TransparencyLog>(
        o, "ctlogs", [](const element& e, std::string_view p) { return ParseLog(e, p, false); },
        &result->ctlogs_);
  }
  if (status.ok()) {
    status =
        ParseList<CertificateAuthority>(o, "certificateAuthorities", ParseAuthority, &result->cas_);
  }
  if (status.ok()) {
    status =
        ParseList<CertificateAuthority>(o, "timestampAuthorities", ParseAuthority, &result->tsas_);
  }
  if (!status.ok()) return fail(status);
  return std::shared_ptr<const TrustedRoot>(std::move(result));
}

absl::StatusOr<std::shared_ptr<const TrustedRoot>> TrustedRoot::LoadFile(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) {
    return absl::NotFoundError(fmt::format("cannot read {}: {}", path, std::strerror(errno)));
  }
  std::string text;
  char buffer[8192];
  while (in.read(buffer, sizeof(buffer)) || in.gcount() > 0) {
    text.append(buffer, static_cast<size_t>(in.gcount()));
    if (text.size() > kMaxTrustedRootBytes) {
      return absl::InvalidArgumentError(
          fmt::format("{}: larger than {} bytes", path, kMaxTrustedRootBytes));
    }
  }
  return Parse(text, path);
}

const TransparencyLog* TrustedRoot::FindLog(std::string_view log_id) const {
  for (const TransparencyLog& log : tlogs_) {
    if (log.log_id == log_id) return &log;
  }
  return nullptr;
}

}  // namespace lineage::ingest
