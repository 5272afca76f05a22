// The daemon's metrics, exposed in the Prometheus text format on /metrics
// (docs/operations.md lists every series).
//
// Counters and histograms are lock-free atomics updated on the hot path (a
// gate check adds one histogram observation: a few relaxed atomic adds).
// Gauges that come from the store (counts, the deny-list sequence, keys past
// rotation age) are read when scraped.
//
// Thread safety: every method may be called from any thread.
#pragma once

#include <array>
#include <atomic>
#include <cstdint>
#include <map>
#include <mutex>
#include <string>
#include <string_view>
#include <vector>

#include "absl/time/time.h"
#include "engine/include/lineage/store.h"

namespace lineage::rpc {

// A histogram with fixed bucket bounds (seconds), cumulative on output.
class Histogram {
 public:
  explicit Histogram(std::vector<double> bounds);
  void Observe(absl::Duration d);
  // Appends the _bucket, _sum and _count series of `name`.
  void Render(std::string_view name, std::string* out) const;

 private:
  std::vector<double> bounds_;
  std::unique_ptr<std::atomic<uint64_t>[]> counts_;  // bounds_.size() + 1 (the +Inf bucket)
  std::atomic<uint64_t> sum_nanos_{0};
  std::atomic<uint64_t> count_{0};
};

class Metrics {
 public:
  Metrics();

  void CountCheck(bool deny, bool error, absl::Duration latency);
  void CountIngest(bool accepted, bool duplicate, std::string_view rejection_reason);
  void CountEnforce(absl::Duration duration);
  void SetSubscribers(uint64_t n) { subscribers_.store(n, std::memory_order_relaxed); }

  // The whole exposition; reads gauges from `store`. Keys past rotation age
  // are recomputed at most every `key_refresh` (a full scan of signed edges).
  std::string Render(Store* store, absl::Duration rotation_age,
                     absl::Duration key_refresh = absl::Minutes(5));

  // A short, stable label for a rejection message (its absl code, or the
  // checks of docs/ingest.md it names), so label cardinality stays bounded.
  static std::string RejectionReason(std::string_view message);

 private:
  std::atomic<uint64_t> checks_allow_{0};
  std::atomic<uint64_t> checks_deny_{0};
  std::atomic<uint64_t> checks_error_{0};
  std::atomic<uint64_t> ingest_accepted_{0};
  std::atomic<uint64_t> ingest_duplicate_{0};
  std::atomic<uint64_t> enforcements_{0};
  std::atomic<uint64_t> subscribers_{0};
  Histogram check_latency_;
  Histogram enforce_duration_;

  std::mutex mu_;  // guards the maps and the key cache below
  std::map<std::string, uint64_t> rejections_;
  absl::Time keys_computed_ = absl::InfinitePast();
  uint64_t keys_past_rotation_ = 0;
  absl::Time last_enforce_ = absl::InfinitePast();
  double last_enforce_seconds_ = 0;
};

}  // namespace lineage::rpc
