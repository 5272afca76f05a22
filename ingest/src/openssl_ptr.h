// Owning pointers for the OpenSSL objects the ingest library uses: one
// unique_ptr alias per type, each freeing with the type's own free
// function. Internal to ingest/; not part of the public API.
//
//   X509Ptr cert(d2i_X509(nullptr, &p, len));
//   if (!cert) return ...;  // freed with X509_free on every path
#pragma once

#include <openssl/asn1.h>
#include <openssl/bio.h>
#include <openssl/bn.h>
#include <openssl/crypto.h>
#include <openssl/ct.h>
#include <openssl/ec.h>
#include <openssl/evp.h>
#include <openssl/ts.h>
#include <openssl/x509.h>
#include <openssl/x509_vfy.h>
#include <openssl/x509v3.h>

#include <memory>

namespace lineage::ingest::internal {

// Calls `Free` on a non-null pointer (unique_ptr never passes null).
template <auto Free>
struct OpensslDeleter {
  template <typename T>
  void operator()(T* p) const {
    Free(p);
  }
};

// OPENSSL_free is a macro (it passes the file and line): wrap it.
inline void OpensslFreeBytes(void* p) {
  OPENSSL_free(p);
}

using Asn1ObjectPtr = std::unique_ptr<ASN1_OBJECT, OpensslDeleter<ASN1_OBJECT_free>>;
using BignumPtr = std::unique_ptr<BIGNUM, OpensslDeleter<BN_free>>;
using BioPtr = std::unique_ptr<BIO, OpensslDeleter<BIO_free>>;
using EcdsaSigPtr = std::unique_ptr<ECDSA_SIG, OpensslDeleter<ECDSA_SIG_free>>;
using GeneralNamesPtr = std::unique_ptr<GENERAL_NAMES, OpensslDeleter<GENERAL_NAMES_free>>;
using MdCtxPtr = std::unique_ptr<EVP_MD_CTX, OpensslDeleter<EVP_MD_CTX_free>>;
using PkeyCtxPtr = std::unique_ptr<EVP_PKEY_CTX, OpensslDeleter<EVP_PKEY_CTX_free>>;
using PkeyPtr = std::unique_ptr<EVP_PKEY, OpensslDeleter<EVP_PKEY_free>>;
using SctListPtr = std::unique_ptr<STACK_OF(SCT), OpensslDeleter<SCT_LIST_free>>;
using TsRespPtr = std::unique_ptr<TS_RESP, OpensslDeleter<TS_RESP_free>>;
using TsVerifyCtxPtr = std::unique_ptr<TS_VERIFY_CTX, OpensslDeleter<TS_VERIFY_CTX_free>>;
using X509Ptr = std::unique_ptr<X509, OpensslDeleter<X509_free>>;
using X509StoreCtxPtr = std::unique_ptr<X509_STORE_CTX, OpensslDeleter<X509_STORE_CTX_free>>;
using X509StorePtr = std::unique_ptr<X509_STORE, OpensslDeleter<X509_STORE_free>>;

// Memory OpenSSL allocated for us (i2d_* output, PEM_read_bio names).
template <typename T>
using OpensslBytesPtr = std::unique_ptr<T, OpensslDeleter<OpensslFreeBytes>>;

}  // namespace lineage::ingest::internal
