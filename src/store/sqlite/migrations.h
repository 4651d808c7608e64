// Versioned schema migrations for the SQLite backend.
//
// The schema is an ordered list of SQL scripts. Each one is applied once, in its own
// BEGIN IMMEDIATE transaction together with its row in `schema_migrations`, so a crash mid-way
// leaves the database at the previous version and two processes opening the same file at once
// cannot apply the same script twice. Scripts are append-only: a released script is never
// edited; a change to the schema is a new script at the end.
#pragma once

#include <string_view>
#include <vector>

#include "common/status.h"

namespace rampart::store::sqlite {

class Connection;

struct Migration {
  int version;  // 1, 2, 3, ...: strictly increasing, no gaps
  std::string_view name;
  std::string_view sql;
};

const std::vector<Migration>& Migrations();

// Applies every migration newer than the database's version; returns how many were applied
// (0 for an up-to-date database). Internal when the database is newer than this binary.
Result<int> ApplyMigrations(Connection& conn);

}  // namespace rampart::store::sqlite
