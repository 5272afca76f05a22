// Fuzzes certificate handling: the first byte picks DER certificate, PEM
// text (one or many certificates), or a trusted_root.json, whose CA chains
// and log keys go through the same parsers. A certificate that parses has
// its Fulcio fields read, and its embedded SCTs parsed and its
// precertificate rebuilt (with itself as the issuer and its own key as the
// only CT log, so an SCT naming that log id reaches the signature check).
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

#include "ingest/include/lineage/ingest/sigstore.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace lineage::ingest;
  if (size == 0) return 0;
  std::string_view input(reinterpret_cast<const char*>(data) + 1, size - 1);
  switch (data[0] % 3) {
    case 0: {
      auto cert = Certificate::FromDer(input);
      if (cert.ok()) {
        (void)(*cert)->oidc_issuer().size();
        (void)(*cert)->sans().size();
        (void)(*cert)->ValidAt((*cert)->not_before());
        TransparencyLog self;
        self.key = (*cert)->public_key();
        self.log_id = std::string(32, '\0');
        (void)VerifyEmbeddedScts(**cert, **cert, {&self});
      }
      break;
    }
    case 1:
      (void)Certificate::AllFromPem(input);
      break;
    default:
      (void)TrustedRoot::Parse(input, "fuzz");
      break;
  }
  return 0;
}
