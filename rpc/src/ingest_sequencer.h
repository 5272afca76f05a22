// The store step of lineaged's ingest pipeline: verified calls are stored
// in the order they arrived, and the records of consecutive calls that wait
// for the writer are stored together (group commit).
//
// Why group: Store::Ingest is one RocksDB WriteBatch per attestation (with
// its WAL append, counters and index update); Store::IngestBatch writes many
// in one, at a fraction of the cost per record. Grouping keeps every
// per-record guarantee of the serial path: each attestation is still
// applied whole or not at all (a group is all-or-none, which is stronger),
// outcomes and warnings are those Ingest gives (IngestBatch is Ingest's own
// code path; a record that repeats an earlier one of the group is a
// duplicate, as it would be stored one after the other), and sticky taint
// is computed over the group's edges in the same batch.
#pragma once

#include <atomic>
#include <cstddef>
#include <cstdint>
#include <deque>
#include <functional>
#include <map>
#include <mutex>
#include <span>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "engine/include/lineage/log.h"
#include "engine/include/lineage/store.h"
#include "rpc/src/worker_thread.h"

namespace lineage::rpc {

// Stores `records` in order and returns one outcome per record, as calling
// store.Ingest on each in turn would: consecutive records go through
// Store::IngestBatch, at most `max_group` at a time; a group the store
// refuses as a whole (one malformed record, a store error) is stored again
// record by record, so that one bad record never rejects its neighbours.
// Counts the groups so refused in `*refused_groups` when given.
std::vector<absl::StatusOr<IngestOutcome>> StoreInGroups(Store& store,
                                                         std::span<const AttestationRecord> records,
                                                         size_t max_group, Logger* logger,
                                                         uint64_t* refused_groups = nullptr);

// One ingest call's part of a group commit. All three run on the writer.
struct IngestJob {
  // Appends the call's verified records to `records`, in document order
  // (may append none). It may move them out of the call's own state.
  std::function<void(std::vector<AttestationRecord>* records)> collect;
  // The outcomes of exactly what `collect` appended, in the same order,
  // with the records themselves.
  std::function<void(std::span<const AttestationRecord> records,
                     std::span<const absl::StatusOr<IngestOutcome>> outcomes)>
      finish;
  // Instead of `finish`: the call could not be stored (an exception while
  // storing, or the server is shutting down).
  std::function<void(const std::string& why)> fail;
};

// Hands each ingest call to the writer in the order the calls arrived
// (tickets), whatever order their verification finished in, so that a
// client streaming calls sees them stored as it sent them. Calls that are
// ready while the writer is busy queue here; the writer then takes them in
// order, whole, until the group holds `group_target` records, and stores
// their records with StoreInGroups (at most `max_group` per WriteBatch),
// finishing each call with its own outcomes. Between groups the writer goes
// back to the end of its queue, so other writes (an enforcement) are not
// held up by a long ingest stream.
//
// Why the target is small: the calls of a group are answered together, so
// a client keeping N calls in flight that all land in one group gets N
// answers at once and then sends N calls at once: its calls are verified
// while the writer idles and stored while the verifiers idle. Measured with
// the RPC load test (4 calls of 100 in flight), grouping every queued call
// halved the ingest rate against one WriteBatch per attestation; one call
// per group keeps verifying and storing overlapped. Small calls (a CI job
// pushing one attestation) are still grouped, which is where one WriteBatch
// per call costs the most.
//
// Thread safety: Take and Ready may be called from any thread.
// REQUIRES: `writer` and `store` outlive this object, and the writer is
// stopped (its queue finished) before this object is destroyed.
class IngestSequencer {
 public:
  // A drain stops taking calls once its group holds this many records.
  static constexpr size_t kDefaultGroupTarget = 100;
  // At most this many records per WriteBatch: Store::IngestBatch asks for
  // batches of "a few thousand records" at most (a batch is held in memory
  // until it commits).
  static constexpr size_t kDefaultMaxGroup = 1000;

  IngestSequencer(WorkerThread* writer, Store* store, Logger* logger,
                  size_t group_target = kDefaultGroupTarget, size_t max_group = kDefaultMaxGroup)
      : writer_(writer),
        store_(store),
        logger_(logger),
        group_target_(group_target),
        max_group_(max_group) {}

  // A ticket per call, taken on arrival.
  uint64_t Take();

  // The call with `ticket` is verified: its job is stored after every
  // earlier ticket's. Once the writer refuses work (shutdown), a job that
  // would start a new drain fails with "lineaged is shutting down".
  void Ready(uint64_t ticket, IngestJob job);

  // Groups a store refused as a whole since construction (for tests and
  // the log).
  uint64_t refused_groups() const;

 private:
  // On the writer: stores one group of queued jobs, then resubmits itself
  // while jobs remain.
  void Drain();
  void Flush(std::vector<IngestJob>& jobs, std::vector<AttestationRecord>& records,
             const std::vector<size_t>& ends);

  WorkerThread* writer_;
  Store* store_;
  Logger* logger_;
  size_t group_target_;
  size_t max_group_;
  mutable std::mutex mu_;
  uint64_t next_ticket_ = 0;
  uint64_t next_to_store_ = 0;
  std::map<uint64_t, IngestJob> ready_;  // verified, waiting for an earlier ticket
  std::deque<IngestJob> queue_;          // in ticket order, waiting for the writer
  bool drain_scheduled_ = false;         // a Drain is queued or running on the writer
  std::atomic<uint64_t> refused_groups_ = 0;
};

}  // namespace lineage::rpc
