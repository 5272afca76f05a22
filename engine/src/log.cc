#include "engine/include/lineage/log.h"

#include <cstdio>
#include <mutex>

#include "absl/time/clock.h"
#include "absl/time/time.h"

namespace lineage {
namespace {

std::string_view LevelTag(LogLevel level) {
  switch (level) {
    case LogLevel::kDebug:
      return "D";
    case LogLevel::kInfo:
      return "I";
    case LogLevel::kWarning:
      return "W";
    case LogLevel::kError:
      return "E";
  }
  return "?";
}

// Writes whole lines under a mutex so concurrent writers never interleave.
class FileLogger final : public Logger {
 public:
  FileLogger(std::FILE* file, bool owned, LogLevel min_level)
      : Logger(min_level), file_(file), owned_(owned) {}
  ~FileLogger() override {
    if (owned_ && file_ != nullptr) std::fclose(file_);
  }

  void Write(LogLevel level, std::string_view message) override {
    if (file_ == nullptr) return;
    std::string line = absl::FormatTime("%Y-%m-%dT%H:%M:%E6SZ", absl::Now(), absl::UTCTimeZone());
    line += ' ';
    line += LevelTag(level);
    line += ' ';
    line += message;
    line += '\n';
    std::lock_guard<std::mutex> lock(mu_);
    std::fwrite(line.data(), 1, line.size(), file_);
    std::fflush(file_);
  }

 private:
  std::mutex mu_;
  std::FILE* file_;
  bool owned_;
};

class NullLogger final : public Logger {
 public:
  NullLogger() : Logger(LogLevel::kError) {}
  void Write(LogLevel, std::string_view) override {}
};

}  // namespace

std::shared_ptr<Logger> NewFileLogger(const std::string& path, LogLevel min_level) {
  std::FILE* file = std::fopen(path.c_str(), "a");
  return std::make_shared<FileLogger>(file, /*owned=*/true, min_level);
}

std::shared_ptr<Logger> NewStderrLogger(LogLevel min_level) {
  return std::make_shared<FileLogger>(stderr, /*owned=*/false, min_level);
}

std::shared_ptr<Logger> NewNullLogger() {
  return std::make_shared<NullLogger>();
}

}  // namespace lineage
