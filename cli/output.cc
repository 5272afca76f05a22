#include "cli/output.h"

#include <cmath>

#include <fmt/format.h>

#include "engine/include/lineage/attestation.h"

namespace lineage::cli {

void AppendJsonString(std::string& out, std::string_view value) {
  out += '"';
  for (unsigned char c : value) {
    switch (c) {
      case '"':
        out += "\\\"";
        break;
      case '\\':
        out += "\\\\";
        break;
      case '\n':
        out += "\\n";
        break;
      case '\r':
        out += "\\r";
        break;
      case '\t':
        out += "\\t";
        break;
      default:
        if (c < 0x20) {
          out += fmt::format("\\u{:04x}", c);
        } else {
          out += static_cast<char>(c);
        }
    }
  }
  out += '"';
}

void JsonWriter::Separate() {
  if (after_key_) {
    after_key_ = false;
    return;
  }
  if (!first_.empty()) {
    if (!first_.back()) out_ += ',';
    first_.back() = false;
  }
}

void JsonWriter::BeginObject() {
  Separate();
  out_ += '{';
  first_.push_back(true);
}

void JsonWriter::EndObject() {
  out_ += '}';
  first_.pop_back();
}

void JsonWriter::BeginArray() {
  Separate();
  out_ += '[';
  first_.push_back(true);
}

void JsonWriter::EndArray() {
  out_ += ']';
  first_.pop_back();
}

void JsonWriter::Key(std::string_view key) {
  Separate();
  AppendJsonString(out_, key);
  out_ += ':';
  after_key_ = true;
}

void JsonWriter::String(std::string_view value) {
  Separate();
  AppendJsonString(out_, value);
}

void JsonWriter::Uint(uint64_t value) {
  Separate();
  out_ += fmt::format("{}", value);
}

void JsonWriter::Int(int64_t value) {
  Separate();
  out_ += fmt::format("{}", value);
}

void JsonWriter::Bool(bool value) {
  Separate();
  out_ += value ? "true" : "false";
}

void JsonWriter::Null() {
  Separate();
  out_ += "null";
}

void JsonWriter::Double(double value) {
  if (!std::isfinite(value)) return Null();
  Separate();
  out_ += fmt::format("{}", value);
}

void JsonWriter::Time(absl::Time time) {
  if (time == absl::InfinitePast()) {
    Null();
  } else {
    String(TimeText(time));
  }
}

std::string JsonWriter::Take() {
  std::string result = std::move(out_);
  out_.clear();
  first_.clear();
  after_key_ = false;
  return result;
}

std::string TimeText(absl::Time time) {
  if (time == absl::InfinitePast()) return "unknown";
  return absl::FormatTime("%Y-%m-%dT%H:%M:%E*SZ", time, absl::UTCTimeZone());
}

std::string Abbreviate(std::string_view ref, size_t max_width) {
  if (ref.size() <= max_width || max_width < 8) return std::string(ref);
  return fmt::format("{}…", ref.substr(0, max_width - 1));
}

void WriteSignerEvidence(JsonWriter& w, const SignerEvidence& evidence) {
  w.BeginObject();
  w.Member("key", evidence.key_ref);
  w.Member("issuer", evidence.issuer);
  w.Member("san", evidence.san);
  w.Member("certificate_sha256", evidence.certificate_sha256);
  w.Key("log_index");
  if (evidence.log_index >= 0) {
    w.Int(evidence.log_index);
  } else {
    w.Null();
  }
  w.Key("signed_at");
  w.Time(evidence.signed_at);
  w.EndObject();
}

std::string SignerEvidenceText(const SignerEvidence& evidence) {
  std::string text;
  if (evidence.keyless())
    text = fmt::format("certificate sha256:{}, ", evidence.certificate_sha256);
  text += evidence.log_index >= 0 ? fmt::format("log index {}", evidence.log_index)
                                  : std::string("no log entry");
  text += fmt::format(", signed at {}", TimeText(evidence.signed_at));
  return text;
}

}  // namespace lineage::cli
