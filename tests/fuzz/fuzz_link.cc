// Fuzzes the in-toto link metablock parser and canonical JSON. Canonical JSON
// must be a fixed point: canonicalising its own output changes nothing, or
// the bytes a signature covers would depend on who re-serialised them.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string_view>

#include "ingest/include/lineage/ingest/parse.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace lineage::ingest;
  std::string_view input(reinterpret_cast<const char*>(data), size);

  absl::StatusOr<std::string> canonical = CanonicalJson(input);
  if (canonical.ok()) {
    // Control characters are written raw, which strict JSON parsers refuse;
    // only check the fixed point where the output is still JSON.
    absl::StatusOr<std::string> again = CanonicalJson(*canonical);
    if (again.ok() && *again != *canonical) std::abort();
  }

  IngestLimits limits;
  limits.max_subjects = 64;
  limits.max_materials = 64;
  absl::StatusOr<LinkMetablock> link = ParseLink(input, limits);
  if (link.ok() && link->content.subjects.empty()) std::abort();
  return 0;
}
