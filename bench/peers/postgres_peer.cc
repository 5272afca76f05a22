#include "bench/peers/sql_peers.h"

#ifdef LINEAGE_HAVE_LIBPQ

#include <libpq-fe.h>

#include <fmt/format.h>

namespace lineage::bench {
namespace {

constexpr const char* kClosure =
    "WITH RECURSIVE d(id) AS (SELECT dst FROM edge WHERE src = $1::int "
    "UNION SELECT e.dst FROM edge e JOIN d ON e.src = d.id) ";

// Owns one PGresult.
struct Result {
  explicit Result(PGresult* r) : r(r) {}
  ~Result() { PQclear(r); }
  Result(const Result&) = delete;
  Result& operator=(const Result&) = delete;
  PGresult* r;
};

class PostgresPeer final : public SqlPeer {
 public:
  explicit PostgresPeer(PGconn* conn) : conn_(conn) {}
  ~PostgresPeer() override { PQfinish(conn_); }

  std::string name() const override { return "postgresql"; }

  absl::Status Load(const SupplyChain& chain) override {
    for (const char* sql : {
             "SET synchronous_commit = off",
             "DROP TABLE IF EXISTS node, edge, denied",
             "CREATE TABLE node(id integer PRIMARY KEY, ref text NOT NULL)",
             "CREATE TABLE edge(src integer NOT NULL, dst integer NOT NULL, kind smallint NOT "
             "NULL)",
             "CREATE TABLE denied(id integer PRIMARY KEY)",
         }) {
      if (absl::Status s = Exec(sql); !s.ok()) return s;
    }
    if (absl::Status s = Copy("COPY node FROM STDIN", chain.refs.size(),
                              [&](size_t i, std::string& line) {
                                fmt::format_to(std::back_inserter(line), "{}\t{}\n", i,
                                               chain.refs[i]);
                              });
        !s.ok()) {
      return s;
    }
    if (absl::Status s = Copy("COPY edge FROM STDIN", chain.edges.size(),
                              [&](size_t i, std::string& line) {
                                const Edge& e = chain.edges[i];
                                fmt::format_to(std::back_inserter(line), "{}\t{}\t{}\n", e.from,
                                               e.to, EngineKind(e.kind));
                              });
        !s.ok()) {
      return s;
    }
    for (const char* sql : {"CREATE INDEX edge_src ON edge(src, kind, dst)", "VACUUM ANALYZE"}) {
      if (absl::Status s = Exec(sql); !s.ok()) return s;
    }
    return absl::OkStatus();
  }

  absl::StatusOr<uint64_t> Count(uint32_t root) override {
    absl::StatusOr<std::unique_ptr<Result>> r =
        Query(std::string(kClosure) + "SELECT count(*) FROM d", root);
    if (!r.ok()) return r.status();
    return std::stoull(PQgetvalue((*r)->r, 0, 0));
  }

  absl::StatusOr<std::vector<std::string>> List(uint32_t root) override {
    absl::StatusOr<std::unique_ptr<Result>> r =
        Query(std::string(kClosure) + "SELECT n.ref FROM d JOIN node n ON n.id = d.id", root);
    if (!r.ok()) return r.status();
    int rows = PQntuples((*r)->r);
    std::vector<std::string> refs;
    refs.reserve(static_cast<size_t>(rows));
    for (int i = 0; i < rows; ++i)
      refs.emplace_back(PQgetvalue((*r)->r, i, 0), static_cast<size_t>(PQgetlength((*r)->r, i, 0)));
    return refs;
  }

  absl::StatusOr<uint64_t> Mark(uint32_t root) override {
    // One statement is one transaction; commit returns once it is in the
    // WAL buffers (synchronous_commit = off, as the engine's sync = false).
    absl::StatusOr<std::unique_ptr<Result>> r = Query(
        "INSERT INTO denied(id) "
        "WITH RECURSIVE d(id) AS (VALUES ($1::int) UNION "
        "SELECT e.dst FROM edge e JOIN d ON e.src = d.id WHERE e.kind = 1) SELECT id FROM d "
        "ON CONFLICT DO NOTHING",
        root);
    if (!r.ok()) return r.status();
    return std::stoull(PQcmdTuples((*r)->r));
  }

  absl::Status Clear() override { return Exec("TRUNCATE denied"); }

  uint64_t DiskBytes() override {
    absl::StatusOr<std::unique_ptr<Result>> r = Query(
        "SELECT pg_total_relation_size('node') + pg_total_relation_size('edge') + "
        "pg_total_relation_size('denied') + 0 * $1::int",
        0);
    if (!r.ok()) return 0;
    return std::stoull(PQgetvalue((*r)->r, 0, 0));
  }

 private:
  absl::Status Exec(const char* sql) {
    Result r(PQexec(conn_, sql));
    ExecStatusType st = PQresultStatus(r.r);
    if (st == PGRES_COMMAND_OK || st == PGRES_TUPLES_OK) return absl::OkStatus();
    return absl::InternalError(fmt::format("postgresql: {}: {}", sql, PQerrorMessage(conn_)));
  }

  absl::StatusOr<std::unique_ptr<Result>> Query(const std::string& sql, uint32_t root) {
    std::string arg = std::to_string(root);
    const char* values[1] = {arg.c_str()};
    auto r = std::make_unique<Result>(
        PQexecParams(conn_, sql.c_str(), 1, nullptr, values, nullptr, nullptr, 0));
    ExecStatusType st = PQresultStatus(r->r);
    if (st == PGRES_COMMAND_OK || st == PGRES_TUPLES_OK) return r;
    return absl::InternalError(
        fmt::format("postgresql: {}: {}", sql.substr(0, 60), PQerrorMessage(conn_)));
  }

  // COPY ... FROM STDIN in text format, `rows` lines made by `line`, sent in
  // chunks of about 1 MiB.
  template <typename Line>
  absl::Status Copy(const char* sql, size_t rows, Line line) {
    {
      Result r(PQexec(conn_, sql));
      if (PQresultStatus(r.r) != PGRES_COPY_IN) {
        return absl::InternalError(fmt::format("postgresql: {}: {}", sql, PQerrorMessage(conn_)));
      }
    }
    std::string buffer;
    for (size_t i = 0; i < rows; ++i) {
      line(i, buffer);
      if (buffer.size() >= (1 << 20) || i + 1 == rows) {
        if (PQputCopyData(conn_, buffer.data(), static_cast<int>(buffer.size())) != 1) {
          return absl::InternalError(fmt::format("postgresql: {}: {}", sql, PQerrorMessage(conn_)));
        }
        buffer.clear();
      }
    }
    if (PQputCopyEnd(conn_, nullptr) != 1) {
      return absl::InternalError(fmt::format("postgresql: {}: {}", sql, PQerrorMessage(conn_)));
    }
    Result r(PQgetResult(conn_));
    if (PQresultStatus(r.r) != PGRES_COMMAND_OK) {
      return absl::InternalError(fmt::format("postgresql: {}: {}", sql, PQerrorMessage(conn_)));
    }
    while (PGresult* rest = PQgetResult(conn_))
      PQclear(rest);
    return absl::OkStatus();
  }

  PGconn* conn_;
};

}  // namespace

absl::StatusOr<std::unique_ptr<SqlPeer>> OpenPostgresPeer(const std::string& conninfo) {
  PGconn* conn = PQconnectdb(conninfo.c_str());
  if (PQstatus(conn) != CONNECTION_OK) {
    std::string message = PQerrorMessage(conn);
    PQfinish(conn);
    return absl::UnavailableError(fmt::format("postgresql {}: {}", conninfo, message));
  }
  return std::unique_ptr<SqlPeer>(new PostgresPeer(conn));
}

}  // namespace lineage::bench

#else  // !LINEAGE_HAVE_LIBPQ

namespace lineage::bench {

absl::StatusOr<std::unique_ptr<SqlPeer>> OpenPostgresPeer(const std::string& conninfo) {
  return absl::UnimplementedError("built without libpq (install libpq-dev and reconfigure)");
}

}  // namespace lineage::bench

#endif
