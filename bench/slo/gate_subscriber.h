// A gate that holds the deny list pushed by lineaged: it logs in with a gate
// token, subscribes over Cap'n Proto RPC and applies every pushed delta to
// its own set of digests, on a thread of its own with its own event loop.
// The SLO clock stops when this set is complete.
//
// It speaks the schema directly (not rpc::Client), with its own receive
// limit, `receive_limit_words`, which it also tells the daemon: the daemon
// cuts every push to half of it (and of its own --max-message-mib), so a
// delta larger than that (a million digests is about 80 MiB) arrives in
// parts (DenyDelta.continued), applied as one when the last arrives.
//
// Thread safety: Wait* and the accessors may be called from any thread.
#pragma once

#include <array>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>
#include <thread>

#include "absl/container/flat_hash_set.h"
#include "absl/status/statusor.h"

namespace lineage::bench {

using SteadyClock = std::chrono::steady_clock;

class GateSubscriber {
 public:
  struct DeltaTimes {
    SteadyClock::time_point arrived;  // the deltas call reached the gate
    SteadyClock::time_point applied;  // its digests were in the gate's set
  };

  // Connects to 127.0.0.1:`port`, logs in with `token` and subscribes from
  // `after_seq`. Returns once subscribed (or the error: Unavailable,
  // Unauthenticated, ...), bounded by 30 s.
  static absl::StatusOr<std::unique_ptr<GateSubscriber>> Start(unsigned port, std::string token,
                                                               uint64_t after_seq,
                                                               uint64_t receive_limit_words);
  ~GateSubscriber();

  // Waits until `done(size, head_seq)` holds (the number of digests held
  // and the last applied sequence), checked after every applied delta, at
  // most `timeout`. Returns false on timeout or a broken subscription (see
  // error()).
  bool WaitUntil(const std::function<bool(size_t, uint64_t)>& done,
                 std::chrono::milliseconds timeout);

  // When delta `seq` arrived (its first part) and was applied (its last);
  // false if it has not been applied whole.
  bool TimesOf(uint64_t seq, DeltaTimes* out);
  // How many digests the gate holds, and whether it holds `digest`.
  size_t size();
  bool Contains(std::string_view digest);
  // Empty while the subscription is healthy; else why it ended (an
  // exception, or the daemon's resync reason).
  std::string error();

 private:
  class Receiver;
  GateSubscriber() = default;
  void Run(unsigned port, std::string token, uint64_t after_seq, uint64_t receive_limit_words);

  std::mutex mu_;
  std::condition_variable cv_;
  bool subscribed_ = false;
  std::string error_;
  uint64_t seq_ = 0;
  // The deny list as a gate would keep it: sha256 digests as their 32
  // bytes (no allocation per digest), any other algorithm as its text.
  using Sha256 = std::array<uint8_t, 32>;
  static bool ParseSha256(std::string_view digest, Sha256* out);
  void Add(std::string_view digest);
  void Remove(std::string_view digest);
  absl::flat_hash_set<Sha256> sha256_;
  absl::flat_hash_set<std::string> other_;
  std::map<uint64_t, DeltaTimes> times_;
  bool stop_ = false;
  std::thread thread_;
};

}  // namespace lineage::bench
