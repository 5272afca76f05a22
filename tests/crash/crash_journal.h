// The crash driver's journal: which operations the driver began and which
// it saw complete, so that the crash test can tell, after killing it, what
// the store must hold for certain and which one operation may be half done.
//
// The journal is a text file of whole lines; the driver appends each
// operation's lines with a single write() before calling the store ("begin")
// and one more after the store returned success ("done"):
//
//   start <run> <seed>                    the driver (re)started
//   rec <op> <id> <time> <key|-> <builder|-> <subject,...> <material,...|->
//   begin <op> ingest <records>           Store::Ingest (one rec line)
//   begin <op> ingest-batch <records>     Store::IngestBatch (that many rec lines)
//   begin <op> plan <enforce|advisory> <ref,since,until>...
//   begin <op> approve <plan id> <principal>
//   begin <op> enforce <plan id>
//   begin <op> lift <revocation id>
//   begin <op> settings <advisory_only 0|1>
//   done <op> [plan id | revocation id]
//
// Operations are numbered from 1 without gaps across restarts; times are unix
// seconds, "-" for an unbounded end of a window. A SIGKILL can cut a write()
// of more than a page short, so a torn tail (a line without its newline, or
// rec lines without their begin line) is not part of the journal: the
// operation did not start. ReadJournal ignores it and the driver truncates it
// away before appending.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "engine/include/lineage/attestation.h"
#include "engine/include/lineage/revocation.h"

namespace lineage::crash {

enum class OpKind { kIngest, kIngestBatch, kPlan, kApprove, kEnforce, kLift, kSettings };
std::string_view OpKindName(OpKind kind);

// One attestation as the driver builds it: fresh subjects, materials drawn
// from what exists, an optional signing key and builder.
struct JournalRecord {
  std::string id;
  int64_t time = 0;     // unix seconds; the time of every edge it asserts
  std::string key;      // key ref "key:sha256:<hex>", or "" for unsigned
  std::string builder;  // SLSA builder.id, or ""
  std::vector<std::string> subjects;
  std::vector<std::string> materials;
};

struct JournalOp {
  uint64_t number = 0;
  uint64_t run = 0;  // the start line it follows, from 0
  OpKind kind = OpKind::kIngest;
  std::vector<JournalRecord> records;  // kIngest (one), kIngestBatch
  std::vector<RevocationRoot> roots;   // kPlan
  RevocationMode mode = RevocationMode::kEnforce;
  std::string plan_id;         // kApprove, kEnforce
  std::string principal;       // kApprove
  std::string revocation;      // kLift
  bool advisory_only = false;  // kSettings: the value it sets
  bool done = false;
  std::string result;  // when done: the plan id (kPlan) or revocation id (kEnforce)
};

struct Journal {
  std::vector<JournalOp> ops;  // in order, numbered 1, 2, ...
  uint64_t runs = 0;           // start lines
  uint64_t valid_bytes = 0;    // length of the complete lines
};

// Parses and checks the structure: consecutive numbers, each done right after
// its begin, an operation without done only as the last of its run.
// A missing file is an empty journal; InvalidArgument names the bad line.
absl::StatusOr<Journal> ReadJournal(const std::string& path);

// The lines announcing `op` (its rec lines and its begin line).
std::string FormatBegin(const JournalOp& op);
std::string FormatDone(const JournalOp& op);
std::string FormatStart(uint64_t run, uint64_t seed);

// The reason a plan op gives, unique per op, so that a plan whose creation
// was in flight can be found by it.
std::string PlanReason(uint64_t op);

// The record as the store takes it.
AttestationRecord ToAttestation(const JournalRecord& record);

}  // namespace lineage::crash
