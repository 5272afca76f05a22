// Fuzzes transparency-log proof checking. The first byte picks: an RFC 6962
// inclusion proof built from the input (8-byte index, 8-byte size, leaf
// hash, root hash, then proof hashes, little-endian and raw), or a checkpoint note parsed and
// checked against a fixed P-256 key (the signature path included).
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <string>
#include <string_view>
#include <vector>

#include "ingest/include/lineage/ingest/crypto.h"
#include "ingest/include/lineage/ingest/sigstore.h"

namespace {

// Sigstore public-good Rekor's key, the key real checkpoints are signed with.
constexpr std::string_view kRekorKey =
    "-----BEGIN PUBLIC KEY-----\n"
    "MFkwEwYHKoZIzj0CAQYIKoZIzj0DAQcDQgAE2G2Y+2tabdTV5BcGiBIx0a9fAFwr\n"
    "kBbmLSGtks4L3qX6yYY0zufBnhC8Ur/iy55GhWP/9A/bY2LhC30M9+RYtw==\n"
    "-----END PUBLIC KEY-----\n";

uint64_t Take64(std::string_view* in) {
  uint64_t v = 0;
  size_t n = in->size() < 8 ? in->size() : 8;
  std::memcpy(&v, in->data(), n);
  in->remove_prefix(n);
  return v;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace lineage::ingest;
  if (size == 0) return 0;
  std::string_view input(reinterpret_cast<const char*>(data) + 1, size - 1);
  if (data[0] % 2 == 0) {
    // Small sizes keep the tree shapes interesting; huge ones hit the
    // bounds checks.
    uint64_t index = Take64(&input);
    uint64_t tree_size = Take64(&input);
    if ((data[0] & 2) != 0) {
      index %= 1024;
      tree_size %= 1025;
    }
    std::string leaf(32, '\0');
    std::string root(32, '\0');
    if (input.size() >= 64) {
      leaf = std::string(input.substr(0, 32));
      root = std::string(input.substr(32, 32));
      input.remove_prefix(64);
    }
    std::vector<std::string> proof;
    while (input.size() >= 32 && proof.size() < 70) {
      proof.emplace_back(input.substr(0, 32));
      input.remove_prefix(32);
    }
    (void)VerifyInclusionProof(index, tree_size, leaf, proof, root);
  } else {
    static const auto key = PublicKey::FromPem(kRekorKey);
    absl::StatusOr<Checkpoint> checkpoint = ParseCheckpoint(input);
    if (checkpoint.ok() && key.ok()) (void)VerifyCheckpointSignature(*checkpoint, **key);
  }
  return 0;
}
