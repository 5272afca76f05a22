// Fuzzes the whole of VerifyDocument: document dispatch (JSON, JSON Lines,
// Cloud Build wrappers, bundles), envelope and link parsing, and signature
// checks against a fixed trusted key. Unsigned input is allowed so the
// statement parser is reached through every wrapper.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string_view>

#include "ingest/include/lineage/ingest/ingest.h"

namespace {

constexpr std::string_view kKey =
    "-----BEGIN PUBLIC KEY-----\n"
    "MFkwEwYHKoZIzj0CAQYIKoZIzj0DAQcDQgAEZ805D3eqNZywjCI19lInBJOp7YMr\n"
    "CrzAH3CVTAOQ0jgMeCvVTiaRJaRPRDOv8UMs6U4SvKc6pnrIDOoSYI3fdA==\n"
    "-----END PUBLIC KEY-----\n";

lineage::ingest::TrustPolicy MakePolicy() {
  lineage::ingest::TrustPolicy policy;
  auto key = lineage::ingest::PublicKey::FromPem(kKey);
  if (key.ok()) policy.AddKey({"testvector", *key, /*raw_payload=*/true});
  return policy;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace lineage::ingest;
  static const TrustPolicy policy = MakePolicy();
  std::string_view input(reinterpret_cast<const char*>(data), size);
  IngestOptions options;
  options.allow_unsigned = true;
  options.limits.max_subjects = 64;
  options.limits.max_materials = 64;
  options.limits.max_items_per_document = 64;
  std::vector<ItemResult> items = VerifyDocument("fuzz", input, policy, options);
  if (items.empty()) std::abort();
  for (const ItemResult& item : items) {
    if (item.record.ok() && item.record->subjects.empty()) std::abort();
  }
  return 0;
}
