// Evidence records and the append-only audit log chained by SHA-256.
//
// Every revocation action (plan, approve, enforce, lift, settings) writes, in
// its own WriteBatch, an evidence record and an audit entry under the same
// sequence number. The entry holds the SHA-256 of the evidence bytes and of
// the previous entry, so editing, deleting, inserting or reordering either
// breaks the chain that VerifyAudit re-hashes.
#include <openssl/evp.h>

#include <map>
#include <mutex>
#include <shared_mutex>

#include <rocksdb/db.h>
#include <rocksdb/iterator.h>

#include "absl/status/status.h"

#include <fmt/format.h>

#include "engine/src/store_impl.h"

namespace lineage::internal {
namespace {

const std::string kGenesisHash(64, '0');

}  // namespace

std::string Sha256Hex(std::string_view data) {
  unsigned char digest[EVP_MAX_MD_SIZE];
  unsigned int size = 0;
  // SHA-256 over a memory buffer cannot fail short of memory exhaustion,
  // where OpenSSL aborts anyway.
  EVP_Digest(data.data(), data.size(), digest, &size, EVP_sha256(), nullptr);
  std::string hex;
  hex.reserve(size * 2);
  for (unsigned int i = 0; i < size; ++i)
    hex += fmt::format("{:02x}", digest[i]);
  return hex;
}

void StoreImpl::AppendAudit(PendingBatch* pb, const StoredEvidence& evidence,
                            std::string_view subject) {
  if (pb->audit_seq == 0) {
    pb->audit_seq = audit_seq_;
    pb->audit_head = audit_head_.empty() ? kGenesisHash : audit_head_;
  }
  uint64_t seq = ++pb->audit_seq;
  std::string evidence_bytes = EncodeEvidence(evidence);

  StoredAudit entry;
  entry.time = evidence.time;
  entry.actor = evidence.actor;
  entry.action = evidence.action;
  entry.subject = std::string(subject);
  entry.evidence_hash = Sha256Hex(evidence_bytes);
  entry.prev_hash = pb->audit_head;
  entry.hash = Sha256Hex(AuditHashInput(seq, entry));
  pb->audit_head = entry.hash;

  std::string key = EncodeFixed64(seq);
  pb->batch.Put(cf(kEvidence), key, evidence_bytes);
  pb->batch.Put(cf(kAudit), key, EncodeAudit(entry));
  pb->install_taint.push_back([this, seq, hash = entry.hash] {
    audit_seq_ = seq;
    audit_head_ = hash;
  });
}

absl::StatusOr<std::vector<EvidenceRecord>> StoreImpl::Evidence(
    std::string_view revocation_or_plan) {
  // A revocation's evidence includes its plan's (the review and approvals).
  std::string revocation, plan_id;
  if (uint64_t number = ParseRevocationId(revocation_or_plan); number != 0) {
    absl::StatusOr<StoredRevocation> rev = ReadRevocation(number);
    if (!rev.ok()) return rev.status();
    revocation = std::string(revocation_or_plan);
    plan_id = rev->plan_id;
  } else {
    absl::StatusOr<StoredPlan> plan = ReadPlan(revocation_or_plan);
    if (!plan.ok()) return plan.status();
    plan_id = std::string(revocation_or_plan);
    revocation = plan->revocation;
  }

  std::vector<EvidenceRecord> records;
  std::unique_ptr<rocksdb::Iterator> it(db_->NewIterator(rocksdb::ReadOptions(), cf(kEvidence)));
  for (it->SeekToFirst(); it->Valid(); it->Next()) {
    StoredEvidence e;
    if (it->key().size() != 8 ||
        !DecodeEvidence(std::string_view(it->value().data(), it->value().size()), &e)) {
      return absl::DataLossError("malformed evidence record");
    }
    bool ours = (!plan_id.empty() && e.plan_id == plan_id) ||
                (!revocation.empty() && e.revocation == revocation);
    if (!ours) continue;
    EvidenceRecord r;
    r.seq = DecodeFixed64(it->key().data());
    r.action = std::move(e.action);
    r.actor = std::move(e.actor);
    r.time = e.time;
    r.plan_id = std::move(e.plan_id);
    r.revocation = std::move(e.revocation);
    r.roots = std::move(e.roots);
    r.reason = std::move(e.reason);
    r.mode = e.mode;
    r.artifacts = RefsOf(e.artifacts, SIZE_MAX);
    r.artifacts.insert(r.artifacts.end(), e.unknown_digests.begin(), e.unknown_digests.end());
    std::sort(r.artifacts.begin(), r.artifacts.end());
    r.workloads = RefsOf(e.workloads, SIZE_MAX);
    r.duration = e.duration;
    r.deny_seq = e.deny_seq;
    r.details = std::move(e.details);
    records.push_back(std::move(r));
  }
  if (!it->status().ok()) return FromRocks(it->status(), "scan evidence");
  return records;
}

absl::StatusOr<std::vector<AuditEntry>> StoreImpl::AuditLog(uint64_t from_seq, size_t max) {
  std::vector<AuditEntry> entries;
  std::unique_ptr<rocksdb::Iterator> it(db_->NewIterator(rocksdb::ReadOptions(), cf(kAudit)));
  for (it->Seek(EncodeFixed64(from_seq)); it->Valid() && entries.size() < max; it->Next()) {
    StoredAudit a;
    if (it->key().size() != 8 ||
        !DecodeAudit(std::string_view(it->value().data(), it->value().size()), &a)) {
      return absl::DataLossError("malformed audit entry");
    }
    AuditEntry e;
    e.seq = DecodeFixed64(it->key().data());
    e.time = a.time;
    e.actor = std::move(a.actor);
    e.action = std::move(a.action);
    e.subject = std::move(a.subject);
    e.evidence_hash = std::move(a.evidence_hash);
    e.prev_hash = std::move(a.prev_hash);
    e.hash = std::move(a.hash);
    entries.push_back(std::move(e));
  }
  if (!it->status().ok()) return FromRocks(it->status(), "scan audit log");
  return entries;
}

absl::StatusOr<AuditVerification> StoreImpl::VerifyAudit() {
  AuditVerification v;
  // A consistent view of both column families: a writer appending meanwhile
  // is not mistaken for a gap.
  const rocksdb::Snapshot* snapshot = db_->GetSnapshot();
  rocksdb::ReadOptions read;
  read.snapshot = snapshot;

  std::map<uint64_t, std::string> evidence_hashes;
  {
    std::unique_ptr<rocksdb::Iterator> it(db_->NewIterator(read, cf(kEvidence)));
    for (it->SeekToFirst(); it->Valid(); it->Next()) {
      if (it->key().size() != 8) {
        v.problems.push_back("an evidence record has a malformed key");
        continue;
      }
      evidence_hashes[DecodeFixed64(it->key().data())] =
          Sha256Hex(std::string_view(it->value().data(), it->value().size()));
    }
    if (!it->status().ok()) {
      db_->ReleaseSnapshot(snapshot);
      return FromRocks(it->status(), "scan evidence");
    }
  }

  std::string prev = kGenesisHash;
  uint64_t expected = 1;
  std::unique_ptr<rocksdb::Iterator> it(db_->NewIterator(read, cf(kAudit)));
  for (it->SeekToFirst(); it->Valid(); it->Next()) {
    if (it->key().size() != 8) {
      v.problems.push_back("an audit entry has a malformed key");
      continue;
    }
    uint64_t seq = DecodeFixed64(it->key().data());
    if (seq != expected) {
      v.problems.push_back(
          fmt::format("entry {}: expected entry {} here; entries are missing", seq, expected));
    }
    expected = seq + 1;
    v.entries++;
    StoredAudit a;
    if (!DecodeAudit(std::string_view(it->value().data(), it->value().size()), &a)) {
      v.problems.push_back(fmt::format("entry {}: malformed", seq));
      continue;
    }
    if (a.prev_hash != prev) {
      v.problems.push_back(fmt::format(
          "entry {}: does not follow the previous entry (deleted, inserted or reordered)", seq));
    }
    if (Sha256Hex(AuditHashInput(seq, a)) != a.hash) {
      v.problems.push_back(
          fmt::format("entry {}: its hash does not match its contents (edited)", seq));
    }
    auto e = evidence_hashes.find(seq);
    if (e == evidence_hashes.end()) {
      v.problems.push_back(fmt::format("entry {}: its evidence record is missing", seq));
    } else {
      if (e->second != a.evidence_hash) {
        v.problems.push_back(fmt::format("entry {}: its evidence record was edited", seq));
      }
      evidence_hashes.erase(e);
    }
    prev = a.hash;
    v.head_hash = a.hash;
  }
  absl::Status status = FromRocks(it->status(), "scan audit log");
  db_->ReleaseSnapshot(snapshot);
  if (!status.ok()) return status;
  for (const auto& [seq, hash] : evidence_hashes) {
    v.problems.push_back(fmt::format("evidence record {} has no audit entry", seq));
  }
  // Limitation: removing the newest entries together with their evidence
  // leaves a shorter chain that verifies. Only an anchor kept elsewhere (the
  // head hash printed here) reveals that truncation.
  v.ok = v.problems.empty();
  return v;
}

}  // namespace lineage::internal
