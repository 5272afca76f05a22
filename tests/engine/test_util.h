// Helpers shared by the engine tests: temporary databases and record builders.
#pragma once

#include <stdlib.h>

#include <cstdint>
#include <filesystem>
#include <string>
#include <vector>

#include <fmt/format.h>
#include <gtest/gtest.h>

#include "engine/include/lineage/attestation.h"
#include "engine/include/lineage/store.h"

namespace lineage::testing_util {

// A fresh directory under testing::TempDir(), removed with everything in it
// when the object goes away.
class TempDir {
 public:
  TempDir() {
    std::string pattern = ::testing::TempDir() + "lineage-test-XXXXXX";
    char* made = mkdtemp(pattern.data());
    EXPECT_NE(made, nullptr);
    path_ = pattern;
  }
  ~TempDir() {
    std::error_code ec;
    std::filesystem::remove_all(path_, ec);
  }
  TempDir(const TempDir&) = delete;
  TempDir& operator=(const TempDir&) = delete;

  const std::string& path() const { return path_; }
  // A database path inside the directory (RocksDB creates the last component).
  std::string db() const { return path_ + "/db"; }

 private:
  std::string path_;
};

// Distinct, deterministic, canonical digests of non-empty content.
inline std::string Sha256(uint64_t n) {
  return fmt::format("sha256:{:064x}", n + 1);
}
inline std::string Sha512(uint64_t n) {
  return fmt::format("sha512:{:0128x}", n + 1);
}
inline std::string Sha1(uint64_t n) {
  return fmt::format("sha1:{:040x}", n + 1);
}
inline std::string KeyRef(uint64_t n) {
  return fmt::format("key:sha256:{:064x}", n + 1);
}

inline ArtifactDigests Digests(std::vector<std::string> digests) {
  return ArtifactDigests{std::move(digests), ""};
}

// An unsigned record: subjects and materials given by digest.
inline AttestationRecord Record(std::string id, std::vector<std::string> subjects,
                                std::vector<std::string> materials = {}) {
  AttestationRecord r;
  r.id = std::move(id);
  r.format = "statement";
  r.predicate_type = "https://slsa.dev/provenance/v1";
  for (std::string& s : subjects)
    r.subjects.push_back(Digests({std::move(s)}));
  for (std::string& m : materials)
    r.materials.push_back(Digests({std::move(m)}));
  r.unsigned_ = true;
  r.time = absl::FromUnixSeconds(1700000000);
  r.raw = "{\"_type\":\"https://in-toto.io/Statement/v1\"}";
  return r;
}

inline StoreOptions QuietOptions() {
  StoreOptions options;
  options.logger = NewNullLogger();
  options.block_cache_bytes = 8 << 20;
  return options;
}

}  // namespace lineage::testing_util
