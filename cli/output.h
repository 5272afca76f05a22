// Output helpers for the lineage CLI: a small streaming JSON writer and time
// formatting. Data goes to stdout, diagnostics to stderr (see commands.h).
#pragma once

#include <cstdint>
#include <cstdio>
#include <string>
#include <string_view>
#include <vector>

#include "absl/time/time.h"

namespace lineage {
struct SignerEvidence;  // engine/include/lineage/attestation.h
}  // namespace lineage

namespace lineage::cli {

// Appends JSON to a string. Tracks commas itself; the caller nests Begin/End
// calls correctly (an unbalanced writer is our bug, not the user's).
//
//   JsonWriter w;
//   w.BeginObject();
//   w.Key("count"); w.Uint(3);
//   w.EndObject();
//   std::string text = w.Take();
class JsonWriter {
 public:
  void BeginObject();
  void EndObject();
  void BeginArray();
  void EndArray();
  void Key(std::string_view key);
  void String(std::string_view value);
  void Uint(uint64_t value);
  void Int(int64_t value);
  void Bool(bool value);
  void Null();
  // A finite number in its shortest round-trip form; NaN and infinities
  // (which JSON cannot hold) are written as null.
  void Double(double value);
  // An RFC 3339 UTC time, or null for absl::InfinitePast() ("unknown").
  void Time(absl::Time time);

  // Shorthands for one member.
  void Member(std::string_view key, std::string_view value) { Key(key), String(value); }
  void Member(std::string_view key, const char* value) { Key(key), String(value); }
  void MemberUint(std::string_view key, uint64_t value) { Key(key), Uint(value); }
  void MemberBool(std::string_view key, bool value) { Key(key), Bool(value); }

  std::string Take();

 private:
  void Separate();
  std::string out_;
  std::vector<bool> first_;  // per open container: no member written yet
  bool after_key_ = false;
};

// Appends `value` as a JSON string literal (quoted, escaped) to `out`.
void AppendJsonString(std::string& out, std::string_view value);

// "2024-01-02T03:04:05Z", or "unknown" for absl::InfinitePast().
std::string TimeText(absl::Time time);

// Shortens a long ref for tables: keeps the prefix and the first `keep`
// characters of the value, then "…". Used only for human output.
std::string Abbreviate(std::string_view ref, size_t max_width);

// One signature's evidence (lineage show, lineage why) as a JSON object:
// key, issuer, san, certificate_sha256 (empty strings for a key-based
// signer), log_index (null when none) and signed_at (null when unknown).
void WriteSignerEvidence(JsonWriter& w, const SignerEvidence& evidence);

// The same on one line for people: "certificate sha256:<hex>, log index 12,
// signed at 2024-...".
std::string SignerEvidenceText(const SignerEvidence& evidence);

}  // namespace lineage::cli
