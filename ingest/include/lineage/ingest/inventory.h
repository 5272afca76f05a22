// Workload inventories: which images each workload of a cluster runs.
//
// Two input formats (docs/workloads.md is the reference):
//
//   kubectl  the output of `kubectl get pods -A -o json` (a v1 List of Pods;
//            a single Pod object is accepted too). Digests come from
//            status.{containerStatuses,initContainerStatuses,
//            ephemeralContainerStatuses}[].imageID. Each pod is mapped to the
//            workload that controls it (its Deployment, StatefulSet,
//            DaemonSet, Job, CronJob, ...). kubectl output does not name the
//            cluster, so the caller must.
//   list     lineage's own list: {"cluster", "time"?, "workloads": [{"namespace",
//            "kind", "name", "images": [digest, ...]}]}.
//
// Example:
//
//   InventoryOptions options;
//   options.cluster = "prod-eu";
//   absl::StatusOr<Inventory> inv = ParseInventory("pods.json", contents, options);
//   if (!inv.ok()) return inv.status();   // "pods.json: items[3].metadata.name: ..."
//   for (const std::string& w : inv->warnings) Warn(w);
//
// Every input is untrusted: sizes are bounded (InventoryLimits), JSON keys may
// not repeat, and every error names the source and the field. A container or
// image without a usable digest is not an error: it is skipped with a
// warning naming the field, so that the caller can report it.
//
// Thread safety: ParseInventory is reentrant.
#pragma once

#include <cstddef>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "engine/include/lineage/store.h"

namespace lineage::ingest {

enum class InventoryFormat {
  kAuto,     // decide by content: an object with "workloads" is a list, else kubectl
  kKubectl,  // `kubectl get pods -A -o json`
  kList,     // lineage's workload list
};

// "auto", "kubectl", "list".
std::string_view InventoryFormatName(InventoryFormat format);

// Upper bounds on untrusted input. Exceeding one is InvalidArgument naming
// the limit; nothing of the inventory is returned.
struct InventoryLimits {
  size_t max_document_bytes = 256u << 20;  // kubectl output is about 5-10 KiB per pod
  size_t max_items = 1000000;              // kubectl items or list workloads
  size_t max_images_per_item = 256;        // containers of one pod, images of one entry
  size_t max_owner_depth = 8;              // ownerReferences followed from a pod
};

struct InventoryOptions {
  InventoryFormat format = InventoryFormat::kAuto;
  // The cluster the inventory describes. Required for kubectl input. For a
  // list, empty means "the document's cluster"; otherwise the document's
  // cluster, if it names one, must be the same.
  std::string cluster;
  InventoryLimits limits;
};

// One workload and the distinct images its pods (or its list entry) run.
struct InventoryWorkload {
  std::string ns;                   // namespace
  std::string kind;                 // e.g. "Deployment", "StatefulSet", "Pod"
  std::string name;                 // e.g. "web"
  std::vector<std::string> images;  // canonical digests ("sha256:<hex>"), sorted, unique
};

struct Inventory {
  // Lower-case hex SHA-256 over the cluster name, a 0 byte and the document
  // bytes: the same file for another cluster is another inventory, and the
  // same file for the same cluster is the same inventory.
  std::string id;
  std::string cluster;
  InventoryFormat format = InventoryFormat::kAuto;  // the format found (never kAuto)
  // The list's "time"; InfinitePast when the document gives none (kubectl
  // output never does): the caller substitutes the time it took the inventory.
  absl::Time time = absl::InfinitePast();
  // Sorted by (namespace, kind, name); pods of one workload are merged. A
  // workload none of whose containers has a digest is not listed (there is
  // a warning for each such container).
  std::vector<InventoryWorkload> workloads;
  // Skipped containers and images, each naming its field, e.g.
  // "items[3].status.containerStatuses[0].imageID: no sha256 digest in
  // \"nginx:1.25\"; container skipped".
  std::vector<std::string> warnings;
  size_t pods = 0;  // kubectl: pods read; list: entries read
};

// Parses one inventory document. Errors are InvalidArgument
// "<source_name>: <field>: <what>"; the cluster is checked like a workload
// ref part (lineage::WorkloadRef): non-empty, no '/', no control characters.
absl::StatusOr<Inventory> ParseInventory(std::string_view source_name, std::string_view content,
                                         const InventoryOptions& options);

// The inventory as Store::ReplaceInventory takes it: one runs assertion per
// (workload, image), `source` and `raw` kept as given. An inventory that
// names no time (kubectl output never does) is as of `now`, to the second.
// Shared by the CLI and the daemon so both store the same record.
InventoryRecord ToInventoryRecord(const Inventory& inventory, std::string source, std::string raw,
                                  absl::Time now);

// What storing one inventory document came to. The CLI prints it; the
// daemon sends it over RPC (rpc/src/convert.h), so both print the same.
struct InventoryReport {
  std::string error;  // non-empty: rejected (parse or store validation); names the source
  std::vector<std::string> warnings;  // Inventory::warnings
  std::string cluster;
  std::string id;
  InventoryFormat format = InventoryFormat::kAuto;  // as found
  uint64_t pods = 0;
  uint64_t workloads = 0;
  uint64_t images = 0;       // distinct digests
  InventoryOutcome outcome;  // when stored
};

// Parses `content` and stores it with store.ReplaceInventory (one
// WriteBatch). A document that does not parse, or that the store refuses as
// InvalidArgument, is a report with `error`; any other store failure is
// returned as the status (it is not the document's fault).
absl::StatusOr<InventoryReport> StoreInventory(Store& store, std::string_view source_name,
                                               std::string content, const InventoryOptions& options,
                                               absl::Time now);

// The canonical digest in an image reference as Kubernetes reports it:
// "docker-pullable://repo@sha256:<hex>", "repo:tag@sha256:<hex>",
// "docker://sha256:<hex>", "sha256:<hex>". InvalidArgument when it holds no
// digest of a known algorithm, or the digest of empty content.
absl::StatusOr<std::string> DigestFromImageRef(std::string_view image);

}  // namespace lineage::ingest
