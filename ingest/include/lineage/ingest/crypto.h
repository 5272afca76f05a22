// Public keys and signature verification over OpenSSL 3 EVP.
//
// Supported: ECDSA P-256/SHA-256 and P-384/SHA-384 (signatures DER-encoded or
// raw r||s), Ed25519, RSA PKCS#1 v1.5 and RSA-PSS with SHA-256 (any salt
// length). The digest follows the key: P-384 uses SHA-384, all others SHA-256.
#pragma once

#include <memory>
#include <string>
#include <string_view>

#include "absl/status/statusor.h"

namespace lineage::ingest {

class PublicKey {
 public:
  // Parses a PEM "PUBLIC KEY" (SubjectPublicKeyInfo) or "RSA PUBLIC KEY".
  // InvalidArgument for anything else or an unsupported algorithm/curve.
  static absl::StatusOr<std::shared_ptr<PublicKey>> FromPem(std::string_view pem);
  // Parses a DER SubjectPublicKeyInfo.
  static absl::StatusOr<std::shared_ptr<PublicKey>> FromDer(std::string_view der);

  ~PublicKey();
  PublicKey(const PublicKey&) = delete;
  PublicKey& operator=(const PublicKey&) = delete;

  // Lower-case hex SHA-256 of the DER SubjectPublicKeyInfo.
  const std::string& fingerprint() const { return fingerprint_; }
  // "key:sha256:<fingerprint>".
  std::string ref() const;
  // e.g. "ECDSA P-256", "Ed25519", "RSA-3072".
  const std::string& description() const { return description_; }
  // e.g. "ecdsa-p256-sha256", "ed25519", "rsa-sha256".
  const std::string& algorithm() const { return algorithm_; }

  // Verifies `signature` over `message`. For RSA, PKCS#1 v1.5 is tried and
  // then PSS with the salt length recovered from the signature. Returns OK,
  // or InvalidArgument "<description> verification failed with key <ref>".
  // Never throws; thread-safe.
  absl::Status Verify(std::string_view message, std::string_view signature) const;

  // As Verify, but on success returns the scheme that verified: algorithm(),
  // or for RSA "rsa-pkcs1v15-sha256" / "rsa-pss-sha256". Used to record the
  // signer's algorithm on the attestation.
  absl::StatusOr<std::string> VerifyWithScheme(std::string_view message,
                                               std::string_view signature) const;

  // As Verify, with one encoding per key type and no fallback, for protocols
  // that fix it (RFC 6962 SCTs): ECDSA DER-encoded only (not raw r||s), RSA
  // PKCS#1 v1.5 with SHA-256 only (not PSS), Ed25519 as Verify. The caller
  // checks that the key type is the one the protocol declares.
  absl::Status VerifyStrict(std::string_view message, std::string_view signature) const;

  // Verifies `signature` over a precomputed `digest` made with `digest_name`
  // ("sha256", "sha384" or "sha512"). Sigstore message signatures sign an
  // artifact the bundle does not hold, only its digest. ECDSA (DER or raw
  // r||s) and RSA PKCS#1 v1.5 only: Ed25519 cannot verify a prehash.
  // InvalidArgument as Verify, or naming the unsupported combination.
  absl::Status VerifyDigest(std::string_view digest_name, std::string_view digest,
                            std::string_view signature) const;

  // The OpenSSL key (EVP_PKEY*), for the crypto code and tests.
  void* evp_pkey() const { return pkey_; }

 private:
  PublicKey() = default;
  void* pkey_ = nullptr;  // EVP_PKEY*, owned
  std::string fingerprint_;
  std::string description_;
  std::string algorithm_;
};

// Lower-case hex SHA-256 of `data`.
std::string Sha256Hex(std::string_view data);

// Decodes standard or URL-safe base64, padded or not. InvalidArgument on any
// other character.
absl::StatusOr<std::string> DecodeBase64(std::string_view text);
std::string EncodeBase64(std::string_view data);

// DSSE pre-authentication encoding:
//   "DSSEv1" SP LEN(type) SP type SP LEN(payload) SP payload
std::string Pae(std::string_view payload_type, std::string_view payload);

}  // namespace lineage::ingest
