#include "ingest/include/lineage/ingest/inventory.h"

#include <fstream>
#include <sstream>
#include <string>
#include <vector>

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "absl/time/time.h"
#include "ingest/include/lineage/ingest/crypto.h"

namespace lineage::ingest {
namespace {

using ::testing::AllOf;
using ::testing::Contains;
using ::testing::ElementsAre;
using ::testing::HasSubstr;
using ::testing::IsEmpty;

// SHA-256 of the short names the test data uses (tests/data/inventories).
constexpr char kWeb[] = "sha256:4b5e57f6eb2f42b9039b3d1e13929295f231749c510cbe341cd68036d9af97e2";
constexpr char kSidecar[] =
    "sha256:6c8b4535ccc87f19061c4646189e33d78f01c8b63dc4e3cb2f630b1796ee93b6";
constexpr char kDb[] = "sha256:7bdc25d1694ef984782a16f6f1710c1c6bc83ba7a131b515baf532bea021d011";
constexpr char kAgent[] = "sha256:d4f0bc5a29de06b510f9aa428f1eedba926012b591fef7a518e776a7c9bd1824";
constexpr char kBackup[] =
    "sha256:54d00d867758cef816bc4685f58e327b949712b07ebd17c3485f3ffc9e9f5133";
constexpr char kToolbox[] =
    "sha256:dd221319b058fd80bf9028981e5d9e892d6102c48eec8b71b97863739a176874";
constexpr char kInit[] = "sha256:bb54068aea85faa7e487530083366be9962390af822e4c71ef1aca7033c83e66";
constexpr char kApiserver[] =
    "sha256:8fa8c3a431ee4c139617ddd7a142a179a95edab4f317a427a31eceab4c9d5d01";
constexpr char kPending[] =
    "sha256:62a2fed3d6e08c44835fce71f02210b1ddabfb066e39edf1e6c261988f824dd3";
constexpr char kReport[] =
    "sha256:845e91831319e89c4d656bdb80c278ac09a7230d61e5dfd2e1b1fbb436ac8917";
constexpr char kLegacy[] =
    "sha256:c49fea7425fa7f8699897a97c159c6690267d9003bb78c53fafa8fc15c325d84";
constexpr char kCollector[] =
    "sha256:0736fd5b7cc7ab7dfe821d3a17f93f2634497770232486155c9c881321c4d22c";
constexpr char kGateway[] =
    "sha256:4ea5ee68fea05586106890ded5733820bb77d919cda27bc4b8139b7cd33b8889";
constexpr char kHex[] = "4b5e57f6eb2f42b9039b3d1e13929295f231749c510cbe341cd68036d9af97e2";

std::string ReadData(const std::string& name) {
  std::ifstream in(std::string(LINEAGE_TEST_DATA) + "/inventories/" + name, std::ios::binary);
  EXPECT_TRUE(in) << name;
  std::ostringstream s;
  s << in.rdbuf();
  return s.str();
}

std::string Message(const absl::Status& status) {
  return std::string(status.message());
}

InventoryOptions ForCluster(std::string cluster) {
  InventoryOptions options;
  options.cluster = std::move(cluster);
  return options;
}

// "ns/kind/name" -> images, for compact expectations.
std::vector<std::pair<std::string, std::vector<std::string>>> Flatten(const Inventory& inv) {
  std::vector<std::pair<std::string, std::vector<std::string>>> out;
  for (const InventoryWorkload& w : inv.workloads)
    out.emplace_back(w.ns + "/" + w.kind + "/" + w.name, w.images);
  return out;
}

using Images = std::vector<std::string>;
using Entry = std::pair<std::string, Images>;

TEST(DigestFromImageRefTest, AcceptsTheFormsKubernetesReports) {
  std::string want = std::string("sha256:") + kHex;
  for (std::string form : {
           std::string("docker-pullable://registry.example.com/shop/web@sha256:") + kHex,
           std::string("registry.example.com:5000/shop/web:1.4@sha256:") + kHex,
           std::string("docker://sha256:") + kHex,
           std::string("sha256:") + kHex,
           std::string("SHA256:") + kHex,
       }) {
    absl::StatusOr<std::string> digest = DigestFromImageRef(form);
    if (form.rfind("SHA256", 0) == 0) {
      // Algorithm names in image refs are lower-case by the OCI spec.
      EXPECT_FALSE(digest.ok()) << form;
      continue;
    }
    ASSERT_TRUE(digest.ok()) << form << ": " << digest.status();
    EXPECT_EQ(*digest, want) << form;
  }
}

TEST(DigestFromImageRefTest, RejectsTagsShortDigestsAndEmptyContent) {
  EXPECT_THAT(Message(DigestFromImageRef("nginx:1.25").status()),
              HasSubstr("no sha256 digest in \"nginx:1.25\""));
  EXPECT_THAT(Message(DigestFromImageRef("localhost:5000/x:tag").status()),
              HasSubstr("no sha256 digest"));
  EXPECT_FALSE(DigestFromImageRef("").ok());
  EXPECT_FALSE(DigestFromImageRef("repo@sha256:abcd").ok());
  EXPECT_THAT(Message(DigestFromImageRef(
                          "sha256:e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855")
                          .status()),
              HasSubstr("empty content"));
}

TEST(KubectlInventoryTest, MapsPodsToTheirControllingWorkloads) {
  absl::StatusOr<Inventory> inv =
      ParseInventory("pods.json", ReadData("pods.json"), ForCluster("prod-eu"));
  ASSERT_TRUE(inv.ok()) << inv.status();
  EXPECT_EQ(inv->format, InventoryFormat::kKubectl);
  EXPECT_EQ(inv->cluster, "prod-eu");
  EXPECT_EQ(inv->time, absl::InfinitePast());  // kubectl output carries none
  EXPECT_EQ(inv->pods, 9u);
  EXPECT_THAT(Flatten(*inv),
              ElementsAre(Entry{"kube-system/DaemonSet/agent", Images{kAgent}},
                          // A static pod is owned by its Node: its own workload.
                          Entry{"kube-system/Pod/kube-apiserver-node-1", Images{kApiserver}},
                          // The Job's CronJob is not in the list.
                          Entry{"ops/Job/backup-29012340", Images{kBackup}},
                          // Ephemeral container and main container, deduplicated.
                          Entry{"ops/Pod/debug", Images{kToolbox}},
                          // Two pods of ReplicaSet web-7d9f8b6c5d, merged; the init
                          // container counts.
                          Entry{"shop/Deployment/web", Images{kWeb, kSidecar, kInit}},
                          Entry{"shop/StatefulSet/db", Images{kDb}},
                          // Pending, read from its spec: the pinned image only.
                          Entry{"shop/StatefulSet/queue", Images{kPending}}))
      << "images are sorted by digest text";
}

TEST(KubectlInventoryTest, ImagesAreSortedAndUnique) {
  absl::StatusOr<Inventory> inv =
      ParseInventory("pods.json", ReadData("pods.json"), ForCluster("prod-eu"));
  ASSERT_TRUE(inv.ok()) << inv.status();
  for (const InventoryWorkload& w : inv->workloads) {
    EXPECT_TRUE(std::is_sorted(w.images.begin(), w.images.end())) << w.name;
    EXPECT_EQ(std::adjacent_find(w.images.begin(), w.images.end()), w.images.end()) << w.name;
  }
}

TEST(KubectlInventoryTest, ContainersWithoutDigestAreWarningsNamingTheField) {
  absl::StatusOr<Inventory> inv =
      ParseInventory("pods.json", ReadData("pods.json"), ForCluster("prod-eu"));
  ASSERT_TRUE(inv.ok()) << inv.status();
  EXPECT_THAT(inv->warnings,
              Contains(AllOf(HasSubstr("items[7].status.containerStatuses[0].imageID: no sha256 "
                                       "digest in \"\""),
                             HasSubstr("registry.example.com/shop/cart:latest"),
                             HasSubstr("container skipped"))));
  EXPECT_THAT(inv->warnings, Contains(AllOf(HasSubstr("items[8].spec.containers[1].image: no "
                                                      "sha256 digest in \"exporter:latest\""),
                                            HasSubstr("container skipped"))));
  EXPECT_EQ(inv->warnings.size(), 2u) << ::testing::PrintToString(inv->warnings);
}

TEST(KubectlInventoryTest, OwnersVisibleInTheListAreFollowed) {
  absl::StatusOr<Inventory> inv = ParseInventory(
      "pods-and-owners.json", ReadData("pods-and-owners.json"), ForCluster("prod-eu"));
  ASSERT_TRUE(inv.ok()) << inv.status();
  EXPECT_THAT(Flatten(*inv), ElementsAre(Entry{"ops/CronJob/report", Images{kReport}},
                                         // Visible and owned by nobody: a workload of its own,
                                         // although its name does not match the hash label.
                                         Entry{"ops/ReplicaSet/legacy", Images{kLegacy}}));
  EXPECT_EQ(inv->pods, 2u);
  EXPECT_THAT(inv->warnings, IsEmpty());
}

TEST(KubectlInventoryTest, ReplicaSetWithoutMatchingHashStaysAReplicaSet) {
  std::string pod = R"({"apiVersion":"v1","kind":"Pod","metadata":{"name":"p","namespace":"n",
      "labels":{"pod-template-hash":"abc"},
      "ownerReferences":[{"kind":"ReplicaSet","name":"standalone-xyz","controller":true}]},
      "status":{"containerStatuses":[{"name":"c","image":"i","imageID":"i@sha256:)" +
                    std::string(kHex) + R"("}]}})";
  absl::StatusOr<Inventory> inv = ParseInventory("pod.json", pod, ForCluster("c1"));
  ASSERT_TRUE(inv.ok()) << inv.status();
  EXPECT_THAT(Flatten(*inv), ElementsAre(Entry{"n/ReplicaSet/standalone-xyz", Images{kWeb}}));
}

TEST(KubectlInventoryTest, ControllerReferenceWinsOverEarlierOwners) {
  std::string pod = R"({"kind":"Pod","metadata":{"name":"p","namespace":"n",
      "ownerReferences":[{"kind":"ConfigMap","name":"cm"},
                         {"kind":"StatefulSet","name":"s","controller":true}]},
      "status":{"containerStatuses":[{"imageID":"sha256:)" +
                    std::string(kHex) + R"("}]}})";
  absl::StatusOr<Inventory> inv = ParseInventory("pod.json", pod, ForCluster("c1"));
  ASSERT_TRUE(inv.ok()) << inv.status();
  EXPECT_THAT(Flatten(*inv), ElementsAre(Entry{"n/StatefulSet/s", Images{kWeb}}));
}

TEST(KubectlInventoryTest, BadInputIsRejectedNamingFileAndField) {
  absl::StatusOr<Inventory> inv = ParseInventory(
      "bad-imageid-type.json", ReadData("bad-imageid-type.json"), ForCluster("prod-eu"));
  ASSERT_FALSE(inv.ok());
  EXPECT_EQ(inv.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(Message(inv.status()),
            "bad-imageid-type.json: items[3].status.containerStatuses[0].imageID: expected a "
            "string, got number");

  struct Case {
    std::string json;
    std::string error;
  };
  for (const Case& c : std::vector<Case>{
           {R"({"kind":"List","items":[{"kind":"Pod","metadata":{"namespace":"n"}}]})",
            "x.json: items[0].metadata.name: missing"},
           {R"({"kind":"List","items":[{"kind":"Pod","metadata":{"name":"a/b","namespace":"n"}}]})",
            "x.json: items[0].metadata.name: \"a/b\" cannot name a workload"},
           {R"({"kind":"List","items":[{"kind":"Pod"}]})", "x.json: items[0].metadata: missing"},
           {R"({"kind":"List","items":{}})", "x.json: items: expected an array, got object"},
           {R"({"kind":"Deployment"})", "x.json: items: missing"},
           {R"([1,2])", "x.json: expected an object, got array"},
           {R"({"items":[)", "x.json: the document is not valid JSON"},
           {R"({"kind":"List","items":[],"items":[]})", "x.json: items: duplicate key"},
           {R"({"kind":"List","items":[{"metadata":{"name":"p","namespace":"n",
                "ownerReferences":[{"kind":"Job","name":"j","controller":"yes"}]}}]})",
            "x.json: items[0].metadata.ownerReferences[0].controller: expected a boolean"},
       }) {
    absl::StatusOr<Inventory> r = ParseInventory("x.json", c.json, ForCluster("c1"));
    ASSERT_FALSE(r.ok()) << c.json;
    EXPECT_THAT(Message(r.status()), HasSubstr(c.error)) << c.json;
  }
}

TEST(KubectlInventoryTest, ClusterMustBeGivenAndValid) {
  absl::StatusOr<Inventory> none = ParseInventory("pods.json", ReadData("pods.json"), {});
  ASSERT_FALSE(none.ok());
  EXPECT_THAT(Message(none.status()),
              HasSubstr("pods.json: cluster: kubectl output does not name its cluster"));
  absl::StatusOr<Inventory> bad =
      ParseInventory("pods.json", ReadData("pods.json"), ForCluster("a/b"));
  ASSERT_FALSE(bad.ok());
  EXPECT_THAT(Message(bad.status()), HasSubstr("cluster: \"a/b\" cannot name a cluster"));
}

TEST(KubectlInventoryTest, IdHashesClusterAndBytes) {
  std::string bytes = ReadData("pods.json");
  absl::StatusOr<Inventory> a = ParseInventory("pods.json", bytes, ForCluster("prod-eu"));
  absl::StatusOr<Inventory> b = ParseInventory("other-name.json", bytes, ForCluster("prod-eu"));
  absl::StatusOr<Inventory> c = ParseInventory("pods.json", bytes, ForCluster("prod-us"));
  ASSERT_TRUE(a.ok() && b.ok() && c.ok());
  EXPECT_EQ(a->id, Sha256Hex(std::string("prod-eu") + '\0' + bytes));
  EXPECT_EQ(a->id, b->id);  // the file name is not part of it
  EXPECT_NE(a->id, c->id);
  EXPECT_EQ(a->id.size(), 64u);
}

TEST(KubectlInventoryTest, LimitsAreEnforced) {
  InventoryOptions options = ForCluster("c1");
  options.limits.max_items = 3;
  absl::StatusOr<Inventory> many = ParseInventory("pods.json", ReadData("pods.json"), options);
  ASSERT_FALSE(many.ok());
  EXPECT_THAT(Message(many.status()), HasSubstr("items: 9 entries exceed max_items (3)"));

  options = ForCluster("c1");
  options.limits.max_images_per_item = 1;
  absl::StatusOr<Inventory> wide = ParseInventory("pods.json", ReadData("pods.json"), options);
  ASSERT_FALSE(wide.ok());
  EXPECT_THAT(Message(wide.status()),
              HasSubstr("items[0].status.containerStatuses: 2 entries exceed max_images_per_item"));

  options = ForCluster("c1");
  options.limits.max_document_bytes = 100;
  absl::StatusOr<Inventory> big = ParseInventory("pods.json", ReadData("pods.json"), options);
  ASSERT_FALSE(big.ok());
  EXPECT_THAT(Message(big.status()), HasSubstr("exceeds max_document_bytes (100)"));
}

TEST(KubectlInventoryTest, SinglePodObjectIsAccepted) {
  std::string pod = R"({"apiVersion":"v1","kind":"Pod","metadata":{"name":"solo","namespace":"n"},
      "status":{"containerStatuses":[{"imageID":"sha256:)" +
                    std::string(kHex) + R"("}]}})";
  absl::StatusOr<Inventory> inv = ParseInventory("pod.json", pod, ForCluster("c1"));
  ASSERT_TRUE(inv.ok()) << inv.status();
  EXPECT_THAT(Flatten(*inv), ElementsAre(Entry{"n/Pod/solo", Images{kWeb}}));
}

TEST(KubectlInventoryTest, PodWithoutAnyContainerIsAWarning) {
  std::string pods = R"({"kind":"List","items":[
      {"kind":"Pod","metadata":{"name":"empty","namespace":"n"},"status":{"phase":"Pending"}}]})";
  absl::StatusOr<Inventory> inv = ParseInventory("pods.json", pods, ForCluster("c1"));
  ASSERT_TRUE(inv.ok()) << inv.status();
  EXPECT_THAT(inv->workloads, IsEmpty());
  EXPECT_EQ(inv->pods, 1u);
  EXPECT_THAT(inv->warnings, ElementsAre("items[0]: no containers; pod skipped"));
}

TEST(ListInventoryTest, ReadsClusterTimeAndWorkloads) {
  absl::StatusOr<Inventory> inv = ParseInventory("workloads.json", ReadData("workloads.json"), {});
  ASSERT_TRUE(inv.ok()) << inv.status();
  EXPECT_EQ(inv->format, InventoryFormat::kList);
  EXPECT_EQ(inv->cluster, "edge-1");
  EXPECT_EQ(inv->time, absl::FromUnixSeconds(1772438400));  // 2026-03-02T08:00:00Z
  EXPECT_THAT(Flatten(*inv),
              ElementsAre(Entry{"iot/Deployment/collector", Images{kCollector, kSidecar}},
                          Entry{"iot/VirtualMachine/gateway", Images{kGateway}}));
  EXPECT_THAT(inv->warnings,
              ElementsAre(HasSubstr("workloads[2].images[0]: no sha256 digest in "
                                    "\"registry.example.com/iot/unpinned:latest\"; image skipped"),
                          "workloads[2]: no usable image digest; workload skipped"));
}

TEST(ListInventoryTest, GivenClusterMustMatchTheDocument) {
  absl::StatusOr<Inventory> same =
      ParseInventory("workloads.json", ReadData("workloads.json"), ForCluster("edge-1"));
  EXPECT_TRUE(same.ok()) << same.status();
  absl::StatusOr<Inventory> other =
      ParseInventory("workloads.json", ReadData("workloads.json"), ForCluster("prod-eu"));
  ASSERT_FALSE(other.ok());
  EXPECT_THAT(Message(other.status()),
              HasSubstr("workloads.json: cluster: the document names \"edge-1\" but \"prod-eu\""));

  std::string unnamed = R"({"workloads":[]})";
  EXPECT_THAT(Message(ParseInventory("w.json", unnamed, {}).status()),
              HasSubstr("w.json: cluster: missing"));
  absl::StatusOr<Inventory> given = ParseInventory("w.json", unnamed, ForCluster("lab"));
  ASSERT_TRUE(given.ok()) << given.status();
  EXPECT_EQ(given->cluster, "lab");
  EXPECT_THAT(given->workloads, IsEmpty());  // an empty cluster is a valid inventory
}

TEST(ListInventoryTest, BadEntriesAreRejectedNamingTheField) {
  struct Case {
    std::string json;
    std::string error;
  };
  for (const Case& c : std::vector<Case>{
           {R"({"cluster":"c","workloads":[{"namespace":"n","kind":"K","images":[]}]})",
            "w.json: workloads[0].name: missing"},
           {R"({"cluster":"c","workloads":[{"namespace":"n","kind":"K","name":"x"}]})",
            "w.json: workloads[0].images: missing"},
           {R"({"cluster":"c","workloads":[{"namespace":"n","kind":"K","name":"x","images":[7]}]})",
            "w.json: workloads[0].images[0]: expected a string, got number"},
           {R"({"cluster":"c","workloads":[{"namespace":"","kind":"K","name":"x","images":[]}]})",
            "w.json: workloads[0].namespace: \"\" cannot name a workload"},
           {R"({"cluster":"c","time":"yesterday","workloads":[]})",
            "w.json: time: \"yesterday\" is not an RFC 3339 time"},
           {R"({"cluster":"c","workloads":"all"})",
            "w.json: workloads: expected an array, got string"},
       }) {
    absl::StatusOr<Inventory> r = ParseInventory("w.json", c.json, {});
    ASSERT_FALSE(r.ok()) << c.json;
    EXPECT_THAT(Message(r.status()), HasSubstr(c.error)) << c.json;
  }
}

TEST(ListInventoryTest, ExplicitFormatOverridesDetection) {
  InventoryOptions options;
  options.format = InventoryFormat::kKubectl;
  options.cluster = "edge-1";
  absl::StatusOr<Inventory> inv =
      ParseInventory("workloads.json", ReadData("workloads.json"), options);
  ASSERT_FALSE(inv.ok());
  EXPECT_THAT(Message(inv.status()), HasSubstr("workloads.json: items: missing"));

  options.format = InventoryFormat::kList;
  options.cluster = "c";
  absl::StatusOr<Inventory> pods = ParseInventory("pods.json", ReadData("pods.json"), options);
  ASSERT_FALSE(pods.ok());
  EXPECT_THAT(Message(pods.status()), HasSubstr("pods.json: workloads: missing"));
}

}  // namespace
}  // namespace lineage::ingest
