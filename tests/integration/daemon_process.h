// A real lineaged child process for the integration tests: the GoogleTest
// face of tests/support/child_process.h's LineagedProcess, which learns the
// ports the daemon bound with port 0 from its log.
#pragma once

#include <signal.h>

#include <chrono>
#include <string>
#include <vector>

#include <gtest/gtest.h>

#include "tests/support/child_process.h"

namespace lineage::testing {

inline std::string ReadAll(const std::string& path) {
  return ReadWholeFile(path);
}

class DaemonProcess {
 public:
  // Runs `argv` (argv[0] is the lineaged binary) with stderr to `log`, a new
  // file per start. Fails the test if the daemon exits or reports no port
  // (and no HTTP port when --http is given) within `timeout`.
  void Start(std::vector<std::string> argv, const std::string& log,
             std::chrono::seconds timeout = std::chrono::seconds(30)) {
    absl::Status started = process_.Start(argv, log, timeout);
    ASSERT_TRUE(started.ok()) << started.message();
  }

  // SIGTERM, then a bounded wait for the exit. Returns the exit status (128 +
  // signal if killed by one), -1 if not running, -2 if it had to be killed.
  int Stop(std::chrono::seconds timeout = std::chrono::seconds(20)) {
    return process_.Stop(timeout);
  }

  void Kill() { process_.Kill(); }
  // Sends `signal` (SIGHUP, SIGSTOP, ...) if it runs.
  void Signal(int signal) {
    if (process_.pid() > 0) ::kill(process_.pid(), signal);
  }

  unsigned port() const { return process_.port(); }
  unsigned http_port() const { return process_.http_port(); }
  pid_t pid() const { return process_.pid(); }
  std::string log() const { return ReadWholeFile(process_.log_path()); }

 private:
  LineagedProcess process_;
};

}  // namespace lineage::testing
