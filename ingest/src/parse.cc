#include "ingest/include/lineage/ingest/parse.h"

#include <algorithm>
#include <optional>
#include <string>
#include <utility>

#include "absl/status/status.h"
#include "absl/time/time.h"

#include <fmt/format.h>
#include <simdjson.h>

#include "engine/include/lineage/ref.h"
#include "ingest/include/lineage/ingest/crypto.h"
#include "ingest/src/json_util.h"
#include "ingest/src/parse_internal.h"

namespace lineage::ingest {
namespace {

using simdjson::dom::array;
using simdjson::dom::element;
using simdjson::dom::object;

constexpr std::string_view kStatementV01 = "https://in-toto.io/Statement/v0.1";
constexpr std::string_view kStatementV1 = "https://in-toto.io/Statement/v1";
constexpr std::string_view kStatementV10 = "https://in-toto.io/Statement/v1.0";
constexpr std::string_view kLinkType = "link";

constexpr std::string_view kSlsaV01 = "https://slsa.dev/provenance/v0.1";
constexpr std::string_view kSlsaV02 = "https://slsa.dev/provenance/v0.2";
constexpr std::string_view kSlsaV1 = "https://slsa.dev/provenance/v1";
// The v1 release candidate; same shape as v1 for the fields read here.
constexpr std::string_view kSlsaV1Draft = "https://slsa.dev/provenance/v1.0?draft";

absl::Status CheckDocumentSize(std::string_view json, const IngestLimits& limits) {
  if (json.size() > limits.max_document_bytes) {
    return absl::InvalidArgumentError(
        fmt::format("document of {} bytes exceeds max_document_bytes ({})", json.size(),
                    limits.max_document_bytes));
  }
  return absl::OkStatus();
}

absl::Status CheckCount(std::string_view path, size_t count, size_t limit,
                        std::string_view limit_name) {
  if (count > limit) {
    return json::Error(path, fmt::format("{} entries exceed {} ({})", count, limit_name, limit));
  }
  return absl::OkStatus();
}

absl::StatusOr<std::string> DecodeHex(std::string_view hex) {
  if (hex.size() % 2 != 0) return absl::InvalidArgumentError("odd number of hex digits");
  auto value = [](char c) -> int {
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    if (c >= 'A' && c <= 'F') return c - 'A' + 10;
    return -1;
  };
  std::string out(hex.size() / 2, '\0');
  for (size_t i = 0; i < out.size(); ++i) {
    int hi = value(hex[2 * i]);
    int lo = value(hex[2 * i + 1]);
    if (hi < 0 || lo < 0) return absl::InvalidArgumentError("not a hex string");
    out[i] = static_cast<char>(hi << 4 | lo);
  }
  return out;
}

// Canonicalises one in-toto DigestSet into `out`. A value that is not a
// string is an error (the document is malformed); a string that is not a
// usable digest is dropped with a warning naming the field, never re-labelled
// (docs/ingest.md, "Digest rules").
absl::Status ParseDigestSet(const object& set, std::string_view path, const IngestLimits& limits,
                            std::vector<std::string>* out, std::vector<std::string>* warnings) {
  LINEAGE_RETURN_IF_ERROR(
      CheckCount(path, set.size(), limits.max_digests_per_artifact, "max_digests_per_artifact"));
  LINEAGE_RETURN_IF_ERROR(json::CheckNoDuplicateKeys(set, path));

  for (simdjson::dom::key_value_pair entry : set) {
    std::string field = json::Join(path, entry.key);
    std::string_view value;
    LINEAGE_RETURN_IF_ERROR(json::AsString(entry.value, field, &value));

    absl::StatusOr<std::string> digest = CanonicalDigest(entry.key, value);
    if (!digest.ok()) {
      warnings->push_back(
          fmt::format("{}: {}; digest dropped", field, std::string(digest.status().message())));
      continue;
    }
    // Every empty file has this digest: as a node it would make unrelated
    // artifacts siblings under one shared ancestor.
    if (IsEmptyContentDigest(*digest)) {
      warnings->push_back(fmt::format(
          "{}: digest of empty content identifies no particular artifact; digest dropped", field));
      continue;
    }
    // gitCommit and sha1 spell the same id; keep it once.
    if (std::find(out->begin(), out->end(), *digest) == out->end()) {
      out->push_back(*std::move(digest));
    }
  }
  std::stable_sort(out->begin(), out->end(), [](const std::string& a, const std::string& b) {
    return DigestPreference(a) < DigestPreference(b);
  });
  return absl::OkStatus();
}

// Adds one artifact named `name` with the DigestSet `set` to `out`, or warns
// that it was skipped because no digest survived.
absl::Status AddArtifact(std::string_view name, const object& set, std::string_view digest_path,
                         std::string_view artifact_path, const IngestLimits& limits,
                         std::vector<ArtifactDigests>* out, std::vector<std::string>* warnings) {
  ArtifactDigests artifact;
  artifact.name = std::string(name);
  LINEAGE_RETURN_IF_ERROR(ParseDigestSet(set, digest_path, limits, &artifact.digests, warnings));
  if (artifact.digests.empty()) {
    warnings->push_back(fmt::format("{}: no usable digest; skipped", artifact_path));
    return absl::OkStatus();
  }
  out->push_back(std::move(artifact));
  return absl::OkStatus();
}

// A subject, SLSA material or resolved dependency: {"name"?, "uri"?,
// "digest"?}. Without a digest it identifies nothing the graph can hold, so
// it is skipped with a warning (guac's certify-vuln subject has only a uri).
absl::Status ParseDescriptor(const element& e, std::string_view path, const IngestLimits& limits,
                             std::vector<ArtifactDigests>* out,
                             std::vector<std::string>* warnings) {
  object o;
  LINEAGE_RETURN_IF_ERROR(json::AsObject(e, path, &o));
  std::optional<std::string_view> name, uri;
  std::optional<object> digest;
  LINEAGE_RETURN_IF_ERROR(json::FindString(o, path, "name", &name));
  LINEAGE_RETURN_IF_ERROR(json::FindString(o, path, "uri", &uri));
  LINEAGE_RETURN_IF_ERROR(json::FindObject(o, path, "digest", &digest));
  if (!digest) {
    warnings->push_back(fmt::format("{}: no digest; skipped", path));
    return absl::OkStatus();
  }
  std::string_view label = name ? *name : uri ? *uri : std::string_view();
  return AddArtifact(label, *digest, json::Join(path, "digest"), path, limits, out, warnings);
}

absl::Status ParseDescriptorArray(const object& parent, std::string_view parent_path,
                                  std::string_view key, size_t limit, std::string_view limit_name,
                                  const IngestLimits& limits, std::vector<ArtifactDigests>* out,
                                  std::vector<std::string>* warnings) {
  std::optional<array> items;
  LINEAGE_RETURN_IF_ERROR(json::FindArray(parent, parent_path, key, &items));
  if (!items) return absl::OkStatus();
  std::string path = json::Join(parent_path, key);
  LINEAGE_RETURN_IF_ERROR(CheckCount(path, items->size(), limit, limit_name));
  size_t index = 0;
  for (element item : *items) {
    LINEAGE_RETURN_IF_ERROR(
        ParseDescriptor(item, json::Index(path, index++), limits, out, warnings));
  }
  return absl::OkStatus();
}

// A link's "materials" or "products": {name: DigestSet}.
absl::Status ParseArtifactMap(const object& parent, std::string_view parent_path,
                              std::string_view key, size_t limit, std::string_view limit_name,
                              const IngestLimits& limits, std::vector<ArtifactDigests>* out,
                              std::vector<std::string>* warnings) {
  std::optional<object> map;
  LINEAGE_RETURN_IF_ERROR(json::FindObject(parent, parent_path, key, &map));
  if (!map) return absl::OkStatus();
  std::string path = json::Join(parent_path, key);
  LINEAGE_RETURN_IF_ERROR(CheckCount(path, map->size(), limit, limit_name));
  LINEAGE_RETURN_IF_ERROR(json::CheckNoDuplicateKeys(*map, path));
  for (simdjson::dom::key_value_pair entry : *map) {
    std::string entry_path = json::MapKey(path, entry.key);
    object set;
    LINEAGE_RETURN_IF_ERROR(json::AsObject(entry.value, entry_path, &set));
    LINEAGE_RETURN_IF_ERROR(
        AddArtifact(entry.key, set, entry_path, entry_path, limits, out, warnings));
  }
  return absl::OkStatus();
}

// Reads an RFC 3339 time. An unparsable time is not fatal: the record is
// still true without it, and the store falls back to the ingest time.
absl::Status ParseTimeField(const object& parent, std::string_view parent_path,
                            std::string_view key, std::optional<absl::Time>* out,
                            std::vector<std::string>* warnings) {
  out->reset();
  std::optional<std::string_view> text;
  LINEAGE_RETURN_IF_ERROR(json::FindString(parent, parent_path, key, &text));
  if (!text) return absl::OkStatus();
  absl::Time t;
  std::string error;
  if (!absl::ParseTime(absl::RFC3339_full, absl::string_view(text->data(), text->size()), &t,
                       &error)) {
    warnings->push_back(
        fmt::format("{}: not an RFC 3339 time ({}); ignored", json::Join(parent_path, key), error));
    return absl::OkStatus();
  }
  *out = t;
  return absl::OkStatus();
}

// Finished if known, else started: the time the subjects came to exist.
absl::Status ParseBuildTime(const object& metadata, std::string_view path,
                            std::string_view finished_key, std::string_view started_key,
                            StatementContent* content) {
  std::optional<absl::Time> finished, started;
  LINEAGE_RETURN_IF_ERROR(
      ParseTimeField(metadata, path, finished_key, &finished, &content->warnings));
  LINEAGE_RETURN_IF_ERROR(
      ParseTimeField(metadata, path, started_key, &started, &content->warnings));
  if (finished) {
    content->time = *finished;
  } else if (started) {
    content->time = *started;
  }
  return absl::OkStatus();
}

absl::Status ParseBuilderId(const object& builder, std::string_view path,
                            StatementContent* content) {
  std::optional<std::string_view> id;
  LINEAGE_RETURN_IF_ERROR(json::FindString(builder, path, "id", &id));
  if (!id || id->empty()) return absl::OkStatus();
  // The builder becomes a node: its id must be a valid ref, or the store
  // would refuse the record after we accepted it.
  absl::StatusOr<Ref> ref = BuilderRef(*id);
  if (!ref.ok()) return json::Error(json::Join(path, "id"), std::string(ref.status().message()));
  content->builder_id = std::string(*id);
  return absl::OkStatus();
}

// SLSA provenance v0.1 and v0.2: predicate.builder.id, predicate.materials,
// predicate.metadata.build{Finished,Started}On.
absl::Status ParseSlsaV02(const object& predicate, std::string_view path,
                          const IngestLimits& limits, StatementContent* content) {
  std::optional<object> builder, metadata;
  LINEAGE_RETURN_IF_ERROR(json::FindObject(predicate, path, "builder", &builder));
  if (builder)
    LINEAGE_RETURN_IF_ERROR(ParseBuilderId(*builder, json::Join(path, "builder"), content));
  LINEAGE_RETURN_IF_ERROR(ParseDescriptorArray(predicate, path, "materials", limits.max_materials,
                                               "max_materials", limits, &content->materials,
                                               &content->warnings));
  LINEAGE_RETURN_IF_ERROR(json::FindObject(predicate, path, "metadata", &metadata));
  if (metadata) {
    LINEAGE_RETURN_IF_ERROR(ParseBuildTime(*metadata, json::Join(path, "metadata"),
                                           "buildFinishedOn", "buildStartedOn", content));
  }
  return absl::OkStatus();
}

// SLSA provenance v1: predicate.buildDefinition.resolvedDependencies,
// predicate.runDetails.builder.id, predicate.runDetails.metadata.
// {finished,started}On.
absl::Status ParseSlsaV1(const object& predicate, std::string_view path, const IngestLimits& limits,
                         StatementContent* content) {
  std::optional<object> definition, run;
  LINEAGE_RETURN_IF_ERROR(json::FindObject(predicate, path, "buildDefinition", &definition));
  if (definition) {
    LINEAGE_RETURN_IF_ERROR(ParseDescriptorArray(
        *definition, json::Join(path, "buildDefinition"), "resolvedDependencies",
        limits.max_materials, "max_materials", limits, &content->materials, &content->warnings));
  }
  LINEAGE_RETURN_IF_ERROR(json::FindObject(predicate, path, "runDetails", &run));
  if (!run) return absl::OkStatus();
  std::string run_path = json::Join(path, "runDetails");
  std::optional<object> builder, metadata;
  LINEAGE_RETURN_IF_ERROR(json::FindObject(*run, run_path, "builder", &builder));
  if (builder) {
    LINEAGE_RETURN_IF_ERROR(ParseBuilderId(*builder, json::Join(run_path, "builder"), content));
  }
  LINEAGE_RETURN_IF_ERROR(json::FindObject(*run, run_path, "metadata", &metadata));
  if (metadata) {
    LINEAGE_RETURN_IF_ERROR(ParseBuildTime(*metadata, json::Join(run_path, "metadata"),
                                           "finishedOn", "startedOn", content));
  }
  return absl::OkStatus();
}

// An in-toto v0.9 link body: products are what the step made (subjects),
// materials what it used.
absl::Status ParseLinkBody(const object& link, std::string_view path, const IngestLimits& limits,
                           StatementContent* content) {
  LINEAGE_RETURN_IF_ERROR(ParseArtifactMap(link, path, "materials", limits.max_materials,
                                           "max_materials", limits, &content->materials,
                                           &content->warnings));
  LINEAGE_RETURN_IF_ERROR(ParseArtifactMap(link, path, "products", limits.max_subjects,
                                           "max_subjects", limits, &content->subjects,
                                           &content->warnings));
  if (content->subjects.empty()) {
    return json::Error(json::Join(path, "products"), "no product with a usable digest");
  }
  return absl::OkStatus();
}

bool IsStatementType(std::string_view type) {
  return type == kStatementV01 || type == kStatementV1 || type == kStatementV10;
}

}  // namespace

namespace internal {

bool IsSigstoreBundle(const object& o) {
  for (simdjson::dom::key_value_pair field : o) {
    if (field.key == "verificationMaterial" || field.key == "dsseEnvelope" ||
        field.key == "messageSignature") {
      return true;
    }
    std::string_view media_type;
    if (field.key == "mediaType" && field.value.get_string().get(media_type) == simdjson::SUCCESS &&
        media_type.find("sigstore.bundle") != std::string_view::npos) {
      return true;
    }
  }
  return false;
}

absl::StatusOr<DsseEnvelope> ParseEnvelopeObject(const object& o, const IngestLimits& limits) {
  if (IsSigstoreBundle(o)) {
    return absl::InvalidArgumentError(
        "a Sigstore bundle, not a bare DSSE envelope (see ParseBundle in sigstore.h)");
  }

  DsseEnvelope envelope;
  std::optional<std::string_view> payload_type, payload;
  LINEAGE_RETURN_IF_ERROR(json::FindString(o, "", "payloadType", &payload_type));
  LINEAGE_RETURN_IF_ERROR(json::FindString(o, "", "payload", &payload));
  if (!payload_type) return json::Error("payloadType", "missing");
  if (!payload) return json::Error("payload", "missing");
  envelope.payload_type = std::string(*payload_type);

  // Check the size before decoding: the decoded size is 3/4 of the text.
  if (payload->size() / 4 * 3 > limits.max_payload_bytes + 3) {
    return json::Error("payload", fmt::format("decoded size exceeds max_payload_bytes ({})",
                                              limits.max_payload_bytes));
  }
  absl::StatusOr<std::string> decoded = DecodeBase64(*payload);
  if (!decoded.ok()) {
    return json::Error("payload", std::string(decoded.status().message()));
  }
  if (decoded->size() > limits.max_payload_bytes) {
    return json::Error("payload", fmt::format("decoded size exceeds max_payload_bytes ({})",
                                              limits.max_payload_bytes));
  }
  envelope.payload = *std::move(decoded);

  std::optional<array> signatures;
  LINEAGE_RETURN_IF_ERROR(json::FindArray(o, "", "signatures", &signatures));
  if (!signatures) return json::Error("signatures", "missing");
  LINEAGE_RETURN_IF_ERROR(
      CheckCount("signatures", signatures->size(), limits.max_signatures, "max_signatures"));

  size_t index = 0;
  for (element item : *signatures) {
    std::string path = json::Index("signatures", index++);
    object s;
    LINEAGE_RETURN_IF_ERROR(json::AsObject(item, path, &s));
    EnvelopeSignature signature;
    std::optional<std::string_view> keyid, sig, cert;
    LINEAGE_RETURN_IF_ERROR(json::FindString(s, path, "keyid", &keyid));
    LINEAGE_RETURN_IF_ERROR(json::FindString(s, path, "sig", &sig));
    LINEAGE_RETURN_IF_ERROR(json::FindString(s, path, "cert", &cert));
    if (keyid) signature.keyid = std::string(*keyid);

    if (cert && !cert->empty()) {
      // Limitation: a keyless certificate is short-lived, so it proves
      // nothing without a verified signing time; a bare envelope carries no
      // transparency-log entry, and looking one up online is not done
      // (offline verification). Such envelopes are verified only inside a
      // Sigstore bundle or a cosign manifest that holds the log entry. The
      // signature is not even checked: it could not count either way.
      signature.problem =
          "signing time: a keyless certificate signature without a transparency-log entry: a "
          "bare DSSE envelope holds no log entry or RFC 3161 timestamp, so when it was signed, "
          "and whether its short-lived certificate was valid then, cannot be established offline "
          "(lineage does not query Rekor); ingest the Sigstore bundle that holds its log entry";
    } else if (!sig || sig->empty()) {
      signature.problem = "no \"sig\"";
    } else {
      absl::StatusOr<std::string> bytes = DecodeBase64(*sig);
      if (bytes.ok()) {
        signature.sig = *std::move(bytes);
      } else {
        signature.problem = fmt::format("sig: {}", std::string(bytes.status().message()));
      }
    }
    envelope.signatures.push_back(std::move(signature));
  }
  return envelope;
}

absl::StatusOr<StatementContent> ParseStatementElement(const element& e, std::string_view path,
                                                       const IngestLimits& limits) {
  object root;
  LINEAGE_RETURN_IF_ERROR(json::AsObject(e, path, &root));
  StatementContent content;

  std::optional<std::string_view> type;
  LINEAGE_RETURN_IF_ERROR(json::FindString(root, path, "_type", &type));
  if (!type) return json::Error(json::Join(path, "_type"), "missing");
  content.statement_type = std::string(*type);

  if (*type == kLinkType) {
    LINEAGE_RETURN_IF_ERROR(ParseLinkBody(root, path, limits, &content));
    return content;
  }
  if (!IsStatementType(*type)) {
    return json::Error(json::Join(path, "_type"),
                       fmt::format("unsupported type \"{}\" (expected an in-toto Statement "
                                   "v0.1/v1 or a link)",
                                   type->substr(0, 200)));
  }

  std::optional<std::string_view> predicate_type;
  LINEAGE_RETURN_IF_ERROR(json::FindString(root, path, "predicateType", &predicate_type));
  if (!predicate_type) return json::Error(json::Join(path, "predicateType"), "missing");
  content.predicate_type = std::string(*predicate_type);

  std::optional<array> subjects;
  LINEAGE_RETURN_IF_ERROR(json::FindArray(root, path, "subject", &subjects));
  if (!subjects) return json::Error(json::Join(path, "subject"), "missing");
  LINEAGE_RETURN_IF_ERROR(ParseDescriptorArray(root, path, "subject", limits.max_subjects,
                                               "max_subjects", limits, &content.subjects,
                                               &content.warnings));
  if (content.subjects.empty()) {
    return json::Error(json::Join(path, "subject"), "no subject with a usable digest");
  }

  // Dispatch on the predicate type, not the statement version: a Statement
  // v0.1 may carry an SLSA v1 predicate (slsa-github-generator's Bazel
  // builder does).
  std::optional<object> predicate;
  LINEAGE_RETURN_IF_ERROR(json::FindObject(root, path, "predicate", &predicate));
  if (!predicate) return content;
  std::string predicate_path = json::Join(path, "predicate");
  if (*predicate_type == kSlsaV01 || *predicate_type == kSlsaV02) {
    LINEAGE_RETURN_IF_ERROR(ParseSlsaV02(*predicate, predicate_path, limits, &content));
  } else if (*predicate_type == kSlsaV1 || *predicate_type == kSlsaV1Draft) {
    LINEAGE_RETURN_IF_ERROR(ParseSlsaV1(*predicate, predicate_path, limits, &content));
  }
  return content;
}

absl::StatusOr<LinkMetablock> ParseLinkObject(const object& o, const IngestLimits& limits) {
  std::optional<element> signed_part;
  std::optional<array> signatures;
  LINEAGE_RETURN_IF_ERROR(json::Find(o, "", "signed", &signed_part));
  LINEAGE_RETURN_IF_ERROR(json::FindArray(o, "", "signatures", &signatures));
  if (!signed_part) return json::Error("signed", "missing");
  if (!signatures) return json::Error("signatures", "missing");
  LINEAGE_RETURN_IF_ERROR(
      CheckCount("signatures", signatures->size(), limits.max_signatures, "max_signatures"));

  object signed_object;
  LINEAGE_RETURN_IF_ERROR(json::AsObject(*signed_part, "signed", &signed_object));
  std::optional<std::string_view> type;
  LINEAGE_RETURN_IF_ERROR(json::FindString(signed_object, "signed", "_type", &type));
  if (type && *type == "layout") {
    return json::Error(
        "signed._type",
        "an in-toto layout is a policy, not an attestation; only links are ingested");
  }
  if (!type || *type != kLinkType) return json::Error("signed._type", "expected \"link\"");

  LinkMetablock link;
  absl::StatusOr<std::string> canonical = json::Canonicalize(*signed_part);
  if (!canonical.ok()) return json::Error("signed", std::string(canonical.status().message()));
  link.canonical_signed = *std::move(canonical);

  size_t index = 0;
  for (element item : *signatures) {
    std::string path = json::Index("signatures", index++);
    object s;
    LINEAGE_RETURN_IF_ERROR(json::AsObject(item, path, &s));
    EnvelopeSignature signature;
    std::optional<std::string_view> keyid, sig;
    std::optional<element> gpg;
    LINEAGE_RETURN_IF_ERROR(json::FindString(s, path, "keyid", &keyid));
    LINEAGE_RETURN_IF_ERROR(json::FindString(s, path, "sig", &sig));
    LINEAGE_RETURN_IF_ERROR(json::Find(s, path, "other_headers", &gpg));
    if (keyid) signature.keyid = std::string(*keyid);
    if (gpg) {
      signature.problem = "GPG signatures are not supported";
    } else if (!sig || sig->empty()) {
      signature.problem = "no \"sig\"";
    } else {
      absl::StatusOr<std::string> bytes = DecodeHex(*sig);
      if (bytes.ok()) {
        signature.sig = *std::move(bytes);
      } else {
        signature.problem = fmt::format("sig: {}", std::string(bytes.status().message()));
      }
    }
    link.signatures.push_back(std::move(signature));
  }

  absl::StatusOr<StatementContent> content = ParseStatementElement(*signed_part, "signed", limits);
  if (!content.ok()) return content.status();
  link.content = *std::move(content);
  return link;
}

}  // namespace internal

absl::StatusOr<DsseEnvelope> ParseEnvelope(std::string_view text, const IngestLimits& limits) {
  LINEAGE_RETURN_IF_ERROR(CheckDocumentSize(text, limits));
  simdjson::dom::parser parser;
  absl::StatusOr<element> root = json::Parse(parser, text, "envelope");
  if (!root.ok()) return root.status();
  object o;
  LINEAGE_RETURN_IF_ERROR(json::AsObject(*root, "", &o));
  return internal::ParseEnvelopeObject(o, limits);
}

absl::StatusOr<StatementContent> ParseStatement(std::string_view text, const IngestLimits& limits) {
  LINEAGE_RETURN_IF_ERROR(CheckDocumentSize(text, limits));
  simdjson::dom::parser parser;
  absl::StatusOr<element> root = json::Parse(parser, text, "statement");
  if (!root.ok()) return root.status();
  return internal::ParseStatementElement(*root, "", limits);
}

absl::StatusOr<LinkMetablock> ParseLink(std::string_view text, const IngestLimits& limits) {
  LINEAGE_RETURN_IF_ERROR(CheckDocumentSize(text, limits));
  simdjson::dom::parser parser;
  absl::StatusOr<element> root = json::Parse(parser, text, "link");
  if (!root.ok()) return root.status();
  object o;
  LINEAGE_RETURN_IF_ERROR(json::AsObject(*root, "", &o));
  return internal::ParseLinkObject(o, limits);
}

absl::StatusOr<std::string> CanonicalJson(std::string_view text) {
  simdjson::dom::parser parser;
  absl::StatusOr<element> root = json::Parse(parser, text, "document");
  if (!root.ok()) return root.status();
  return json::Canonicalize(*root);
}

}  // namespace lineage::ingest
