#include "rpc/src/ingest_sequencer.h"

#include <algorithm>
#include <exception>
#include <utility>

namespace lineage::rpc {
namespace {

// What the exception being handled says. Drain must survive any exception
// (a drain that ends early would leave drain_scheduled_ set, and every
// later call waiting), kj's included, which are not std::exception.
std::string CurrentException() {
  try {
    throw;
  } catch (const std::exception& e) {
    return e.what();
  } catch (...) {
    return "an unknown exception";
  }
}

}  // namespace

std::vector<absl::StatusOr<IngestOutcome>> StoreInGroups(Store& store,
                                                         std::span<const AttestationRecord> records,
                                                         size_t max_group, Logger* logger,
                                                         uint64_t* refused_groups) {
  std::vector<absl::StatusOr<IngestOutcome>> out;
  out.reserve(records.size());
  max_group = std::max<size_t>(max_group, 1);
  for (size_t begin = 0; begin < records.size(); begin += max_group) {
    std::span<const AttestationRecord> group =
        records.subspan(begin, std::min(max_group, records.size() - begin));
    // One record: Ingest, whose errors are unprefixed (IngestBatch names
    // the record's index in the batch).
    if (group.size() > 1) {
      absl::StatusOr<std::vector<IngestOutcome>> batch = store.IngestBatch(group);
      if (batch.ok()) {
        for (IngestOutcome& o : *batch)
          out.push_back(std::move(o));
        continue;
      }
      // Nothing of the group was written (IngestBatch is all-or-none): store
      // it again one by one, so that each record gets its own verdict.
      if (refused_groups != nullptr) ++*refused_groups;
      LINEAGE_LOG(logger, kWarning,
                  "ingest: a group of {} records was refused ({}); storing them "
                  "one by one",
                  group.size(), std::string(batch.status().message()));
    }
    for (const AttestationRecord& record : group)
      out.push_back(store.Ingest(record));
  }
  return out;
}

uint64_t IngestSequencer::Take() {
  std::lock_guard lock(mu_);
  return next_ticket_++;
}

uint64_t IngestSequencer::refused_groups() const {
  return refused_groups_.load();
}

void IngestSequencer::Ready(uint64_t ticket, IngestJob job) {
  std::deque<IngestJob> refused;
  {
    std::lock_guard lock(mu_);
    ready_.emplace(ticket, std::move(job));
    while (!ready_.empty() && ready_.begin()->first == next_to_store_) {
      queue_.push_back(std::move(ready_.begin()->second));
      ready_.erase(ready_.begin());
      next_to_store_++;
    }
    if (!queue_.empty() && !drain_scheduled_) {
      drain_scheduled_ = true;
      if (!writer_->Submit([this] { Drain(); })) {
        // The writer is stopping and has no drain of ours that would pick
        // these up.
        drain_scheduled_ = false;
        refused.swap(queue_);
      }
    }
  }
  for (IngestJob& j : refused)
    j.fail("lineaged is shutting down");
}

void IngestSequencer::Drain() {
  for (;;) {
    // Whole calls, in order, until the group holds group_target_ records.
    std::vector<IngestJob> jobs;
    std::vector<AttestationRecord> records;
    std::vector<size_t> ends;  // per job: records.size() after its collect
    while (records.size() < group_target_) {
      IngestJob job;
      {
        std::lock_guard lock(mu_);
        if (queue_.empty()) break;
        job = std::move(queue_.front());
        queue_.pop_front();
      }
      size_t before = records.size();
      try {
        job.collect(&records);
      } catch (...) {
        records.resize(before);
        job.fail(CurrentException());
        continue;
      }
      jobs.push_back(std::move(job));
      ends.push_back(records.size());
    }
    Flush(jobs, records, ends);

    {
      std::lock_guard lock(mu_);
      if (queue_.empty()) {
        drain_scheduled_ = false;
        return;
      }
    }
    // More calls wait: queue behind the writer's other work, so that an
    // enforcement submitted meanwhile runs between two groups.
    if (writer_->Submit([this] { Drain(); })) return;
    // The writer is stopping and finishing its queue: finish ours here.
  }
}

void IngestSequencer::Flush(std::vector<IngestJob>& jobs, std::vector<AttestationRecord>& records,
                            const std::vector<size_t>& ends) {
  if (jobs.empty()) return;
  std::vector<absl::StatusOr<IngestOutcome>> outcomes;
  try {
    uint64_t refused = 0;
    outcomes = StoreInGroups(*store_, records, max_group_, logger_, &refused);
    refused_groups_ += refused;
  } catch (...) {
    // bad_alloc or a throwing library call: every call of the group fails
    // (the store applies each batch whole or not at all), the daemon goes on.
    std::string why = CurrentException();
    for (IngestJob& job : jobs)
      job.fail(why);
    return;
  }
  std::span<const AttestationRecord> all(records);
  std::span<const absl::StatusOr<IngestOutcome>> results(outcomes);
  size_t begin = 0;
  for (size_t j = 0; j < jobs.size(); ++j) {
    size_t n = ends[j] - begin;
    try {
      jobs[j].finish(all.subspan(begin, n), results.subspan(begin, n));
    } catch (...) {
      jobs[j].fail(CurrentException());
    }
    begin = ends[j];
  }
}

}  // namespace lineage::rpc
