// The fixture the CLI tests share: a fresh temporary directory holding the
// test's database, the real `lineage` binary run on it, and its stdout
// parsed as JSON.
#pragma once

#include <stdlib.h>

#include <filesystem>
#include <stdexcept>
#include <string>
#include <utility>
#include <vector>

#include <gtest/gtest.h>
#include <simdjson.h>

#include "tests/cli/subprocess.h"

namespace lineage::testing {

// The repository's sample attestations and the trust policy that accepts
// them (samples/README.md).
inline const std::string kSamplesDir = std::string(LINEAGE_SOURCE_DIR) + "/samples";

class CliFixture : public ::testing::Test {
 protected:
  // `prefix` names the temporary directory, e.g. "lineage-cli-".
  explicit CliFixture(std::string prefix) : prefix_(std::move(prefix)) {}

  void SetUp() override {
    // Principals, databases, servers and policies come from each test's own
    // flags or env entries, never from the caller's environment (RunProcess
    // appends to it, and the first entry wins).
    for (const char* name : {"LINEAGE_PRINCIPAL", "LINEAGE_DB", "LINEAGE_SERVER", "LINEAGE_TOKEN",
                             "LINEAGE_POLICY", "LINEAGE_UNKNOWN", "LINEAGE"})
      unsetenv(name);
    dir_ = MakeTempDir(prefix_);
    db_ = dir_ + "/db";
  }
  // Kept for inspection when the test failed.
  void TearDown() override {
    if (!HasFailure()) std::filesystem::remove_all(dir_);
  }

  // `lineage --db <db_> args...`, with `input` on stdin and `env` added.
  ProcessResult Lineage(std::vector<std::string> args, const std::string& input = "",
                        const std::vector<std::string>& env = {}) {
    args.insert(args.begin(), {LINEAGE_CLI_PATH, "--db", db_});
    return RunProcess(args, input, env);
  }

  // Every sample attestation under the sample policy.
  ProcessResult IngestSamples() {
    return Lineage(
        {"ingest", "--policy", kSamplesDir + "/policy.json", kSamplesDir + "/attestations"});
  }

  // Parses `text` as JSON; the element lives until the next call. Text that
  // is not JSON fails the test (the exception ends it) and shows the text.
  simdjson::dom::element Json(const std::string& text) {
    json_text_ = text;
    simdjson::dom::element doc;
    if (auto error = parser_.parse(json_text_).get(doc); error != simdjson::SUCCESS) {
      throw std::runtime_error(std::string("not JSON (") + simdjson::error_message(error) + "):\n" +
                               text);
    }
    return doc;
  }
  simdjson::dom::element Json(const ProcessResult& r) { return Json(r.out); }

  std::string dir_;
  std::string db_;

 private:
  std::string prefix_;
  simdjson::dom::parser parser_;
  std::string json_text_;
};

}  // namespace lineage::testing
