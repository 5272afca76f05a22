// cosign attestation manifests: an OCI image manifest whose layers are DSSE
// envelopes, with the Fulcio certificate, its chain and the Rekor entry
// (cosign's "bundle": a signed entry timestamp and its payload) in the
// layer's annotations. Each layer is assembled into a v0.1-style Sigstore
// bundle and verified like one; the envelope itself is fetched by digest.
#include <optional>
#include <string>

#include "absl/status/status.h"
#include "absl/strings/numbers.h"

#include <fmt/format.h>
#include <simdjson.h>

#include "engine/include/lineage/ref.h"
#include "ingest/include/lineage/ingest/crypto.h"
#include "ingest/include/lineage/ingest/sigstore.h"
#include "ingest/src/json_util.h"
#include "ingest/src/parse_internal.h"
#include "ingest/src/sigstore_internal.h"

namespace lineage::ingest::internal {
namespace {

using simdjson::dom::array;
using simdjson::dom::element;
using simdjson::dom::object;

constexpr std::string_view kDsseLayer = "application/vnd.dsse.envelope.v1+json";
constexpr std::string_view kCertificateAnnotation = "dev.sigstore.cosign/certificate";
constexpr std::string_view kBundleAnnotation = "dev.sigstore.cosign/bundle";

absl::StatusOr<std::string> DecodeHex(std::string_view hex) {
  if (hex.size() % 2 != 0) return absl::InvalidArgumentError("odd number of hex digits");
  std::string out;
  for (size_t i = 0; i < hex.size(); i += 2) {
    int value = 0;
    for (char c : hex.substr(i, 2)) {
      int v = c >= '0' && c <= '9'   ? c - '0'
              : c >= 'a' && c <= 'f' ? c - 'a' + 10
              : c >= 'A' && c <= 'F' ? c - 'A' + 10
                                     : -1;
      if (v < 0) return absl::InvalidArgumentError("not hex");
      value = value * 16 + v;
    }
    out.push_back(static_cast<char>(value));
  }
  return out;
}

// An integer written as a JSON number or a decimal string (cosign writes
// both, depending on the version).
bool ReadInt(const object& o, std::string_view key, int64_t* out) {
  element e;
  if (o.at_key(key).get(e) != simdjson::SUCCESS) return false;
  if (e.get_int64().get(*out) == simdjson::SUCCESS) return true;
  std::string_view text;
  return e.get_string().get(text) == simdjson::SUCCESS &&
         absl::SimpleAtoi(absl::string_view(text.data(), text.size()), out);
}

// cosign's bundle annotation: {"SignedEntryTimestamp": b64, "Payload":
// {"body": b64, "integratedTime", "logIndex", "logID": hex}}.
absl::StatusOr<TlogEntry> ParseCosignBundle(std::string_view text, std::string_view path) {
  simdjson::dom::parser parser;
  absl::StatusOr<element> root = json::Parse(parser, text, path);
  if (!root.ok()) return root.status();
  object o, payload;
  LINEAGE_RETURN_IF_ERROR(json::AsObject(*root, path, &o));
  std::optional<object> payload_object;
  LINEAGE_RETURN_IF_ERROR(json::FindObject(o, path, "Payload", &payload_object));
  if (!payload_object) return json::Error(json::Join(path, "Payload"), "missing");
  payload = *payload_object;
  std::string payload_path = json::Join(path, "Payload");

  TlogEntry entry;
  std::optional<std::string_view> set, body, log_id;
  LINEAGE_RETURN_IF_ERROR(json::FindString(o, path, "SignedEntryTimestamp", &set));
  LINEAGE_RETURN_IF_ERROR(json::FindString(payload, payload_path, "body", &body));
  LINEAGE_RETURN_IF_ERROR(json::FindString(payload, payload_path, "logID", &log_id));
  if (!set || !body || !log_id) {
    return json::Error(path, "needs SignedEntryTimestamp, Payload.body and Payload.logID");
  }
  if (!ReadInt(payload, "integratedTime", &entry.integrated_time) ||
      !ReadInt(payload, "logIndex", &entry.log_index) || entry.integrated_time < 0 ||
      entry.log_index < 0) {
    return json::Error(payload_path, "needs integratedTime and logIndex");
  }
  absl::StatusOr<std::string> set_bytes = DecodeBase64(*set);
  absl::StatusOr<std::string> body_bytes = DecodeBase64(*body);
  absl::StatusOr<std::string> id = DecodeHex(*log_id);
  if (!set_bytes.ok() || !body_bytes.ok() || !id.ok()) {
    return json::Error(path, "SignedEntryTimestamp and body must be base64, logID hex");
  }
  entry.signed_entry_timestamp = *std::move(set_bytes);
  entry.body = *std::move(body_bytes);
  entry.log_id = *std::move(id);

  // The entry's kind comes from its body; the body is what the log signed.
  simdjson::dom::parser body_parser;
  element body_root;
  object body_object;
  std::string_view kind, version;
  if (body_parser.parse(entry.body.data(), entry.body.size()).get(body_root) != simdjson::SUCCESS ||
      body_root.get_object().get(body_object) != simdjson::SUCCESS ||
      body_object["kind"].get_string().get(kind) != simdjson::SUCCESS ||
      body_object["apiVersion"].get_string().get(version) != simdjson::SUCCESS) {
    return json::Error(json::Join(payload_path, "body"), "not a Rekor entry body");
  }
  entry.kind = std::string(kind);
  entry.version = std::string(version);
  return entry;
}

std::string Annotation(const object& annotations, std::string_view key) {
  std::string_view value;
  if (annotations.at_key(key).get_string().get(value) != simdjson::SUCCESS) return "";
  return std::string(value);
}

}  // namespace

bool IsCosignAttestationManifest(const object& o) {
  array layers;
  if (o.at_key("layers").get_array().get(layers) != simdjson::SUCCESS) return false;
  for (element layer : layers) {
    object annotations;
    if (layer.at_key("annotations").get_object().get(annotations) != simdjson::SUCCESS) continue;
    if (!Annotation(annotations, kBundleAnnotation).empty()) return true;
  }
  return false;
}

void VerifyCosignManifest(std::string_view source, const object& manifest,
                          const TrustPolicy& policy, const IngestOptions& options,
                          std::vector<ItemResult>* out) {
  array layers;
  if (manifest.at_key("layers").get_array().get(layers) != simdjson::SUCCESS) {
    out->push_back(Failed(source, json::Error("layers", "expected an array")));
    return;
  }
  if (layers.size() > options.limits.max_items_per_document) {
    out->push_back(Failed(source, json::Error("layers", "more than max_items_per_document")));
    return;
  }
  const size_t items_before = out->size();
  size_t index = 0;
  for (element layer : layers) {
    std::string layer_path = json::Index("layers", index);
    std::string layer_source = fmt::format("{}#layers[{}]", source, index++);
    auto fail = [&](const absl::Status& status) { out->push_back(Failed(layer_source, status)); };

    object layer_object, annotations;
    std::string_view media_type, digest_text;
    if (layer.get_object().get(layer_object) != simdjson::SUCCESS ||
        layer_object["mediaType"].get_string().get(media_type) != simdjson::SUCCESS ||
        layer_object["digest"].get_string().get(digest_text) != simdjson::SUCCESS) {
      fail(json::Error(layer_path, "needs mediaType and digest"));
      continue;
    }
    if (media_type != kDsseLayer) continue;  // not an attestation layer
    if (layer_object["annotations"].get_object().get(annotations) != simdjson::SUCCESS) {
      fail(json::Error(json::Join(layer_path, "annotations"), "missing"));
      continue;
    }

    // The envelope, by digest; what comes back must be what was named.
    absl::StatusOr<Ref> digest = ParseRef(digest_text);
    if (!digest.ok() || digest->kind != NodeKind::kArtifact ||
        digest->text.rfind("sha256:", 0) != 0) {
      fail(json::Error(json::Join(layer_path, "digest"), "not a sha256 digest"));
      continue;
    }
    std::optional<std::string> blob;
    if (options.blob_lookup) blob = options.blob_lookup(digest->text);
    if (!blob) {
      fail(json::Error(json::Join(layer_path, "digest"),
                       fmt::format("the DSSE envelope blob {} is not available (the caller "
                                   "supplies blobs through IngestOptions::blob_lookup)",
                                   digest->text)));
      continue;
    }
    if (blob->size() > options.limits.max_document_bytes ||
        "sha256:" + Sha256Hex(*blob) != digest->text) {
      fail(json::Error(json::Join(layer_path, "digest"),
                       "the blob's SHA-256 is not the layer digest"));
      continue;
    }

    SigstoreBundle bundle;
    bundle.media_type = "cosign-oci-annotations";
    // cosign's annotations carry a signed entry timestamp and no proof:
    // the v0.1 rules.
    bundle.minor_version = 1;
    std::string annotations_path = json::Join(layer_path, "annotations");
    absl::StatusOr<std::shared_ptr<const Certificate>> leaf =
        Certificate::FromPem(Annotation(annotations, kCertificateAnnotation));
    if (!leaf.ok()) {
      fail(json::Error(json::MapKey(annotations_path, kCertificateAnnotation),
                       std::string(leaf.status().message())));
      continue;
    }
    bundle.certificates.push_back((*leaf)->der());
    absl::StatusOr<TlogEntry> entry =
        ParseCosignBundle(Annotation(annotations, kBundleAnnotation),
                          json::MapKey(annotations_path, kBundleAnnotation));
    if (!entry.ok()) {
      fail(entry.status());
      continue;
    }
    bundle.tlog_entries.push_back(*std::move(entry));

    simdjson::dom::parser parser;
    absl::StatusOr<element> envelope_root = json::Parse(parser, *blob, "envelope blob");
    object envelope_object;
    absl::Status status = envelope_root.status();
    if (status.ok()) status = json::AsObject(*envelope_root, "envelope blob", &envelope_object);
    absl::StatusOr<DsseEnvelope> envelope =
        status.ok() ? ParseEnvelopeObject(envelope_object, options.limits)
                    : absl::StatusOr<DsseEnvelope>(status);
    if (!envelope.ok()) {
      fail(json::Error("envelope blob", std::string(envelope.status().message())));
      continue;
    }
    if (envelope->signatures.size() != 1 || !envelope->signatures[0].problem.empty()) {
      fail(json::Error("envelope blob.signatures",
                       "signature count: a cosign attestation layer carries exactly one "
                       "signature"));
      continue;
    }
    bundle.envelope = *std::move(envelope);
    out->push_back(VerifyParsedBundle(layer_source, bundle, std::move(*blob), policy, options));
  }
  if (out->size() == items_before) {
    out->push_back(Failed(source, json::Error("layers", "no DSSE envelope layer")));
  }
}

}  // namespace lineage::ingest::internal
