// The SQL peers of the comparison: SQLite and PostgreSQL 15 holding the same
// graph as an indexed edge table, traversed with `WITH RECURSIVE ... UNION`
// (node-unique: UNION drops rows already produced, as a BFS drops visited
// nodes; UNION ALL would enumerate paths and never finish on this graph).
//
// Tables (ids are the generator's dense node ids, the same as the CSR's):
//   node(id INTEGER PRIMARY KEY, ref TEXT)
//   edge(src, dst, kind)  with an index on (src, kind, dst); kind numbered
//                         as the engine's (lineage/types.h: derived = 1)
//   denied(id INTEGER PRIMARY KEY)
//
// The three operations of the comparison, for one root:
//   Count  SELECT count(*) over the recursive closure (every edge kind)
//   List   the closure's refs, read row by row into strings (every edge kind)
//   Mark   in one transaction, the root and its `derived` descendants inserted
//          into `denied`: what a revocation enforce persists
//
// Durability is set to match the engine's default (StoreOptions::sync =
// false: a killed process loses nothing, a power loss may drop the last
// commits): SQLite in WAL mode with synchronous=NORMAL, PostgreSQL with
// synchronous_commit=off.
//
// Errors: every call returns a status naming the peer and the statement.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "bench/gen/supply_chain.h"

namespace lineage::bench {

// The engine's number of a generator edge kind (derived 1, signed 2, built
// 3, runs 4), so that the tables read like the store's.
inline int EngineKind(EdgeKind kind) {
  return static_cast<int>(kind) + 1;
}

class SqlPeer {
 public:
  virtual ~SqlPeer() = default;
  virtual std::string name() const = 0;

  // Creates the tables, loads `chain` (nodes and every edge) and builds the
  // index. Takes minutes at 1M artifacts; not part of the comparison.
  virtual absl::Status Load(const SupplyChain& chain) = 0;
  virtual absl::StatusOr<uint64_t> Count(uint32_t root) = 0;
  virtual absl::StatusOr<std::vector<std::string>> List(uint32_t root) = 0;
  // Returns the rows inserted. Clear() (not timed) empties `denied` first.
  virtual absl::StatusOr<uint64_t> Mark(uint32_t root) = 0;
  virtual absl::Status Clear() = 0;
  // On-disk bytes of the database, 0 if unknown.
  virtual uint64_t DiskBytes() = 0;
};

// SQLite database file at `path` (created; an existing file is replaced).
absl::StatusOr<std::unique_ptr<SqlPeer>> OpenSqlitePeer(const std::string& path);

// A PostgreSQL server reached with the libpq connection string `conninfo`
// (e.g. "host=127.0.0.1 port=5433 dbname=postgres user=bench"); the tables
// are dropped and recreated. Unimplemented when built without libpq.
absl::StatusOr<std::unique_ptr<SqlPeer>> OpenPostgresPeer(const std::string& conninfo);

}  // namespace lineage::bench
