#include "ingest/include/lineage/ingest/crypto.h"

#include <openssl/bio.h>
#include <openssl/pem.h>
#include <openssl/x509.h>

#include <string>

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "tests/ingest/signing_helpers.h"

namespace lineage::ingest {
namespace {

using ::testing::HasSubstr;
using testing::KeyKind;
using testing::TestSigner;

TEST(Base64Test, DecodesStandardAndUrlSafePaddedOrNot) {
  // 0xfb 0xff 0xfe uses both characters that differ between the alphabets.
  const std::string bytes("\xfb\xff\xfe\x01", 4);
  EXPECT_EQ(EncodeBase64(bytes), "+//+AQ==");
  for (std::string_view text : {"+//+AQ==", "+//+AQ", "-__-AQ==", "-__-AQ"}) {
    absl::StatusOr<std::string> decoded = DecodeBase64(text);
    ASSERT_TRUE(decoded.ok()) << text << ": " << decoded.status();
    EXPECT_EQ(*decoded, bytes) << text;
  }
}

TEST(Base64Test, RoundTripsEveryLength) {
  std::string data;
  for (int i = 0; i < 40; ++i) {
    data.push_back(static_cast<char>(i * 37));
    absl::StatusOr<std::string> decoded = DecodeBase64(EncodeBase64(data));
    ASSERT_TRUE(decoded.ok());
    EXPECT_EQ(*decoded, data);
  }
}

TEST(Base64Test, RejectsBadCharactersAndLengths) {
  EXPECT_FALSE(DecodeBase64("ab!d").ok());
  EXPECT_FALSE(DecodeBase64("ab d").ok());
  EXPECT_FALSE(DecodeBase64("abcde").ok());  // 5 characters cannot encode whole bytes
  EXPECT_FALSE(DecodeBase64("abc==").ok());  // padding that completes no group
  EXPECT_FALSE(DecodeBase64("a===").ok());
  EXPECT_TRUE(DecodeBase64("").ok());
}

TEST(PaeTest, MatchesTheDsseSpecification) {
  EXPECT_EQ(Pae("http://example.com/HelloWorld", "hello world"),
            "DSSEv1 29 http://example.com/HelloWorld 11 hello world");
  EXPECT_EQ(Pae("", ""), "DSSEv1 0  0 ");
}

TEST(Sha256Test, KnownVector) {
  EXPECT_EQ(Sha256Hex(""), "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
  EXPECT_EQ(Sha256Hex("abc"), "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
}

class SignerTest : public ::testing::TestWithParam<KeyKind> {};

TEST_P(SignerTest, VerifiesOwnSignatureAndRejectsTampering) {
  TestSigner signer(GetParam());
  const std::string message = "DSSEv1 4 type 7 payload";
  std::string sig = signer.Sign(message);
  const PublicKey& key = *signer.public_key();
  EXPECT_TRUE(key.Verify(message, sig).ok());
  EXPECT_EQ(key.ref(), "key:sha256:" + key.fingerprint());
  EXPECT_EQ(key.fingerprint().size(), 64u);

  absl::Status tampered = key.Verify("DSSEv1 4 type 7 paylode", sig);
  EXPECT_FALSE(tampered.ok());
  EXPECT_THAT(std::string(tampered.message()),
              HasSubstr(key.description() + " verification failed with key " + key.ref()));

  std::string truncated = sig.substr(0, sig.size() - 1);
  EXPECT_FALSE(key.Verify(message, truncated).ok());
  EXPECT_FALSE(key.Verify(message, "").ok());

  TestSigner other(GetParam());
  EXPECT_FALSE(other.public_key()->Verify(message, sig).ok());
}

INSTANTIATE_TEST_SUITE_P(AllKinds, SignerTest,
                         ::testing::Values(KeyKind::kP256, KeyKind::kP384, KeyKind::kEd25519,
                                           KeyKind::kRsaPss, KeyKind::kRsaPkcs1),
                         [](const auto& info) { return std::string(KeyKindName(info.param)); });

TEST(PublicKeyTest, EcdsaAcceptsRawSignatures) {
  for (KeyKind kind : {KeyKind::kP256, KeyKind::kP384}) {
    TestSigner signer(kind);
    std::string raw = signer.Sign("message", /*raw_ecdsa=*/true);
    EXPECT_EQ(raw.size(), kind == KeyKind::kP256 ? 64u : 96u);
    EXPECT_TRUE(signer.public_key()->Verify("message", raw).ok());
    EXPECT_FALSE(signer.public_key()->Verify("massage", raw).ok());
  }
}

TEST(PublicKeyTest, ReportsTheRsaSchemeThatVerified) {
  TestSigner pss(KeyKind::kRsaPss);
  TestSigner pkcs1(KeyKind::kRsaPkcs1);
  EXPECT_EQ(*pss.public_key()->VerifyWithScheme("m", pss.Sign("m")), "rsa-pss-sha256");
  EXPECT_EQ(*pkcs1.public_key()->VerifyWithScheme("m", pkcs1.Sign("m")), "rsa-pkcs1v15-sha256");
  EXPECT_EQ(pss.public_key()->description(), "RSA-2048");
}

TEST(PublicKeyTest, DescribesKeys) {
  TestSigner p256(KeyKind::kP256), p384(KeyKind::kP384), ed(KeyKind::kEd25519);
  EXPECT_EQ(p256.public_key()->description(), "ECDSA P-256");
  EXPECT_EQ(p256.public_key()->algorithm(), "ecdsa-p256-sha256");
  EXPECT_EQ(p384.public_key()->description(), "ECDSA P-384");
  EXPECT_EQ(p384.public_key()->algorithm(), "ecdsa-p384-sha384");
  EXPECT_EQ(ed.public_key()->description(), "Ed25519");
  EXPECT_EQ(ed.public_key()->algorithm(), "ed25519");
}

TEST(PublicKeyTest, Pkcs1RsaPemHasTheSameFingerprintAsSpki) {
  TestSigner signer(KeyKind::kRsaPkcs1);
  unsigned char* der = nullptr;
  int len = i2d_PublicKey(signer.pkey(), &der);  // PKCS#1 RSAPublicKey
  ASSERT_GT(len, 0);
  BIO* bio = BIO_new(BIO_s_mem());
  PEM_write_bio(bio, "RSA PUBLIC KEY", "", der, len);
  OPENSSL_free(der);
  char* data = nullptr;
  long pem_len = BIO_get_mem_data(bio, &data);
  std::string pem(data, static_cast<size_t>(pem_len));
  BIO_free(bio);

  absl::StatusOr<std::shared_ptr<PublicKey>> key = PublicKey::FromPem(pem);
  ASSERT_TRUE(key.ok()) << key.status();
  EXPECT_EQ((*key)->fingerprint(), signer.public_key()->fingerprint());
  EXPECT_TRUE((*key)->Verify("m", signer.Sign("m")).ok());
}

TEST(PublicKeyTest, FromDerMatchesFromPem) {
  TestSigner signer(KeyKind::kEd25519);
  unsigned char* der = nullptr;
  int len = i2d_PUBKEY(signer.pkey(), &der);
  std::string spki(reinterpret_cast<char*>(der), static_cast<size_t>(len));
  OPENSSL_free(der);
  absl::StatusOr<std::shared_ptr<PublicKey>> key = PublicKey::FromDer(spki);
  ASSERT_TRUE(key.ok()) << key.status();
  EXPECT_EQ((*key)->fingerprint(), Sha256Hex(spki));
  EXPECT_EQ((*key)->fingerprint(), signer.public_key()->fingerprint());
  EXPECT_FALSE(PublicKey::FromDer(spki + "x").ok());  // trailing bytes
}

TEST(PublicKeyTest, RejectsNonKeysAndWeakKeys) {
  EXPECT_FALSE(PublicKey::FromPem("").ok());
  EXPECT_FALSE(
      PublicKey::FromPem("-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n").ok());
  EXPECT_FALSE(PublicKey::FromDer("garbage").ok());

  EVP_PKEY* small = EVP_PKEY_Q_keygen(nullptr, nullptr, "RSA", static_cast<size_t>(1024));
  ASSERT_NE(small, nullptr);
  BIO* bio = BIO_new(BIO_s_mem());
  PEM_write_bio_PUBKEY(bio, small);
  char* data = nullptr;
  long len = BIO_get_mem_data(bio, &data);
  absl::StatusOr<std::shared_ptr<PublicKey>> key =
      PublicKey::FromPem(std::string(data, static_cast<size_t>(len)));
  BIO_free(bio);
  EVP_PKEY_free(small);
  ASSERT_FALSE(key.ok());
  EXPECT_THAT(std::string(key.status().message()), HasSubstr("1024 bits"));
}

}  // namespace
}  // namespace lineage::ingest
