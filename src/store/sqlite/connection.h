// Thin RAII layer over the SQLite C API, private to the sqlite backend.
//
// A Connection owns one sqlite3 handle and a cache of prepared statements keyed by SQL text.
// A Connection is NOT thread-safe: the owner (SqliteStore) serialises access to each one.
// Statements are obtained with Prepare(); the returned Statement borrows a cached handle and
// resets it (and clears its bindings) when it goes out of scope. Preparing the same SQL text
// again while an earlier Statement for it is alive would rebind a running statement, so it is
// refused (Internal) instead.
//
// SQL text passed here is always made of constant fragments chosen by the caller; every value
// travels through Bind*().
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <unordered_map>
#include <variant>
#include <vector>

#include "common/status.h"

struct sqlite3;
struct sqlite3_stmt;

namespace rampart::store::sqlite {

struct SqliteCloser {
  void operator()(sqlite3* db) const;
};
struct StmtFinalizer {
  void operator()(sqlite3_stmt* stmt) const;
};
using DbHandle = std::unique_ptr<sqlite3, SqliteCloser>;
using StmtHandle = std::unique_ptr<sqlite3_stmt, StmtFinalizer>;

// Raw bytes bound as a BLOB (keys), so embedded NULs survive and nothing treats them as text.
struct BlobValue {
  std::string bytes;
};
// A value bound to a '?' placeholder. std::monostate binds SQL NULL.
using Param = std::variant<std::monostate, int64_t, std::string, BlobValue>;

// Maps an SQLite result code (extended codes included) to a Status. Messages name the failing
// operation only, never a value.
Status SqliteStatus(int rc, std::string_view what);

class Statement {
 public:
  Statement(sqlite3_stmt* stmt, bool* leased) : stmt_(stmt), leased_(leased) { *leased_ = true; }
  ~Statement();
  Statement(Statement&& other) noexcept
      : stmt_(other.stmt_),
        leased_(other.leased_),
        next_(other.next_),
        bind_error_(other.bind_error_) {
    other.stmt_ = nullptr;
    other.leased_ = nullptr;
  }
  Statement(const Statement&) = delete;
  Statement& operator=(const Statement&) = delete;
  Statement& operator=(Statement&&) = delete;

  // Binds the next placeholder (1, 2, ...), in order of appearance.
  Statement& Bind(std::string_view text);
  Statement& Bind(const std::string& text) { return Bind(std::string_view(text)); }
  Statement& Bind(const char* text) { return Bind(std::string_view(text)); }
  Statement& Bind(int64_t value);
  Statement& Bind(int value) { return Bind(static_cast<int64_t>(value)); }
  Statement& Bind(bool value) { return Bind(static_cast<int64_t>(value ? 1 : 0)); }
  Statement& BindBlob(std::string_view bytes);
  // Binds NULL for an empty string (optional foreign keys), the text otherwise.
  Statement& BindOptional(const std::string& text);
  Statement& BindNull();
  Statement& Bind(const Param& param);

  // Advances one row: true while a row is available, false when done.
  Result<bool> Step();
  // Runs a statement that returns no rows to completion.
  Status Run();
  // Rows changed by the last Run() on this connection.
  int64_t Changes() const;

  std::string Text(int col) const;
  std::string Blob(int col) const;
  int64_t Int(int col) const;
  bool Bool(int col) const { return Int(col) != 0; }
  bool IsNull(int col) const;

 private:
  sqlite3_stmt* stmt_;
  bool* leased_;  // the cache entry's in-use flag, cleared on destruction
  int next_ = 1;
  int bind_error_ = 0;
};

class Connection {
 public:
  // Opens (creating if missing) the database at `path` (":memory:" for a private in-memory
  // database) and applies the connection pragmas. `read_only` sets query_only.
  static Result<std::unique_ptr<Connection>> Open(const std::string& path, bool read_only);

  Connection(const Connection&) = delete;
  Connection& operator=(const Connection&) = delete;

  Result<Statement> Prepare(const std::string& sql);
  // Prepares, binds and runs a statement that returns no rows.
  Status Exec(const std::string& sql, const std::vector<Param>& params = {});
  // Runs a script of several statements (migrations): each is prepared and stepped in turn.
  Status ExecScript(std::string_view script);

  sqlite3* handle() { return db_.get(); }

 private:
  explicit Connection(DbHandle db) : db_(std::move(db)) {}
  struct CachedStatement {
    StmtHandle stmt;
    bool leased = false;
  };
  DbHandle db_;
  // Node-based, so a Statement's pointer to its entry's flag stays valid as the map grows.
  std::unordered_map<std::string, CachedStatement> cache_;
};

// A transaction on one connection; rolls back on destruction unless committed.
class Transaction {
 public:
  enum class Mode { kDeferred, kImmediate };
  static Result<Transaction> Begin(Connection& conn, Mode mode);
  Transaction(Transaction&& other) noexcept : conn_(other.conn_) { other.conn_ = nullptr; }
  Transaction(const Transaction&) = delete;
  Transaction& operator=(const Transaction&) = delete;
  Transaction& operator=(Transaction&&) = delete;
  ~Transaction();
  Status Commit();

 private:
  explicit Transaction(Connection* conn) : conn_(conn) {}
  Connection* conn_;
};

}  // namespace rampart::store::sqlite
