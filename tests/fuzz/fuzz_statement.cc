// Fuzzes the in-toto statement parser (SLSA v0.1/v0.2/v1 predicates, link
// payloads, digest canonicalisation, RFC 3339 times) and checks the
// invariants VerifyDocument relies on.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string_view>

#include "engine/include/lineage/ref.h"
#include "ingest/include/lineage/ingest/parse.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace lineage::ingest;
  std::string_view input(reinterpret_cast<const char*>(data), size);
  IngestLimits limits;
  limits.max_subjects = 64;
  limits.max_materials = 64;
  absl::StatusOr<StatementContent> content = ParseStatement(input, limits);
  if (!content.ok()) return 0;

  // A parsed statement always has a subject, every artifact a digest, and
  // never the digest of empty content.
  if (content->subjects.empty()) std::abort();
  for (const auto* list : {&content->subjects, &content->materials}) {
    for (const lineage::ArtifactDigests& artifact : *list) {
      if (artifact.digests.empty()) std::abort();
      for (const std::string& digest : artifact.digests) {
        if (lineage::IsEmptyContentDigest(digest)) std::abort();
      }
    }
  }
  if (content->subjects.size() > limits.max_subjects) std::abort();
  return 0;
}
