#include "store/sqlite/sqlite_store.h"

#include "core/commands.h"

#include <fcntl.h>
#include <unistd.h>

#include <algorithm>
#include <charconv>
#include <nlohmann/json.hpp>
#include <string_view>
#include <utility>

#include "common/crypto.h"
#include "common/json_util.h"
#include "store/sqlite/connection.h"
#include "store/sqlite/migrations.h"

namespace rampart::store::sqlite {
namespace {

using Json = nlohmann::json;

// Enough readers for the worker threads of a 2-4 core host; more only adds file handles.
constexpr size_t kReadConnections = 4;
constexpr int64_t kMaxPageLimit = 500;
constexpr std::string_view kNotNowExhausted = "device kept answering not_now";

// ---------------------------------------------------------------------------------------------
// Query: SQL assembled only from string literals (the template parameter refuses anything
// else), values collected separately and bound as parameters.

class Query {
 public:
  template <size_t N>
  explicit Query(const char (&head)[N]) : sql_(head) {}

  template <size_t N>
  Query& Where(const char (&cond)[N]) {
    sql_ += has_where_ ? " AND " : " WHERE ";
    sql_ += cond;
    has_where_ = true;
    return *this;
  }
  template <size_t N>
  Query& Append(const char (&text)[N]) {
    sql_ += text;
    return *this;
  }
  Query& Arg(Param p) {
    params_.push_back(std::move(p));
    return *this;
  }
  Query& Arg(const std::string& s) { return Arg(Param{s}); }
  Query& Arg(int64_t v) { return Arg(Param{v}); }
  // Restricts to the scope's institution; Scope::All() adds nothing.
  Query& InScope(const Scope& scope) {
    if (!scope.all) Where("institution_id = ?").Arg(scope.institution_id);
    return *this;
  }

  Result<Statement> Prepare(Connection& conn) const {
    RAMPART_ASSIGN_OR_RETURN(Statement st, conn.Prepare(sql_));
    for (const auto& p : params_) st.Bind(p);
    return st;
  }

 private:
  std::string sql_;
  std::vector<Param> params_;
  bool has_where_ = false;
};

// Gives a constraint failure the name of what was being written.
Status Named(Status s, std::string_view what) {
  if (s.code() == Code::kAlreadyExists) {
    return Status::AlreadyExists(std::string(what) + " already exists");
  }
  if (s.code() == Code::kNotFound) {
    return Status::NotFound(std::string(what) + " refers to a row that does not exist");
  }
  return s;
}

Status RunQuery(Connection& conn, const Query& q) {
  RAMPART_ASSIGN_OR_RETURN(Statement st, q.Prepare(conn));
  return st.Run();
}

// Runs an UPDATE/DELETE; NotFound when it matched no row.
Status RunOne(Connection& conn, const Query& q, std::string_view what) {
  RAMPART_ASSIGN_OR_RETURN(Statement st, q.Prepare(conn));
  RAMPART_RETURN_IF_ERROR(st.Run());
  if (st.Changes() == 0) return Status::NotFound(std::string(what) + " not found");
  return Status::Ok();
}

// True when the query returns at least one row.
Result<bool> Exists(Connection& conn, const Query& q) {
  RAMPART_ASSIGN_OR_RETURN(Statement st, q.Prepare(conn));
  return st.Step();
}

// The first column of the first row as text; NotFound when there is no row.
Result<std::string> FirstText(Connection& conn, const Query& q, std::string_view what) {
  RAMPART_ASSIGN_OR_RETURN(Statement st, q.Prepare(conn));
  RAMPART_ASSIGN_OR_RETURN(bool row, st.Step());
  if (!row) return Status::NotFound(std::string(what) + " not found");
  return st.Text(0);
}

template <typename ReadFn>
auto GetOne(Connection& conn, const Query& q, ReadFn read, std::string_view what)
    -> decltype(read(std::declval<const Statement&>())) {
  RAMPART_ASSIGN_OR_RETURN(Statement st, q.Prepare(conn));
  RAMPART_ASSIGN_OR_RETURN(bool row, st.Step());
  if (!row) return Status::NotFound(std::string(what) + " not found");
  return read(st);
}

template <typename T, typename ReadFn>
Result<std::vector<T>> GetAll(Connection& conn, const Query& q, ReadFn read) {
  RAMPART_ASSIGN_OR_RETURN(Statement st, q.Prepare(conn));
  std::vector<T> out;
  while (true) {
    RAMPART_ASSIGN_OR_RETURN(bool row, st.Step());
    if (!row) break;
    RAMPART_ASSIGN_OR_RETURN(T item, read(st));
    out.push_back(std::move(item));
  }
  return out;
}

Status Corrupt(std::string_view what) {
  return Status::Internal(std::string("stored ") + std::string(what) + " is malformed");
}

template <typename E>
Result<E> ParseEnum(std::optional<E> (*parse)(std::string_view), const std::string& text,
                    std::string_view what) {
  auto v = parse(text);
  if (!v) return Corrupt(what);
  return *v;
}

// ---------------------------------------------------------------------------------------------
// Pagination: keyset over (order key, id), rendered as hex of "key:id" so that it is opaque and
// URL-safe.

struct Cursor {
  int64_t key = 0;
  std::string id;
};

std::string EncodeCursor(int64_t key, const std::string& id) {
  return crypto::HexEncode(std::to_string(key) + ":" + id);
}

Result<Cursor> DecodeCursor(const std::string& text) {
  auto bad = [] { return Status::InvalidArgument("malformed page cursor"); };
  auto raw = crypto::HexDecode(text);
  if (!raw.ok()) return bad();
  const std::string& s = *raw;
  size_t colon = s.find(':');
  if (colon == std::string::npos || colon == 0) return bad();
  Cursor c;
  auto [ptr, ec] = std::from_chars(s.data(), s.data() + colon, c.key);
  if (ec != std::errc() || ptr != s.data() + colon) return bad();
  c.id = s.substr(colon + 1);
  return c;
}

enum class Order { kCreatedAt, kCreatedAtNewestFirst, kEnrolledAt };

// Adds the keyset condition, order and limit (one extra row tells whether a page follows).
Status AddPage(Query& q, Order order, const PageRequest& page) {
  if (page.limit < 1 || page.limit > kMaxPageLimit) {
    return Status::InvalidArgument("page limit must be between 1 and 500");
  }
  if (!page.cursor.empty()) {
    RAMPART_ASSIGN_OR_RETURN(Cursor c, DecodeCursor(page.cursor));
    switch (order) {
      case Order::kCreatedAt:
        q.Where("(created_at, id) > (?, ?)");
        break;
      case Order::kCreatedAtNewestFirst:
        q.Where("(created_at, id) < (?, ?)");
        break;
      case Order::kEnrolledAt:
        q.Where("(enrolled_at, id) > (?, ?)");
        break;
    }
    q.Arg(c.key).Arg(c.id);
  }
  switch (order) {
    case Order::kCreatedAt:
      q.Append(" ORDER BY created_at, id LIMIT ?");
      break;
    case Order::kCreatedAtNewestFirst:
      q.Append(" ORDER BY created_at DESC, id DESC LIMIT ?");
      break;
    case Order::kEnrolledAt:
      q.Append(" ORDER BY enrolled_at, id LIMIT ?");
      break;
  }
  q.Arg(page.limit + 1);
  return Status::Ok();
}

template <typename T, typename ReadFn, typename KeyFn>
Result<Page<T>> GetPage(Connection& conn, Query q, Order order, const PageRequest& page,
                        ReadFn read, KeyFn key) {
  RAMPART_RETURN_IF_ERROR(AddPage(q, order, page));
  RAMPART_ASSIGN_OR_RETURN(std::vector<T> items, (GetAll<T>(conn, q, read)));
  Page<T> out;
  if (static_cast<int64_t>(items.size()) > page.limit) {
    items.pop_back();
    const T& last = items.back();
    out.next_cursor = EncodeCursor(key(last), last.id);
  }
  out.items = std::move(items);
  return out;
}

// ---------------------------------------------------------------------------------------------
// JSON columns. Values come from this process, so a parse failure means a corrupt row.

std::string StringsToJson(const std::vector<std::string>& v) {
  return ::rampart::jsonutil::Dump(Json(v));
}

Result<std::vector<std::string>> StringsFromJson(const std::string& text, std::string_view what) {
  try {
    return Json::parse(text).get<std::vector<std::string>>();
  } catch (const Json::exception&) {
    return Corrupt(what);
  }
}

std::string ReasonsToJson(const std::vector<core::ComplianceReason>& reasons) {
  Json arr = Json::array();
  for (const auto& r : reasons) {
    arr.push_back({{"policy_id", r.policy_id}, {"code", r.code}, {"message", r.message}});
  }
  return ::rampart::jsonutil::Dump(arr);
}

Result<std::vector<core::ComplianceReason>> ReasonsFromJson(const std::string& text) {
  try {
    std::vector<core::ComplianceReason> out;
    for (const auto& r : Json::parse(text)) {
      out.push_back({r.at("policy_id").get<std::string>(), r.at("code").get<std::string>(),
                     r.at("message").get<std::string>()});
    }
    return out;
  } catch (const Json::exception&) {
    return Corrupt("compliance reasons");
  }
}

std::string RulesToJson(const core::PolicyRules& r) {
  Json wifi = Json::array();
  for (const auto& w : r.wifi) {
    wifi.push_back({{"ssid", w.ssid}, {"security", w.security}, {"hidden", w.hidden}});
  }
  Json vpn = Json::array();
  for (const auto& v : r.vpn) {
    vpn.push_back(
        {{"name", v.name}, {"type", v.type}, {"server", v.server}, {"always_on", v.always_on}});
  }
  Json j = {{"passcode_min_length", r.passcode_min_length},
            {"require_storage_encryption", r.require_storage_encryption},
            {"min_os_version_ios", r.min_os_version_ios},
            {"min_os_version_android", r.min_os_version_android},
            {"block_compromised", r.block_compromised},
            {"camera_allowed", r.camera_allowed},
            {"required_apps", r.required_apps},
            {"forbidden_apps", r.forbidden_apps},
            {"wifi", wifi},
            {"vpn", vpn},
            {"action", std::string(core::ToString(r.action))},
            {"grace_seconds", r.grace_seconds}};
  return ::rampart::jsonutil::Dump(j);
}

Result<core::PolicyRules> RulesFromJson(const std::string& text) {
  try {
    Json j = Json::parse(text);
    core::PolicyRules r;
    r.passcode_min_length = j.at("passcode_min_length").get<int32_t>();
    r.require_storage_encryption = j.at("require_storage_encryption").get<bool>();
    r.min_os_version_ios = j.at("min_os_version_ios").get<std::string>();
    r.min_os_version_android = j.at("min_os_version_android").get<std::string>();
    r.block_compromised = j.at("block_compromised").get<bool>();
    r.camera_allowed = j.at("camera_allowed").get<bool>();
    r.required_apps = j.at("required_apps").get<std::vector<std::string>>();
    r.forbidden_apps = j.at("forbidden_apps").get<std::vector<std::string>>();
    for (const auto& w : j.at("wifi")) {
      r.wifi.push_back({w.at("ssid").get<std::string>(), w.at("security").get<std::string>(),
                        w.at("hidden").get<bool>()});
    }
    for (const auto& v : j.at("vpn")) {
      r.vpn.push_back({v.at("name").get<std::string>(), v.at("type").get<std::string>(),
                       v.at("server").get<std::string>(), v.at("always_on").get<bool>()});
    }
    auto action = core::ParseNonComplianceAction(j.at("action").get<std::string>());
    if (!action) return Corrupt("policy rules");
    r.action = *action;
    r.grace_seconds = j.at("grace_seconds").get<int64_t>();
    return r;
  } catch (const Json::exception&) {
    return Corrupt("policy rules");
  }
}

// ---------------------------------------------------------------------------------------------
// Row mapping. Each kXCols list matches its ReadX column by column.

#define INSTITUTION_COLS "id, name, created_at"
Result<core::Institution> ReadInstitution(const Statement& st) {
  return core::Institution{st.Text(0), st.Text(1), st.Int(2)};
}

#define STAFF_COLS                                                                   \
  "id, institution_id, department, sealed, wrapped_key, key_version, mobile_index, " \
  "email_index, masked_name, masked_mobile, masked_email, created_at, updated_at"
Result<core::Staff> ReadStaff(const Statement& st) {
  core::Staff s;
  s.id = st.Text(0);
  s.institution_id = st.Text(1);
  s.department = st.Text(2);
  s.sealed = st.Blob(3);
  s.wrapped_key = st.Blob(4);
  s.key_version = st.Int(5);
  s.mobile_index = st.Text(6);
  s.email_index = st.Text(7);
  s.masked_name = st.Text(8);
  s.masked_mobile = st.Text(9);
  s.masked_email = st.Text(10);
  s.created_at = st.Int(11);
  s.updated_at = st.Int(12);
  return s;
}

#define GROUP_COLS "id, institution_id, name, description, created_at"
Result<core::Group> ReadGroup(const Statement& st) {
  return core::Group{st.Text(0), st.Text(1), st.Text(2), st.Text(3), st.Int(4)};
}

#define DEVICE_COLS                                                                        \
  "id, institution_id, staff_id, platform, model, serial, ownership, status, public_key, " \
  "enrolled_at, last_seen, os_version, passcode_set, passcode_length, storage_encrypted, " \
  "compromised, battery_percent, camera_disabled, installed_apps, compliance, "            \
  "compliance_reasons, noncompliant_since, compliance_action_taken_at"
Result<core::Device> ReadDevice(const Statement& st) {
  core::Device d;
  d.id = st.Text(0);
  d.institution_id = st.Text(1);
  d.staff_id = st.Text(2);
  RAMPART_ASSIGN_OR_RETURN(d.platform, ParseEnum(&core::ParsePlatform, st.Text(3), "platform"));
  d.model = st.Text(4);
  d.serial = st.Text(5);
  RAMPART_ASSIGN_OR_RETURN(d.ownership, ParseEnum(&core::ParseOwnership, st.Text(6), "ownership"));
  RAMPART_ASSIGN_OR_RETURN(d.status,
                           ParseEnum(&core::ParseDeviceStatus, st.Text(7), "device status"));
  d.public_key = st.Blob(8);
  d.enrolled_at = st.Int(9);
  d.last_seen = st.Int(10);
  d.state.os_version = st.Text(11);
  d.state.passcode_set = st.Bool(12);
  d.state.passcode_length = static_cast<int32_t>(st.Int(13));
  d.state.storage_encrypted = st.Bool(14);
  d.state.compromised = st.Bool(15);
  d.state.battery_percent = static_cast<int32_t>(st.Int(16));
  d.state.camera_disabled = st.Bool(17);
  RAMPART_ASSIGN_OR_RETURN(d.state.installed_apps, StringsFromJson(st.Text(18), "installed apps"));
  RAMPART_ASSIGN_OR_RETURN(d.compliance,
                           ParseEnum(&core::ParseComplianceState, st.Text(19), "compliance"));
  RAMPART_ASSIGN_OR_RETURN(d.compliance_reasons, ReasonsFromJson(st.Text(20)));
  d.noncompliant_since = st.Int(21);
  d.compliance_action_taken_at = st.Int(22);
  return d;
}

#define ENROLLMENT_TOKEN_COLS \
  "id, institution_id, staff_id, token_hash, expires_at, max_uses, uses, revoked, created_at"
Result<core::EnrollmentToken> ReadEnrollmentToken(const Statement& st) {
  return core::EnrollmentToken{st.Text(0), st.Text(1), st.Text(2), st.Text(3), st.Int(4),
                               st.Int(5),  st.Int(6),  st.Bool(7), st.Int(8)};
}

#define API_TOKEN_COLS                                                                          \
  "id, name, token_hash, role, institution_id, expires_at, revoked, created_at, last_used_at, " \
  "owner_id"
Result<core::ApiToken> ReadApiToken(const Statement& st) {
  core::ApiToken t;
  t.id = st.Text(0);
  t.name = st.Text(1);
  t.token_hash = st.Text(2);
  RAMPART_ASSIGN_OR_RETURN(t.role, ParseEnum(&core::ParseRole, st.Text(3), "role"));
  t.institution_id = st.Text(4);
  t.expires_at = st.Int(5);
  t.revoked = st.Bool(6);
  t.created_at = st.Int(7);
  t.last_used_at = st.Int(8);
  t.owner_id = st.Text(9);
  return t;
}

#define ADMIN_USER_COLS                                                                       \
  "id, username, role, institution_id, password_hash, totp_secret, totp_pending_secret, "     \
  "totp_last_step, disabled, failed_logins, failure_window_start, locked_until, created_at, " \
  "updated_at, password_changed_at"
Result<core::AdminUser> ReadAdminUser(const Statement& st) {
  core::AdminUser u;
  u.id = st.Text(0);
  u.username = st.Text(1);
  RAMPART_ASSIGN_OR_RETURN(u.role, ParseEnum(&core::ParseRole, st.Text(2), "role"));
  u.institution_id = st.Text(3);
  u.password_hash = st.Text(4);
  u.totp_secret = st.Blob(5);
  u.totp_pending_secret = st.Blob(6);
  u.totp_last_step = st.Int(7);
  u.disabled = st.Bool(8);
  u.failed_logins = static_cast<int32_t>(st.Int(9));
  u.failure_window_start = st.Int(10);
  u.locked_until = st.Int(11);
  u.created_at = st.Int(12);
  u.updated_at = st.Int(13);
  u.password_changed_at = st.Int(14);
  return u;
}

#define ADMIN_SESSION_COLS \
  "id, user_id, institution_id, secret_hash, created_at, last_seen_at, expires_at"
Result<core::AdminSession> ReadAdminSession(const Statement& st) {
  return core::AdminSession{st.Text(0), st.Text(1), st.Text(2), st.Text(3),
                            st.Int(4),  st.Int(5),  st.Int(6)};
}

#define COMMAND_COLS                                                                        \
  "id, institution_id, device_id, seq, type, payload_json, state, created_by, created_at, " \
  "updated_at, expires_at, sent_at, not_before, not_now_count, result_json, error, "        \
  "approved_by, signature_key_id, signature, batch_size, batch_id"
Result<core::Command> ReadCommand(const Statement& st) {
  core::Command c;
  c.id = st.Text(0);
  c.institution_id = st.Text(1);
  c.device_id = st.Text(2);
  c.seq = st.Int(3);
  RAMPART_ASSIGN_OR_RETURN(c.type, ParseEnum(&core::ParseCommandType, st.Text(4), "command type"));
  c.payload_json = st.Text(5);
  RAMPART_ASSIGN_OR_RETURN(c.state,
                           ParseEnum(&core::ParseCommandState, st.Text(6), "command state"));
  c.created_by = st.Text(7);
  c.created_at = st.Int(8);
  c.updated_at = st.Int(9);
  c.expires_at = st.Int(10);
  c.sent_at = st.Int(11);
  c.not_before = st.Int(12);
  c.not_now_count = static_cast<int32_t>(st.Int(13));
  c.result_json = st.Text(14);
  c.error = st.Text(15);
  c.approved_by = st.Text(16);
  c.signature_key_id = st.Text(17);
  c.signature = st.Blob(18);
  c.batch_size = st.Int(19);
  c.batch_id = st.Text(20);
  return c;
}

#define POLICY_COLS "id, institution_id, name, rules_json, created_at, updated_at"
Result<core::Policy> ReadPolicy(const Statement& st) {
  core::Policy p;
  p.id = st.Text(0);
  p.institution_id = st.Text(1);
  p.name = st.Text(2);
  RAMPART_ASSIGN_OR_RETURN(p.rules, RulesFromJson(st.Text(3)));
  p.created_at = st.Int(4);
  p.updated_at = st.Int(5);
  return p;
}

#define POLICY_ASSIGNMENT_COLS "id, institution_id, policy_id, group_id, created_at"
Result<core::PolicyAssignment> ReadPolicyAssignment(const Statement& st) {
  return core::PolicyAssignment{st.Text(0), st.Text(1), st.Text(2), st.Text(3), st.Int(4)};
}

#define APP_COLS                                                                              \
  "id, institution_id, name, bundle_id, version, platform, sha256, size_bytes, quarantined, " \
  "created_at, quarantine_reason, quarantined_by, quarantined_at"
Result<core::App> ReadApp(const Statement& st) {
  core::App a;
  a.id = st.Text(0);
  a.institution_id = st.Text(1);
  a.name = st.Text(2);
  a.bundle_id = st.Text(3);
  a.version = st.Text(4);
  RAMPART_ASSIGN_OR_RETURN(a.platform, ParseEnum(&core::ParsePlatform, st.Text(5), "platform"));
  a.sha256 = st.Text(6);
  a.size_bytes = st.Int(7);
  a.quarantined = st.Bool(8);
  a.created_at = st.Int(9);
  a.quarantine_reason = st.Text(10);
  a.quarantined_by = st.Text(11);
  a.quarantined_at = st.Int(12);
  return a;
}

#define APP_ASSIGNMENT_COLS "id, institution_id, app_id, group_id, created_at"
Result<core::AppAssignment> ReadAppAssignment(const Statement& st) {
  return core::AppAssignment{st.Text(0), st.Text(1), st.Text(2), st.Text(3), st.Int(4)};
}

constexpr auto kCreatedAt = [](const auto& row) { return row.created_at; };

Status RequireId(const std::string& id, std::string_view what) {
  if (id.empty()) return Status::InvalidArgument(std::string(what) + " id is empty");
  return Status::Ok();
}

std::string Str(std::string_view v) {
  return std::string(v);
}

bool Expired(int64_t expires_at, int64_t now) {
  return expires_at != 0 && now >= expires_at;
}

Status UpdateCommandState(Connection& conn, const core::Command& c) {
  return RunQuery(conn, Query("UPDATE commands SET state = ?, updated_at = ?, sent_at = ?, "
                              "not_before = ?, not_now_count = ?, result_json = ?, error = ?")
                            .Arg(Str(core::ToString(c.state)))
                            .Arg(c.updated_at)
                            .Arg(c.sent_at)
                            .Arg(c.not_before)
                            .Arg(static_cast<int64_t>(c.not_now_count))
                            .Arg(c.result_json)
                            .Arg(c.error)
                            .Where("id = ?")
                            .Arg(c.id));
}

// The next per-device sequence number (seqs are never reused, even of deleted rows' successors).
Result<int64_t> NextSeq(Connection& conn, const std::string& device_id) {
  RAMPART_ASSIGN_OR_RETURN(Statement seq, (Query("SELECT ifnull(max(seq), 0) + 1 FROM commands")
                                               .Where("device_id = ?")
                                               .Arg(device_id)
                                               .Prepare(conn)));
  RAMPART_ASSIGN_OR_RETURN(bool row, seq.Step());
  if (!row) return Status::Internal("seq query returned no row");
  return seq.Int(0);
}

// The command (which must await approval) and the rest of its batch still awaiting approval,
// in institution scope, ordered by device and seq.
Result<std::vector<core::Command>> AwaitingBatch(Connection& conn, const Scope& scope,
                                                 const std::string& command_id) {
  RAMPART_ASSIGN_OR_RETURN(core::Command first,
                           GetOne(conn,
                                  Query("SELECT " COMMAND_COLS " FROM commands")
                                      .Where("id = ?")
                                      .Arg(command_id)
                                      .InScope(scope),
                                  ReadCommand, "command"));
  if (first.state != core::CommandState::kAwaitingApproval) {
    return Status::Conflict("command is not awaiting approval");
  }
  if (first.batch_id.empty()) return std::vector<core::Command>{std::move(first)};
  return GetAll<core::Command>(conn,
                               Query("SELECT " COMMAND_COLS " FROM commands")
                                   .Where("institution_id = ?")
                                   .Arg(first.institution_id)
                                   .Where("batch_id = ?")
                                   .Arg(first.batch_id)
                                   .Where("state = 'awaiting_approval'")
                                   .Append(" ORDER BY device_id, seq"),
                               ReadCommand);
}

// Commands of a paused batch are neither approved nor delivered (store.h, CommandBatch).
#define NOT_IN_PAUSED_BATCH \
  "(batch_id = '' OR batch_id NOT IN (SELECT batch_id FROM command_batches WHERE paused = 1))"

// A batch: its commands' counts per state and its pause row, if any. NotFound when no command
// of the scope carries the id.
Result<CommandBatch> LoadCommandBatch(Connection& conn, const Scope& scope,
                                      const std::string& batch_id) {
  if (batch_id.empty()) return Status::NotFound("command batch not found");
  CommandBatch b;
  b.id = batch_id;
  {
    RAMPART_ASSIGN_OR_RETURN(Statement st, (Query("SELECT state, count(*), min(created_at), "
                                                  "min(institution_id), min(created_by), min(type) "
                                                  "FROM commands")
                                                .Where("batch_id = ?")
                                                .Arg(batch_id)
                                                .InScope(scope)
                                                .Append(" GROUP BY state")
                                                .Prepare(conn)));
    while (true) {
      RAMPART_ASSIGN_OR_RETURN(bool row, st.Step());
      if (!row) break;
      RAMPART_ASSIGN_OR_RETURN(core::CommandState state,
                               ParseEnum(&core::ParseCommandState, st.Text(0), "command state"));
      b.counts[state] = st.Int(1);
      if (b.created_at == 0 || st.Int(2) < b.created_at) b.created_at = st.Int(2);
      b.institution_id = st.Text(3);
      b.created_by = st.Text(4);
      b.type = st.Text(5);
    }
  }
  if (b.counts.empty()) return Status::NotFound("command batch not found");
  RAMPART_ASSIGN_OR_RETURN(Statement st,
                           (Query("SELECT paused, paused_by, pause_reason, paused_at, resumed_by, "
                                  "resumed_at FROM command_batches")
                                .Where("batch_id = ?")
                                .Arg(batch_id)
                                .Where("institution_id = ?")
                                .Arg(b.institution_id)
                                .Prepare(conn)));
  RAMPART_ASSIGN_OR_RETURN(bool row, st.Step());
  if (row) {
    b.paused = st.Bool(0);
    b.paused_by = st.Text(1);
    b.pause_reason = st.Text(2);
    b.paused_at = st.Int(3);
    b.resumed_by = st.Text(4);
    b.resumed_at = st.Int(5);
  }
  return b;
}

}  // namespace

// -----------------------------------------------------------------------------------------------
// Opening and connection handling

Result<std::unique_ptr<SqliteStore>> SqliteStore::Open(const std::string& path) {
  if (path.empty()) return Status::InvalidArgument("sqlite path is empty");
  if (path != ":memory:") {
    // The file holds staff names and numbers: create it owner-only before SQLite does (SQLite
    // would use 0644), and SQLite gives its -wal and -shm files the same mode. An existing file
    // keeps the mode its operator chose.
    int fd = ::open(path.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0600);
    if (fd < 0) return Status::Internal("cannot create the database file");
    ::close(fd);
  }
  std::unique_ptr<SqliteStore> store(new SqliteStore());
  RAMPART_ASSIGN_OR_RETURN(store->writer_, Connection::Open(path, /*read_only=*/false));
  RAMPART_ASSIGN_OR_RETURN(store->migrations_applied_, ApplyMigrations(*store->writer_));
  if (path != ":memory:") {
    for (size_t i = 0; i < kReadConnections; ++i) {
      RAMPART_ASSIGN_OR_RETURN(auto reader, Connection::Open(path, /*read_only=*/true));
      store->idle_readers_.push_back(reader.get());
      store->readers_.push_back(std::move(reader));
    }
  }
  return store;
}

SqliteStore::~SqliteStore() = default;

Connection* SqliteStore::AcquireReader() {
  std::unique_lock<std::mutex> lock(pool_mu_);
  pool_cv_.wait(lock, [this] { return !idle_readers_.empty(); });
  Connection* conn = idle_readers_.back();
  idle_readers_.pop_back();
  return conn;
}

void SqliteStore::ReleaseReader(Connection* conn) {
  {
    std::lock_guard<std::mutex> lock(pool_mu_);
    idle_readers_.push_back(conn);
  }
  pool_cv_.notify_one();
}

template <typename Fn>
auto SqliteStore::Write(Fn&& fn) -> decltype(fn(std::declval<Connection&>())) {
  std::lock_guard<std::mutex> lock(write_mu_);
  auto txn = Transaction::Begin(*writer_, Transaction::Mode::kImmediate);
  if (!txn.ok()) return txn.status();
  auto result = fn(*writer_);
  if (!result.ok()) return result;  // the transaction rolls back as it goes out of scope
  Status committed = txn->Commit();
  if (!committed.ok()) return committed;
  return result;
}

template <typename Fn>
auto SqliteStore::Read(Fn&& fn) -> decltype(fn(std::declval<Connection&>())) {
  auto run = [&fn](Connection& conn) -> decltype(fn(std::declval<Connection&>())) {
    auto txn = Transaction::Begin(conn, Transaction::Mode::kDeferred);
    if (!txn.ok()) return txn.status();
    auto result = fn(conn);
    if (!result.ok()) return result;
    Status ended = txn->Commit();
    if (!ended.ok()) return ended;
    return result;
  };
  if (readers_.empty()) {
    std::lock_guard<std::mutex> lock(write_mu_);
    return run(*writer_);
  }
  struct Lease {
    SqliteStore* store;
    Connection* conn;
    ~Lease() { store->ReleaseReader(conn); }
  } lease{this, AcquireReader()};
  return run(*lease.conn);
}

// -----------------------------------------------------------------------------------------------
// Institutions

Status SqliteStore::CreateInstitution(const core::Institution& inst) {
  RAMPART_RETURN_IF_ERROR(RequireId(inst.id, "institution"));
  return Write([&](Connection& c) {
    return Named(
        RunQuery(c, Query("INSERT INTO institutions (" INSTITUTION_COLS ") VALUES (?, ?, ?)")
                        .Arg(inst.id)
                        .Arg(inst.name)
                        .Arg(inst.created_at)),
        "institution");
  });
}

Result<core::Institution> SqliteStore::GetInstitution(const Scope& scope, const std::string& id) {
  return Read([&](Connection& c) {
    Query q("SELECT " INSTITUTION_COLS " FROM institutions");
    q.Where("id = ?").Arg(id);
    if (!scope.all) q.Where("id = ?").Arg(scope.institution_id);
    return GetOne(c, q, ReadInstitution, "institution");
  });
}

Result<Page<core::Institution>> SqliteStore::ListInstitutions(const Scope& scope,
                                                              const PageRequest& page) {
  return Read([&](Connection& c) {
    Query q("SELECT " INSTITUTION_COLS " FROM institutions");
    if (!scope.all) q.Where("id = ?").Arg(scope.institution_id);
    return GetPage<core::Institution>(c, std::move(q), Order::kCreatedAt, page, ReadInstitution,
                                      kCreatedAt);
  });
}

// -----------------------------------------------------------------------------------------------
// Staff

Status SqliteStore::CreateStaff(const core::Staff& staff) {
  RAMPART_RETURN_IF_ERROR(RequireId(staff.id, "staff"));
  return Write([&](Connection& c) {
    return Named(RunQuery(c, Query("INSERT INTO staff (" STAFF_COLS
                                   ") VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)")
                                 .Arg(staff.id)
                                 .Arg(staff.institution_id)
                                 .Arg(staff.department)
                                 .Arg(Param{BlobValue{staff.sealed}})
                                 .Arg(Param{BlobValue{staff.wrapped_key}})
                                 .Arg(staff.key_version)
                                 .Arg(staff.mobile_index)
                                 .Arg(staff.email_index)
                                 .Arg(staff.masked_name)
                                 .Arg(staff.masked_mobile)
                                 .Arg(staff.masked_email)
                                 .Arg(staff.created_at)
                                 .Arg(staff.updated_at)),
                 "staff member");
  });
}

Result<core::Staff> SqliteStore::GetStaff(const Scope& scope, const std::string& id) {
  return Read([&](Connection& c) {
    Query q("SELECT " STAFF_COLS " FROM staff");
    q.Where("id = ?").Arg(id).InScope(scope);
    return GetOne(c, q, ReadStaff, "staff member");
  });
}

Result<Page<core::Staff>> SqliteStore::ListStaff(const Scope& scope, const StaffFilter& filter,
                                                 const PageRequest& page) {
  return Read([&](Connection& c) {
    Query q("SELECT " STAFF_COLS " FROM staff");
    q.InScope(scope);
    if (!filter.department.empty()) q.Where("department = ?").Arg(filter.department);
    if (!filter.mobile_index.empty()) q.Where("mobile_index = ?").Arg(filter.mobile_index);
    if (!filter.email_index.empty()) q.Where("email_index = ?").Arg(filter.email_index);
    return GetPage<core::Staff>(c, std::move(q), Order::kCreatedAt, page, ReadStaff, kCreatedAt);
  });
}

Status SqliteStore::UpdateStaff(const Scope& scope, const core::Staff& staff) {
  return Write([&](Connection& c) {
    Query q(
        "UPDATE staff SET department = ?, sealed = ?, wrapped_key = ?, key_version = ?, "
        "mobile_index = ?, email_index = ?, masked_name = ?, masked_mobile = ?, "
        "masked_email = ?, updated_at = ?");
    q.Arg(staff.department)
        .Arg(Param{BlobValue{staff.sealed}})
        .Arg(Param{BlobValue{staff.wrapped_key}})
        .Arg(staff.key_version)
        .Arg(staff.mobile_index)
        .Arg(staff.email_index)
        .Arg(staff.masked_name)
        .Arg(staff.masked_mobile)
        .Arg(staff.masked_email)
        .Arg(staff.updated_at)
        .Where("id = ?")
        .Arg(staff.id)
        .InScope(scope);
    return RunOne(c, q, "staff member");
  });
}

Status SqliteStore::DeleteStaff(const Scope& scope, const std::string& id) {
  return Write([&](Connection& c) -> Status {
    RAMPART_ASSIGN_OR_RETURN(
        std::string inst,
        FirstText(c,
                  Query("SELECT institution_id FROM staff").Where("id = ?").Arg(id).InScope(scope),
                  "staff member"));
    RAMPART_ASSIGN_OR_RETURN(bool assigned, Exists(c, Query("SELECT 1 FROM devices")
                                                          .Where("institution_id = ?")
                                                          .Arg(inst)
                                                          .Where("staff_id = ?")
                                                          .Arg(id)
                                                          .Append(" LIMIT 1")));
    if (assigned) return Status::Conflict("a device is still assigned to the staff member");
    return RunOne(c, Query("DELETE FROM staff").Where("id = ?").Arg(id), "staff member");
  });
}

Result<std::vector<core::Staff>> SqliteStore::ListStaffWithKeyBelow(const Scope& scope,
                                                                    int64_t version,
                                                                    const std::string& after_id,
                                                                    int64_t limit) {
  if (limit < 1 || limit > kMaxPageLimit) {
    return Status::InvalidArgument("limit must be 1.." + std::to_string(kMaxPageLimit));
  }
  return Read([&](Connection& c) {
    Query q("SELECT " STAFF_COLS " FROM staff");
    q.Where("key_version < ?").Arg(version).Where("id > ?").Arg(after_id).InScope(scope);
    q.Append(" ORDER BY id LIMIT ?").Arg(limit);
    return GetAll<core::Staff>(c, q, ReadStaff);
  });
}

Result<std::map<int64_t, int64_t>> SqliteStore::CountStaffByKeyVersion(const Scope& scope) {
  return Read([&](Connection& c) -> Result<std::map<int64_t, int64_t>> {
    Query q("SELECT key_version, count(*) FROM staff");
    q.InScope(scope).Append(" GROUP BY key_version");
    RAMPART_ASSIGN_OR_RETURN(Statement st, q.Prepare(c));
    std::map<int64_t, int64_t> out;
    while (true) {
      RAMPART_ASSIGN_OR_RETURN(bool row, st.Step());
      if (!row) break;
      out[st.Int(0)] = st.Int(1);
    }
    return out;
  });
}

Result<int64_t> SqliteStore::UpdateStaffKeys(const Scope& scope,
                                             const std::vector<StaffKeyUpdate>& updates) {
  return Write([&](Connection& c) -> Result<int64_t> {
    int64_t changed = 0;
    for (const auto& u : updates) {
      Query q("UPDATE staff SET wrapped_key = ?, key_version = ?");
      q.Arg(Param{BlobValue{u.wrapped_key}})
          .Arg(u.key_version)
          .Where("id = ?")
          .Arg(u.staff_id)
          .Where("wrapped_key = ?")
          .Arg(Param{BlobValue{u.old_wrapped_key}})
          .InScope(scope);
      RAMPART_ASSIGN_OR_RETURN(Statement st, q.Prepare(c));
      RAMPART_RETURN_IF_ERROR(st.Run());
      changed += st.Changes();
    }
    return changed;
  });
}

// -----------------------------------------------------------------------------------------------
// Groups

Status SqliteStore::CreateGroup(const core::Group& group) {
  RAMPART_RETURN_IF_ERROR(RequireId(group.id, "group"));
  return Write([&](Connection& c) {
    return Named(
        RunQuery(c, Query("INSERT INTO device_groups (" GROUP_COLS ") VALUES (?, ?, ?, ?, ?)")
                        .Arg(group.id)
                        .Arg(group.institution_id)
                        .Arg(group.name)
                        .Arg(group.description)
                        .Arg(group.created_at)),
        "group");
  });
}

Result<core::Group> SqliteStore::GetGroup(const Scope& scope, const std::string& id) {
  return Read([&](Connection& c) {
    Query q("SELECT " GROUP_COLS " FROM device_groups");
    q.Where("id = ?").Arg(id).InScope(scope);
    return GetOne(c, q, ReadGroup, "group");
  });
}

Result<Page<core::Group>> SqliteStore::ListGroups(const Scope& scope, const PageRequest& page) {
  return Read([&](Connection& c) {
    Query q("SELECT " GROUP_COLS " FROM device_groups");
    q.InScope(scope);
    return GetPage<core::Group>(c, std::move(q), Order::kCreatedAt, page, ReadGroup, kCreatedAt);
  });
}

Status SqliteStore::DeleteGroup(const Scope& scope, const std::string& id) {
  // Memberships and assignments go with it through ON DELETE CASCADE.
  return Write([&](Connection& c) {
    return RunOne(c, Query("DELETE FROM device_groups").Where("id = ?").Arg(id).InScope(scope),
                  "group");
  });
}

namespace {

// The institution of a group in scope.
Result<std::string> GroupInstitution(Connection& c, const Scope& scope, const std::string& id) {
  return FirstText(
      c, Query("SELECT institution_id FROM device_groups").Where("id = ?").Arg(id).InScope(scope),
      "group");
}

Result<std::string> DeviceInstitution(Connection& c, const Scope& scope, const std::string& id) {
  return FirstText(
      c, Query("SELECT institution_id FROM devices").Where("id = ?").Arg(id).InScope(scope),
      "device");
}

// NotFound unless a device of that id is in institution `inst`.
Status RequireDeviceIn(Connection& c, const std::string& inst, const std::string& device_id) {
  RAMPART_ASSIGN_OR_RETURN(bool found, Exists(c, Query("SELECT 1 FROM devices")
                                                     .Where("id = ?")
                                                     .Arg(device_id)
                                                     .Where("institution_id = ?")
                                                     .Arg(inst)));
  if (!found) return Status::NotFound("device not found");
  return Status::Ok();
}

Status RequireRowIn(Connection& c, Query q, std::string_view what) {
  RAMPART_ASSIGN_OR_RETURN(bool found, Exists(c, q));
  if (!found) return Status::NotFound(std::string(what) + " not found");
  return Status::Ok();
}

}  // namespace

Status SqliteStore::AddGroupMember(const Scope& scope, const std::string& group_id,
                                   const std::string& device_id) {
  return Write([&](Connection& c) -> Status {
    RAMPART_ASSIGN_OR_RETURN(std::string inst, GroupInstitution(c, scope, group_id));
    RAMPART_RETURN_IF_ERROR(RequireDeviceIn(c, inst, device_id));
    return RunQuery(c, Query("INSERT OR IGNORE INTO group_members (institution_id, group_id, "
                             "device_id) VALUES (?, ?, ?)")
                           .Arg(inst)
                           .Arg(group_id)
                           .Arg(device_id));
  });
}

Status SqliteStore::RemoveGroupMember(const Scope& scope, const std::string& group_id,
                                      const std::string& device_id) {
  return Write([&](Connection& c) -> Status {
    RAMPART_ASSIGN_OR_RETURN(std::string inst, GroupInstitution(c, scope, group_id));
    RAMPART_RETURN_IF_ERROR(RequireDeviceIn(c, inst, device_id));
    return RunQuery(c, Query("DELETE FROM group_members")
                           .Where("institution_id = ?")
                           .Arg(inst)
                           .Where("group_id = ?")
                           .Arg(group_id)
                           .Where("device_id = ?")
                           .Arg(device_id));
  });
}

Result<std::vector<std::string>> SqliteStore::ListGroupMembers(const Scope& scope,
                                                               const std::string& group_id) {
  return Read([&](Connection& c) -> Result<std::vector<std::string>> {
    RAMPART_ASSIGN_OR_RETURN(std::string inst, GroupInstitution(c, scope, group_id));
    return GetAll<std::string>(
        c,
        Query("SELECT device_id FROM group_members")
            .Where("institution_id = ?")
            .Arg(inst)
            .Where("group_id = ?")
            .Arg(group_id)
            .Append(" ORDER BY device_id"),
        [](const Statement& st) -> Result<std::string> { return st.Text(0); });
  });
}

Result<std::vector<std::string>> SqliteStore::ListDeviceGroups(const Scope& scope,
                                                               const std::string& device_id) {
  return Read([&](Connection& c) -> Result<std::vector<std::string>> {
    RAMPART_ASSIGN_OR_RETURN(std::string inst, DeviceInstitution(c, scope, device_id));
    return GetAll<std::string>(
        c,
        Query("SELECT group_id FROM group_members")
            .Where("institution_id = ?")
            .Arg(inst)
            .Where("device_id = ?")
            .Arg(device_id)
            .Append(" ORDER BY group_id"),
        [](const Statement& st) -> Result<std::string> { return st.Text(0); });
  });
}

// -----------------------------------------------------------------------------------------------
// Enrollment

Status SqliteStore::CreateEnrollmentToken(const core::EnrollmentToken& token) {
  RAMPART_RETURN_IF_ERROR(RequireId(token.id, "enrollment token"));
  return Write([&](Connection& c) -> Status {
    if (!token.staff_id.empty()) {
      RAMPART_RETURN_IF_ERROR(RequireRowIn(c,
                                           Query("SELECT 1 FROM staff")
                                               .Where("id = ?")
                                               .Arg(token.staff_id)
                                               .Where("institution_id = ?")
                                               .Arg(token.institution_id),
                                           "staff member"));
    }
    Query q("INSERT INTO enrollment_tokens (" ENROLLMENT_TOKEN_COLS
            ") VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)");
    q.Arg(token.id)
        .Arg(token.institution_id)
        .Arg(token.staff_id.empty() ? Param{} : Param{token.staff_id})
        .Arg(token.token_hash)
        .Arg(token.expires_at)
        .Arg(token.max_uses)
        .Arg(token.uses)
        .Arg(static_cast<int64_t>(token.revoked))
        .Arg(token.created_at);
    return Named(RunQuery(c, q), "enrollment token");
  });
}

Result<Page<core::EnrollmentToken>> SqliteStore::ListEnrollmentTokens(const Scope& scope,
                                                                      const PageRequest& page) {
  return Read([&](Connection& c) {
    Query q("SELECT " ENROLLMENT_TOKEN_COLS " FROM enrollment_tokens");
    q.InScope(scope);
    return GetPage<core::EnrollmentToken>(c, std::move(q), Order::kCreatedAt, page,
                                          ReadEnrollmentToken, kCreatedAt);
  });
}

Status SqliteStore::RevokeEnrollmentToken(const Scope& scope, const std::string& id) {
  return Write([&](Connection& c) {
    return RunOne(
        c, Query("UPDATE enrollment_tokens SET revoked = 1").Where("id = ?").Arg(id).InScope(scope),
        "enrollment token");
  });
}

namespace {

Status InsertDevice(Connection& c, const core::Device& d) {
  Query q("INSERT INTO devices (" DEVICE_COLS
          ") VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)");
  q.Arg(d.id)
      .Arg(d.institution_id)
      .Arg(d.staff_id.empty() ? Param{} : Param{d.staff_id})
      .Arg(Str(core::ToString(d.platform)))
      .Arg(d.model)
      .Arg(d.serial)
      .Arg(Str(core::ToString(d.ownership)))
      .Arg(Str(core::ToString(d.status)))
      .Arg(Param{BlobValue{d.public_key}})
      .Arg(d.enrolled_at)
      .Arg(d.last_seen)
      .Arg(d.state.os_version)
      .Arg(static_cast<int64_t>(d.state.passcode_set))
      .Arg(static_cast<int64_t>(d.state.passcode_length))
      .Arg(static_cast<int64_t>(d.state.storage_encrypted))
      .Arg(static_cast<int64_t>(d.state.compromised))
      .Arg(static_cast<int64_t>(d.state.battery_percent))
      .Arg(static_cast<int64_t>(d.state.camera_disabled))
      .Arg(StringsToJson(d.state.installed_apps))
      .Arg(Str(core::ToString(d.compliance)))
      .Arg(ReasonsToJson(d.compliance_reasons))
      .Arg(d.noncompliant_since)
      .Arg(d.compliance_action_taken_at);
  return Named(RunQuery(c, q), "device");
}

}  // namespace

Result<core::EnrollmentToken> SqliteStore::FindEnrollmentToken(const std::string& token_hash) {
  return Read([&](Connection& c) {
    Query q("SELECT " ENROLLMENT_TOKEN_COLS " FROM enrollment_tokens");
    q.Where("token_hash = ?").Arg(token_hash);
    return GetOne(c, q, ReadEnrollmentToken, "enrollment token");
  });
}

Result<core::Device> SqliteStore::EnrollDevice(const std::string& token_hash, core::Device device,
                                               int64_t now) {
  return Write([&](Connection& c) -> Result<core::Device> {
    const Status denied = Status::Unauthenticated("invalid enrollment token");
    RAMPART_ASSIGN_OR_RETURN(Statement st,
                             c.Prepare("SELECT id, institution_id, staff_id, expires_at, "
                                       "max_uses, uses, revoked FROM enrollment_tokens "
                                       "WHERE token_hash = ?"));
    st.Bind(token_hash);
    RAMPART_ASSIGN_OR_RETURN(bool row, st.Step());
    if (!row) return denied;
    std::string token_id = st.Text(0);
    device.institution_id = st.Text(1);
    device.staff_id = st.Text(2);
    const bool usable = !Expired(st.Int(3), now) && st.Int(5) < st.Int(4) && !st.Bool(6);
    if (!usable) return denied;
    RAMPART_RETURN_IF_ERROR(RunQuery(
        c, Query("UPDATE enrollment_tokens SET uses = uses + 1").Where("id = ?").Arg(token_id)));
    if (device.id.empty()) device.id = core::NewId("dev");
    if (device.enrolled_at == 0) device.enrolled_at = now;
    device.status = core::DeviceStatus::kActive;
    RAMPART_RETURN_IF_ERROR(InsertDevice(c, device));
    return device;
  });
}

// -----------------------------------------------------------------------------------------------
// Devices

Result<core::Device> SqliteStore::GetDevice(const Scope& scope, const std::string& id) {
  return Read([&](Connection& c) {
    Query q("SELECT " DEVICE_COLS " FROM devices");
    q.Where("id = ?").Arg(id).InScope(scope);
    return GetOne(c, q, ReadDevice, "device");
  });
}

Result<Page<core::Device>> SqliteStore::ListDevices(const Scope& scope, const DeviceFilter& filter,
                                                    const PageRequest& page) {
  return Read([&](Connection& c) {
    Query q("SELECT " DEVICE_COLS " FROM devices");
    q.InScope(scope);
    if (filter.platform) q.Where("platform = ?").Arg(Str(core::ToString(*filter.platform)));
    if (filter.compliance) q.Where("compliance = ?").Arg(Str(core::ToString(*filter.compliance)));
    if (filter.status) q.Where("status = ?").Arg(Str(core::ToString(*filter.status)));
    if (!filter.staff_id.empty()) q.Where("staff_id = ?").Arg(filter.staff_id);
    if (!filter.group_id.empty()) {
      q.Where(
           "EXISTS (SELECT 1 FROM group_members m WHERE m.institution_id = devices.institution_id "
           "AND m.group_id = ? AND m.device_id = devices.id)")
          .Arg(filter.group_id);
    }
    return GetPage<core::Device>(c, std::move(q), Order::kEnrolledAt, page, ReadDevice,
                                 [](const core::Device& d) { return d.enrolled_at; });
  });
}

Status SqliteStore::UpdateDeviceAssignment(const Scope& scope, const std::string& device_id,
                                           const std::string& staff_id, core::Ownership ownership) {
  return Write([&](Connection& c) -> Status {
    RAMPART_ASSIGN_OR_RETURN(std::string inst, DeviceInstitution(c, scope, device_id));
    if (!staff_id.empty()) {
      RAMPART_RETURN_IF_ERROR(RequireRowIn(c,
                                           Query("SELECT 1 FROM staff")
                                               .Where("id = ?")
                                               .Arg(staff_id)
                                               .Where("institution_id = ?")
                                               .Arg(inst),
                                           "staff member"));
    }
    return RunOne(c,
                  Query("UPDATE devices SET staff_id = ?, ownership = ?")
                      .Arg(staff_id.empty() ? Param{} : Param{staff_id})
                      .Arg(Str(core::ToString(ownership)))
                      .Where("id = ?")
                      .Arg(device_id),
                  "device");
  });
}

Status SqliteStore::RecordCheckin(const std::string& device_id, const core::DeviceState& state,
                                  int64_t last_seen, core::ComplianceState compliance,
                                  const std::vector<core::ComplianceReason>& reasons,
                                  int64_t noncompliant_since, int64_t compliance_action_taken_at) {
  return Write([&](Connection& c) {
    Query q(
        "UPDATE devices SET last_seen = ?, os_version = ?, passcode_set = ?, passcode_length = ?, "
        "storage_encrypted = ?, compromised = ?, battery_percent = ?, camera_disabled = ?, "
        "installed_apps = ?, compliance = ?, compliance_reasons = ?, noncompliant_since = ?, "
        "compliance_action_taken_at = ?");
    q.Arg(last_seen)
        .Arg(state.os_version)
        .Arg(static_cast<int64_t>(state.passcode_set))
        .Arg(static_cast<int64_t>(state.passcode_length))
        .Arg(static_cast<int64_t>(state.storage_encrypted))
        .Arg(static_cast<int64_t>(state.compromised))
        .Arg(static_cast<int64_t>(state.battery_percent))
        .Arg(static_cast<int64_t>(state.camera_disabled))
        .Arg(StringsToJson(state.installed_apps))
        .Arg(Str(core::ToString(compliance)))
        .Arg(ReasonsToJson(reasons))
        .Arg(noncompliant_since)
        .Arg(compliance_action_taken_at)
        .Where("id = ?")
        .Arg(device_id)
        .Where("status = 'active'");
    return RunOne(c, q, "device");
  });
}

Status SqliteStore::RetireDevice(const Scope& scope, const std::string& device_id, int64_t now) {
  return Write([&](Connection& c) -> Status {
    RAMPART_ASSIGN_OR_RETURN(
        std::string status,
        FirstText(c,
                  Query("SELECT status FROM devices").Where("id = ?").Arg(device_id).InScope(scope),
                  "device"));
    if (status == core::ToString(core::DeviceStatus::kRetired)) return Status::Ok();
    RAMPART_RETURN_IF_ERROR(
        RunQuery(c, Query("UPDATE devices SET status = 'retired', public_key = x''")
                        .Where("id = ?")
                        .Arg(device_id)));
    return RunQuery(c, Query("UPDATE commands SET state = 'canceled', updated_at = ?")
                           .Arg(now)
                           .Where("device_id = ?")
                           .Arg(device_id)
                           .Where("state IN ('queued', 'sent', 'not_now', 'awaiting_approval')"));
  });
}

Result<ComplianceSummary> SqliteStore::SummarizeCompliance(const Scope& scope) {
  return Read([&](Connection& c) -> Result<ComplianceSummary> {
    Query q("SELECT compliance, count(*) FROM devices");
    q.Where("status = 'active'").InScope(scope).Append(" GROUP BY compliance");
    RAMPART_ASSIGN_OR_RETURN(Statement st, q.Prepare(c));
    ComplianceSummary out;
    while (true) {
      RAMPART_ASSIGN_OR_RETURN(bool row, st.Step());
      if (!row) break;
      RAMPART_ASSIGN_OR_RETURN(auto state,
                               ParseEnum(&core::ParseComplianceState, st.Text(0), "compliance"));
      switch (state) {
        case core::ComplianceState::kCompliant:
          out.compliant = st.Int(1);
          break;
        case core::ComplianceState::kNonCompliant:
          out.noncompliant = st.Int(1);
          break;
        case core::ComplianceState::kUnknown:
          out.unknown = st.Int(1);
          break;
      }
    }
    return out;
  });
}

Result<int64_t> SqliteStore::CountDevices(const Scope& scope) {
  return Read([&](Connection& c) -> Result<int64_t> {
    Query q("SELECT count(*) FROM devices");
    q.Where("status = 'active'").InScope(scope);
    RAMPART_ASSIGN_OR_RETURN(Statement st, q.Prepare(c));
    RAMPART_ASSIGN_OR_RETURN(bool row, st.Step());
    if (!row) return Status::Internal("count returned no row");
    return st.Int(0);
  });
}

// -----------------------------------------------------------------------------------------------
// API tokens

Status SqliteStore::CreateApiToken(const core::ApiToken& token) {
  RAMPART_RETURN_IF_ERROR(RequireId(token.id, "api token"));
  return Write([&](Connection& c) {
    Query q("INSERT INTO api_tokens (" API_TOKEN_COLS ") VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)");
    q.Arg(token.id)
        .Arg(token.name)
        .Arg(token.token_hash)
        .Arg(Str(core::ToString(token.role)))
        .Arg(token.institution_id.empty() ? Param{} : Param{token.institution_id})
        .Arg(token.expires_at)
        .Arg(static_cast<int64_t>(token.revoked))
        .Arg(token.created_at)
        .Arg(token.last_used_at)
        .Arg(token.owner_id);
    return Named(RunQuery(c, q), "api token");
  });
}

Result<core::ApiToken> SqliteStore::GetApiToken(const std::string& id) {
  return Read([&](Connection& c) {
    Query q("SELECT " API_TOKEN_COLS " FROM api_tokens");
    q.Where("id = ?").Arg(id);
    return GetOne(c, q, ReadApiToken, "api token");
  });
}

Result<core::ApiToken> SqliteStore::FindApiTokenByHash(const std::string& token_hash) {
  return Read([&](Connection& c) {
    Query q("SELECT " API_TOKEN_COLS " FROM api_tokens");
    q.Where("token_hash = ?").Arg(token_hash);
    return GetOne(c, q, ReadApiToken, "api token");
  });
}

Result<Page<core::ApiToken>> SqliteStore::ListApiTokens(const Scope& scope,
                                                        const PageRequest& page) {
  return Read([&](Connection& c) {
    Query q("SELECT " API_TOKEN_COLS " FROM api_tokens");
    q.InScope(scope);
    return GetPage<core::ApiToken>(c, std::move(q), Order::kCreatedAt, page, ReadApiToken,
                                   kCreatedAt);
  });
}

Status SqliteStore::RevokeApiToken(const Scope& scope, const std::string& id) {
  return Write([&](Connection& c) {
    return RunOne(c,
                  Query("UPDATE api_tokens SET revoked = 1").Where("id = ?").Arg(id).InScope(scope),
                  "api token");
  });
}

Status SqliteStore::TouchApiToken(const std::string& id, int64_t now) {
  return Write([&](Connection& c) {
    return RunOne(c,
                  Query("UPDATE api_tokens SET last_used_at = ?").Arg(now).Where("id = ?").Arg(id),
                  "api token");
  });
}

// -----------------------------------------------------------------------------------------------
// Admin users and sessions

namespace {

// The user must be in scope; NotFound otherwise (superadmins are in Scope::All() only).
Status RequireUserInScope(Connection& c, const Scope& scope, const std::string& id) {
  RAMPART_ASSIGN_OR_RETURN(
      bool found,
      Exists(c, Query("SELECT 1 FROM admin_users").Where("id = ?").Arg(id).InScope(scope)));
  if (!found) return Status::NotFound("admin user not found");
  return Status::Ok();
}

Status DeleteSessionsOf(Connection& c, const std::string& user_id) {
  return RunQuery(c, Query("DELETE FROM admin_sessions").Where("user_id = ?").Arg(user_id));
}

}  // namespace

Status SqliteStore::CreateAdminUser(const core::AdminUser& u) {
  RAMPART_RETURN_IF_ERROR(RequireId(u.id, "admin user"));
  if ((u.role == core::Role::kSuperAdmin) != u.institution_id.empty()) {
    return Status::InvalidArgument(
        "a superadmin user takes no institution; every other role needs one");
  }
  return Write([&](Connection& c) {
    Query q("INSERT INTO admin_users (" ADMIN_USER_COLS
            ") VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)");
    q.Arg(u.id)
        .Arg(u.username)
        .Arg(Str(core::ToString(u.role)))
        .Arg(u.institution_id.empty() ? Param{} : Param{u.institution_id})
        .Arg(u.password_hash)
        .Arg(Param{BlobValue{u.totp_secret}})
        .Arg(Param{BlobValue{u.totp_pending_secret}})
        .Arg(u.totp_last_step)
        .Arg(static_cast<int64_t>(u.disabled))
        .Arg(static_cast<int64_t>(u.failed_logins))
        .Arg(u.failure_window_start)
        .Arg(u.locked_until)
        .Arg(u.created_at)
        .Arg(u.updated_at)
        .Arg(u.password_changed_at);
    return Named(RunQuery(c, q), "admin user");
  });
}

Result<core::AdminUser> SqliteStore::GetAdminUser(const Scope& scope, const std::string& id) {
  return Read([&](Connection& c) {
    Query q("SELECT " ADMIN_USER_COLS " FROM admin_users");
    q.Where("id = ?").Arg(id).InScope(scope);
    return GetOne(c, q, ReadAdminUser, "admin user");
  });
}

Result<core::AdminUser> SqliteStore::FindAdminUserByUsername(const std::string& username) {
  return Read([&](Connection& c) {
    Query q("SELECT " ADMIN_USER_COLS " FROM admin_users");
    q.Where("username = ?").Arg(username);
    return GetOne(c, q, ReadAdminUser, "admin user");
  });
}

Result<Page<core::AdminUser>> SqliteStore::ListAdminUsers(const Scope& scope,
                                                          const PageRequest& page) {
  return Read([&](Connection& c) {
    Query q("SELECT " ADMIN_USER_COLS " FROM admin_users");
    q.InScope(scope);
    return GetPage<core::AdminUser>(c, std::move(q), Order::kCreatedAt, page, ReadAdminUser,
                                    kCreatedAt);
  });
}

Status SqliteStore::UpdateAdminUserAccess(const Scope& scope, const std::string& id,
                                          core::Role role, bool disabled, int64_t now) {
  return Write([&](Connection& c) -> Status {
    RAMPART_ASSIGN_OR_RETURN(core::AdminUser u,
                             GetOne(c,
                                    Query("SELECT " ADMIN_USER_COLS " FROM admin_users")
                                        .Where("id = ?")
                                        .Arg(id)
                                        .InScope(scope),
                                    ReadAdminUser, "admin user"));
    // The institution stays; a role change may not move a user across the superadmin line,
    // which would leave a superadmin with an institution or an admin without one.
    if ((role == core::Role::kSuperAdmin) != u.institution_id.empty()) {
      return Status::InvalidArgument(
          "a user cannot be moved between superadmin and an institution role");
    }
    RAMPART_RETURN_IF_ERROR(RunOne(c,
                                   Query("UPDATE admin_users SET role = ?, disabled = ?, "
                                         "updated_at = ?")
                                       .Arg(Str(core::ToString(role)))
                                       .Arg(static_cast<int64_t>(disabled))
                                       .Arg(now)
                                       .Where("id = ?")
                                       .Arg(id),
                                   "admin user"));
    if (disabled) RAMPART_RETURN_IF_ERROR(DeleteSessionsOf(c, id));
    return Status::Ok();
  });
}

Status SqliteStore::SetAdminPassword(const std::string& user_id, const std::string& password_hash,
                                     int64_t now, const std::string& keep_session_id) {
  return Write([&](Connection& c) -> Status {
    RAMPART_RETURN_IF_ERROR(RunOne(c,
                                   Query("UPDATE admin_users SET password_hash = ?, "
                                         "password_changed_at = ?, updated_at = ?")
                                       .Arg(password_hash)
                                       .Arg(now)
                                       .Arg(now)
                                       .Where("id = ?")
                                       .Arg(user_id),
                                   "admin user"));
    return RunQuery(c, Query("DELETE FROM admin_sessions")
                           .Where("user_id = ?")
                           .Arg(user_id)
                           .Where("id != ?")
                           .Arg(keep_session_id));
  });
}

Status SqliteStore::SetPendingTotp(const std::string& user_id, const std::string& secret,
                                   int64_t now) {
  return Write([&](Connection& c) {
    return RunOne(c,
                  Query("UPDATE admin_users SET totp_pending_secret = ?, updated_at = ?")
                      .Arg(Param{BlobValue{secret}})
                      .Arg(now)
                      .Where("id = ?")
                      .Arg(user_id),
                  "admin user");
  });
}

Status SqliteStore::ConfirmTotp(const std::string& user_id, const std::string& secret, int64_t step,
                                int64_t now) {
  if (secret.empty()) return Status::InvalidArgument("totp secret is empty");
  return Write([&](Connection& c) -> Status {
    RAMPART_ASSIGN_OR_RETURN(Statement st,
                             Query("UPDATE admin_users SET totp_secret = totp_pending_secret, "
                                   "totp_pending_secret = x'', totp_last_step = ?, updated_at = ?")
                                 .Arg(step)
                                 .Arg(now)
                                 .Where("id = ?")
                                 .Arg(user_id)
                                 .Where("totp_pending_secret = ?")
                                 .Arg(Param{BlobValue{secret}})
                                 .Prepare(c));
    RAMPART_RETURN_IF_ERROR(st.Run());
    if (st.Changes() == 0) return Status::Conflict("no matching two-factor setup is pending");
    return Status::Ok();
  });
}

Status SqliteStore::UseTotpStep(const std::string& user_id, int64_t step) {
  return Write([&](Connection& c) -> Status {
    RAMPART_ASSIGN_OR_RETURN(Statement st, Query("UPDATE admin_users SET totp_last_step = ?")
                                               .Arg(step)
                                               .Where("id = ?")
                                               .Arg(user_id)
                                               .Where("totp_last_step < ?")
                                               .Arg(step)
                                               .Prepare(c));
    RAMPART_RETURN_IF_ERROR(st.Run());
    if (st.Changes() == 0) return Status::Conflict("that code was already used");
    return Status::Ok();
  });
}

Status SqliteStore::ResetAdminMfa(const Scope& scope, const std::string& id, int64_t now) {
  return Write([&](Connection& c) -> Status {
    RAMPART_RETURN_IF_ERROR(RequireUserInScope(c, scope, id));
    RAMPART_RETURN_IF_ERROR(RunOne(c,
                                   Query("UPDATE admin_users SET totp_secret = x'', "
                                         "totp_pending_secret = x'', updated_at = ?")
                                       .Arg(now)
                                       .Where("id = ?")
                                       .Arg(id),
                                   "admin user"));
    return DeleteSessionsOf(c, id);
  });
}

Result<int64_t> SqliteStore::RecordLoginFailure(const std::string& user_id, int64_t now,
                                                int64_t window_seconds, int64_t max_failures,
                                                int64_t lockout_seconds) {
  return Write([&](Connection& c) -> Result<int64_t> {
    RAMPART_ASSIGN_OR_RETURN(
        core::AdminUser u,
        GetOne(c, Query("SELECT " ADMIN_USER_COLS " FROM admin_users").Where("id = ?").Arg(user_id),
               ReadAdminUser, "admin user"));
    int64_t failures = u.failed_logins;
    int64_t window_start = u.failure_window_start;
    int64_t locked_until = u.locked_until;
    if (now - window_start >= window_seconds || (locked_until != 0 && now >= locked_until)) {
      // A new window: the old one ran out, or a lock ran its course (a lock that ended must not
      // carry its failures into the next attempt).
      failures = 0;
      window_start = now;
      locked_until = 0;
    }
    ++failures;
    if (failures >= max_failures && locked_until == 0) locked_until = now + lockout_seconds;
    RAMPART_RETURN_IF_ERROR(RunOne(c,
                                   Query("UPDATE admin_users SET failed_logins = ?, "
                                         "failure_window_start = ?, locked_until = ?")
                                       .Arg(failures)
                                       .Arg(window_start)
                                       .Arg(locked_until)
                                       .Where("id = ?")
                                       .Arg(user_id),
                                   "admin user"));
    return locked_until;
  });
}

Status SqliteStore::ClearLoginFailures(const std::string& user_id) {
  return Write([&](Connection& c) {
    return RunOne(c,
                  Query("UPDATE admin_users SET failed_logins = 0, failure_window_start = 0, "
                        "locked_until = 0")
                      .Where("id = ?")
                      .Arg(user_id),
                  "admin user");
  });
}

Result<int64_t> SqliteStore::CreateAdminSession(const core::AdminSession& s, int64_t max_active,
                                                int64_t idle_cutoff) {
  RAMPART_RETURN_IF_ERROR(RequireId(s.id, "admin session"));
  if (max_active < 1) return Status::InvalidArgument("at least one session must be allowed");
  return Write([&](Connection& c) -> Result<int64_t> {
    Query insert("INSERT INTO admin_sessions (" ADMIN_SESSION_COLS
                 ") VALUES (?, ?, ?, ?, ?, ?, ?)");
    insert.Arg(s.id)
        .Arg(s.user_id)
        .Arg(s.institution_id.empty() ? Param{} : Param{s.institution_id})
        .Arg(s.secret_hash)
        .Arg(s.created_at)
        .Arg(s.last_seen_at)
        .Arg(s.expires_at);
    RAMPART_RETURN_IF_ERROR(Named(RunQuery(c, insert), "admin session"));
    // Dead sessions of the user go first; they count for nothing.
    RAMPART_RETURN_IF_ERROR(RunQuery(c, Query("DELETE FROM admin_sessions")
                                            .Where("user_id = ?")
                                            .Arg(s.user_id)
                                            .Where("(expires_at <= ? OR last_seen_at <= ?)")
                                            .Arg(s.created_at)
                                            .Arg(idle_cutoff)));
    // Then every live one beyond the newest max_active, least recently used first. The new
    // session is the most recently used, so it always survives.
    RAMPART_ASSIGN_OR_RETURN(
        Statement st,
        Query("DELETE FROM admin_sessions WHERE id IN (SELECT id FROM admin_sessions "
              "WHERE user_id = ? ORDER BY id = ? DESC, last_seen_at DESC, created_at DESC "
              "LIMIT -1 OFFSET ?)")
            .Arg(s.user_id)
            .Arg(s.id)
            .Arg(max_active)
            .Prepare(c));
    RAMPART_RETURN_IF_ERROR(st.Run());
    return static_cast<int64_t>(st.Changes());
  });
}

Result<core::AdminSession> SqliteStore::FindAdminSessionByHash(const std::string& secret_hash) {
  return Read([&](Connection& c) {
    Query q("SELECT " ADMIN_SESSION_COLS " FROM admin_sessions");
    q.Where("secret_hash = ?").Arg(secret_hash);
    return GetOne(c, q, ReadAdminSession, "admin session");
  });
}

Status SqliteStore::TouchAdminSession(const std::string& id, int64_t now) {
  return Write([&](Connection& c) {
    return RunOne(c,
                  Query("UPDATE admin_sessions SET last_seen_at = max(last_seen_at, ?)")
                      .Arg(now)
                      .Where("id = ?")
                      .Arg(id),
                  "admin session");
  });
}

Status SqliteStore::DeleteAdminSession(const std::string& id) {
  return Write([&](Connection& c) {
    return RunOne(c, Query("DELETE FROM admin_sessions").Where("id = ?").Arg(id), "admin session");
  });
}

Result<int64_t> SqliteStore::DeleteAdminSessionsOfUser(const Scope& scope,
                                                       const std::string& user_id) {
  return Write([&](Connection& c) -> Result<int64_t> {
    RAMPART_RETURN_IF_ERROR(RequireUserInScope(c, scope, user_id));
    RAMPART_ASSIGN_OR_RETURN(
        Statement st,
        Query("DELETE FROM admin_sessions").Where("user_id = ?").Arg(user_id).Prepare(c));
    RAMPART_RETURN_IF_ERROR(st.Run());
    return static_cast<int64_t>(st.Changes());
  });
}

Result<int64_t> SqliteStore::DeleteStaleAdminSessions(int64_t now, int64_t idle_cutoff) {
  return Write([&](Connection& c) -> Result<int64_t> {
    RAMPART_ASSIGN_OR_RETURN(Statement st, Query("DELETE FROM admin_sessions")
                                               .Where("(expires_at <= ? OR last_seen_at <= ?)")
                                               .Arg(now)
                                               .Arg(idle_cutoff)
                                               .Prepare(c));
    RAMPART_RETURN_IF_ERROR(st.Run());
    return static_cast<int64_t>(st.Changes());
  });
}

// -----------------------------------------------------------------------------------------------
// Commands

Result<core::Command> SqliteStore::EnqueueCommand(const Scope& scope, core::Command command,
                                                  const CommandSigner& sign) {
  using core::CommandState;
  if (command.state == CommandState::kQueued) {
    if (!sign) return Status::InvalidArgument("a queued command needs a signer");
  } else if (command.state == CommandState::kAwaitingApproval) {
    if (sign) return Status::InvalidArgument("a command awaiting approval is stored unsigned");
  } else {
    return Status::InvalidArgument("a new command is queued or awaiting approval");
  }
  if (command.batch_size < 1) return Status::InvalidArgument("batch size must be positive");
  return Write([&](Connection& c) -> Result<core::Command> {
    RAMPART_ASSIGN_OR_RETURN(Statement dev, (Query("SELECT institution_id, status FROM devices")
                                                 .Where("id = ?")
                                                 .Arg(command.device_id)
                                                 .InScope(scope)
                                                 .Prepare(c)));
    RAMPART_ASSIGN_OR_RETURN(bool found, dev.Step());
    if (!found) return Status::NotFound("device not found");
    command.institution_id = dev.Text(0);
    if (dev.Text(1) != core::ToString(core::DeviceStatus::kActive)) {
      return Status::Conflict("device is retired");
    }
    RAMPART_ASSIGN_OR_RETURN(command.seq, NextSeq(c, command.device_id));
    if (command.id.empty()) command.id = core::NewId("cmd");
    command.updated_at = command.created_at;
    command.sent_at = 0;
    command.not_before = 0;
    command.not_now_count = 0;
    command.result_json.clear();
    command.error.clear();
    command.signature_key_id.clear();
    command.signature.clear();
    if (command.state == CommandState::kQueued) {
      RAMPART_ASSIGN_OR_RETURN(CommandSignatureParts sig, sign(command));
      if (sig.key_id.empty() || sig.signature.empty()) {
        return Status::Internal("signer returned an empty signature");
      }
      command.signature_key_id = std::move(sig.key_id);
      command.signature = std::move(sig.signature);
    }
    Query q("INSERT INTO commands (" COMMAND_COLS
            ") VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)");
    q.Arg(command.id)
        .Arg(command.institution_id)
        .Arg(command.device_id)
        .Arg(command.seq)
        .Arg(Str(core::ToString(command.type)))
        .Arg(command.payload_json)
        .Arg(Str(core::ToString(command.state)))
        .Arg(command.created_by)
        .Arg(command.created_at)
        .Arg(command.updated_at)
        .Arg(command.expires_at)
        .Arg(command.sent_at)
        .Arg(command.not_before)
        .Arg(static_cast<int64_t>(command.not_now_count))
        .Arg(command.result_json)
        .Arg(command.error)
        .Arg(command.approved_by)
        .Arg(command.signature_key_id)
        .Arg(Param{BlobValue{command.signature}})
        .Arg(command.batch_size)
        .Arg(command.batch_id);
    RAMPART_RETURN_IF_ERROR(Named(RunQuery(c, q), "command"));
    return command;
  });
}

Result<core::Command> SqliteStore::FindCommand(const Scope& scope, const std::string& command_id) {
  return Read([&](Connection& c) {
    Query q("SELECT " COMMAND_COLS " FROM commands");
    q.Where("id = ?").Arg(command_id).InScope(scope);
    return GetOne(c, q, ReadCommand, "command");
  });
}

Result<std::vector<core::Command>> SqliteStore::ApproveCommands(const Scope& scope,
                                                                const std::string& command_id,
                                                                const std::string& approved_by,
                                                                int64_t now,
                                                                const CommandSigner& sign) {
  if (!sign) return Status::InvalidArgument("approval needs a signer");
  if (approved_by.empty()) return Status::InvalidArgument("approved_by is empty");
  return Write([&](Connection& c) -> Result<std::vector<core::Command>> {
    RAMPART_ASSIGN_OR_RETURN(std::vector<core::Command> batch, AwaitingBatch(c, scope, command_id));
    if (!batch.empty() && !batch.front().batch_id.empty()) {
      RAMPART_ASSIGN_OR_RETURN(CommandBatch b, LoadCommandBatch(c, scope, batch.front().batch_id));
      if (b.paused) return Status::Conflict("the command's batch is paused");
    }
    std::vector<core::Command> queued;
    for (core::Command& cmd : batch) {
      cmd.updated_at = now;
      if (Expired(cmd.expires_at, now)) {
        cmd.state = core::CommandState::kExpired;
        RAMPART_RETURN_IF_ERROR(UpdateCommandState(c, cmd));
        continue;
      }
      RAMPART_ASSIGN_OR_RETURN(cmd.seq, NextSeq(c, cmd.device_id));
      cmd.state = core::CommandState::kQueued;
      cmd.approved_by = approved_by;
      RAMPART_ASSIGN_OR_RETURN(CommandSignatureParts sig, sign(cmd));
      if (sig.key_id.empty() || sig.signature.empty()) {
        return Status::Internal("signer returned an empty signature");
      }
      cmd.signature_key_id = std::move(sig.key_id);
      cmd.signature = std::move(sig.signature);
      RAMPART_RETURN_IF_ERROR(
          RunQuery(c, Query("UPDATE commands SET state = 'queued', seq = ?, approved_by = ?, "
                            "signature_key_id = ?, signature = ?, updated_at = ?")
                          .Arg(cmd.seq)
                          .Arg(cmd.approved_by)
                          .Arg(cmd.signature_key_id)
                          .Arg(Param{BlobValue{cmd.signature}})
                          .Arg(now)
                          .Where("id = ?")
                          .Arg(cmd.id)
                          .Where("state = 'awaiting_approval'")));
      queued.push_back(std::move(cmd));
    }
    return queued;
  });
}

Result<std::vector<core::Command>> SqliteStore::RejectApproval(const Scope& scope,
                                                               const std::string& command_id,
                                                               int64_t now) {
  return Write([&](Connection& c) -> Result<std::vector<core::Command>> {
    RAMPART_ASSIGN_OR_RETURN(std::vector<core::Command> batch, AwaitingBatch(c, scope, command_id));
    for (core::Command& cmd : batch) {
      cmd.state = core::CommandState::kCanceled;
      cmd.updated_at = now;
      RAMPART_RETURN_IF_ERROR(UpdateCommandState(c, cmd));
    }
    return batch;
  });
}

Result<CommandBatch> SqliteStore::GetCommandBatch(const Scope& scope, const std::string& batch_id) {
  return Read([&](Connection& c) { return LoadCommandBatch(c, scope, batch_id); });
}

Result<CommandBatch> SqliteStore::SetCommandBatchPaused(const Scope& scope,
                                                        const std::string& batch_id, bool paused,
                                                        const std::string& by,
                                                        const std::string& reason, int64_t now,
                                                        bool* changed) {
  if (by.empty()) return Status::InvalidArgument("who pauses or resumes a batch is empty");
  return Write([&](Connection& c) -> Result<CommandBatch> {
    RAMPART_ASSIGN_OR_RETURN(CommandBatch b, LoadCommandBatch(c, scope, batch_id));
    if (changed != nullptr) *changed = b.paused != paused;
    if (b.paused == paused) return b;
    if (paused) {
      b.paused_by = by;
      b.pause_reason = reason;
      b.paused_at = now;
    } else {
      b.resumed_by = by;
      b.resumed_at = now;
    }
    b.paused = paused;
    RAMPART_RETURN_IF_ERROR(RunQuery(
        c, Query("INSERT INTO command_batches (batch_id, institution_id, paused, paused_by, "
                 "pause_reason, paused_at, resumed_by, resumed_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?) "
                 "ON CONFLICT(batch_id) DO UPDATE SET paused = excluded.paused, "
                 "paused_by = excluded.paused_by, pause_reason = excluded.pause_reason, "
                 "paused_at = excluded.paused_at, resumed_by = excluded.resumed_by, "
                 "resumed_at = excluded.resumed_at")
               .Arg(b.id)
               .Arg(b.institution_id)
               .Arg(static_cast<int64_t>(b.paused))
               .Arg(b.paused_by)
               .Arg(b.pause_reason)
               .Arg(b.paused_at)
               .Arg(b.resumed_by)
               .Arg(b.resumed_at)));
    return b;
  });
}

Result<std::vector<std::string>> SqliteStore::ListUnfinishedCommandBatches(
    const Scope& scope, const std::string& created_by) {
  return Read([&](Connection& c) -> Result<std::vector<std::string>> {
    return GetAll<std::string>(
        c,
        Query("SELECT batch_id FROM commands")
            .Where("created_by = ?")
            .Arg(created_by)
            .Where("batch_id != ''")
            .Where("state IN ('awaiting_approval', 'queued', 'sent', 'not_now')")
            .InScope(scope)
            .Append(" GROUP BY batch_id ORDER BY min(created_at), batch_id"),
        [](const Statement& st) -> Result<std::string> { return st.Text(0); });
  });
}

Result<int64_t> SqliteStore::ResignPendingCommands(const Scope& scope,
                                                   const std::string& old_key_id, int64_t now,
                                                   const CommandSigner& sign) {
  if (!sign) return Status::InvalidArgument("re-signing needs a signer");
  if (old_key_id.empty()) return Status::InvalidArgument("old_key_id is empty");
  return Write([&](Connection& c) -> Result<int64_t> {
    std::vector<core::Command> pending;
    {
      Query q("SELECT " COMMAND_COLS " FROM commands");
      q.Where("state IN ('queued', 'sent', 'not_now')")
          .Where("signature_key_id = ?")
          .Arg(old_key_id)
          .InScope(scope);
      RAMPART_ASSIGN_OR_RETURN(Statement st, q.Prepare(c));
      while (true) {
        RAMPART_ASSIGN_OR_RETURN(bool row, st.Step());
        if (!row) break;
        RAMPART_ASSIGN_OR_RETURN(core::Command cmd, ReadCommand(st));
        pending.push_back(std::move(cmd));
      }
    }
    int64_t resigned = 0;
    for (const core::Command& cmd : pending) {
      auto sig = sign(cmd);
      // Unavailable (the keeper is down) aborts; any other refusal skips just this command.
      if (!sig.ok() && sig.status().code() == Code::kUnavailable) return sig.status();
      if (!sig.ok()) continue;
      if (sig->key_id.empty() || sig->signature.empty()) {
        return Status::Internal("signer returned an empty signature");
      }
      RAMPART_RETURN_IF_ERROR(
          RunQuery(c, Query("UPDATE commands SET signature_key_id = ?, signature = ?, "
                            "updated_at = ?")
                          .Arg(sig->key_id)
                          .Arg(Param{BlobValue{sig->signature}})
                          .Arg(now)
                          .Where("id = ?")
                          .Arg(cmd.id)));
      ++resigned;
    }
    return resigned;
  });
}

Result<core::Command> SqliteStore::GetCommand(const Scope& scope, const std::string& device_id,
                                              const std::string& command_id) {
  return Read([&](Connection& c) {
    Query q("SELECT " COMMAND_COLS " FROM commands");
    q.Where("id = ?").Arg(command_id).Where("device_id = ?").Arg(device_id).InScope(scope);
    return GetOne(c, q, ReadCommand, "command");
  });
}

Result<Page<core::Command>> SqliteStore::ListCommands(const Scope& scope,
                                                      const std::string& device_id,
                                                      const CommandFilter& filter,
                                                      const PageRequest& page) {
  if (page.limit < 1 || page.limit > kMaxPageLimit) {
    return Status::InvalidArgument("page limit must be between 1 and 500");
  }
  int64_t after_seq = 0;
  if (!page.cursor.empty()) {
    RAMPART_ASSIGN_OR_RETURN(Cursor cur, DecodeCursor(page.cursor));
    after_seq = cur.key;
  }
  return Read([&](Connection& c) -> Result<Page<core::Command>> {
    RAMPART_ASSIGN_OR_RETURN(std::string inst, DeviceInstitution(c, scope, device_id));
    Query q("SELECT " COMMAND_COLS " FROM commands");
    q.Where("device_id = ?").Arg(device_id).Where("institution_id = ?").Arg(inst);
    if (filter.state) q.Where("state = ?").Arg(Str(core::ToString(*filter.state)));
    q.Where("seq > ?").Arg(after_seq).Append(" ORDER BY seq LIMIT ?").Arg(page.limit + 1);
    RAMPART_ASSIGN_OR_RETURN(std::vector<core::Command> items,
                             GetAll<core::Command>(c, q, ReadCommand));
    Page<core::Command> out;
    if (static_cast<int64_t>(items.size()) > page.limit) {
      items.pop_back();
      out.next_cursor = EncodeCursor(items.back().seq, items.back().id);
    }
    out.items = std::move(items);
    return out;
  });
}

Result<std::vector<core::Command>> SqliteStore::TakeDeliverableCommands(
    const std::string& device_id, int64_t now, int limit, int64_t resend_sent_before) {
  if (limit < 1) return Status::InvalidArgument("limit must be positive");
  // Most check-ins find nothing to deliver. Asking a read connection first keeps those off the
  // single write connection, which every other write in the process waits for.
  RAMPART_ASSIGN_OR_RETURN(
      bool anything, Read([&](Connection& c) -> Result<bool> {
        RAMPART_RETURN_IF_ERROR(RequireRowIn(
            c, Query("SELECT 1 FROM devices").Where("id = ?").Arg(device_id), "device"));
        return Exists(c, Query("SELECT 1 FROM commands")
                             .Where("device_id = ?")
                             .Arg(device_id)
                             .Where("state IN ('queued', 'not_now', 'sent')")
                             .Where("signature_key_id != ''")
                             .Where("length(signature) > 0")
                             .Where(NOT_IN_PAUSED_BATCH));
      }));
  if (!anything) return std::vector<core::Command>{};
  return Write([&](Connection& c) -> Result<std::vector<core::Command>> {
    RAMPART_RETURN_IF_ERROR(
        RequireRowIn(c, Query("SELECT 1 FROM devices").Where("id = ?").Arg(device_id), "device"));
    // Read the candidates first and update after, so no statement is stepped while the table
    // it reads is being written.
    RAMPART_ASSIGN_OR_RETURN(
        std::vector<core::Command> pending,
        GetAll<core::Command>(c,
                              Query("SELECT " COMMAND_COLS " FROM commands")
                                  .Where("device_id = ?")
                                  .Arg(device_id)
                                  .Where("state IN ('queued', 'not_now', 'sent')")
                                  .Where("signature_key_id != ''")
                                  .Where("length(signature) > 0")
                                  .Where(NOT_IN_PAUSED_BATCH)
                                  .Append(" ORDER BY seq"),
                              ReadCommand));
    std::vector<core::Command> taken;
    for (core::Command& cmd : pending) {
      if (Expired(cmd.expires_at, now)) {
        cmd.state = core::CommandState::kExpired;
        cmd.updated_at = now;
        RAMPART_RETURN_IF_ERROR(UpdateCommandState(c, cmd));
        continue;
      }
      if (static_cast<int>(taken.size()) >= limit) continue;
      if (cmd.state == core::CommandState::kNotNow && cmd.not_before > now) continue;
      if (cmd.state == core::CommandState::kSent && cmd.sent_at > resend_sent_before) continue;
      if (!core::IsAllowedTransition(cmd.state, core::CommandState::kSent)) {
        return Status::Internal("command state machine violated");
      }
      cmd.state = core::CommandState::kSent;
      cmd.sent_at = now;
      cmd.updated_at = now;
      RAMPART_RETURN_IF_ERROR(UpdateCommandState(c, cmd));
      taken.push_back(std::move(cmd));
    }
    return taken;
  });
}

Result<ResultOutcome> SqliteStore::RecordCommandResult(const std::string& device_id,
                                                       const std::string& command_id,
                                                       core::CommandState state,
                                                       const std::string& result_json,
                                                       const std::string& error, int64_t now,
                                                       int64_t not_before, int32_t max_not_now) {
  using core::CommandState;
  if (state != CommandState::kAcknowledged && state != CommandState::kError &&
      state != CommandState::kNotNow && state != CommandState::kRejected) {
    return Status::InvalidArgument("a device reports acknowledged, error, not_now or rejected");
  }
  return Write([&](Connection& c) -> Result<ResultOutcome> {
    RAMPART_ASSIGN_OR_RETURN(core::Command cmd,
                             GetOne(c,
                                    Query("SELECT " COMMAND_COLS " FROM commands")
                                        .Where("id = ?")
                                        .Arg(command_id)
                                        .Where("device_id = ?")
                                        .Arg(device_id),
                                    ReadCommand, "command"));
    if (cmd.state != CommandState::kSent) {
      // A retried report whose first copy was already recorded: same outcome, same content.
      bool duplicate = false;
      if (state == CommandState::kNotNow) {
        duplicate = cmd.result_json == result_json &&
                    ((cmd.state == CommandState::kNotNow && cmd.error == error) ||
                     (cmd.state == CommandState::kError && cmd.error == kNotNowExhausted));
      } else {
        duplicate = cmd.state == state && cmd.result_json == result_json && cmd.error == error;
      }
      if (duplicate) return ResultOutcome::kDuplicate;
      return Status::Conflict("command is not awaiting a result");
    }
    if (!core::IsAllowedTransition(cmd.state, state)) {
      return Status::Internal("command state machine violated");
    }
    cmd.updated_at = now;
    cmd.result_json = result_json;
    cmd.error = error;
    cmd.state = state;
    if (state == CommandState::kNotNow) {
      cmd.not_now_count += 1;
      cmd.not_before = not_before;
      if (cmd.not_now_count >= max_not_now) {
        cmd.state = CommandState::kError;
        cmd.error = Str(kNotNowExhausted);
      }
    }
    RAMPART_RETURN_IF_ERROR(UpdateCommandState(c, cmd));
    return ResultOutcome::kRecorded;
  });
}

Status SqliteStore::CancelCommand(const Scope& scope, const std::string& device_id,
                                  const std::string& command_id, int64_t now) {
  return Write([&](Connection& c) -> Status {
    RAMPART_ASSIGN_OR_RETURN(std::string state, FirstText(c,
                                                          Query("SELECT state FROM commands")
                                                              .Where("id = ?")
                                                              .Arg(command_id)
                                                              .Where("device_id = ?")
                                                              .Arg(device_id)
                                                              .InScope(scope),
                                                          "command"));
    if (state != core::ToString(core::CommandState::kQueued) &&
        state != core::ToString(core::CommandState::kNotNow) &&
        state != core::ToString(core::CommandState::kAwaitingApproval)) {
      return Status::Conflict("command was already sent or finished");
    }
    return RunQuery(c, Query("UPDATE commands SET state = 'canceled', updated_at = ?")
                           .Arg(now)
                           .Where("id = ?")
                           .Arg(command_id));
  });
}

Result<int64_t> SqliteStore::ExpireCommands(int64_t now) {
  return Write([&](Connection& c) -> Result<int64_t> {
    RAMPART_ASSIGN_OR_RETURN(Statement st,
                             (Query("UPDATE commands SET state = 'expired', updated_at = ?")
                                  .Arg(now)
                                  .Where("state IN ('queued', 'sent', 'not_now', "
                                         "'awaiting_approval')")
                                  .Where("expires_at > 0")
                                  .Where("expires_at <= ?")
                                  .Arg(now)
                                  .Prepare(c)));
    RAMPART_RETURN_IF_ERROR(st.Run());
    return st.Changes();
  });
}

Result<std::map<core::CommandState, int64_t>> SqliteStore::CountCommandsByState() {
  return Read([&](Connection& c) -> Result<std::map<core::CommandState, int64_t>> {
    std::map<core::CommandState, int64_t> out;
    for (auto s :
         {core::CommandState::kQueued, core::CommandState::kSent, core::CommandState::kAcknowledged,
          core::CommandState::kError, core::CommandState::kNotNow, core::CommandState::kCanceled,
          core::CommandState::kExpired, core::CommandState::kAwaitingApproval,
          core::CommandState::kRejected}) {
      out[s] = 0;
    }
    RAMPART_ASSIGN_OR_RETURN(Statement st,
                             c.Prepare("SELECT state, count(*) FROM commands GROUP BY state"));
    while (true) {
      RAMPART_ASSIGN_OR_RETURN(bool row, st.Step());
      if (!row) break;
      RAMPART_ASSIGN_OR_RETURN(auto state,
                               ParseEnum(&core::ParseCommandState, st.Text(0), "command state"));
      out[state] = st.Int(1);
    }
    return out;
  });
}

// -----------------------------------------------------------------------------------------------
// Policies

Status SqliteStore::CreatePolicy(const core::Policy& policy) {
  RAMPART_RETURN_IF_ERROR(RequireId(policy.id, "policy"));
  return Write([&](Connection& c) {
    Query q("INSERT INTO policies (" POLICY_COLS ") VALUES (?, ?, ?, ?, ?, ?)");
    q.Arg(policy.id)
        .Arg(policy.institution_id)
        .Arg(policy.name)
        .Arg(RulesToJson(policy.rules))
        .Arg(policy.created_at)
        .Arg(policy.updated_at);
    return Named(RunQuery(c, q), "policy");
  });
}

Result<core::Policy> SqliteStore::GetPolicy(const Scope& scope, const std::string& id) {
  return Read([&](Connection& c) {
    Query q("SELECT " POLICY_COLS " FROM policies");
    q.Where("id = ?").Arg(id).InScope(scope);
    return GetOne(c, q, ReadPolicy, "policy");
  });
}

Result<Page<core::Policy>> SqliteStore::ListPolicies(const Scope& scope, const PageRequest& page) {
  return Read([&](Connection& c) {
    Query q("SELECT " POLICY_COLS " FROM policies");
    q.InScope(scope);
    return GetPage<core::Policy>(c, std::move(q), Order::kCreatedAt, page, ReadPolicy, kCreatedAt);
  });
}

Status SqliteStore::UpdatePolicy(const Scope& scope, const core::Policy& policy) {
  return Write([&](Connection& c) {
    Query q("UPDATE policies SET name = ?, rules_json = ?, updated_at = ?");
    q.Arg(policy.name)
        .Arg(RulesToJson(policy.rules))
        .Arg(policy.updated_at)
        .Where("id = ?")
        .Arg(policy.id)
        .InScope(scope);
    return RunOne(c, q, "policy");
  });
}

Status SqliteStore::DeletePolicy(const Scope& scope, const std::string& id) {
  // Assignments go with it through ON DELETE CASCADE.
  return Write([&](Connection& c) {
    return RunOne(c, Query("DELETE FROM policies").Where("id = ?").Arg(id).InScope(scope),
                  "policy");
  });
}

Status SqliteStore::AssignPolicy(const core::PolicyAssignment& a) {
  RAMPART_RETURN_IF_ERROR(RequireId(a.id, "policy assignment"));
  return Write([&](Connection& c) -> Status {
    RAMPART_RETURN_IF_ERROR(RequireRowIn(c,
                                         Query("SELECT 1 FROM policies")
                                             .Where("id = ?")
                                             .Arg(a.policy_id)
                                             .Where("institution_id = ?")
                                             .Arg(a.institution_id),
                                         "policy"));
    if (!a.group_id.empty()) {
      RAMPART_RETURN_IF_ERROR(RequireRowIn(c,
                                           Query("SELECT 1 FROM device_groups")
                                               .Where("id = ?")
                                               .Arg(a.group_id)
                                               .Where("institution_id = ?")
                                               .Arg(a.institution_id),
                                           "group"));
    }
    Query q("INSERT INTO policy_assignments (" POLICY_ASSIGNMENT_COLS ") VALUES (?, ?, ?, ?, ?)");
    q.Arg(a.id)
        .Arg(a.institution_id)
        .Arg(a.policy_id)
        .Arg(a.group_id.empty() ? Param{} : Param{a.group_id})
        .Arg(a.created_at);
    return Named(RunQuery(c, q), "policy assignment");
  });
}

Status SqliteStore::DeletePolicyAssignment(const Scope& scope, const std::string& assignment_id) {
  return Write([&](Connection& c) {
    return RunOne(
        c,
        Query("DELETE FROM policy_assignments").Where("id = ?").Arg(assignment_id).InScope(scope),
        "policy assignment");
  });
}

Result<std::vector<core::PolicyAssignment>> SqliteStore::ListPolicyAssignments(
    const Scope& scope, const std::string& policy_id) {
  return Read([&](Connection& c) -> Result<std::vector<core::PolicyAssignment>> {
    RAMPART_ASSIGN_OR_RETURN(std::string inst,
                             FirstText(c,
                                       Query("SELECT institution_id FROM policies")
                                           .Where("id = ?")
                                           .Arg(policy_id)
                                           .InScope(scope),
                                       "policy"));
    return GetAll<core::PolicyAssignment>(
        c,
        Query("SELECT " POLICY_ASSIGNMENT_COLS " FROM policy_assignments")
            .Where("institution_id = ?")
            .Arg(inst)
            .Where("policy_id = ?")
            .Arg(policy_id)
            .Append(" ORDER BY created_at, id"),
        ReadPolicyAssignment);
  });
}

Result<std::vector<core::Policy>> SqliteStore::PoliciesForDevice(const std::string& device_id) {
  return Read([&](Connection& c) -> Result<std::vector<core::Policy>> {
    RAMPART_ASSIGN_OR_RETURN(std::string inst, DeviceInstitution(c, Scope::All(), device_id));
    // Each policy once: the outer query walks policies, the EXISTS only asks whether some
    // assignment (institution-wide, or to a group the device is in) points at it.
    Query q("SELECT " POLICY_COLS
            " FROM policies WHERE institution_id = ?1 AND EXISTS ("
            "SELECT 1 FROM policy_assignments a WHERE a.institution_id = ?1 AND "
            "a.policy_id = policies.id AND (a.group_id IS NULL OR EXISTS ("
            "SELECT 1 FROM group_members m WHERE m.institution_id = ?1 AND "
            "m.group_id = a.group_id AND m.device_id = ?2))) ORDER BY id");
    q.Arg(inst).Arg(device_id);
    return GetAll<core::Policy>(c, q, ReadPolicy);
  });
}

// -----------------------------------------------------------------------------------------------
// Apps

Status SqliteStore::CreateApp(const core::App& app) {
  RAMPART_RETURN_IF_ERROR(RequireId(app.id, "app"));
  return Write([&](Connection& c) {
    Query q("INSERT INTO apps (" APP_COLS ") VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)");
    q.Arg(app.id)
        .Arg(app.institution_id)
        .Arg(app.name)
        .Arg(app.bundle_id)
        .Arg(app.version)
        .Arg(Str(core::ToString(app.platform)))
        .Arg(app.sha256)
        .Arg(app.size_bytes)
        .Arg(static_cast<int64_t>(app.quarantined))
        .Arg(app.created_at)
        .Arg(app.quarantine_reason)
        .Arg(app.quarantined_by)
        .Arg(app.quarantined_at);
    return Named(RunQuery(c, q), "app");
  });
}

Result<core::App> SqliteStore::GetApp(const Scope& scope, const std::string& id) {
  return Read([&](Connection& c) {
    Query q("SELECT " APP_COLS " FROM apps");
    q.Where("id = ?").Arg(id).InScope(scope);
    return GetOne(c, q, ReadApp, "app");
  });
}

Result<Page<core::App>> SqliteStore::ListApps(const Scope& scope, const PageRequest& page) {
  return Read([&](Connection& c) {
    Query q("SELECT " APP_COLS " FROM apps");
    q.InScope(scope);
    return GetPage<core::App>(c, std::move(q), Order::kCreatedAt, page, ReadApp, kCreatedAt);
  });
}

Result<core::App> SqliteStore::FindAppBySha256(const Scope& scope, const std::string& sha256) {
  return Read([&](Connection& c) {
    Query q("SELECT " APP_COLS " FROM apps");
    q.Where("sha256 = ?").Arg(sha256).InScope(scope).Append(" ORDER BY created_at, id LIMIT 1");
    return GetOne(c, q, ReadApp, "app");
  });
}

Status SqliteStore::SetAppQuarantined(const Scope& scope, const std::string& id, bool quarantined) {
  return Write([&](Connection& c) {
    return RunOne(c,
                  Query("UPDATE apps SET quarantined = ?")
                      .Arg(static_cast<int64_t>(quarantined))
                      .Where("id = ?")
                      .Arg(id)
                      .InScope(scope),
                  "app");
  });
}

Result<core::App> SqliteStore::SetAppQuarantine(const Scope& scope, const std::string& id,
                                                bool quarantined, const std::string& by,
                                                const std::string& reason, int64_t now,
                                                bool* changed) {
  if (by.empty()) return Status::InvalidArgument("who quarantines or releases an app is empty");
  return Write([&](Connection& c) -> Result<core::App> {
    RAMPART_ASSIGN_OR_RETURN(
        core::App app,
        GetOne(c, Query("SELECT " APP_COLS " FROM apps").Where("id = ?").Arg(id).InScope(scope),
               ReadApp, "app"));
    if (changed != nullptr) *changed = app.quarantined != quarantined;
    if (app.quarantined == quarantined) return app;
    app.quarantined = quarantined;
    if (quarantined) {
      app.quarantine_reason = reason;
      app.quarantined_by = by;
      app.quarantined_at = now;
    }
    RAMPART_RETURN_IF_ERROR(RunQuery(c, Query("UPDATE apps SET quarantined = ?, "
                                              "quarantine_reason = ?, quarantined_by = ?, "
                                              "quarantined_at = ?")
                                            .Arg(static_cast<int64_t>(app.quarantined))
                                            .Arg(app.quarantine_reason)
                                            .Arg(app.quarantined_by)
                                            .Arg(app.quarantined_at)
                                            .Where("id = ?")
                                            .Arg(app.id)));
    if (quarantined) {
      // Install commands naming the package that no device has been sent yet never will be.
      RAMPART_RETURN_IF_ERROR(
          RunQuery(c, Query("UPDATE commands SET state = 'canceled', updated_at = ?")
                          .Arg(now)
                          .Where("institution_id = ?")
                          .Arg(app.institution_id)
                          .Where("type = 'install_app'")
                          .Where("state IN ('awaiting_approval', 'queued', 'not_now')")
                          .Where("json_extract(payload_json, '$.app_id') = ?")
                          .Arg(app.id)));
    }
    return app;
  });
}

Status SqliteStore::AssignApp(const core::AppAssignment& a) {
  RAMPART_RETURN_IF_ERROR(RequireId(a.id, "app assignment"));
  return Write([&](Connection& c) -> Status {
    RAMPART_RETURN_IF_ERROR(RequireRowIn(c,
                                         Query("SELECT 1 FROM apps")
                                             .Where("id = ?")
                                             .Arg(a.app_id)
                                             .Where("institution_id = ?")
                                             .Arg(a.institution_id),
                                         "app"));
    RAMPART_RETURN_IF_ERROR(RequireRowIn(c,
                                         Query("SELECT 1 FROM device_groups")
                                             .Where("id = ?")
                                             .Arg(a.group_id)
                                             .Where("institution_id = ?")
                                             .Arg(a.institution_id),
                                         "group"));
    Query q("INSERT INTO app_assignments (" APP_ASSIGNMENT_COLS ") VALUES (?, ?, ?, ?, ?)");
    q.Arg(a.id).Arg(a.institution_id).Arg(a.app_id).Arg(a.group_id).Arg(a.created_at);
    return Named(RunQuery(c, q), "app assignment");
  });
}

Result<std::vector<core::AppAssignment>> SqliteStore::ListAppAssignments(
    const Scope& scope, const std::string& app_id) {
  return Read([&](Connection& c) -> Result<std::vector<core::AppAssignment>> {
    RAMPART_ASSIGN_OR_RETURN(
        std::string inst,
        FirstText(
            c, Query("SELECT institution_id FROM apps").Where("id = ?").Arg(app_id).InScope(scope),
            "app"));
    return GetAll<core::AppAssignment>(c,
                                       Query("SELECT " APP_ASSIGNMENT_COLS " FROM app_assignments")
                                           .Where("institution_id = ?")
                                           .Arg(inst)
                                           .Where("app_id = ?")
                                           .Arg(app_id)
                                           .Append(" ORDER BY created_at, id"),
                                       ReadAppAssignment);
  });
}

// -----------------------------------------------------------------------------------------------
// Alerts

#define ALERT_COLS                                                                          \
  "id, institution_id, rule_id, rule_title, entity, severity, attack_json, evidence_json, " \
  "first_seen, last_seen, count, status, acknowledged_by, acknowledged_at, created_at, "    \
  "first_seen_ms, last_seen_ms, created_at_ms"

namespace {

Result<core::Alert> ReadAlert(const Statement& st) {
  core::Alert a;
  a.id = st.Text(0);
  a.institution_id = st.IsNull(1) ? "" : st.Text(1);
  a.rule_id = st.Text(2);
  a.rule_title = st.Text(3);
  a.entity = st.Text(4);
  a.severity = st.Text(5);
  RAMPART_ASSIGN_OR_RETURN(a.attack, StringsFromJson(st.Text(6), "alert attack ids"));
  RAMPART_ASSIGN_OR_RETURN(a.evidence, StringsFromJson(st.Text(7), "alert evidence"));
  a.first_seen = st.Int(8);
  a.last_seen = st.Int(9);
  a.count = st.Int(10);
  RAMPART_ASSIGN_OR_RETURN(a.status, ParseEnum(&core::ParseAlertStatus, st.Text(11), "status"));
  a.acknowledged_by = st.Text(12);
  a.acknowledged_at = st.Int(13);
  a.created_at = st.Int(14);
  a.first_seen_ms = st.Int(15);
  a.last_seen_ms = st.Int(16);
  a.created_at_ms = st.Int(17);
  return a;
}

Status CheckAlertObservation(const core::Alert& obs) {
  if (obs.rule_id.empty() || obs.entity.empty()) {
    return Status::InvalidArgument("an alert needs a rule id and an entity");
  }
  if (!core::IsAlertSeverity(obs.severity)) return Status::InvalidArgument("unknown severity");
  return Status::Ok();
}

// One observation folded in, inside the caller's transaction.
Result<core::Alert> RecordAlertIn(Connection& c, const core::Alert& obs, int32_t max_evidence) {
  {
    Query find("SELECT " ALERT_COLS " FROM alerts");
    find.Where("ifnull(institution_id, '') = ?")
        .Arg(obs.institution_id)
        .Where("rule_id = ?")
        .Arg(obs.rule_id)
        .Where("entity = ?")
        .Arg(obs.entity)
        .Where("status = 'open'");
    auto existing = GetOne(c, find, ReadAlert, "alert");
    if (!existing.ok() && existing.status().code() != Code::kNotFound) return existing.status();
    const size_t cap = max_evidence < 0 ? 0 : static_cast<size_t>(max_evidence);
    if (!existing.ok()) {
      core::Alert a = obs;
      if (a.id.empty()) a.id = core::NewTimeOrderedId("alr");
      if (a.count < 1) a.count = 1;
      if (a.evidence.size() > cap) a.evidence.resize(cap);
      a.status = core::AlertStatus::kOpen;
      a.acknowledged_by.clear();
      a.acknowledged_at = 0;
      if (a.created_at == 0) a.created_at = a.first_seen;
      // Every row stored from now on has its millisecond times; an observation that only knows
      // whole seconds gets them x 1000.
      a.first_seen_ms = core::MillisOr(a.first_seen_ms, a.first_seen);
      a.last_seen_ms = core::MillisOr(a.last_seen_ms, a.last_seen);
      a.created_at_ms = core::MillisOr(a.created_at_ms, a.created_at);
      Query q("INSERT INTO alerts (" ALERT_COLS
              ") VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, 'open', '', 0, ?, ?, ?, ?)");
      q.Arg(a.id)
          .Arg(a.institution_id.empty() ? Param{} : Param{a.institution_id})
          .Arg(a.rule_id)
          .Arg(a.rule_title)
          .Arg(a.entity)
          .Arg(a.severity)
          .Arg(StringsToJson(a.attack))
          .Arg(StringsToJson(a.evidence))
          .Arg(a.first_seen)
          .Arg(a.last_seen)
          .Arg(a.count)
          .Arg(a.created_at)
          .Arg(a.first_seen_ms)
          .Arg(a.last_seen_ms)
          .Arg(a.created_at_ms);
      RAMPART_RETURN_IF_ERROR(Named(RunQuery(c, q), "alert"));
      return a;
    }
    core::Alert a = std::move(existing).value();
    a.count += obs.count < 1 ? 1 : obs.count;
    a.first_seen = std::min(a.first_seen, obs.first_seen);
    a.last_seen = std::max(a.last_seen, obs.last_seen);
    a.first_seen_ms = std::min(core::MillisOr(a.first_seen_ms, a.first_seen),
                               core::MillisOr(obs.first_seen_ms, obs.first_seen));
    a.last_seen_ms = std::max(core::MillisOr(a.last_seen_ms, a.last_seen),
                              core::MillisOr(obs.last_seen_ms, obs.last_seen));
    if (core::SeverityRank(obs.severity) > core::SeverityRank(a.severity)) {
      a.severity = obs.severity;
    }
    for (const auto& t : obs.attack) {
      if (std::find(a.attack.begin(), a.attack.end(), t) == a.attack.end()) a.attack.push_back(t);
    }
    core::FoldEvidence(&a.evidence, obs.evidence, cap);
    Query q(
        "UPDATE alerts SET count = ?, first_seen = ?, last_seen = ?, first_seen_ms = ?, "
        "last_seen_ms = ?, severity = ?, attack_json = ?, evidence_json = ?");
    q.Arg(a.count)
        .Arg(a.first_seen)
        .Arg(a.last_seen)
        .Arg(a.first_seen_ms)
        .Arg(a.last_seen_ms)
        .Arg(a.severity)
        .Arg(StringsToJson(a.attack))
        .Arg(StringsToJson(a.evidence))
        .Where("id = ?")
        .Arg(a.id);
    RAMPART_RETURN_IF_ERROR(RunOne(c, q, "alert"));
    return a;
  }
}

}  // namespace

Result<core::Alert> SqliteStore::RecordAlert(const core::Alert& obs, int32_t max_evidence) {
  RAMPART_RETURN_IF_ERROR(CheckAlertObservation(obs));
  return Write([&](Connection& c) { return RecordAlertIn(c, obs, max_evidence); });
}

Result<std::vector<core::Alert>> SqliteStore::RecordAlerts(
    const std::vector<core::Alert>& observations, int32_t max_evidence) {
  for (const core::Alert& obs : observations) {
    RAMPART_RETURN_IF_ERROR(CheckAlertObservation(obs));
  }
  if (observations.empty()) return std::vector<core::Alert>{};
  return Write([&](Connection& c) -> Result<std::vector<core::Alert>> {
    std::vector<core::Alert> stored;
    stored.reserve(observations.size());
    for (const core::Alert& obs : observations) {
      RAMPART_ASSIGN_OR_RETURN(core::Alert a, RecordAlertIn(c, obs, max_evidence));
      stored.push_back(std::move(a));
    }
    return stored;
  });
}

// -----------------------------------------------------------------------------------------------
// Staff exports

#define STAFF_EXPORT_COLS                                                                 \
  "id, institution_id, requested_by, reason, state, decided_by, created_at, decided_at, " \
  "downloaded_at, expires_at, record_count"
Result<core::StaffExport> ReadStaffExport(const Statement& st) {
  core::StaffExport e;
  e.id = st.Text(0);
  e.institution_id = st.Text(1);
  e.requested_by = st.Text(2);
  e.reason = st.Text(3);
  e.state = st.Text(4);
  e.decided_by = st.Text(5);
  e.created_at = st.Int(6);
  e.decided_at = st.Int(7);
  e.downloaded_at = st.Int(8);
  e.expires_at = st.Int(9);
  e.record_count = st.Int(10);
  return e;
}

Status SqliteStore::CreateStaffExport(const core::StaffExport& e) {
  RAMPART_RETURN_IF_ERROR(RequireId(e.id, "staff export"));
  return Write([&](Connection& c) {
    return Named(RunQuery(c, Query("INSERT INTO staff_exports (" STAFF_EXPORT_COLS
                                   ") VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)")
                                 .Arg(e.id)
                                 .Arg(e.institution_id)
                                 .Arg(e.requested_by)
                                 .Arg(e.reason)
                                 .Arg(e.state)
                                 .Arg(e.decided_by)
                                 .Arg(e.created_at)
                                 .Arg(e.decided_at)
                                 .Arg(e.downloaded_at)
                                 .Arg(e.expires_at)
                                 .Arg(e.record_count)),
                 "staff export");
  });
}

Result<core::StaffExport> SqliteStore::GetStaffExport(const Scope& scope, const std::string& id) {
  return Read([&](Connection& c) {
    Query q("SELECT " STAFF_EXPORT_COLS " FROM staff_exports");
    q.Where("id = ?").Arg(id).InScope(scope);
    return GetOne(c, q, ReadStaffExport, "staff export");
  });
}

Result<Page<core::StaffExport>> SqliteStore::ListStaffExports(const Scope& scope,
                                                              const PageRequest& page) {
  return Read([&](Connection& c) {
    Query q("SELECT " STAFF_EXPORT_COLS " FROM staff_exports");
    q.InScope(scope);
    return GetPage<core::StaffExport>(c, std::move(q), Order::kCreatedAt, page, ReadStaffExport,
                                      kCreatedAt);
  });
}

Result<core::StaffExport> SqliteStore::TransitionStaffExport(
    const Scope& scope, const std::string& id, const std::string& from, const std::string& to,
    const std::string& by, int64_t now, int64_t record_count) {
  return Write([&](Connection& c) -> Result<core::StaffExport> {
    Query get("SELECT " STAFF_EXPORT_COLS " FROM staff_exports");
    get.Where("id = ?").Arg(id).InScope(scope);
    RAMPART_ASSIGN_OR_RETURN(core::StaffExport e, GetOne(c, get, ReadStaffExport, "staff export"));
    if (e.state != from) {
      return Status::Conflict("the export is " + e.state + ", not " + from);
    }
    if (now >= e.expires_at) return Status::Conflict("the export has expired");
    Query q("UPDATE staff_exports SET state = ?");
    q.Arg(to);
    if (to == "downloaded") {
      q.Append(", downloaded_at = ?, record_count = ?").Arg(now).Arg(record_count);
      e.downloaded_at = now;
      e.record_count = record_count;
    } else {
      q.Append(", decided_by = ?, decided_at = ?").Arg(by).Arg(now);
      e.decided_by = by;
      e.decided_at = now;
    }
    q.Where("id = ?").Arg(id).Where("state = ?").Arg(from);
    RAMPART_RETURN_IF_ERROR(RunOne(c, q, "staff export"));
    e.state = to;
    return e;
  });
}

Result<core::Alert> SqliteStore::GetAlert(const Scope& scope, const std::string& id) {
  return Read([&](Connection& c) {
    Query q("SELECT " ALERT_COLS " FROM alerts");
    q.Where("id = ?").Arg(id).InScope(scope);
    return GetOne(c, q, ReadAlert, "alert");
  });
}

Result<Page<core::Alert>> SqliteStore::ListAlerts(const Scope& scope, const AlertFilter& filter,
                                                  const PageRequest& page) {
  return Read([&](Connection& c) {
    Query q("SELECT " ALERT_COLS " FROM alerts");
    q.InScope(scope);
    if (!filter.severity.empty()) q.Where("severity = ?").Arg(filter.severity);
    if (!filter.min_severity.empty()) {
      // The levels at or above the least, the highest repeated to fill the fixed list.
      constexpr size_t kLevels = std::size(core::kAlertSeverities);
      q.Where("severity IN (?, ?, ?, ?, ?)");
      static_assert(kLevels == 5, "one placeholder per level");
      const int least = core::SeverityRank(filter.min_severity);
      for (size_t i = 0; i < kLevels; ++i) {
        const size_t level = std::min(static_cast<size_t>(std::max(least, 0)) + i, kLevels - 1);
        q.Arg(Str(core::kAlertSeverities[level]));
      }
    }
    if (!filter.rule_id.empty()) q.Where("rule_id = ?").Arg(filter.rule_id);
    if (!filter.entity.empty()) q.Where("entity = ?").Arg(filter.entity);
    if (filter.since != 0) q.Where("last_seen >= ?").Arg(filter.since);
    if (filter.until) q.Where("first_seen <= ?").Arg(*filter.until);
    if (filter.status) q.Where("status = ?").Arg(Str(core::ToString(*filter.status)));
    return GetPage<core::Alert>(
        c, std::move(q), filter.newest_first ? Order::kCreatedAtNewestFirst : Order::kCreatedAt,
        page, ReadAlert, kCreatedAt);
  });
}

Result<core::Alert> SqliteStore::AcknowledgeAlert(const Scope& scope, const std::string& id,
                                                  const std::string& by, int64_t now) {
  return Write([&](Connection& c) -> Result<core::Alert> {
    Query find("SELECT " ALERT_COLS " FROM alerts");
    find.Where("id = ?").Arg(id).InScope(scope);
    RAMPART_ASSIGN_OR_RETURN(core::Alert a, GetOne(c, find, ReadAlert, "alert"));
    if (a.status == core::AlertStatus::kAcknowledged) return a;
    Query q("UPDATE alerts SET status = 'acknowledged', acknowledged_by = ?, acknowledged_at = ?");
    q.Arg(by).Arg(now).Where("id = ?").Arg(id);
    RAMPART_RETURN_IF_ERROR(RunOne(c, q, "alert"));
    a.status = core::AlertStatus::kAcknowledged;
    a.acknowledged_by = by;
    a.acknowledged_at = now;
    return a;
  });
}

// ===============================================================================================
// Incidents (issue 5, docs/incidents.md)

#define INCIDENT_COLS                                                                   \
  "id, institution_id, entity, title, severity, state, first_alert_at, last_alert_at, " \
  "created_at, "                                                                        \
  "updated_at, closed_at, first_alert_at_ms"

namespace {

Result<core::Incident> ReadIncident(const Statement& st) {
  core::Incident i;
  i.id = st.Text(0);
  i.institution_id = st.IsNull(1) ? "" : st.Text(1);
  i.entity = st.Text(2);
  i.title = st.Text(3);
  i.severity = st.Text(4);
  RAMPART_ASSIGN_OR_RETURN(i.state,
                           ParseEnum(&core::ParseIncidentState, st.Text(5), "incident state"));
  i.first_alert_at = st.Int(6);
  i.last_alert_at = st.Int(7);
  i.created_at = st.Int(8);
  i.updated_at = st.Int(9);
  i.closed_at = st.Int(10);
  i.first_alert_at_ms = st.Int(11);
  return i;
}

Result<core::IncidentEntry> ReadIncidentEntry(const Statement& st) {
  core::IncidentEntry e;
  e.seq = st.Int(0);
  e.incident_id = st.Text(1);
  e.kind = st.Text(2);
  e.from_state = st.Text(3);
  e.to_state = st.Text(4);
  e.text = st.Text(5);
  e.actor = st.Text(6);
  e.at = st.Int(7);
  return e;
}

Result<std::string> ReadText0(const Statement& st) {
  return st.Text(0);
}

Status LoadIncidentAlerts(Connection& c, core::Incident* i) {
  Query q("SELECT alert_id FROM incident_alerts");
  q.Where("incident_id = ?").Arg(i->id).Append(" ORDER BY seq");
  RAMPART_ASSIGN_OR_RETURN(i->alert_ids, (GetAll<std::string>(c, q, ReadText0)));
  return Status::Ok();
}

Result<core::Incident> FindIncident(Connection& c, const Scope& scope, const std::string& id) {
  Query q("SELECT " INCIDENT_COLS " FROM incidents");
  q.Where("id = ?").Arg(id).InScope(scope);
  RAMPART_ASSIGN_OR_RETURN(core::Incident i, GetOne(c, q, ReadIncident, "incident"));
  RAMPART_RETURN_IF_ERROR(LoadIncidentAlerts(c, &i));
  return i;
}

Param OptionalInstitution(const std::string& id) {
  return id.empty() ? Param{} : Param{id};
}

}  // namespace

// -----------------------------------------------------------------------------------------------
// Response (src/respond: playbooks, denylist, lockdown; migration 6)

namespace {

#define ADDRESS_BLOCK_COLS                                                                       \
  "id, value, scope, reason, origin, scenario, created_by, created_at, expires_at, removed_at, " \
  "removed_by, change_seq, institution_id"

Result<AddressBlock> ReadAddressBlock(const Statement& st) {
  AddressBlock b;
  b.id = st.Int(0);
  b.value = st.Text(1);
  b.scope = st.Text(2);
  b.reason = st.Text(3);
  b.origin = st.Text(4);
  b.scenario = st.Text(5);
  b.created_by = st.Text(6);
  b.created_at = st.Int(7);
  b.expires_at = st.Int(8);
  b.removed_at = st.Int(9);
  b.removed_by = st.Text(10);
  b.change_seq = st.Int(11);
  b.institution_id = st.Text(12);
  return b;
}

Result<BouncerKey> ReadBouncerKey(const Statement& st) {
  BouncerKey k;
  k.id = st.Text(0);
  k.name = st.Text(1);
  k.key_hash = st.Text(2);
  k.created_at = st.Int(3);
  k.last_pull_at = st.Int(4);
  k.last_seq = st.Int(5);
  return k;
}

Result<Lockdown> ReadLockdown(const Statement& st) {
  Lockdown l;
  l.scope = st.Text(0);
  l.entered_by = st.Text(1);
  l.reason = st.Text(2);
  l.entered_at = st.Int(3);
  l.lift_requested_by = st.Text(4);
  l.lift_requested_at = st.Int(5);
  return l;
}

Result<int64_t> NextChangeSeq(Connection& c) {
  Query q("SELECT ifnull(max(change_seq), 0) + 1 FROM address_blocks");
  RAMPART_ASSIGN_OR_RETURN(Statement st, q.Prepare(c));
  RAMPART_ASSIGN_OR_RETURN(bool row, st.Step());
  return row ? st.Int(0) : int64_t{1};
}

Result<AddressBlock> BlockById(Connection& c, int64_t id) {
  Query q("SELECT " ADDRESS_BLOCK_COLS " FROM address_blocks");
  q.Where("id = ?").Arg(id);
  return GetOne(c, q, ReadAddressBlock, "address block");
}

}  // namespace

namespace {

// One alert linked, inside the caller's transaction.
Result<core::Incident> AttachAlertIn(Connection& c, const std::string& alert_id,
                                     int64_t window_seconds, int64_t now) {
  {
    Query qa("SELECT " ALERT_COLS " FROM alerts");
    qa.Where("id = ?").Arg(alert_id);
    RAMPART_ASSIGN_OR_RETURN(core::Alert alert, GetOne(c, qa, ReadAlert, "alert"));
    const int64_t alert_at = std::max(alert.last_seen, alert.created_at);

    auto raise = [&](core::Incident inc) -> Result<core::Incident> {
      bool changed = false;
      if (core::SeverityRank(alert.severity) > core::SeverityRank(inc.severity)) {
        inc.severity = alert.severity;
        changed = true;
      }
      if (alert_at > inc.last_alert_at) {
        inc.last_alert_at = alert_at;
        changed = true;
      }
      if (changed) {
        inc.updated_at = now;
        Query u("UPDATE incidents SET severity = ?, last_alert_at = ?, updated_at = ?");
        u.Arg(inc.severity).Arg(inc.last_alert_at).Arg(now).Where("id = ?").Arg(inc.id);
        RAMPART_RETURN_IF_ERROR(RunOne(c, u, "incident"));
      }
      RAMPART_RETURN_IF_ERROR(LoadIncidentAlerts(c, &inc));
      return inc;
    };

    Query linked("SELECT " INCIDENT_COLS " FROM incidents");
    linked.Where("id = (SELECT incident_id FROM incident_alerts WHERE alert_id = ?)").Arg(alert_id);
    auto existing = GetOne(c, linked, ReadIncident, "incident");
    if (existing.ok()) return raise(std::move(existing).value());
    if (existing.status().code() != Code::kNotFound) return existing.status();

    Query open("SELECT " INCIDENT_COLS " FROM incidents");
    open.Where("ifnull(institution_id, '') = ?")
        .Arg(alert.institution_id)
        .Where("entity = ?")
        .Arg(alert.entity)
        .Where("state <> 'closed'")
        .Where("last_alert_at >= ?")
        .Arg(alert.first_seen - window_seconds)
        .Append(" ORDER BY last_alert_at DESC, id LIMIT 1");
    auto joinable = GetOne(c, open, ReadIncident, "incident");
    if (!joinable.ok() && joinable.status().code() != Code::kNotFound) return joinable.status();
    core::Incident inc;
    if (joinable.ok()) {
      inc = std::move(joinable).value();
    } else {
      inc.id = core::NewId("inc");
      inc.institution_id = alert.institution_id;
      inc.entity = alert.entity;
      inc.title = alert.rule_title.empty() ? alert.rule_id : alert.rule_title;
      inc.severity = alert.severity;
      inc.state = core::IncidentState::kNew;
      inc.first_alert_at = alert.created_at;
      inc.first_alert_at_ms = core::MillisOr(alert.created_at_ms, alert.created_at);
      inc.last_alert_at = alert_at;
      inc.created_at = now;
      inc.updated_at = now;
      Query ins("INSERT INTO incidents (" INCIDENT_COLS
                ") VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, 0, ?)");
      ins.Arg(inc.id)
          .Arg(OptionalInstitution(inc.institution_id))
          .Arg(inc.entity)
          .Arg(inc.title)
          .Arg(inc.severity)
          .Arg(Str(core::ToString(inc.state)))
          .Arg(inc.first_alert_at)
          .Arg(inc.last_alert_at)
          .Arg(inc.created_at)
          .Arg(inc.updated_at)
          .Arg(inc.first_alert_at_ms);
      RAMPART_RETURN_IF_ERROR(Named(RunQuery(c, ins), "incident"));
      inc.opened_by_link = true;
    }
    Query link(
        "INSERT INTO incident_alerts (alert_id, incident_id, seq) VALUES (?, ?, "
        "(SELECT ifnull(max(seq), 0) + 1 FROM incident_alerts WHERE incident_id = ?))");
    link.Arg(alert_id).Arg(inc.id).Arg(inc.id);
    RAMPART_RETURN_IF_ERROR(Named(RunQuery(c, link), "incident alert"));
    const int64_t alert_ms = core::MillisOr(alert.created_at_ms, alert.created_at);
    if (alert_ms < core::MillisOr(inc.first_alert_at_ms, inc.first_alert_at)) {
      inc.first_alert_at = alert.created_at;
      inc.first_alert_at_ms = alert_ms;
      Query u("UPDATE incidents SET first_alert_at = ?, first_alert_at_ms = ?");
      u.Arg(inc.first_alert_at).Arg(inc.first_alert_at_ms).Where("id = ?").Arg(inc.id);
      RAMPART_RETURN_IF_ERROR(RunOne(c, u, "incident"));
    }
    return raise(std::move(inc));
  }
}

}  // namespace

Result<core::Incident> SqliteStore::AttachAlertToIncident(const std::string& alert_id,
                                                          int64_t window_seconds, int64_t now) {
  return Write([&](Connection& c) { return AttachAlertIn(c, alert_id, window_seconds, now); });
}

Result<std::vector<core::Incident>> SqliteStore::AttachAlertsToIncidents(
    const std::vector<std::string>& alert_ids, int64_t window_seconds, int64_t now) {
  if (alert_ids.empty()) return std::vector<core::Incident>{};
  return Write([&](Connection& c) -> Result<std::vector<core::Incident>> {
    std::vector<core::Incident> linked;
    linked.reserve(alert_ids.size());
    for (const std::string& id : alert_ids) {
      RAMPART_ASSIGN_OR_RETURN(core::Incident inc, AttachAlertIn(c, id, window_seconds, now));
      linked.push_back(std::move(inc));
    }
    return linked;
  });
}

Result<core::Incident> SqliteStore::GetIncident(const Scope& scope, const std::string& id) {
  return Read([&](Connection& c) { return FindIncident(c, scope, id); });
}

Result<Page<core::Incident>> SqliteStore::ListIncidents(const Scope& scope,
                                                        const IncidentFilter& filter,
                                                        const PageRequest& page) {
  return Read([&](Connection& c) {
    Query q("SELECT " INCIDENT_COLS " FROM incidents");
    q.InScope(scope);
    if (filter.state) q.Where("state = ?").Arg(Str(core::ToString(*filter.state)));
    if (!filter.severity.empty()) q.Where("severity = ?").Arg(filter.severity);
    if (filter.since != 0) q.Where("last_alert_at >= ?").Arg(filter.since);
    if (filter.until) q.Where("first_alert_at <= ?").Arg(*filter.until);
    return GetPage<core::Incident>(c, std::move(q), Order::kCreatedAt, page, ReadIncident,
                                   kCreatedAt);
  });
}

Result<core::Incident> SqliteStore::TransitionIncident(const Scope& scope, const std::string& id,
                                                       core::IncidentState to,
                                                       const std::string& by,
                                                       const std::string& reason, int64_t now) {
  return Write([&](Connection& c) -> Result<core::Incident> {
    RAMPART_ASSIGN_OR_RETURN(core::Incident inc, FindIncident(c, scope, id));
    if (!core::IncidentTransitionAllowed(inc.state, to)) {
      return Status::Conflict("an incident cannot go from " + std::string(ToString(inc.state)) +
                              " to " + std::string(ToString(to)));
    }
    const std::string from(ToString(inc.state));
    Query u("UPDATE incidents SET state = ?, updated_at = ?, closed_at = ?");
    u.Arg(Str(ToString(to)))
        .Arg(now)
        .Arg(to == core::IncidentState::kClosed ? now : int64_t{0})
        .Where("id = ?")
        .Arg(id)
        .Where("state = ?")
        .Arg(from);
    RAMPART_RETURN_IF_ERROR(RunOne(c, u, "incident"));
    Query e(
        "INSERT INTO incident_entries (incident_id, kind, from_state, to_state, text, actor, at) "
        "VALUES (?, 'transition', ?, ?, ?, ?, ?)");
    e.Arg(id).Arg(from).Arg(Str(ToString(to))).Arg(reason).Arg(by).Arg(now);
    RAMPART_RETURN_IF_ERROR(RunQuery(c, e));
    inc.state = to;
    inc.updated_at = now;
    if (to == core::IncidentState::kClosed) inc.closed_at = now;
    return inc;
  });
}

Result<core::IncidentEntry> SqliteStore::AddIncidentNote(const Scope& scope, const std::string& id,
                                                         const std::string& by,
                                                         const std::string& text, int64_t now) {
  return Write([&](Connection& c) -> Result<core::IncidentEntry> {
    RAMPART_ASSIGN_OR_RETURN(core::Incident inc, FindIncident(c, scope, id));
    const std::string state(ToString(inc.state));
    Query e(
        "INSERT INTO incident_entries (incident_id, kind, from_state, to_state, text, actor, at) "
        "VALUES (?, 'note', ?, ?, ?, ?, ?)");
    e.Arg(id).Arg(state).Arg(state).Arg(text).Arg(by).Arg(now);
    RAMPART_RETURN_IF_ERROR(RunQuery(c, e));
    Query last(
        "SELECT seq, incident_id, kind, from_state, to_state, text, actor, at "
        "FROM incident_entries");
    last.Where("seq = last_insert_rowid()");
    return GetOne(c, last, ReadIncidentEntry, "incident note");
  });
}

Result<std::vector<core::IncidentEntry>> SqliteStore::ListIncidentEntries(const Scope& scope,
                                                                          const std::string& id) {
  return Read([&](Connection& c) -> Result<std::vector<core::IncidentEntry>> {
    RAMPART_RETURN_IF_ERROR(FindIncident(c, scope, id).status());
    Query q(
        "SELECT seq, incident_id, kind, from_state, to_state, text, actor, at "
        "FROM incident_entries");
    q.Where("incident_id = ?").Arg(id).Append(" ORDER BY seq");
    return GetAll<core::IncidentEntry>(c, q, ReadIncidentEntry);
  });
}

Result<std::vector<core::Command>> SqliteStore::ListCommandsInWindow(const Scope& scope,
                                                                     int64_t since, int64_t until,
                                                                     int64_t limit) {
  if (limit < 1) return Status::InvalidArgument("limit must be positive");
  return Read([&](Connection& c) {
    Query q("SELECT " COMMAND_COLS " FROM commands");
    q.InScope(scope)
        .Where("updated_at >= ?")
        .Arg(since)
        .Where("created_at <= ?")
        .Arg(until)
        .Append(" ORDER BY created_at, id LIMIT ?")
        .Arg(limit);
    return GetAll<core::Command>(c, q, ReadCommand);
  });
}

// === end of Incidents ===

Result<AddressBlock> SqliteStore::AddAddressBlock(const AddressBlock& block, int64_t now,
                                                  bool* existed) {
  return Write([&](Connection& c) -> Result<AddressBlock> {
    RAMPART_ASSIGN_OR_RETURN(int64_t seq, NextChangeSeq(c));
    Query find("SELECT " ADDRESS_BLOCK_COLS " FROM address_blocks");
    find.Where("value = ?").Arg(block.value).Where("institution_id = ?").Arg(block.institution_id);
    find.Where("removed_at = 0").Where("expires_at > ?").Arg(now);
    find.Append(" ORDER BY id LIMIT 1");
    auto current = GetOne(c, find, ReadAddressBlock, "address block");
    if (current.ok()) {
      if (existed != nullptr) *existed = true;
      Query up("UPDATE address_blocks SET expires_at = max(expires_at, ?), change_seq = ?");
      up.Arg(block.expires_at).Arg(seq).Where("id = ?").Arg(current->id);
      RAMPART_RETURN_IF_ERROR(RunOne(c, up, "address block"));
      return BlockById(c, current->id);
    }
    if (current.status().code() != Code::kNotFound) return current.status();
    if (existed != nullptr) *existed = false;
    Query ins(
        "INSERT INTO address_blocks (value, scope, reason, origin, scenario, created_by, "
        "created_at, expires_at, removed_at, removed_by, change_seq, institution_id) "
        "VALUES (?, ?, ?, ?, ?, ?, ?, ?, 0, '', ?, ?)");
    ins.Arg(block.value)
        .Arg(block.scope)
        .Arg(block.reason)
        .Arg(block.origin)
        .Arg(block.scenario)
        .Arg(block.created_by)
        .Arg(block.created_at)
        .Arg(block.expires_at)
        .Arg(seq)
        .Arg(block.institution_id);
    RAMPART_RETURN_IF_ERROR(Named(RunQuery(c, ins), "address block"));
    Query last("SELECT " ADDRESS_BLOCK_COLS " FROM address_blocks");
    last.Where("change_seq = ?").Arg(seq);
    return GetOne(c, last, ReadAddressBlock, "address block");
  });
}

Result<AddressBlock> SqliteStore::RemoveAddressBlock(int64_t id, const std::string& by,
                                                     int64_t now) {
  return Write([&](Connection& c) -> Result<AddressBlock> {
    RAMPART_ASSIGN_OR_RETURN(AddressBlock current, BlockById(c, id));
    if (current.removed_at != 0) return Status::Conflict("address block already removed");
    RAMPART_ASSIGN_OR_RETURN(int64_t seq, NextChangeSeq(c));
    Query up("UPDATE address_blocks SET removed_at = ?, removed_by = ?, change_seq = ?");
    up.Arg(now).Arg(by).Arg(seq).Where("id = ?").Arg(id);
    RAMPART_RETURN_IF_ERROR(RunOne(c, up, "address block"));
    return BlockById(c, id);
  });
}

Result<AddressBlock> SqliteStore::GetAddressBlock(int64_t id) {
  return Read([&](Connection& c) { return BlockById(c, id); });
}

Result<std::vector<AddressBlock>> SqliteStore::ListActiveAddressBlocks(int64_t now) {
  return Read([&](Connection& c) {
    Query q("SELECT " ADDRESS_BLOCK_COLS " FROM address_blocks");
    q.Where("removed_at = 0").Where("expires_at > ?").Arg(now).Append(" ORDER BY id");
    return GetAll<AddressBlock>(c, q, ReadAddressBlock);
  });
}

Result<std::vector<AddressBlock>> SqliteStore::ListUnannouncedExpiredBlocks(int64_t now,
                                                                            int64_t limit) {
  return Read([&](Connection& c) {
    Query q("SELECT " ADDRESS_BLOCK_COLS " FROM address_blocks");
    q.Where("removed_at = 0").Where("expires_at <= ?").Arg(now).Where("expiry_announced = 0");
    q.Append(" ORDER BY expires_at, id LIMIT ?").Arg(std::clamp<int64_t>(limit, 1, 100000));
    return GetAll<AddressBlock>(c, q, ReadAddressBlock);
  });
}

Status SqliteStore::MarkBlockExpiryAnnounced(int64_t id) {
  return Write([&](Connection& c) -> Status {
    Query up("UPDATE address_blocks SET expiry_announced = 1");
    up.Where("id = ?").Arg(id);
    return RunOne(c, up, "address block");
  });
}

Result<std::vector<AddressBlock>> SqliteStore::ListAddressBlockChanges(int64_t after_seq,
                                                                       int64_t limit) {
  return Read([&](Connection& c) {
    Query q("SELECT " ADDRESS_BLOCK_COLS " FROM address_blocks");
    q.Where("change_seq > ?").Arg(after_seq).Append(" ORDER BY change_seq LIMIT ?");
    q.Arg(std::clamp<int64_t>(limit, 1, 100000));
    return GetAll<AddressBlock>(c, q, ReadAddressBlock);
  });
}

Status SqliteStore::CreateBouncerKey(const BouncerKey& key) {
  RAMPART_RETURN_IF_ERROR(RequireId(key.id, "bouncer key"));
  return Write([&](Connection& c) {
    Query q(
        "INSERT INTO bouncer_keys (id, name, key_hash, created_at, last_pull_at, last_seq) "
        "VALUES (?, ?, ?, ?, ?, ?)");
    q.Arg(key.id)
        .Arg(key.name)
        .Arg(key.key_hash)
        .Arg(key.created_at)
        .Arg(key.last_pull_at)
        .Arg(key.last_seq);
    return Named(RunQuery(c, q), "bouncer key");
  });
}

Result<BouncerKey> SqliteStore::FindBouncerKeyByHash(const std::string& key_hash) {
  return Read([&](Connection& c) {
    Query q("SELECT id, name, key_hash, created_at, last_pull_at, last_seq FROM bouncer_keys");
    q.Where("key_hash = ?").Arg(key_hash);
    return GetOne(c, q, ReadBouncerKey, "bouncer key");
  });
}

Status SqliteStore::UpdateBouncerCursor(const std::string& id, int64_t last_seq, int64_t now) {
  return Write([&](Connection& c) {
    Query q("UPDATE bouncer_keys SET last_seq = max(last_seq, ?), last_pull_at = ?");
    q.Arg(last_seq).Arg(now).Where("id = ?").Arg(id);
    return RunOne(c, q, "bouncer key");
  });
}

Status SqliteStore::PutLockdown(const Lockdown& lockdown) {
  if (lockdown.scope.empty()) return Status::InvalidArgument("lockdown scope is empty");
  return Write([&](Connection& c) {
    Query q(
        "INSERT OR REPLACE INTO lockdowns (scope, entered_by, reason, entered_at, "
        "lift_requested_by, lift_requested_at) VALUES (?, ?, ?, ?, ?, ?)");
    q.Arg(lockdown.scope)
        .Arg(lockdown.entered_by)
        .Arg(lockdown.reason)
        .Arg(lockdown.entered_at)
        .Arg(lockdown.lift_requested_by)
        .Arg(lockdown.lift_requested_at);
    return RunQuery(c, q);
  });
}

Status SqliteStore::DeleteLockdown(const std::string& scope) {
  return Write([&](Connection& c) {
    Query q("DELETE FROM lockdowns");
    q.Where("scope = ?").Arg(scope);
    return RunOne(c, q, "lockdown");
  });
}

Status SqliteStore::SetLockdownLiftRequest(const std::string& scope,
                                           const std::string& requested_by, int64_t requested_at) {
  return Write([&](Connection& c) {
    Query q("UPDATE lockdowns SET lift_requested_by = ?, lift_requested_at = ?");
    q.Arg(requested_by).Arg(requested_at).Where("scope = ?").Arg(scope);
    return RunOne(c, q, "lockdown");
  });
}

Status SqliteStore::LiftLockdownIfRequested(const std::string& scope,
                                            const std::string& requested_by, int64_t requested_at) {
  if (requested_by.empty()) return Status::Conflict("no lift request to approve");
  return Write([&](Connection& c) -> Status {
    Query q("DELETE FROM lockdowns");
    q.Where("scope = ?").Arg(scope);
    q.Where("lift_requested_by = ?").Arg(requested_by);
    q.Where("lift_requested_at = ?").Arg(requested_at);
    Status s = RunOne(c, q, "lockdown");
    if (s.code() == Code::kNotFound) {
      return Status::Conflict("the lift request was cancelled or replaced");
    }
    return s;
  });
}

Result<std::vector<Lockdown>> SqliteStore::ListLockdowns() {
  return Read([&](Connection& c) {
    Query q(
        "SELECT scope, entered_by, reason, entered_at, lift_requested_by, lift_requested_at "
        "FROM lockdowns ORDER BY scope");
    return GetAll<Lockdown>(c, q, ReadLockdown);
  });
}
// --- end Response ---

}  // namespace rampart::store::sqlite
