// Element-level entry points of the parsers, shared by parse.cc and
// verify.cc so a document is parsed once. Not part of the public API.
#pragma once

#include <string_view>

#include "absl/status/statusor.h"
#include "ingest/include/lineage/ingest/parse.h"

#include <simdjson.h>

namespace lineage::ingest::internal {

// True when `object` looks like a Sigstore bundle (mediaType, or the
// verificationMaterial/dsseEnvelope/messageSignature fields).
bool IsSigstoreBundle(const simdjson::dom::object& object);

// As ParseEnvelope, on an already-parsed object. Field names in errors are
// relative to the envelope; wrapper entries get their own source
// ("file#provenance[0]") instead of a longer path.
absl::StatusOr<DsseEnvelope> ParseEnvelopeObject(const simdjson::dom::object& object,
                                                 const IngestLimits& limits);

// As ParseStatement, on an already-parsed element; `path` prefixes fields
// ("signed" for classic links).
absl::StatusOr<StatementContent> ParseStatementElement(const simdjson::dom::element& element,
                                                       std::string_view path,
                                                       const IngestLimits& limits);

// As ParseLink, on an already-parsed object.
absl::StatusOr<LinkMetablock> ParseLinkObject(const simdjson::dom::object& object,
                                              const IngestLimits& limits);

}  // namespace lineage::ingest::internal
