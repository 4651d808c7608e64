// The MDM domain: plain value types shared by the store, the API and the rules in core/.
// No I/O here. Ids are opaque random strings with a type prefix ("dev_5f1c..."), so that an id
// says what it names and cannot be guessed by counting (alert ids start with their creation
// time, then 48 random bits: see NewTimeOrderedId).
//
// Every tenant-owned row carries institution_id; the store filters on it in every query.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace rampart::core {

enum class Role { kSuperAdmin, kAdmin, kHelpdesk, kAnalyst, kAuditor };
enum class Platform { kIos, kAndroid };
enum class Ownership { kCorporate, kPersonal };
enum class DeviceStatus { kActive, kRetired };
enum class ComplianceState { kUnknown, kCompliant, kNonCompliant };
enum class CommandType {
  kLock,
  kWipe,
  kLostMode,
  kClearPasscode,
  kRestart,
  kInstallApp,
  kRemoveApp,
  kApplyPolicy,
  kRetire,
};
enum class CommandState {
  kQueued,
  kSent,
  kAcknowledged,
  kError,
  kNotNow,
  kCanceled,
  kExpired,
  kAwaitingApproval,  // destructive or mass command: not signed until a second admin approves
  kRejected,          // the device refused it (bad, missing or replayed signature): final
};
enum class NonComplianceAction { kNone, kNotify, kLock };

// Lower-case wire names ("superadmin", "ios", "corporate", "lost_mode", "not_now", ...).
std::string_view ToString(Role v);
std::string_view ToString(Platform v);
std::string_view ToString(Ownership v);
std::string_view ToString(DeviceStatus v);
std::string_view ToString(ComplianceState v);
std::string_view ToString(CommandType v);
std::string_view ToString(CommandState v);
std::string_view ToString(NonComplianceAction v);
std::optional<Role> ParseRole(std::string_view s);
std::optional<Platform> ParsePlatform(std::string_view s);
std::optional<Ownership> ParseOwnership(std::string_view s);
std::optional<DeviceStatus> ParseDeviceStatus(std::string_view s);
std::optional<ComplianceState> ParseComplianceState(std::string_view s);
std::optional<CommandType> ParseCommandType(std::string_view s);
std::optional<CommandState> ParseCommandState(std::string_view s);
std::optional<NonComplianceAction> ParseNonComplianceAction(std::string_view s);

// A new random id: prefix + "_" + 24 hex characters (96 bits).
std::string NewId(std::string_view prefix);
// A new id of the same shape whose first 12 hex characters are the wall-clock time in
// milliseconds and the last 12 random (48 bits), for records inserted in bursts (alerts): ids
// made close together sort together, so a storm of inserts lands on the primary key's last
// pages instead of dirtying a random page each (about 1.9 times the alerts stored per second
// in alert_latency_bench's storm). The time it shows is stored beside the record anyway; not
// for anything that must be unguessable.
std::string NewTimeOrderedId(std::string_view prefix);

struct Institution {
  std::string id;  // "ins_..."
  std::string name;
  int64_t created_at = 0;  // Unix seconds, like every *_at field
};

// A staff member. Name, mobile number and e-mail exist here only sealed by the keeper
// (keeper/keeper.h): the row holds the ciphertext, keyed blind indexes for exact lookup, and
// masked display forms. Reading the clear values is a budgeted, audited keeper call.
struct Staff {
  std::string id;  // "stf_..."
  std::string institution_id;
  std::string department;
  std::string sealed;         // raw AEAD ciphertext of the personal fields
  std::string wrapped_key;    // raw: the record's data key under the keeper's master key
  int64_t key_version = 0;    // which master key wrapped it
  std::string mobile_index;   // hex blind index; "" when no mobile
  std::string email_index;    // hex blind index; "" when no e-mail
  std::string masked_name;    // "J*** D***"
  std::string masked_mobile;  // "+32 4** *** *12"
  std::string masked_email;   // "j***@example.org"
  int64_t created_at = 0;
  int64_t updated_at = 0;
};

struct Group {
  std::string id;  // "grp_..."
  std::string institution_id;
  std::string name;
  std::string description;
  int64_t created_at = 0;
};

// What a device reports at check-in.
struct DeviceState {
  std::string os_version;
  bool passcode_set = false;
  int32_t passcode_length = 0;
  bool storage_encrypted = false;
  bool compromised = false;      // rooted (Android) or jailbroken (iOS)
  int32_t battery_percent = -1;  // -1: unknown
  bool camera_disabled = false;
  std::vector<std::string> installed_apps;  // bundle ids / package names
};

struct ComplianceReason {
  std::string policy_id;
  std::string code;     // stable machine code, e.g. "passcode_too_short"
  std::string message;  // human sentence
  bool operator==(const ComplianceReason&) const = default;
};

struct Device {
  std::string id;  // "dev_..."
  std::string institution_id;
  std::string staff_id;  // empty: unassigned
  Platform platform = Platform::kAndroid;
  std::string model;
  std::string serial;
  Ownership ownership = Ownership::kCorporate;
  DeviceStatus status = DeviceStatus::kActive;
  std::string public_key;  // raw Ed25519 public key of the device; empty once retired
  int64_t enrolled_at = 0;
  int64_t last_seen = 0;
  DeviceState state;
  ComplianceState compliance = ComplianceState::kUnknown;
  std::vector<ComplianceReason> compliance_reasons;
  int64_t noncompliant_since = 0;          // 0 while compliant or unknown
  int64_t compliance_action_taken_at = 0;  // when the grace-period action last fired
};

struct EnrollmentToken {
  std::string id;  // "enr_..."
  std::string institution_id;
  std::string staff_id;    // optional owner for devices enrolled with it
  std::string token_hash;  // SHA-256 hex of the secret; the secret itself is never stored
  int64_t expires_at = 0;
  int64_t max_uses = 1;
  int64_t uses = 0;
  bool revoked = false;
  int64_t created_at = 0;
};

struct ApiToken {
  std::string id;  // "tok_..."
  std::string name;
  std::string token_hash;  // SHA-256 hex of the secret
  Role role = Role::kAuditor;
  std::string institution_id;  // empty only for superadmin (all institutions)
  int64_t expires_at = 0;      // 0: no expiry
  bool revoked = false;
  int64_t created_at = 0;
  int64_t last_used_at = 0;
  // The person behind the token: the admin user ("usr_...") whose session created it, or the
  // owner of the token that created it. Empty for tokens made by the CLI and for those created
  // before migration 9: such a token is its own person (see api::internal::PersonOf).
  std::string owner_id;
};

// A person who signs in to the console. Credentials are stored only in forms that do not let a
// copy of the database sign in: the password as an argon2id hash; the TOTP secret has to be
// kept verifiable (docs/identity.md says why and what protects it).
struct AdminUser {
  std::string id;        // "usr_..."
  std::string username;  // unique across the server
  Role role = Role::kAuditor;
  std::string institution_id;       // empty only for superadmin
  std::string password_hash;        // argon2id, crypto_pwhash_str format
  std::string totp_secret;          // raw bytes once confirmed; empty while TOTP is off
  std::string totp_pending_secret;  // raw bytes issued by setup, not yet confirmed
  int64_t totp_last_step = -1;      // newest accepted TOTP step: codes are not reusable
  bool disabled = false;
  int32_t failed_logins = 0;  // within the current failure window
  int64_t failure_window_start = 0;
  int64_t locked_until = 0;  // 0: not locked
  int64_t created_at = 0;
  int64_t updated_at = 0;
  int64_t password_changed_at = 0;
  bool totp_enabled() const { return !totp_secret.empty(); }
};

// A bulk export of an institution's staff directory in clear: requested by one admin, approved
// by another (four eyes), downloaded once by the requester, within its expiry.
// state: "pending" → "approved" | "rejected"; "approved" → "downloaded". A pending or approved
// export past expires_at can do nothing more and is shown as "expired".
struct StaffExport {
  std::string id;  // "exp_..."
  std::string institution_id;
  std::string requested_by;  // principal id
  std::string reason;        // why, for the record
  std::string state = "pending";
  std::string decided_by;  // the approving or rejecting principal
  int64_t created_at = 0;
  int64_t decided_at = 0;
  int64_t downloaded_at = 0;
  int64_t expires_at = 0;
  int64_t record_count = 0;  // records decrypted by the download
};

// A signed-in console session. Only the SHA-256 of its cookie secret is stored.
struct AdminSession {
  std::string id;  // "ses_..."
  std::string user_id;
  std::string institution_id;  // the user's, copied so revocation can be scoped
  std::string secret_hash;     // SHA-256 hex of the cookie secret
  int64_t created_at = 0;
  int64_t last_seen_at = 0;  // idle timeout counts from here
  int64_t expires_at = 0;    // absolute end, fixed at login
};

struct Command {
  std::string id;  // "cmd_..."
  std::string institution_id;
  std::string device_id;
  int64_t seq = 0;  // per-device, strictly increasing: FIFO order
  CommandType type = CommandType::kLock;
  std::string payload_json = "{}";  // type-specific parameters, validated by core::ValidateCommand
  CommandState state = CommandState::kQueued;
  std::string created_by;        // principal id (API token id, or "system")
  std::string approved_by;       // the second admin's principal, for four-eyes commands
  std::string signature_key_id;  // the command key that signed it; "" until signed
  std::string signature;         // raw Ed25519 signature by the keeper; "" until signed
  int64_t batch_size = 1;        // devices targeted by the admin action that created it
  std::string batch_id;          // "bat_..." shared by the commands of one multi-device action
                                 // awaiting approval together; "" otherwise
  int64_t created_at = 0;
  int64_t updated_at = 0;
  int64_t expires_at = 0;
  int64_t sent_at = 0;
  int64_t not_before = 0;  // a not_now command is not redelivered before this time
  int32_t not_now_count = 0;
  std::string result_json;  // what the device reported, verbatim (bounded)
  std::string error;
};

struct WifiPayload {
  std::string ssid;
  std::string security;  // "none", "wpa2", "wpa3", "wpa2-enterprise"
  bool hidden = false;
  bool operator==(const WifiPayload&) const = default;
};

struct VpnPayload {
  std::string name;
  std::string type;  // "ikev2", "wireguard", "openvpn"
  std::string server;
  bool always_on = false;
  bool operator==(const VpnPayload&) const = default;
};

struct PolicyRules {
  int32_t passcode_min_length = 0;  // 0: no passcode required
  bool require_storage_encryption = false;
  std::string min_os_version_ios;      // empty: no minimum
  std::string min_os_version_android;  // empty: no minimum
  bool block_compromised = false;
  bool camera_allowed = true;
  std::vector<std::string> required_apps;
  std::vector<std::string> forbidden_apps;
  std::vector<WifiPayload> wifi;
  std::vector<VpnPayload> vpn;
  NonComplianceAction action = NonComplianceAction::kNone;
  int64_t grace_seconds = 0;  // how long a device may stay non-compliant before the action
  bool operator==(const PolicyRules&) const = default;
};

struct Policy {
  std::string id;  // "pol_..."
  std::string institution_id;
  std::string name;
  PolicyRules rules;
  int64_t created_at = 0;
  int64_t updated_at = 0;
};

// A policy applies to every device of its institution, or to the devices of one group.
struct PolicyAssignment {
  std::string id;  // "pas_..."
  std::string institution_id;
  std::string policy_id;
  std::string group_id;  // empty: the whole institution
  int64_t created_at = 0;
};

struct App {
  std::string id;  // "app_..."
  std::string institution_id;
  std::string name;
  std::string bundle_id;  // bundle identifier (iOS) or package name (Android)
  std::string version;
  Platform platform = Platform::kAndroid;
  std::string sha256;  // hex of the package; the package is stored and served by this hash
  int64_t size_bytes = 0;
  bool quarantined = false;
  std::string quarantine_reason;  // why it was quarantined last; kept after a release
  std::string quarantined_by;     // principal id or "system"
  int64_t quarantined_at = 0;
  int64_t created_at = 0;
};

struct AppAssignment {
  std::string id;  // "aas_..."
  std::string institution_id;
  std::string app_id;
  std::string group_id;
  int64_t created_at = 0;
};

}  // namespace rampart::core
