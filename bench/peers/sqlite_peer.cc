#include <sqlite3.h>

#include <filesystem>

#include <fmt/format.h>

#include "bench/peers/sql_peers.h"

namespace lineage::bench {
namespace {

constexpr const char* kSchema = R"(
PRAGMA journal_mode = WAL;
PRAGMA synchronous = NORMAL;
PRAGMA cache_size = -1048576;
PRAGMA temp_store = MEMORY;
CREATE TABLE node(id INTEGER PRIMARY KEY, ref TEXT NOT NULL);
CREATE TABLE edge(src INTEGER NOT NULL, dst INTEGER NOT NULL, kind INTEGER NOT NULL);
CREATE TABLE denied(id INTEGER PRIMARY KEY);
)";

// The closure of ?1 over every edge kind, the root excluded (as the store's
// descendants).
constexpr const char* kClosure =
    "WITH RECURSIVE d(id) AS (SELECT dst FROM edge WHERE src = ?1 "
    "UNION SELECT e.dst FROM edge e JOIN d ON e.src = d.id) ";

class SqlitePeer final : public SqlPeer {
 public:
  SqlitePeer(sqlite3* db, std::string path) : db_(db), path_(std::move(path)) {}
  ~SqlitePeer() override { sqlite3_close(db_); }

  std::string name() const override { return "sqlite"; }

  absl::Status Load(const SupplyChain& chain) override {
    if (absl::Status s = Exec(kSchema); !s.ok()) return s;
    if (absl::Status s = Exec("BEGIN"); !s.ok()) return s;
    {
      absl::StatusOr<sqlite3_stmt*> node = Prepare("INSERT INTO node VALUES (?1, ?2)");
      if (!node.ok()) return node.status();
      for (size_t i = 0; i < chain.refs.size(); ++i) {
        sqlite3_bind_int64(*node, 1, static_cast<int64_t>(i));
        sqlite3_bind_text(*node, 2, chain.refs[i].data(), static_cast<int>(chain.refs[i].size()),
                          SQLITE_STATIC);
        if (absl::Status s = StepDone(*node, "insert node"); !s.ok()) return s;
      }
      sqlite3_finalize(*node);
    }
    {
      absl::StatusOr<sqlite3_stmt*> edge = Prepare("INSERT INTO edge VALUES (?1, ?2, ?3)");
      if (!edge.ok()) return edge.status();
      for (const Edge& e : chain.edges) {
        sqlite3_bind_int64(*edge, 1, e.from);
        sqlite3_bind_int64(*edge, 2, e.to);
        sqlite3_bind_int(*edge, 3, EngineKind(e.kind));
        if (absl::Status s = StepDone(*edge, "insert edge"); !s.ok()) return s;
      }
      sqlite3_finalize(*edge);
    }
    if (absl::Status s = Exec("COMMIT"); !s.ok()) return s;
    if (absl::Status s = Exec("CREATE INDEX edge_src ON edge(src, kind, dst); ANALYZE"); !s.ok()) {
      return s;
    }
    return Exec("PRAGMA wal_checkpoint(TRUNCATE)");
  }

  absl::StatusOr<uint64_t> Count(uint32_t root) override {
    absl::StatusOr<sqlite3_stmt*> q = Prepare(std::string(kClosure) + "SELECT count(*) FROM d");
    if (!q.ok()) return q.status();
    sqlite3_bind_int64(*q, 1, root);
    uint64_t count = 0;
    int rc = sqlite3_step(*q);
    if (rc == SQLITE_ROW) count = static_cast<uint64_t>(sqlite3_column_int64(*q, 0));
    sqlite3_finalize(*q);
    if (rc != SQLITE_ROW) return Error("count", rc);
    return count;
  }

  absl::StatusOr<std::vector<std::string>> List(uint32_t root) override {
    absl::StatusOr<sqlite3_stmt*> q =
        Prepare(std::string(kClosure) + "SELECT n.ref FROM d JOIN node n ON n.id = d.id");
    if (!q.ok()) return q.status();
    sqlite3_bind_int64(*q, 1, root);
    std::vector<std::string> refs;
    int rc;
    while ((rc = sqlite3_step(*q)) == SQLITE_ROW) {
      refs.emplace_back(reinterpret_cast<const char*>(sqlite3_column_text(*q, 0)),
                        static_cast<size_t>(sqlite3_column_bytes(*q, 0)));
    }
    sqlite3_finalize(*q);
    if (rc != SQLITE_DONE) return Error("list", rc);
    return refs;
  }

  absl::StatusOr<uint64_t> Mark(uint32_t root) override {
    if (absl::Status s = Exec("BEGIN"); !s.ok()) return s;
    absl::StatusOr<sqlite3_stmt*> q = Prepare(
        "INSERT OR IGNORE INTO denied(id) "
        "WITH RECURSIVE d(id) AS (VALUES (?1) UNION "
        "SELECT e.dst FROM edge e JOIN d ON e.src = d.id WHERE e.kind = 1) SELECT id FROM d");
    if (!q.ok()) return q.status();
    sqlite3_bind_int64(*q, 1, root);
    absl::Status s = StepDone(*q, "mark");
    sqlite3_finalize(*q);
    if (!s.ok()) return s;
    uint64_t rows = static_cast<uint64_t>(sqlite3_changes(db_));
    if (absl::Status c = Exec("COMMIT"); !c.ok()) return c;
    return rows;
  }

  absl::Status Clear() override { return Exec("DELETE FROM denied; PRAGMA wal_checkpoint"); }

  uint64_t DiskBytes() override {
    uint64_t total = 0;
    for (const char* suffix : {"", "-wal", "-shm"}) {
      std::error_code ec;
      uint64_t n = std::filesystem::file_size(path_ + suffix, ec);
      if (!ec) total += n;
    }
    return total;
  }

 private:
  absl::Status Error(std::string_view what, int rc) {
    return absl::InternalError(fmt::format("sqlite {}: {}: {} ({})", path_, what,
                                           sqlite3_errmsg(db_), sqlite3_errstr(rc)));
  }

  absl::Status Exec(const std::string& sql) {
    char* message = nullptr;
    int rc = sqlite3_exec(db_, sql.c_str(), nullptr, nullptr, &message);
    if (rc == SQLITE_OK) return absl::OkStatus();
    absl::Status s = absl::InternalError(
        fmt::format("sqlite {}: {}: {}", path_, sql.substr(0, 60), message ? message : "?"));
    sqlite3_free(message);
    return s;
  }

  absl::StatusOr<sqlite3_stmt*> Prepare(const std::string& sql) {
    sqlite3_stmt* stmt = nullptr;
    int rc = sqlite3_prepare_v2(db_, sql.c_str(), static_cast<int>(sql.size()), &stmt, nullptr);
    if (rc != SQLITE_OK) return Error(sql.substr(0, 60), rc);
    return stmt;
  }

  absl::Status StepDone(sqlite3_stmt* stmt, std::string_view what) {
    int rc = sqlite3_step(stmt);
    sqlite3_reset(stmt);
    if (rc != SQLITE_DONE) return Error(what, rc);
    return absl::OkStatus();
  }

  sqlite3* db_;
  std::string path_;
};

}  // namespace

absl::StatusOr<std::unique_ptr<SqlPeer>> OpenSqlitePeer(const std::string& path) {
  std::error_code ec;
  for (const char* suffix : {"", "-wal", "-shm", "-journal"})
    std::filesystem::remove(path + suffix, ec);
  sqlite3* db = nullptr;
  int rc = sqlite3_open(path.c_str(), &db);
  if (rc != SQLITE_OK) {
    std::string message = db ? sqlite3_errmsg(db) : sqlite3_errstr(rc);
    sqlite3_close(db);
    return absl::InternalError(fmt::format("sqlite {}: open: {}", path, message));
  }
  return std::unique_ptr<SqlPeer>(new SqlitePeer(db, path));
}

}  // namespace lineage::bench
