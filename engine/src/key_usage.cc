// StoreImpl::KeyUsage: key hygiene from the `signed` edges (docs/cli.md,
// "lineage keys").
#include <algorithm>
#include <memory>
#include <shared_mutex>
#include <string>
#include <utility>
#include <vector>

#include "absl/container/flat_hash_set.h"
#include "absl/status/status.h"

#include <fmt/format.h>

#include "engine/include/lineage/ref.h"
#include "engine/src/encoding.h"
#include "engine/src/store_impl.h"

namespace lineage::internal {
namespace {

// A keyless identity ("key:keyless:<issuer>|<san>", lineage/ref.h) signs
// with certificates that live minutes, so rotation is not its to do. Every
// other key node names one public key (ingest gives key-based signers their
// fingerprint, "key:sha256:<64 hex>"): a long-lived key.
bool IsKeylessRef(std::string_view ref) {
  return ParseKeylessRef(ref).ok();
}

bool IsKnownTime(absl::Time t) {
  return t != absl::InfinitePast() && t != absl::InfiniteFuture();
}

// Bits of the per-attestation classification.
constexpr uint8_t kByKeyless = 1;
constexpr uint8_t kByLongLived = 2;

}  // namespace

absl::StatusOr<KeyUsageReport> StoreImpl::KeyUsage(absl::Duration rotation_age) {
  if (rotation_age <= absl::ZeroDuration()) {
    return absl::InvalidArgumentError("rotation age must be positive");
  }
  std::vector<std::pair<NodeId, std::string>> keys;
  uint64_t attestation_count = 0;
  {
    // The index's list of key nodes: no pass over every node's kind.
    std::shared_lock lock(index_mu_);
    keys.reserve(index_.key_nodes().size());
    for (NodeId id : index_.key_nodes())
      keys.emplace_back(id, std::string(index_.ref(id)));
    attestation_count = counters_.next_attestation;
  }

  KeyUsageReport report;
  report.rotation_age = rotation_age;
  std::vector<uint8_t> signed_by(attestation_count, 0);
  // One iterator for every key, seeking forward (keys are in id order):
  // an iterator per key cost more than the edges it read. Its implicit
  // snapshot also makes every key's edges those of one moment.
  std::unique_ptr<rocksdb::Iterator> it(db_->NewIterator(rocksdb::ReadOptions(), cf(kOut)));
  for (const auto& [id, ref] : keys) {
    SignerUsage usage;
    usage.key = ref;
    usage.keyless = IsKeylessRef(ref);

    // `out` keys of this key's signed edges: id(8) kind(1) subject(8)
    // attestation(8), so one bounded scan per key: from the prefix on,
    // while the key starts with it.
    std::string prefix = EncodeFixed64(id);
    prefix.push_back(static_cast<char>(EdgeKind::kSigned));
    rocksdb::Slice prefix_slice(prefix);
    absl::flat_hash_set<uint64_t> attestations;
    for (it->Seek(prefix_slice); it->Valid() && it->key().starts_with(prefix_slice); it->Next()) {
      EdgeKey key;
      absl::Time time;
      if (!DecodeEdgeKey(std::string_view(it->key().data(), it->key().size()), &key) ||
          !DecodeEdgeValue(std::string_view(it->value().data(), it->value().size()), &time)) {
        return absl::DataLossError(fmt::format("malformed edge record of key {}", ref));
      }
      attestations.insert(key.attestation);
      if (key.attestation >= signed_by.size()) signed_by.resize(key.attestation + 1, 0);
      signed_by[key.attestation] |= usage.keyless ? kByKeyless : kByLongLived;
      if (!IsKnownTime(time)) continue;
      if (!IsKnownTime(usage.first_signed) || time < usage.first_signed) usage.first_signed = time;
      if (!IsKnownTime(usage.last_signed) || time > usage.last_signed) usage.last_signed = time;
    }
    if (!it->status().ok()) return FromRocks(it->status(), "scan signed edges");
    usage.attestations = attestations.size();
    usage.beyond_rotation_age = !usage.keyless && IsKnownTime(usage.first_signed) &&
                                usage.last_signed - usage.first_signed > rotation_age;
    report.signers.push_back(std::move(usage));
  }

  for (uint8_t bits : signed_by) {
    if (bits == 0) continue;
    report.signed_attestations++;
    if (bits & kByKeyless) report.keyless_attestations++;
    if (bits & kByLongLived) report.long_lived_attestations++;
  }
  std::sort(report.signers.begin(), report.signers.end(),
            [](const SignerUsage& a, const SignerUsage& b) { return a.key < b.key; });
  return report;
}

}  // namespace lineage::internal
