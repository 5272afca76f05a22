#include "engine/src/revocation_records.h"

#include <charconv>
#include <exception>

#include <fmt/format.h>

#include "engine/src/encoding.h"

namespace lineage::internal {
namespace {

// Bounds on counts read from disk, so that a corrupt length cannot make a
// decoder reserve gigabytes.
constexpr uint32_t kMaxListEntries = 1u << 24;

class Writer {
 public:
  void U8(uint8_t v) { out_.push_back(static_cast<char>(v)); }
  void U32(uint32_t v) { PutFixed32(&out_, v); }
  void U64(uint64_t v) { PutFixed64(&out_, v); }
  void Time(absl::Time t) { U64(static_cast<uint64_t>(TimeToMicros(t))); }
  void Str(std::string_view s) { PutLengthPrefixed(&out_, s); }
  void Bitmap(const Roaring& bitmap) {
    // Run containers make dense id ranges (a closure of consecutive ids) a
    // few bytes; the copy keeps the caller's bitmap const.
    Roaring copy = bitmap;
    copy.runOptimize();
    std::string bytes(copy.getSizeInBytes(/*portable=*/true), '\0');
    copy.write(bytes.data(), /*portable=*/true);
    Str(bytes);
  }
  void Roots(const std::vector<RevocationRoot>& roots) {
    U32(static_cast<uint32_t>(roots.size()));
    for (const RevocationRoot& r : roots) {
      Str(r.ref);
      Time(r.since);
      Time(r.until);
    }
  }
  void Approvals(const std::vector<Approval>& approvals) {
    U32(static_cast<uint32_t>(approvals.size()));
    for (const Approval& a : approvals) {
      Str(a.principal);
      Time(a.time);
    }
  }
  void Strings(const std::vector<std::string>& list) {
    U32(static_cast<uint32_t>(list.size()));
    for (const std::string& s : list)
      Str(s);
  }
  std::string Take() { return std::move(out_); }

 private:
  std::string out_;
};

// Reads fields in order; the first failure latches, so a decoder checks
// ok() once at the end.
class Reader {
 public:
  explicit Reader(std::string_view in) : in_(in) {}

  bool ok() const { return ok_; }
  bool done() const { return ok_ && in_.empty(); }

  uint8_t U8() {
    if (!ok_ || in_.empty()) return Fail(), 0;
    uint8_t v = static_cast<uint8_t>(in_[0]);
    in_.remove_prefix(1);
    return v;
  }
  uint32_t U32() {
    uint32_t v = 0;
    if (ok_ && !GetFixed32(&in_, &v)) Fail();
    return v;
  }
  uint64_t U64() {
    uint64_t v = 0;
    if (ok_ && !GetFixed64(&in_, &v)) Fail();
    return v;
  }
  absl::Time Time() { return MicrosToTime(static_cast<int64_t>(U64())); }
  std::string Str() {
    std::string_view s;
    if (ok_ && !GetLengthPrefixed(&in_, &s)) Fail();
    return std::string(s);
  }
  uint32_t Count() {
    uint32_t n = U32();
    if (n > kMaxListEntries) Fail();
    return ok_ ? n : 0;
  }
  Roaring Bitmap() {
    std::string_view bytes;
    if (!ok_ || !GetLengthPrefixed(&in_, &bytes)) return Fail(), Roaring();
    try {
      return Roaring::readSafe(bytes.data(), bytes.size());
    } catch (const std::exception&) {
      // readSafe reports malformed input by throwing.
      Fail();
      return Roaring();
    }
  }
  std::vector<RevocationRoot> Roots() {
    std::vector<RevocationRoot> roots(Count());
    for (RevocationRoot& r : roots) {
      r.ref = Str();
      r.since = Time();
      r.until = Time();
    }
    return roots;
  }
  std::vector<Approval> Approvals() {
    std::vector<Approval> approvals(Count());
    for (Approval& a : approvals) {
      a.principal = Str();
      a.time = Time();
    }
    return approvals;
  }
  std::vector<std::string> Strings() {
    std::vector<std::string> list(Count());
    for (std::string& s : list)
      s = Str();
    return list;
  }
  RevocationMode Mode() {
    uint8_t m = U8();
    if (m != 1 && m != 2) Fail();
    return static_cast<RevocationMode>(m);
  }
  bool Version() { return U8() == kRecordVersion && ok_; }

 private:
  void Fail() { ok_ = false; }
  std::string_view in_;
  bool ok_ = true;
};

}  // namespace

std::string EncodePlan(const StoredPlan& p) {
  Writer w;
  w.U8(kRecordVersion);
  w.Roots(p.roots);
  w.Str(p.reason);
  w.U8(static_cast<uint8_t>(p.mode));
  w.Str(p.created_by);
  w.Time(p.created_at);
  w.U8(p.bulk ? 1 : 0);
  w.U8(static_cast<uint8_t>(p.state));
  w.Str(p.revocation);
  w.Approvals(p.approvals);
  w.Bitmap(p.artifacts);
  w.Bitmap(p.workloads);
  w.Strings(p.unknown_digests);
  w.U32(static_cast<uint32_t>(p.per_root.size()));
  for (const RootSummary& r : p.per_root) {
    w.Str(r.ref);
    w.U8(static_cast<uint8_t>(r.kind));
    w.U8(r.known ? 1 : 0);
    w.U64(r.subjects);
    w.U64(r.artifacts);
    w.U64(r.shared);
  }
  w.U32(static_cast<uint32_t>(p.by_depth.size()));
  for (uint64_t n : p.by_depth)
    w.U64(n);
  w.U64(p.generation);
  return w.Take();
}

bool DecodePlan(std::string_view in, StoredPlan* p) {
  Reader r(in);
  if (!r.Version()) return false;
  p->roots = r.Roots();
  p->reason = r.Str();
  p->mode = r.Mode();
  p->created_by = r.Str();
  p->created_at = r.Time();
  p->bulk = r.U8() != 0;
  uint8_t state = r.U8();
  if (state != 1 && state != 2) return false;
  p->state = static_cast<PlanState>(state);
  p->revocation = r.Str();
  p->approvals = r.Approvals();
  p->artifacts = r.Bitmap();
  p->workloads = r.Bitmap();
  p->unknown_digests = r.Strings();
  p->per_root.resize(r.Count());
  for (RootSummary& s : p->per_root) {
    s.ref = r.Str();
    uint8_t kind = r.U8();
    if (!IsValidNodeKind(kind)) return false;
    s.kind = static_cast<NodeKind>(kind);
    s.known = r.U8() != 0;
    s.subjects = r.U64();
    s.artifacts = r.U64();
    s.shared = r.U64();
  }
  p->by_depth.resize(r.Count());
  for (uint64_t& n : p->by_depth)
    n = r.U64();
  p->generation = r.U64();
  return r.done();
}

std::string EncodeRevocation(const StoredRevocation& v) {
  Writer w;
  w.U8(kRecordVersion);
  w.Str(v.plan_id);
  w.Roots(v.roots);
  w.Str(v.reason);
  w.U8(static_cast<uint8_t>(v.mode));
  w.Str(v.created_by);
  w.Approvals(v.approvals);
  w.Str(v.enforced_by);
  w.Time(v.enforced_at);
  w.U64(v.enforced_seq);
  w.U8(static_cast<uint8_t>(v.state));
  w.Str(v.lifted_by);
  w.Time(v.lifted_at);
  w.Str(v.lift_reason);
  return w.Take();
}

bool DecodeRevocation(std::string_view in, StoredRevocation* v) {
  Reader r(in);
  if (!r.Version()) return false;
  v->plan_id = r.Str();
  v->roots = r.Roots();
  v->reason = r.Str();
  v->mode = r.Mode();
  v->created_by = r.Str();
  v->approvals = r.Approvals();
  v->enforced_by = r.Str();
  v->enforced_at = r.Time();
  v->enforced_seq = r.U64();
  uint8_t state = r.U8();
  if (state != 1 && state != 2) return false;
  v->state = static_cast<RevocationState>(state);
  v->lifted_by = r.Str();
  v->lifted_at = r.Time();
  v->lift_reason = r.Str();
  return r.done();
}

std::string EncodeDenyRecord(const DenyRecord& d) {
  Writer w;
  w.U8(kRecordVersion);
  w.Time(d.time);
  w.Str(d.cause);
  w.U32(static_cast<uint32_t>(d.additions.size()));
  for (const auto& [number, nodes] : d.additions) {
    w.U64(number);
    w.Bitmap(nodes);
  }
  w.Bitmap(d.denied_added);
  w.Bitmap(d.denied_removed);
  w.U32(static_cast<uint32_t>(d.lifted.size()));
  for (uint64_t n : d.lifted)
    w.U64(n);
  w.U8(d.advisory_only);
  return w.Take();
}

bool DecodeDenyRecord(std::string_view in, DenyRecord* d) {
  Reader r(in);
  if (!r.Version()) return false;
  d->time = r.Time();
  d->cause = r.Str();
  d->additions.resize(r.Count());
  for (auto& [number, nodes] : d->additions) {
    number = r.U64();
    nodes = r.Bitmap();
  }
  d->denied_added = r.Bitmap();
  d->denied_removed = r.Bitmap();
  d->lifted.resize(r.Count());
  for (uint64_t& n : d->lifted)
    n = r.U64();
  d->advisory_only = r.U8();
  return d->advisory_only <= 2 && r.done();
}

std::string EncodeEvidence(const StoredEvidence& e) {
  Writer w;
  w.U8(kRecordVersion);
  w.Str(e.action);
  w.Str(e.actor);
  w.Time(e.time);
  w.Str(e.plan_id);
  w.Str(e.revocation);
  w.Roots(e.roots);
  w.Str(e.reason);
  w.U8(static_cast<uint8_t>(e.mode));
  w.Bitmap(e.artifacts);
  w.Strings(e.unknown_digests);
  w.Bitmap(e.workloads);
  w.U64(static_cast<uint64_t>(absl::ToInt64Microseconds(e.duration)));
  w.U64(e.deny_seq);
  w.Str(e.details);
  return w.Take();
}

bool DecodeEvidence(std::string_view in, StoredEvidence* e) {
  Reader r(in);
  if (!r.Version()) return false;
  e->action = r.Str();
  e->actor = r.Str();
  e->time = r.Time();
  e->plan_id = r.Str();
  e->revocation = r.Str();
  e->roots = r.Roots();
  e->reason = r.Str();
  e->mode = r.Mode();
  e->artifacts = r.Bitmap();
  e->unknown_digests = r.Strings();
  e->workloads = r.Bitmap();
  e->duration = absl::Microseconds(static_cast<int64_t>(r.U64()));
  e->deny_seq = r.U64();
  e->details = r.Str();
  return r.done();
}

std::string EncodeAudit(const StoredAudit& a) {
  Writer w;
  w.U8(kRecordVersion);
  w.Time(a.time);
  w.Str(a.actor);
  w.Str(a.action);
  w.Str(a.subject);
  w.Str(a.evidence_hash);
  w.Str(a.prev_hash);
  w.Str(a.hash);
  return w.Take();
}

bool DecodeAudit(std::string_view in, StoredAudit* a) {
  Reader r(in);
  if (!r.Version()) return false;
  a->time = r.Time();
  a->actor = r.Str();
  a->action = r.Str();
  a->subject = r.Str();
  a->evidence_hash = r.Str();
  a->prev_hash = r.Str();
  a->hash = r.Str();
  return r.done();
}

std::string AuditHashInput(uint64_t seq, const StoredAudit& a) {
  Writer w;
  w.Str("lineage-audit-v1");
  w.U64(seq);
  w.Time(a.time);
  w.Str(a.actor);
  w.Str(a.action);
  w.Str(a.subject);
  w.Str(a.evidence_hash);
  w.Str(a.prev_hash);
  return w.Take();
}

std::string EncodeSettings(const RevocationSettings& s) {
  Writer w;
  w.U8(kRecordVersion);
  w.U8(s.advisory_only ? 1 : 0);
  w.U64(s.bulk_threshold);
  return w.Take();
}

bool DecodeSettings(std::string_view in, RevocationSettings* s) {
  Reader r(in);
  if (!r.Version()) return false;
  s->advisory_only = r.U8() != 0;
  s->bulk_threshold = r.U64();
  return r.done();
}

std::string RevocationId(uint64_t number) {
  return fmt::format("rev-{}", number);
}

uint64_t ParseRevocationId(std::string_view id) {
  if (id.substr(0, 4) != "rev-" || id.size() == 4 || id.size() > 24) return 0;
  uint64_t n = 0;
  auto [end, ec] = std::from_chars(id.data() + 4, id.data() + id.size(), n);
  if (ec != std::errc() || end != id.data() + id.size()) return 0;
  return n;
}

}  // namespace lineage::internal
