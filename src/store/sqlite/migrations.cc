#include "store/sqlite/migrations.h"

#include "store/sqlite/connection.h"

namespace rampart::store::sqlite {
namespace {

// Tenant-owned children reference their parents through (institution_id, id) pairs, so the
// database itself refuses a row that points into another institution, whatever the code above
// it does. Every parent therefore carries UNIQUE (institution_id, id).
constexpr std::string_view kInitialSchema = R"sql(
CREATE TABLE institutions (
  id TEXT PRIMARY KEY,
  name TEXT NOT NULL,
  created_at INTEGER NOT NULL
);
CREATE INDEX institutions_order ON institutions(created_at, id);

CREATE TABLE staff (
  id TEXT PRIMARY KEY,
  institution_id TEXT NOT NULL REFERENCES institutions(id),
  name TEXT NOT NULL,
  mobile TEXT NOT NULL,
  email TEXT NOT NULL,
  department TEXT NOT NULL,
  created_at INTEGER NOT NULL,
  updated_at INTEGER NOT NULL,
  UNIQUE (institution_id, id)
);
CREATE INDEX staff_by_institution ON staff(institution_id, created_at, id);
CREATE INDEX staff_by_department ON staff(institution_id, department, created_at, id);

CREATE TABLE device_groups (
  id TEXT PRIMARY KEY,
  institution_id TEXT NOT NULL REFERENCES institutions(id),
  name TEXT NOT NULL,
  description TEXT NOT NULL,
  created_at INTEGER NOT NULL,
  UNIQUE (institution_id, id)
);
CREATE INDEX device_groups_by_institution ON device_groups(institution_id, created_at, id);

CREATE TABLE devices (
  id TEXT PRIMARY KEY,
  institution_id TEXT NOT NULL REFERENCES institutions(id),
  staff_id TEXT,
  platform TEXT NOT NULL,
  model TEXT NOT NULL,
  serial TEXT NOT NULL,
  ownership TEXT NOT NULL,
  status TEXT NOT NULL,
  public_key BLOB NOT NULL,
  enrolled_at INTEGER NOT NULL,
  last_seen INTEGER NOT NULL,
  os_version TEXT NOT NULL,
  passcode_set INTEGER NOT NULL,
  passcode_length INTEGER NOT NULL,
  storage_encrypted INTEGER NOT NULL,
  compromised INTEGER NOT NULL,
  battery_percent INTEGER NOT NULL,
  camera_disabled INTEGER NOT NULL,
  installed_apps TEXT NOT NULL,
  compliance TEXT NOT NULL,
  compliance_reasons TEXT NOT NULL,
  noncompliant_since INTEGER NOT NULL,
  compliance_action_taken_at INTEGER NOT NULL,
  UNIQUE (institution_id, id),
  FOREIGN KEY (institution_id, staff_id) REFERENCES staff(institution_id, id)
);
CREATE INDEX devices_by_institution ON devices(institution_id, enrolled_at, id);
CREATE INDEX devices_by_platform ON devices(institution_id, platform, enrolled_at, id);
CREATE INDEX devices_by_compliance ON devices(institution_id, compliance, enrolled_at, id);
CREATE INDEX devices_by_status ON devices(institution_id, status, enrolled_at, id);
CREATE INDEX devices_by_staff ON devices(institution_id, staff_id, enrolled_at, id);

CREATE TABLE group_members (
  institution_id TEXT NOT NULL,
  group_id TEXT NOT NULL,
  device_id TEXT NOT NULL,
  PRIMARY KEY (institution_id, group_id, device_id),
  FOREIGN KEY (institution_id, group_id) REFERENCES device_groups(institution_id, id)
    ON DELETE CASCADE,
  FOREIGN KEY (institution_id, device_id) REFERENCES devices(institution_id, id)
    ON DELETE CASCADE
);
CREATE INDEX group_members_by_device ON group_members(institution_id, device_id);

CREATE TABLE enrollment_tokens (
  id TEXT PRIMARY KEY,
  institution_id TEXT NOT NULL REFERENCES institutions(id),
  staff_id TEXT REFERENCES staff(id) ON DELETE SET NULL,
  token_hash TEXT NOT NULL UNIQUE,
  expires_at INTEGER NOT NULL,
  max_uses INTEGER NOT NULL,
  uses INTEGER NOT NULL,
  revoked INTEGER NOT NULL,
  created_at INTEGER NOT NULL
);
CREATE INDEX enrollment_tokens_by_institution
  ON enrollment_tokens(institution_id, created_at, id);
CREATE INDEX enrollment_tokens_by_staff ON enrollment_tokens(staff_id);

CREATE TABLE api_tokens (
  id TEXT PRIMARY KEY,
  name TEXT NOT NULL,
  token_hash TEXT NOT NULL UNIQUE,
  role TEXT NOT NULL,
  institution_id TEXT REFERENCES institutions(id),
  expires_at INTEGER NOT NULL,
  revoked INTEGER NOT NULL,
  created_at INTEGER NOT NULL,
  last_used_at INTEGER NOT NULL
);
CREATE INDEX api_tokens_by_institution ON api_tokens(institution_id, created_at, id);
CREATE INDEX api_tokens_order ON api_tokens(created_at, id);

CREATE TABLE commands (
  id TEXT PRIMARY KEY,
  institution_id TEXT NOT NULL,
  device_id TEXT NOT NULL,
  seq INTEGER NOT NULL,
  type TEXT NOT NULL,
  payload_json TEXT NOT NULL,
  state TEXT NOT NULL,
  created_by TEXT NOT NULL,
  created_at INTEGER NOT NULL,
  updated_at INTEGER NOT NULL,
  expires_at INTEGER NOT NULL,
  sent_at INTEGER NOT NULL,
  not_before INTEGER NOT NULL,
  not_now_count INTEGER NOT NULL,
  result_json TEXT NOT NULL,
  error TEXT NOT NULL,
  UNIQUE (device_id, seq),
  FOREIGN KEY (institution_id, device_id) REFERENCES devices(institution_id, id)
);
CREATE INDEX commands_by_state ON commands(state, expires_at);
CREATE INDEX commands_by_device ON commands(institution_id, device_id);

CREATE TABLE policies (
  id TEXT PRIMARY KEY,
  institution_id TEXT NOT NULL REFERENCES institutions(id),
  name TEXT NOT NULL,
  rules_json TEXT NOT NULL,
  created_at INTEGER NOT NULL,
  updated_at INTEGER NOT NULL,
  UNIQUE (institution_id, id)
);
CREATE INDEX policies_by_institution ON policies(institution_id, created_at, id);

CREATE TABLE policy_assignments (
  id TEXT PRIMARY KEY,
  institution_id TEXT NOT NULL,
  policy_id TEXT NOT NULL,
  group_id TEXT,
  created_at INTEGER NOT NULL,
  FOREIGN KEY (institution_id, policy_id) REFERENCES policies(institution_id, id)
    ON DELETE CASCADE,
  FOREIGN KEY (institution_id, group_id) REFERENCES device_groups(institution_id, id)
    ON DELETE CASCADE
);
-- NULL (whole institution) counts as one target, so it must not escape the unique check.
CREATE UNIQUE INDEX policy_assignments_target
  ON policy_assignments(institution_id, policy_id, ifnull(group_id, ''));
CREATE INDEX policy_assignments_by_group ON policy_assignments(institution_id, group_id);

CREATE TABLE apps (
  id TEXT PRIMARY KEY,
  institution_id TEXT NOT NULL REFERENCES institutions(id),
  name TEXT NOT NULL,
  bundle_id TEXT NOT NULL,
  version TEXT NOT NULL,
  platform TEXT NOT NULL,
  sha256 TEXT NOT NULL,
  size_bytes INTEGER NOT NULL,
  quarantined INTEGER NOT NULL,
  created_at INTEGER NOT NULL,
  UNIQUE (institution_id, id),
  UNIQUE (institution_id, sha256)
);
CREATE INDEX apps_by_institution ON apps(institution_id, created_at, id);
CREATE INDEX apps_by_sha256 ON apps(sha256);

CREATE TABLE app_assignments (
  id TEXT PRIMARY KEY,
  institution_id TEXT NOT NULL,
  app_id TEXT NOT NULL,
  group_id TEXT NOT NULL,
  created_at INTEGER NOT NULL,
  UNIQUE (institution_id, app_id, group_id),
  FOREIGN KEY (institution_id, app_id) REFERENCES apps(institution_id, id) ON DELETE CASCADE,
  FOREIGN KEY (institution_id, group_id) REFERENCES device_groups(institution_id, id)
    ON DELETE CASCADE
);
CREATE INDEX app_assignments_by_group ON app_assignments(institution_id, group_id);
)sql";

// Staff personal data is sealed by the keeper: the clear columns go, ciphertext, blind indexes
// and masks come. Serve cannot seal rows itself, so the migration refuses a database that
// already holds staff (re-import them after the upgrade); the CHECK names the reason.
// Devices obey only commands signed by the keeper; a command awaiting a second admin's approval
// has no signature yet.
constexpr std::string_view kSignedCommands = R"sql(
CREATE TEMP TABLE migration_guard (staff_rows INTEGER
  CONSTRAINT "staff rows must be re-imported to be sealed: export, delete, upgrade, re-import"
  CHECK (staff_rows = 0));
INSERT INTO migration_guard SELECT count(*) FROM staff;
DROP TABLE migration_guard;
ALTER TABLE staff DROP COLUMN name;
ALTER TABLE staff DROP COLUMN mobile;
ALTER TABLE staff DROP COLUMN email;
ALTER TABLE staff ADD COLUMN sealed BLOB NOT NULL DEFAULT x'';
ALTER TABLE staff ADD COLUMN wrapped_key BLOB NOT NULL DEFAULT x'';
ALTER TABLE staff ADD COLUMN key_version INTEGER NOT NULL DEFAULT 0;
ALTER TABLE staff ADD COLUMN mobile_index TEXT NOT NULL DEFAULT '';
ALTER TABLE staff ADD COLUMN email_index TEXT NOT NULL DEFAULT '';
ALTER TABLE staff ADD COLUMN masked_name TEXT NOT NULL DEFAULT '';
ALTER TABLE staff ADD COLUMN masked_mobile TEXT NOT NULL DEFAULT '';
ALTER TABLE staff ADD COLUMN masked_email TEXT NOT NULL DEFAULT '';
CREATE INDEX staff_by_mobile ON staff(institution_id, mobile_index) WHERE mobile_index != '';
CREATE INDEX staff_by_email ON staff(institution_id, email_index) WHERE email_index != '';
ALTER TABLE commands ADD COLUMN signature_key_id TEXT NOT NULL DEFAULT '';
ALTER TABLE commands ADD COLUMN signature BLOB NOT NULL DEFAULT x'';
ALTER TABLE commands ADD COLUMN approved_by TEXT NOT NULL DEFAULT '';
ALTER TABLE commands ADD COLUMN batch_size INTEGER NOT NULL DEFAULT 1;
-- The admin action that created several commands at once: approving one approves them all.
ALTER TABLE commands ADD COLUMN batch_id TEXT NOT NULL DEFAULT '';
CREATE INDEX commands_by_batch ON commands(institution_id, batch_id);
)sql";

// Console users and their sessions. Superadmins have no institution (NULL), so an institution's
// scope never reaches them. Sessions are deleted, not flagged, when they end: a row is only ever
// a live credential (by hash).
constexpr std::string_view kAdminIdentity = R"sql(
CREATE TABLE admin_users (
  id TEXT PRIMARY KEY,
  username TEXT NOT NULL UNIQUE,
  role TEXT NOT NULL,
  institution_id TEXT REFERENCES institutions(id),
  password_hash TEXT NOT NULL,
  totp_secret BLOB NOT NULL,
  totp_pending_secret BLOB NOT NULL,
  totp_last_step INTEGER NOT NULL,
  disabled INTEGER NOT NULL,
  failed_logins INTEGER NOT NULL,
  failure_window_start INTEGER NOT NULL,
  locked_until INTEGER NOT NULL,
  created_at INTEGER NOT NULL,
  updated_at INTEGER NOT NULL,
  password_changed_at INTEGER NOT NULL
);
CREATE INDEX admin_users_by_institution ON admin_users(institution_id, created_at, id);
CREATE INDEX admin_users_order ON admin_users(created_at, id);

CREATE TABLE admin_sessions (
  id TEXT PRIMARY KEY,
  user_id TEXT NOT NULL REFERENCES admin_users(id) ON DELETE CASCADE,
  institution_id TEXT,
  secret_hash TEXT NOT NULL UNIQUE,
  created_at INTEGER NOT NULL,
  last_seen_at INTEGER NOT NULL,
  expires_at INTEGER NOT NULL
);
CREATE INDEX admin_sessions_by_user ON admin_sessions(user_id, last_seen_at);
CREATE INDEX admin_sessions_by_expiry ON admin_sessions(expires_at);
)sql";

// Alerts of the live detection engine. At most one open alert per (institution, rule, entity):
// the partial unique index makes the grouping a property of the database, not only of the code.
constexpr std::string_view kAlerts = R"sql(
CREATE TABLE alerts (
  id TEXT PRIMARY KEY,
  institution_id TEXT REFERENCES institutions(id),
  rule_id TEXT NOT NULL,
  rule_title TEXT NOT NULL,
  entity TEXT NOT NULL,
  severity TEXT NOT NULL,
  attack_json TEXT NOT NULL,
  evidence_json TEXT NOT NULL,
  first_seen INTEGER NOT NULL,
  last_seen INTEGER NOT NULL,
  count INTEGER NOT NULL,
  status TEXT NOT NULL,
  acknowledged_by TEXT NOT NULL,
  acknowledged_at INTEGER NOT NULL,
  created_at INTEGER NOT NULL
);
CREATE UNIQUE INDEX alerts_open_group ON alerts(ifnull(institution_id, ''), rule_id, entity)
  WHERE status = 'open';
CREATE INDEX alerts_order ON alerts(created_at, id);
CREATE INDEX alerts_by_institution ON alerts(institution_id, created_at, id);
)sql";

// Bulk staff exports wait for a second admin (four eyes).
constexpr std::string_view kStaffExports = R"sql(
CREATE TABLE staff_exports (
  id TEXT PRIMARY KEY,
  institution_id TEXT NOT NULL REFERENCES institutions(id),
  requested_by TEXT NOT NULL,
  reason TEXT NOT NULL,
  state TEXT NOT NULL,
  decided_by TEXT NOT NULL,
  created_at INTEGER NOT NULL,
  decided_at INTEGER NOT NULL,
  downloaded_at INTEGER NOT NULL,
  expires_at INTEGER NOT NULL,
  record_count INTEGER NOT NULL
);
CREATE INDEX staff_exports_by_institution ON staff_exports(institution_id, created_at, id);
CREATE INDEX staff_exports_order ON staff_exports(created_at, id);
)sql";

// Response (src/respond): front-door blocks, bouncer keys, lockdowns. change_seq is bumped on
// every change so that CrowdSec bouncers can stream "what changed since I last asked".
constexpr std::string_view kResponse = R"sql(
CREATE TABLE address_blocks (
  id INTEGER PRIMARY KEY AUTOINCREMENT,
  value TEXT NOT NULL,
  scope TEXT NOT NULL,
  reason TEXT NOT NULL,
  origin TEXT NOT NULL,
  scenario TEXT NOT NULL,
  created_by TEXT NOT NULL,
  institution_id TEXT NOT NULL,
  created_at INTEGER NOT NULL,
  expires_at INTEGER NOT NULL,
  removed_at INTEGER NOT NULL,
  removed_by TEXT NOT NULL,
  change_seq INTEGER NOT NULL
);
CREATE INDEX address_blocks_by_value ON address_blocks(value, removed_at, expires_at);
CREATE INDEX address_blocks_by_change ON address_blocks(change_seq);

CREATE TABLE bouncer_keys (
  id TEXT PRIMARY KEY,
  name TEXT NOT NULL,
  key_hash TEXT NOT NULL UNIQUE,
  created_at INTEGER NOT NULL,
  last_pull_at INTEGER NOT NULL,
  last_seq INTEGER NOT NULL
);

CREATE TABLE lockdowns (
  scope TEXT PRIMARY KEY,
  entered_by TEXT NOT NULL,
  reason TEXT NOT NULL,
  entered_at INTEGER NOT NULL,
  lift_requested_by TEXT NOT NULL,
  lift_requested_at INTEGER NOT NULL
);
)sql";

// Incidents (issue 5): alerts grouped per (institution, entity), their transitions and notes.
constexpr std::string_view kIncidents = R"sql(
CREATE TABLE incidents (
  id TEXT PRIMARY KEY,
  institution_id TEXT REFERENCES institutions(id),
  entity TEXT NOT NULL,
  title TEXT NOT NULL,
  severity TEXT NOT NULL,
  state TEXT NOT NULL,
  first_alert_at INTEGER NOT NULL,
  last_alert_at INTEGER NOT NULL,
  created_at INTEGER NOT NULL,
  updated_at INTEGER NOT NULL,
  closed_at INTEGER NOT NULL
);
CREATE INDEX incidents_order ON incidents(created_at, id);
CREATE INDEX incidents_by_institution ON incidents(institution_id, created_at, id);
CREATE INDEX incidents_by_entity ON incidents(ifnull(institution_id, ''), entity, last_alert_at);
CREATE TABLE incident_alerts (
  alert_id TEXT PRIMARY KEY REFERENCES alerts(id),
  incident_id TEXT NOT NULL REFERENCES incidents(id),
  seq INTEGER NOT NULL
);
CREATE INDEX incident_alerts_by_incident ON incident_alerts(incident_id, seq);
CREATE TABLE incident_entries (
  seq INTEGER PRIMARY KEY AUTOINCREMENT,
  incident_id TEXT NOT NULL REFERENCES incidents(id),
  kind TEXT NOT NULL,
  from_state TEXT NOT NULL,
  to_state TEXT NOT NULL,
  text TEXT NOT NULL,
  actor TEXT NOT NULL,
  at INTEGER NOT NULL
);
CREATE INDEX incident_entries_by_incident ON incident_entries(incident_id, seq);
CREATE INDEX commands_by_time ON commands(institution_id, updated_at);
)sql";

// Containment of issue 5: a paused command batch is neither approved nor delivered; a
// quarantined app carries who quarantined it, when and why.
constexpr std::string_view kContainment = R"sql(
CREATE TABLE command_batches (
  batch_id TEXT PRIMARY KEY,
  institution_id TEXT NOT NULL REFERENCES institutions(id),
  paused INTEGER NOT NULL,
  paused_by TEXT NOT NULL,
  pause_reason TEXT NOT NULL,
  paused_at INTEGER NOT NULL,
  resumed_by TEXT NOT NULL,
  resumed_at INTEGER NOT NULL
);
CREATE INDEX command_batches_paused ON command_batches(paused, batch_id);
CREATE INDEX commands_by_creator ON commands(institution_id, created_by, batch_id);
ALTER TABLE apps ADD COLUMN quarantine_reason TEXT NOT NULL DEFAULT '';
ALTER TABLE apps ADD COLUMN quarantined_by TEXT NOT NULL DEFAULT '';
ALTER TABLE apps ADD COLUMN quarantined_at INTEGER NOT NULL DEFAULT 0;
)sql";

// Issue 5, times to detect and contain in milliseconds: alerts keep their times and incidents
// their first alert time in ms beside the seconds (0 on older rows: readers fall back to
// seconds x 1000). Four eyes by person: an API token records the admin user behind it, so that
// the admin's own token is not a second admin ('' on older tokens: the token is its own person).
constexpr std::string_view kPreciseTimesTokenOwners = R"sql(
ALTER TABLE alerts ADD COLUMN first_seen_ms INTEGER NOT NULL DEFAULT 0;
ALTER TABLE alerts ADD COLUMN last_seen_ms INTEGER NOT NULL DEFAULT 0;
ALTER TABLE alerts ADD COLUMN created_at_ms INTEGER NOT NULL DEFAULT 0;
ALTER TABLE incidents ADD COLUMN first_alert_at_ms INTEGER NOT NULL DEFAULT 0;
ALTER TABLE api_tokens ADD COLUMN owner_id TEXT NOT NULL DEFAULT '';
)sql";

// Blocks that expire while the server is stopped are announced to the decision webhooks at the
// next start; a block's announced expiry is marked so that it is said once. Blocks that ended
// before this version were announced then, or never will be: marked as done.
constexpr std::string_view kBlockExpiryAnnounced = R"sql(
ALTER TABLE address_blocks ADD COLUMN expiry_announced INTEGER NOT NULL DEFAULT 0;
UPDATE address_blocks SET expiry_announced = 1
  WHERE removed_at != 0 OR expires_at <= CAST(strftime('%s', 'now') AS INTEGER);
CREATE INDEX address_blocks_unannounced ON address_blocks(expiry_announced, removed_at, expires_at);
)sql";

}  // namespace

// Versions are assigned in order of merge: 2 keeper (sealed staff, signed commands), 3 admin
// identity, 4 alerts, 5 staff exports, 6 response, 7 incidents, 8 containment, 9 precise times and
// token owners, 10 announced block expiries.
const std::vector<Migration>& Migrations() {
  static const std::vector<Migration> kMigrations = {
      {1, "initial_schema", kInitialSchema},
      {2, "sealed_staff_signed_commands", kSignedCommands},
      {3, "admin_identity", kAdminIdentity},
      {4, "alerts", kAlerts},
      {5, "staff_exports", kStaffExports},
      {6, "response", kResponse},
      {7, "incidents", kIncidents},
      {8, "containment", kContainment},
      {9, "precise_times_token_owners", kPreciseTimesTokenOwners},
      {10, "block_expiry_announced", kBlockExpiryAnnounced},
  };
  return kMigrations;
}

Result<int> ApplyMigrations(Connection& conn) {
  RAMPART_RETURN_IF_ERROR(
      conn.Exec("CREATE TABLE IF NOT EXISTS schema_migrations ("
                "version INTEGER PRIMARY KEY, name TEXT NOT NULL, applied_at INTEGER NOT NULL)"));
  const auto& migrations = Migrations();
  int applied = 0;
  for (const Migration& m : migrations) {
    RAMPART_ASSIGN_OR_RETURN(Transaction txn,
                             Transaction::Begin(conn, Transaction::Mode::kImmediate));
    // Read inside the write transaction: another process may have migrated meanwhile.
    int64_t current = 0;
    {
      RAMPART_ASSIGN_OR_RETURN(
          Statement q, conn.Prepare("SELECT ifnull(max(version), 0) FROM schema_migrations"));
      RAMPART_ASSIGN_OR_RETURN(bool row, q.Step());
      if (row) current = q.Int(0);
    }
    if (current > static_cast<int64_t>(migrations.back().version)) {
      return Status::Internal("database schema is newer than this program");
    }
    if (current >= m.version) continue;
    if (current != m.version - 1) return Status::Internal("schema_migrations has a gap");
    RAMPART_RETURN_IF_ERROR(conn.ExecScript(m.sql));
    RAMPART_RETURN_IF_ERROR(
        conn.Exec("INSERT INTO schema_migrations (version, name, applied_at) "
                  "VALUES (?, ?, CAST(strftime('%s', 'now') AS INTEGER))",
                  {Param{static_cast<int64_t>(m.version)}, Param{std::string(m.name)}}));
    RAMPART_RETURN_IF_ERROR(txn.Commit());
    ++applied;
  }
  return applied;
}

}  // namespace rampart::store::sqlite
