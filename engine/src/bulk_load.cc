// Store::BulkLoad: pre-verified attestations, written as sorted SST files and
// added to the database in one atomic step.
//
// The records go through the same Prepare() as IngestBatch, into one
// PendingBatch, so node ids, aliases, keys, values and counters cannot drift
// from what IngestBatch writes. Only the delivery differs: instead of
// committing the WriteBatch through the WAL and the memtables (where most of
// IngestBatch's time goes), its entries are drained every few thousand
// records into per-column-family runs, sorted, written with SstFileWriter and
// handed to IngestExternalFiles, whose single MANIFEST write makes every file
// visible at once.
#include <algorithm>
#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstring>
#include <deque>
#include <filesystem>
#include <memory>
#include <mutex>
#include <shared_mutex>
#include <thread>
#include <tuple>
#include <utility>
#include <vector>

#include <rocksdb/db.h>
#include <rocksdb/options.h>
#include <rocksdb/sst_file_writer.h>
#include <rocksdb/write_batch.h>

#include <fmt/format.h>

#include "engine/include/lineage/log.h"
#include "engine/include/lineage/store.h"
#include "engine/src/encoding.h"
#include "engine/src/store_impl.h"

namespace lineage::internal {
namespace {

// Records prepared between two drains of the WriteBatch: large enough that
// draining is cheap per record, small enough that the batch stays small.
constexpr size_t kDrainEvery = 4096;

// The SST files are written here and moved into the database by the
// ingestion; a killed load leaves them behind, unreferenced.
constexpr char kTempDir[] = "bulk-load.tmp";

// One key/value pair drained from the batch. `prefix` holds the key's first
// sixteen bytes big-endian (zero-padded), so nearly every comparison is
// decided by integers: refs share their first eight bytes ("sha256:" and one
// hex digit), edge keys their first eight (the node) with all its edges.
// `seq` orders repeated puts of one key (the last one wins, as in a
// WriteBatch).
struct Entry {
  uint64_t prefix[2];
  uint64_t seq;
  const char* data;  // key bytes, then value bytes
  uint32_t key_size;
  uint32_t value_size;

  std::string_view key() const { return {data, key_size}; }
  rocksdb::Slice value() const { return {data + key_size, value_size}; }
};

bool KeyLess(const Entry& a, const Entry& b) {
  if (a.prefix[0] != b.prefix[0]) return a.prefix[0] < b.prefix[0];
  if (a.prefix[1] != b.prefix[1]) return a.prefix[1] < b.prefix[1];
  if (a.key_size > 16 || b.key_size > 16) {
    const int c = a.key().compare(b.key());
    if (c != 0) return c < 0;
  } else if (a.key_size != b.key_size) {
    return a.key_size < b.key_size;  // equal padded prefixes: the shorter key is a prefix
  }
  return a.seq < b.seq;
}

bool SameKey(const Entry& a, const Entry& b) {
  return a.prefix[0] == b.prefix[0] && a.prefix[1] == b.prefix[1] && a.key() == b.key();
}

// Bump allocation in large blocks: one small allocation per drained entry
// would cost more than the copy.
class Arena {
 public:
  char* Allocate(size_t n) {
    if (left_ < n) {
      const size_t size = std::max<size_t>(n, kBlock);
      blocks_.push_back(std::make_unique<char[]>(size));
      next_ = blocks_.back().get();
      left_ = size;
    }
    char* out = next_;
    next_ += n;
    left_ -= n;
    return out;
  }

 private:
  static constexpr size_t kBlock = 64 << 20;
  std::vector<std::unique_ptr<char[]>> blocks_;
  char* next_ = nullptr;
  size_t left_ = 0;
};

// Collects the puts of drained WriteBatches, per column family. Anything but
// a put (IngestBatch's write path issues none for new records) fails the
// load rather than being silently dropped.
class SortedColumns : public rocksdb::WriteBatch::Handler {
 public:
  explicit SortedColumns(const std::vector<rocksdb::ColumnFamilyHandle*>& handles)
      : columns_(handles.size()) {
    for (size_t i = 0; i < handles.size(); ++i)
      by_id_.emplace_back(handles[i]->GetID(), i);
  }

  rocksdb::Status PutCF(uint32_t cf_id, const rocksdb::Slice& key,
                        const rocksdb::Slice& value) override {
    for (const auto& [id, index] : by_id_) {
      if (id == cf_id) {
        Add(index, std::string_view(key.data(), key.size()),
            std::string_view(value.data(), value.size()));
        return rocksdb::Status::OK();
      }
    }
    return rocksdb::Status::InvalidArgument("bulk load: put to an unknown column family");
  }

  void Add(size_t column, std::string_view key, std::string_view value) {
    char* data = arena_.Allocate(key.size() + value.size());
    std::memcpy(data, key.data(), key.size());
    std::memcpy(data + key.size(), value.data(), value.size());
    Entry entry{{0, 0},
                seq_++,
                data,
                static_cast<uint32_t>(key.size()),
                static_cast<uint32_t>(value.size())};
    for (size_t i = 0; i < 16; ++i) {
      uint64_t& word = entry.prefix[i / 8];
      word = (word << 8) | (i < key.size() ? static_cast<uint8_t>(key[i]) : 0);
    }
    columns_[column].push_back(entry);
  }

  std::vector<Entry>& column(size_t i) { return columns_[i]; }
  size_t size() const { return columns_.size(); }

 private:
  std::vector<std::pair<uint32_t, size_t>> by_id_;  // RocksDB column family id -> Cf
  std::vector<std::vector<Entry>> columns_;
  Arena arena_;
  uint64_t seq_ = 0;
};

// Drains full WriteBatches into the columns on a second thread, in the order
// they were handed over, while the caller prepares the next records. At
// most kQueued batches wait, which bounds the memory they hold.
class Drainer {
 public:
  explicit Drainer(SortedColumns* columns) : columns_(columns), thread_([this] { Run(); }) {}
  ~Drainer() { Finish().IgnoreError(); }

  void Hand(rocksdb::WriteBatch batch) {
    std::unique_lock lock(mu_);
    cv_.wait(lock, [&] { return queue_.size() < kQueued; });
    queue_.push_back(std::move(batch));
    cv_.notify_all();
  }

  // Waits until every handed batch is drained. Returns the first error.
  absl::Status Finish() {
    {
      std::lock_guard lock(mu_);
      done_ = true;
    }
    cv_.notify_all();
    if (thread_.joinable()) thread_.join();
    return status_;
  }

 private:
  static constexpr size_t kQueued = 4;

  void Run() {
    for (;;) {
      rocksdb::WriteBatch batch;
      {
        std::unique_lock lock(mu_);
        cv_.wait(lock, [&] { return !queue_.empty() || done_; });
        if (queue_.empty()) return;
        batch = std::move(queue_.front());
        queue_.pop_front();
      }
      cv_.notify_all();
      rocksdb::Status s = batch.Iterate(columns_);
      if (!s.ok() && status_.ok()) status_ = FromRocks(s, "bulk load: drain batch");
    }
  }

  SortedColumns* const columns_;
  std::mutex mu_;
  std::condition_variable cv_;
  std::deque<rocksdb::WriteBatch> queue_;
  bool done_ = false;
  absl::Status status_;  // written by the drain thread only, read after join
  std::thread thread_;   // last: starts once the members above exist
};

// Sorts one column's entries, keeps the last put of each key and writes
// them as one SST file. OK with nothing written for an empty column.
rocksdb::Status WriteSst(rocksdb::DB* db, rocksdb::ColumnFamilyHandle* handle,
                         std::vector<Entry>& entries, const std::string& file) {
  std::sort(entries.begin(), entries.end(), KeyLess);
  rocksdb::SstFileWriter writer(rocksdb::EnvOptions(), db->GetOptions(handle), handle);
  rocksdb::Status s = writer.Open(file);
  for (size_t i = 0; s.ok() && i < entries.size(); ++i) {
    if (i + 1 < entries.size() && SameKey(entries[i + 1], entries[i])) continue;
    const std::string_view key = entries[i].key();
    s = writer.Put(rocksdb::Slice(key.data(), key.size()), entries[i].value());
  }
  if (s.ok()) s = writer.Finish();
  return s;
}

}  // namespace

absl::StatusOr<BulkLoadResult> StoreImpl::BulkLoad(std::span<const AttestationRecord> records) {
  if (read_only_) return absl::FailedPreconditionError("the store was opened read-only");
  const auto start = std::chrono::steady_clock::now();
  for (size_t i = 0; i < records.size(); ++i) {
    if (absl::Status s = ValidateAttestationRecord(records[i]); !s.ok()) {
      return absl::InvalidArgumentError(fmt::format("record {}: {}", i, std::string(s.message())));
    }
  }

  std::lock_guard lock(write_mu_);
  // Writing beside the WAL is safe because no key of the load can exist
  // already: refs and aliases are new (Prepare resolves every known one
  // through the index), node and attestation numbers are new, and so are the
  // edge keys, which hold the attestation number. Only the counters key is
  // rewritten, and an ingested file's entries are newer than everything
  // before them. What it cannot do is grow an active revocation's sticky
  // taint over the new edges, as IngestBatch does.
  if (!active_.empty()) {
    return absl::FailedPreconditionError(
        fmt::format("{}: bulk load needs a store without active revocations ({} active)", path_,
                    active_.size()));
  }
  const bool empty_index = index_.node_count() == 0;

  const Counters before = counters_;
  PendingBatch pb(counters_);
  SortedColumns columns(handles_);
  BulkLoadResult result;
  {
    Drainer drainer(&columns);
    for (size_t i = 0; i < records.size(); ++i) {
      absl::StatusOr<IngestOutcome> outcome = Prepare(records[i], &pb);
      if (!outcome.ok()) {
        return absl::Status(
            outcome.status().code(),
            fmt::format("record {}: {}", i, std::string(outcome.status().message())));
      }
      result.duplicates += outcome->duplicate;
      if ((i + 1) % kDrainEvery == 0 || i + 1 == records.size()) {
        drainer.Hand(std::move(pb.batch));
        pb.batch = rocksdb::WriteBatch();
      }
    }
    if (absl::Status s = drainer.Finish(); !s.ok()) return s;
  }
  if (pb.attestation_ids.empty()) return result;
  columns.Add(kMeta, kMetaCounters, EncodeCounters(pb.counters));
  const auto prepared = std::chrono::steady_clock::now();

  // A previous load that was killed may have left files here; none of them
  // is referenced by the database.
  const std::filesystem::path dir = std::filesystem::path(path_) / kTempDir;
  std::error_code ec;
  std::filesystem::remove_all(dir, ec);
  if (!std::filesystem::create_directory(dir, ec) || ec) {
    return absl::InternalError(fmt::format("bulk load: create {}: {}", dir.string(), ec.message()));
  }

  // Two writers, the largest columns first: sorting the edge columns is most
  // of the work, and the machine this targets has two cores.
  std::vector<size_t> order;
  for (size_t c = 0; c < columns.size(); ++c) {
    if (!columns.column(c).empty()) order.push_back(c);
  }
  std::sort(order.begin(), order.end(), [&](size_t a, size_t b) {
    return columns.column(a).size() > columns.column(b).size();
  });
  std::vector<rocksdb::Status> written(columns.size());
  std::atomic<size_t> next{0};
  // One more task after the columns: the index's bulk pass wants the new
  // edges in (src, kind, dst) order, and sorting them needs no SST.
  auto work = [&] {
    for (size_t i; (i = next.fetch_add(1)) <= order.size();) {
      if (i == order.size()) {
        std::sort(pb.new_edges.begin(), pb.new_edges.end());
        continue;
      }
      const size_t c = order[i];
      written[c] = WriteSst(db_, cf(static_cast<Cf>(c)), columns.column(c),
                            (dir / fmt::format("{}.sst", kCfNames[c])).string());
    }
  };
  std::thread helper(work);
  work();
  helper.join();

  std::vector<rocksdb::IngestExternalFileArg> args;
  for (size_t c : order) {
    if (!written[c].ok()) {
      std::filesystem::remove_all(dir, ec);
      return FromRocks(written[c], fmt::format("bulk load: write {} SST", kCfNames[c]));
    }
    rocksdb::IngestExternalFileArg arg;
    arg.column_family = cf(static_cast<Cf>(c));
    arg.external_files = {(dir / fmt::format("{}.sst", kCfNames[c])).string()};
    arg.options.move_files = true;
    args.push_back(std::move(arg));
  }
  const auto sst_written = std::chrono::steady_clock::now();
  // All column families in one call: RocksDB commits the whole ingestion as
  // one atomic MANIFEST update, so a crash shows all of the load or none.
  rocksdb::Status ingested = db_->IngestExternalFiles(args);
  std::filesystem::remove_all(dir, ec);
  if (absl::Status s = FromRocks(ingested, "bulk load: ingest SST files"); !s.ok()) {
    LINEAGE_LOG(logger_.get(), kError, "{}: {}", path_, std::string(s.message()));
    return s;
  }

  // The files are durable and visible; only now does the index see them, as
  // Commit does for a WriteBatch.
  {
    std::unique_lock index_lock(index_mu_);
    for (const auto& [kind, ref] : pb.new_nodes)
      index_.AddNode(kind, ref);
    for (const auto& [alias, node] : pb.new_aliases)
      index_.AddAlias(alias, node);
    if (empty_index) {
      // One bulk pass, as on open.
      for (const auto& [src, kind, dst] : pb.new_edges)
        index_.BulkAddEdge(src, kind, dst);
      index_.FinishBulk();
    } else {
      for (const auto& [src, kind, dst] : pb.new_edges)
        index_.AddEdge(src, kind, dst);
    }
    counters_ = pb.counters;
  }
  if (!empty_index && index_.ShouldMerge()) {
    // As Commit does: built while readers traverse, swapped under the lock.
    internal::MergedCsr merged = index_.PrepareMerge();
    std::unique_lock index_lock(index_mu_);
    index_.InstallMerge(std::move(merged));
  }

  result.attestations = pb.counters.attestations - before.attestations;
  result.new_nodes = pb.new_nodes.size();
  result.new_edges = pb.new_edges.size();
  result.edge_assertions = pb.counters.edge_assertions - before.edge_assertions;
  const auto end = std::chrono::steady_clock::now();
  auto ms = [](auto from, auto to) {
    return std::chrono::duration<double, std::milli>(to - from).count();
  };
  LINEAGE_LOG(logger_.get(), kInfo,
              "{}: bulk loaded {} attestations, {} nodes, {} edges ({} assertions) in {:.0f} ms "
              "(prepare {:.0f}, sort and write SST {:.0f}, ingest and index {:.0f})",
              path_, result.attestations, result.new_nodes, result.new_edges,
              result.edge_assertions, ms(start, end), ms(start, prepared),
              ms(prepared, sst_written), ms(sst_written, end));
  return result;
}

}  // namespace lineage::internal
