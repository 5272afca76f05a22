#include "ingest/include/lineage/ingest/crypto.h"

#include <openssl/bio.h>
#include <openssl/core_names.h>
#include <openssl/ec.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/rsa.h>
#include <openssl/sha.h>
#include <openssl/x509.h>

#include <array>
#include <cstdint>
#include <cstring>
#include <memory>
#include <string>

#include "absl/status/status.h"

#include <fmt/format.h>

#include "engine/include/lineage/ref.h"
#include "ingest/src/openssl_ptr.h"

namespace lineage::ingest {
namespace {

using internal::BignumPtr;
using internal::BioPtr;
using internal::EcdsaSigPtr;
using internal::MdCtxPtr;
using internal::OpensslBytesPtr;
using internal::PkeyCtxPtr;
using internal::PkeyPtr;

// Smallest RSA modulus accepted. Shorter keys are factorable with public
// effort and must not anchor trust.
constexpr int kMinRsaBits = 2048;
constexpr size_t kMaxPemBytes = 64 * 1024;

std::string ToHex(const unsigned char* data, size_t size) {
  static constexpr char kDigits[] = "0123456789abcdef";
  std::string out(size * 2, '0');
  for (size_t i = 0; i < size; ++i) {
    out[2 * i] = kDigits[data[i] >> 4];
    out[2 * i + 1] = kDigits[data[i] & 0xf];
  }
  return out;
}

// OpenSSL keeps a per-thread error queue; a failed verify leaves entries that
// would otherwise leak into the next, unrelated call's diagnostics.
void ClearOpensslErrors() {
  ERR_clear_error();
}

// One-shot digest-and-verify with an optional RSA padding mode. Returns true
// only on a positive verification; every OpenSSL failure is a plain "no".
bool EvpVerify(EVP_PKEY* pkey, const EVP_MD* md, int rsa_padding, std::string_view message,
               std::string_view signature) {
  MdCtxPtr ctx(EVP_MD_CTX_new());
  if (!ctx) return false;
  EVP_PKEY_CTX* pctx = nullptr;
  if (EVP_DigestVerifyInit(ctx.get(), &pctx, md, nullptr, pkey) != 1) return false;
  if (rsa_padding != 0) {
    if (EVP_PKEY_CTX_set_rsa_padding(pctx, rsa_padding) != 1) return false;
    if (rsa_padding == RSA_PKCS1_PSS_PADDING) {
      // AUTO recovers the salt length from the signature: in-toto uses the
      // digest length, witness/Archivista the maximum.
      if (EVP_PKEY_CTX_set_rsa_pss_saltlen(pctx, RSA_PSS_SALTLEN_AUTO) != 1) return false;
      if (EVP_PKEY_CTX_set_rsa_mgf1_md(pctx, EVP_sha256()) != 1) return false;
    }
  }
  int rc = EVP_DigestVerify(ctx.get(), reinterpret_cast<const unsigned char*>(signature.data()),
                            signature.size(),
                            reinterpret_cast<const unsigned char*>(message.data()), message.size());
  return rc == 1;
}

// Converts a raw IEEE P1363 r||s signature into DER, which is what OpenSSL's
// ECDSA verify takes. Returns "" when it cannot.
std::string RawEcdsaToDer(std::string_view raw) {
  size_t half = raw.size() / 2;
  const auto* bytes = reinterpret_cast<const unsigned char*>(raw.data());
  BignumPtr r(BN_bin2bn(bytes, static_cast<int>(half), nullptr));
  BignumPtr s(BN_bin2bn(bytes + half, static_cast<int>(half), nullptr));
  EcdsaSigPtr sig(ECDSA_SIG_new());
  if (!r || !s || !sig) return "";
  // ECDSA_SIG_set0 takes ownership of r and s on success only.
  if (ECDSA_SIG_set0(sig.get(), r.get(), s.get()) != 1) return "";
  r.release();
  s.release();
  unsigned char* der = nullptr;
  int len = i2d_ECDSA_SIG(sig.get(), &der);
  if (len <= 0) return "";
  OpensslBytesPtr<unsigned char> owned(der);
  return std::string(reinterpret_cast<char*>(der), static_cast<size_t>(len));
}

// Ends with the key's fingerprint and descriptive names; InvalidArgument for
// key types and sizes this library does not verify with.
absl::Status Describe(EVP_PKEY* pkey, std::string* description, std::string* algorithm) {
  switch (EVP_PKEY_get_base_id(pkey)) {
    case EVP_PKEY_EC: {
      char group[64] = {0};
      size_t len = 0;
      if (EVP_PKEY_get_group_name(pkey, group, sizeof(group), &len) != 1) {
        return absl::InvalidArgumentError("EC key without a named curve");
      }
      std::string_view name(group, len);
      if (name == "prime256v1" || name == "P-256") {
        *description = "ECDSA P-256";
        *algorithm = "ecdsa-p256-sha256";
      } else if (name == "secp384r1" || name == "P-384") {
        *description = "ECDSA P-384";
        *algorithm = "ecdsa-p384-sha384";
      } else {
        return absl::InvalidArgumentError(
            fmt::format("unsupported EC curve {} (P-256 and P-384 are supported)", name));
      }
      return absl::OkStatus();
    }
    case EVP_PKEY_ED25519:
      *description = "Ed25519";
      *algorithm = "ed25519";
      return absl::OkStatus();
    case EVP_PKEY_RSA: {
      int bits = EVP_PKEY_get_bits(pkey);
      if (bits < kMinRsaBits) {
        return absl::InvalidArgumentError(
            fmt::format("RSA key of {} bits is below the minimum of {}", bits, kMinRsaBits));
      }
      *description = fmt::format("RSA-{}", bits);
      *algorithm = "rsa-sha256";
      return absl::OkStatus();
    }
    default:
      return absl::InvalidArgumentError(
          "unsupported key type (ECDSA P-256/P-384, Ed25519 and RSA are supported)");
  }
}

}  // namespace

PublicKey::~PublicKey() {
  EVP_PKEY_free(static_cast<EVP_PKEY*>(pkey_));
}

absl::StatusOr<std::shared_ptr<PublicKey>> PublicKey::FromDer(std::string_view der) {
  const auto* p = reinterpret_cast<const unsigned char*>(der.data());
  PkeyPtr pkey(d2i_PUBKEY(nullptr, &p, static_cast<long>(der.size())));
  bool trailing = pkey && p != reinterpret_cast<const unsigned char*>(der.data()) + der.size();
  ClearOpensslErrors();
  if (!pkey || trailing) {
    return absl::InvalidArgumentError("not a DER SubjectPublicKeyInfo");
  }

  std::shared_ptr<PublicKey> key(new PublicKey());
  absl::Status described = Describe(pkey.get(), &key->description_, &key->algorithm_);
  if (!described.ok()) return described;

  // Fingerprint the re-encoded SPKI rather than the input, so a key given as
  // PKCS#1 and the same key given as SPKI have one identity.
  unsigned char* spki = nullptr;
  int len = i2d_PUBKEY(pkey.get(), &spki);
  if (len <= 0) {
    ClearOpensslErrors();
    return absl::InvalidArgumentError("cannot encode the public key");
  }
  OpensslBytesPtr<unsigned char> owned(spki);
  key->fingerprint_ = Sha256Hex(std::string_view(reinterpret_cast<char*>(spki), len));
  key->pkey_ = pkey.release();
  return key;
}

absl::StatusOr<std::shared_ptr<PublicKey>> PublicKey::FromPem(std::string_view pem) {
  if (pem.size() > kMaxPemBytes) return absl::InvalidArgumentError("PEM text is too large");
  BioPtr bio(BIO_new_mem_buf(pem.data(), static_cast<int>(pem.size())));
  if (!bio) return absl::InternalError("out of memory");

  char* name = nullptr;
  char* header = nullptr;
  unsigned char* data = nullptr;
  long len = 0;
  int ok = PEM_read_bio(bio.get(), &name, &header, &data, &len);
  OpensslBytesPtr<char> name_owned(name);
  OpensslBytesPtr<char> header_owned(header);
  OpensslBytesPtr<unsigned char> data_owned(data);
  ClearOpensslErrors();
  if (ok != 1) return absl::InvalidArgumentError("no PEM block found");

  std::string_view der(reinterpret_cast<char*>(data), static_cast<size_t>(len));
  std::string_view label(name);
  if (label == "PUBLIC KEY") return FromDer(der);
  if (label != "RSA PUBLIC KEY") {
    return absl::InvalidArgumentError(fmt::format(
        "PEM block \"{}\" is not a public key (expected PUBLIC KEY or RSA PUBLIC KEY)", label));
  }

  // PKCS#1 RSAPublicKey: parse, then continue as SPKI so the fingerprint is
  // the SubjectPublicKeyInfo's like every other key.
  const unsigned char* p = reinterpret_cast<const unsigned char*>(der.data());
  PkeyPtr pkey(d2i_PublicKey(EVP_PKEY_RSA, nullptr, &p, static_cast<long>(der.size())));
  ClearOpensslErrors();
  if (!pkey) return absl::InvalidArgumentError("malformed RSA PUBLIC KEY");
  unsigned char* spki = nullptr;
  int spki_len = i2d_PUBKEY(pkey.get(), &spki);
  if (spki_len <= 0) {
    ClearOpensslErrors();
    return absl::InvalidArgumentError("cannot encode the RSA public key");
  }
  OpensslBytesPtr<unsigned char> spki_owned(spki);
  return FromDer(std::string_view(reinterpret_cast<char*>(spki), spki_len));
}

std::string PublicKey::ref() const {
  return KeyRefFromFingerprint(fingerprint_);
}

absl::Status PublicKey::Verify(std::string_view message, std::string_view signature) const {
  absl::StatusOr<std::string> scheme = VerifyWithScheme(message, signature);
  if (!scheme.ok()) return scheme.status();
  return absl::OkStatus();
}

absl::StatusOr<std::string> PublicKey::VerifyWithScheme(std::string_view message,
                                                        std::string_view signature) const {
  auto* pkey = static_cast<EVP_PKEY*>(pkey_);
  bool ok = false;
  std::string scheme = algorithm_;

  if (algorithm_ == "ed25519") {
    // Ed25519 hashes internally: no digest, one-shot only.
    ok = EvpVerify(pkey, nullptr, 0, message, signature);
  } else if (algorithm_ == "ecdsa-p256-sha256" || algorithm_ == "ecdsa-p384-sha384") {
    const bool p384 = algorithm_ == "ecdsa-p384-sha384";
    const EVP_MD* md = p384 ? EVP_sha384() : EVP_sha256();
    const size_t raw_size = p384 ? 96 : 64;
    // DER first; a raw r||s signature has exactly twice the field size (the
    // DSSE test vector, Google's VSA and some KMS signers produce that).
    ok = EvpVerify(pkey, md, 0, message, signature);
    if (!ok && signature.size() == raw_size) {
      std::string der = RawEcdsaToDer(signature);
      ok = !der.empty() && EvpVerify(pkey, md, 0, message, der);
    }
  } else {
    ok = EvpVerify(pkey, EVP_sha256(), RSA_PKCS1_PADDING, message, signature);
    scheme = "rsa-pkcs1v15-sha256";
    if (!ok) {
      ok = EvpVerify(pkey, EVP_sha256(), RSA_PKCS1_PSS_PADDING, message, signature);
      scheme = "rsa-pss-sha256";
    }
  }
  ClearOpensslErrors();

  if (!ok) {
    return absl::InvalidArgumentError(
        fmt::format("{} verification failed with key {}", description_, ref()));
  }
  return scheme;
}

absl::Status PublicKey::VerifyStrict(std::string_view message, std::string_view signature) const {
  auto* pkey = static_cast<EVP_PKEY*>(pkey_);
  bool ok = false;
  if (algorithm_ == "ed25519") {
    ok = EvpVerify(pkey, nullptr, 0, message, signature);
  } else if (algorithm_ == "ecdsa-p256-sha256" || algorithm_ == "ecdsa-p384-sha384") {
    // OpenSSL's ECDSA verify takes DER only, and refuses an encoding that
    // does not re-encode to the same bytes.
    ok = EvpVerify(pkey, algorithm_ == "ecdsa-p384-sha384" ? EVP_sha384() : EVP_sha256(), 0,
                   message, signature);
  } else {
    ok = EvpVerify(pkey, EVP_sha256(), RSA_PKCS1_PADDING, message, signature);
  }
  ClearOpensslErrors();
  if (!ok) {
    return absl::InvalidArgumentError(
        fmt::format("{} verification failed with key {}", description_, ref()));
  }
  return absl::OkStatus();
}

absl::Status PublicKey::VerifyDigest(std::string_view digest_name, std::string_view digest,
                                     std::string_view signature) const {
  const EVP_MD* md = digest_name == "sha256"   ? EVP_sha256()
                     : digest_name == "sha384" ? EVP_sha384()
                     : digest_name == "sha512" ? EVP_sha512()
                                               : nullptr;
  if (md == nullptr || static_cast<size_t>(EVP_MD_get_size(md)) != digest.size()) {
    return absl::InvalidArgumentError(
        fmt::format("unsupported digest {} of {} bytes", digest_name, digest.size()));
  }
  if (algorithm_ == "ed25519") {
    return absl::InvalidArgumentError("an Ed25519 key cannot verify a signature over a digest");
  }
  auto* pkey = static_cast<EVP_PKEY*>(pkey_);
  auto verify = [&](std::string_view sig) {
    PkeyCtxPtr ctx(EVP_PKEY_CTX_new(pkey, nullptr));
    if (!ctx || EVP_PKEY_verify_init(ctx.get()) != 1 ||
        EVP_PKEY_CTX_set_signature_md(ctx.get(), md) != 1) {
      return false;
    }
    if (EVP_PKEY_get_base_id(pkey) == EVP_PKEY_RSA &&
        EVP_PKEY_CTX_set_rsa_padding(ctx.get(), RSA_PKCS1_PADDING) != 1) {
      return false;
    }
    return EVP_PKEY_verify(ctx.get(), reinterpret_cast<const unsigned char*>(sig.data()),
                           sig.size(), reinterpret_cast<const unsigned char*>(digest.data()),
                           digest.size()) == 1;
  };
  bool ok = verify(signature);
  const size_t raw_size = algorithm_ == "ecdsa-p384-sha384" ? 96 : 64;
  if (!ok && EVP_PKEY_get_base_id(pkey) == EVP_PKEY_EC && signature.size() == raw_size) {
    std::string der = RawEcdsaToDer(signature);
    ok = !der.empty() && verify(der);
  }
  ClearOpensslErrors();
  if (!ok) {
    return absl::InvalidArgumentError(
        fmt::format("{} verification failed with key {}", description_, ref()));
  }
  return absl::OkStatus();
}

std::string Sha256Hex(std::string_view data) {
  std::array<unsigned char, SHA256_DIGEST_LENGTH> digest{};
  SHA256(reinterpret_cast<const unsigned char*>(data.data()), data.size(), digest.data());
  return ToHex(digest.data(), digest.size());
}

namespace {

// Value of each base64 character in either alphabet, or -1. Both '+'/'-' and
// '/'/'_' are accepted: DSSE producers use both alphabets (Cloud Build's
// signatures are URL-safe) and nothing is gained by refusing one.
constexpr std::array<int8_t, 256> MakeBase64Table() {
  std::array<int8_t, 256> table{};
  for (auto& v : table)
    v = -1;
  for (int i = 0; i < 26; ++i) {
    table['A' + i] = static_cast<int8_t>(i);
    table['a' + i] = static_cast<int8_t>(26 + i);
  }
  for (int i = 0; i < 10; ++i)
    table['0' + i] = static_cast<int8_t>(52 + i);
  table['+'] = table['-'] = 62;
  table['/'] = table['_'] = 63;
  return table;
}
constexpr std::array<int8_t, 256> kBase64Table = MakeBase64Table();

}  // namespace

absl::StatusOr<std::string> DecodeBase64(std::string_view text) {
  // Strip padding first; the padding, if present, must complete a group.
  size_t end = text.size();
  size_t pad = 0;
  while (end > 0 && text[end - 1] == '=' && pad < 2) {
    --end;
    ++pad;
  }
  if (pad > 0 && text.size() % 4 != 0) {
    return absl::InvalidArgumentError("base64 padding does not complete a 4-character group");
  }
  if (end % 4 == 1) return absl::InvalidArgumentError("base64 text has an impossible length");

  std::string out(end / 4 * 3 + (end % 4 == 0 ? 0 : end % 4 - 1), '\0');
  const auto* in = reinterpret_cast<const unsigned char*>(text.data());
  char* o = out.data();
  size_t i = 0;
  auto bad = [&](size_t at) {
    for (size_t j = at; j < end; ++j) {
      if (kBase64Table[in[j]] < 0) {
        return absl::InvalidArgumentError(fmt::format("invalid base64 character at offset {}", j));
      }
    }
    return absl::InvalidArgumentError("invalid base64");
  };
  // Whole groups: four characters, three bytes. A negative value anywhere
  // makes the OR negative, so one test per group finds bad characters.
  for (; i + 4 <= end; i += 4) {
    int32_t a = kBase64Table[in[i]], b = kBase64Table[in[i + 1]], c = kBase64Table[in[i + 2]],
            d = kBase64Table[in[i + 3]];
    if ((a | b | c | d) < 0) return bad(i);
    uint32_t v = static_cast<uint32_t>(a << 18 | b << 12 | c << 6 | d);
    *o++ = static_cast<char>(v >> 16);
    *o++ = static_cast<char>(v >> 8);
    *o++ = static_cast<char>(v);
  }
  // A final group of two or three characters.
  size_t rest = end - i;
  if (rest >= 2) {
    int32_t a = kBase64Table[in[i]], b = kBase64Table[in[i + 1]];
    int32_t c = rest == 3 ? kBase64Table[in[i + 2]] : 0;
    if ((a | b | c) < 0) return bad(i);
    uint32_t v = static_cast<uint32_t>(a << 18 | b << 12 | c << 6);
    *o++ = static_cast<char>(v >> 16);
    if (rest == 3) *o++ = static_cast<char>(v >> 8);
  }
  return out;
}

std::string EncodeBase64(std::string_view data) {
  static constexpr char kAlphabet[] =
      "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
  std::string out;
  out.reserve((data.size() + 2) / 3 * 4);
  size_t i = 0;
  for (; i + 3 <= data.size(); i += 3) {
    uint32_t v = (static_cast<unsigned char>(data[i]) << 16) |
                 (static_cast<unsigned char>(data[i + 1]) << 8) |
                 static_cast<unsigned char>(data[i + 2]);
    out.push_back(kAlphabet[(v >> 18) & 63]);
    out.push_back(kAlphabet[(v >> 12) & 63]);
    out.push_back(kAlphabet[(v >> 6) & 63]);
    out.push_back(kAlphabet[v & 63]);
  }
  size_t rest = data.size() - i;
  if (rest > 0) {
    uint32_t v = static_cast<unsigned char>(data[i]) << 16;
    if (rest == 2) v |= static_cast<unsigned char>(data[i + 1]) << 8;
    out.push_back(kAlphabet[(v >> 18) & 63]);
    out.push_back(kAlphabet[(v >> 12) & 63]);
    out.push_back(rest == 2 ? kAlphabet[(v >> 6) & 63] : '=');
    out.push_back('=');
  }
  return out;
}

std::string Pae(std::string_view payload_type, std::string_view payload) {
  return fmt::format("DSSEv1 {} {} {} {}", payload_type.size(), payload_type, payload.size(),
                     payload);
}

}  // namespace lineage::ingest
