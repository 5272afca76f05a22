// Fuzzes the workload inventory parser (kubectl pods JSON and lineage's
// list: owner resolution, imageID digests, bounds) and checks the
// invariants the store and the CLI rely on.
#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string_view>

#include "engine/include/lineage/ref.h"
#include "ingest/include/lineage/ingest/inventory.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace lineage::ingest;
  std::string_view input(reinterpret_cast<const char*>(data), size);
  InventoryOptions options;
  options.cluster = "fuzz";
  options.limits.max_items = 64;
  options.limits.max_images_per_item = 16;
  absl::StatusOr<Inventory> inv = ParseInventory("fuzz.json", input, options);
  if (!inv.ok()) return 0;

  // Every workload makes a valid workload ref and runs at least one image;
  // images are sorted, unique, canonical and never the empty-content digest.
  if (inv->format == InventoryFormat::kAuto || inv->id.size() != 64) std::abort();
  for (const InventoryWorkload& w : inv->workloads) {
    if (!lineage::WorkloadRef(inv->cluster, w.ns, w.kind, w.name).ok()) std::abort();
    if (w.images.empty() || !std::is_sorted(w.images.begin(), w.images.end())) std::abort();
    if (std::adjacent_find(w.images.begin(), w.images.end()) != w.images.end()) std::abort();
    for (const std::string& image : w.images) {
      absl::StatusOr<lineage::Ref> ref = lineage::ParseRef(image);
      if (!ref.ok() || ref->text != image || lineage::IsEmptyContentDigest(image)) std::abort();
    }
  }
  return 0;
}
