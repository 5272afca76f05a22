// Fuzzes the DSSE envelope parser (JSON, base64, bounds) and the signature
// path behind it: a parsed envelope's signatures are checked against a fixed
// key, so malformed signatures reach OpenSSL too.
#include <cstddef>
#include <cstdint>
#include <string_view>

#include "ingest/include/lineage/ingest/crypto.h"
#include "ingest/include/lineage/ingest/parse.h"

namespace {

// The DSSE specification's test-vector key (P-256), so fuzzed signatures take
// the ECDSA path with both DER and raw r||s encodings.
constexpr std::string_view kKey =
    "-----BEGIN PUBLIC KEY-----\n"
    "MFkwEwYHKoZIzj0CAQYIKoZIzj0DAQcDQgAEZ805D3eqNZywjCI19lInBJOp7YMr\n"
    "CrzAH3CVTAOQ0jgMeCvVTiaRJaRPRDOv8UMs6U4SvKc6pnrIDOoSYI3fdA==\n"
    "-----END PUBLIC KEY-----\n";

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace lineage::ingest;
  static const auto key = PublicKey::FromPem(kKey);
  std::string_view input(reinterpret_cast<const char*>(data), size);

  IngestLimits limits;
  limits.max_document_bytes = 1 << 20;
  absl::StatusOr<DsseEnvelope> envelope = ParseEnvelope(input, limits);
  if (!envelope.ok()) return 0;
  std::string pae = Pae(envelope->payload_type, envelope->payload);
  for (const EnvelopeSignature& sig : envelope->signatures) {
    if (key.ok() && sig.problem.empty()) (void)(*key)->Verify(pae, sig.sig);
  }
  (void)ParseStatement(envelope->payload, limits);
  return 0;
}
