// Runs a program and captures its exit code, stdout and stderr. For tests
// that drive the real `lineage` binary.
#pragma once

#include <string>
#include <vector>

namespace lineage::testing {

struct ProcessResult {
  int exit_code = -1;  // 128 + signal number if killed by a signal
  std::string out;
  std::string err;
};

// Runs argv[0] with argv, feeding `input` on stdin. Blocks until it exits.
// Environment: inherited, plus `env` entries ("NAME=value").
ProcessResult RunProcess(const std::vector<std::string>& argv, const std::string& input = "",
                         const std::vector<std::string>& env = {});

// Makes a fresh empty directory under the test temp dir; removed by the
// caller (or left for inspection on failure).
std::string MakeTempDir(const std::string& prefix);

std::string ReadFile(const std::string& path);
void WriteFile(const std::string& path, const std::string& content);

}  // namespace lineage::testing
