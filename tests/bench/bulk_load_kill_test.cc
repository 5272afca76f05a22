// A bulk load killed at any moment leaves the database empty or complete,
// never in between: lineage_gen --bulk-load runs in a child process that is
// sent SIGKILL after a varying delay, and the database is then opened.
#include <fcntl.h>
#include <signal.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <string>
#include <thread>
#include <vector>

#include <fmt/format.h>

#include "engine/include/lineage/store.h"
#include "gtest/gtest.h"
#include "tests/engine/test_util.h"

extern char** environ;

namespace lineage {
namespace {

constexpr char kArtifacts[] = "20000";

// Runs lineage_gen --bulk-load `db`; kills it after `delay` unless it ended.
// Returns true if it was killed before it exited.
bool RunAndKill(const std::string& db, std::chrono::milliseconds delay) {
  std::vector<std::string> args = {LINEAGE_GEN_PATH, "--artifacts", kArtifacts, "--bulk-load", db};
  std::vector<char*> argv;
  for (std::string& a : args)
    argv.push_back(a.data());
  argv.push_back(nullptr);
  posix_spawn_file_actions_t actions;
  posix_spawn_file_actions_init(&actions);
  posix_spawn_file_actions_addopen(&actions, 1, "/dev/null", O_WRONLY, 0);
  posix_spawn_file_actions_addopen(&actions, 2, "/dev/null", O_WRONLY, 0);
  pid_t pid = -1;
  EXPECT_EQ(posix_spawn(&pid, argv[0], &actions, nullptr, argv.data(), environ), 0);
  posix_spawn_file_actions_destroy(&actions);
  // Polls (bounded by `delay`) so that a run that ends early is not waited on.
  const auto deadline = std::chrono::steady_clock::now() + delay;
  int status = 0;
  while (std::chrono::steady_clock::now() < deadline) {
    if (waitpid(pid, &status, WNOHANG) == pid) return false;
    std::this_thread::sleep_for(std::chrono::milliseconds(2));
  }
  const bool running = waitpid(pid, &status, WNOHANG) == 0;
  if (running) {
    kill(pid, SIGKILL);
    waitpid(pid, &status, 0);
  }
  return running;
}

TEST(BulkLoadKillTest, KilledLoadLeavesTheDatabaseEmptyOrComplete) {
  testing_util::TempDir dir;

  // The complete load, for reference.
  const auto start = std::chrono::steady_clock::now();
  ASSERT_FALSE(RunAndKill(dir.path() + "/full", std::chrono::milliseconds(20000)))
      << "lineage_gen did not finish in 20 s";
  const auto full_run = std::chrono::duration_cast<std::chrono::milliseconds>(
      std::chrono::steady_clock::now() - start);
  uint64_t full_attestations = 0, full_assertions = 0;
  {
    absl::StatusOr<std::unique_ptr<Store>> store =
        Store::Open(dir.path() + "/full", testing_util::QuietOptions());
    ASSERT_TRUE(store.ok()) << store.status();
    absl::StatusOr<StoreStats> stats = (*store)->Stats();
    ASSERT_TRUE(stats.ok());
    full_attestations = stats->attestations;
    full_assertions = stats->edge_assertions;
    ASSERT_GT(full_attestations, 10000u);
  }

  int killed = 0, empty = 0, complete = 0;
  constexpr int kRounds = 8;
  for (int round = 0; round < kRounds; ++round) {
    const std::string db = dir.path() + fmt::format("/killed-{}", round);
    // Spread the kills over the second half of a run, where the load
    // prepares, writes the SST files and ingests them (the first half
    // generates the chain); the last rounds usually finish.
    const auto delay = full_run / 2 + full_run * round / (kRounds - 1) * 2 / 3;
    // Created here, so that a kill lands in the load, not in the database's
    // creation (StoreTest.DatabaseWhoseCreationWasInterruptedIsFinishedOnOpen
    // covers that).
    ASSERT_TRUE(Store::Open(db, testing_util::QuietOptions()).ok());
    killed += RunAndKill(db, delay);
    absl::StatusOr<std::unique_ptr<Store>> store = Store::Open(db, testing_util::QuietOptions());
    ASSERT_TRUE(store.ok()) << "round " << round << ": " << store.status();
    absl::StatusOr<StoreStats> stats = (*store)->Stats();
    ASSERT_TRUE(stats.ok());
    if (stats->attestations == 0) {
      EXPECT_EQ(stats->edge_assertions, 0u) << "round " << round;
      ++empty;
    } else {
      EXPECT_EQ(stats->attestations, full_attestations) << "round " << round;
      EXPECT_EQ(stats->edge_assertions, full_assertions) << "round " << round;
      ++complete;
    }
    // Whatever was left, the store still accepts writes.
    EXPECT_TRUE((*store)
                    ->Ingest(testing_util::Record(std::string(64, 'e'), {testing_util::Sha256(1)}))
                    .ok());
  }
  EXPECT_GT(killed, 0) << "no run was killed: the delays are too long for this machine";
  RecordProperty("killed", killed);
  RecordProperty("empty", empty);
  RecordProperty("complete", complete);
}

}  // namespace
}  // namespace lineage
