#include "tests/crash/crash_journal.h"

#include <charconv>
#include <fstream>
#include <sstream>
#include <string_view>

#include <fmt/format.h>

namespace lineage::crash {
namespace {

std::vector<std::string> Split(std::string_view text, char separator) {
  std::vector<std::string> parts;
  size_t start = 0;
  while (true) {
    size_t end = text.find(separator, start);
    parts.emplace_back(text.substr(start, end == std::string_view::npos ? end : end - start));
    if (end == std::string_view::npos) return parts;
    start = end + 1;
  }
}

std::string Join(const std::vector<std::string>& parts, std::string_view empty) {
  if (parts.empty()) return std::string(empty);
  std::string joined;
  for (const std::string& p : parts) {
    if (!joined.empty()) joined += ',';
    joined += p;
  }
  return joined;
}

bool ParseInt(std::string_view text, int64_t* value) {
  auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), *value);
  return ec == std::errc() && end == text.data() + text.size();
}

std::string JournalTime(absl::Time t) {
  if (t == absl::InfinitePast() || t == absl::InfiniteFuture()) return "-";
  return fmt::format("{}", absl::ToUnixSeconds(t));
}

bool ParseTime(std::string_view text, absl::Time unbounded, absl::Time* t) {
  if (text == "-") {
    *t = unbounded;
    return true;
  }
  int64_t seconds = 0;
  if (!ParseInt(text, &seconds)) return false;
  *t = absl::FromUnixSeconds(seconds);
  return true;
}

bool ParseRecord(const std::vector<std::string>& f, JournalRecord* r) {
  if (f.size() != 8) return false;
  r->id = f[2];
  if (!ParseInt(f[3], &r->time)) return false;
  r->key = f[4] == "-" ? "" : f[4];
  r->builder = f[5] == "-" ? "" : f[5];
  r->subjects = Split(f[6], ',');
  if (f[7] != "-") r->materials = Split(f[7], ',');
  return true;
}

// Fills the kind-specific fields of `op` from a begin line's fields.
bool ParseBegin(const std::vector<std::string>& f, JournalOp* op) {
  const std::string& kind = f[2];
  if (kind == "ingest" || kind == "ingest-batch") {
    op->kind = kind == "ingest" ? OpKind::kIngest : OpKind::kIngestBatch;
    int64_t count = 0;
    return f.size() == 4 && ParseInt(f[3], &count) &&
           static_cast<size_t>(count) == op->records.size() && count > 0 &&
           (op->kind == OpKind::kIngestBatch || count == 1);
  }
  if (!op->records.empty()) return false;
  if (kind == "plan") {
    op->kind = OpKind::kPlan;
    if (f.size() < 5 || (f[3] != "enforce" && f[3] != "advisory")) return false;
    op->mode = f[3] == "enforce" ? RevocationMode::kEnforce : RevocationMode::kAdvisory;
    for (size_t i = 4; i < f.size(); ++i) {
      std::vector<std::string> parts = Split(f[i], ',');
      RevocationRoot root;
      if (parts.size() != 3 || !ParseTime(parts[1], absl::InfinitePast(), &root.since) ||
          !ParseTime(parts[2], absl::InfiniteFuture(), &root.until)) {
        return false;
      }
      root.ref = parts[0];
      op->roots.push_back(std::move(root));
    }
    return true;
  }
  if (kind == "approve" && f.size() == 5) {
    op->kind = OpKind::kApprove;
    op->plan_id = f[3];
    op->principal = f[4];
    return true;
  }
  if (kind == "enforce" && f.size() == 4) {
    op->kind = OpKind::kEnforce;
    op->plan_id = f[3];
    return true;
  }
  if (kind == "lift" && f.size() == 4) {
    op->kind = OpKind::kLift;
    op->revocation = f[3];
    return true;
  }
  if (kind == "settings" && f.size() == 4 && (f[3] == "0" || f[3] == "1")) {
    op->kind = OpKind::kSettings;
    op->advisory_only = f[3] == "1";
    return true;
  }
  return false;
}

}  // namespace

std::string_view OpKindName(OpKind kind) {
  switch (kind) {
    case OpKind::kIngest:
      return "ingest";
    case OpKind::kIngestBatch:
      return "ingest-batch";
    case OpKind::kPlan:
      return "plan";
    case OpKind::kApprove:
      return "approve";
    case OpKind::kEnforce:
      return "enforce";
    case OpKind::kLift:
      return "lift";
    case OpKind::kSettings:
      return "settings";
  }
  return "?";
}

absl::StatusOr<Journal> ReadJournal(const std::string& path) {
  Journal journal;
  std::ifstream in(path, std::ios::binary);
  if (!in) return journal;
  std::stringstream buffer;
  buffer << in.rdbuf();
  const std::string text = buffer.str();

  // `open`: the last operation began in the current run, so its done line
  // may still follow and nothing else may begin before it.
  JournalOp pending;
  bool open = false;
  size_t line_start = 0;
  for (size_t line_number = 1;; ++line_number) {
    size_t end = text.find('\n', line_start);
    if (end == std::string::npos) break;  // a torn tail: not part of the journal
    std::string line = text.substr(line_start, end - line_start);
    line_start = end + 1;
    auto bad = [&](std::string_view why) {
      return absl::InvalidArgumentError(
          fmt::format("{}:{}: {}: \"{}\"", path, line_number, why, line));
    };

    std::vector<std::string> f = Split(line, ' ');
    int64_t number = 0;
    if (f.size() < 2 || !ParseInt(f[1], &number) || number < 0) return bad("malformed line");
    uint64_t expected = journal.ops.size() + 1;
    if (f[0] == "start") {
      if (pending.number != 0 && !pending.records.empty()) return bad("rec lines without begin");
      if (static_cast<uint64_t>(number) != journal.runs) return bad("runs out of order");
      journal.runs++;
      open = false;
    } else if (f[0] == "rec") {
      if ((open && !journal.ops.back().done) || static_cast<uint64_t>(number) != expected) {
        return bad("rec out of order");
      }
      if (journal.runs == 0) return bad("rec before the first start");
      JournalRecord record;
      if (!ParseRecord(f, &record)) return bad("malformed rec line");
      pending.number = expected;
      pending.records.push_back(std::move(record));
    } else if (f[0] == "begin") {
      if (f.size() < 3 || static_cast<uint64_t>(number) != expected)
        return bad("begin out of order");
      if (journal.runs == 0) return bad("begin before the first start");
      if (open && !journal.ops.back().done) {
        return bad("an operation began while the previous one was not done");
      }
      pending.number = expected;
      pending.run = journal.runs - 1;
      if (!ParseBegin(f, &pending)) return bad("malformed begin line");
      journal.ops.push_back(std::move(pending));
      pending = JournalOp();
      open = true;
    } else if (f[0] == "done") {
      if (!open || journal.ops.empty() || journal.ops.back().done ||
          journal.ops.back().number != static_cast<uint64_t>(number)) {
        return bad("done without its begin");
      }
      JournalOp& op = journal.ops.back();
      op.done = true;
      bool wants_result = op.kind == OpKind::kPlan || op.kind == OpKind::kEnforce;
      if (f.size() != (wants_result ? 3u : 2u)) return bad("malformed done line");
      if (wants_result) op.result = f[2];
    } else {
      return bad("unknown line");
    }
    // Rec lines count only once their begin line is there too.
    if (f[0] != "rec") journal.valid_bytes = line_start;
  }
  // Rec lines whose begin never made it (a write cut short) are an operation
  // that did not start.
  return journal;
}

std::string FormatBegin(const JournalOp& op) {
  std::string out;
  for (const JournalRecord& r : op.records) {
    out += fmt::format("rec {} {} {} {} {} {} {}\n", op.number, r.id, r.time,
                       r.key.empty() ? "-" : r.key, r.builder.empty() ? "-" : r.builder,
                       Join(r.subjects, "-"), Join(r.materials, "-"));
  }
  out += fmt::format("begin {} {}", op.number, OpKindName(op.kind));
  switch (op.kind) {
    case OpKind::kIngest:
    case OpKind::kIngestBatch:
      out += fmt::format(" {}", op.records.size());
      break;
    case OpKind::kPlan:
      out += op.mode == RevocationMode::kEnforce ? " enforce" : " advisory";
      for (const RevocationRoot& root : op.roots)
        out += fmt::format(" {},{},{}", root.ref, JournalTime(root.since), JournalTime(root.until));
      break;
    case OpKind::kApprove:
      out += fmt::format(" {} {}", op.plan_id, op.principal);
      break;
    case OpKind::kEnforce:
      out += " " + op.plan_id;
      break;
    case OpKind::kLift:
      out += " " + op.revocation;
      break;
    case OpKind::kSettings:
      out += op.advisory_only ? " 1" : " 0";
      break;
  }
  out += '\n';
  return out;
}

std::string FormatDone(const JournalOp& op) {
  if (op.result.empty()) return fmt::format("done {}\n", op.number);
  return fmt::format("done {} {}\n", op.number, op.result);
}

std::string FormatStart(uint64_t run, uint64_t seed) {
  return fmt::format("start {} {}\n", run, seed);
}

std::string PlanReason(uint64_t op) {
  return fmt::format("crash-driver op {}", op);
}

AttestationRecord ToAttestation(const JournalRecord& record) {
  AttestationRecord r;
  r.id = record.id;
  r.predicate_type = "https://slsa.dev/provenance/v1";
  r.statement_type = "https://in-toto.io/Statement/v1";
  for (const std::string& s : record.subjects)
    r.subjects.push_back(ArtifactDigests{{s}, ""});
  for (const std::string& m : record.materials)
    r.materials.push_back(ArtifactDigests{{m}, ""});
  r.builder_id = record.builder;
  if (record.key.empty()) {
    r.format = "statement";
    r.unsigned_ = true;
  } else {
    r.format = "dsse";
    VerifiedSigner signer;
    signer.key_ref = record.key;
    signer.algorithm = "ed25519";
    r.signers.push_back(std::move(signer));
  }
  r.time = absl::FromUnixSeconds(record.time);
  r.raw = fmt::format("{{\"crash-driver\":\"{}\"}}", record.id);
  return r;
}

}  // namespace lineage::crash
