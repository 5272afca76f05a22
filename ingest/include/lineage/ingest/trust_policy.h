// The trust policy: which public keys and which keyless (Fulcio certificate)
// identities may sign attestations, which Sigstore trusted roots anchor
// keyless certificates and transparency logs, and how many distinct trusted
// signers an attestation needs. Format: docs/trust-policy.md.
//
//   {
//     "version": 1,
//     "threshold": 1,
//     "keys": [
//       {"name": "ci-release", "pem_file": "keys/ci.pub"},
//       {"name": "gcb-regional", "pem_file": "keys/us-west2.pem",
//        "raw_payload": true}
//     ],
//     "trusted_roots": [{"name": "public-good", "file": "keys/trusted_root.json"}],
//     "identities": [
//       {"name": "release workflow",
//        "issuer": "https://token.actions.githubusercontent.com",
//        "san_regex":
//        "https://github\\.com/org/repo/\\.github/workflows/release\\.yml@refs/tags/.*"}
//     ]
//   }
//
// Relative pem_file and file paths are resolved against the policy file's
// directory.
#pragma once

#include <memory>
#include <regex>
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

class TrustedRoot;

// A keyless signer the policy trusts: the certificate's OIDC issuer and its
// subject alternative name must both match. Each is given exactly or as an
// ECMAScript regular expression that must match the whole value.
struct TrustedIdentity {
  std::string name;  // from the policy, for messages
  std::string issuer;
  std::string san;
  // Set when the policy gave "issuer_regex" / "san_regex" (then issuer / san
  // hold the pattern text, for messages).
  std::shared_ptr<const std::regex> issuer_regex;
  std::shared_ptr<const std::regex> san_regex;

  // True when both match. Never throws: a regex engine error is a
  // non-match, and so is a value longer than 4096 bytes under a regex
  // (std::regex recurses per character).
  bool Matches(std::string_view cert_issuer, std::string_view cert_san) const;
};

// Builds an identity, compiling the patterns when `*_is_regex`.
// InvalidArgument naming the pattern when it does not compile.
absl::StatusOr<TrustedIdentity> MakeTrustedIdentity(std::string name, std::string issuer,
                                                    bool issuer_is_regex, std::string san,
                                                    bool san_is_regex);

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

  // Adds a key, trusted root or identity programmatically (tests, embedders).
  void AddKey(TrustedKey key) { keys_.push_back(std::move(key)); }
  void AddTrustedRoot(std::shared_ptr<const TrustedRoot> root) {
    trusted_roots_.push_back(std::move(root));
  }
  void AddIdentity(TrustedIdentity identity) { identities_.push_back(std::move(identity)); }
  void set_threshold(int threshold) { threshold_ = threshold; }
  void set_sct_threshold(int sct_threshold) { sct_threshold_ = sct_threshold; }

  const std::vector<TrustedKey>& keys() const { return keys_; }
  // The Sigstore trusted roots (Fulcio CAs, Rekor logs, timestamp
  // authorities) that keyless certificates and log entries must chain to.
  const std::vector<std::shared_ptr<const TrustedRoot>>& trusted_roots() const {
    return trusted_roots_;
  }
  const std::vector<TrustedIdentity>& identities() const { return identities_; }
  // Distinct trusted signers (keys or keyless identities) whose signatures
  // must verify. At least 1.
  int threshold() const { return threshold_; }
  // How many of a Fulcio certificate's embedded SCTs must verify with a CT
  // log of the trusted roots (VerifyEmbeddedScts). Default 1, as
  // sigstore-go; 0 skips the check, for private Fulcio deployments that log
  // to no CT log.
  int sct_threshold() const { return sct_threshold_; }

 private:
  std::vector<TrustedKey> keys_;
  std::vector<std::shared_ptr<const TrustedRoot>> trusted_roots_;
  std::vector<TrustedIdentity> identities_;
  int threshold_ = 1;
  int sct_threshold_ = 1;
};

}  // namespace lineage::ingest
