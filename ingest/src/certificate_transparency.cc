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
#include <openssl/x509.h>
#include <openssl/x509v3.h>

#include <cstdint>
#include <string>
#include <vector>

#include "absl/status/status.h"
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

// Lower-case hex to bytes; the input is a fingerprint we made.
std::string FromHex(std::string_view hex) {
  auto nibble = [](char c) { return c <= '9' ? c - '0' : c - 'a' + 10; };
  std::string out;
  for (size_t i = 0; i + 1 < hex.size(); i += 2)
    out.push_back(static_cast<char>(nibble(hex[i]) << 4 | nibble(hex[i + 1])));
  return out;
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
  const std::string issuer_key_hash = FromHex(issuer.public_key()->fingerprint());

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
    const TransparencyLog* log = nullptr;
    for (const TransparencyLog* candidate : ctlogs) {
      if (candidate->log_id == log_id && candidate->key) log = candidate;
    }
    if (log == nullptr) {
      skip(fmt::format("log {} is not a CT log of the trusted roots", HexPrefix(log_id)));
      continue;
    }
    if (!log->valid_for.Contains(at)) {
      skip(fmt::format("log {} was not valid at the SCT's time {}", HexPrefix(log_id),
                       absl::FormatTime("%Y-%m-%dT%H:%M:%SZ", at, absl::UTCTimeZone())));
      continue;
    }
    // CT logs sign with SHA-256, ECDSA or RSA (RFC 6962 section 2.1.4).
    int nid = SCT_get_signature_nid(sct);
    if (nid != NID_ecdsa_with_SHA256 && nid != NID_sha256WithRSAEncryption) {
      skip("signature algorithm is not ECDSA or RSA with SHA-256");
      continue;
    }
    unsigned char* sig = nullptr;
    size_t sig_len = SCT_get0_signature(sct, &sig);
    absl::Status ok =
        log->key->Verify(SignedData(sct, issuer_key_hash, tbs),
                         std::string_view(reinterpret_cast<const char*>(sig), sig_len));
    if (!ok.ok()) {
      skip(fmt::format("signature does not verify with log {}", HexPrefix(log_id)));
      continue;
    }
    ++result.verified;
  }
  return result;
}

}  // namespace lineage::ingest
