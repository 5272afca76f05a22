#include "tests/support/child_process.h"

#include <fcntl.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <regex>
#include <sstream>
#include <thread>

#include <fmt/format.h>

namespace lineage::testing {
namespace {

// In the child, between fork and exec: only async-signal-safe calls.
void Redirect(const char* path, int flags, int target) {
  int fd = ::open(path, flags, 0644);
  if (fd < 0) _exit(126);
  dup2(fd, target);
  ::close(fd);
}

int ExitStatus(int status) {
  return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
}

}  // namespace

pid_t SpawnChild(const std::vector<std::string>& argv, const ChildOptions& options) {
  // Everything the child needs is prepared before fork.
  std::vector<char*> args;
  for (const std::string& a : argv)
    args.push_back(const_cast<char*>(a.c_str()));
  args.push_back(nullptr);
  const int flags = O_WRONLY | O_CREAT | (options.append ? O_APPEND : O_TRUNC);
  const std::string out = options.stdout_path.empty() ? "/dev/null" : options.stdout_path;
  const std::string err = options.stderr_path.empty() ? "/dev/null" : options.stderr_path;
  const bool shared = out == err;
  std::vector<std::string> env = options.env;  // putenv keeps the pointers

  pid_t pid = fork();
  if (pid != 0) return pid;
  prctl(PR_SET_PDEATHSIG, SIGKILL);
  for (std::string& e : env)
    putenv(e.data());
  Redirect(out.c_str(), flags, STDOUT_FILENO);
  if (shared) {
    dup2(STDOUT_FILENO, STDERR_FILENO);
  } else {
    Redirect(err.c_str(), flags, STDERR_FILENO);
  }
  execv(args[0], args.data());
  _exit(127);
}

int RunToExit(const std::vector<std::string>& argv, const ChildOptions& options) {
  pid_t pid = SpawnChild(argv, options);
  if (pid < 0) return -1;
  int status = 0;
  waitpid(pid, &status, 0);
  return ExitStatus(status);
}

absl::Status LineagedProcess::Start(const std::vector<std::string>& argv, const std::string& log,
                                    std::chrono::seconds timeout, std::chrono::milliseconds poll) {
  if (pid_ >= 0) return absl::FailedPreconditionError("lineaged is already running");
  log_ = log;
  port_ = 0;
  http_port_ = 0;
  // Emptied here, before the child exists: the poll below must never read
  // the port of an earlier daemon that wrote the same log.
  if (FILE* f = std::fopen(log.c_str(), "w"); f != nullptr) {
    std::fclose(f);
  } else {
    return absl::UnavailableError(fmt::format("{}: cannot write the log", log));
  }
  pid_ = SpawnChild(argv, ChildOptions{.stdout_path = "", .stderr_path = log, .append = true});
  if (pid_ < 0) return absl::InternalError("fork failed");
  const std::regex listening("listening on 127\\.0\\.0\\.1:([0-9]+)");
  const std::regex http("http on 127\\.0\\.0\\.1:([0-9]+)");
  // lineaged prints the HTTP line just after the RPC one: with --http, wait
  // for both.
  const bool want_http = std::any_of(argv.begin(), argv.end(), [](const std::string& a) {
    return a == "--http" || a.rfind("--http=", 0) == 0;
  });
  auto deadline = std::chrono::steady_clock::now() + timeout;
  while (std::chrono::steady_clock::now() < deadline) {
    std::smatch m;
    std::string text = ReadWholeFile(log);
    std::smatch h;
    if (std::regex_search(text, m, listening) && (!want_http || std::regex_search(text, h, http))) {
      port_ = static_cast<unsigned>(std::stoul(m[1]));
      if (want_http) http_port_ = static_cast<unsigned>(std::stoul(h[1]));
      return absl::OkStatus();
    }
    int status = 0;
    if (waitpid(pid_, &status, WNOHANG) == pid_) {
      pid_ = -1;
      return absl::UnavailableError(
          fmt::format("lineaged exited early with {}; {}:\n{}", ExitStatus(status), log, text));
    }
    std::this_thread::sleep_for(poll);
  }
  Kill();
  return absl::UnavailableError(fmt::format("lineaged named no port within {} s; {}:\n{}",
                                            timeout.count(), log, ReadWholeFile(log)));
}

int LineagedProcess::Stop(std::chrono::seconds timeout) {
  if (pid_ < 0) return -1;
  kill(pid_, SIGTERM);
  int status = 0;
  auto deadline = std::chrono::steady_clock::now() + timeout;
  while (std::chrono::steady_clock::now() < deadline) {
    if (waitpid(pid_, &status, WNOHANG) == pid_) {
      pid_ = -1;
      return ExitStatus(status);
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  Kill();
  return kKilledAfterTimeout;
}

void LineagedProcess::Kill() {
  if (pid_ < 0) return;
  kill(pid_, SIGKILL);
  waitpid(pid_, nullptr, 0);
  pid_ = -1;
}

uint64_t LineagedProcess::PeakRssBytes() const {
  return pid_ < 0 ? 0 : ReadPeakRss(std::to_string(pid_));
}

std::string ReadWholeFile(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::ostringstream s;
  s << in.rdbuf();
  return s.str();
}

uint64_t ReadPeakRss(const std::string& pid) {
  std::ifstream in("/proc/" + pid + "/status");
  std::string line;
  while (std::getline(in, line)) {
    if (line.rfind("VmHWM:", 0) == 0) return std::stoull(line.substr(6)) * 1024;
  }
  return 0;
}

uint64_t DirectoryBytes(const std::string& dir) {
  uint64_t total = 0;
  std::error_code ec;
  for (auto it = std::filesystem::recursive_directory_iterator(dir, ec);
       !ec && it != std::filesystem::recursive_directory_iterator(); it.increment(ec)) {
    if (it->is_regular_file(ec)) total += it->file_size(ec);
  }
  return total;
}

std::string LoadAverage() {
  std::string text = ReadWholeFile("/proc/loadavg");
  while (!text.empty() && text.back() == '\n')
    text.pop_back();
  return text;
}

}  // namespace lineage::testing
