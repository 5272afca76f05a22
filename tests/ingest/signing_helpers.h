// Test-only signing: generates keys with OpenSSL and produces real DSSE
// envelopes, so tests and benchmarks exercise the verifier with signatures
// nobody hand-edited. Header-only; used by tests/ingest and bench/.
#pragma once

#include <openssl/bio.h>
#include <openssl/ecdsa.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/rsa.h>
#include <openssl/x509.h>

#include <memory>
#include <stdexcept>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include <fmt/format.h>

#include "ingest/include/lineage/ingest/crypto.h"

namespace lineage::ingest::testing {

enum class KeyKind { kP256, kP384, kEd25519, kRsaPss, kRsaPkcs1 };

inline std::string_view KeyKindName(KeyKind kind) {
  switch (kind) {
    case KeyKind::kP256:
      return "P256";
    case KeyKind::kP384:
      return "P384";
    case KeyKind::kEd25519:
      return "Ed25519";
    case KeyKind::kRsaPss:
      return "RsaPss";
    case KeyKind::kRsaPkcs1:
      return "RsaPkcs1";
  }
  return "?";
}

// A private key and the matching public key. Test code: failures throw so a
// broken fixture is loud.
class TestSigner {
 public:
  explicit TestSigner(KeyKind kind) : kind_(kind) {
    switch (kind) {
      case KeyKind::kP256:
        pkey_ = EVP_PKEY_Q_keygen(nullptr, nullptr, "EC", "P-256");
        break;
      case KeyKind::kP384:
        pkey_ = EVP_PKEY_Q_keygen(nullptr, nullptr, "EC", "P-384");
        break;
      case KeyKind::kEd25519:
        pkey_ = EVP_PKEY_Q_keygen(nullptr, nullptr, "ED25519");
        break;
      case KeyKind::kRsaPss:
      case KeyKind::kRsaPkcs1:
        pkey_ = EVP_PKEY_Q_keygen(nullptr, nullptr, "RSA", static_cast<size_t>(2048));
        break;
    }
    if (pkey_ == nullptr) throw std::runtime_error("key generation failed");
    auto parsed = PublicKey::FromPem(PublicPem());
    if (!parsed.ok()) throw std::runtime_error(std::string(parsed.status().message()));
    public_key_ = *parsed;
  }
  ~TestSigner() { EVP_PKEY_free(pkey_); }
  TestSigner(const TestSigner&) = delete;
  TestSigner& operator=(const TestSigner&) = delete;

  KeyKind kind() const { return kind_; }
  const std::shared_ptr<PublicKey>& public_key() const { return public_key_; }
  EVP_PKEY* pkey() const { return pkey_; }

  std::string PublicPem() const {
    BIO* bio = BIO_new(BIO_s_mem());
    PEM_write_bio_PUBKEY(bio, pkey_);
    char* data = nullptr;
    long len = BIO_get_mem_data(bio, &data);
    std::string pem(data, static_cast<size_t>(len));
    BIO_free(bio);
    return pem;
  }

  // Signs `message`. ECDSA signatures are DER unless `raw_ecdsa` (r||s).
  std::string Sign(std::string_view message, bool raw_ecdsa = false) const {
    EVP_MD_CTX* ctx = EVP_MD_CTX_new();
    EVP_PKEY_CTX* pctx = nullptr;
    const EVP_MD* md = kind_ == KeyKind::kEd25519 ? nullptr
                       : kind_ == KeyKind::kP384  ? EVP_sha384()
                                                  : EVP_sha256();
    if (EVP_DigestSignInit(ctx, &pctx, md, nullptr, pkey_) != 1) throw std::runtime_error("init");
    if (kind_ == KeyKind::kRsaPss) {
      EVP_PKEY_CTX_set_rsa_padding(pctx, RSA_PKCS1_PSS_PADDING);
      EVP_PKEY_CTX_set_rsa_pss_saltlen(pctx, RSA_PSS_SALTLEN_DIGEST);
    }
    size_t len = 0;
    const auto* msg = reinterpret_cast<const unsigned char*>(message.data());
    EVP_DigestSign(ctx, nullptr, &len, msg, message.size());
    std::string sig(len, '\0');
    if (EVP_DigestSign(ctx, reinterpret_cast<unsigned char*>(sig.data()), &len, msg,
                       message.size()) != 1) {
      throw std::runtime_error("sign");
    }
    sig.resize(len);
    EVP_MD_CTX_free(ctx);
    if (raw_ecdsa && (kind_ == KeyKind::kP256 || kind_ == KeyKind::kP384)) {
      return DerToRaw(sig, kind_ == KeyKind::kP384 ? 48 : 32);
    }
    return sig;
  }

 private:
  static std::string DerToRaw(const std::string& der, int half) {
    const auto* p = reinterpret_cast<const unsigned char*>(der.data());
    ECDSA_SIG* sig = d2i_ECDSA_SIG(nullptr, &p, static_cast<long>(der.size()));
    std::string raw(2 * half, '\0');
    BN_bn2binpad(ECDSA_SIG_get0_r(sig), reinterpret_cast<unsigned char*>(raw.data()), half);
    BN_bn2binpad(ECDSA_SIG_get0_s(sig), reinterpret_cast<unsigned char*>(raw.data()) + half, half);
    ECDSA_SIG_free(sig);
    return raw;
  }

  KeyKind kind_;
  EVP_PKEY* pkey_ = nullptr;
  std::shared_ptr<PublicKey> public_key_;
};

struct TestSignature {
  std::string keyid;
  std::string sig;  // raw bytes; base64-encoded into the envelope
};

// A DSSE envelope as JSON text.
inline std::string MakeEnvelope(std::string_view payload_type, std::string_view payload,
                                const std::vector<TestSignature>& signatures) {
  std::string sigs;
  for (const TestSignature& s : signatures) {
    if (!sigs.empty()) sigs += ",";
    if (s.keyid.empty()) {
      sigs += fmt::format("{{\"sig\":\"{}\"}}", EncodeBase64(s.sig));
    } else {
      sigs += fmt::format("{{\"keyid\":\"{}\",\"sig\":\"{}\"}}", s.keyid, EncodeBase64(s.sig));
    }
  }
  return fmt::format("{{\"payloadType\":\"{}\",\"payload\":\"{}\",\"signatures\":[{}]}}",
                     payload_type, EncodeBase64(payload), sigs);
}

// Signs `payload` over the PAE with each signer and wraps it in an envelope.
inline std::string SignEnvelope(std::string_view payload_type, std::string_view payload,
                                const std::vector<const TestSigner*>& signers) {
  std::vector<TestSignature> sigs;
  for (const TestSigner* s : signers) {
    sigs.push_back({s->public_key()->fingerprint(), s->Sign(Pae(payload_type, payload))});
  }
  return MakeEnvelope(payload_type, payload, sigs);
}

// An SLSA v0.2 statement with `subjects` subjects and `materials` materials,
// digests derived from `seed`, so distinct seeds give distinct artifacts.
inline std::string SlsaV02Statement(int seed, int subjects = 1, int materials = 1) {
  auto digest = [seed](std::string_view kind, int i) {
    return Sha256Hex(fmt::format("{}-{}-{}", kind, seed, i));
  };
  std::string subject_json, material_json;
  for (int i = 0; i < subjects; ++i) {
    if (i > 0) subject_json += ",";
    subject_json +=
        fmt::format(R"({{"name":"out-{}","digest":{{"sha256":"{}"}}}})", i, digest("subject", i));
  }
  for (int i = 0; i < materials; ++i) {
    if (i > 0) material_json += ",";
    material_json +=
        fmt::format(R"({{"uri":"git+https://example.com/src-{}","digest":{{"sha1":"{}"}}}})", i,
                    digest("material", i).substr(0, 40));
  }
  return fmt::format(
      R"({{"_type":"https://in-toto.io/Statement/v0.1","predicateType":"https://slsa.dev/provenance/v0.2","subject":[{}],"predicate":{{"builder":{{"id":"https://ci.example.com/builder@v1"}},"buildType":"https://example.com/build","materials":[{}],"metadata":{{"buildStartedOn":"2024-01-02T03:04:05Z","buildFinishedOn":"2024-01-02T03:14:05Z"}}}}}})",
      subject_json, material_json);
}

}  // namespace lineage::ingest::testing
