#include "ingest/include/lineage/ingest/inventory.h"

#include <map>
#include <optional>
#include <set>
#include <string>
#include <tuple>
#include <utility>

#include "absl/status/status.h"
#include "absl/time/time.h"

#include <fmt/format.h>
#include <simdjson.h>

#include "engine/include/lineage/ref.h"
#include "ingest/include/lineage/ingest/crypto.h"
#include "ingest/src/json_util.h"

namespace lineage::ingest {
namespace {

using simdjson::dom::array;
using simdjson::dom::element;
using simdjson::dom::object;

// Image references longer than this are not shown whole in warnings.
constexpr size_t kMaxShownImage = 200;

// The digest algorithms OCI registries use. Anything else after an '@' (or a
// tag that happens to look like "name:value") is not an image digest.
constexpr std::string_view kImageDigestAlgorithms[] = {"sha256", "sha512"};

using WorkloadKey = std::tuple<std::string, std::string, std::string>;  // namespace, kind, name
using WorkloadImages = std::map<WorkloadKey, std::set<std::string>>;

std::string Shown(std::string_view image) {
  if (image.size() <= kMaxShownImage) return std::string(image);
  return fmt::format("{}...", image.substr(0, kMaxShownImage));
}

absl::Status CheckCount(std::string_view path, size_t count, size_t limit,
                        std::string_view limit_name) {
  if (count > limit) {
    return json::Error(path, fmt::format("{} entries exceed {} ({})", count, limit_name, limit));
  }
  return absl::OkStatus();
}

// A namespace, kind or name must be usable as a part of a workload ref.
// Checked through WorkloadRef itself so the two can never disagree.
absl::Status CheckRefPart(std::string_view path, std::string_view value) {
  absl::StatusOr<Ref> ref = WorkloadRef("c", value, "k", "n");
  if (!ref.ok()) {
    return json::Error(path, fmt::format("\"{}\" cannot name a workload: must be non-empty, "
                                         "without '/' or control characters",
                                         Shown(value)));
  }
  return absl::OkStatus();
}

absl::Status RequireString(const object& o, std::string_view path, std::string_view key,
                           std::string_view* out) {
  std::optional<std::string_view> value;
  LINEAGE_RETURN_IF_ERROR(json::FindString(o, path, key, &value));
  if (!value) return json::Error(json::Join(path, key), "missing");
  *out = *value;
  return absl::OkStatus();
}

// Adds `image`'s digest to `images`, or a warning naming `path`.
void AddImage(std::string_view path, std::string_view image, std::string_view what,
              std::set<std::string>* images, std::vector<std::string>* warnings) {
  absl::StatusOr<std::string> digest = DigestFromImageRef(image);
  if (digest.ok()) {
    images->insert(*std::move(digest));
    return;
  }
  warnings->push_back(
      fmt::format("{}: {}; {} skipped", path, std::string(digest.status().message()), what));
}

// ------------------------------------------------------------------ kubectl

// The controller of an object: the owner reference marked controller, else
// the first one (kubectl output of objects created by hand may lack the mark).
struct Owner {
  std::string kind;
  std::string name;
};

absl::Status ParseOwner(const object& metadata, std::string_view path,
                        std::optional<Owner>* owner) {
  owner->reset();
  std::optional<array> refs;
  LINEAGE_RETURN_IF_ERROR(json::FindArray(metadata, path, "ownerReferences", &refs));
  if (!refs) return absl::OkStatus();
  std::string refs_path = json::Join(path, "ownerReferences");
  size_t index = 0;
  for (element e : *refs) {
    std::string ref_path = json::Index(refs_path, index++);
    object ref;
    LINEAGE_RETURN_IF_ERROR(json::AsObject(e, ref_path, &ref));
    std::string_view kind, name;
    LINEAGE_RETURN_IF_ERROR(RequireString(ref, ref_path, "kind", &kind));
    LINEAGE_RETURN_IF_ERROR(RequireString(ref, ref_path, "name", &name));
    LINEAGE_RETURN_IF_ERROR(CheckRefPart(json::Join(ref_path, "kind"), kind));
    LINEAGE_RETURN_IF_ERROR(CheckRefPart(json::Join(ref_path, "name"), name));
    std::optional<element> controller;
    LINEAGE_RETURN_IF_ERROR(json::Find(ref, ref_path, "controller", &controller));
    bool is_controller = false;
    if (controller && !controller->is_null() &&
        controller->get_bool().get(is_controller) != simdjson::SUCCESS) {
      return json::Error(json::Join(ref_path, "controller"),
                         fmt::format("expected a boolean, got {}", json::TypeName(*controller)));
    }
    if (is_controller || !owner->has_value()) {
      *owner = Owner{std::string(kind), std::string(name)};
      if (is_controller) break;
    }
  }
  return absl::OkStatus();
}

// What one item of the list says about itself.
struct ItemMeta {
  std::string kind;  // the item's kind; "Pod" when absent
  std::string ns;
  std::string name;
  std::string pod_template_hash;  // pods of a Deployment carry it
  std::optional<Owner> owner;
  std::string path;  // "items[3]"
};

// Reads an item's kind and metadata. *usable is false for an item that is
// not a Pod and lacks a namespace or name (a cluster-scoped object listed
// alongside the pods): it can own no pod and is ignored.
absl::Status ParseItemMeta(const object& item, std::string path, ItemMeta* meta, bool* usable) {
  *usable = true;
  meta->path = std::move(path);
  std::optional<std::string_view> kind;
  LINEAGE_RETURN_IF_ERROR(json::FindString(item, meta->path, "kind", &kind));
  meta->kind = kind ? std::string(*kind) : "Pod";
  const bool pod = meta->kind == "Pod";

  std::optional<object> metadata;
  LINEAGE_RETURN_IF_ERROR(json::FindObject(item, meta->path, "metadata", &metadata));
  std::string md_path = json::Join(meta->path, "metadata");
  if (!metadata) {
    *usable = false;
    return pod ? json::Error(md_path, "missing") : absl::OkStatus();
  }
  std::optional<std::string_view> found_ns, found_name;
  LINEAGE_RETURN_IF_ERROR(json::FindString(*metadata, md_path, "namespace", &found_ns));
  LINEAGE_RETURN_IF_ERROR(json::FindString(*metadata, md_path, "name", &found_name));
  if (!pod && (!found_ns || !found_name)) {
    *usable = false;
    return absl::OkStatus();
  }
  if (!found_ns) return json::Error(json::Join(md_path, "namespace"), "missing");
  if (!found_name) return json::Error(json::Join(md_path, "name"), "missing");
  std::string_view ns = *found_ns, name = *found_name;
  LINEAGE_RETURN_IF_ERROR(CheckRefPart(json::Join(md_path, "namespace"), ns));
  LINEAGE_RETURN_IF_ERROR(CheckRefPart(json::Join(md_path, "name"), name));
  meta->ns = std::string(ns);
  meta->name = std::string(name);

  std::optional<object> labels;
  LINEAGE_RETURN_IF_ERROR(json::FindObject(*metadata, md_path, "labels", &labels));
  if (labels) {
    std::optional<std::string_view> hash;
    LINEAGE_RETURN_IF_ERROR(
        json::FindString(*labels, json::Join(md_path, "labels"), "pod-template-hash", &hash));
    if (hash) meta->pod_template_hash = std::string(*hash);
  }
  return ParseOwner(*metadata, md_path, &meta->owner);
}

// Controllers present in the list itself (`kubectl get pods,replicasets,jobs
// -A -o json`), by (namespace, kind, name), with their own controller.
using VisibleOwners = std::map<WorkloadKey, std::optional<Owner>>;

// The workload a pod belongs to: its controller, followed up through
// controllers visible in the list. A ReplicaSet that is not visible but is
// named "<deployment>-<pod-template-hash>" is its Deployment's, as the
// Deployment controller names them. Static (mirror) pods are owned by their
// Node and are their own workload.
//
// Limitation: a Job's CronJob (and any owner above a ReplicaSet other than
// the Deployment the naming rule gives) is found only when that Job or
// ReplicaSet is in the list (`kubectl get pods,replicasets,jobs -A -o json`);
// otherwise each run of a CronJob is a workload "Job/<name>" of its own.
WorkloadKey ControllingWorkload(const ItemMeta& pod, const VisibleOwners& visible,
                                size_t max_depth) {
  if (!pod.owner || pod.owner->kind == "Node") return {pod.ns, "Pod", pod.name};
  Owner current = *pod.owner;
  for (size_t depth = 0; depth < max_depth; ++depth) {
    auto it = visible.find({pod.ns, current.kind, current.name});
    if (it == visible.end()) {
      if (depth == 0 && current.kind == "ReplicaSet" && !pod.pod_template_hash.empty()) {
        std::string suffix = "-" + pod.pod_template_hash;
        if (current.name.size() > suffix.size() &&
            current.name.compare(current.name.size() - suffix.size(), suffix.size(), suffix) == 0) {
          return {pod.ns, "Deployment",
                  current.name.substr(0, current.name.size() - suffix.size())};
        }
      }
      break;
    }
    if (!it->second) break;  // visible, and controlled by nobody: the workload itself
    current = *it->second;
  }
  return {pod.ns, current.kind, current.name};
}

constexpr std::string_view kStatusKeys[] = {"containerStatuses", "initContainerStatuses",
                                            "ephemeralContainerStatuses"};
constexpr std::string_view kSpecKeys[] = {"containers", "initContainers", "ephemeralContainers"};

// Reads the digests of one container status list (status.<key>) into
// `images`; *containers counts the entries across all lists of the pod.
absl::Status ReadStatusList(const object& status, const std::string& status_path,
                            std::string_view key, const InventoryLimits& limits, size_t* containers,
                            std::set<std::string>* images, std::vector<std::string>* warnings) {
  std::optional<array> statuses;
  LINEAGE_RETURN_IF_ERROR(json::FindArray(status, status_path, key, &statuses));
  if (!statuses) return absl::OkStatus();
  std::string list_path = json::Join(status_path, key);
  *containers += statuses->size();
  LINEAGE_RETURN_IF_ERROR(
      CheckCount(list_path, *containers, limits.max_images_per_item, "max_images_per_item"));
  size_t index = 0;
  for (element e : *statuses) {
    std::string path = json::Index(list_path, index++);
    object cs;
    LINEAGE_RETURN_IF_ERROR(json::AsObject(e, path, &cs));
    std::optional<std::string_view> image_id, image;
    LINEAGE_RETURN_IF_ERROR(json::FindString(cs, path, "imageID", &image_id));
    LINEAGE_RETURN_IF_ERROR(json::FindString(cs, path, "image", &image));
    // imageID names what the runtime pulled; some runtimes leave it empty
    // but report a digest-pinned image.
    absl::StatusOr<std::string> digest = DigestFromImageRef(image_id.value_or(""));
    if (!digest.ok() && image) {
      absl::StatusOr<std::string> pinned = DigestFromImageRef(*image);
      if (pinned.ok()) digest = std::move(pinned);
    }
    if (digest.ok()) {
      images->insert(*std::move(digest));
      continue;
    }
    warnings->push_back(
        fmt::format("{}: {} (image \"{}\"); container skipped", json::Join(path, "imageID"),
                    std::string(digest.status().message()), Shown(image.value_or(""))));
  }
  return absl::OkStatus();
}

// As ReadStatusList, for one container list of the spec (spec.<key>).
absl::Status ReadSpecList(const object& spec, const std::string& spec_path, std::string_view key,
                          const InventoryLimits& limits, size_t* containers,
                          std::set<std::string>* images, std::vector<std::string>* warnings) {
  std::optional<array> list;
  LINEAGE_RETURN_IF_ERROR(json::FindArray(spec, spec_path, key, &list));
  if (!list) return absl::OkStatus();
  std::string list_path = json::Join(spec_path, key);
  *containers += list->size();
  LINEAGE_RETURN_IF_ERROR(
      CheckCount(list_path, *containers, limits.max_images_per_item, "max_images_per_item"));
  size_t index = 0;
  for (element e : *list) {
    std::string path = json::Index(list_path, index++);
    object c;
    LINEAGE_RETURN_IF_ERROR(json::AsObject(e, path, &c));
    std::optional<std::string_view> image;
    LINEAGE_RETURN_IF_ERROR(json::FindString(c, path, "image", &image));
    AddImage(json::Join(path, "image"), image.value_or(""),
             "the pod reports no container status yet; container", images, warnings);
  }
  return absl::OkStatus();
}

// Reads the digests a pod runs into `images`. A pod that reports container
// statuses is read from them (what runs); one that reports none yet
// (pending) from its spec, where an image pinned by digest is what it will
// run.
//
// Pods in every phase count, Succeeded and Failed included: the workload
// that made them (a CronJob, a Job being retried) runs those images again, so
// leaving them out would under-report what a revocation hits.
absl::Status ParsePodImages(const object& pod, const ItemMeta& meta, const InventoryLimits& limits,
                            std::set<std::string>* images, std::vector<std::string>* warnings) {
  std::optional<object> status, spec;
  LINEAGE_RETURN_IF_ERROR(json::FindObject(pod, meta.path, "status", &status));
  LINEAGE_RETURN_IF_ERROR(json::FindObject(pod, meta.path, "spec", &spec));

  size_t containers = 0;
  if (status) {
    std::string status_path = json::Join(meta.path, "status");
    for (std::string_view key : kStatusKeys) {
      LINEAGE_RETURN_IF_ERROR(
          ReadStatusList(*status, status_path, key, limits, &containers, images, warnings));
    }
  }
  if (containers == 0 && spec) {
    std::string spec_path = json::Join(meta.path, "spec");
    for (std::string_view key : kSpecKeys) {
      LINEAGE_RETURN_IF_ERROR(
          ReadSpecList(*spec, spec_path, key, limits, &containers, images, warnings));
    }
  }
  if (containers == 0) {
    warnings->push_back(
        fmt::format("{}: no containers; pod skipped", meta.path.empty() ? "the pod" : meta.path));
  }
  return absl::OkStatus();
}

absl::Status ParseKubectl(const object& root, const InventoryLimits& limits, Inventory* inv,
                          WorkloadImages* workloads) {
  // A single `kubectl get pod NAME -o json` is a Pod, not a List.
  std::optional<array> items;
  LINEAGE_RETURN_IF_ERROR(json::FindArray(root, "", "items", &items));
  std::vector<std::pair<object, ItemMeta>> pods;
  VisibleOwners visible;
  if (!items) {
    std::optional<std::string_view> kind;
    LINEAGE_RETURN_IF_ERROR(json::FindString(root, "", "kind", &kind));
    if (!kind || *kind != "Pod") {
      return json::Error("items",
                         "missing: expected a v1 List of Pods (kubectl get pods -A -o "
                         "json) or a single Pod");
    }
    ItemMeta meta;
    bool usable = true;
    LINEAGE_RETURN_IF_ERROR(ParseItemMeta(root, "", &meta, &usable));
    pods.emplace_back(root, std::move(meta));
  } else {
    LINEAGE_RETURN_IF_ERROR(CheckCount("items", items->size(), limits.max_items, "max_items"));
    pods.reserve(items->size());
    size_t index = 0;
    for (element e : *items) {
      std::string path = json::Index("items", index++);
      object item;
      LINEAGE_RETURN_IF_ERROR(json::AsObject(e, path, &item));
      ItemMeta meta;
      bool usable = true;
      LINEAGE_RETURN_IF_ERROR(ParseItemMeta(item, std::move(path), &meta, &usable));
      if (!usable) continue;
      if (meta.kind == "Pod") {
        pods.emplace_back(item, std::move(meta));
      } else {
        // Not a workload of its own here: only used to follow pods' owners.
        visible[{meta.ns, meta.kind, meta.name}] = meta.owner;
      }
    }
  }

  for (const auto& [pod, meta] : pods) {
    std::set<std::string> images;
    LINEAGE_RETURN_IF_ERROR(ParsePodImages(pod, meta, limits, &images, &inv->warnings));
    inv->pods++;
    if (images.empty()) continue;
    WorkloadKey key = ControllingWorkload(meta, visible, limits.max_owner_depth);
    (*workloads)[std::move(key)].merge(images);
  }
  return absl::OkStatus();
}

// --------------------------------------------------------------------- list

absl::Status ParseList(const object& root, const InventoryLimits& limits, Inventory* inv,
                       WorkloadImages* workloads) {
  std::optional<std::string_view> time;
  LINEAGE_RETURN_IF_ERROR(json::FindString(root, "", "time", &time));
  if (time) {
    std::string error;
    if (!absl::ParseTime(absl::RFC3339_full, absl::string_view(time->data(), time->size()),
                         &inv->time, &error)) {
      return json::Error("time", fmt::format("\"{}\" is not an RFC 3339 time", Shown(*time)));
    }
  }

  std::optional<array> entries;
  LINEAGE_RETURN_IF_ERROR(json::FindArray(root, "", "workloads", &entries));
  if (!entries) return json::Error("workloads", "missing");
  LINEAGE_RETURN_IF_ERROR(CheckCount("workloads", entries->size(), limits.max_items, "max_items"));
  size_t index = 0;
  for (element e : *entries) {
    std::string path = json::Index("workloads", index++);
    object entry;
    LINEAGE_RETURN_IF_ERROR(json::AsObject(e, path, &entry));
    std::string_view ns, kind, name;
    LINEAGE_RETURN_IF_ERROR(RequireString(entry, path, "namespace", &ns));
    LINEAGE_RETURN_IF_ERROR(RequireString(entry, path, "kind", &kind));
    LINEAGE_RETURN_IF_ERROR(RequireString(entry, path, "name", &name));
    LINEAGE_RETURN_IF_ERROR(CheckRefPart(json::Join(path, "namespace"), ns));
    LINEAGE_RETURN_IF_ERROR(CheckRefPart(json::Join(path, "kind"), kind));
    LINEAGE_RETURN_IF_ERROR(CheckRefPart(json::Join(path, "name"), name));

    std::optional<array> list;
    LINEAGE_RETURN_IF_ERROR(json::FindArray(entry, path, "images", &list));
    std::string images_path = json::Join(path, "images");
    if (!list) return json::Error(images_path, "missing");
    LINEAGE_RETURN_IF_ERROR(
        CheckCount(images_path, list->size(), limits.max_images_per_item, "max_images_per_item"));
    std::set<std::string> images;
    size_t image_index = 0;
    for (element image : *list) {
      std::string image_path = json::Index(images_path, image_index++);
      std::string_view text;
      LINEAGE_RETURN_IF_ERROR(json::AsString(image, image_path, &text));
      AddImage(image_path, text, "image", &images, &inv->warnings);
    }
    inv->pods++;
    if (images.empty()) {
      inv->warnings.push_back(fmt::format("{}: no usable image digest; workload skipped", path));
      continue;
    }
    (*workloads)[{std::string(ns), std::string(kind), std::string(name)}].merge(images);
  }
  return absl::OkStatus();
}

// The cluster from the options and (for a list) the document; they must agree.
absl::Status ResolveCluster(const object& root, InventoryFormat format,
                            const InventoryOptions& options, std::string* cluster) {
  std::optional<std::string_view> named;
  if (format == InventoryFormat::kList) {
    LINEAGE_RETURN_IF_ERROR(json::FindString(root, "", "cluster", &named));
  }
  if (named && !options.cluster.empty() && *named != options.cluster) {
    return json::Error("cluster", fmt::format("the document names \"{}\" but \"{}\" was given",
                                              Shown(*named), Shown(options.cluster)));
  }
  if (named) {
    *cluster = std::string(*named);
  } else if (!options.cluster.empty()) {
    *cluster = options.cluster;
  } else {
    return json::Error("cluster", format == InventoryFormat::kKubectl
                                      ? "kubectl output does not name its cluster; one must be "
                                        "given"
                                      : "missing, and none was given");
  }
  if (!WorkloadRef(*cluster, "n", "k", "n").ok()) {
    return json::Error("cluster", fmt::format("\"{}\" cannot name a cluster: must be non-empty, "
                                              "without '/' or control characters",
                                              Shown(*cluster)));
  }
  return absl::OkStatus();
}

absl::StatusOr<Inventory> Parse(std::string_view content, const InventoryOptions& options) {
  const InventoryLimits& limits = options.limits;
  if (content.size() > limits.max_document_bytes) {
    return absl::InvalidArgumentError(
        fmt::format("document of {} bytes exceeds max_document_bytes ({})", content.size(),
                    limits.max_document_bytes));
  }
  simdjson::dom::parser parser;
  absl::StatusOr<element> root_element = json::Parse(parser, content, "the document");
  if (!root_element.ok()) return root_element.status();
  object root;
  LINEAGE_RETURN_IF_ERROR(json::AsObject(*root_element, "", &root));

  Inventory inv;
  inv.format = options.format;
  if (inv.format == InventoryFormat::kAuto) {
    std::optional<element> workloads;
    LINEAGE_RETURN_IF_ERROR(json::Find(root, "", "workloads", &workloads));
    inv.format = workloads ? InventoryFormat::kList : InventoryFormat::kKubectl;
  }
  LINEAGE_RETURN_IF_ERROR(ResolveCluster(root, inv.format, options, &inv.cluster));

  WorkloadImages workloads;
  if (inv.format == InventoryFormat::kList) {
    LINEAGE_RETURN_IF_ERROR(ParseList(root, limits, &inv, &workloads));
  } else {
    LINEAGE_RETURN_IF_ERROR(ParseKubectl(root, limits, &inv, &workloads));
  }

  inv.workloads.reserve(workloads.size());
  for (auto& [key, images] : workloads) {
    InventoryWorkload w;
    std::tie(w.ns, w.kind, w.name) = key;
    w.images.assign(images.begin(), images.end());
    inv.workloads.push_back(std::move(w));
  }
  std::string hashed = inv.cluster;
  hashed.push_back('\0');
  hashed.append(content);
  inv.id = Sha256Hex(hashed);
  return inv;
}

}  // namespace

std::string_view InventoryFormatName(InventoryFormat format) {
  switch (format) {
    case InventoryFormat::kAuto:
      return "auto";
    case InventoryFormat::kKubectl:
      return "kubectl";
    case InventoryFormat::kList:
      return "list";
  }
  return "unknown";
}

// Limitation: a bare "sha256:<hex>" imageID (containerd for an image without
// a registry digest, "docker://" for old Docker) is the image's config
// digest, not its manifest digest; it is kept, but matches only attestations
// whose subject is that config digest.
absl::StatusOr<std::string> DigestFromImageRef(std::string_view image) {
  std::string_view rest = image;
  if (size_t scheme = rest.find("://"); scheme != std::string_view::npos) {
    rest.remove_prefix(scheme + 3);  // docker-pullable://, docker://, containerd://
  }
  if (size_t at = rest.rfind('@'); at != std::string_view::npos) rest.remove_prefix(at + 1);
  size_t colon = rest.find(':');
  std::string_view algorithm = colon == std::string_view::npos ? "" : rest.substr(0, colon);
  bool known = false;
  for (std::string_view a : kImageDigestAlgorithms)
    known = known || algorithm == a;
  if (!known) {
    return absl::InvalidArgumentError(fmt::format("no sha256 digest in \"{}\"", Shown(image)));
  }
  absl::StatusOr<std::string> digest = CanonicalDigest(algorithm, rest.substr(colon + 1));
  if (!digest.ok()) {
    return absl::InvalidArgumentError(
        fmt::format("\"{}\": {}", Shown(image), std::string(digest.status().message())));
  }
  if (IsEmptyContentDigest(*digest)) {
    return absl::InvalidArgumentError(fmt::format(
        "\"{}\" is the digest of empty content, which identifies no image", Shown(image)));
  }
  return digest;
}

absl::StatusOr<Inventory> ParseInventory(std::string_view source_name, std::string_view content,
                                         const InventoryOptions& options) {
  absl::StatusOr<Inventory> inv = Parse(content, options);
  if (!inv.ok()) {
    return absl::Status(inv.status().code(),
                        fmt::format("{}: {}", source_name, std::string(inv.status().message())));
  }
  return inv;
}

InventoryRecord ToInventoryRecord(const Inventory& inventory, std::string source, std::string raw,
                                  absl::Time now) {
  InventoryRecord record;
  record.id = inventory.id;
  record.cluster = inventory.cluster;
  record.time = inventory.time == absl::InfinitePast()
                    ? absl::FromUnixSeconds(absl::ToUnixSeconds(now))
                    : inventory.time;
  record.source = std::move(source);
  record.raw = std::move(raw);
  for (const InventoryWorkload& w : inventory.workloads) {
    absl::StatusOr<Ref> ref = WorkloadRef(inventory.cluster, w.ns, w.kind, w.name);
    // ParseInventory checked every part, so this cannot fail; if it did, the
    // store rejects the empty ref and the inventory is reported as rejected.
    std::string workload = ref.ok() ? ref->text : std::string();
    for (const std::string& image : w.images)
      record.runs.push_back({image, workload});
  }
  return record;
}

absl::StatusOr<InventoryReport> StoreInventory(Store& store, std::string_view source_name,
                                               std::string content, const InventoryOptions& options,
                                               absl::Time now) {
  InventoryReport report;
  absl::StatusOr<Inventory> inventory = ParseInventory(source_name, content, options);
  if (!inventory.ok()) {
    report.error = std::string(inventory.status().message());
    return report;
  }
  report.warnings = std::move(inventory->warnings);
  report.cluster = inventory->cluster;
  report.id = inventory->id;
  report.format = inventory->format;
  report.pods = inventory->pods;
  report.workloads = inventory->workloads.size();
  std::set<std::string_view> images;
  for (const InventoryWorkload& w : inventory->workloads)
    images.insert(w.images.begin(), w.images.end());
  report.images = images.size();
  absl::StatusOr<InventoryOutcome> outcome = store.ReplaceInventory(
      ToInventoryRecord(*inventory, std::string(source_name), std::move(content), now));
  if (!outcome.ok()) {
    if (outcome.status().code() != absl::StatusCode::kInvalidArgument) return outcome.status();
    report.error = fmt::format("{}: store: {}", std::string(source_name),
                               std::string(outcome.status().message()));
    return report;
  }
  report.outcome = *outcome;
  return report;
}

}  // namespace lineage::ingest
