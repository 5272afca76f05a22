#include "ingest/src/json_util.h"

#include <algorithm>
#include <cstdint>
#include <utility>
#include <vector>

#include <fmt/format.h>

namespace lineage::ingest::json {

using simdjson::dom::array;
using simdjson::dom::element;
using simdjson::dom::element_type;
using simdjson::dom::object;

namespace {
// Keys come from the document: cap them so a megabyte key cannot turn every
// message about it into a megabyte.
constexpr size_t kMaxShownKey = 120;
}  // namespace

// Paths are built for every field visited, error or not, so these avoid
// fmt's parsing and allocate once.
std::string Join(std::string_view path, std::string_view key) {
  const bool cut = key.size() > kMaxShownKey;
  key = key.substr(0, kMaxShownKey);
  std::string out;
  out.reserve(path.size() + key.size() + 4);
  out.append(path);
  if (!path.empty()) out.push_back('.');
  out.append(key);
  if (cut) out.append("...");
  return out;
}

std::string Index(std::string_view path, size_t index) {
  char digits[24];
  char* end = digits + sizeof(digits);
  char* p = end;
  do {
    *--p = static_cast<char>('0' + index % 10);
    index /= 10;
  } while (index != 0);
  std::string out;
  out.reserve(path.size() + (end - p) + 2);
  out.append(path);
  out.push_back('[');
  out.append(p, end);
  out.push_back(']');
  return out;
}

std::string MapKey(std::string_view path, std::string_view key) {
  if (key.size() > kMaxShownKey) {
    return fmt::format("{}[\"{}...\"]", path, key.substr(0, kMaxShownKey));
  }
  return fmt::format("{}[\"{}\"]", path, key);
}

absl::Status Error(std::string_view path, std::string_view what) {
  if (path.empty()) return absl::InvalidArgumentError(std::string(what));
  return absl::InvalidArgumentError(fmt::format("{}: {}", path, what));
}

std::string_view TypeName(const element& e) {
  switch (e.type()) {
    case element_type::ARRAY:
      return "array";
    case element_type::OBJECT:
      return "object";
    case element_type::INT64:
    case element_type::UINT64:
    case element_type::DOUBLE:
      return "number";
    case element_type::STRING:
      return "string";
    case element_type::BOOL:
      return "boolean";
    case element_type::NULL_VALUE:
      return "null";
  }
  return "unknown";
}

absl::StatusOr<element> Parse(simdjson::dom::parser& parser, std::string_view text,
                              std::string_view what) {
  element root;
  simdjson::error_code error = parser.parse(text.data(), text.size()).get(root);
  if (error != simdjson::SUCCESS) {
    return absl::InvalidArgumentError(
        fmt::format("{} is not valid JSON: {}", what, simdjson::error_message(error)));
  }
  return root;
}

absl::Status AsObject(const element& e, std::string_view path, object* out) {
  if (e.get_object().get(*out) != simdjson::SUCCESS) {
    return Error(path, fmt::format("expected an object, got {}", TypeName(e)));
  }
  return absl::OkStatus();
}

absl::Status AsArray(const element& e, std::string_view path, array* out) {
  if (e.get_array().get(*out) != simdjson::SUCCESS) {
    return Error(path, fmt::format("expected an array, got {}", TypeName(e)));
  }
  return absl::OkStatus();
}

absl::Status AsString(const element& e, std::string_view path, std::string_view* out) {
  if (e.get_string().get(*out) != simdjson::SUCCESS) {
    return Error(path, fmt::format("expected a string, got {}", TypeName(e)));
  }
  return absl::OkStatus();
}

absl::Status Find(const object& o, std::string_view path, std::string_view key,
                  std::optional<element>* out) {
  out->reset();
  for (simdjson::dom::key_value_pair field : o) {
    if (field.key != key) continue;
    if (out->has_value()) return Error(Join(path, key), "duplicate key");
    *out = field.value;
  }
  return absl::OkStatus();
}

absl::Status FindString(const object& o, std::string_view path, std::string_view key,
                        std::optional<std::string_view>* out) {
  out->reset();
  std::optional<element> e;
  LINEAGE_RETURN_IF_ERROR(Find(o, path, key, &e));
  if (!e || e->is_null()) return absl::OkStatus();
  std::string_view s;
  LINEAGE_RETURN_IF_ERROR(AsString(*e, Join(path, key), &s));
  *out = s;
  return absl::OkStatus();
}

absl::Status FindObject(const object& o, std::string_view path, std::string_view key,
                        std::optional<object>* out) {
  out->reset();
  std::optional<element> e;
  LINEAGE_RETURN_IF_ERROR(Find(o, path, key, &e));
  if (!e || e->is_null()) return absl::OkStatus();
  object value;
  LINEAGE_RETURN_IF_ERROR(AsObject(*e, Join(path, key), &value));
  *out = value;
  return absl::OkStatus();
}

absl::Status FindArray(const object& o, std::string_view path, std::string_view key,
                       std::optional<array>* out) {
  out->reset();
  std::optional<element> e;
  LINEAGE_RETURN_IF_ERROR(Find(o, path, key, &e));
  if (!e || e->is_null()) return absl::OkStatus();
  array value;
  LINEAGE_RETURN_IF_ERROR(AsArray(*e, Join(path, key), &value));
  *out = value;
  return absl::OkStatus();
}

absl::Status CheckNoDuplicateKeys(const object& o, std::string_view path) {
  std::vector<std::string_view> keys;
  keys.reserve(o.size());
  for (simdjson::dom::key_value_pair field : o)
    keys.push_back(field.key);
  std::sort(keys.begin(), keys.end());
  auto dup = std::adjacent_find(keys.begin(), keys.end());
  if (dup != keys.end()) return Error(Join(path, *dup), "duplicate key");
  return absl::OkStatus();
}

namespace {

void AppendCanonicalString(std::string_view s, std::string* out) {
  out->push_back('"');
  for (char c : s) {
    if (c == '"' || c == '\\') out->push_back('\\');
    out->push_back(c);
  }
  out->push_back('"');
}

// The switch below reads each element as the type it reported; failing that
// would be a simdjson bug, not bad input.
absl::Status TypeMismatch() {
  return absl::InternalError("JSON element changed type");
}

absl::Status AppendCanonical(const element& e, std::string* out) {
  switch (e.type()) {
    case element_type::OBJECT: {
      object o;
      if (e.get_object().get(o) != simdjson::SUCCESS) return TypeMismatch();
      std::vector<std::pair<std::string_view, element>> fields;
      fields.reserve(o.size());
      for (simdjson::dom::key_value_pair field : o)
        fields.emplace_back(field.key, field.value);
      // std::string_view compares as unsigned bytes (char_traits<char>), and
      // UTF-8 byte order is code point order, which is what Python sorts by.
      std::sort(fields.begin(), fields.end(),
                [](const auto& a, const auto& b) { return a.first < b.first; });
      out->push_back('{');
      for (size_t i = 0; i < fields.size(); ++i) {
        if (i > 0 && fields[i].first == fields[i - 1].first) {
          return Error(MapKey("", fields[i].first), "duplicate key");
        }
        if (i > 0) out->push_back(',');
        AppendCanonicalString(fields[i].first, out);
        out->push_back(':');
        LINEAGE_RETURN_IF_ERROR(AppendCanonical(fields[i].second, out));
      }
      out->push_back('}');
      return absl::OkStatus();
    }
    case element_type::ARRAY: {
      array a;
      if (e.get_array().get(a) != simdjson::SUCCESS) return TypeMismatch();
      out->push_back('[');
      bool first = true;
      for (element item : a) {
        if (!first) out->push_back(',');
        first = false;
        LINEAGE_RETURN_IF_ERROR(AppendCanonical(item, out));
      }
      out->push_back(']');
      return absl::OkStatus();
    }
    case element_type::STRING: {
      std::string_view s;
      if (e.get_string().get(s) != simdjson::SUCCESS) return TypeMismatch();
      AppendCanonicalString(s, out);
      return absl::OkStatus();
    }
    case element_type::INT64: {
      int64_t v = 0;
      if (e.get_int64().get(v) != simdjson::SUCCESS) return TypeMismatch();
      fmt::format_to(std::back_inserter(*out), "{}", v);
      return absl::OkStatus();
    }
    case element_type::UINT64: {
      uint64_t v = 0;
      if (e.get_uint64().get(v) != simdjson::SUCCESS) return TypeMismatch();
      fmt::format_to(std::back_inserter(*out), "{}", v);
      return absl::OkStatus();
    }
    case element_type::DOUBLE:
      // securesystemslib refuses floats: their text form is not canonical.
      return absl::InvalidArgumentError("canonical JSON allows integers only, found a float");
    case element_type::BOOL: {
      bool v = false;
      if (e.get_bool().get(v) != simdjson::SUCCESS) return TypeMismatch();
      out->append(v ? "true" : "false");
      return absl::OkStatus();
    }
    case element_type::NULL_VALUE:
      out->append("null");
      return absl::OkStatus();
  }
  return absl::InternalError("unknown JSON element type");
}

}  // namespace

absl::StatusOr<std::string> Canonicalize(const element& e) {
  std::string out;
  LINEAGE_RETURN_IF_ERROR(AppendCanonical(e, &out));
  return out;
}

}  // namespace lineage::ingest::json
