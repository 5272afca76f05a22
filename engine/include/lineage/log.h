// Logging for the library. The library never prints: it writes to a Logger
// it is given. Level is checked before formatting.
//
//   LINEAGE_LOG(logger, kInfo, "opened {} with {} nodes in {} ms", path, n, ms);
#pragma once

#include <memory>
#include <string>
#include <string_view>

#include <fmt/format.h>

namespace lineage {

enum class LogLevel { kDebug = 0, kInfo = 1, kWarning = 2, kError = 3 };

// Thread safety: implementations must accept concurrent Write calls.
class Logger {
 public:
  explicit Logger(LogLevel min_level = LogLevel::kInfo) : min_level_(min_level) {}
  virtual ~Logger() = default;

  bool Enabled(LogLevel level) const { return level >= min_level_; }
  virtual void Write(LogLevel level, std::string_view message) = 0;

 private:
  LogLevel min_level_;
};

// Appends timestamped lines to a file (created if missing). Falls back to
// discarding lines if the file cannot be opened: logging must never fail an
// operation.
std::shared_ptr<Logger> NewFileLogger(const std::string& path,
                                      LogLevel min_level = LogLevel::kInfo);
// Writes timestamped lines to stderr (for daemons under journald and tools).
std::shared_ptr<Logger> NewStderrLogger(LogLevel min_level = LogLevel::kInfo);
// Discards everything.
std::shared_ptr<Logger> NewNullLogger();

}  // namespace lineage

#define LINEAGE_LOG(logger, level, ...)                                                           \
  do {                                                                                            \
    ::lineage::Logger* lineage_log_sink_ = (logger);                                              \
    if (lineage_log_sink_ != nullptr && lineage_log_sink_->Enabled(::lineage::LogLevel::level)) { \
      lineage_log_sink_->Write(::lineage::LogLevel::level, fmt::format(__VA_ARGS__));             \
    }                                                                                             \
  } while (0)
