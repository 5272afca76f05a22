// A real lineaged child process for the integration tests. Its stderr goes
// to a log file that Start() polls, bounded in time, for the "listening on"
// line (and the "http on" line when --http is given), so tests learn the
// ports the daemon bound with port 0.
#pragma once

#include <fcntl.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <fstream>
#include <regex>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include <gtest/gtest.h>

namespace lineage::testing {

inline std::string ReadAll(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::ostringstream s;
  s << in.rdbuf();
  return s.str();
}

class DaemonProcess {
 public:
  DaemonProcess() = default;
  ~DaemonProcess() { Kill(); }
  DaemonProcess(const DaemonProcess&) = delete;
  DaemonProcess& operator=(const DaemonProcess&) = delete;

  // Runs `argv` (argv[0] is the lineaged binary) with stderr to `log`, a new
  // file per start: an old log still names the old port. Fails the test if
  // the daemon exits or reports no port within `timeout`.
  void Start(std::vector<std::string> argv, const std::string& log,
             std::chrono::seconds timeout = std::chrono::seconds(30)) {
    log_ = log;
    pid_ = fork();
    ASSERT_GE(pid_, 0);
    if (pid_ == 0) {
      int fd = ::open(log_.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
      dup2(fd, STDERR_FILENO);
      std::vector<char*> args;
      for (std::string& a : argv)
        args.push_back(a.data());
      args.push_back(nullptr);
      execv(args[0], args.data());
      _exit(127);
    }
    std::regex listening("listening on 127\\.0\\.0\\.1:([0-9]+)");
    std::regex http("http on 127\\.0\\.0\\.1:([0-9]+)");
    auto deadline = std::chrono::steady_clock::now() + timeout;
    while (std::chrono::steady_clock::now() < deadline) {
      std::smatch m;
      std::string text = ReadAll(log_);
      if (std::regex_search(text, m, listening)) {
        port_ = static_cast<unsigned>(std::stoul(m[1]));
        std::smatch h;
        if (std::regex_search(text, h, http)) http_port_ = static_cast<unsigned>(std::stoul(h[1]));
        return;
      }
      int status = 0;
      if (waitpid(pid_, &status, WNOHANG) == pid_) {
        pid_ = -1;
        FAIL() << "lineaged exited early:\n" << text;
      }
      std::this_thread::sleep_for(std::chrono::milliseconds(10));
    }
    FAIL() << "lineaged did not report its port:\n" << ReadAll(log_);
  }

  // SIGTERM, then a bounded wait for the exit. Returns the exit status (128 +
  // signal if killed by one), -1 if not running, -2 if it had to be killed.
  int Stop(std::chrono::seconds timeout = std::chrono::seconds(20)) {
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
    return -2;
  }

  void Kill() {
    if (pid_ < 0) return;
    kill(pid_, SIGKILL);
    waitpid(pid_, nullptr, 0);
    pid_ = -1;
  }

  unsigned port() const { return port_; }
  unsigned http_port() const { return http_port_; }
  pid_t pid() const { return pid_; }
  std::string log() const { return ReadAll(log_); }

 private:
  std::string log_;
  pid_t pid_ = -1;
  unsigned port_ = 0;
  unsigned http_port_ = 0;
};

}  // namespace lineage::testing
