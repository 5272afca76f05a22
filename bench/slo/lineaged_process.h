// A lineaged child process for the SLO run: started with its stderr in a
// log file, which Start() polls (bounded in time) for the "listening on"
// line to learn the port it bound with port 0. Not a test fixture: errors
// come back as statuses, and the process is killed on destruction.
#pragma once

#include <sys/types.h>

#include <chrono>
#include <cstdint>
#include <string>
#include <vector>

#include "absl/status/status.h"

namespace lineage::bench {

class LineagedProcess {
 public:
  LineagedProcess() = default;
  ~LineagedProcess() { Kill(); }
  LineagedProcess(const LineagedProcess&) = delete;
  LineagedProcess& operator=(const LineagedProcess&) = delete;

  // Runs `argv` (argv[0]: the lineaged binary) with stderr appended to
  // `log`. FailedPrecondition if one is running; Unavailable if it exits or
  // names no port within `timeout`.
  absl::Status Start(const std::vector<std::string>& argv, const std::string& log,
                     std::chrono::seconds timeout);
  // SIGTERM and a bounded wait; SIGKILL after `timeout`. Returns the exit
  // status (128 + signal when killed by one), -1 if none was running.
  int Stop(std::chrono::seconds timeout = std::chrono::seconds(60));
  // SIGKILL now, as a crash would.
  void Kill();

  unsigned port() const { return port_; }
  pid_t pid() const { return pid_; }
  // VmHWM (peak resident set) of the running process in bytes, 0 if unknown.
  uint64_t PeakRssBytes() const;

 private:
  pid_t pid_ = -1;
  unsigned port_ = 0;
};

// VmHWM of /proc/<pid>/status in bytes ("self" for this process); 0 if it
// cannot be read.
uint64_t ReadPeakRss(const std::string& pid);

// Bytes of every regular file under `dir` (what `du -b` adds up).
uint64_t DirectoryBytes(const std::string& dir);

// /proc/loadavg without its newline.
std::string LoadAverage();

}  // namespace lineage::bench
