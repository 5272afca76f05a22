// VerifyDocument: finds the attestations in a document, checks their
// signatures against the trust policy, and turns what they assert into
// AttestationRecords. The order of checks is deliberate: bounds, then
// structure, then signatures, and only then the content of the payload, so
// that a rejection names the first thing a reader would need to fix and no
// unverified content ever reaches a record.
#include "ingest/include/lineage/ingest/ingest.h"

#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "absl/status/status.h"

#include <fmt/format.h>
#include <simdjson.h>

#include "engine/include/lineage/ref.h"
#include "ingest/include/lineage/ingest/crypto.h"
#include "ingest/include/lineage/ingest/parse.h"
#include "ingest/src/json_util.h"
#include "ingest/src/parse_internal.h"
#include "ingest/src/sigstore_internal.h"

namespace lineage::ingest {
namespace internal {

absl::Status WithSource(std::string_view source, const absl::Status& status) {
  return absl::Status(status.code(), fmt::format("{}: {}", source, std::string(status.message())));
}

ItemResult Failed(std::string_view source, const absl::Status& status,
                  std::vector<std::string> warnings) {
  return ItemResult{std::string(source), WithSource(source, status), std::move(warnings)};
}

}  // namespace internal

namespace {

using internal::Failed;

using simdjson::dom::array;
using simdjson::dom::element;
using simdjson::dom::object;

std::string AsciiLower(std::string_view s) {
  std::string out(s);
  for (char& c : out) {
    if (c >= 'A' && c <= 'Z') c = static_cast<char>(c - 'A' + 'a');
  }
  return out;
}

// A keyid names a trusted key when it is the key's fingerprint, spelled as
// bare hex, "sha256:<hex>" or "key:sha256:<hex>". Other keyids (KMS resource
// names, witness' hash of the PEM text) name nothing we can check, so every
// trusted key is tried instead.
bool KeyidMatches(std::string_view keyid, const PublicKey& key) {
  // npm's registry names its key "SHA256:<unpadded base64 of the SHA-256>".
  if (keyid.size() > 7 && AsciiLower(keyid.substr(0, 7)) == "sha256:") {
    absl::StatusOr<std::string> raw = DecodeBase64(keyid.substr(7));
    if (raw.ok() && raw->size() == 32) {
      static constexpr char kDigits[] = "0123456789abcdef";
      std::string hex;
      for (unsigned char c : *raw) {
        hex.push_back(kDigits[c >> 4]);
        hex.push_back(kDigits[c & 0xf]);
      }
      if (hex == key.fingerprint()) return true;
    }
  }
  std::string id = AsciiLower(keyid);
  std::string_view v = id;
  if (v.substr(0, 4) == "key:") v.remove_prefix(4);
  if (v.substr(0, 7) == "sha256:") v.remove_prefix(7);
  return v == key.fingerprint();
}

std::string ShortKeyid(std::string_view keyid) {
  constexpr size_t kMaxShown = 100;
  if (keyid.size() <= kMaxShown) return std::string(keyid);
  return fmt::format("{}...", keyid.substr(0, kMaxShown));
}

// Copies what the statement asserts into the record.
void FillContent(StatementContent content, AttestationRecord* record,
                 std::vector<std::string>* warnings) {
  record->statement_type = std::move(content.statement_type);
  record->predicate_type = std::move(content.predicate_type);
  record->subjects = std::move(content.subjects);
  record->materials = std::move(content.materials);
  record->builder_id = std::move(content.builder_id);
  record->time = content.time;
  for (std::string& w : content.warnings)
    warnings->push_back(std::move(w));
}

// Checks every signature over `signed_bytes` (and, for keys that allow it,
// over `raw_payload`) and collects one signer per distinct trusted key.
// Returns OK when at least policy.threshold() distinct keys verified; else
// InvalidArgument listing each signature's failure. Failures of signatures
// beyond the threshold become warnings: they are worth seeing, not fatal.
}  // namespace

absl::Status internal::VerifySignatures(const std::vector<EnvelopeSignature>& signatures,
                                        std::string_view signed_bytes,
                                        std::optional<std::string_view> raw_payload,
                                        const TrustPolicy& policy,
                                        std::vector<VerifiedSigner>* signers,
                                        std::vector<std::string>* warnings) {
  std::vector<std::string> failures;
  for (size_t i = 0; i < signatures.size(); ++i) {
    const EnvelopeSignature& signature = signatures[i];
    std::string path = json::Index("signatures", i);
    if (!signature.problem.empty()) {
      failures.push_back(fmt::format("{}: {}", path, signature.problem));
      continue;
    }
    if (policy.keys().empty()) {
      failures.push_back(fmt::format("{}: the trust policy has no keys", path));
      continue;
    }

    // The keyid is only a hint: it selects the key to try, it never makes a
    // signature count on its own.
    std::vector<const TrustedKey*> candidates;
    for (const TrustedKey& key : policy.keys()) {
      if (!signature.keyid.empty() && KeyidMatches(signature.keyid, *key.key)) {
        candidates.push_back(&key);
      }
    }
    const bool matched_keyid = !candidates.empty();
    if (!matched_keyid) {
      for (const TrustedKey& key : policy.keys())
        candidates.push_back(&key);
    }

    const TrustedKey* verified_by = nullptr;
    std::string scheme;
    std::string last_error;
    for (const TrustedKey* key : candidates) {
      absl::StatusOr<std::string> result = key->key->VerifyWithScheme(signed_bytes, signature.sig);
      // Raw-payload signatures do not bind the payload type; only keys the
      // policy marks as signing that way may use them.
      if (!result.ok() && key->raw_payload && raw_payload.has_value()) {
        absl::StatusOr<std::string> raw = key->key->VerifyWithScheme(*raw_payload, signature.sig);
        if (raw.ok()) result = fmt::format("{}+raw-payload", *raw);
      }
      if (result.ok()) {
        verified_by = key;
        scheme = *std::move(result);
        break;
      }
      last_error = std::string(result.status().message());
    }

    if (verified_by == nullptr) {
      if (matched_keyid || candidates.size() == 1) {
        failures.push_back(fmt::format("{}: {}", path, last_error));
      } else if (!signature.keyid.empty()) {
        failures.push_back(fmt::format(
            "{}: no trusted key matches keyid \"{}\" and none of the {} trusted keys verifies it",
            path, ShortKeyid(signature.keyid), candidates.size()));
      } else {
        failures.push_back(
            fmt::format("{}: none of the {} trusted keys verifies it", path, candidates.size()));
      }
      continue;
    }

    // The threshold counts keys, not signatures: one key signing twice is
    // still one signer.
    std::string ref = verified_by->key->ref();
    bool seen = false;
    for (const VerifiedSigner& s : *signers)
      seen = seen || s.key_ref == ref;
    // A keyid becomes an alias of the key's node. One spelled as a keyless
    // identity ("keyless:<issuer>|<san>") would let this key capture that
    // identity's node, so such a hint is dropped.
    std::string keyid = signature.keyid;
    if (AsciiLower(keyid.substr(0, 8)) == "keyless:") {
      warnings->push_back(
          fmt::format("{}: keyid \"{}\" has the form of a keyless identity; not "
                      "recorded",
                      path, ShortKeyid(keyid)));
      keyid.clear();
    }
    if (!seen) {
      VerifiedSigner signer;
      signer.key_ref = ref;
      signer.keyid = std::move(keyid);
      signer.algorithm = std::move(scheme);
      signers->push_back(std::move(signer));
    }
  }

  const size_t required = static_cast<size_t>(policy.threshold() < 1 ? 1 : policy.threshold());
  if (signers->size() >= required) {
    for (std::string& failure : failures) {
      warnings->push_back(fmt::format("{} (ignored: the threshold is met)", failure));
    }
    return absl::OkStatus();
  }
  std::string message = fmt::format("signatures: {} of {} required trusted signatures verified",
                                    signers->size(), required);
  for (const std::string& failure : failures)
    message += fmt::format("; {}", failure);
  return absl::InvalidArgumentError(message);
}

absl::Status internal::FillFromPayload(const DsseEnvelope& envelope, const IngestLimits& limits,
                                       AttestationRecord* record,
                                       std::vector<std::string>* warnings) {
  if (envelope.payload_type != kInTotoPayloadType) {
    return json::Error("payloadType",
                       fmt::format("\"{}\" is not {}: the envelope carries no "
                                   "in-toto statement",
                                   envelope.payload_type.substr(0, 200), kInTotoPayloadType));
  }
  simdjson::dom::parser parser;
  absl::StatusOr<element> payload = json::Parse(parser, envelope.payload, "payload");
  if (!payload.ok()) return payload.status();
  absl::StatusOr<StatementContent> content = internal::ParseStatementElement(*payload, "", limits);
  if (!content.ok()) return content.status();
  FillContent(*std::move(content), record, warnings);
  return absl::OkStatus();
}

namespace {

ItemResult VerifyDsse(std::string_view source, const object& envelope_object, std::string raw,
                      const TrustPolicy& policy, const IngestOptions& options) {
  ItemResult item{std::string(source), absl::UnknownError("unset"), {}};
  absl::StatusOr<DsseEnvelope> envelope =
      internal::ParseEnvelopeObject(envelope_object, options.limits);
  if (!envelope.ok()) return Failed(source, envelope.status());

  AttestationRecord record;
  record.format = "dsse";
  record.payload_type = envelope->payload_type;
  std::string pae = Pae(envelope->payload_type, envelope->payload);
  record.id = Sha256Hex(pae);

  if (envelope->signatures.empty()) {
    if (!options.allow_unsigned) {
      return Failed(source, absl::InvalidArgumentError(
                                "signatures: none; unsigned envelopes are accepted only when "
                                "unsigned input is allowed"));
    }
    record.unsigned_ = true;
  } else {
    absl::Status verified = internal::VerifySignatures(envelope->signatures, pae, envelope->payload,
                                                       policy, &record.signers, &item.warnings);
    if (!verified.ok()) return Failed(source, verified, std::move(item.warnings));
  }

  // Only now look at what was signed. The DSSE test vector, for one, is a
  // valid envelope whose payload is not an attestation.
  absl::Status filled =
      internal::FillFromPayload(*envelope, options.limits, &record, &item.warnings);
  if (!filled.ok()) return Failed(source, filled, std::move(item.warnings));
  record.source = std::string(source);
  record.raw = std::move(raw);
  item.record = std::move(record);
  return item;
}

ItemResult VerifyClassicLink(std::string_view source, const object& o, std::string raw,
                             const TrustPolicy& policy, const IngestOptions& options) {
  ItemResult item{std::string(source), absl::UnknownError("unset"), {}};
  absl::StatusOr<LinkMetablock> link = internal::ParseLinkObject(o, options.limits);
  if (!link.ok()) return Failed(source, link.status());

  AttestationRecord record;
  record.format = "intoto-link";
  record.id = Sha256Hex(link->canonical_signed);
  if (link->signatures.empty()) {
    if (!options.allow_unsigned) {
      return Failed(source, absl::InvalidArgumentError(
                                "signatures: none; unsigned links are accepted only when "
                                "unsigned input is allowed"));
    }
    record.unsigned_ = true;
  } else {
    // Links sign the canonical JSON itself; there is no raw-payload variant.
    absl::Status verified =
        internal::VerifySignatures(link->signatures, link->canonical_signed, std::nullopt, policy,
                                   &record.signers, &item.warnings);
    if (!verified.ok()) return Failed(source, verified, std::move(item.warnings));
  }
  FillContent(std::move(link->content), &record, &item.warnings);
  record.source = std::string(source);
  record.raw = std::move(raw);
  item.record = std::move(record);
  return item;
}

// A statement or link with no envelope at all: acceptable only when the
// caller opted in, and then marked unsigned. Its id hashes the bytes as
// received (a link's, its canonical JSON, as for signed links).
ItemResult AcceptUnsigned(std::string_view source, const element& root, std::string raw,
                          const IngestOptions& options) {
  ItemResult item{std::string(source), absl::UnknownError("unset"), {}};
  if (!options.allow_unsigned) {
    return Failed(source, absl::InvalidArgumentError(
                              "unsigned in-toto statement or link; accepted only when unsigned "
                              "input is allowed"));
  }
  absl::StatusOr<StatementContent> content =
      internal::ParseStatementElement(root, "", options.limits);
  if (!content.ok()) return Failed(source, content.status());

  AttestationRecord record;
  record.unsigned_ = true;
  if (content->statement_type == "link") {
    record.format = "intoto-link";
    absl::StatusOr<std::string> canonical = json::Canonicalize(root);
    if (!canonical.ok()) return Failed(source, canonical.status());
    record.id = Sha256Hex(*canonical);
  } else {
    record.format = "statement";
    record.id = Sha256Hex(raw);
  }
  FillContent(*std::move(content), &record, &item.warnings);
  record.source = std::string(source);
  record.raw = std::move(raw);
  item.record = std::move(record);
  return item;
}

// True for an OCI image index or Docker manifest list.
bool IsImageIndex(const object& o) {
  std::string_view media_type;
  if (o.at_key("mediaType").get_string().get(media_type) != simdjson::SUCCESS) return false;
  return (media_type == "application/vnd.oci.image.index.v1+json" ||
          media_type == "application/vnd.docker.distribution.manifest.list.v2+json") &&
         o.at_key("manifests").is_array();
}

// An OCI image index is content-addressed: its digest is the SHA-256 of its
// bytes, which is what a signed attestation names as its subject. The
// manifests it lists become its materials, so a platform image's lineage
// reaches the index that publishes it. Nothing in the index is signed, so it
// is accepted only with allow_unsigned, and recorded as unsigned.
ItemResult AcceptImageIndex(std::string_view source, const object& o, std::string raw,
                            const IngestOptions& options) {
  ItemResult item{std::string(source), absl::UnknownError("unset"), {}};
  if (!options.allow_unsigned) {
    return Failed(source, absl::InvalidArgumentError(
                              "unsigned OCI image index; accepted only when unsigned input is "
                              "allowed"));
  }
  array manifests;
  if (o.at_key("manifests").get_array().get(manifests) != simdjson::SUCCESS) {
    return Failed(source, json::Error("manifests", "expected an array"));
  }
  if (manifests.size() > options.limits.max_materials) {
    return Failed(source, json::Error("manifests", "more entries than max_materials"));
  }
  AttestationRecord record;
  record.format = "oci-image-index";
  record.unsigned_ = true;
  record.id = Sha256Hex(raw);
  record.subjects.push_back(ArtifactDigests{{"sha256:" + record.id}, "OCI image index"});
  size_t index = 0;
  for (element m : manifests) {
    std::string path = json::Index("manifests", index++);
    std::string_view digest_text;
    if (m.at_key("digest").get_string().get(digest_text) != simdjson::SUCCESS) {
      return Failed(source, json::Error(path, "needs a digest"));
    }
    size_t colon = digest_text.find(':');
    absl::StatusOr<std::string> digest =
        colon == std::string_view::npos
            ? absl::StatusOr<std::string>(absl::InvalidArgumentError("no algorithm"))
            : CanonicalDigest(digest_text.substr(0, colon), digest_text.substr(colon + 1));
    if (!digest.ok()) {
      item.warnings.push_back(
          fmt::format("{}.digest: {}; skipped", path, std::string(digest.status().message())));
      continue;
    }
    record.materials.push_back(ArtifactDigests{{*std::move(digest)}, ""});
  }
  record.source = std::string(source);
  record.raw = std::move(raw);
  item.record = std::move(record);
  return item;
}

// Google Cloud Build's gcloud output: DSSE envelopes at
// provenance_summary.provenance[i].envelope, one item each.
void VerifyCloudBuild(std::string_view source, const object& wrapper, const TrustPolicy& policy,
                      const IngestOptions& options, std::vector<ItemResult>* out) {
  std::optional<object> summary;
  std::optional<array> provenance;
  absl::Status status = json::FindObject(wrapper, "", "provenance_summary", &summary);
  if (status.ok() && summary) {
    status = json::FindArray(*summary, "provenance_summary", "provenance", &provenance);
  }
  if (status.ok() && !provenance) {
    status = json::Error("provenance_summary.provenance", "missing");
  }
  if (!status.ok()) {
    out->push_back(Failed(source, status));
    return;
  }
  if (provenance->size() > options.limits.max_items_per_document) {
    out->push_back(Failed(source, json::Error("provenance_summary.provenance",
                                              fmt::format("{} entries exceed "
                                                          "max_items_per_document ({})",
                                                          provenance->size(),
                                                          options.limits.max_items_per_document))));
    return;
  }
  if (provenance->size() == 0) {
    out->push_back(Failed(source, json::Error("provenance_summary.provenance", "empty")));
    return;
  }

  size_t index = 0;
  for (element entry : *provenance) {
    std::string entry_source = fmt::format("{}#provenance[{}]", source, index++);
    object entry_object;
    std::optional<element> envelope_element;
    status = json::AsObject(entry, "", &entry_object);
    if (status.ok()) status = json::Find(entry_object, "", "envelope", &envelope_element);
    if (status.ok() && !envelope_element) status = json::Error("envelope", "missing");
    object envelope_object;
    if (status.ok()) status = json::AsObject(*envelope_element, "envelope", &envelope_object);
    if (!status.ok()) {
      out->push_back(Failed(entry_source, status));
      continue;
    }
    out->push_back(VerifyDsse(entry_source, envelope_object, simdjson::to_string(*envelope_element),
                              policy, options));
  }
}

bool HasField(const object& o, std::string_view key) {
  for (simdjson::dom::key_value_pair field : o) {
    if (field.key == key) return true;
  }
  return false;
}

// Recognises one JSON value and verifies what it holds. Dispatch is by
// shape, most specific first: bundles are recognised before anything that
// merely carries a "payloadType".
void VerifyValue(std::string_view source, const element& root, std::string_view raw,
                 const TrustPolicy& policy, const IngestOptions& options,
                 std::vector<ItemResult>* out) {
  object o;
  absl::Status status = json::AsObject(root, "", &o);
  if (!status.ok()) {
    out->push_back(Failed(source, absl::InvalidArgumentError(fmt::format(
                                      "expected a JSON object, got {}", json::TypeName(root)))));
    return;
  }
  if (internal::IsSigstoreBundle(o)) {
    out->push_back(internal::VerifyBundle(source, o, std::string(raw), policy, options));
  } else if (internal::IsCosignAttestationManifest(o)) {
    internal::VerifyCosignManifest(source, o, policy, options, out);
  } else if (IsImageIndex(o)) {
    out->push_back(AcceptImageIndex(source, o, std::string(raw), options));
  } else if (HasField(o, "provenance_summary")) {
    VerifyCloudBuild(source, o, policy, options, out);
  } else if (HasField(o, "payloadType")) {
    out->push_back(VerifyDsse(source, o, std::string(raw), policy, options));
  } else if (HasField(o, "signed")) {
    out->push_back(VerifyClassicLink(source, o, std::string(raw), policy, options));
  } else if (HasField(o, "_type")) {
    out->push_back(AcceptUnsigned(source, root, std::string(raw), options));
  } else if (HasField(o, "attestations")) {
    // npm's registry wrapper: a list of Sigstore bundles.
    internal::VerifyNpmAttestations(source, o, policy, options, out);
  } else {
    out->push_back(Failed(source, absl::InvalidArgumentError(
                                      "not a DSSE envelope, in-toto link, in-toto statement or "
                                      "Cloud Build wrapper")));
  }
}

struct Line {
  size_t number;  // 1-based
  std::string_view text;
};

std::vector<Line> NonEmptyLines(std::string_view content) {
  std::vector<Line> lines;
  size_t number = 0;
  size_t start = 0;
  while (start <= content.size()) {
    size_t end = content.find('\n', start);
    if (end == std::string_view::npos) end = content.size();
    ++number;
    std::string_view line = content.substr(start, end - start);
    while (!line.empty() && (line.back() == '\r' || line.back() == ' ' || line.back() == '\t')) {
      line.remove_suffix(1);
    }
    while (!line.empty() && (line.front() == ' ' || line.front() == '\t'))
      line.remove_prefix(1);
    if (!line.empty()) lines.push_back(Line{number, line});
    if (end == content.size()) break;
    start = end + 1;
  }
  return lines;
}

bool ParsesAsObject(std::string_view text) {
  simdjson::dom::parser parser;
  element root;
  return parser.parse(text.data(), text.size()).get(root) == simdjson::SUCCESS && root.is_object();
}

}  // namespace

std::vector<ItemResult> VerifyDocument(std::string_view source_name, std::string_view content,
                                       const TrustPolicy& policy, const IngestOptions& options) {
  std::vector<ItemResult> results;
  const IngestLimits& limits = options.limits;
  if (content.size() > limits.max_document_bytes) {
    results.push_back(Failed(source_name, absl::InvalidArgumentError(fmt::format(
                                              "document of {} bytes exceeds max_document_bytes "
                                              "({})",
                                              content.size(), limits.max_document_bytes))));
    return results;
  }

  // JSON Lines when there are several lines and either the first is a whole
  // object by itself or the document as a whole is not JSON. A pretty-printed
  // object fails the first test and passes as one document; a JSONL file with
  // a corrupt first line still gets a verdict per line.
  simdjson::dom::parser parser;
  element root;
  std::vector<Line> lines = NonEmptyLines(content);
  bool whole_ok = false;
  bool jsonl = false;
  if (lines.size() >= 2 && ParsesAsObject(lines[0].text)) {
    jsonl = true;
  } else {
    whole_ok = parser.parse(content.data(), content.size()).get(root) == simdjson::SUCCESS;
    jsonl = !whole_ok && lines.size() >= 2;
  }

  if (!jsonl) {
    if (!whole_ok) {
      absl::StatusOr<element> parsed = json::Parse(parser, content, "document");
      results.push_back(Failed(source_name, parsed.status()));
      return results;
    }
    VerifyValue(source_name, root, content, policy, options, &results);
    return results;
  }

  size_t json_lines = 0;
  for (const Line& line : lines) {
    std::string source = fmt::format("{}:{}", source_name, line.number);
    if (results.size() >= limits.max_items_per_document) {
      results.push_back(Failed(source, absl::InvalidArgumentError(fmt::format(
                                           "max_items_per_document ({}) reached; the rest of "
                                           "the document was not read",
                                           limits.max_items_per_document))));
      break;
    }
    absl::StatusOr<element> line_root = json::Parse(parser, line.text, "line");
    if (!line_root.ok()) {
      results.push_back(Failed(source, line_root.status()));
      continue;
    }
    ++json_lines;
    VerifyValue(source, *line_root, line.text, policy, options, &results);
  }

  // Not one line was JSON: this is not JSON Lines but something else
  // altogether (an artifact, a text file). One verdict says so better than
  // one per line.
  if (json_lines == 0) {
    results.clear();
    results.push_back(
        Failed(source_name, absl::InvalidArgumentError("document is neither JSON nor JSON Lines")));
  }
  return results;
}

}  // namespace lineage::ingest
