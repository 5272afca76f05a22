// Sigstore: X.509 certificates (Fulcio), trusted roots (trusted_root.json),
// transparency-log proofs (Rekor signed entry timestamps, RFC 6962 inclusion
// proofs, signed checkpoints) and Sigstore bundles v0.1-v0.3.
//
// These are the building blocks behind VerifyDocument's handling of bundles
// (ingest.h); they are public so that tests, fuzzers and tools can reach one
// layer at a time. Nothing here fetches anything: verification is offline,
// against the trusted roots the policy names. Every check and its order is
// described in docs/trust-policy.md, "Keyless verification".
//
// Example:
//
//   absl::StatusOr<std::shared_ptr<const TrustedRoot>> root =
//       TrustedRoot::LoadFile("keys/trusted_root.json");
//   absl::StatusOr<SigstoreBundle> bundle = ParseBundle(text, IngestLimits{});
//
// Errors are InvalidArgument naming the field; nothing throws. All types are
// immutable after construction and safe to share across threads.
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "ingest/include/lineage/ingest/crypto.h"
#include "ingest/include/lineage/ingest/ingest.h"
#include "ingest/include/lineage/ingest/parse.h"

namespace lineage::ingest {

// A half-open validity period [start, end). Open ends are InfinitePast /
// InfiniteFuture.
struct ValidityPeriod {
  absl::Time start = absl::InfinitePast();
  absl::Time end = absl::InfiniteFuture();
  bool Contains(absl::Time t) const { return start <= t && t < end; }
};

// One parsed X.509 certificate.
class Certificate {
 public:
  // Parses one DER certificate; trailing bytes are an error. The key must be
  // of a type PublicKey supports.
  static absl::StatusOr<std::shared_ptr<const Certificate>> FromDer(std::string_view der);
  // Parses the first "CERTIFICATE" block of PEM text.
  static absl::StatusOr<std::shared_ptr<const Certificate>> FromPem(std::string_view pem);
  // Every "CERTIFICATE" block of PEM text, in order (cosign's chain annotation).
  static absl::StatusOr<std::vector<std::shared_ptr<const Certificate>>> AllFromPem(
      std::string_view pem);

  ~Certificate();
  Certificate(const Certificate&) = delete;
  Certificate& operator=(const Certificate&) = delete;

  const std::string& der() const { return der_; }
  // Lower-case hex SHA-256 of der().
  const std::string& fingerprint() const { return fingerprint_; }
  absl::Time not_before() const { return not_before_; }
  absl::Time not_after() const { return not_after_; }
  // Inclusive at both ends, as X.509 defines validity.
  bool ValidAt(absl::Time t) const { return not_before_ <= t && t <= not_after_; }
  // The Fulcio OIDC issuer extension (1.3.6.1.4.1.57264.1.8, else the
  // deprecated 1.3.6.1.4.1.57264.1.1); "" when the certificate has neither.
  const std::string& oidc_issuer() const { return oidc_issuer_; }
  // Subject alternative names Fulcio issues: URIs, e-mail addresses, and the
  // UTF8String of Fulcio's otherName (1.3.6.1.4.1.57264.1.7, usernames).
  const std::vector<std::string>& sans() const { return sans_; }
  // True when the extended key usage includes code signing.
  bool code_signing() const { return code_signing_; }
  const std::shared_ptr<PublicKey>& public_key() const { return public_key_; }
  // The OpenSSL certificate (X509*), owned by this object.
  void* x509() const { return x509_; }

 private:
  Certificate() = default;
  void* x509_ = nullptr;
  std::string der_;
  std::string fingerprint_;
  absl::Time not_before_;
  absl::Time not_after_;
  std::string oidc_issuer_;
  std::vector<std::string> sans_;
  bool code_signing_ = false;
  std::shared_ptr<PublicKey> public_key_;
};

// A certificate authority (Fulcio) or timestamp authority of a trusted root.
struct CertificateAuthority {
  std::string uri;
  // As listed: the issuing certificate first, the self-signed root last.
  std::vector<std::shared_ptr<const Certificate>> chain;
  ValidityPeriod valid_for;
};

// A transparency log (Rekor) or certificate-transparency log of a trusted root.
struct TransparencyLog {
  std::string base_url;
  std::string log_id;  // raw bytes of logId.keyId (SHA-256 of the key's DER SPKI)
  std::shared_ptr<PublicKey> key;
  ValidityPeriod valid_for;
};

// A Sigstore trusted_root.json (media type
// application/vnd.dev.sigstore.trustedroot+json;version=0.1).
class TrustedRoot {
 public:
  // Errors name `source_name` and the field ("tlogs[0].publicKey.rawBytes:
  // ...").
  static absl::StatusOr<std::shared_ptr<const TrustedRoot>> Parse(std::string_view json,
                                                                  std::string_view source_name);
  static absl::StatusOr<std::shared_ptr<const TrustedRoot>> LoadFile(const std::string& path);

  const std::string& source() const { return source_; }
  const std::vector<CertificateAuthority>& certificate_authorities() const { return cas_; }
  const std::vector<TransparencyLog>& tlogs() const { return tlogs_; }
  // The certificate-transparency logs whose SCTs a Fulcio certificate must
  // carry (VerifyEmbeddedScts). A CT log key in a format PublicKey does not
  // read is kept with a null key, and verifies nothing.
  const std::vector<TransparencyLog>& ctlogs() const { return ctlogs_; }
  const std::vector<CertificateAuthority>& timestamp_authorities() const { return tsas_; }

  // The transparency log whose logId is `log_id` (raw bytes), or null.
  const TransparencyLog* FindLog(std::string_view log_id) const;

  // For tests and embedders that build roots in code.
  TrustedRoot() = default;
  void AddCertificateAuthority(CertificateAuthority ca) { cas_.push_back(std::move(ca)); }
  void AddTlog(TransparencyLog log) { tlogs_.push_back(std::move(log)); }
  void AddCtlog(TransparencyLog log) { ctlogs_.push_back(std::move(log)); }
  void AddTimestampAuthority(CertificateAuthority tsa) { tsas_.push_back(std::move(tsa)); }

 private:
  std::string source_;
  std::vector<CertificateAuthority> cas_;
  std::vector<TransparencyLog> tlogs_;
  std::vector<TransparencyLog> ctlogs_;
  std::vector<CertificateAuthority> tsas_;
};

// --- Certificate transparency ----------------------------------------------

// What the SCT check found in one certificate.
struct SctVerification {
  int embedded = 0;  // SCTs in the certificate's SCT list extension
  // Distinct trusted CT logs with an SCT that verifies: a second SCT from a
  // log already counted does not count again.
  int verified = 0;
  // Why each of the others does not count ("SCT 0: log 1a2b... is not a
  // CT log of the trusted roots"), for messages.
  std::vector<std::string> problems;
};

// Verifies the Signed Certificate Timestamps embedded in `leaf` (RFC 6962
// section 3.3, extension 1.3.6.1.4.1.11129.2.4.2) as sigstore-go does: an
// SCT counts when its log id names a log of `ctlogs` that has a key and
// whose validity period contains the SCT's timestamp (any of the entries,
// when several share the log id), its declared signature algorithm is the
// one of that key (ECDSA P-256 or RSA PKCS#1 v1.5, with SHA-256, DER ECDSA
// signatures only), and the signature verifies over the precertificate
// entry `leaf` was made from (its TBSCertificate without the SCT extension,
// and the SHA-256 of `issuer`'s SubjectPublicKeyInfo: `issuer` is the CA
// certificate that signed `leaf` in the verified chain). Each log counts
// once. SCTs that do not count are listed, not errors; a certificate without
// the extension has none. InvalidArgument when the extension does not parse.
absl::StatusOr<SctVerification> VerifyEmbeddedScts(
    const Certificate& leaf, const Certificate& issuer,
    const std::vector<const TransparencyLog*>& ctlogs);

// --- Transparency-log primitives -------------------------------------------

// RFC 6962 leaf hash: SHA-256(0x00 || leaf), raw 32 bytes.
std::string MerkleLeafHash(std::string_view leaf);

// Verifies an RFC 6962 / RFC 9162 (section 2.1.3.2) inclusion proof: that
// the leaf with hash `leaf_hash` is at `index` of the tree of `tree_size`
// leaves whose root is `root_hash`. Hashes are raw 32-byte values. Returns
// InvalidArgument saying what does not add up.
absl::Status VerifyInclusionProof(uint64_t index, uint64_t tree_size, std::string_view leaf_hash,
                                  const std::vector<std::string>& proof,
                                  std::string_view root_hash);

// A transparency-log checkpoint: a signed note (golang.org/x/mod/sumdb/note
// format) whose body is "<origin>\n<tree size>\n<base64 root hash>\n[other
// lines]\n", followed by a blank line and "— <name> <base64(4-byte key hint
// || signature)>" lines.
struct Checkpoint {
  std::string origin;
  uint64_t tree_size = 0;
  std::string root_hash;  // raw bytes
  std::string body;       // the signed text: everything up to the blank line, with its '\n'
  struct Signature {
    std::string name;
    std::string key_hint;   // 4 bytes
    std::string signature;  // the rest
  };
  std::vector<Signature> signatures;
};

absl::StatusOr<Checkpoint> ParseCheckpoint(std::string_view note);

// OK when one of the checkpoint's signatures verifies over its body with
// `key` (the log's key). Other signatures (witnesses) are ignored.
absl::Status VerifyCheckpointSignature(const Checkpoint& checkpoint, const PublicKey& key);

// The bytes a Rekor signed entry timestamp signs: the canonical JSON
//   {"body":"<base64 body>","integratedTime":<t>,"logID":"<hex log id>",
//    "logIndex":<i>}
std::string SignedEntryTimestampPayload(std::string_view body, int64_t integrated_time,
                                        std::string_view log_id, int64_t log_index);

// --- Bundles ------------------------------------------------------------------

struct TlogEntry {
  int64_t log_index = -1;
  std::string log_id;  // raw bytes
  std::string kind;
  std::string version;
  int64_t integrated_time = 0;         // 0 when absent (Rekor v2)
  std::string body;                    // decoded canonicalizedBody
  std::string signed_entry_timestamp;  // decoded; "" when there is no inclusion promise
  struct Proof {
    int64_t log_index = -1;  // index within the tree the checkpoint covers
    int64_t tree_size = 0;
    std::string root_hash;  // raw bytes
    std::vector<std::string> hashes;
    std::string checkpoint;  // the note text; "" when absent
  };
  std::optional<Proof> inclusion_proof;
};

struct MessageSignature {
  std::string digest_algorithm;  // e.g. "SHA2_256"
  std::string digest;            // raw bytes
  std::string signature;         // raw bytes
};

struct SigstoreBundle {
  std::string media_type;
  int minor_version = 0;  // 1, 2 or 3: bundle v0.<minor_version>
  // verificationMaterial: exactly one of these is set.
  std::vector<std::string> certificates;  // DER; [0] is the leaf
  std::optional<std::string> public_key_hint;
  std::vector<TlogEntry> tlog_entries;
  std::vector<std::string> rfc3161_timestamps;  // DER TimeStampResponses
  // Content: exactly one of these is set.
  std::optional<DsseEnvelope> envelope;
  std::optional<MessageSignature> message_signature;
};

// Parses a bundle's structure and bounds (no signature is checked). Both
// media-type spellings are accepted:
//   application/vnd.dev.sigstore.bundle+json;version=0.<1|2|3>
//   application/vnd.dev.sigstore.bundle.v0.3+json
// Anything else is "mediaType: unsupported". A DSSE envelope must carry
// exactly one signature.
absl::StatusOr<SigstoreBundle> ParseBundle(std::string_view json, const IngestLimits& limits);

}  // namespace lineage::ingest
