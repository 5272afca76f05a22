// Sigstore bundle parsing: structure and bounds only. Verification is in
// sigstore_verify.cc.
#include <cstdint>
#include <optional>
#include <string>

#include "absl/status/status.h"
#include "absl/strings/numbers.h"
#include "absl/time/time.h"

#include <fmt/format.h>
#include <simdjson.h>

#include "ingest/include/lineage/ingest/sigstore.h"
#include "ingest/src/json_util.h"
#include "ingest/src/parse_internal.h"
#include "ingest/src/sigstore_internal.h"

namespace lineage::ingest {
namespace {

using simdjson::dom::array;
using simdjson::dom::element;
using simdjson::dom::object;

constexpr size_t kMaxCertificates = 16;
constexpr size_t kMaxTlogEntries = 16;
constexpr size_t kMaxTimestamps = 16;
constexpr size_t kMaxProofHashes = 64;
constexpr size_t kMaxBodyBytes = 8 << 20;

// protobuf's JSON mapping writes absent messages as null in some producers
// ("inclusionProof": null); null is read as absent.
absl::Status FindObjectOrNull(const object& o, std::string_view path, std::string_view key,
                              std::optional<object>* out) {
  std::optional<element> e;
  LINEAGE_RETURN_IF_ERROR(json::Find(o, path, key, &e));
  out->reset();
  if (!e || e->is_null()) return absl::OkStatus();
  object value;
  LINEAGE_RETURN_IF_ERROR(json::AsObject(*e, json::Join(path, key), &value));
  *out = value;
  return absl::OkStatus();
}

absl::Status FindArrayOrNull(const object& o, std::string_view path, std::string_view key,
                             std::optional<array>* out) {
  std::optional<element> e;
  LINEAGE_RETURN_IF_ERROR(json::Find(o, path, key, &e));
  out->reset();
  if (!e || e->is_null()) return absl::OkStatus();
  array value;
  LINEAGE_RETURN_IF_ERROR(json::AsArray(*e, json::Join(path, key), &value));
  *out = value;
  return absl::OkStatus();
}

// protobuf's JSON mapping writes int64 as a string; some producers write a
// number. Both are accepted; absent is `fallback`.
absl::Status FindInt64(const object& o, std::string_view path, std::string_view key,
                       int64_t fallback, int64_t* out) {
  std::optional<element> e;
  LINEAGE_RETURN_IF_ERROR(json::Find(o, path, key, &e));
  *out = fallback;
  if (!e || e->is_null()) return absl::OkStatus();
  std::string field = json::Join(path, key);
  int64_t number = 0;
  if (e->get_int64().get(number) == simdjson::SUCCESS) {
    *out = number;
  } else {
    std::string_view text;
    LINEAGE_RETURN_IF_ERROR(json::AsString(*e, field, &text));
    if (text.empty() || text.size() > 20 ||
        !absl::SimpleAtoi(absl::string_view(text.data(), text.size()), &number)) {
      return json::Error(field, "not an integer");
    }
    *out = number;
  }
  if (*out < 0) return json::Error(field, "negative");
  return absl::OkStatus();
}

absl::Status FindBytes(const object& o, std::string_view path, std::string_view key, bool required,
                       std::string* out) {
  std::optional<std::string_view> text;
  LINEAGE_RETURN_IF_ERROR(json::FindString(o, path, key, &text));
  std::string field = json::Join(path, key);
  if (!text || text->empty()) {
    if (required) return json::Error(field, "missing or empty");
    out->clear();
    return absl::OkStatus();
  }
  absl::StatusOr<std::string> bytes = DecodeBase64(*text);
  if (!bytes.ok()) return json::Error(field, std::string(bytes.status().message()));
  *out = *std::move(bytes);
  return absl::OkStatus();
}

// Minor version of a bundle media type, or 0 when it is not one we know.
int BundleMinorVersion(std::string_view media_type) {
  constexpr std::string_view kLegacy = "application/vnd.dev.sigstore.bundle+json;version=0.";
  if (media_type.size() == kLegacy.size() + 1 && media_type.substr(0, kLegacy.size()) == kLegacy) {
    char v = media_type.back();
    if (v >= '1' && v <= '3') return v - '0';
  }
  if (media_type == "application/vnd.dev.sigstore.bundle.v0.3+json") return 3;
  return 0;
}

absl::Status ParseProof(const object& o, std::string_view path, TlogEntry::Proof* proof) {
  LINEAGE_RETURN_IF_ERROR(FindInt64(o, path, "logIndex", -1, &proof->log_index));
  LINEAGE_RETURN_IF_ERROR(FindInt64(o, path, "treeSize", 0, &proof->tree_size));
  if (proof->log_index < 0) return json::Error(json::Join(path, "logIndex"), "missing");
  LINEAGE_RETURN_IF_ERROR(FindBytes(o, path, "rootHash", true, &proof->root_hash));
  std::optional<array> hashes;
  LINEAGE_RETURN_IF_ERROR(FindArrayOrNull(o, path, "hashes", &hashes));
  std::string hashes_path = json::Join(path, "hashes");
  if (hashes) {
    if (hashes->size() > kMaxProofHashes) {
      return json::Error(hashes_path, fmt::format("more than {} hashes", kMaxProofHashes));
    }
    size_t index = 0;
    for (element h : *hashes) {
      std::string hash_path = json::Index(hashes_path, index++);
      std::string_view text;
      LINEAGE_RETURN_IF_ERROR(json::AsString(h, hash_path, &text));
      absl::StatusOr<std::string> bytes = DecodeBase64(text);
      if (!bytes.ok()) return json::Error(hash_path, std::string(bytes.status().message()));
      proof->hashes.push_back(*std::move(bytes));
    }
  }
  std::optional<object> checkpoint;
  LINEAGE_RETURN_IF_ERROR(FindObjectOrNull(o, path, "checkpoint", &checkpoint));
  if (checkpoint) {
    std::optional<std::string_view> envelope;
    LINEAGE_RETURN_IF_ERROR(
        json::FindString(*checkpoint, json::Join(path, "checkpoint"), "envelope", &envelope));
    if (envelope) proof->checkpoint = std::string(*envelope);
  }
  return absl::OkStatus();
}

absl::StatusOr<TlogEntry> ParseTlogEntry(const element& e, std::string_view path) {
  object o;
  LINEAGE_RETURN_IF_ERROR(json::AsObject(e, path, &o));
  TlogEntry entry;
  LINEAGE_RETURN_IF_ERROR(FindInt64(o, path, "logIndex", -1, &entry.log_index));
  LINEAGE_RETURN_IF_ERROR(FindInt64(o, path, "integratedTime", 0, &entry.integrated_time));

  std::optional<object> log_id, kind_version, promise, proof;
  LINEAGE_RETURN_IF_ERROR(FindObjectOrNull(o, path, "logId", &log_id));
  LINEAGE_RETURN_IF_ERROR(FindObjectOrNull(o, path, "kindVersion", &kind_version));
  LINEAGE_RETURN_IF_ERROR(FindObjectOrNull(o, path, "inclusionPromise", &promise));
  LINEAGE_RETURN_IF_ERROR(FindObjectOrNull(o, path, "inclusionProof", &proof));
  if (!log_id) return json::Error(json::Join(path, "logId"), "missing");
  LINEAGE_RETURN_IF_ERROR(
      FindBytes(*log_id, json::Join(path, "logId"), "keyId", true, &entry.log_id));
  if (!kind_version) return json::Error(json::Join(path, "kindVersion"), "missing");
  std::optional<std::string_view> kind, version;
  std::string kv_path = json::Join(path, "kindVersion");
  LINEAGE_RETURN_IF_ERROR(json::FindString(*kind_version, kv_path, "kind", &kind));
  LINEAGE_RETURN_IF_ERROR(json::FindString(*kind_version, kv_path, "version", &version));
  if (!kind || !version) return json::Error(kv_path, "needs kind and version");
  entry.kind = std::string(*kind);
  entry.version = std::string(*version);

  std::optional<std::string_view> body;
  LINEAGE_RETURN_IF_ERROR(json::FindString(o, path, "canonicalizedBody", &body));
  if (!body || body->empty()) {
    return json::Error(json::Join(path, "canonicalizedBody"),
                       "missing: without the entry's body it cannot be matched to this bundle");
  }
  if (body->size() > kMaxBodyBytes) {
    return json::Error(json::Join(path, "canonicalizedBody"), "too large");
  }
  LINEAGE_RETURN_IF_ERROR(FindBytes(o, path, "canonicalizedBody", true, &entry.body));
  if (promise) {
    LINEAGE_RETURN_IF_ERROR(FindBytes(*promise, json::Join(path, "inclusionPromise"),
                                      "signedEntryTimestamp", true, &entry.signed_entry_timestamp));
  }
  if (proof) {
    TlogEntry::Proof p;
    LINEAGE_RETURN_IF_ERROR(ParseProof(*proof, json::Join(path, "inclusionProof"), &p));
    entry.inclusion_proof = std::move(p);
  }
  return entry;
}

absl::Status ParseVerificationMaterial(const object& vm, std::string_view path,
                                       SigstoreBundle* bundle) {
  std::optional<object> chain, certificate, public_key, timestamps;
  LINEAGE_RETURN_IF_ERROR(FindObjectOrNull(vm, path, "x509CertificateChain", &chain));
  LINEAGE_RETURN_IF_ERROR(FindObjectOrNull(vm, path, "certificate", &certificate));
  LINEAGE_RETURN_IF_ERROR(FindObjectOrNull(vm, path, "publicKey", &public_key));
  int given = (chain ? 1 : 0) + (certificate ? 1 : 0) + (public_key ? 1 : 0);
  if (given != 1) {
    return json::Error(path,
                       "exactly one of x509CertificateChain, certificate and publicKey is "
                       "required");
  }
  if (chain) {
    std::string chain_path = json::Join(path, "x509CertificateChain");
    std::optional<array> certs;
    LINEAGE_RETURN_IF_ERROR(FindArrayOrNull(*chain, chain_path, "certificates", &certs));
    std::string certs_path = json::Join(chain_path, "certificates");
    if (!certs || certs->size() == 0) return json::Error(certs_path, "missing or empty");
    if (certs->size() > kMaxCertificates) {
      return json::Error(certs_path, fmt::format("more than {} certificates", kMaxCertificates));
    }
    size_t index = 0;
    for (element c : *certs) {
      std::string cert_path = json::Index(certs_path, index++);
      object co;
      LINEAGE_RETURN_IF_ERROR(json::AsObject(c, cert_path, &co));
      std::string der;
      LINEAGE_RETURN_IF_ERROR(FindBytes(co, cert_path, "rawBytes", true, &der));
      bundle->certificates.push_back(std::move(der));
    }
  } else if (certificate) {
    std::string der;
    LINEAGE_RETURN_IF_ERROR(
        FindBytes(*certificate, json::Join(path, "certificate"), "rawBytes", true, &der));
    bundle->certificates.push_back(std::move(der));
  } else {
    std::optional<std::string_view> hint;
    LINEAGE_RETURN_IF_ERROR(
        json::FindString(*public_key, json::Join(path, "publicKey"), "hint", &hint));
    bundle->public_key_hint = hint ? std::string(*hint) : std::string();
  }

  std::optional<array> entries;
  LINEAGE_RETURN_IF_ERROR(FindArrayOrNull(vm, path, "tlogEntries", &entries));
  if (entries) {
    std::string entries_path = json::Join(path, "tlogEntries");
    if (entries->size() > kMaxTlogEntries) {
      return json::Error(entries_path, fmt::format("more than {} entries", kMaxTlogEntries));
    }
    size_t index = 0;
    for (element e : *entries) {
      absl::StatusOr<TlogEntry> entry = ParseTlogEntry(e, json::Index(entries_path, index++));
      if (!entry.ok()) return entry.status();
      bundle->tlog_entries.push_back(*std::move(entry));
    }
  }

  LINEAGE_RETURN_IF_ERROR(FindObjectOrNull(vm, path, "timestampVerificationData", &timestamps));
  if (timestamps) {
    std::string ts_path = json::Join(path, "timestampVerificationData");
    std::optional<array> list;
    LINEAGE_RETURN_IF_ERROR(FindArrayOrNull(*timestamps, ts_path, "rfc3161Timestamps", &list));
    if (list) {
      std::string list_path = json::Join(ts_path, "rfc3161Timestamps");
      if (list->size() > kMaxTimestamps) {
        return json::Error(list_path, fmt::format("more than {} timestamps", kMaxTimestamps));
      }
      size_t index = 0;
      for (element t : *list) {
        std::string t_path = json::Index(list_path, index++);
        object to;
        LINEAGE_RETURN_IF_ERROR(json::AsObject(t, t_path, &to));
        std::string der;
        LINEAGE_RETURN_IF_ERROR(FindBytes(to, t_path, "signedTimestamp", true, &der));
        bundle->rfc3161_timestamps.push_back(std::move(der));
      }
    }
  }
  return absl::OkStatus();
}

absl::Status ParseMessageSignature(const object& o, std::string_view path, MessageSignature* out) {
  std::optional<object> digest;
  LINEAGE_RETURN_IF_ERROR(FindObjectOrNull(o, path, "messageDigest", &digest));
  std::string digest_path = json::Join(path, "messageDigest");
  if (!digest) {
    return json::Error(digest_path,
                       "missing: without the artifact's digest the signature names nothing");
  }
  std::optional<std::string_view> algorithm;
  LINEAGE_RETURN_IF_ERROR(json::FindString(*digest, digest_path, "algorithm", &algorithm));
  if (!algorithm) return json::Error(json::Join(digest_path, "algorithm"), "missing");
  out->digest_algorithm = std::string(*algorithm);
  LINEAGE_RETURN_IF_ERROR(FindBytes(*digest, digest_path, "digest", true, &out->digest));
  LINEAGE_RETURN_IF_ERROR(FindBytes(o, path, "signature", true, &out->signature));
  return absl::OkStatus();
}

}  // namespace

namespace internal {

absl::StatusOr<absl::Time> ParseRfc3339(std::string_view text) {
  absl::Time t;
  std::string error;
  if (!absl::ParseTime(absl::RFC3339_full, absl::string_view(text.data(), text.size()), &t,
                       &error)) {
    return absl::InvalidArgumentError(fmt::format("not an RFC 3339 time: {}", error));
  }
  return t;
}

absl::StatusOr<SigstoreBundle> ParseBundleObject(const object& o, const IngestLimits& limits) {
  SigstoreBundle bundle;
  std::optional<std::string_view> media_type;
  LINEAGE_RETURN_IF_ERROR(json::FindString(o, "", "mediaType", &media_type));
  if (!media_type) return json::Error("mediaType", "missing");
  bundle.media_type = std::string(*media_type);
  bundle.minor_version = BundleMinorVersion(*media_type);
  if (bundle.minor_version == 0) {
    return json::Error("mediaType",
                       fmt::format("unsupported Sigstore bundle media type \"{}\" (v0.1, v0.2 "
                                   "and v0.3 are supported)",
                                   media_type->substr(0, 120)));
  }

  std::optional<object> vm;
  LINEAGE_RETURN_IF_ERROR(FindObjectOrNull(o, "", "verificationMaterial", &vm));
  if (!vm) return json::Error("verificationMaterial", "missing");
  LINEAGE_RETURN_IF_ERROR(ParseVerificationMaterial(*vm, "verificationMaterial", &bundle));

  std::optional<object> envelope, message;
  LINEAGE_RETURN_IF_ERROR(FindObjectOrNull(o, "", "dsseEnvelope", &envelope));
  LINEAGE_RETURN_IF_ERROR(FindObjectOrNull(o, "", "messageSignature", &message));
  if (envelope.has_value() == message.has_value()) {
    return json::Error("", "exactly one of dsseEnvelope and messageSignature is required");
  }
  if (envelope) {
    absl::StatusOr<DsseEnvelope> parsed = ParseEnvelopeObject(*envelope, limits);
    if (!parsed.ok()) {
      return json::Error("dsseEnvelope", std::string(parsed.status().message()));
    }
    // A bundle binds one signature to one key and one log entry; a second
    // signature would be unverified content riding along (sigstore-go's
    // ErrDSSEInvalidSignatureCount).
    if (parsed->signatures.size() != 1) {
      return json::Error("dsseEnvelope.signatures",
                         fmt::format("signature count: {} signatures, a Sigstore bundle's "
                                     "envelope carries exactly one",
                                     parsed->signatures.size()));
    }
    if (!parsed->signatures[0].problem.empty()) {
      return json::Error("dsseEnvelope.signatures[0]", parsed->signatures[0].problem);
    }
    bundle.envelope = *std::move(parsed);
  } else {
    MessageSignature signature;
    LINEAGE_RETURN_IF_ERROR(ParseMessageSignature(*message, "messageSignature", &signature));
    bundle.message_signature = std::move(signature);
  }
  return bundle;
}

}  // namespace internal

absl::StatusOr<SigstoreBundle> ParseBundle(std::string_view json_text, const IngestLimits& limits) {
  if (json_text.size() > limits.max_document_bytes) {
    return absl::InvalidArgumentError(
        fmt::format("document of {} bytes exceeds max_document_bytes ({})", json_text.size(),
                    limits.max_document_bytes));
  }
  simdjson::dom::parser parser;
  absl::StatusOr<element> root = json::Parse(parser, json_text, "bundle");
  if (!root.ok()) return root.status();
  object o;
  LINEAGE_RETURN_IF_ERROR(json::AsObject(*root, "", &o));
  return internal::ParseBundleObject(o, limits);
}

}  // namespace lineage::ingest
