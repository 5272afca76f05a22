// Fuzzes Sigstore bundle parsing and the whole keyless verification path
// behind it: each input is parsed as a bundle, then verified as a document
// against Sigstore's public-good trusted root with any identity trusted, so
// fuzzed certificates, log entries, proofs, checkpoints and signatures reach
// X509_STORE, the Merkle and note code and the log-entry matcher.
#include <cstddef>
#include <cstdint>
#include <fstream>
#include <memory>
#include <sstream>
#include <string_view>

#include "ingest/include/lineage/ingest/ingest.h"
#include "ingest/include/lineage/ingest/sigstore.h"
#include "ingest/include/lineage/ingest/trust_policy.h"

namespace {

const lineage::ingest::TrustPolicy& Policy() {
  using namespace lineage::ingest;
  static const TrustPolicy* policy = [] {
    auto* p = new TrustPolicy();
    auto root = TrustedRoot::LoadFile(std::string(LINEAGE_CORPUS_DIR) +
                                      "/keys/sigstore__sigstore-go__trusted-root-public-good.json");
    if (root.ok()) p->AddTrustedRoot(*root);
    auto identity = MakeTrustedIdentity("any", ".*", true, ".*", true);
    if (identity.ok()) p->AddIdentity(*identity);
    return p;
  }();
  return *policy;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace lineage::ingest;
  std::string_view input(reinterpret_cast<const char*>(data), size);
  IngestLimits limits;
  limits.max_document_bytes = 1 << 20;
  (void)ParseBundle(input, limits);
  IngestOptions options;
  options.limits = limits;
  (void)VerifyDocument("fuzz", input, Policy(), options);
  return 0;
}
