// Sigstore verification with a CA, certificates, a transparency log, proofs
// and checkpoints made in the test with OpenSSL: each check of
// docs/trust-policy.md ("Keyless verification") is shown to reject the case
// it exists for, with its own reason. No mocks: every signature is real.
#include <openssl/bn.h>
#include <openssl/ct.h>
#include <openssl/ec.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/rsa.h>
#include <openssl/ts.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>

#include <memory>
#include <string>
#include <vector>

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <fmt/format.h>

#include "ingest/include/lineage/ingest/crypto.h"
#include "ingest/include/lineage/ingest/ingest.h"
#include "ingest/include/lineage/ingest/sigstore.h"
#include "ingest/include/lineage/ingest/trust_policy.h"

namespace lineage::ingest {
namespace {

using ::testing::HasSubstr;

constexpr char kIssuer[] = "https://token.actions.githubusercontent.com";
constexpr char kSan[] = "https://github.com/org/repo/.github/workflows/release.yml@refs/tags/v1.0";
// The integrated time of every log entry below: 2025-01-01T00:00:00Z.
constexpr int64_t kSignedAt = 1735689600;

struct PkeyFree {
  void operator()(EVP_PKEY* p) const { EVP_PKEY_free(p); }
};
struct X509Free {
  void operator()(X509* p) const { X509_free(p); }
};
using Pkey = std::unique_ptr<EVP_PKEY, PkeyFree>;
using Cert = std::unique_ptr<X509, X509Free>;

Pkey NewP256() {
  return Pkey(EVP_EC_gen("P-256"));
}

std::string Sign(EVP_PKEY* key, std::string_view message) {
  std::unique_ptr<EVP_MD_CTX, decltype(&EVP_MD_CTX_free)> ctx(EVP_MD_CTX_new(), &EVP_MD_CTX_free);
  size_t len = 0;
  EXPECT_EQ(EVP_DigestSignInit(ctx.get(), nullptr, EVP_sha256(), nullptr, key), 1);
  EXPECT_EQ(EVP_DigestSign(ctx.get(), nullptr, &len,
                           reinterpret_cast<const unsigned char*>(message.data()), message.size()),
            1);
  std::string sig(len, '\0');
  EXPECT_EQ(EVP_DigestSign(ctx.get(), reinterpret_cast<unsigned char*>(sig.data()), &len,
                           reinterpret_cast<const unsigned char*>(message.data()), message.size()),
            1);
  sig.resize(len);
  return sig;
}

std::string SpkiDer(EVP_PKEY* key) {
  unsigned char* der = nullptr;
  int len = i2d_PUBKEY(key, &der);
  std::string out(reinterpret_cast<char*>(der), len);
  OPENSSL_free(der);
  return out;
}

std::string CertDer(X509* cert) {
  unsigned char* der = nullptr;
  int len = i2d_X509(cert, &der);
  std::string out(reinterpret_cast<char*>(der), len);
  OPENSSL_free(der);
  return out;
}

std::string CertPem(X509* cert) {
  std::unique_ptr<BIO, decltype(&BIO_free)> bio(BIO_new(BIO_s_mem()), &BIO_free);
  PEM_write_bio_X509(bio.get(), cert);
  char* data = nullptr;
  long len = BIO_get_mem_data(bio.get(), &data);
  return std::string(data, len);
}

void AddExtension(X509* cert, X509* issuer, const char* name, const char* value) {
  X509V3_CTX ctx;
  X509V3_set_ctx(&ctx, issuer, cert, nullptr, nullptr, 0);
  X509_EXTENSION* ext = X509V3_EXT_nconf(nullptr, &ctx, name, value);
  ASSERT_NE(ext, nullptr) << name << "=" << value;
  X509_add_ext(cert, ext, -1);
  X509_EXTENSION_free(ext);
}

struct CertSpec {
  std::string common_name;
  int64_t not_before;
  int64_t not_after;
  bool ca = false;
  std::string issuer_ext;  // Fulcio OIDC issuer extension; leaf only
  std::string san;         // URI SAN; leaf only
  bool code_signing = true;
  bool timestamping = false;  // a TSA certificate instead of a Fulcio leaf
};

// A certificate for `key`, signed by `issuer_key` (self-signed when
// issuer_cert is null).
Cert MakeCert(const CertSpec& spec, EVP_PKEY* key, X509* issuer_cert, EVP_PKEY* issuer_key) {
  static long serial = 1;
  Cert cert(X509_new());
  X509_set_version(cert.get(), 2);
  ASN1_INTEGER_set(X509_get_serialNumber(cert.get()), serial++);
  ASN1_TIME_set(X509_getm_notBefore(cert.get()), static_cast<time_t>(spec.not_before));
  ASN1_TIME_set(X509_getm_notAfter(cert.get()), static_cast<time_t>(spec.not_after));
  X509_set_pubkey(cert.get(), key);
  X509_NAME* name = X509_get_subject_name(cert.get());
  X509_NAME_add_entry_by_txt(name, "O", MBSTRING_ASC,
                             reinterpret_cast<const unsigned char*>("lineage-test"), -1, -1, 0);
  X509_NAME_add_entry_by_txt(name, "CN", MBSTRING_ASC,
                             reinterpret_cast<const unsigned char*>(spec.common_name.c_str()), -1,
                             -1, 0);
  X509* issuer = issuer_cert != nullptr ? issuer_cert : cert.get();
  X509_set_issuer_name(cert.get(), X509_get_subject_name(issuer));
  if (spec.ca) {
    AddExtension(cert.get(), issuer, "basicConstraints", "critical,CA:TRUE");
    AddExtension(cert.get(), issuer, "keyUsage", "critical,keyCertSign,cRLSign");
  } else if (spec.timestamping) {
    AddExtension(cert.get(), issuer, "keyUsage", "critical,digitalSignature");
    AddExtension(cert.get(), issuer, "extendedKeyUsage", "critical,timeStamping");
  } else {
    AddExtension(cert.get(), issuer, "keyUsage", "critical,digitalSignature");
    if (spec.code_signing) AddExtension(cert.get(), issuer, "extendedKeyUsage", "codeSigning");
    AddExtension(cert.get(), issuer, "subjectAltName", ("critical,URI:" + spec.san).c_str());
    AddExtension(cert.get(), issuer, "1.3.6.1.4.1.57264.1.8",
                 ("ASN1:UTF8String:" + spec.issuer_ext).c_str());
  }
  EXPECT_GT(X509_sign(cert.get(), issuer_key != nullptr ? issuer_key : key, EVP_sha256()), 0);
  return cert;
}

// RFC 6962 section 2.1, written from the definitions (recursive MTH and
// PATH), independently of the library's iterative verifier.
std::string Hash(std::string_view data) {
  std::string out(32, '\0');
  EVP_Digest(data.data(), data.size(), reinterpret_cast<unsigned char*>(out.data()), nullptr,
             EVP_sha256(), nullptr);
  return out;
}
size_t SplitPoint(size_t n) {
  size_t k = 1;
  while (k * 2 < n)
    k *= 2;
  return k;
}
std::string TreeHash(const std::vector<std::string>& leaves, size_t begin, size_t end) {
  if (end - begin == 1) return Hash(std::string("\x00", 1) + leaves[begin]);
  size_t k = SplitPoint(end - begin);
  return Hash("\x01" + TreeHash(leaves, begin, begin + k) + TreeHash(leaves, begin + k, end));
}
std::vector<std::string> AuditPath(const std::vector<std::string>& leaves, size_t m, size_t begin,
                                   size_t end) {
  if (end - begin == 1) return {};
  size_t k = SplitPoint(end - begin);
  std::vector<std::string> path;
  if (m < k) {
    path = AuditPath(leaves, m, begin, begin + k);
    path.push_back(TreeHash(leaves, begin + k, end));
  } else {
    path = AuditPath(leaves, m - k, begin + k, end);
    path.push_back(TreeHash(leaves, begin, begin + k));
  }
  return path;
}

// The SubjectPublicKeyInfo of a DER certificate, as its bytes stand: the
// seventh element of the TBSCertificate (after the optional [0] version,
// serial, signature algorithm, issuer, validity and subject). Read with a
// minimal DER walker, not OpenSSL's structures, so that a re-encoding would
// not go unnoticed.
std::string SpkiOfCertificate(const std::string& der) {
  size_t pos = 0;
  // Reads the header at `pos`; returns the content length, sets `header`.
  auto read = [&](size_t at, size_t* header) -> size_t {
    size_t n = static_cast<unsigned char>(der.at(at + 1));
    *header = 2;
    if (n < 0x80) return n;
    size_t bytes = n & 0x7f, len = 0;
    for (size_t i = 0; i < bytes; ++i)
      len = len << 8 | static_cast<unsigned char>(der.at(at + 2 + i));
    *header = 2 + bytes;
    return len;
  };
  size_t header = 0;
  read(pos, &header);  // Certificate
  pos += header;
  read(pos, &header);  // TBSCertificate
  pos += header;
  if (static_cast<unsigned char>(der.at(pos)) == 0xa0) pos += header + read(pos, &header);
  for (int skip = 0; skip < 5; ++skip) {
    size_t len = read(pos, &header);
    pos += header + len;
  }
  size_t len = read(pos, &header);
  return der.substr(pos, header + len);
}

// One SCT to embed, and what a test changes about it.
struct SctSpec {
  EVP_PKEY* log_key = nullptr;
  int signature_nid = NID_ecdsa_with_SHA256;  // the algorithm the SCT declares
  bool tamper = false;                        // flip a bit of the signature
  bool raw_ecdsa = false;                     // r||s instead of DER
  bool rsa_pss = false;                       // RSA-PSS instead of PKCS#1 v1.5
};

// RSA PKCS#1 v1.5 or PSS, SHA-256.
std::string SignRsa(EVP_PKEY* key, std::string_view message, bool pss) {
  std::unique_ptr<EVP_MD_CTX, decltype(&EVP_MD_CTX_free)> ctx(EVP_MD_CTX_new(), &EVP_MD_CTX_free);
  EVP_PKEY_CTX* pctx = nullptr;
  EXPECT_EQ(EVP_DigestSignInit(ctx.get(), &pctx, EVP_sha256(), nullptr, key), 1);
  EXPECT_EQ(EVP_PKEY_CTX_set_rsa_padding(pctx, pss ? RSA_PKCS1_PSS_PADDING : RSA_PKCS1_PADDING), 1);
  size_t len = 0;
  const auto* m = reinterpret_cast<const unsigned char*>(message.data());
  EXPECT_EQ(EVP_DigestSign(ctx.get(), nullptr, &len, m, message.size()), 1);
  std::string sig(len, '\0');
  EXPECT_EQ(EVP_DigestSign(ctx.get(), reinterpret_cast<unsigned char*>(sig.data()), &len, m,
                           message.size()),
            1);
  sig.resize(len);
  return sig;
}

// A DER ECDSA signature as raw r||s of 32 bytes each.
std::string DerToRaw(const std::string& der) {
  const auto* p = reinterpret_cast<const unsigned char*>(der.data());
  ECDSA_SIG* sig = d2i_ECDSA_SIG(nullptr, &p, static_cast<long>(der.size()));
  EXPECT_NE(sig, nullptr);
  std::string raw(64, '\0');
  BN_bn2binpad(ECDSA_SIG_get0_r(sig), reinterpret_cast<unsigned char*>(raw.data()), 32);
  BN_bn2binpad(ECDSA_SIG_get0_s(sig), reinterpret_cast<unsigned char*>(raw.data()) + 32, 32);
  ECDSA_SIG_free(sig);
  return raw;
}

// RFC 6962 section 3.2, written from the definition: the log signs the
// precertificate's TBSCertificate (here the certificate's TBS before the
// SCT extension exists) with the SHA-256 of the issuer's key. Appends the
// SCT list extension and re-signs the certificate with `issuer_key`.
void EmbedScts(X509* cert, X509* issuer, EVP_PKEY* issuer_key, const std::vector<SctSpec>& specs) {
  auto put = [](std::string* out, uint64_t v, int bytes) {
    for (int i = bytes - 1; i >= 0; --i)
      out->push_back(static_cast<char>((v >> (8 * i)) & 0xff));
  };
  unsigned char* der = nullptr;
  int len = i2d_re_X509_tbs(cert, &der);
  ASSERT_GT(len, 0);
  std::string tbs(reinterpret_cast<char*>(der), static_cast<size_t>(len));
  OPENSSL_free(der);
  const uint64_t at_ms = static_cast<uint64_t>(kSignedAt - 60) * 1000;
  std::string data(2, '\0');  // v1, certificate_timestamp
  put(&data, at_ms, 8);
  put(&data, 1, 2);  // precert_entry
  data += Hash(SpkiOfCertificate(CertDer(issuer)));
  put(&data, tbs.size(), 3);
  data += tbs;
  put(&data, 0, 2);  // no extensions

  STACK_OF(SCT)* list = sk_SCT_new_null();
  for (const SctSpec& spec : specs) {
    std::string sig = EVP_PKEY_get_base_id(spec.log_key) == EVP_PKEY_RSA
                          ? SignRsa(spec.log_key, data, spec.rsa_pss)
                          : Sign(spec.log_key, data);
    if (spec.raw_ecdsa) sig = DerToRaw(sig);
    if (spec.tamper) sig.back() ^= 1;  // the low bit of s: still DER, no longer valid
    std::string log_id = Hash(SpkiDer(spec.log_key));
    SCT* sct = SCT_new();
    ASSERT_EQ(SCT_set_version(sct, SCT_VERSION_V1), 1);
    ASSERT_EQ(SCT_set_log_entry_type(sct, CT_LOG_ENTRY_TYPE_PRECERT), 1);
    ASSERT_EQ(
        SCT_set1_log_id(sct, reinterpret_cast<const unsigned char*>(log_id.data()), log_id.size()),
        1);
    SCT_set_timestamp(sct, at_ms);
    ASSERT_EQ(SCT_set_signature_nid(sct, spec.signature_nid), 1);
    ASSERT_EQ(
        SCT_set1_signature(sct, reinterpret_cast<const unsigned char*>(sig.data()), sig.size()), 1);
    sk_SCT_push(list, sct);
  }
  ASSERT_EQ(X509_add1_ext_i2d(cert, NID_ct_precert_scts, list, 0, X509V3_ADD_APPEND), 1);
  SCT_LIST_free(list);
  ASSERT_GT(X509_sign(cert, issuer_key, EVP_sha256()), 0);
}

void EmbedSct(X509* cert, X509* issuer, EVP_PKEY* issuer_key, EVP_PKEY* log_key,
              bool tamper = false) {
  SctSpec spec;
  spec.log_key = log_key;
  spec.tamper = tamper;
  EmbedScts(cert, issuer, issuer_key, {spec});
}

int FixedTime(TS_RESP_CTX*, void* data, long* sec, long* usec) {
  *sec = *static_cast<long*>(data);
  *usec = 0;
  return 1;
}

// An RFC 3161 TimeStampResponse (DER) over SHA-256(`message`) at `at`,
// signed by `tsa_key` with certificate `tsa_cert`, as a TSA would answer.
std::string Timestamp(std::string_view message, X509* tsa_cert, EVP_PKEY* tsa_key, long at) {
  unsigned char hash[32];
  EVP_Digest(message.data(), message.size(), hash, nullptr, EVP_sha256(), nullptr);
  TS_REQ* req = TS_REQ_new();
  TS_MSG_IMPRINT* imprint = TS_MSG_IMPRINT_new();
  X509_ALGOR* algo = X509_ALGOR_new();
  X509_ALGOR_set0(algo, OBJ_nid2obj(NID_sha256), V_ASN1_NULL, nullptr);
  TS_MSG_IMPRINT_set_algo(imprint, algo);  // copies
  X509_ALGOR_free(algo);
  TS_MSG_IMPRINT_set_msg(imprint, hash, sizeof(hash));
  TS_REQ_set_version(req, 1);
  TS_REQ_set_msg_imprint(req, imprint);
  TS_REQ_set_cert_req(req, 1);
  BIO* request = BIO_new(BIO_s_mem());
  i2d_TS_REQ_bio(request, req);

  TS_RESP_CTX* ctx = TS_RESP_CTX_new();
  EXPECT_EQ(TS_RESP_CTX_set_signer_cert(ctx, tsa_cert), 1);
  EXPECT_EQ(TS_RESP_CTX_set_signer_key(ctx, tsa_key), 1);
  ASN1_OBJECT* policy = OBJ_txt2obj("1.3.6.1.4.1.57264.2", 1);
  TS_RESP_CTX_set_def_policy(ctx, policy);
  TS_RESP_CTX_add_md(ctx, EVP_sha256());
  TS_RESP_CTX_set_signer_digest(ctx, EVP_sha256());
  TS_RESP_CTX_set_time_cb(ctx, FixedTime, &at);
  TS_RESP* resp = TS_RESP_create_response(ctx, request);
  EXPECT_NE(resp, nullptr);
  unsigned char* der = nullptr;
  int len = resp != nullptr ? i2d_TS_RESP(resp, &der) : 0;
  std::string out(reinterpret_cast<char*>(der), len > 0 ? len : 0);
  OPENSSL_free(der);
  TS_RESP_free(resp);
  TS_RESP_CTX_free(ctx);
  ASN1_OBJECT_free(policy);
  BIO_free(request);
  TS_MSG_IMPRINT_free(imprint);
  TS_REQ_free(req);
  return out;
}

std::string Hex(std::string_view bytes) {
  std::string out;
  for (unsigned char c : bytes)
    out += fmt::format("{:02x}", c);
  return out;
}

// One signing world: a Fulcio-like CA, a Rekor-like log, and a workflow
// identity, from which each test derives its bundle and breaks one thing.
class SigstoreGeneratedTest : public ::testing::Test {
 protected:
  void SetUp() override {
    ca_key_ = NewP256();
    ca_ = MakeCert({"test fulcio root", kSignedAt - 86400 * 365, kSignedAt + 86400 * 365, true},
                   ca_key_.get(), nullptr, nullptr);
    log_key_ = NewP256();
    ct_key_ = NewP256();
    leaf_key_ = NewP256();
    tsa_key_ = NewP256();
    tsa_ = MakeCert({"test tsa", kSignedAt - 86400, kSignedAt + 86400, false, "", "", false, true},
                    tsa_key_.get(), ca_.get(), ca_key_.get());
    leaf_ = MakeLeaf(kSignedAt - 60, kSignedAt + 540);
  }

  // A Fulcio-like leaf with an SCT by the test CT log.
  Cert MakeLeaf(int64_t not_before, int64_t not_after, bool code_signing = true) {
    return MakeLeafWithSct(not_before, not_after, code_signing, ct_key_.get());
  }
  // The same with the SCT signed by `sct_key` (none when it is null).
  Cert MakeLeafWithSct(int64_t not_before, int64_t not_after, bool code_signing, EVP_PKEY* sct_key,
                       bool tamper_sct = false) {
    Cert cert = MakeCert({"", not_before, not_after, false, kIssuer, kSan, code_signing},
                         leaf_key_.get(), ca_.get(), ca_key_.get());
    if (sct_key != nullptr) EmbedSct(cert.get(), ca_.get(), ca_key_.get(), sct_key, tamper_sct);
    return cert;
  }

  // A leaf with these SCTs.
  Cert MakeLeafWithScts(const std::vector<SctSpec>& scts) {
    Cert cert = MakeCert({"", kSignedAt - 60, kSignedAt + 540, false, kIssuer, kSan, true},
                         leaf_key_.get(), ca_.get(), ca_key_.get());
    EmbedScts(cert.get(), ca_.get(), ca_key_.get(), scts);
    return cert;
  }

  static TransparencyLog CtLog(EVP_PKEY* key, absl::Time start) {
    TransparencyLog ct;
    ct.base_url = "https://ctfe.test";
    ct.key = *PublicKey::FromDer(SpkiDer(key));
    ct.log_id = Hash(SpkiDer(key));
    ct.valid_for = {start, absl::InfiniteFuture()};
    return ct;
  }

  // The test's trusted root: its CA (after decoy_ca_, when set), log, TSA,
  // (unless `with_ctlog` is false) CT log, valid from ctlog_start_, and
  // extra_ctlogs_.
  TrustPolicy Policy(const std::string& san_regex = ".*", bool with_ctlog = true) {
    auto root = std::make_shared<TrustedRoot>();
    CertificateAuthority ca;
    ca.uri = "https://fulcio.test";
    if (decoy_ca_ != nullptr) ca.chain.push_back(*Certificate::FromDer(CertDer(decoy_ca_)));
    ca.chain.push_back(*Certificate::FromDer(CertDer(ca_.get())));
    ca.valid_for = {absl::FromUnixSeconds(kSignedAt - 86400 * 365), absl::InfiniteFuture()};
    root->AddCertificateAuthority(std::move(ca));
    TransparencyLog log;
    log.base_url = "https://rekor.test";
    log.key = *PublicKey::FromDer(SpkiDer(log_key_.get()));
    log.log_id = Hash(SpkiDer(log_key_.get()));
    log.valid_for = {absl::FromUnixSeconds(kSignedAt - 86400 * 365), absl::InfiniteFuture()};
    root->AddTlog(std::move(log));
    if (with_ctlog) {
      TransparencyLog ct;
      ct.base_url = "https://ctfe.test";
      ct.key = *PublicKey::FromDer(SpkiDer(ct_key_.get()));
      ct.log_id = Hash(SpkiDer(ct_key_.get()));
      ct.valid_for = {ctlog_start_, absl::InfiniteFuture()};
      root->AddCtlog(std::move(ct));
    }
    for (const TransparencyLog& ct : extra_ctlogs_)
      root->AddCtlog(ct);
    // The TSA's chain: its certificate, then the root that issued it.
    CertificateAuthority tsa;
    tsa.chain.push_back(*Certificate::FromDer(CertDer(tsa_.get())));
    tsa.chain.push_back(*Certificate::FromDer(CertDer(ca_.get())));
    tsa.valid_for = {absl::FromUnixSeconds(kSignedAt - 86400), absl::InfiniteFuture()};
    root->AddTimestampAuthority(std::move(tsa));
    TrustPolicy policy;
    policy.AddTrustedRoot(root);
    policy.AddIdentity(*MakeTrustedIdentity("release", kIssuer, false, san_regex, true));
    return policy;
  }

  // What a test may change about the bundle it gets.
  struct Options {
    X509* leaf = nullptr;                // default: leaf_
    EVP_PKEY* signing_key = nullptr;     // the DSSE signer; default: leaf_key_
    EVP_PKEY* checkpoint_key = nullptr;  // default: log_key_
    std::string logged_payload;          // the payload the log entry records; default: the real one
    bool proof_for_other_leaf = false;
    bool with_set = true;
    std::string media_type = "application/vnd.dev.sigstore.bundle.v0.3+json";
    // RFC 3161 timestamp by this TSA over the signature (or over
    // `timestamped` when set); none when tsa_cert is null.
    X509* tsa_cert = nullptr;
    EVP_PKEY* tsa_key = nullptr;
    std::string timestamped;
  };

  std::string Bundle(const Options& o) {
    X509* leaf = o.leaf != nullptr ? o.leaf : leaf_.get();
    EVP_PKEY* signer = o.signing_key != nullptr ? o.signing_key : leaf_key_.get();
    const std::string payload_type = "application/vnd.in-toto+json";
    const std::string payload =
        R"({"_type":"https://in-toto.io/Statement/v1","subject":[{"name":"app","digest":)"
        R"({"sha256":"5891b5b522d5df086d0ff0b110fbd9d21bb4fc7163af34d08286a2e846f6be03"}}],)"
        R"("predicateType":"https://slsa.dev/provenance/v1","predicate":{}})";
    std::string sig = Sign(signer, Pae(payload_type, payload));

    // The log's entry for it (dsse 0.0.1), in a tree of five entries.
    std::string logged = o.logged_payload.empty() ? payload : o.logged_payload;
    std::string body = fmt::format(
        R"({{"apiVersion":"0.0.1","kind":"dsse","spec":{{"envelopeHash":{{"algorithm":"sha256",)"
        R"("value":"{}"}},"payloadHash":{{"algorithm":"sha256","value":"{}"}},"signatures":[{{)"
        R"("signature":"{}","verifier":"{}"}}]}}}})",
        Hex(Hash("envelope")), Hex(Hash(logged)), EncodeBase64(sig), EncodeBase64(CertPem(leaf)));
    std::vector<std::string> leaves = {"a", "b", body, "d", "e"};
    const size_t index = 2;
    std::string root = TreeHash(leaves, 0, leaves.size());
    std::vector<std::string> path =
        AuditPath(leaves, o.proof_for_other_leaf ? 3 : index, 0, leaves.size());
    std::string checkpoint_body =
        fmt::format("rekor.test - 42\n{}\n{}\n", leaves.size(), EncodeBase64(root));
    std::string log_id = Hash(SpkiDer(log_key_.get()));
    std::string note_sig =
        log_id.substr(0, 4) +
        Sign(o.checkpoint_key != nullptr ? o.checkpoint_key : log_key_.get(), checkpoint_body);
    std::string checkpoint =
        fmt::format("{}\n\u2014 rekor.test {}\n", checkpoint_body, EncodeBase64(note_sig));
    const int64_t log_index = 1000 + index;
    std::string set = EncodeBase64(
        Sign(log_key_.get(), SignedEntryTimestampPayload(body, kSignedAt, log_id, log_index)));

    std::string timestamps;
    if (o.tsa_cert != nullptr) {
      timestamps = fmt::format(
          R"("timestampVerificationData":{{"rfc3161Timestamps":[{{"signedTimestamp":"{}"}}]}},)",
          EncodeBase64(Timestamp(o.timestamped.empty() ? sig : o.timestamped, o.tsa_cert, o.tsa_key,
                                 kSignedAt + 5)));
    }
    std::string hashes;
    for (const std::string& h : path)
      hashes += (hashes.empty() ? "\"" : ",\"") + EncodeBase64(h) + "\"";
    return fmt::format(
        R"({{"mediaType":"{}","verificationMaterial":{{{}"certificate":{{"rawBytes":"{}"}},)"
        R"("tlogEntries":[{{"logIndex":"{}","logId":{{"keyId":"{}"}},)"
        R"("kindVersion":{{"kind":"dsse","version":"0.0.1"}},"integratedTime":"{}",{})"
        R"("inclusionProof":{{"logIndex":"{}","rootHash":"{}","treeSize":"{}","hashes":[{}],)"
        R"("checkpoint":{{"envelope":"{}"}}}},"canonicalizedBody":"{}"}}]}},)"
        R"("dsseEnvelope":{{"payload":"{}","payloadType":"{}","signatures":[{{"sig":"{}"}}]}}}})",
        o.media_type, timestamps, EncodeBase64(CertDer(leaf)), log_index, EncodeBase64(log_id),
        kSignedAt,
        o.with_set ? fmt::format(R"("inclusionPromise":{{"signedEntryTimestamp":"{}"}},)", set)
                   : "",
        index, EncodeBase64(root), leaves.size(), hashes, JsonEscape(checkpoint),
        EncodeBase64(body), EncodeBase64(payload), payload_type, EncodeBase64(sig));
  }

  static std::string JsonEscape(std::string_view s) {
    std::string out;
    for (char c : s) {
      if (c == '\n') {
        out += "\\n";
      } else if (c == '"' || c == '\\') {
        out += '\\';
        out += c;
      } else {
        out += c;
      }
    }
    return out;
  }

  ItemResult VerifyOne(const std::string& bundle, const TrustPolicy& policy) {
    std::vector<ItemResult> items = VerifyDocument("gen.json", bundle, policy, IngestOptions{});
    EXPECT_EQ(items.size(), 1u);
    return items.at(0);
  }

  std::string Rejection(const std::string& bundle, const TrustPolicy& policy) {
    ItemResult item = VerifyOne(bundle, policy);
    EXPECT_FALSE(item.record.ok());
    return item.record.ok() ? "" : std::string(item.record.status().message());
  }

  Pkey ca_key_, log_key_, ct_key_, leaf_key_, tsa_key_;
  Cert ca_, leaf_, tsa_;
  absl::Time ctlog_start_ = absl::FromUnixSeconds(kSignedAt - 86400 * 365);
  std::vector<TransparencyLog> extra_ctlogs_;
  X509* decoy_ca_ = nullptr;
};

TEST_F(SigstoreGeneratedTest, WellFormedBundleVerifies) {
  ItemResult item = VerifyOne(Bundle({}), Policy());
  ASSERT_TRUE(item.record.ok()) << item.record.status();
  const VerifiedSigner& s = item.record->signers.at(0);
  EXPECT_EQ(s.key_ref, std::string("key:keyless:") + kIssuer + "|" + kSan);
  EXPECT_EQ(s.log_index, 1002);
  EXPECT_EQ(s.signed_at, absl::FromUnixSeconds(kSignedAt));
  EXPECT_EQ(s.certificate_sha256, Sha256Hex(CertDer(leaf_.get())));
  // No build time in the statement: the record takes the signing time.
  EXPECT_EQ(item.record->time, absl::FromUnixSeconds(kSignedAt));
  // The legacy media-type spelling of v0.3, and v0.2, are the same format.
  Options legacy;
  legacy.media_type = "application/vnd.dev.sigstore.bundle+json;version=0.3";
  EXPECT_TRUE(VerifyOne(Bundle(legacy), Policy()).record.ok());
  legacy.media_type = "application/vnd.dev.sigstore.bundle+json;version=0.2";
  EXPECT_TRUE(VerifyOne(Bundle(legacy), Policy()).record.ok());
}

TEST_F(SigstoreGeneratedTest, ExpiredLeafIsRejectedForTime) {
  Cert expired = MakeLeaf(kSignedAt - 1200, kSignedAt - 600);
  Options o;
  o.leaf = expired.get();
  EXPECT_THAT(Rejection(Bundle(o), Policy()),
              HasSubstr("gen.json: signing time: the certificate was not valid at the signing "
                        "time 2025-01-01T00:00:00Z"));
}

TEST_F(SigstoreGeneratedTest, UntrustedRootIsRejectedForTheChain) {
  Pkey other_ca_key = NewP256();
  Cert other_ca = MakeCert({"test fulcio root", kSignedAt - 86400, kSignedAt + 86400, true},
                           other_ca_key.get(), nullptr, nullptr);
  Cert leaf = MakeCert({"", kSignedAt - 60, kSignedAt + 540, false, kIssuer, kSan}, leaf_key_.get(),
                       other_ca.get(), other_ca_key.get());
  Options o;
  o.leaf = leaf.get();
  EXPECT_THAT(Rejection(Bundle(o), Policy()),
              HasSubstr("gen.json: certificate chain: the certificate (issued "
                        "2024-12-31T23:59:00Z) does not chain to a Fulcio CA"));
}

TEST_F(SigstoreGeneratedTest, LeafWithoutCodeSigningIsRejectedForTheChain) {
  Cert leaf = MakeLeaf(kSignedAt - 60, kSignedAt + 540, /*code_signing=*/false);
  Options o;
  o.leaf = leaf.get();
  EXPECT_THAT(Rejection(Bundle(o), Policy()),
              HasSubstr("certificate chain: the certificate is not issued for code signing"));
}

TEST_F(SigstoreGeneratedTest, LeafWithoutSctIsRejectedUnlessThePolicyWaivesIt) {
  Cert leaf = MakeLeafWithSct(kSignedAt - 60, kSignedAt + 540, true, /*sct_key=*/nullptr);
  Options o;
  o.leaf = leaf.get();
  EXPECT_THAT(Rejection(Bundle(o), Policy()),
              HasSubstr("gen.json: sct: the certificate embeds no signed certificate timestamp; "
                        "the policy's sct_threshold is 1"));
  TrustPolicy waived = Policy();
  waived.set_sct_threshold(0);
  ItemResult item = VerifyOne(Bundle(o), waived);
  EXPECT_TRUE(item.record.ok()) << item.record.status();
}

TEST_F(SigstoreGeneratedTest, TamperedSctIsRejected) {
  // The CA signed the certificate with the altered SCT inside, so the chain
  // verifies: only the SCT check can catch it.
  Cert leaf =
      MakeLeafWithSct(kSignedAt - 60, kSignedAt + 540, true, ct_key_.get(), /*tamper_sct=*/true);
  Options o;
  o.leaf = leaf.get();
  std::string why = Rejection(Bundle(o), Policy());
  EXPECT_THAT(why, HasSubstr("sct: 0 of the certificate's 1 signed certificate timestamps verify"));
  EXPECT_THAT(why, HasSubstr("SCT 0: signature does not verify with log"));
}

TEST_F(SigstoreGeneratedTest, SctOfALogOutsideTheTrustedRootsIsRejected) {
  EXPECT_THAT(Rejection(Bundle({}), Policy(".*", /*with_ctlog=*/false)),
              HasSubstr("sct: 0 of the certificate's 1 signed certificate timestamps verify with "
                        "a CT log of the trusted roots (0 CT logs)"));
  // Another CT log's key under this log's id does not verify it either.
  Pkey other = NewP256();
  Cert leaf = MakeLeafWithSct(kSignedAt - 60, kSignedAt + 540, true, other.get());
  Options o;
  o.leaf = leaf.get();
  EXPECT_THAT(Rejection(Bundle(o), Policy()), HasSubstr("is not a CT log of the trusted roots"));
}

TEST_F(SigstoreGeneratedTest, SctFromBeforeTheCtLogWasValidIsRejected) {
  ctlog_start_ = absl::FromUnixSeconds(kSignedAt);  // the SCT is from 60 s before
  EXPECT_THAT(Rejection(Bundle({}), Policy()),
              HasSubstr("was not valid at the SCT's time 2024-12-31T23:59:00Z"));
}

TEST_F(SigstoreGeneratedTest, TwoSctsFromOneLogDoNotMeetAThresholdOfTwo) {
  SctSpec ct;
  ct.log_key = ct_key_.get();
  Cert twice = MakeLeafWithScts({ct, ct});
  Options o;
  o.leaf = twice.get();
  TrustPolicy policy = Policy();
  policy.set_sct_threshold(2);
  std::string why = Rejection(Bundle(o), policy);
  EXPECT_THAT(why, HasSubstr("sct: 1 of the certificate's 2 signed certificate timestamps verify"));
  EXPECT_THAT(why, HasSubstr("SCT 1: log "));
  EXPECT_THAT(why, HasSubstr("is already counted for an earlier SCT"));

  // Two logs of the trusted roots, one SCT each: the threshold is met.
  Pkey second_key = NewP256();
  extra_ctlogs_.push_back(CtLog(second_key.get(), ctlog_start_));
  SctSpec second;
  second.log_key = second_key.get();
  Cert two_logs = MakeLeafWithScts({ct, second});
  o.leaf = two_logs.get();
  TrustPolicy two = Policy();
  two.set_sct_threshold(2);
  ItemResult item = VerifyOne(Bundle(o), two);
  EXPECT_TRUE(item.record.ok()) << item.record.status();
}

TEST_F(SigstoreGeneratedTest, SctWhoseAlgorithmDoesNotFitTheLogKeyIsRejected) {
  Pkey rsa_key(EVP_RSA_gen(2048));
  ASSERT_NE(rsa_key, nullptr);
  extra_ctlogs_.push_back(CtLog(rsa_key.get(), ctlog_start_));
  auto verdict = [&](const SctSpec& spec) {
    Cert leaf = MakeLeafWithScts({spec});
    Options o;
    o.leaf = leaf.get();
    ItemResult item = VerifyOne(Bundle(o), Policy());
    return item.record.ok() ? std::string("ok") : std::string(item.record.status().message());
  };

  // The RSA log's PKCS#1 v1.5 signature, declared as such, verifies.
  SctSpec rsa;
  rsa.log_key = rsa_key.get();
  rsa.signature_nid = NID_sha256WithRSAEncryption;
  EXPECT_EQ(verdict(rsa), "ok");
  // The same signature declared as ECDSA does not.
  SctSpec rsa_as_ecdsa = rsa;
  rsa_as_ecdsa.signature_nid = NID_ecdsa_with_SHA256;
  EXPECT_THAT(verdict(rsa_as_ecdsa),
              HasSubstr("SCT 0: signature algorithm ecdsa-with-SHA256 does not fit log"));
  // RFC 6962 RSA is PKCS#1 v1.5: a PSS signature by the log's key is no SCT.
  SctSpec pss = rsa;
  pss.rsa_pss = true;
  EXPECT_THAT(verdict(pss), HasSubstr("SCT 0: signature does not verify with log"));

  // An ECDSA log's SCT declared as RSA, and one with a raw r||s signature.
  SctSpec ecdsa_as_rsa;
  ecdsa_as_rsa.log_key = ct_key_.get();
  ecdsa_as_rsa.signature_nid = NID_sha256WithRSAEncryption;
  EXPECT_THAT(verdict(ecdsa_as_rsa), HasSubstr("signature algorithm RSA-SHA256 does not fit log"));
  SctSpec raw;
  raw.log_key = ct_key_.get();
  raw.raw_ecdsa = true;
  EXPECT_THAT(verdict(raw), HasSubstr("SCT 0: signature does not verify with log"));
}

TEST_F(SigstoreGeneratedTest, SctCountsIfAnyTrustedEntryOfItsLogCoversItsTime) {
  // A second trusted root lists the same CT log, valid only from after the
  // SCT: the first root's entry, which covers it, still counts.
  TrustPolicy policy = Policy();
  auto later = std::make_shared<TrustedRoot>();
  later->AddCtlog(CtLog(ct_key_.get(), absl::FromUnixSeconds(kSignedAt)));
  policy.AddTrustedRoot(later);
  ItemResult item = VerifyOne(Bundle({}), policy);
  EXPECT_TRUE(item.record.ok()) << item.record.status();

  // Neither entry covering it: rejected for the time.
  ctlog_start_ = absl::FromUnixSeconds(kSignedAt);
  TrustPolicy neither = Policy();
  neither.AddTrustedRoot(later);
  EXPECT_THAT(Rejection(Bundle({}), neither),
              HasSubstr("was not valid at the SCT's time 2024-12-31T23:59:00Z"));
}

TEST_F(SigstoreGeneratedTest, SctIssuerKeyIsTheOneOfTheVerifiedChain) {
  // A retired CA of the same name with another key is listed first. It
  // matches the leaf by name (the leaf has no authority key id), but it had
  // expired when the leaf was issued, so the chain goes to the current CA,
  // and the SCT is over the current CA's key.
  Pkey old_key = NewP256();
  Cert old_ca =
      MakeCert({"test fulcio root", kSignedAt - 86400 * 800, kSignedAt - 86400 * 400, true},
               old_key.get(), nullptr, nullptr);
  decoy_ca_ = old_ca.get();
  ItemResult item = VerifyOne(Bundle({}), Policy());
  EXPECT_TRUE(item.record.ok()) << item.record.status();
}

TEST_F(SigstoreGeneratedTest, SctIssuerKeyHashIsOverTheCertificatesOwnKeyEncoding) {
  // An RSA CA whose SubjectPublicKeyInfo omits the NULL parameter of
  // rsaEncryption (DER allows both; OpenSSL writes NULL when it encodes the
  // key itself). The log hashed the SPKI as the certificate has it.
  ca_key_ = Pkey(EVP_RSA_gen(2048));
  ASSERT_NE(ca_key_, nullptr);
  ca_ = MakeCert({"test fulcio root", kSignedAt - 86400 * 365, kSignedAt + 86400 * 365, true},
                 ca_key_.get(), nullptr, nullptr);
  X509_PUBKEY* spki = X509_get_X509_PUBKEY(ca_.get());
  const unsigned char* bits = nullptr;
  int bits_len = 0;
  ASSERT_EQ(X509_PUBKEY_get0_param(nullptr, &bits, &bits_len, nullptr, spki), 1);
  auto* copy = static_cast<unsigned char*>(OPENSSL_memdup(bits, bits_len));
  ASSERT_EQ(X509_PUBKEY_set0_param(spki, OBJ_nid2obj(NID_rsaEncryption), V_ASN1_UNDEF, nullptr,
                                   copy, bits_len),
            1);
  ASSERT_GT(X509_sign(ca_.get(), ca_key_.get(), EVP_sha256()), 0);
  ASSERT_NE(SpkiOfCertificate(CertDer(ca_.get())), SpkiDer(ca_key_.get()));

  SctSpec ct;
  ct.log_key = ct_key_.get();
  Cert leaf = MakeLeafWithScts({ct});
  Options o;
  o.leaf = leaf.get();
  ItemResult item = VerifyOne(Bundle(o), Policy());
  EXPECT_TRUE(item.record.ok()) << item.record.status();
}

TEST_F(SigstoreGeneratedTest, ProofForAnotherEntryIsRejected) {
  Options o;
  o.proof_for_other_leaf = true;
  EXPECT_THAT(Rejection(Bundle(o), Policy()),
              HasSubstr("signing time: verificationMaterial.tlogEntries[0].inclusionProof: "
                        "inclusion proof does not lead to the root hash"));
}

TEST_F(SigstoreGeneratedTest, CheckpointWithBadSignatureIsRejected) {
  Pkey impostor = NewP256();
  Options o;
  o.checkpoint_key = impostor.get();
  EXPECT_THAT(Rejection(Bundle(o), Policy()),
              HasSubstr("signing time: verificationMaterial.tlogEntries[0].inclusionProof."
                        "checkpoint: no checkpoint signature verifies with the log's key"));
}

TEST_F(SigstoreGeneratedTest, V02BundleWithoutProofOrV01WithoutPromiseIsRejected) {
  // A v0.1 bundle must carry the signed entry timestamp.
  Options o;
  o.with_set = false;
  o.media_type = "application/vnd.dev.sigstore.bundle+json;version=0.1";
  EXPECT_THAT(Rejection(Bundle(o), Policy()),
              HasSubstr("signing time: verificationMaterial.tlogEntries[0].inclusionPromise: "
                        "missing"));
  // Without a promise, a v0.3 entry proves inclusion but gives no time.
  o.media_type = "application/vnd.dev.sigstore.bundle.v0.3+json";
  EXPECT_THAT(Rejection(Bundle(o), Policy()),
              HasSubstr("signing time: no verified transparency-log entry establishes when"));
}

TEST_F(SigstoreGeneratedTest, TrustedTimestampTimesAnEntryWithoutPromise) {
  // As Rekor v2: an inclusion proof, no promise; a TSA gives the time.
  Options o;
  o.with_set = false;
  o.tsa_cert = tsa_.get();
  o.tsa_key = tsa_key_.get();
  ItemResult item = VerifyOne(Bundle(o), Policy());
  ASSERT_TRUE(item.record.ok()) << item.record.status();
  EXPECT_TRUE(item.warnings.empty()) << item.warnings[0];
  EXPECT_EQ(item.record->signers.at(0).signed_at, absl::FromUnixSeconds(kSignedAt + 5));
}

TEST_F(SigstoreGeneratedTest, UntrustedOrMisdirectedTimestampGivesNoTime) {
  // A TSA whose certificate chains to no trusted root.
  Pkey other_key = NewP256();
  Cert other_ca = MakeCert({"other root", kSignedAt - 86400, kSignedAt + 86400, true},
                           other_key.get(), nullptr, nullptr);
  Pkey rogue_key = NewP256();
  Cert rogue =
      MakeCert({"rogue tsa", kSignedAt - 86400, kSignedAt + 86400, false, "", "", false, true},
               rogue_key.get(), other_ca.get(), other_key.get());
  Options o;
  o.with_set = false;
  o.tsa_cert = rogue.get();
  o.tsa_key = rogue_key.get();
  ItemResult item = VerifyOne(Bundle(o), Policy());
  ASSERT_FALSE(item.record.ok());
  EXPECT_THAT(std::string(item.record.status().message()),
              HasSubstr("signing time: neither a verified transparency-log inclusion promise nor "
                        "a verified RFC 3161 timestamp"));
  ASSERT_EQ(item.warnings.size(), 1u);
  EXPECT_THAT(item.warnings[0], HasSubstr("rfc3161Timestamps[0]: timestamp of "
                                          "2025-01-01T00:00:05Z does not verify"));

  // A trusted TSA's timestamp over something other than this signature.
  o.tsa_cert = tsa_.get();
  o.tsa_key = tsa_key_.get();
  o.timestamped = "another signature";
  item = VerifyOne(Bundle(o), Policy());
  ASSERT_FALSE(item.record.ok());
  EXPECT_THAT(std::string(item.record.status().message()), HasSubstr("signing time: "));
  ASSERT_EQ(item.warnings.size(), 1u);
  EXPECT_THAT(item.warnings[0], HasSubstr("does not verify"));
}

TEST_F(SigstoreGeneratedTest, LogEntryForOtherContentIsAMismatch) {
  Options o;
  o.logged_payload = "something else";
  EXPECT_THAT(Rejection(Bundle(o), Policy()),
              HasSubstr("log entry: verificationMaterial.tlogEntries[0]: the dsse 0.0.1 entry "
                        "records a different payload"));
}

TEST_F(SigstoreGeneratedTest, SignatureByAnotherKeyIsRejected) {
  Pkey other = NewP256();
  Options o;
  o.signing_key = other.get();
  EXPECT_THAT(Rejection(Bundle(o), Policy()),
              HasSubstr("signature: dsseEnvelope.signatures[0]: ECDSA P-256 verification failed"));
}

TEST_F(SigstoreGeneratedTest, IdentityOutsideThePolicyIsRejected) {
  EXPECT_THAT(
      Rejection(Bundle({}), Policy(R"(https://github\.com/org/repo/.*@refs/heads/main)")),
      HasSubstr("identity: issuer \"https://token.actions.githubusercontent.com\" and SAN "
                "\"https://github.com/org/repo/.github/workflows/release.yml@refs/tags/v1.0\" "
                "match none of the 1 trusted identities"));
  // The tag pattern of the docs matches.
  EXPECT_TRUE(VerifyOne(Bundle({}), Policy(R"(https://github\.com/org/repo/\.github/workflows/)"
                                           R"(release\.yml@refs/tags/.*)"))
                  .record.ok());
}

// --- The primitives on their own -----------------------------------------------

TEST(InclusionProofTest, EveryLeafOfEveryTreeSizeUpTo33Verifies) {
  for (size_t n = 1; n <= 33; ++n) {
    std::vector<std::string> leaves;
    for (size_t i = 0; i < n; ++i)
      leaves.push_back(fmt::format("leaf {}", i));
    std::string root = TreeHash(leaves, 0, n);
    for (size_t m = 0; m < n; ++m) {
      std::vector<std::string> path = AuditPath(leaves, m, 0, n);
      std::string leaf_hash = MerkleLeafHash(leaves[m]);
      EXPECT_TRUE(VerifyInclusionProof(m, n, leaf_hash, path, root).ok()) << n << " " << m;
      // The same proof for the neighbour, or with a hash more or less,
      // fails. (The size alone is not bound by a proof: leaf 0 of 3 and of 4
      // have proofs of one shape. The signed checkpoint binds size to root.)
      if (n > 1) {
        EXPECT_FALSE(VerifyInclusionProof((m + 1) % n, n, leaf_hash, path, root).ok());
      }
      std::vector<std::string> longer = path;
      longer.push_back(leaf_hash);
      EXPECT_FALSE(VerifyInclusionProof(m, n, leaf_hash, longer, root).ok()) << n << " " << m;
      if (!path.empty()) {
        std::vector<std::string> shorter(path.begin(), path.end() - 1);
        EXPECT_FALSE(VerifyInclusionProof(m, n, leaf_hash, shorter, root).ok());
      }
    }
  }
  EXPECT_FALSE(VerifyInclusionProof(5, 5, MerkleLeafHash("x"), {}, MerkleLeafHash("x")).ok());
}

TEST(CheckpointTest, ParsesTheSignedNote) {
  absl::StatusOr<Checkpoint> c = ParseCheckpoint(
      "rekor.sigstore.dev - 2605736670972794746\n29188099\n"
      "fbEijQTFeiQCldZqez/u/WcrNPk4nxXI5ihofHYjFUA=\nTimestamp: 1693323623528968756\n\n"
      "\u2014 rekor.sigstore.dev wNI9ajBEAiAK0YTbxRlhOZeeP+844Y+W7iz+hsFIF8x2NYsmuaxifAIgYUFSur"
      "lKwN7j5jCwpqSVrkbouQoYIYlyWU9Om16svmI=\n");
  ASSERT_TRUE(c.ok()) << c.status();
  EXPECT_EQ(c->origin, "rekor.sigstore.dev - 2605736670972794746");
  EXPECT_EQ(c->tree_size, 29188099u);
  EXPECT_EQ(EncodeBase64(c->root_hash), "fbEijQTFeiQCldZqez/u/WcrNPk4nxXI5ihofHYjFUA=");
  ASSERT_EQ(c->signatures.size(), 1u);
  EXPECT_EQ(c->signatures[0].name, "rekor.sigstore.dev");
  EXPECT_THAT(c->body, ::testing::EndsWith("Timestamp: 1693323623528968756\n"));

  for (const char* bad :
       {"", "origin\n1\n", "origin\nx\nAAAA\n\n\u2014 o AAAAAAAA\n",
        "origin\n1\nfbEijQTFeiQCldZqez/u/WcrNPk4nxXI5ihofHYjFUA=\n\n",
        "origin\n1\nfbEijQTFeiQCldZqez/u/WcrNPk4nxXI5ihofHYjFUA=\n\n- o AAAAAAAA\n"}) {
    EXPECT_FALSE(ParseCheckpoint(bad).ok()) << bad;
  }
}

TEST(CertificateTest, ReadsFulcioIssuerAndSan) {
  Pkey key = NewP256();
  Cert ca = MakeCert({"root", kSignedAt - 100, kSignedAt + 100, true}, key.get(), nullptr, nullptr);
  Pkey leaf_key = NewP256();
  Cert leaf = MakeCert({"", kSignedAt - 10, kSignedAt + 10, false, kIssuer, kSan}, leaf_key.get(),
                       ca.get(), key.get());
  absl::StatusOr<std::shared_ptr<const Certificate>> c = Certificate::FromDer(CertDer(leaf.get()));
  ASSERT_TRUE(c.ok()) << c.status();
  EXPECT_EQ((*c)->oidc_issuer(), kIssuer);
  EXPECT_THAT((*c)->sans(), ::testing::ElementsAre(kSan));
  EXPECT_TRUE((*c)->code_signing());
  EXPECT_EQ((*c)->not_before(), absl::FromUnixSeconds(kSignedAt - 10));
  EXPECT_TRUE((*c)->ValidAt(absl::FromUnixSeconds(kSignedAt + 10)));
  EXPECT_FALSE((*c)->ValidAt(absl::FromUnixSeconds(kSignedAt + 11)));
  EXPECT_EQ((*c)->public_key()->fingerprint(), Sha256Hex(SpkiDer(leaf_key.get())));

  absl::StatusOr<std::shared_ptr<const Certificate>> pem =
      Certificate::FromPem(CertPem(leaf.get()));
  ASSERT_TRUE(pem.ok());
  EXPECT_EQ((*pem)->der(), (*c)->der());
  EXPECT_FALSE(Certificate::FromDer(CertDer(leaf.get()) + "x").ok());
  EXPECT_FALSE(Certificate::FromDer("").ok());
  EXPECT_FALSE(Certificate::FromPem("-----BEGIN PUBLIC KEY-----\n").ok());
}

}  // namespace
}  // namespace lineage::ingest
