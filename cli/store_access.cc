#include "cli/store_access.h"

#include <cerrno>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <iterator>

#include "absl/status/status.h"

#include <fmt/format.h>

namespace lineage::cli {

namespace fs = std::filesystem;

std::string Message(const absl::Status& status) {
  return std::string(status.message());
}

absl::StatusOr<std::unique_ptr<Store>> OpenExisting(const Context& ctx, bool read_only) {
  if (!fs::exists(fs::path(ctx.db_path) / "CURRENT")) {
    return absl::NotFoundError(
        fmt::format("no lineage database at {} (create one with `lineage --db {} ingest ...`)",
                    ctx.db_path, ctx.db_path));
  }
  StoreOptions options;
  options.read_only = read_only;
  options.create_if_missing = false;
  auto store = Store::Open(ctx.db_path, options);
  if (!store.ok()) {
    return absl::Status(store.status().code(),
                        fmt::format("{}: {}", ctx.db_path, Message(store.status())));
  }
  return store;
}

absl::StatusOr<std::string> ReadInput(const std::string& path, size_t max_bytes,
                                      std::string_view what) {
  std::string content;
  if (path == "-") {
    content.assign(std::istreambuf_iterator<char>(std::cin), std::istreambuf_iterator<char>());
  } else {
    std::error_code ec;
    uintmax_t size = fs::file_size(path, ec);
    if (ec) return absl::NotFoundError(fmt::format("{}: {}", path, ec.message()));
    if (size > max_bytes) {
      return absl::InvalidArgumentError(fmt::format("{}: {} bytes exceeds the {} limit of {} bytes",
                                                    path, size, what, max_bytes));
    }
    std::ifstream in(path, std::ios::binary);
    if (!in) {
      return absl::NotFoundError(fmt::format("{}: cannot open: {}", path, std::strerror(errno)));
    }
    content.assign(std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>());
  }
  if (content.size() > max_bytes) {
    return absl::InvalidArgumentError(fmt::format("{}: {} bytes exceeds the {} limit of {} bytes",
                                                  path == "-" ? "<stdin>" : path, content.size(),
                                                  what, max_bytes));
  }
  return content;
}

}  // namespace lineage::cli
