// Child processes for the integration tests and the SLO bench: a real
// lineaged started on port 0 (its stderr in a log file, polled with a bound
// for the ports it bound) and programs run to completion. Errors come back
// as statuses, so the same code serves GoogleTest fixtures
// (tests/integration/daemon_process.h wraps it) and the bench binary.
#pragma once

#include <sys/types.h>

#include <chrono>
#include <cstdint>
#include <string>
#include <vector>

#include "absl/status/status.h"

namespace lineage::testing {

// Where a child's output goes (an empty path is /dev/null) and what it adds
// to the environment it inherits.
struct ChildOptions {
  std::string stdout_path;
  std::string stderr_path;       // may equal stdout_path: one file for both
  bool append = false;           // append instead of truncating
  std::vector<std::string> env;  // "NAME=value" entries
};

// Forks and execs argv (argv[0] is the program's path) as `options` say; the child is killed if
// this process dies first, so a crashed test or bench leaves no daemon behind. Returns its pid, or
// -1 if fork failed. An exec failure is the child's exit code 127.
pid_t SpawnChild(const std::vector<std::string>& argv, const ChildOptions& options);

// SpawnChild, then waits. The exit status: 128 + signal when killed by one,
// -1 if it could not be started.
int RunToExit(const std::vector<std::string>& argv, const ChildOptions& options);

// A lineaged child. Start() truncates `log` and polls it for the
// "listening on 127.0.0.1:PORT" line (and "http on 127.0.0.1:PORT" when
// the daemon serves HTTP).
class LineagedProcess {
 public:
  LineagedProcess() = default;
  ~LineagedProcess() { Kill(); }
  LineagedProcess(const LineagedProcess&) = delete;
  LineagedProcess& operator=(const LineagedProcess&) = delete;

  // Runs `argv` (argv[0]: the lineaged binary) with stderr in `log`, a new
  // file per start: an old log still names the old port. FailedPrecondition
  // if one is running; Unavailable, with the log, if it exits or names no
  // port within `timeout`. `poll` is the log's polling interval: a restart
  // figure includes its granularity.
  absl::Status Start(const std::vector<std::string>& argv, const std::string& log,
                     std::chrono::seconds timeout,
                     std::chrono::milliseconds poll = std::chrono::milliseconds(10));
  // SIGTERM and a bounded wait. Returns the exit status (128 + signal when
  // killed by one), -1 if none was running, and after `timeout` kills it and
  // returns kKilledAfterTimeout.
  static constexpr int kKilledAfterTimeout = -2;
  int Stop(std::chrono::seconds timeout = std::chrono::seconds(60));
  // SIGKILL now, as a crash would.
  void Kill();

  unsigned port() const { return port_; }
  unsigned http_port() const { return http_port_; }  // 0 without --http
  pid_t pid() const { return pid_; }
  const std::string& log_path() const { return log_; }
  // VmHWM (peak resident set) of the running process in bytes, 0 if unknown.
  uint64_t PeakRssBytes() const;

 private:
  std::string log_;
  pid_t pid_ = -1;
  unsigned port_ = 0;
  unsigned http_port_ = 0;
};

// The whole file, or "" if it cannot be read.
std::string ReadWholeFile(const std::string& path);

// VmHWM of /proc/<pid>/status in bytes ("self" for this process); 0 if it
// cannot be read.
uint64_t ReadPeakRss(const std::string& pid);

// Bytes of every regular file under `dir` (what `du -b` adds up).
uint64_t DirectoryBytes(const std::string& dir);

// /proc/loadavg without its newline.
std::string LoadAverage();

}  // namespace lineage::testing
