#include "bench/slo/lineaged_process.h"

#include <fcntl.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <regex>
#include <sstream>
#include <thread>

#include <fmt/format.h>

namespace lineage::bench {
namespace {

std::string ReadFile(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::ostringstream s;
  s << in.rdbuf();
  return s.str();
}

}  // namespace

absl::Status LineagedProcess::Start(const std::vector<std::string>& argv, const std::string& log,
                                    std::chrono::seconds timeout) {
  if (pid_ >= 0) return absl::FailedPreconditionError("lineaged is already running");
  // A fresh log per start: an old one still names the old port.
  { std::ofstream truncate(log, std::ios::trunc); }
  pid_ = fork();
  if (pid_ < 0) return absl::InternalError("fork failed");
  if (pid_ == 0) {
    // Dies with this process (a crashed bench leaves no daemon behind),
    // and keeps none of its pipes open: stdout goes nowhere.
    prctl(PR_SET_PDEATHSIG, SIGKILL);
    int fd = ::open(log.c_str(), O_WRONLY | O_APPEND);
    dup2(fd, STDERR_FILENO);
    int null = ::open("/dev/null", O_WRONLY);
    dup2(null, STDOUT_FILENO);
    std::vector<char*> args;
    for (const std::string& a : argv)
      args.push_back(const_cast<char*>(a.c_str()));
    args.push_back(nullptr);
    execv(args[0], args.data());
    _exit(127);
  }
  const std::regex listening("listening on 127\\.0\\.0\\.1:([0-9]+)");
  auto deadline = std::chrono::steady_clock::now() + timeout;
  while (std::chrono::steady_clock::now() < deadline) {
    std::smatch m;
    std::string text = ReadFile(log);
    if (std::regex_search(text, m, listening)) {
      port_ = static_cast<unsigned>(std::stoul(m[1]));
      return absl::OkStatus();
    }
    int status = 0;
    if (waitpid(pid_, &status, WNOHANG) == pid_) {
      pid_ = -1;
      return absl::UnavailableError(fmt::format("lineaged exited early; {}:\n{}", log, text));
    }
    // Short: the restart figure includes this poll's granularity.
    std::this_thread::sleep_for(std::chrono::milliseconds(2));
  }
  Kill();
  return absl::UnavailableError(
      fmt::format("lineaged named no port within {} s; see {}", timeout.count(), log));
}

int LineagedProcess::Stop(std::chrono::seconds timeout) {
  if (pid_ < 0) return -1;
  kill(pid_, SIGTERM);
  int status = 0;
  auto deadline = std::chrono::steady_clock::now() + timeout;
  while (std::chrono::steady_clock::now() < deadline) {
    if (waitpid(pid_, &status, WNOHANG) == pid_) {
      pid_ = -1;
      return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  Kill();
  return 128 + SIGKILL;
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
  std::string text = ReadFile("/proc/loadavg");
  while (!text.empty() && text.back() == '\n')
    text.pop_back();
  return text;
}

}  // namespace lineage::bench
