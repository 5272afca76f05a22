// The verified content of one attestation, as the store ingests it.
//
// The ingest library (ingest/) parses and verifies envelopes and produces an
// AttestationRecord; the store only ever sees records whose signatures were
// checked against the trust policy (or that are marked unsigned when the
// caller explicitly allowed that). The store trusts the record's fields: it
// does not re-verify.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "absl/time/time.h"

namespace lineage {

// One subject or material: the canonical digests that identify one artifact.
// All of them name the same artifact; the store keeps the most preferred as
// the node's ref and the others as aliases (lineage/ref.h, DigestPreference).
struct ArtifactDigests {
  std::vector<std::string> digests;  // canonical "algo:hex", at least one
  std::string name;                  // informational: subject name or material uri
};

// A signer whose signature verified.
struct VerifiedSigner {
  // "key:sha256:<hex>", the fingerprint of the public key; or, for a keyless
  // (Fulcio certificate) signer, its identity "key:keyless:<issuer>|<san>"
  // (lineage/ref.h, KeylessRef), so that everything one workflow signed is
  // one node whatever short-lived certificate it used.
  std::string key_ref;
  std::string keyid;      // the envelope's keyid hint, empty if none; becomes an alias
  std::string algorithm;  // e.g. "ecdsa-p256-sha256", "ed25519", "rsa-pss-sha256"

  // Keyless signers only (empty / -1 otherwise): the verified evidence
  // behind the identity, for audit. The raw bundle stored with the
  // attestation holds the same certificate and log entry.
  std::string certificate_sha256;  // lower-case hex SHA-256 of the leaf certificate's DER
  std::string issuer;              // the certificate's OIDC issuer extension
  std::string san;                 // the certificate's subject alternative name
  int64_t log_index = -1;          // transparency-log index of the entry that timed it
  // The verified signing time (transparency log or RFC 3161 timestamp);
  // InfinitePast when none was needed (key-based signers).
  absl::Time signed_at = absl::InfinitePast();
};

// What the store keeps of one signature's verified evidence (the
// VerifiedSigner fields beyond key_ref), recorded with the attestation. A
// keyless signer's node is its identity; this is the one certificate and
// transparency-log entry behind this particular signature. A key-based
// signer has evidence only when its bundle carried a log entry (no
// certificate, issuer or SAN then). Returned by Store::Show (on signed
// edges), Store::GetAttestation and Store::Why.
struct SignerEvidence {
  std::string key_ref;             // the signer's node, e.g. "key:keyless:<issuer>|<san>"
  std::string issuer;              // keyless: the certificate's OIDC issuer extension
  std::string san;                 // keyless: the certificate's subject alternative name
  std::string certificate_sha256;  // keyless: lower-case hex SHA-256 of the leaf's DER
  // Transparency-log index of the entry that timed the signature; -1 when
  // there was none (an RFC 3161 timestamp alone timed it).
  int64_t log_index = -1;
  absl::Time signed_at = absl::InfinitePast();  // the verified signing time

  bool keyless() const { return !certificate_sha256.empty(); }
};

struct AttestationRecord {
  // Identity: SHA-256 (hex) over the signed bytes (the DSSE PAE, or the
  // canonical JSON of an in-toto link's "signed"). Ingesting a record whose id
  // is already stored changes nothing.
  std::string id;

  std::string format;          // "dsse", "intoto-link", "statement" (unsigned)
  std::string payload_type;    // DSSE payloadType, or "" for links
  std::string statement_type;  // in-toto _type, e.g. "https://in-toto.io/Statement/v1"
  std::string predicate_type;  // e.g. "https://slsa.dev/provenance/v1"; "" for links

  std::vector<ArtifactDigests> subjects;   // at least one
  std::vector<ArtifactDigests> materials;  // may be empty
  std::string builder_id;                  // "" when the predicate names none
  std::vector<VerifiedSigner> signers;     // empty only when unsigned
  bool unsigned_ = false;                  // accepted without signatures (opt-in)

  // When the build finished (or started) according to the predicate, else the
  // ingest time. Recorded on every edge the record asserts.
  absl::Time time = absl::InfinitePast();

  std::string source;  // where it came from, e.g. "file.jsonl:3"; informational
  std::string raw;     // the envelope or document as received; stored compressed
};

}  // namespace lineage
