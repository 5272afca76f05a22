// Transparency-log proofs: RFC 6962 Merkle inclusion proofs, signed-note
// checkpoints, and the payload of Rekor's signed entry timestamps.
#include <openssl/evp.h>
#include <openssl/sha.h>

#include <cstdint>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/strings/numbers.h"

#include <fmt/format.h>

#include "ingest/include/lineage/ingest/sigstore.h"
#include "ingest/src/openssl_ptr.h"

namespace lineage::ingest {
namespace {

constexpr size_t kHashSize = SHA256_DIGEST_LENGTH;
// A tree of 2^64 leaves has a path of 64 hashes; more is not a proof.
constexpr size_t kMaxProofHashes = 64;
constexpr size_t kMaxCheckpointBytes = 64 * 1024;
constexpr size_t kMaxCheckpointSignatures = 32;

std::string Sha256(std::string_view a, std::string_view b, std::string_view c) {
  std::string out(kHashSize, '\0');
  internal::MdCtxPtr ctx(EVP_MD_CTX_new());
  bool ok =
      ctx && EVP_DigestInit_ex(ctx.get(), EVP_sha256(), nullptr) == 1 &&
      EVP_DigestUpdate(ctx.get(), a.data(), a.size()) == 1 &&
      EVP_DigestUpdate(ctx.get(), b.data(), b.size()) == 1 &&
      EVP_DigestUpdate(ctx.get(), c.data(), c.size()) == 1 &&
      EVP_DigestFinal_ex(ctx.get(), reinterpret_cast<unsigned char*>(out.data()), nullptr) == 1;
  // Only allocation can fail here; a zero hash then matches no real root.
  if (!ok) out.assign(kHashSize, '\0');
  return out;
}

std::string NodeHash(std::string_view left, std::string_view right) {
  return Sha256(std::string_view("\x01", 1), left, right);
}

std::string ToHex(std::string_view bytes) {
  static constexpr char kDigits[] = "0123456789abcdef";
  std::string out;
  out.reserve(bytes.size() * 2);
  for (unsigned char c : bytes) {
    out.push_back(kDigits[c >> 4]);
    out.push_back(kDigits[c & 0xf]);
  }
  return out;
}

}  // namespace

std::string MerkleLeafHash(std::string_view leaf) {
  return Sha256(std::string_view("\x00", 1), leaf, "");
}

absl::Status VerifyInclusionProof(uint64_t index, uint64_t tree_size, std::string_view leaf_hash,
                                  const std::vector<std::string>& proof,
                                  std::string_view root_hash) {
  if (index >= tree_size) {
    return absl::InvalidArgumentError(
        fmt::format("log index {} is outside the tree of size {}", index, tree_size));
  }
  if (proof.size() > kMaxProofHashes) {
    return absl::InvalidArgumentError(
        fmt::format("{} proof hashes is more than any tree needs", proof.size()));
  }
  if (leaf_hash.size() != kHashSize || root_hash.size() != kHashSize) {
    return absl::InvalidArgumentError("leaf and root hashes must be 32 bytes");
  }
  // RFC 9162, section 2.1.3.2: walk from the leaf to the root, taking each
  // proof hash as the left or right sibling according to the position.
  uint64_t fn = index;
  uint64_t sn = tree_size - 1;
  std::string r(leaf_hash);
  for (const std::string& p : proof) {
    if (p.size() != kHashSize) return absl::InvalidArgumentError("proof hashes must be 32 bytes");
    if (sn == 0) return absl::InvalidArgumentError("inclusion proof is longer than the tree");
    if ((fn & 1) != 0 || fn == sn) {
      r = NodeHash(p, r);
      if ((fn & 1) == 0) {
        while ((fn & 1) == 0 && fn != 0) {
          fn >>= 1;
          sn >>= 1;
        }
      }
    } else {
      r = NodeHash(r, p);
    }
    fn >>= 1;
    sn >>= 1;
  }
  if (sn != 0) return absl::InvalidArgumentError("inclusion proof is shorter than the tree");
  if (r != root_hash) {
    return absl::InvalidArgumentError(
        fmt::format("inclusion proof does not lead to the root hash: computed {}, expected {}",
                    ToHex(r), ToHex(root_hash)));
  }
  return absl::OkStatus();
}

absl::StatusOr<Checkpoint> ParseCheckpoint(std::string_view note) {
  if (note.size() > kMaxCheckpointBytes) {
    return absl::InvalidArgumentError("checkpoint is too large");
  }
  size_t split = note.find("\n\n");
  if (split == std::string_view::npos) {
    return absl::InvalidArgumentError("checkpoint has no blank line before its signatures");
  }
  Checkpoint checkpoint;
  checkpoint.body = std::string(note.substr(0, split + 1));

  std::vector<std::string_view> lines;
  std::string_view body = note.substr(0, split);
  for (size_t start = 0;;) {
    size_t end = body.find('\n', start);
    lines.push_back(body.substr(start, end == std::string_view::npos ? end : end - start));
    if (end == std::string_view::npos) break;
    start = end + 1;
  }
  if (lines.size() < 3) {
    return absl::InvalidArgumentError("checkpoint body needs origin, tree size and root hash");
  }
  checkpoint.origin = std::string(lines[0]);
  if (checkpoint.origin.empty()) return absl::InvalidArgumentError("checkpoint origin is empty");
  if (lines[1].empty() || lines[1].size() > 20 ||
      lines[1].find_first_not_of("0123456789") != std::string_view::npos ||
      !absl::SimpleAtoi(absl::string_view(lines[1].data(), lines[1].size()),
                        &checkpoint.tree_size)) {
    return absl::InvalidArgumentError("checkpoint tree size is not a decimal number");
  }
  absl::StatusOr<std::string> root = DecodeBase64(lines[2]);
  if (!root.ok() || root->size() != kHashSize) {
    return absl::InvalidArgumentError("checkpoint root hash is not 32 bytes of base64");
  }
  checkpoint.root_hash = *std::move(root);

  std::string_view rest = note.substr(split + 2);
  while (!rest.empty()) {
    size_t end = rest.find('\n');
    if (end == std::string_view::npos) {
      return absl::InvalidArgumentError("checkpoint signature line does not end with a newline");
    }
    std::string_view line = rest.substr(0, end);
    rest.remove_prefix(end + 1);
    // U+2014 EM DASH, then a space: the note format's signature marker.
    constexpr std::string_view kDash = "\xe2\x80\x94 ";
    if (line.substr(0, kDash.size()) != kDash) {
      return absl::InvalidArgumentError("checkpoint signature line does not start with \"— \"");
    }
    line.remove_prefix(kDash.size());
    size_t space = line.rfind(' ');
    if (space == std::string_view::npos || space == 0) {
      return absl::InvalidArgumentError("checkpoint signature line has no name");
    }
    absl::StatusOr<std::string> sig = DecodeBase64(line.substr(space + 1));
    if (!sig.ok() || sig->size() < 5) {
      return absl::InvalidArgumentError("checkpoint signature is not base64 of hint and signature");
    }
    if (checkpoint.signatures.size() >= kMaxCheckpointSignatures) {
      return absl::InvalidArgumentError("checkpoint has too many signatures");
    }
    checkpoint.signatures.push_back(Checkpoint::Signature{std::string(line.substr(0, space)),
                                                          sig->substr(0, 4), sig->substr(4)});
  }
  if (checkpoint.signatures.empty()) return absl::InvalidArgumentError("checkpoint is unsigned");
  return checkpoint;
}

absl::Status VerifyCheckpointSignature(const Checkpoint& checkpoint, const PublicKey& key) {
  // Witness co-signatures may follow the log's own; any line that verifies
  // with the log's key is the log's. The 4-byte hint is not trusted: it
  // only saves verifications, and there are few lines.
  for (const Checkpoint::Signature& s : checkpoint.signatures) {
    if (key.Verify(checkpoint.body, s.signature).ok()) return absl::OkStatus();
  }
  return absl::InvalidArgumentError(
      fmt::format("no checkpoint signature verifies with the log's key {} ({} signature lines)",
                  key.ref(), checkpoint.signatures.size()));
}

std::string SignedEntryTimestampPayload(std::string_view body, int64_t integrated_time,
                                        std::string_view log_id, int64_t log_index) {
  // Canonical JSON with sorted keys; base64 has no characters JSON escapes.
  return fmt::format("{{\"body\":\"{}\",\"integratedTime\":{},\"logID\":\"{}\",\"logIndex\":{}}}",
                     EncodeBase64(body), integrated_time, ToHex(log_id), log_index);
}

}  // namespace lineage::ingest
