// The trust policy: which public keys may sign attestations, and how many
// distinct trusted signatures an attestation needs. Format: docs/trust-policy.md.
//
//   {
//     "version": 1,
//     "threshold": 1,
//     "keys": [
//       {"name": "ci-release", "pem_file": "keys/ci.pub"},
//       {"name": "gcb-regional", "pem_file": "keys/us-west2.pem",
//        "raw_payload": true}
//     ]
//   }
//
// Relative pem_file paths are resolved against the policy file's directory.
#pragma once

#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/statusor.h"
#include "ingest/include/lineage/ingest/crypto.h"

namespace lineage::ingest {

struct TrustedKey {
  std::string name;                // from the policy, for messages
  std::shared_ptr<PublicKey> key;  // parsed PEM
  // Also accept signatures made over the raw payload bytes instead of the
  // DSSE PAE (Google Cloud Build regional keys sign this way). Default false:
  // PAE binds the payload type, raw signatures do not.
  bool raw_payload = false;
};

class TrustPolicy {
 public:
  // Reads and validates a policy file. Errors name the file and the field:
  // "policy.json: keys[2].pem_file: cannot read keys/x.pem: No such file".
  static absl::StatusOr<TrustPolicy> LoadFile(const std::string& path);

  // Parses a policy from JSON text; relative pem_file paths resolve against
  // `base_dir`. `source_name` prefixes errors.
  static absl::StatusOr<TrustPolicy> Parse(std::string_view json, std::string_view base_dir,
                                           std::string_view source_name);

  // An empty policy: trusts no key (only usable with allow_unsigned).
  TrustPolicy() = default;

  // Adds a key programmatically (tests, embedders).
  void AddKey(TrustedKey key) { keys_.push_back(std::move(key)); }
  void set_threshold(int threshold) { threshold_ = threshold; }

  const std::vector<TrustedKey>& keys() const { return keys_; }
  // Distinct trusted keys whose signatures must verify. At least 1.
  int threshold() const { return threshold_; }

 private:
  std::vector<TrustedKey> keys_;
  int threshold_ = 1;
};

}  // namespace lineage::ingest
