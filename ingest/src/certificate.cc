// X.509 certificates over OpenSSL 3: parsing, and the Fulcio fields that
// name a keyless signer (OIDC issuer extension, subject alternative names).
#include <openssl/asn1.h>
#include <openssl/bio.h>
#include <openssl/err.h>
#include <openssl/objects.h>
#include <openssl/pem.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>

#include <ctime>
#include <memory>
#include <string>

#include "absl/status/status.h"

#include <fmt/format.h>

#include "ingest/include/lineage/ingest/sigstore.h"
#include "ingest/src/openssl_ptr.h"

namespace lineage::ingest {
namespace {

constexpr size_t kMaxCertificateBytes = 64 * 1024;
constexpr size_t kMaxPemBytes = 256 * 1024;
constexpr size_t kMaxPemCertificates = 16;

// Fulcio's extensions (github.com/sigstore/fulcio docs/oid-info.md).
constexpr char kOidIssuerV2[] = "1.3.6.1.4.1.57264.1.8";  // DER UTF8String
constexpr char kOidIssuerV1[] = "1.3.6.1.4.1.57264.1.1";  // raw string bytes, deprecated
constexpr char kOidOtherNameSan[] = "1.3.6.1.4.1.57264.1.7";

using internal::Asn1ObjectPtr;
using internal::BioPtr;
using internal::GeneralNamesPtr;
using internal::OpensslBytesPtr;
using internal::X509Ptr;

absl::StatusOr<absl::Time> ToTime(const ASN1_TIME* t) {
  std::tm tm{};
  if (t == nullptr || ASN1_TIME_to_tm(t, &tm) != 1) {
    return absl::InvalidArgumentError("unreadable validity time");
  }
  return absl::FromTimeT(timegm(&tm));
}

std::string AsString(const ASN1_STRING* s) {
  if (s == nullptr) return "";
  return std::string(reinterpret_cast<const char*>(ASN1_STRING_get0_data(s)),
                     static_cast<size_t>(ASN1_STRING_length(s)));
}

// The value of the extension with dotted OID `oid`, or nullptr.
const ASN1_OCTET_STRING* ExtensionData(X509* x509, const char* oid) {
  Asn1ObjectPtr obj(OBJ_txt2obj(oid, 1));
  if (!obj) return nullptr;
  int index = X509_get_ext_by_OBJ(x509, obj.get(), -1);
  if (index < 0) return nullptr;
  return X509_EXTENSION_get_data(X509_get_ext(x509, index));
}

std::string OidcIssuer(X509* x509) {
  if (const ASN1_OCTET_STRING* data = ExtensionData(x509, kOidIssuerV2)) {
    const unsigned char* p = ASN1_STRING_get0_data(data);
    ASN1_UTF8STRING* utf8 = d2i_ASN1_UTF8STRING(nullptr, &p, ASN1_STRING_length(data));
    if (utf8 != nullptr) {
      std::string issuer = AsString(utf8);
      ASN1_UTF8STRING_free(utf8);
      return issuer;
    }
  }
  // The first Fulcio issuer extension held the bare string, not DER.
  if (const ASN1_OCTET_STRING* data = ExtensionData(x509, kOidIssuerV1)) return AsString(data);
  return "";
}

std::vector<std::string> SubjectAlternativeNames(X509* x509) {
  std::vector<std::string> sans;
  GeneralNamesPtr names(
      static_cast<GENERAL_NAMES*>(X509_get_ext_d2i(x509, NID_subject_alt_name, nullptr, nullptr)));
  if (!names) return sans;
  Asn1ObjectPtr other_oid(OBJ_txt2obj(kOidOtherNameSan, 1));
  for (int i = 0; i < sk_GENERAL_NAME_num(names.get()); ++i) {
    const GENERAL_NAME* name = sk_GENERAL_NAME_value(names.get(), i);
    switch (name->type) {
      case GEN_URI:
        sans.push_back(AsString(name->d.uniformResourceIdentifier));
        break;
      case GEN_EMAIL:
        sans.push_back(AsString(name->d.rfc822Name));
        break;
      case GEN_OTHERNAME:
        if (other_oid && OBJ_cmp(name->d.otherName->type_id, other_oid.get()) == 0 &&
            name->d.otherName->value->type == V_ASN1_UTF8STRING) {
          sans.push_back(AsString(name->d.otherName->value->value.utf8string));
        }
        break;
      default:
        // DNS names and IP addresses are not identities Fulcio issues.
        break;
    }
  }
  return sans;
}

}  // namespace

Certificate::~Certificate() {
  X509_free(static_cast<X509*>(x509_));
}

absl::StatusOr<std::shared_ptr<const Certificate>> Certificate::FromDer(std::string_view der) {
  if (der.size() > kMaxCertificateBytes) {
    return absl::InvalidArgumentError(
        fmt::format("certificate of {} bytes exceeds {}", der.size(), kMaxCertificateBytes));
  }
  const auto* p = reinterpret_cast<const unsigned char*>(der.data());
  X509Ptr x509(d2i_X509(nullptr, &p, static_cast<long>(der.size())));
  bool trailing = x509 && p != reinterpret_cast<const unsigned char*>(der.data()) + der.size();
  ERR_clear_error();
  if (!x509 || trailing) return absl::InvalidArgumentError("not a DER X.509 certificate");

  std::shared_ptr<Certificate> cert(new Certificate());
  cert->der_ = std::string(der);
  cert->fingerprint_ = Sha256Hex(der);
  absl::StatusOr<absl::Time> not_before = ToTime(X509_get0_notBefore(x509.get()));
  absl::StatusOr<absl::Time> not_after = ToTime(X509_get0_notAfter(x509.get()));
  if (!not_before.ok()) return not_before.status();
  if (!not_after.ok()) return not_after.status();
  cert->not_before_ = *not_before;
  cert->not_after_ = *not_after;
  cert->oidc_issuer_ = OidcIssuer(x509.get());
  cert->sans_ = SubjectAlternativeNames(x509.get());
  // X509_get_extended_key_usage caches the parsed extensions; call it before
  // the object is shared, since that cache is filled lazily.
  // Without the extension OpenSSL reports every usage as allowed; Fulcio
  // always writes it, so its absence means "not a code-signing certificate".
  cert->code_signing_ = (X509_get_extension_flags(x509.get()) & EXFLAG_XKUSAGE) != 0 &&
                        (X509_get_extended_key_usage(x509.get()) & XKU_CODE_SIGN) != 0;

  EVP_PKEY* pkey = X509_get0_pubkey(x509.get());
  unsigned char* spki = nullptr;
  int len = pkey == nullptr ? -1 : i2d_PUBKEY(pkey, &spki);
  ERR_clear_error();
  if (len <= 0) return absl::InvalidArgumentError("certificate has no usable public key");
  OpensslBytesPtr<unsigned char> owned(spki);
  absl::StatusOr<std::shared_ptr<PublicKey>> key =
      PublicKey::FromDer(std::string_view(reinterpret_cast<char*>(spki), len));
  if (!key.ok()) {
    return absl::InvalidArgumentError(
        fmt::format("certificate key: {}", std::string(key.status().message())));
  }
  cert->public_key_ = *std::move(key);
  cert->x509_ = x509.release();
  return std::shared_ptr<const Certificate>(std::move(cert));
}

absl::StatusOr<std::vector<std::shared_ptr<const Certificate>>> Certificate::AllFromPem(
    std::string_view pem) {
  if (pem.size() > kMaxPemBytes) return absl::InvalidArgumentError("PEM text is too large");
  BioPtr bio(BIO_new_mem_buf(pem.data(), static_cast<int>(pem.size())));
  if (!bio) return absl::InternalError("out of memory");
  std::vector<std::shared_ptr<const Certificate>> out;
  for (;;) {
    char* name = nullptr;
    char* header = nullptr;
    unsigned char* data = nullptr;
    long len = 0;
    int ok = PEM_read_bio(bio.get(), &name, &header, &data, &len);
    OpensslBytesPtr<char> name_owned(name);
    OpensslBytesPtr<char> header_owned(header);
    OpensslBytesPtr<unsigned char> data_owned(data);
    ERR_clear_error();
    if (ok != 1) break;
    if (std::string_view(name) != "CERTIFICATE") continue;
    if (out.size() >= kMaxPemCertificates) {
      return absl::InvalidArgumentError(
          fmt::format("more than {} certificates in one PEM text", kMaxPemCertificates));
    }
    absl::StatusOr<std::shared_ptr<const Certificate>> cert =
        FromDer(std::string_view(reinterpret_cast<char*>(data), static_cast<size_t>(len)));
    if (!cert.ok()) return cert.status();
    out.push_back(*std::move(cert));
  }
  if (out.empty()) return absl::InvalidArgumentError("no PEM CERTIFICATE block found");
  return out;
}

absl::StatusOr<std::shared_ptr<const Certificate>> Certificate::FromPem(std::string_view pem) {
  absl::StatusOr<std::vector<std::shared_ptr<const Certificate>>> all = AllFromPem(pem);
  if (!all.ok()) return all.status();
  return all->front();
}

}  // namespace lineage::ingest
