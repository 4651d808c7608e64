#include "store/sqlite/connection.h"

#include <sqlite3.h>

#include <string>

namespace rampart::store::sqlite {
namespace {

// Long enough to ride out a checkpoint or another process's write, short enough that a stuck
// lock surfaces as Unavailable instead of hanging a worker thread.
constexpr int kBusyTimeoutMs = 5000;

}  // namespace

void SqliteCloser::operator()(sqlite3* db) const {
  sqlite3_close_v2(db);
}
void StmtFinalizer::operator()(sqlite3_stmt* stmt) const {
  sqlite3_finalize(stmt);
}

Status SqliteStatus(int rc, std::string_view what) {
  std::string op(what);
  switch (rc) {
    case SQLITE_OK:
    case SQLITE_DONE:
    case SQLITE_ROW:
      return Status::Ok();
    case SQLITE_CONSTRAINT_PRIMARYKEY:
    case SQLITE_CONSTRAINT_UNIQUE:
      return Status::AlreadyExists(op + ": already exists");
    case SQLITE_CONSTRAINT_FOREIGNKEY:
      return Status::NotFound(op + ": referenced row not found");
    default:
      // Extended codes are on: SQLITE_BUSY_RECOVERY, SQLITE_BUSY_SNAPSHOT, SQLITE_LOCKED_* are
      // busy too.
      if ((rc & 0xff) == SQLITE_BUSY || (rc & 0xff) == SQLITE_LOCKED) {
        return Status::Unavailable(op + ": database busy");
      }
      return Status::Internal(op + ": " + sqlite3_errstr(rc));
  }
}

Statement::~Statement() {
  if (stmt_ != nullptr) {
    sqlite3_reset(stmt_);
    sqlite3_clear_bindings(stmt_);
  }
  if (leased_ != nullptr) *leased_ = false;
}

Statement& Statement::Bind(std::string_view text) {
  int rc = sqlite3_bind_text(stmt_, next_++, text.data(), static_cast<int>(text.size()),
                             SQLITE_TRANSIENT);
  if (rc != SQLITE_OK && bind_error_ == 0) bind_error_ = rc;
  return *this;
}

Statement& Statement::Bind(int64_t value) {
  int rc = sqlite3_bind_int64(stmt_, next_++, value);
  if (rc != SQLITE_OK && bind_error_ == 0) bind_error_ = rc;
  return *this;
}

Statement& Statement::BindBlob(std::string_view bytes) {
  int rc = sqlite3_bind_blob(stmt_, next_++, bytes.data(), static_cast<int>(bytes.size()),
                             SQLITE_TRANSIENT);
  if (rc != SQLITE_OK && bind_error_ == 0) bind_error_ = rc;
  return *this;
}

Statement& Statement::BindNull() {
  int rc = sqlite3_bind_null(stmt_, next_++);
  if (rc != SQLITE_OK && bind_error_ == 0) bind_error_ = rc;
  return *this;
}

Statement& Statement::BindOptional(const std::string& text) {
  return text.empty() ? BindNull() : Bind(text);
}

Statement& Statement::Bind(const Param& param) {
  if (const auto* i = std::get_if<int64_t>(&param)) return Bind(*i);
  if (const auto* s = std::get_if<std::string>(&param)) return Bind(*s);
  if (const auto* b = std::get_if<BlobValue>(&param)) return BindBlob(b->bytes);
  return BindNull();
}

Result<bool> Statement::Step() {
  if (bind_error_ != 0) return SqliteStatus(bind_error_, "bind");
  int rc = sqlite3_step(stmt_);
  if (rc == SQLITE_ROW) return true;
  if (rc == SQLITE_DONE) return false;
  // The extended code tells a unique violation from a foreign-key one.
  return SqliteStatus(sqlite3_extended_errcode(sqlite3_db_handle(stmt_)), "step");
}

Status Statement::Run() {
  auto r = Step();
  if (!r.ok()) return r.status();
  return Status::Ok();
}

int64_t Statement::Changes() const {
  return sqlite3_changes64(sqlite3_db_handle(stmt_));
}

std::string Statement::Text(int col) const {
  const auto* p = reinterpret_cast<const char*>(sqlite3_column_text(stmt_, col));
  if (p == nullptr) return {};
  return std::string(p, static_cast<size_t>(sqlite3_column_bytes(stmt_, col)));
}

std::string Statement::Blob(int col) const {
  const auto* p = static_cast<const char*>(sqlite3_column_blob(stmt_, col));
  if (p == nullptr) return {};
  return std::string(p, static_cast<size_t>(sqlite3_column_bytes(stmt_, col)));
}

int64_t Statement::Int(int col) const {
  return sqlite3_column_int64(stmt_, col);
}

bool Statement::IsNull(int col) const {
  return sqlite3_column_type(stmt_, col) == SQLITE_NULL;
}

Result<std::unique_ptr<Connection>> Connection::Open(const std::string& path, bool read_only) {
  if (sqlite3_threadsafe() == 0) {
    return Status::Internal("sqlite library built without thread support");
  }
  sqlite3* raw = nullptr;
  // NOMUTEX: SqliteStore serialises each connection itself, so SQLite's own per-connection
  // mutex would only add cost.
  int flags = SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_NOMUTEX;
  int rc = sqlite3_open_v2(path.c_str(), &raw, flags, nullptr);
  DbHandle db(raw);
  if (rc != SQLITE_OK) return SqliteStatus(rc, "open database");
  sqlite3_extended_result_codes(db.get(), 1);
  sqlite3_busy_timeout(db.get(), kBusyTimeoutMs);

  std::unique_ptr<Connection> conn(new Connection(std::move(db)));
  // journal_mode answers with a row, so it goes through Prepare/Step like any query. An
  // in-memory database answers "memory" and stays that way, which is fine.
  {
    RAMPART_ASSIGN_OR_RETURN(Statement wal, conn->Prepare("PRAGMA journal_mode=WAL"));
    RAMPART_ASSIGN_OR_RETURN(bool row, wal.Step());
    (void)row;
  }
  RAMPART_RETURN_IF_ERROR(conn->Exec("PRAGMA foreign_keys=ON"));
  RAMPART_RETURN_IF_ERROR(conn->Exec("PRAGMA synchronous=NORMAL"));
  if (read_only) {
    RAMPART_RETURN_IF_ERROR(conn->Exec("PRAGMA query_only=ON"));
  } else {
    // The one writer gets 32 MiB of page cache (SQLite's default is 2 MiB, filled as pages are
    // read): once the alert and incident indexes outgrow the default, every lookup of an alert
    // storm was a pread. Readers keep the default, so memory stays bounded.
    RAMPART_RETURN_IF_ERROR(conn->Exec("PRAGMA cache_size=-32768"));
  }
  return conn;
}

Result<Statement> Connection::Prepare(const std::string& sql) {
  auto it = cache_.find(sql);
  if (it == cache_.end()) {
    sqlite3_stmt* raw = nullptr;
    int rc = sqlite3_prepare_v3(db_.get(), sql.c_str(), static_cast<int>(sql.size()),
                                SQLITE_PREPARE_PERSISTENT, &raw, nullptr);
    StmtHandle stmt(raw);
    if (rc != SQLITE_OK) return SqliteStatus(rc, "prepare");
    if (stmt == nullptr) return Status::Internal("prepare: empty statement");
    it = cache_.emplace(sql, CachedStatement{std::move(stmt), false}).first;
  }
  if (it->second.leased) return Status::Internal("prepare: statement already in use");
  return Statement(it->second.stmt.get(), &it->second.leased);
}

Status Connection::Exec(const std::string& sql, const std::vector<Param>& params) {
  RAMPART_ASSIGN_OR_RETURN(Statement stmt, Prepare(sql));
  for (const auto& p : params) stmt.Bind(p);
  return stmt.Run();
}

Status Connection::ExecScript(std::string_view script) {
  const char* pos = script.data();
  const char* end = script.data() + script.size();
  while (pos < end) {
    sqlite3_stmt* raw = nullptr;
    const char* tail = nullptr;
    int rc = sqlite3_prepare_v2(db_.get(), pos, static_cast<int>(end - pos), &raw, &tail);
    StmtHandle stmt(raw);
    if (rc != SQLITE_OK) return SqliteStatus(rc, "prepare migration");
    if (stmt != nullptr) {
      rc = sqlite3_step(stmt.get());
      if (rc != SQLITE_DONE && rc != SQLITE_ROW) {
        return SqliteStatus(sqlite3_extended_errcode(db_.get()), "run migration");
      }
    }
    if (tail == nullptr || tail <= pos) break;
    pos = tail;
  }
  return Status::Ok();
}

Result<Transaction> Transaction::Begin(Connection& conn, Mode mode) {
  RAMPART_RETURN_IF_ERROR(
      conn.Exec(mode == Mode::kImmediate ? "BEGIN IMMEDIATE" : "BEGIN DEFERRED"));
  return Transaction(&conn);
}

Transaction::~Transaction() {
  if (conn_ != nullptr) {
    // ROLLBACK fails only when no transaction is open any more (SQLite already rolled back
    // after an I/O or busy error), which is the state wanted here.
    conn_->Exec("ROLLBACK").IgnoreError();
  }
}

Status Transaction::Commit() {
  Connection* conn = conn_;
  Status s = conn->Exec("COMMIT");
  if (s.ok()) conn_ = nullptr;
  return s;
}

}  // namespace rampart::store::sqlite
