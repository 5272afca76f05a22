// Certificate transparency: the Signed Certificate Timestamps a Fulcio
// certificate embeds (RFC 6962 section 3.3), verified against the CT logs
// of the trusted roots.
//
// OpenSSL parses the SCT list, and its precertificate reconstruction is
// repeated here: OpenSSL 3.0's SCT_validate needs the logs in a
// CTLOG_STORE, and a CTLOG_STORE can only be filled from a configuration
// file, not from the keys a trusted_root.json holds.
#include <openssl/ct.h>
#include <openssl/err.h>
#include <openssl/objects.h>
#include <openssl/sha.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>

#include <cstdint>
#include <functional>
#include <set>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/time/time.h"

#include <fmt/format.h>

#include "ingest/include/lineage/ingest/sigstore.h"
#include "ingest/src/openssl_ptr.h"

namespace lineage::ingest {
namespace {

using internal::OpensslBytesPtr;
using internal::SctListPtr;
using internal::X509Ptr;

constexpr int kMaxScts = 64;

void PutBigEndian(std::string* out, uint64_t v, int bytes) {
  for (int i = bytes - 1; i >= 0; --i)
    out->push_back(static_cast<char>((v >> (8 * i)) & 0xff));
}

std::string HexPrefix(std::string_view bytes) {
  std::string out;
  for (size_t i = 0; i < bytes.size() && i < 8; ++i)
    out += fmt::format("{:02x}", static_cast<unsigned char>(bytes[i]));
  return out;
}

// The TBSCertificate the log signed: `leaf`'s, without the SCT list
// extension (the precertificate carried the poison extension in its place,
// and the log signs the TBS with neither). Empty on failure.
std::string PrecertificateTbs(X509* leaf) {
  X509Ptr copy(X509_dup(leaf));
  if (!copy) return "";
  int index = X509_get_ext_by_NID(copy.get(), NID_ct_precert_scts, -1);
  if (index < 0) return "";
  X509_EXTENSION_free(X509_delete_ext(copy.get(), index));
  unsigned char* der = nullptr;
  // i2d_re_X509_tbs re-encodes: the cached encoding still holds the
  // extension just removed.
  int len = i2d_re_X509_tbs(copy.get(), &der);
  OpensslBytesPtr<unsigned char> owned(der);
  if (len <= 0) return "";
  return std::string(reinterpret_cast<char*>(der), static_cast<size_t>(len));
}

// RFC 6962 section 3.2, the digitally-signed struct of a precert entry.
std::string SignedData(const SCT* sct, std::string_view issuer_key_hash, std::string_view tbs) {
  std::string data;
  data.push_back(0);  // sct_version v1
  data.push_back(0);  // signature_type certificate_timestamp
  PutBigEndian(&data, SCT_get_timestamp(sct), 8);
  PutBigEndian(&data, 1, 2);  // entry_type precert_entry
  data.append(issuer_key_hash);
  PutBigEndian(&data, tbs.size(), 3);
  data.append(tbs);
  unsigned char* ext = nullptr;
  size_t ext_len = SCT_get0_extensions(sct, &ext);
  PutBigEndian(&data, ext_len, 2);
  data.append(reinterpret_cast<const char*>(ext), ext_len);
  return data;
}

// RFC 6962 section 3.2 issuer_key_hash: SHA-256 over the issuer's
// SubjectPublicKeyInfo as its certificate encodes it. i2d_X509_PUBKEY
// writes back the parsed algorithm identifier and key bits, unlike
// i2d_PUBKEY, which re-encodes from the decoded key (and could differ, say
// in an absent or NULL parameter). X509_pubkey_digest is no substitute: it
// hashes only the subjectPublicKey BIT STRING.
absl::StatusOr<std::string> IssuerKeyHash(X509* issuer) {
  unsigned char* der = nullptr;
  int len = i2d_X509_PUBKEY(X509_get_X509_PUBKEY(issuer), &der);
  OpensslBytesPtr<unsigned char> owned(der);
  if (len <= 0) {
    ERR_clear_error();
    return absl::InvalidArgumentError("cannot encode the issuer's public key");
  }
  std::string hash(SHA256_DIGEST_LENGTH, '\0');
  SHA256(der, static_cast<size_t>(len), reinterpret_cast<unsigned char*>(hash.data()));
  return hash;
}

// RFC 6962 section 2.1.4: a log signs with ECDSA over P-256 or RSA PKCS#1
// v1.5, with SHA-256; the SCT's declared algorithm must be the one of the
// log's key. (Every CT log of Sigstore's trusted roots is ECDSA P-256; the
// staging root lists one retired RSA log.)
bool SignatureAlgorithmMatches(int nid, const PublicKey& key) {
  if (nid == NID_ecdsa_with_SHA256) return key.algorithm() == "ecdsa-p256-sha256";
  if (nid == NID_sha256WithRSAEncryption) return key.algorithm() == "rsa-sha256";
  return false;
}

}  // namespace

absl::StatusOr<SctVerification> VerifyEmbeddedScts(
    const Certificate& leaf, const Certificate& issuer,
    const std::vector<const TransparencyLog*>& ctlogs) {
  X509* x509 = static_cast<X509*>(leaf.x509());
  SctVerification result;
  int critical = 0;
  SctListPtr scts(
      static_cast<STACK_OF(SCT)*>(X509_get_ext_d2i(x509, NID_ct_precert_scts, &critical, nullptr)));
  ERR_clear_error();
  if (!scts) {
    // -1: no such extension; anything else: present but unreadable.
    if (critical == -1) return result;
    return absl::InvalidArgumentError("the certificate's SCT list extension does not parse");
  }
  result.embedded = sk_SCT_num(scts.get());
  if (result.embedded > kMaxScts) {
    return absl::InvalidArgumentError(
        fmt::format("the certificate embeds {} SCTs, more than {}", result.embedded, kMaxScts));
  }
  std::string tbs = PrecertificateTbs(x509);
  if (tbs.empty()) return absl::InvalidArgumentError("cannot rebuild the precertificate");
  absl::StatusOr<std::string> issuer_key_hash = IssuerKeyHash(static_cast<X509*>(issuer.x509()));
  if (!issuer_key_hash.ok()) return issuer_key_hash.status();

  // A threshold of n asks for n independent logs: a second SCT from a log
  // already counted adds no witness.
  std::set<std::string, std::less<>> counted_logs;
  for (int i = 0; i < result.embedded; ++i) {
    const SCT* sct = sk_SCT_value(scts.get(), i);
    auto skip = [&](std::string why) {
      result.problems.push_back(fmt::format("SCT {}: {}", i, why));
    };
    if (SCT_get_version(sct) != SCT_VERSION_V1) {
      skip("not a version 1 SCT");
      continue;
    }
    unsigned char* id = nullptr;
    size_t id_len = SCT_get0_log_id(sct, &id);
    std::string_view log_id(reinterpret_cast<const char*>(id), id_len);
    // Milliseconds since the epoch; beyond absl's range the log check fails.
    absl::Time at = absl::FromUnixMillis(static_cast<int64_t>(SCT_get_timestamp(sct) & INT64_MAX));
    // OpenSSL maps the SCT's (hash, signature) pair to a NID: SHA-256 with
    // ECDSA or RSA; every other pair is NID_undef.
    const int nid = SCT_get_signature_nid(sct);
    unsigned char* sig = nullptr;
    size_t sig_len = SCT_get0_signature(sct, &sig);
    std::string_view signature(reinterpret_cast<const char*>(sig), sig_len);
    const std::string signed_data = SignedData(sct, *issuer_key_hash, tbs);

    // The same log id may be listed by several trusted roots (or twice in
    // one) with different validity periods: the SCT counts if any of the
    // entries was valid at its time and verifies it.
    bool known = false;
    bool in_time = false;
    bool algorithm_matches = false;
    bool verified = false;
    std::string key_description;
    for (const TransparencyLog* candidate : ctlogs) {
      if (candidate->log_id != log_id || !candidate->key) continue;
      known = true;
      if (!candidate->valid_for.Contains(at)) continue;
      in_time = true;
      key_description = candidate->key->description();
      if (!SignatureAlgorithmMatches(nid, *candidate->key)) continue;
      algorithm_matches = true;
      if (candidate->key->VerifyStrict(signed_data, signature).ok()) {
        verified = true;
        break;
      }
    }
    if (!known) {
      skip(fmt::format("log {} is not a CT log of the trusted roots", HexPrefix(log_id)));
    } else if (!in_time) {
      skip(fmt::format("log {} was not valid at the SCT's time {}", HexPrefix(log_id),
                       absl::FormatTime("%Y-%m-%dT%H:%M:%SZ", at, absl::UTCTimeZone())));
    } else if (!algorithm_matches) {
      skip(fmt::format(
          "signature algorithm {} does not fit log {}'s {} key (a CT log signs with ECDSA P-256 "
          "or RSA PKCS#1 v1.5, with SHA-256)",
          nid == NID_undef ? std::string("other than ECDSA or RSA with SHA-256") : OBJ_nid2sn(nid),
          HexPrefix(log_id), key_description));
    } else if (!verified) {
      skip(fmt::format("signature does not verify with log {}", HexPrefix(log_id)));
    } else if (!counted_logs.insert(std::string(log_id)).second) {
      skip(fmt::format("log {} is already counted for an earlier SCT", HexPrefix(log_id)));
    } else {
      ++result.verified;
    }
  }
  return result;
}

}  // namespace lineage::ingest
