// Internal helpers over simdjson's DOM for the ingest parsers: typed field
// lookups that name the field on every error, duplicate-key rejection, and
// canonical JSON. Not part of the public API.
#pragma once

#include <optional>
#include <string>
#include <string_view>

#include "absl/status/status.h"
#include "absl/status/statusor.h"

#include <simdjson.h>

namespace lineage::ingest::json {

// Returns early with a non-OK status. Debian's abseil predates
// ABSL_RETURN_IF_ERROR, hence our own.
#define LINEAGE_RETURN_IF_ERROR(expr)                  \
  do {                                                 \
    absl::Status lineage_status_ = (expr);             \
    if (!lineage_status_.ok()) return lineage_status_; \
  } while (0)

// "a.b" from ("a", "b"); "b" when the parent path is empty.
std::string Join(std::string_view path, std::string_view key);
// "a[3]" from ("a", 3).
std::string Index(std::string_view path, size_t index);
// "a[\"key\"]" from ("a", "key"): for maps keyed by file names, which may
// hold dots.
std::string MapKey(std::string_view path, std::string_view key);

// InvalidArgument "<path>: <what>", or "<what>" when the path is empty.
absl::Status Error(std::string_view path, std::string_view what);

// "string", "object", ...: for "expected X, got Y" messages.
std::string_view TypeName(const simdjson::dom::element& element);

// Parses `text` into `parser`'s document. The element borrows the parser's
// buffers: it is valid until the parser parses again or is destroyed.
absl::StatusOr<simdjson::dom::element> Parse(simdjson::dom::parser& parser, std::string_view text,
                                             std::string_view what);

// Typed accessors. `path` names the element (or the object holding `key`) in
// errors. A wrong JSON type is InvalidArgument naming the field.
absl::Status AsObject(const simdjson::dom::element& element, std::string_view path,
                      simdjson::dom::object* out);
absl::Status AsArray(const simdjson::dom::element& element, std::string_view path,
                     simdjson::dom::array* out);
absl::Status AsString(const simdjson::dom::element& element, std::string_view path,
                      std::string_view* out);

// Finds `key` in `object`; *out is nullopt when absent. A key present twice is
// an error: two readers of one signed document picking different duplicates
// is a known way to make a verifier and a consumer disagree.
absl::Status Find(const simdjson::dom::object& object, std::string_view path, std::string_view key,
                  std::optional<simdjson::dom::element>* out);
absl::Status FindString(const simdjson::dom::object& object, std::string_view path,
                        std::string_view key, std::optional<std::string_view>* out);
absl::Status FindObject(const simdjson::dom::object& object, std::string_view path,
                        std::string_view key, std::optional<simdjson::dom::object>* out);
absl::Status FindArray(const simdjson::dom::object& object, std::string_view path,
                       std::string_view key, std::optional<simdjson::dom::array>* out);

// Rejects an object holding the same key twice (Find checks one key; this
// checks them all, for objects whose fields are iterated).
absl::Status CheckNoDuplicateKeys(const simdjson::dom::object& object, std::string_view path);

// Canonical JSON as in-toto (securesystemslib) signs it: object keys sorted by
// their UTF-8 bytes, no whitespace, strings with only '"' and '\' escaped
// (other bytes, control characters included, are written as they are),
// integers only (a float is an error), duplicate keys an error.
absl::StatusOr<std::string> Canonicalize(const simdjson::dom::element& element);

}  // namespace lineage::ingest::json
