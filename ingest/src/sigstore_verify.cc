// Verification of Sigstore bundles, offline, against the trusted roots and
// identities of the trust policy. The checks and their order are documented
// in docs/trust-policy.md ("Keyless verification"); each failure names its
// check first ("certificate chain: ...", "signing time: ...", "signature:
// ...", "log entry: ...", "identity: ...") so that callers and tests can tell
// the reasons apart.
#include <openssl/bio.h>
#include <openssl/err.h>
#include <openssl/ts.h>
#include <openssl/x509.h>
#include <openssl/x509_vfy.h>

#include <memory>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "absl/status/status.h"
#include "absl/time/time.h"

#include <fmt/format.h>
#include <simdjson.h>

#include "engine/include/lineage/ref.h"
#include "ingest/include/lineage/ingest/crypto.h"
#include "ingest/include/lineage/ingest/sigstore.h"
#include "ingest/src/json_util.h"
#include "ingest/src/openssl_ptr.h"
#include "ingest/src/parse_internal.h"
#include "ingest/src/sigstore_internal.h"

namespace lineage::ingest::internal {
namespace {

using internal::TsRespPtr;
using internal::TsVerifyCtxPtr;
using internal::X509StoreCtxPtr;
using internal::X509StorePtr;
using simdjson::dom::array;
using simdjson::dom::element;
using simdjson::dom::object;

std::string TimeText(absl::Time t) {
  return absl::FormatTime("%Y-%m-%dT%H:%M:%SZ", t, absl::UTCTimeZone());
}

std::string Hex(std::string_view bytes) {
  static constexpr char kDigits[] = "0123456789abcdef";
  std::string out;
  for (unsigned char c : bytes) {
    out.push_back(kDigits[c >> 4]);
    out.push_back(kDigits[c & 0xf]);
  }
  return out;
}

absl::Status Reason(std::string_view check, std::string_view what) {
  return absl::InvalidArgumentError(fmt::format("{}: {}", check, what));
}

// Verifies that `leaf` chains to `ca` with every certificate valid at `at`,
// and sets `issuer` to the certificate of `ca.chain` that signed `leaf` in
// the chain OpenSSL verified (the SCT check needs that very key; matching
// names or key ids could pick a re-keyed CA of the same name).
// The bundle's own intermediates are not used: the chain must come from the
// trusted root, so a bundle cannot bring its own CA.
absl::Status VerifyChain(const Certificate& leaf, const CertificateAuthority& ca, absl::Time at,
                         const Certificate** issuer) {
  X509StorePtr store(X509_STORE_new());
  X509StoreCtxPtr ctx(X509_STORE_CTX_new());
  if (!store || !ctx || ca.chain.empty()) {
    return absl::InternalError("cannot set up certificate verification");
  }
  // Every certificate of the trusted root's chain is a trust anchor
  // (PARTIAL_CHAIN): they come from the trusted root, not from the bundle,
  // so re-verifying the intermediate's signature by the root on every
  // bundle would only repeat a P-384 verification (about half the cost of a
  // keyless bundle) without checking anything new. Their validity periods
  // are still checked.
  for (const auto& cert : ca.chain) {
    if (X509_STORE_add_cert(store.get(), static_cast<X509*>(cert->x509())) != 1) {
      ERR_clear_error();
      return absl::InternalError("cannot add a CA certificate");
    }
  }
  if (X509_STORE_CTX_init(ctx.get(), store.get(), static_cast<X509*>(leaf.x509()), nullptr) != 1) {
    ERR_clear_error();
    return absl::InternalError("cannot set up certificate verification");
  }
  X509_VERIFY_PARAM* param = X509_STORE_CTX_get0_param(ctx.get());
  X509_VERIFY_PARAM_set_time(param, absl::ToTimeT(at));
  X509_VERIFY_PARAM_set_flags(param, X509_V_FLAG_PARTIAL_CHAIN);
  int ok = X509_verify_cert(ctx.get());
  int error = X509_STORE_CTX_get_error(ctx.get());
  ERR_clear_error();
  if (ok != 1) return absl::InvalidArgumentError(X509_verify_cert_error_string(error));
  // The verified chain starts with the leaf; the next certificate signed it.
  // The store holds ca.chain's own X509 objects, so identity finds it.
  STACK_OF(X509)* verified = X509_STORE_CTX_get0_chain(ctx.get());
  X509* signer =
      verified != nullptr && sk_X509_num(verified) >= 2 ? sk_X509_value(verified, 1) : nullptr;
  *issuer = nullptr;
  for (const auto& cert : ca.chain) {
    if (signer != nullptr && cert->x509() == signer) *issuer = cert.get();
  }
  if (*issuer == nullptr) {
    return absl::InternalError("the verified chain does not name the certificate's issuer");
  }
  return absl::OkStatus();
}

// What the transparency log established about one bundle.
struct LogEvidence {
  std::optional<absl::Time> signing_time;  // from a verified inclusion promise
  int64_t log_index = -1;
  std::vector<absl::Time> timestamps;  // from verified RFC 3161 timestamps
};

// Verifies one RFC 3161 TimeStampResponse over `signature` (its message
// imprint must be the hash of the signature bytes, as Sigstore timestamps
// the signature) against the timestamp authorities of the trusted roots:
// the response's signing certificate must chain to one of them, valid at
// the time it states, and the authority's validFor must contain that time.
// Returns the time.
absl::StatusOr<absl::Time> VerifyTimestamp(std::string_view der, std::string_view signature,
                                           const TrustPolicy& policy) {
  const auto* p = reinterpret_cast<const unsigned char*>(der.data());
  TsRespPtr response(d2i_TS_RESP(nullptr, &p, static_cast<long>(der.size())));
  ERR_clear_error();
  if (!response) return absl::InvalidArgumentError("not a DER TimeStampResponse");
  TS_TST_INFO* info = TS_RESP_get_tst_info(response.get());
  std::tm tm{};
  if (info == nullptr ||
      ASN1_TIME_to_tm(reinterpret_cast<const ASN1_TIME*>(TS_TST_INFO_get_time(info)), &tm) != 1) {
    return absl::InvalidArgumentError("the response holds no timestamp token");
  }
  const absl::Time t = absl::FromTimeT(timegm(&tm));

  size_t tried = 0;
  std::string last_error = "no timestamp authority of the trusted roots was valid at that time";
  for (const auto& root : policy.trusted_roots()) {
    for (const CertificateAuthority& tsa : root->timestamp_authorities()) {
      if (!tsa.valid_for.Contains(t) || tsa.chain.empty()) continue;
      ++tried;
      TsVerifyCtxPtr ctx(TS_VERIFY_CTX_new());
      X509_STORE* store = X509_STORE_new();
      STACK_OF(X509)* certs = sk_X509_new_null();
      BIO* data = BIO_new_mem_buf(signature.data(), static_cast<int>(signature.size()));
      if (!ctx || store == nullptr || certs == nullptr || data == nullptr) {
        X509_STORE_free(store);
        sk_X509_free(certs);
        BIO_free(data);
        return absl::InternalError("cannot set up timestamp verification");
      }
      // The context owns the store, the certificate stack (and a reference
      // to each certificate) and the data BIO from here on.
      TS_VERIFY_CTX_set_store(ctx.get(), store);
      TS_VERIFY_CTX_set_certs(ctx.get(), certs);
      TS_VERIFY_CTX_set_data(ctx.get(), data);
      X509_STORE_add_cert(store, static_cast<X509*>(tsa.chain.back()->x509()));
      for (const auto& cert : tsa.chain) {
        X509* x = static_cast<X509*>(cert->x509());
        X509_up_ref(x);
        sk_X509_push(certs, x);
      }
      // The authority's certificates are checked at the stated time: a TSA
      // certificate that has expired since still vouches for the past.
      X509_VERIFY_PARAM_set_time(X509_STORE_get0_param(store), absl::ToTimeT(t));
      TS_VERIFY_CTX_set_flags(ctx.get(), TS_VFY_VERSION | TS_VFY_SIGNATURE | TS_VFY_DATA);
      int ok = TS_RESP_verify_response(ctx.get(), response.get());
      unsigned long error = ERR_peek_last_error();
      ERR_clear_error();
      if (ok == 1) return t;
      char text[256] = "verification failed";
      if (error != 0) ERR_error_string_n(error, text, sizeof(text));
      last_error = text;
    }
  }
  return absl::InvalidArgumentError(
      fmt::format("timestamp of {} does not verify ({} authorities "
                  "tried): {}",
                  TimeText(t), tried, last_error));
}

// Verifies one entry's inclusion promise and inclusion proof against its
// log's key. Which are required depends on the bundle version: v0.1 needs
// the promise (signed entry timestamp); v0.2 and later need the proof with
// a signed checkpoint. What is present is always checked.
absl::Status VerifyLogEntry(const TlogEntry& entry, std::string_view path, int minor_version,
                            const TrustPolicy& policy, LogEvidence* evidence) {
  const TransparencyLog* log = nullptr;
  for (const auto& root : policy.trusted_roots()) {
    if ((log = root->FindLog(entry.log_id)) != nullptr) break;
  }
  if (log == nullptr) {
    return Reason("signing time",
                  fmt::format("{}.logId: log {} is in no trusted root of the policy", path,
                              EncodeBase64(entry.log_id)));
  }

  if (minor_version == 1 && entry.signed_entry_timestamp.empty()) {
    return Reason("signing time",
                  fmt::format("{}.inclusionPromise: missing; a v0.1 bundle needs the signed "
                              "entry timestamp",
                              path));
  }
  if (minor_version >= 2 &&
      (!entry.inclusion_proof.has_value() || entry.inclusion_proof->checkpoint.empty())) {
    return Reason("signing time",
                  fmt::format("{}.inclusionProof: missing or without a checkpoint; a v0.{} "
                              "bundle needs an inclusion proof with a signed checkpoint",
                              path, minor_version));
  }

  if (!entry.signed_entry_timestamp.empty()) {
    std::string payload = SignedEntryTimestampPayload(entry.body, entry.integrated_time,
                                                      entry.log_id, entry.log_index);
    absl::Status ok = log->key->Verify(payload, entry.signed_entry_timestamp);
    if (!ok.ok()) {
      return Reason("signing time", fmt::format("{}.inclusionPromise: signed entry timestamp: {}",
                                                path, std::string(ok.message())));
    }
    absl::Time t = absl::FromUnixSeconds(entry.integrated_time);
    // A log key outside its validity period may be retired or compromised.
    if (!log->valid_for.Contains(t)) {
      return Reason("signing time",
                    fmt::format("{}: the log key {} was not valid at the integrated time {}", path,
                                log->base_url, TimeText(t)));
    }
    evidence->signing_time = t;
  }

  if (entry.inclusion_proof.has_value()) {
    const TlogEntry::Proof& proof = *entry.inclusion_proof;
    std::string proof_path = fmt::format("{}.inclusionProof", path);
    absl::Status ok = VerifyInclusionProof(
        static_cast<uint64_t>(proof.log_index), static_cast<uint64_t>(proof.tree_size),
        MerkleLeafHash(entry.body), proof.hashes, proof.root_hash);
    if (!ok.ok()) {
      return Reason("signing time", fmt::format("{}: {}", proof_path, std::string(ok.message())));
    }
    if (!proof.checkpoint.empty()) {
      absl::StatusOr<Checkpoint> checkpoint = ParseCheckpoint(proof.checkpoint);
      if (!checkpoint.ok()) {
        return Reason("signing time", fmt::format("{}.checkpoint: {}", proof_path,
                                                  std::string(checkpoint.status().message())));
      }
      if (checkpoint->tree_size != static_cast<uint64_t>(proof.tree_size) ||
          checkpoint->root_hash != proof.root_hash) {
        return Reason("signing time",
                      fmt::format("{}.checkpoint: tree size and root hash differ from the proof's",
                                  proof_path));
      }
      ok = VerifyCheckpointSignature(*checkpoint, *log->key);
      if (!ok.ok()) {
        return Reason("signing time",
                      fmt::format("{}.checkpoint: {}", proof_path, std::string(ok.message())));
      }
    }
  }
  evidence->log_index = entry.log_index;
  return absl::OkStatus();
}

// The signer as a transparency-log body names it: a PEM certificate or
// public key (base64 of the PEM text in Rekor v1 bodies).
struct SignerMaterial {
  std::shared_ptr<const Certificate> certificate;  // keyless
  std::shared_ptr<PublicKey> key;                  // key-based (or the certificate's key)
};

// The DER bytes of the first PEM block labelled `label`, or "" when there
// is none. Matching compares bytes, so there is no need to parse the
// certificate a second time (OpenSSL's key decoding is a quarter of the cost
// of a keyless bundle).
std::string PemBlockDer(std::string_view pem, std::string_view label) {
  std::string begin = fmt::format("-----BEGIN {}-----", label);
  std::string end = fmt::format("-----END {}-----", label);
  size_t start = pem.find(begin);
  if (start == std::string_view::npos) return "";
  start += begin.size();
  size_t stop = pem.find(end, start);
  if (stop == std::string_view::npos) return "";
  std::string base64;
  for (char c : pem.substr(start, stop - start)) {
    if (c != '\n' && c != '\r' && c != ' ' && c != '\t') base64.push_back(c);
  }
  absl::StatusOr<std::string> der = DecodeBase64(base64);
  return der.ok() ? *std::move(der) : "";
}

bool VerifierMatches(std::string_view pem, const SignerMaterial& signer) {
  if (signer.certificate) {
    std::string der = PemBlockDer(pem, "CERTIFICATE");
    return !der.empty() && der == signer.certificate->der();
  }
  absl::StatusOr<std::shared_ptr<PublicKey>> k = PublicKey::FromPem(pem);
  return k.ok() && (*k)->fingerprint() == signer.key->fingerprint();
}

bool Base64VerifierMatches(std::string_view b64_pem, const SignerMaterial& signer) {
  absl::StatusOr<std::string> pem = DecodeBase64(b64_pem);
  return pem.ok() && VerifierMatches(*pem, signer);
}

// A string at a dotted path of the body, or "" when absent or not a string.
std::string StringAt(const element& root, std::initializer_list<std::string_view> keys) {
  element e = root;
  for (std::string_view key : keys) {
    object o;
    if (e.get_object().get(o) != simdjson::SUCCESS) return "";
    if (o.at_key(key).get(e) != simdjson::SUCCESS) return "";
  }
  std::string_view s;
  if (e.get_string().get(s) != simdjson::SUCCESS) return "";
  return std::string(s);
}

std::optional<array> ArrayAt(const element& root, std::initializer_list<std::string_view> keys) {
  element e = root;
  for (std::string_view key : keys) {
    object o;
    if (e.get_object().get(o) != simdjson::SUCCESS) return std::nullopt;
    if (o.at_key(key).get(e) != simdjson::SUCCESS) return std::nullopt;
  }
  array a;
  if (e.get_array().get(a) != simdjson::SUCCESS) return std::nullopt;
  return a;
}

// What the bundle says was signed, for matching against a log entry.
struct SignedContent {
  const DsseEnvelope* envelope = nullptr;     // DSSE bundles
  const MessageSignature* message = nullptr;  // message-signature bundles
  std::string signature;                      // the one signature, raw bytes
  std::string digest_hex;                     // message digest, or SHA-256 of the PAE
};

// Checks that the log entry's body records this very content, signature
// and signer. Without this, a valid entry for some other artifact would
// lend its time to an unlogged signature.
absl::Status MatchLogEntry(const TlogEntry& entry, std::string_view path,
                           const SignedContent& content, const SignerMaterial& signer) {
  simdjson::dom::parser parser;
  element body;
  if (parser.parse(entry.body.data(), entry.body.size()).get(body) != simdjson::SUCCESS) {
    return Reason("log entry", fmt::format("{}.canonicalizedBody: not JSON", path));
  }
  std::string kind = StringAt(body, {"kind"});
  std::string version = StringAt(body, {"apiVersion"});
  if (kind != entry.kind || version != entry.version) {
    return Reason("log entry", fmt::format("{}: body is {} {} but kindVersion says {} {}", path,
                                           kind, version, entry.kind, entry.version));
  }
  auto mismatch = [&](std::string_view what) {
    return Reason("log entry", fmt::format("{}: the {} {} entry records a different {}", path, kind,
                                           version, what));
  };

  if (kind == "intoto" && version == "0.0.2") {
    if (content.envelope == nullptr) return mismatch("content type (not a DSSE envelope)");
    if (StringAt(body, {"spec", "content", "payloadHash", "value"}) !=
        Sha256Hex(content.envelope->payload)) {
      return mismatch("payload");
    }
    if (StringAt(body, {"spec", "content", "envelope", "payloadType"}) !=
        content.envelope->payload_type) {
      return mismatch("payload type");
    }
    std::optional<array> sigs = ArrayAt(body, {"spec", "content", "envelope", "signatures"});
    bool found = false;
    if (!sigs) return mismatch("signature or signer");
    for (element s : *sigs) {
      // intoto v0.0.2 stores the signature base64-encoded twice.
      absl::StatusOr<std::string> once = DecodeBase64(StringAt(s, {"sig"}));
      absl::StatusOr<std::string> twice =
          once.ok() ? DecodeBase64(*once) : absl::StatusOr<std::string>(once.status());
      if (twice.ok() && *twice == content.signature &&
          Base64VerifierMatches(StringAt(s, {"publicKey"}), signer)) {
        found = true;
        break;
      }
    }
    if (!found) return mismatch("signature or signer");
    return absl::OkStatus();
  }

  if (kind == "dsse" && version == "0.0.1") {
    if (content.envelope == nullptr) return mismatch("content type (not a DSSE envelope)");
    if (StringAt(body, {"spec", "payloadHash", "value"}) != Sha256Hex(content.envelope->payload)) {
      return mismatch("payload");
    }
    std::optional<array> sigs = ArrayAt(body, {"spec", "signatures"});
    bool found = false;
    if (!sigs) return mismatch("signature or signer");
    for (element s : *sigs) {
      absl::StatusOr<std::string> sig = DecodeBase64(StringAt(s, {"signature"}));
      if (sig.ok() && *sig == content.signature &&
          Base64VerifierMatches(StringAt(s, {"verifier"}), signer)) {
        found = true;
        break;
      }
    }
    if (!found) return mismatch("signature or signer");
    return absl::OkStatus();
  }

  if (kind == "hashedrekord" && version == "0.0.1") {
    if (StringAt(body, {"spec", "data", "hash", "algorithm"}) != "sha256" ||
        StringAt(body, {"spec", "data", "hash", "value"}) != content.digest_hex) {
      return mismatch("digest");
    }
    absl::StatusOr<std::string> sig =
        DecodeBase64(StringAt(body, {"spec", "signature", "content"}));
    if (!sig.ok() || *sig != content.signature) return mismatch("signature");
    if (!Base64VerifierMatches(StringAt(body, {"spec", "signature", "publicKey", "content"}),
                               signer)) {
      return mismatch("signer");
    }
    return absl::OkStatus();
  }

  if (kind == "hashedrekord" && version == "0.0.2") {
    absl::StatusOr<std::string> digest =
        DecodeBase64(StringAt(body, {"spec", "hashedRekordV002", "data", "digest"}));
    if (StringAt(body, {"spec", "hashedRekordV002", "data", "algorithm"}) != "SHA2_256" ||
        !digest.ok() || Hex(*digest) != content.digest_hex) {
      return mismatch("digest");
    }
    absl::StatusOr<std::string> sig =
        DecodeBase64(StringAt(body, {"spec", "hashedRekordV002", "signature", "content"}));
    if (!sig.ok() || *sig != content.signature) return mismatch("signature");
    absl::StatusOr<std::string> der =
        DecodeBase64(StringAt(body, {"spec", "hashedRekordV002", "signature", "verifier",
                                     "x509Certificate", "rawBytes"}));
    if (!signer.certificate || !der.ok() || *der != signer.certificate->der()) {
      return mismatch("signer");
    }
    return absl::OkStatus();
  }

  // Limitation: other entry kinds (intoto 0.0.1, dsse 0.0.2, rekord, ...)
  // are not matched, so bundles whose only entry is one of them are
  // rejected rather than trusted on the entry's word.
  return Reason("log entry", fmt::format("{}: entry kind {} {} is not supported", path, entry.kind,
                                         entry.version));
}

std::string DigestName(std::string_view sigstore_algorithm) {
  if (sigstore_algorithm == "SHA2_256") return "sha256";
  if (sigstore_algorithm == "SHA2_384") return "sha384";
  if (sigstore_algorithm == "SHA2_512") return "sha512";
  return "";
}

// Finds the trusted CA that issued `leaf`, verifying the chain at the time
// the certificate was issued: a CA must have been trusted when it issued,
// whatever happened to it since. The signing time is checked separately.
absl::Status FindIssuingCa(const Certificate& leaf, const TrustPolicy& policy,
                           const CertificateAuthority** found, const Certificate** issuer) {
  if (policy.trusted_roots().empty()) {
    return Reason("certificate chain", "the trust policy names no trusted_roots");
  }
  std::vector<std::string> failures;
  for (const auto& root : policy.trusted_roots()) {
    for (const CertificateAuthority& ca : root->certificate_authorities()) {
      if (!ca.valid_for.Contains(leaf.not_before())) continue;
      absl::Status chain = VerifyChain(leaf, ca, leaf.not_before(), issuer);
      if (chain.ok()) {
        *found = &ca;
        return absl::OkStatus();
      }
      failures.push_back(fmt::format("{}: {}", ca.uri.empty() ? root->source() : ca.uri,
                                     std::string(chain.message())));
    }
  }
  std::string message = fmt::format(
      "the certificate (issued {}) does not chain to a Fulcio CA of the trusted roots that was "
      "valid when it was issued",
      TimeText(leaf.not_before()));
  for (size_t i = 0; i < failures.size() && i < 4; ++i)
    message += fmt::format("; {}", failures[i]);
  return Reason("certificate chain", message);
}

const TrustedIdentity* MatchIdentity(const Certificate& leaf, const TrustPolicy& policy,
                                     std::string* san_out) {
  for (const TrustedIdentity& identity : policy.identities()) {
    for (const std::string& san : leaf.sans()) {
      if (identity.Matches(leaf.oidc_issuer(), san)) {
        *san_out = san;
        return &identity;
      }
    }
  }
  return nullptr;
}

// The record's content: the DSSE payload's statement, or for a message
// signature the signed artifact itself.
absl::Status FillContent(const SigstoreBundle& bundle, const IngestLimits& limits,
                         AttestationRecord* record, std::vector<std::string>* warnings) {
  if (bundle.envelope) {
    record->format = "sigstore-bundle";
    record->payload_type = bundle.envelope->payload_type;
    record->id = Sha256Hex(Pae(bundle.envelope->payload_type, bundle.envelope->payload));
    return FillFromPayload(*bundle.envelope, limits, record, warnings);
  }
  const MessageSignature& m = *bundle.message_signature;
  absl::StatusOr<std::string> digest =
      CanonicalDigest(DigestName(m.digest_algorithm), Hex(m.digest));
  if (!digest.ok()) {
    return json::Error("messageSignature.messageDigest", std::string(digest.status().message()));
  }
  record->format = "sigstore-message-signature";
  // One artifact signed once: the id binds the digest and the signature, so
  // the same bundle re-wrapped is one attestation.
  record->id = Sha256Hex(
      fmt::format("sigstore-message-signature\n{}\n{}", *digest, EncodeBase64(m.signature)));
  record->subjects.push_back(ArtifactDigests{{*digest}, ""});
  return absl::OkStatus();
}

class BundleVerifier {
 public:
  BundleVerifier(const SigstoreBundle& bundle, const TrustPolicy& policy,
                 std::vector<std::string>* warnings)
      : bundle_(bundle), policy_(policy), warnings_(warnings) {
    if (bundle.envelope) {
      content_.envelope = &*bundle.envelope;
      content_.signature = bundle.envelope->signatures[0].sig;
      content_.digest_hex = Sha256Hex(Pae(bundle.envelope->payload_type, bundle.envelope->payload));
    } else {
      content_.message = &*bundle.message_signature;
      content_.signature = bundle.message_signature->signature;
      content_.digest_hex = Hex(bundle.message_signature->digest);
    }
  }

  // Keyless: the checks, in the documented order.
  absl::Status VerifyKeyless(VerifiedSigner* signer) {
    absl::StatusOr<std::shared_ptr<const Certificate>> leaf =
        Certificate::FromDer(bundle_.certificates[0]);
    if (!leaf.ok()) {
      return Reason("certificate chain", fmt::format("verificationMaterial certificate: {}",
                                                     std::string(leaf.status().message())));
    }
    signer_.certificate = *leaf;
    signer_.key = (*leaf)->public_key();
    const Certificate& cert = **leaf;

    // 1. The chain, to a CA trusted when it issued the certificate.
    const CertificateAuthority* ca = nullptr;
    const Certificate* issuer = nullptr;
    LINEAGE_RETURN_IF_ERROR(FindIssuingCa(cert, policy_, &ca, &issuer));
    if (!cert.code_signing()) {
      return Reason("certificate chain", "the certificate is not issued for code signing");
    }

    // 1b. Certificate transparency: Fulcio logs every certificate to a CT
    // log before issuing it, so a certificate without a verified SCT was
    // issued outside public view (a compromised or misused CA).
    if (policy_.sct_threshold() > 0) LINEAGE_RETURN_IF_ERROR(VerifyScts(cert, *issuer));

    // 2. The transparency-log entries: their promises, proofs and
    // checkpoints verify with a trusted log's key.
    LINEAGE_RETURN_IF_ERROR(VerifyLogEntries());
    if (VerifiedTimes().empty()) {
      return Reason("signing time",
                    bundle_.rfc3161_timestamps.empty()
                        ? "no verified transparency-log entry establishes when it was signed"
                        : "neither a verified transparency-log inclusion promise nor a verified "
                          "RFC 3161 timestamp establishes when it was signed");
    }

    // 3. The signature, with the certificate's key.
    LINEAGE_RETURN_IF_ERROR(VerifySignature(*signer_.key, &signer->algorithm));

    // 4. Every log entry records this content, signature and certificate.
    // Only then is the entry's time this signature's time: an entry about
    // something else proves nothing about when this was signed.
    LINEAGE_RETURN_IF_ERROR(MatchLogEntries());

    // 5. The certificate and its CA were valid at every verified time.
    for (absl::Time t : VerifiedTimes()) {
      if (!cert.ValidAt(t)) {
        return Reason(
            "signing time",
            fmt::format("the certificate was not valid at the signing time {} (valid "
                        "from {} to {})",
                        TimeText(t), TimeText(cert.not_before()), TimeText(cert.not_after())));
      }
      if (!ca->valid_for.Contains(t)) {
        return Reason(
            "signing time",
            fmt::format("the issuing CA was not valid at the signing time {}", TimeText(t)));
      }
    }
    const absl::Time t = VerifiedTimes().front();

    // 6. The identity the certificate names is one the policy trusts.
    std::string san;
    const TrustedIdentity* identity = MatchIdentity(cert, policy_, &san);
    if (identity == nullptr) {
      return Reason("identity",
                    fmt::format("issuer \"{}\" and SAN \"{}\" match none of the {} trusted "
                                "identities of the policy",
                                cert.oidc_issuer().substr(0, 200),
                                cert.sans().empty() ? "" : cert.sans()[0].substr(0, 300),
                                policy_.identities().size()));
    }
    absl::StatusOr<Ref> ref = KeylessRef(cert.oidc_issuer(), san);
    if (!ref.ok()) return Reason("identity", std::string(ref.status().message()));
    signer->key_ref = ref->text;
    signer->certificate_sha256 = cert.fingerprint();
    signer->issuer = cert.oidc_issuer();
    signer->san = san;
    signer->log_index = evidence_.log_index;
    signer->signed_at = t;
    return absl::OkStatus();
  }

  // Key-based (publicKey hint): the key policy decides; log entries, when
  // present, must verify and match, since they are part of what is claimed.
  absl::Status VerifyWithKey(std::vector<VerifiedSigner>* signers) {
    if (bundle_.envelope) {
      std::vector<EnvelopeSignature> signatures = bundle_.envelope->signatures;
      if (signatures[0].keyid.empty()) signatures[0].keyid = *bundle_.public_key_hint;
      std::string pae = Pae(bundle_.envelope->payload_type, bundle_.envelope->payload);
      absl::Status ok =
          VerifySignatures(signatures, pae, bundle_.envelope->payload, policy_, signers, warnings_);
      if (!ok.ok()) return Reason("signature", std::string(ok.message()));
    } else {
      const MessageSignature& m = *bundle_.message_signature;
      const TrustedKey* verified = nullptr;
      for (const TrustedKey& key : policy_.keys()) {
        if (key.key->VerifyDigest(DigestName(m.digest_algorithm), m.digest, m.signature).ok()) {
          verified = &key;
          break;
        }
      }
      if (verified == nullptr) {
        return Reason("signature", fmt::format("none of the {} trusted keys verifies the message "
                                               "signature",
                                               policy_.keys().size()));
      }
      VerifiedSigner signer;
      signer.key_ref = verified->key->ref();
      signer.algorithm = verified->key->algorithm();
      signers->push_back(std::move(signer));
    }
    for (const TrustedKey& key : policy_.keys()) {
      if (key.key->ref() == signers->front().key_ref) signer_.key = key.key;
    }
    if (!bundle_.tlog_entries.empty() || !bundle_.rfc3161_timestamps.empty()) {
      LINEAGE_RETURN_IF_ERROR(VerifyLogEntries());
      LINEAGE_RETURN_IF_ERROR(MatchLogEntries());
      signers->front().log_index = evidence_.log_index;
      if (signing_time()) signers->front().signed_at = *signing_time();
    }
    return absl::OkStatus();
  }

  // `issuer`: the CA certificate that signed `leaf` in the verified chain.
  absl::Status VerifyScts(const Certificate& leaf, const Certificate& issuer) const {
    std::vector<const TransparencyLog*> ctlogs;
    for (const auto& root : policy_.trusted_roots()) {
      for (const TransparencyLog& log : root->ctlogs())
        ctlogs.push_back(&log);
    }
    absl::StatusOr<SctVerification> scts = VerifyEmbeddedScts(leaf, issuer, ctlogs);
    if (!scts.ok()) return Reason("sct", std::string(scts.status().message()));
    if (scts->verified >= policy_.sct_threshold()) return absl::OkStatus();
    std::string message =
        scts->embedded == 0
            ? std::string("the certificate embeds no signed certificate timestamp")
            : fmt::format(
                  "{} of the certificate's {} signed certificate timestamps verify with "
                  "a CT log of the trusted roots ({} CT logs)",
                  scts->verified, scts->embedded, ctlogs.size());
    message += fmt::format("; the policy's sct_threshold is {}", policy_.sct_threshold());
    for (size_t i = 0; i < scts->problems.size() && i < 4; ++i)
      message += fmt::format("; {}", scts->problems[i]);
    return Reason("sct", message);
  }

  std::optional<absl::Time> signing_time() const {
    std::vector<absl::Time> times = VerifiedTimes();
    if (times.empty()) return std::nullopt;
    return times.front();
  }

 private:
  // Verifies every log entry (each must verify) and every RFC 3161
  // timestamp (one that does not verify against the trusted roots' timestamp
  // authorities is only a warning: it adds no time, and another source must
  // give one).
  absl::Status VerifyLogEntries() {
    if (bundle_.tlog_entries.empty() && bundle_.rfc3161_timestamps.empty()) {
      return Reason("signing time",
                    "verificationMaterial: neither tlogEntries nor rfc3161Timestamps");
    }
    for (size_t i = 0; i < bundle_.tlog_entries.size(); ++i) {
      LINEAGE_RETURN_IF_ERROR(VerifyLogEntry(bundle_.tlog_entries[i],
                                             json::Index("verificationMaterial.tlogEntries", i),
                                             bundle_.minor_version, policy_, &evidence_));
    }
    for (size_t i = 0; i < bundle_.rfc3161_timestamps.size(); ++i) {
      absl::StatusOr<absl::Time> t =
          VerifyTimestamp(bundle_.rfc3161_timestamps[i], content_.signature, policy_);
      if (t.ok()) {
        evidence_.timestamps.push_back(*t);
      } else {
        warnings_->push_back(fmt::format(
            "verificationMaterial.timestampVerificationData.rfc3161Timestamps[{}]: {}; ignored", i,
            std::string(t.status().message())));
      }
    }
    return absl::OkStatus();
  }

  // Every verified time: the log's and the timestamp authorities'.
  std::vector<absl::Time> VerifiedTimes() const {
    std::vector<absl::Time> times = evidence_.timestamps;
    if (evidence_.signing_time) times.insert(times.begin(), *evidence_.signing_time);
    return times;
  }

  absl::Status MatchLogEntries() {
    for (size_t i = 0; i < bundle_.tlog_entries.size(); ++i) {
      LINEAGE_RETURN_IF_ERROR(MatchLogEntry(bundle_.tlog_entries[i],
                                            json::Index("verificationMaterial.tlogEntries", i),
                                            content_, signer_));
    }
    return absl::OkStatus();
  }

  absl::Status VerifySignature(const PublicKey& key, std::string* algorithm) {
    if (content_.envelope) {
      absl::StatusOr<std::string> scheme = key.VerifyWithScheme(
          Pae(content_.envelope->payload_type, content_.envelope->payload), content_.signature);
      if (!scheme.ok()) {
        return Reason("signature", fmt::format("dsseEnvelope.signatures[0]: {}",
                                               std::string(scheme.status().message())));
      }
      *algorithm = *scheme;
      return absl::OkStatus();
    }
    const MessageSignature& m = *content_.message;
    absl::Status ok = key.VerifyDigest(DigestName(m.digest_algorithm), m.digest, m.signature);
    if (!ok.ok()) {
      return Reason("signature",
                    fmt::format("messageSignature.signature: {}", std::string(ok.message())));
    }
    *algorithm = key.algorithm();
    return absl::OkStatus();
  }

  const SigstoreBundle& bundle_;
  const TrustPolicy& policy_;
  std::vector<std::string>* warnings_;
  SignedContent content_;
  SignerMaterial signer_;
  LogEvidence evidence_;
};

}  // namespace

ItemResult VerifyBundle(std::string_view source, const object& o, std::string raw,
                        const TrustPolicy& policy, const IngestOptions& options) {
  absl::StatusOr<SigstoreBundle> bundle = ParseBundleObject(o, options.limits);
  if (!bundle.ok()) return Failed(source, bundle.status());
  return VerifyParsedBundle(source, *bundle, std::move(raw), policy, options);
}

ItemResult VerifyParsedBundle(std::string_view source, const SigstoreBundle& parsed,
                              std::string raw, const TrustPolicy& policy,
                              const IngestOptions& options) {
  ItemResult item{std::string(source), absl::UnknownError("unset"), {}};
  const SigstoreBundle* bundle = &parsed;
  AttestationRecord record;
  BundleVerifier verifier(*bundle, policy, &item.warnings);
  if (!bundle->certificates.empty()) {
    VerifiedSigner signer;
    absl::Status ok = verifier.VerifyKeyless(&signer);
    if (!ok.ok()) return Failed(source, ok, std::move(item.warnings));
    record.signers.push_back(std::move(signer));
  } else {
    absl::Status ok = verifier.VerifyWithKey(&record.signers);
    if (!ok.ok()) return Failed(source, ok, std::move(item.warnings));
  }
  const size_t required = static_cast<size_t>(policy.threshold() < 1 ? 1 : policy.threshold());
  if (record.signers.size() < required) {
    return Failed(source,
                  Reason("signature", fmt::format("1 of {} required trusted signatures verified "
                                                  "(a bundle carries one signature)",
                                                  required)),
                  std::move(item.warnings));
  }

  // Only now read what was signed.
  absl::Status filled = FillContent(*bundle, options.limits, &record, &item.warnings);
  if (!filled.ok()) return Failed(source, filled, std::move(item.warnings));
  // A statement without a time takes the verified signing time: it is when
  // the attestation came to exist, which is closer than the ingest time.
  if (record.time == absl::InfinitePast() && verifier.signing_time()) {
    record.time = *verifier.signing_time();
  }
  record.source = std::string(source);
  record.raw = std::move(raw);
  item.record = std::move(record);
  return item;
}

void VerifyNpmAttestations(std::string_view source, const object& wrapper,
                           const TrustPolicy& policy, const IngestOptions& options,
                           std::vector<ItemResult>* out) {
  std::optional<array> attestations;
  absl::Status status = json::FindArray(wrapper, "", "attestations", &attestations);
  if (status.ok() && !attestations) status = json::Error("attestations", "missing");
  if (status.ok() && attestations->size() == 0) status = json::Error("attestations", "empty");
  if (status.ok() && attestations->size() > options.limits.max_items_per_document) {
    status = json::Error("attestations", "more entries than max_items_per_document");
  }
  if (!status.ok()) {
    out->push_back(Failed(source, status));
    return;
  }
  size_t index = 0;
  for (element entry : *attestations) {
    std::string entry_source = fmt::format("{}#attestations[{}]", source, index++);
    object entry_object, bundle_object;
    std::optional<element> bundle;
    status = json::AsObject(entry, "", &entry_object);
    if (status.ok()) status = json::Find(entry_object, "", "bundle", &bundle);
    if (status.ok() && !bundle) status = json::Error("bundle", "missing");
    if (status.ok()) status = json::AsObject(*bundle, "bundle", &bundle_object);
    if (!status.ok()) {
      out->push_back(Failed(entry_source, status));
      continue;
    }
    out->push_back(
        VerifyBundle(entry_source, bundle_object, simdjson::to_string(*bundle), policy, options));
  }
}

}  // namespace lineage::ingest::internal
