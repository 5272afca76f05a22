// Helpers every command file of the CLI uses: opening an existing database
// and reading an input file within a size limit.
#pragma once

#include <cstddef>
#include <memory>
#include <string>
#include <string_view>

#include "absl/status/statusor.h"
#include "cli/commands.h"
#include "engine/include/lineage/store.h"

namespace lineage::cli {

// The status's message as a std::string (abseil's string_view is not
// std::string_view in this version).
std::string Message(const absl::Status& status);

// Opens the database at ctx.db_path, which must exist: a command against a
// missing database is a mistake in --db, never a reason to create an empty
// one (NotFound, with how to create one). Errors are prefixed with the path.
absl::StatusOr<std::unique_ptr<Store>> OpenExisting(const Context& ctx, bool read_only);

// Readers open read-only so that they run beside a writer (a gate script
// checking while a responder enforces).
inline absl::StatusOr<std::unique_ptr<Store>> OpenForQuery(const Context& ctx) {
  return OpenExisting(ctx, /*read_only=*/true);
}
inline absl::StatusOr<std::unique_ptr<Store>> OpenForWrite(const Context& ctx) {
  return OpenExisting(ctx, /*read_only=*/false);
}

// The whole of `path` ("-" for stdin), refused beyond `max_bytes` before it
// is read when the size is known. `what` names the limit in messages
// ("document", "inventory").
absl::StatusOr<std::string> ReadInput(const std::string& path, size_t max_bytes,
                                      std::string_view what);

}  // namespace lineage::cli
