#include "engine/src/encoding.h"

#include <array>
#include <limits>
#include <type_traits>

namespace lineage::internal {
namespace {

// Leading byte of an `attestations` value, so the layout can evolve without
// a format-version bump of the whole database. Tag 1 values (no signer
// evidence) are still read; new values are always written as tag 2.
constexpr char kAttestationValueTagV1 = 1;
constexpr char kAttestationValueTag = 2;

// Bytes of one evidence entry without its strings: four length prefixes,
// the log index and the time.
constexpr size_t kMinEvidenceBytes = 4 * 4 + 8 + 8;

}  // namespace

void PutFixed32(std::string* dst, uint32_t v) {
  char buf[4];
  for (int i = 3; i >= 0; --i) {
    buf[i] = static_cast<char>(v & 0xff);
    v >>= 8;
  }
  dst->append(buf, sizeof(buf));
}

void PutFixed64(std::string* dst, uint64_t v) {
  char buf[8];
  for (int i = 7; i >= 0; --i) {
    buf[i] = static_cast<char>(v & 0xff);
    v >>= 8;
  }
  dst->append(buf, sizeof(buf));
}

uint32_t DecodeFixed32(const char* p) {
  uint32_t v = 0;
  for (int i = 0; i < 4; ++i)
    v = (v << 8) | static_cast<unsigned char>(p[i]);
  return v;
}

uint64_t DecodeFixed64(const char* p) {
  uint64_t v = 0;
  for (int i = 0; i < 8; ++i)
    v = (v << 8) | static_cast<unsigned char>(p[i]);
  return v;
}

std::string EncodeFixed64(uint64_t v) {
  std::string out;
  PutFixed64(&out, v);
  return out;
}

void PutLengthPrefixed(std::string* dst, std::string_view s) {
  PutFixed32(dst, static_cast<uint32_t>(s.size()));
  dst->append(s);
}

bool GetFixed32(std::string_view* in, uint32_t* v) {
  if (in->size() < 4) return false;
  *v = DecodeFixed32(in->data());
  in->remove_prefix(4);
  return true;
}

bool GetFixed64(std::string_view* in, uint64_t* v) {
  if (in->size() < 8) return false;
  *v = DecodeFixed64(in->data());
  in->remove_prefix(8);
  return true;
}

bool GetLengthPrefixed(std::string_view* in, std::string_view* s) {
  uint32_t n = 0;
  if (!GetFixed32(in, &n) || in->size() < n) return false;
  *s = in->substr(0, n);
  in->remove_prefix(n);
  return true;
}

int64_t TimeToMicros(absl::Time t) {
  if (t == absl::InfinitePast()) return std::numeric_limits<int64_t>::min();
  if (t == absl::InfiniteFuture()) return std::numeric_limits<int64_t>::max();
  return absl::ToUnixMicros(t);
}

absl::Time MicrosToTime(int64_t micros) {
  if (micros == std::numeric_limits<int64_t>::min()) return absl::InfinitePast();
  if (micros == std::numeric_limits<int64_t>::max()) return absl::InfiniteFuture();
  return absl::FromUnixMicros(micros);
}

bool IsValidNodeKind(uint8_t kind) {
  return kind >= 1 && kind <= kNodeKindCount;
}
bool IsValidEdgeKind(uint8_t kind) {
  return kind >= 1 && kind <= kEdgeKindCount;
}

std::string EncodeNodeValue(NodeKind kind, std::string_view ref) {
  std::string out;
  out.reserve(1 + ref.size());
  out.push_back(static_cast<char>(kind));
  out.append(ref);
  return out;
}

bool DecodeNodeValue(std::string_view in, NodeKind* kind, std::string_view* ref) {
  if (in.size() < 2 || !IsValidNodeKind(static_cast<uint8_t>(in[0]))) return false;
  *kind = static_cast<NodeKind>(in[0]);
  *ref = in.substr(1);
  return true;
}

std::string EncodeEdgeKey(const EdgeKey& key) {
  std::string out;
  out.reserve(kEdgeKeySize);
  PutFixed64(&out, key.near);
  out.push_back(static_cast<char>(key.kind));
  PutFixed64(&out, key.far);
  PutFixed64(&out, key.attestation);
  return out;
}

bool DecodeEdgeKey(std::string_view in, EdgeKey* key) {
  if (in.size() != kEdgeKeySize || !IsValidEdgeKind(static_cast<uint8_t>(in[8]))) return false;
  key->near = DecodeFixed64(in.data());
  key->kind = static_cast<EdgeKind>(in[8]);
  key->far = DecodeFixed64(in.data() + 9);
  key->attestation = DecodeFixed64(in.data() + 17);
  return true;
}

std::string EncodeEdgeValue(absl::Time time) {
  return EncodeFixed64(static_cast<uint64_t>(TimeToMicros(time)));
}

bool DecodeEdgeValue(std::string_view in, absl::Time* time) {
  uint64_t v = 0;
  if (!GetFixed64(&in, &v)) return false;
  *time = MicrosToTime(static_cast<int64_t>(v));
  return true;
}

namespace {

template <typename C>
auto CounterFieldPointers(C* c) {
  using Field = std::conditional_t<std::is_const_v<C>, const uint64_t*, uint64_t*>;
  std::array<Field, kCounterCount> fields = {&c->next_node_id, &c->next_attestation,
                                             &c->edge_assertions, &c->attestations,
                                             &c->unsigned_attestations};
  for (int i = 0; i < kNodeKindCount; ++i)
    fields[5 + i] = &c->nodes_by_kind[i];
  for (int i = 0; i < kEdgeKindCount; ++i)
    fields[5 + kNodeKindCount + i] = &c->edges_by_kind[i];
  return fields;
}

}  // namespace

std::string EncodeCounters(const Counters& c) {
  std::string out;
  out.reserve(8 * kCounterCount);
  for (const uint64_t* field : CounterFieldPointers(&c))
    PutFixed64(&out, *field);
  return out;
}

bool DecodeCounters(std::string_view in, Counters* c) {
  if (in.size() != 8 * kCounterCount) return false;
  for (uint64_t* field : CounterFieldPointers(c))
    GetFixed64(&in, field);
  return true;
}

std::string EncodeAttestationValue(const StoredAttestation& a) {
  std::string out;
  out.reserve(64 + a.raw.size() + a.source.size() + a.predicate_type.size());
  out.push_back(kAttestationValueTag);
  PutFixed64(&out, a.number);
  out.push_back(a.unsigned_ ? 1 : 0);
  PutFixed64(&out, static_cast<uint64_t>(TimeToMicros(a.time)));
  PutFixed64(&out, static_cast<uint64_t>(TimeToMicros(a.ingested_at)));
  for (const std::string* s :
       {&a.format, &a.payload_type, &a.statement_type, &a.predicate_type, &a.source}) {
    PutLengthPrefixed(&out, *s);
  }
  PutFixed32(&out, static_cast<uint32_t>(a.signers.size()));
  for (const std::string& signer : a.signers)
    PutLengthPrefixed(&out, signer);
  PutFixed32(&out, static_cast<uint32_t>(a.evidence.size()));
  for (const SignerEvidence& e : a.evidence) {
    for (const std::string* s : {&e.key_ref, &e.issuer, &e.san, &e.certificate_sha256})
      PutLengthPrefixed(&out, *s);
    PutFixed64(&out, static_cast<uint64_t>(e.log_index));
    PutFixed64(&out, static_cast<uint64_t>(TimeToMicros(e.signed_at)));
  }
  PutLengthPrefixed(&out, a.raw);
  return out;
}

bool DecodeAttestationValue(std::string_view in, StoredAttestation* a) {
  if (in.empty() || (in[0] != kAttestationValueTagV1 && in[0] != kAttestationValueTag)) {
    return false;
  }
  bool has_evidence = in[0] == kAttestationValueTag;
  in.remove_prefix(1);
  uint64_t time = 0, ingested = 0;
  if (!GetFixed64(&in, &a->number) || in.empty()) return false;
  a->unsigned_ = in[0] != 0;
  in.remove_prefix(1);
  if (!GetFixed64(&in, &time) || !GetFixed64(&in, &ingested)) return false;
  a->time = MicrosToTime(static_cast<int64_t>(time));
  a->ingested_at = MicrosToTime(static_cast<int64_t>(ingested));
  std::string_view s;
  for (std::string* field :
       {&a->format, &a->payload_type, &a->statement_type, &a->predicate_type, &a->source}) {
    if (!GetLengthPrefixed(&in, &s)) return false;
    field->assign(s);
  }
  uint32_t signers = 0;
  if (!GetFixed32(&in, &signers) || signers > in.size() / 4) return false;
  a->signers.clear();
  for (uint32_t i = 0; i < signers; ++i) {
    if (!GetLengthPrefixed(&in, &s)) return false;
    a->signers.emplace_back(s);
  }
  a->evidence.clear();
  if (has_evidence) {
    uint32_t entries = 0;
    if (!GetFixed32(&in, &entries) || entries > in.size() / kMinEvidenceBytes) return false;
    for (uint32_t i = 0; i < entries; ++i) {
      SignerEvidence e;
      for (std::string* field : {&e.key_ref, &e.issuer, &e.san, &e.certificate_sha256}) {
        if (!GetLengthPrefixed(&in, &s)) return false;
        field->assign(s);
      }
      uint64_t log_index = 0, signed_at = 0;
      if (!GetFixed64(&in, &log_index) || !GetFixed64(&in, &signed_at)) return false;
      e.log_index = static_cast<int64_t>(log_index);
      e.signed_at = MicrosToTime(static_cast<int64_t>(signed_at));
      a->evidence.push_back(std::move(e));
    }
  }
  if (!GetLengthPrefixed(&in, &s)) return false;
  a->raw.assign(s);
  return in.empty();
}

void SetSigners(const std::vector<VerifiedSigner>& signers, StoredAttestation* a) {
  a->signers.clear();
  a->evidence.clear();
  for (const VerifiedSigner& signer : signers) {
    a->signers.push_back(signer.key_ref);
    if (signer.certificate_sha256.empty() && signer.log_index < 0 &&
        signer.signed_at == absl::InfinitePast()) {
      continue;
    }
    SignerEvidence e;
    e.key_ref = signer.key_ref;
    e.issuer = signer.issuer;
    e.san = signer.san;
    e.certificate_sha256 = signer.certificate_sha256;
    e.log_index = signer.log_index;
    e.signed_at = signer.signed_at;
    a->evidence.push_back(std::move(e));
  }
}

}  // namespace lineage::internal
